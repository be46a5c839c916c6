using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's resubmit in the pipeline walk: the packet as the actions before it left it is looked up in another
/// table (earlier, later or the same; with another in_port for that lookup only), what it finds runs in the
/// resubmit's place, then the rest of the list; a miss does nothing; a loop is cut at Open vSwitch's limits (64 nested,
/// 4,096 a packet) and the packet dropped and counted, never hung; the trace shows each resubmit's lookup by depth.
/// </summary>
public sealed class ResubmitTests
{
    /// <summary>
    /// Bursts of 64 copies of <paramref name="frame"/> into port 1 (its verdict already built) build no verdict, walk no
    /// table and allocate nothing, at steady state.
    /// </summary>
    private static void AssertCachedBurstsAllocateNothing(DatapathRig r, byte[] frame)
    {
        r.Port(1).SetGenerator([frame], 0);
        long built = r.Fwd.VerdictsBuilt, walks = r.Fwd.PipelineWalks;
        long alloc = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(64);
            r.Dp.PollUntilIdle();
        });
        Assert.Equal(0, r.Fwd.VerdictsBuilt - built);
        Assert.Equal(walks, r.Fwd.PipelineWalks);
        Assert.Equal(0, alloc);
    }

    [Fact]
    public void TheResubmittedTableSeesTheRewrittenPacket_ThenTheRestOfTheListRuns()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [FlowAction.SetDlDst(MacC), FlowAction.Resubmit(1), FlowAction.Output(3)]);
        r.Insert(1, DlDst(MacC), 10, [FlowAction.Output(2)]);
        r.Insert(1, Any, 1, []); // not MacC: nothing from table 1
        for (int i = 0; i < 2; i++) // the second packet takes the cached verdict
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2))));
            Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(3))));
        }
    }

    [Fact]
    public void AResubmitBackToAnEarlierTable_WithAnotherInPort_LooksUpWithThatPortOnly()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [], Goto(1));
        r.Insert(0, InPort(3), 10, [FlowAction.Output(2)]);
        // Table 1 looks the packet up in table 0 as if it came in on port 3; the output after it still knows port 1.
        r.Insert(1, Any, 10, [FlowAction.Resubmit(0, inPort: 3), FlowAction.Output(PortNumber.InPort)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(1));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void AResubmitThatMisses_DoesNothing_AndTheListGoesOn()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Resubmit(1), FlowAction.Resubmit(7), FlowAction.Output(2)]);
        r.Insert(1, DlDst(MacC), 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
        Assert.Equal(0, r.Dp.DropCount(DropReason.Resubmit));
    }

    [Fact]
    public void ALoop_IsCutAtTheDepthLimit_TheWholePacketDroppedAndCounted()
    {
        using var r = new DatapathRig(3);
        // An output before the loop: Open vSwitch drops a packet whose translation failed whole, and so does the switch.
        r.Insert(0, Any, 10, [FlowAction.Output(3), FlowAction.Resubmit(0xff)]);
        r.Send(1, Frame(MacA, MacB), times: 3);
        Assert.Empty(r.Sent(3));
        Assert.Equal(3, r.Dp.DropCount(DropReason.Resubmit));
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(PipelineEnd.ResubmitDrop, walk.End);
        Assert.Equal(PipelineWalk.MaxResubmitDepth, walk.Resubmits);
        Assert.Empty(walk.Composed);
    }

    [Fact]
    public void AFanOut_IsCutAtTheResubmitCount()
    {
        using var r = new DatapathRig(3);
        // 64 resubmits to table 1, each of whose rule resubmits 64 times to table 2: two levels deep, 4,160 resubmits.
        r.Insert(0, Any, 10, [.. Enumerable.Repeat(FlowAction.Resubmit(1), 64)]);
        r.Insert(1, Any, 10, [.. Enumerable.Repeat(FlowAction.Resubmit(2), 64)]);
        r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(PipelineEnd.ResubmitDrop, walk.End);
        Assert.Equal(PipelineWalk.MaxResubmits, walk.Resubmits);
        r.Send(1, Frame(MacA, MacB));
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.Resubmit));
    }

    [Fact]
    public void AResubmitAfterAPop_IsDroppedAndCounted_TheKeyNoLongerTellsThePacket()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.PopMpls(0x0800), FlowAction.Resubmit(1)]);
        r.Insert(1, Any, 10, [FlowAction.Output(2)]);
        r.Send(1, ReparseTests.Mpls(Frame(MacA, MacB)));
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.Resubmit));
    }

    [Fact]
    public void TheTrace_ShowsEachResubmitsLookup_WithItsDepth()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Resubmit(1), FlowAction.Output(2)]);
        r.Insert(1, Any, 10, [FlowAction.Resubmit(2)]);
        r.Insert(2, Any, 10, [FlowAction.Output(3)]);
        var steps = new List<PipelineTraceStep>();
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key, steps);
        Assert.Equal([(0, 0), (1, 1), (2, 2)], steps.Select(s => (s.TableId, s.Depth)).ToArray());
        Assert.Equal([FlowAction.Output(3), FlowAction.Output(2)], walk.Composed.ToArray());
        Assert.Equal(PipelineEnd.Actions, walk.End);
    }

    [Fact]
    public void AVerdictWithResubmits_GoesStaleWhenAResubmittedRuleChanges()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Resubmit(1)]);
        var t1 = r.Insert(1, Any, 10, [FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        using (var w = r.Dp.Pipeline.Stage(1)!.Write()) w.Remove(t1);
        r.Insert(1, Any, 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Empty(r.Sent(2));
        Assert.Single(r.Sent(3));
    }

    [Fact]
    public void AnExit_EndsEveryLevel_AndTheActionSetStillRuns()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [], Goto(1, write: new FlowActions([FlowAction.Output(1)])));
        r.Insert(1, Any, 10, [FlowAction.SetDlDst(MacC), FlowAction.Resubmit(2), FlowAction.Output(3)], Goto(3));
        r.Insert(2, Any, 10, [FlowAction.Exit(), FlowAction.Output(3)]);
        r.Insert(3, Any, 10, [FlowAction.Output(3)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(2).Key);
        // Nothing after the exit: not table 2's output, not table 1's after its resubmit, not table 3 (table 1's goto);
        // the action set table 0 wrote runs at the end.
        Assert.Equal(PipelineEnd.Actions, walk.End);
        Assert.Equal([FlowAction.SetDlDst(MacC), FlowAction.Output(1)], walk.Composed.ToArray());
        Assert.Equal(3, walk.Count);
        r.Send(2, Frame(MacA, MacB));
        Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(1))));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void AFourTableResubmitPipeline_IsOneCachedVerdict_AndAllocatesNothingPerPacket()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Vlan(0xFFFF), 10, [FlowAction.Resubmit(1)]);
        r.Insert(1, DlSrc(MacA), 10, [FlowAction.Resubmit(2)]);
        r.Insert(2, DlDst(MacB), 10, [FlowAction.Resubmit(3)]);
        r.Insert(3, Any, 10, [FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 4);
        Assert.Equal(1, r.Fwd.PipelineWalks); // the first packet walked the tables; the next three found its verdict
        AssertCachedBurstsAllocateNothing(r, frame);
    }

    // A resubmit in an action set (Open vSwitch's ofpacts_execute_action_set: a final action beneath group and output).

    [Fact]
    public void AResubmitInTheActionSet_RunsAtTheEnd_AfterTheSetsOtherActions_AndItsRuleCounts()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [], Goto(2, write: new FlowActions([FlowAction.Resubmit(1), FlowAction.SetDlDst(MacC)])));
        r.Insert(2, Any, 10, [FlowAction.Output(3)]);
        var hit = r.Insert(1, DlDst(MacC), 10, [FlowAction.Output(2)]);
        var other = r.Insert(1, Any, 1, [FlowAction.Output(1)]); // the packet as it came: not what the set's lookup sees
        for (int i = 0; i < 2; i++) // the second packet takes the cached verdict
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Equal(MacB, MacAddress.Read(Assert.Single(r.Sent(3)))); // table 2's apply-actions, before the set
            Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2)))); // the set's set-field, then table 1's lookup
            Assert.Empty(r.Sent(1));
        }
        Assert.Equal(1, r.Fwd.PipelineWalks);
        Assert.Equal(2, hit.Packets);
        Assert.Equal(0, other.Packets);
    }

    [Fact]
    public void AGroupOrAnOutputInTheActionSet_WinsOverItsResubmit()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [], Goto(2, write: new FlowActions([FlowAction.Resubmit(1), FlowAction.Output(3)])));
        r.Insert(0, InPort(2), 10, [], Goto(2, write: new FlowActions([FlowAction.Resubmit(1)])));
        r.Insert(2, InPort(2), 10, [], new FlowInstructions(new FlowActions([FlowAction.Output(3)]), false, 0, 0, FlowInstructions.NoGoto));
        r.Insert(2, InPort(1), 10, []);
        var resubmitted = r.Insert(1, Any, 10, [FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        Assert.Empty(r.Sent(2));
        // A later write of an output into the set beside the resubmit wins too.
        r.Send(2, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        Assert.Empty(r.Sent(1));
        Assert.Equal(0, resubmitted.Packets);
    }

    [Fact]
    public void TheActionSetRunsOnce_WhatTheResubmittedRuleWritesIsDropped_ItsApplyActionsRun()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [], Goto(1, write: new FlowActions([FlowAction.Resubmit(2)])));
        r.Insert(1, Any, 10, [FlowAction.Output(1)]);
        r.Insert(2, Any, 10, [FlowAction.Output(2)], Goto(3, write: new FlowActions([FlowAction.Output(3)])));
        r.Insert(3, Any, 10, [FlowAction.Output(PortNumber.InPort)]); // its goto is one more resubmit: it runs
        var walk = new PipelineWalk();
        var steps = new List<PipelineTraceStep>();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(2).Key, steps);
        Assert.Equal([FlowAction.Output(1), FlowAction.Output(2), FlowAction.Output(PortNumber.InPort)], walk.Composed.ToArray());
        // The trace: tables 0 and 1 in the pipeline, then the set's resubmit to table 2 and its goto, nested.
        Assert.Equal([(0, 0), (1, 0), (2, 1), (3, 2)], steps.Select(s => (s.TableId, s.Depth)).ToArray());
        Assert.Equal(1, walk.Resubmits - 1); // the set's resubmit and the goto it met
        Assert.True(walk.ActionSet.IsEmpty);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(1));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void AResubmitLoopFromTheActionSet_IsCutAsInApplyActions_DroppedAndCounted()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Output(3)], Goto(1, write: new FlowActions([FlowAction.Resubmit(2)])));
        r.Insert(1, Any, 10, []);
        r.Insert(2, Any, 10, [FlowAction.Resubmit(0xff)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(PipelineEnd.ResubmitDrop, walk.End);
        Assert.Equal(PipelineWalk.MaxResubmitDepth, walk.Resubmits);
        Assert.Empty(walk.Composed);
        r.Send(1, Frame(MacA, MacB), times: 2);
        Assert.Empty(r.Sent(3));
        Assert.Equal(2, r.Dp.DropCount(DropReason.Resubmit));
    }

    [Fact]
    public void AfterAnExit_TheActionSetsResubmitRunsNothing()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [], Goto(1, write: new FlowActions([FlowAction.SetDlDst(MacC), FlowAction.Resubmit(2)])));
        r.Insert(1, Any, 10, [FlowAction.Output(3), FlowAction.Exit()]);
        var resubmitted = r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        Assert.Empty(r.Sent(2));
        Assert.Equal(0, resubmitted.Packets);
    }

    [Fact]
    public void AFlowWhoseActionSetHoldsAResubmit_AllocatesNothingPerPacket()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [], Goto(1, write: new FlowActions([FlowAction.SetDlDst(MacC), FlowAction.Resubmit(2)])));
        r.Insert(1, DlSrc(MacA), 10, []);
        var resubmitted = r.Insert(2, DlDst(MacC), 10, [FlowAction.Output(2)]);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 4);
        Assert.Equal(4, r.Sent(2).Count);
        Assert.Equal(4, resubmitted.Packets);
        Assert.Equal(1, r.Fwd.PipelineWalks);
        r.Port(2).CaptureSent = false;
        AssertCachedBurstsAllocateNothing(r, frame);
    }

    // A resubmit in a packet-out (Open vSwitch runs a packet-out's actions through the pipeline).

    [Fact]
    public void APacketOutsResubmit_LooksThePacketUpAsItsActionsLeftIt_AndTheRuleCounts()
    {
        using var r = new DatapathRig(3);
        var hit = r.Insert(1, DlDst(MacC), 10, [FlowAction.Output(2)], new FlowInstructions(new FlowActions([FlowAction.Output(1)]), false, 0, 0, FlowInstructions.NoGoto));
        var other = r.Insert(1, Any, 1, [FlowAction.Output(1)]);
        var frame = Frame(MacA, MacB);
        r.Dp.PacketOut(frame, 3, new FlowActions([FlowAction.SetDlDst(MacC), FlowAction.Resubmit(1), FlowAction.Output(PortNumber.InPort)]));
        Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2))));
        Assert.Single(r.Sent(3)); // the list goes on after the resubmit, in_port the packet-out's
        Assert.Single(r.Sent(1)); // and the action set the resubmitted rule wrote runs at the end
        Assert.Equal(1, hit.Packets);
        Assert.Equal(frame.Length, hit.Bytes);
        Assert.Equal(0, other.Packets);
    }

    [Fact]
    public void APacketOutsResubmit_LooksUpWithItsInPortOrTheResubmits_AndThisTableIsTableZero()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [FlowAction.Output(2)]);
        r.Insert(0, InPort(2), 10, [FlowAction.Output(3)]);
        r.Dp.PacketOut(Frame(MacA, MacB), 1, new FlowActions([FlowAction.Resubmit(0xff), FlowAction.Resubmit(0, inPort: 2)]));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
        Assert.Empty(r.Sent(1));
    }

    [Fact]
    public void APacketOutsResubmitLoop_IsCutAtTheLimits_NothingSentAndCounted()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Resubmit(0xff)]);
        r.Dp.PacketOut(Frame(MacA, MacB), 1, new FlowActions([FlowAction.Output(2), FlowAction.Resubmit(0)]));
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.Resubmit));
    }

    // A resubmit in a group's bucket (Open vSwitch's xlate_group_bucket runs it as in any list).

    private static Group GroupOf(uint id, GroupType type, params FlowAction[][] buckets)
        => new(id, type, [.. buckets.Select(b => new GroupBucket(new FlowActions(b), weight: (ushort)(type == GroupType.Select ? 1 : 0),
                                                                  watchPort: type == GroupType.FastFailover ? (ushort)2 : PortNumber.None))], 0);

    [Fact]
    public void AnAllGroupsBucketResubmit_RunsOnTheBucketsCopy_TheRuleItReachesCounts_OneWalk()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Output(3)], [FlowAction.SetDlDst(MacC), FlowAction.Resubmit(2)], [FlowAction.Resubmit(2)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1), FlowAction.Output(2)]);
        var hit = r.Insert(2, DlDst(MacC), 10, [FlowAction.Output(2)]);
        var other = r.Insert(2, Any, 1, [FlowAction.Output(3)]); // the third bucket's lookup sees the packet as it came
        for (int i = 0; i < 2; i++) // the second packet takes the cached verdict
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.All(r.Sent(3), f => Assert.Equal(MacB, MacAddress.Read(f)));
            var two = r.Sent(2);
            Assert.Equal(2, two.Count); // the second bucket's, then the output after the group on the packet as it was
            Assert.Equal(MacC, MacAddress.Read(two[0]));
            Assert.Equal(MacB, MacAddress.Read(two[1]));
        }
        Assert.Equal(1, r.Fwd.PipelineWalks);
        Assert.Equal(2, hit.Packets);
        Assert.Equal(2, other.Packets);
        Assert.True(r.Dp.Groups.TryGet(1, out var g));
        Assert.Equal([2L, 2L, 2L], g.Buckets.Select(b => b.Packets).ToArray());
    }

    [Theory]
    [InlineData(GroupType.Select)]
    [InlineData(GroupType.FastFailover)]
    [InlineData(GroupType.Indirect)]
    public void ASelectFastFailoverOrIndirectGroupsBucketResubmit_Runs(GroupType type)
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, type, [FlowAction.Resubmit(2)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        var hit = r.Insert(2, Any, 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB), times: 2);
        Assert.Equal(2, r.Sent(3).Count);
        Assert.Equal(2, hit.Packets);
    }

    [Fact]
    public void AFastFailoverGroup_ComposesItsLiveBucketOnly_OnlyThatBucketsRuleCounts()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(new Group(1, GroupType.FastFailover,
        [
            new GroupBucket(new FlowActions([FlowAction.Resubmit(2)]), watchPort: 9), // no port 9: dead
            new GroupBucket(new FlowActions([FlowAction.Resubmit(3)]), watchPort: 2),
        ], 0));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        var dead = r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        var live = r.Insert(3, Any, 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB), times: 2);
        Assert.Equal(2, r.Sent(3).Count);
        Assert.Empty(r.Sent(2));
        Assert.Equal((0L, 2L), (dead.Packets, live.Packets));
    }

    [Fact]
    public void ASelectGroupsBucketResubmit_OnlyThePickedBucketsRuleCounts()
    {
        const int k = 10;
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.Select, [FlowAction.Resubmit(2)], [FlowAction.Resubmit(3)], [FlowAction.Resubmit(4)], [FlowAction.Resubmit(5)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        var rules = new byte[] { 2, 3, 4, 5 }.Select(t => r.Insert(t, Any, 10, [FlowAction.Output(2)])).ToArray();
        r.Send(1, Frame(MacA, MacB), times: k);
        Assert.Equal(k, r.Sent(2).Count);
        Assert.Equal(k, rules.Sum(e => e.Packets));
        Assert.Single(rules, e => e.Packets == k);
        Assert.True(r.Dp.Groups.TryGet(1, out var g));
        Assert.Equal(rules.Select(e => e.Packets), g.Buckets.Select(b => b.Packets));
    }

    [Fact]
    public void ASelectGroupsBucketResubmit_ManyFlows_EachCountedOnceAtTheBucketItsFrameHashPicks()
    {
        const int flows = 64;
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.Select, [FlowAction.Resubmit(2)], [FlowAction.Resubmit(3)], [FlowAction.Resubmit(4)], [FlowAction.Resubmit(5)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        var rules = new byte[] { 2, 3, 4, 5 }.Select(t => r.Insert(t, Any, 10, [FlowAction.Output(2)])).ToArray();
        Assert.True(r.Dp.Groups.TryGet(1, out var g));
        var expected = new long[4];
        for (int i = 0; i < flows; i++)
        {
            var f = Frame(MacA, MacB, sport: (ushort)(1000 + i));
            Assert.Equal(ParseError.None, PacketParser.Parse(f, 1, out _, out var layers));
            expected[g.SelectSlot(ActionExecutor.FlowHashOf(f, layers))]++; // the bucket the executor picks for the frame
            r.Send(1, f, times: 2);
        }
        Assert.Equal(2 * flows, r.Sent(2).Count);
        Assert.Equal(expected.Select(n => 2 * n), rules.Select(e => e.Packets));
        Assert.Equal(expected.Select(n => 2 * n), g.Buckets.Select(b => b.Packets));
    }

    public static TheoryData<string, byte[]> HashFrames => new()
    {
        { "udp", Frame(MacA, MacB, sport: 4321) },
        { "tcp vlan", FrameBuilder.Tcp(MacA, MacB, IpA, IpB, 80, 5555, vlan: 7) },
        { "ipv6 tcp", FlowFrames.Ipv6Frame(6, 443, 1234) },
        { "ipv6 udp vlan", FlowFrames.Ipv6Frame(17, 53, 999, vlan: 12) },
        { "arp", FrameBuilder.Arp(1, MacA, IpA, MacB, IpB) },
        { "icmp", FrameBuilder.IcmpEcho(MacA, MacB, IpA, IpB, false, 1, 2) },
    };

    [Theory]
    [MemberData(nameof(HashFrames))]
    public void TheSelectHashOfAKey_IsTheHashOfItsFrame(string name, byte[] frame)
    {
        Assert.Equal(ParseError.None, PacketParser.Parse(frame, 1, out var key, out var layers));
        Assert.True(ActionExecutor.FlowHashOf(frame, layers) == ActionExecutor.FlowHashOf(key), name);
    }

    [Fact]
    public void AGroupThatAppliesItselfThroughAResubmit_IsDroppedWholeAndCounted()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Output(3)], [FlowAction.Resubmit(1)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        r.Insert(1, Any, 10, [FlowAction.Group(1)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(PipelineEnd.ResubmitDrop, walk.End);
        Assert.Empty(walk.Composed);
        r.Send(1, Frame(MacA, MacB), times: 2);
        Assert.Empty(r.Sent(3));
        Assert.Equal(2, r.Dp.DropCount(DropReason.Resubmit));
    }

    [Fact]
    public void AChainedGroupsResubmit_AndTheActionSetsGroup_Run()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(2, GroupType.Indirect, [FlowAction.Resubmit(2)]));
        r.Dp.Groups.Set(GroupOf(1, GroupType.Indirect, [FlowAction.Group(2)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1)]);
        r.Insert(0, InPort(2), 10, [], Goto(1, write: new FlowActions([FlowAction.Group(1)])));
        r.Insert(1, Any, 10, []);
        var hit = r.Insert(2, Any, 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        r.Send(2, Frame(MacA, MacB));
        Assert.Equal(2, r.Sent(3).Count);
        Assert.Equal(2, hit.Packets);
    }

    [Fact]
    public void AVerdictThatMetAGroup_GoesStaleWhenAGroupThatResubmitsChanges()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Output(3)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        // The group comes to resubmit: the cached verdict (a plain group) is walked anew, and so after each change.
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Resubmit(2)]));
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Output(3)]));
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        Assert.Empty(r.Sent(2));
    }

    [Fact]
    public void TheTrace_ShowsABucketsResubmit_OneDeeperThanTheGroup()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Resubmit(2)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        r.Insert(2, Any, 10, [FlowAction.Output(3)]);
        var steps = new List<PipelineTraceStep>();
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key, steps);
        Assert.Equal([(0, 0), (2, 2)], steps.Select(s => (s.TableId, s.Depth)).ToArray());
        Assert.Equal([FlowAction.ComposedGroupOf(1, 1, 2), FlowAction.BucketOf(1), FlowAction.Output(3)], walk.Composed.ToArray());
    }

    [Fact]
    public void AnAllGroupOf64ResubmittingBuckets_CountsEachRuleOncePerPacket_OutputsInBucketOrder()
    {
        const int n = 64;
        using var r = new DatapathRig(3);
        var macs = Enumerable.Range(0, n).Select(i => MacAddress.Parse($"02:00:00:00:01:{i:x2}")).ToArray();
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [.. macs.Select(m => new[] { FlowAction.SetDlDst(m), FlowAction.Resubmit(2) })]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1)]);
        var rules = macs.Select(m => r.Insert(2, DlDst(m), 10, [FlowAction.Output(2)])).ToArray();
        for (int i = 0; i < 3; i++) // the later packets take the cached verdict
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Equal(macs, r.Sent(2).Select(f => MacAddress.Read(f)).ToArray());
        }
        Assert.Equal(1, r.Fwd.PipelineWalks);
        Assert.All(rules, e => Assert.Equal(3, e.Packets));
    }

    [Fact]
    public void TheComposedBucketsCursor_StepsOverEachMarkerOnce_InOrder_AndFindsAnEarlierBucketAgain()
    {
        const int n = 64;
        var items = new List<FlowAction> { FlowAction.ComposedGroupOf(1, 1, 0) };
        for (int b = 0; b < n; b++)
        {
            // Buckets of 0, 1 or 2 items, so a marker's count is what the cursor steps by.
            items.Add(FlowAction.BucketOf(b % 3));
            for (int k = 0; k < b % 3; k++) items.Add(FlowAction.Output((ushort)(b + 1)));
        }
        items[0] = FlowAction.ComposedGroupOf(1, 1, items.Count - 1);
        var actions = new FlowActions([.. items]);
        var cursor = new ActionExecutor.ComposedBuckets(actions, 0, items.Count);
        for (int b = 0; b < n; b++)
        {
            Assert.True(cursor.TryBucket(b, out int from, out int to));
            Assert.Equal(b % 3, to - from);
            for (int i = from; i < to; i++) Assert.Equal(FlowAction.Output((ushort)(b + 1)), actions.Plan[i]);
        }
        Assert.Equal(n - 1, cursor.Hops); // an ALL group's run: linear in its buckets
        Assert.True(cursor.TryBucket(5, out int f5, out int t5)); // a select group's packets may ask an earlier bucket
        Assert.Equal((2, FlowAction.Output(6)), (t5 - f5, actions.Plan[f5]));
        Assert.False(cursor.TryBucket(n, out _, out _)); // no such bucket: the group changed since the walk
    }

    [Fact]
    public void AFlowWhoseGroupsBucketResubmits_AllocatesNothingPerPacket()
    {
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(GroupOf(1, GroupType.All, [FlowAction.Output(3)], [FlowAction.SetDlDst(MacC), FlowAction.Resubmit(2)]));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        r.Insert(2, DlDst(MacC), 10, [FlowAction.Output(2)]);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 4);
        Assert.Equal(4, r.Sent(2).Count);
        Assert.Equal(1, r.Fwd.PipelineWalks);
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        AssertCachedBurstsAllocateNothing(r, frame);
    }
}
