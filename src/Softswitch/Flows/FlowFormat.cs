using System.Globalization;
using System.Text;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.Ofproto;

namespace Softswitch.Flows;

/// <summary>
/// Flows as text in ovs-ofctl's OpenFlow 1.0 syntax (what `ovs-ofctl dump-flows` prints and `add-flow` reads), for
/// the control socket and the logs.
/// </summary>
/// <remarks>
/// Match: a protocol shorthand when dl_type (and nw_proto) say it (<c>ip</c>, <c>tcp</c>, <c>udp</c>, <c>icmp</c>,
/// <c>arp</c>), then only the fields the match does not wildcard, in ovs-ofctl's order: in_port, dl_vlan, dl_vlan_pcp,
/// dl_src, dl_dst, dl_type, nw_src, nw_dst (with a /prefix when partly wildcarded), nw_proto, nw_tos, tp_src, tp_dst,
/// tun_id; an untagged match (<c>dl_vlan=0xffff</c>) prints as ovs-ofctl prints it, <c>vlan_tci=0x0000</c>. ARP addresses and opcode print as arp_spa/arp_tpa/arp_op, ICMP type/code as icmp_type/icmp_code. A match
/// of everything is the empty string. Actions: ovs-ofctl's names (<c>output:2</c>, <c>IN_PORT</c>, <c>FLOOD</c>,
/// <c>CONTROLLER:65535</c>, <c>mod_vlan_vid:5</c>, ..., <c>drop</c>). Port numbers are OpenFlow 1.0's, as ovs-ofctl
/// shows them: the reserved ones by name, any other number through the agent's wire map (<see cref="WireMap"/>), so a
/// number without a name prints as the controller wrote it. The one text form of flows and actions: the control socket,
/// the logs and the offload reports all print through it. Management-plane only: allocates; thread safe (stateless).
/// </remarks>
public static partial class FlowFormat
{
    private const ushort EthIp = 0x0800, EthArp = 0x0806, EthIpv6 = 0x86dd;

    /// <summary>A flow as ovs-ofctl prints it, without counters: <c>priority=P[,MATCH] actions=ACTIONS</c>.</summary>
    public static string Flow(FlowEntry e) => $"{Rule(e.Priority, e.Match)} actions={Actions(e.Actions)}";

    /// <summary>
    /// The head of a dump-flows line, the one form the control socket's and the offload report's lines share: the
    /// cookie, then (with <see cref="FlowHead.Counters"/>) duration, packet and byte counts, then the timeouts that are
    /// set, each part followed by <c>", "</c>, in ovs-ofctl's order. With counters the line starts with a space, as
    /// ovs-ofctl's dump-flows lines do:
    /// <c> cookie=0x1f, duration=2.500s, table=0, n_packets=2, n_bytes=180, idle_timeout=60, hard_timeout=600, </c>;
    /// without, the rule's own fields: <c>cookie=0x1f, table=0, idle_timeout=60, </c>. The caller appends what follows
    /// (flags, placement, the rule and its actions).
    /// </summary>
    /// <param name="cookie">The flow's cookie, as the OpenFlow layer keeps it (the datapath does not).</param>
    /// <param name="nowNanos">The clock's now, for the duration (read only with <see cref="FlowHead.Counters"/>).</param>
    public static StringBuilder AppendHead(StringBuilder sb, FlowEntry e, ulong cookie, long nowNanos, FlowHead parts)
    {
        var ic = CultureInfo.InvariantCulture;
        bool counters = (parts & FlowHead.Counters) != 0;
        if (counters) sb.Append(' ');
        sb.Append("cookie=0x").Append(cookie.ToString("x", ic));
        if (counters)
        {
            double seconds = Math.Max(0, nowNanos - e.CreatedNanos) / 1e9;
            sb.Append(", duration=").Append(seconds.ToString((parts & FlowHead.TrimmedDuration) != 0 ? "0.###" : "0.000", ic)).Append('s');
        }
        if ((parts & FlowHead.Table) != 0) sb.Append(", table=").Append((OfFlowRule.Of(e)?.TableId ?? OfFlowTables.MainTableId).ToString(ic));
        if (counters)
        {
            sb.Append(", n_packets=").Append(e.Packets.ToString(ic));
            sb.Append(", n_bytes=").Append(e.Bytes.ToString(ic));
        }
        sb.Append(", ");
        if (e.IdleTimeout != 0) sb.Append("idle_timeout=").Append(e.IdleTimeout.ToString(ic)).Append(", ");
        if (e.HardTimeout != 0) sb.Append("hard_timeout=").Append(e.HardTimeout.ToString(ic)).Append(", ");
        return sb;
    }

    /// <summary><c>priority=P[,match]</c>, the way ovs-ofctl prints a flow's rule.</summary>
    public static string Rule(ushort priority, in FlowMatch m)
    {
        string match = Match(m);
        return match.Length == 0 ? $"priority={priority}" : $"priority={priority},{match}";
    }

