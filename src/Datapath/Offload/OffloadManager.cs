using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Offload;

/// <summary>Where one flow lives, and why (observability).</summary>
/// <param name="Entry">The flow.</param>
/// <param name="InHardware">True when the target holds it.</param>
/// <param name="Reason">Why it is in software (<see cref="OffloadReason.None"/> when in hardware).</param>
/// <param name="Detail">What exactly refused it (an action, the rule it overlaps), or empty.</param>
/// <param name="Rows">Hardware rows it occupies.</param>
/// <param name="LastRegisterWrites">Register writes of the last operation on it (install, modify, removal).</param>
public readonly record struct FlowPlacement(FlowEntry Entry, bool InHardware, OffloadReason Reason, OffloadDetail Detail, int Rows, int LastRegisterWrites);

/// <summary>What led to a placement decision.</summary>
public enum PlacementEvent : byte
{
    /// <summary>A flow arrived (or was already in the table when the manager attached).</summary>
    Added,
    /// <summary>Its actions changed.</summary>
    Modified,
    /// <summary>It left the table.</summary>
    Removed,
    /// <summary>Taken out of hardware because a flow that overlaps it arrived.</summary>
    Evicted,
    /// <summary>Offered again after a removal freed room or an overlap went away.</summary>
    Retried,
    /// <summary>Placed again because the datapath's ports or modes changed.</summary>
    Replaced,
}

/// <summary>One placement decision, for logs.</summary>
/// <param name="Event">What led to it.</param>
/// <param name="Placement">Where the flow lives now (for <see cref="PlacementEvent.Removed"/>: nowhere).</param>
/// <param name="Location">The target's <see cref="IOffloadTarget.Location"/> when in hardware, else null.</param>
/// <param name="WasInHardware">Whether the flow was in hardware before.</param>
public readonly record struct OffloadDecision(PlacementEvent Event, FlowPlacement Placement, string? Location, bool WasInHardware);

/// <summary>
/// Receives an <see cref="OffloadManager"/>'s decisions (the Datapath has no logging of its own; the host plugs a
/// logger in). Called on the thread that places flows (the offload worker, or maintenance), under the manager's lock
/// and never under the flow table's writer lock: keep it short, never call back into the manager.
/// </summary>
public interface IOffloadLog
{
    /// <summary>Whether <see cref="OnDecision"/> is wanted now (building a decision costs a few strings per flow-mod).</summary>
    bool DecisionsEnabled { get; }

    /// <summary>One flow's placement was decided (never per packet).</summary>
    void OnDecision(in OffloadDecision decision);

    /// <summary>A target call threw; <paramref name="entry"/> is the flow involved, if any.</summary>
    void OnTargetError(FlowEntry? entry, Exception error);

    /// <summary>
    /// Offload started: <paramref name="description"/> says what the target is (in words, by whoever assembled it);
    /// the flows already in the table have been offered. Called once, on the thread that attached the manager.
    /// </summary>
    void OnStarted(string description);

    /// <summary>
    /// A maintenance step of the target ran (hardware counters read); <paramref name="problem"/> says what failed in
    /// it, or null. Called on the maintenance thread, not under the manager's lock.
    /// </summary>
    void OnMaintenance(string? problem);
}

/// <summary>Counters of an <see cref="OffloadManager"/> (a snapshot).</summary>
/// <param name="PendingEvents">Table changes queued and not yet placed.</param>
/// <param name="PlacedEvents">Table changes placed so far (flow-mods, and flows offered when the manager attached).</param>
/// <param name="PlacementLatencyMeanMicros">Mean time from a table change to its placement decision.</param>
/// <param name="PlacementLatencyMaxMicros">Longest time from a table change to its placement decision.</param>
public readonly record struct OffloadStats(
    int HardwareFlows,
    int SoftwareFlows,
    int HardwareRows,
    long FlowModEvents,
    long FlowModRegisterWrites,
    long MaintenanceRegisterWrites,
    long Polls,
    long Installs,
    long Evictions,
    long Promotions,
    long HardwarePackets,
    long HardwareBytes,
    IReadOnlyDictionary<OffloadReason, int> SoftwareReasons,
    long TargetErrors = 0,
    int PendingEvents = 0,
    long PlacedEvents = 0,
    double PlacementLatencyMeanMicros = 0,
    double PlacementLatencyMaxMicros = 0)
{
    /// <summary>Mean register writes per flow-table change (add, modify, removal).</summary>
    public double RegisterWritesPerFlowMod => FlowModEvents == 0 ? 0 : (double)FlowModRegisterWrites / FlowModEvents;
}

