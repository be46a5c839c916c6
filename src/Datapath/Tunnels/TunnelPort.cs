using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tunnels;

/// <summary>
/// A tunnel as an OpenFlow port: frames output to it leave through its underlay port wrapped in
/// VXLAN, Geneve, GRE (gretap) or IP-in-IP; frames the underlay receives for its endpoint come in through it.
/// </summary>
/// <remarks>
/// The immutable <see cref="TunnelHeader"/> template is republished with a volatile write whenever the next hop's MAC
/// changes, and read lock-free. A forwarder encapsulates through <see cref="Encapsulate"/> into its own pool and the
/// underlay's transmit queue; <see cref="Send(PacketPool, ReadOnlySpan{int}, ulong)"/> serves callers outside a
/// forwarder. Receive always returns 0: decapsulation runs on the underlay's poll thread
/// (<see cref="UnderlayBinding"/>). Until the next hop resolves, up to <see cref="HoldCapacity"/> frames are held.
/// Send, the hold queue, ARP and learning serialise on one lock, a leaf but for the underlay's transmit lock
/// (docs/locking.md).
/// Design: docs/datapath.md, "Tunnel ports".
/// </remarks>
public sealed partial class TunnelPort : IEncapsulatingPort
{
    /// <summary>Frames of a tunnel arrive through its underlay port, never here.</summary>
    public int WaitFd => PortWait.NeverReceives;

    public const int HoldCapacity = 16;
    public const long ArpRetryNanos = 1_000_000_000;

    private readonly Lock _lock = new();
    private readonly PacketPool _own;
    private readonly int[] _hold = new int[HoldCapacity];
    private readonly int[] _out = new int[Burst.Size];
    private readonly IClock _clock;
    private int _holdCount;
    private long _lastArpRequest;
    private bool _arpEverSent;
    private volatile TunnelHeader _header;
    private volatile PortSlot? _underlaySlot;
    private volatile bool _detached;
    private long _arpRequestsSent, _nextHopChanges;

    public TunnelPort(TunnelConfig config, IPort underlay, IClock? clock = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(underlay);
        if (underlay is TunnelPort) throw new ArgumentException("a tunnel cannot run over another tunnel port", nameof(underlay));
        Config = config;
        Underlay = underlay;
        _clock = clock ?? MonotonicClock.Instance;
        var ul = underlay.Info;
        LocalMac = config.LocalMac ?? ul.HwAddr;
        InnerSource = config.InnerSource;
        InnerDestination = config.InnerDestination;
        Info = new PortInfo(config.Name, config.PortMac, Mtu: Math.Max(0, ul.Mtu - TunnelHeader.InnerOverhead(config)));
        _header = TunnelHeader.Build(config, LocalMac, config.RemoteMac ?? default, config.RemoteMac is not null, ul.Mtu);
        // Buffers for the largest outer frame the underlay carries (its MTU, the Ethernet header, a VLAN tag), so the
        // MTU decides what is too big, not the buffer.
        _own = new PacketPool(Burst.Size + HoldCapacity + 2, Math.Max(PacketPool.DefaultDataSize, ul.Mtu + 14 + 4) + PacketPool.Headroom);
    }

    public TunnelConfig Config { get; }
    public PortInfo Info { get; }
    public PortCounters Counters { get; } = new();
    /// <summary>Drops charged to this tunnel (encapsulation failures, unresolved next hop).</summary>
    public TunnelDropCounters Drops { get; } = new();
    /// <summary>The port the encapsulated packets go out of and come in on.</summary>
    public IPort Underlay { get; }
    /// <summary>The outer source MAC (local_mac, or the underlay's MAC).</summary>
    public MacAddress LocalMac { get; }
    /// <summary>IP-in-IP: Ethernet addresses synthesised for decapsulated packets.</summary>
    public MacAddress InnerSource { get; }
    public MacAddress InnerDestination { get; }
    /// <summary>The current outer header template.</summary>
    public TunnelHeader Header => _header;
    /// <summary>This port's slot in the datapath, once registered through <see cref="TunnelRegistry"/>.</summary>
    public PortSlot? Slot { get; internal set; }
    /// <summary>The underlay's slot (set at registration; null when unregistered or the underlay was removed).</summary>
    public PortSlot? UnderlaySlot => _underlaySlot;

    /// <summary>The next hop's MAC, when configured or resolved.</summary>
    public MacAddress? NextHopMac
    {
        get
        {
            var h = _header;
            return h.NextHopKnown ? MacAddress.Read(h.Bytes) : null;
        }
    }

    public long ArpRequestsSent => Interlocked.Read(ref _arpRequestsSent);
    /// <summary>Times the next hop's MAC was learned or changed.</summary>
    public long NextHopChanges => Interlocked.Read(ref _nextHopChanges);
    /// <summary>Frames waiting for the next hop's MAC.</summary>
    public int HeldCount
    {
        get { lock (_lock) return _holdCount; }
    }

