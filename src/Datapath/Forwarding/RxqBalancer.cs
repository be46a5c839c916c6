using System.Globalization;
using System.Text;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Places the receive queues of a set of forwarding threads by measured load, as Open vSwitch's dpif-netdev does for
/// its PMD threads: <see cref="Rebalance()"/> (pmd-rxq-rebalance, or a change of <see cref="Assignment"/>), the automatic
/// rebalance (<see cref="Tick"/>: pmd-auto-lb and its thresholds) and the report (<see cref="Show"/>:
/// dpif-netdev/pmd-rxq-show).
/// </summary>
/// <remarks>
/// One balancer serves the threads of one datapath (its own threads) or of every datapath attached to one
/// <see cref="ForwardingThreads"/>: the queues of all of them are placed together, as Open vSwitch places every bridge's
/// queues of its one netdev datapath. A move is made by the queue's datapath (<see cref="SwitchDatapath.MoveReceiveQueues"/>)
/// at a quiescent point: the queue leaves its old thread's list, every thread passes a quiescent point (the old one has
/// ended the round that could still poll it), and only then is it given to the new thread, so one queue is never
/// polled by two threads and no frame is lost or reordered. Rebalances are serialised by the balancer's lock, taken
/// before (never under) a datapath's port lock.
/// Automatic rebalance, as pmd-auto-lb: every <see cref="RebalanceIntervalMs"/>, when some thread was at least
/// <see cref="LoadThreshold"/> percent busy in each of the last <see cref="RxQueue.Intervals"/> intervals, a dry run
/// computes the assignment the algorithm would make; when it lowers the variance of the threads' busy percentages by
/// at least <see cref="ImprovementThreshold"/> percent, the queues move.
/// </remarks>
public sealed class RxqBalancer
{
    private readonly Func<IReadOnlyList<SwitchDatapath>> _datapaths;
    private readonly IReadOnlyList<ThreadLoad> _loads;
    private readonly int[] _cores;
    private readonly Lock _lock = new();
    private volatile int _assignment = (int)RxqAssignment.Cycles;
    private volatile bool _autoLb;
    private volatile int _loadThreshold = RxqScheduler.DefaultLoadThreshold;
    private volatile int _improvementThreshold = RxqScheduler.DefaultImprovementThreshold;
    private long _rebalanceIntervalMs = RxqScheduler.DefaultRebalanceIntervalMinutes * 60_000L;
    private long _nextCheck;
    private long _rebalances, _autoRebalances, _moves;

    /// <param name="datapaths">The datapaths whose queues the threads poll (read at each use).</param>
    /// <param name="loads">Each thread's load (index = thread).</param>
    /// <param name="cpus">The CPUs the threads were asked to run on (thread i on cpus[i mod n]), or null: a thread's
    /// core id in the report is then its index.</param>
    internal RxqBalancer(Func<IReadOnlyList<SwitchDatapath>> datapaths, IReadOnlyList<ThreadLoad> loads, int[]? cpus)
    {
        _datapaths = datapaths;
        _loads = loads;
        _cores = new int[loads.Count];
        for (int i = 0; i < _cores.Length; i++) _cores[i] = cpus is { Length: > 0 } ? cpus[i % cpus.Length] : i;
    }

    /// <summary>Logs a line (an assignment made, an automatic rebalance): set by the host.</summary>
    public Action<string>? Log { get; set; }

    /// <summary>How queues are placed (pmd-rxq-assign). Setting another one places them again at once.</summary>
    public RxqAssignment Assignment
    {
        get => (RxqAssignment)_assignment;
        set
        {
            if (Interlocked.Exchange(ref _assignment, (int)value) == (int)value) return;
            Log?.Invoke($"Rxq to PMD assignment mode changed to: '{Name(value)}'.");
            Rebalance();
        }
    }

    /// <summary>Automatic rebalance (pmd-auto-lb), off by default.</summary>
    public bool AutoLoadBalance
    {
        get => _autoLb;
        set => _autoLb = value;
    }

    /// <summary>Busy percentage a thread must reach in every kept interval to start a dry run (default 95).</summary>
    public int LoadThreshold
    {
        get => _loadThreshold;
        set => _loadThreshold = Math.Clamp(value, 0, 100);
    }

    /// <summary>Lowering of the load variance, in percent, that a dry run must reach to move queues (default 25).</summary>
    public int ImprovementThreshold
    {
        get => _improvementThreshold;
        set => _improvementThreshold = Math.Clamp(value, 0, 100);
    }

