using System.Buffers.Binary;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// <see cref="OfMatch"/> ↔ the datapath's <see cref="FlowMatch"/>: every OpenFlow 1.3 OXM basic field has a slot in the
/// <see cref="FlowKey"/> and any bit mask over it classifies, so a match compiles field by field into the key's mask
/// and value. What cannot be classified is refused with the reason for the codec to map onto its error code: a partial
/// mask on in_port (<see cref="OfError.UnsupportedMask"/>: the port number is translated, not compared bit by bit) and a
/// port the datapath cannot number (<see cref="OfError.BadMatchPort"/>).
/// </summary>
/// <remarks>
/// A field's whole-field OpenFlow mask becomes the key mask <see cref="OfWildcardsView"/> uses for it (the vlan
/// pcp's 7 becomes 0xFF), so a match OpenFlow 1.0 can say compiles to the very match an OpenFlow 1.0 codec builds;
/// other masks are written bit for bit. Multi-byte fields are big-endian in the key. Stateless and thread-safe;
/// allocates nothing.
/// </remarks>
public static class OfMatchCompiler
{
    /// <summary>The datapath's match for <paramref name="m"/>, as given (not normalised), or the reason it has none.</summary>
    public static OfError TryCompile(in OfMatch m, out FlowMatch match)
    {
        match = default;
        ref readonly var v = ref m.Value;
        ref readonly var k = ref m.Mask;
        var vb = new FlowKeyBuilder();
        var mb = new FlowKeyBuilder();
        if (k.InPort != 0)
        {
            if (k.InPort != uint.MaxValue) return OfError.UnsupportedMask;
            if (!OfPort.ToDatapath(v.InPort, out var dpPort)) return OfError.BadMatchPort;
            vb.InPort(dpPort);
            mb.InPort(0xFFFF);
        }
        Span<byte> vs = vb.Bytes, ms = mb.Bytes;
        Put16(vs, ms, FlowKey.DlVlanOffset, v.VlanVid, (ushort)(k.VlanVid & OfMatch.VlanVidMask));
        Put16(vs, ms, FlowKey.DlTypeOffset, v.EthType, k.EthType);
        Put8(vs, ms, FlowKey.DlVlanPcpOffset, v.VlanPcp, k.VlanPcp == 7 ? (byte)0xFF : (byte)(k.VlanPcp & 7));
        Put8(vs, ms, FlowKey.NwTosOffset, v.NwTos, (byte)(k.NwTos & OfMatch.TosMask));
        Put48(vs, ms, FlowKey.DlSrcOffset, v.EthSrc, k.EthSrc);
        Put8(vs, ms, FlowKey.NwProtoOffset, v.NwProto, k.NwProto);
        Put8(vs, ms, FlowKey.IpEcnOffset, v.IpEcn, (byte)(k.IpEcn & OfMatch.EcnMask));
        Put48(vs, ms, FlowKey.DlDstOffset, v.EthDst, k.EthDst);
        Put32(vs, ms, FlowKey.NwSrcOffset, v.NwSrc, k.NwSrc);
        Put32(vs, ms, FlowKey.NwDstOffset, v.NwDst, k.NwDst);
        Put16(vs, ms, FlowKey.TpSrcOffset, v.TpSrc, k.TpSrc);
        Put16(vs, ms, FlowKey.TpDstOffset, v.TpDst, k.TpDst);
        Put32(vs, ms, FlowKey.Ipv6FlabelOffset, v.Ipv6Flabel, k.Ipv6Flabel & OfMatch.FlabelMask);
        // ip_frag: the top byte of the flow label's word (after it: the label's write clears that byte), the same bits.
        Put8(vs, ms, FlowKey.NwFragOffset, v.IpFrag, (byte)(k.IpFrag & OfMatch.IpFragMask));
        Put64(vs, ms, FlowKey.TunIdOffset, v.TunnelId, k.TunnelId);
        Put64(vs, ms, FlowKey.MetadataOffset, v.Metadata, k.Metadata);
        Put128(vs, ms, FlowKey.Ipv6SrcOffset, v.Ipv6Src, k.Ipv6Src);
        Put128(vs, ms, FlowKey.Ipv6DstOffset, v.Ipv6Dst, k.Ipv6Dst);
        Put128(vs, ms, FlowKey.NdTargetOffset, v.NdTarget, k.NdTarget);
        Put48(vs, ms, FlowKey.ArpShaOffset, v.ArpSha, k.ArpSha);
        Put16(vs, ms, FlowKey.Ipv6ExtHdrOffset, v.Ipv6ExtHdr, (ushort)(k.Ipv6ExtHdr & OfMatch.Ipv6ExtHdrMask));
        Put48(vs, ms, FlowKey.ArpThaOffset, v.ArpTha, k.ArpTha);
        Put8(vs, ms, FlowKey.MplsTcOffset, v.MplsTc, (byte)(k.MplsTc & OfMatch.MplsTcMask));
        Put8(vs, ms, FlowKey.MplsBosOffset, v.MplsBos, (byte)(k.MplsBos & OfMatch.MplsBosMask));
        Put32(vs, ms, FlowKey.MplsLabelOffset, v.MplsLabel, k.MplsLabel & OfMatch.MplsLabelMask);
        Put32(vs, ms, FlowKey.PbbIsidOffset, v.PbbIsid, k.PbbIsid & OfMatch.PbbIsidMask);
        // conj_id is matched whole or not at all (not maskable in Open vSwitch).
        if (k.ConjId is not (0 or uint.MaxValue)) return OfError.UnsupportedMask;
        var regMask = k.Regs.ToDatapath();
        var regValue = v.Regs.ToDatapath();
        // The pipeline words beside the registers (docs/datapath.md, "Pipeline words"): pkt_mark, actset_output, the
        // tunnel endpoints, the TTL and the TCP flags. actset_output and nw_ttl are matched whole or not at all.
        if (k.ActsetOutput is not (0 or 0xffff) || k.NwTtl is not (0 or 0xff)) return OfError.UnsupportedMask;
        regMask.PktMark = k.PktMark;
        regValue.PktMark = v.PktMark;
        regMask.DpHash = k.DpHash;
        regValue.DpHash = v.DpHash;
        if (k.ActsetOutput != 0)
        {
            regMask.ActsetOutputCode = 0xFFFF_FFFF;
            regValue.ActsetOutputCode = Registers.ActsetCode(v.ActsetOutput);
        }
        regMask.TunnelEndpoints = Registers.TunnelEndpointsOf(k.TunSrc, k.TunDst);
        regValue.TunnelEndpoints = Registers.TunnelEndpointsOf(v.TunSrc, v.TunDst);
        regMask.PacketFields = Registers.PacketFieldsOf(k.NwTtl, k.TcpFlags);
        regValue.PacketFields = Registers.PacketFieldsOf(v.NwTtl, v.TcpFlags);
        match = new FlowMatch(mb.Key, vb.Key, regMask, regValue.And(regMask), k.ConjId != 0, v.ConjId);
        return OfError.None;
    }

