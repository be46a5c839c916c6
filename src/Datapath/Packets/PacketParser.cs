using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Packets;

/// <summary>What the parser found in a frame, as offsets from the frame's first byte (0xFFFF = absent).</summary>
/// <remarks>
/// Actions that change the frame's length (push/pop VLAN, MPLS, PBB) keep these offsets right for the actions after
/// them. <see cref="EthType"/> is the offset of the ethertype field that introduces what follows the L2 headers (the
/// MPLS stack or the network header): after the first tag (a second tag's TPID for QinQ, whose inner tag and payload
/// are not parsed), and for a PBB frame the customer frame's.
/// </remarks>
public struct PacketLayers
{
    public const ushort Absent = 0xFFFF;
    /// <summary>Offset of the outer VLAN tag (its 0x8100 or 0x88a8 TPID), or Absent.</summary>
    public ushort Vlan;
    /// <summary>Offset of the 802.1ah I-tag's TPID (0x88e7), or Absent.</summary>
    public ushort Pbb;
    /// <summary>Offset of the ethertype field before the MPLS stack or the network header (see remarks).</summary>
    public ushort EthType;
    /// <summary>Offset of the top MPLS label stack entry, or Absent.</summary>
    public ushort Mpls;
    /// <summary>Offset of the network header (IPv4, IPv6 or ARP), or Absent.</summary>
    public ushort L3;
    /// <summary>Offset of the TCP/UDP/SCTP/ICMP/ICMPv6 header, or Absent (also for non-first fragments).</summary>
    public ushort L4;
    public LayerFlags Flags;
    /// <summary>Labels in the MPLS stack (0 without MPLS).</summary>
    public byte MplsDepth;

    public readonly bool Has(LayerFlags f) => (Flags & f) != 0;
}

[Flags]
public enum LayerFlags : ushort
{
    None = 0,
    Ipv4 = 1,
    Arp = 2,
    Tcp = 4,
    Udp = 8,
    Icmp = 16,
    /// <summary>IPv4 or IPv6 fragment (IPv4: MF set or offset non-zero; IPv6: a fragment header).</summary>
    Fragment = 32,
    /// <summary>A fragment other than the first (offset non-zero): carries no L4 header (the key's <see cref="FlowKey.IsLaterFragment"/>).</summary>
    LaterFragment = 64,
    Ipv6 = 128,
    Icmpv6 = 256,
    Sctp = 512,
    /// <summary>The frame carries an MPLS label stack (ethertype 0x8847 or 0x8848).</summary>
    Mpls = 1024,
    /// <summary>The frame carries an 802.1ah I-tag.</summary>
    Pbb = 2048,
    /// <summary>The outer VLAN tag is an 802.1ad S-tag (0x88a8).</summary>
    ServiceTag = 4096,
}

