using System.Diagnostics;
using System.Security.Cryptography;

namespace Softswitch.TestKit;

/// <summary>
/// A private network namespace joined to the root namespace by a veth pair: <see cref="HostIf"/> stays in the root
/// namespace (the switch side, where the port under test opens), <see cref="NsIf"/> lives in <see cref="Name"/>.
/// </summary>
/// <remarks>
/// Names are random (ssw-XXXXXXXX, sswXXXXXXXXh/n) so parallel tests and other users of the machine do not collide.
/// IPv6 is disabled on both ends (no router solicitations or MLD reports to confuse frame counts) and tx offloads are
/// turned off with ethtool when it is installed (veth with tx checksum offload hands CHECKSUM_PARTIAL frames to
/// packet sockets). Dispose deletes the namespace, which removes the veth pair; it also runs when Create fails midway.
/// </remarks>
public sealed class Netns : IDisposable
{
    public string Name { get; }
    public string HostIf { get; }
    public string NsIf { get; }
    private bool _disposed;

    private Netns(string prefix, string tag)
    {
        Name = prefix + "-" + tag;
        HostIf = prefix + tag + "h";
        NsIf = prefix + tag + "n";
    }

    /// <summary>A fresh namespace and veth pair; <paramref name="kernelOffloads"/> leaves the veths' default offloads
    /// (tx checksum, TSO, GSO, GRO) on, as a user's machine has them; <paramref name="queues"/> gives both veth ends that
    /// many RX and TX queues (a sender's flows are spread over them by hash); <paramref name="prefix"/> (three letters)
    /// starts the names in place of ssw.</summary>
    public static Netns Create(bool kernelOffloads = false, int queues = 1, string prefix = "ssw")
    {
        var ns = new Netns(prefix, Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant());
        try
        {
            Sh.Check("ip", "netns", "add", ns.Name);
            if (queues == 1)
            {
                Sh.Check("ip", "link", "add", ns.HostIf, "type", "veth", "peer", "name", ns.NsIf);
            }
            else
            {
                string q = queues.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Sh.Check("ip", "link", "add", ns.HostIf, "numtxqueues", q, "numrxqueues", q, "type", "veth",
                    "peer", "name", ns.NsIf, "numtxqueues", q, "numrxqueues", q);
            }
            Sh.Check("ip", "link", "set", ns.NsIf, "netns", ns.Name);
            Sh.Run("sysctl", "-qw", $"net.ipv6.conf.{ns.HostIf}.disable_ipv6=1");
            ns.Exec("sysctl", "-qw", $"net.ipv6.conf.{ns.NsIf}.disable_ipv6=1");
            if (kernelOffloads) { }
            else if (Sh.Exists("ethtool"))
            {
                ns.Exec("ethtool", "-K", ns.NsIf, "tx", "off", "tso", "off", "gso", "off", "gro", "off", "sg", "off");
                Sh.Run("ethtool", "-K", ns.HostIf, "tx", "off", "tso", "off", "gso", "off", "gro", "off");
            }
            else
            {
                Console.Error.WriteLine("[Netns] ethtool not installed: veth offloads stay on (fine for raw frames, not for TCP)");
            }
            Sh.Check("ip", "-n", ns.Name, "link", "set", "lo", "up");
            Sh.Check("ip", "-n", ns.Name, "link", "set", ns.NsIf, "up");
            Sh.Check("ip", "link", "set", ns.HostIf, "up");
            ns.WaitUp();
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Runs a command inside the namespace.</summary>
    public Sh.Result Exec(params string[] cmd) => Sh.Run("ip", ["netns", "exec", Name, .. cmd]);

    public string NsMac => Exec("cat", $"/sys/class/net/{NsIf}/address").Stdout.Trim();

    private void WaitUp()
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 3000)
        {
            if (File.ReadAllText($"/sys/class/net/{HostIf}/operstate").Trim() == "up") return;
            Thread.Sleep(10);
        }
    }

    /// <summary>Sends frames out of the namespace end (AF_PACKET raw socket in the namespace), from CPU
    /// <paramref name="cpu"/> when given (taskset).</summary>
    public void SendFrames(IEnumerable<byte[]> frames, string? ifname = null, int? cpu = null)
    {
        string input = string.Join('\n', frames.Select(Convert.ToHexString)) + "\n";
        string[] tool = [NsTool.Python, NsTool.Path, "send", ifname ?? NsIf];
        if (cpu is { } c) tool = ["taskset", "-c", c.ToString(System.Globalization.CultureInfo.InvariantCulture), .. tool];
        var r = Sh.Run("ip", ["netns", "exec", Name, .. tool], 20_000, input);
        if (!r.Ok) throw new InvalidOperationException($"nstool send failed: {r.Stderr}");
    }

