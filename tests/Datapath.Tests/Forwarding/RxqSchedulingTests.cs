using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Receive queues placed on forwarding threads by measured load, as Open vSwitch's dpif-netdev places them
/// (pmd-rxq-assign=cycles, roundrobin, group), its auto load-balance dry run, the pmd-rxq-show report, and the move of
/// a queue between threads under traffic: every frame arrives exactly once and in order within its flow.
/// </summary>
public sealed class RxqSchedulingTests
{
    private static RxqDemand Q(int port, int queue, long cycles) => new(port, queue, cycles);

    [Fact]
    public void Cycles_SortsByLoad_AndDealsUpAndDown()
    {
        // Heaviest first: p1q1 40, p2q0 30, p2q1 20, p1q0 10, dealt to threads 0,1,1,0.
        RxqDemand[] queues = [Q(1, 0, 10), Q(1, 1, 40), Q(2, 0, 30), Q(2, 1, 20)];
        var t = RxqScheduler.Schedule(queues, 2, RxqAssignment.Cycles, out var load);
        Assert.Equal([0, 0, 1, 1], t);
        Assert.Equal([50L, 50L], load);
        // Three threads, six queues of 60 .. 10: 0,1,2,2,1,0 gives each 70.
        RxqDemand[] six = [Q(1, 0, 10), Q(1, 1, 20), Q(1, 2, 30), Q(1, 3, 40), Q(1, 4, 50), Q(1, 5, 60)];
        t = RxqScheduler.Schedule(six, 3, RxqAssignment.Cycles, out load);
        Assert.Equal([0, 1, 2, 2, 1, 0], t);
        Assert.Equal([70L, 70L, 70L], load);
        // Seven: the walk turns at thread 0 again (0,1,2,2,1,0,0).
        RxqDemand[] seven = [.. six, Q(2, 0, 5)];
        Assert.Equal([0, 1, 2, 2, 1, 0, 0], RxqScheduler.Schedule(seven, 3, RxqAssignment.Cycles));
    }

    [Fact]
    public void Cycles_BreaksTiesByPortNumberThenQueueId()
    {
        // Equal loads: p1q0, p1q1, p3q0, p3q1 in that order, however given: 0,1,1,0.
        RxqDemand[] queues = [Q(3, 1, 7), Q(1, 1, 7), Q(3, 0, 7), Q(1, 0, 7)];
        Assert.Equal([0, 1, 1, 0], RxqScheduler.Schedule(queues, 2, RxqAssignment.Cycles));
    }

    [Fact]
    public void Group_GivesEachQueueToTheLeastLoadedThread_AndUnmeasuredOnesByQueueCount()
    {
        // 90 to thread 0; 40, 30 and 20 to thread 1 (each time its load is the lower): 90 against 90.
        RxqDemand[] queues = [Q(1, 0, 90), Q(2, 0, 40), Q(3, 0, 30), Q(4, 0, 20)];
        var t = RxqScheduler.Schedule(queues, 2, RxqAssignment.Group, out var load);
        Assert.Equal([0, 1, 1, 1], t);
        Assert.Equal([90L, 90L], load);
        // Cycles would have dealt them 0,1,1,0: 110 against 70.
        RxqScheduler.Schedule(queues, 2, RxqAssignment.Cycles, out load);
        Assert.Equal([110L, 70L], load);
        // Queues with no load go by the number of queues, whatever the load: after 90 on thread 0, the zeros to 1, then
        // 0 (one queue each: a tie goes to the first), then 1.
        RxqDemand[] zeros = [Q(1, 0, 90), Q(2, 0, 0), Q(3, 0, 0), Q(4, 0, 0)];
        Assert.Equal([0, 1, 0, 1], RxqScheduler.Schedule(zeros, 2, RxqAssignment.Group));
    }

    [Fact]
    public void RoundRobin_KeepsPortOrder_WhateverTheLoad()
    {
        RxqDemand[] queues = [Q(1, 0, 1), Q(1, 1, 1000), Q(2, 0, 500), Q(3, 0, 0), Q(4, 0, 9)];
        Assert.Equal([0, 1, 2, 0, 1], RxqScheduler.Schedule(queues, 3, RxqAssignment.RoundRobin));
    }