    private static void Put8(Span<byte> v, Span<byte> m, int at, byte value, byte mask)
    {
        v[at] = (byte)(value & mask);
        m[at] = mask;
    }

    private static void Put16(Span<byte> v, Span<byte> m, int at, ushort value, ushort mask)
    {
        BinaryPrimitives.WriteUInt16BigEndian(v[at..], (ushort)(value & mask));
        BinaryPrimitives.WriteUInt16BigEndian(m[at..], mask);
    }

    private static void Put32(Span<byte> v, Span<byte> m, int at, uint value, uint mask)
    {
        BinaryPrimitives.WriteUInt32BigEndian(v[at..], value & mask);
        BinaryPrimitives.WriteUInt32BigEndian(m[at..], mask);
    }

    private static void Put48(Span<byte> v, Span<byte> m, int at, ulong value, ulong mask)
    {
        new MacAddress(value & mask & OfMatch.MacMask).Write(v[at..]);
        new MacAddress(mask & OfMatch.MacMask).Write(m[at..]);
    }

    private static void Put64(Span<byte> v, Span<byte> m, int at, ulong value, ulong mask)
    {
        BinaryPrimitives.WriteUInt64BigEndian(v[at..], value & mask);
        BinaryPrimitives.WriteUInt64BigEndian(m[at..], mask);
    }

    private static void Put128(Span<byte> v, Span<byte> m, int at, UInt128 value, UInt128 mask)
    {
        BinaryPrimitives.WriteUInt128BigEndian(v[at..], value & mask);
        BinaryPrimitives.WriteUInt128BigEndian(m[at..], mask);
    }

