using System.Globalization;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.Ports.Pcap;
using Softswitch.Ports.PcapFile;

namespace Softswitch.Ports;

/// <summary>The backend of a port spec.</summary>
public enum PortKind
{
    AfPacket,
    AfXdp,
    Pcap,
    Memory,
    Tap,
}

/// <summary>
/// One item of a <c>--ports</c> list: a backend and an interface name, or <see cref="PortKind.Memory"/> with a count.
/// <see cref="FirstPortNo"/> is the OpenFlow port number of its first port: the number the item asks for (<c>3=eth3</c>),
/// else the one after the previous item's last port (from 1).
/// </summary>
public sealed record PortSpecEntry(PortKind Kind, string Name, int Count, ushort FirstPortNo)
{
    /// <summary>afxdp only: the one RX queue to serve (<c>afxdp:eth0:queue=1</c>); null serves every queue.</summary>
    public int? Queue { get; init; }

    /// <summary>afxdp and afpacket: the receive ring's depth in frames (<c>afxdp:eth0:rx-frames=262144</c>: UMEM frames per
    /// queue, the depth of its fill and RX rings; <c>afpacket:eth0:rx-frames=65536</c>: ring slots); null keeps the
    /// backend's default.</summary>
    public int? RxFrames { get; init; }

    /// <summary>afxdp only: Open vSwitch's xdp-mode (<c>afxdp:eth0:xdp-mode=generic</c>; <see cref="AfXdp.XdpModes"/>);
    /// null keeps the default (best-effort).</summary>
    public string? XdpMode { get; init; }

    /// <summary>The canonical spelling (afpacket:eth0, afxdp:eth0:queue=1, afxdp:eth0:rx-frames=65536, mem:4, ...).</summary>
    public override string ToString() => Kind switch
    {
        PortKind.Memory => $"mem:{Count}",
        _ => $"{PortSpec.Prefix(Kind)}:{Name}" + (Queue is { } q ? $":queue={q}" : "") + (RxFrames is { } r ? $":rx-frames={r}" : "")
             + (XdpMode is { } m ? $":xdp-mode={m}" : ""),
    };
}

/// <summary>A port opened from a spec, with its OpenFlow port number.</summary>
public sealed record OpenedPort(ushort PortNo, PortSpecEntry Spec, IPort Port);

/// <summary>How <see cref="PortSpec.Open"/> builds ports.</summary>
public sealed record PortFactoryOptions
{
    /// <summary>Makes in-memory port number <c>portNo</c> named <c>name</c> (the datapath's MemoryPort is supplied by the caller).</summary>
    public Func<ushort, string, IPort>? Memory { get; init; }
    /// <summary>Overrides how a tap port is made (default: <see cref="TapPort"/>).</summary>
    public Func<ushort, string, IPort>? Tap { get; init; }
    /// <summary>When set, every port is wrapped in a <see cref="CapturingPort"/> writing {interface}-rx.pcap and {interface}-tx.pcap here (the log says where).</summary>
    public string? PcapDir { get; init; }
    public ILoggerFactory? LoggerFactory { get; init; }
    public AfPacketOptions? AfPacket { get; init; }
    public AfXdpOptions? AfXdp { get; init; }
    public PcapOptions? Pcap { get; init; }
}

/// <summary>
/// Parses <c>--ports</c> specs and opens the ports they name.
/// </summary>
/// <remarks>
/// <para>Layer: Softswitch.Ports owns the port backends (AF_PACKET, AF_XDP, pcap, TAP, pcap files, the local port,
/// NetFPGA): opening interfaces, their rings, offloads and kernel counters, each behind the datapath's
/// <see cref="IPort"/> (and the NetFPGA board behind the datapath's offload target interface). It may use those
/// interfaces and the packet pool; it must not touch flow tables, OpenFlow or the agent, and which ports a switch
/// opens is the host's choice (this parser serves it).</para>
/// Grammar: a comma-separated list of items, each one of
/// <c>afpacket:IF</c>, <c>IF</c> (same as afpacket:IF), <c>afxdp:IF</c> (every RX queue, one socket each) or
/// <c>afxdp:IF:queue=K</c> (RX queue K only), options joined by ':' after an afxdp or afpacket interface
/// (<c>queue=K</c>, afxdp only; <c>rx-frames=N</c>, the receive ring's depth in frames), <c>pcap:IF</c>, <c>tap:NAME</c>, <c>mem:N</c>
/// (N in-memory ports), optionally preceded by an OpenFlow port number and '=' (<c>3=afpacket:eth3</c>, the way OVS
/// has ofport_request). Prefixes are case-insensitive; spaces around items are ignored. An interface may appear once.
/// An item without a number takes the one after the previous item's last port (the first item takes 1); mem:N takes
/// N consecutive numbers. Numbers run from 1 to 0xFF00 (OFPP_MAX) and may not repeat.
/// </remarks>
public static class PortSpec
{
    public const int MaxPorts = 0xFF00;