    [Fact]
    public void DryRun_ImprovementIsTheDropOfTheVarianceOfBusyPercentages()
    {
        // One interval of 1,000 ticks (6,000 over the kept intervals): thread 0 at 3,000 (50 %), thread 1 idle.
        long[] intervals = [1000, 1000];
        Assert.Equal(625UL, RxqScheduler.LoadVariance([3000, 0], intervals));   // mean 25, (25² + 25²) / 2
        Assert.Equal(0UL, RxqScheduler.LoadVariance([1500, 1500], intervals));
        Assert.Equal(100UL, RxqScheduler.Improvement([3000, 0], [1500, 1500], intervals));
        // 60/30 to 45/45: variance 225 to 0 is 100 %; 60/30 to 50/40: 225 to 25, 88 %.
        Assert.Equal(88UL, RxqScheduler.Improvement([3600, 1800], [3000, 2400], intervals));
        // Worse or equal: no improvement.
        Assert.Equal(0UL, RxqScheduler.Improvement([1500, 1500], [3000, 0], intervals));
        Assert.Equal(0UL, RxqScheduler.Improvement([0, 0], [0, 0], [0, 0]));
        Assert.True(RxqScheduler.DryRunNeeded(RxqAssignment.Cycles, [2, 0]));
        Assert.True(RxqScheduler.DryRunNeeded(RxqAssignment.Group, [1, 3]));
        Assert.False(RxqScheduler.DryRunNeeded(RxqAssignment.Cycles, [1, 1]));
        Assert.False(RxqScheduler.DryRunNeeded(RxqAssignment.Cycles, [4]));
        Assert.False(RxqScheduler.DryRunNeeded(RxqAssignment.RoundRobin, [3, 0]));
    }

    /// <summary>Ends one interval of <paramref name="ticks"/> for thread <paramref name="t"/> of <paramref name="dp"/> with
    /// <paramref name="busy"/> ticks busy and each of its queues charged as given (the test stands in for the thread).</summary>
    private static long Interval(SwitchDatapath dp, int t, long at, long ticks, long busy, params (RxQueue Q, long Ticks)[] queues)
    {
        var load = dp.ThreadLoads[t];
        foreach (var (q, n) in queues) q.AddBusy(n);
        load.AddBusy(busy);
        load.EndInterval(at + ticks, dp.ReceiveQueueAssignment()[t], 95);
        return at + ticks;
    }

    private static RxQueue QueueOf(SwitchDatapath dp, string port)
        => dp.ReceiveQueueAssignment().SelectMany(a => a).Single(q => q.Slot.Port.Info.Name == port);

    private static void Place(SwitchDatapath dp, params (string Port, int Thread)[] places)
    {
        var moves = places.Select(p => (QueueOf(dp, p.Port), p.Thread)).ToList();
        dp.MoveReceiveQueues(moves, out var error);
        Assert.Null(error);
        foreach (var (port, thread) in places) Assert.Contains(dp.ReceiveQueueAssignment()[thread], q => q.Slot.Port.Info.Name == port);
    }

    [Fact]
    public void PmdRxqShow_HasOpenVswitchsLayout_WithEachQueuesShareAndTheOverhead()
    {
        using var r = new DatapathRig(3, new DatapathOptions { Threads = 2, PacketInRate = 0 });
        var dp = r.Dp;
        Place(dp, ("p1", 0), ("p2", 0), ("p3", 1));
        // Before any interval ended: NOT AVAIL, as Open vSwitch says.
        Assert.Equal(
            "pmd thread numa_id 0 core_id 0:\n  isolated : false\n" +
            "  port: p1                queue-id:  0 (enabled)   pmd usage: NOT AVAIL\n" +
            "  port: p2                queue-id:  0 (enabled)   pmd usage: NOT AVAIL\n" +
            "  overhead: NOT AVAIL\n" +
            "pmd thread numa_id 0 core_id 1:\n  isolated : false\n" +
            "  port: p3                queue-id:  0 (enabled)   pmd usage: NOT AVAIL\n" +
            "  overhead: NOT AVAIL\n", dp.Balancer.Show());
        // Thread 0: a first interval to start from, then one of 1,000 ticks in which p1 took 3,000 and p2 600 of its
        // 4,200 busy ticks: against 6 intervals of 1,000, 50 %, 10 % and 10 % overhead.
        long at = Interval(dp, 0, 1_000_000, 1, 0);
        Interval(dp, 0, at, 1000, 4200, (QueueOf(dp, "p1"), 3000), (QueueOf(dp, "p2"), 600));
        at = Interval(dp, 1, 1_000_000, 1, 0);
        Interval(dp, 1, at, 2000, 120, (QueueOf(dp, "p3"), 120));
        Assert.Equal(
            "pmd thread numa_id 0 core_id 0:\n  isolated : false\n" +
            "  port: p1                queue-id:  0 (enabled)   pmd usage: 50 %\n" +
            "  port: p2                queue-id:  0 (enabled)   pmd usage: 10 %\n" +
            "  overhead: 10 %\n" +
            "pmd thread numa_id 0 core_id 1:\n  isolated : false\n" +
            "  port: p3                queue-id:  0 (enabled)   pmd usage:  1 %\n" +
            "  overhead:  0 %\n", dp.Balancer.Show());
        Assert.StartsWith("pmd thread numa_id 0 core_id 1:\n", dp.Balancer.Show(core: 1));
        Assert.DoesNotContain("core_id 0", dp.Balancer.Show(core: 1));
    }

