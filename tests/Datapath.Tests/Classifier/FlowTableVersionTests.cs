using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Classifier;

/// <summary>
/// Rules under versions (docs/datapath.md, "Atomic batches"): a table held at the next tables version links the rules
/// it inserts hidden until that version and hides the rules it is told to from it; a lookup at a version sees exactly
/// the rules visible at it, in the hash stage, the tuple space's subtables and the burst lookup alike, and a hidden rule
/// never hides a lower visible rule of its match. The commit publishes the version once and unlinks the hidden rules;
/// a revert drops it.
/// </summary>
public sealed class FlowTableVersionTests
{
    private static readonly FlowKey Key = new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlType(0x0800).NwProto(17)
        .NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(1).TpDst(2).Key;

    private static readonly FlowMatch ByPort = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt,
                                                                       new FlowKeyBuilder().InPort(1).Key);

    private static readonly FlowMatch ByDst = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.NwDstMask & ~OfWildcards.DlType) | OfWildcards.TunIdExt,
                                                                      new FlowKeyBuilder().DlType(0x0800).NwDst(0x0A000002).Key);

    private static FlowEntry Rule(in FlowMatch m, ushort priority, ulong tag) => new(m, priority, FlowActions.Drop, 0, 0, 0, tag: tag);

    private static ulong? Burst(FlowTable t)
    {
        var results = new FlowEntry?[1];
        t.LookupBurst([Key], [1u], results, null);
        return results[0]?.Tag;
    }

    [Fact]
    public void AHeldBatch_IsSeenAtItsVersionOnly_AndWholeAfterTheCommit()
    {
        var pipeline = new Pipeline(new ManualClock());
        var t = pipeline.Table(0);
        var low = Rule(ByPort, 10, 1);
        var top = Rule(ByPort, 30, 2);
        using (var w = t.Write())
        {
            w.Insert(low);
            w.Insert(top);
        }
        long v0 = pipeline.Versions.Current;
        Assert.False(t.HasVersionsPending);

        t.Hold(v0 + 1);
        using (var w = t.Write())
        {
            // Above the top rule in its own match's chain, in a new subtable, and in the hash stage.
            w.Insert(Rule(ByPort, 40, 3));
            w.Insert(Rule(ByDst, 35, 4));
            w.Insert(Rule(FlowMatch.Exact(Key), 50, 5));
            w.Hide(top);
        }
        Assert.True(t.HasVersionsPending);
        // The current version: as before the batch (the hidden rule still seen, the added ones not, the chain's lower
        // rule not hidden by the new one above it).
        Assert.Equal(2UL, t.Lookup(Key)!.Tag);
        Assert.Equal(2UL, Burst(t));
        Assert.Equal(2UL, t.Trace(Key).Entry!.Tag);
        // At the batch's version, before the commit: the batch's rules, the hidden one gone.
        Assert.Equal(5UL, t.Lookup(Key, default, v0 + 1)!.Tag);

        FlowTable.UnholdTogether([t], v0 + 1);
        Assert.Equal(v0 + 1, pipeline.Versions.Current);
        Assert.Equal(5UL, t.Lookup(Key)!.Tag);
        Assert.Equal(5UL, Burst(t));
        Assert.True(top.IsRemoved);
        Assert.Equal(4, t.Count);
        // A reader still at the old version sees the old rule set but the hidden rule, which the commit unlinked.
        Assert.Equal(1UL, t.Lookup(Key, default, v0)!.Tag);

        Assert.True(FlowTable.Settle([t]));
        Assert.False(t.HasVersionsPending);
        Assert.Equal(5UL, t.Lookup(Key)!.Tag);
        Assert.Equal(5UL, Burst(t));
    }

    /// <summary>
    /// An insert of a held table that replaces a rule of the same match and priority (an add of a bundle, or a modify's
    /// new rule) links the new rule beside the old one, which it hides from the version: the old rule at the version
    /// before, the new one at the batch's, in the tuple space and beside a hash-stage rule alike; a second replacement
    /// in the batch replaces the first; the commit leaves the last one alone.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AReplacingInsert_IsSeenAtTheBatchsVersion_TheOldRuleBeforeIt(bool exact)
    {
        var pipeline = new Pipeline(new ManualClock());
        var t = pipeline.Table(0);
        var m = exact ? FlowMatch.Exact(Key) : ByPort;
        var old = Rule(m, 10, 1);
        var below = Rule(m, 5, 9);
        using (var w = t.Write())
        {
            // The old rule first: an all-ones one in the hash stage, the lower one in the tuple space.
            w.Insert(old);
            w.Insert(below);
        }
        Assert.Equal(exact, old.InExactStage);
        long v = pipeline.Versions.Current + 1;
        t.Hold(v);
        var first = Rule(m, 10, 2);
        var second = Rule(m, 10, 3);
        using (var w = t.Write())
        {
            Assert.Same(old, w.Insert(first));
            Assert.False(old.IsRemoved);
            // The batch's own queries see its rule, not the one it replaced.
            Assert.Same(first, w.Find(m, 10));
            Assert.Same(first, w.Insert(second));
            Assert.Same(second, w.Find(m, 10));
            var all = new List<FlowEntry>();
            w.CollectSubsets(FlowMatch.All, all);
            Assert.Equal([3UL, 9UL], all.Select(e => e.Tag).Order());
            Assert.Equal(2, w.HiddenCount);
        }
        Assert.Equal(1UL, t.Lookup(Key)!.Tag);
        Assert.Equal(1UL, Burst(t));
        Assert.Equal(1UL, t.Lookup(Key, default, v - 1)!.Tag);
        Assert.Equal(3UL, t.Lookup(Key, default, v)!.Tag);

        FlowTable.UnholdTogether([t], v);
        Assert.True(old.IsRemoved);
        Assert.True(first.IsRemoved);
        Assert.Equal(3UL, t.Lookup(Key)!.Tag);
        Assert.Equal(3UL, Burst(t));
        Assert.Equal(2, t.Count);
        Assert.True(FlowTable.Settle([t]));
        Assert.False(t.HasVersionsPending);
        Assert.Equal(3UL, t.Lookup(Key)!.Tag);
        Assert.Equal(3UL, Burst(t));
        // The lower rule of the match is there still.
        using (var w = t.Write()) w.Remove(second);
        Assert.Equal(9UL, t.Lookup(Key)!.Tag);
    }

    /// <summary>A revert removes the replacing rule and shows the replaced one again, at every version.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARevertedReplace_LeavesTheOldRule(bool exact)
    {
        var pipeline = new Pipeline(new ManualClock());
        var t = pipeline.Table(0);
        var m = exact ? FlowMatch.Exact(Key) : ByPort;
        var old = Rule(m, 10, 1);
        using (var w = t.Write()) w.Insert(old);
        long v = pipeline.Versions.Current + 1;
        t.Hold(v);
        var replacing = Rule(m, 10, 2);
        using (var w = t.Write())
        {
            w.Insert(replacing);
            w.Remove(replacing);
        }
        t.DropHoldVersion();
        t.Unhold();
        Assert.False(old.IsRemoved);
        Assert.Equal(1, t.Count);
        Assert.Equal(1UL, t.Lookup(Key)!.Tag);
        Assert.Equal(1UL, t.Lookup(Key, default, v)!.Tag);
        Assert.Equal(1UL, Burst(t));
        Assert.True(FlowTable.Settle([t]));
        Assert.False(t.HasVersionsPending);
        using (var w = t.Write()) Assert.Same(old, w.Find(m, 10));
    }

    [Fact]
    public void AHiddenRule_DoesNotHideTheLowerRuleOfItsMatch()
    {
        var pipeline = new Pipeline(new ManualClock());
        var t = pipeline.Table(0);
        var low = Rule(ByPort, 10, 1);
        var top = Rule(ByPort, 30, 2);
        using (var w = t.Write())
        {
            w.Insert(low);
            w.Insert(top);
        }
        long v = pipeline.Versions.Current + 1;
        t.Hold(v);
        using (var w = t.Write()) w.Hide(top);
        Assert.Equal(2UL, t.Lookup(Key)!.Tag);
        Assert.Equal(1UL, t.Lookup(Key, default, v)!.Tag);
        t.DropHoldVersion();
        t.Unhold();
        Assert.Equal(2UL, t.Lookup(Key, default, v)!.Tag);
        Assert.True(FlowTable.Settle([t]));
        Assert.False(t.HasVersionsPending);
    }

    [Fact]
    public void ARevertedBatch_LeavesNoRuleSeen()
    {
        var pipeline = new Pipeline(new ManualClock());
        var t0 = pipeline.Table(0);
        var t1 = pipeline.GetOrCreateStage(1);
        var old = Rule(ByPort, 10, 1);
        using (var w = t0.Write()) w.Insert(old);
        long v = pipeline.Versions.Current + 1;
        t0.Hold(v);
        t1.Hold(v);
        var added0 = Rule(ByDst, 20, 2);
        var added1 = Rule(ByPort, 20, 3);
        using (var w = t0.Write())
        {
            w.Insert(added0);
            w.Hide(old);
        }
        using (var w = t1.Write()) w.Insert(added1);
        // Added, then hidden by the same batch: seen at no version.
        using (var w = t1.Write()) w.Hide(added1);
        Assert.Null(t1.Lookup(Key, default, v));
        Assert.Null(t1.Lookup(Key));

        foreach (var t in new[] { t0, t1 }) t.DropHoldVersion();
        using (var w = t0.Write()) w.Remove(added0);
        using (var w = t1.Write()) w.Remove(added1);
        FlowTable.UnholdTogether([t0, t1]);
        Assert.Equal(v - 1, pipeline.Versions.Current);
        Assert.Equal(1UL, t0.Lookup(Key)!.Tag);
        Assert.Equal(1UL, t0.Lookup(Key, default, v)!.Tag);
        Assert.Null(t1.Lookup(Key));
        Assert.True(FlowTable.Settle([t0, t1]));
        Assert.False(t0.HasVersionsPending || t1.HasVersionsPending);
    }

    [Fact]
    public void AVersionedHold_MustBeAheadAndAlone()
    {
        var pipeline = new Pipeline(new ManualClock());
        var t = pipeline.Table(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Hold(pipeline.Versions.Current));
        t.Hold();
        Assert.Throws<InvalidOperationException>(() => t.Hold(pipeline.Versions.Current + 1));
        t.Unhold();
        t.Hold(pipeline.Versions.Current + 1);
        Assert.Throws<InvalidOperationException>(() => FlowTable.UnholdTogether([t], pipeline.Versions.Current + 2));
    }
}
