using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Tunnels;

/// <summary>
/// A forwarder's tunnel transmit and receive steps (one per <see cref="Forwarder"/>, owned by its thread).
/// </summary>
/// <remarks>
/// Design:
/// <list type="bullet">
/// <item>Transmit: an output to a <see cref="TunnelPort"/> is encapsulated when it is queued, not when the queue is
/// flushed, because that is when the flow's set_tunnel id (<see cref="Forwarder.TunnelId"/>) is known. The frame is
/// copied behind the tunnel's header template into a fresh buffer of the forwarder's pool (the original may be
/// shared with other outputs or rewritten by later actions) and the copy is queued on the underlay port's transmit
/// queue, so the underlay gets one Send per burst. Tunnel tx counters are accumulated per run of packets to one
/// tunnel and added atomically when the forwarder flushes. The id is the flow's set_tunnel id, else the tunnel's
/// configured one: a decapsulated packet's tun_id is not carried over when it is output to another tunnel.</item>
/// <item>Receive: a burst from an underlay port is classified packet by packet (<see cref="UnderlayBinding"/>);
/// tunnel packets are stripped in place and set aside, ARP requests for a local endpoint are answered in place
/// through the underlay's transmit queue, and everything else stays in the burst, compacted. The decapsulated
/// packets then run through the pipeline as sub-bursts, one per tunnel port, with that port as in_port and
/// their VNI/key as tun_id; the forwarder continues with the rest.</item>
/// </list>
/// No locks or allocation, except a tunnel's hold queue while its next hop is unresolved.
/// </remarks>
internal sealed class TunnelPath
{
    private readonly Forwarder _f;
    private readonly TunnelRegistry _registry;
    private readonly int[] _decPkts = new int[Burst.Size];
    private readonly TunnelPort?[] _decPort = new TunnelPort?[Burst.Size];
    private readonly ulong[] _decIds = new ulong[Burst.Size];
    private readonly int[] _subPkts = new int[Burst.Size];
    private readonly ulong[] _subIds = new ulong[Burst.Size];
    private TunnelPort? _txPort;
    private long _txPackets, _txBytes;

    public TunnelPath(Forwarder f, TunnelRegistry registry)
    {
        _f = f;
        _registry = registry;
    }

    /// <summary>The underlay binding of <paramref name="slot"/>, or null for ports that carry no tunnel (the common case).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public UnderlayBinding? UnderlayOf(PortSlot slot) => _registry.UnderlayOf(slot.Index);

    /// <summary>
    /// Splits a burst received on an underlay: decapsulates and forwards tunnel packets (as sub-bursts on their tunnel
    /// ports), answers ARP for the endpoints, and returns the remaining packets (compacted at the front of <paramref name="pkts"/>).
    /// </summary>
    public Span<int> Receive(UnderlayBinding b, PortSlot slot, Span<int> pkts)
    {
        var pool = _f.Pool;
        int keep = 0, dec = 0;
        // Usually a burst's tunnel packets all belong to one tunnel: per-packet ports are recorded only once a second
        // tunnel shows up (reference stores cost a GC write barrier each).
        TunnelPort? first = null;
        bool mixed = false;
        for (int i = 0; i < pkts.Length; i++)
        {
            int p = pkts[i];
            switch (b.Classify(pool, p, out var t, out ulong id))
            {
                case RxVerdict.Pass:
                    pkts[keep++] = p;
                    break;
                case RxVerdict.Decapsulated:
                    if (first is null)
                    {
                        first = t;
                    }
                    else if (mixed)
                    {
                        _decPort[dec] = t;
                    }
                    else if (!ReferenceEquals(t, first))
                    {
                        mixed = true;
                        _decPort.AsSpan(0, dec).Fill(first);
                        _decPort[dec] = t;
                    }
                    _decPkts[dec] = p;
                    _decIds[dec] = id;
                    dec++;
                    break;
                case RxVerdict.ArpReply:
                    _f.Output.StageTxSlot(slot, p, false, ActionExecutor.NoQueue);
                    pool.Release(p);
                    break;
                default:
                    pool.Release(p);
                    break;
            }
        }
        if (dec > 0)
        {
            if (mixed) Deliver(dec);
            else DeliverOne(first!, dec);
        }
        return pkts[..keep];
    }

    /// <summary>The decapsulated packets [0, dec) all came through <paramref name="t"/>: one sub-burst, no partitioning.</summary>
    private void DeliverOne(TunnelPort t, int dec)
    {
        var pool = _f.Pool;
        var sub = _decPkts.AsSpan(0, dec);
        var ts = t.Slot;
        if (ts is null)
        {
            _registry.ReceiveDrops.Add(TunnelDropReason.NoPort, dec);
            pool.Release(sub);
            return;
        }
        long bytes = 0;
        foreach (int p in sub) bytes += pool.Length[p];
        t.CountRx(dec, bytes);
        _f.Process(ts, sub, _decIds.AsSpan(0, dec));
    }