    /// <summary>Up when the underlay is (the datapath's cached state for a registered underlay).</summary>
    public bool LinkUp
    {
        get
        {
            if (_detached) return false;
            var s = _underlaySlot;
            return s is not null ? s.LinkUp : Underlay.LinkUp;
        }
    }

    internal void Attach(PortSlot underlaySlot)
    {
        _underlaySlot = underlaySlot;
        _detached = false;
    }

    internal void Detach()
    {
        _underlaySlot = null;
        _detached = true;
    }

    internal bool IsDetached => _detached;

    /// <summary>Tunnel ports never produce packets themselves: the underlay's poll thread decapsulates.</summary>
    public int Receive(PacketPool pool, Span<int> pkts) => 0;

    /// <summary>Encapsulates and sends with the configured VNI/key (see <see cref="Send(PacketPool, ReadOnlySpan{int}, ulong)"/>).</summary>
    public void Send(PacketPool pool, ReadOnlySpan<int> pkts) => Send(pool, pkts, 0);

    /// <summary>
    /// Encapsulates <paramref name="pkts"/> (buffers of <paramref name="pool"/>, left untouched) with VNI/key
    /// <paramref name="tunnelId"/> (0: the configured one) and sends them through the underlay's Send. Thread-safe;
    /// allocation-free; the frames are copied before it returns.
    /// </summary>
    public void Send(PacketPool pool, ReadOnlySpan<int> pkts, ulong tunnelId)
    {
        if (pkts.IsEmpty) return;
        if (_detached)
        {
            Drop(TunnelDropReason.NoUnderlay, pkts.Length);
            return;
        }
        lock (_lock)
        {
            var h = _header;
            uint key = tunnelId != 0 ? (uint)tunnelId : h.DefaultKey;
            int i = 0;
            while (i < pkts.Length)
            {
                int k = 0;
                long bytes = 0;
                for (; i < pkts.Length && k < _out.Length; i++)
                {
                    int p = pkts[i];
                    int b = _own.Alloc();
                    if (b < 0)
                    {
                        Drop(TunnelDropReason.PoolExhausted);
                        continue;
                    }
                    var st = h.Encapsulate(pool.Frame(p), _own, b, key);
                    if (st != EncapStatus.Ok)
                    {
                        _own.Release(b);
                        Drop(TunnelDropCounters.FromEncap(st));
                        continue;
                    }
                    if (!h.NextHopKnown)
                    {
                        HoldOwnLocked(b);
                        continue;
                    }
                    bytes += pool.Length[p];
                    _out[k++] = b;
                }
                if (k > 0)
                {
                    var sent = _out.AsSpan(0, k);
                    Underlay.Send(_own, sent);
                    _own.Release(sent);
                    CountTx(k, bytes);
                }
            }
            if (!h.NextHopKnown) MaybeRequestLocked();
        }
    }

    /// <summary>Adds transmitted packets and their inner bytes (atomically).</summary>
    public void CountTx(long packets, long bytes)
    {
        Counters.AddTx(packets, bytes);
    }

    internal void CountRx(long packets, long bytes)
    {
        Counters.AddRx(packets, bytes);
    }

    /// <summary>A transmit drop: the named counter and the port's tx_dropped.</summary>
    private long _fragNeededSent;

    /// <summary>ICMP "fragmentation needed" answers sent for IPv4 packets with DF too big for this tunnel.</summary>
    public long FragmentationNeededSent => Interlocked.Read(ref _fragNeededSent);

    internal void CountFragmentationNeeded() => Interlocked.Increment(ref _fragNeededSent);

    internal void Drop(TunnelDropReason reason, long n = 1)
    {
        Drops.Add(reason, n);
        Counters.AddTxDropped(n);
    }

    /// <summary>
    /// Holds an encapsulated frame built while the next hop was unknown (the forwarding path); sends it at once if
    /// the MAC was learned meanwhile. Sends an ARP request when one is due.
    /// </summary>
    internal void Hold(ReadOnlySpan<byte> frame, long innerBytes)
    {
        lock (_lock)
        {
            int b = _own.Alloc();
            if (b < 0 || !_own.Write(b, frame))
            {
                if (b >= 0) _own.Release(b);
                Drop(TunnelDropReason.Unresolved);
                return;
            }
            var h = _header;
            if (h.NextHopKnown)
            {
                h.WriteDestination(_own.Frame(b));
                Underlay.Send(_own, new ReadOnlySpan<int>(in b));
                _own.Release(b);
                CountTx(1, innerBytes);
                return;
            }
            HoldOwnLocked(b);
            MaybeRequestLocked();
        }
    }

    private void HoldOwnLocked(int b)
    {
        if (_holdCount == _hold.Length)
        {
            _own.Release(b);
            Drop(TunnelDropReason.Unresolved);
            return;
        }
        _hold[_holdCount++] = b;
    }

    private void MaybeRequestLocked()
    {
        long now = _clock.NowNanos;
        if (_arpEverSent && now - _lastArpRequest < ArpRetryNanos) return;
        SendArpRequestLocked(now);
    }

