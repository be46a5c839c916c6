using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// bundle, bundle_load and fin_timeout in a packet-out's and a group bucket's list, as Open vSwitch runs them there:
/// each packet takes its own hrw member (a burst through one bucket split among the members), active_backup the first
/// live one; bundle_load writes its pick into a packet field; a bucket's fin_timeout lowers the rule that applied the
/// group, a packet-out's lowers nothing; a bucket's bundle allocates nothing per packet.
/// </summary>
public sealed class BundleOutsideFlowsTests
{
    private static FlowAction BundleOut(int fields, ushort basis, int algorithm, params ushort[] members)
        => FlowAction.Bundle(null, fields, basis, algorithm, BundleMembers.Register(members));

    private static byte[] Tcp(ushort sport, byte flags = 0x10)
    {
        byte[] f = FrameBuilder.Tcp(MacA, MacB, IpA, IpB, sport, 80);
        f[14 + 20 + 13] = flags;
        return f;
    }

    private static ushort HrwPick(byte[] frame, params ushort[] members)
    {
        PacketParser.Parse(frame, 1, out var key, out _);
        return Bundle.Pick(key, Multipath.SymmetricL4, 7, Bundle.Hrw, members, _ => true);
    }

    [Fact]
    public void APacketOutsBundle_PicksThePacketsMember_AndFollowsTheLinks()
    {
        using var r = new DatapathRig(4);
        var seen = new HashSet<ushort>();
        var hrw = new FlowActions([BundleOut(Multipath.SymmetricL4, 7, Bundle.Hrw, 2, 3, 4)]);
        for (ushort sport = 1000; sport < 1024; sport++)
        {
            byte[] frame = Tcp(sport);
            ushort pick = HrwPick(frame, 2, 3, 4);
            seen.Add(pick);
            r.Dp.PacketOut(frame, 1, hrw);
            for (int p = 2; p <= 4; p++) Assert.Equal(p == pick ? 1 : 0, r.Sent(p).Count);
        }
        Assert.Equal(3, seen.Count);

        var backup = new FlowActions([BundleOut(0, 0, Bundle.ActiveBackup, 2, 3)]);
        r.Dp.PacketOut(Tcp(1), 1, backup);
        Assert.Equal((1, 0), (r.Sent(2).Count, r.Sent(3).Count));
        r.Port(2).SetLink(false);
        r.Dp.RunMaintenance();
        r.Dp.PacketOut(Tcp(1), 1, backup);
        Assert.Equal((0, 1), (r.Sent(2).Count, r.Sent(3).Count));
        r.Port(3).SetLink(false);
        r.Dp.RunMaintenance();
        r.Dp.PacketOut(Tcp(1), 1, backup);
        Assert.Equal((0, 0), (r.Sent(2).Count, r.Sent(3).Count)); // none live: no output
    }

    [Fact]
    public void APacketOutsBundleLoad_WritesThePickIntoAPacketField()
    {
        using var r = new DatapathRig(4);
        // bundle_load(...,NXM_OF_ETH_DST[0..15],members:2,3,4), then output:2: the frame leaves with its pick in eth_dst.
        var load = FlowAction.Bundle(new FieldRef(PipelineField.EthDst, 0, 16), Multipath.SymmetricL4, 7, Bundle.Hrw, BundleMembers.Register([2, 3, 4]));
        var actions = new FlowActions([load, FlowAction.Output(2)]);
        for (ushort sport = 1000; sport < 1008; sport++)
        {
            byte[] frame = Tcp(sport);
            ushort pick = HrwPick(frame, 2, 3, 4);
            r.Dp.PacketOut(frame, 1, actions);
            byte[] sent = Assert.Single(r.Sent(2));
            Assert.Equal(frame.AsSpan(0, 4).ToArray(), sent.AsSpan(0, 4).ToArray()); // the upper 32 bits kept
            Assert.Equal(pick, (ushort)(sent[4] << 8 | sent[5]));
        }
    }

