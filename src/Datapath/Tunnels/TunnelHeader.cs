using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Tunnels;

/// <summary>Outcome of <see cref="TunnelHeader.Encapsulate"/>.</summary>
public enum EncapStatus : byte
{
    Ok,
    /// <summary>The outer IPv4 packet would exceed the underlay MTU.</summary>
    TooBig,
    /// <summary>IP-in-IP: the inner frame does not carry IPv4 (or is cut short).</summary>
    NotIpv4,
    /// <summary>Shorter than an Ethernet header.</summary>
    Runt,
}

/// <summary>
/// A tunnel's prebuilt outer header and the per-packet encapsulation that copies it in front of a frame.
/// </summary>
/// <remarks>
/// Design (ovs lib/netdev-native-tnl.c): the whole outer header is built once per (config, next hop) with the
/// IPv4 total length, the IPv4 checksum, the UDP source port and length, and the VNI/key left to patch.
/// <see cref="IpPartialSum"/> is the one's-complement sum of the IPv4 header with total length and checksum zero,
/// so the checksum of each packet is <c>~(IpPartialSum +' total length)</c> (one addition, no loop). DF is set unless
/// the config clears it (<c>df_default=false</c>), the IPv4 id is 0 (RFC 6864: atomic datagrams). The VXLAN and Geneve
/// UDP checksum is 0 (allowed over IPv4 by RFC 7348 and RFC 8926) unless the config asks for one (Open vSwitch's
/// <c>csum=true</c>): then it is summed over the whole datagram per packet, the one per-byte cost of encapsulation.
/// GRE carries no checksum. Geneve is sent without options (option length 0, O and C clear).
/// <code>
///  VXLAN (50 bytes)                           GRE (38, or 42 with key)           IP-in-IP (34 bytes)
///  0  Ethernet dst, src, type 0x0800          0  Ethernet                        0  Ethernet
///  14 IPv4 (proto 17), DF, ttl, tos           14 IPv4 (proto 47)                 14 IPv4 (proto 4)
///  34 UDP src=hash dst=4789 len csum=0        34 flags 0x2000 (K) | ver 0        34 inner IPv4 packet (inner
///  42 flags 0x08 (I) | 24 reserved bits       36 protocol 0x6558 (TEB)              Ethernet header removed)
///  46 VNI (24 bits) | 8 reserved bits         38 key (when K)
///  50 inner Ethernet frame                    38/42 inner Ethernet frame
///
///  Geneve (50 bytes)
///  0  Ethernet, 14 IPv4 (proto 17)
///  34 UDP src=hash dst=6081 len csum=0
///  42 ver 0 (2 bits) | option length 0 (6 bits, 4-byte words) | O, C and 6 reserved bits | protocol 0x6558 (TEB)
///  46 VNI (24 bits) | 8 reserved bits
///  50 inner Ethernet frame
/// </code>
/// Immutable: a new next-hop MAC means a new template (published by <see cref="TunnelPort"/>). Thread-safe.
/// </remarks>
public sealed class TunnelHeader
{
    public const int EthSize = 14, Ipv4Size = 20, UdpSize = 8, VxlanSize = 8, GeneveSize = 8, GreBaseSize = 4, GreKeySize = 4;
    public const int VxlanHeaderSize = EthSize + Ipv4Size + UdpSize + VxlanSize;
    public const int GeneveHeaderSize = EthSize + Ipv4Size + UdpSize + GeneveSize;
    public const ushort GreFlagChecksum = 0x8000, GreFlagRouting = 0x4000, GreFlagKey = 0x2000, GreFlagSeq = 0x1000;
    public const ushort EthTypeTeb = 0x6558;
    public const byte ProtoIpip = 4, ProtoGre = 47, ProtoUdp = 17;
    public const ushort SourcePortMin = 49152;

