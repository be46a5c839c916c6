using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A resubmit after which its rule has nothing left to run (the last action of the list, no instruction after it; or a
/// resubmitted rule's goto-table) is a step of the walk's loop, not a nested lookup: every such pipeline must walk as
/// the same resubmits nested do (the same visits at the same depths, the same composed actions, action set, counters and
/// trace), and Open vSwitch's limits (64 nested, 4,096 a packet) must cut a chain of such steps where they cut nested ones.
/// The nested twin of a list is the list with a note after its final resubmit: the note composes nothing, but the
/// resubmit is then no longer the list's last action.
/// </summary>
public sealed class TailResubmitTests
{
    /// <summary><paramref name="actions"/> as it is (<paramref name="nested"/> false), or with a note after it.</summary>
    private static FlowAction[] List(bool nested, params FlowAction[] actions) => nested ? [.. actions, FlowAction.Note(0)] : actions;

    /// <summary>
    /// Rules whose lists end in resubmits (or their nested twins): one after a rewrite and an output, one with another
    /// in_port for the lookup, one in a rule with write-actions (which run after what its resubmit composed, so it nests),
    /// a resubmitted rule's goto-table, a lookup that clears the action set, one that misses.
    /// </summary>
    private static FlowEntry[] Build(DatapathRig r, bool nested)
    {
        return
        [
            r.Insert(0, InPort(1), 10, List(nested, FlowAction.SetDlDst(MacC), FlowAction.Output(2), FlowAction.Resubmit(1))),
            r.Insert(1, DlDst(MacC), 10, List(nested, FlowAction.Output(3), FlowAction.Resubmit(2, inPort: 3)),
                     new FlowInstructions(new FlowActions([FlowAction.Output(5)]))),
            r.Insert(2, InPort(3), 10, [FlowAction.Output(PortNumber.InPort)], Goto(4)),
            r.Insert(2, Any, 1, [FlowAction.Output(4)]), // in_port 1: not what the resubmit looks up
            r.Insert(4, Any, 10, List(nested, FlowAction.SetVlanVid(7), FlowAction.Resubmit(5)), new FlowInstructions(clearActions: true)),
            r.Insert(5, Vlan(7), 10, List(nested, FlowAction.Output(4), FlowAction.Resubmit(6))),
            r.Insert(6, DlSrc(MacC), 10, [FlowAction.Output(3)]), // misses: the packet's source is MacA
        ];
    }

    [Fact]
    public void ATailResubmitChain_WalksAsTheSameResubmitsNested_VisitsDepthsActionsTraceAndCounters()
    {
        var key = new FlowKeyBuilder().InPort(1).DlSrc(MacA).DlDst(MacB).DlType(0x0800).Key;
        var results = new (PipelineWalk Walk, List<PipelineTraceStep> Trace, List<byte[]>[] Sent, long[] Packets)[2];
        for (int n = 0; n < 2; n++)
        {
            using var r = new DatapathRig(5);
            var rules = Build(r, nested: n == 1);
            var walk = new PipelineWalk();
            var trace = new List<PipelineTraceStep>();
            walk.Run(r.Dp.Pipeline, key, trace);
            var untraced = new PipelineWalk();
            untraced.Run(r.Dp.Pipeline, key);
            Assert.Equal(walk.Composed, untraced.Composed);
            Assert.Equal(walk.Hits.ToArray(), untraced.Hits.ToArray());
            r.Send(1, Frame(MacA, MacB), times: 2);
            results[n] = (walk, trace, new[] { r.Sent(1), r.Sent(2), r.Sent(3), r.Sent(4), r.Sent(5) }, rules.Select(e => e.Packets).ToArray());
        }
        var (tail, nest) = (results[0], results[1]);
        // What the chain must compose: table 0's rewrite and output; table 1's output, then what its resubmit (in_port 3)
        // found: table 2's output to the packet's own port, its goto (one more resubmit) to table 4, whose rule clears
        // the set and tags, and table 5's output; table 6 misses; then table 1's write-actions, after all that, so the
        // action set (run at the end) holds its output.
        Assert.Equal(
            [FlowAction.SetDlDst(MacC), FlowAction.Output(2), FlowAction.Output(3), FlowAction.Output(PortNumber.InPort),
             FlowAction.SetVlanVid(7), FlowAction.Output(4), FlowAction.Output(5)],
            tail.Walk.Composed.ToArray());
        Assert.Equal([(0, 0), (1, 1), (2, 2), (4, 3), (5, 4), (6, 5)], tail.Trace.Select(s => (s.TableId, s.Depth)).ToArray());
        Assert.Equal(5, tail.Walk.Resubmits);
        Assert.Equal(PipelineEnd.Actions, tail.Walk.End);
        // The nested twin: the same in every respect.
        Assert.Equal(nest.Walk.Composed, tail.Walk.Composed);
        Assert.Equal(nest.Trace.Select(s => (s.TableId, s.Depth, s.Key, s.Lookup.Entry is null)),
                     tail.Trace.Select(s => (s.TableId, s.Depth, s.Key, s.Lookup.Entry is null)));
        Assert.Equal(nest.Walk.Count, tail.Walk.Count);
        Assert.Equal(nest.Walk.Resubmits, tail.Walk.Resubmits);
        Assert.Equal(nest.Walk.FinalKey, tail.Walk.FinalKey);
        Assert.Equal(nest.Packets, tail.Packets);
        Assert.Equal([2L, 2, 2, 0, 2, 2, 0], tail.Packets);
        for (int p = 0; p < 5; p++) Assert.Equal(nest.Sent[p].Count, tail.Sent[p].Count);
        Assert.Equal([2, 2, 2, 2, 2], tail.Sent.Select(s => s.Count).ToArray());
    }

    [Theory]
    [InlineData(false, 64, PipelineEnd.Actions)]
    [InlineData(false, 65, PipelineEnd.ResubmitDrop)]
    [InlineData(true, 64, PipelineEnd.Actions)]
    [InlineData(true, 65, PipelineEnd.ResubmitDrop)]
    public void AChainOfTailResubmits_IsCutAt64Levels_AsNestedOnes(bool nested, int resubmits, PipelineEnd end)
    {
        using var r = new DatapathRig(3);
        // Table i resubmits to table i + 1: the last table is looked up 'resubmits' levels deep.
        for (int i = 0; i < resubmits; i++) r.Insert(i, Any, 10, List(nested, FlowAction.Output(3), FlowAction.Resubmit((byte)(i + 1))));
        var last = r.Insert(resubmits, Any, 10, [FlowAction.Output(2)]);
        var walk = new PipelineWalk();
        var trace = new List<PipelineTraceStep>();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key, trace);
        Assert.Equal(end, walk.End);
        Assert.Equal(Math.Min(resubmits, PipelineWalk.MaxResubmitDepth), walk.Resubmits);
        Assert.Equal(Enumerable.Range(0, Math.Min(resubmits, PipelineWalk.MaxResubmitDepth) + 1), trace.Select(s => s.Depth));
        r.Send(1, Frame(MacA, MacB));
        if (end == PipelineEnd.Actions)
        {
            Assert.Equal(resubmits + 1, walk.Composed.Count);
            Assert.Single(r.Sent(2));
            Assert.Equal(resubmits, r.Sent(3).Count);
            Assert.Equal(1, last.Packets);
            Assert.Equal(0, r.Dp.DropCount(DropReason.Resubmit));
        }
        else
        {
            Assert.Empty(walk.Composed);
            Assert.Empty(r.Sent(2));
            Assert.Empty(r.Sent(3));
            Assert.Equal(1, r.Dp.DropCount(DropReason.Resubmit));
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void TailResubmits_CountTowardThe4096Limit_AsNestedOnes(bool nested, bool oneMore)
    {
        using var r = new DatapathRig(3);
        // 64 resubmits to table 1, each of whose rule resubmits 63 times to table 2, its last a tail: 64 x 64 = 4,096.
        r.Insert(0, Any, 10, List(nested, [.. Enumerable.Repeat(FlowAction.Resubmit(1), oneMore ? 65 : 64)]));
        r.Insert(1, Any, 10, List(nested, [.. Enumerable.Repeat(FlowAction.Resubmit(2), 63)]));
        r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(PipelineWalk.MaxResubmits, walk.Resubmits);
        Assert.Equal(oneMore ? PipelineEnd.ResubmitDrop : PipelineEnd.Actions, walk.End);
        Assert.Equal(oneMore ? 0 : 64 * 63, walk.Composed.Count);
    }
}