    [Fact]
    public void PmdRxqShow_NamesEachReceiverOfASplitPortByItsQueueId()
    {
        var ports = DatapathRig.MemoryPorts(2);
        ports[0] = new Memory.MemoryPort("split", new MacAddress(0x0200_0000_0009UL)) { SplitByFlowHash = true };
        using var r = new DatapathRig(ports, new DatapathOptions { Threads = 2, PacketInRate = 0 });
        string text = r.Dp.Balancer.Show();
        Assert.Contains("  port: split             queue-id:  0 (enabled)   pmd usage: NOT AVAIL\n", text);
        Assert.Contains("  port: split             queue-id:  1 (enabled)   pmd usage: NOT AVAIL\n", text);
    }

    [Fact]
    public void Rebalance_PlacesQueuesByMeasuredLoad_AndRoundRobinByPortOrder()
    {
        using var r = new DatapathRig(4, new DatapathOptions { Threads = 2, PacketInRate = 0 });
        var dp = r.Dp;
        Place(dp, ("p1", 0), ("p2", 0), ("p3", 0), ("p4", 0));
        // Loads 10, 40, 30, 20 (one interval each): cycles puts p2 and p1 on thread 0, p3 and p4 on thread 1.
        long at = Interval(dp, 0, 1_000_000, 1, 0);
        Interval(dp, 0, at, 1000, 100, (QueueOf(dp, "p1"), 10), (QueueOf(dp, "p2"), 40), (QueueOf(dp, "p3"), 30), (QueueOf(dp, "p4"), 20));
        Assert.Equal(2, dp.Balancer.Rebalance());
        string[] Names(int t) => [.. dp.ReceiveQueueAssignment()[t].Select(q => q.Slot.Port.Info.Name).Order()];
        Assert.Equal(["p1", "p2"], Names(0));
        Assert.Equal(["p3", "p4"], Names(1));
        Assert.Equal(0, dp.Balancer.Rebalance());   // placed already: nothing moves
        // Round-robin: port order, 0,1,0,1, whatever the load; setting it places the queues at once.
        dp.Balancer.Assignment = RxqAssignment.RoundRobin;
        Assert.Equal(["p1", "p3"], Names(0));
        Assert.Equal(["p2", "p4"], Names(1));
        Assert.Equal(4, dp.Balancer.QueuesMoved);
        Assert.Equal(3, dp.Balancer.Rebalances);
    }

    [Fact]
    public void AutoLoadBalance_MovesQueuesOnlyAfterAThreadStayedOverloadedForEveryKeptInterval()
    {
        using var r = new DatapathRig(3, new DatapathOptions { Threads = 2, PacketInRate = 0 });
        var dp = r.Dp;
        var balancer = dp.Balancer;
        Place(dp, ("p1", 0), ("p2", 0), ("p3", 0));
        balancer.AutoLoadBalance = true;
        balancer.RebalanceIntervalMs = 10;
        // Thread 0 fully busy (100 %) for five intervals, its queues 50, 30, 20 % of it; thread 1 idle.
        long at0 = Interval(dp, 0, 1_000_000, 1, 0), at1 = Interval(dp, 1, 1_000_000, 1, 0);
        for (int i = 0; i < RxQueue.Intervals - 1; i++)
        {
            at0 = Interval(dp, 0, at0, 1000, 1000, (QueueOf(dp, "p1"), 500), (QueueOf(dp, "p2"), 300), (QueueOf(dp, "p3"), 200));
            at1 = Interval(dp, 1, at1, 1000, 0);
        }
        Assert.Equal(RxQueue.Intervals - 1, dp.ThreadLoads[0].OverloadedIntervals);
        Assert.False(balancer.Tick(1000));   // the first tick starts the interval
        Assert.False(balancer.Tick(1011));   // overloaded for 5 intervals of 6: nothing
        Assert.Equal(3, dp.ReceiveQueueAssignment()[0].Length);
        at0 = Interval(dp, 0, at0, 1000, 1000, (QueueOf(dp, "p1"), 500), (QueueOf(dp, "p2"), 300), (QueueOf(dp, "p3"), 200));
        Interval(dp, 1, at1, 1000, 0);
        Assert.False(balancer.Tick(1015));   // not yet the next check
        balancer.AutoLoadBalance = false;   // off: no check at all
        Assert.False(balancer.Tick(1030));
        balancer.AutoLoadBalance = true;
        Assert.True(balancer.Tick(1030));
        Assert.Equal(1, balancer.AutoRebalances);
        // Cycles: p1 (heaviest) stays on 0; p2 and p3 go to 1.
        Assert.Equal(["p1"], dp.ReceiveQueueAssignment()[0].Select(q => q.Slot.Port.Info.Name));
        Assert.Equal(["p2", "p3"], dp.ReceiveQueueAssignment()[1].Select(q => q.Slot.Port.Info.Name).Order());
    }

