using Softswitch.Datapath.Flow;
using Softswitch.Flows;
using Softswitch.Ofproto;
using Softswitch.Vswitchd;

namespace Softswitch.Tests.Flows;

/// <summary>Flows in Open vSwitch's datapath syntax, as `ovs-appctl dpctl/dump-flows` prints them: golden strings.</summary>
public sealed class DatapathFlowFormatTests
{
    private static FlowEntry Flow(string text, long created = 1_000_000_000)
    {
        Assert.True(OfctlFlowParser.TryParse(text, FlowModCommand.Add, out var mod, out var error), error);
        return OfFlowRule.NewEntry(mod.Match, mod.Priority, mod.Actions, 0, 0, 0, FlowModFlags.None, created);
    }

    private static string Number(ushort port) => FlowFormat.Port(port);

    private static string Key(string text) => DatapathFlowFormat.Key(Flow(text).Match, Number);

    private static string Actions(string text) => DatapathFlowFormat.Actions(Flow(text), Number);

    [Fact]
    public void AnExactIcmpFlow_IsItsDatapathKey()
    {
        Assert.Equal("in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.78.0.1,dst=10.78.0.2,proto=1,tos=0/0xfc),icmp(type=8,code=0)",
            Key("icmp,in_port=1,dl_vlan=0xffff,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_tos=0,nw_src=10.78.0.1,nw_dst=10.78.0.2,icmp_type=8,icmp_code=0,actions=output:2"));
    }

    [Fact]
    public void WildcardedFieldsAreLeftOut_PartlyMatchedOnesCarryTheirMask()
    {
        Assert.Equal("eth_type(0x0800),ipv4(dst=10.1.0.0/255.255.0.0)", Key("ip,nw_dst=10.1.0.0/16,actions=output:1"));
        Assert.Equal("in_port(3),eth(src=02:00:00:00:00:01)", Key("in_port=3,dl_src=02:00:00:00:00:01,actions=drop"));
        Assert.Equal("eth_type(0x0800),ipv4(proto=6),tcp(dst=80)", Key("tcp,tp_dst=80,actions=output:1"));
        Assert.Equal("eth_type(0x0800),ipv4(proto=17),udp(src=53)", Key("udp,tp_src=53,actions=output:1"));
        Assert.Equal("eth_type(0x0806),arp(tip=10.0.0.1,op=1)", Key("arp,arp_tpa=10.0.0.1,arp_op=1,actions=output:1"));
        Assert.Equal("", Key("actions=output:1"));
    }

    [Fact]
    public void IpFrag_IsTheFragEnumeration_OrItsValueAndMaskOverOneBit()
    {
        Assert.Equal("eth_type(0x0800),ipv4(frag=no)", Key("ip,ip_frag=no,actions=output:1"));
        Assert.Equal("eth_type(0x0800),ipv4(frag=first)", Key("ip,ip_frag=first,actions=output:1"));
        Assert.Equal("eth_type(0x86dd),ipv6(frag=later)", Key("ipv6,ip_frag=later,actions=output:1"));
        Assert.Equal("eth_type(0x0800),ipv4(frag=1/0x1)", Key("ip,ip_frag=yes,actions=output:1"));
    }

    [Fact]
    public void ATaggedMatch_PutsTheRestInEncap()
    {
        Assert.Equal("in_port(1),eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800),ipv4(src=10.0.0.1))",
            Key("in_port=1,dl_vlan=10,dl_vlan_pcp=3,ip,nw_src=10.0.0.1,actions=output:2"));
        Assert.Equal("eth_type(0x8100),vlan(vid=10)", Key("dl_vlan=10,actions=output:2"));
    }

    [Fact]
    public void IPv6_IsItsOwnPart()
    {
        Assert.Equal("eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,proto=58),icmpv6(type=128)",
            Key("icmp6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,icmpv6_type=128,actions=output:2"));
    }

    [Fact]
    public void Actions_AsTheDatapathSaysThem()
    {
        Assert.Equal("2", Actions("in_port=1,actions=output:2"));
        Assert.Equal("drop", Actions("in_port=1,actions=drop"));
        Assert.Equal("2,3", Actions("in_port=1,actions=output:2,output:3"));
        // IN_PORT is the matched in_port; without one, its OpenFlow name.
        Assert.Equal("1", Actions("in_port=1,actions=in_port"));
        Assert.Equal("IN_PORT", Actions("ip,actions=in_port"));
        // Header changes are committed before the output, one set() per header.
        Assert.Equal("set(eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b)),set(ipv4(dst=10.0.0.9)),2",
            Actions("ip,in_port=1,actions=mod_dl_src:02:00:00:00:00:0a,mod_nw_dst:10.0.0.9,mod_dl_dst:02:00:00:00:00:0b,output:2"));
        Assert.Equal("set(tcp(dst=8080)),2", Actions("tcp,in_port=1,actions=mod_tp_dst:8080,output:2"));
        Assert.Equal("set(udp(src=5353)),2", Actions("udp,in_port=1,actions=mod_tp_src:5353,output:2"));
        // Tags: a strip is pop_vlan; a new or changed tag is pushed whole.
        Assert.Equal("pop_vlan,2", Actions("in_port=1,dl_vlan=10,actions=strip_vlan,output:2"));
        Assert.Equal("push_vlan(vid=20,pcp=0),2", Actions("in_port=1,dl_vlan=0xffff,actions=mod_vlan_vid:20,output:2"));
        Assert.Equal("pop_vlan,push_vlan(vid=20,pcp=5),2", Actions("in_port=1,dl_vlan=10,dl_vlan_pcp=5,actions=mod_vlan_vid:20,output:2"));
        // What a datapath has no word for is said in ovs-ofctl's.
        Assert.Equal("FLOOD", Actions("in_port=1,actions=flood"));
        Assert.Equal("CONTROLLER:65535", Actions("in_port=1,actions=controller"));
    }

    [Fact]
    public void Stats_CountersAndTimeSinceLastUse()
    {
        var e = Flow("in_port=1,actions=output:2", created: 1_000_000_000);
        Assert.Equal("packets:0, bytes:0, used:never", DatapathFlowFormat.Stats(e, 5_000_000_000));
        e.Hit(3, 294, 2_000_000_000);
        Assert.Equal("packets:3, bytes:294, used:0.500s", DatapathFlowFormat.Stats(e, 2_500_000_000));
    }

    [Fact]
    public void Filter_KeepsTheFlowsThatAgreeOnTheFieldsBothMatch()
    {
        static FlowMatch M(string text) => Flow(text + ",actions=drop").Match;
        Assert.True(DpctlDumpFlows.Agrees(M("in_port=1"), M("in_port=1,ip,nw_dst=10.0.0.1")));
        Assert.False(DpctlDumpFlows.Agrees(M("in_port=2"), M("in_port=1,ip,nw_dst=10.0.0.1")));
        // A field the flow does not match does not count against it (Open vSwitch's dpctl filter).
        Assert.True(DpctlDumpFlows.Agrees(M("ip,nw_src=10.9.9.9"), M("in_port=1,ip,nw_dst=10.0.0.1")));
        Assert.False(DpctlDumpFlows.Agrees(M("ip,nw_dst=10.0.0.2"), M("in_port=1,ip,nw_dst=10.0.0.1")));
    }
}
