using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tunnels;

/// <summary>What <see cref="UnderlayBinding.Classify"/> decided about one frame received on an underlay port.</summary>
public enum RxVerdict : byte
{
    /// <summary>Not for a tunnel endpoint: the frame continues through the pipeline unchanged.</summary>
    Pass,
    /// <summary>Stripped in place: the buffer now holds the inner Ethernet frame for the returned tunnel port.</summary>
    Decapsulated,
    /// <summary>An ARP request for a local endpoint, rewritten in place into the reply: send it back out of the underlay.</summary>
    ArpReply,
    /// <summary>Handled here (an ARP reply to a local endpoint): release the buffer.</summary>
    Consumed,
    /// <summary>Meant for a tunnel but unusable: counted under a <see cref="TunnelDropReason"/>; release the buffer.</summary>
    Dropped,
}

/// <summary>
/// The tunnel endpoints on one underlay port: decides for each received frame whether it is tunnel traffic
/// for a local endpoint (and for which tunnel port), ARP for a local endpoint, or ordinary traffic.
/// </summary>
/// <remarks>
/// Design: ordinary traffic pays a length check, the ethertype and, for IPv4, one compare of the destination
/// address with the local endpoint(s); only frames addressed to an endpoint are looked at further. A tunnel
/// packet is validated (IPv4 version/IHL/total length/header checksum, no fragment; VXLAN I flag and the UDP
/// checksum when non-zero; Geneve version 0, protocol 0x6558, options that exactly fill the option length, none
/// critical (C bit clear, no option type with its top bit set: <see cref="TunnelDropReason.CriticalOption"/>), the
/// UDP checksum when non-zero; GRE version 0 with only the C/K/S flags, protocol 0x6558, the checksum when present),
/// trimmed to the IPv4 total length and stripped in place (<see cref="PacketPool.Pull"/>). IP-in-IP gets a
/// synthesised Ethernet header in the bytes of the old one; Geneve options are skipped with the header. The tunnel is
/// found by (kind, local, remote, VNI or key and its presence, UDP port; a UDP port is one kind's, VXLAN or Geneve): an exact key wins over a <c>key=flow</c> tunnel; with more than
/// <see cref="DictionaryThreshold"/> tunnels the lookup is a hash table. IPv4 packets for an endpoint with other
/// protocols (a ping, say) and UDP to other ports pass into the pipeline. ARP requests for an endpoint are
/// answered in place; any ARP whose sender is a tunnel's next hop teaches that tunnel the MAC. The underlay is
/// untagged IPv4: 802.1Q-tagged frames, IPv6 and outer IPv4 options beyond the header checksum are ordinary traffic
/// or validated only as far as described here; fragments are not reassembled.
/// Immutable after construction (rebuilt by <see cref="TunnelRegistry"/> when tunnels change); thread-safe.
/// </remarks>
public sealed class UnderlayBinding
{
    public const int DictionaryThreshold = 8;

    private readonly uint _local0;
    private readonly uint[] _localIps;
    private readonly MacAddress[] _localMacs;
    private readonly ushort[] _udpPorts;
    private readonly TunnelKind[] _udpKinds;
    private readonly ushort _udpPort0;
    private readonly bool _gre, _ipip;
    private readonly TunnelPort[] _tunnels;
    private readonly Entry[] _entries;
    private readonly Dictionary<DemuxKey, TunnelPort>? _exact, _flow;
    private readonly TunnelDropCounters _drops;

    private readonly record struct DemuxKey(TunnelKind Kind, uint Local, uint Remote, uint Key, bool HasKey, ushort DstPort);

    private readonly struct Entry(TunnelPort t)
    {
        public readonly TunnelKind Kind = t.Config.Kind;
        public readonly uint Local = t.Config.LocalIp;
        public readonly uint Remote = t.Config.RemoteIp;
        public readonly uint Key = t.Config.HasKey ? t.Config.Key : 0;
        /// <summary>Whether received packets carry the key: always for VXLAN and Geneve, never for IP-in-IP, as configured for GRE.</summary>
        public readonly bool HasKey = t.Config.IsUdp || (t.Config.Kind == TunnelKind.Gre && t.Config.HasKey);
        public readonly bool FlowKey = t.Config.FlowKey;
        public readonly ushort DstPort = t.Config.IsUdp ? t.Config.DstPort : (ushort)0;
        public readonly TunnelPort Port = t;
    }

