using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of13;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// A flow-mod's actions against its match (OFPBAC_MATCH_INCONSISTENT): set-field prerequisites of OpenFlow 1.3.5 table
/// 11, and the checks Open vSwitch makes for OpenFlow 1.1+ (a tag for vlan_vid and pop_vlan, IP for the TTL actions,
/// MPLS for pop_mpls and the MPLS TTL actions), with what each earlier action changed.
/// </summary>
public class ActionPrerequisitesTests
{
    private static Ofp13Oxm F(byte field, ulong v) => Ofp13Oxm.Exact(field, v);
    private static Ofp13Action Set(byte field, ulong v) => Ofp13Action.SetField(F(field, v));
    private static Ofp13Action A(Ofp13ActionType t, uint arg = 0) => new(t, arg);
    private static readonly Ofp13Oxm Ip4 = F(EthType, 0x0800), Ip6 = F(EthType, 0x86dd), Tcp = F(IpProto, 6), Udp = F(IpProto, 17);
    private static readonly Ofp13Oxm Tagged = new(VlanVid, true, 0x1000, 0x1000);

    private static bool Ok(Ofp13Oxm[] match, params Ofp13Action[] apply)
        => ActionPrerequisites.Consistent(match, [new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [.. apply])]);

    public static TheoryData<string, Ofp13Oxm[], Ofp13Action[], bool> Cases => new()
    {
        { "ipv4_src on IPv4", [Ip4], [Set(Ipv4Src, 0x0a000001)], true },
        { "ipv4_src without a type", [F(InPort, 1)], [Set(Ipv4Src, 0x0a000001)], false },
        { "ipv4_src on IPv6", [Ip6], [Set(Ipv4Src, 0x0a000001)], false },
        { "tcp_dst on TCP", [Ip4, Tcp], [Set(TcpDst, 80)], true },
        { "tcp_dst on UDP", [Ip4, Udp], [Set(TcpDst, 80)], false },
        { "udp_src on UDP over IPv6", [Ip6, Udp], [Set(UdpSrc, 53)], true },
        { "ip_dscp on IP", [Ip6], [Set(IpDscp, 10)], true },
        { "ip_dscp on ARP", [F(EthType, 0x0806)], [Set(IpDscp, 10)], false },
        { "arp_tpa on ARP", [F(EthType, 0x0806)], [Set(ArpTpa, 1)], true },
        { "icmpv6_type on ICMPv6", [Ip6, F(IpProto, 58)], [Set(Icmpv6Type, 128)], true },
        { "nd_target on a neighbour solicitation", [Ip6, F(IpProto, 58), F(Icmpv6Type, 135)], [Set(Ipv6NdTarget, 1)], true },
        { "nd_tll on a neighbour solicitation", [Ip6, F(IpProto, 58), F(Icmpv6Type, 135)], [Set(Ipv6NdTll, 1)], false },
        { "mpls_label on MPLS", [F(EthType, 0x8847)], [Set(MplsLabel, 5)], true },
        { "mpls_label after push_mpls", [Ip4], [A(Ofp13ActionType.PushMpls, 0x8847), Set(MplsLabel, 5)], true },
        { "ipv4_src after push_mpls", [Ip4], [A(Ofp13ActionType.PushMpls, 0x8847), Set(Ipv4Src, 1)], false },
        { "ipv4_src after pop_mpls to IPv4", [F(EthType, 0x8847)], [A(Ofp13ActionType.PopMpls, 0x0800), Set(Ipv4Src, 1)], true },
        { "pop_mpls without MPLS", [Ip4], [A(Ofp13ActionType.PopMpls, 0x0800)], false },
        { "pbb_isid after push_pbb", [F(InPort, 1)], [A(Ofp13ActionType.PushPbb, 0x88e7), Set(PbbIsid, 7)], true },
        { "anything after pop_pbb", [F(EthType, 0x88e7)], [A(Ofp13ActionType.PopPbb), Set(Ipv4Src, 1)], true },
        { "eth_dst, tunnel_id: no prerequisite", [], [Set(EthDst, 1), Set(TunnelId, 9)], true },
        { "vlan_vid on a tagged match", [Tagged], [Set(VlanVid, 0x1005)], true },
        { "vlan_vid on an untagged match", [], [Set(VlanVid, 0x1005)], false },
        { "vlan_vid after push_vlan", [], [A(Ofp13ActionType.PushVlan, 0x8100), Set(VlanVid, 0x1005)], true },
        { "vlan_pcp after pop_vlan", [Tagged], [A(Ofp13ActionType.PopVlan), Set(VlanPcp, 3)], false },
        { "pop_vlan untagged", [F(InPort, 1)], [A(Ofp13ActionType.PopVlan)], false },
        { "dec_nw_ttl on IP", [Ip6], [A(Ofp13ActionType.DecNwTtl)], true },
        { "dec_nw_ttl without IP", [], [A(Ofp13ActionType.DecNwTtl)], false },
        { "set_mpls_ttl without MPLS", [Ip4], [A(Ofp13ActionType.SetMplsTtl, 9)], false },
        { "eth_type: no prerequisite", [], [Set(EthType, 0x86dd)], true },
        { "ipv6_src after eth_type set to IPv6", [Ip4], [Set(EthType, 0x86dd), Set(Ipv6Src, 1)], true },
        { "ipv4_src after eth_type set to ARP", [Ip4], [Set(EthType, 0x0806), Set(Ipv4Src, 1)], false },
        { "ip_proto on IP", [Ip6], [Set(IpProto, 17)], true },
        { "ip_proto without IP", [F(EthType, 0x0806)], [Set(IpProto, 17)], false },
        { "udp_src after ip_proto set to UDP", [Ip4, Tcp], [Set(IpProto, 17), Set(UdpSrc, 53)], true },
        { "tcp_dst after ip_proto set to UDP", [Ip4, Tcp], [Set(IpProto, 17), Set(TcpDst, 80)], false },
        { "output, group, queue: nothing to check", [], [Ofp13Action.Output(1), A(Ofp13ActionType.Group, 1), A(Ofp13ActionType.SetQueue, 1)], true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ActionsAreCheckedAgainstTheMatchAsEarlierActionsChangedIt(string name, Ofp13Oxm[] match, Ofp13Action[] apply, bool consistent)
        => Assert.True(consistent == Ok(match, apply), name);

    [Fact]
    public void WriteActionsAreCheckedAfterWhatApplyActionsDid()
    {
        var pushMpls = new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [A(Ofp13ActionType.PushMpls, 0x8847)]);
        var writeIp = new Ofp13Instruction(Ofp13InstructionType.WriteActions, Actions: [Set(Ipv4Src, 1)]);
        var writeLabel = new Ofp13Instruction(Ofp13InstructionType.WriteActions, Actions: [Set(MplsLabel, 1)]);
        // The instructions' order on the wire does not matter: apply-actions run first.
        Assert.False(ActionPrerequisites.Consistent([Ip4], [writeIp, pushMpls]));
        Assert.True(ActionPrerequisites.Consistent([Ip4], [writeLabel, pushMpls]));
        Assert.True(ActionPrerequisites.Consistent([Ip4], [writeIp]));
    }
}
