namespace Softswitch.TestKit;

/// <summary>
/// The MAC-learning switch of Open vSwitch's advanced tutorial, built from <c>learn</c> and <c>resubmit</c> in five
/// tables, as ovs-ofctl add-flows lines: port 1 a trunk, port 2 an access port of VLAN 20, ports 3 and 4 of VLAN 30.
/// Table 0 drops multicast sources and reserved destinations, table 1 tags by ingress port, table 2 learns the source's
/// port into table 10 (reg0), table 3 looks the destination up there, table 4 outputs by reg0 or floods the VLAN.
/// </summary>
public static class OvsTutorialFlows
{
    public static readonly string[] MacLearning =
    [
        "table=0,dl_src=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop",
        "table=0,dl_dst=01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0,actions=drop",
        "table=0,priority=0,actions=resubmit(,1)",
        "table=1,priority=0,actions=drop",
        "table=1,priority=99,in_port=1,actions=resubmit(,2)",
        "table=1,priority=99,in_port=2,vlan_tci=0,actions=mod_vlan_vid:20,resubmit(,2)",
        "table=1,priority=99,in_port=3,vlan_tci=0,actions=mod_vlan_vid:30,resubmit(,2)",
        "table=1,priority=99,in_port=4,vlan_tci=0,actions=mod_vlan_vid:30,resubmit(,2)",
        "table=2,actions=learn(table=10,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]),resubmit(,3)",
        "table=3,priority=50,actions=resubmit(,10),resubmit(,4)",
        "table=3,priority=99,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,4)",
        "table=4,reg0=1,actions=1",
        "table=4,reg0=2,vlan_tci=0x1000/0x1000,actions=strip_vlan,2",
        "table=4,reg0=3,vlan_tci=0x1000/0x1000,actions=strip_vlan,3",
        "table=4,reg0=4,vlan_tci=0x1000/0x1000,actions=strip_vlan,4",
        "table=4,reg0=0,priority=99,dl_vlan=20,actions=1,strip_vlan,2",
        "table=4,reg0=0,priority=99,dl_vlan=30,actions=1,strip_vlan,3,4",
        "table=4,reg0=0,priority=50,actions=1",
    ];
}