/// <summary>
/// Keeps a hardware flow table (<see cref="IOffloadTarget"/>) in step with the software <see cref="FlowTable"/>: decides
/// which flows go to hardware, remembers where each flow lives and why, and adds hardware counters to the flows.
/// </summary>
/// <remarks>
/// <para><b>Asynchronous</b> (as Open vSwitch offloads): the table's observer calls only append the change to a queue
/// (no target call, no manager lock), so a flow-mod never waits for the device. The offload worker thread
/// (<see cref="Start"/>) drains the queue in batches and makes the target calls; <see cref="Poll"/> drains it too, and
/// <see cref="ProcessPending"/> drains it on the caller's thread (tests, harnesses without a worker). The software
/// table stays the truth: a new flow is forwarded by software (the target misses it) until its installation is
/// confirmed, and counted by whoever forwarded each packet (software hits into the flow directly, hardware counts added
/// by <see cref="Poll"/>), so nothing is forwarded or counted twice. Until a queued change is placed the hardware still
/// answers with what it holds: a deleted flow, a flow's old actions, or a rule the new flow makes unsafe (evicted when
/// the change is placed). That window is the queue's latency, reported as <see cref="OffloadStats.PlacementLatencyMaxMicros"/>;
/// <see cref="WaitForPlacement"/> waits it out. A change whose flow has left the table by the time it is placed is skipped
/// (an ADD then DELETE before the worker runs costs the device nothing).</para>
/// <para><b>Invariant</b> (what makes the hardware a safe cache): for every packet the hardware answers, it picks the
/// rule the software would pick. The software's order: an exact rule beats every wildcard rule; among wildcard rules
/// the higher priority wins and equal priorities tie. The target's order is its <see cref="IOffloadTarget.LookupModel"/>.
/// A flow H may be in hardware only if (1) no software flow that overlaps H outranks or ties it, and (2) no other
/// hardware flow that overlaps H is ordered differently by the target than by the software: under
/// <see cref="OffloadLookupModel.ExactFirst"/> two wildcard rows (rows have no priority; the first row wins), under
/// <see cref="OffloadLookupModel.RowOrder"/> any two rows, under <see cref="OffloadLookupModel.Priority"/> two rules of
/// equal priority. When a flow arrives (or returns to software) that breaks this for a hardware flow, that flow is
/// evicted first (its counters read, its rows freed) and stays in software with reason
/// <see cref="OffloadReason.Evicted"/>; a flow the target would order differently than a higher-ranked hardware flow is
/// refused with <see cref="OffloadReason.OverlapsOffloadedRule"/>. With a <see cref="SwitchDatapath"/>, the datapath's state
/// must match what the hardware assumes: every target port is a datapath port, FLOOD/ALL go to exactly the target's
/// ports, port config bits (PORT_DOWN, NO_RECV, NO_FWD, NO_FLOOD) do not change the answer, no target port carries a
/// tunnel (software decapsulates what arrives there), no emergency table, no fragment dropping. A change there (checked
/// each <see cref="Poll"/>) re-places every flow.</para>
/// <para><b>Counters</b>: <see cref="Poll"/> (from the datapath's maintenance, before expiry) reads each offloaded
/// flow's hardware counts, adds them with <see cref="FlowEntry.AddCounts"/> and <see cref="FlowEntry.Touch"/>es the flow
/// when they moved, so idle timeouts see hardware traffic. A removed or evicted flow's last counts are read before its
/// rows are cleared (a FLOW_REMOVED built before that misses the packets since the last poll).</para>
/// <para><b>Retries</b>: flows refused for a reason that can go away (overlap, full table, collision, eviction) are
/// offered again on the next <see cref="Poll"/> after a removal, exact flows first, then highest priority first.</para>
/// <para><b>Threading and lock order</b>: the table's writer lock → <c>_queueGate</c> (the observer calls append under
/// both). <c>_lock</c> (all placement state, every target call) → <c>_queueGate</c>. The manager never takes the table's
/// writer lock while holding <c>_lock</c> (<see cref="Attach"/> reads the table before taking it), and never calls back
/// into the table's writers. Readers of placement (<see cref="Stats"/>, <see cref="Placements"/>) take <c>_lock</c>, so
/// they wait for a batch in progress.</para>
/// </remarks>
public sealed class OffloadManager : IFlowTableObserver, IDisposable
{
    private readonly FlowTable _table;
    private readonly IOffloadTarget _target;
    private readonly OffloadLookupModel _model;
    private readonly SwitchDatapath? _dp;
    private readonly Lock _lock = new();
    private readonly HashSet<ushort> _targetPorts;

    private readonly Dictionary<FlowEntry, FlowState> _flows = new(ReferenceEqualityComparer.Instance);
    // Overlap bookkeeping (normal, non-emergency flows only).
    private readonly List<FlowState> _hwWildcard = new();
    private readonly HashSet<FlowState> _hwExact = new();
    private readonly HashSet<FlowState> _swWildcard = new();
    private readonly HashSet<FlowState> _swExact = new();
    private readonly Dictionary<OffloadReason, int> _reasons = new();
    // The same counts by reason, read without the lock by the counter registry.
    private readonly int[] _reasonCounts = new int[OffloadCounters.ReasonSlots];
    private readonly List<FlowState> _outranked = new();

    // The queue of table changes (guarded by _queueGate; Monitor wait/pulse wakes the worker and the waiters).
    private readonly object _queueGate = new();
    private List<TableEvent> _queue = new();
    private List<TableEvent> _draining = new();
    private long _enqueued, _placed;
    private Thread? _worker;
    private volatile bool _stopping;

    private bool _attached;
    private bool _retryPending;
    private long _envSignature = long.MinValue;
    private Env _env = Env.Permissive;

    private int _hwFlows, _hwRows;
    private long _flowModEvents, _flowModWrites, _maintenanceWrites, _polls, _installs, _evictions, _promotions;
    private long _hwPackets, _hwBytes;
    private long _targetErrors;
    private long _latencyTicksSum, _latencyTicksMax;
    private string? _lastError;

