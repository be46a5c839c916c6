using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// Keeps a hardware flow table (<see cref="IOffloadTarget"/>) in step with the software <see cref="FlowTable"/>: decides
/// which flows go to hardware, remembers where each flow lives and why, and adds hardware counters to the flows.
/// </summary>
/// <remarks>
/// The hardware is a cache of the software table, which stays the truth: for every packet the hardware answers, it
/// must pick the rule the classifier would pick. So a flow is placed only if no overlapping software flow outranks or
/// ties it and no overlapping hardware flow is ordered differently by the target's
/// <see cref="IOffloadTarget.LookupModel"/>; a flow that breaks this for a placed one evicts it first. The table's observer calls only queue the change (no
/// target call, no <c>_lock</c>), so a flow-mod never waits for the device; the worker (<see cref="Start"/>),
/// <see cref="Poll"/> and <see cref="ProcessPending"/> drain the queue. <c>_lock</c> is never held while taking a
/// table's writer lock. The partial files: lifetime and readers here, then Queue, Placement, Hotness, Compatibility,
/// State. Design: docs/offload.md, "The offload manager".
/// </remarks>
public sealed partial class OffloadManager : IFlowTableObserver, IDisposable
{
    private readonly FlowTable _table;
    private readonly IOffloadTarget _target;
    private readonly OffloadLookupModel _model;
    private readonly OffloadReason _orderRefusal;
    private readonly SwitchDatapath? _dp;
    private readonly Lock _lock = new();

    private bool _attached;
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
        _orderRefusal = target.OrderRefusal;
        _targetPorts = new HashSet<ushort>(target.Ports);
    }

    /// <summary>
    /// A manager for <paramref name="dp"/>'s pipeline (placing table 0's flows) that also checks the datapath's ports
    /// and modes, and shows its software flows by reason in <paramref name="dp"/>'s counters (<c>offload-sw-REASON</c>).
    /// </summary>
    public OffloadManager(SwitchDatapath dp, IOffloadTarget target) : this(dp.Pipeline.Table(0), target)
    {
        _dp = dp;
        _env = ComputeEnv(out _envSignature);
        foreach (var r in OffloadReason.All) CountReason(r);
        foreach (var r in target.Reasons) CountReason(r);
        dp.Counters.AddSource(OffloadCounters.Pending, () => { lock (_queueGate) return _enqueued - _placed; }, this);
    }

    public IOffloadTarget Target => _target;

    /// <summary>
    /// Registers with the table (and, with a datapath, its pipeline's other tables) and queues every flow they already
    /// hold (in the classifier's order); with <paramref name="startWorker"/>, starts the offload worker thread that
    /// places queued changes.
    /// </summary>
    public void Attach(bool startWorker = true)
    {
        if (_attached) return;
        _attached = true;
        _table.AddObserver(this);
        var existing = new List<FlowEntry>();
        _table.Snapshot(existing);
        existing.Sort(ClassifierOrder);
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_queueGate)
        {
            foreach (var e in existing) _queue.Add(new TableEvent(TableEventKind.Existing, e, now, FirstTable: true));
            _enqueued += existing.Count;
        }
        WatchOtherTables();
        if (startWorker) Start();
    }

    /// <summary>Unregisters, stops the worker, drops queued changes and takes every flow out of hardware (counts read into the flows).</summary>
    public void Detach()
    {
        if (!_attached) return;
        _attached = false;
        _table.RemoveObserver(this);
        UnwatchOtherTables();
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
            SettleLocked();
            ClearState();
        }
    }

    public void Dispose() => Detach();

    /// <summary>
    /// Reads every offloaded flow's hardware counters into the flow (and touches it when they moved), re-places every
    /// flow if the datapath's state changed, watches tables added to the pipeline, and retries refused flows after
    /// removals. Call before expiring flows.
    /// </summary>
    public void Poll()
    {
        if (_attached) WatchOtherTables();
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
            SwapHotFlowsLocked();
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
            SettleLocked();
            _maintenanceWrites += _target.RegisterWrites - w0;
        }
    }

    /// <summary>
    /// Recomputes the datapath state the hardware assumes (as <see cref="Poll"/> does) and re-places every flow when it
    /// changed: called when a port's config changes, on that thread, so a PORT_MOD is in force in the target before the
    /// reply to a barrier after it, as flow-mods are.
    /// </summary>
    public void RecheckDatapathState()
    {
        if (_dp is null) return;
        lock (_lock)
        {
            var env = ComputeEnv(out long sig);
            if (sig == _envSignature) return;
            long w0 = _target.RegisterWrites;
            _envSignature = sig;
            _env = env;
            ReplaceAllLocked();
            _maintenanceWrites += _target.RegisterWrites - w0;
        }
    }

    /// <summary>
    /// Runs <paramref name="change"/>, a change of the target's own (e.g. a port it no longer forwards to), under the
    /// placement lock, so no target call runs meanwhile, then re-places every flow by it.
    /// </summary>
    public void Reconfigure(Action change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_lock)
        {
            long w0 = _target.RegisterWrites;
            change();
            ReplaceAllLocked();
            _maintenanceWrites += _target.RegisterWrites - w0;
        }
    }

    /// <summary>Reads every offloaded flow's hardware counters into the flow (what <see cref="Poll"/> does first, alone: for a statistics read).</summary>
    public void ReadHardwareCounters()
    {
        lock (_lock)
        {
            long now = _table.Clock.NowNanos;
            foreach (var s in _flows.Values)
                if (s.InHardware) Credit(s.Entry, _target.ReadCounters(s.Entry), now);
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
                var reasons = new Dictionary<OffloadReason, int>(_reasonCounts.Count);
                foreach (var (r, n) in _reasonCounts)
                    if (n.Value > 0) reasons[r] = n.Value;
                return new OffloadStats(_hwFlows, _flows.Count - _hwFlows, _hwRows, _flowModEvents, _flowModWrites, _maintenanceWrites,
                    _polls, _installs, _evictions, _promotions, _hwPackets, _hwBytes, reasons, _targetErrors,
                    pending, placed, mean, _latencyTicksMax * usPerTick, _hotSwaps);
            }
        }
    }

    /// <summary>Target calls that threw (see <see cref="LastError"/>); the flows involved stay in software.</summary>
    public long TargetErrors { get { lock (_lock) return _targetErrors; } }
    public string? LastError { get { lock (_lock) return _lastError; } }
}
