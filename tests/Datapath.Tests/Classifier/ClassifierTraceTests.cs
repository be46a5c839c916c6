using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests;

/// <summary><see cref="FlowTable.Trace(in FlowKey)"/>: the same winner as the generic reference, the stage that holds it, no side effect.</summary>
public class ClassifierTraceTests
{
    public static IEnumerable<object[]> Seeds => Enumerable.Range(1, 4).Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomRuleSets_TraceEqualsReference_StageHoldsTheRule_NothingCounted(int seed)
    {
        var rng = new Random(seed);
        var data = new ClassifierRuleData(rng);
        var pipeline = new Pipeline(new ManualClock());
        var table = pipeline.Table(0);
        var reference = new ClassifierModel();
        using (var w = table.Write())
        {
            for (int i = 0; i < 300; i++)
            {
                var e = data.NewRule();
                Assert.Same(reference.Insert(e), w.Insert(e));
            }
        }
        var before = pipeline.GetLookupTotals();
        int hash = 0, tuple = 0, none = 0;
        for (int i = 0; i < 2000; i++)
        {
            var rules = reference.Rules;
            var key = rng.Next(10) < 7 ? data.KeyMatching(rules[rng.Next(rules.Count)].Match) : data.RandomKey();
            var t = table.Trace(key);
            Assert.True(ReferenceEquals(reference.Lookup(key), t.Entry), $"seed {seed}: trace differs at key {i}");
            switch (t.Stage)
            {
                case LookupStage.Hash:
                    hash++;
                    Assert.True(t.Entry!.Match.IsExact);
                    Assert.Equal(0, t.SubtablesProbed);
                    break;
                case LookupStage.TupleSpace:
                    tuple++;
                    Assert.Equal(t.Entry!.Match.Mask, t.Mask);
                    Assert.InRange(t.SubtablesProbed, 1, table.WildcardSubtableCount);
                    break;
                default:
                    none++;
                    Assert.Null(t.Entry);
                    Assert.Equal(table.WildcardSubtableCount, t.SubtablesProbed);
                    break;
            }
        }
        Assert.True(hash > 0 && tuple > 0, $"seed {seed}: hash {hash}, tuple {tuple}, none {none}");
        Assert.Equal(before, pipeline.GetLookupTotals());
    }

    [Fact]
    public void HashRuleBelowAWildcardRule_TraceNamesTheTupleSpace()
    {
        var table = new FlowTable(new ManualClock());
        var key = new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlType(0x0800).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(1).TpDst(2).Key;
        var exact = FlowMatch.Exact(key);
        var byPort = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(1).Key);
        using (var w = table.Write())
        {
            w.Insert(new FlowEntry(exact, 5, FlowActions.Drop, 0, 0, 0, tag: 1));
            w.Insert(new FlowEntry(byPort, 10, FlowActions.Drop, 0, 0, 0, tag: 2));
        }
        var t = table.Trace(key);
        Assert.Equal(10, table.Lookup(key)!.Priority);
        Assert.Equal(LookupStage.TupleSpace, t.Stage);
        Assert.Equal(10, t.Entry!.Priority);
        Assert.Equal(byPort.Mask, t.Mask);
        Assert.Same(table.Lookup(key), t.Entry);

        // A second all-ones rule for the same key with another priority lives in the tuple space (all-ones subtable).
        using (var w = table.Write()) w.Insert(new FlowEntry(exact, 20, FlowActions.Drop, 0, 0, 0, tag: 3));
        t = table.Trace(key);
        Assert.Equal(LookupStage.TupleSpace, t.Stage);
        Assert.Equal(20, t.Entry!.Priority);
        Assert.Equal(FlowMatch.ExactMaskNoTun, t.Mask);

        var key3 = new FlowKeyBuilder(key).InPort(3).Key;
        using (var w = table.Write()) w.Insert(new FlowEntry(FlowMatch.Exact(key3), 7, FlowActions.Drop, 0, 0, 0, tag: 4));
        t = table.Trace(key3);
        Assert.Equal(LookupStage.Hash, t.Stage);
        Assert.Equal(4UL, t.Entry!.Tag);
        Assert.Equal(FlowMatch.ExactMaskNoTun, t.Mask);

        var other = new FlowKeyBuilder(key).InPort(2).Key;
        t = table.Trace(other);
        Assert.Equal(LookupStage.None, t.Stage);
        Assert.Null(t.Entry);
    }
}