    public static string Match(in FlowMatch m)
    {
        var w = m.Wildcards;
        var v = m.Value;
        var sb = new StringBuilder(96);
        bool typeSet = (w & OfWildcards.DlType) == 0, protoSet = (w & OfWildcards.NwProto) == 0;
        bool ip = typeSet && v.DlType == EthIp, arp = typeSet && v.DlType == EthArp, ip6 = typeSet && v.DlType == EthIpv6;
        bool typeShown = false, protoShown = false;
        if (m.UsesConjId) Add(sb, "conj_id=", m.ConjIdValue.ToString(CultureInfo.InvariantCulture)); // first, as ovs's match_format
        if (ip && protoSet && v.NwProto is 1 or 6 or 17)
        {
            Add(sb, v.NwProto switch { 1 => "icmp", 6 => "tcp", _ => "udp" });
            typeShown = protoShown = true;
        }
        else if (ip6 && protoSet && v.NwProto is 58 or 6 or 17)
        {
            Add(sb, v.NwProto switch { 58 => "icmp6", 6 => "tcp6", _ => "udp6" });
            typeShown = protoShown = true;
        }
        else if (ip)
        {
            Add(sb, "ip");
            typeShown = true;
        }
        else if (ip6)
        {
            Add(sb, "ipv6");
            typeShown = true;
        }
        else if (arp)
        {
            Add(sb, "arp");
            typeShown = true;
        }

        if (m.UsesRegisters)
        {
            AppendRegisters(sb, m.RegisterValue, m.RegisterMask);
            AppendPipelineWords(sb, m.RegisterValue, m.RegisterMask);
        }
        if ((w & OfWildcards.InPort) == 0) Add(sb, "in_port=", Port(v.InPort));
        ushort vlanMask = m.Mask.VlanVid;
        bool partialVlan = vlanMask != 0 && vlanMask != FlowMask.VlanBits;
        bool untagged = !partialVlan && (w & OfWildcards.DlVlan) == 0 && v.DlVlan == 0xFFFF;
        if (partialVlan) Add(sb, "vlan_tci=", $"0x{v.VlanVid:x4}/0x{vlanMask:x4}");   // OFPVID_PRESENT is the TCI's CFI bit
        else if (untagged) Add(sb, "vlan_tci=0x0000");   // as ovs-ofctl shows dl_vlan=0xffff (its dl_vlan_pcp is 0 then)
        else if ((w & OfWildcards.DlVlan) == 0) Add(sb, "dl_vlan=", v.DlVlan.ToString(CultureInfo.InvariantCulture));
        if ((w & OfWildcards.DlVlanPcp) == 0 && !(untagged && v.DlVlanPcp == 0)) Add(sb, "dl_vlan_pcp=", v.DlVlanPcp.ToString(CultureInfo.InvariantCulture));
        AddMac(sb, "dl_src=", v.DlSrc, m.Mask.DlSrc);
        AddMac(sb, "dl_dst=", v.DlDst, m.Mask.DlDst);
        if (typeSet && !typeShown) Add(sb, "dl_type=", "0x" + v.DlType.ToString("x4", CultureInfo.InvariantCulture));
        ref readonly var q = ref m.Mask;
        AddIp(sb, arp ? "arp_spa=" : "nw_src=", v.NwSrc, q.NwSrc);
        AddIp(sb, arp ? "arp_tpa=" : "nw_dst=", v.NwDst, q.NwDst);
        AddIpv6(sb, "ipv6_src=", v.Ipv6Src, q.Ipv6Src);
        AddIpv6(sb, "ipv6_dst=", v.Ipv6Dst, q.Ipv6Dst);
        if (q.Ipv6Flabel != 0) AddMasked(sb, "ipv6_label=", v.Ipv6Flabel, q.Ipv6Flabel, 0xF_FFFF);
        if (protoSet && !protoShown) Add(sb, arp ? "arp_op=" : "nw_proto=", v.NwProto.ToString(CultureInfo.InvariantCulture));
        if ((w & OfWildcards.NwTos) == 0) Add(sb, "nw_tos=", v.NwTos.ToString(CultureInfo.InvariantCulture));
        if ((ip || ip6) && FragName(v.NwFrag, q.NwFrag) is { } frag) Add(sb, "nw_frag=", frag);
        bool icmp = ip && protoSet && v.NwProto == 1, icmp6 = ip6 && protoSet && v.NwProto == 58;
        if ((w & OfWildcards.TpSrc) == 0) Add(sb, icmp ? "icmp_type=" : icmp6 ? "icmpv6_type=" : "tp_src=", v.TpSrc.ToString(CultureInfo.InvariantCulture));
        if ((w & OfWildcards.TpDst) == 0) Add(sb, icmp ? "icmp_code=" : icmp6 ? "icmpv6_code=" : "tp_dst=", v.TpDst.ToString(CultureInfo.InvariantCulture));
        if ((w & OfWildcards.TunIdExt) == 0) Add(sb, "tun_id=", "0x" + v.TunId.ToString("x", CultureInfo.InvariantCulture));
        if (q.IpEcn != 0) Add(sb, "ip_ecn=", v.IpEcn.ToString(CultureInfo.InvariantCulture));
        if (m.UsesExtension) AppendExtension(sb, v, q, icmp6);
        return sb.ToString();
    }

    /// <summary>
    /// A match's registers as ovs-ofctl prints them: 32 bits at a time whatever view the rule was written with
    /// (<c>reg0=0x5</c>, <c>reg1=0x1/0xff</c>; a 0 is <c>0</c>, C's <c>%#x</c>).
    /// </summary>
    private static void AppendRegisters(StringBuilder sb, in Registers value, in Registers mask)
    {
        for (int i = 0; i < Registers.RegCount; i++)
        {
            uint mk = mask.Reg(i);
            if (mk == 0) continue;
            Add(sb, $"reg{i}=", Hex(value.Reg(i)) + (mk == uint.MaxValue ? "" : "/" + Hex(mk)));
        }
    }

