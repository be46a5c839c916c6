using System.Diagnostics;

namespace Softswitch.TestKit;

/// <summary>
/// Raw frames into and out of several interfaces of one namespace, through two python3 helpers started once: a sender
/// that writes each frame out of the interface named with it as soon as it is handed over, and a capture of every
/// interface that keeps, in arrival order per interface, what arrives there (an 802.1Q tag the kernel moved into the
/// packet's metadata is put back in place from PACKET_AUXDATA, so a tagged frame is seen as it crossed the wire) and
/// leaves out what the namespace itself sends. Dispose closes their inputs (each helper ends on that) and ends them by
/// their own process objects when they do not.
/// </summary>
public sealed class NsPorts : IDisposable
{
    private readonly Process _capture;
    private readonly Process _sender;
    private readonly Dictionary<string, List<byte[]>> _received = [];
    private readonly Task _reader;
    private readonly System.Text.StringBuilder _errors = new();
    private bool _disposed;

    private NsPorts(Process capture, Process sender, IEnumerable<string> ifnames)
    {
        _capture = capture;
        _sender = sender;
        foreach (var i in ifnames) _received[i] = [];
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reader = Task.Run(() =>
        {
            string? line;
            while ((line = _capture.StandardOutput.ReadLine()) is not null)
            {
                if (line == "ready") { ready.TrySetResult(); continue; }
                int space = line.IndexOf(' ');
                if (space < 0) continue;
                lock (_received) _received[line[..space]].Add(Convert.FromHexString(line.AsSpan(space + 1)));
            }
            ready.TrySetResult();
        });
        foreach (var p in new[] { capture, sender })
        {
            p.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_errors) _errors.AppendLine(e.Data);
            };
            p.BeginErrorReadLine();
        }
        if (!ready.Task.Wait(20_000) || _capture.HasExited) throw new InvalidOperationException("the capture helper did not start: " + Errors);
    }

    /// <summary>Starts the capture on <paramref name="ifnames"/> of namespace <paramref name="netns"/> (returning once it
    /// listens on all of them) and the sender.</summary>
    public static NsPorts Start(string netns, IReadOnlyList<string> ifnames)
    {
        var capture = Helper(netns, "capture", string.Join(',', ifnames));
        Process? sender = null;
        try
        {
            sender = Helper(netns, "send", "");
            return new NsPorts(capture, sender, ifnames);
        }
        catch
        {
            foreach (var p in new[] { capture, sender })
            {
                if (p is null) continue;
                try { if (!p.HasExited) p.Kill(); } catch (InvalidOperationException) { }
                p.Dispose();
            }
            throw;
        }
    }

    private static Process Helper(string netns, string mode, string ifnames)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", netns, NsTool.Python, ScriptPath, mode, ifnames }) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("cannot start the frame helper");
    }

    /// <summary>Sends <paramref name="frame"/> out of <paramref name="ifname"/> now (the sender is not waited for).</summary>
    public void Send(string ifname, byte[] frame)
    {
        _sender.StandardInput.WriteLine(ifname + " " + Convert.ToHexString(frame));
        _sender.StandardInput.Flush();
    }

    /// <summary>The frames that have arrived at <paramref name="ifname"/> so far, in order.</summary>
    public List<byte[]> Received(string ifname)
    {
        lock (_received) return [.. _received[ifname]];
    }

    /// <summary>What the helpers wrote on stderr (for failure messages).</summary>
    public string Errors
    {
        get
        {
            lock (_errors) return _errors.ToString();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in new[] { _sender, _capture })
        {
            try { p.StandardInput.Close(); } catch (IOException) { }
            if (!p.WaitForExit(5000))
            {
                try { p.Kill(); } catch (InvalidOperationException) { }
            }
        }
        _reader.Wait(5000);
        _sender.Dispose();
        _capture.Dispose();
    }

    private static readonly Lazy<string> s_script = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"ssw-nsports-{Environment.ProcessId}.py");
        File.WriteAllText(path, Script);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { File.Delete(path); } catch (IOException) { } };
        return path;
    });

    private static string ScriptPath => s_script.Value;

    private const string Script = """
import os, select, socket, struct, sys

SOL_PACKET, PACKET_AUXDATA, ETH_P_ALL = 263, 8, 3
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40

def lines():
    # stdin read as it comes (no read-ahead that would hold a line back); ends when it is closed
    buf = b''
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            return
        buf += chunk
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            yield line.decode()

def send():
    socks = {}
    for line in lines():
        parts = line.split()
        if len(parts) != 2:
            continue
        s = socks.get(parts[0])
        if s is None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            s.bind((parts[0], 0))
            socks[parts[0]] = s
        s.send(bytes.fromhex(parts[1]))

def capture(ifnames):
    socks = {}
    for name in ifnames:
        # protocol 0 until bound, so no frame of another interface slips in
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((name, ETH_P_ALL))
        socks[s.fileno()] = (s, name)
    print('ready', flush=True)
    while True:
        r, _, _ = select.select(list(socks) + [0], [], [])
        for fd in r:
            if fd == 0:
                if not os.read(0, 4096):
                    return
                continue
            s, name = socks[fd]
            data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            for level, kind, cd in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(cd) >= 20:
                    status, _, _, _, _, tci, tpid = struct.unpack('IIIHHHH', cd[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                        data = data[:12] + struct.pack('!HH', tpid, tci) + data[12:]
            print(name, data.hex(), flush=True)

if sys.argv[1] == 'send':
    send()
else:
    capture(sys.argv[2].split(','))
""";
}
