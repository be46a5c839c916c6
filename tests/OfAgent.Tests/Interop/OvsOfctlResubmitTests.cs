using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Of13;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of13;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl with Open vSwitch's resubmit where its action set and its packet-outs hold one: write_actions(resubmit)
/// runs when the action set does, at the end of the pipeline, is dumped as ovs-ofctl wrote it, text and bytes; a
/// packet-out's resubmit (1.0 and 1.3) looks the packet up as the actions before it left it, and the flow it finds counts it.
/// </summary>
public sealed class OvsOfctlResubmitTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    /// <summary>write_actions(resubmit(,1)) as ovs-ofctl -O OpenFlow13 encodes it (its parse-instructions round-trips these bytes).</summary>
    private const string WriteResubmit = "0003001800000000FFFF001000002320000EFFF801000000";

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AResubmitInWriteActions_RunsAtThePipelinesEnd_AndRoundTripsTextAndBytes()
    {
        await using var rig = new AgentRig();
        const string v = "OpenFlow13";
        OvsOfctl.Ok(rig, v, "add-flow", "table=0,priority=10,in_port=1,actions=write_actions(set_field:00:00:00:00:00:09->eth_dst,resubmit(,1)),goto_table:2");
        OvsOfctl.Ok(rig, v, "add-flow", "table=2,priority=10,actions=output:3");
        OvsOfctl.Ok(rig, v, "add-flow", "table=1,priority=10,dl_dst=00:00:00:00:00:09,actions=output:2");
        OvsOfctl.Ok(rig, v, "add-flow", "table=5,actions=write_actions(resubmit(,1))");
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Equal(H2, MacAddress.Read(Assert.Single(rig.Ports[2].TakeSent()).AsSpan(0, 6))); // table 2's output, before the set
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:09"), MacAddress.Read(Assert.Single(rig.Ports[1].TakeSent()).AsSpan(0, 6)));
        Assert.Contains("table=1, n_packets=1,", OvsOfctl.Ok(rig, v, "dump-flows", "table=1"));

        string first = OvsOfctl.Ok(rig, v, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=write_actions(set_field:00:00:00:00:00:09->eth_dst,resubmit(,1)),goto_table:2", first);
        Assert.Contains("table=5, actions=write_actions(resubmit(,1))", first);
        Assert.Equal(first, OvsOfctl.ReAdd(rig, v, OvsOfctl.FlowLines(first)));

        // The bytes the switch gives back are those ovs-ofctl sent: the flow statistics of table 5 end with them.
        using var c = await Of13SessionTests.Controller13.ConnectAsync(rig.ListenPort);
        var fr = new Ofp13FlowStatsRequest { TableId = 5, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        var reply = await c.ReplyAsync(c.Send(new Ofp13MultipartRequest { Version = Ofp13.Version, Type = Ofp13MultipartType.Flow }.Encode(fr.Encode())));
        Assert.EndsWith(WriteResubmit, Convert.ToHexString(reply));
        var (code, text, err) = ExternalTool.Run("sh", "-c", $"echo {WriteResubmit} | ovs-ofctl parse-instructions OpenFlow13");
        Assert.True(code == 0, err);
        Assert.Equal("actions=write_actions(resubmit(,1))", text.Trim());
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    public async Task APacketOutsResubmit_LooksThePacketUpInTheTables_AndTheFlowCountsIt(string version)
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=1,priority=10,dl_dst=00:00:00:00:00:09,actions=output:2");
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=0,priority=10,in_port=4,actions=output:3");
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        // The first resubmit sees the rewritten destination; the second looks table 0 up as if from port 4.
        OvsOfctl.Ok(rig, version, "packet-out",
                    $"in_port=1 packet={Convert.ToHexString(frame)} actions=mod_dl_dst:00:00:00:00:00:09,resubmit(,1),resubmit(4,0)");
        rig.Poll();
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:09"), MacAddress.Read(Assert.Single(rig.Ports[1].TakeSent()).AsSpan(0, 6)));
        Assert.Single(rig.Ports[2].TakeSent());
        Assert.Empty(rig.Ports[0].TakeSent());
        var dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows");
        Assert.Contains("table=1, n_packets=1,", dump);
        Assert.Contains("n_packets=1, n_bytes=", dump.Split('\n').Single(l => l.Contains("in_port=4", StringComparison.Ordinal)));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task OpenFlow10_AResubmitAnywhereAndAnExit_RunAsIn13_AndTheDumpReAdds()
    {
        await using var rig = new AgentRig();
        const string v = "OpenFlow10";
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=1,priority=10,actions=output:2");
        OvsOfctl.Ok(rig, v, "add-flow", "priority=10,in_port=1,actions=resubmit(,1),output:3,exit,output:4");
        OvsOfctl.Ok(rig, v, "add-flow", "priority=10,in_port=2,actions=resubmit:1");
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent()); // table 1's output, then the rest of the list up to the exit
        Assert.Single(rig.Ports[2].TakeSent());
        Assert.Empty(rig.Ports[3].TakeSent());
        rig.Ports[1].Inject(FrameBuilder.Udp(H2, H1, 0x0a000002, 0x0a000001, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[2].TakeSent()); // looked up in table 0 as if from port 1
        string first = OvsOfctl.Ok(rig, v, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=resubmit(,1),output:3,exit,output:4", first);
        Assert.Contains("priority=10,in_port=2 actions=resubmit:1", first);
        Assert.Equal(first, OvsOfctl.ReAdd(rig, v, OvsOfctl.FlowLines(first)));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// A group bucket's resubmit (Open vSwitch runs it as one in any list): an ALL group of two buckets, one resubmitting,
    /// added and dumped as ovs-ofctl -O OpenFlow13 writes it; a frame through it goes out of the first bucket's port and of
    /// the port of the rule table 2 holds, which counts it.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AGroupBucketsResubmit_IsTakenAndDumpedAsWritten_AndTheRuleItReachesForwardsAndCounts()
    {
        await using var rig = new AgentRig();
        const string v = "OpenFlow13";
        OvsOfctl.Ok(rig, v, "add-group", "group_id=1,type=all,bucket=actions=output:2,bucket=actions=resubmit(,2)");
        OvsOfctl.Ok(rig, v, "add-flow", "table=0,priority=10,in_port=1,actions=group:1");
        OvsOfctl.Ok(rig, v, "add-flow", "table=2,priority=10,udp,actions=output:3");
        Assert.Contains("group_id=1,type=all,bucket=actions=output:2,bucket=actions=resubmit(,2)", OvsOfctl.Ok(rig, v, "dump-groups"));
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Single(rig.Ports[2].TakeSent());
        Assert.Contains("table=2, n_packets=1,", OvsOfctl.Ok(rig, v, "dump-flows", "table=2"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// A bucket's actions applied as an action set, as Open vSwitch's xlate_group_bucket applies them: an output written
    /// before a set-field outputs the rewritten frame, a bucket's later output replaces its earlier one; dump-groups
    /// shows the buckets as ovs-ofctl wrote them.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AGroupBucket_RunsAsAnActionSet_AndIsDumpedAsWritten()
    {
        await using var rig = new AgentRig();
        const string v = "OpenFlow13";
        OvsOfctl.Ok(rig, v, "add-group", "group_id=1,type=all,bucket=actions=output:2,set_field:00:00:00:00:00:09->eth_dst,bucket=actions=output:3,output:4");
        OvsOfctl.Ok(rig, v, "add-flow", "table=0,priority=10,in_port=1,actions=group:1");
        Assert.Contains("group_id=1,type=all,bucket=actions=output:2,set_field:00:00:00:00:00:09->eth_dst,bucket=actions=output:3,output:4",
                        OvsOfctl.Ok(rig, v, "dump-groups"));
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:09"), MacAddress.Read(Assert.Single(rig.Ports[1].TakeSent())));
        Assert.Empty(rig.Ports[2].TakeSent());
        Assert.Single(rig.Ports[3].TakeSent());
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
