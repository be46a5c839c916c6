using System.Runtime.InteropServices;

namespace Softswitch.Ofproto;

/// <summary>
/// The values of the header fields a flow can match, version-independent (as Open vSwitch's struct flow): one slot per
/// field, shared where OpenFlow versions name the same header bits differently (<see cref="NwSrc"/> is IPv4's source or
/// ARP's SPA, <see cref="TpSrc"/> a TCP, UDP or SCTP port or ICMP's or ICMPv6's type, <see cref="NwProto"/> IP's
/// protocol, IPv6's next header or the low byte of ARP's opcode, <see cref="NwTos"/> the DSCP of IPv4's TOS or IPv6's
/// traffic class, <see cref="ArpSha"/> ARP's SHA or ND's source link-layer address, <see cref="ArpTha"/> ARP's THA or
/// ND's target link-layer address; OpenFlow 1.3's in_phy_port is <see cref="InPort"/>, as Open vSwitch has it). A codec writes each wire field into its slot explicitly; <see cref="OfMatch"/> pairs these
/// with a mask.
/// </summary>
/// <remarks>Values are host order; MAC addresses are 48 bits in the low bits, first octet most significant.</remarks>
[StructLayout(LayoutKind.Auto)]
public struct OfFields : IEquatable<OfFields>
{
    /// <summary>Input port (<see cref="OfPort"/> numbering).</summary>
    public uint InPort;
    /// <summary>Pipeline metadata (OpenFlow 1.1+).</summary>
    public ulong Metadata;
    /// <summary>Tunnel id (VXLAN or Geneve VNI, GRE key): OpenFlow 1.3's tunnel_id, Nicira's tun_id before it.</summary>
    public ulong TunnelId;
    public ulong EthSrc;
    public ulong EthDst;
    public ushort EthType;
    /// <summary>The VLAN id with <see cref="OfMatch.VlanPresent"/> set on a tagged packet; 0 for an untagged one (OpenFlow 1.3's OFPVID_* form).</summary>
    public ushort VlanVid;
    public byte VlanPcp;
    /// <summary>The IPv4 type-of-service byte's DSCP bits in place (tos &amp; 0xfc).</summary>
    public byte NwTos;
    public byte NwProto;
    public uint NwSrc;
    public uint NwDst;
    public ushort TpSrc;
    public ushort TpDst;
    /// <summary>The ECN bits of IPv4's TOS or IPv6's traffic class (0..3).</summary>
    public byte IpEcn;
    public UInt128 Ipv6Src;
    public UInt128 Ipv6Dst;
    /// <summary>IPv6's 20-bit flow label.</summary>
    public uint Ipv6Flabel;
    /// <summary>The target address of an ND solicitation or advertisement.</summary>
    public UInt128 NdTarget;
    /// <summary>ARP's sender hardware address, or ND's source link-layer address option.</summary>
    public ulong ArpSha;
    /// <summary>ARP's target hardware address, or ND's target link-layer address option.</summary>
    public ulong ArpTha;
    /// <summary>OpenFlow 1.3's OFPIEH_* flags of the IPv6 extension headers seen (9 bits).</summary>
    public ushort Ipv6ExtHdr;
    /// <summary>The top MPLS label stack entry's label (20 bits), traffic class (3 bits) and bottom-of-stack bit.</summary>
    public uint MplsLabel;
    public byte MplsTc;
    public byte MplsBos;
    /// <summary>PBB's 24-bit I-SID.</summary>
    public uint PbbIsid;
    /// <summary>Open vSwitch's registers (reg0-reg15, seen also as xreg0-7 and xxreg0-3): no packet carries them, the pipeline sets them.</summary>
    public OfRegisters Regs;
    /// <summary>Open vSwitch's conj_id: the id of the conjunctive match whose lookup this is (0 for every packet's own); not maskable.</summary>
    public uint ConjId;
    /// <summary>
    /// Open vSwitch's ip_frag (NXM_NX_IP_FRAG): <see cref="OfMatch.IpFragAny"/> on any IPv4 or IPv6 fragment,
    /// <see cref="OfMatch.IpFragLater"/> with it on one other than the first.
    /// </summary>
    public byte IpFrag;
    /// <summary>Open vSwitch's pkt_mark: a 32-bit pipeline word (0 when a packet arrives), matched and written as a register is.</summary>
    public uint PktMark;
    /// <summary>
    /// The output port of the action set so far (OpenFlow 1.5's ACTSET_OUTPUT) in OpenFlow 1.0's 16-bit numbers,
    /// <see cref="OfMatch.ActsetUnset"/> when it holds none; not maskable.
    /// </summary>
    public ushort ActsetOutput;
    /// <summary>The IP TTL (IPv4) or hop limit (IPv6), Open vSwitch's nw_ttl; not maskable.</summary>
    public byte NwTtl;
    /// <summary>The TCP flags, Open vSwitch's tcp_flags (12 bits: FIN 0x001 .. NS 0x100 and three reserved).</summary>
    public ushort TcpFlags;
    /// <summary>The IPv4 source and destination of the tunnel a packet was decapsulated from (tun_src, tun_dst; 0 off a tunnel).</summary>
    public uint TunSrc;
    public uint TunDst;
    /// <summary>Open vSwitch's dp_hash: 0 until a select group of selection method dp_hash picks a bucket, then that group's hash; read-only.</summary>
    public uint DpHash;

