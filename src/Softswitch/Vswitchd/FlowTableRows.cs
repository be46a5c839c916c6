using System.Globalization;
using Softswitch.Ofproto;
using Softswitch.Ovsdb;

namespace Softswitch.Vswitchd;

/// <summary>
/// A Bridge's <c>flow_tables</c> column and its Flow_Table rows, read as Open vSwitch's bridge_configure_tables reads
/// them into each table's settings (<see cref="OfTableSettings"/>): <c>name</c>, <c>flow_limit</c>,
/// <c>overflow_policy</c> (<c>evict</c> evicts; <c>refuse</c>, unset or anything else refuses), <c>groups</c> (each
/// <c>FIELD[]</c>, <c>FIELD[BIT]</c> or <c>FIELD[START..END]</c>; one that does not parse is left out) and
/// <c>prefixes</c> (<c>none</c>, or at most 3 of the fields Open vSwitch tracks prefixes of; recorded). What is left out
/// is said, in Open vSwitch's words where it has them; the rest of the row and of the bridge is served. Stateless.
/// </summary>
internal static class FlowTableRows
{
    /// <summary>Open vSwitch 3.1's most prefix fields a table takes (lib/classifier.h CLS_MAX_TRIES; the schema's max).</summary>
    public const int MaxPrefixes = 3;

    /// <summary>The fields Open vSwitch keeps prefix tries of (those with a prefix lookup member in meta-flow.h), by its names.</summary>
    private static readonly HashSet<string> s_prefixFields = new(StringComparer.Ordinal)
    {
        "tun_id", "tunnel_id", "tun_src", "tun_dst", "tun_ipv6_src", "tun_ipv6_dst", "ip_src", "nw_src", "ip_dst", "nw_dst", "ipv6_src", "ipv6_dst",
    };

    /// <summary>Other fields of Open vSwitch's (prefix lookup refuses them as incompatible rather than unknown).</summary>
    private static readonly HashSet<string> s_otherFields = new(StringComparer.Ordinal)
    {
        "in_port", "in_port_oxm", "metadata", "pkt_mark", "dp_hash", "recirc_id", "conj_id", "tun_flags", "tun_gbp_id", "tun_gbp_flags", "skb_priority",
        "ct_state", "ct_zone", "ct_mark", "ct_label", "eth_src", "dl_src", "eth_dst", "dl_dst", "eth_type", "dl_type", "vlan_tci", "dl_vlan", "vlan_vid",
        "dl_vlan_pcp", "vlan_pcp", "mpls_label", "mpls_tc", "mpls_bos", "mpls_ttl", "nw_proto", "ip_proto", "nw_tos", "ip_dscp", "nw_ecn", "ip_ecn",
        "nw_ttl", "ip_frag", "nw_frag", "arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha", "ipv6_label", "nd_target", "nd_sll", "nd_tll", "tcp_src",
        "tp_src", "tcp_dst", "tp_dst", "tcp_flags", "udp_src", "udp_dst", "sctp_src", "sctp_dst", "icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code",
        "actset_output", "packet_type",
    };

    /// <summary>The fields an eviction group may name, by each of their names (Open vSwitch's, NXM's, OXM's).</summary>
    private static readonly Dictionary<string, OfField> s_groupFields = GroupFields();

