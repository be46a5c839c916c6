using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The switch's OpenFlow 1.0 flow table: the exact table (table 0) in front of the wildcard tuple space (table 1),
/// a separate emergency pair, timeouts, stats, and flow-mod semantics. What the pipeline and the agent use.
/// </summary>
/// <remarks>
/// <para><b>Lookup</b> (forwarding threads, no locks): per burst, the thread's <see cref="ExactMatchCache"/>, then
/// the exact table, then the tuple space. An exact rule beats every wildcard rule. Among wildcard rules the highest
/// priority wins; among overlapping wildcard rules of equal priority the one in the subtable that comes first in
/// the tuple space's order wins: the subtable with the higher max priority, then the more specific mask (more
/// matched bits), then the smaller mask words (see <see cref="TupleSpace"/>). With
/// <see cref="UseEmergencyTable"/> set, lookups use only the emergency flows and bypass the EMC.</para>
/// <para><b>Flow-mods</b> follow OpenFlow 1.0: ADD replaces an entry with identical match and priority (a new entry,
/// counters and duration reset, no flow-removed), honours OFPFF_CHECK_OVERLAP (an entry of the same priority that
/// some packet could match too, including an identical one, fails with Overlap), and sends emergency entries
/// (OFPFF_EMERG, which need idle = hard = 0) to the emergency table. MODIFY changes the actions (and, per
/// <see cref="FlowTableOptions.ModifyUpdatesCookie"/>, the cookie) of every entry whose match is a subset of the
/// request, keeping counters, timeouts and flags; MODIFY_STRICT of the entry with identical match and priority;
/// either acts as ADD when nothing matches. DELETE removes every entry whose match is a subset of the request;
/// DELETE_STRICT the identical one; both filtered by out_port unless it is OFPP_NONE. The OFPFF_EMERG flag of any
/// command selects the emergency table. Exact matches' priority is normalised to 0xFFFF, in entries and in strict
/// requests. Removed entries are marked removed and reported with reason Delete (the caller decides about
/// OFPFF_SEND_FLOW_REM). Capacity is enforced per table (TableFull, never silent).</para>
/// <para><b>Concurrency</b>: writers (<see cref="Apply"/>, <see cref="ApplyBatch"/>, <see cref="Expire"/>, queries)
/// are serialised by one lock. Readers never lock: every entry is fully built before a single reference store
/// publishes it; a replacement is one store into the same slot; the tuple space's subtable order is republished
/// once per flow-mod or per batch. Each lookup sees each flow-mod atomically: an added or replaced rule is seen
/// whole or not at all; MODIFY swaps each entry's whole action list (a multi-entry MODIFY updates entries one after
/// the other, so two lookups racing it may see different entries at different stages, never a mixed action list);
/// a multi-entry DELETE removes losers first (ascending priority, exact rules after wildcard rules of equal
/// priority, equal-priority wildcard rules in reverse search order), so any one lookup returns either what it
/// returned before the delete or what it returns after it (up to ties between equal-priority rules while the
/// search order is being republished). The EMC cacheVersion version is bumped after everything else is published.
/// Lookups racing a flow-mod may still return an entry it has just removed (it is then
/// <see cref="FlowEntry.IsRemoved"/>); the GC is the grace period, entries are never mutated in place except for
/// their action list, cookie and counters.</para>
/// <para><b>Hashes</b>: the per-packet hash given to <see cref="LookupBurst"/> only indexes the EMC (any well-mixed
/// hash, e.g. <see cref="FlowKey.Hash"/> or a NIC's); the tables hash masked keys themselves.</para>
/// </remarks>
[SkipLocalsInit]
public sealed class FlowTable
{
    public const byte ExactTableId = 0;
    public const byte WildcardTableId = 1;
    public const ushort ExactPriority = 0xFFFF;

    private readonly IClock _clock;
    private readonly FlowTableOptions _options;
    private readonly Lock _writeLock = new();

    private readonly ExactTable _exact = new();
    private readonly TupleSpace _tuple = new();
    private readonly ExactTable _emergencyExact = new();
    private readonly TupleSpace _emergencyTuple = new();
    private readonly TimerWheel _wheel;

