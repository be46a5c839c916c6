using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

// The state: one FlowState per flow the manager knows (every table's), and the bookkeeping the placement reads.
//
// Invariants (all under _lock): _flows holds every known flow. A first-table flow is in exactly one of _hwWildcard,
// _hwExact, _swWildcard, _swExact (by InHardware and IsExact); another table's flow is in none of them. _exactKeys
// counts the first table's exact flows per key (more than one: the classifier holds them at different priorities);
// _hwExactPriorities counts the hardware exact flows per priority. _hwFlows and _hwRows are the sums over hardware
// flows. Every flow in software has a reason other than None, counted in _reasonCounts; the counter registry reads
// those counts without the lock (one int per reason, written with Volatile.Write).
public sealed partial class OffloadManager
{
    private readonly Dictionary<FlowEntry, FlowState> _flows = new(ReferenceEqualityComparer.Instance);
    private readonly List<FlowState> _hwWildcard = new();
    private readonly HashSet<FlowState> _hwExact = new();
    private readonly HashSet<FlowState> _swWildcard = new();
    private readonly HashSet<FlowState> _swExact = new();
    private readonly Dictionary<FlowKey, int> _exactKeys = new();
    private readonly Dictionary<ushort, int> _hwExactPriorities = new();
    private readonly Dictionary<OffloadReason, ReasonCount> _reasonCounts = new(ReferenceEqualityComparer.Instance);
    private int _hwFlows, _hwRows;
    private long _hwPackets, _hwBytes;

    /// <summary>A first-table flow enters the bookkeeping, in software.</summary>
    private void Track(FlowState s)
    {
        if (s.IsExact)
        {
            _swExact.Add(s);
            _exactKeys.TryGetValue(s.Entry.Match.Value, out int n);
            _exactKeys[s.Entry.Match.Value] = n + 1;
        }
        else
        {
            _swWildcard.Add(s);
        }
    }

    /// <summary>A flow (out of hardware) leaves the bookkeeping.</summary>
    private void Untrack(FlowState s)
    {
        if (!s.InFirstTable) return;
        if (s.IsExact)
        {
            _swExact.Remove(s);
            var key = s.Entry.Match.Value;
            if (_exactKeys.TryGetValue(key, out int n))
            {
                if (n <= 1) _exactKeys.Remove(key);
                else _exactKeys[key] = n - 1;
            }
        }
        else
        {
            _swWildcard.Remove(s);
        }
    }

    /// <summary>Whether another first-table exact flow has <paramref name="s"/>'s key.</summary>
    private bool SharesExactKey(FlowState s) => _exactKeys.TryGetValue(s.Entry.Match.Value, out int n) && n > 1;

    /// <summary>The lowest priority of a hardware exact flow (none: above every priority).</summary>
    private int LowestHardwareExactPriority()
    {
        int min = int.MaxValue;
        foreach (var p in _hwExactPriorities.Keys)
            if (p < min) min = p;
        return min;
    }

    private void ClearState()
    {
        _flows.Clear();
        _hwWildcard.Clear();
        _hwExact.Clear();
        _swWildcard.Clear();
        _swExact.Clear();
        _exactKeys.Clear();
        _hwExactPriorities.Clear();
        foreach (var c in _reasonCounts.Values) Volatile.Write(ref c.Value, 0);
    }

    private void PutIn(FlowState s, int rows)
    {
        bool wasIn = s.InHardware;
        s.InHardware = true;
        SetRows(s, rows);
        SetReason(s, OffloadReason.None, default);
        if (wasIn) return;
        _hwFlows++;
        _installs++;
        if (s.IsExact)
        {
            _swExact.Remove(s);
            _hwExact.Add(s);
            _hwExactPriorities.TryGetValue(s.Entry.Priority, out int n);
            _hwExactPriorities[s.Entry.Priority] = n + 1;
        }
        else
        {
            _swWildcard.Remove(s);
            _hwWildcard.Add(s);
        }
    }

    private readonly List<(FlowEntry Entry, OffloadCounts Counts)> _lateCounts = new();

    /// <summary>Takes <paramref name="s"/> out of hardware: reads its last counts into the flow, frees its rows.</summary>
    private void TakeOut(FlowState s, OffloadReason reason, OffloadDetail detail, bool forget = false)
    {
        if (!s.InHardware) return;
        var c = _target.Remove(s.Entry);
        Volatile.Write(ref _unsettledRemovals, true);
        Credit(s.Entry, c, _table.Clock.NowNanos);
        s.InHardware = false;
        _hwFlows--;
        SetRows(s, 0);
        if (s.IsExact)
        {
            _hwExact.Remove(s);
            ushort prio = s.Entry.Priority;
            if (_hwExactPriorities.TryGetValue(prio, out int n))
            {
                if (n <= 1) _hwExactPriorities.Remove(prio);
                else _hwExactPriorities[prio] = n - 1;
            }
        }
        else
        {
            _hwWildcard.Remove(s);
        }
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

    /// <summary>Adds what removed flows counted after their removal (<see cref="IOffloadTarget.Settle"/>) to them.</summary>
    private void SettleLocked()
    {
        Volatile.Write(ref _unsettledRemovals, false);
        var late = _lateCounts;
        late.Clear();
        try
        {
            _target.Settle(late);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fault(null, ex);
        }
        long now = _table.Clock.NowNanos;
        foreach (var (e, c) in late) Credit(e, c, now);
        late.Clear();
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
        if (s.Reason != OffloadReason.None)
        {
            var old = CountReason(s.Reason);
            Volatile.Write(ref old.Value, old.Value - 1);
        }
        s.Reason = reason;
        s.Detail = detail;
        if (reason != OffloadReason.None)
        {
            var now = CountReason(reason);
            Volatile.Write(ref now.Value, now.Value + 1);
        }
    }

    /// <summary>The count of <paramref name="reason"/>, made (and shown in the datapath's counters) on first use.</summary>
    private ReasonCount CountReason(OffloadReason reason)
    {
        if (_reasonCounts.TryGetValue(reason, out var c)) return c;
        c = new ReasonCount();
        _reasonCounts[reason] = c;
        _dp?.Counters.AddSource(reason.Counter, () => Volatile.Read(ref c.Value), this);
        return c;
    }

    private sealed class ReasonCount
    {
        public int Value;
    }

    private sealed class FlowState(FlowEntry entry, bool inFirstTable)
    {
        public readonly FlowEntry Entry = entry;
        public readonly bool IsExact = entry.Match.IsExact;
        /// <summary>From the table packets are classified in first (the one the target may hold).</summary>
        public readonly bool InFirstTable = inFirstTable;
        public bool InHardware;
        public OffloadReason Reason = OffloadReason.None;
        public OffloadDetail Detail;
        public int Rows;
        public int LastWrites;
        /// <summary>The flow's packet count at the last poll (its traffic since is what ranks it for a slot).</summary>
        public long PacketsAtPoll = entry.Packets;

        public FlowPlacement ToPlacement() => new(Entry, InHardware, Reason, Detail, Rows, LastWrites);
    }
}
