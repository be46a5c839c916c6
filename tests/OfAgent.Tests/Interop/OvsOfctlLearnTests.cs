using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Open vSwitch's learn action through real ovs-ofctl, OpenFlow 1.0 and 1.3: its full syntax added and dumped back the
/// same, and the MAC-learning pipeline of Open vSwitch's advanced tutorial (table 0 admission, table 1 VLAN input,
/// table 2 learn, table 3 look-up through resubmit(,10), table 4 output) forwarding frames by what it learned, the
/// learned flows in dump-flows; delete_learned removes them with the flow that learned them.
/// </summary>
public sealed class OvsOfctlLearnTests
{
    private static readonly MacAddress H2 = MacAddress.Parse("00:00:00:00:00:02"), H3 = MacAddress.Parse("00:00:00:00:00:03");

    /// <summary>Waits (at most 10 s) until the switch has installed <paramref name="count"/> learned flows: the upcall pump installs them.</summary>
    private static void WaitLearned(AgentRig rig, long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (rig.Switch.LearnInstalled < count && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Assert.True(rig.Switch.LearnInstalled >= count, $"{rig.Switch.LearnInstalled} learned flows installed, {count} expected; failed {rig.Switch.LearnFailed}");
    }

    // The tutorial's flows as written, but for a VLAN match beside strip_vlan in table 4: OpenFlow 1.3 wants one before
    // a pop (ovs-ofctl sends the tutorial's only over Open vSwitch's NXM, which the switch does not speak).

    /// <summary>
    /// The tutorial's pipeline over OpenFlow 1.3 (port 1 a trunk, port 2 an access port of VLAN 20, ports 3 and 4 of
    /// VLAN 30): an unknown destination floods the VLAN (out of the trunk), and learns where its source is; a frame back
    /// to it goes out of the port learned only; the learned flows show in dump-flows in table 10, and the dump re-adds.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task TheTutorialsMacLearningPipeline_ForwardsByWhatItLearned()
    {
        await using var rig = new AgentRig();
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, OvsTutorialFlows.MacLearning);
            OvsOfctl.Ok(rig, "OpenFlow13", "add-flows", file);
            // H2 on access port 2 (VLAN 20) to H3, not yet learned: out of the trunk, tagged 20; H2 learned on port 2.
            rig.Ports[1].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
            rig.Poll();
            var trunk = Assert.Single(rig.Ports[0].TakeSent());
            Assert.Equal(0x8100, trunk[12] << 8 | trunk[13]);
            Assert.Equal(20, (trunk[14] << 8 | trunk[15]) & 0xfff);
            Assert.Empty(rig.Ports[2].TakeSent());
            WaitLearned(rig, 1);
            // H3 on the trunk, VLAN 20, to H2: learned, so out of port 2 only, untagged; H3 learned on port 1.
            rig.Ports[0].Inject(FrameBuilder.Udp(H3, H2, 0x0a000003, 0x0a000002, 2, 1, vlan: 20));
            rig.Poll();
            var access = Assert.Single(rig.Ports[1].TakeSent());
            Assert.Equal(0x0800, access[12] << 8 | access[13]);
            Assert.Empty(rig.Ports[0].TakeSent());
            Assert.Empty(rig.Ports[2].TakeSent());
            Assert.Empty(rig.Ports[3].TakeSent());
            WaitLearned(rig, 2);
            // H2 to H3 again: now out of the trunk because H3 was learned there (the same port as the flood, so also
            // check a VLAN 30 source is not sent to H2's port: VLAN 30 learned nothing).
            rig.Ports[1].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
            rig.Poll();
            Assert.Single(rig.Ports[0].TakeSent());
            rig.Ports[2].Inject(FrameBuilder.Udp(H3, H2, 0x0a000003, 0x0a000002, 2, 1));
            rig.Poll();
            Assert.Empty(rig.Ports[1].TakeSent()); // VLAN 30 never learned H2: flooded to the trunk and port 4
            Assert.Single(rig.Ports[0].TakeSent());
            Assert.Single(rig.Ports[3].TakeSent());
            WaitLearned(rig, 3); // H3 on port 3 in VLAN 30: in before the dump, which must not change under it

            string dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats");
            Assert.Contains("actions=learn(table=10,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]),resubmit(,3)", dump);
            var learned = dump.Split('\n').Where(l => l.Contains("table=10", StringComparison.Ordinal)).ToList();
            Assert.Contains(learned, l => l.Contains("dl_dst=00:00:00:00:00:02", StringComparison.Ordinal) && l.Contains("load:0x2->NXM_NX_REG0[0..15]", StringComparison.Ordinal));
            Assert.Contains(learned, l => l.Contains("dl_dst=00:00:00:00:00:03", StringComparison.Ordinal) && l.Contains("load:0x1->NXM_NX_REG0[0..15]", StringComparison.Ordinal));

            static string[] Lines(string d) => [.. d.Split('\n').Order(StringComparer.Ordinal)];
            Assert.Equal(Lines(dump), Lines(OvsOfctl.ReAdd(rig, "OpenFlow13", OvsOfctl.FlowLines(dump))));
        }
        finally
        {
            File.Delete(file);
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// learn's whole syntax through OpenFlow 1.0 and 1.3: every parameter, match specs from a field, from an immediate
    /// and of the field itself, load specs from a field and an immediate, an output spec; the dump shows what was added.
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    public async Task TheFullSyntax_RoundTrips(string version)
    {
        await using var rig = new AgentRig();
        const string Learn = "learn(table=1,idle_timeout=10,hard_timeout=20,fin_idle_timeout=5,fin_hard_timeout=10,priority=10,send_flow_rem,"
                             + "delete_learned,cookie=0xfedcba9876543210,in_port=99,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],"
                             + "load:NXM_OF_IN_PORT[]->NXM_NX_REG1[16..31],load:0xa->NXM_NX_REG0[5..10],output:NXM_OF_IN_PORT[])";
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=5,actions={Learn},output:2");
        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains($"priority=5 actions={Learn},output:2", dump);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>LEARN2's limit and result_dst, added and dumped back the same through OpenFlow 1.0 and 1.3.</summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    public async Task ALimitAndAResultDst_RoundTrip(string version)
    {
        await using var rig = new AgentRig();
        const string Learn = "learn(table=1,hard_timeout=20,priority=10,cookie=0x5,limit=7,result_dst=NXM_NX_REG1[3],"
                             + "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])";
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=5,actions={Learn},output:2");
        Assert.Contains($"priority=5 actions={Learn},output:2", OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// A learn's fin timeouts are the learned flow's fin_timeout (its first action, as Open vSwitch's learn_execute
    /// writes it), and a FIN through the learned flow lowers that flow's timeouts to them.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ALearnsFinTimeouts_AreTheLearnedFlowsFinTimeout_AndAFinLowersIt()
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow",
           "table=0,priority=5,in_port=1,actions=learn(table=3,idle_timeout=30,hard_timeout=60,fin_idle_timeout=5,fin_hard_timeout=10,"
           + "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2");
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=0,priority=5,in_port=3,actions=goto_table:3");
        rig.Ports[0].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        WaitLearned(rig, 1);
        string dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats", "table=3");
        Assert.Contains("idle_timeout=30, hard_timeout=60,", dump);
        Assert.Contains("dl_dst=00:00:00:00:00:02 actions=fin_timeout(idle_timeout=5,hard_timeout=10),output:1", dump);

        byte[] fin = FrameBuilder.Tcp(H3, H2, 0x0a000003, 0x0a000002, 80, 40000);
        fin[14 + 20 + 13] = 0x11; // FIN|ACK
        rig.Ports[2].Inject(fin);
        rig.Poll();
        Assert.Single(rig.Ports[0].TakeSent());
        rig.Dp.RunMaintenance();
        dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=3");
        Assert.True(dump.Contains("idle_timeout=5, hard_timeout=10,", StringComparison.Ordinal), dump);
    }

    /// <summary>
    /// A learned flow has the learn's timeouts, priority, cookie and flags; delete_learned: when the flow that learned
    /// goes, so do its learned flows (and a re-learn of an identical flow only restarts its timers).
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ALearnedFlow_HasTheLearnsParameters_AndGoesWithItsLearner_WhenDeleteLearned()
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow",
           "table=0,priority=5,in_port=1,actions=learn(table=3,idle_timeout=30,hard_timeout=60,priority=7,cookie=0x5,send_flow_rem,delete_learned,"
           + "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2");
        rig.Ports[0].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        WaitLearned(rig, 1);
        string dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats", "table=3");
        Assert.Contains("cookie=0x5", dump);
        Assert.Contains("idle_timeout=30", dump);
        Assert.Contains("hard_timeout=60", dump);
        Assert.Contains("send_flow_rem", dump);
        Assert.Contains("priority=7,dl_dst=00:00:00:00:00:02 actions=output:1", dump);
        // The same frame a second later: the same flow, refreshed (its timers), not installed again.
        rig.Clock.Advance(TimeSpan.FromSeconds(1.5));
        rig.Ports[0].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
        rig.Poll();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (rig.Switch.LearnRefreshed < 1 && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Assert.Equal(1, rig.Switch.LearnRefreshed);
        Assert.Equal(1, rig.Switch.LearnInstalled);
        OvsOfctl.Ok(rig, "OpenFlow13", "del-flows", "table=0");
        Assert.DoesNotContain("dl_dst", OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=3"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>delete_learned when the learner expires: its learned flows go too (the switch deletes them after the expiry).</summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ALearnerThatExpires_TakesItsLearnedFlows_WhenDeleteLearned()
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow",
           "table=0,priority=5,hard_timeout=5,actions=learn(table=3,cookie=0x9,delete_learned,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2");
        rig.Ports[0].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
        rig.Poll();
        WaitLearned(rig, 1);
        Assert.Contains("dl_dst=00:00:00:00:00:02", OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=3"));
        rig.Clock.Advance(TimeSpan.FromSeconds(6));
        rig.Dp.RunMaintenance();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string dump;
        while ((dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=3")).Contains("dl_dst", StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.DoesNotContain("dl_dst", dump);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// LEARN2's limit and result_dst through real ovs-ofctl 1.3: the learn dumps as added; of three sources the first
    /// two learn (their result bit, 1, steers them out of port 2 through table 2), the third finds table 1 holding the
    /// limit of flows of the learn's cookie and learns nothing, its bit 0 taking table 2's drop flow (its n_packets).
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ALimitedLearn_LearnsAtMostItsLimit_AndItsResultBitSteersThePacket()
    {
        await using var rig = new AgentRig();
        const string Learn = "learn(table=1,limit=2,result_dst=NXM_NX_REG0[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])";
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", $"table=0,priority=5,in_port=1,actions={Learn},resubmit(,2)");
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=2,priority=10,reg0=0x1/0x1,actions=output:2");
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=2,priority=5,actions=drop");
        Assert.Contains($"priority=5,in_port=1 actions={Learn},resubmit(,2)", OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats", "table=0"));

        var h4 = MacAddress.Parse("00:00:00:00:00:04");
        int learned = 0;
        foreach (var src in new[] { H2, H3 })
        {
            rig.Ports[0].Inject(FrameBuilder.Udp(src, h4, 0x0a000002, 0x0a000004, 1, 2));
            rig.Poll();
            Assert.Single(rig.Ports[1].TakeSent());
            WaitLearned(rig, ++learned);
        }
        rig.Ports[0].Inject(FrameBuilder.Udp(h4, H2, 0x0a000004, 0x0a000002, 1, 2));
        rig.Poll();
        Assert.Empty(rig.Ports[1].TakeSent());
        string table1 = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats", "table=1");
        Assert.Equal(2, table1.Split('\n').Count(l => l.Contains("dl_dst=", StringComparison.Ordinal)));
        Assert.DoesNotContain("dl_dst=00:00:00:00:00:04", table1);
        string table2 = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=2");
        Assert.Contains(table2.Split('\n'), l => l.Contains("n_packets=1,", StringComparison.Ordinal) && l.Contains("priority=5 actions=drop", StringComparison.Ordinal));
        Assert.Contains(table2.Split('\n'), l => l.Contains("n_packets=2,", StringComparison.Ordinal) && l.Contains("reg0=0x1/0x1", StringComparison.Ordinal));
        Assert.Equal(2, rig.Switch.LearnInstalled);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// A re-learn restarts the learned flow's hard timeout (Open vSwitch refreshes the rule's modified time, which the
    /// hard timeout counts from): learned with hard_timeout=10, learned again 8 s later, it is still there 12 s after it
    /// was made, its duration counted from then (not reset), and goes 10 s after the re-learn.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AReLearn_RestartsTheLearnedFlowsHardTimeout_NotItsDuration()
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow",
           "table=0,priority=5,in_port=1,actions=learn(table=3,hard_timeout=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2");
        rig.Ports[0].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
        rig.Poll();
        WaitLearned(rig, 1);
        rig.Clock.Advance(TimeSpan.FromSeconds(8));
        rig.Ports[0].Inject(FrameBuilder.Udp(H2, H3, 0x0a000002, 0x0a000003, 1, 2));
        rig.Poll();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (rig.Switch.LearnRefreshed < 1 && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Assert.Equal(1, rig.Switch.LearnRefreshed);

        rig.Clock.Advance(TimeSpan.FromSeconds(4)); // 12 s after the flow was made, 4 after the re-learn
        rig.Dp.RunMaintenance();
        string dump = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=3");
        Assert.True(dump.Contains("dl_dst=00:00:00:00:00:02", StringComparison.Ordinal), dump);
        Assert.True(dump.Contains("duration=12s,", StringComparison.Ordinal), dump);
        rig.Clock.Advance(TimeSpan.FromSeconds(7)); // 11 s after the re-learn
        rig.Dp.RunMaintenance();
        Assert.DoesNotContain("dl_dst", OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "table=3"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
