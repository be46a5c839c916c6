using System.Diagnostics;
using System.Globalization;

namespace Softswitch.TestKit;

/// <summary>
/// tcpdump writing one interface's frames to a pcap file, in the root namespace or inside a namespace. Ends only the
/// process it started (SIGINT by pid, so the file is complete; a kill when that does not work).
/// </summary>
/// <remarks>
/// Frames a packet socket sends with PACKET_QDISC_BYPASS (our AF_PACKET ports) skip the kernel's taps, so a capture
/// on the switch's own interface shows only what it receives: capture on the far end of the veth to see what it sends.
/// </remarks>
public sealed class Tcpdump : IDisposable
{
    private readonly Process _p;
    private bool _stopped;

    public string Path { get; }

    private Tcpdump(Process p, string path)
    {
        _p = p;
        Path = path;
    }

    /// <summary>Starts capturing <paramref name="ifname"/> (in namespace <paramref name="netns"/> when given) into
    /// <paramref name="path"/>; returns once tcpdump says it is listening.</summary>
    public static Tcpdump Start(string ifname, string path, string? netns = null)
    {
        string[] cmd = ["tcpdump", "-Z", "root", "--immediate-mode", "-U", "-n", "-i", ifname, "-w", path];
        var psi = new ProcessStartInfo(netns is null ? cmd[0] : "ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in netns is null ? cmd[1..] : ["netns", "exec", netns, .. cmd]) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tcpdump");
        var listening = new TaskCompletionSource();
        var err = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (err) err.AppendLine(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal)) listening.TrySetResult();
        };
        p.BeginErrorReadLine();
        var t = new Tcpdump(p, path);
        if (!listening.Task.Wait(10_000) || p.HasExited)
        {
            t.Dispose();
            lock (err) throw new InvalidOperationException($"tcpdump on {ifname} did not start: {err}");
        }
        return t;
    }

    /// <summary>Stops the capture and waits until the file is written.</summary>
    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        if (_p.HasExited) return;
        Sh.Run("kill", "-INT", _p.Id.ToString(CultureInfo.InvariantCulture));
        if (!_p.WaitForExit(5000))
        {
            try { _p.Kill(true); } catch (InvalidOperationException) { }
        }
    }

    public void Dispose()
    {
        Stop();
        _p.Dispose();
    }
}

/// <summary>One frame as tshark dissects it. Fields of a layer that repeats (outer and inner IPv4) have one value per layer, outer first.</summary>
public sealed record DissectedFrame(
    int Number,
    string Protocols,
    string[] IpSrc,
    string[] IpDst,
    string[] IpChecksumStatus,
    string[] IpDf,
    string[] UdpChecksum,
    string[] UdpChecksumStatus,
    string[] TcpChecksumStatus,
    string[] IcmpChecksumStatus,
    string GreKey,
    string VxlanVni,
    string Malformed,
    string[] ExpertSeverity,
    string ExpertMessage)
{
    /// <summary>geneve.vni as tshark prints it (0x and six hex digits), empty for other frames.</summary>
    public string GeneveVni { get; init; } = "";

    /// <summary>tshark's checksum status values (PROTO_CHECKSUM_E_*).</summary>
    public const string Bad = "0", Good = "1", NotPresent = "3";
    /// <summary>_ws.expert.severity of an error (PI_ERROR).</summary>
    public const string SeverityError = "8388608";

    public bool HasError => Malformed.Length > 0 || ExpertSeverity.Contains(SeverityError);

    public override string ToString()
        => $"#{Number} {Protocols} ip.src={string.Join(',', IpSrc)} ip.checksum.status={string.Join(',', IpChecksumStatus)} df={string.Join(',', IpDf)} " +
           $"udp.checksum={string.Join(',', UdpChecksum)}/{string.Join(',', UdpChecksumStatus)} tcp={string.Join(',', TcpChecksumStatus)} " +
           $"icmp={string.Join(',', IcmpChecksumStatus)} gre.key={GreKey} vxlan.vni={VxlanVni} geneve.vni={GeneveVni} {Malformed} {ExpertMessage}";
}

/// <summary>Reads a pcap with tshark, every checksum check on (IPv4 header, UDP, TCP; ICMP is always checked).</summary>
public static class Tshark
{
    private static readonly string[] s_fields =
    [
        "frame.number", "frame.protocols", "ip.src", "ip.dst", "ip.checksum.status", "ip.flags.df", "udp.checksum", "udp.checksum.status",
        "tcp.checksum.status", "icmp.checksum.status", "gre.key", "vxlan.vni", "_ws.malformed", "_ws.expert.severity", "_ws.expert.message", "geneve.vni",
    ];