    public readonly bool Equals(OfFields o)
        => InPort == o.InPort && Metadata == o.Metadata && TunnelId == o.TunnelId && EthSrc == o.EthSrc && EthDst == o.EthDst
        && EthType == o.EthType && VlanVid == o.VlanVid && VlanPcp == o.VlanPcp && NwTos == o.NwTos && NwProto == o.NwProto
        && NwSrc == o.NwSrc && NwDst == o.NwDst && TpSrc == o.TpSrc && TpDst == o.TpDst
        && IpEcn == o.IpEcn && Ipv6Src == o.Ipv6Src && Ipv6Dst == o.Ipv6Dst && Ipv6Flabel == o.Ipv6Flabel && NdTarget == o.NdTarget
        && ArpSha == o.ArpSha && ArpTha == o.ArpTha && Ipv6ExtHdr == o.Ipv6ExtHdr && MplsLabel == o.MplsLabel && MplsTc == o.MplsTc
        && MplsBos == o.MplsBos && PbbIsid == o.PbbIsid && Regs.Equals(o.Regs) && ConjId == o.ConjId && IpFrag == o.IpFrag
        && PktMark == o.PktMark && ActsetOutput == o.ActsetOutput && NwTtl == o.NwTtl && TcpFlags == o.TcpFlags && TunSrc == o.TunSrc
        && TunDst == o.TunDst && DpHash == o.DpHash;

    public override readonly bool Equals(object? obj) => obj is OfFields f && Equals(f);
    public override readonly int GetHashCode()
        => HashCode.Combine(InPort, EthSrc, EthDst, EthType, VlanVid, NwSrc, NwDst,
                            HashCode.Combine(TpSrc, TpDst, NwProto, TunnelId, Metadata, Ipv6Src, Ipv6Dst,
                                             HashCode.Combine(MplsLabel, Ipv6Flabel, ArpSha, NdTarget, Regs, ConjId, IpFrag,
                                                              HashCode.Combine(PktMark, ActsetOutput, NwTtl, TcpFlags, TunSrc, TunDst, DpHash))));
    public static bool operator ==(OfFields a, OfFields b) => a.Equals(b);
    public static bool operator !=(OfFields a, OfFields b) => !a.Equals(b);
}

/// <summary>
/// A match, version-independent (as Open vSwitch's struct match): field values and a mask of the bits that count; a
/// field with a zero mask is not matched. Codecs decode their wire matches into it and encode it back; the OpenFlow
/// layer checks it against what the datapath can classify (<see cref="OfMatchCompiler"/>) and normalises it by each
/// version's rules (<see cref="OfMatchRules"/>).
/// </summary>
/// <remarks>
/// <see cref="Value"/> is kept ANDed with <see cref="Mask"/> by whoever builds it through the setters; a mask that is
/// not all ones is allowed where the spec allows it (nw_src/nw_dst prefixes in OpenFlow 1.0; arbitrary bit masks in
/// 1.3), and refused with <see cref="OfError.UnsupportedMask"/> where the datapath cannot classify it. Mutable value type.
/// </remarks>
[StructLayout(LayoutKind.Auto)]
public struct OfMatch : IEquatable<OfMatch>
{
    /// <summary>OFPVID_PRESENT: the bit of <see cref="OfFields.VlanVid"/> that says a packet is tagged.</summary>
    public const ushort VlanPresent = 0x1000;
    /// <summary>The bits of <see cref="OfFields.VlanVid"/>: the present bit and the 12-bit id.</summary>
    public const ushort VlanVidMask = 0x1fff;
    public const ulong MacMask = 0xffff_ffff_ffff;
    /// <summary>The bits of <see cref="OfFields.NwTos"/> a match uses (the DSCP; ECN is apart).</summary>
    public const byte TosMask = 0xfc;
    /// <summary>The bits of <see cref="OfFields.IpEcn"/>.</summary>
    public const byte EcnMask = 0x03;
    public const uint FlabelMask = 0xf_ffff;
    public const uint MplsLabelMask = 0xf_ffff;
    public const byte MplsTcMask = 7;
    public const byte MplsBosMask = 1;
    public const uint PbbIsidMask = 0xff_ffff;
    /// <summary>The bits of <see cref="OfFields.Ipv6ExtHdr"/> (OFPIEH_NONEXT .. OFPIEH_UNSEQ).</summary>
    public const ushort Ipv6ExtHdrMask = 0x1ff;
    /// <summary>The bits of <see cref="OfFields.IpFrag"/>: FLOW_NW_FRAG_ANY and FLOW_NW_FRAG_LATER.</summary>
    public const byte IpFragAny = 1, IpFragLater = 2, IpFragMask = 3;
    /// <summary>The bits of <see cref="OfFields.TcpFlags"/> (Open vSwitch's TCP_FLAGS: 12).</summary>
    public const ushort TcpFlagsMask = 0x0fff;
    /// <summary>Open vSwitch's OFPP_UNSET (0xfff7; 0xfffffff7 in 32-bit port numbers): <see cref="OfFields.ActsetOutput"/> with no output in the set.</summary>
    public const ushort ActsetUnset = 0xfff7;