/// <summary>Why a frame was not fully parsed; each value is a named counter in <see cref="ParseCounters"/>.</summary>
public enum ParseError : byte
{
    None = 0,
    /// <summary>Shorter than an Ethernet header (14 bytes).</summary>
    Runt,
    /// <summary>802.1Q TPID present but the tag (or the type after it) is cut off.</summary>
    VlanTruncated,
    /// <summary>802.3 length field with an LLC/SNAP header that is cut off.</summary>
    LlcTruncated,
    /// <summary>IPv4 header shorter than 20 bytes or than its IHL says.</summary>
    IpTruncated,
    /// <summary>IPv4 version is not 4 or IHL &lt; 5.</summary>
    IpBadHeader,
    /// <summary>IPv4 total length smaller than the header or larger than the frame.</summary>
    IpBadLength,
    /// <summary>ARP header cut off, or not Ethernet/IPv4 ARP.</summary>
    ArpTruncated,
    /// <summary>TCP/UDP/SCTP/ICMP header cut off by the frame or by the IPv4 total length or IPv6 payload length.</summary>
    L4Truncated,
    /// <summary>802.1ad S-tag (0x88a8) present but the tag (or the type after it) is cut off.</summary>
    ServiceTagTruncated,
    /// <summary>802.1ah I-tag (0x88e7) shorter than its 16 bytes plus the customer frame's ethertype.</summary>
    PbbTruncated,
    /// <summary>MPLS label stack cut off before its bottom-of-stack entry (or before the first one).</summary>
    MplsTruncated,
    /// <summary>IPv6 header shorter than 40 bytes.</summary>
    Ipv6Truncated,
    /// <summary>IPv6 version is not 6.</summary>
    Ipv6BadHeader,
    /// <summary>IPv6 payload length larger than the frame.</summary>
    Ipv6BadLength,
    /// <summary>IPv6 extension header cut off by the frame or the payload length.</summary>
    Ipv6ExtTruncated,
    /// <summary>ICMPv6 header (type, code, checksum) cut off.</summary>
    Icmpv6Truncated,
    /// <summary>Neighbour solicitation or advertisement shorter than its 24 bytes (the target cut off).</summary>
    NdTruncated,
    /// <summary>Neighbour discovery option with length 0, running past the message, or a repeated link-layer address.</summary>
    NdBadOption,
    Count,
}

/// <summary>
/// Parses every OpenFlow 1.3 OXM basic field of an Ethernet frame into a <see cref="FlowKey"/>, without allocating or
/// throwing.
/// </summary>
/// <remarks>
/// One unsigned length check per header; a frame is parsed as far as it is valid and the first problem is returned as
/// a <see cref="ParseError"/> (the caller counts it). Fields of layers that could not be parsed stay zero. One VLAN tag
/// is matched (a second one's TPID becomes dl_type); MPLS and PBB payloads are not parsed. IPv4 writes no extension
/// word. Stateless and thread-safe. Design, protocol by protocol: docs/datapath.md, "Parser".
/// </remarks>
public static class PacketParser
{
    public const ushort EthTypeIpv4 = 0x0800, EthTypeArp = 0x0806, EthTypeVlan = 0x8100, EthTypeServiceVlan = 0x88A8;
    public const ushort EthTypeIpv6 = 0x86DD, EthTypeMpls = 0x8847, EthTypeMplsMulticast = 0x8848, EthTypePbb = 0x88E7;
    public const ushort DlTypeNotEthType = 0x05FF;
    public const ushort VlanNone = 0xFFFF;
    public const byte ProtoIcmp = 1, ProtoTcp = 6, ProtoUdp = 17, ProtoSctp = 132, ProtoIcmpv6 = 58;
    /// <summary>IPv6 next-header values of the extension headers OpenFlow 1.3 names.</summary>
    public const byte NextHop = 0, NextRouting = 43, NextFragment = 44, NextEsp = 50, NextAuth = 51, NextNone = 59, NextDest = 60;
    /// <summary>ICMPv6 neighbour solicitation and advertisement.</summary>
    public const byte NdSolicit = 135, NdAdvert = 136;
    /// <summary>Labels counted in an MPLS stack; a deeper stack is walked no further (its depth reads as this).</summary>
    public const int MaxMplsDepth = 255;

    /// <summary>OpenFlow 1.3's ofp_ipv6exthdr_flags (OXM ipv6_exthdr).</summary>
    public const ushort IehNoNext = 1, IehEsp = 2, IehAuth = 4, IehDest = 8, IehFrag = 16, IehRouter = 32, IehHop = 64,
        IehUnrep = 128, IehUnseq = 256;