    /// <summary>The bounds of an afxdp item's rx-frames (a power of two): below 256 a receive batch does not fit
    /// twice; 1,048,576 frames of 2 KiB are 2 GiB of locked UMEM for one queue.</summary>
    public const int MinRxFrames = 256, MaxRxFrames = 1 << 20;

    internal static string Prefix(PortKind kind) => kind switch
    {
        PortKind.AfPacket => "afpacket",
        PortKind.AfXdp => "afxdp",
        PortKind.Pcap => "pcap",
        PortKind.Memory => "mem",
        PortKind.Tap => "tap",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary>Parses <paramref name="spec"/>; throws <see cref="PortOpenException"/> (InvalidSpec) with a user-facing message.</summary>
    public static IReadOnlyList<PortSpecEntry> Parse(string spec)
    {
        if (!TryParse(spec, out var entries, out var error))
            throw new PortOpenException(PortOpenError.InvalidSpec, null, error);
        return entries;
    }

    public static bool TryParse(string? spec, out IReadOnlyList<PortSpecEntry> entries, out string error)
    {
        entries = [];
        error = "";
        if (string.IsNullOrWhiteSpace(spec))
        {
            error = "--ports is empty: give a comma-separated list such as `afpacket:eth1,afxdp:eth2,pcap:eth3,mem:2`.";
            return false;
        }
        var list = new List<PortSpecEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int next = 1;
        foreach (var raw in spec.Split(','))
        {
            string item = raw.Trim();
            if (item.Length == 0)
            {
                error = $"--ports '{spec}': empty item (two commas in a row, or a trailing comma).";
                return false;
            }
            int eq = item.IndexOf('=');
            int firstColon = item.IndexOf(':');
            if (eq >= 0 && (firstColon < 0 || eq < firstColon))
            {
                string number = item[..eq].Trim();
                if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int requested) || requested is < 1 or > MaxPorts)
                {
                    error = $"--ports item '{item}': '{number}' is not an OpenFlow port number (1 to {MaxPorts}), as in 3=afpacket:eth3.";
                    return false;
                }
                next = requested;
                item = item[(eq + 1)..].Trim();
            }
            PortKind kind;
            string arg;
            int colon = item.IndexOf(':');
            if (colon < 0)
            {
                kind = PortKind.AfPacket;
                arg = item;
            }
            else
            {
                string prefix = item[..colon].Trim().ToLowerInvariant();
                arg = item[(colon + 1)..].Trim();
                switch (prefix)
                {
                    case "afpacket": case "af_packet": kind = PortKind.AfPacket; break;
                    case "afxdp": case "af_xdp": case "xdp": kind = PortKind.AfXdp; break;
                    case "pcap": kind = PortKind.Pcap; break;
                    case "mem": case "memory": kind = PortKind.Memory; break;
                    case "tap": kind = PortKind.Tap; break;
                    default:
                        error = $"--ports item '{item}': unknown port type '{prefix}' (use afpacket:, afxdp:, pcap:, tap:, mem:, or a bare interface name).";
                        return false;
                }
            }

            int? queue = null, rxFrames = null;
            string? xdpMode = null;
            int optColon = arg.IndexOf(':');
            if (optColon >= 0 && kind != PortKind.Memory)
            {
                string opts = arg[(optColon + 1)..];
                arg = arg[..optColon].Trim();
                if (kind is not (PortKind.AfXdp or PortKind.AfPacket))
                {
                    error = $"--ports item '{item}': options after the interface name are for afxdp and afpacket ports only (afxdp:IF:queue=K:rx-frames=N, afpacket:IF:rx-frames=N).";
                    return false;
                }
                foreach (string raw1 in opts.Split(':'))
                {
                    string opt = raw1.Trim();
                    int eqAt = opt.IndexOf('=');
                    string key = eqAt < 0 ? opt : opt[..eqAt].Trim().ToLowerInvariant();
                    string value = eqAt < 0 ? "" : opt[(eqAt + 1)..].Trim();
                    bool number = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v);
                    switch (key)
                    {
                        case "queue" when kind != PortKind.AfXdp:
                            error = $"--ports item '{item}': queue=K is an afxdp option (an AF_PACKET socket takes every queue).";
                            return false;
                        case "queue" when queue is null:
                            if (!number || v > 4095)
                            {
                                error = $"--ports item '{item}': queue={value} is not an RX queue number (0 to 4095).";
                                return false;
                            }
                            queue = v;
                            break;
                        case "rx-frames" when rxFrames is null:
                            if (!number || v < MinRxFrames || v > MaxRxFrames || (v & (v - 1)) != 0)
                            {
                                error = $"--ports item '{item}': rx-frames={value} must be a power of two from {MinRxFrames} to {MaxRxFrames} "
                                    + "(the receive ring's depth in frames: UMEM frames per queue for afxdp, ring slots for afpacket, 2 KiB each for a 1500-byte MTU).";
                                return false;
                            }
                            rxFrames = v;
                            break;
                        case "xdp-mode" when kind != PortKind.AfXdp:
                            error = $"--ports item '{item}': xdp-mode is an afxdp option.";
                            return false;
                        case "xdp-mode" when xdpMode is null:
                            if (XdpModes.Apply(new AfXdpOptions(), value) is null)
                            {
                                error = $"--ports item '{item}': xdp-mode={value} is not {XdpModes.Known}.";
                                return false;
                            }
                            xdpMode = value.ToLowerInvariant();
                            break;
                        case "queue" or "rx-frames" or "xdp-mode":
                            error = $"--ports item '{item}': afxdp option '{key}' is given twice.";
                            return false;
                        default:
                            error = kind == PortKind.AfXdp
                                ? $"--ports item '{item}': unknown afxdp option '{opt}' (the options are queue=K, an RX queue number from 0, "
                                  + $"rx-frames=N, the receive ring's depth in frames, a power of two from {MinRxFrames} to {MaxRxFrames}, "
                                  + $"and xdp-mode=MODE, {XdpModes.Known})."
                                : $"--ports item '{item}': unknown afpacket option '{opt}' (the option is rx-frames=N, the receive ring's depth in frames, "
                                  + $"a power of two from {MinRxFrames} to {MaxRxFrames}).";
                            return false;
                    }
                }
            }

