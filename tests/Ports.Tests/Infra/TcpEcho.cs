using System.Diagnostics;
using System.Globalization;

namespace Softswitch.Ports.Tests.Infra;

/// <summary>
/// A short TCP exchange between two namespaces (python3 on both ends): the client sends random bytes, the server sends
/// them back, the client compares. Crossing a switch this way proves every TCP checksum and segment boundary survived.
/// </summary>
public static class TcpEcho
{
    private const string Server = """
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(1)
s.settimeout(15)
print('listening', flush=True)
c, a = s.accept()
c.settimeout(10)
buf = b''
while len(buf) < n:
    d = c.recv(65536)
    if not d:
        break
    buf += d
c.sendall(buf)
c.close()
print(a[0], len(buf), flush=True)
""";

    private const string Client = """
import os, socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(n)
s = socket.create_connection((ip, port), timeout=10)
s.sendall(data)
buf = b''
while len(buf) < n:
    d = s.recv(65536)
    if not d:
        break
    buf += d
print('echoed' if buf == data else 'mismatch after %d bytes' % len(buf))
""";

    /// <summary>
    /// Runs the exchange of <paramref name="size"/> bytes from <paramref name="client"/> to <paramref name="serverIp"/>:<paramref name="port"/>
    /// in <paramref name="server"/>; fails the test with <paramref name="describe"/>'s text when it does not complete.
    /// Returns the client address the server saw. With <paramref name="connectTo"/> the client connects there instead
    /// (an address and port the switch rewrites into the server's).
    /// </summary>
    public static string Run(Netns server, string serverIp, Netns client, int port, int size, Func<string>? describe = null,
        (string Ip, int Port)? connectTo = null)
    {
        string p = port.ToString(CultureInfo.InvariantCulture), n = size.ToString(CultureInfo.InvariantCulture);
        string cIp = connectTo?.Ip ?? serverIp, cPort = (connectTo?.Port ?? port).ToString(CultureInfo.InvariantCulture);
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", server.Name, NsTool.Python, "-c", Server, serverIp, p, n }) psi.ArgumentList.Add(a);
        using var srv = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the TCP server");
        try
        {
            var ready = srv.StandardOutput.ReadLineAsync();
            if (!ready.Wait(10_000) || ready.Result != "listening")
                Assert.Fail("TCP server did not start: " + srv.StandardError.ReadToEnd());
            var r = Sh.Run("ip", ["netns", "exec", client.Name, NsTool.Python, "-c", Client, cIp, cPort, n], 30_000);
            Assert.True(r.Ok && r.Stdout.Trim() == "echoed",
                $"TCP exchange of {size} bytes failed: {r.Stdout.Trim()} {r.Stderr.Trim()}\n{describe?.Invoke()}");
            Assert.True(srv.WaitForExit(5000), "TCP server did not finish");
            var seen = srv.StandardOutput.ReadToEnd().Trim().Split(' ');
            Assert.Equal(n, seen[^1]);
            return seen[0];
        }
        finally
        {
            if (!srv.HasExited) srv.Kill(true);
        }
    }
}
