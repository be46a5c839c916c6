using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// An atomic batch that changes a group and the flow applying it, and a burst forwarded inside its commit, after the
/// version's store and before the commit moved the cached results' words: the burst meets the flow and the group of one
/// version (docs/datapath.md, "Atomic batches"). The flow applies group 1 (output to port 2) before the batch; the
/// batch replaces it by a flow that outputs to port 3 and group 1 by one that outputs to port 4: the frame leaves on
/// port 2 (the rules before), 3 (the batch's), never on 4 (the flow before with the batch's group).
/// </summary>
public sealed class BundleGroupWindowTests
{
    private static Group G(uint id, ushort port) => new(id, GroupType.Indirect, [new GroupBucket(new FlowActions([FlowAction.Output(port)]))], 0);

    /// <summary>
    /// Stages an atomic batch at the next version, as a bundle commit does before publishing: table 0 held, the
    /// <paramref name="groups"/> set and a catch-all flow of priority 10 applying <paramref name="action"/> inserted
    /// at that version, the groups' version stored unpublished. Returns the version.
    /// </summary>
    private static long StageBatch(DatapathRig r, FlowTable table, Group[] groups, FlowAction action)
    {
        long v = r.Dp.Pipeline.Versions.Current + 1;
        table.Hold(v);
        r.Dp.Groups.BeginVersion(v);
        foreach (var g in groups) r.Dp.Groups.Set(g);
        using (var w = table.Write()) w.Insert(new FlowEntry(Any, 10, new FlowActions([action]), 0, 0, r.Clock.NowNanos));
        r.Dp.Groups.PublishVersion(publish: false);
        return v;
    }

    /// <summary>Commits the staged batch, running <paramref name="burst"/> inside the commit (after the version's store,
    /// before the cached results' words move); returns what it saw.</summary>
    private static int[] CommitWithABurstInside(DatapathRig r, FlowTable table, long v, Func<int[]> burst)
    {
        int[]? inside = null;
        r.Dp.Pipeline.Versions.AfterPublish = () => inside = burst();
        FlowTable.UnholdTogether([table], v);
        r.Dp.Pipeline.Versions.AfterPublish = null;
        Assert.NotNull(inside);
        return inside;
    }

    [Theory]
    [InlineData(false)] // one table: the flow from the exact-match cache
    [InlineData(true)] // the stages: the flow from a cached verdict
    public void ABurstInsideACommit_MeetsTheFlowAndTheGroupOfOneVersion(bool stages)
    {
        using var r = new DatapathRig(4);
        var pipeline = r.Dp.Pipeline;
        if (stages) pipeline.EnableStages();
        r.Dp.Groups.Set(G(1, 2));
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        byte[] frame = Frame(MacA, MacB);
        // Cached: the entry or the verdict the burst inside the commit finds.
        r.Send(1, frame, 3);
        Assert.Equal(3, r.Sent(2).Count);

        var table = pipeline.Table(0);
        long v = StageBatch(r, table, [G(1, 4)], FlowAction.Output(3));
        // Before the commit: the rules before.
        r.Send(1, frame);
        Assert.Equal((1, 0, 0), (r.Sent(2).Count, r.Sent(3).Count, r.Sent(4).Count));

        int[] inside = CommitWithABurstInside(r, table, v, () =>
        {
            Assert.Equal(v, pipeline.Versions.Current);
            Assert.Equal(v - 1, pipeline.Versions.Committed);
            r.Send(1, frame);
            return [r.Sent(2).Count, r.Sent(3).Count, r.Sent(4).Count];
        });
        Assert.Equal(v, pipeline.Versions.Committed);
        Assert.Equal(0, inside[2]); // never the flow before with the batch's group
        Assert.Equal(1, inside[0] + inside[1]);
        Assert.Equal(1, inside[1]); // the version is the batch's: its flow and group

        // After the commit: the batch's rules, from the cache too.
        r.Send(1, frame, 2);
        Assert.Equal((0, 2, 0), (r.Sent(2).Count, r.Sent(3).Count, r.Sent(4).Count));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ABurstInsideACommit_TheBatchsFlowMeetsTheBatchsGroup(bool stages)
    {
        // The batch changes group 1 alone (to port 4) and the flow applying group 2 (to port 3) into one applying group
        // 1: inside the commit the cached flow is the one before (group 2, port 3) with the group before, or the batch's
        // (group 1 at the batch's version, port 4); never group 1 as it was (port 2) nor group 2 changed.
        using var r = new DatapathRig(5);
        var pipeline = r.Dp.Pipeline;
        if (stages) pipeline.EnableStages();
        r.Dp.Groups.Set(G(1, 2));
        r.Dp.Groups.Set(G(2, 3));
        r.Insert(0, Any, 10, [FlowAction.Group(2)]);
        byte[] frame = Frame(MacA, MacB);
        r.Send(1, frame, 3);
        Assert.Equal(3, r.Sent(3).Count);

        var table = pipeline.Table(0);
        // Group 2 as the batch leaves it: port 5, which no version's packet reaches.
        long v = StageBatch(r, table, [G(1, 4), G(2, 5)], FlowAction.Group(1));

        int[] inside = CommitWithABurstInside(r, table, v, () =>
        {
            r.Send(1, frame);
            return [r.Sent(5).Count, r.Sent(2).Count, r.Sent(3).Count, r.Sent(4).Count];
        });
        Assert.Equal(0, inside[0]); // the flow before with the batch's group 2
        Assert.Equal(0, inside[1]); // the batch's flow with group 1 before
        Assert.Equal(1, inside[2] + inside[3]);
        r.Send(1, frame);
        Assert.Equal((0, 0, 0, 1), (r.Sent(5).Count, r.Sent(2).Count, r.Sent(3).Count, r.Sent(4).Count));
    }
}
