using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tests;

/// <summary>Equal action lists are shared by the flows that use them; unused ones are not kept alive.</summary>
public sealed class ActionInternerTests
{
    [Fact]
    public void EqualLists_AreOneObject_DifferentListsAreNot()
    {
        var i = new ActionInterner();
        var a = new FlowActions([FlowAction.SetNwDst(0x0A000001), FlowAction.Output(2)]);
        var b = new FlowActions([FlowAction.SetNwDst(0x0A000001), FlowAction.Output(2)]);
        var c = new FlowActions([FlowAction.SetNwDst(0x0A000002), FlowAction.Output(2)]);
        Assert.Same(a, i.Intern(a));
        Assert.Same(a, i.Intern(b));
        Assert.Same(c, i.Intern(c));
        var empty = new FlowActions([]);
        Assert.Same(empty, i.Intern(empty));
        Assert.Same(empty, i.Intern(new FlowActions([])));
    }

    [Fact]
    public void FlowTable_FlowsWithEqualActions_ShareOneList()
    {
        var table = new FlowTable();
        using (var w = table.Write())
        {
            for (int n = 0; n < 100; n++)
            {
                var key = new FlowKeyBuilder().InPort(1).DlType(0x0800).NwSrc(0x0A000000u + (uint)n).Key;
                w.Insert(new FlowEntry(FlowMatch.Exact(key), FlowTable.MaxPriority, new FlowActions([FlowAction.Output((ushort)(2 + n % 2))]), 0, 0, 0));
            }
        }
        var all = new List<FlowEntry>();
        table.Snapshot(all);
        Assert.Equal(100, all.Count);
        Assert.Equal(2, all.Select(e => e.Actions).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public void UnusedLists_AreCollected_AndPurged()
    {
        var i = new ActionInterner();
        for (int n = 0; n < 5000; n++) i.Intern(new FlowActions([FlowAction.SetTpDst((ushort)n), FlowAction.Output(2)]));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        for (int n = 0; n < 5000; n++) i.Intern(new FlowActions([FlowAction.SetTpSrc((ushort)n), FlowAction.Output(2)]));
        // Dead lists are dropped each time the table doubles: far fewer than the 10,000 ever interned remain.
        Assert.True(i.Count < 10_000, $"{i.Count} lists held");
    }
}
