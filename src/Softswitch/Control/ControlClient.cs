using System.Net.Sockets;
using System.Text;

namespace Softswitch.Control;

/// <summary>`softswitch ctl [--target PATH] COMMAND [ARGS]`: sends one request to a running daemon's control socket.</summary>
internal static class ControlClient
{
    /// <summary>Prints the answer; exit code 0 on ok, 1 when the daemon answered with an error, 2 when it cannot be reached.</summary>
    public static int Run(string? target, string[] command)
    {
        if (command.Length == 0) command = ["help"];
        string? why = null;
        string? path = target ?? FindDefault(out why);
        if (path is null)
        {
            Console.Error.WriteLine($"softswitch ctl: {why}");
            return 2;
        }
        string line = string.Join(' ', command);
        if (line.Contains('\n'))
        {
            Console.Error.WriteLine("softswitch ctl: a command is one line");
            return 2;
        }
        string reply;
        try
        {
            reply = Exchange(path, line, TimeSpan.FromSeconds(10));
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"softswitch ctl: cannot reach {path}: {e.Message} (is the daemon running? --unixctl sets the path)");
            return 2;
        }
        if (reply.StartsWith("ok\n", StringComparison.Ordinal))
        {
            Console.Write(reply[3..]);
            return 0;
        }
        Console.Error.Write("softswitch ctl: " + (reply.StartsWith("error: ", StringComparison.Ordinal) ? reply[7..] : "unexpected answer: " + reply));
        if (!reply.EndsWith('\n')) Console.Error.WriteLine();
        return 1;
    }

    /// <summary>Sends <paramref name="line"/> and reads the whole answer (the server closes after it).</summary>
    public static string Exchange(string path, string line, TimeSpan timeout)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.ReceiveTimeout = s.SendTimeout = (int)timeout.TotalMilliseconds;
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.Send(Encoding.UTF8.GetBytes(line + "\n"));
        var ms = new MemoryStream();
        var buf = new byte[16384];
        int n;
        while ((n = s.Receive(buf)) > 0) ms.Write(buf, 0, n);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The only control socket in the default directory, or null with the reason.</summary>
    private static string? FindDefault(out string? why)
    {
        string dir = ControlServer.DefaultDirectory;
        var found = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.ctl") : [];
        why = found.Length switch
        {
            0 => $"no running softswitch found in {dir} (give --target PATH)",
            1 => null,
            _ => $"several daemons in {dir}, pick one with --target: {string.Join(", ", found.Select(System.IO.Path.GetFileName))}",
        };
        return found.Length == 1 ? found[0] : null;
    }
}
