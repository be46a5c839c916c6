using System.Globalization;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.Ofproto;

namespace Softswitch.Flows;

/// <summary>
/// Reads flows written in ovs-ofctl's OpenFlow 1.0 syntax (the lines of an <c>ovs-ofctl add-flows</c> file, or the
/// argument of <c>add-flow</c>) into Ofproto's flow-mods, meaning what ovs-ofctl would put on the OpenFlow 1.0 wire.
/// </summary>
/// <remarks>
/// ovs-ofctl's meaning, not a literal reading: <c>dl_vlan=0xffff</c> (untagged) also pins <c>dl_vlan_pcp</c> to 0, and
/// a field whose prerequisites are missing (<c>nw_src</c> without <c>ip</c> or <c>arp</c>, ...) is an error, as in
/// ovs-ofctl. The fields and actions it reads: docs/manual.md, "Flow syntax". Parsing allocates; it is management-plane
/// code.
/// </remarks>
public static partial class OfctlFlowParser
{
    public const ushort DefaultPriority = 0x8000;
    private const ushort EthIp = 0x0800, EthArp = 0x0806, EthIpv6 = 0x86dd, EthMpls = 0x8847, EthMplsMulticast = 0x8848;

    /// <summary>
    /// Every flow of an add-flows file (blank lines and lines starting with <c>#</c> are skipped) as ADD flow-mods.
    /// Throws <see cref="FormatException"/> naming the line of the first error.
    /// </summary>
    public static List<FlowMod> ParseFile(string path, FlowModCommand command = FlowModCommand.Add)
    {
        var mods = new List<FlowMod>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            var t = line.Trim();
            if (t.Length == 0 || t[0] == '#') continue;
            if (!TryParse(t, command, out var mod, out var error)) throw new FormatException($"{path}:{lineNo}: {error}");
            mods.Add(mod);
        }
        return mods;
    }

    /// <summary>One flow; false with a message naming the field on bad input.</summary>
    public static bool TryParse(string text, FlowModCommand command, out FlowMod mod, out string error)
    {
        mod = default;
        error = "";
        ArgumentNullException.ThrowIfNull(text);
        string matchPart = text, actionsPart = "";
        int a = IndexOfActions(text);
        bool needsActions = command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        if (a >= 0)
        {
            matchPart = text[..a];
            actionsPart = text[(a + "actions=".Length)..].Trim();
        }
        else if (needsActions)
        {
            error = "must specify an action";
            return false;
        }

        var b = new FlowKeyBuilder();
        var w = OfWildcards.All | OfWildcards.TunIdExt;
        var xm = new FlowKeyBuilder();   // the mask of the fields OpenFlow 1.0 wildcards cannot say
        ushort priority = DefaultPriority, idle = 0, hard = 0, outPort = PortNumber.None;
        ulong cookie = 0;
        var flags = FlowModFlags.None;
        int srcBits = 0, dstBits = 0;
        bool vlanNone = false, pcpSet = false;
        Registers regMask = default, regValue = default; // the pipeline words (dp_hash)
        var seen = new HashSet<string>(StringComparer.Ordinal);

        foreach (var raw in matchPart.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = raw.IndexOf('=');
            string name = (eq < 0 ? raw : raw[..eq]).ToLowerInvariant();
            string? value = eq < 0 ? null : raw[(eq + 1)..];
            if (!seen.Add(name))
            {
                error = $"field {name} set multiple times";
                return false;
            }
            if (value is null)
            {
                switch (name)
                {
                    case "ip": SetType(ref b, ref w, EthIp); break;
                    case "arp": SetType(ref b, ref w, EthArp); break;
                    case "icmp": SetType(ref b, ref w, EthIp); SetProto(ref b, ref w, 1); break;
                    case "tcp": SetType(ref b, ref w, EthIp); SetProto(ref b, ref w, 6); break;
                    case "udp": SetType(ref b, ref w, EthIp); SetProto(ref b, ref w, 17); break;
                    case "ipv6": SetType(ref b, ref w, EthIpv6); break;
                    case "icmp6": SetType(ref b, ref w, EthIpv6); SetProto(ref b, ref w, 58); break;
                    case "tcp6": SetType(ref b, ref w, EthIpv6); SetProto(ref b, ref w, 6); break;
                    case "udp6": SetType(ref b, ref w, EthIpv6); SetProto(ref b, ref w, 17); break;
                    case "send_flow_rem": flags |= FlowModFlags.SendFlowRemoved; break;
                    case "check_overlap": flags |= FlowModFlags.CheckOverlap; break;
                    case "emerg": flags |= FlowModFlags.Emergency; break;
                    default: error = $"unknown keyword {raw}"; return false;
                }
                continue;
            }
            if (value.Length == 0)
            {
                error = $"field {name} needs a value";
                return false;
            }
            switch (name)
            {
                case "priority": if (!Num16(value, out priority)) return Bad(name, value, out error); break;
                case "idle_timeout": if (!Num16(value, out idle)) return Bad(name, value, out error); break;
                case "hard_timeout": if (!Num16(value, out hard)) return Bad(name, value, out error); break;
                case "cookie": if (!Num64(value, out cookie)) return Bad(name, value, out error); break;
                case "table":
                    if (!Num16(value, out var table) || table != 0) { error = $"table={value}: OpenFlow 1.0 has table 0 only"; return false; }
                    break;
                case "out_port": if (!TryPort(value, out outPort)) return Bad(name, value, out error); break;
                case "in_port":
                    if (!TryPort(value, out var inPort)) return Bad(name, value, out error);
                    b.InPort(inPort);
                    w &= ~OfWildcards.InPort;
                    break;
                case "dl_vlan":
                    if (!Num16(value, out var vid) || (vid > 0x0FFF && vid != 0xFFFF)) return Bad(name, value, out error);
                    b.DlVlan(vid);
                    w &= ~OfWildcards.DlVlan;
                    vlanNone = vid == 0xFFFF;
                    break;
                case "vlan_tci":
                    // What ovs-ofctl prints for OpenFlow 1.0 matches: 0x0000 (untagged), or a tag with its CFI bit (VID and PCP).
                    if (!Num16(value, out var tci) || (tci != 0 && (tci & 0x1000) == 0))
                    {
                        error = $"vlan_tci={value}: OpenFlow 1.0 matches vlan_tci=0x0000 (untagged) or a tag 0x1000|PCP<<13|VID, without a mask";
                        return false;
                    }
                    if (tci == 0)
                    {
                        b.DlVlan(0xFFFF);
                        vlanNone = true;
                    }
                    else
                    {
                        b.DlVlan((ushort)(tci & 0x0FFF));
                        b.DlVlanPcp((byte)(tci >> 13));
                        w &= ~OfWildcards.DlVlanPcp;
                        pcpSet = true;
                    }
                    w &= ~OfWildcards.DlVlan;
                    break;
                case "dl_vlan_pcp":
                    if (!Num16(value, out var pcp) || pcp > 7) return Bad(name, value, out error);
                    b.DlVlanPcp((byte)pcp);
                    w &= ~OfWildcards.DlVlanPcp;
                    pcpSet = true;
                    break;
                case "dl_src":
                case "dl_dst":
                    if (!TryMac(value, out var mac)) return Bad(name, value, out error);
                    if (name == "dl_src") { b.DlSrc(mac); w &= ~OfWildcards.DlSrc; }
                    else { b.DlDst(mac); w &= ~OfWildcards.DlDst; }
                    break;
                case "dl_type":
                    if (!Num16(value, out var type)) return Bad(name, value, out error);
                    if ((w & OfWildcards.DlType) == 0 && b.Key.DlType != type) { error = $"dl_type={value} contradicts the protocol shorthand"; return false; }
                    SetType(ref b, ref w, type);
                    break;
                case "nw_src":
                case "arp_spa":
                case "nw_dst":
                case "arp_tpa":
                    if (!TryPrefix(value, out uint addr, out int bits)) return Bad(name, value, out error);
                    if (name is "nw_src" or "arp_spa") { b.NwSrc(addr); srcBits = bits; }
                    else { b.NwDst(addr); dstBits = bits; }
                    break;
                case "nw_proto":
                case "arp_op":
                    if (!Num16(value, out var proto) || proto > 255) return Bad(name, value, out error);
                    if ((w & OfWildcards.NwProto) == 0 && b.Key.NwProto != proto) { error = $"{name}={value} contradicts the protocol shorthand"; return false; }
                    SetProto(ref b, ref w, (byte)proto);
                    break;
                case "nw_tos":
                    if (!Num16(value, out var tos) || tos > 255 || (tos & 3) != 0) { error = $"nw_tos={value}: a DSCP value (0-252, low two bits zero)"; return false; }
                    b.NwTos((byte)tos);
                    w &= ~OfWildcards.NwTos;
                    break;
                case "ip_dscp":
                    if (!Num16(value, out var dscp) || dscp > 63) return Bad(name, value, out error);
                    if (seen.Contains("nw_tos")) { error = "ip_dscp and nw_tos say the same bits: give one"; return false; }
                    b.NwTos((byte)(dscp << 2));
                    w &= ~OfWildcards.NwTos;
                    break;
                case "ip_ecn":
                    if (!Num16(value, out var ecn) || ecn > 3) return Bad(name, value, out error);
                    b.IpEcn((byte)ecn);
                    xm.IpEcn(3);
                    break;
                case "ipv6_src":
                case "ipv6_dst":
                case "nd_target":
                    {
                        if (!TryIpv6(value, out var addr6, out var mask6)) return Bad(name, value, out error);
                        if (name == "ipv6_src") { b.Ipv6Src(addr6); xm.Ipv6Src(mask6); }
                        else if (name == "ipv6_dst") { b.Ipv6Dst(addr6); xm.Ipv6Dst(mask6); }
                        else { b.NdTarget(addr6); xm.NdTarget(mask6); }
                        break;
                    }
                case "ipv6_label":
                    {
                        if (!TryMasked(value, 0xF_FFFF, out var label, out var labelMask)) return Bad(name, value, out error);
                        b.Ipv6Flabel((uint)label);
                        xm.Ipv6Flabel((uint)labelMask);
                        break;
                    }
                case "ip_frag":
                case "nw_frag":
                    {
                        if (seen.Contains("ip_frag") && seen.Contains("nw_frag")) { error = "ip_frag and nw_frag name one field: give one"; return false; }
                        if (!FlowFormat.TryParseFrag(value, out var frag, out var fragMask))
                        {
                            error = $"{name}={value}: unknown fragment type (valid types are \"no\", \"yes\", \"first\", \"later\", \"not_later\")";
                            return false;
                        }
                        b.NwFrag(frag);
                        xm.NwFrag(fragMask);
                        break;
                    }
                case "arp_sha":
                case "arp_tha":
                case "nd_sll":
                case "nd_tll":
                    {
                        if (!TryMaskedMac(value, out var hw, out var hwMask)) return Bad(name, value, out error);
                        if (name is "arp_sha" or "nd_sll") { b.ArpSha(hw); xm.ArpSha(hwMask); }
                        else { b.ArpTha(hw); xm.ArpTha(hwMask); }
                        break;
                    }
                case "mpls_label":
                case "mpls_tc":
                case "mpls_bos":
                    {
                        ulong max = name switch { "mpls_label" => 0xF_FFFF, "mpls_tc" => 7, _ => 1 };
                        if (!Num64(value, out var mpls) || mpls > max) return Bad(name, value, out error);
                        if (name == "mpls_label") { b.MplsLabel((uint)mpls); xm.MplsLabel((uint)max); }
                        else if (name == "mpls_tc") { b.MplsTc((byte)mpls); xm.MplsTc((byte)max); }
                        else { b.MplsBos((byte)mpls); xm.MplsBos((byte)max); }
                        break;
                    }
                case "metadata":
                    {
                        if (!TryMasked(value, ulong.MaxValue, out var md, out var mdMask)) return Bad(name, value, out error);
                        b.Metadata(md);
                        xm.Metadata(mdMask);
                        break;
                    }
                case "dp_hash":
                    {
                        // Open vSwitch's dp_hash: 32 bits, any mask, no prerequisite.
                        if (!TryMasked(value, uint.MaxValue, out var dh, out var dhMask)) return Bad(name, value, out error);
                        regValue.DpHash = (uint)dh;
                        regMask.DpHash = (uint)dhMask;
                        break;
                    }
                case "tp_src":
                case "icmpv6_type":
                case "icmp_type":
                    if (!Num16(value, out var tps)) return Bad(name, value, out error);
                    b.TpSrc(tps);
                    w &= ~OfWildcards.TpSrc;
                    break;
                case "tp_dst":
                case "icmpv6_code":
                case "icmp_code":
                    if (!Num16(value, out var tpd)) return Bad(name, value, out error);
                    b.TpDst(tpd);
                    w &= ~OfWildcards.TpDst;
                    break;
                default:
                    error = $"unknown field {name}";
                    return false;
            }
        }

        // Prerequisites, as ovs-ofctl checks them.
        var key = b.Key;
        bool typeSet = (w & OfWildcards.DlType) == 0, protoSet = (w & OfWildcards.NwProto) == 0;
        bool ip = typeSet && key.DlType == EthIp, arp = typeSet && key.DlType == EthArp, ip6 = typeSet && key.DlType == EthIpv6;
        if ((seen.Contains("nw_src") || seen.Contains("nw_dst")) && !(ip || arp)) return Prereq("nw_src and nw_dst need ip or arp", out error);
        if (seen.Contains("nw_proto") && !(ip || arp || ip6)) return Prereq("nw_proto needs ip, ipv6 or arp", out error);
        if ((seen.Contains("arp_spa") || seen.Contains("arp_tpa") || seen.Contains("arp_op") || seen.Contains("arp_sha") || seen.Contains("arp_tha")) && !arp)
            return Prereq("arp_spa, arp_tpa, arp_op, arp_sha and arp_tha need arp", out error);
        if ((seen.Contains("nw_tos") || seen.Contains("ip_dscp") || seen.Contains("ip_ecn")) && !(ip || ip6)) return Prereq("nw_tos, ip_dscp and ip_ecn need ip or ipv6", out error);
        if ((seen.Contains("ip_frag") || seen.Contains("nw_frag")) && !(ip || ip6)) return Prereq("ip_frag needs ip or ipv6", out error);
        if ((seen.Contains("ipv6_src") || seen.Contains("ipv6_dst") || seen.Contains("ipv6_label")) && !ip6) return Prereq("ipv6_src, ipv6_dst and ipv6_label need ipv6", out error);
        bool l4 = (ip || ip6) && protoSet && key.NwProto is 6 or 17 or 132;
        if ((seen.Contains("tp_src") || seen.Contains("tp_dst")) && !l4) return Prereq("tp_src and tp_dst need tcp or udp", out error);
        bool icmp = ip && protoSet && key.NwProto == 1;
        if ((seen.Contains("icmp_type") || seen.Contains("icmp_code")) && !icmp) return Prereq("icmp_type and icmp_code need icmp", out error);
        bool icmp6 = ip6 && protoSet && key.NwProto == 58;
        if ((seen.Contains("icmpv6_type") || seen.Contains("icmpv6_code")) && !icmp6) return Prereq("icmpv6_type and icmpv6_code need icmp6", out error);
        bool typeKnown = icmp6 && (w & OfWildcards.TpSrc) == 0;
        if (seen.Contains("nd_target") && !(typeKnown && key.TpSrc is 135 or 136)) return Prereq("nd_target needs icmp6 with icmpv6_type 135 or 136", out error);
        if (seen.Contains("nd_sll") && !(typeKnown && key.TpSrc == 135)) return Prereq("nd_sll needs icmp6 with icmpv6_type=135", out error);
        if (seen.Contains("nd_tll") && !(typeKnown && key.TpSrc == 136)) return Prereq("nd_tll needs icmp6 with icmpv6_type=136", out error);
        if ((seen.Contains("mpls_label") || seen.Contains("mpls_tc") || seen.Contains("mpls_bos")) && !(typeSet && key.DlType is EthMpls or EthMplsMulticast))
            return Prereq("mpls_label, mpls_tc and mpls_bos need dl_type=0x8847 or 0x8848", out error);
        if (seen.Contains("vlan_tci") && (seen.Contains("dl_vlan") || seen.Contains("dl_vlan_pcp")))
        {
            error = "vlan_tci says dl_vlan and dl_vlan_pcp already: give one or the other";
            return false;
        }
        if (vlanNone)
        {
            if (pcpSet) return Prereq("dl_vlan_pcp with dl_vlan=0xffff (untagged)", out error);
            // ovs-ofctl puts an untagged match on the OpenFlow 1.0 wire as dl_vlan=0xffff with dl_vlan_pcp 0 matched.
            w &= ~OfWildcards.DlVlanPcp;
        }
        w = (w & ~(OfWildcards.NwSrcMask | OfWildcards.NwDstMask))
            | (OfWildcards)((uint)(32 - srcBits) << (int)OfWildcards.NwSrcShift)
            | (OfWildcards)((uint)(32 - dstBits) << (int)OfWildcards.NwDstShift);

        FlowActions actions = FlowActions.Drop;
        if (a >= 0 && !TryParseActions(actionsPart, out actions, out error)) return false;
        var match = FlowMatch.FromOpenFlow(w, key);
        if (!xm.Key.Equals(default))
        {
            // Fields beyond the wildcards: their mask joins the one the wildcards say.
            var mask = new FlowKeyBuilder(match.Mask);
            var mw = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(mask.Bytes);
            var xw = xm.Key.AllWords;
            for (int i = 0; i < FlowKey.Words; i++) mw[i] |= xw[i];
            match = new FlowMatch(mask.Key, key);
        }
        if (regMask.DpHash != 0) match = new FlowMatch(match.Mask, match.Value, regMask, regValue);
        mod = new FlowMod(command, match, priority, actions, cookie, idle, hard, flags, outPort);
        return true;
    }

    /// <summary>
    /// Open vSwitch's controller action (parse_CONTROLLER): a bare max_len, or <c>key=value</c> pairs (here separated by
    /// ':') of reason (no_match, action, invalid_ttl, action_set, group, packet_out), max_len, id and userdata (hex bytes, '.' between them allowed).
    /// Reason action, id 0 and no userdata is an output to the controller port; anything else a controller action,
    /// its userdata interned (<see cref="ControllerUserData"/>; the flow's cookie is not known here: 0, as an output's).
    /// pause and meter_id, which the switch does not run, are refused.
    /// </summary>
    private static bool TryController(string arg, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        ushort maxLen = 0xFFFF, id = 0;
        byte reason = 1;
        byte[]? userData = null;
        if (arg.Length > 0 && arg.All(char.IsAsciiDigit))
        {
            if (!Num16(arg, out maxLen)) return Fail($"controller: bad max_len \"{arg}\"", out error);
        }
        else if (arg.Length > 0)
        {
            foreach (var pair in arg.Split(':'))
            {
                int eq = pair.IndexOf('=');
                string key = eq < 0 ? pair : pair[..eq], value = eq < 0 ? "" : pair[(eq + 1)..];
                switch (key)
                {
                    case "reason":
                        int r = Array.IndexOf(PacketInReasonNames, value);
                        if (r < 0) return Fail($"unknown reason \"{value}\"", out error);
                        reason = (byte)r;
                        break;
                    case "max_len":
                        if (!Num16(value, out maxLen)) return Fail($"controller: bad max_len \"{value}\"", out error);
                        break;
                    case "id":
                        if (!Num16(value, out id)) return Fail($"controller: bad id \"{value}\"", out error);
                        break;
                    case "userdata":
                        if (!TryHexBytes(value, out userData)) return Fail("bad hex digit in `controller' action `userdata'", out error);
                        break;
                    case "pause" or "meter_id":
                        return Fail($"controller: {key} is not supported (the switch has no continuations or controller-action meters)", out error);
                    default:
                        return Fail($"unknown key \"{key}\" parsing controller action", out error);
                }
            }
        }
        if (reason == 1 && id == 0 && userData is null)
        {
            action = FlowAction.Output(PortNumber.Controller, maxLen);
            return true;
        }
        ulong data = 0;
        uint tag = PacketInOrigin.ControllerTag(reason, id);
        if (userData is { Length: > 0 })
        {
            int entry = ControllerUserData.Intern(0, userData, controller2: true);
            if (entry < 0) return Fail($"controller: more than {ControllerUserData.MaxEntries} distinct userdata values", out error);
            data = (ulong)entry;
            tag |= PacketInOrigin.RecordBit;
        }
        action = FlowAction.OutputToController(maxLen, data, tag);
        return true;
    }

    /// <summary>Open vSwitch's packet-in reason names (ofputil_packet_in_reason_to_string), by wire value.</summary>
    internal static readonly string[] PacketInReasonNames = ["no_match", "action", "invalid_ttl", "action_set", "group", "packet_out"];

    /// <summary>Hex bytes, '.' allowed between them (Open vSwitch's ofpbuf_put_hex).</summary>
    private static bool TryHexBytes(string text, out byte[]? bytes)
    {
        bytes = null;
        var digits = text.Replace(".", "", StringComparison.Ordinal);
        if (digits.Length == 0 || (digits.Length & 1) != 0 || !digits.All(char.IsAsciiHexDigit)) return false;
        bytes = Convert.FromHexString(digits);
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    /// <summary>An action list (what follows <c>actions=</c>); an empty list or <c>drop</c> drops.</summary>
    public static bool TryParseActions(string text, out FlowActions actions, out string error)
    {
        actions = FlowActions.Drop;
        error = "";
        var items = new List<FlowAction>();
        var half = default(PendingHalf);
        foreach (var tok in SplitActions(text))
        {
            string t = tok.Trim();
            if (t.Length == 0) continue;
            // A 128-bit field's low half that its high half does not follow at once is a load of those bits alone.
            if (half.Name is { } low && !t.EndsWith("->" + low + "[64..127]", StringComparison.Ordinal) && !TryFlushHalf(ref half, items, out error))
                return false;
            string name, arg;
            int colon = t.IndexOf(':'), paren = t.IndexOf('(');
            if (paren > 0 && (colon < 0 || paren < colon) && t[^1] == ')')
            {
                name = t[..paren];
                arg = t[(paren + 1)..^1].Replace(',', ':');
            }
            else if (colon > 0)
            {
                name = t[..colon];
                arg = t[(colon + 1)..];
            }
            else
            {
                name = t;
                arg = "";
            }
            name = name.ToLowerInvariant();
            switch (name)
            {
                case "sample":
                {
                    if (paren < 0 || t[^1] != ')' || name.Length != paren) return BadAction(t, out error);
                    if (!TrySample(t[(paren + 1)..^1], out var sample, out error)) return false;
                    items.Add(sample);
                    continue;
                }
                case "bundle" or "bundle_load" or "fin_timeout":
                {
                    if (paren < 0 || t[^1] != ')' || name.Length != paren) return BadAction(t, out error);
                    if (!TryBundleOrFinTimeout(name, t[(paren + 1)..^1], out var nx, out error)) return false;
                    items.Add(nx);
                    continue;
                }
                case "clone":
                {
                    // clone(ACTIONS): the nested list as any list (commas and all), flat after its marker.
                    if (paren < 0 || t[^1] != ')' || name.Length != paren) return BadAction(t, out error);
                    if (!TryParseActions(t[(paren + 1)..^1], out var nested, out error)) return false;
                    items.Add(FlowAction.CloneOf(nested.Items.Length));
                    items.AddRange(nested.Items);
                    continue;
                }
                case "drop":
                    if (t.Length != 4 || items.Count > 0) { error = "drop must be the only action"; return false; }
                    continue;
                case "output" when paren < 0 && arg.Contains('[', StringComparison.Ordinal):
                    // output:SRC[RANGE]: to the port a field's bits hold (NXAST_OUTPUT_REG).
                    if (!TrySubfield(arg, out var outSrc)) return BadAction(t, out error);
                    items.Add(FlowAction.OutputField(outSrc));
                    continue;
                case "output" when paren > 0 && arg.StartsWith("port=", StringComparison.Ordinal):
                {
                    // output(port=SRC[RANGE],max_len=N)
                    var parts = arg.Split(':');
                    if (parts.Length != 2 || !TrySubfield(parts[0]["port=".Length..], out var portSrc) || !parts[1].StartsWith("max_len=", StringComparison.Ordinal)
                        || !Num16(parts[1]["max_len=".Length..], out var outMax))
                    {
                        return BadAction(t, out error);
                    }
                    items.Add(FlowAction.OutputField(portSrc, outMax));
                    continue;
                }
                case "resubmit":
                {
                    // resubmit:PORT, resubmit(PORT,TABLE) (an empty PORT: the packet's own; an empty TABLE: this one).
                    var parts = arg.Split(':');
                    if (paren < 0 ? parts.Length != 1 : parts.Length != 2) return BadAction(t, out error);
                    ushort inPort = PortNumber.InPort;
                    byte table = 0xff;
                    if (parts[0].Length > 0 && !Num16(parts[0], out inPort)) return BadAction(t, out error);
                    if (parts.Length == 2 && parts[1].Length > 0 && !byte.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out table))
                        return BadAction(t, out error);
                    if (inPort == PortNumber.InPort && table == 0xff) return BadAction(t, out error);
                    items.Add(FlowAction.Resubmit(table, inPort));
                    continue;
                }
                case "multipath":
                {
                    if (paren < 0 || !TryMultipath(arg, out var multipath)) return BadAction(t, out error);
                    items.Add(multipath);
                    continue;
                }
                case "conjunction":
                {
                    // conjunction(ID,K/N): clause K (1-based) of N.
                    var parts = arg.Split(':');
                    int slash = parts.Length == 2 ? parts[1].IndexOf('/', StringComparison.Ordinal) : -1;
                    if (paren < 0 || slash < 0 || !uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var conjId)
                        || !byte.TryParse(parts[1][..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var k)
                        || !byte.TryParse(parts[1][(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var clauses)
                        || clauses is < 2 or > 64 || k < 1 || k > clauses)
                    {
                        return BadAction(t, out error);
                    }
                    items.Add(FlowAction.Conjunction(conjId, (byte)(k - 1), clauses));
                    continue;
                }
                case "output":
                    if (!TryPort(arg, out var port)) return BadAction(t, out error);
                    items.Add(FlowAction.Output(port, port == PortNumber.Controller ? (ushort)0xFFFF : (ushort)0));
                    continue;
                case "in_port": items.Add(FlowAction.Output(PortNumber.InPort)); continue;
                case "table": items.Add(FlowAction.Output(PortNumber.Table)); continue;
                case "normal": items.Add(FlowAction.Output(PortNumber.Normal)); continue;
                case "flood": items.Add(FlowAction.Output(PortNumber.Flood)); continue;
                case "all": items.Add(FlowAction.Output(PortNumber.All)); continue;
                case "local": items.Add(FlowAction.Output(PortNumber.Local)); continue;
                case "controller":
                    {
                        if (!TryController(arg, out var controller, out error)) return false;
                        items.Add(controller);
                        continue;
                    }
                case "enqueue":
                    {
                        var parts = arg.Split(':');
                        if (parts.Length != 2 || !TryPort(parts[0], out var qp) || !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var q))
                            return BadAction(t, out error);
                        items.Add(FlowAction.Enqueue(qp, q));
                        continue;
                    }
                case "mod_vlan_vid":
                    if (!Num16(arg, out var vid) || vid > 0x0FFF) return BadAction(t, out error);
                    items.Add(FlowAction.SetVlanVid(vid));
                    continue;
                case "mod_vlan_pcp":
                    if (!Num16(arg, out var pcp) || pcp > 7) return BadAction(t, out error);
                    items.Add(FlowAction.SetVlanPcp((byte)pcp));
                    continue;
                case "strip_vlan": items.Add(FlowAction.StripVlan()); continue;
                case "mod_dl_src":
                case "mod_dl_dst":
                    if (!MacAddress.TryParse(arg, out var mac)) return BadAction(t, out error);
                    items.Add(name == "mod_dl_src" ? FlowAction.SetDlSrc(mac) : FlowAction.SetDlDst(mac));
                    continue;
                case "mod_nw_src":
                case "mod_nw_dst":
                    if (!Ipv4.TryParse(arg, out var ip)) return BadAction(t, out error);
                    items.Add(name == "mod_nw_src" ? FlowAction.SetNwSrc(ip) : FlowAction.SetNwDst(ip));
                    continue;
                case "mod_nw_tos":
                    if (!Num16(arg, out var tos) || tos > 255 || (tos & 3) != 0) return BadAction(t, out error);
                    items.Add(FlowAction.SetNwTos((byte)tos));
                    continue;
                case "mod_tp_src":
                case "mod_tp_dst":
                    if (!Num16(arg, out var tp)) return BadAction(t, out error);
                    items.Add(name == "mod_tp_src" ? FlowAction.SetTpSrc(tp) : FlowAction.SetTpDst(tp));
                    continue;
                case "set_tunnel":
                case "set_tunnel64":
                    if (!Num64(arg, out var tun)) return BadAction(t, out error);
                    items.Add(FlowAction.SetTunnel(tun));
                    continue;
                case "load":
                {
                    if (!TryLoad(arg, ref half, out var load, out error)) return false;
                    if (load is { } l) items.Add(l);
                    continue;
                }
                case "move":
                {
                    if (!TryMove(arg, out var move, out error)) return false;
                    items.Add(move);
                    continue;
                }
                case "set_field":
                {
                    if (!TrySetField(arg, out var set, out error)) return false;
                    items.Add(set);
                    continue;
                }
                case "mod_nw_ecn":
                    if (!Num16(arg, out var ecn) || ecn > 3) return BadAction(t, out error);
                    items.Add(FlowAction.SetIpEcn((byte)ecn));
                    continue;
                // Open vSwitch's extensions for these (NXAST_DEC_TTL, a load of NXM_NX_IP_TTL, NXAST_SET_MPLS_TTL, ...), which
                // ovs-ofctl also writes over OpenFlow 1.0, and the OpenFlow 1.1+ actions the datapath runs.
                case "dec_ttl":
                {
                    if (!TryDecTtl(t, paren, out var dec, out error)) return false;
                    items.Add(dec);
                    continue;
                }
                case "mod_nw_ttl":
                case "set_nw_ttl":
                    if (!Num16(arg, out var ttl) || ttl > 255) return BadAction(t, out error);
                    items.Add(FlowAction.SetNwTtl((byte)ttl));
                    continue;
                case "set_mpls_ttl":
                    if (!Num16(arg, out var mplsTtl) || mplsTtl > 255) return BadAction(t, out error);
                    items.Add(FlowAction.SetMplsTtl((byte)mplsTtl));
                    continue;
                case "dec_mpls_ttl": if (arg.Length != 0) return BadAction(t, out error); items.Add(FlowAction.DecMplsTtl()); continue;
                case "copy_ttl_out": if (arg.Length != 0) return BadAction(t, out error); items.Add(FlowAction.CopyTtlOut()); continue;
                case "copy_ttl_in": if (arg.Length != 0) return BadAction(t, out error); items.Add(FlowAction.CopyTtlIn()); continue;
                case "pop_pbb": if (arg.Length != 0) return BadAction(t, out error); items.Add(FlowAction.PopPbb()); continue;
                case "exit": if (arg.Length != 0) return BadAction(t, out error); items.Add(FlowAction.Exit()); continue;
                case "push_vlan":
                    if (!Num16(arg, out var tpid) || tpid is not (0x8100 or 0x88a8)) return BadAction(t, out error);
                    items.Add(FlowAction.PushVlan(tpid));
                    continue;
                case "push_mpls":
                    if (!Num16(arg, out var mplsType) || mplsType is not (EthMpls or EthMplsMulticast)) return BadAction(t, out error);
                    items.Add(FlowAction.PushMpls(mplsType));
                    continue;
                case "pop_mpls":
                    if (!Num16(arg, out var popType)) return BadAction(t, out error);
                    items.Add(FlowAction.PopMpls(popType));
                    continue;
                case "push_pbb":
                    if (!Num16(arg, out var pbbType) || pbbType != 0x88e7) return BadAction(t, out error);
                    items.Add(FlowAction.PushPbb());
                    continue;
                case "set_queue":
                    if (!uint.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out var queue)) return BadAction(t, out error);
                    items.Add(FlowAction.SetQueue(queue));
                    continue;
                case "group":
                    if (!uint.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out var group)) return BadAction(t, out error);
                    items.Add(FlowAction.Group(group));
                    continue;
                default:
                    if (arg.Length == 0 && TryPort(t, out var bare) && bare < PortNumber.Highest)
                    {
                        items.Add(FlowAction.Output(bare));
                        continue;
                    }
                    error = $"unknown action {t}";
                    return false;
            }
        }
        if (half.Name is not null && !TryFlushHalf(ref half, items, out error)) return false;
        actions = items.Count == 0 ? FlowActions.Drop : new FlowActions([.. items]);
        return true;
    }

    /// <summary>A 128-bit field's low half that no high half followed: a load of those 64 bits (nd_target has no such load).</summary>
    private static bool TryFlushHalf(ref PendingHalf half, List<FlowAction> items, out string error)
    {
        error = "";
        var field = half.Name switch { "NXM_NX_IPV6_SRC" => PipelineField.Ipv6Src, "NXM_NX_IPV6_DST" => PipelineField.Ipv6Dst, _ => (PipelineField?)null };
        if (field is not { } f) return Fail($"load:{half.Name}[0..63] without its [64..127]: the switch loads the whole field only", out error);
        items.Add(FlowAction.FieldLoad(new FieldRef(f, 0, 64), half.Low, OfAction.LoadFormRegLoad));
        half = default;
        return true;
    }

    /// <summary><c>dec_ttl</c>, or <c>dec_ttl(ID,...)</c> (the controller ids its invalid-TTL packets go to).</summary>
    private static bool TryDecTtl(string t, int paren, out FlowAction action, out string error)
    {
        action = default;
        error = "";
        if (paren < 0)
        {
            if (t.Length != "dec_ttl".Length) return BadAction(t, out error);
            action = FlowAction.DecNwTtl();
            return true;
        }
        var parts = t[(paren + 1)..^1].Split(',');
        if (parts.Length > FlowAction.MaxTtlControllerIds) return Fail($"{t}: at most {FlowAction.MaxTtlControllerIds} controller ids", out error);
        var ids = new ushort[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!Num16(parts[i].Trim(), out ids[i])) return BadAction(t, out error);
        action = FlowAction.DecNwTtl(ids);
        return true;
    }

    private static int IndexOfActions(string text)
    {
        int i = text.IndexOf("actions=", StringComparison.OrdinalIgnoreCase);
        // "actions" is a whole field name: at the start or after a separator.
        while (i > 0 && text[i - 1] is not (',' or ' ' or '\t')) i = text.IndexOf("actions=", i + 1, StringComparison.OrdinalIgnoreCase);
        return i;
    }

    /// <summary>Splits an action list on commas outside parentheses.</summary>
    private static IEnumerable<string> SplitActions(string text)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '(')
            {
                depth++;
            }
            else if (c == ')')
            {
                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    private static void SetType(ref FlowKeyBuilder b, ref OfWildcards w, ushort type)
    {
        b.DlType(type);
        w &= ~OfWildcards.DlType;
    }

    private static void SetProto(ref FlowKeyBuilder b, ref OfWildcards w, byte proto)
    {
        b.NwProto(proto);
        w &= ~OfWildcards.NwProto;
    }

    private static bool TryPort(string s, out ushort port)
    {
        port = s.ToUpperInvariant() switch
        {
            "IN_PORT" => PortNumber.InPort,
            "TABLE" => PortNumber.Table,
            "NORMAL" => PortNumber.Normal,
            "FLOOD" => PortNumber.Flood,
            "ALL" => PortNumber.All,
            "CONTROLLER" => PortNumber.Controller,
            "LOCAL" => PortNumber.Local,
            "NONE" => PortNumber.None,
            _ => 0,
        };
        if (port != 0) return true;
        // A number is in ovs-ofctl's OpenFlow 1.0 numbering (65534 is LOCAL): mapped as the agent maps the wire.
        if (!Num16(s, out var number) || number == 0) return false;
        return OfPort.ToDatapath(WireMap.ToOfPort(number), out port);
    }

    private static bool TryMac(string s, out MacAddress mac)
    {
        int slash = s.IndexOf('/');
        if (slash < 0) return MacAddress.TryParse(s, out mac);
        // OpenFlow 1.0 matches a whole MAC or none of it.
        mac = default;
        return MacAddress.TryParse(s[..slash], out mac) && MacAddress.TryParse(s[(slash + 1)..], out var m) && m.IsBroadcast;
    }

    /// <summary>An IPv6 address with an optional <c>/prefix</c> or <c>/mask</c> (a mask may be any bits, as OpenFlow 1.3 allows).</summary>
    private static bool TryIpv6(string s, out UInt128 addr, out UInt128 mask)
    {
        addr = 0;
        mask = UInt128.MaxValue;
        int slash = s.IndexOf('/');
        if (!TryIpv6Address(slash < 0 ? s : s[..slash], out addr)) return false;
        if (slash >= 0)
        {
            string p = s[(slash + 1)..];
            if (int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int bits))
            {
                if (bits > 128) return false;
                mask = bits == 0 ? 0 : UInt128.MaxValue << (128 - bits);
            }
            else if (!TryIpv6Address(p, out mask))
            {
                return false;
            }
        }
        addr &= mask;
        return true;
    }

    private static bool TryIpv6Address(string s, out UInt128 addr)
    {
        addr = 0;
        if (!System.Net.IPAddress.TryParse(s, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return false;
        Span<byte> bytes = stackalloc byte[16];
        if (!ip.TryWriteBytes(bytes, out _)) return false;
        addr = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return true;
    }

    /// <summary><c>N</c> or <c>N/MASK</c>, both at most <paramref name="max"/> (the field's bits).</summary>
    private static bool TryMasked(string s, ulong max, out ulong value, out ulong mask)
    {
        value = 0;
        mask = max;
        int slash = s.IndexOf('/');
        if (!Num64(slash < 0 ? s : s[..slash], out value) || value > max) return false;
        if (slash >= 0 && (!Num64(s[(slash + 1)..], out mask) || mask > max)) return false;
        value &= mask;
        return true;
    }

    /// <summary>A MAC with an optional <c>/mask</c> of any bits.</summary>
    private static bool TryMaskedMac(string s, out MacAddress mac, out MacAddress mask)
    {
        mask = MacAddress.Broadcast;
        int slash = s.IndexOf('/');
        if (!MacAddress.TryParse(slash < 0 ? s : s[..slash], out mac)) return false;
        if (slash >= 0 && !MacAddress.TryParse(s[(slash + 1)..], out mask)) return false;
        mac = new MacAddress(mac.Value & mask.Value);
        return true;
    }

    private static bool TryPrefix(string s, out uint addr, out int bits)
    {
        bits = 32;
        int slash = s.IndexOf('/');
        if (!Ipv4.TryParse(slash < 0 ? s : s[..slash], out addr)) return false;
        if (slash >= 0)
        {
            string p = s[(slash + 1)..];
            if (Ipv4.TryParse(p, out var netmask))
            {
                // A netmask must be contiguous ones.
                int ones = System.Numerics.BitOperations.PopCount(netmask);
                if (ones != 0 && netmask != ~0u << (32 - ones)) return false;
                bits = ones;
            }
            else if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out bits) || bits > 32)
            {
                return false;
            }
        }
        if (bits < 32) addr &= bits == 0 ? 0 : ~0u << (32 - bits);
        return true;
    }

    private static bool Num16(string s, out ushort v)
    {
        v = 0;
        if (!Num64(s, out var x) || x > ushort.MaxValue) return false;
        v = (ushort)x;
        return true;
    }

    private static bool Num64(string s, out ulong v)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v) && s.Length > 2;
        return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    private static bool Bad(string name, string value, out string error)
    {
        error = $"{name}={value}: bad value";
        return false;
    }

    private static bool BadAction(string action, out string error)
    {
        error = $"bad action {action}";
        return false;
    }

    private static bool Prereq(string what, out string error)
    {
        error = $"prerequisites not met: {what}";
        return false;
    }
}
