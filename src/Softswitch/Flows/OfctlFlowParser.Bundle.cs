using System.Globalization;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Flows;

public static partial class OfctlFlowParser
{
    /// <summary>
    /// <c>bundle(fields,basis,algorithm,ofport,members:p,...)</c>, <c>bundle_load(fields,basis,algorithm,ofport,dst,members:p,...)</c>
    /// (ovs lib/bundle.c bundle_parse, bundle_parse_load, with their words for what is wrong; a bundle_load's destination
    /// here is a register, <c>NXM_NX_REGn[...]</c> or <c>regn[...]</c>) and <c>fin_timeout(idle_timeout=N,hard_timeout=M)</c>
    /// (parse_FIN_TIMEOUT). <paramref name="s"/>: what is inside the parentheses.
    /// </summary>
    private static bool TryBundleOrFinTimeout(string name, string s, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        if (name == "fin_timeout") return TryFinTimeout(s, out action, out error);
        int pos = 0;
        string? fields = Token(s, ref pos, ", "), basis = Token(s, ref pos, ", "), algorithm = Token(s, ref pos, ", ");
        string? memberType = Token(s, ref pos, ", ");
        string? dst = name == "bundle_load" ? Token(s, ref pos, ", ") : null;
        string? delim = Token(s, ref pos, ": ");
        if (delim is null || fields is null || basis is null || algorithm is null || memberType is null)
            return Fail($"{s}: not enough arguments to bundle action", out error);
        if (!delim.Equals("members", StringComparison.OrdinalIgnoreCase) && !delim.Equals("slaves", StringComparison.OrdinalIgnoreCase))
            return Fail($"{s}: missing member delimiter, expected `members', got `{delim}'", out error);
        var members = new List<ushort>();
        while (members.Count < NxBundleMaxMembers && Token(s, ref pos, ", []") is { } m)
        {
            if (!TryMemberPort(m, out ushort p)) return Fail($"{m}: bad port number", out error);
            members.Add(p);
        }
        int f = Array.FindIndex(FlowFormat.HashFieldNames, n => n.Equals(fields, StringComparison.OrdinalIgnoreCase));
        if (f < 0) return Fail($"{s}: unknown fields `{fields}'", out error);
        int alg = algorithm.Equals("active_backup", StringComparison.OrdinalIgnoreCase) ? Datapath.Actions.Bundle.ActiveBackup
            : algorithm.Equals("hrw", StringComparison.OrdinalIgnoreCase) ? Datapath.Actions.Bundle.Hrw : -1;
        if (alg < 0) return Fail($"{s}: unknown algorithm `{algorithm}'", out error);
        if (!memberType.Equals("ofport", StringComparison.OrdinalIgnoreCase)) return Fail($"{s}: unknown member_type `{memberType}'", out error);
        FieldRef? d = null;
        if (dst is not null)
        {
            if (!TryRegister(dst, out var r)) return Fail($"{s}: {dst}: a bundle_load's destination here is a register (NXM_NX_REG0[] ... NXM_NX_REG15[])", out error);
            if (r.Bits < 16) return Fail($"{s}: bundle_load action requires at least 16 bit destination", out error);
            d = r;
        }
        // bundle_check: the controller takes no part (Open vSwitch refuses the flow with OFPBAC_BAD_OUT_PORT).
        if (members.Contains(0xfffd)) return Fail($"{s}: unsupported controller member", out error);
        int id = BundleMembers.Register(members.ToArray());
        if (id < 0) return Fail($"{s}: too many distinct bundle member lists", out error);
        // C's atoi: the leading digits, 0 when none.
        int digits = 0;
        while (digits < basis.Length && char.IsAsciiDigit(basis[digits])) digits++;
        ushort b = digits == 0 ? (ushort)0 : (ushort)long.Parse(basis[..Math.Min(digits, 18)], CultureInfo.InvariantCulture);
        action = FlowAction.Bundle(d, f, b, alg, id);
        return true;
    }

    /// <summary>Open vSwitch's BUNDLE_MAX_MEMBERS: members past it are not read.</summary>
    private const int NxBundleMaxMembers = 2048;

    private static bool TryFinTimeout(string s, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        ushort idle = 0, hard = 0;
        foreach (var raw in s.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = raw.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? raw : raw[..eq], value = eq < 0 ? "" : raw[(eq + 1)..];
            if (key is not ("idle_timeout" or "hard_timeout")) return Fail($"invalid key '{key}' in 'fin_timeout' argument", out error);
            if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
                return Fail($"{key}: could not convert `{value}' to a 16-bit integer", out error);
            if (key == "idle_timeout") idle = v;
            else hard = v;
        }
        action = FlowAction.FinTimeout(idle, hard);
        return true;
    }