    /// <summary>Binds <paramref name="tunnels"/> (all over one underlay); receive drops that belong to no tunnel go to <paramref name="drops"/>.</summary>
    public UnderlayBinding(PortSlot? underlay, IReadOnlyList<TunnelPort> tunnels, TunnelDropCounters drops)
    {
        if (tunnels.Count == 0) throw new ArgumentException("no tunnels", nameof(tunnels));
        Slot = underlay;
        _drops = drops;
        _tunnels = [.. tunnels];
        _entries = new Entry[_tunnels.Length];
        var ips = new List<uint>();
        var macs = new List<MacAddress>();
        var ports = new List<ushort>();
        var kinds = new List<TunnelKind>();
        for (int i = 0; i < _tunnels.Length; i++)
        {
            var t = _tunnels[i];
            var c = t.Config;
            _entries[i] = new Entry(t);
            int at = ips.IndexOf(c.LocalIp);
            if (at < 0)
            {
                ips.Add(c.LocalIp);
                macs.Add(t.LocalMac);
            }
            else if (macs[at] != t.LocalMac)
            {
                throw new ArgumentException($"tunnels on one underlay give local {Ipv4.Format(c.LocalIp)} two MACs ({macs[at]}, {t.LocalMac})");
            }

            switch (c.Kind)
            {
                case TunnelKind.Vxlan or TunnelKind.Geneve:
                    int pi = ports.IndexOf(c.DstPort);
                    if (pi < 0)
                    {
                        ports.Add(c.DstPort);
                        kinds.Add(c.Kind);
                    }
                    else if (kinds[pi] != c.Kind)
                    {
                        throw new ArgumentException($"tunnels on one underlay use UDP port {c.DstPort} for both {kinds[pi]} and {c.Kind}");
                    }
                    break;
                case TunnelKind.Gre: _gre = true; break;
                default: _ipip = true; break;
            }
        }
        _localIps = [.. ips];
        _localMacs = [.. macs];
        _local0 = _localIps[0];
        _udpPorts = [.. ports];
        _udpKinds = [.. kinds];
        _udpPort0 = ports.Count > 0 ? ports[0] : (ushort)0;
        if (_tunnels.Length > DictionaryThreshold)
        {
            _exact = new Dictionary<DemuxKey, TunnelPort>();
            _flow = new Dictionary<DemuxKey, TunnelPort>();
            foreach (var e in _entries)
            {
                if (e.FlowKey) _flow.TryAdd(new DemuxKey(e.Kind, e.Local, e.Remote, 0, false, e.DstPort), e.Port);
                else _exact.TryAdd(new DemuxKey(e.Kind, e.Local, e.Remote, e.Key, e.HasKey, e.DstPort), e.Port);
            }
        }
    }

    /// <summary>The underlay port's slot (null for a binding built outside a datapath).</summary>
    public PortSlot? Slot { get; }
    public IReadOnlyList<TunnelPort> Tunnels => _tunnels;
    public ReadOnlySpan<uint> LocalIps => _localIps;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int LocalIndex(uint ip)
    {
        if (ip == _local0) return 0;
        var ips = _localIps;
        for (int i = 1; i < ips.Length; i++)
            if (ips[i] == ip) return i;
        return -1;
    }

