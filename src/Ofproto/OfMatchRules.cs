using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ofproto;

/// <summary>
/// What a match means to each OpenFlow version: which of the fields a controller sent a flow keeps
/// (<see cref="Normalize"/>) and whether the flow is exact (<see cref="IsExact"/>). Stateless and thread-safe.
/// </summary>
/// <remarks>
/// Exactness is decided on the match as received, before normalisation (OF1.0 section 3.4 and Open vSwitch's
/// ofputil_decode_flow_mod: an OF1.0 match whose wildcards are 0 is exact, whatever its dl_type); the stored match is
/// the normalised one, so flow stats and flow-removed report what the flow really matches.
/// </remarks>
public static class OfMatchRules
{
    /// <summary>True when the match as received leaves out no field of the OpenFlow 1.0 twelve-tuple (wildcards 0).</summary>
    public static bool IsExact(in FlowMatch received) => received.IsExact;

    /// <summary>Whether a flow-mod under <paramref name="rules"/> ranks an exact flow above every other (OpenFlow 1.0 and as-given; not OpenFlow 1.3).</summary>
    public static bool RanksExact(MatchRules rules) => (rules & MatchRules.PriorityOnly) == 0;

    /// <summary>
    /// The match a flow keeps for <paramref name="received"/> under <paramref name="rules"/>. Under OpenFlow 1.0's, besides
    /// the fields <see cref="Normalize10"/> leaves out, dl_vlan OFP_VLAN_NONE with dl_vlan_pcp matched keeps a PCP of 0:
    /// an untagged frame has none, and Open vSwitch (ofputil_match_from_ofp10_match) makes such a match "untagged" whatever
    /// PCP it names, so two flows that differ only there are one flow (a match on untagged frames with PCP 2 would
    /// otherwise match no frame in software, and every untagged frame in a target that keys them without a PCP).
    /// </summary>
    public static FlowMatch Normalize(in FlowMatch received, MatchRules rules)
    {
        if ((rules & MatchRules.NormaliseByDlType) == 0) return received;
        var v = received.Value;
        var received10 = received.Wildcards;
        var w = Normalize10(received10, v.DlType, v.NwProto);
        bool untaggedPcp = (w & (OfWildcards.DlVlan | OfWildcards.DlVlanPcp)) == 0 && (v.VlanVid & FlowKey.VlanPresent) == 0 && v.DlVlanPcp != 0;
        if (untaggedPcp) v = new FlowKeyBuilder(v).DlVlanPcp(0).Key;
        return w == received10 && !untaggedPcp ? received : FlowMatch.FromOpenFlow(w, v);
    }

    /// <summary>
    /// OF1.0.1 section 3.4 (as Open vSwitch's ofputil_normalize_match): fields that do not apply to the match's
    /// dl_type are wildcarded whatever their value on the wire. nw_src and nw_dst apply to IPv4 and ARP; nw_proto to
    /// IPv4, ARP and IPv6; nw_tos to IPv4 and IPv6; tp_src and tp_dst to IPv4 with nw_proto TCP, UDP or ICMP and to IPv6
    /// with nw_proto TCP, UDP or ICMPv6. With dl_type wildcarded none of them applies. Otherwise a controller that
    /// leaves such fields zero (and not wildcarded) would get a flow that matches nw_src=0.0.0.0 exactly, which no
    /// packet does.
    /// <para>IPv6: OF1.0.1 section 3.4 knows only IPv4 and ARP, so read literally it drops nw_tos, nw_proto and the
    /// ports of a dl_type=0x86dd match. Open vSwitch (ofputil_normalize_match_quiet, which gives IPv6 MAY_NW_PROTO,
    /// MAY_IPVx and, for TCP, UDP, SCTP and ICMPv6, MAY_TP_ADDR) applies them to the IPv6 packet instead: nw_tos to the
    /// traffic class's DSCP, nw_proto to the upper-layer next header, tp_src/tp_dst to the ports (ICMPv6's type and
    /// code). We follow Open vSwitch, so an OF1.0 controller can steer IPv6 traffic by protocol and port; nw_src and
    /// nw_dst (32-bit) still do not apply to IPv6.</para>
    /// </summary>
    public static OfWildcards Normalize10(OfWildcards w, ushort dlType, byte nwProto)
    {
        bool typed = (w & OfWildcards.DlType) == 0;
        bool ip = typed && dlType == PacketParser.EthTypeIpv4, arp = typed && dlType == PacketParser.EthTypeArp;
        bool ip6 = typed && dlType == EthTypeIpv6;
        if (!ip && !ip6) w |= OfWildcards.NwTos;
        if (!ip && !arp) w = (w & ~(OfWildcards.NwSrcMask | OfWildcards.NwDstMask)) | OfWildcards.NwSrcAll | OfWildcards.NwDstAll;
        if (!ip && !arp && !ip6) w |= OfWildcards.NwProto;
        bool proto = (w & OfWildcards.NwProto) == 0;
        bool l4 = proto && ((ip && nwProto is PacketParser.ProtoIcmp or PacketParser.ProtoTcp or PacketParser.ProtoUdp)
                         || (ip6 && nwProto is PacketParser.ProtoTcp or PacketParser.ProtoUdp or ProtoIcmpv6));
        if (!l4) w |= OfWildcards.TpSrc | OfWildcards.TpDst;
        return w;
    }

    private const ushort EthTypeIpv6 = 0x86dd;
    private const byte ProtoIcmpv6 = 58;
}