    public OfFields Value;
    public OfFields Mask;

    /// <summary>A match of every packet.</summary>
    public static OfMatch Any => default;

    public OfMatch InPort(uint port) { Value.InPort = port; Mask.InPort = uint.MaxValue; return this; }
    public OfMatch Metadata(ulong value, ulong mask = ulong.MaxValue) { Value.Metadata = value & mask; Mask.Metadata = mask; return this; }
    public OfMatch TunnelId(ulong value, ulong mask = ulong.MaxValue) { Value.TunnelId = value & mask; Mask.TunnelId = mask; return this; }
    public OfMatch EthSrc(ulong value, ulong mask = MacMask) { Value.EthSrc = value & mask & MacMask; Mask.EthSrc = mask & MacMask; return this; }
    public OfMatch EthDst(ulong value, ulong mask = MacMask) { Value.EthDst = value & mask & MacMask; Mask.EthDst = mask & MacMask; return this; }
    public OfMatch EthType(ushort value) { Value.EthType = value; Mask.EthType = ushort.MaxValue; return this; }
    /// <summary>Untagged packets only.</summary>
    public OfMatch Untagged() { Value.VlanVid = 0; Mask.VlanVid = VlanVidMask; return this; }
    /// <summary>Packets tagged with VLAN <paramref name="vid"/>.</summary>
    public OfMatch Vlan(ushort vid) { Value.VlanVid = (ushort)(VlanPresent | (vid & 0xfff)); Mask.VlanVid = VlanVidMask; return this; }
    public OfMatch VlanVid(ushort value, ushort mask) { Value.VlanVid = (ushort)(value & mask & VlanVidMask); Mask.VlanVid = (ushort)(mask & VlanVidMask); return this; }
    public OfMatch VlanPcp(byte value) { Value.VlanPcp = (byte)(value & 7); Mask.VlanPcp = 7; return this; }
    public OfMatch NwTos(byte value) { Value.NwTos = (byte)(value & TosMask); Mask.NwTos = TosMask; return this; }
    public OfMatch NwProto(byte value) { Value.NwProto = value; Mask.NwProto = byte.MaxValue; return this; }
    public OfMatch NwSrc(uint value, uint mask = uint.MaxValue) { Value.NwSrc = value & mask; Mask.NwSrc = mask; return this; }
    public OfMatch NwDst(uint value, uint mask = uint.MaxValue) { Value.NwDst = value & mask; Mask.NwDst = mask; return this; }
    public OfMatch TpSrc(ushort value) { Value.TpSrc = value; Mask.TpSrc = ushort.MaxValue; return this; }
    public OfMatch TpDst(ushort value) { Value.TpDst = value; Mask.TpDst = ushort.MaxValue; return this; }
    /// <summary>OpenFlow 1.3's in_phy_port: the same slot as <see cref="InPort(uint)"/> (no port of this switch is a logical one over a physical).</summary>
    public OfMatch InPhyPort(uint port) => InPort(port);
    /// <summary>OpenFlow 1.3's ip_dscp (6 bits, stored in place in <see cref="OfFields.NwTos"/>).</summary>
    public OfMatch IpDscp(byte dscp) { Value.NwTos = (byte)((dscp << 2) & TosMask); Mask.NwTos = TosMask; return this; }
    public OfMatch IpEcn(byte ecn) { Value.IpEcn = (byte)(ecn & EcnMask); Mask.IpEcn = EcnMask; return this; }
    public OfMatch Ipv6Src(UInt128 value, UInt128? mask = null) { var m = mask ?? UInt128.MaxValue; Value.Ipv6Src = value & m; Mask.Ipv6Src = m; return this; }
    public OfMatch Ipv6Dst(UInt128 value, UInt128? mask = null) { var m = mask ?? UInt128.MaxValue; Value.Ipv6Dst = value & m; Mask.Ipv6Dst = m; return this; }
    public OfMatch Ipv6Flabel(uint value, uint mask = FlabelMask) { Value.Ipv6Flabel = value & mask & FlabelMask; Mask.Ipv6Flabel = mask & FlabelMask; return this; }
    /// <summary>ICMPv6's type (shares <see cref="OfFields.TpSrc"/>, as ICMP's does).</summary>
    public OfMatch Icmpv6Type(byte type) => TpSrc(type);
    /// <summary>ICMPv6's code (shares <see cref="OfFields.TpDst"/>).</summary>
    public OfMatch Icmpv6Code(byte code) => TpDst(code);
    public OfMatch NdTarget(UInt128 value, UInt128? mask = null) { var m = mask ?? UInt128.MaxValue; Value.NdTarget = value & m; Mask.NdTarget = m; return this; }
    public OfMatch ArpSha(ulong value, ulong mask = MacMask) { Value.ArpSha = value & mask & MacMask; Mask.ArpSha = mask & MacMask; return this; }
    public OfMatch ArpTha(ulong value, ulong mask = MacMask) { Value.ArpTha = value & mask & MacMask; Mask.ArpTha = mask & MacMask; return this; }
    /// <summary>ND's source link-layer address (the slot of ARP's SHA).</summary>
    public OfMatch NdSll(ulong value, ulong mask = MacMask) => ArpSha(value, mask);
    /// <summary>ND's target link-layer address (the slot of ARP's THA).</summary>
    public OfMatch NdTll(ulong value, ulong mask = MacMask) => ArpTha(value, mask);
    /// <summary>
    /// ARP's opcode: 16 bits on the wire, its low byte kept in <see cref="OfFields.NwProto"/> (as Open vSwitch does; a
    /// codec refuses an opcode above 255 as a bad value before it gets here).
    /// </summary>
    public OfMatch ArpOp(ushort op) => NwProto((byte)op);
    /// <summary>ARP's sender protocol address (the slot of IPv4's source).</summary>
    public OfMatch ArpSpa(uint value, uint mask = uint.MaxValue) => NwSrc(value, mask);
    /// <summary>ARP's target protocol address (the slot of IPv4's destination).</summary>
    public OfMatch ArpTpa(uint value, uint mask = uint.MaxValue) => NwDst(value, mask);
    public OfMatch MplsLabel(uint label) { Value.MplsLabel = label & MplsLabelMask; Mask.MplsLabel = MplsLabelMask; return this; }
    public OfMatch MplsTc(byte tc) { Value.MplsTc = (byte)(tc & MplsTcMask); Mask.MplsTc = MplsTcMask; return this; }
    public OfMatch MplsBos(byte bos) { Value.MplsBos = (byte)(bos & MplsBosMask); Mask.MplsBos = MplsBosMask; return this; }
    public OfMatch PbbIsid(uint value, uint mask = PbbIsidMask) { Value.PbbIsid = value & mask & PbbIsidMask; Mask.PbbIsid = mask & PbbIsidMask; return this; }
    public OfMatch Ipv6ExtHdr(ushort value, ushort mask = Ipv6ExtHdrMask) { Value.Ipv6ExtHdr = (ushort)(value & mask & Ipv6ExtHdrMask); Mask.Ipv6ExtHdr = (ushort)(mask & Ipv6ExtHdrMask); return this; }
    /// <summary>Register <paramref name="i"/> (reg0-reg15) under <paramref name="mask"/>.</summary>
    public OfMatch Reg(int i, uint value, uint mask = uint.MaxValue)
    {
        Value.Regs.SetReg(i, value & mask);
        Mask.Regs.SetReg(i, mask);
        return this;
    }