    [Fact]
    public void ABucketsBundle_SplitsABurstAmongTheMembers_AsEachPacketPicks()
    {
        using var r = new DatapathRig(4);
        r.Dp.Groups.Set(new Group(1, GroupType.Indirect, [new GroupBucket(new FlowActions([BundleOut(Multipath.SymmetricL4, 7, Bundle.Hrw, 2, 3, 4)]))], 0));
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        var frames = Enumerable.Range(0, 24).Select(i => Tcp((ushort)(2000 + i))).ToArray();
        var expected = new int[5];
        foreach (var f in frames) expected[HrwPick(f, 2, 3, 4)]++;
        r.SendBurst(1, frames);
        for (int p = 2; p <= 4; p++) Assert.Equal(expected[p], r.Sent(p).Count);
        Assert.True(expected[2] > 0 && expected[3] > 0 && expected[4] > 0);
        // A member taken down: its packets move to the others, the rest stay.
        r.Dp.Ports.Get(3)!.UpdateConfig(PortConfig.PortDown, PortConfig.PortDown);
        r.SendBurst(1, frames);
        Assert.Empty(r.Sent(3));
        Assert.Equal(24, r.Sent(2).Count + r.Sent(4).Count);
    }

    [Fact]
    public void ABucketsFinTimeout_LowersTheRuleThatAppliedTheGroup_APacketOutsLowersNothing()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(new Group(1, GroupType.Indirect, [new GroupBucket(new FlowActions([FlowAction.FinTimeout(10, 20), FlowAction.Output(2)]))], 0));
        r.Dp.Pipeline.EnableStages(); // as Ofproto does for a bucket holding a fin_timeout
        var pipeline = r.Dp.Pipeline;
        FlowEntry e;
        using (var w = pipeline.Table(0).Write())
        {
            e = new FlowEntry(Any, 10, new FlowActions([FlowAction.Group(1)]), 60, 120, r.Clock.NowNanos);
            w.Insert(e);
        }
        r.Send(1, Tcp(1000, 0x10)); // an ACK: nothing
        r.Dp.RunMaintenance();
        Assert.Equal((60, 120), (e.IdleTimeout, e.HardTimeout));
        Assert.Single(r.Sent(2));

        // A packet-out applying the group (and one holding a fin_timeout itself): no rule, nothing lowered.
        r.Dp.PacketOut(Tcp(1000, 0x11), 1, new FlowActions([FlowAction.Group(1)]));
        r.Dp.PacketOut(Tcp(1000, 0x11), 1, new FlowActions([FlowAction.FinTimeout(5, 5), FlowAction.Output(2)]));
        r.Dp.RunMaintenance();
        Assert.Equal((60, 120), (e.IdleTimeout, e.HardTimeout));
        Assert.Equal(2, r.Sent(2).Count);

        r.Send(1, Tcp(1000, 0x11)); // FIN|ACK through the rule: the rule that applied the group is lowered
        r.Dp.RunMaintenance();
        Assert.Equal((10, 20), (e.IdleTimeout, e.HardTimeout));
        Assert.Single(r.Sent(2));
    }

    [Fact]
    public void ABucketsBundle_AllocatesNothing()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(new Group(1, GroupType.Indirect, [new GroupBucket(new FlowActions([BundleOut(Multipath.SymmetricL4, 0, Bundle.Hrw, 2, 3)]))], 0));
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([.. Enumerable.Range(0, 8).Select(i => FrameBuilder.Udp(MacA, MacB, IpA, IpB, (ushort)(1000 + i), 53))], 0);
        void Round()
        {
            for (int i = 0; i < 8; i++)
            {
                r.Port(1).SetGeneratorCount(8);
                r.Dp.PollUntilIdle();
            }
        }
        Round();
        Assert.Equal(0, AllocationMeter.SteadyState(Round, 8));
        Assert.Equal(128, r.Port(2).Counters.TxPackets + r.Port(3).Counters.TxPackets);
    }
}
