using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

// The queue of table changes and the worker that drains it.
//
// The tables' observer calls only append a change to _queue under _queueGate (never _lock, never a target call), so a
// flow-mod never waits for the device. The worker thread (dp-offload) waits on _queueGate, then places a chunk at a
// time under _lock, so readers of the placement and the maintenance poll get the lock between chunks. Poll,
// ProcessPending and WaitForPlacement (without a worker) drain on the caller's thread. _enqueued and _placed (under
// _queueGate) give the pending count and let WaitForPlacement wait for the changes queued before it. A target call
// that throws is recorded against its flow (TargetError) and never reaches the table. The pipeline's other tables are
// watched through one OtherTableWatch each: their changes are queued the same way, marked as not from the first table.
public sealed partial class OffloadManager
{
    // The queue of table changes (guarded by _queueGate; Monitor wait/pulse wakes the worker and the waiters).
    private readonly object _queueGate = new();
    private List<TableEvent> _queue = new();
    private List<TableEvent> _draining = new();
    private long _enqueued, _placed;
    private Thread? _worker;
    private volatile bool _stopping;
    private long _latencyTicksSum, _latencyTicksMax;
    private long _targetErrors;
    private bool _unsettledRemovals;   // a flow left the hardware since the last settle (written under _lock)
    private string? _lastError;
    // The pipeline's other tables, watched (guarded by _queueGate; changed by Attach, Detach and Poll).
    private readonly Dictionary<FlowTable, OtherTableWatch> _otherTables = new(ReferenceEqualityComparer.Instance);

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

    // Observer calls (under the table's writer lock): append only.

    public void OnAdded(FlowEntry e) => Enqueue(TableEventKind.Added, e, firstTable: true);

    public void OnModified(FlowEntry e) => Enqueue(TableEventKind.Modified, e, firstTable: true);

    public void OnRemoved(FlowEntry e, FlowRemovedReason reason) => Enqueue(TableEventKind.Removed, e, firstTable: true);

    private void Enqueue(TableEventKind kind, FlowEntry e, bool firstTable)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_queueGate)
        {
            _queue.Add(new TableEvent(kind, e, now, firstTable));
            _enqueued++;
            if (_queue.Count == 1) Monitor.Pulse(_queueGate);
        }
    }

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

    /// <summary>Whether a flow left the hardware since its late counts were last settled (<see cref="WaitForSettled"/>).</summary>
    public bool HasUnsettledRemovals => Volatile.Read(ref _unsettledRemovals);

    /// <summary>
    /// As <see cref="WaitForPlacement"/>, then adds to the flows what their hardware counted after their removal
    /// (<see cref="IOffloadTarget.Settle"/>: for the XDP target, after a kernel grace period), so a removed flow's report
    /// carries its final counts. A barrier needs only the placement: the grace period is paid where counts are
    /// reported, and at the maintenance poll.
    /// </summary>
    public bool WaitForSettled(TimeSpan? timeout = null)
    {
        bool placed = WaitForPlacement(timeout);
        lock (_lock) SettleLocked();
        return placed;
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
                    case TableEventKind.Added: AddLocked(ev.Entry, ev.FirstTable, countAsFlowMod: true); break;
                    case TableEventKind.Existing: AddLocked(ev.Entry, ev.FirstTable, countAsFlowMod: false); break;
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

    /// <param name="FirstTable">From the table packets are classified in first (the one the target may hold).</param>
    private readonly record struct TableEvent(TableEventKind Kind, FlowEntry Entry, long EnqueuedTicks, bool FirstTable);

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


    /// <summary>
    /// Observes every pipeline table but the first that is not observed yet, and queues the flows it holds (they stay
    /// in software with <see cref="OffloadReason.OtherTable"/>). Without a datapath there is one table.
    /// </summary>
    private void WatchOtherTables()
    {
        if (_dp is null) return;
        var tables = _dp.Pipeline.Tables;
        for (int i = 0; i < tables.Count; i++)
        {
            var t = tables[i];
            if (ReferenceEquals(t, _table)) continue;
            OtherTableWatch watch;
            lock (_queueGate)
            {
                if (_otherTables.ContainsKey(t)) continue;
                watch = new OtherTableWatch(this);
                _otherTables[t] = watch;
            }
            t.AddObserver(watch);
            var existing = new List<FlowEntry>();
            t.Snapshot(existing);
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            lock (_queueGate)
            {
                foreach (var e in existing) _queue.Add(new TableEvent(TableEventKind.Existing, e, now, FirstTable: false));
                _enqueued += existing.Count;
                if (existing.Count > 0) Monitor.Pulse(_queueGate);
            }
        }
    }

    private void UnwatchOtherTables()
    {
        List<KeyValuePair<FlowTable, OtherTableWatch>> watched;
        lock (_queueGate)
        {
            watched = [.. _otherTables];
            _otherTables.Clear();
        }
        foreach (var (t, w) in watched) t.RemoveObserver(w);
    }

    /// <summary>The observer of one of the pipeline's other tables: queues its changes as not from the first table.</summary>
    private sealed class OtherTableWatch(OffloadManager manager) : IFlowTableObserver
    {
        public void OnAdded(FlowEntry e) => manager.Enqueue(TableEventKind.Added, e, firstTable: false);

        public void OnModified(FlowEntry e) => manager.Enqueue(TableEventKind.Modified, e, firstTable: false);

        public void OnRemoved(FlowEntry e, FlowRemovedReason reason) => manager.Enqueue(TableEventKind.Removed, e, firstTable: false);
    }
}
