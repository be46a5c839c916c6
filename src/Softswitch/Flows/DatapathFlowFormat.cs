using System.Globalization;
using System.Text;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Flows;

/// <summary>
/// Flows as Open vSwitch's <c>ovs-appctl dpctl/dump-flows</c> prints a datapath flow: the key in its datapath syntax,
/// the counters, the actions:
/// <c>in_port(1),eth(src=..,dst=..),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0/0xfc),icmp(type=8,code=0), packets:5, bytes:490, used:0.508s, actions:2</c>.
/// </summary>
/// <remarks>
/// Key: <c>tunnel(tun_id=..)</c>, <c>in_port(N)</c>, <c>eth(src=..,dst=..)</c>, then for a tagged match
/// <c>eth_type(0x8100),vlan(vid=V,pcp=P),encap(...)</c> around the rest (no encap when the rest is empty), <c>eth_type(0x....)</c>, and by type
/// <c>ipv4(src,dst,proto,tos,frag)</c>, <c>ipv6(src,dst,label,proto,tclass)</c> or <c>arp(sip,tip,op,sha,tha)</c>, then
/// <c>tcp(src,dst)</c>, <c>udp(..)</c>, <c>sctp(..)</c>, <c>icmp(type,code)</c> or <c>icmpv6(type,code)</c>. As Open
/// vSwitch prints without <c>-m</c>: a field the match ignores is left out (a part with none is left out whole), a
/// field matched in part prints <c>value/mask</c>. The IPv4 <c>tos</c> is the whole byte (OpenFlow 1.0's nw_tos is
/// its DSCP bits, mask 0xfc; the ECN bits 0x03). A match has no "not a fragment" flag here, so <c>frag=later</c>
/// prints only for a later fragment. Actions: an output is its port (<c>2</c>; <c>IN_PORT</c> is the matched in_port
/// when the match names one), header changes before an output are <c>set(eth(src=..))</c>, <c>set(ipv4(dst=..))</c>,
/// <c>set(tcp(src=..))</c>, ..., a tag <c>pop_vlan</c> and <c>push_vlan(vid=V,pcp=P)</c>, no action <c>drop</c>;
/// what Open vSwitch's datapath has no word for (FLOOD, the controller, groups, meters, queues) is said in ovs-ofctl's
/// words (<see cref="FlowFormat.Action"/>). Counters: <c>packets:N, bytes:N, used:S.SSSs</c> (seconds since the
/// flow last counted a packet) or <c>used:never</c>. Management-plane only: allocates; thread safe (stateless).
/// </remarks>
public static class DatapathFlowFormat
{
    private const ushort EthIp = 0x0800, EthArp = 0x0806, EthIpv6 = 0x86dd, EthVlan = 0x8100;

