using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>Why an OXM match cannot be an OpenFlow-layer match (each maps onto OFPET_BAD_MATCH's codes).</summary>
internal enum OxmProblem : byte
{
    None,
    /// <summary>A field whose prerequisite is missing or has another value (OFPBMC_BAD_PREREQ).</summary>
    BadPrereq,
    /// <summary>A value the field cannot take (OFPBMC_BAD_VALUE): a VLAN id past 4095, a DSCP past 63, ...</summary>
    BadValue,
    /// <summary>The same field twice (OFPBMC_DUP_FIELD).</summary>
    DupField,
    /// <summary>A field number this switch does not match on (OFPBMC_BAD_FIELD).</summary>
    BadField,
}

/// <summary>
/// OpenFlow 1.3's OXM matches to and from the OpenFlow layer's <see cref="OfMatch"/>: field by field, with the
/// prerequisites of OpenFlow 1.3.5 section 7.2.3.6 (table 11) checked, and back in field-number order for flow
/// statistics, flow removals and packet-ins.
/// </summary>
/// <remarks>
/// <para><see cref="OfMatch"/> keeps one slot where versions name the same bits differently: IPv4 source and ARP SPA
/// are <c>NwSrc</c>, TCP/UDP/SCTP ports and ICMP type/code are <c>TpSrc</c>/<c>TpDst</c>, IP protocol and ARP opcode
/// <c>NwProto</c>, ARP SHA and ND SLL <c>ArpSha</c>. A prerequisite decides the slot's meaning, so reading back names
/// the field by the match's ethertype and IP protocol, exactly as it was written (a TCP port stays TCP_SRC).</para>
/// <para>A prerequisite holds when the field it names is in the match with an exact value (no mask) among those the
/// table allows, as Open vSwitch's <c>mf_are_prereqs_ok</c>; VLAN_PCP needs VLAN_VID with OFPVID_PRESENT set in value
/// and mask. The order of the TLVs does not matter (1.3.5: "the prerequisite may appear anywhere").</para>
/// <para>Stateless and allocation-free: the entries are a span the caller owns.</para>
/// </remarks>
internal static class MatchTranslator
{
    // OFPXMT_OFB_* field numbers.
    public const byte InPort = 0, InPhyPort = 1, Metadata = 2, EthDst = 3, EthSrc = 4, EthType = 5, VlanVid = 6, VlanPcp = 7,
        IpDscp = 8, IpEcn = 9, IpProto = 10, Ipv4Src = 11, Ipv4Dst = 12, TcpSrc = 13, TcpDst = 14, UdpSrc = 15, UdpDst = 16,
        SctpSrc = 17, SctpDst = 18, Icmpv4Type = 19, Icmpv4Code = 20, ArpOp = 21, ArpSpa = 22, ArpTpa = 23, ArpSha = 24,
        ArpTha = 25, Ipv6Src = 26, Ipv6Dst = 27, Ipv6Flabel = 28, Icmpv6Type = 29, Icmpv6Code = 30, Ipv6NdTarget = 31,
        Ipv6NdSll = 32, Ipv6NdTll = 33, MplsLabel = 34, MplsTc = 35, MplsBos = 36, PbbIsid = 37, TunnelId = 38, Ipv6Exthdr = 39;

    /// <summary>The number of OPENFLOW_BASIC fields (in_port .. ipv6_exthdr).</summary>
    public const int FieldCount = 40;

    /// <summary>The most entries <see cref="ToOxm"/> writes: every basic field, the sixteen registers, and conj_id, ip_frag,
    /// pkt_mark, dp_hash, tun_src, tun_dst, nw_ttl, tcp_flags and actset_output.</summary>
    public const int MaxEntries = FieldCount + OfRegisters.RegCount + 9;

    private const ushort Ipv4 = 0x0800, Ipv6 = 0x86dd, Arp = 0x0806, Mpls = 0x8847, MplsMc = 0x8848, Pbb = 0x88e7;
    internal const byte Tcp = 6, Udp = 17, Sctp = 132, Icmp = 1, Icmpv6 = 58;

    /// <summary>
    /// Builds the OpenFlow layer's match from <paramref name="entries"/>; <see cref="OxmProblem.None"/> or why not, with
    /// the offending field in <paramref name="field"/>.
    /// </summary>
    public static OxmProblem TryToOf(ReadOnlySpan<Ofp13Oxm> entries, out OfMatch match, out byte field)
    {
        match = OfMatch.Any;
        field = 0;
        var shape = Shape(entries);
        ulong seen = 0;
        int others = 0; // the fields past OPENFLOW_BASIC's, one bit each (every form of tcp_flags or actset_output one)
        foreach (var e in entries)
        {
            field = e.Field;
            if (Ofp13Match.IsRegister(e.Field)) continue; // views of one register file: Apply finds a register matched twice
            int other = e.Field switch
            {
                Ofp13Match.NxConjId => 1,
                Ofp13Match.NxIpFrag => 2,
                Ofp13Match.NxPktMark => 4,
                Ofp13Match.NxTunSrc => 8,
                Ofp13Match.NxTunDst => 16,
                Ofp13Match.NxIpTtl => 32,
                Ofp13Match.OfbTcpFlags or Ofp13Match.NxTcpFlags or Ofp13Match.OnfTcpFlags => 64,
                Ofp13Match.OfbActsetOutput or Ofp13Match.OnfActsetOutput => 128,
                Ofp13Match.NxDpHash => 256,
                _ => 0,
            };
            if (other != 0)
            {
                if ((others & other) != 0) return OxmProblem.DupField;
                others |= other;
                continue;
            }
            if (e.Field >= FieldCount) return OxmProblem.BadField;
            if ((seen & (1UL << e.Field)) != 0) return OxmProblem.DupField;
            seen |= 1UL << e.Field;
        }
        foreach (var e in entries)
        {
            field = e.Field;
            bool ok = PrerequisiteHolds(e.Field, shape);
            if (!ok) return OxmProblem.BadPrereq;
            var problem = Apply(ref match, e);
            if (problem != OxmProblem.None) return problem;
        }
        return OxmProblem.None;
    }

    /// <summary>
    /// A select group's hash fields (Open vSwitch's selection method property: OXM TLVs whose values are masks) as a
    /// match whose mask holds each field's mask, prerequisites not asked (a field whose packet lacks it hashes as the
    /// key holds it). Only a packet's own header fields and tunnel id are hashed: metadata, registers and Open vSwitch's
    /// other fields are <see cref="OxmProblem.BadField"/>; an all-zero mask <see cref="OxmProblem.BadValue"/>.
    /// </summary>
    public static OxmProblem TryHashFieldsToOf(ReadOnlySpan<Ofp13Oxm> entries, out OfMatch match, out byte field)
    {
        match = OfMatch.Any;
        field = 0;
        foreach (var e in entries)
        {
            field = e.Field;
            if (e.Field >= FieldCount || e.Field is Metadata or InPhyPort) return OxmProblem.BadField;
            if (e.Value == 0) return OxmProblem.BadValue;
            // The value as the mask (and, for in_port, a port that is one: its value is not read).
            var problem = Apply(ref match, new Ofp13Oxm(e.Field, true, e.Field == InPort ? 1 : e.Value, e.Value));
            if (problem != OxmProblem.None) return problem;
        }
        return OxmProblem.None;
    }

    /// <summary>What <paramref name="entries"/> say of a packet for the prerequisites of table 11.</summary>
    public static OxmShape Shape(ReadOnlySpan<Ofp13Oxm> entries)
    {
        var shape = new OxmShape();
        foreach (var e in entries)
        {
            switch (e.Field)
            {
                case EthType: if (!e.HasMask) shape.EthType = (ushort)e.Value; break;
                case IpProto: if (!e.HasMask) shape.IpProto = (byte)e.Value; break;
                case Icmpv6Type: if (!e.HasMask) shape.Icmpv6Type = (byte)e.Value; break;
                case InPort: shape.InPort = true; break;
                case VlanVid: shape.VlanPresent = (e.Value & OfMatch.VlanPresent) != 0 && (e.Mask & OfMatch.VlanPresent) != 0; break;
            }
        }
        return shape;
    }

    /// <summary>Whether <paramref name="field"/>'s prerequisites (OpenFlow 1.3.5 table 11) hold for a packet of <paramref name="s"/>.</summary>
    public static bool PrerequisiteHolds(byte field, in OxmShape s)
    {
        if (s.Unknown) return true;
        int ethType = s.EthType, ipProto = s.IpProto, icmpv6Type = s.Icmpv6Type;
        bool ip = ethType is Ipv4 or Ipv6;
        return field switch
        {
            InPhyPort => s.InPort,
            VlanPcp => s.VlanPresent,
            IpDscp or IpEcn or IpProto or Ofp13Match.NxIpFrag or Ofp13Match.NxIpTtl or Ofp13Match.NxIpTos => ip,
            Ofp13Match.OfbTcpFlags or Ofp13Match.NxTcpFlags or Ofp13Match.OnfTcpFlags => ip && ipProto == Tcp,
            Ipv6Exthdr => ethType == Ipv6,
            Ipv4Src or Ipv4Dst => ethType == Ipv4,
            TcpSrc or TcpDst => ip && ipProto == Tcp,
            UdpSrc or UdpDst => ip && ipProto == Udp,
            SctpSrc or SctpDst => ip && ipProto == Sctp,
            Icmpv4Type or Icmpv4Code => ethType == Ipv4 && ipProto == Icmp,
            ArpOp or ArpSpa or ArpTpa or ArpSha or ArpTha => ethType == Arp,
            Ipv6Src or Ipv6Dst or Ipv6Flabel => ethType == Ipv6,
            Icmpv6Type or Icmpv6Code => ethType == Ipv6 && ipProto == Icmpv6,
            Ipv6NdTarget => ethType == Ipv6 && ipProto == Icmpv6 && icmpv6Type is 135 or 136,
            Ipv6NdSll => ethType == Ipv6 && ipProto == Icmpv6 && icmpv6Type == 135,
            Ipv6NdTll => ethType == Ipv6 && ipProto == Icmpv6 && icmpv6Type == 136,
            MplsLabel or MplsTc or MplsBos => ethType is Mpls or MplsMc,
            PbbIsid => ethType == Pbb,
            _ => true,
        };
    }

    private static OxmProblem Apply(ref OfMatch m, in Ofp13Oxm e)
    {
        ulong v = (ulong)e.Value, k = (ulong)e.Mask;
        if (Ofp13Match.IsRegister(e.Field)) return ApplyRegister(ref m, e);
        if (e.Field == Ofp13Match.NxConjId)
        {
            m.ConjId((uint)v);
            return OxmProblem.None;
        }
        if (e.Field == Ofp13Match.NxIpFrag)
        {
            // Open vSwitch's mf_is_value_valid: the two flag bits only; the mask's other bits say nothing.
            if (v > OfMatch.IpFragMask) return OxmProblem.BadValue;
            m.IpFrag((byte)v, (byte)(k & OfMatch.IpFragMask));
            return OxmProblem.None;
        }
        switch (e.Field)
        {
            case Ofp13Match.NxPktMark: m.PktMark((uint)v, (uint)k); return OxmProblem.None;
            case Ofp13Match.NxDpHash: m.DpHash((uint)v, (uint)k); return OxmProblem.None;
            case Ofp13Match.NxTunSrc: m.TunSrc((uint)v, (uint)k); return OxmProblem.None;
            case Ofp13Match.NxTunDst: m.TunDst((uint)v, (uint)k); return OxmProblem.None;
            case Ofp13Match.NxIpTtl: m.NwTtl((byte)v); return OxmProblem.None;
            case Ofp13Match.OfbTcpFlags or Ofp13Match.NxTcpFlags or Ofp13Match.OnfTcpFlags:
                // TCP_FLAGS: 12 bits (mf_is_value_valid); the mask's bits above them say nothing.
                if (v > OfMatch.TcpFlagsMask) return OxmProblem.BadValue;
                m.TcpFlags((ushort)v, e.HasMask ? (ushort)k : ushort.MaxValue);
                return OxmProblem.None;
            case Ofp13Match.OfbActsetOutput or Ofp13Match.OnfActsetOutput:
                // A 32-bit port as OpenFlow 1.0's 16 bits (ofputil_port_from_ofp11): the reserved ports move down.
                if (v > 0xffff && v < 0xffffff00) return OxmProblem.BadValue;
                m.ActsetOutput((ushort)v);
                return OxmProblem.None;
        }
        switch (e.Field)
        {
            // IN_PHY_PORT is the physical port under a logical in_port; every port here is physical (1.3.5 7.2.3.7).
            case InPort: m.InPort((uint)v); break;
            case InPhyPort: if ((uint)v != m.Value.InPort) return OxmProblem.BadValue; break;
            case Metadata: m.Metadata(v, k); break;
            case EthDst: m.EthDst(v, k); break;
            case EthSrc: m.EthSrc(v, k); break;
            case EthType: m.EthType((ushort)v); break;
            case VlanVid:
                if ((v & ~(ulong)OfMatch.VlanVidMask) != 0) return OxmProblem.BadValue;
                // OFPVID_NONE (0, unmasked): untagged only; OFPVID_PRESENT/OFPVID_PRESENT: tagged, any id.
                m.VlanVid((ushort)v, e.HasMask ? (ushort)k : OfMatch.VlanVidMask);
                break;
            case VlanPcp: if (v > 7) return OxmProblem.BadValue; m.VlanPcp((byte)v); break;
            case IpDscp: if (v > 63) return OxmProblem.BadValue; m.IpDscp((byte)v); break;
            case IpEcn: if (v > 3) return OxmProblem.BadValue; m.IpEcn((byte)v); break;
            case IpProto: m.NwProto((byte)v); break;
            case Ipv4Src: case ArpSpa: m.NwSrc((uint)v, (uint)k); break;
            case Ipv4Dst: case ArpTpa: m.NwDst((uint)v, (uint)k); break;
            case TcpSrc: case UdpSrc: case SctpSrc: m.TpSrc((ushort)v); break;
            case TcpDst: case UdpDst: case SctpDst: m.TpDst((ushort)v); break;
            case Icmpv4Type: case Icmpv6Type: m.TpSrc((byte)v); break;
            case Icmpv4Code: case Icmpv6Code: m.TpDst((byte)v); break;
            case ArpOp: if (v > 0xff) return OxmProblem.BadValue; m.ArpOp((ushort)v); break;
            case ArpSha: case Ipv6NdSll: m.ArpSha(v, k); break;
            case ArpTha: case Ipv6NdTll: m.ArpTha(v, k); break;
            case Ipv6Src: m.Ipv6Src(e.Value, e.Mask); break;
            case Ipv6Dst: m.Ipv6Dst(e.Value, e.Mask); break;
            case Ipv6Flabel: if (v > OfMatch.FlabelMask) return OxmProblem.BadValue; m.Ipv6Flabel((uint)v, (uint)k); break;
            case Ipv6NdTarget: m.NdTarget(e.Value, e.Mask); break;
            case MplsLabel: if (v > OfMatch.MplsLabelMask) return OxmProblem.BadValue; m.MplsLabel((uint)v); break;
            case MplsTc: if (v > OfMatch.MplsTcMask) return OxmProblem.BadValue; m.MplsTc((byte)v); break;
            case MplsBos: if (v > OfMatch.MplsBosMask) return OxmProblem.BadValue; m.MplsBos((byte)v); break;
            case PbbIsid: m.PbbIsid((uint)v, (uint)k); break;
            case TunnelId: m.TunnelId(v, k); break;
            case Ipv6Exthdr: if (v > OfMatch.Ipv6ExtHdrMask) return OxmProblem.BadValue; m.Ipv6ExtHdr((ushort)v, (ushort)k); break;
            default: return OxmProblem.BadField;
        }
        return OxmProblem.None;
    }

    /// <summary>
    /// ip_frag's mask on the wire: both flag bits are the whole field (0xff, no mask), as Open vSwitch's nxm_put_frag
    /// writes them; one bit is itself.
    /// </summary>
    public static byte IpFragWireMask(byte mask) => (mask & OfMatch.IpFragMask) == OfMatch.IpFragMask ? byte.MaxValue : (byte)(mask & OfMatch.IpFragMask);

    /// <summary>
    /// A register field (reg, xreg or xxreg): its bits into the match's registers; a register some earlier field of the
    /// match already tests is a duplicate (Open vSwitch's nx_pull_match: the views share the register file).
    /// </summary>
    private static OxmProblem ApplyRegister(ref OfMatch m, in Ofp13Oxm e)
    {
        byte f = e.Field;
        // The 32-bit registers the field spans, whatever its mask: a field is matched twice when any of them already is.
        var (first, count) = f < Ofp13Match.PktReg0 ? (f - Ofp13Match.NxReg0, 1)
            : f < Ofp13Match.NxXxReg0 ? (2 * (f - Ofp13Match.PktReg0), 2) : (4 * (f - Ofp13Match.NxXxReg0), 4);
        for (int i = first; i < first + count; i++)
            if (m.Mask.Regs.Reg(i) != 0) return OxmProblem.DupField;
        return f < Ofp13Match.PktReg0 ? ApplyReg(ref m, first, (uint)e.Value, (uint)e.Mask)
            : f < Ofp13Match.NxXxReg0 ? ApplyXReg(ref m, f - Ofp13Match.PktReg0, (ulong)e.Value, (ulong)e.Mask)
            : ApplyXXReg(ref m, f - Ofp13Match.NxXxReg0, e.Value, e.Mask);
    }

    private static OxmProblem ApplyReg(ref OfMatch m, int i, uint value, uint mask)
    {
        m.Reg(i, value, mask);
        return OxmProblem.None;
    }

    private static OxmProblem ApplyXReg(ref OfMatch m, int i, ulong value, ulong mask)
    {
        m.XReg(i, value, mask);
        return OxmProblem.None;
    }

    private static OxmProblem ApplyXXReg(ref OfMatch m, int i, UInt128 value, UInt128 mask)
    {
        m.XXReg(i, value, mask);
        return OxmProblem.None;
    }

    /// <summary>
    /// Writes the OXM entries of <paramref name="m"/> into <paramref name="into"/> (at least <see cref="MaxEntries"/>
    /// long) in field-number order, each field named as its prerequisites say, the registers last as Open vSwitch
    /// writes them before OpenFlow 1.5 (NXM_NX_REG0-15, 32 bits each, whatever view set them); returns the count.
    /// </summary>
    public static int ToOxm(in OfMatch m, Span<Ofp13Oxm> into, byte version = Ofp13.Version)
    {
        var v = m.Value;
        var k = m.Mask;
        int n = 0;
        bool typed = k.EthType == ushort.MaxValue;
        ushort type = typed ? v.EthType : (ushort)0;
        bool ip4 = type == Ipv4, ip6 = type == Ipv6, arp = type == Arp;
        bool proto = k.NwProto == byte.MaxValue;
        byte p = proto ? v.NwProto : (byte)0;

        void Put(Span<Ofp13Oxm> into, ref int n, byte field, UInt128 value, UInt128 mask, UInt128 full)
        {
            if (mask == 0) return;
            into[n++] = new Ofp13Oxm(field, mask != full, value & mask, mask);
        }

        Put(into, ref n, InPort, v.InPort, k.InPort, uint.MaxValue);
        // actset_output after in_port (Open vSwitch's nx_put_raw), OpenFlow 1.5's OXM from 1.5, ONF's before, as a 32-bit port.
        if (k.ActsetOutput != 0)
            Put(into, ref n, version >= Ofp15.Version ? Ofp13Match.OfbActsetOutput : Ofp13Match.OnfActsetOutput, Port32(v.ActsetOutput), uint.MaxValue, uint.MaxValue);
        Put(into, ref n, Metadata, v.Metadata, k.Metadata, ulong.MaxValue);
        Put(into, ref n, EthDst, v.EthDst, k.EthDst, OfMatch.MacMask);
        Put(into, ref n, EthSrc, v.EthSrc, k.EthSrc, OfMatch.MacMask);
        Put(into, ref n, EthType, v.EthType, k.EthType, ushort.MaxValue);
        Put(into, ref n, VlanVid, v.VlanVid, k.VlanVid, OfMatch.VlanVidMask);
        // VLAN_PCP's prerequisite is a VLAN_VID other than OFPVID_NONE (OpenFlow 1.3.5 table 12): a match that only
        // untagged frames meet (OpenFlow 1.0's OFP_VLAN_NONE with dl_vlan_pcp exact) carries no PCP, as Open vSwitch's
        // nx_put_raw writes it; a reader would refuse the PCP with BAD_PREREQ.
        bool untagged = (k.VlanVid & OfMatch.VlanPresent) != 0 && (v.VlanVid & OfMatch.VlanPresent) == 0;
        if (!untagged)
            Put(into, ref n, VlanPcp, v.VlanPcp, k.VlanPcp, 7);
        if (ip4 || ip6)
        {
            Put(into, ref n, IpDscp, (uint)(v.NwTos >> 2), (uint)(k.NwTos >> 2), OfMatch.TosMask >> 2);
            Put(into, ref n, IpEcn, v.IpEcn, k.IpEcn, OfMatch.EcnMask);
            Put(into, ref n, Ofp13Match.NxIpTtl, v.NwTtl, k.NwTtl, byte.MaxValue);
            Put(into, ref n, IpProto, v.NwProto, k.NwProto, byte.MaxValue);
        }
        if (ip4)
        {
            Put(into, ref n, Ipv4Src, v.NwSrc, k.NwSrc, uint.MaxValue);
            Put(into, ref n, Ipv4Dst, v.NwDst, k.NwDst, uint.MaxValue);
        }
        if (ip4 || ip6)
        {
            var (src, dst) = p switch
            {
                Tcp => (TcpSrc, TcpDst),
                Udp => (UdpSrc, UdpDst),
                Sctp => (SctpSrc, SctpDst),
                Icmp when ip4 => (Icmpv4Type, Icmpv4Code),
                Icmpv6 when ip6 => (Icmpv6Type, Icmpv6Code),
                _ => ((byte)0xff, (byte)0xff),
            };
            if (src != 0xff)
            {
                UInt128 full = src is Icmpv4Type or Icmpv6Type ? byte.MaxValue : ushort.MaxValue;
                Put(into, ref n, src, v.TpSrc, (ushort)(k.TpSrc & (ushort)full), full);
                Put(into, ref n, dst, v.TpDst, (ushort)(k.TpDst & (ushort)full), full);
            }
            if (p == Tcp)
                Put(into, ref n, version >= Ofp15.Version ? Ofp13Match.OfbTcpFlags : Ofp13Match.OnfTcpFlags, v.TcpFlags, k.TcpFlags, ushort.MaxValue); // unmasked over 16 bits, as Open vSwitch writes it
        }
        if (arp)
        {
            // ARP_OP is 16 bits on the wire; the shared slot keeps its low byte (opcodes are 1..25).
            Put(into, ref n, ArpOp, v.NwProto, k.NwProto == byte.MaxValue ? ushort.MaxValue : k.NwProto, ushort.MaxValue);
            Put(into, ref n, ArpSpa, v.NwSrc, k.NwSrc, uint.MaxValue);
            Put(into, ref n, ArpTpa, v.NwDst, k.NwDst, uint.MaxValue);
            Put(into, ref n, ArpSha, v.ArpSha, k.ArpSha, OfMatch.MacMask);
            Put(into, ref n, ArpTha, v.ArpTha, k.ArpTha, OfMatch.MacMask);
        }
        if (ip6)
        {
            Put(into, ref n, Ipv6Src, v.Ipv6Src, k.Ipv6Src, UInt128.MaxValue);
            Put(into, ref n, Ipv6Dst, v.Ipv6Dst, k.Ipv6Dst, UInt128.MaxValue);
            Put(into, ref n, Ipv6Flabel, v.Ipv6Flabel, k.Ipv6Flabel, OfMatch.FlabelMask);
            if (p == Icmpv6)
            {
                Put(into, ref n, Ipv6NdTarget, v.NdTarget, k.NdTarget, UInt128.MaxValue);
                Put(into, ref n, Ipv6NdSll, v.ArpSha, k.ArpSha, OfMatch.MacMask);
                Put(into, ref n, Ipv6NdTll, v.ArpTha, k.ArpTha, OfMatch.MacMask);
            }
        }
        if (type is Mpls or MplsMc)
        {
            Put(into, ref n, MplsLabel, v.MplsLabel, k.MplsLabel, OfMatch.MplsLabelMask);
            Put(into, ref n, MplsTc, v.MplsTc, k.MplsTc, OfMatch.MplsTcMask);
            Put(into, ref n, MplsBos, v.MplsBos, k.MplsBos, OfMatch.MplsBosMask);
        }
        if (type == Pbb) Put(into, ref n, PbbIsid, v.PbbIsid, k.PbbIsid, OfMatch.PbbIsidMask);
        Put(into, ref n, TunnelId, v.TunnelId, k.TunnelId, ulong.MaxValue);
        Put(into, ref n, Ofp13Match.NxTunSrc, v.TunSrc, k.TunSrc, uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxTunDst, v.TunDst, k.TunDst, uint.MaxValue);
        if (ip6) Put(into, ref n, Ipv6Exthdr, v.Ipv6ExtHdr, k.Ipv6ExtHdr, OfMatch.Ipv6ExtHdrMask);
        // ip_frag under NXM_NX_IP_FRAG, as Open vSwitch writes it in OXM too: both bits are the field whole (no mask).
        if (ip4 || ip6) Put(into, ref n, Ofp13Match.NxIpFrag, v.IpFrag, IpFragWireMask(k.IpFrag), byte.MaxValue);
        for (int i = 0; i < OfRegisters.RegCount; i++)
            Put(into, ref n, (byte)(Ofp13Match.NxReg0 + i), v.Regs.Reg(i), k.Regs.Reg(i), uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxPktMark, v.PktMark, k.PktMark, uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxDpHash, v.DpHash, k.DpHash, uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxConjId, v.ConjId, k.ConjId, uint.MaxValue);
        return n;
    }

    /// <summary>A 16-bit port (OpenFlow 1.0's numbers) as a 32-bit one (ofputil_port_to_ofp11: the reserved ports move up).</summary>
    internal static uint Port32(ushort port) => port >= 0xff00 ? port + 0xffff0000u : port;
}

/// <summary>
/// What a match says of a packet, as far as prerequisites go: the exact ethertype, IP protocol and ICMPv6 type (-1:
/// not matched exactly), whether it is VLAN-tagged and names its in_port. <see cref="Unknown"/>: nothing is known (after
/// an action whose result no match describes), and every prerequisite is taken to hold.
/// </summary>
internal struct OxmShape
{
    public int EthType = -1, IpProto = -1, Icmpv6Type = -1;
    public bool VlanPresent, InPort, Unknown;

    public OxmShape() { }
}