    /// <summary>
    /// <c>sample(probability=N,collector_set_id=N,obs_domain_id=N,obs_point_id=N[,sampling_port=P][,ingress|egress])</c>
    /// (ovs lib/ofp-actions.c parse_SAMPLE, with its words for what is wrong). Open vSwitch 3.4's field sources for the
    /// observation ids (NXAST_SAMPLE4) are not taken.
    /// </summary>
    private static bool TrySample(string s, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        ushort probability = 0, port = 0xffff;
        uint set = 0, domain = 0, point = 0;
        byte direction = 0;
        foreach (var raw in s.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = raw.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? raw : raw[..eq], value = eq < 0 ? "" : raw[(eq + 1)..];
            switch (key)
            {
                case "probability":
                    if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out probability))
                        return Fail($"invalid probability \"{value}\"", out error);
                    if (probability == 0) return Fail($"invalid probability value \"{value}\"", out error);
                    break;
                case "collector_set_id" or "obs_domain_id" or "obs_point_id":
                    if (!uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint v)) return Fail($"invalid numeric format {value}", out error);
                    if (key == "collector_set_id") set = v;
                    else if (key == "obs_domain_id") domain = v;
                    else point = v;
                    break;
                case "sampling_port":
                    if (!TryMemberPort(value, out port)) return Fail($"{value}: unknown port", out error);
                    break;
                case "ingress":
                    direction = 1;
                    break;
                case "egress":
                    direction = 2;
                    break;
                default:
                    return Fail($"invalid key \"{key}\" in \"sample\" argument", out error);
            }
        }
        if (probability == 0) return Fail("non-zero \"probability\" must be specified on sample", out error);
        action = FlowAction.Sample(probability, set, domain, point, port, direction);
        return true;
    }

    /// <summary>C's strtok_r: the next run of characters not in <paramref name="delims"/> from <paramref name="pos"/>, or null.</summary>
    private static string? Token(string s, ref int pos, string delims)
    {
        while (pos < s.Length && delims.Contains(s[pos], StringComparison.Ordinal)) pos++;
        if (pos >= s.Length) return null;
        int start = pos;
        while (pos < s.Length && !delims.Contains(s[pos], StringComparison.Ordinal)) pos++;
        string t = s[start..pos];
        if (pos < s.Length) pos++; // strtok_r consumes the one delimiter that ended the token
        return t;
    }

    /// <summary>A bundle member as ofputil_port_from_string reads it: a number below 0xff00 or a reserved port's name (16-bit OpenFlow numbers).</summary>
    private static bool TryMemberPort(string m, out ushort port)
    {
        port = m.ToUpperInvariant() switch
        {
            "IN_PORT" => 0xfff8,
            "TABLE" => 0xfff9,
            "NORMAL" => 0xfffa,
            "FLOOD" => 0xfffb,
            "ALL" => 0xfffc,
            "CONTROLLER" => 0xfffd,
            "LOCAL" => 0xfffe,
            "ANY" or "NONE" => 0xffff,
            _ => 0,
        };
        if (port != 0) return true;
        return ushort.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and < 0xff00;
    }

    /// <summary><c>NXM_NX_REGn[...]</c> or <c>regn[...]</c> (whole, one bit, or START..END) as a register field range.</summary>
    private static bool TryRegister(string s, out FieldRef r)
    {
        r = default;
        int bracket = s.IndexOf('[', StringComparison.Ordinal);
        string name = bracket < 0 ? s : s[..bracket];
        string digits = name.StartsWith("NXM_NX_REG", StringComparison.Ordinal) ? name[10..]
            : name.StartsWith("reg", StringComparison.Ordinal) ? name[3..] : "";
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 15) return false;
        int start = 0, end = 31;
        if (bracket >= 0)
        {
            string range = s[bracket..];
            if (range.Length < 2 || range[^1] != ']') return false;
            string inner = range[1..^1];
            int dots = inner.IndexOf("..", StringComparison.Ordinal);
            if (inner.Length == 0) { }
            else if (dots < 0)
            {
                if (!int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out start)) return false;
                end = start;
            }
            else if (!int.TryParse(inner[..dots], NumberStyles.None, CultureInfo.InvariantCulture, out start)
                     || !int.TryParse(inner[(dots + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out end))
            {
                return false;
            }
        }
        if (start > end || end > 31) return false;
        r = new FieldRef((PipelineField)((int)PipelineField.Reg0 + n), start, end - start + 1);
        return true;
    }
}