    /// <summary>The datapath's match <paramref name="match"/> as the OpenFlow layer's (what stats and reports show).</summary>
    public static OfMatch ToOfMatch(in FlowMatch match)
    {
        // Field by field into the value and the mask (no fluent copies: this runs once per flow in a statistics dump).
        var f = match.Value;
        ref readonly var q = ref match.Mask;
        var m = new OfMatch();
        ref var v = ref m.Value;
        ref var k = ref m.Mask;
        if (q.InPort != 0) { v.InPort = OfPort.FromDatapath(f.InPort); k.InPort = uint.MaxValue; }
        k.EthSrc = q.DlSrc.Value; v.EthSrc = f.DlSrc.Value;
        k.EthDst = q.DlDst.Value; v.EthDst = f.DlDst.Value;
        k.VlanVid = (ushort)(q.VlanVid & OfMatch.VlanVidMask); v.VlanVid = (ushort)(f.VlanVid & k.VlanVid);
        k.VlanPcp = (byte)(q.DlVlanPcp & 7); v.VlanPcp = (byte)(f.DlVlanPcp & k.VlanPcp);
        k.EthType = q.DlType; v.EthType = f.DlType;
        k.NwTos = (byte)(q.NwTos & OfMatch.TosMask); v.NwTos = (byte)(f.NwTos & k.NwTos);
        k.IpEcn = (byte)(q.IpEcn & OfMatch.EcnMask); v.IpEcn = (byte)(f.IpEcn & k.IpEcn);
        k.NwProto = q.NwProto; v.NwProto = f.NwProto;
        k.NwSrc = q.NwSrc; v.NwSrc = f.NwSrc;
        k.NwDst = q.NwDst; v.NwDst = f.NwDst;
        k.TpSrc = q.TpSrc; v.TpSrc = f.TpSrc;
        k.TpDst = q.TpDst; v.TpDst = f.TpDst;
        k.Ipv6Flabel = q.Ipv6Flabel & OfMatch.FlabelMask; v.Ipv6Flabel = f.Ipv6Flabel & k.Ipv6Flabel;
        k.IpFrag = (byte)(q.NwFrag & OfMatch.IpFragMask); v.IpFrag = (byte)(f.NwFrag & k.IpFrag);
        k.TunnelId = q.TunId; v.TunnelId = f.TunId;
        if (match.UsesConjId)
        {
            k.ConjId = uint.MaxValue;
            v.ConjId = match.ConjIdValue;
        }
        if (match.UsesRegisters)
        {
            ref readonly var rm = ref match.RegisterMask;
            var rv = match.RegisterValue;
            k.Regs = OfRegisters.FromDatapath(rm);
            v.Regs = OfRegisters.FromDatapath(rv);
            k.PktMark = rm.PktMark; v.PktMark = rv.PktMark;
            k.DpHash = rm.DpHash; v.DpHash = rv.DpHash;
            if (rm.ActsetOutputCode != 0) { k.ActsetOutput = 0xffff; v.ActsetOutput = rv.ActsetOutput; }
            k.TunSrc = (uint)(rm.TunnelEndpoints >> 32); v.TunSrc = (uint)(rv.TunnelEndpoints >> 32);
            k.TunDst = (uint)rm.TunnelEndpoints; v.TunDst = (uint)rv.TunnelEndpoints;
            k.NwTtl = (byte)(rm.PacketFields >> Registers.TtlShift); v.NwTtl = (byte)(rv.PacketFields >> Registers.TtlShift);
            // All 12 flag bits are Open vSwitch's unmasked tcp_flags (mask 0xffff).
            k.TcpFlags = (ushort)(rm.PacketFields & Registers.TcpFlagsMask); v.TcpFlags = (ushort)(rv.PacketFields & Registers.TcpFlagsMask);
            if (k.TcpFlags == Registers.TcpFlagsMask) k.TcpFlags = ushort.MaxValue;
        }
        if (match.UsesExtension)
        {
            k.Metadata = q.Metadata; v.Metadata = f.Metadata;
            k.Ipv6Src = q.Ipv6Src; v.Ipv6Src = f.Ipv6Src;
            k.Ipv6Dst = q.Ipv6Dst; v.Ipv6Dst = f.Ipv6Dst;
            k.NdTarget = q.NdTarget; v.NdTarget = f.NdTarget;
            k.ArpSha = q.ArpSha.Value; v.ArpSha = f.ArpSha.Value;
            k.ArpTha = q.ArpTha.Value; v.ArpTha = f.ArpTha.Value;
            k.Ipv6ExtHdr = (ushort)(q.Ipv6ExtHdr & OfMatch.Ipv6ExtHdrMask); v.Ipv6ExtHdr = (ushort)(f.Ipv6ExtHdr & k.Ipv6ExtHdr);
            k.MplsTc = (byte)(q.MplsTc & OfMatch.MplsTcMask); v.MplsTc = (byte)(f.MplsTc & k.MplsTc);
            k.MplsBos = (byte)(q.MplsBos & OfMatch.MplsBosMask); v.MplsBos = (byte)(f.MplsBos & k.MplsBos);
            k.MplsLabel = q.MplsLabel & OfMatch.MplsLabelMask; v.MplsLabel = f.MplsLabel & k.MplsLabel;
            k.PbbIsid = q.PbbIsid & OfMatch.PbbIsidMask; v.PbbIsid = f.PbbIsid & k.PbbIsid;
        }
        return m;
    }
}