    private volatile bool _useEmergency;
    private long _version;
    private long _cacheVersion;

    // Writer-private state.
    private bool _changed;
    private bool _invalidateCaches;
    private readonly List<FlowEntry> _scratch = new();
    private readonly List<(FlowEntry Entry, FlowRemovedReason Reason)> _due = new();
    private IFlowTableObserver[] _observers = [];
    private readonly List<ObserverEvent> _events = new();

    // Stats registry.
    private readonly Lock _statsLock = new();
    private FlowTableThreadStats[] _threadStats = [];
    private long _retiredExactLookups, _retiredExactMatched, _retiredWildcardLookups, _retiredWildcardMatched;

    public FlowTable(IClock? clock = null, FlowTableOptions? options = null)
    {
        _clock = clock ?? MonotonicClock.Instance;
        _options = options ?? new FlowTableOptions();
        _wheel = new TimerWheel(_clock.NowNanos);
    }

    public FlowTableOptions Options => _options;
    public IClock Clock => _clock;

    /// <summary>Bumped once per published change (per flow-mod, per batch, per expiry pass that removed something).</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>The EMC validity version: bumped after an ADD that could change the winning rule for some key.</summary>
    public long CacheVersion => Volatile.Read(ref _cacheVersion);

    /// <summary>When true (controller connection lost), lookups use only the emergency flows.</summary>
    public bool UseEmergencyTable
    {
        get => _useEmergency;
        set => _useEmergency = value;
    }

    public int ActiveExact => _exact.Count;
    public int ActiveWildcard => _tuple.Count;
    public int Emergency => _emergencyExact.Count + _emergencyTuple.Count;

    /// <summary>Wildcard subtables (distinct masks) in the normal table.</summary>
    public int WildcardSubtableCount => _tuple.PublishedSubtableCount;

    // ================================================================ readers

    /// <summary>Reader: the winning flow for one packet, without EMC and without stats.</summary>
    /// <param name="hash">The packet's hash (unused by the tables, which hash masked keys themselves; kept for symmetry with bursts).</param>
    public FlowEntry? Lookup(in FlowKey key, uint hash) => Lookup(key, hash, null);

    /// <summary>Reader: the winning flow for one packet, counted in <paramref name="stats"/> when given.</summary>
    public FlowEntry? Lookup(in FlowKey key, uint hash, FlowTableThreadStats? stats)
    {
        bool emergency = _useEmergency;
        var exact = emergency ? _emergencyExact : _exact;
        var e = exact.Count != 0 ? exact.Lookup(key) : null;
        if (e is not null)
        {
            if (stats is not null)
            {
                stats.ExactLookups++;
                stats.ExactMatched++;
            }
            return e;
        }
        e = (emergency ? _emergencyTuple : _tuple).Lookup(key);
        if (stats is not null)
        {
            stats.ExactLookups++;
            stats.WildcardLookups++;
            if (e is not null) stats.WildcardMatched++;
        }
        return e;
    }

    /// <summary>
    /// Reader, the pipeline's lookup: for each key, EMC (when given), then the exact table, then the tuple space
    /// (subtable-major over the burst). <paramref name="results"/>[i] is the winning flow or null. Table hits are
    /// offered to the EMC. No allocation.
    /// </summary>
    /// <param name="hashes">Per-packet hashes (any well-mixed hash; only the EMC uses them).</param>
    /// <param name="cache">This thread's cache, or null.</param>
    /// <param name="stats">This thread's counters (from <see cref="CreateThreadStats"/>), or null.</param>
    public void LookupBurst(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<uint> hashes, Span<FlowEntry?> results,
                            ExactMatchCache? cache, FlowTableThreadStats? stats = null)
    {
        int n = keys.Length;
        if (hashes.Length < n || results.Length < n) ThrowHelper.Argument(nameof(results));
        for (int off = 0; off < n; off += 64)
        {
            int len = Math.Min(64, n - off);
            LookupChunk(keys.Slice(off, len), hashes.Slice(off, len), results.Slice(off, len), cache, stats);
        }
    }

