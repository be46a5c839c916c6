using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, OpenFlow 1.0, 1.3, 1.4 and 1.5: whole-field loads of the ICMP, VLAN, MPLS, DSCP, TTL, ECN and IPv6
/// flow label fields, and Open vSwitch's set_field of nw_ttl, nw_tos and vlan_tci, read back in dump-flows exactly as
/// ovs-ofctl's own <c>parse-flow</c> prints the same flow in that version (the encoding Open vSwitch writes back: the
/// load as it came up to 1.4, the set_field under the mask of the field's bits in 1.5). A dump that ovs-ofctl can
/// read again re-adds to the same flow, and the loads forward as the set-fields do.
/// </summary>
public sealed class OvsOfctlFieldLoadReadBackTests
{
    // (match, actions) of one flow each; every one ends in output:2.
    private static readonly (string Match, string Actions)[] s_flows =
    [
        ("icmp", "load:0x3->NXM_OF_ICMP_TYPE[],load:0x1->NXM_OF_ICMP_CODE[]"),
        ("icmp6", "load:0x80->NXM_NX_ICMPV6_TYPE[],load:0x1->NXM_NX_ICMPV6_CODE[]"),
        ("dl_vlan=5", "load:0x3->OXM_OF_VLAN_PCP[]"),
        ("dl_vlan=5", "load:0x6->OXM_OF_VLAN_VID[]"),
        ("in_port=1", "load:0x1005->NXM_OF_VLAN_TCI[]"),
        ("in_port=1", "set_field:0x1005->vlan_tci"),
        ("mpls", "load:0x5->OXM_OF_MPLS_LABEL[],load:0x2->OXM_OF_MPLS_TC[]"),
        ("ip", "load:0x20->NXM_OF_IP_TOS[]"),
        ("ip", "load:0x8->OXM_OF_IP_DSCP[]"),
        ("ip", "set_field:32->nw_tos"),
        ("ip", "load:0x40->NXM_NX_IP_TTL[]"),
        ("ip", "set_field:64->nw_ttl"),
        ("ip", "load:0x1->NXM_NX_IP_ECN[]"),
        ("ipv6", "load:0x5->NXM_NX_IPV6_LABEL[]"),
    ];

    private static readonly string[] s_versions = ["OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"];

    /// <summary>
    /// Every flow in every version but a load of OXM_OF_VLAN_VID in 1.5, which Open vSwitch itself cannot write there
    /// (its 1.5 set_field of the 12 bits lacks OFPVID_PRESENT, and parse-flow refuses it).
    /// </summary>
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var v in s_versions)
        {
            for (int i = 0; i < s_flows.Length; i++)
            {
                if (v == "OpenFlow15" && s_flows[i].Actions.Contains("OXM_OF_VLAN_VID", StringComparison.Ordinal)) continue;
                data.Add(v, i);
            }
        }
        return data;
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [MemberData(nameof(Cases))]
    public async Task AWholeFieldLoad_ReadsBackAsOvsOfctlParseFlowPrintsIt(string version, int index)
    {
        var (match, actions) = s_flows[index];
        string flow = $"priority=5,{match},actions={actions},output:2";
        string expected = OvsOfctl.ParsedActions(version, flow);
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-flow", flow);
        var line = Assert.Single(OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows")));
        Assert.Equal(expected, OvsOfctl.ActionsOf(line));

        // A dump ovs-ofctl can read again (not 1.5's set_field under a mask of a field Open vSwitch takes no mask on,
        // which its own parser refuses) re-adds to the same flow.
        string before = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        string again = OvsOfctl.FlowLines(before).Single();
        if (OvsOfctl.Parses(version, again))
            Assert.Equal(OvsOfctl.Flows(before), OvsOfctl.Flows(OvsOfctl.ReAdd(rig, version, [again])));
    }

    /// <summary>
    /// Loads of ICMP type and code, DSCP (NXM_OF_IP_TOS and OXM_OF_IP_DSCP) and nw_ttl rewrite the packet as their
    /// set-fields do, whatever form they read back in.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task TheLoads_RewriteThePacketAsTheSetFieldsDo()
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "priority=5,icmp,in_port=1,actions=load:0x3->NXM_OF_ICMP_TYPE[],load:0x1->NXM_OF_ICMP_CODE[],"
                                                  + "load:0x40->NXM_NX_IP_TTL[],load:0x20->NXM_OF_IP_TOS[],output:2");
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "priority=5,icmp,in_port=3,actions=load:0xa->OXM_OF_IP_DSCP[],output:2");
        var mac1 = MacAddress.Parse("00:00:00:00:00:01");
        var mac2 = MacAddress.Parse("00:00:00:00:00:02");
        rig.Ports[0].Inject(FrameBuilder.IcmpEcho(mac1, mac2, 0x0A000001, 0x0A000002, false, 1, 1));
        rig.Poll();
        var sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(0x20, sent[15]);   // ToS
        Assert.Equal(0x40, sent[22]);   // TTL
        Assert.Equal(3, sent[34]);      // ICMP type
        Assert.Equal(1, sent[35]);      // ICMP code
        Assert.Equal(0, Checksum(sent.AsSpan(14, 20)));

        rig.Ports[2].Inject(FrameBuilder.IcmpEcho(mac1, mac2, 0x0A000001, 0x0A000002, false, 1, 1));
        rig.Poll();
        sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(0xa << 2, sent[15]);
        Assert.Equal(0, Checksum(sent.AsSpan(14, 20)));
    }

    /// <summary>
    /// Flows added over 1.3 read back over 1.0 as ovs-ofctl's parse-flow writes them there: an ICMPv6 set-field keeps its
    /// field through the datapath (1.0's encoding takes the field from the action alone: ICMPv6's load, not ICMPv4's);
    /// Open vSwitch's set_field of nw_ttl, nw_tos and vlan_tci as it writes them to 1.0 (a load, mod_nw_tos,
    /// mod_vlan_vid and mod_vlan_pcp).
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("icmp6", "set_field:135->icmpv6_type,set_field:0->icmpv6_code")]
    [InlineData("ip", "set_field:64->nw_ttl")]
    [InlineData("ip", "set_field:32->nw_tos")]
    [InlineData("in_port=1", "set_field:0x1005->vlan_tci")]
    [InlineData("in_port=1", "set_field:0x5->vlan_tci")]
    public async Task AFlowAddedOver13_ReadsBackOver10AsParseFlowWritesIt(string match, string actions)
    {
        string flow = $"priority=5,{match},actions={actions},output:2";
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", flow);
        Assert.Equal(OvsOfctl.ParsedActions("OpenFlow13", flow), OvsOfctl.ActionsOf(Assert.Single(OvsOfctl.Flows(OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows")))));
        Assert.Equal(OvsOfctl.ParsedActions("OpenFlow10", flow), OvsOfctl.ActionsOf(Assert.Single(OvsOfctl.Flows(OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows")))));
    }

    private static int Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (int)(~sum & 0xffff);
    }
}