    // Offsets in the outer frame.
    internal const int IpOff = EthSize, IpTotalLenOff = IpOff + 2, IpCsumOff = IpOff + 10;
    internal const int L4Off = EthSize + Ipv4Size, UdpSrcOff = L4Off, UdpLenOff = L4Off + 4, UdpCsumOff = L4Off + 6, VniOff = L4Off + UdpSize + 4;
    internal const int GreKeyOff = L4Off + GreBaseSize;

    private readonly byte[] _bytes;

    public TunnelKind Kind { get; }
    /// <summary>Outer header length (Ethernet included).</summary>
    public int Size { get; }
    /// <summary>One's-complement sum of the IPv4 header with total length and checksum zero.</summary>
    public ushort IpPartialSum { get; }
    /// <summary>Largest outer IPv4 total length (the underlay MTU).</summary>
    public int MaxIpLength { get; }
    /// <summary>Whether the outer destination MAC is known (configured or resolved); frames built with an
    /// unresolved template are held until it is.</summary>
    public bool NextHopKnown { get; }
    /// <summary>Whether the header has a VNI/key field to patch.</summary>
    public bool HasKeyField { get; }
    /// <summary>The id used when the flow set none (the configured vni/key; 0 for vni=flow).</summary>
    public uint DefaultKey { get; }
    /// <summary>Whether each packet gets an outer UDP checksum (csum=true); otherwise it stays 0.</summary>
    public bool UdpChecksum { get; }

    /// <summary>The header bytes as built (total length, checksum, source port and VNI/key at their template values).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    private TunnelHeader(TunnelKind kind, byte[] bytes, ushort partial, int maxIp, bool known, bool hasKey, uint defaultKey, bool udpChecksum)
    {
        UdpChecksum = udpChecksum;
        Kind = kind;
        _bytes = bytes;
        Size = bytes.Length;
        IpPartialSum = partial;
        MaxIpLength = maxIp;
        NextHopKnown = known;
        HasKeyField = hasKey;
        DefaultKey = defaultKey;
    }

    /// <summary>Outer header size for a config.</summary>
    public static int SizeOf(TunnelConfig cfg) => cfg.Kind switch
    {
        TunnelKind.Vxlan => VxlanHeaderSize,
        TunnelKind.Geneve => GeneveHeaderSize,
        TunnelKind.Gre => EthSize + Ipv4Size + GreBaseSize + (cfg.HasKey || cfg.FlowKey ? GreKeySize : 0),
        _ => EthSize + Ipv4Size,
    };

    /// <summary>Bytes the tunnel adds to an inner IPv4 packet: the tunnel port's MTU is the underlay's minus this.</summary>
    public static int InnerOverhead(TunnelConfig cfg) => SizeOf(cfg) - EthSize + (cfg.Kind == TunnelKind.Ipip ? 0 : EthSize);