    private void LookupChunk(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<uint> hashes, Span<FlowEntry?> results,
                             ExactMatchCache? cache, FlowTableThreadStats? stats)
    {
        int n = keys.Length;
        results.Clear();
        // The cacheVersion version is read before any table state, so a cached wildcard result is never newer than it.
        long cacheVersion = Volatile.Read(ref _cacheVersion);
        bool emergency = _useEmergency;
        if (emergency) cache = null;
        ulong pending = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
        long exactLookups = 0, exactMatched = 0, wildLookups = 0, wildMatched = 0;

        if (cache is not null)
        {
            // Three passes so the cache misses of a burst overlap: prefetch every set, then find the candidates
            // and prefetch their flows, then validate.
            ref FlowKey k0 = ref MemoryMarshal.GetReference(keys);
            ref uint h0 = ref MemoryMarshal.GetReference(hashes);
            ref FlowEntry? r0 = ref MemoryMarshal.GetReference(results);
            Span<long> versions = stackalloc long[64];
            for (int i = 0; i < n; i++) cache.PrefetchSet(Unsafe.Add(ref h0, i));
            for (int i = 0; i < n; i++)
            {
                var c = cache.Candidate(Unsafe.Add(ref k0, i), Unsafe.Add(ref h0, i), out versions[i]);
                Unsafe.Add(ref r0, i) = c;
                Prefetch.Object(c, 2);
            }
            for (int i = 0; i < n; i++)
            {
                var f = Unsafe.Add(ref r0, i);
                if (!cache.Validate(f, versions[i], cacheVersion))
                {
                    Unsafe.Add(ref r0, i) = null;
                    continue;
                }
                pending &= ~(1UL << i);
                if (f!.TableId == ExactTableId)
                {
                    exactMatched++;
                }
                else
                {
                    wildLookups++;
                    wildMatched++;
                }
            }
            exactLookups = n - BitOperations.PopCount(pending);
        }

        if (pending != 0)
        {
            ulong missed = pending;
            var exact = emergency ? _emergencyExact : _exact;
            exactLookups += BitOperations.PopCount(pending);
            if (exact.Count != 0) exactMatched += exact.LookupBurst(keys, ref pending, results);
            if (pending != 0)
            {
                wildLookups += BitOperations.PopCount(pending);
                ulong found = (emergency ? _emergencyTuple : _tuple).LookupBurst(keys, pending, results);
                wildMatched += BitOperations.PopCount(found);
            }
            if (cache is not null)
            {
                for (ulong b = missed; b != 0; b &= b - 1)
                {
                    int i = BitOperations.TrailingZeroCount(b);
                    var f = results[i];
                    if (f is not null) cache.Insert(keys[i], hashes[i], f, cacheVersion);
                }
            }
        }

        if (stats is not null)
        {
            stats.ExactLookups += exactLookups;
            stats.ExactMatched += exactMatched;
            stats.WildcardLookups += wildLookups;
            stats.WildcardMatched += wildMatched;
        }
    }

    // ================================================================ writers

    /// <summary>Applies one flow-mod (OpenFlow 1.0 semantics, see the type remarks) and publishes it.</summary>
    /// <param name="removed">Receives the entries a DELETE removed (reason Delete), or null to discard them.</param>
    public FlowModStatus Apply(in FlowMod mod, List<FlowRemoved>? removed)
    {
        lock (_writeLock)
        {
            var status = ApplyLocked(mod, removed, _clock.NowNanos);
            PublishLocked();
            return status;
        }
    }

    /// <summary>Applies flow-mods in order under one lock acquisition and publishes once at the end.</summary>
    public void ApplyBatch(ReadOnlySpan<FlowMod> mods, Span<FlowModStatus> statuses, List<FlowRemoved>? removed)
    {
        if (statuses.Length < mods.Length) ThrowHelper.Argument(nameof(statuses));
        lock (_writeLock)
        {
            long now = _clock.NowNanos;
            for (int i = 0; i < mods.Length; i++) statuses[i] = ApplyLocked(mods[i], removed, now);
            PublishLocked();
        }
    }