    /// <summary>The key of <paramref name="m"/>; <paramref name="port"/> names a datapath port number.</summary>
    public static string Key(in FlowMatch m, Func<ushort, string> port)
    {
        var v = m.Value;
        ref readonly var q = ref m.Mask;
        var ic = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(160);
        if (q.TunId != 0) Part(sb, "tunnel", ("tun_id", Hex(v.TunId, q.TunId, ulong.MaxValue)));
        if (q.InPort != 0) Part(sb, "in_port", (null, q.InPort == 0xFFFF ? port(v.InPort) : Hex(v.InPort, q.InPort, 0xFFFF)));
        Part(sb, "eth", ("src", Mac(v.DlSrc, q.DlSrc)), ("dst", Mac(v.DlDst, q.DlDst)));
        bool tagged = q.VlanVid != 0 && (v.VlanVid & FlowKey.VlanPresent) != 0;
        if (tagged)
        {
            Part(sb, "eth_type", (null, "0x8100"));
            ushort vidMask = (ushort)(q.VlanVid & 0x0FFF);
            Part(sb, "vlan", ("vid", vidMask == 0 ? null : vidMask == 0x0FFF ? (v.VlanVid & 0x0FFF).ToString(ic) : Hex((ushort)(v.VlanVid & 0x0FFF), vidMask, 0x0FFF)),
                ("pcp", q.DlVlanPcp == 0 ? null : v.DlVlanPcp.ToString(ic)));
            sb.Append(",encap(");
        }
        int inner = sb.Length;
        bool typeSet = q.DlType == 0xFFFF;
        if (q.DlType != 0) Part(sb, "eth_type", (null, typeSet ? $"0x{v.DlType:x4}" : $"0x{v.DlType & q.DlType:x4}/0x{q.DlType:x4}"));
        bool protoSet = q.NwProto == 0xFF;
        string? proto = q.NwProto == 0 ? null : Byte(v.NwProto, q.NwProto);
        if (typeSet && v.DlType == EthIp)
        {
            byte tosMask = (byte)((q.NwTos & 0xFC) | (q.IpEcn & 0x03));
            byte tos = (byte)((v.NwTos & 0xFC) | (v.IpEcn & 0x03));
            Part(sb, "ipv4", ("src", Ip(v.NwSrc, q.NwSrc)), ("dst", Ip(v.NwDst, q.NwDst)), ("proto", proto),
                ("tos", tosMask == 0 ? null : Byte(tos, tosMask)),
                ("frag", Frag(v.NwFrag, q.NwFrag)));
            if (protoSet) L4(sb, v, q, v.NwProto switch { 6 => "tcp", 17 => "udp", 132 => "sctp", 1 => "icmp", _ => null });
        }
        else if (typeSet && v.DlType == EthIpv6)
        {
            Part(sb, "ipv6", ("src", Ip6(v.Ipv6Src, q.Ipv6Src)), ("dst", Ip6(v.Ipv6Dst, q.Ipv6Dst)),
                ("label", q.Ipv6Flabel == 0 ? null : Hex(v.Ipv6Flabel, q.Ipv6Flabel, 0xF_FFFF)), ("proto", proto),
                ("tclass", q.NwTos == 0 && q.IpEcn == 0 ? null : Byte((byte)((v.NwTos & 0xFC) | (v.IpEcn & 3)), (byte)((q.NwTos & 0xFC) | (q.IpEcn & 3)))),
                ("frag", Frag(v.NwFrag, q.NwFrag)));
            if (protoSet) L4(sb, v, q, v.NwProto switch { 6 => "tcp", 17 => "udp", 132 => "sctp", 58 => "icmpv6", _ => null });
        }
        else if (typeSet && v.DlType == EthArp)
        {
            Part(sb, "arp", ("sip", Ip(v.NwSrc, q.NwSrc)), ("tip", Ip(v.NwDst, q.NwDst)), ("op", proto),
                ("sha", m.UsesExtension ? Mac(v.ArpSha, q.ArpSha) : null), ("tha", m.UsesExtension ? Mac(v.ArpTha, q.ArpTha) : null));
        }
        if (tagged && sb.Length == inner) sb.Length -= ",encap(".Length;
        else if (tagged) sb.Append(')');
        return sb.ToString();
    }

    /// <summary><c>packets:N, bytes:N, used:S.SSSs</c> (<c>used:never</c> for a flow that never counted a packet).</summary>
    public static string Stats(FlowEntry e, long nowNanos)
    {
        var ic = CultureInfo.InvariantCulture;
        long packets = e.Packets;
        string used = packets == 0 ? "never" : (Math.Max(0, nowNanos - e.LastUsedNanos) / 1e9).ToString("0.000", ic) + "s";
        return $"packets:{packets.ToString(ic)}, bytes:{e.Bytes.ToString(ic)}, used:{used}";
    }

