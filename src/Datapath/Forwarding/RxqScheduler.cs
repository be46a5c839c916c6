namespace Softswitch.Datapath.Forwarding;

/// <summary>How receive queues are dealt to forwarding threads (Open vSwitch's other_config:pmd-rxq-assign).</summary>
public enum RxqAssignment
{
    /// <summary>By measured load, heaviest first, dealt to the threads up and down (1,2,3,3,2,1,..): the default.</summary>
    Cycles,
    /// <summary>In port order, dealt round-robin (1,2,3,1,2,3,..), whatever the load.</summary>
    RoundRobin,
    /// <summary>By measured load, heaviest first, each to the thread with the least load so far.</summary>
    Group,
}

/// <summary>One receive queue as the scheduler sees it: its port's number and queue id (the order of ties) and its
/// load (processing ticks of the last intervals).</summary>
public readonly record struct RxqDemand(int PortNo, int QueueId, long Cycles);

/// <summary>
/// The assignment of receive queues to forwarding threads, as Open vSwitch's dpif-netdev computes it
/// (sched_numa_list_schedule, one NUMA node), and its auto load-balance dry run (pmd_rebalance_dry_run). Pure functions
/// of their arguments.
/// </summary>
/// <remarks>
/// <see cref="RxqAssignment.Cycles"/> and <see cref="RxqAssignment.Group"/> sort the queues by load, heaviest first,
/// ties by port number then queue id (compare_rxq_cycles). Cycles then deals them to the threads up and down
/// (sched_pmd_next_rr with updown: 0,1,..,N-1,N-1,..,0,0,1,..); Group gives each to the thread with the least load so
/// far, or, for a queue with no measured load, the fewest queues (sched_pmd_get_lowest: the first such thread).
/// <see cref="RxqAssignment.RoundRobin"/> keeps the given (port) order and deals 0,1,..,N-1,0,1,...
/// </remarks>
public static class RxqScheduler
{
    /// <summary>Open vSwitch's defaults: pmd-auto-lb-load-threshold, pmd-auto-lb-improvement-threshold (percent) and
    /// pmd-auto-lb-rebal-interval (minutes).</summary>
    public const int DefaultLoadThreshold = 95, DefaultImprovementThreshold = 25, DefaultRebalanceIntervalMinutes = 1;

    /// <summary>The thread of each queue of <paramref name="queues"/> (given in port order) among <paramref name="threads"/>.</summary>
    public static int[] Schedule(ReadOnlySpan<RxqDemand> queues, int threads, RxqAssignment algo) => Schedule(queues, threads, algo, out _);

    /// <param name="threadCycles">Per thread, the load of the queues given to it.</param>
    public static int[] Schedule(ReadOnlySpan<RxqDemand> queues, int threads, RxqAssignment algo, out long[] threadCycles)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var order = new int[queues.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (algo != RxqAssignment.RoundRobin)
        {
            var q = queues.ToArray();
            Array.Sort(order, (a, b) =>
            {
                if (q[a].Cycles != q[b].Cycles) return q[a].Cycles < q[b].Cycles ? 1 : -1;
                if (q[a].PortNo != q[b].PortNo) return q[a].PortNo.CompareTo(q[b].PortNo);
                return q[a].QueueId.CompareTo(q[b].QueueId);
            });
        }
        var result = new int[queues.Length];
        threadCycles = new long[threads];
        var counts = new int[threads];
        int rr = 0;
        bool up = true;
        foreach (int k in order)
        {
            int t;
            if (algo == RxqAssignment.Group)
            {
                bool byCycles = queues[k].Cycles != 0;
                t = 0;
                for (int i = 1; i < threads; i++)
                    if (byCycles ? threadCycles[i] < threadCycles[t] : counts[i] < counts[t]) t = i;
            }
            else
            {
                t = rr;
                NextRoundRobin(ref rr, ref up, threads, updown: algo == RxqAssignment.Cycles);
            }
            result[k] = t;
            threadCycles[t] += queues[k].Cycles;
            counts[t]++;
        }
        return result;
    }

    /// <summary>The next thread of a round-robin walk (sched_pmd_next_rr): wrapping at the end, or with
    /// <paramref name="updown"/> turning at either end, each end thread taken twice in a row.</summary>
    private static void NextRoundRobin(ref int rr, ref bool up, int threads, bool updown)
    {
        if (!up)
        {
            up = rr == 0;
            rr = up ? 0 : rr - 1;
            return;
        }
        if (rr < threads - 1)
        {
            rr++;
            return;
        }
        up = !updown;
        rr = updown ? rr : 0;
    }

    /// <summary>
    /// Open vSwitch's variance of integer percentages: the mean and each squared difference in whole numbers, 0 when
    /// the sum is 0.
    /// </summary>
    public static ulong Variance(ReadOnlySpan<ulong> values)
    {
        if (values.IsEmpty) return 0;
        ulong sum = 0;
        foreach (var v in values) sum += v;
        if (sum == 0) return 0;
        ulong mean = sum / (ulong)values.Length;
        ulong sq = 0;
        foreach (var v in values) sq += unchecked((v - mean) * (v - mean));
        return sq / (ulong)values.Length;
    }

    /// <summary>
    /// The variance of the threads' busy percentages for the given per-thread loads: each thread's load against its last
    /// interval's length times the intervals kept (sched_numa_variance).
    /// </summary>
    public static ulong LoadVariance(ReadOnlySpan<long> threadCycles, ReadOnlySpan<long> lastIntervalTicks)
    {
        Span<ulong> busy = threadCycles.Length <= 64 ? stackalloc ulong[threadCycles.Length] : new ulong[threadCycles.Length];
        for (int i = 0; i < threadCycles.Length; i++)
        {
            long total = lastIntervalTicks[i] * Ports.RxQueue.Intervals;
            busy[i] = total > 0 ? (ulong)(threadCycles[i] * 100 / total) : 0;
        }
        return Variance(busy);
    }

    /// <summary>
    /// The dry run: how much, in percent, a new assignment would lower the variance of the threads' loads (0 when it
    /// would not). Open vSwitch rebalances when this reaches pmd-auto-lb-improvement-threshold.
    /// </summary>
    public static ulong Improvement(ReadOnlySpan<long> currentThreadCycles, ReadOnlySpan<long> estimatedThreadCycles, ReadOnlySpan<long> lastIntervalTicks)
    {
        ulong current = LoadVariance(currentThreadCycles, lastIntervalTicks);
        ulong estimate = LoadVariance(estimatedThreadCycles, lastIntervalTicks);
        return estimate < current ? (current - estimate) * 100 / current : 0;
    }

    /// <summary>Whether a dry run can find anything (pmd_rebalance_dry_run_needed): not round-robin, and at least two
    /// threads of which one polls more than one queue.</summary>
    public static bool DryRunNeeded(RxqAssignment algo, ReadOnlySpan<int> queuesPerThread)
    {
        if (algo == RxqAssignment.RoundRobin || queuesPerThread.Length < 2) return false;
        foreach (int n in queuesPerThread)
            if (n > 1) return true;
        return false;
    }
}
