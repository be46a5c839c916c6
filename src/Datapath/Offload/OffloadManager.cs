using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Offload;

/// <summary>Where one flow lives, and why (observability).</summary>
/// <param name="Entry">The flow.</param>
/// <param name="InHardware">True when the target holds it.</param>
/// <param name="Reason">Why it is in software (<see cref="OffloadReason.None"/> when in hardware).</param>
/// <param name="Detail">What exactly refused it (an action, the rule it overlaps), or null.</param>
/// <param name="Rows">Hardware rows it occupies.</param>
/// <param name="LastRegisterWrites">Register writes of the last operation on it (install, modify, removal).</param>
public readonly record struct FlowPlacement(FlowEntry Entry, bool InHardware, OffloadReason Reason, string? Detail, int Rows, int LastRegisterWrites);

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
/// Receives an <see cref="OffloadManager"/>'s decisions (the Datapath has no logging of its own; the daemon plugs a
/// logger in). Called under the manager's lock, itself inside the flow table's writer lock: keep it short, never call
/// back into the manager or the table.
/// </summary>
public interface IOffloadLog
{
    /// <summary>Whether <see cref="OnDecision"/> is wanted now (building a decision costs a few strings per flow-mod).</summary>
    bool DecisionsEnabled { get; }

    /// <summary>One flow's placement was decided (never per packet).</summary>
    void OnDecision(in OffloadDecision decision);

    /// <summary>A target call threw; <paramref name="entry"/> is the flow involved, if any.</summary>
    void OnTargetError(FlowEntry? entry, Exception error);
}

/// <summary>Counters of an <see cref="OffloadManager"/> (a snapshot).</summary>
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
    long TargetErrors = 0)
{
    /// <summary>Mean register writes per flow-table change (add, modify, removal).</summary>
    public double RegisterWritesPerFlowMod => FlowModEvents == 0 ? 0 : (double)FlowModRegisterWrites / FlowModEvents;
}

/// <summary>
/// Keeps a hardware flow table (<see cref="IOffloadTarget"/>) in step with the software <see cref="FlowTable"/>: decides
/// which flows go to hardware, remembers where each flow lives and why, and adds hardware counters to the flows.
/// </summary>
/// <remarks>
/// <para><b>Invariant</b> (what makes the hardware a safe cache): for every packet the hardware answers, it picks the
/// rule the software would pick. The hardware looks up its exact rows first, then its wildcard rows in row order with
/// no priority, and sends misses to software. So:</para>
/// <list type="bullet">
/// <item>An exact flow may always go to hardware (exact beats every wildcard, in both). An exact flow left in
/// software (hash collision, unsupported action) evicts every offloaded wildcard rule that matches its key.</item>
/// <item>A wildcard flow W may be in hardware only if no software flow of priority &gt;= W's overlaps it (ties count:
/// the software breaks them by subtable order, the hardware by row order) and no other offloaded wildcard flow
/// overlaps it at all. When a flow arrives that breaks this for an offloaded W, W is evicted first (its counters are
/// read, its rows freed) and stays in software with reason <see cref="OffloadReason.Evicted"/>.</item>
/// <item>With a <see cref="SwitchDatapath"/>, the datapath's state must match what the hardware assumes: every board
/// port is a datapath port, FLOOD/ALL go to exactly the board's ports, port config bits (PORT_DOWN, NO_RECV, NO_FWD,
/// NO_FLOOD) do not change the answer, no board port carries a tunnel (software decapsulates what arrives there), no
/// emergency table, no fragment dropping. A change there (checked each
/// <see cref="Poll"/>) re-places every flow.</item>
/// </list>
/// <para><b>Counters</b>: <see cref="Poll"/> (from the datapath's maintenance, before expiry) reads each offloaded
/// flow's hardware counts, adds them with <see cref="FlowEntry.AddCounts"/> and <see cref="FlowEntry.Touch"/>es the flow
/// when they moved, so idle timeouts see hardware traffic. A removed or evicted flow's last counts are read before its
/// rows are cleared (a FLOW_REMOVED built before the callback misses at most the packets since the last poll).</para>
/// <para><b>Retries</b>: flows refused for a reason that can go away (overlap, full table, collision, eviction) are
/// offered again on the next <see cref="Poll"/> after a removal, highest priority first.</para>
/// <para><b>Threading</b>: the table calls the observer methods under its writer lock; <see cref="Poll"/> runs on the
/// maintenance thread. One private lock serialises both; the manager never calls back into the table's writers.</para>
/// </remarks>
public sealed class OffloadManager : IFlowTableObserver, IDisposable
{
    private readonly FlowTable _table;
    private readonly IOffloadTarget _target;
    private readonly SwitchDatapath? _dp;
    private readonly Lock _lock = new();
    private readonly HashSet<ushort> _targetPorts;