    /// <summary>
    /// Removes every flow whose idle or hard timeout has passed at the clock's current time, appending them (reason
    /// IdleTimeout or HardTimeout; hard wins when both are due) to <paramref name="removed"/>. Returns how many.
    /// </summary>
    public int Expire(List<FlowRemoved> removed)
    {
        lock (_writeLock)
        {
            long now = _clock.NowNanos;
            _due.Clear();
            _wheel.Advance(now, _due);
            foreach (var (e, reason) in _due)
            {
                bool ok = e.TableId == ExactTableId ? _exact.Remove(e) : _tuple.Remove(e);
                Debug.Assert(ok, "a timed flow is always in the normal tables");
                e.MarkRemoved();
                removed.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
                Notify(ObserverEventKind.Removed, e, reason);
            }
            int count = _due.Count;
            _due.Clear();
            if (count > 0) _changed = true;
            PublishLocked();
            return count;
        }
    }

    /// <summary>Registers an observer (called under the writer lock after each published change).</summary>
    public void AddObserver(IFlowTableObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_writeLock) _observers = [.. _observers, observer];
    }

    public void RemoveObserver(IFlowTableObserver observer)
    {
        lock (_writeLock) _observers = Array.FindAll(_observers, o => !ReferenceEquals(o, observer));
    }

    private FlowModStatus ApplyLocked(in FlowMod mod, List<FlowRemoved>? removed, long now)
    {
        switch (mod.Command)
        {
            case FlowModCommand.Add:
                return AddLocked(mod, now);
            case FlowModCommand.Modify:
                return ModifyLocked(mod, strict: false, now);
            case FlowModCommand.ModifyStrict:
                return ModifyLocked(mod, strict: true, now);
            case FlowModCommand.Delete:
                DeleteLocked(mod, strict: false, removed, now);
                return FlowModStatus.Ok;
            case FlowModCommand.DeleteStrict:
                DeleteLocked(mod, strict: true, removed, now);
                return FlowModStatus.Ok;
            default:
                return FlowModStatus.BadCommand;
        }
    }

    private FlowModStatus AddLocked(in FlowMod mod, long now)
    {
        bool emergency = (mod.Flags & FlowModFlags.Emergency) != 0;
        if (emergency && (mod.IdleTimeout | mod.HardTimeout) != 0) return FlowModStatus.BadEmergencyTimeout;

        FlowMatch match = mod.Match;
        bool isExact = match.IsExact;
        ushort priority = isExact ? ExactPriority : mod.Priority;
        var exact = emergency ? _emergencyExact : _exact;
        var tuple = emergency ? _emergencyTuple : _tuple;

        if ((mod.Flags & FlowModFlags.CheckOverlap) != 0)
        {
            if (tuple.HasOverlap(match, priority)) return FlowModStatus.Overlap;
            if (priority == ExactPriority && exact.HasOverlap(match)) return FlowModStatus.Overlap;
        }

        // Exact: one probe serves both the identity check and the insertion below.
        int exactSlot = -1;
        uint exactHash = 0;
        var existing = isExact ? exact.FindForInsert(match.Value, out exactSlot, out exactHash) : tuple.Find(match, priority);
        if (existing is null)
        {
            bool full = emergency
                ? _emergencyExact.Count + _emergencyTuple.Count >= _options.MaxEmergencyFlows
                : isExact ? _exact.Count >= _options.MaxExactFlows : _tuple.Count >= _options.MaxWildcardFlows;
            if (full) return FlowModStatus.TableFull;
        }

        var entry = new FlowEntry(match, priority, mod.Actions, mod.Cookie, mod.IdleTimeout, mod.HardTimeout, mod.Flags, now, mod.Priority);
        FlowEntry? replaced;
        if (isExact)
        {
            exact.InsertAt(exactSlot, exactHash, entry);
            replaced = existing;
        }
        else
        {
            replaced = tuple.Insert(entry);
            Debug.Assert(ReferenceEquals(replaced, existing));
        }
        if (replaced is not null)
        {
            // Same match and priority, so the new entry wins exactly where the old one did: no cacheVersion bump; EMC
            // slots holding the old entry fail its IsRemoved test.
            replaced.MarkRemoved();
            if (TimerWheel.HasTimeout(replaced)) _wheel.NoteRemoved();
            Notify(ObserverEventKind.Removed, replaced, FlowRemovedReason.Delete);
        }
        else if (!emergency)
        {
            _invalidateCaches = true;
        }
        if (TimerWheel.HasTimeout(entry)) _wheel.Add(entry);
        Notify(ObserverEventKind.Added, entry, default);
        _changed = true;
        return FlowModStatus.Ok;
    }

    private FlowModStatus ModifyLocked(in FlowMod mod, bool strict, long now)
    {
        bool emergency = (mod.Flags & FlowModFlags.Emergency) != 0;
        var targets = _scratch;
        targets.Clear();
        CollectTargets(mod.Match, mod.Priority, strict, emergency, targets);
        if (targets.Count == 0) return AddLocked(mod, now);

        bool cookie = _options.ModifyUpdatesCookie;
        foreach (var e in targets)
        {
            e.SetActions(mod.Actions);
            if (cookie) e.SetCookie(mod.Cookie);
            Notify(ObserverEventKind.Modified, e, default);
        }
        targets.Clear();
        _changed = true;
        return FlowModStatus.Ok;
    }

    private void DeleteLocked(in FlowMod mod, bool strict, List<FlowRemoved>? removed, long now)
    {
        bool emergency = (mod.Flags & FlowModFlags.Emergency) != 0;
        var targets = _scratch;
        targets.Clear();
        CollectTargets(mod.Match, mod.Priority, strict, emergency, targets);
        if (mod.OutPort != OfPort.None) FilterOutPort(targets, 0, mod.OutPort);
        if (targets.Count == 0) return;
        var exact = emergency ? _emergencyExact : _exact;
        var tuple = emergency ? _emergencyTuple : _tuple;
        // Losers first: a concurrent lookup then sees either the pre- or the post-delete winner.
        if (targets.Count > 1) targets.Sort(tuple.RemovalOrder);

        foreach (var e in targets)
        {
            bool ok = e.TableId == ExactTableId ? exact.Remove(e) : tuple.Remove(e);
            Debug.Assert(ok);
            e.MarkRemoved();
            if (TimerWheel.HasTimeout(e)) _wheel.NoteRemoved();
            removed?.Add(new FlowRemoved(e, FlowRemovedReason.Delete, now - e.CreatedNanos, e.Packets, e.Bytes));
            Notify(ObserverEventKind.Removed, e, FlowRemovedReason.Delete);
        }
        targets.Clear();
        _changed = true;
    }

    /// <summary>Strict: the entry with identical match and (normalised) priority. Non-strict: every subset.</summary>
    private void CollectTargets(in FlowMatch match, ushort priority, bool strict, bool emergency, List<FlowEntry> into)
    {
        var exact = emergency ? _emergencyExact : _exact;
        var tuple = emergency ? _emergencyTuple : _tuple;
        if (strict)
        {
            FlowEntry? e = match.IsExact ? exact.Find(match.Value) : tuple.Find(match, priority);
            if (e is not null) into.Add(e);
            return;
        }
        exact.CollectSubsets(match, into);
        tuple.CollectSubsets(match, into);
    }

    private static void FilterOutPort(List<FlowEntry> list, int start, ushort outPort)
    {
        int w = start;
        for (int r = start; r < list.Count; r++)
            if (list[r].Actions.OutputsTo(outPort)) list[w++] = list[r];
        list.RemoveRange(w, list.Count - w);
    }

    private void PublishLocked()
    {
        _tuple.Publish();
        _emergencyTuple.Publish();
        if (_invalidateCaches)
        {
            Volatile.Write(ref _cacheVersion, _cacheVersion + 1);
            _invalidateCaches = false;
        }
        if (_changed)
        {
            Volatile.Write(ref _version, _version + 1);
            _changed = false;
        }
        if (_events.Count > 0) FlushEvents();
    }

    private void Notify(ObserverEventKind kind, FlowEntry e, FlowRemovedReason reason)
    {
        if (_observers.Length != 0) _events.Add(new ObserverEvent(kind, e, reason));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FlushEvents()
    {
        var observers = _observers;
        foreach (var ev in _events)
        {
            foreach (var o in observers)
            {
                switch (ev.Kind)
                {
                    case ObserverEventKind.Added: o.OnAdded(ev.Entry); break;
                    case ObserverEventKind.Modified: o.OnModified(ev.Entry); break;
                    default: o.OnRemoved(ev.Entry, ev.Reason); break;
                }
            }
        }
        _events.Clear();
    }

    private enum ObserverEventKind : byte { Added, Modified, Removed }

    private readonly record struct ObserverEvent(ObserverEventKind Kind, FlowEntry Entry, FlowRemovedReason Reason);

    // ================================================================ queries (off the hot path)

    /// <summary>
    /// Appends the flows a stats request selects: non-strict, every flow whose match is a subset of
    /// <paramref name="match"/>; strict, every flow with exactly that match (any priority); then filtered by
    /// <paramref name="outPort"/> unless it is OFPP_NONE. Normal or emergency flows. Order unspecified.
    /// </summary>
    public void Collect(in FlowMatch match, ushort outPort, bool strict, List<FlowEntry> into, bool emergency = false)
    {
        lock (_writeLock)
        {
            int start = into.Count;
            var exact = emergency ? _emergencyExact : _exact;
            var tuple = emergency ? _emergencyTuple : _tuple;
            if (strict)
            {
                if (match.IsExact)
                {
                    var e = exact.Find(match.Value);
                    if (e is not null) into.Add(e);
                }
                else
                {
                    tuple.CollectIdentical(match, into);
                }
            }
            else
            {
                exact.CollectSubsets(match, into);
                tuple.CollectSubsets(match, into);
            }
            if (outPort != OfPort.None) FilterOutPort(into, start, outPort);
        }
    }

    /// <summary>Stats of table 0 ("hash", exact) or 1 ("tuple-space", wildcard).</summary>
    public FlowTableStats GetTableStats(int tableId)
    {
        long exactLookups, exactMatched, wildLookups, wildMatched;
        lock (_statsLock)
        {
            exactLookups = _retiredExactLookups;
            exactMatched = _retiredExactMatched;
            wildLookups = _retiredWildcardLookups;
            wildMatched = _retiredWildcardMatched;
            foreach (var s in _threadStats)
            {
                exactLookups += s.ExactLookupCount;
                exactMatched += s.ExactMatchedCount;
                wildLookups += s.WildcardLookupCount;
                wildMatched += s.WildcardMatchedCount;
            }
        }
        return tableId switch
        {
            ExactTableId => new FlowTableStats(ExactTableId, "hash", Wildcards.None, _options.MaxExactFlows, _exact.Count, exactLookups, exactMatched),
            WildcardTableId => new FlowTableStats(WildcardTableId, "tuple-space", Wildcards.All, _options.MaxWildcardFlows, _tuple.Count, wildLookups, wildMatched),
            _ => throw new ArgumentOutOfRangeException(nameof(tableId)),
        };
    }

    public int TableCount => 2;

    /// <summary>A forwarding thread's counters, summed into <see cref="GetTableStats"/> while registered.</summary>
    public FlowTableThreadStats CreateThreadStats()
    {
        var s = new FlowTableThreadStats();
        lock (_statsLock) _threadStats = [.. _threadStats, s];
        return s;
    }

    /// <summary>Retires a thread's counters: their totals are kept, the object is no longer read.</summary>
    public void ReleaseThreadStats(FlowTableThreadStats stats)
    {
        lock (_statsLock)
        {
            int i = Array.IndexOf(_threadStats, stats);
            if (i < 0) return;
            _retiredExactLookups += stats.ExactLookupCount;
            _retiredExactMatched += stats.ExactMatchedCount;
            _retiredWildcardLookups += stats.WildcardLookupCount;
            _retiredWildcardMatched += stats.WildcardMatchedCount;
            _threadStats = Array.FindAll(_threadStats, x => !ReferenceEquals(x, stats));
        }
    }

    /// <summary>Timer-wheel work counter (entries examined by <see cref="Expire"/>), for tests.</summary>
    internal long TimerVisits => _wheel.Visits;
    internal int TimerTracked => _wheel.Tracked;
}