    /// <summary>
    /// Classifies buffer <paramref name="p"/> (received on the underlay) and, for tunnel traffic, strips it in place.
    /// On <see cref="RxVerdict.Decapsulated"/>, <paramref name="tunnel"/> is the tunnel port and <paramref name="tunId"/>
    /// the VNI or GRE key (0 without one). Never allocates or throws, whatever the frame holds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RxVerdict Classify(PacketPool pool, int p, out TunnelPort? tunnel, out ulong tunId)
    {
        tunnel = null;
        tunId = 0;
        var f = pool.Frame(p);
        if ((uint)f.Length < (uint)TunnelArp.MinSize) return RxVerdict.Pass;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(f[12..]);
        if (type == PacketParser.EthTypeIpv4)
        {
            uint dst = BinaryPrimitives.ReadUInt32BigEndian(f[30..]);
            if (LocalIndex(dst) < 0) return RxVerdict.Pass;
            return ClassifyIpv4(pool, p, f, dst, out tunnel, out tunId);
        }
        if (type == PacketParser.EthTypeArp) return ClassifyArp(f);
        return RxVerdict.Pass;
    }

    private RxVerdict Drop(TunnelDropReason r)
    {
        _drops.Add(r);
        return RxVerdict.Dropped;
    }

    [SkipLocalsInit]
    private RxVerdict ClassifyIpv4(PacketPool pool, int p, Span<byte> f, uint dst, out TunnelPort? tunnel, out ulong tunId)
    {
        tunnel = null;
        tunId = 0;
        byte proto = f[23];
        switch (proto)
        {
            case TunnelHeader.ProtoUdp: if (_udpPorts.Length == 0) return RxVerdict.Pass; break;
            case TunnelHeader.ProtoGre: if (!_gre) return RxVerdict.Pass; break;
            case TunnelHeader.ProtoIpip: if (!_ipip) return RxVerdict.Pass; break;
            default: return RxVerdict.Pass;
        }
        // The caller checked f.Length >= 42, which covers the fixed IPv4 header (bytes 14..33).
        const int ip = TunnelHeader.EthSize;
        ref byte fr = ref MemoryMarshal.GetReference(f);
        int vihl = Unsafe.Add(ref fr, ip);
        int ihl = (vihl & 0x0F) << 2;
        int totalLen = BigEndian.Read16(ref fr, ip + 2);
        int frag = BigEndian.Read16(ref fr, ip + 6);
        bool versionOk = (vihl >> 4) == 4 && ihl >= TunnelHeader.Ipv4Size;
        int l4 = ip + ihl;
        int l4Len = totalLen - ihl;
        ushort dport = 0;
        var udpKind = TunnelKind.Vxlan;
        if (proto == TunnelHeader.ProtoUdp)
        {
            // UDP to other ports (and later fragments, which have no UDP header) is not ours.
            if (!versionOk || f.Length < l4 + TunnelHeader.UdpSize || (frag & 0x1FFF) != 0) return RxVerdict.Pass;
            dport = (ushort)BigEndian.Read16(ref fr, l4 + 2);
            int pi = dport == _udpPort0 ? 0 : Array.IndexOf(_udpPorts, dport);
            if (pi < 0) return RxVerdict.Pass;
            udpKind = _udpKinds[pi];
        }
        if (!versionOk || totalLen < ihl || totalLen > f.Length - ip) return Drop(TunnelDropReason.Malformed);
        if (!(ihl == TunnelHeader.Ipv4Size ? Ipv4HeaderValid(ref Unsafe.Add(ref fr, ip)) : Checksum.IsValid(f.Slice(ip, ihl))))
            return Drop(TunnelDropReason.BadChecksum);
        if ((frag & 0x3FFF) != 0) return Drop(TunnelDropReason.Fragment);

        uint remote = BigEndian.Read32(ref fr, ip + 12);
        pool.TunIp[p] = Registers.TunnelEndpointsOf(remote, dst); // tun_src, tun_dst: read as TunId is
        int end = ip + totalLen;    // Ethernet padding after the IPv4 packet is dropped
        TunnelPort? t;
        int strip;
        // Below, every read is below `end`, which is within the frame.
        switch (proto)
        {
            case TunnelHeader.ProtoUdp:
            {
                int udpLen = BigEndian.Read16(ref fr, l4 + 4);
                if (udpLen < TunnelHeader.UdpSize + TunnelHeader.VxlanSize + TunnelHeader.EthSize || udpLen > l4Len)
                    return Drop(TunnelDropReason.Malformed);
                int tnl = l4 + TunnelHeader.UdpSize;
                int hdr = TunnelHeader.VxlanSize;   // Geneve's base header is as long
                if (udpKind == TunnelKind.Vxlan)
                {
                    if ((Unsafe.Add(ref fr, tnl) & 0x08) == 0) return Drop(TunnelDropReason.Malformed);
                }
                else
                {
                    int g0 = Unsafe.Add(ref fr, tnl);
                    int optLen = (g0 & 0x3F) << 2;
                    hdr += optLen;
                    if ((g0 >> 6) != 0 || BigEndian.Read16(ref fr, tnl + 2) != TunnelHeader.EthTypeTeb
                        || udpLen < TunnelHeader.UdpSize + hdr + TunnelHeader.EthSize)
                    {
                        return Drop(TunnelDropReason.Malformed);
                    }
                    if ((Unsafe.Add(ref fr, tnl + 1) & GeneveFlagCritical) != 0) return Drop(TunnelDropReason.CriticalOption);
                    if (optLen != 0 && GeneveOptions(f.Slice(tnl + TunnelHeader.GeneveSize, optLen)) is { } bad) return Drop(bad);
                }
                if (BigEndian.Read16(ref fr, l4 + 6) != 0
                    && Checksum.Add(Checksum.PseudoHeaderSum(remote, dst, TunnelHeader.ProtoUdp, (ushort)udpLen), Checksum.Sum(f.Slice(l4, udpLen))) != 0xFFFF)
                {
                    return Drop(TunnelDropReason.BadChecksum);
                }

                uint vni = BigEndian.Read32(ref fr, tnl + 4) >> 8;
                t = Find(udpKind, dst, remote, vni, true, dport);
                if (t is null) return Drop(TunnelDropReason.UnknownKey);
                end = l4 + udpLen;
                strip = tnl + hdr;
                tunId = vni;
                break;
            }
            case TunnelHeader.ProtoGre:
            {
                if (l4Len < TunnelHeader.GreBaseSize) return Drop(TunnelDropReason.Malformed);
                int flags = BigEndian.Read16(ref fr, l4);
                const int known = TunnelHeader.GreFlagChecksum | TunnelHeader.GreFlagKey | TunnelHeader.GreFlagSeq;
                if ((flags & ~known) != 0 || BigEndian.Read16(ref fr, l4 + 2) != TunnelHeader.EthTypeTeb)
                    return Drop(TunnelDropReason.Malformed);
                int gh = TunnelHeader.GreBaseSize;
                if ((flags & TunnelHeader.GreFlagChecksum) != 0) gh += 4;
                int keyOff = l4 + gh;
                bool hasKey = (flags & TunnelHeader.GreFlagKey) != 0;
                if (hasKey) gh += 4;
                if ((flags & TunnelHeader.GreFlagSeq) != 0) gh += 4;
                if (l4Len < gh + TunnelHeader.EthSize) return Drop(TunnelDropReason.Malformed);
                if ((flags & TunnelHeader.GreFlagChecksum) != 0 && !Checksum.IsValid(f.Slice(l4, l4Len)))
                    return Drop(TunnelDropReason.BadChecksum);
                uint key = hasKey ? BigEndian.Read32(ref fr, keyOff) : 0;
                t = Find(TunnelKind.Gre, dst, remote, key, hasKey, 0);
                if (t is null) return Drop(TunnelDropReason.UnknownKey);
                strip = l4 + gh;
                tunId = key;
                break;
            }
            default:
            {
                if (l4Len < TunnelHeader.Ipv4Size || (Unsafe.Add(ref fr, l4) >> 4) != 4) return Drop(TunnelDropReason.Malformed);
                t = Find(TunnelKind.Ipip, dst, remote, 0, false, 0);
                if (t is null) return Drop(TunnelDropReason.UnknownKey);
                // The inner IPv4 header moves to offset 14; the synthesised Ethernet header reuses the outer header's bytes.
                strip = ihl;
                var e = f.Slice(strip, TunnelHeader.EthSize);
                t.InnerDestination.Write(e);
                t.InnerSource.Write(e[6..]);
                BinaryPrimitives.WriteUInt16BigEndian(e[12..], PacketParser.EthTypeIpv4);
                break;
            }
        }
        pool.Head[p] += (ushort)strip;
        pool.Length[p] = (ushort)(end - strip);
        tunnel = t;
        return RxVerdict.Decapsulated;
    }

