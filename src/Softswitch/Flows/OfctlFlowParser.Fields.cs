using System.Globalization;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Flows;

/// <summary>
/// The field actions as ovs-ofctl writes them and <see cref="FlowFormat"/> prints them: <c>load:VALUE-&gt;DST</c>,
/// <c>move:SRC-&gt;DST</c> (DST and SRC a field's NXM or OXM name and a range: <c>[]</c>, <c>[bit]</c>, <c>[start..end]</c>),
/// <c>set_field:VALUE-&gt;FIELD</c> and <c>output:SRC</c>. A load of a whole packet field is that field's set, marked as
/// written as a load (the action the OpenFlow layer makes of a whole-field NXAST_REG_LOAD, which dumps as the load
/// again); a 128-bit field's two 64-bit loads, the low bits first, are one such set.
/// </summary>
public static partial class OfctlFlowParser
{
    /// <summary>The fields a load, a move or output:SRC names, by the names <see cref="FlowFormat.FieldName"/> prints.</summary>
    private static readonly Dictionary<string, PipelineField> s_fieldNames = BuildFieldNames();

    private static Dictionary<string, PipelineField> BuildFieldNames()
    {
        var d = new Dictionary<string, PipelineField>(StringComparer.Ordinal);
        // Every value, not the enum's names alone: most registers have none.
        for (int i = 0; i <= byte.MaxValue; i++)
        {
            var f = (PipelineField)i;
            if (FieldRef.IsKnown(f)) d[FlowFormat.FieldName(f)] = f;
        }
        return d;
    }

