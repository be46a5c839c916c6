using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tests;

/// <summary>Per-thread flow counters (<see cref="FlowCounterRegistry"/>): summed across threads, exact idle time, slot reuse.</summary>
public class FlowCounterTests
{
    private const long Second = 1_000_000_000L;
    private static readonly FlowActions s_out = new([FlowAction.Output(1)]);

    private static FlowKey Key(int i)
        => new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlType(0x0800).NwProto(17)
            .NwSrc(0x0A000000u + (uint)i).NwDst(0x0B000000u).TpSrc((ushort)i).TpDst(53).Key;

    private static FlowEntry Insert(FlowTable table, int i, ushort idle = 0)
    {
        using var w = table.Write();
        var e = w.NewEntry(FlowMatch.Exact(Key(i)), FlowTable.MaxPriority, s_out, idle, 0, table.Clock.NowNanos);
        w.Insert(e);
        return e;
    }

    [Fact]
    public void CountsOfEveryThread_AreSummedWhenRead()
    {
        var pipeline = new Pipeline(new ManualClock());
        var table = pipeline.Table(0);
        var flows = new FlowEntry[64];
        for (int i = 0; i < flows.Length; i++) flows[i] = Insert(table, i);
        const int Threads = 4, Rounds = 64 * 320;
        var stats = new FlowTableThreadStats[Threads];
        for (int t = 0; t < Threads; t++) stats[t] = pipeline.CreateThreadStats();
        using var start = new Barrier(Threads);
        var workers = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            var slab = stats[t].FlowCounters!;
            int seed = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                for (int r = 0; r < Rounds; r++)
                {
                    var f = flows[(r + seed) % flows.Length];
                    f.Hit(slab, 2, 100, r);
                }
            });
        }
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        long packets = 0, bytes = 0;
        foreach (var f in flows)
        {
            packets += f.Packets;
            bytes += f.Bytes;
        }
        Assert.Equal(2L * Threads * Rounds, packets);
        Assert.Equal(100L * Threads * Rounds, bytes);
        // Each flow is hit the same number of times by each thread.
        foreach (var f in flows) Assert.Equal(2L * Threads * Rounds / flows.Length, f.Packets);

        // A thread handing its slab back keeps its counts (the inline lane's and a slab's).
        Assert.True(stats[0].FlowCounters!.IsInline);
        pipeline.ReleaseThreadStats(stats[0]);
        pipeline.ReleaseThreadStats(stats[1]);
        Assert.Equal(2L * Threads * Rounds / flows.Length, flows[5].Packets);
        // A thread made later takes the free inline lane and adds to what is there.
        var later = pipeline.CreateThreadStats().FlowCounters!;
        Assert.True(later.IsInline);
        flows[5].Hit(later, 1, 1, 0);
        flows[5].Hit(stats[2].FlowCounters!, 1, 1, 0);
        Assert.Equal(2L * Threads * Rounds / flows.Length + 2, flows[5].Packets);
        // Atomic adds from threads without a slab (a packet-out, offload) join them.
        flows[5].Hit(1, 7, 0);
        flows[5].AddCounts(3, 9);
        Assert.Equal(2L * Threads * Rounds / flows.Length + 6, flows[5].Packets);
    }

    [Fact]
    public void ThreadCounts_ReArmTheIdleTimeout_AtTheNanosecondTheyWereCounted()
    {
        var clock = new ManualClock();
        var pipeline = new Pipeline(clock);
        var table = pipeline.Table(0);
        var inline = pipeline.CreateThreadStats().FlowCounters!;
        var slab = pipeline.CreateThreadStats().FlowCounters!;
        Assert.True(inline.IsInline);
        Assert.False(slab.IsInline);
        var e = Insert(table, 1, idle: 10);
        long t0 = clock.NowNanos;
        var removed = new List<FlowRemoved>();

        clock.AdvanceNanos(5 * Second);
        e.Hit(inline, 1, 64, clock.NowNanos); // the first thread, at t0+5 s
        Assert.Equal(clock.NowNanos, e.LastUsedNanos);
        clock.AdvanceNanos(4 * Second);
        Assert.Equal(0, table.Expire(removed));
        e.Hit(slab, 2, 128, clock.NowNanos); // another thread, at t0+9 s: new deadline t0+19 s
        Assert.Equal(clock.NowNanos, e.LastUsedNanos);
        clock.AdvanceNanos(10 * Second - 1);
        Assert.Equal(0, table.Expire(removed));
        clock.AdvanceNanos(1);
        Assert.Equal(1, table.Expire(removed));
        Assert.Equal((FlowRemovedReason.IdleTimeout, 3L, 192L), (removed[0].Reason, removed[0].Packets, removed[0].Bytes));
        Assert.Equal(19 * Second, removed[0].DurationNanos);
        Assert.Equal(t0 + 9 * Second, removed[0].Entry.LastUsedNanos);
    }

    [Fact]
    public void ASlotIsReused_OnlyAfterEveryReaderPassedAQuiescentPoint_AndStartsFromZero()
    {
        var pipeline = new Pipeline(new ManualClock());
        var table = pipeline.Table(0);
        pipeline.CreateThreadStats(); // the first thread's lane is inline
        var slab = pipeline.CreateThreadStats().FlowCounters!;
        Assert.False(slab.IsInline);
        var reader = pipeline.Reclamation.Register();
        reader.Quiesce();
        var old = Insert(table, 1);
        int slot = old.CounterSlot;
        old.Hit(slab, 5, 500, 1);
        using (var w = table.Write()) Assert.True(w.Remove(old));
        Assert.Equal(1, pipeline.Counters.PendingCount);

        // The reader has not passed a quiescent point since the removal: it may still count into the old slot.
        var second = Insert(table, 2);
        Assert.NotEqual(slot, second.CounterSlot);
        old.Hit(slab, 1, 100, 2); // a late flow-batch of the burst that found the old flow
        Assert.Equal(6, old.Packets);

        reader.Quiesce();
        var third = Insert(table, 3);
        Assert.Equal(slot, third.CounterSlot);
        Assert.Equal(0, third.Packets);
        Assert.Equal(0, third.Bytes);
        // The old flow keeps what it counted, now on itself.
        Assert.Equal(-1, old.CounterSlot);
        Assert.Equal((6L, 600L), (old.Packets, old.Bytes));
        third.Hit(slab, 1, 64, 3);
        Assert.Equal((6L, 1L), (old.Packets, third.Packets));
        pipeline.Reclamation.Unregister(reader);
    }
}