    /// <summary>Builds the template for <paramref name="cfg"/> with outer MACs <paramref name="src"/> → <paramref name="dst"/>.</summary>
    public static TunnelHeader Build(TunnelConfig cfg, MacAddress src, MacAddress dst, bool nextHopKnown, int underlayMtu)
    {
        int size = SizeOf(cfg);
        var h = new byte[size];
        dst.Write(h);
        src.Write(h.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(12), PacketParser.EthTypeIpv4);
        var ip = h.AsSpan(IpOff, Ipv4Size);
        ip[0] = 0x45;
        ip[1] = cfg.Tos;
        // total length (2) and id (4) stay 0
        if (cfg.DontFragment) BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = cfg.Ttl;
        ip[9] = cfg.Kind switch { TunnelKind.Vxlan or TunnelKind.Geneve => ProtoUdp, TunnelKind.Gre => ProtoGre, _ => ProtoIpip };
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], cfg.LocalIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], cfg.RemoteIp);
        ushort partial = Checksum.Sum(ip);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~partial);
        bool hasKey = false;
        switch (cfg.Kind)
        {
            case TunnelKind.Vxlan:
                // source port and length patched per packet; checksum 0
                BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(L4Off + 2), cfg.DstPort);
                h[L4Off + UdpSize] = 0x08; // I flag
                BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(VniOff), cfg.Key << 8);
                hasKey = true;
                break;
            case TunnelKind.Geneve:
                // ver 0, no options, O and C clear; source port, length and checksum patched per packet
                BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(L4Off + 2), cfg.DstPort);
                BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(L4Off + UdpSize + 2), EthTypeTeb);
                BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(VniOff), cfg.Key << 8);
                hasKey = true;
                break;
            case TunnelKind.Gre:
                hasKey = cfg.HasKey || cfg.FlowKey;
                BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(L4Off), hasKey ? GreFlagKey : (ushort)0);
                BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(L4Off + 2), EthTypeTeb);
                if (hasKey) BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(GreKeyOff), cfg.Key);
                break;
        }
        return new TunnelHeader(cfg.Kind, h, partial, underlayMtu, nextHopKnown, hasKey, cfg.FlowKey ? 0 : cfg.Key, cfg.IsUdp && cfg.UdpChecksum);
    }

    /// <summary>This template with another outer destination MAC.</summary>
    public TunnelHeader WithDestination(MacAddress dst, bool known)
    {
        var h = (byte[])_bytes.Clone();
        dst.Write(h);
        return new TunnelHeader(Kind, h, IpPartialSum, MaxIpLength, known, HasKeyField, DefaultKey, UdpChecksum);
    }

    /// <summary>Writes this template's outer destination MAC into <paramref name="frame"/> (a frame built by a tunnel).</summary>
    internal void WriteDestination(Span<byte> frame) => _bytes.AsSpan(0, 6).CopyTo(frame);

    /// <summary>
    /// Writes the encapsulation of <paramref name="inner"/> into buffer <paramref name="p"/> of <paramref name="pool"/>
    /// (its previous contents are replaced; the inner payload lands at the pool's headroom boundary, so the header
    /// occupies the headroom as a push would). <paramref name="key"/> is the VNI/GRE key (ignored without a key field).
    /// Never allocates or throws.
    /// </summary>
    [SkipLocalsInit]
    public EncapStatus Encapsulate(ReadOnlySpan<byte> inner, PacketPool pool, int p, uint key)
    {
        int strip = 0;
        if (Kind == TunnelKind.Ipip)
        {
            strip = InnerIpv4Offset(inner);
            if (strip < 0) return EncapStatus.NotIpv4;
        }
        else if ((uint)inner.Length < EthSize)
        {
            return EncapStatus.Runt;
        }

        int payload = inner.Length - strip;
        int size = _bytes.Length;
        int ipLen = size - EthSize + payload;
        if (ipLen > MaxIpLength || payload > pool.SlotSizeOf(p) - PacketPool.Headroom) return EncapStatus.TooBig;

        int head = PacketPool.Headroom - size;
        pool.Head[p] = (ushort)head;
        pool.Length[p] = (ushort)(size + payload);
        var f = new Span<byte>(pool.Slab, pool.SlotOffset(p) + head, size + payload);
        _bytes.CopyTo(f);
        inner[strip..].CopyTo(f[size..]);

        ref byte b = ref MemoryMarshal.GetReference(f);
        BigEndian.Write16(ref b, IpTotalLenOff, (ushort)ipLen);
        BigEndian.Write16(ref b, IpCsumOff, (ushort)~Checksum.Add(IpPartialSum, (ushort)ipLen));
        switch (Kind)
        {
            case TunnelKind.Vxlan:
            case TunnelKind.Geneve:
                BigEndian.Write16(ref b, UdpSrcOff, SourcePort(inner));
                BigEndian.Write16(ref b, UdpLenOff, (ushort)(ipLen - Ipv4Size));
                BigEndian.Write32(ref b, VniOff, key << 8);
                if (UdpChecksum) WriteUdpChecksum(f, ipLen - Ipv4Size);
                break;
            case TunnelKind.Gre:
                if (HasKeyField) BigEndian.Write32(ref b, GreKeyOff, key);
                break;
        }
        return EncapStatus.Ok;
    }

    /// <summary>The outer UDP checksum of a frame this template built (the field is 0 when called): pseudo-header and
    /// the whole datagram; a sum of 0 is sent as 0xffff (RFC 768).</summary>
    private static void WriteUdpChecksum(Span<byte> f, int udpLen)
    {
        uint src = BinaryPrimitives.ReadUInt32BigEndian(f[(IpOff + 12)..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(f[(IpOff + 16)..]);
        ushort sum = Checksum.Add(Checksum.PseudoHeaderSum(src, dst, ProtoUdp, (ushort)udpLen), Checksum.Sum(f.Slice(L4Off, udpLen)));
        ushort c = (ushort)~sum;
        BinaryPrimitives.WriteUInt16BigEndian(f[UdpCsumOff..], c == 0 ? (ushort)0xFFFF : c);
    }

    /// <summary>Where the IPv4 header starts in an inner Ethernet frame (14, or 18 behind one 802.1Q tag); -1 when not IPv4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int InnerIpv4Offset(ReadOnlySpan<byte> inner)
    {
        if ((uint)inner.Length < EthSize + Ipv4Size) return -1;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(inner[12..]);
        if (type == PacketParser.EthTypeIpv4) return (inner[14] >> 4) == 4 ? EthSize : -1;
        if (type == PacketParser.EthTypeVlan && (uint)inner.Length >= EthSize + 4 + Ipv4Size
            && BinaryPrimitives.ReadUInt16BigEndian(inner[16..]) == PacketParser.EthTypeIpv4 && (inner[18] >> 4) == 4)
        {
            return EthSize + 4;
        }

        return -1;
    }

    /// <summary>
    /// The VXLAN and Geneve UDP source port for an inner frame: the top 14 bits of <see cref="FlowHash"/> in 49152..65535
    /// (RFC 7348 §5). Packets of one flow get one port, so the underlay's ECMP keeps them in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SourcePort(ReadOnlySpan<byte> inner) => (ushort)(SourcePortMin | (FlowHash(inner) >> 18));

    /// <summary>CRC32-C over the Ethernet addresses and type and, for untagged IPv4, the addresses, protocol and the first
    /// four L4 bytes (the ports; not for non-first fragments). 0 for frames shorter than an Ethernet header.</summary>
    public static uint FlowHash(ReadOnlySpan<byte> inner)
    {
        if ((uint)inner.Length < EthSize) return 0;
        ref byte b = ref MemoryMarshal.GetReference(inner);
        uint h = BitOperations.Crc32C(0x9E3779B9u, Unsafe.ReadUnaligned<ulong>(ref b));
        h = BitOperations.Crc32C(h, Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref b, 8)));
        ushort typeRaw = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref b, 12));
        h = BitOperations.Crc32C(h, typeRaw);
        // 0x0800 read in native order: 08 00 on the wire.
        if (typeRaw == (BitConverter.IsLittleEndian ? (ushort)0x0008 : (ushort)0x0800) && (uint)inner.Length >= EthSize + Ipv4Size)
        {
            int ihl = (Unsafe.Add(ref b, EthSize) & 0x0F) << 2;
            h = BitOperations.Crc32C(h, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, EthSize + 12)));
            h = BitOperations.Crc32C(h, Unsafe.Add(ref b, EthSize + 9));
            bool firstFragment = (Unsafe.Add(ref b, EthSize + 6) & 0x1F) == 0 && Unsafe.Add(ref b, EthSize + 7) == 0;
            if (ihl >= Ipv4Size && firstFragment && (uint)inner.Length >= (uint)(EthSize + ihl + 4))
                h = BitOperations.Crc32C(h, Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref b, EthSize + ihl)));
        }
        return h;
    }
}