    /// <summary>A field's name and range (<c>NXM_NX_REG0[0..15]</c>; <c>regN</c> for a register too) as a field range.</summary>
    private static bool TrySubfield(string s, out FieldRef r)
    {
        r = default;
        int bracket = s.IndexOf('[', StringComparison.Ordinal);
        string name = bracket < 0 ? s : s[..bracket];
        if (!s_fieldNames.TryGetValue(name, out var f))
        {
            if (!name.StartsWith("reg", StringComparison.Ordinal) || !int.TryParse(name.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 15)
                return false;
            f = (PipelineField)((int)PipelineField.Reg0 + n);
        }
        if (!TryRange(bracket < 0 ? "" : s[bracket..], FieldRef.Width(f), out int ofs, out int bits)) return false;
        r = new FieldRef(f, ofs, bits);
        return r.IsValid;
    }

    /// <summary><c>[]</c> or nothing (the whole <paramref name="width"/>), <c>[bit]</c> or <c>[start..end]</c>.</summary>
    private static bool TryRange(string range, int width, out int ofs, out int bits)
    {
        ofs = 0;
        bits = width;
        if (range.Length == 0 || range == "[]") return true;
        if (range.Length < 3 || range[0] != '[' || range[^1] != ']') return false;
        string inner = range[1..^1];
        int dots = inner.IndexOf("..", StringComparison.Ordinal);
        int start, end;
        if (dots < 0)
        {
            if (!int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out start)) return false;
            end = start;
        }
        else if (!int.TryParse(inner[..dots], NumberStyles.None, CultureInfo.InvariantCulture, out start)
                 || !int.TryParse(inner[(dots + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out end))
        {
            return false;
        }
        if (end < start || end >= width) return false;
        ofs = start;
        bits = end - start + 1;
        return true;
    }

    /// <summary>A number of up to 128 bits, decimal or <c>0x</c> hexadecimal.</summary>
    private static bool TryNumber128(string s, out UInt128 v)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return UInt128.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v) && s.Length > 2;
        return UInt128.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>
    /// The set a whole-field load of the field ovs-ofctl names <paramref name="name"/> is (see the type's remarks), or
    /// null for one that stays a load (a register, vlan_tci, vlan_vid's 13 bits, a field the switch does not set whole).
    /// </summary>
    private static FlowAction? LoadedSet(string name, UInt128 v) => name switch
    {
        "NXM_OF_ETH_SRC" => FlowAction.SetDlSrc(new MacAddress((ulong)v)),
        "NXM_OF_ETH_DST" => FlowAction.SetDlDst(new MacAddress((ulong)v)),
        "NXM_OF_IP_SRC" => FlowAction.SetNwSrc((uint)v),
        "NXM_OF_IP_DST" => FlowAction.SetNwDst((uint)v),
        "NXM_OF_IP_TOS" => (v & 3) == 0 ? FlowAction.SetNwTos((byte)v) : null,
        "OXM_OF_IP_DSCP" => FlowAction.SetNwTos((byte)(v << 2)).WrittenAs(OfAction.LoadFormRegLoad | OfAction.LoadFormOxmName),
        "NXM_OF_TCP_SRC" => FlowAction.SetTpSrc((ushort)v, 6),
        "NXM_OF_TCP_DST" => FlowAction.SetTpDst((ushort)v, 6),
        "NXM_OF_UDP_SRC" => FlowAction.SetTpSrc((ushort)v, 17),
        "NXM_OF_UDP_DST" => FlowAction.SetTpDst((ushort)v, 17),
        "OXM_OF_SCTP_SRC" => FlowAction.SetTpSrc((ushort)v, 132),
        "OXM_OF_SCTP_DST" => FlowAction.SetTpDst((ushort)v, 132),
        "NXM_NX_TUN_ID" => FlowAction.SetTunnel((ulong)v),
        "NXM_NX_IP_ECN" => FlowAction.SetIpEcn((byte)v),
        "NXM_NX_IP_TTL" => FlowAction.SetNwTtl((byte)v),
        "NXM_NX_IPV6_SRC" => FlowAction.SetIpv6Src(v),
        "NXM_NX_IPV6_DST" => FlowAction.SetIpv6Dst(v),
        "NXM_NX_ND_TARGET" => FlowAction.SetNdTarget(v),
        "NXM_NX_IPV6_LABEL" => FlowAction.SetIpv6Flabel((uint)v),
        "NXM_OF_ARP_OP" => FlowAction.SetArpOp((ushort)v),
        "NXM_OF_ARP_SPA" => FlowAction.SetArpSpa((uint)v),
        "NXM_OF_ARP_TPA" => FlowAction.SetArpTpa((uint)v),
        "NXM_NX_ARP_SHA" => FlowAction.SetArpSha(new MacAddress((ulong)v)),
        "NXM_NX_ARP_THA" => FlowAction.SetArpTha(new MacAddress((ulong)v)),
        "NXM_NX_ND_SLL" => FlowAction.SetNdSll(new MacAddress((ulong)v)),
        "NXM_NX_ND_TLL" => FlowAction.SetNdTll(new MacAddress((ulong)v)),
        "NXM_OF_ICMP_TYPE" => FlowAction.SetIcmpType((byte)v),
        "NXM_OF_ICMP_CODE" => FlowAction.SetIcmpCode((byte)v),
        "NXM_NX_ICMPV6_TYPE" => FlowAction.SetIcmpType((byte)v, icmpv6: true),
        "NXM_NX_ICMPV6_CODE" => FlowAction.SetIcmpCode((byte)v, icmpv6: true),
        "OXM_OF_VLAN_PCP" => FlowAction.SetVlanPcp((byte)v),
        "OXM_OF_MPLS_LABEL" => FlowAction.SetMplsLabel((uint)v),
        "OXM_OF_MPLS_TC" => FlowAction.SetMplsTc((byte)v),
        "OXM_OF_MPLS_BOS" => FlowAction.SetMplsBos((byte)v),
        "OXM_OF_PBB_ISID" => FlowAction.SetPbbIsid((uint)v),
        _ => null,
    };

    /// <summary>The value bits of a field only a whole load names here (no <see cref="PipelineField"/> of its own); 0: none.</summary>
    private static int LoadOnlyWidth(string name) => name switch
    {
        "NXM_NX_ND_TARGET" => 128,
        "NXM_NX_ND_SLL" or "NXM_NX_ND_TLL" => 48,
        "NXM_OF_ARP_OP" => 16,
        "NXM_OF_ICMP_TYPE" or "NXM_OF_ICMP_CODE" or "NXM_NX_ICMPV6_TYPE" or "NXM_NX_ICMPV6_CODE" => 8,
        "OXM_OF_IP_DSCP" => 6,
        "OXM_OF_VLAN_PCP" or "OXM_OF_MPLS_TC" => 3,
        "OXM_OF_MPLS_LABEL" => 20,
        "OXM_OF_MPLS_BOS" => 1,
        "OXM_OF_PBB_ISID" => 24,
        _ => 0,
    };

    /// <summary>A 128-bit field's low half loaded, waiting for its high half (Name null: none).</summary>
    private struct PendingHalf
    {
        public string? Name;
        public UInt128 Low;
    }

    /// <summary>
    /// <c>load:VALUE-&gt;DST</c>: a register or a part of a field as a load of those bits, a whole packet field as its set
    /// marked as a load. A 128-bit field's low half (<c>[0..63]</c>) waits in <paramref name="half"/> for its high half
    /// (<c>[64..127]</c>) next: the two are the field's set. <paramref name="action"/> is null while a half waits.
    /// </summary>
    private static bool TryLoad(string arg, ref PendingHalf half, out FlowAction? action, out string error)
    {
        action = null;
        error = "";
        int arrow = arg.IndexOf("->", StringComparison.Ordinal);
        if (arrow <= 0 || !TryNumber128(arg[..arrow], out var v)) return Fail($"load:{arg}: expected VALUE->FIELD[RANGE]", out error);
        string dst = arg[(arrow + 2)..];
        int bracket = dst.IndexOf('[', StringComparison.Ordinal);
        string name = bracket < 0 ? dst : dst[..bracket], range = bracket < 0 ? "" : dst[bracket..];
        bool wide = name is "NXM_NX_IPV6_SRC" or "NXM_NX_IPV6_DST" or "NXM_NX_ND_TARGET";
        if (wide && range == "[0..63]" && v <= ulong.MaxValue)
        {
            half = new PendingHalf { Name = name, Low = v };
            return true;
        }
        if (wide && range == "[64..127]" && half.Name == name && v <= ulong.MaxValue)
        {
            action = LoadedSet(name, v << 64 | half.Low)!.Value.WrittenAs(OfAction.LoadFormRegLoad);
            half = default;
            return true;
        }
        int only = LoadOnlyWidth(name);
        if (only > 0 && (range is "" or "[]") && (only == 128 || v >> only == 0) && LoadedSet(name, v) is { } set)
        {
            action = set.SetFieldForm == 0 ? set.WrittenAs(OfAction.LoadFormRegLoad) : set;
            return true;
        }
        if (!TrySubfield(dst, out var r)) return Fail($"load:{arg}: unknown field or bad range \"{dst}\"", out error);
        if ((v & ~r.ValueMask) != 0) return Fail($"load:{arg}: value does not fit in {r.Bits} bits", out error);
        if (!FieldRef.IsWritable(r.Field)) return Fail($"load:{arg}: {name} is not writable", out error);
        if (r.IsWhole && !FieldRef.IsRegister(r.Field) && LoadedSet(name, v) is { } whole)
        {
            action = whole.WrittenAs(OfAction.LoadFormRegLoad);
            return true;
        }
        action = FlowAction.FieldLoad(r, v, OfAction.LoadFormRegLoad);
        return true;
    }

    /// <summary><c>move:SRC-&gt;DST</c>: equal widths, the destination writable.</summary>
    private static bool TryMove(string arg, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        int arrow = arg.IndexOf("->", StringComparison.Ordinal);
        if (arrow <= 0 || !TrySubfield(arg[..arrow], out var src) || !TrySubfield(arg[(arrow + 2)..], out var dst))
            return Fail($"move:{arg}: expected SRC[RANGE]->DST[RANGE] of known fields", out error);
        if (src.Bits != dst.Bits) return Fail($"move:{arg}: source and destination widths differ ({src.Bits}, {dst.Bits})", out error);
        if (!FieldRef.IsWritable(dst.Field)) return Fail($"move:{arg}: {FlowFormat.FieldName(dst.Field)} is not writable", out error);
        action = FlowAction.FieldMove(src, dst);
        return true;
    }

    /// <summary>
    /// <c>multipath(FIELDS,BASIS,ALGORITHM,N_LINKS,ARG,DST[RANGE])</c> (here with ':' for ','), as Open vSwitch's
    /// multipath_parse: the hash fields and algorithm by name, 1 to 65536 links, a destination wide enough for them.
    /// </summary>
    private static bool TryMultipath(string arg, out FlowAction action)
    {
        action = default;
        string[] algorithms = ["modulo_n", "hash_threshold", "hrw", "iter_hash"];
        var p = arg.Split(':');
        if (p.Length != 6) return false;
        int fields = Array.IndexOf(FlowFormat.HashFieldNames, p[0]), algorithm = Array.IndexOf(algorithms, p[2]);
        if (fields < 0 || algorithm < 0 || !Num16(p[1], out var basis) || !uint.TryParse(p[3], NumberStyles.None, CultureInfo.InvariantCulture, out var links)
            || links is 0 or > 65536 || !uint.TryParse(p[4], NumberStyles.None, CultureInfo.InvariantCulture, out var extra) || !TrySubfield(p[5], out var dst)
            || !FieldRef.IsWritable(dst.Field) || (dst.Bits < 32 && (links - 1) >> dst.Bits != 0))
        {
            return false;
        }
        action = FlowAction.Multipath(dst, fields, basis, algorithm, (ushort)(links - 1), extra);
        return true;
    }

    /// <summary>
    /// <c>set_field:VALUE-&gt;FIELD</c> of a field <see cref="FlowFormat"/> prints as a set_field (nw_ttl and nw_tos, Open
    /// vSwitch's set_field of their NXM fields, marked so), the value as ovs-ofctl writes that field.
    /// </summary>
    private static bool TrySetField(string arg, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        int arrow = arg.IndexOf("->", StringComparison.Ordinal);
        if (arrow <= 0) return Fail($"set_field:{arg}: expected VALUE->FIELD", out error);
        string value = arg[..arrow], field = arg[(arrow + 2)..];
        bool ok = true;
        UInt128 n = 0;
        FlowAction? a = field switch
        {
            "ipv6_src" or "ipv6_dst" or "nd_target" => TryIpv6Address(value, out var ip)
                ? field switch { "ipv6_src" => FlowAction.SetIpv6Src(ip), "ipv6_dst" => FlowAction.SetIpv6Dst(ip), _ => FlowAction.SetNdTarget(ip) }
                : null,
            "arp_spa" or "arp_tpa" => Ipv4.TryParse(value, out var a4) ? field == "arp_spa" ? FlowAction.SetArpSpa(a4) : FlowAction.SetArpTpa(a4) : null,
            "arp_sha" or "arp_tha" or "nd_sll" or "nd_tll" => MacAddress.TryParse(value, out var mac)
                ? field switch
                {
                    "arp_sha" => FlowAction.SetArpSha(mac),
                    "arp_tha" => FlowAction.SetArpTha(mac),
                    "nd_sll" => FlowAction.SetNdSll(mac),
                    _ => FlowAction.SetNdTll(mac),
                }
                : null,
            _ => (ok = TryNumber128(value, out n)) ? NumericSet(field, n) : null,
        };
        if (a is not { } set) return Fail(ok ? $"set_field:{arg}: unknown field {field} or value out of range" : $"set_field:{arg}: bad value", out error);
        action = set;
        return true;
    }

    /// <summary>The set of numeric field <paramref name="field"/> to <paramref name="v"/>; null: unknown, or past the field's bits.</summary>
    private static FlowAction? NumericSet(string field, UInt128 v)
    {
        int bits = field switch
        {
            "icmp_type" or "icmp_code" or "icmpv6_type" or "icmpv6_code" or "ip_proto" or "nw_ttl" or "nw_tos" => 8,
            "arp_op" or "eth_type" => 16,
            "ipv6_label" or "mpls_label" => 20,
            "mpls_tc" => 3,
            "mpls_bos" => 1,
            "pbb_isid" => 24,
            _ => 0,
        };
        if (bits == 0 || v >> bits != 0) return null;
        byte b = (byte)v;
        return field switch
        {
            "icmp_type" => FlowAction.SetIcmpType(b),
            "icmp_code" => FlowAction.SetIcmpCode(b),
            "icmpv6_type" => FlowAction.SetIcmpType(b, icmpv6: true),
            "icmpv6_code" => FlowAction.SetIcmpCode(b, icmpv6: true),
            "ip_proto" => FlowAction.SetIpProto(b),
            "nw_ttl" => FlowAction.SetNwTtl(b).WrittenAs(OfAction.LoadFormNxSetField),
            "nw_tos" => (b & 3) == 0 ? FlowAction.SetNwTos(b).WrittenAs(OfAction.LoadFormNxSetField) : null,
            "arp_op" => FlowAction.SetArpOp((ushort)v),
            "eth_type" => FlowAction.SetEthType((ushort)v),
            "ipv6_label" => FlowAction.SetIpv6Flabel((uint)v),
            "mpls_label" => FlowAction.SetMplsLabel((uint)v),
            "mpls_tc" => FlowAction.SetMplsTc(b),
            "mpls_bos" => FlowAction.SetMplsBos(b),
            _ => FlowAction.SetPbbIsid((uint)v),
        };
    }
}