    private static string Hex(UInt128 v) => v == 0 ? "0" : "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>
    /// A match's pipeline words as ovs-ofctl prints them (docs/datapath.md, "Pipeline words"): <c>dp_hash=0x1/0xf</c>
    /// (first, as Open vSwitch's match_format puts it before pkt_mark), <c>pkt_mark=0x5/0xff</c>,
    /// <c>actset_output=3</c> (or a reserved port's name, <c>UNSET</c>), <c>tun_src=1.2.3.0/24</c>, <c>tun_dst=...</c>,
    /// <c>nw_ttl=64</c>, <c>tcp_flags=+syn-ack</c>.
    /// </summary>
    private static void AppendPipelineWords(StringBuilder sb, in Registers value, in Registers mask)
    {
        if (mask.DpHash != 0) Add(sb, "dp_hash=", Hex(value.DpHash) + (mask.DpHash == uint.MaxValue ? "" : "/" + Hex(mask.DpHash)));
        if (mask.PktMark != 0) Add(sb, "pkt_mark=", Hex(value.PktMark) + (mask.PktMark == uint.MaxValue ? "" : "/" + Hex(mask.PktMark)));
        if (mask.ActsetOutputCode != 0) Add(sb, "actset_output=", value.ActsetOutput == Registers.ActsetUnset ? "UNSET" : Port(value.ActsetOutput));
        AddIp(sb, "tun_src=", (uint)(value.TunnelEndpoints >> 32), (uint)(mask.TunnelEndpoints >> 32));
        AddIp(sb, "tun_dst=", (uint)value.TunnelEndpoints, (uint)mask.TunnelEndpoints);
        if ((mask.PacketFields >> Registers.TtlShift & 0xFF) != 0)
            Add(sb, "nw_ttl=", (value.PacketFields >> Registers.TtlShift & 0xFF).ToString(CultureInfo.InvariantCulture));
        ushort flagsMask = (ushort)(mask.PacketFields & Registers.TcpFlagsMask);
        if (flagsMask != 0) Add(sb, "tcp_flags=", TcpFlags((ushort)(value.PacketFields & Registers.TcpFlagsMask), flagsMask));
    }