    private IOffloadLog? _log;

    /// <summary>Where decisions and target errors are reported (set it before <see cref="Attach"/>), or null.</summary>
    public IOffloadLog? Log
    {
        get { lock (_lock) return _log; }
        set { lock (_lock) _log = value; }
    }

    /// <summary>Most retries per <see cref="Poll"/> (each may cost a scan of the wildcard flows).</summary>
    public int MaxRetriesPerPoll { get; set; } = 256;

    /// <summary>A manager for a bare table (no datapath state checks; every target port is assumed to be a clean datapath port).</summary>
    public OffloadManager(FlowTable table, IOffloadTarget target)
    {
        _table = table ?? throw new ArgumentNullException(nameof(table));
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _model = target.LookupModel;
        if (!Enum.IsDefined(_model)) throw new ArgumentException($"unknown lookup model {(int)_model}", nameof(target));
        _targetPorts = new HashSet<ushort>(target.Ports);
    }

    /// <summary>
    /// A manager for <paramref name="dp"/>'s table that also checks the datapath's ports and modes, and shows its
    /// software flows by reason in <paramref name="dp"/>'s counters (<c>offload-sw-REASON</c>).
    /// </summary>
    public OffloadManager(SwitchDatapath dp, IOffloadTarget target) : this(dp.Pipeline.Table(0), target)
    {
        _dp = dp;
        _env = ComputeEnv(out _envSignature);
        foreach (var r in Enum.GetValues<OffloadReason>())
        {
            if (r == OffloadReason.None) continue;
            int i = (int)r;
            dp.Counters.AddSource(OffloadCounters.Software(r), () => Volatile.Read(ref _reasonCounts[i]), this);
        }
        dp.Counters.AddSource(OffloadCounters.Pending, () => { lock (_queueGate) return _enqueued - _placed; }, this);
    }

    public IOffloadTarget Target => _target;