    /// <summary>Milliseconds between automatic checks (default one minute).</summary>
    public long RebalanceIntervalMs
    {
        get => Interlocked.Read(ref _rebalanceIntervalMs);
        set => Interlocked.Exchange(ref _rebalanceIntervalMs, Math.Max(1, value));
    }

    /// <summary>Rebalances done (asked or automatic), automatic ones, and queues moved by them.</summary>
    public long Rebalances => Interlocked.Read(ref _rebalances);
    public long AutoRebalances => Interlocked.Read(ref _autoRebalances);
    public long QueuesMoved => Interlocked.Read(ref _moves);

    /// <summary>The load threshold as the threads read it when an interval ends.</summary>
    internal int LoadThresholdForThreads => _loadThreshold;

    public static string Name(RxqAssignment a) => a switch
    {
        RxqAssignment.RoundRobin => "roundrobin",
        RxqAssignment.Group => "group",
        _ => "cycles",
    };

    public static bool TryParse(string text, out RxqAssignment a)
    {
        switch (text)
        {
            case "cycles": a = RxqAssignment.Cycles; return true;
            case "roundrobin": a = RxqAssignment.RoundRobin; return true;
            case "group": a = RxqAssignment.Group; return true;
            default: a = RxqAssignment.Cycles; return false;
        }
    }

    /// <summary>Every queue of every datapath with the thread that polls it now (-1: none, in a move), in port order.</summary>
    private List<(SwitchDatapath Dp, RxQueue Q, int Thread)> Queues()
    {
        var all = new List<(SwitchDatapath, RxQueue, int)>();
        foreach (var dp in _datapaths())
        {
            var assigned = dp.ReceiveQueueAssignment();
            var mine = new List<(SwitchDatapath Dp, RxQueue Q, int Thread)>();
            for (int t = 0; t < assigned.Length; t++)
                foreach (var q in assigned[t]) mine.Add((dp, q, t));
            mine.Sort((a, b) => a.Q.Slot.No != b.Q.Slot.No ? a.Q.Slot.No.CompareTo(b.Q.Slot.No) : a.Q.QueueId.CompareTo(b.Q.QueueId));
            all.AddRange(mine);
        }
        return all;
    }

    /// <summary>Places every queue again by <see cref="Assignment"/> (pmd-rxq-rebalance); returns the queues moved.</summary>
    public int Rebalance() => Rebalance(auto: false);

    private int Rebalance(bool auto)
    {
        lock (_lock)
        {
            var queues = Queues();
            var algo = Assignment;
            var demand = new RxqDemand[queues.Count];
            for (int i = 0; i < demand.Length; i++) demand[i] = new RxqDemand(queues[i].Q.Slot.No, queues[i].Q.QueueId, queues[i].Q.HistoryTicks);
            var target = RxqScheduler.Schedule(demand, _loads.Count, algo);
            int moved = 0;
            var byDp = new Dictionary<SwitchDatapath, List<(RxQueue, int)>>();
            for (int i = 0; i < queues.Count; i++)
            {
                if (queues[i].Thread == target[i]) continue;
                if (!byDp.TryGetValue(queues[i].Dp, out var list)) byDp[queues[i].Dp] = list = [];
                list.Add((queues[i].Q, target[i]));
            }
            foreach (var (dp, list) in byDp)
            {
                int n = dp.MoveReceiveQueues(list, out string? error);
                moved += n;
                if (error is not null) Log?.Invoke(error);
            }
            Interlocked.Increment(ref _rebalances);
            if (auto) Interlocked.Increment(ref _autoRebalances);
            Interlocked.Add(ref _moves, moved);
            if (moved > 0)
            {
                var sb = new StringBuilder();
                sb.Append(CultureInfo.InvariantCulture, $"Performing pmd to rx queue assignment using {Name(algo)} algorithm: {moved} queue(s) moved.");
                for (int i = 0; i < queues.Count; i++)
                {
                    if (queues[i].Thread == target[i]) continue;
                    sb.Append(CultureInfo.InvariantCulture, $" Core {_cores[target[i]]} assigned port '{queues[i].Q.Slot.Port.Info.Name}' rx queue {queues[i].Q.QueueId}");
                    if (algo != RxqAssignment.RoundRobin) sb.Append(CultureInfo.InvariantCulture, $" (measured processing cycles {demand[i].Cycles})");
                    sb.Append('.');
                }
                Log?.Invoke(sb.ToString());
            }
            return moved;
        }
    }