    /// <summary>The 64-bit register view <paramref name="i"/> (xreg0-xreg7: reg 2i and 2i+1) under <paramref name="mask"/>.</summary>
    public OfMatch XReg(int i, ulong value, ulong mask = ulong.MaxValue)
    {
        Value.Regs.SetXReg(i, value & mask);
        Mask.Regs.SetXReg(i, mask);
        return this;
    }

    /// <summary>The 128-bit register view <paramref name="i"/> (xxreg0-xxreg3: reg 4i to 4i+3) under <paramref name="mask"/>.</summary>
    public OfMatch XXReg(int i, UInt128 value, UInt128 mask)
    {
        Value.Regs.SetXXReg(i, value & mask);
        Mask.Regs.SetXXReg(i, mask);
        return this;
    }

    /// <summary>Open vSwitch's ip_frag under <paramref name="mask"/> (its two bits; see <see cref="OfFields.IpFrag"/>).</summary>
    public OfMatch IpFrag(byte value, byte mask = IpFragMask) { Value.IpFrag = (byte)(value & mask & IpFragMask); Mask.IpFrag = (byte)(mask & IpFragMask); return this; }

    /// <summary>Open vSwitch's pkt_mark under <paramref name="mask"/>.</summary>
    public OfMatch PktMark(uint value, uint mask = uint.MaxValue) { Value.PktMark = value & mask; Mask.PktMark = mask; return this; }