    /// <summary>
    /// Parses <paramref name="frame"/> received on <paramref name="inPort"/> into <paramref name="key"/>
    /// and <paramref name="layers"/>. <paramref name="tunId"/> is the tunnel id of a decapsulated packet (0 otherwise).
    /// </summary>
    [SkipLocalsInit]
    public static ParseError Parse(ReadOnlySpan<byte> frame, ushort inPort, out FlowKey key, out PacketLayers layers, ulong tunId = 0)
    {
        Unsafe.SkipInit(out key);
        ref FlowKey k = ref key;
        k = default;
        Span<byte> kb = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<FlowKey>(ref k));
        layers.Vlan = PacketLayers.Absent;
        layers.Pbb = PacketLayers.Absent;
        layers.EthType = 12;
        layers.Mpls = PacketLayers.Absent;
        layers.L3 = PacketLayers.Absent;
        layers.L4 = PacketLayers.Absent;
        layers.Flags = LayerFlags.None;
        layers.MplsDepth = 0;

        BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.InPortOffset..], inPort);
        if (tunId != 0) BinaryPrimitives.WriteUInt64BigEndian(kb[FlowKey.TunIdOffset..], tunId);

        if ((uint)frame.Length < 14u) return ParseError.Runt;
        frame.Slice(0, 6).CopyTo(kb.Slice(FlowKey.DlDstOffset, 6));
        frame.Slice(6, 6).CopyTo(kb.Slice(FlowKey.DlSrcOffset, 6));

        int off = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        if (type == EthTypeVlan || type == EthTypeServiceVlan)
        {
            if ((uint)frame.Length < 18u)
            {
                // The tag is not parsed, so dl_type stays the TPID (as in the OF1.0 reference switch and OVS).
                BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], type);
                return type == EthTypeVlan ? ParseError.VlanTruncated : ParseError.ServiceTagTruncated;
            }
            layers.Vlan = 12;
            if (type == EthTypeServiceVlan) layers.Flags = LayerFlags.ServiceTag;
            ushort tci = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
            BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlVlanOffset..], (ushort)(FlowKey.VlanPresent | (tci & 0x0FFF)));
            kb[FlowKey.DlVlanPcpOffset] = (byte)(tci >> 13);
            off = 16;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
            layers.EthType = 16;
            if (type == EthTypeVlan || type == EthTypeServiceVlan)
            {
                // An inner tag (QinQ) is payload: dl_type is its TPID and nothing after it is parsed.
                BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], type);
                return ParseError.None;
            }
        }
        off += 2;

        if (type < 0x0600)
        {
            // 802.3 length field: LLC, maybe SNAP (aa aa 03, OUI 00 00 00, type).
            if ((uint)frame.Length < (uint)(off + 3))
            {
                BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], DlTypeNotEthType);
                return ParseError.LlcTruncated;
            }
            if (frame[off] == 0xAA && frame[off + 1] == 0xAA && frame[off + 2] == 0x03)
            {
                if ((uint)frame.Length < (uint)(off + 8))
                {
                    BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], DlTypeNotEthType);
                    return ParseError.LlcTruncated;
                }
                if (frame[off + 3] == 0 && frame[off + 4] == 0 && frame[off + 5] == 0)
                {
                    type = BinaryPrimitives.ReadUInt16BigEndian(frame[(off + 6)..]);
                    off += 8;
                }
                else
                {
                    type = DlTypeNotEthType;
                }
            }
            else
            {
                type = DlTypeNotEthType;
            }

            if (type < 0x0600) type = DlTypeNotEthType;
            BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], type);
            if (type == DlTypeNotEthType) return ParseError.None;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], type);
        }

        if (type == EthTypeIpv4) return ParseIpv4(frame, off, kb, ref layers);
        return ParseOther(frame, off, type, kb, ref layers);
    }

    private static ParseError ParseIpv4(ReadOnlySpan<byte> frame, int off, Span<byte> kb, ref PacketLayers layers)
    {
        if ((uint)frame.Length < (uint)(off + 20)) return ParseError.IpTruncated;
        var ip = frame[off..];
        int version = ip[0] >> 4, ihl = (ip[0] & 0x0F) * 4;
        if (version != 4 || ihl < 20) return ParseError.IpBadHeader;
        if ((uint)ip.Length < (uint)ihl) return ParseError.IpTruncated;

        layers.L3 = (ushort)off;
        layers.Flags |= LayerFlags.Ipv4;
        byte tos = ip[1];
        kb[FlowKey.NwTosOffset] = (byte)(tos & 0xFC);
        kb[FlowKey.IpEcnOffset] = (byte)(tos & 0x03);
        byte proto = ip[9];
        kb[FlowKey.NwProtoOffset] = proto;
        ip.Slice(12, 4).CopyTo(kb.Slice(FlowKey.NwSrcOffset, 4));
        ip.Slice(16, 4).CopyTo(kb.Slice(FlowKey.NwDstOffset, 4));

        int totalLen = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (totalLen < ihl || totalLen > ip.Length) return ParseError.IpBadLength;

        ushort frag = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        if ((frag & 0x3FFF) != 0)
        {
            layers.Flags |= LayerFlags.Fragment;
            kb[FlowKey.NwFragOffset] = FlowKey.NwFragAny;
            if ((frag & 0x1FFF) != 0)
            {
                layers.Flags |= LayerFlags.LaterFragment;
                kb[FlowKey.NwFragOffset] = FlowKey.NwFragAny | FlowKey.NwFragLater;
                return ParseError.None;
            }
        }

        int l4 = off + ihl;
        int l4Len = totalLen - ihl;
        switch (proto)
        {
            case ProtoTcp:
                if ((uint)l4Len < 20u) return ParseError.L4Truncated;
                layers.Flags |= LayerFlags.Tcp;
                break;
            case ProtoUdp:
                if ((uint)l4Len < 8u) return ParseError.L4Truncated;
                layers.Flags |= LayerFlags.Udp;
                break;
            case ProtoIcmp:
                if ((uint)l4Len < 4u) return ParseError.L4Truncated;
                layers.Flags |= LayerFlags.Icmp;
                layers.L4 = (ushort)l4;
                if ((layers.Flags & LayerFlags.Fragment) != 0) return ParseError.None;
                kb[FlowKey.TpSrcOffset + 1] = frame[l4];
                kb[FlowKey.TpDstOffset + 1] = frame[l4 + 1];
                return ParseError.None;
            case ProtoSctp:
                // The SCTP common header: ports, verification tag, checksum.
                if ((uint)l4Len < 12u) return ParseError.L4Truncated;
                layers.Flags |= LayerFlags.Sctp;
                break;
            default:
                return ParseError.None;
        }
        layers.L4 = (ushort)l4;
        // OFPC_FRAG_NORMAL: every fragment, the first one too, has tp_src = tp_dst = 0 (as the reference switch
        // and OVS), so all fragments of one datagram take the same flow. The first fragment keeps its L4 layer
        // for the actions (its L4 checksum covers the pseudo-header).
        if ((layers.Flags & LayerFlags.Fragment) == 0) frame.Slice(l4, 4).CopyTo(kb.Slice(FlowKey.TpSrcOffset, 4));
        return ParseError.None;
    }

    /// <summary>Everything but IPv4: these write extension words, so each sets the extension map at its end.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ParseError ParseOther(ReadOnlySpan<byte> frame, int off, ushort type, Span<byte> kb, ref PacketLayers layers)
    {
        ParseError e;
        switch (type)
        {
            case EthTypeArp: e = ParseArp(frame, off, kb, ref layers); break;
            case EthTypeIpv6: e = ParseIpv6(frame, off, kb, ref layers); break;
            case EthTypeMpls:
            case EthTypeMplsMulticast: e = ParseMpls(frame, off, kb, ref layers); break;
            case EthTypePbb: e = ParsePbb(frame, off, kb, ref layers); break;
            default: return ParseError.None;
        }
        SetExtMap(kb);
        return e;
    }

    /// <summary>Bit i of the key's extension map for extension word 6 + i that is non-zero (see <see cref="FlowKey.ExtMap"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetExtMap(Span<byte> kb)
    {
        var w = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(kb);
        uint map = 0;
        for (int i = 0; i < FlowKey.Words - FlowKey.BaseWords; i++)
            if (w[FlowKey.BaseWords + i] != 0) map |= 1u << i;
        BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.ExtMapOffset..], (ushort)map);
    }

    private static ParseError ParseArp(ReadOnlySpan<byte> frame, int off, Span<byte> kb, ref PacketLayers layers)
    {
        // htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4) = 28 bytes
        if ((uint)frame.Length < (uint)(off + 28)) return ParseError.ArpTruncated;
        var arp = frame[off..];
        if (BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EthTypeIpv4
            || arp[4] != 6 || arp[5] != 4)
        {
            return ParseError.ArpTruncated;
        }

        layers.L3 = (ushort)off;
        layers.Flags |= LayerFlags.Arp;
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        if (op <= 0xFF) kb[FlowKey.NwProtoOffset] = (byte)op;
        arp.Slice(8, 6).CopyTo(kb.Slice(FlowKey.ArpShaOffset, 6));
        arp.Slice(14, 4).CopyTo(kb.Slice(FlowKey.NwSrcOffset, 4));
        arp.Slice(18, 6).CopyTo(kb.Slice(FlowKey.ArpThaOffset, 6));
        arp.Slice(24, 4).CopyTo(kb.Slice(FlowKey.NwDstOffset, 4));
        return ParseError.None;
    }

    /// <summary>The I-tag: TPID (before <paramref name="off"/>), I-TCI (PCP, DEI, UCA, reserved, 24-bit I-SID), C-DA, C-SA.</summary>
    private static ParseError ParsePbb(ReadOnlySpan<byte> frame, int off, Span<byte> kb, ref PacketLayers layers)
    {
        // The whole tag and the customer frame's type field, or nothing of the tag (the actions rely on both).
        if ((uint)frame.Length < (uint)(off + 18)) return ParseError.PbbTruncated;
        layers.Pbb = (ushort)(off - 2);
        layers.EthType = (ushort)(off + 16);
        layers.Flags |= LayerFlags.Pbb;
        BinaryPrimitives.WriteUInt32BigEndian(kb[FlowKey.PbbIsidOffset..], BinaryPrimitives.ReadUInt32BigEndian(frame[off..]) & 0x00FF_FFFF);
        return ParseError.None;
    }

    private static ParseError ParseMpls(ReadOnlySpan<byte> frame, int off, Span<byte> kb, ref PacketLayers layers)
    {
        if ((uint)frame.Length < (uint)(off + 4)) return ParseError.MplsTruncated;
        // Label (20 bits), TC (3), bottom of stack (1), TTL (8).
        uint lse = BinaryPrimitives.ReadUInt32BigEndian(frame[off..]);
        BinaryPrimitives.WriteUInt32BigEndian(kb[FlowKey.MplsLabelOffset..], lse >> 12);
        kb[FlowKey.MplsTcOffset] = (byte)((lse >> 9) & 7);
        kb[FlowKey.MplsBosOffset] = (byte)((lse >> 8) & 1);
        layers.Mpls = (ushort)off;
        layers.Flags |= LayerFlags.Mpls;
        int depth = 1, p = off;
        while ((lse & 0x100) == 0 && depth < MaxMplsDepth)
        {
            p += 4;
            if ((uint)frame.Length < (uint)(p + 4))
            {
                layers.MplsDepth = (byte)depth;
                return ParseError.MplsTruncated;
            }
            lse = BinaryPrimitives.ReadUInt32BigEndian(frame[p..]);
            depth++;
        }
        layers.MplsDepth = (byte)depth;
        return ParseError.None;
    }

    private static ParseError ParseIpv6(ReadOnlySpan<byte> frame, int off, Span<byte> kb, ref PacketLayers layers)
    {
        if ((uint)frame.Length < (uint)(off + 40)) return ParseError.Ipv6Truncated;
        uint vcf = BinaryPrimitives.ReadUInt32BigEndian(frame[off..]);
        if ((vcf >> 28) != 6) return ParseError.Ipv6BadHeader;

        layers.L3 = (ushort)off;
        layers.Flags |= LayerFlags.Ipv6;
        byte tc = (byte)(vcf >> 20);
        kb[FlowKey.NwTosOffset] = (byte)(tc & 0xFC);
        kb[FlowKey.IpEcnOffset] = (byte)(tc & 0x03);
        BinaryPrimitives.WriteUInt32BigEndian(kb[FlowKey.Ipv6FlabelOffset..], vcf & 0x000F_FFFF);
        // Source and destination are adjacent in the header and in the key.
        frame.Slice(off + 8, 32).CopyTo(kb.Slice(FlowKey.Ipv6SrcOffset, 32));
        byte next = frame[off + 6];
        kb[FlowKey.NwProtoOffset] = next;

        int end = off + 40 + BinaryPrimitives.ReadUInt16BigEndian(frame[(off + 4)..]);
        if (end > frame.Length) return ParseError.Ipv6BadLength;

        // The extension header walk. Each header is at least 8 bytes, so the walk is bounded by the payload.
        ParseError err = ParseError.None;
        int p = off + 40;
        uint eh = 0;
        int maxRank = 0, dests = 0;
        for (;;)
        {
            if (next == NextNone) { eh |= IehNoNext; goto Done; }
            int rank;
            uint bit;
            switch (next)
            {
                case NextHop: bit = IehHop; rank = 1; break;
                case NextRouting: bit = IehRouter; rank = 3; break;
                case NextFragment: bit = IehFrag; rank = 4; break;
                case NextAuth: bit = IehAuth; rank = 5; break;
                case NextEsp: bit = IehEsp; rank = 6; break;
                case NextDest: bit = IehDest; rank = dests == 0 && maxRank <= 2 ? 2 : 7; break;
                default: goto Upper;
            }

            int hlen = 8;
            if (next != NextFragment && next != NextEsp)
            {
                if (end - p < 2) { err = ParseError.Ipv6ExtTruncated; goto Done; }
                hlen = next == NextAuth ? (frame[p + 1] + 2) * 4 : (frame[p + 1] + 1) * 8;
            }
            if (next != NextEsp && end - p < hlen) { err = ParseError.Ipv6ExtTruncated; goto Done; }

            bool unrep = next == NextDest ? ++dests > 2 : (eh & bit) != 0;
            bool unseq = rank < maxRank || (next == NextHop && eh != 0);
            eh |= bit | (unrep ? IehUnrep : 0u) | (unseq ? IehUnseq : 0u);
            if (rank > maxRank) maxRank = rank;
            // ESP: what follows is encrypted; nw_proto stays 50.
            if (next == NextEsp) goto Done;

            if (next == NextFragment)
            {
                layers.Flags |= LayerFlags.Fragment;
                kb[FlowKey.NwFragOffset] = FlowKey.NwFragAny;
                if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(p + 2)..]) & 0xFFF8) != 0)
                {
                    // A non-first fragment: what follows is payload; nw_proto is the fragment header's next header.
                    layers.Flags |= LayerFlags.LaterFragment;
                    kb[FlowKey.NwFragOffset] = FlowKey.NwFragAny | FlowKey.NwFragLater;
                    next = frame[p];
                    goto Done;
                }
            }
            next = frame[p];
            p += hlen;
        }

    Upper:
        {
            int l4Len = end - p;
            switch (next)
            {
                case ProtoTcp:
                    if (l4Len < 20) { err = ParseError.L4Truncated; goto Done; }
                    layers.Flags |= LayerFlags.Tcp;
                    break;
                case ProtoUdp:
                    if (l4Len < 8) { err = ParseError.L4Truncated; goto Done; }
                    layers.Flags |= LayerFlags.Udp;
                    break;
                case ProtoSctp:
                    if (l4Len < 12) { err = ParseError.L4Truncated; goto Done; }
                    layers.Flags |= LayerFlags.Sctp;
                    break;
                case ProtoIcmpv6:
                    if (l4Len < 4) { err = ParseError.Icmpv6Truncated; goto Done; }
                    layers.Flags |= LayerFlags.Icmpv6;
                    layers.L4 = (ushort)p;
                    if ((layers.Flags & LayerFlags.Fragment) == 0) err = ParseIcmpv6(frame, p, end, kb);
                    goto Done;
                default:
                    goto Done;
            }
            layers.L4 = (ushort)p;
            // As IPv4 (OFPC_FRAG_NORMAL): a first fragment keeps its L4 layer but has ports 0.
            if ((layers.Flags & LayerFlags.Fragment) == 0) frame.Slice(p, 4).CopyTo(kb.Slice(FlowKey.TpSrcOffset, 4));
        }

    Done:
        kb[FlowKey.NwProtoOffset] = next;
        BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.Ipv6ExtHdrOffset..], (ushort)eh);
        return err;
    }

    /// <summary>ICMPv6 at <paramref name="p"/> (4 bytes known present), the message ending at <paramref name="end"/>.</summary>
    private static ParseError ParseIcmpv6(ReadOnlySpan<byte> frame, int p, int end, Span<byte> kb)
    {
        byte type = frame[p], code = frame[p + 1];
        kb[FlowKey.TpSrcOffset + 1] = type;
        kb[FlowKey.TpDstOffset + 1] = code;
        if ((type != NdSolicit && type != NdAdvert) || code != 0) return ParseError.None;

        // type, code, checksum, reserved (4), target (16), then options (type, length in 8-byte units, data).
        if (end - p < 24) return ParseError.NdTruncated;
        frame.Slice(p + 8, 16).CopyTo(kb.Slice(FlowKey.NdTargetOffset, 16));
        byte wanted = type == NdSolicit ? (byte)1 : (byte)2;
        int slot = type == NdSolicit ? FlowKey.NdSllOffset : FlowKey.NdTllOffset;
        bool seen = false;
        int q = p + 24;
        while (q < end)
        {
            if (end - q < 2) return ParseError.NdBadOption;
            int len = frame[q + 1] * 8;
            if (len == 0 || end - q < len) return ParseError.NdBadOption;
            if (frame[q] == wanted && len == 8)
            {
                // A second link-layer address of the same kind is ambiguous (OVS rejects it too).
                if (seen) return ParseError.NdBadOption;
                seen = true;
                frame.Slice(q + 2, 6).CopyTo(kb.Slice(slot, 6));
            }
            q += len;
        }
        return ParseError.None;
    }
}

/// <summary>Per-thread parse error counters: a view of the thread's <see cref="CounterSet"/> by <see cref="ParseError"/> (<c>parse-runt</c>, ...); summed when read.</summary>
public sealed class ParseCounters
{
    private readonly CounterSet _set;
    // ParseError.None (parsed whole) when a caller counts it; not a registry counter (the forwarders count errors only).
    private long _ok;

    public ParseCounters(CounterSet? set = null) => _set = set ?? new CounterSet();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Count(ParseError e)
    {
        if (e == ParseError.None) _ok++;
        else _set.Add(DatapathCounters.Parse(e));
    }

    public long this[ParseError e] => e == ParseError.None ? Volatile.Read(ref _ok) : _set[DatapathCounters.Parse(e)];

    public void AddTo(Span<long> totals)
    {
        for (int i = 0; i < (int)ParseError.Count && i < totals.Length; i++) totals[i] += this[(ParseError)i];
    }
}