    [Fact]
    public void AutoLoadBalance_NeedsTheImprovementThreshold()
    {
        using var r = new DatapathRig(3, new DatapathOptions { Threads = 2, PacketInRate = 0 });
        var dp = r.Dp;
        var balancer = dp.Balancer;
        Place(dp, ("p1", 0), ("p2", 0), ("p3", 1));
        // Thread 0 at 100 % (p1 90, p2 10), thread 1 at 70 % (p3): the estimate (p1 alone, p2 with p3) takes the busy
        // shares from 100/70 to 90/80, a variance of 225 to 25: an 88 % improvement.
        long at0 = Interval(dp, 0, 1_000_000, 1, 0), at1 = Interval(dp, 1, 1_000_000, 1, 0);
        for (int i = 0; i < RxQueue.Intervals; i++)
        {
            at0 = Interval(dp, 0, at0, 1000, 1000, (QueueOf(dp, "p1"), 900), (QueueOf(dp, "p2"), 100));
            at1 = Interval(dp, 1, at1, 1000, 700, (QueueOf(dp, "p3"), 700));
        }
        balancer.ImprovementThreshold = 89;
        Assert.False(balancer.CheckNow());
        Assert.Equal(2, dp.ReceiveQueueAssignment()[0].Length);
        balancer.ImprovementThreshold = 88;
        Assert.True(balancer.CheckNow());
        Assert.Equal(["p1"], dp.ReceiveQueueAssignment()[0].Select(q => q.Slot.Port.Info.Name));
        // Placed as the estimate: the dry run finds nothing better.
        Assert.False(balancer.CheckNow());
        // Round-robin (p1 and p3 on thread 0, p2 on 1) never rebalances by itself (pmd_rebalance_dry_run_needed).
        balancer.Assignment = RxqAssignment.RoundRobin;
        Assert.Equal(["p1", "p3"], dp.ReceiveQueueAssignment()[0].Select(q => q.Slot.Port.Info.Name).Order());
        balancer.ImprovementThreshold = 0;
        Assert.False(balancer.CheckNow());
        Assert.Equal(1, balancer.AutoRebalances);
    }

    /// <summary>Running threads measure their queues: with 100 ms intervals, two generating ports on thread 0 and an idle
    /// one on thread 1, pmd-rxq-show gives the idle one 0 % and the thread's queues a share, and a rebalance by cycles
    /// splits the two loaded ports between the threads (no rate is asserted: only where the load was measured).</summary>
    [Fact]
    public void RunningThreadsMeasureTheirQueues_AndARebalanceSplitsTheLoadedOnes()
    {
        using var r = new DatapathRig(4, new DatapathOptions { Threads = 2, PacketInRate = 0, EmcEntries = 1024, RxqIntervalMs = 100 }, capture: false);
        var dp = r.Dp;
        r.Insert(0, FlowMatch.All, 0, [FlowAction.Output(4)]);
        Place(dp, ("p1", 0), ("p3", 0), ("p2", 1), ("p4", 1));
        var frames = new byte[8][];
        for (int i = 0; i < frames.Length; i++)
            frames[i] = FrameBuilder.Udp(new MacAddress(0x0200_0000_1000UL), new MacAddress(0x0200_0000_2000UL), 0x0A00_0001u + (uint)i, 0x0A00_0002u, 1000, 5001, 64);
        dp.Start();
        r.Port(1).SetGenerator(frames);
        r.Port(3).SetGenerator(frames);
        try
        {
            Assert.True(Wait.Until(() => QueueOf(dp, "p1").HistoryTicks > 0 && QueueOf(dp, "p3").HistoryTicks > 0 && dp.ThreadLoads[0].CompletedIntervals >= 2, 30_000),
                "thread 0 measured its two ports");
            Assert.True(Wait.Until(() => dp.ThreadLoads[1].CompletedIntervals >= 2, 30_000), "thread 1 ended two intervals");
            string text = dp.Balancer.Show();
            Assert.Contains("  port: p2                queue-id:  0 (enabled)   pmd usage:  0 %\n", text);
            Assert.DoesNotContain("NOT AVAIL", text);
            Assert.Equal(0, QueueOf(dp, "p2").HistoryTicks);
            Assert.True(dp.ThreadLoads[0].BusyHistoryTicks > 0);
            dp.Balancer.Rebalance();
            var on0 = dp.ReceiveQueueAssignment()[0].Select(q => q.Slot.Port.Info.Name).ToList();
            var on1 = dp.ReceiveQueueAssignment()[1].Select(q => q.Slot.Port.Info.Name).ToList();
            Assert.True(on0.Contains("p1") != on0.Contains("p3"), $"thread 0: {string.Join(',', on0)}");
            Assert.True(on1.Contains("p1") != on1.Contains("p3"), $"thread 1: {string.Join(',', on1)}");
        }
        finally
        {
            r.Port(1).SetGenerator(null);
            r.Port(3).SetGenerator(null);
            dp.Stop();
        }
    }

