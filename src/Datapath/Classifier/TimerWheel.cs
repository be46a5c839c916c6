using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// Idle and hard timeouts of the flows in a <see cref="FlowTable"/>: a single-level timer wheel with lazy
/// re-arming. Writer-private (used under the table's writer lock).
/// </summary>
/// <remarks>
/// <para>Design: <see cref="SlotCount"/> buckets of 2^<see cref="TickShift"/> ns (about 134 ms; the wheel spans
/// about 137 s). A flow with a timeout sits in exactly one bucket, the one of its earliest possible deadline
/// (last modified + hard, or last use + idle). Nothing happens when a flow is used or refreshed: when its bucket comes due, the
/// deadline is recomputed from <see cref="FlowEntry.LastUsedNanos"/>; a flow used since then is simply re-filed
/// under its new deadline (once per idle period at most), otherwise it expires, hard first when both are due.
/// Deadlines beyond the span share a bucket with nearer ones and are looked at only when that bucket is walked. Flows deleted by flow-mods stay in their bucket
/// as stale references and are dropped when met (or by a compaction once stale references outnumber live ones),
/// so every operation is O(1) amortised per flow. A reference is filed with the entry's <see cref="FlowEntry.Serial"/>:
/// an entry the table has given a new incarnation meanwhile (<see cref="FlowTable.RecycleEntries"/>) is stale to it,
/// as a removed one is.</para>
/// <para>Precision: <see cref="Advance"/> expires every tracked flow whose deadline is at or before <c>now</c>,
/// exactly; the tick only decides which buckets are looked at, and a bucket is walked only once its earliest
/// deadline has passed, so calling it often (every few ms) costs little more than calling it every second.</para>
/// </remarks>
internal sealed class TimerWheel
{
    public const int TickShift = 27;
    public const int SlotCount = 1024;
    private const int SlotMask = SlotCount - 1;
    private const long NanosPerSecond = 1_000_000_000L;

    private readonly List<Filed>?[] _buckets = new List<Filed>?[SlotCount];
    /// <summary>Earliest deadline filed in each bucket since it was last walked (long.MaxValue: none).</summary>
    private readonly long[] _bucketMin = new long[SlotCount];
    private List<Filed>? _spare;
    private long _nextTick;
    private int _tracked;
    private int _stale;

    public TimerWheel(long nowNanos)
    {
        _nextTick = nowNanos >> TickShift;
        Array.Fill(_bucketMin, long.MaxValue);
    }

    /// <summary>References held, live or stale.</summary>
    public int Tracked => _tracked;

    /// <summary>Entries examined by <see cref="Advance"/> since creation (tests use it to check the work done).</summary>
    public long Visits { get; private set; }

    public static bool HasTimeout(FlowEntry e) => (e.IdleTimeout | e.HardTimeout) != 0;

    /// <summary>Starts tracking a newly installed flow that has a timeout.</summary>
    public void Add(FlowEntry e)
    {
        File(e, Math.Min(HardDeadline(e), IdleDeadline(e)));
        _tracked++;
    }

    /// <summary>
    /// A flow's timeouts were lowered (a fin_timeout's reduction; <paramref name="wasTracked"/>: it had one before): it
    /// is filed again under its new, earlier deadline. The reference it had stays where it is, counted stale in
    /// advance: whichever of the two is met first expires or re-files the flow, and the other is dropped as stale
    /// once the flow is gone (<see cref="FlowTable.Expire"/> skips a flow both brought due in one pass).
    /// </summary>
    public void Reschedule(FlowEntry e, bool wasTracked)
    {
        if (wasTracked) _stale++;
        Add(e);
    }

    /// <summary>A tracked flow left the table other than by expiry (delete, replace).</summary>
    public void NoteRemoved()
    {
        _stale++;
        if (_stale > 4096 && _stale * 2 > _tracked) Compact();
    }

    /// <summary>Appends every flow due at <paramref name="nowNanos"/> (with its reason) to <paramref name="due"/>.</summary>
    public void Advance(long nowNanos, List<(FlowEntry Entry, FlowRemovedReason Reason)> due)
    {
        long nowTick = nowNanos >> TickShift;
        if (nowTick < _nextTick) return;
        long first = _nextTick;
        if (nowTick - first >= SlotCount) first = nowTick - SlotCount + 1;
        // Advance first, so flows re-filed while processing land at or after the current tick.
        _nextTick = nowTick;
        for (long t = first; t <= nowTick; t++) Process((int)(t & SlotMask), nowNanos, due);
    }

    private void Process(int index, long now, List<(FlowEntry, FlowRemovedReason)> due)
    {
        var list = _buckets[index];
        // Walk a bucket only when something in it is due: calling Expire often costs nothing extra.
        if (list is null || list.Count == 0 || now < _bucketMin[index]) return;
        _buckets[index] = _spare;
        _spare = null;
        _bucketMin[index] = long.MaxValue;
        foreach (var (e, serial) in list)
        {
            Visits++;
            if (IsStale(e, serial))
            {
                if (_stale > 0) _stale--;
                _tracked--;
                continue;
            }
            long hard = HardDeadline(e), idle = IdleDeadline(e);
            if (hard <= now)
            {
                due.Add((e, FlowRemovedReason.HardTimeout));
                _tracked--;
            }
            else if (idle <= now)
            {
                due.Add((e, FlowRemovedReason.IdleTimeout));
                _tracked--;
            }
            else
            {
                File(e, Math.Min(hard, idle));
            }
        }
        list.Clear();
        _spare = list;
    }

    private void File(FlowEntry e, long deadline)
    {
        long tick = Math.Max(deadline >> TickShift, _nextTick);
        int index = (int)(tick & SlotMask);
        (_buckets[index] ??= new List<Filed>()).Add(new Filed(e, e.Serial));
        if (deadline < _bucketMin[index]) _bucketMin[index] = deadline;
    }

    private void Compact()
    {
        foreach (var list in _buckets)
        {
            if (list is null) continue;
            _tracked -= list.RemoveAll(static f => IsStale(f.Entry, f.Serial));
        }
        _stale = 0;
    }

    private static bool IsStale(FlowEntry e, int serial) => e.IsRemoved || e.Serial != serial;

    /// <summary>A tracked entry and the incarnation it was filed for.</summary>
    private readonly record struct Filed(FlowEntry Entry, int Serial);

    private static long HardDeadline(FlowEntry e)
        => e.HardTimeout == 0 ? long.MaxValue : e.ModifiedNanos + e.HardTimeout * NanosPerSecond;

    private static long IdleDeadline(FlowEntry e)
        => e.IdleTimeout == 0 ? long.MaxValue : e.LastUsedNanos + e.IdleTimeout * NanosPerSecond;
}
