using System.Text;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// Flow matches as text in the syntax of ovs-ofctl (<c>priority=100,ip,in_port=1,nw_dst=10.0.0.0/24</c>), for logs and
/// the control socket: what an operator typed into add-flow is what they read back.
/// </summary>
public static class FlowFormat
{
    /// <summary>The match's fields that are not wildcarded, with the protocol shorthands (ip, arp, tcp, udp, icmp).</summary>
    public static string Match(in FlowMatch m)
    {
        var sb = new StringBuilder(96);
        var w = m.Wildcards;
        var v = m.Value;
        bool Has(Wildcards f) => (w & f) == 0;

        bool protoShown = false;
        if (Has(Wildcards.DlType))
        {
            ushort t = v.DlType;
            if (t == 0x0800 && Has(Wildcards.NwProto) && v.NwProto is 1 or 6 or 17)
            {
                Add(sb, v.NwProto switch { 1 => "icmp", 6 => "tcp", _ => "udp" });
                protoShown = true;
            }
            else if (t == 0x0800) Add(sb, "ip");
            else if (t == 0x0806) Add(sb, "arp");
            else Add(sb, $"dl_type=0x{t:x4}");
        }
        if (Has(Wildcards.InPort)) Add(sb, $"in_port={v.InPort}");
        if (Has(Wildcards.DlVlan)) Add(sb, v.DlVlan == 0xFFFF ? "dl_vlan=0xffff" : $"dl_vlan={v.DlVlan}");
        if (Has(Wildcards.DlVlanPcp)) Add(sb, $"dl_vlan_pcp={v.DlVlanPcp}");
        if (Has(Wildcards.DlSrc)) Add(sb, $"dl_src={v.DlSrc}");
        if (Has(Wildcards.DlDst)) Add(sb, $"dl_dst={v.DlDst}");
        Prefix(sb, "nw_src", v.NwSrc, m.NwSrcPrefixBits);
        Prefix(sb, "nw_dst", v.NwDst, m.NwDstPrefixBits);
        if (Has(Wildcards.NwProto) && !protoShown) Add(sb, $"nw_proto={v.NwProto}");
        if (Has(Wildcards.NwTos)) Add(sb, $"nw_tos={v.NwTos}");
        if (Has(Wildcards.TpSrc)) Add(sb, $"tp_src={v.TpSrc}");
        if (Has(Wildcards.TpDst)) Add(sb, $"tp_dst={v.TpDst}");
        if ((w & Wildcards.TunIdExt) == 0) Add(sb, $"tun_id=0x{v.TunId:x}");
        return sb.ToString();
    }

    /// <summary>A flow as ovs-ofctl prints it, without counters: <c>priority=P,MATCH actions=...</c>.</summary>
    public static string Flow(FlowEntry e)
    {
        string match = Match(e.Match);
        return $"priority={e.Priority}{(match.Length > 0 ? "," + match : "")} actions={e.Actions}";
    }

    private static void Prefix(StringBuilder sb, string name, uint addr, int bits)
    {
        if (bits <= 0) return;
        Add(sb, bits >= 32 ? $"{name}={Ipv4.Format(addr)}" : $"{name}={Ipv4.Format(addr)}/{bits}");
    }

    private static void Add(StringBuilder sb, string field)
    {
        if (sb.Length > 0) sb.Append(',');
        sb.Append(field);
    }
}
