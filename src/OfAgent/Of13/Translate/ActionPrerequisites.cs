using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>
/// A flow-mod's actions against its match: an action that needs a header the flow's packets cannot have is refused
/// with OFPBAC_MATCH_INCONSISTENT (OpenFlow 1.3.5 section 7.2.5: "the set-field action ... must respect the
/// prerequisites of the field"; section 7.5.4's OFPBAC_MATCH_INCONSISTENT).
/// </summary>
/// <remarks>
/// <para>The match is read as <see cref="MatchTranslator.Shape"/> reads it for the match's own prerequisites, then
/// each action in order changes what is known, as Open vSwitch's <c>ofpacts_check</c> does: push_vlan tags the packet,
/// pop_vlan untags it, push_mpls and pop_mpls set the ethertype (a push hides the IP header), push_pbb sets it to
/// 0x88e7 and pop_pbb leaves nothing known (every later check passes); set_field on eth_type and ip_proto (ip_proto
/// needs IP, eth_type nothing) sets the field and forgets what hung on the old value. The apply-actions list is read first and the
/// write-actions list after it, with what apply-actions left, as Open vSwitch reads the instructions.</para>
/// <para>Checked, each as Open vSwitch 3.1 checks it for OpenFlow 1.1 and later: set_field on a field whose table-11
/// prerequisites do not hold; set_field vlan_vid and pop_vlan on an untagged packet (the spec gives vlan_vid no
/// prerequisite, Open vSwitch asks for a tag, and so does this switch: an untagged packet has no VID to set); set_nw_ttl
/// and dec_nw_ttl (and Nicira's dec_ttl, dec_ttl(ids)) without IPv4 or IPv6; set_mpls_ttl, dec_mpls_ttl and pop_mpls without MPLS; a Nicira move or
/// output_reg naming a packet field whose prerequisites do not hold (Open vSwitch's mf_check_src and mf_check_dst).</para>
/// <para>Stateless and allocation-free.</para>
/// </remarks>
internal static class ActionPrerequisites
{
    private const ushort Ipv4 = 0x0800, Ipv6 = 0x86dd, Mpls = 0x8847, MplsMc = 0x8848;

    /// <summary>
    /// True when every action of <paramref name="instructions"/>' apply- and write-actions lists can apply to the
    /// packets <paramref name="match"/> selects.
    /// </summary>
    public static bool Consistent(ReadOnlySpan<Ofp13Oxm> match, IReadOnlyList<Ofp13Instruction> instructions)
    {
        var shape = MatchTranslator.Shape(match);
        foreach (var type in (ReadOnlySpan<Ofp13InstructionType>)[Ofp13InstructionType.ApplyActions, Ofp13InstructionType.WriteActions])
        {
            foreach (var ins in instructions)
            {
                if (ins.Type != type || ins.Actions is null) continue;
                foreach (var a in ins.Actions)
                {
                    if (!Step(ref shape, a)) return false;
                }
            }
        }
        return true;
    }

    /// <summary>Whether <paramref name="a"/> may apply to a packet of <paramref name="s"/>, and what the packet is after it.</summary>
    private static bool Step(ref OxmShape s, in Ofp13Action a)
    {
        bool known = !s.Unknown;
        bool ip = s.EthType is Ipv4 or Ipv6, mpls = s.EthType is Mpls or MplsMc;
        switch (a.Type)
        {
            case Ofp13ActionType.SetField:
                if (a.Field.Field == MatchTranslator.VlanVid) return !known || s.VlanPresent;
                if (!MatchTranslator.PrerequisiteHolds(a.Field.Field, s)) return false;
                if (a.Field.Field == MatchTranslator.EthType)
                {
                    s.EthType = (ushort)a.Field.Value;
                    s.IpProto = s.Icmpv6Type = -1;
                }
                else if (a.Field.Field == MatchTranslator.IpProto)
                {
                    s.IpProto = (byte)a.Field.Value;
                    s.Icmpv6Type = -1;
                }
                return true;
            case Ofp13ActionType.PushVlan:
                s.VlanPresent = true;
                return true;
            case Ofp13ActionType.PopVlan:
                if (known && !s.VlanPresent) return false;
                s.VlanPresent = false;
                return true;
            case Ofp13ActionType.SetNwTtl:
            case Ofp13ActionType.DecNwTtl:
            case Ofp13ActionType.Experimenter when a.Nx.Subtype is OfWire.NxActionSubtype.DecTtl or OfWire.NxActionSubtype.DecTtlCntIds:
                return !known || ip;
            case Ofp13ActionType.SetMplsTtl:
            case Ofp13ActionType.DecMplsTtl:
            case Ofp13ActionType.SetMplsLabel:
            case Ofp13ActionType.SetMplsTc:
                return !known || mpls;
            case Ofp13ActionType.PushMpls:
                s.EthType = (ushort)a.Arg;
                s.IpProto = s.Icmpv6Type = -1;
                return true;
            case Ofp13ActionType.PopMpls:
                if (known && !mpls) return false;
                s.EthType = (ushort)a.Arg;
                s.IpProto = s.Icmpv6Type = -1;
                return true;
            case Ofp13ActionType.PushPbb:
                s.EthType = (ushort)a.Arg;
                s.IpProto = s.Icmpv6Type = -1;
                return true;
            case Ofp13ActionType.PopPbb:
                s.Unknown = true;
                return true;
            case Ofp13ActionType.CopyField:
            case Ofp13ActionType.Experimenter when a.Nx.Subtype is OfWire.NxActionSubtype.RegMove:
                return Holds(a.Nx.SrcHeader, s) && Holds(a.Nx.FieldHeader, s);
            case Ofp13ActionType.Experimenter when a.Nx.Subtype is OfWire.NxActionSubtype.OutputReg or OfWire.NxActionSubtype.OutputReg2:
                return Holds(a.Nx.SrcHeader, s);
            case Ofp13ActionType.Experimenter when a.Nx.Subtype is OfWire.NxActionSubtype.Multipath or OfWire.NxActionSubtype.BundleLoad:
                return Holds(a.Nx.FieldHeader, s); // multipath_check's and bundle_check's mf_check_dst
            default:
                return true;
        }
    }

    /// <summary>Whether the packet field a move, output_reg, multipath or bundle_load names by <paramref name="header"/> has its prerequisites in <paramref name="s"/> (registers and unknown fields: yes).</summary>
    private static bool Holds(uint header, in OxmShape s)
    {
        byte oxm = Of10.Translate.ActionTranslator.FieldOfHeader(header) switch
        {
            OfField.Ipv4Src or OfField.Ipv4Dst => MatchTranslator.Ipv4Src,
            OfField.IpProto => MatchTranslator.IpProto,
            OfField.TcpSrc or OfField.TcpDst => MatchTranslator.TcpSrc,
            OfField.UdpSrc or OfField.UdpDst => MatchTranslator.UdpSrc,
            OfField.SctpSrc or OfField.SctpDst => MatchTranslator.SctpSrc,
            OfField.Ipv6Src or OfField.Ipv6Dst => MatchTranslator.Ipv6Src,
            OfField.ArpSpa or OfField.ArpTpa or OfField.ArpSha
                or OfField.ArpTha => MatchTranslator.ArpSpa,
            _ => 0xff,
        };
        return oxm == 0xff || MatchTranslator.PrerequisiteHolds(oxm, s);
    }
}