    /// <summary>The actions of <paramref name="e"/> as a datapath's actions (see the remarks).</summary>
    public static string Actions(FlowEntry e, Func<ushort, string> port)
    {
        var items = e.Actions.Items;
        if (items.Length == 0) return "drop";
        // A clone's actions are the items it counts: shown as the flow's own text, clone(...) and all.
        foreach (var c in items)
            if (c.Kind == ActionKind.Clone) return FlowFormat.Actions(e.Actions);
        var v = e.Match.Value;
        ref readonly var q = ref e.Match.Mask;
        bool inPortKnown = q.InPort == 0xFFFF;
        var ic = CultureInfo.InvariantCulture;
        var outList = new List<string>();
        // Header changes wait for the next output (or the end), as Open vSwitch commits them: one set() per header.
        var sets = new List<(string Header, List<string> Fields)>();
        bool wasTagged = q.VlanVid != 0 && (v.VlanVid & FlowKey.VlanPresent) != 0, tagged = wasTagged, tagChanged = false;
        int vid = v.VlanVid & 0x0FFF, pcp = v.DlVlanPcp;
        void Set(string header, string field)
        {
            int i = sets.FindIndex(s => s.Header == header);
            if (i < 0) sets.Add((header, [field]));
            else sets[i].Fields.Add(field);
        }
        void Commit()
        {
            foreach (var (header, fields) in sets) outList.Add($"set({header}({string.Join(',', fields)}))");
            sets.Clear();
            if (tagChanged)
            {
                if (tagged) outList.Add($"push_vlan(vid={vid.ToString(ic)},pcp={pcp.ToString(ic)})");
                tagChanged = false;
            }
        }
        bool ipv6 = q.DlType == 0xFFFF && v.DlType == EthIpv6;
        string l4 = q.NwProto == 0xFF && v.NwProto == 17 ? "udp" : q.NwProto == 0xFF && v.NwProto == 132 ? "sctp" : "tcp";
        foreach (var a in items)
        {
            switch (a.Kind)
            {
                case ActionKind.Output when a.Port is not (PortNumber.Flood or PortNumber.All or PortNumber.Controller or PortNumber.Normal or PortNumber.Table):
                    Commit();
                    outList.Add(a.Port == PortNumber.InPort ? (inPortKnown ? port(v.InPort) : "IN_PORT") : port(a.Port));
                    break;
                case ActionKind.SetDlSrc: Set("eth", $"src={new MacAddress(a.Value)}"); break;
                case ActionKind.SetDlDst: Set("eth", $"dst={new MacAddress(a.Value)}"); break;
                case ActionKind.SetNwSrc when !ipv6: Set("ipv4", $"src={Ipv4.Format((uint)a.Value)}"); break;
                case ActionKind.SetNwDst when !ipv6: Set("ipv4", $"dst={Ipv4.Format((uint)a.Value)}"); break;
                case ActionKind.SetNwTos when !ipv6: Set("ipv4", $"tos={(a.Value & 0xFC).ToString(ic)}/0xfc"); break;
                case ActionKind.SetNwTtl: Set(ipv6 ? "ipv6" : "ipv4", (ipv6 ? "hlimit=" : "ttl=") + a.Value.ToString(ic)); break;
                case ActionKind.SetIpv6Src: Set("ipv6", $"src={Ipv6Text(a.Wide)}"); break;
                case ActionKind.SetIpv6Dst: Set("ipv6", $"dst={Ipv6Text(a.Wide)}"); break;
                case ActionKind.SetTpSrc: Set(l4, $"src={a.Value.ToString(ic)}"); break;
                case ActionKind.SetTpDst: Set(l4, $"dst={a.Value.ToString(ic)}"); break;
                case ActionKind.StripVlan:
                    Commit();
                    if (tagged) outList.Add("pop_vlan");
                    tagged = false;
                    break;
                case ActionKind.PushVlan:
                    Commit();
                    tagged = true;
                    tagChanged = true;
                    vid = 0;
                    pcp = 0;
                    break;
                case ActionKind.SetVlanVid or ActionKind.SetVlanPcp:
                    if (!tagChanged && tagged)
                    {
                        Commit();
                        outList.Add("pop_vlan");
                    }
                    tagged = true;
                    tagChanged = true;
                    if (a.Kind == ActionKind.SetVlanVid) vid = (int)(a.Value & 0x0FFF);
                    else pcp = (int)(a.Value & 7);
                    break;
                default:
                    Commit();
                    outList.Add(FlowFormat.Action(a));
                    break;
            }
        }
        Commit();
        return outList.Count == 0 ? "drop" : string.Join(',', outList);
    }