    private static Dictionary<string, OfField> GroupFields()
    {
        var d = new Dictionary<string, OfField>(StringComparer.Ordinal);
        void Add(OfField f, params string[] names)
        {
            foreach (var n in names) d[n] = f;
        }
        for (int i = 0; i < 16; i++) Add(OfField.Reg0 + (byte)i, $"reg{i}", $"NXM_NX_REG{i}");
        for (int i = 0; i < 8; i++) Add(OfField.XReg0 + (byte)i, $"xreg{i}", $"OXM_OF_PKT_REG{i}");
        for (int i = 0; i < 4; i++) Add(OfField.XXReg0 + (byte)i, $"xxreg{i}", $"NXM_NX_XXREG{i}");
        Add(OfField.InPort, "in_port", "NXM_OF_IN_PORT");
        Add(OfField.Metadata, "metadata", "OXM_OF_METADATA");
        Add(OfField.TunId, "tun_id", "tunnel_id", "NXM_NX_TUN_ID", "OXM_OF_TUNNEL_ID");
        Add(OfField.EthSrc, "eth_src", "dl_src", "NXM_OF_ETH_SRC", "OXM_OF_ETH_SRC");
        Add(OfField.EthDst, "eth_dst", "dl_dst", "NXM_OF_ETH_DST", "OXM_OF_ETH_DST");
        Add(OfField.EthType, "eth_type", "dl_type", "NXM_OF_ETH_TYPE", "OXM_OF_ETH_TYPE");
        Add(OfField.VlanTci, "vlan_tci", "NXM_OF_VLAN_TCI");
        Add(OfField.Ipv4Src, "ip_src", "nw_src", "NXM_OF_IP_SRC", "OXM_OF_IPV4_SRC");
        Add(OfField.Ipv4Dst, "ip_dst", "nw_dst", "NXM_OF_IP_DST", "OXM_OF_IPV4_DST");
        Add(OfField.IpProto, "nw_proto", "ip_proto", "NXM_OF_IP_PROTO", "OXM_OF_IP_PROTO");
        Add(OfField.TcpSrc, "tcp_src", "tp_src", "NXM_OF_TCP_SRC", "OXM_OF_TCP_SRC");
        Add(OfField.TcpDst, "tcp_dst", "tp_dst", "NXM_OF_TCP_DST", "OXM_OF_TCP_DST");
        Add(OfField.UdpSrc, "udp_src", "NXM_OF_UDP_SRC", "OXM_OF_UDP_SRC");
        Add(OfField.UdpDst, "udp_dst", "NXM_OF_UDP_DST", "OXM_OF_UDP_DST");
        Add(OfField.SctpSrc, "sctp_src", "OXM_OF_SCTP_SRC");
        Add(OfField.SctpDst, "sctp_dst", "OXM_OF_SCTP_DST");
        Add(OfField.Ipv6Src, "ipv6_src", "NXM_NX_IPV6_SRC", "OXM_OF_IPV6_SRC");
        Add(OfField.Ipv6Dst, "ipv6_dst", "NXM_NX_IPV6_DST", "OXM_OF_IPV6_DST");
        Add(OfField.ArpSpa, "arp_spa", "NXM_OF_ARP_SPA", "OXM_OF_ARP_SPA");
        Add(OfField.ArpTpa, "arp_tpa", "NXM_OF_ARP_TPA", "OXM_OF_ARP_TPA");
        Add(OfField.ArpSha, "arp_sha", "NXM_NX_ARP_SHA", "OXM_OF_ARP_SHA");
        Add(OfField.ArpTha, "arp_tha", "NXM_NX_ARP_THA", "OXM_OF_ARP_THA");
        return d;
    }

    /// <summary>
    /// The settings of each table the bridge's <c>flow_tables</c> names (0 to 253; a table id beyond is said and left
    /// out, as Open vSwitch leaves out a table its datapath does not have). What a row asks that is not taken is added
    /// to <paramref name="said"/> (logged as the bridge's).
    /// </summary>
    public static IReadOnlyDictionary<byte, OfTableSettings> Read(OvsdbReplica db, OvsdbRow bridge, List<string> said)
    {
        var tables = new SortedDictionary<byte, OfTableSettings>();
        foreach (var (key, value) in OvsdbDatum.Pairs(bridge["flow_tables"]))
        {
            if (OvsdbDatum.Integer(key) is not { } id || !OvsdbDatum.TryUuid(value, out var uuid) || db.Row("Flow_Table", uuid) is not { } row) continue;
            string table = id.ToString(CultureInfo.InvariantCulture);
            if (id is < 0 or >= OfFlowTables.MaxTables)
            {
                said.Add($"flow_tables: table {table} (ignoring configuration for flow table {table} not supported by this datapath: tables 0 to {OfFlowTables.MaxTables - 1})");
                continue;
            }
            tables[(byte)id] = ReadRow(row, table, said);
        }
        return tables;
    }