    public static List<DissectedFrame> Dissect(string pcap)
    {
        // TCP payloads are data: else a port some dissector registers (EtherCAT's 34980, an ephemeral port a test's
        // connection may get) has tshark read a stream's bytes as that protocol and call them malformed.
        var args = new List<string> { "-n", "-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            "-d", "tcp.port==1-65535,data", "-T", "fields", "-E", "occurrence=a" };
        foreach (var f in s_fields)
        {
            args.Add("-e");
            args.Add(f);
        }
        var r = Sh.Run("tshark", args, 60_000);
        if (!r.Ok) throw new InvalidOperationException($"tshark -r {pcap} failed: {r.Stderr}");
        var frames = new List<DissectedFrame>();
        foreach (var line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var c = line.Split('\t');
            if (c.Length < s_fields.Length) throw new InvalidOperationException("unexpected tshark line: " + line);
            static string[] L(string s) => s.Length == 0 ? [] : s.Split(',');
            frames.Add(new DissectedFrame(int.Parse(c[0], CultureInfo.InvariantCulture), c[1], L(c[2]), L(c[3]), L(c[4]), L(c[5]), L(c[6]), L(c[7]), L(c[8]), L(c[9]),
                c[10], c[11], c[12], L(c[13]), c[14]) { GeneveVni = c[15] });
        }
        return frames;
    }
}

/// <summary>What tshark must make of the tunnel frames a switch sent.</summary>
public static class TunnelFrameCheck
{
    /// <summary>
    /// Asserts that every frame of the capture dissects without error, and that the frames from <paramref name="ourIp"/>
    /// (at least <paramref name="minFrames"/>) are <paramref name="kind"/> (vxlan, geneve, gre or ipip) tunnel frames with
    /// the VNI / GRE key <paramref name="key"/> (null: a GRE header without a key), a good outer IPv4 header checksum, a
    /// zero (absent) VXLAN or Geneve UDP checksum, and good inner checksums. Returns those frames.
    /// </summary>
    public static List<DissectedFrame> AssertOurFrames(IReadOnlyList<DissectedFrame> frames, string kind, string ourIp, uint? key, int minFrames)
    {
        var broken = frames.Where(f => f.HasError).ToList();
        Assert.True(broken.Count == 0, "tshark reports errors:\n" + string.Join('\n', broken));
        string prefix = kind switch
        {
            "vxlan" => "eth:ethertype:ip:udp:vxlan:eth:ethertype:",
            "geneve" => "eth:ethertype:ip:udp:geneve:eth:ethertype:",
            "gre" => "eth:ethertype:ip:gre:eth:ethertype:",
            "ipip" => "eth:ethertype:ip:ip:",
            _ => throw new ArgumentException("kind is vxlan, geneve, gre or ipip", nameof(kind)),
        };
        var ours = frames.Where(f => f.IpSrc.Length > 0 && f.IpSrc[0] == ourIp).ToList();
        Assert.True(ours.Count >= minFrames, $"{ours.Count} frames from {ourIp} in the capture, expected at least {minFrames}:\n{string.Join('\n', frames.Take(20))}");
        foreach (var f in ours)
        {
            Assert.True(f.Protocols.StartsWith(prefix, StringComparison.Ordinal), $"not dissected as {kind}: {f}");
            Assert.True(f.IpChecksumStatus.Length > 0 && f.IpChecksumStatus.All(s => s == DissectedFrame.Good), $"IPv4 header checksum not verified good: {f}");
            Assert.True(f.IpDf.FirstOrDefault() is "1" or "True", $"outer header without don't-fragment: {f}");
            Assert.True(!f.TcpChecksumStatus.Contains(DissectedFrame.Bad) && !f.IcmpChecksumStatus.Contains(DissectedFrame.Bad)
                        && !f.UdpChecksumStatus.Contains(DissectedFrame.Bad), $"bad inner checksum: {f}");
            switch (kind)
            {
                case "vxlan":
                    // RFC 7348 lets the outer UDP checksum be zero over IPv4; we send zero, tshark calls it absent.
                    Assert.True(f.UdpChecksum.FirstOrDefault() == "0x0000" && f.UdpChecksumStatus.FirstOrDefault() == DissectedFrame.NotPresent, $"outer UDP checksum: {f}");
                    Assert.Equal(key?.ToString(CultureInfo.InvariantCulture) ?? "", f.VxlanVni);
                    break;
                case "geneve":
                    // RFC 8926 lets the outer UDP checksum be zero over IPv4 too; we send zero (csum=false, Open vSwitch's default).
                    Assert.True(f.UdpChecksum.FirstOrDefault() == "0x0000" && f.UdpChecksumStatus.FirstOrDefault() == DissectedFrame.NotPresent, $"outer UDP checksum: {f}");
                    Assert.Equal(key is { } gk ? $"0x{gk:x6}" : "", f.GeneveVni);
                    break;
                case "gre":
                    // The whole frame is said when it fails: one loaded run saw a frame with two GRE keys
                    // ("0xc0ffee42,0xc0ffee42"), a GRE header inside the tunnelled frame, not yet explained.
                    string greKey = key is { } k ? $"0x{k:x8}" : "";
                    Assert.True(f.GreKey == greKey, $"gre.key {f.GreKey}, expected {greKey}: {f}");
                    break;
                default:
                    Assert.True(f.IpChecksumStatus.Length >= 2, $"no inner IPv4 header: {f}");
                    break;
            }
        }
        return ours;
    }
}