    /// <summary>Sends an ARP request for the next hop now (unless its MAC is configured).</summary>
    public void RequestNextHop()
    {
        if (Config.RemoteMac is not null || _detached) return;
        lock (_lock) SendArpRequestLocked(_clock.NowNanos);
    }

    private void SendArpRequestLocked(long now)
    {
        _lastArpRequest = now;
        _arpEverSent = true;
        int b = _own.Alloc();
        if (b < 0) return;
        _own.Length[b] = TunnelArp.FrameSize;
        TunnelArp.WriteRequest(_own.Frame(b), LocalMac, Config.LocalIp, Config.NextHopIp);
        Underlay.Send(_own, new ReadOnlySpan<int>(in b));
        _own.Release(b);
        Interlocked.Increment(ref _arpRequestsSent);
    }

    /// <summary>An ARP from the next hop said its MAC is <paramref name="mac"/>: use it, and release held frames.</summary>
    internal void LearnNextHop(MacAddress mac)
    {
        if (Config.RemoteMac is not null) return;
        var cur = _header;
        if (cur.NextHopKnown && MacAddress.Read(cur.Bytes) == mac) return;
        lock (_lock)
        {
            cur = _header;
            if (!(cur.NextHopKnown && MacAddress.Read(cur.Bytes) == mac))
            {
                _header = cur.WithDestination(mac, true);
                Interlocked.Increment(ref _nextHopChanges);
            }
            FlushHoldLocked();
        }
    }

    private void FlushHoldLocked()
    {
        if (_holdCount == 0) return;
        var h = _header;
        var held = _hold.AsSpan(0, _holdCount);
        long bytes = 0;
        foreach (int b in held)
        {
            var f = _own.Frame(b);
            h.WriteDestination(f);
            bytes += InnerLength(f);
        }
        if (_detached)
        {
            Drop(TunnelDropReason.NoUnderlay, held.Length);
        }
        else
        {
            Underlay.Send(_own, held);
            CountTx(held.Length, bytes);
        }
        _own.Release(held);
        _holdCount = 0;
    }

    /// <summary>The inner frame's length inside an encapsulated frame this port built (for the tx byte counter).</summary>
    private int InnerLength(ReadOnlySpan<byte> f)
    {
        int ipLen = BinaryPrimitives.ReadUInt16BigEndian(f[TunnelHeader.IpTotalLenOff..]);
        int inner = TunnelHeader.EthSize + ipLen - _header.Size;
        return Config.Kind == TunnelKind.Ipip ? inner + TunnelHeader.EthSize : inner;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _own.Release(_hold.AsSpan(0, _holdCount));
            _holdCount = 0;
        }
    }

    public override string ToString() => $"tunnel:{Config.Name}";
}

/// <summary>ARP frames for tunnel endpoints (Ethernet/IPv4 ARP, RFC 826).</summary>
/// <remarks>
/// <code>
///  0  Ethernet dst, src, type 0x0806
///  14 htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op (1 request, 2 reply)
///  22 sender MAC | 28 sender IPv4 | 32 target MAC | 38 target IPv4 | 42 (padding to 60)
/// </code>
/// </remarks>
public static class TunnelArp
{
    public const int FrameSize = 60;
    public const int MinSize = 42;

    /// <summary>Writes a broadcast ARP request "who has <paramref name="tpa"/>, tell <paramref name="spa"/>" (60 bytes).</summary>
    public static void WriteRequest(Span<byte> f, MacAddress sha, uint spa, uint tpa)
    {
        f = f[..FrameSize];
        f.Clear();
        MacAddress.Broadcast.Write(f);
        sha.Write(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], PacketParser.EthTypeArp);
        BinaryPrimitives.WriteUInt16BigEndian(f[14..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(f[16..], PacketParser.EthTypeIpv4);
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f[20..], 1);
        sha.Write(f[22..]);
        BinaryPrimitives.WriteUInt32BigEndian(f[28..], spa);
        BinaryPrimitives.WriteUInt32BigEndian(f[38..], tpa);
    }

    /// <summary>True for an Ethernet/IPv4 ARP header (the caller checked the ethertype and a length of 42).</summary>
    public static bool IsEthernetIpv4(ReadOnlySpan<byte> f)
        => BinaryPrimitives.ReadUInt16BigEndian(f[14..]) == 1 && BinaryPrimitives.ReadUInt16BigEndian(f[16..]) == PacketParser.EthTypeIpv4
           && f[18] == 6 && f[19] == 4;

    /// <summary>Turns a request in place into the reply "<paramref name="ip"/> is at <paramref name="mac"/>", addressed to the requester.</summary>
    public static void RewriteAsReply(Span<byte> f, MacAddress mac, uint ip)
    {
        f[22..28].CopyTo(f);            // Ethernet dst = requester
        mac.Write(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[20..], 2);
        f[22..32].CopyTo(f[32..]);      // target MAC + IPv4 = the requester's
        mac.Write(f[22..]);
        BinaryPrimitives.WriteUInt32BigEndian(f[28..], ip);
    }
}