    private static readonly string[] s_tcpFlagNames = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];

    /// <summary>
    /// TCP flags under a mask as Open vSwitch's format_flags_masked prints them: over all 12 bits the set flags joined
    /// by <c>|</c> (<c>0</c> for none; a bit without a name in hex), otherwise each masked bit as <c>+name</c> or
    /// <c>-name</c> (<c>[Unknown]</c> for the three reserved bits).
    /// </summary>
    public static string TcpFlags(ushort value, ushort mask)
    {
        var sb = new StringBuilder(32);
        if (mask == Registers.TcpFlagsMask)
        {
            if (value == 0) return "0";
            int bad = 0;
            for (int bit = 0; bit < 12; bit++)
            {
                if ((value & (1 << bit)) == 0) continue;
                if (bit < s_tcpFlagNames.Length) sb.Append(sb.Length == 0 ? "" : "|").Append(s_tcpFlagNames[bit]);
                else bad |= 1 << bit;
            }
            if (bad != 0) sb.Append(sb.Length == 0 ? "" : "|").Append("0x").Append(bad.ToString("x", CultureInfo.InvariantCulture));
            return sb.ToString();
        }
        for (int bit = 0; bit < 12; bit++)
        {
            if ((mask & (1 << bit)) == 0) continue;
            sb.Append((value & (1 << bit)) != 0 ? '+' : '-').Append(bit < s_tcpFlagNames.Length ? s_tcpFlagNames[bit] : "[Unknown]");
        }
        return sb.ToString();
    }

    /// <summary>A field range as ovs-ofctl prints it: the field's NXM name (else its OXM one) and <c>[]</c> whole, <c>[ofs..end]</c>, or <c>[bit]</c>.</summary>
    public static string Subfield(FieldRef f)
    {
        string range = f.IsWhole ? "[]" : f.Bits == 1 ? $"[{f.Ofs}]" : $"[{f.Ofs}..{f.Ofs + f.Bits - 1}]";
        return FieldName(f.Field) + range;
    }

    /// <summary>Open vSwitch's name of a field in a move, load or output_reg (nxm_field_by_mf_id's name).</summary>
    public static string FieldName(PipelineField f) => f switch
    {
        <= PipelineField.Reg15 => $"NXM_NX_REG{(int)f}",
        >= PipelineField.XReg0 and <= PipelineField.XReg7 => $"OXM_OF_PKT_REG{f - PipelineField.XReg0}",
        >= PipelineField.XXReg0 and <= PipelineField.XXReg3 => $"NXM_NX_XXREG{f - PipelineField.XXReg0}",
        PipelineField.InPort => "NXM_OF_IN_PORT",
        PipelineField.Metadata => "OXM_OF_METADATA",
        PipelineField.TunId => "NXM_NX_TUN_ID",
        PipelineField.PktMark => "NXM_NX_PKT_MARK",
        PipelineField.DpHash => "NXM_NX_DP_HASH",
        PipelineField.EthSrc => "NXM_OF_ETH_SRC",
        PipelineField.EthDst => "NXM_OF_ETH_DST",
        PipelineField.EthType => "NXM_OF_ETH_TYPE",
        PipelineField.Ipv4Src => "NXM_OF_IP_SRC",
        PipelineField.Ipv4Dst => "NXM_OF_IP_DST",
        PipelineField.IpProto => "NXM_OF_IP_PROTO",
        PipelineField.TcpSrc => "NXM_OF_TCP_SRC",
        PipelineField.TcpDst => "NXM_OF_TCP_DST",
        PipelineField.UdpSrc => "NXM_OF_UDP_SRC",
        PipelineField.UdpDst => "NXM_OF_UDP_DST",
        PipelineField.SctpSrc => "OXM_OF_SCTP_SRC",
        PipelineField.SctpDst => "OXM_OF_SCTP_DST",
        PipelineField.Ipv6Src => "NXM_NX_IPV6_SRC",
        PipelineField.Ipv6Dst => "NXM_NX_IPV6_DST",
        PipelineField.ArpSpa => "NXM_OF_ARP_SPA",
        PipelineField.ArpTpa => "NXM_OF_ARP_TPA",
        PipelineField.ArpSha => "NXM_NX_ARP_SHA",
        PipelineField.ArpTha => "NXM_NX_ARP_THA",
        PipelineField.VlanTci => "NXM_OF_VLAN_TCI",
        PipelineField.IpTos => "NXM_OF_IP_TOS",
        PipelineField.VlanVid => "OXM_OF_VLAN_VID",
        PipelineField.IpEcn => "NXM_NX_IP_ECN",
        PipelineField.NwTtl => "NXM_NX_IP_TTL",
        PipelineField.Ipv6Label => "NXM_NX_IPV6_LABEL",
        _ => f.ToString(),
    };

    /// <summary>The fields of the key's extension a match uses, in ovs-ofctl's spelling.</summary>
    private static void AppendExtension(StringBuilder sb, in FlowKey v, in FlowKey q, bool icmp6)
    {
        AddIpv6(sb, "nd_target=", v.NdTarget, q.NdTarget);
        AddMac(sb, icmp6 ? "nd_sll=" : "arp_sha=", v.ArpSha, q.ArpSha);
        AddMac(sb, icmp6 ? "nd_tll=" : "arp_tha=", v.ArpTha, q.ArpTha);
        if (q.MplsLabel != 0) Add(sb, "mpls_label=", v.MplsLabel.ToString(CultureInfo.InvariantCulture));
        if (q.MplsTc != 0) Add(sb, "mpls_tc=", v.MplsTc.ToString(CultureInfo.InvariantCulture));
        if (q.MplsBos != 0) Add(sb, "mpls_bos=", v.MplsBos.ToString(CultureInfo.InvariantCulture));
        if (q.Metadata != 0) AddMasked(sb, "metadata=", v.Metadata, q.Metadata, ulong.MaxValue);
    }

    private static void AddMasked(StringBuilder sb, string name, ulong value, ulong mask, ulong all)
    {
        var ic = CultureInfo.InvariantCulture;
        Add(sb, name, mask == all ? "0x" + value.ToString("x", ic) : $"0x{value.ToString("x", ic)}/0x{mask.ToString("x", ic)}");
    }

    private static void AddIpv6(StringBuilder sb, string name, UInt128 value, UInt128 mask)
    {
        if (mask == 0) return;
        int bits = (int)UInt128.PopCount(mask);
        bool prefix = mask == (bits == 0 ? 0 : UInt128.MaxValue << (128 - bits));
        string addr = FormatIpv6(value & mask);
        Add(sb, name, bits == 128 ? addr : prefix ? $"{addr}/{bits}" : $"{addr}/{FormatIpv6(mask)}");
    }

    private static string FormatIpv6(UInt128 a)
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, a);
        return new System.Net.IPAddress(bytes).ToString();
    }

    /// <summary>
    /// A packet's flow key as ovs-appctl ofproto/trace prints its "Flow:" line: <c>udp,in_port=1,vlan_tci=0x0000,dl_src=..,
    /// dl_dst=..,nw_src=..,nw_dst=..,nw_tos=0,nw_proto=17,tp_src=..,tp_dst=..</c> (the shorthand for dl_type and
    /// nw_proto, untagged as <c>vlan_tci=0x0000</c>, tagged as <c>dl_vlan=V,dl_vlan_pcp=P</c>).
    /// </summary>
    public static string Key(in FlowKey k)
    {
        // The fields a packet of this type has: none above Ethernet for other types, no ports but for TCP, UDP and ICMP.
        var m = new FlowKeyBuilder(s_allOnes);
        bool ip = k.DlType == EthIp, arp = k.DlType == EthArp;
        if (!ip && !arp)
        {
            m.NwSrc(0);
            m.NwDst(0);
            m.NwProto(0);
        }
        if (!ip) m.NwTos(0);
        if (!ip || k.NwProto is not (1 or 6 or 17 or 132))
        {
            m.TpSrc(0);
            m.TpDst(0);
        }
        // A fragment says which (first, later); a whole packet's nw_frag=no is left out.
        if (k.NwFrag == 0) m.NwFrag(0);
        return Masked(k, m.Key);
    }

    private static readonly FlowKey s_allOnes = new(~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL);

    /// <summary>
    /// ip_frag's name for <paramref name="value"/> under <paramref name="mask"/> (FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_LATER), as
    /// Open vSwitch's mf_from_frag_string reads them: over both bits no, first or later; over ANY no or yes; over LATER
    /// not_later or later. Null when the mask has neither bit.
    /// </summary>
    public static string? FragName(byte value, byte mask)
    {
        bool any = (value & FlowKey.NwFragAny) != 0, later = (value & FlowKey.NwFragLater) != 0;
        return (mask & FlowKey.NwFragMask) switch
        {
            FlowKey.NwFragMask => any ? later ? "later" : "first" : later ? "<error>" : "no",
            FlowKey.NwFragAny => any ? "yes" : "no",
            FlowKey.NwFragLater => later ? "later" : "not_later",
            _ => null,
        };
    }

    /// <summary>ip_frag's value and mask for a name <see cref="FragName"/> gives (as Open vSwitch's all_frags table); false for another word.</summary>
    public static bool TryParseFrag(string? name, out byte value, out byte mask)
    {
        (value, mask) = name?.ToLowerInvariant() switch
        {
            "no" => ((byte)0, FlowKey.NwFragMask),
            "first" => (FlowKey.NwFragAny, FlowKey.NwFragMask),
            "later" => ((byte)(FlowKey.NwFragAny | FlowKey.NwFragLater), FlowKey.NwFragMask),
            "yes" => (FlowKey.NwFragAny, FlowKey.NwFragAny),
            "not_later" => ((byte)0, FlowKey.NwFragLater),
            _ => ((byte)0, (byte)0),
        };
        return mask != 0;
    }

    /// <summary>
    /// A key under a mask in ovs-ofctl's syntax, as OVS prints a megaflow: fields the mask ignores are left out, fully
    /// matched fields print as <c>field=value</c>, partly matched ones as <c>nw_src=10.0.0.0/24</c> (a prefix),
    /// <c>nw_src=10.0.0.1/255.0.255.0</c>, <c>dl_dst=01:00:00:00:00:00/01:00:00:00:00:00</c> or <c>tp_dst=0x50/0xfff0</c>.
    /// </summary>
    public static string Masked(in FlowKey value, in FlowKey mask)
    {
        var ic = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(128);
        bool typeSet = mask.DlType == 0xFFFF, protoSet = mask.NwProto == 0xFF;
        bool ip = typeSet && value.DlType == EthIp, arp = typeSet && value.DlType == EthArp;
        bool protoShown = false;
        if (ip && protoSet && value.NwProto is 1 or 6 or 17)
        {
            Add(sb, value.NwProto switch { 1 => "icmp", 6 => "tcp", _ => "udp" });
            protoShown = true;
        }
        else if (ip)
        {
            Add(sb, "ip");
        }
        else if (arp)
        {
            Add(sb, "arp");
        }

        if (mask.InPort == 0xFFFF) Add(sb, "in_port=", Port(value.InPort));
        else if (mask.InPort != 0) Add(sb, "in_port=", Hex16(value.InPort, mask.InPort));
        // The vlan field is OFPVID_PRESENT | vid (0 untagged); a whole-field mask covers the present bit and the id.
        bool vlanWhole = (mask.VlanVid & 0x1FFF) == 0x1FFF;
        bool untagged = vlanWhole && value.VlanVid == 0;
        if (mask.VlanVid != 0)
        {
            if (untagged) Add(sb, "vlan_tci=0x0000");
            else if (vlanWhole) Add(sb, "dl_vlan=", value.DlVlan.ToString(ic));
            else Add(sb, "vlan_vid=", Hex16(value.VlanVid, mask.VlanVid));
        }
        if (mask.DlVlanPcp != 0 && !(untagged && value.DlVlanPcp == 0)) Add(sb, "dl_vlan_pcp=", value.DlVlanPcp.ToString(ic));
        AddMac(sb, "dl_src=", value.DlSrc, mask.DlSrc);
        AddMac(sb, "dl_dst=", value.DlDst, mask.DlDst);
        if (mask.DlType != 0 && !(ip || arp)) Add(sb, "dl_type=", Hex16(value.DlType, mask.DlType, fixedWidth: true));
        AddIp(sb, arp ? "arp_spa=" : "nw_src=", value.NwSrc, mask.NwSrc);
        AddIp(sb, arp ? "arp_tpa=" : "nw_dst=", value.NwDst, mask.NwDst);
        if (mask.NwProto != 0 && !protoShown)
            Add(sb, arp ? "arp_op=" : "nw_proto=", mask.NwProto == 0xFF ? value.NwProto.ToString(ic) : $"0x{value.NwProto:x}/0x{mask.NwProto:x}");
        if (mask.NwTos != 0) Add(sb, "nw_tos=", mask.NwTos == 0xFF ? value.NwTos.ToString(ic) : $"0x{value.NwTos:x}/0x{mask.NwTos:x}");
        // ip_frag, as Open vSwitch's match_format names its value under its mask (a later fragment's ports read 0).
        if ((ip || (typeSet && value.DlType == 0x86DD)) && FragName(value.NwFrag, mask.NwFrag) is { } frag) Add(sb, "nw_frag=", frag);
        bool icmp = ip && protoSet && value.NwProto == 1;
        if (mask.TpSrc != 0) Add(sb, icmp ? "icmp_type=" : "tp_src=", mask.TpSrc == 0xFFFF ? value.TpSrc.ToString(ic) : Hex16(value.TpSrc, mask.TpSrc));
        if (mask.TpDst != 0) Add(sb, icmp ? "icmp_code=" : "tp_dst=", mask.TpDst == 0xFFFF ? value.TpDst.ToString(ic) : Hex16(value.TpDst, mask.TpDst));
        if (mask.TunId != 0 && (value.TunId & mask.TunId) != 0)
            Add(sb, "tun_id=", mask.TunId == ulong.MaxValue ? $"0x{value.TunId:x}" : $"0x{value.TunId & mask.TunId:x}/0x{mask.TunId:x}");
        return sb.ToString();
    }

    private static string Hex16(ushort value, ushort mask, bool fixedWidth = false)
        => mask == 0xFFFF ? (fixedWidth ? $"0x{value:x4}" : $"0x{value:x}") : fixedWidth ? $"0x{value & mask:x4}/0x{mask:x4}" : $"0x{value & mask:x}/0x{mask:x}";

    private static void AddMac(StringBuilder sb, string name, MacAddress value, MacAddress mask)
    {
        if (mask.Value == 0) return;
        Add(sb, name, mask.Value == 0xFFFF_FFFF_FFFFUL ? value.ToString() : $"{new MacAddress(value.Value & mask.Value)}/{mask}");
    }

    private static void AddIp(StringBuilder sb, string name, uint value, uint mask)
    {
        if (mask == 0) return;
        int bits = System.Numerics.BitOperations.PopCount(mask);
        bool prefix = mask == (bits == 0 ? 0 : uint.MaxValue << (32 - bits));
        Add(sb, name, prefix ? Prefix(value & mask, bits) : $"{Ipv4.Format(value & mask)}/{Ipv4.Format(mask)}");
    }

    public static string Actions(FlowActions actions)
    {
        if (actions.Items.Length == 0) return "drop";
        var sb = new StringBuilder(32);
        AppendActions(sb, actions, 0, actions.Items.Length);
        return sb.ToString();
    }

    /// <summary>Items <paramref name="from"/> to <paramref name="to"/> of <paramref name="actions"/>: a clone as ovs-ofctl
    /// prints it, <c>clone(ACTIONS)</c>, its actions being the items it counts.</summary>
    private static void AppendActions(StringBuilder sb, FlowActions actions, int from, int to)
    {
        bool first = true;
        for (int i = from; i < to; i++)
        {
            var a = actions.Items[i];
            if (a.Kind == ActionKind.LearnValue) continue; // the learn request's values (Learned shows the flow they make)
            if (!first) sb.Append(',');
            first = false;
            if (a.Kind == ActionKind.Note)
            {
                AppendNote(sb, actions.Data[a.QueueId]);
            }
            else if (a.Kind is ActionKind.Clone or ActionKind.Bucket)
            {
                int end = Math.Min(to, i + 1 + (int)a.QueueId);
                sb.Append(a.Kind == ActionKind.Clone ? "clone(" : "bucket(");
                AppendActions(sb, actions, i + 1, end);
                sb.Append(')');
                i = end - 1;
            }
            else if (a.Kind == ActionKind.ComposedGroup)
            {
                // A group whose buckets the walk composed (they resubmit): each bucket's composed actions in its order.
                int end = Math.Min(to, i + 1 + (int)a.Value);
                sb.Append("group:").Append(a.QueueId.ToString(CultureInfo.InvariantCulture)).Append('(');
                AppendActions(sb, actions, i + 1, end);
                sb.Append(')');
                i = end - 1;
            }
            else
            {
                sb.Append(Action(a));
            }
        }
    }

    /// <summary>A note as ovs-ofctl prints it: <c>note:</c> and its bytes in hex, dot-separated.</summary>
    private static void AppendNote(StringBuilder sb, byte[] note)
    {
        sb.Append("note:");
        for (int i = 0; i < note.Length; i++)
        {
            if (i > 0) sb.Append('.');
            sb.Append(note[i].ToString("x2", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// An output to the controller as ovs-ofctl prints it (format_CONTROLLER): <c>CONTROLLER:max_len</c>, or for Open
    /// vSwitch's controller action with another reason, an id or userdata, <c>controller(reason=...,max_len=...,id=...,userdata=...)</c>.
    /// </summary>
    private static string Controller(in FlowAction a)
    {
        if (!PacketInOrigin.IsControllerAction((uint)a.Value2, out byte reason, out ushort id))
            return $"CONTROLLER:{a.MaxLen}";
        var userData = PacketInOrigin.HasRecord((uint)a.Value2) ? ControllerUserData.Get(a.Value)?.UserData ?? [] : [];
        if (reason == 1 && id == 0 && userData.Length == 0) return $"CONTROLLER:{a.MaxLen}";
        var sb = new StringBuilder("controller(");
        if (reason != 1) sb.Append("reason=").Append(reason < 6 ? OfctlFlowParser.PacketInReasonNames[reason] : reason.ToString(CultureInfo.InvariantCulture)).Append(',');
        if (a.MaxLen != 0xffff) sb.Append("max_len=").Append(a.MaxLen.ToString(CultureInfo.InvariantCulture)).Append(',');
        if (id != 0) sb.Append("id=").Append(id.ToString(CultureInfo.InvariantCulture)).Append(',');
        if (userData.Length > 0)
        {
            sb.Append("userdata=");
            for (int i = 0; i < userData.Length; i++)
            {
                if (i > 0) sb.Append('.');
                sb.Append(userData[i].ToString("x2", CultureInfo.InvariantCulture));
            }
            sb.Append(',');
        }
        sb.Length--;
        return sb.Append(')').ToString();
    }

    /// <summary>A dec_ttl(ids) as ovs-ofctl prints it: <c>dec_ttl(1,2)</c>.</summary>
    private static string DecTtlIds(in FlowAction a)
    {
        var sb = new StringBuilder("dec_ttl(");
        for (int i = 0; i < a.TtlControllerIdCount; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(a.TtlControllerId(i).ToString(CultureInfo.InvariantCulture));
        }
        return sb.Append(')').ToString();
    }

    /// <summary>
    /// One action as ovs-ofctl prints it; a field set written as NXAST_REG_LOAD as the load it was, and nw_ttl and nw_tos
    /// written as OFPAT_SET_FIELD of their NXM field as that set_field.
    /// </summary>
    public static string Action(in FlowAction a) => (a.SetFieldForm & OfAction.LoadFormKindMask) switch
    {
        OfAction.LoadFormRegLoad when LoadedFieldName(a) is { } name => Loaded(a, name),
        OfAction.LoadFormNxSetField when a.Kind == ActionKind.SetNwTtl => $"set_field:{a.Value}->nw_ttl",
        OfAction.LoadFormNxSetField when a.Kind == ActionKind.SetNwTos => $"set_field:{a.Value}->nw_tos",
        _ => Plain(a),
    };

    /// <summary>Whether a field set written as a load named its field by the OXM header that names another field than the NXM one (ip_dscp).</summary>
    private static bool OxmNamed(in FlowAction a) => (a.SetFieldForm & OfAction.LoadFormOxmName) != 0;

    /// <summary>
    /// The NXM name (the OXM one of a field without one: SCTP, DSCP named so, VLAN PCP, MPLS, PBB) of the field a field
    /// set written as a load writes (null: one that is not written back as a load), as Open vSwitch's format_SET_FIELD
    /// prints a set_field whose raw action is NXAST_RAW_REG_LOAD.
    /// </summary>
    private static string? LoadedFieldName(in FlowAction a) => a.Kind switch
    {
        ActionKind.SetDlSrc => "NXM_OF_ETH_SRC",
        ActionKind.SetDlDst => "NXM_OF_ETH_DST",
        ActionKind.SetNwSrc => "NXM_OF_IP_SRC",
        ActionKind.SetNwDst => "NXM_OF_IP_DST",
        ActionKind.SetNwTos => OxmNamed(a) ? "OXM_OF_IP_DSCP" : "NXM_OF_IP_TOS",
        ActionKind.SetIcmpType => a.IsIcmpv6 ? "NXM_NX_ICMPV6_TYPE" : "NXM_OF_ICMP_TYPE",
        ActionKind.SetIcmpCode => a.IsIcmpv6 ? "NXM_NX_ICMPV6_CODE" : "NXM_OF_ICMP_CODE",
        ActionKind.SetVlanPcp => "OXM_OF_VLAN_PCP",
        ActionKind.SetMplsLabel => "OXM_OF_MPLS_LABEL",
        ActionKind.SetMplsTc => "OXM_OF_MPLS_TC",
        ActionKind.SetMplsBos => "OXM_OF_MPLS_BOS",
        ActionKind.SetPbbIsid => "OXM_OF_PBB_ISID",
        ActionKind.SetTpSrc => a.Value2 switch { 17 => "NXM_OF_UDP_SRC", 132 => "OXM_OF_SCTP_SRC", _ => "NXM_OF_TCP_SRC" },
        ActionKind.SetTpDst => a.Value2 switch { 17 => "NXM_OF_UDP_DST", 132 => "OXM_OF_SCTP_DST", _ => "NXM_OF_TCP_DST" },
        ActionKind.SetTunnel => "NXM_NX_TUN_ID",
        ActionKind.SetIpEcn => "NXM_NX_IP_ECN",
        ActionKind.SetNwTtl => "NXM_NX_IP_TTL",
        ActionKind.SetIpv6Src => "NXM_NX_IPV6_SRC",
        ActionKind.SetIpv6Dst => "NXM_NX_IPV6_DST",
        ActionKind.SetIpv6Flabel => "NXM_NX_IPV6_LABEL",
        ActionKind.SetArpOp => "NXM_OF_ARP_OP",
        ActionKind.SetArpSpa => "NXM_OF_ARP_SPA",
        ActionKind.SetArpTpa => "NXM_OF_ARP_TPA",
        ActionKind.SetArpSha => "NXM_NX_ARP_SHA",
        ActionKind.SetArpTha => "NXM_NX_ARP_THA",
        ActionKind.SetNdTarget => "NXM_NX_ND_TARGET",
        ActionKind.SetNdSll => "NXM_NX_ND_SLL",
        ActionKind.SetNdTll => "NXM_NX_ND_TLL",
        _ => null,
    };

    /// <summary>A whole-field load as ovs-ofctl prints it: <c>load:0xa000001-&gt;NXM_OF_IP_DST[]</c>; a 128-bit field as
    /// its two 64-bit loads, the low bits first (Open vSwitch's next_load_segment).</summary>
    private static string Loaded(in FlowAction a, string name)
        => a.Kind is ActionKind.SetIpv6Src or ActionKind.SetIpv6Dst or ActionKind.SetNdTarget
            ? $"load:{Hex(a.Value)}->{name}[0..63],load:{Hex(a.Value2)}->{name}[64..127]"
            : $"load:{Hex(a.Kind == ActionKind.SetNwTos && OxmNamed(a) ? a.Value >> 2 : a.Value)}->{name}[]";

    private static string Plain(in FlowAction a) => a.Kind switch
    {
        ActionKind.Output => a.Port switch
        {
            PortNumber.InPort => "IN_PORT",
            PortNumber.Table => "TABLE",
            PortNumber.Normal => "NORMAL",
            PortNumber.Flood => "FLOOD",
            PortNumber.All => "ALL",
            PortNumber.Controller => Controller(a),
            PortNumber.Local => "LOCAL",
            _ => $"output:{Port(a.Port)}",
        },
        ActionKind.Enqueue => $"enqueue:{Port(a.Port)}:{a.QueueId}",
        ActionKind.SetVlanVid => $"mod_vlan_vid:{a.Value}",
        ActionKind.SetVlanPcp => $"mod_vlan_pcp:{a.Value}",
        ActionKind.StripVlan => "strip_vlan",
        ActionKind.SetDlSrc => $"mod_dl_src:{new MacAddress(a.Value)}",
        ActionKind.SetDlDst => $"mod_dl_dst:{new MacAddress(a.Value)}",
        ActionKind.SetNwSrc => $"mod_nw_src:{Ipv4.Format((uint)a.Value)}",
        ActionKind.SetNwDst => $"mod_nw_dst:{Ipv4.Format((uint)a.Value)}",
        ActionKind.SetNwTos => $"mod_nw_tos:{a.Value}",
        ActionKind.SetTpSrc => $"mod_tp_src:{a.Value}",
        ActionKind.SetTpDst => $"mod_tp_dst:{a.Value}",
        ActionKind.SetTunnel => $"set_tunnel:0x{a.Value:x}",
        ActionKind.SetIpEcn => $"mod_nw_ecn:{a.Value}",
        ActionKind.SetIpv6Src => $"set_field:{Ipv6(a.Wide)}->ipv6_src",
        ActionKind.SetIpv6Dst => $"set_field:{Ipv6(a.Wide)}->ipv6_dst",
        ActionKind.SetIpv6Flabel => $"set_field:0x{a.Value:x}->ipv6_label",
        ActionKind.SetIcmpType => a.IsIcmpv6 ? $"set_field:{a.Value}->icmpv6_type" : $"set_field:{a.Value}->icmp_type",
        ActionKind.SetIcmpCode => a.IsIcmpv6 ? $"set_field:{a.Value}->icmpv6_code" : $"set_field:{a.Value}->icmp_code",
        ActionKind.SetArpOp => $"set_field:{a.Value}->arp_op",
        ActionKind.SetArpSpa => $"set_field:{Ipv4.Format((uint)a.Value)}->arp_spa",
        ActionKind.SetArpTpa => $"set_field:{Ipv4.Format((uint)a.Value)}->arp_tpa",
        ActionKind.SetArpSha => $"set_field:{new MacAddress(a.Value)}->arp_sha",
        ActionKind.SetArpTha => $"set_field:{new MacAddress(a.Value)}->arp_tha",
        ActionKind.SetNdTarget => $"set_field:{Ipv6(a.Wide)}->nd_target",
        ActionKind.SetNdSll => $"set_field:{new MacAddress(a.Value)}->nd_sll",
        ActionKind.SetNdTll => $"set_field:{new MacAddress(a.Value)}->nd_tll",
        ActionKind.SetMplsLabel => $"set_field:{a.Value}->mpls_label",
        ActionKind.SetMplsTc => $"set_field:{a.Value}->mpls_tc",
        ActionKind.SetMplsBos => $"set_field:{a.Value}->mpls_bos",
        ActionKind.SetPbbIsid => $"set_field:0x{a.Value:x}->pbb_isid",
        ActionKind.SetEthType => $"set_field:0x{a.Value:x4}->eth_type",
        ActionKind.SetIpProto => $"set_field:{a.Value}->ip_proto",
        ActionKind.PushVlan => $"push_vlan:0x{a.Value:x4}",
        ActionKind.PushMpls => $"push_mpls:0x{a.Value:x4}",
        ActionKind.PopMpls => $"pop_mpls:0x{a.Value:x4}",
        ActionKind.PushPbb => $"push_pbb:0x{a.Value:x4}",
        ActionKind.PopPbb => "pop_pbb",
        ActionKind.SetMplsTtl => $"set_mpls_ttl({a.Value})",
        ActionKind.DecMplsTtl => "dec_mpls_ttl",
        ActionKind.SetNwTtl => $"mod_nw_ttl:{a.Value}",
        ActionKind.DecNwTtl when a.HasTtlControllerIds => DecTtlIds(a),
        ActionKind.DecNwTtl => "dec_ttl",
        ActionKind.CopyTtlOut => "copy_ttl_out",
        ActionKind.CopyTtlIn => "copy_ttl_in",
        ActionKind.SetQueue => $"set_queue:{a.QueueId}",
        ActionKind.Group => $"group:{a.QueueId}",
        ActionKind.Meter => $"meter:{a.QueueId}",
        ActionKind.PacketInMetadata => $"set_field:0x{a.Value:x}->metadata",
        ActionKind.Recirculate => $"recirc(table {a.QueueId})",
        ActionKind.Exit => "exit",
        ActionKind.Conjunction => $"conjunction({a.ConjId},{a.ConjClause + 1}/{a.ConjClauses})",
        ActionKind.Note => "note", // its bytes are its list's (Actions prints them)
        ActionKind.Clone => "clone", // its actions are the items after it (Actions prints them inside)
        ActionKind.Multipath => Multipath(a),
        ActionKind.Bundle => Bundle(a),
        ActionKind.FinTimeout => FinTimeout(a),
        ActionKind.Sample => Sample(a),
        ActionKind.FieldLoad => $"load:{Hex(a.Wide)}->{Subfield(a.LoadDst)}",
        ActionKind.FieldMove => $"move:{Subfield(a.MoveSrc)}->{Subfield(a.MoveDst)}",
        ActionKind.OutputField => a.MaxLen is 0 or 0xffff ? $"output:{Subfield(a.OutputSrc)}" : $"output(port={Subfield(a.OutputSrc)},max_len={a.MaxLen})",
        ActionKind.Resubmit => a.Port == PortNumber.InPort
            ? $"resubmit(,{(a.QueueId == 0xff ? "" : a.QueueId.ToString(System.Globalization.CultureInfo.InvariantCulture))})"
            : $"resubmit({a.Port},{(a.QueueId == 0xff ? "" : a.QueueId.ToString(System.Globalization.CultureInfo.InvariantCulture))})",
        ActionKind.Learn => LearnTemplates.Get((int)a.QueueId) is OfLearn l ? Learn(l) : "learn(?)",
        ActionKind.LearnRequest => $"learn(table={LearnTemplates.Get((int)a.QueueId)?.Table})",
        _ => $"{a.Kind}:{a.Value}",
    };

    /// <summary>A multipath as ovs-ofctl prints it: <c>multipath(eth_src,50,modulo_n,4,0,NXM_NX_REG0[])</c>.</summary>
    private static string Multipath(in FlowAction a)
    {
        string[] fields = HashFieldNames;
        string[] algorithms = ["modulo_n", "hash_threshold", "hrw", "iter_hash"];
        string f = a.MultipathFields < fields.Length ? fields[a.MultipathFields] : a.MultipathFields.ToString(CultureInfo.InvariantCulture);
        string alg = a.MultipathAlgorithm < algorithms.Length ? algorithms[a.MultipathAlgorithm] : a.MultipathAlgorithm.ToString(CultureInfo.InvariantCulture);
        return $"multipath({f},{a.MultipathBasis},{alg},{a.MultipathMaxLink + 1},{a.MultipathArg},{Subfield(a.MultipathDst)})";
    }

    /// <summary>An IPv6 address in RFC 5952 text (as ovs-ofctl prints it).</summary>
    private static string Ipv6(UInt128 ip)
    {
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, ip);
        return new System.Net.IPAddress(b).ToString();
    }

    /// <summary>A port number, or its reserved name (LOCAL, CONTROLLER, ...).</summary>
    public static string Port(ushort port) => port switch
    {
        PortNumber.InPort => "IN_PORT",
        PortNumber.Table => "TABLE",
        PortNumber.Normal => "NORMAL",
        PortNumber.Flood => "FLOOD",
        PortNumber.All => "ALL",
        PortNumber.Controller => "CONTROLLER",
        PortNumber.Local => "LOCAL",
        PortNumber.None => "NONE",
        _ => WireMap.ToWirePort(OfPort.FromDatapath(port)).ToString(CultureInfo.InvariantCulture),
    };

    private static string Prefix(uint addr, int bits) => bits >= 32 ? Ipv4.Format(addr) : $"{Ipv4.Format(addr)}/{bits}";

    private static void Add(StringBuilder sb, string text)
    {
        if (sb.Length > 0) sb.Append(',');
        sb.Append(text);
    }

    private static void Add(StringBuilder sb, string name, string value)
    {
        if (sb.Length > 0) sb.Append(',');
        sb.Append(name).Append(value);
    }
}

/// <summary>What the head of a flow line (<see cref="FlowFormat.AppendHead"/>) holds besides the cookie and the timeouts.</summary>
[Flags]
public enum FlowHead
{
    /// <summary>The rule's own fields: <c>cookie=0x0, </c> and the timeouts that are set.</summary>
    Rule = 0,
    /// <summary>dump-flows: a leading space; duration (to the millisecond, <c>2.500s</c>), n_packets and n_bytes.</summary>
    Counters = 1,
    /// <summary><c>table=0</c> after the duration: the flow's OpenFlow table (<see cref="OfFlowRule.TableId"/>).</summary>
    Table = 2,
    /// <summary>With <see cref="Counters"/>: the duration without trailing zeros (<c>1.5s</c>), as the offload report prints it.</summary>
    TrimmedDuration = 4,
}