    /// <summary>Sends <paramref name="frame"/> <paramref name="count"/> times from the namespace end (a refused send is tried
    /// again); returns the sends the kernel refused on the way.</summary>
    public long RepeatFrame(byte[] frame, int count, int timeoutMs = 300_000)
    {
        var r = Sh.Run("ip", ["netns", "exec", Name, NsTool.Python, NsTool.Path, "repeat", NsIf, Convert.ToHexString(frame),
                              count.ToString(System.Globalization.CultureInfo.InvariantCulture)], timeoutMs);
        if (!r.Ok) throw new InvalidOperationException($"nstool repeat failed: {r.Stderr}");
        var parts = r.Stdout.Trim().Split(' ');
        if (parts.Length != 2 || long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) != count)
            throw new InvalidOperationException($"nstool repeat sent '{r.Stdout.Trim()}' of {count}");
        return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Starts a capture of frames of <paramref name="ethertype"/> arriving at the namespace end; returns once it is listening.</summary>
    public NsCapture StartCapture(ushort ethertype, int count, double timeoutSeconds = 5, string? ifname = null)
        => new(this, ifname ?? NsIf, ethertype, count, timeoutSeconds);

    /// <summary>Starts sending <paramref name="count"/> broadcast frames of <paramref name="size"/> bytes from <paramref name="ifname"/>
    /// as fast as python can, or at about <paramref name="pps"/> frames per second (a millisecond's worth at a time, no catch-up
    /// burst after the sender was paused). With <paramref name="flows"/> above 1 the frames go round that many destination
    /// MACs instead, 02:00:00:01:00:00 + i (<see cref="FloodMac"/>).</summary>
    public Process StartFlood(string ifname, int count, int size, double seconds, int pps = 0, int flows = 1)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", Name, NsTool.Python, NsTool.Path, "flood", ifname, count.ToString(), size.ToString(),
                     seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), pps.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     flows.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    /// <summary>The destination MAC of flow <paramref name="i"/> of <see cref="StartFlood"/> with several flows.</summary>
    public static string FloodMac(int i) => $"02:00:00:01:{(i >> 8) & 0xff:x2}:{i & 0xff:x2}";

    /// <summary>Moves a root-namespace interface into this namespace and brings it up (IPv6 off).</summary>
    public void Adopt(string ifname)
    {
        Sh.Check("ip", "link", "set", ifname, "netns", Name);
        Exec("sysctl", "-qw", $"net.ipv6.conf.{ifname}.disable_ipv6=1");
        Sh.Check("ip", "-n", Name, "link", "set", ifname, "up");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Sh.Run("ip", "netns", "del", Name);
        if (Directory.Exists($"/sys/class/net/{HostIf}")) Sh.Run("ip", "link", "del", HostIf);
    }

    /// <summary>True when this namespace still exists (for leak checks).</summary>
    public static bool Exists(string name) => Sh.Run("ip", "netns", "list").Stdout.Split('\n').Any(l => l.Split(' ')[0] == name);
}

/// <summary>A raw-socket capture running inside a namespace (python3 helper); <see cref="Finish"/> returns the frames.</summary>
public sealed class NsCapture : IDisposable
{
    private readonly Process _proc;
    private readonly List<byte[]> _frames = [];
    private readonly Task _reader;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _stderr = "";

    internal NsCapture(Netns ns, string ifname, ushort ethertype, int count, double timeoutSeconds)
    {
        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "netns", "exec", ns.Name, NsTool.Python, NsTool.Path, "recv", ifname,
                     ethertype.ToString(), count.ToString(), timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        _proc = Process.Start(psi)!;
        _reader = Task.Run(() =>
        {
            string? line;
            while ((line = _proc.StandardOutput.ReadLine()) is not null)
            {
                if (line == "ready") { _ready.TrySetResult(); continue; }
                if (line.StartsWith("done", StringComparison.Ordinal)) continue;
                lock (_frames) _frames.Add(Convert.FromHexString(line));
            }
            _ready.TrySetResult();
        });
        var err = Task.Run(() => _stderr = _proc.StandardError.ReadToEnd());
        if (!_ready.Task.Wait(10_000)) throw new TimeoutException("capture helper did not start");
        if (_proc.HasExited && _proc.ExitCode != 0) { err.Wait(1000); throw new InvalidOperationException("capture helper failed: " + _stderr); }
    }

