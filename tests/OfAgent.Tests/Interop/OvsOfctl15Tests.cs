using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl -O OpenFlow15 against a switch that offers 1.5 (<see cref="AgentOptions.AllVersions"/>): the layouts
/// 1.5 changes (flow statistics with OXS counters, packet-out with a match, groups with bucket ids and insert/remove),
/// the meter action, bundles, and a 1.0 and a 1.3 tool beside.
/// </summary>
public sealed class OvsOfctl15Tests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static string Ok(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Ok(rig, "OpenFlow15", cmd, rest);

    private static string Refused(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Refused(rig, "OpenFlow15", cmd, rest);

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ShowPortsTables_Echo()
    {
        await using var rig = OvsOfctl.Rig();
        var show = Ok(rig, "show");
        Assert.Contains("OFPT_FEATURES_REPLY (OF1.5)", show);
        Assert.Contains("OFPST_PORT_DESC reply (OF1.5)", show);
        Assert.Contains("1(mem1): addr:02:00:00:00:00:01", show);
        Assert.Contains("speed: 1000 Mbps now", show);
        var desc = Ok(rig, "dump-ports-desc");
        Assert.Contains("4(mem4): addr:02:00:00:00:00:04", desc);
        // 1.5's port-desc request names a port.
        var one = Ok(rig, "dump-ports-desc", "2");
        Assert.Contains("2(mem2): addr:02:00:00:00:00:02", one);
        Assert.DoesNotContain("mem3", one);
        rig.Clock.Advance(TimeSpan.FromSeconds(2.5));
        var ports = Ok(rig, "dump-ports");
        Assert.Contains("OFPST_PORT reply (OF1.5)", ports);
        Assert.Contains("4 ports", ports);
        Assert.Contains("OFPST_TABLE reply (OF1.5)", Ok(rig, "dump-tables"));
        // The meter is no instruction in 1.5's table features (it is listed as apply-action 29, OFPAT_METER, which
        // ovs-ofctl's action table does not name).
        Assert.Contains("instructions: apply_actions clear_actions write_actions write_metadata goto_table", Ok(rig, "dump-table-features"));
        Ok(rig, "probe"); // an echo request, answered
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task FlowsInTheir15Layout_AddFlowsDumpDelete_MeterAction_PacketOutThroughThePipeline()
    {
        await using var rig = OvsOfctl.Rig();
        Ok(rig, "add-flow", "table=0,priority=10,in_port=1,actions=write_metadata:0x7/0xff,goto_table:3");
        Ok(rig, "add-flow", "table=3,priority=5,metadata=0x7/0xff,actions=output:2");
        var flows = Ok(rig, "dump-flows");
        Assert.Contains("OFPST_FLOW reply (OF1.5)", flows);
        Assert.Contains("table=0, n_packets=0, n_bytes=0, priority=10,in_port=1 actions=write_metadata:0x7/0xff,goto_table:3", flows);
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Contains("n_packets=1, n_bytes=", Ok(rig, "dump-flows", "table=3"));
        Assert.Contains("packet_count=1", Ok(rig, "dump-aggregate", "table=3")); // 1.5's aggregate: OXS counters
        Assert.Contains("flow_count=2", Ok(rig, "dump-aggregate"));

        // The meter is an action in 1.5: read back as one, and the same flow reads back as an instruction under 1.3.
        Ok(rig, "add-meter", "meter=1,pktps,band=type=drop,rate=1000");
        Ok(rig, "add-flow", "table=1,priority=7,udp,actions=meter:1,output:3");
        Assert.Contains("priority=7,udp actions=meter:1,output:3", Ok(rig, "dump-flows", "table=1"));
        Assert.Contains("priority=7,udp actions=meter:1,output:3", OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=1"));
        Assert.Contains("meter=1 pktps bands=", Ok(rig, "dump-meters"));

        // add-flows from a file, then del-flows; a 1.0 tool reads the same table meanwhile.
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["table=0,priority=20,in_port=2,actions=output:1", "table=0,priority=21,in_port=3,actions=output:4"]);
            Ok(rig, "add-flows", file);
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Contains("priority=21,in_port=3 actions=output:4", Ok(rig, "dump-flows"));
        Assert.Contains("priority=21,in_port=3 actions=output:4", OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows"));
        Ok(rig, "del-flows", "table=0,in_port=2");
        var after = Ok(rig, "dump-flows", "table=0");
        Assert.DoesNotContain("in_port=2", after);
        Assert.Contains("in_port=3", after);

        // Packet-out in 1.5's layout: in_port in the match; output:TABLE runs it through the pipeline from that port.
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        Ok(rig, "packet-out", "in_port=3 packet=" + Convert.ToHexString(frame) + " actions=table");
        Assert.Equal(frame, Assert.Single(rig.Ports[3].TakeSent()));
        Ok(rig, "packet-out", "in_port=controller packet=" + Convert.ToHexString(frame) + " actions=output:2");
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task Groups_BucketIds_InsertAndRemoveBuckets_ReadBackIn13Too()
    {
        await using var rig = OvsOfctl.Rig();
        Ok(rig, "add-group", "group_id=1,type=all,bucket=bucket_id:10,actions=output:1,bucket=bucket_id:20,actions=output:2");
        var groups = Ok(rig, "dump-groups");
        Assert.Contains("OFPST_GROUP_DESC reply (OF1.5)", groups);
        Assert.Contains("group_id=1,type=all,bucket=bucket_id:10,actions=output:1,bucket=bucket_id:20,actions=output:2", groups);

        Ok(rig, "insert-buckets", "group_id=1,command_bucket_id=first,bucket=bucket_id:5,actions=output:3");
        Ok(rig, "insert-buckets", "group_id=1,command_bucket_id=10,bucket=bucket_id:15,actions=output:4");
        Ok(rig, "insert-buckets", "group_id=1,command_bucket_id=last,bucket=bucket_id:25,actions=output:3");
        Assert.Contains("group_id=1,type=all,bucket=bucket_id:5,actions=output:3,bucket=bucket_id:10,actions=output:1,"
            + "bucket=bucket_id:15,actions=output:4,bucket=bucket_id:20,actions=output:2,bucket=bucket_id:25,actions=output:3", Ok(rig, "dump-groups"));
        Assert.Contains("OFPGMFC_BUCKET_EXISTS", Refused(rig, "insert-buckets", "group_id=1,command_bucket_id=last,bucket=bucket_id:15,actions=output:1"));
        Assert.Contains("OFPGMFC_UNKNOWN_BUCKET", Refused(rig, "insert-buckets", "group_id=1,command_bucket_id=99,bucket=bucket_id:30,actions=output:1"));
        Assert.Contains("OFPGMFC_UNKNOWN_GROUP", Refused(rig, "insert-buckets", "group_id=7,command_bucket_id=last,bucket=bucket_id:1,actions=output:1"));

        Ok(rig, "remove-buckets", "group_id=1,command_bucket_id=15");
        Ok(rig, "remove-buckets", "group_id=1,command_bucket_id=first");
        Ok(rig, "remove-buckets", "group_id=1,command_bucket_id=last");
        Assert.Contains("group_id=1,type=all,bucket=bucket_id:10,actions=output:1,bucket=bucket_id:20,actions=output:2", Ok(rig, "dump-groups"));
        Assert.Contains("OFPGMFC_UNKNOWN_BUCKET", Refused(rig, "remove-buckets", "group_id=1,command_bucket_id=15"));

        // The group forwards with the buckets it has now.
        Ok(rig, "add-flow", "priority=5,in_port=4,actions=group:1");
        rig.Ports[3].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[0].TakeSent());
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Empty(rig.Ports[2].TakeSent());

        // A select group's weights are bucket properties; a 1.3 tool reads the group in its own layout.
        Ok(rig, "add-group", "group_id=2,type=select,bucket=bucket_id:1,weight:3,actions=output:1,bucket=bucket_id:2,weight:5,actions=output:2");
        Assert.Contains("group_id=2,type=select,bucket=bucket_id:1,weight:3,actions=output:1,bucket=bucket_id:2,weight:5,actions=output:2", Ok(rig, "dump-groups", "2"));
        Assert.Contains("group_id=2,type=select,bucket=weight:3,actions=output:1,bucket=weight:5,actions=output:2", OvsOfctl.Ok(rig, "OpenFlow13", "dump-groups"));
        Ok(rig, "remove-buckets", "group_id=2,command_bucket_id=all");
        Assert.Contains("group_id=2,type=select\n", Ok(rig, "dump-groups", "2").Replace("\r", ""));
        Ok(rig, "del-groups", "group_id=1");
        Assert.DoesNotContain("group_id=1,", Ok(rig, "dump-groups"));
    }

    /// <summary>
    /// Open vSwitch's selection methods through real ovs-ofctl: <c>selection_method=hash</c> with fields (one, several, a
    /// masked one) and a parameter, <c>dp_hash</c>, read back by dump-groups as given; a hash over ip_dst keeps every
    /// packet to one destination on one bucket; the property on a group that is not a select group is refused.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task Groups_SelectionMethods_ReadBackAsGiven_AndHashTheNamedFields()
    {
        await using var rig = OvsOfctl.Rig();
        Ok(rig, "add-group", "group_id=1,type=select,selection_method=hash,fields(ip_src,ip_dst),bucket=bucket_id:1,weight:1,actions=output:1,bucket=bucket_id:2,weight:1,actions=output:2");
        Ok(rig, "add-group", "group_id=2,type=select,selection_method=hash,selection_method_param=7,fields=ip_dst,bucket=bucket_id:1,actions=output:1,bucket=bucket_id:2,actions=output:2");
        Ok(rig, "add-group", "group_id=3,type=select,selection_method=dp_hash,bucket=bucket_id:1,weight:1,actions=output:1,bucket=bucket_id:2,weight:3,actions=output:2");
        Ok(rig, "add-group", "group_id=4,type=select,selection_method=hash,fields(eth_dst=ff:ff:ff:00:00:00,ip_dst=255.255.255.0,udp_dst),bucket=bucket_id:1,actions=output:1");
        Ok(rig, "add-group", "group_id=5,type=select,selection_method=dp_hash,selection_method_param=4294967296,bucket=bucket_id:1,actions=output:1");
        var groups = Ok(rig, "dump-groups").Replace("\r", "");
        Assert.Contains("group_id=1,type=select,selection_method=hash,fields(ip_src,ip_dst),bucket=bucket_id:1,actions=output:1,bucket=bucket_id:2,actions=output:2\n", groups);
        Assert.Contains("group_id=2,type=select,selection_method=hash,selection_method_param=7,fields=ip_dst,bucket=bucket_id:1,actions=output:1,bucket=bucket_id:2,actions=output:2\n", groups);
        Assert.Contains("group_id=3,type=select,selection_method=dp_hash,bucket=bucket_id:1,actions=output:1,bucket=bucket_id:2,weight:3,actions=output:2\n", groups);
        Assert.Contains("group_id=4,type=select,selection_method=hash,fields(eth_dst=ff:ff:ff:00:00:00,ip_dst=255.255.255.0,udp_dst),bucket=bucket_id:1,actions=output:1\n", groups);
        Assert.Contains("group_id=5,type=select,selection_method=dp_hash,selection_method_param=4294967296,bucket=bucket_id:1,actions=output:1\n", groups);
        // A modify without the property takes it away, as Open vSwitch's; inserted buckets keep it.
        Ok(rig, "insert-buckets", "group_id=3,command_bucket_id=last,bucket=bucket_id:3,weight:2,actions=output:3");
        Assert.Contains("group_id=3,type=select,selection_method=dp_hash,bucket=bucket_id:1,", Ok(rig, "dump-groups", "3"));
        Ok(rig, "mod-group", "group_id=5,type=select,bucket=bucket_id:1,actions=output:1");
        Assert.Contains("group_id=5,type=select,bucket=bucket_id:1,actions=output:1", Ok(rig, "dump-groups", "5"));

        // Group 2 hashes ip_dst alone: 64 sources to one destination take one bucket; 64 destinations spread.
        Ok(rig, "add-flow", "priority=5,in_port=4,actions=group:2");
        for (uint src = 1; src <= 64; src++) rig.Ports[3].Inject(FrameBuilder.Udp(H1, H2, 0x0a000000 + src, 0x0a000063, (ushort)(1000 + src), 2, 10));
        rig.Poll();
        int toOne = rig.Ports[0].TakeSent().Count, toTwo = rig.Ports[1].TakeSent().Count;
        Assert.True(toOne + toTwo == 64 && (toOne == 0 || toTwo == 0), $"one destination went to both buckets: {toOne} and {toTwo}");
        for (uint dst = 1; dst <= 64; dst++) rig.Ports[3].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0b000000 + dst, 1000, 2, 10));
        rig.Poll();
        toOne = rig.Ports[0].TakeSent().Count;
        toTwo = rig.Ports[1].TakeSent().Count;
        Assert.Equal(64, toOne + toTwo);
        Assert.InRange(toOne, 12, 52);

        // Only a select group takes a selection method (Open vSwitch: BAD_PROPERTY/BAD_VALUE).
        Assert.Contains("OFPBPC_BAD_VALUE", Refused(rig, "add-group", "group_id=9,type=all,selection_method=dp_hash,bucket=actions=output:1"));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task BundleAddFlows_AndAPeerOfEachVersionBeside()
    {
        await using var rig = OvsOfctl.Rig();
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["priority=1,in_port=1,actions=output:2", "priority=2,in_port=2,actions=output:1"]);
            var (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow15", "--bundle", "add-flows", $"tcp:127.0.0.1:{rig.ListenPort}", file]);
            Assert.True(code == 0, $"ovs-ofctl -O OpenFlow15 --bundle add-flows failed ({code}): {se}{so}");
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Contains("priority=2,in_port=2 actions=output:1", Ok(rig, "dump-flows"));
        Assert.Contains("OFPST_FLOW reply (OF1.3)", OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows"));
        Assert.Contains("OFPST_FLOW reply (OF1.4)", OvsOfctl.Ok(rig, "OpenFlow14", "dump-flows"));
        Assert.Contains("NXST_FLOW reply (xid=0x", OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows"));   // 1.0 dumps in the NXM flow format
        // A tool that offers 1.5 and 1.0 is answered in 1.5, the highest both speak.
        Assert.Contains("(OF1.5)", OvsOfctl.Ok(rig, "OpenFlow10,OpenFlow15", "dump-flows"));
    }

    /// <summary>
    /// <c>ovs-ofctl bundle</c> with a file of flow, group and packet-out lines, under 1.4 and 1.5: the group DELETE
    /// takes the flow that applied the group with it, and the packet-out, written before the flow it goes through, is
    /// sent after the commit by that flow; a bundle whose last line fails leaves the tables, the groups and the ports as
    /// they were.
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task BundleOfFlowsGroupsAndPacketOuts_CommitsAllOrNothing(string version)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-group", "group_id=5,type=all,bucket=output:3");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=5,in_port=3,actions=group:5");
        byte[] frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 0x0a000001, 0x0a000002, 1, 2, 10);
        string hex = Convert.ToHexString(frame).ToLowerInvariant();
        string file = Path.GetTempFileName();
        try
        {
            // A failing last line (an output to no port): nothing of it happens.
            File.WriteAllLines(file, ["group delete group_id=5", $"packet-out in_port=1 packet={hex} actions=table",
                                      "flow add priority=9,in_port=1,actions=output:2", "flow add priority=9,in_port=2,actions=output:77"]);
            var (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", version, "bundle", $"tcp:127.0.0.1:{rig.ListenPort}", file]);
            Assert.True(code != 0, $"a bundle with a failing flow succeeded: {so}");
            Assert.Contains("group_id=5,type=all", OvsOfctl.Ok(rig, version, "dump-groups"));
            Assert.Contains("in_port=3 actions=group:5", OvsOfctl.Ok(rig, version, "dump-flows"));
            Assert.DoesNotContain("in_port=1", OvsOfctl.Ok(rig, version, "dump-flows"));
            Assert.Empty(rig.Ports[1].TakeSent());

            File.WriteAllLines(file, ["group delete group_id=5", $"packet-out in_port=1 packet={hex} actions=table",
                                      "flow add priority=9,in_port=1,actions=output:2"]);
            (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", version, "bundle", $"tcp:127.0.0.1:{rig.ListenPort}", file]);
            Assert.True(code == 0, $"ovs-ofctl -O {version} bundle failed ({code}): {se}{so}");
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));
        Assert.DoesNotContain("group_id=5", OvsOfctl.Ok(rig, version, "dump-groups"));
        string flows = OvsOfctl.Ok(rig, version, "dump-flows");
        Assert.DoesNotContain("in_port=3", flows);
        Assert.Contains("in_port=1 actions=output:2", flows);
    }
}