    /// <summary>
    /// The automatic rebalance's check, called now and then (the maintenance thread, at least once a second): once per
    /// <see cref="RebalanceIntervalMs"/>, when enabled, a thread stayed overloaded and a dry run improves the variance
    /// enough, the queues are placed again. Returns whether they were.
    /// </summary>
    public bool Tick(long nowMs)
    {
        if (!_autoLb) return false;
        long next = Volatile.Read(ref _nextCheck);
        if (next == 0)
        {
            Volatile.Write(ref _nextCheck, nowMs + RebalanceIntervalMs);
            return false;
        }
        if (nowMs < next) return false;
        Volatile.Write(ref _nextCheck, nowMs + RebalanceIntervalMs);
        return CheckNow();
    }

    /// <summary>The check of <see cref="Tick"/> at once: overload, dry run, improvement, and the rebalance when all say so.</summary>
    public bool CheckNow()
    {
        bool overloaded = false;
        foreach (var l in _loads)
            if (l.OverloadedIntervals >= RxQueue.Intervals) overloaded = true;
        if (!overloaded) return false;
        lock (_lock)
        {
            var algo = Assignment;
            var queues = Queues();
            var perThread = new int[_loads.Count];
            var current = new long[_loads.Count];
            var demand = new RxqDemand[queues.Count];
            for (int i = 0; i < queues.Count; i++)
            {
                long c = queues[i].Q.HistoryTicks;
                demand[i] = new RxqDemand(queues[i].Q.Slot.No, queues[i].Q.QueueId, c);
                if (queues[i].Thread < 0) continue;
                perThread[queues[i].Thread]++;
                current[queues[i].Thread] += c;
            }
            if (!RxqScheduler.DryRunNeeded(algo, perThread)) return false;
            RxqScheduler.Schedule(demand, _loads.Count, algo, out var estimate);
            var intervals = new long[_loads.Count];
            for (int i = 0; i < intervals.Length; i++) intervals[i] = _loads[i].LastIntervalTicks;
            ulong improvement = RxqScheduler.Improvement(current, estimate, intervals);
            if (improvement < (ulong)ImprovementThreshold) return false;
            Log?.Invoke($"PMD auto load balance dry run: variance improvement {improvement}%. Requesting datapath reconfigure.");
            return Rebalance(auto: true) > 0;
        }
    }

    /// <summary>
    /// dpif-netdev/pmd-rxq-show: per thread (by core id), "pmd thread numa_id 0 core_id N:", "  isolated : false", a
    /// line per queue with its share of the thread's last intervals, and the thread's overhead (busy time spent outside
    /// its queues' polls), in Open vSwitch's layout. <paramref name="core"/>: only that thread's.
    /// </summary>
    public string Show(int? core = null)
    {
        var queues = Queues();
        var sb = new StringBuilder();
        var threads = new int[_loads.Count];
        for (int i = 0; i < threads.Length; i++) threads[i] = i;
        Array.Sort(threads, (a, b) => _cores[a] != _cores[b] ? _cores[a].CompareTo(_cores[b]) : a.CompareTo(b));
        foreach (int t in threads)
        {
            if (core is { } c && _cores[t] != c) continue;
            sb.Append(CultureInfo.InvariantCulture, $"pmd thread numa_id 0 core_id {_cores[t]}:\n  isolated : false\n");
            var mine = queues.FindAll(q => q.Thread == t);
            mine.Sort((a, b) =>
            {
                int n = string.CompareOrdinal(a.Q.Slot.Port.Info.Name, b.Q.Slot.Port.Info.Name);
                return n != 0 ? n : a.Q.QueueId.CompareTo(b.Q.QueueId);
            });
            var load = _loads[t];
            long total = load.LastIntervalTicks * RxQueue.Intervals;
            long busy = Math.Min(load.BusyHistoryTicks, total);
            long queued = 0;
            foreach (var (_, q, _) in mine)
            {
                long cycles = q.HistoryTicks;
                queued += cycles;
                sb.Append(CultureInfo.InvariantCulture, $"  port: {q.Slot.Port.Info.Name,-16}  queue-id: {q.QueueId,2} (enabled)   pmd usage: ");
                if (total > 0) sb.Append(CultureInfo.InvariantCulture, $"{cycles * 100 / total,2} %");
                else sb.Append("NOT AVAIL");
                sb.Append('\n');
            }
            if (mine.Count > 0)
            {
                sb.Append("  overhead: ");
                if (total > 0) sb.Append(CultureInfo.InvariantCulture, $"{(queued < busy ? busy - queued : 0) * 100 / total,2} %");
                else sb.Append("NOT AVAIL");
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }
}