    /// <summary>Open vSwitch's dp_hash under <paramref name="mask"/>.</summary>
    public OfMatch DpHash(uint value, uint mask = uint.MaxValue) { Value.DpHash = value & mask; Mask.DpHash = mask; return this; }

    /// <summary>actset_output <paramref name="port"/> (16-bit numbers; <see cref="ActsetUnset"/>: no output in the set).</summary>
    public OfMatch ActsetOutput(ushort port) { Value.ActsetOutput = port; Mask.ActsetOutput = 0xffff; return this; }

    /// <summary>nw_ttl <paramref name="ttl"/>.</summary>
    public OfMatch NwTtl(byte ttl) { Value.NwTtl = ttl; Mask.NwTtl = 0xff; return this; }

    /// <summary>
    /// tcp_flags under <paramref name="mask"/>: the 12 flag bits are matched (<see cref="TcpFlagsMask"/>); a mask over all
    /// 16 bits is Open vSwitch's unmasked field (what <c>tcp_flags=syn|ack</c> gives), 0x0fff its masked form of the same bits.
    /// </summary>
    public OfMatch TcpFlags(ushort value, ushort mask = ushort.MaxValue)
    {
        Mask.TcpFlags = mask;
        Value.TcpFlags = (ushort)(value & mask & TcpFlagsMask);
        return this;
    }

    /// <summary>tun_src under <paramref name="mask"/>.</summary>
    public OfMatch TunSrc(uint value, uint mask = uint.MaxValue) { Value.TunSrc = value & mask; Mask.TunSrc = mask; return this; }

    /// <summary>tun_dst under <paramref name="mask"/>.</summary>
    public OfMatch TunDst(uint value, uint mask = uint.MaxValue) { Value.TunDst = value & mask; Mask.TunDst = mask; return this; }

    /// <summary>Open vSwitch's conj_id: the flow runs for packets that complete conjunctive match <paramref name="id"/>.</summary>
    public OfMatch ConjId(uint id) { Value.ConjId = id; Mask.ConjId = uint.MaxValue; return this; }

    /// <summary>An arbitrary-mask form of the fields above that take none on the wire (for codecs and tests).</summary>
    public OfMatch TpSrc(ushort value, ushort mask) { Value.TpSrc = (ushort)(value & mask); Mask.TpSrc = mask; return this; }
    public OfMatch TpDst(ushort value, ushort mask) { Value.TpDst = (ushort)(value & mask); Mask.TpDst = mask; return this; }

    /// <summary>The mask of an IPv4 prefix of <paramref name="bits"/> bits (0..32).</summary>
    public static uint PrefixMask(int bits) => bits <= 0 ? 0u : bits >= 32 ? uint.MaxValue : ~0u << (32 - bits);

    /// <summary>The prefix length of <paramref name="mask"/>, or -1 when it is not a prefix.</summary>
    public static int PrefixLength(uint mask)
    {
        int n = System.Numerics.BitOperations.LeadingZeroCount(~mask);
        return PrefixMask(n) == mask ? n : -1;
    }

    public readonly bool Equals(OfMatch o) => Value.Equals(o.Value) && Mask.Equals(o.Mask);
    public override readonly bool Equals(object? obj) => obj is OfMatch m && Equals(m);
    public override readonly int GetHashCode() => HashCode.Combine(Value, Mask);
    public static bool operator ==(OfMatch a, OfMatch b) => a.Equals(b);
    public static bool operator !=(OfMatch a, OfMatch b) => !a.Equals(b);
}