    private readonly Dictionary<FlowEntry, FlowState> _flows = new(ReferenceEqualityComparer.Instance);
    // Overlap bookkeeping (normal, non-emergency flows only).
    private readonly List<FlowState> _hwWildcard = new();
    private readonly HashSet<FlowState> _swWildcard = new();
    private readonly HashSet<FlowState> _swExact = new();
    private readonly Dictionary<OffloadReason, int> _reasons = new();

    private bool _attached;
    private bool _retryPending;
    private long _envSignature = long.MinValue;
    private Env _env = Env.Permissive;

    private int _hwFlows, _hwRows;
    private long _flowModEvents, _flowModWrites, _maintenanceWrites, _polls, _installs, _evictions, _promotions;
    private long _hwPackets, _hwBytes;
    private long _targetErrors;
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
        _targetPorts = new HashSet<ushort>(target.Ports);
    }

    /// <summary>A manager for <paramref name="dp"/>'s table that also checks the datapath's ports and modes.</summary>
    public OffloadManager(SwitchDatapath dp, IOffloadTarget target) : this(dp.Flows, target)
    {
        _dp = dp;
        _env = ComputeEnv(out _envSignature);
    }

    public IOffloadTarget Target => _target;

    /// <summary>Registers with the table and offers it every flow it already holds (highest priority first).</summary>
    public void Attach()
    {
        if (_attached) return;
        _attached = true;
        _table.AddObserver(this);
        var existing = new List<FlowEntry>();
        _table.Collect(FlowMatch.All, OfPort.None, strict: false, existing);
        existing.Sort(static (a, b) => b.Priority.CompareTo(a.Priority));
        lock (_lock)
        {
            foreach (var e in existing)
                if (!e.IsRemoved && !_flows.ContainsKey(e)) AddLocked(e, countAsFlowMod: false);
        }
    }

    /// <summary>Unregisters and takes every flow out of hardware (counts read into the flows).</summary>
    public void Detach()
    {
        if (!_attached) return;
        _attached = false;
        _table.RemoveObserver(this);
        lock (_lock)
        {
            foreach (var s in _flows.Values)
                if (s.InHardware) TakeOut(s, OffloadReason.DatapathState, "offload detached");
            _flows.Clear();
            _hwWildcard.Clear();
            _swWildcard.Clear();
            _swExact.Clear();
            _reasons.Clear();
        }
    }

    public void Dispose() => Detach();

    // ================================================================ observer (under the table's writer lock)

    public void OnAdded(FlowEntry e)
    {
        lock (_lock)
        {
            try { AddLocked(e, countAsFlowMod: true); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { Fault(e, ex); }
        }
    }

    public void OnModified(FlowEntry e)
    {
        lock (_lock)
        {
            try { ModifiedLocked(e); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { Fault(e, ex); }
        }
    }

    public void OnRemoved(FlowEntry e, FlowRemovedReason reason)
    {
        lock (_lock)
        {
            try { RemovedLocked(e); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { Fault(null, ex); }
        }
    }

    /// <summary>
    /// A target call threw (a register access failed). The table must not see it (observers run inside its writer
    /// lock): the flow is recorded as software with <see cref="OffloadReason.TargetError"/> and the error is counted.
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
        if (!_flows.TryGetValue(e, out var s)) return;
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
                // Back in software, an exact flow outranks every offloaded wildcard rule matching its key.
                if (s.IsExact) EvictWildcards(s, e.Match.Value, exactKey: true);
            }
        }
        else if (!e.IsEmergency)
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
        else SetReason(s, OffloadReason.None, null);
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
                return new OffloadStats(_hwFlows, _flows.Count - _hwFlows, _hwRows, _flowModEvents, _flowModWrites, _maintenanceWrites,
                    _polls, _installs, _evictions, _promotions, _hwPackets, _hwBytes, new Dictionary<OffloadReason, int>(_reasons), _targetErrors);
            }
        }
    }

    // ================================================================ placement

    private void AddLocked(FlowEntry e, bool countAsFlowMod)
    {
        if (e.IsRemoved) return;
        var s = new FlowState(e);
        _flows[e] = s;
        long w0 = _target.RegisterWrites;
        if (e.IsEmergency)
        {
            SetReason(s, OffloadReason.Emergency, null);
        }
        else
        {
            if (s.IsExact) _swExact.Add(s);
            else _swWildcard.Add(s);
            Place(s);
        }
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
        if (s.IsExact)
        {
            var why = Eligibility(e);
            if (why.Reason == OffloadReason.None)
            {
                var r = _target.TryInstall(e);
                if (r.Installed)
                {
                    PutIn(s, r.Rows);
                    return;
                }
                why = (r.Reason, r.Detail);
            }
            SetReason(s, why.Reason, why.Detail);
            // A software exact flow outranks every wildcard rule: no offloaded wildcard may answer for its key.
            EvictWildcards(s, e.Match.Value, exactKey: true);
            return;
        }

        // Offloaded wildcard rules this one overlaps become unsafe whatever happens to it, unless they outrank it.
        EvictWildcards(s, default, exactKey: false);

        var reason = Eligibility(e);
        if (reason.Reason != OffloadReason.None)
        {
            SetReason(s, reason.Reason, reason.Detail);
            return;
        }
        foreach (var h in _hwWildcard)
        {
            if (h.Entry.Match.Overlaps(e.Match))
            {
                SetReason(s, OffloadReason.OverlapsOffloadedRule, Describe(h.Entry));
                return;
            }
        }
        // Cheap device-side refusals before the scan of the software rules.
        var check = _target.Check(e);
        if (!check.Installed)
        {
            SetReason(s, check.Reason, check.Detail);
            return;
        }
        var blocker = SoftwareBlocker(s);
        if (blocker is not null)
        {
            SetReason(s, OffloadReason.OverlapsSoftwareRule, Describe(blocker.Entry));
            return;
        }
        var res = _target.TryInstall(e);
        if (!res.Installed)
        {
            SetReason(s, res.Reason, res.Detail);
            return;
        }
        PutIn(s, res.Rows);
    }

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

    /// <summary>
    /// Evicts the offloaded wildcard flows that <paramref name="by"/> makes unsafe: with <paramref name="exactKey"/>,
    /// those matching the exact key; otherwise those overlapping <paramref name="by"/>'s match with priority &lt;= its own.
    /// </summary>
    private void EvictWildcards(FlowState by, in FlowKey key, bool exactKey)
    {
        if (_hwWildcard.Count == 0) return;
        var m = by.Entry.Match;
        ushort prio = by.Entry.Priority;
        for (int i = _hwWildcard.Count - 1; i >= 0; i--)
        {
            var h = _hwWildcard[i];
            if (ReferenceEquals(h, by)) continue;
            bool unsafeNow = exactKey
                ? h.Entry.Match.Matches(key)
                : h.Entry.Priority <= prio && h.Entry.Match.Overlaps(m);
            if (!unsafeNow) continue;
            long w0 = _target.RegisterWrites;
            TakeOut(h, OffloadReason.Evicted, Describe(by.Entry));
            h.LastWrites = (int)(_target.RegisterWrites - w0);
            _evictions++;
            Decided(PlacementEvent.Evicted, h, wasInHardware: true);
        }
    }

    private void PutIn(FlowState s, int rows)
    {
        bool wasIn = s.InHardware;
        s.InHardware = true;
        SetRows(s, rows);
        SetReason(s, OffloadReason.None, null);
        if (!wasIn)
        {
            _hwFlows++;
            _installs++;
            if (s.IsExact) _swExact.Remove(s);
            else
            {
                _swWildcard.Remove(s);
                _hwWildcard.Add(s);
            }
        }
    }

    /// <summary>Takes <paramref name="s"/> out of hardware: reads its last counts into the flow, frees its rows.</summary>
    private void TakeOut(FlowState s, OffloadReason reason, string? detail, bool forget = false)
    {
        if (!s.InHardware) return;
        var c = _target.Remove(s.Entry);
        Credit(s.Entry, c, _table.Clock.NowNanos);
        s.InHardware = false;
        _hwFlows--;
        SetRows(s, 0);
        if (!s.IsExact) _hwWildcard.Remove(s);
        if (forget)
        {
            SetReason(s, OffloadReason.None, null);
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

    private void SetReason(FlowState s, OffloadReason reason, string? detail)
    {
        if (s.Reason != OffloadReason.None && _reasons.TryGetValue(s.Reason, out int old))
        {
            if (old <= 1) _reasons.Remove(s.Reason);
            else _reasons[s.Reason] = old - 1;
        }
        s.Reason = reason;
        s.Detail = detail;
        if (reason != OffloadReason.None)
        {
            _reasons.TryGetValue(reason, out int n);
            _reasons[reason] = n + 1;
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
            if (s.InHardware || !_flows.ContainsKey(s.Entry)) continue;
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
            if (s.InHardware) TakeOut(s, OffloadReason.DatapathState, null);
            was[s] = (wasIn, wasReason, _target.RegisterWrites - w0);
        }
        all.Sort(static (a, b) => a.IsExact != b.IsExact ? (a.IsExact ? -1 : 1) : b.Entry.Priority.CompareTo(a.Entry.Priority));
        foreach (var s in all)
        {
            long w0 = _target.RegisterWrites;
            if (!s.Entry.IsEmergency) Place(s);
            var (wasIn, wasReason, takeOutWrites) = was[s];
            s.LastWrites = (int)(takeOutWrites + _target.RegisterWrites - w0);
            if (s.InHardware != wasIn || s.Reason != wasReason) Decided(PlacementEvent.Replaced, s, wasIn);
        }
    }

    private static string Describe(FlowEntry e) => FlowFormat.Rule(e.Priority, e.Match);

    // ================================================================ datapath state

    /// <summary>Whether the datapath state lets <paramref name="e"/> be answered by hardware (see the type remarks).</summary>
    private (OffloadReason Reason, string? Detail) Eligibility(FlowEntry e)
    {
        var env = _env;
        if (env.Suspended is { } why) return (OffloadReason.DatapathState, why);
        if (env.IsPermissive) return (OffloadReason.None, null);
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
                case OfPort.Flood:
                    if (!env.FloodOk) return (OffloadReason.DatapathState, "FLOOD would not reach exactly the board ports");
                    break;
                case OfPort.All:
                    if (!env.AllOk) return (OffloadReason.DatapathState, "ALL would not reach exactly the board ports");
                    break;
                case OfPort.InPort:
                    if (inPortWild ? !env.AllFwdOk : _targetPorts.Contains(inPort) && !env.FwdOk(inPort))
                        return (OffloadReason.DatapathState, "IN_PORT output to a port with PORT_DOWN or NO_FWD");
                    break;
                default:
                    if (_targetPorts.Contains(a.Port) && !env.FwdOk(a.Port))
                        return (OffloadReason.DatapathState, $"port {a.Port} has PORT_DOWN or NO_FWD");
                    break;
            }
        }
        return (OffloadReason.None, null);
    }

    private Env ComputeEnv(out long signature)
    {
        var dp = _dp!;
        var ports = dp.Ports.List;
        long sig = 17;
        sig = sig * 31 + (dp.Flows.UseEmergencyTable ? 1 : 0);
        sig = sig * 31 + (int)dp.FragmentMode;
        foreach (var p in ports) sig = sig * 31 + ((long)p.No << 32 | (uint)p.Config);
        // A port that carries tunnels has its frames decapsulated by software: the hardware must not answer them.
        var underlays = new HashSet<ushort>();
        foreach (var t in dp.Tunnels.List)
            if (t.UnderlaySlot is { } u) underlays.Add(u.No);
        foreach (var u in underlays) sig = sig * 31 + u + 0x10000;
        signature = sig;

        if (dp.Flows.UseEmergencyTable) return Env.Suspend("emergency flow table in use");
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
        public string? Detail;
        public int Rows;
        public int LastWrites;

        public FlowPlacement ToPlacement() => new(Entry, InHardware, Reason, Detail, Rows, LastWrites);
    }
}
