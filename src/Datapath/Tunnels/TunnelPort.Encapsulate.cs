using System.Buffers.Binary;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tunnels;

/// <summary>The forwarding path's way out of a tunnel port: encapsulation on the forwarding thread.</summary>
/// <remarks>
/// An output to the port is encapsulated when it is queued, not when the queue is flushed, because that is when the
/// flow's set_tunnel id (<see cref="OutputContext.TunnelId"/>) is known. The frame is copied behind the header template
/// into a fresh buffer of the forwarder's pool (the original may be shared with other outputs or rewritten by later
/// actions) and the copy is queued on the underlay port, so the underlay gets one Send per burst. Tx counts are summed
/// by the forwarder per run of packets to one port (<see cref="OutputContext.CountTx"/>). The id is the flow's
/// set_tunnel id, else the tunnel's configured one: a decapsulated packet's tun_id is not carried over when it is
/// output to another tunnel. Uses the forwarder only through its <see cref="OutputContext"/>.
/// </remarks>
public sealed partial class TunnelPort
{
    /// <summary>At most this many "fragmentation needed" answers per tunnel per 100 ms (RFC 1812 4.3.2.8 rate limiting).</summary>
    internal const int MaxFragNeededPer100Ms = 100;

    private long _icmpWindowStart;
    private int _icmpInWindow;

    /// <summary>
    /// Encapsulates packet <paramref name="p"/> with the context's set_tunnel id and queues it on the underlay (the
    /// caller keeps its reference to <paramref name="p"/>).
    /// </summary>
    public void Encapsulate(in OutputContext context, int p)
    {
        var pool = context.Pool;
        var ul = UnderlaySlot;
        if (ul is null)
        {
            // Detached (underlay removed), or a tunnel added with AddPort directly: its own Send path.
            if (IsDetached) Drop(TunnelDropReason.NoUnderlay);
            else Send(pool, new ReadOnlySpan<int>(in p), context.TunnelId);
            return;
        }
        var h = Header;
        ulong id = context.TunnelId;
        uint key = id != 0 ? (uint)id : h.DefaultKey;
        int b = pool.Alloc();
        if (b < 0)
        {
            Drop(TunnelDropReason.PoolExhausted);
            return;
        }
        int innerLen = pool.Length[p];
        var st = h.Encapsulate(pool.Frame(p), pool, b, key);
        if (st != EncapStatus.Ok)
        {
            pool.Release(b);
            Drop(TunnelDropCounters.FromEncap(st));
            if (st == EncapStatus.TooBig) FragmentationNeeded(context, h, p);
            return;
        }
        if (!h.NextHopKnown)
        {
            Hold(pool.Frame(b), innerLen);
            pool.Release(b);
            return;
        }
        context.Send(ul, b);
        pool.Release(b);
        context.CountTx(innerLen);
    }

    /// <summary>
    /// Answers an IPv4 packet with DF set that does not fit the tunnel with ICMP destination unreachable, fragmentation
    /// needed (RFC 1191), carrying the largest inner IPv4 length the tunnel takes, so the sender's path MTU discovery
    /// shrinks its packets instead of losing them. Like a bridged Linux vxlan device, the switch answers in the name
    /// of the packet's destination (its IP and MAC as the source): it has no address of its own on that segment. The
    /// answer leaves by the port the packet came in on. Not for fragments, ICMP errors, or multicast/broadcast/zero
    /// sources; rate-limited.
    /// </summary>
    private void FragmentationNeeded(in OutputContext context, TunnelHeader h, int p)
    {
        var pool = context.Pool;
        var inner = pool.Frame(p);
        int ip = TunnelHeader.InnerIpv4Offset(inner);
        if (ip < 0) return;
        var iph = inner[ip..];
        int ihl = (iph[0] & 0x0F) * 4;
        if ((iph[0] >> 4) != 4 || ihl < 20 || iph.Length < ihl + 8) return;
        int frag = (iph[6] << 8) | iph[7];
        if ((frag & 0x4000) == 0 || (frag & 0x3FFF) != 0) return;   // DF set, not a fragment
        uint src = BinaryPrimitives.ReadUInt32BigEndian(iph[12..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(iph[16..]);
        if (src == 0 || src == 0xFFFFFFFF || (src >> 28) == 0xE || (dst >> 28) == 0xE || dst == 0xFFFFFFFF) return;
        if (iph[9] == 1 && iph[ihl] is 3 or 4 or 5 or 11 or 12) return;       // never answer an ICMP error
        if ((inner[0] & 1) != 0) return;                                       // sent to a multicast/broadcast MAC

        ushort inPort = pool.InPort[p];
        var slot = context.Port(inPort);
        if (slot is null || slot.Encapsulating is not null) return;
        if (!TakeFragNeededToken(context.NowNanos)) return;

        // The largest inner IPv4 packet that fits: the underlay's IPv4 limit, minus the outer headers after the
        // outer IPv4 header's start, minus the inner Ethernet header for the L2 tunnels.
        int mtu = h.MaxIpLength - (h.Size - TunnelHeader.EthSize) - (h.Kind == TunnelKind.Ipip ? 0 : ip);
        if (mtu < 68) return;
        int origLen = Math.Min(iph.Length, (iph[2] << 8) | iph[3]);
        int quote = Math.Min(origLen, 576 - 20 - 8);
        int len = ip + 20 + 8 + quote;
        int b = pool.Alloc();
        if (b < 0) return;
        var f = pool.Tail(b);
        if (f.Length < len)
        {
            pool.Release(b);
            return;
        }
        f = f[..len];
        inner[6..12].CopyTo(f);                 // to the sender's MAC
        inner[..6].CopyTo(f[6..]);              // from the MAC it sent to
        inner[12..ip].CopyTo(f[12..]);          // same VLAN tag, if any, and EtherType IPv4
        var o = f[ip..];
        o[0] = 0x45; o[1] = 0xC0;               // internetwork control
        BinaryPrimitives.WriteUInt16BigEndian(o[2..], (ushort)(20 + 8 + quote));
        BinaryPrimitives.WriteUInt16BigEndian(o[4..], 0); BinaryPrimitives.WriteUInt16BigEndian(o[6..], 0);
        o[8] = 64; o[9] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(o[10..], 0);
        iph.Slice(16, 4).CopyTo(o[12..]);       // from the packet's destination
        iph.Slice(12, 4).CopyTo(o[16..]);       // to its source
        BinaryPrimitives.WriteUInt16BigEndian(o[10..], (ushort)~Packets.Checksum.Sum(o[..20]));
        var icmp = o[20..];
        icmp[0] = 3; icmp[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0); BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
        iph[..quote].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~Packets.Checksum.Sum(icmp[..(8 + quote)]));
        pool.Length[b] = (ushort)len;
        pool.InPort[b] = inPort;
        CountFragmentationNeeded();
        context.Send(slot, b);
        pool.Release(b);
    }

    /// <summary>One answer of this 100 ms window's <see cref="MaxFragNeededPer100Ms"/>, shared by every forwarder (a rare path: the port's lock).</summary>
    private bool TakeFragNeededToken(long now)
    {
        lock (_lock)
        {
            if (now - _icmpWindowStart > 100_000_000)
            {
                _icmpWindowStart = now;
                _icmpInWindow = 0;
            }
            if (_icmpInWindow >= MaxFragNeededPer100Ms) return false;
            _icmpInWindow++;
            return true;
        }
    }
}
