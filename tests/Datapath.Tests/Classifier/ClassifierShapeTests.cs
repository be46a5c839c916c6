using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// <see cref="FlowTable.Shape"/> follows every change, and <see cref="FlowTable.TryLookupByInPort"/> gives what
/// per-packet lookups give while the table is in_port-shaped, and refuses otherwise.
/// </summary>
public class ClassifierShapeTests
{
    private static readonly OfWildcards AllButInPort = (OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt;

    private static FlowMatch ByInPort(ushort port) => FlowMatch.FromOpenFlow(AllButInPort, new FlowKeyBuilder().InPort(port).Key);

    private static FlowMatch Any() => FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default);

    private static FlowEntry Rule(in FlowMatch m, ushort priority, ulong tag) => new(m, priority, FlowActions.Drop, 0, 0, 0, tag: tag);

    [Fact]
    public void ShapeFollowsEveryChange()
    {
        var table = new FlowTable(new ManualClock());
        Assert.Equal(LookupShape.InPortOnly, table.Shape); // no rule looks at anything

        FlowEntry p1, any, byDst, exact;
        using (var w = table.Write())
        {
            w.Insert(p1 = Rule(ByInPort(1), 10, 1));
            w.Insert(any = Rule(Any(), 0, 2));
        }
        Assert.Equal(LookupShape.InPortOnly, table.Shape);

        var dst = FlowMatch.FromOpenFlow((OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask)) | OfWildcards.TunIdExt,
            new FlowKeyBuilder().DlType(0x0800).NwDst(0x0A000002).Key);
        using (var w = table.Write()) w.Insert(byDst = Rule(dst, 20, 3));
        Assert.Equal(LookupShape.General, table.Shape);
        using (var w = table.Write()) w.Remove(byDst);
        Assert.Equal(LookupShape.InPortOnly, table.Shape);

        var key = new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlType(0x0800).NwProto(6).NwSrc(1).NwDst(2).TpSrc(3).TpDst(4).Key;
        using (var w = table.Write()) w.Insert(exact = Rule(FlowMatch.Exact(key), FlowTable.MaxPriority, 4));
        Assert.Equal(LookupShape.General, table.Shape); // an all-ones rule in the hash stage
        using (var w = table.Write()) w.Remove(exact);
        Assert.Equal(LookupShape.InPortOnly, table.Shape);

        using (var w = table.Write())
        {
            w.Remove(p1);
            w.Remove(any);
        }
        Assert.Equal(LookupShape.InPortOnly, table.Shape);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void InPortShapedLookup_GivesThePerPacketWinner_AndCountsEveryPacket()
    {
        var pipeline = new Pipeline(new ManualClock());
        var table = pipeline.LookupTable;
        var stats = pipeline.CreateThreadStats();
        using (var w = table.Write())
        {
            w.Insert(Rule(ByInPort(1), 10, 1));
            w.Insert(Rule(ByInPort(1), 30, 2)); // same in_port, higher priority: wins
            w.Insert(Rule(ByInPort(2), 10, 3));
            w.Insert(Rule(Any(), 5, 4));
        }
        var data = new ClassifierRuleData(new Random(7));
        foreach (ushort port in new ushort[] { 1, 2, 3 })
        {
            for (int i = 0; i < 50; i++)
            {
                var key = new FlowKeyBuilder(data.RandomKey()).InPort(port).Key;
                Assert.True(table.TryLookupByInPort(key, 32, out var winner, stats));
                Assert.Same(table.Lookup(key), winner);
            }
        }
        Assert.Equal(2UL, LookupAt(table, 1)!.Tag);
        Assert.Equal(3UL, LookupAt(table, 2)!.Tag);
        Assert.Equal(4UL, LookupAt(table, 3)!.Tag);
        Assert.Equal(3 * 50 * 32, stats.WildcardLookupCount);
        Assert.Equal(3 * 50 * 32, stats.WildcardMatchedCount);

        // Without the match-all rule, a port with no rule misses, and counts as looked up, not matched.
        var p2 = new Pipeline(new ManualClock());
        var emptyish = p2.LookupTable;
        var s2 = p2.CreateThreadStats();
        using (var w = emptyish.Write()) w.Insert(Rule(ByInPort(1), 10, 1));
        Assert.True(emptyish.TryLookupByInPort(new FlowKeyBuilder().InPort(9).Key, 4, out var none, s2));
        Assert.Null(none);
        Assert.Equal(4, s2.WildcardLookupCount);
        Assert.Equal(0, s2.WildcardMatchedCount);
    }

    [Fact]
    public void GeneralTable_RefusesTheInPortLookup()
    {
        var table = new FlowTable(new ManualClock());
        var m = FlowMatch.FromOpenFlow((OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType)) | OfWildcards.TunIdExt,
            new FlowKeyBuilder().InPort(1).DlType(0x0806).Key);
        using (var w = table.Write()) w.Insert(Rule(m, 10, 1));
        Assert.Equal(LookupShape.General, table.Shape);
        Assert.False(table.TryLookupByInPort(new FlowKeyBuilder().InPort(1).DlType(0x0800).Key, 8, out var winner));
        Assert.Null(winner);
    }

    private static FlowEntry? LookupAt(FlowTable table, ushort port)
    {
        Assert.True(table.TryLookupByInPort(new FlowKeyBuilder().InPort(port).Key, 1, out var e));
        return e;
    }
}