    private static void L4(StringBuilder sb, in FlowKey v, in FlowKey q, string? name)
    {
        if (name is null) return;
        bool icmp = name is "icmp" or "icmpv6";
        Part(sb, name, (icmp ? "type" : "src", Port16(v.TpSrc, q.TpSrc)), (icmp ? "code" : "dst", Port16(v.TpDst, q.TpDst)));
    }

    /// <summary><c>,name(f1=v1,f2=v2)</c> for the fields with a value; nothing when none has one. A field named null is
    /// the part's only value (<c>in_port(1)</c>).</summary>
    private static void Part(StringBuilder sb, string name, params (string? Field, string? Value)[] fields)
    {
        bool any = false;
        foreach (var (_, value) in fields) any |= value is not null;
        if (!any) return;
        if (sb.Length > 0 && sb[^1] != '(') sb.Append(',');
        sb.Append(name).Append('(');
        bool first = true;
        foreach (var (field, value) in fields)
        {
            if (value is null) continue;
            if (!first) sb.Append(',');
            first = false;
            if (field is not null) sb.Append(field).Append('=');
            sb.Append(value);
        }
        sb.Append(')');
    }

    private static string? Mac(MacAddress value, MacAddress mask)
        => mask.Value == 0 ? null : mask.Value == 0xFFFF_FFFF_FFFFUL ? value.ToString() : $"{new MacAddress(value.Value & mask.Value)}/{mask}";

    private static string? Ip(uint value, uint mask)
        => mask == 0 ? null : mask == uint.MaxValue ? Ipv4.Format(value) : $"{Ipv4.Format(value & mask)}/{Ipv4.Format(mask)}";

    private static string? Ip6(UInt128 value, UInt128 mask)
        => mask == 0 ? null : mask == UInt128.MaxValue ? Ipv6Text(value) : $"{Ipv6Text(value & mask)}/{Ipv6Text(mask)}";

    private static string Byte(byte value, byte mask)
        => mask == 0xFF ? value.ToString(CultureInfo.InvariantCulture) : $"{(value & mask).ToString(CultureInfo.InvariantCulture)}/0x{mask:x2}";

    /// <summary>
    /// The datapath's frag as Open vSwitch's format_frag: an enumeration (no, first, later) under a mask of both bits;
    /// a mask of one bit (a flow's ip_frag=yes or not_later) as value/mask.
    /// </summary>
    private static string? Frag(byte value, byte mask)
    {
        mask &= FlowKey.NwFragMask;
        if (mask == 0) return null;
        if (mask != FlowKey.NwFragMask) return $"{value & mask}/0x{mask:x}";
        return (value & FlowKey.NwFragLater) != 0 ? "later" : (value & FlowKey.NwFragAny) != 0 ? "first" : "no";
    }

    private static string? Port16(ushort value, ushort mask)
        => mask == 0 ? null : mask == 0xFFFF ? value.ToString(CultureInfo.InvariantCulture) : $"{(value & mask).ToString(CultureInfo.InvariantCulture)}/0x{mask:x4}";

    private static string Hex(ulong value, ulong mask, ulong all)
        => mask == all ? $"0x{value:x}" : $"0x{value & mask:x}/0x{mask:x}";

    private static string Ipv6Text(UInt128 ip)
    {
        Span<byte> b = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, ip);
        return new System.Net.IPAddress(b).ToString();
    }
}