            int count = 1;
            if (kind == PortKind.Memory)
            {
                if (!int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1)
                {
                    error = $"--ports item '{item}': mem:N needs a port count N >= 1.";
                    return false;
                }
                arg = "";
            }
            else
            {
                try { NetInterface.ValidateName(arg); }
                catch (PortOpenException e)
                {
                    error = $"--ports item '{item}': {e.Message}";
                    return false;
                }
                if (!seen.Add(arg))
                {
                    error = $"--ports item '{item}': interface '{arg}' is listed twice.";
                    return false;
                }
            }
            if ((long)next - 1 + count > MaxPorts)
            {
                error = $"--ports '{spec}': port numbers beyond {MaxPorts}.";
                return false;
            }
            foreach (var other in list)
            {
                if (next < other.FirstPortNo + other.Count && other.FirstPortNo < next + count)
                {
                    error = $"--ports item '{raw.Trim()}': OpenFlow port number {Math.Max(next, other.FirstPortNo)} is already taken by '{other}'.";
                    return false;
                }
            }
            list.Add(new PortSpecEntry(kind, arg, count, (ushort)next) { Queue = queue, RxFrames = rxFrames, XdpMode = xdpMode });
            next += count;
        }
        entries = list;
        return true;
    }

    /// <summary>Total number of ports the entries make.</summary>
    public static int PortCount(IReadOnlyList<PortSpecEntry> entries) => entries.Sum(e => e.Count);

    /// <summary>
    /// Opens every port of <paramref name="entries"/> in order. On the first failure the ports opened so far are
    /// disposed and the <see cref="PortOpenException"/> propagates (its message names the interface and the fix).
    /// </summary>
    public static IReadOnlyList<OpenedPort> Open(IReadOnlyList<PortSpecEntry> entries, PortFactoryOptions? options = null)
    {
        options ??= new PortFactoryOptions();
        var opened = new List<OpenedPort>();
        try
        {
            foreach (var e in entries)
            {
                for (int i = 0; i < e.Count; i++)
                {
                    ushort no = (ushort)(e.FirstPortNo + i);
                    IPort port = OpenOne(e, no, options);
                    if (options.PcapDir is not null)
                    {
                        try
                        {
                            var capture = CapturingPort.Create(port, options.PcapDir);
                            port = capture;
                            options.LoggerFactory?.CreateLogger("pcap").LogInformation("port {PortNo} ({Name}): capturing to {Rx} and {Tx}",
                                no, capture.Info.Name, Path.GetFullPath(capture.RxWriter.Path!), Path.GetFullPath(capture.TxWriter.Path!));
                        }
                        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                        {
                            port.Dispose();
                            throw new PortOpenException(PortOpenError.Failed, e.Name, $"--pcap-dir {options.PcapDir}: cannot create capture files for port {no}: {ex.Message}", 0, ex);
                        }
                    }
                    opened.Add(new OpenedPort(no, e, port));
                }
            }
            return opened;
        }
        catch
        {
            foreach (var o in opened) o.Port.Dispose();
            throw;
        }
    }

    /// <summary>The <see cref="PortRequest"/> of one port of <paramref name="e"/>, opened by <see cref="PortFactory"/> (in-memory
    /// and overridden tap ports by the options' factories).</summary>
    private static IPort OpenOne(PortSpecEntry e, ushort no, PortFactoryOptions o)
    {
        ILogger? Log(string category) => o.LoggerFactory?.CreateLogger(category);
        switch (e.Kind)
        {
            case PortKind.AfPacket:
                var ap = o.AfPacket ?? new AfPacketOptions();
                return PortFactory.Open(new PortRequest(e.Kind, e.Name)
                {
                    Logger = ap.Logger ?? Log("Softswitch.Ports.AfPacket"),
                    AfPacket = ap with { RxFrames = e.RxFrames ?? ap.RxFrames },
                });
            case PortKind.AfXdp:
                var xdp = o.AfXdp ?? new AfXdpOptions();
                return PortFactory.Open(new PortRequest(e.Kind, e.Name)
                {
                    Logger = xdp.Logger ?? Log("Softswitch.Ports.AfXdp"),
                    AfXdp = (e.XdpMode is { } mode ? XdpModes.Apply(xdp, mode)! : xdp) with { QueueId = e.Queue ?? xdp.QueueId, RxFrames = e.RxFrames ?? xdp.RxFrames },
                });
            case PortKind.Pcap:
                return PortFactory.Open(new PortRequest(e.Kind, e.Name) { Logger = o.Pcap?.Logger ?? Log("Softswitch.Ports.Pcap"), Pcap = o.Pcap });
            case PortKind.Tap:
                return o.Tap?.Invoke(no, e.Name) ?? PortFactory.Open(new PortRequest(e.Kind, e.Name) { Logger = Log("Softswitch.Ports.Tap") });
            case PortKind.Memory:
                if (o.Memory is null)
                    throw new PortOpenException(PortOpenError.Unsupported, null, "mem:N ports need an in-memory port factory (PortFactoryOptions.Memory).");
                return o.Memory(no, $"mem{no}");
            default:
                throw new PortOpenException(PortOpenError.InvalidSpec, e.Name, $"unknown port kind {e.Kind}");
        }
    }
}
