using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Packets;

/// <summary>What the parser found in a frame, as offsets from the frame's first byte (0xFFFF = absent).</summary>
/// <remarks>
/// Actions that change the frame's length (push/pop VLAN, MPLS, PBB) keep these offsets right for the actions after
/// them. <see cref="EthType"/> is the offset of the ethertype field that introduces what follows the L2 headers (the
/// MPLS stack or the network header): after the outer tags, and for a PBB frame the customer frame's.
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
    /// <summary>A fragment other than the first (offset non-zero): carries no L4 header.</summary>
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
    /// <summary>TCP/UDP/ICMP header cut off by the frame or by the IPv4 total length.</summary>
    L4Truncated,
    Count,
}

/// <summary>
/// Parses the OpenFlow 1.0 12-tuple from an Ethernet frame without allocating or throwing.
/// </summary>
/// <remarks>
/// Design: one unsigned length check per header; a frame is parsed as far as it is valid and the first
/// problem is returned as a <see cref="ParseError"/> (the caller counts it). Fields of layers that could
/// not be parsed stay zero, as OF1.0 specifies for absent fields. Follows the OF1.0 reference rules:
/// 802.3/LLC frames get dl_type 0x05FF unless they carry SNAP with OUI 0 (then the SNAP type); an
/// untagged frame has dl_vlan 0xFFFF; IPv4 options are skipped by IHL; every fragment (MF set or offset
/// non-zero) has tp ports 0 (the first one keeps its L4 layer offset for the actions); ICMP type/code go to tp_src/tp_dst; ARP opcode (low byte) goes to nw_proto and
/// SPA/TPA to nw_src/nw_dst. Stateless and thread-safe.
/// </remarks>
public static class PacketParser
{
    public const ushort EthTypeIpv4 = 0x0800, EthTypeArp = 0x0806, EthTypeVlan = 0x8100;
    public const ushort DlTypeNotEthType = 0x05FF;
    public const ushort VlanNone = 0xFFFF;
    public const byte ProtoIcmp = 1, ProtoTcp = 6, ProtoUdp = 17;

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
        if (type == EthTypeVlan)
        {
            if ((uint)frame.Length < 18u)
            {
                // The tag is not parsed, so dl_type stays the TPID (as in the OF1.0 reference switch and OVS).
                BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlTypeOffset..], EthTypeVlan);
                return ParseError.VlanTruncated;
            }
            layers.Vlan = 12;
            ushort tci = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
            BinaryPrimitives.WriteUInt16BigEndian(kb[FlowKey.DlVlanOffset..], (ushort)(FlowKey.VlanPresent | (tci & 0x0FFF)));
            kb[FlowKey.DlVlanPcpOffset] = (byte)(tci >> 13);
            off = 16;
            layers.EthType = 16;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
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
        if (type == EthTypeArp) return ParseArp(frame, off, kb, ref layers);
        return ParseError.None;
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
        kb[FlowKey.NwTosOffset] = (byte)(ip[1] & 0xFC);
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
            if ((frag & 0x1FFF) != 0)
            {
                layers.Flags |= LayerFlags.LaterFragment;
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
        arp.Slice(14, 4).CopyTo(kb.Slice(FlowKey.NwSrcOffset, 4));
        arp.Slice(24, 4).CopyTo(kb.Slice(FlowKey.NwDstOffset, 4));
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