    /// <summary>One Flow_Table row as table <paramref name="table"/>'s settings.</summary>
    public static OfTableSettings ReadRow(OvsdbRow row, string table, List<string> said)
    {
        string? policy = row.String("overflow_policy");
        if (policy is not (null or "refuse" or "evict"))
            said.Add($"table {table}: overflow_policy={policy} (neither refuse nor evict: the table refuses, as Open vSwitch's bridge reads it)");
        var groups = new List<OfSubfield>();
        foreach (var g in row.Strings("groups").Order(StringComparer.Ordinal))
        {
            if (TryParseSubfield(g, out var sf, out var error)) groups.Add(sf);
            else said.Add($"table {table}: groups element '{g}' (error parsing 'groups' ({error}))");
        }
        var prefixes = new List<string>();
        bool prefixesSet = false;
        foreach (var p in row.Strings("prefixes").Order(StringComparer.Ordinal))
        {
            if (p == "none")
            {
                prefixesSet = true;
                prefixes.Clear();
                break;
            }
            if (!s_prefixFields.Contains(p))
            {
                said.Add(s_otherFields.Contains(p) || s_groupFields.ContainsKey(p)
                    ? $"table {table}: 'prefixes' with incompatible field: {p} (prefix lookup tracks tunnel and IP address fields only)"
                    : $"table {table}: 'prefixes' with unknown field: {p}");
                continue;
            }
            if (prefixes.Count >= MaxPrefixes)
            {
                said.Add($"table {table}: 'prefixes' with too many fields, field not used: {p} (at most {MaxPrefixes})");
                continue;
            }
            prefixesSet = true;
            prefixes.Add(p);
        }
        long? limit = row.Integer("flow_limit");
        return new OfTableSettings
        {
            Name = row.String("name") is { Length: > 0 } name ? name : null,
            FlowLimit = limit is { } l ? (int)Math.Clamp(l, 0, int.MaxValue) : null,
            Evict = policy == "evict",
            EvictionGroups = groups,
            Prefixes = prefixes,
            PrefixesSet = prefixesSet,
        };
    }

    /// <summary>
    /// An eviction group's field or subfield as Open vSwitch's mf_parse_subfield reads it: <c>FIELD</c> or
    /// <c>FIELD[]</c> (the whole field), <c>FIELD[BIT]</c>, <c>FIELD[START..END]</c>; false with Open vSwitch's words
    /// for what is wrong (a field this switch does not group by is an unknown one).
    /// </summary>
    public static bool TryParseSubfield(string s, out OfSubfield subfield, out string error)
    {
        subfield = default;
        int bracket = s.IndexOf('[', StringComparison.Ordinal);
        string name = bracket < 0 ? s : s[..bracket];
        if (!s_groupFields.TryGetValue(name, out var field))
        {
            error = $"{s}: unknown field `{name}'";
            return false;
        }
        int width = OfSubfield.Width(field), start = 0, end = width - 1;
        if (bracket >= 0)
        {
            string range = s[bracket..];
            int dots = range.IndexOf("..", StringComparison.Ordinal);
            bool closed = range.Length >= 2 && range[^1] == ']';
            bool parsed = range == "[]"
                || (closed && dots > 0 && int.TryParse(range[1..dots], NumberStyles.None, CultureInfo.InvariantCulture, out start)
                    && int.TryParse(range[(dots + 2)..^1], NumberStyles.None, CultureInfo.InvariantCulture, out end));
            if (!parsed && closed && dots < 0 && int.TryParse(range[1..^1], NumberStyles.None, CultureInfo.InvariantCulture, out start))
            {
                end = start;
                parsed = true;
            }
            if (!parsed)
            {
                error = $"{s}: syntax error expecting [] or [<bit>] or [<start>..<end>]";
                return false;
            }
        }
        if (start > end)
        {
            error = $"{s}: starting bit {start} is after ending bit {end}";
            return false;
        }
        if (start >= width)
        {
            error = $"{s}: starting bit {start} is not valid because field is only {width} bits wide";
            return false;
        }
        if (end >= width)
        {
            error = $"{s}: ending bit {end} is not valid because field is only {width} bits wide";
            return false;
        }
        subfield = new OfSubfield(field, start, end - start + 1);
        error = "";
        return true;
    }
}