    /// <summary>Geneve's C bit: the header carries at least one critical option.</summary>
    internal const byte GeneveFlagCritical = 0x40;

    /// <summary>
    /// Walks Geneve option TLVs (RFC 8926 3.5: class 16 bits, type 8 bits with the critical bit on top, 3 reserved
    /// bits and a length of 5 bits in 4-byte words, then the data): null when they exactly fill
    /// <paramref name="opts"/> and none is critical; otherwise why the packet is dropped (an option that runs past the
    /// option length is malformed). Each option is at least 4 bytes, so the walk ends within opts.Length / 4 steps.
    /// </summary>
    internal static TunnelDropReason? GeneveOptions(ReadOnlySpan<byte> opts)
    {
        int at = 0;
        while (at < opts.Length)
        {
            if (opts.Length - at < 4) return TunnelDropReason.Malformed;
            int size = 4 + ((opts[at + 3] & 0x1F) << 2);
            if (size > opts.Length - at) return TunnelDropReason.Malformed;
            if ((opts[at + 2] & 0x80) != 0) return TunnelDropReason.CriticalOption;
            at += size;
        }
        return null;
    }

    /// <summary>A 20-byte IPv4 header sums to 0xffff (its checksum is right). The one's-complement sum of the words in
    /// either byte order is all ones exactly when it is in the other, so native-order reads need no swapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Ipv4HeaderValid(ref byte h)
    {
        ulong s = (ulong)Unsafe.ReadUnaligned<uint>(ref h) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref h, 4))
                  + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref h, 8)) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref h, 12))
                  + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref h, 16));
        return Checksum.Fold(s) == 0xFFFF;
    }

    private TunnelPort? Find(TunnelKind kind, uint local, uint remote, uint key, bool hasKey, ushort dport)
    {
        if (_exact is not null)
        {
            if (_exact.TryGetValue(new DemuxKey(kind, local, remote, key, hasKey, dport), out var x)) return x;
            return _flow!.TryGetValue(new DemuxKey(kind, local, remote, 0, false, dport), out var fl) ? fl : null;
        }
        TunnelPort? flow = null;
        var entries = _entries;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly Entry e = ref entries[i];
            if (e.Kind != kind || e.Local != local || e.Remote != remote || e.DstPort != dport) continue;
            if (e.FlowKey)
            {
                flow ??= e.Port;
                continue;
            }
            if (e.HasKey == hasKey && e.Key == key) return e.Port;
        }
        return flow;
    }

    private RxVerdict ClassifyArp(Span<byte> f)
    {
        if (!TunnelArp.IsEthernetIpv4(f)) return RxVerdict.Pass;
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(f[20..]);
        var sha = MacAddress.Read(f[22..]);
        uint spa = BinaryPrimitives.ReadUInt32BigEndian(f[28..]);
        uint tpa = BinaryPrimitives.ReadUInt32BigEndian(f[38..]);
        if (spa != 0 && !sha.IsMulticast && sha.Value != 0)
        {
            foreach (var t in _tunnels)
                if (t.Config.NextHopIp == spa) t.LearnNextHop(sha);
        }
        int li = LocalIndex(tpa);
        if (li < 0) return RxVerdict.Pass;
        if (op == 1)
        {
            TunnelArp.RewriteAsReply(f, _localMacs[li], tpa);
            return RxVerdict.ArpReply;
        }
        return op == 2 ? RxVerdict.Consumed : RxVerdict.Pass;
    }
}