    /// <summary>
    /// Registers with the table and queues every flow it already holds (highest priority first); with
    /// <paramref name="startWorker"/>, starts the offload worker thread that places queued changes.
    /// </summary>
    public void Attach(bool startWorker = true)
    {
        if (_attached) return;
        _attached = true;
        _table.AddObserver(this);
        var existing = new List<FlowEntry>();
        _table.Snapshot(existing);
        existing.Sort(static (a, b) => b.Priority.CompareTo(a.Priority));
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_queueGate)
        {
            foreach (var e in existing) _queue.Add(new TableEvent(TableEventKind.Existing, e, now));
            _enqueued += existing.Count;
        }
        if (startWorker) Start();
    }

    /// <summary>Starts the offload worker thread (idempotent; <see cref="Attach"/> does it by default).</summary>
    public void Start()
    {
        lock (_queueGate)
        {
            if (_worker is not null) return;
            _stopping = false;
            _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "dp-offload" };
            _worker.Start();
        }
    }

    /// <summary>Unregisters, stops the worker, drops queued changes and takes every flow out of hardware (counts read into the flows).</summary>
    public void Detach()
    {
        if (!_attached) return;
        _attached = false;
        _table.RemoveObserver(this);
        _dp?.Counters.RemoveSources(this);
        StopWorker();
        lock (_lock)
        {
            lock (_queueGate)
            {
                _placed += _queue.Count;
                _queue.Clear();
                Monitor.PulseAll(_queueGate);
            }
            foreach (var s in _flows.Values)
                if (s.InHardware) TakeOut(s, OffloadReason.DatapathState, "offload detached");
            _flows.Clear();
            _hwWildcard.Clear();
            _hwExact.Clear();
            _swWildcard.Clear();
            _swExact.Clear();
            _reasons.Clear();
            Array.Clear(_reasonCounts);
        }
    }

    private void StopWorker()
    {
        Thread? w;
        lock (_queueGate)
        {
            w = _worker;
            _worker = null;
            _stopping = true;
            Monitor.PulseAll(_queueGate);
        }
        w?.Join();
    }

    public void Dispose() => Detach();

    // ================================================================ observer (under the table's writer lock)

    public void OnAdded(FlowEntry e) => Enqueue(TableEventKind.Added, e);

    public void OnModified(FlowEntry e) => Enqueue(TableEventKind.Modified, e);

    public void OnRemoved(FlowEntry e, FlowRemovedReason reason) => Enqueue(TableEventKind.Removed, e);

    private void Enqueue(TableEventKind kind, FlowEntry e)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_queueGate)
        {
            _queue.Add(new TableEvent(kind, e, now));
            _enqueued++;
            if (_queue.Count == 1) Monitor.Pulse(_queueGate);
        }
    }

    // ================================================================ the queue

    private void WorkerLoop()
    {
        while (true)
        {
            lock (_queueGate)
            {
                while (_queue.Count == 0 && !_stopping) Monitor.Wait(_queueGate);
                if (_stopping) return;
            }
            // A chunk at a time, so readers of the placement and the maintenance poll get the lock between chunks.
            lock (_lock) DrainLocked(WorkerChunk);
        }
    }

    /// <summary>Places every queued table change on the calling thread; returns how many it placed.</summary>
    public int ProcessPending()
    {
        lock (_lock) return DrainLocked();
    }

    /// <summary>
    /// Waits until every table change queued before the call is placed (drains on the calling thread when no worker
    /// runs). Returns false when <paramref name="timeout"/> passed first.
    /// </summary>
    public bool WaitForPlacement(TimeSpan? timeout = null)
    {
        lock (_queueGate)
        {
            long target = _enqueued;
            if (_worker is not null)
            {
                long deadline = timeout is { } t ? Environment.TickCount64 + (long)t.TotalMilliseconds : long.MaxValue;
                while (_placed < target)
                {
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0) return false;
                    Monitor.Wait(_queueGate, (int)Math.Min(left, int.MaxValue));
                }
                return true;
            }
        }
        ProcessPending();
        return true;
    }

    /// <summary>
    /// Places the queued changes in order, at most <paramref name="limit"/> of them (exceptions from the target become
    /// <see cref="OffloadReason.TargetError"/>).
    /// </summary>
    private int DrainLocked(int limit = int.MaxValue)
    {
        List<TableEvent> batch;
        lock (_queueGate)
        {
            if (_queue.Count == 0) return 0;
            if (_queue.Count <= limit)
            {
                batch = _queue;
                _queue = _draining;
                _draining = batch;
            }
            else
            {
                batch = _draining;
                batch.AddRange(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_queue)[..limit]);
                _queue.RemoveRange(0, limit);
            }
        }
        long sum = 0, max = 0;
        foreach (var ev in batch)
        {
            try
            {
                switch (ev.Kind)
                {
                    case TableEventKind.Added: AddLocked(ev.Entry, countAsFlowMod: true); break;
                    case TableEventKind.Existing: AddLocked(ev.Entry, countAsFlowMod: false); break;
                    case TableEventKind.Modified: ModifiedLocked(ev.Entry); break;
                    default: RemovedLocked(ev.Entry); break;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Fault(ev.Kind == TableEventKind.Removed ? null : ev.Entry, ex);
            }
            long lat = System.Diagnostics.Stopwatch.GetTimestamp() - ev.EnqueuedTicks;
            sum += lat;
            if (lat > max) max = lat;
        }
        int n = batch.Count;
        batch.Clear();
        _latencyTicksSum += sum;
        if (max > _latencyTicksMax) _latencyTicksMax = max;
        lock (_queueGate)
        {
            _placed += n;
            Monitor.PulseAll(_queueGate);
        }
        return n;
    }

    /// <summary>Most table changes the worker places per hold of the placement lock.</summary>
    private const int WorkerChunk = 256;

    private enum TableEventKind : byte { Added, Existing, Modified, Removed }

    private readonly record struct TableEvent(TableEventKind Kind, FlowEntry Entry, long EnqueuedTicks);

    /// <summary>
    /// A target call threw (a register access failed). The table never sees it: the flow is recorded as software with
    /// <see cref="OffloadReason.TargetError"/> and the error is counted.
    /// </summary>
    private void Fault(FlowEntry? e, Exception ex)
    {
        _targetErrors++;
        _lastError = ex.Message;
        if (e is not null && _flows.TryGetValue(e, out var s) && !s.InHardware) SetReason(s, OffloadReason.TargetError, ex.Message);
        _log?.OnTargetError(e, ex);
    }

    /// <summary>Reports a decision about <paramref name="s"/> to <see cref="Log"/> (when it wants them).</summary>
    private void Decided(PlacementEvent ev, FlowState s, bool wasInHardware)
    {
        var log = _log;
        if (log is null || !log.DecisionsEnabled) return;
        string? where = s.InHardware ? _target.Location(s.Entry) : null;
        log.OnDecision(new OffloadDecision(ev, s.ToPlacement(), where, wasInHardware));
    }

    /// <summary>Target calls that threw (see <see cref="LastError"/>); the flows involved stay in software.</summary>
    public long TargetErrors { get { lock (_lock) return _targetErrors; } }
    public string? LastError { get { lock (_lock) return _lastError; } }

    private void ModifiedLocked(FlowEntry e)
    {
        if (!_flows.TryGetValue(e, out var s) || e.IsRemoved) return;
        long w0 = _target.RegisterWrites;
        bool wasIn = s.InHardware;
        if (s.InHardware)
        {
            var why = Eligibility(e);
            OffloadResult r = why.Reason == OffloadReason.None ? _target.Modify(e) : OffloadResult.Refused(why.Reason, why.Detail);
            if (r.Installed)
            {
                SetRows(s, r.Rows);
            }
            else
            {
                TakeOut(s, r.Reason, r.Detail);
                // Back in software, it outranks the hardware flows it overlaps and does not lose to.
                EvictOutrankedBy(s);
            }
        }
        else
        {
            // New actions may be supported now; the overlap rules did not change (same match and priority).
            Place(s);
        }
        s.LastWrites = (int)(_target.RegisterWrites - w0);
        _flowModEvents++;
        _flowModWrites += s.LastWrites;
        Decided(PlacementEvent.Modified, s, wasIn);
    }

    private void RemovedLocked(FlowEntry e)
    {
        if (!_flows.Remove(e, out var s)) return;
        long w0 = _target.RegisterWrites;
        bool wasIn = s.InHardware;
        if (s.InHardware) TakeOut(s, OffloadReason.None, null, forget: true);
        else SetReason(s, OffloadReason.None, default);
        _swWildcard.Remove(s);
        _swExact.Remove(s);
        _retryPending = true;
        s.LastWrites = (int)(_target.RegisterWrites - w0);
        _flowModEvents++;
        _flowModWrites += s.LastWrites;
        Decided(PlacementEvent.Removed, s, wasIn);
    }

    // ================================================================ maintenance

    /// <summary>
    /// Reads every offloaded flow's hardware counters into the flow (and touches it when they moved), re-places every
    /// flow if the datapath's state changed, and retries refused flows after removals. Call before expiring flows.
    /// </summary>
    public void Poll()
    {
        lock (_lock)
        {
            // Queued changes first: counters and retries then see the table as it is.
            DrainLocked();
            long w0 = _target.RegisterWrites;
            _polls++;
            long now = _table.Clock.NowNanos;
            foreach (var s in _flows.Values)
            {
                if (!s.InHardware) continue;
                var c = _target.ReadCounters(s.Entry);
                Credit(s.Entry, c, now);
            }
            if (_dp is not null)
            {
                var env = ComputeEnv(out long sig);
                if (sig != _envSignature)
                {
                    _envSignature = sig;
                    _env = env;
                    ReplaceAllLocked();
                }
            }
            if (_retryPending)
            {
                _retryPending = false;
                RetryLocked();
            }
            _maintenanceWrites += _target.RegisterWrites - w0;
        }
    }

    /// <summary>Where <paramref name="e"/> lives, or false when the manager does not know it.</summary>
    public bool TryGetPlacement(FlowEntry e, out FlowPlacement placement)
    {
        lock (_lock)
        {
            if (_flows.TryGetValue(e, out var s))
            {
                placement = s.ToPlacement();
                return true;
            }
        }
        placement = default;
        return false;
    }

    /// <summary>Every known flow's placement (a snapshot).</summary>
    public List<FlowPlacement> Placements()
    {
        lock (_lock)
        {
            var list = new List<FlowPlacement>(_flows.Count);
            foreach (var s in _flows.Values) list.Add(s.ToPlacement());
            return list;
        }
    }

    public OffloadStats Stats
    {
        get
        {
            lock (_lock)
            {
                int pending;
                long placed;
                lock (_queueGate)
                {
                    pending = (int)(_enqueued - _placed);
                    placed = _placed;
                }
                double usPerTick = 1e6 / System.Diagnostics.Stopwatch.Frequency;
                double mean = placed == 0 ? 0 : _latencyTicksSum * usPerTick / placed;
                return new OffloadStats(_hwFlows, _flows.Count - _hwFlows, _hwRows, _flowModEvents, _flowModWrites, _maintenanceWrites,
                    _polls, _installs, _evictions, _promotions, _hwPackets, _hwBytes, new Dictionary<OffloadReason, int>(_reasons), _targetErrors,
                    pending, placed, mean, _latencyTicksMax * usPerTick);
            }
        }
    }

    // ================================================================ placement

    private void AddLocked(FlowEntry e, bool countAsFlowMod)
    {
        // Gone before it was placed (its removal is queued behind), or already offered (attached while it arrived).
        if (e.IsRemoved || _flows.ContainsKey(e)) return;
        var s = new FlowState(e);
        _flows[e] = s;
        long w0 = _target.RegisterWrites;
        if (s.IsExact) _swExact.Add(s);
        else _swWildcard.Add(s);
        Place(s);
        s.LastWrites = (int)(_target.RegisterWrites - w0);
        if (countAsFlowMod)
        {
            _flowModEvents++;
            _flowModWrites += s.LastWrites;
        }
        Decided(PlacementEvent.Added, s, wasInHardware: false);
    }

    /// <summary>Decides and applies the placement of a software-resident flow <paramref name="s"/> (see the type remarks).</summary>
    private void Place(FlowState s)
    {
        var e = s.Entry;
        // Hardware flows that s outranks or ties: unsafe while s is in software, and also next to s in hardware when
        // the target could order the two differently; those go first, whatever happens to s (an evicted flow of equal
        // priority then blocks s from software). A hardware flow that s does not outrank but the target could order
        // differently keeps its place: s is refused.
        var outranked = _outranked;
        outranked.Clear();
        FlowState? blockerHw = null;
        CollectHardwareOverlaps(s, outranked, ref blockerHw);
        foreach (var h in outranked)
            if (h.InHardware && ConflictInHardware(h, s)) Evict(h, s);

        var why = Eligibility(e);
        if (why.Reason == OffloadReason.None && blockerHw is not null && blockerHw.InHardware)
            why = (OffloadReason.OverlapsOffloadedRule, new OffloadDetail(null, Rule: blockerHw.Entry));
        if (why.Reason == OffloadReason.None && !s.IsExact)
        {
            // Cheap device-side refusals before the scan of the software rules.
            var check = _target.Check(e);
            if (!check.Installed) why = (check.Reason, check.Detail);
            else if (SoftwareBlocker(s) is { } blocker) why = (OffloadReason.OverlapsSoftwareRule, new OffloadDetail(null, Rule: blocker.Entry));
        }
        if (why.Reason == OffloadReason.None)
        {
            var r = _target.TryInstall(e);
            if (r.Installed)
            {
                // The outranked flows still in hardware are ordered by the target as by the software: they stay.
                PutIn(s, r.Rows);
                outranked.Clear();
                return;
            }
            why = (r.Reason, r.Detail);
        }
        SetReason(s, why.Reason, why.Detail);
        // s stays in software: no hardware flow it outranks may answer for a packet it matches.
        foreach (var h in outranked)
            if (h.InHardware) Evict(h, s);
        outranked.Clear();
    }

    /// <summary>
    /// Appends to <paramref name="outranked"/> the hardware flows overlapping <paramref name="s"/> that it outranks or
    /// ties in the software's order; sets <paramref name="blocker"/> to one it does not outrank that the target would
    /// order differently next to it.
    /// </summary>
    private void CollectHardwareOverlaps(FlowState s, List<FlowState> outranked, ref FlowState? blocker)
    {
        foreach (var h in _hwWildcard)
        {
            if (ReferenceEquals(h, s) || !Overlaps(h, s)) continue;
            if (OutranksOrTies(s, h)) outranked.Add(h);
            else if (blocker is null && ConflictInHardware(h, s)) blocker = h;
        }
        // An exact flow outranks no exact flow it could overlap (identical keys are one flow), and a wildcard flow
        // never outranks an exact one: hardware exact flows only matter when the target may order them differently.
        if (s.IsExact || _model == OffloadLookupModel.ExactFirst || blocker is not null) return;
        foreach (var h in _hwExact)
        {
            if (s.Entry.Match.Matches(h.Entry.Match.Value) && ConflictInHardware(h, s))
            {
                blocker = h;
                return;
            }
        }
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> could both match some packet.</summary>
    private static bool Overlaps(FlowState a, FlowState b)
    {
        if (a.IsExact) return b.Entry.Match.Matches(a.Entry.Match.Value);
        if (b.IsExact) return a.Entry.Match.Matches(b.Entry.Match.Value);
        return a.Entry.Match.Overlaps(b.Entry.Match);
    }

    /// <summary>
    /// The software's order for two overlapping flows: whether <paramref name="x"/> wins over <paramref name="r"/> or ties
    /// with it (an exact flow beats every wildcard flow; among wildcard flows the higher priority wins).
    /// </summary>
    private static bool OutranksOrTies(FlowState x, FlowState r)
    {
        if (x.IsExact) return true;
        if (r.IsExact) return false;
        return x.Entry.Priority >= r.Entry.Priority;
    }

    /// <summary>Whether the target could order two overlapping hardware flows differently from the software.</summary>
    private bool ConflictInHardware(FlowState a, FlowState b) => _model switch
    {
        // Exact rows are looked up before the wildcard rows; wildcard rows have no priority.
        OffloadLookupModel.ExactFirst => !a.IsExact && !b.IsExact,
        // The target honours priorities (exact flows carry the highest one); equal priorities tie.
        OffloadLookupModel.Priority => a.Entry.Priority == b.Entry.Priority,
        // Rows in row order: the manager does not choose the rows, so any overlap could come out either way.
        _ => true,
    };

    /// <summary>A software flow that outranks (or ties) wildcard flow <paramref name="s"/> and overlaps it, or null.</summary>
    private FlowState? SoftwareBlocker(FlowState s)
    {
        var m = s.Entry.Match;
        ushort prio = s.Entry.Priority;
        foreach (var x in _swExact)
            if (m.Matches(x.Entry.Match.Value)) return x;
        foreach (var x in _swWildcard)
        {
            if (ReferenceEquals(x, s) || x.Entry.Priority < prio) continue;
            if (x.Entry.Match.Overlaps(m)) return x;
        }
        return null;
    }

    /// <summary>Takes hardware flow <paramref name="h"/> back to software because <paramref name="by"/> made it unsafe.</summary>
    private void Evict(FlowState h, FlowState by)
    {
        long w0 = _target.RegisterWrites;
        TakeOut(h, OffloadReason.Evicted, new OffloadDetail(null, Rule: by.Entry));
        h.LastWrites = (int)(_target.RegisterWrites - w0);
        _evictions++;
        Decided(PlacementEvent.Evicted, h, wasInHardware: true);
        EvictOutrankedBy(h);
    }

    /// <summary>
    /// <paramref name="s"/> is (back) in software: evicts every hardware flow it overlaps and outranks or ties (and,
    /// in turn, those the evicted ones outrank).
    /// </summary>
    private void EvictOutrankedBy(FlowState s)
    {
        List<FlowState>? unsafeNow = null;
        foreach (var h in _hwWildcard)
            if (!ReferenceEquals(h, s) && Overlaps(h, s) && OutranksOrTies(s, h)) (unsafeNow ??= new()).Add(h);
        if (unsafeNow is null) return;
        foreach (var h in unsafeNow)
            if (h.InHardware) Evict(h, s);
    }

    private void PutIn(FlowState s, int rows)
    {
        bool wasIn = s.InHardware;
        s.InHardware = true;
        SetRows(s, rows);
        SetReason(s, OffloadReason.None, default);
        if (!wasIn)
        {
            _hwFlows++;
            _installs++;
            if (s.IsExact)
            {
                _swExact.Remove(s);
                _hwExact.Add(s);
            }
            else
            {
                _swWildcard.Remove(s);
                _hwWildcard.Add(s);
            }
        }
    }

    /// <summary>Takes <paramref name="s"/> out of hardware: reads its last counts into the flow, frees its rows.</summary>
    private void TakeOut(FlowState s, OffloadReason reason, OffloadDetail detail, bool forget = false)
    {
        if (!s.InHardware) return;
        var c = _target.Remove(s.Entry);
        Credit(s.Entry, c, _table.Clock.NowNanos);
        s.InHardware = false;
        _hwFlows--;
        SetRows(s, 0);
        if (s.IsExact) _hwExact.Remove(s);
        else _hwWildcard.Remove(s);
        if (forget)
        {
            SetReason(s, OffloadReason.None, default);
            return;
        }
        if (s.IsExact) _swExact.Add(s);
        else _swWildcard.Add(s);
        SetReason(s, reason, detail);
        _retryPending = true;
    }

    private void Credit(FlowEntry e, OffloadCounts c, long now)
    {
        if (c.IsZero) return;
        e.AddCounts(c.Packets, c.Bytes);
        if (c.Packets > 0) e.Touch(now);
        _hwPackets += c.Packets;
        _hwBytes += c.Bytes;
    }

    private void SetRows(FlowState s, int rows)
    {
        _hwRows += rows - s.Rows;
        s.Rows = rows;
    }

    private void SetReason(FlowState s, OffloadReason reason, OffloadDetail detail)
    {
        if (s.Reason != OffloadReason.None && _reasons.TryGetValue(s.Reason, out int old))
        {
            if (old <= 1) _reasons.Remove(s.Reason);
            else _reasons[s.Reason] = old - 1;
        }
        if (s.Reason != OffloadReason.None) Volatile.Write(ref _reasonCounts[(int)s.Reason], _reasonCounts[(int)s.Reason] - 1);
        s.Reason = reason;
        s.Detail = detail;
        if (reason != OffloadReason.None)
        {
            _reasons.TryGetValue(reason, out int n);
            _reasons[reason] = n + 1;
            Volatile.Write(ref _reasonCounts[(int)reason], _reasonCounts[(int)reason] + 1);
        }
    }

    private static bool Retryable(OffloadReason r) => r is OffloadReason.ExactCollision or OffloadReason.WildcardRowsFull
        or OffloadReason.OverlapsSoftwareRule or OffloadReason.OverlapsOffloadedRule or OffloadReason.Evicted;

    private void RetryLocked()
    {
        var candidates = new List<FlowState>();
        foreach (var s in _flows.Values)
            if (!s.InHardware && Retryable(s.Reason)) candidates.Add(s);
        if (candidates.Count == 0) return;
        // Exact first, then by priority: a higher rule placed first can only make lower ones' answers safe or refused.
        candidates.Sort(static (a, b) => a.IsExact != b.IsExact ? (a.IsExact ? -1 : 1) : b.Entry.Priority.CompareTo(a.Entry.Priority));
        int budget = MaxRetriesPerPoll;
        foreach (var s in candidates)
        {
            if (budget-- <= 0)
            {
                _retryPending = true;
                break;
            }
            if (s.InHardware || s.Entry.IsRemoved || !_flows.ContainsKey(s.Entry)) continue;
            var was = (s.Reason, s.Detail);
            long w0 = _target.RegisterWrites;
            Place(s);
            s.LastWrites = (int)(_target.RegisterWrites - w0);
            if (s.InHardware) _promotions++;
            // Only what changed: a flow refused again for the same reason is not news.
            if (s.InHardware || s.Reason != was.Reason || s.Detail != was.Detail) Decided(PlacementEvent.Retried, s, wasInHardware: false);
        }
    }

    /// <summary>Takes every flow out of hardware and offers them all again (the datapath's state changed).</summary>
    private void ReplaceAllLocked()
    {
        var all = new List<FlowState>(_flows.Values);
        var was = new Dictionary<FlowState, (bool InHardware, OffloadReason Reason, long Writes)>(all.Count, ReferenceEqualityComparer.Instance);
        foreach (var s in all)
        {
            long w0 = _target.RegisterWrites;
            bool wasIn = s.InHardware;
            var wasReason = s.Reason;
            if (s.InHardware) TakeOut(s, OffloadReason.DatapathState, default);
            was[s] = (wasIn, wasReason, _target.RegisterWrites - w0);
        }
        all.Sort(static (a, b) => a.IsExact != b.IsExact ? (a.IsExact ? -1 : 1) : b.Entry.Priority.CompareTo(a.Entry.Priority));
        foreach (var s in all)
        {
            long w0 = _target.RegisterWrites;
            if (!s.Entry.IsRemoved) Place(s);
            var (wasIn, wasReason, takeOutWrites) = was[s];
            s.LastWrites = (int)(takeOutWrites + _target.RegisterWrites - w0);
            if (s.InHardware != wasIn || s.Reason != wasReason) Decided(PlacementEvent.Replaced, s, wasIn);
        }
    }

    // ================================================================ datapath state

    /// <summary>Whether the datapath state lets <paramref name="e"/> be answered by hardware (see the type remarks).</summary>
    private (OffloadReason Reason, OffloadDetail Detail) Eligibility(FlowEntry e)
    {
        var env = _env;
        if (env.Suspended is { } why) return (OffloadReason.DatapathState, why);
        if (env.IsPermissive) return (OffloadReason.None, default);
        var m = e.Match;
        bool inPortWild = (m.Wildcards & Wildcards.InPort) != 0;
        ushort inPort = m.Value.InPort;
        if (inPortWild)
        {
            if (!env.AllRecvOk) return (OffloadReason.DatapathState, "a board port has PORT_DOWN or NO_RECV");
        }
        else if (_targetPorts.Contains(inPort) && !env.RecvOk(inPort))
        {
            return (OffloadReason.DatapathState, $"in_port {inPort} has PORT_DOWN or NO_RECV");
        }
        foreach (var a in e.Actions.Items)
        {
            if (!a.IsOutput) continue;
            switch (a.Port)
            {
                case PortNumber.Flood:
                    if (!env.FloodOk) return (OffloadReason.DatapathState, "FLOOD would not reach exactly the board ports");
                    break;
                case PortNumber.All:
                    if (!env.AllOk) return (OffloadReason.DatapathState, "ALL would not reach exactly the board ports");
                    break;
                case PortNumber.InPort:
                    if (inPortWild ? !env.AllFwdOk : _targetPorts.Contains(inPort) && !env.FwdOk(inPort))
                        return (OffloadReason.DatapathState, "IN_PORT output to a port with PORT_DOWN or NO_FWD");
                    break;
                default:
                    if (_targetPorts.Contains(a.Port) && !env.FwdOk(a.Port))
                        return (OffloadReason.DatapathState, $"port {a.Port} has PORT_DOWN or NO_FWD");
                    break;
            }
        }
        return (OffloadReason.None, default);
    }

    private Env ComputeEnv(out long signature)
    {
        var dp = _dp!;
        var ports = dp.Ports.List;
        long sig = 17;
        sig = sig * 31 + (dp.Pipeline.IsRedirected ? 1 : 0);
        sig = sig * 31 + (int)dp.FragmentMode;
        foreach (var p in ports) sig = sig * 31 + ((long)p.No << 32 | (uint)p.Config);
        // A port that carries tunnels has its frames decapsulated by software: the hardware must not answer them.
        var underlays = new HashSet<ushort>();
        foreach (var t in dp.Tunnels.List)
            if (t.UnderlaySlot is { } u) underlays.Add(u.No);
        foreach (var u in underlays) sig = sig * 31 + u + 0x10000;
        signature = sig;

        if (dp.Pipeline.IsRedirected) return Env.Suspend("emergency flow table in use");
        if (dp.FragmentMode != FragmentMode.Normal) return Env.Suspend("fragment mode drops IP fragments in software");
        var dpPorts = new HashSet<ushort>();
        foreach (var p in ports) dpPorts.Add(p.No);
        foreach (var t in _targetPorts)
            if (!dpPorts.Contains(t)) return Env.Suspend($"board port {t} is not a datapath port");
        const PortConfig recvBad = PortConfig.PortDown | PortConfig.NoRecv;
        const PortConfig fwdBad = PortConfig.PortDown | PortConfig.NoFwd;
        var recvOk = new Dictionary<ushort, bool>();
        var fwdOk = new Dictionary<ushort, bool>();
        bool allRecv = true, allFwd = true, anyNoFlood = false;
        foreach (var p in ports)
        {
            var c = p.Config;
            if (underlays.Contains(p.No)) c |= PortConfig.NoRecv;
            recvOk[p.No] = (c & recvBad) == 0;
            fwdOk[p.No] = (c & fwdBad) == 0;
            if (_targetPorts.Contains(p.No))
            {
                allRecv &= (c & recvBad) == 0;
                allFwd &= (c & fwdBad) == 0;
            }
            if ((c & PortConfig.NoFlood) != 0) anyNoFlood = true;
        }
        bool sameSet = dpPorts.SetEquals(_targetPorts);
        bool allPortsFwd = true;
        foreach (var p in ports) allPortsFwd &= (p.Config & fwdBad) == 0;
        return new Env(null, false, allRecv, allFwd, sameSet && allPortsFwd, sameSet && allPortsFwd && !anyNoFlood, recvOk, fwdOk);
    }

    private sealed class Env(string? suspended, bool permissive, bool allRecvOk, bool allFwdOk, bool allOk, bool floodOk,
                             Dictionary<ushort, bool>? recvOk, Dictionary<ushort, bool>? fwdOk)
    {
        public static readonly Env Permissive = new(null, true, true, true, true, true, null, null);
        public static Env Suspend(string why) => new(why, false, false, false, false, false, null, null);

        public string? Suspended => suspended;
        public bool IsPermissive => permissive;
        public bool AllRecvOk => allRecvOk;
        public bool AllFwdOk => allFwdOk;
        public bool AllOk => allOk;
        public bool FloodOk => floodOk;
        public bool RecvOk(ushort p) => recvOk is null || (recvOk.TryGetValue(p, out bool ok) && ok);
        public bool FwdOk(ushort p) => fwdOk is null || (fwdOk.TryGetValue(p, out bool ok) && ok);
    }

    private sealed class FlowState(FlowEntry entry)
    {
        public readonly FlowEntry Entry = entry;
        public readonly bool IsExact = entry.Match.IsExact;
        public bool InHardware;
        public OffloadReason Reason;
        public OffloadDetail Detail;
        public int Rows;
        public int LastWrites;

        public FlowPlacement ToPlacement() => new(Entry, InHardware, Reason, Detail, Rows, LastWrites);
    }
}
