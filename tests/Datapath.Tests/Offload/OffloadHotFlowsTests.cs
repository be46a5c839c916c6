using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Offload;

/// <summary>When the target is full, the busiest flows earn its room: a flow kept out for want of room that forwards far more than the coldest hardware flow takes its place.</summary>
public sealed class OffloadHotFlowsTests
{
    private static FlowMatch Exact(ushort tpDst)
    {
        var b = new FlowKeyBuilder();
        b.InPort(1);
        b.DlVlan(0xFFFF);
        b.DlType(0x0800);
        b.NwProto(17);
        b.NwSrc(0x0A000001);
        b.NwDst(0x0A000002);
        b.TpSrc(1000);
        b.TpDst(tpDst);
        return FlowMatch.Exact(b.Key);
    }

    private static FlowEntry Add(OfFlowTables t, in FlowMatch m)
    {
        Assert.Equal(FlowModStatus.Ok, t.Apply(new FlowMod(FlowModCommand.Add, m, 100, new FlowActions([FlowAction.Output(2)])), null, out var e));
        return e!;
    }

    private static FlowPlacement Where(OffloadManager m, FlowEntry e)
    {
        Assert.True(m.TryGetPlacement(e, out var p));
        return p;
    }

    [Fact]
    public void AFullTarget_GivesTheColdestFlowsRoomToABusierOne_AndNotToOneOfSimilarTraffic()
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget([1, 2], OffloadLookupModel.ExactFirst, capacity: 2);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var cold = Add(table, Exact(1));
        var warm = Add(table, Exact(2));
        var hot = Add(table, Exact(3));
        manager.ProcessPending();
        Assert.True(Where(manager, cold).InHardware);
        Assert.True(Where(manager, warm).InHardware);
        Assert.Equal(OffloadReason.TableFull, Where(manager, hot).Reason);

        // One interval: the hardware forwards 10 of cold's and 200 of warm's packets; software forwards 60 of hot's.
        for (int i = 0; i < 10; i++) target.Forward(cold.Match.Value, 64);
        for (int i = 0; i < 200; i++) target.Forward(warm.Match.Value, 64);
        hot.AddCounts(60, 60 * 64);
        manager.Poll();
        Assert.True(Where(manager, hot).InHardware);
        Assert.True(Where(manager, warm).InHardware);
        var out1 = Where(manager, cold);
        Assert.False(out1.InHardware);
        Assert.Equal(OffloadReason.TableFull, out1.Reason);
        Assert.Equal(10, cold.Packets);   // its hardware counts were read as it left
        Assert.Equal(1, manager.Stats.HotSwaps);

        // Next interval: warm stays busy; cold forwards a little more than hot, not twice as much: nothing moves.
        for (int i = 0; i < 200; i++) target.Forward(warm.Match.Value, 64);
        cold.AddCounts(40, 40 * 64);
        for (int i = 0; i < 30; i++) target.Forward(hot.Match.Value, 64);
        manager.Poll();
        Assert.True(Where(manager, hot).InHardware);
        Assert.False(Where(manager, cold).InHardware);
        Assert.Equal(1, manager.Stats.HotSwaps);
    }

    /// <summary>
    /// A poll's swaps are one batch: every cold flow leaves, the target settles once (one grace period, for a target
    /// that reuses a removed flow's row only after one, as the XDP target does), then the hot flows go in.
    /// </summary>
    [Fact]
    public void ABatchOfSwaps_WaitsForOneGracePeriod()
    {
        const int N = 4;
        var table = new OfFlowTables(new ManualClock());
        int waits = 0;
        var target = new DummyOffloadTarget([1, 2], OffloadLookupModel.ExactFirst, capacity: N) { ReuseAfterGracePeriod = true };
        target.GracePeriod = () => waits++;
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var cold = Enumerable.Range(0, N).Select(i => Add(table, Exact((ushort)(10 + i)))).ToArray();
        var hot = Enumerable.Range(0, N).Select(i => Add(table, Exact((ushort)(20 + i)))).ToArray();
        manager.ProcessPending();
        Assert.All(cold, e => Assert.True(Where(manager, e).InHardware));
        Assert.All(hot, e => Assert.Equal(OffloadReason.TableFull, Where(manager, e).Reason));
        manager.Poll();   // the first measure: nothing forwarded, nothing moves
        Assert.Equal(0, waits);

        foreach (var e in hot) e.AddCounts(100, 100 * 64);
        manager.Poll();
        Assert.All(hot, e => Assert.True(Where(manager, e).InHardware));
        Assert.All(cold, e => Assert.Equal(OffloadReason.TableFull, Where(manager, e).Reason));
        Assert.Equal(N, manager.Stats.HotSwaps);
        Assert.Equal(1, waits);
        Assert.Equal(1, target.GracePeriods);
    }
}