    /// <summary>Waits for the helper to exit (count reached or timeout) and returns the captured frames.</summary>
    public List<byte[]> Finish()
    {
        if (!_proc.WaitForExit(15_000)) { try { _proc.Kill(true); } catch (InvalidOperationException) { } }
        _reader.Wait(5000);
        lock (_frames) return [.. _frames];
    }

    public void Dispose()
    {
        try { if (!_proc.HasExited) _proc.Kill(true); } catch (InvalidOperationException) { }
        _proc.Dispose();
    }
}

/// <summary>The python3 helper run inside namespaces: sends hex frames from stdin, or prints received frames as hex.</summary>
public static class NsTool
{
    public static readonly string Python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static readonly Lazy<string> s_path = new(() =>
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ssw-nstool-{Environment.ProcessId}.py");
        File.WriteAllText(path, Script);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { File.Delete(path); } catch (IOException) { } };
        return path;
    });

    public static string Path => s_path.Value;

    private const string Script = """
import socket, sys, time, select

def main():
    mode, ifname = sys.argv[1], sys.argv[2]
    if mode == 'send':
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.bind((ifname, 0))
        n = 0
        for line in sys.stdin:
            line = line.strip()
            if line:
                s.send(bytes.fromhex(line))
                n += 1
        print(n)
    elif mode == 'repeat':
        # one frame COUNT times; a send the kernel refuses (ENOBUFS: the peer's ring was full) is tried again, so
        # every frame counted was handed on whole
        frame, count = bytes.fromhex(sys.argv[3]), int(sys.argv[4])
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.bind((ifname, 0))
        n = refused = 0
        while n < count:
            try:
                s.send(frame)
                n += 1
            except OSError:
                refused += 1
                time.sleep(0.0001)
        print(n, refused)
    elif mode == 'recv':
        proto, count, timeout = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((ifname, proto))
        print('ready', flush=True)
        end = time.time() + timeout
        got = 0
        while got < count:
            left = end - time.time()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            data, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            print(data.hex(), flush=True)
            got += 1
        print('done', got, flush=True)
    elif mode == 'flood':
        count, size, seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        pps = float(sys.argv[6]) if len(sys.argv) > 6 else 0
        flows = int(sys.argv[7]) if len(sys.argv) > 7 else 1
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.bind((ifname, 0))
        body = bytes.fromhex('020000000001' + '88b5') + bytes(size - 14)
        frames = [bytes.fromhex('ffffffffffff') + body] if flows <= 1 else \
                 [bytes([2, 0, 0, 1, (i >> 8) & 255, i & 255]) + body for i in range(flows)]
        n = 0
        start = time.time()
        end = start + seconds
        while n < count and time.time() < end:
            if pps > 0:
                # paced: each millisecond's frames together, never ahead of the rate, and after a pause of the
                # sender itself at most 5 ms of frames owed (no catch-up burst)
                due = min(count, int((time.time() - start) * pps) + 1)
                if due - n > pps * 0.005:
                    start += (due - n - pps * 0.005) / pps
                    due = n + int(pps * 0.005)
                if n >= due:
                    time.sleep(0.001)
                    continue
            try:
                s.send(frames[n % len(frames)])
                n += 1
            except OSError:
                pass
        print(n)

main()
""";
}

/// <summary>
/// A veth pair with both ends in the root namespace (a cable between two switches' ports), named sswXXXXXXXXa/b,
/// with IPv6 and offloads off on both ends, like <see cref="Netns"/>. Dispose deletes it.
/// </summary>
public sealed class VethPair : IDisposable
{
    public string A { get; }
    public string B { get; }

    private VethPair(string tag)
    {
        A = "ssw" + tag + "a";
        B = "ssw" + tag + "b";
    }

    public static VethPair Create()
    {
        var v = new VethPair(Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant());
        try
        {
            Sh.Check("ip", "link", "add", v.A, "type", "veth", "peer", "name", v.B);
            foreach (var end in new[] { v.A, v.B })
            {
                Sh.Run("sysctl", "-qw", $"net.ipv6.conf.{end}.disable_ipv6=1");
                if (Sh.Exists("ethtool")) Sh.Run("ethtool", "-K", end, "tx", "off", "tso", "off", "gso", "off", "gro", "off");
                Sh.Check("ip", "link", "set", end, "up");
            }
            return v;
        }
        catch
        {
            v.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (Directory.Exists($"/sys/class/net/{A}")) Sh.Run("ip", "link", "del", A);
    }
}
