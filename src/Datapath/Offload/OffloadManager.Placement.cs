using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

// The placement policy: which flow goes to hardware, which is evicted, which is retried.
//
// A change is placed in the order it was queued. A new flow (Place) first evicts the hardware flows it outranks or
// ties that the target could order differently next to it; then it goes to hardware unless the datapath's state, a
// hardware flow it does not outrank, a software flow that outranks or ties it, or the target refuses. A flow that stays
// in software evicts every hardware flow it outranks or ties that it overlaps (the hardware would answer for its
// packets). Flows refused for a retryable reason are offered again after a removal (Poll), in the classifier's order:
// highest priority first, the exact rule first at equal priority, so a higher rule placed first can only make lower
// ones' answers safe or refused. Every method here runs under _lock (the worker's drain, or Poll).
public sealed partial class OffloadManager
{
    private readonly List<FlowState> _outranked = new();
    private bool _retryPending;
    private long _flowModEvents, _flowModWrites, _maintenanceWrites, _polls, _installs, _evictions, _promotions;

    /// <summary>The classifier's order: highest priority first; at equal priority the exact rule (all-ones mask) first.</summary>
    internal static int ClassifierOrder(FlowEntry a, FlowEntry b)
    {
        int c = b.Priority.CompareTo(a.Priority);
        if (c != 0) return c;
        bool ae = a.Match.IsExact, be = b.Match.IsExact;
        return ae == be ? 0 : ae ? -1 : 1;
    }

    private static int ClassifierOrder(FlowState a, FlowState b) => ClassifierOrder(a.Entry, b.Entry);

    private void AddLocked(FlowEntry e, bool firstTable, bool countAsFlowMod)
    {
        // Gone before it was placed (its removal is queued behind), or already offered (attached while it arrived).
        if (e.IsRemoved || _flows.ContainsKey(e)) return;
        var s = new FlowState(e, firstTable);
        _flows[e] = s;
        long w0 = _target.RegisterWrites;
        if (firstTable)
        {
            Track(s);
            Place(s);
        }
        else
        {
            SetReason(s, OffloadReason.OtherTable, default);
        }
        s.LastWrites = (int)(_target.RegisterWrites - w0);
        if (countAsFlowMod)
        {
            _flowModEvents++;
            _flowModWrites += s.LastWrites;
        }
        Decided(PlacementEvent.Added, s, wasInHardware: false);
    }

    private void ModifiedLocked(FlowEntry e)
    {
        if (!_flows.TryGetValue(e, out var s) || e.IsRemoved) return;
        long w0 = _target.RegisterWrites;
        bool wasIn = s.InHardware;
        if (!s.InFirstTable)
        {
            // Another table's flow stays where it is.
        }
        else if (s.InHardware)
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
            // Out of software, it no longer blocks the flows it outranks: offer them again.
            if (s.InHardware) _retryPending = true;
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
        Untrack(s);
        _retryPending = true;
        s.LastWrites = (int)(_target.RegisterWrites - w0);
        _flowModEvents++;
        _flowModWrites += s.LastWrites;
        Decided(PlacementEvent.Removed, s, wasIn);
    }

    /// <summary>Decides and applies the placement of a software-resident flow <paramref name="s"/> of the first table.</summary>
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
            why = (RefusalBehind(blockerHw, s, inHardware: true), new OffloadDetail(null, Rule: blockerHw.Entry));
        if (why.Reason == OffloadReason.None && !s.IsExact)
        {
            // Cheap device-side refusals before the scan of the software rules.
            var check = _target.Check(e);
            if (!check.Installed) why = (check.Reason, check.Detail);
        }
        if (why.Reason == OffloadReason.None && SoftwareBlocker(s) is { } blocker)
            why = (RefusalBehind(blocker, s, inHardware: false), new OffloadDetail(null, Rule: blocker.Entry));
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
        var overlapping = new List<FlowState>();
        CollectHardwareOverlapping(s, overlapping);
        foreach (var h in overlapping)
            if (h.InHardware && OutranksOrTies(s, h)) Evict(h, s);
    }

    private void RetryLocked()
    {
        var candidates = new List<FlowState>();
        foreach (var s in _flows.Values)
            if (!s.InHardware && s.InFirstTable && s.Reason.Retryable) candidates.Add(s);
        if (candidates.Count == 0) return;
        candidates.Sort(ClassifierOrder);
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
        var all = new List<FlowState>(_flows.Count);
        foreach (var s in _flows.Values)
            if (s.InFirstTable) all.Add(s);
        var was = new Dictionary<FlowState, (bool InHardware, OffloadReason Reason, long Writes)>(all.Count, ReferenceEqualityComparer.Instance);
        foreach (var s in all)
        {
            long w0 = _target.RegisterWrites;
            bool wasIn = s.InHardware;
            var wasReason = s.Reason;
            if (s.InHardware) TakeOut(s, OffloadReason.DatapathState, default);
            was[s] = (wasIn, wasReason, _target.RegisterWrites - w0);
        }
        all.Sort(ClassifierOrder);
        foreach (var s in all)
        {
            long w0 = _target.RegisterWrites;
            if (!s.Entry.IsRemoved) Place(s);
            var (wasIn, wasReason, takeOutWrites) = was[s];
            s.LastWrites = (int)(takeOutWrites + _target.RegisterWrites - w0);
            if (s.InHardware != wasIn || s.Reason != wasReason) Decided(PlacementEvent.Replaced, s, wasIn);
        }
    }
}
