using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, -O OpenFlow10, 13, 14 and 15, with bundle(...), bundle_load(...) and fin_timeout(...): each frame
/// leaves by the member Open vSwitch's hrw picks (pinned to ovs-vswitchd's own in BundleTests), active_backup moves off
/// a member whose link goes down, a FIN lowers its flow's timeouts as dump-flows then shows, dump-flows gives the flows
/// back as ovs-ofctl wrote them and the dump re-adds; the controller as a member is refused. In group buckets and
/// packet-outs too (1.3 and 1.5): a bucket's bundle sends each frame to its own hrw member, its fin_timeout lowers the
/// flow that applied the group, a packet-out's bundle takes the first live member and its fin_timeout lowers nothing;
/// dump-groups gives the buckets back as ovs-ofctl wrote them.
/// </summary>
public sealed class OvsOfctlBundleTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    /// <summary>
    /// 16 UDP flows into port 1, whose flow sends them through symmetric_l3l4+udp hrw over ports 4-7 (basis 7): each
    /// leaves by the member <see cref="Bundle.Pick"/> names (Open vSwitch's, pinned by BundleTests), and more than one
    /// member is used.
    /// </summary>
    private static void SixteenFlowsTakeTheirHrwMembers(AgentRig rig)
    {
        var used = new HashSet<int>();
        for (ushort sport = 1000; sport < 1016; sport++)
        {
            byte[] frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, sport, 53);
            PacketParser.Parse(frame, 1, out var key, out _);
            int member = Bundle.Pick(key, Multipath.SymmetricL3L4Udp, 7, Bundle.Hrw, [4, 5, 6, 7], _ => true);
            used.Add(member);
            rig.Ports[0].Inject(frame);
            rig.Poll();
            for (int p = 4; p <= 7; p++) Assert.Equal(p == member ? 1 : 0, rig.Ports[p - 1].TakeSent().Count);
        }
        Assert.True(used.Count > 1, "16 flows over 4 members used one member only");
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task Bundles_PickOpenVswitchsMember_FollowTheLinks_AndFinTimeoutLowersItsFlow(string version)
    {
        await using var rig = OvsOfctl.Rig(8);
        const string load = "bundle_load(symmetric_l3l4+udp,7,hrw,ofport,NXM_NX_REG0[],members:4,5,6,7)";
        const string ab = "bundle(eth_src,0,active_backup,ofport,members:5,6)";
        const string fin = "fin_timeout(idle_timeout=10,hard_timeout=20)";
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=10,in_port=1,actions={load},output:NXM_NX_REG0[0..15]");
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=10,in_port=2,actions={ab}");
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=10,idle_timeout=60,tcp,in_port=3,actions={fin},output:8");
        SixteenFlowsTakeTheirHrwMembers(rig);

        byte[] other = FrameBuilder.Udp(H2, H1, 0x0a000002, 0x0a000001, 53, 1000);
        rig.Ports[1].Inject(other);
        rig.Poll();
        Assert.Equal((1, 0), (rig.Ports[4].TakeSent().Count, rig.Ports[5].TakeSent().Count));
        rig.Ports[4].SetLink(false);
        rig.Dp.RunMaintenance();
        rig.Ports[1].Inject(other);
        rig.Poll();
        Assert.Equal((0, 1), (rig.Ports[4].TakeSent().Count, rig.Ports[5].TakeSent().Count));
        rig.Ports[4].SetLink(true);
        rig.Dp.RunMaintenance();

        byte[] finFrame = FrameBuilder.Tcp(H1, H2, 0x0a000001, 0x0a000002, 40000, 80);
        finFrame[14 + 20 + 13] = 0x11; // FIN|ACK
        rig.Ports[2].Inject(finFrame);
        rig.Poll();
        Assert.Single(rig.Ports[7].TakeSent());
        rig.Dp.RunMaintenance();

        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains($"actions={load},", dump);
        Assert.Contains($"actions={ab}", dump);
        Assert.Contains($"actions={fin},", dump);
        string tcp = OvsOfctl.Ok(rig, version, "dump-flows", "tcp");
        Assert.True(tcp.Contains("idle_timeout=10, hard_timeout=20,", StringComparison.Ordinal), tcp);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        // bundle_check: the controller takes no part (OFPBAC_BAD_OUT_PORT).
        Assert.Contains("OFPBAC_BAD_OUT_PORT", OvsOfctl.Refused(rig, version, "add-flow", "actions=bundle(eth_src,0,hrw,ofport,members:1,CONTROLLER)"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow15")]
    public async Task InBucketsAndPacketOuts_BundlePicksAndFinTimeoutLowersTheFlowThatAppliedTheGroup(string version)
    {
        await using var rig = OvsOfctl.Rig(8);
        const string hrw = "bundle(symmetric_l3l4+udp,7,hrw,ofport,members:4,5,6,7)";
        const string fin = "fin_timeout(idle_timeout=10,hard_timeout=20)";
        OvsOfctl.Ok(rig, version, "add-group", $"group_id=1,type=all,bucket=actions={hrw}");
        OvsOfctl.Ok(rig, version, "add-group", $"group_id=2,type=indirect,bucket=actions={fin},output:8");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=1,actions=group:1");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,idle_timeout=60,tcp,in_port=3,actions=group:2");
        SixteenFlowsTakeTheirHrwMembers(rig);

        byte[] finFrame = FrameBuilder.Tcp(H1, H2, 0x0a000001, 0x0a000002, 40000, 80);
        finFrame[14 + 20 + 13] = 0x11; // FIN|ACK
        // A packet-out of the FIN through the group, and one holding a fin_timeout itself: no flow is lowered.
        OvsOfctl.Ok(rig, version, "packet-out", $"in_port=3 packet={Convert.ToHexString(finFrame)} actions=group:2");
        OvsOfctl.Ok(rig, version, "packet-out", $"in_port=3 packet={Convert.ToHexString(finFrame)} actions={fin},bundle(eth_src,0,active_backup,ofport,members:5,6)");
        Assert.Single(rig.Ports[7].TakeSent());
        Assert.Single(rig.Ports[4].TakeSent());
        rig.Dp.RunMaintenance();
        string tcp = OvsOfctl.Ok(rig, version, "dump-flows", "tcp");
        Assert.True(tcp.Contains("idle_timeout=60,", StringComparison.Ordinal) && !tcp.Contains("hard_timeout", StringComparison.Ordinal), tcp);
        // The FIN through the flow that applies the group: that flow is lowered.
        rig.Ports[2].Inject(finFrame);
        rig.Poll();
        Assert.Single(rig.Ports[7].TakeSent());
        rig.Dp.RunMaintenance();
        tcp = OvsOfctl.Ok(rig, version, "dump-flows", "tcp");
        Assert.True(tcp.Contains("idle_timeout=10, hard_timeout=20,", StringComparison.Ordinal), tcp);

        string groups = OvsOfctl.Ok(rig, version, "dump-groups");
        Assert.Contains($"actions={hrw}", groups);
        Assert.Contains($"actions={fin},output:8", groups);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