    /// <summary>The decapsulated packets [0, dec) came through several tunnels (<c>_decPort</c>): one sub-burst per tunnel.</summary>
    private void Deliver(int dec)
    {
        var pool = _f.Pool;
        while (dec > 0)
        {
            var t = _decPort[0]!;
            int m = 0, rest = 0;
            long bytes = 0;
            for (int i = 0; i < dec; i++)
            {
                int p = _decPkts[i];
                if (ReferenceEquals(_decPort[i], t))
                {
                    _subPkts[m] = p;
                    _subIds[m] = _decIds[i];
                    bytes += pool.Length[p];
                    m++;
                }
                else
                {
                    _decPkts[rest] = p;
                    _decPort[rest] = _decPort[i];
                    _decIds[rest] = _decIds[i];
                    rest++;
                }
            }
            for (int i = rest; i < dec; i++) _decPort[i] = null;
            dec = rest;
            var sub = _subPkts.AsSpan(0, m);
            var ts = t.Slot;
            if (ts is null)
            {
                _registry.ReceiveDrops.Add(TunnelDropReason.NoPort, m);
                pool.Release(sub);
                continue;
            }
            t.CountRx(m, bytes);
            _f.Process(ts, sub, _subIds.AsSpan(0, m));
        }
    }

    /// <summary>Encapsulates packet <paramref name="p"/> for tunnel <paramref name="t"/> with the current set_tunnel id
    /// and queues it on the underlay (the caller keeps its reference to <paramref name="p"/>).</summary>
    public void Output(TunnelPort t, int p)
    {
        var pool = _f.Pool;
        var ul = t.UnderlaySlot;
        if (ul is null)
        {
            // Detached (underlay removed), or a tunnel added with AddPort directly: its own Send path.
            if (t.IsDetached) t.Drop(TunnelDropReason.NoUnderlay);
            else t.Send(pool, new ReadOnlySpan<int>(in p), _f.TunnelId);
            return;
        }
        var h = t.Header;
        ulong id = _f.TunnelId;
        uint key = id != 0 ? (uint)id : h.DefaultKey;
        int b = pool.Alloc();
        if (b < 0)
        {
            t.Drop(TunnelDropReason.PoolExhausted);
            return;
        }
        int innerLen = pool.Length[p];
        var st = h.Encapsulate(pool.Frame(p), pool, b, key);
        if (st != EncapStatus.Ok)
        {
            pool.Release(b);
            t.Drop(TunnelDropCounters.FromEncap(st));
            if (st == EncapStatus.TooBig) FragmentationNeeded(t, h, p);
            return;
        }
        if (!h.NextHopKnown)
        {
            t.Hold(pool.Frame(b), innerLen);
            pool.Release(b);
            return;
        }
        _f.Output.StageTxSlot(ul, b, false, ActionExecutor.NoQueue);
        pool.Release(b);
        if (!ReferenceEquals(t, _txPort))
        {
            FlushCounters();
            _txPort = t;
        }
        _txPackets++;
        _txBytes += innerLen;
    }

    private long _icmpWindowStart;
    private int _icmpInWindow;
    /// <summary>At most this many "fragmentation needed" answers per forwarder per 100 ms (RFC 1812 4.3.2.8 rate limiting).</summary>
    internal const int MaxFragNeededPer100Ms = 100;

    /// <summary>
    /// Answers an IPv4 packet with DF set that does not fit the tunnel with ICMP destination unreachable, fragmentation
    /// needed (RFC 1191), carrying the largest inner IPv4 length the tunnel takes, so the sender's path MTU discovery
    /// shrinks its packets instead of losing them. Like a bridged Linux vxlan device, the switch answers in the name
    /// of the packet's destination (its IP and MAC as the source): it has no address of its own on that segment. The
    /// answer leaves by the port the packet came in on. Not for fragments, ICMP errors, or multicast/broadcast/zero
    /// sources; rate-limited.
    /// </summary>
    private void FragmentationNeeded(TunnelPort t, TunnelHeader h, int p)
    {
        var pool = _f.Pool;
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
        var slot = inPort <= PortNumber.Highest ? _f.Owner.Ports.Get(inPort) : null;
        if (slot is null || slot.Port is TunnelPort) return;
        long now = _f.Owner.Clock.NowNanos;
        if (now - _icmpWindowStart > 100_000_000)
        {
            _icmpWindowStart = now;
            _icmpInWindow = 0;
        }
        if (_icmpInWindow >= MaxFragNeededPer100Ms) return;

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
        BinaryPrimitives.WriteUInt16BigEndian(o[10..], (ushort)~Actions.Checksum.Sum(o[..20]));
        var icmp = o[20..];
        icmp[0] = 3; icmp[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0); BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
        iph[..quote].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~Actions.Checksum.Sum(icmp[..(8 + quote)]));
        pool.Length[b] = (ushort)len;
        pool.InPort[b] = inPort;
        _icmpInWindow++;
        t.CountFragmentationNeeded();
        _f.Output.StageTxSlot(slot, b, false, ActionExecutor.NoQueue);
        pool.Release(b);
    }

    /// <summary>Adds the accumulated tunnel tx counts (called when the forwarder flushes its transmit queues).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FlushCounters()
    {
        if (_txPort is not null) FlushCountersSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FlushCountersSlow()
    {
        _txPort!.CountTx(_txPackets, _txBytes);
        _txPort = null;
        _txPackets = 0;
        _txBytes = 0;
    }
}