    [Fact]
    public void AQueueMovedBetweenThreadsUnderTraffic_DeliversEveryFrameOnceAndInOrderWithinItsFlow()
    {
        // The traffic lasts until the queues moved at least MinMoves times while it flowed (a move waits for both
        // threads' next round, which a loaded machine may delay), and at least MinPerFlow frames per flow, ...
        const int Ports = 3, FlowsPerPort = 2, MinPerFlow = 1_000, MaxPerFlow = 200_000, MinMoves = 50;
        var ports = DatapathRig.MemoryPorts(Ports + 1, prefix: "rxq");
        using var r = new DatapathRig(ports, new DatapathOptions { Threads = 2, PacketInRate = 0, EmcEntries = 1024 });
        var dp = r.Dp;
        r.Insert(0, FlowMatch.All, 0, [FlowAction.Output(Ports + 1)]);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(int Flow, int Seq)>();
        ports[Ports].CaptureSent = false;
        ports[Ports].OnSend = frame => seen.Enqueue((BinaryPrimitives.ReadUInt16BigEndian(frame[34..]) - 1000, BinaryPrimitives.ReadInt32BigEndian(frame[42..])));
        var templates = new byte[Ports * FlowsPerPort][];
        for (int f = 0; f < templates.Length; f++)
            templates[f] = FrameBuilder.Udp(new MacAddress(0x0200_0000_1000UL + (ulong)f), new MacAddress(0x0200_0000_2000UL), 0x0A00_0001u, 0x0A00_0002u, (ushort)(1000 + f), 5001, 64);
        dp.Start();
        int moves = 0, perFlow = 0;
        var producer = new Thread(() =>
        {
            int s = 0;
            // ... and until both threads have forwarded some of it (a starved thread may see its queues only empty).
            for (; s < MaxPerFlow && (s < MinPerFlow || Volatile.Read(ref moves) < MinMoves || dp.Forwarders.Any(f => f.Packets == 0)); s++)
            {
                for (int f = 0; f < templates.Length; f++)
                {
                    var frame = (byte[])templates[f].Clone();
                    BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(42), s);
                    ports[f / FlowsPerPort].Inject(frame);
                }
                if (s % 50 == 0) Thread.Sleep(1);   // traffic for a while, not one backlog
            }
            Volatile.Write(ref perFlow, s);
        });
        producer.Start();
        var random = new Random(59);
        while (producer.IsAlive)
        {
            var all = dp.ReceiveQueueAssignment();
            int from = all[0].Length > 0 && (all[1].Length == 0 || random.Next(2) == 0) ? 0 : 1;
            var q = all[from][random.Next(all[from].Length)];
            Interlocked.Add(ref moves, dp.MoveReceiveQueues([(q, 1 - from)], out var error));
            Assert.Null(error);
        }
        producer.Join();
        long total = (long)templates.Length * perFlow;
        Assert.True(Wait.Until(() => seen.Count >= total, 60_000), $"{seen.Count} of {total} frames forwarded");
        dp.Stop();
        Assert.Equal(total, seen.Count);
        var next = new int[templates.Length];
        foreach (var (flow, seq) in seen)
        {
            Assert.Equal(next[flow], seq);
            next[flow]++;
        }
        Assert.All(next, n => Assert.Equal(perFlow, n));
        Assert.True(moves >= MinMoves, $"only {moves} moves in {perFlow} frames per flow");
        // Both threads forwarded (each port's queue went back and forth between them).
        Assert.All(dp.Forwarders, f => Assert.True(f.Packets > 0));
    }
}
