using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.PcapFile;

/// <summary>
/// Wraps a port and records what it receives and what is sent to it into two pcap files (for --pcap-dir), named after
/// the interface: <c>{name}-rx.pcap</c> and <c>{name}-tx.pcap</c> (<c>eth1-rx.pcap</c>, <c>mem2-tx.pcap</c>).
/// </summary>
/// <remarks>
/// Receive records the burst the inner port produced; Send records the frames before handing them on (so a frame the
/// inner port then drops still shows in the tx file; compare with its counters). Thread safety: as the inner port;
/// the writers lock internally.
/// </remarks>
public sealed class CapturingPort : IPort
{
    private readonly IPort _inner;
    private readonly PcapWriter _rx;
    private readonly PcapWriter _tx;

    public CapturingPort(IPort inner, PcapWriter rx, PcapWriter tx)
    {
        _inner = inner;
        _rx = rx;
        _tx = tx;
    }

    /// <summary>
    /// Wraps <paramref name="inner"/> with files <see cref="FileName"/>(name, "rx"/"tx") in <paramref name="dir"/>
    /// (created if missing; existing files of the same name are replaced).
    /// </summary>
    public static CapturingPort Create(IPort inner, string dir)
    {
        Directory.CreateDirectory(dir);
        var rx = new PcapWriter(Path.Combine(dir, FileName(inner.Info.Name, "rx")));
        try
        {
            return new CapturingPort(inner, rx, new PcapWriter(Path.Combine(dir, FileName(inner.Info.Name, "tx"))));
        }
        catch
        {
            rx.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <c>{interface}-{direction}.pcap</c>; characters a file name should not carry (a path separator, spaces, control
    /// characters: Linux interface names may hold almost anything but '/') become '_'.
    /// </summary>
    public static string FileName(string interfaceName, string direction) => $"{SafeName(interfaceName)}-{direction}.pcap";

    /// <summary>An interface name made safe as a file name (see <see cref="FileName"/>).</summary>
    public static string SafeName(string interfaceName)
    {
        var name = string.Create(interfaceName.Length, interfaceName, static (span, src) =>
        {
            for (int i = 0; i < src.Length; i++)
            {
                char c = src[i];
                span[i] = char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or ':' ? c : '_';
            }
        });
        return name.Length == 0 || name[0] == '.' ? "_" + name : name;
    }

    public IPort Inner => _inner;
    public PcapWriter RxWriter => _rx;
    public PcapWriter TxWriter => _tx;
    public PortInfo Info => _inner.Info;
    public PortCounters Counters => _inner.Counters;
    public bool LinkUp => _inner.LinkUp;

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        int n = _inner.Receive(pool, pkts);
        if (n > 0) _rx.Write(pool, pkts[..n]);
        return n;
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        _tx.Write(pool, pkts);
        _inner.Send(pool, pkts);
    }

    public void Dispose()
    {
        _inner.Dispose();
        _rx.Dispose();
        _tx.Dispose();
    }

    public override string ToString() => _inner.ToString() ?? "port";
}
