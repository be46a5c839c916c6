using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// One classifier of the datapath's <see cref="Pipeline"/>: rules of (mask, value, priority, actions), each with an
/// optional idle and hard timeout and an opaque <see cref="FlowEntry.Owner"/>; for a packet key, the highest-priority
/// rule whose masked value it matches. Mechanism only: it knows no protocol, flags, cookies or table numbers.
/// </summary>
/// <remarks>
/// <para><b>Stages</b>: rules whose mask is all ones (<see cref="FlowMatch.IsExact"/>) live in a hash table (one
/// probe per packet), all others in the tuple space (one hashed subtable per mask, see <see cref="TupleSpace"/>);
/// the hash stage is an optimisation, not a rank: a packet's winner is the highest priority over both. Ties: a rule
/// of the hash stage beats an equal-priority wildcard rule (it is the more specific); among equal-priority wildcard
/// rules, the one in the subtable that comes first in the tuple space's order wins (see <see cref="TupleSpace"/>).
/// The hash stage holds one rule per key; a second all-ones rule with the same value and another priority goes to
/// the tuple space, and so does one replacing an identical rule there (a rule replaces its identical one in place).
/// Lookups consult the tuple space after a hash-stage hit only when it holds a higher priority, so when every all-ones
/// rule has the top priority (what an OpenFlow 1.0 policy installs) a hash hit ends the search.
/// In front of both, each forwarding thread may keep an <see cref="ExactMatchCache"/> of lookup results.</para>
/// <para><b>Writers</b> go through <see cref="Write"/>: one writer at a time (a lock), any number of inserts, removals
/// and action swaps, published when the scope ends (the tuple space's search order once, the versions once, then the
/// observers). <see cref="Expire"/> is a writer too. <see cref="WriteScope.Insert"/> replaces a rule with identical match and
/// priority (the old one is reported removed with reason Delete). <see cref="WriteScope.Remove(List{FlowEntry})"/> removes
/// losers first (ascending priority, hash-stage rules after wildcard rules of equal priority, equal-priority wildcard
/// rules in reverse search order), so any one lookup racing a multi-rule removal returns either what it returned
/// before or what it returns after (up to ties while the search order is republished).</para>
/// <para><b>Readers</b> never lock: every entry is fully built before a single reference store publishes it; a
/// replacement is one store into the same slot; <see cref="WriteScope.SetActions"/> swaps a rule's whole action list. Lookups
/// racing a writer may return an entry it has just removed (it is then <see cref="FlowEntry.IsRemoved"/>); entries are
/// never mutated in place except for their action list and counters, and a removed entry is either left to the GC or,
/// when the table recycles (below), given a new incarnation only after its grace period.
/// <see cref="Trace"/> is a reader too (diagnostics): <see cref="Lookup"/>'s answer plus the stage, with no counter touched.</para>
/// <para><b>Action lists</b> are shared: <see cref="WriteScope.Insert"/> and <see cref="WriteScope.SetActions"/> store the
/// <see cref="ActionInterner"/>'s list equal to the rule's (immutable, so sharing is safe), so many rules with few
/// distinct action lists keep them hot in the cache.</para>
/// <para><b>Versions</b>: <see cref="Version"/> is bumped once per published change. <see cref="CacheVersion"/> is
/// what cached lookup results are valid for: bumped when an insert could change some key's winner (a new rule, not a
/// replacement), drawn from one process-wide sequence so that no two tables ever share a value (a cache that
/// outlives a table swap can never validate an entry against the wrong table). Readers load it before any table
/// state, so a cached result is never newer than its version. Cached pipeline results check finer versions: each
/// (mask, priority) class of rules has its own, moved only by the changes that could take a key from that class's
/// rules (<see cref="ShadowClass"/>), and the table's <see cref="MissClass"/> moves with every add, so a flow-mod
/// stales only the verdicts it could change.</para>
/// <para><b>Hashes</b>: the per-packet hash given to <see cref="LookupBurst"/> only indexes the EMC (any well-mixed
/// hash, e.g. <see cref="FlowKey.Hash"/> or a NIC's); the stages hash masked keys themselves.</para>
/// <para><b>Recycling</b> (<see cref="RecycleEntries"/>, off by default): so that churn allocates nothing, writers take
/// entries from <see cref="WriteScope.NewEntry"/>, and every entry the table removes (delete, replace, expiry) is
/// retired with the <see cref="Reclamation"/> domain's current epoch, instead of being left to the GC. A retired entry
/// is given a new incarnation (<see cref="FlowEntry.Reinitialize"/>) by a later <see cref="WriteScope.NewEntry"/>
/// only once the domain's safe epoch has passed its retire epoch: every forwarding thread has passed a quiescent
/// point, and every hold taken by a control thread before then is given back, since the removal (the invariant is
/// <see cref="QuiescentDomain"/>'s). The epoch is advanced once per published write that retired something. So a
/// reader that found a rule in the table never sees it change identity before its next quiescent point, and a cache
/// slot that keeps it longer tells incarnations apart by <see cref="FlowEntry.Serial"/>. Only a table without
/// observers pools its entries (an observer, e.g. offload, keeps rules beyond any hold), at most
/// <see cref="MaxPooledEntries"/> of them (the rest are left to the GC). Whoever enables recycling vouches that every
/// thread keeping rules this table hands out (lookups, write-scope queries, removal reports) is a registered reader or
/// keeps them inside a hold.</para>
/// </remarks>
[SkipLocalsInit]
public sealed class FlowTable
{
    /// <summary>The highest priority; an all-ones rule at it can never be shadowed (<see cref="FlowEntry.IsUnshadowable"/>).</summary>
    public const ushort MaxPriority = ushort.MaxValue;

    /// <summary>The most removed entries a recycling table keeps for reuse (retired and free together).</summary>
    public const int MaxPooledEntries = 65_536;

    /// <summary>The most (mask, priority) classes a table tracks for cached pipeline results (see <see cref="ShadowClass"/>).</summary>
    public const int MaxShadowClasses = 1024;

    private static long s_cacheVersions;

    private readonly IClock _clock;
    private readonly QuiescentDomain _domain;
    private readonly Lock _writeLock = new();
    /// <summary>Writer-private: <see cref="Hold"/>s not yet ended (the lock holder's; scopes within publish nothing).</summary>
    private int _holds;
    private readonly ActionInterner _interner = new();

    // Read by lookups.
    private readonly ExactTable _exact = new();
    private readonly TupleSpace _tuple = new();
    private long _cacheVersion = Interlocked.Increment(ref s_cacheVersions);
    private volatile int _exactBelowMax; // hash-stage rules below MaxPriority: lookups must also ask the tuple space
    private volatile bool _inPortShaped = true; // published: no hash-stage rule, every subtable's mask within in_port
    private bool _tupleInPortShaped = true; // writer: every subtable of the last published order within in_port

    // Writer-private state.
    private readonly TimerWheel _wheel;
    private long _version;
    private bool _changed;
    private bool _invalidateCaches;
    private readonly List<(FlowEntry Entry, FlowRemovedReason Reason)> _due = new();
    private IFlowTableObserver[] _observers = [];
    private readonly List<ObserverEvent> _events = new();
    private bool _flushing;
    private bool _recycle;
    private bool _retiredInScope;
    private readonly Queue<FlowEntry> _retired = new(); // retire epochs ascending
    private readonly Stack<FlowEntry> _free = new();    // past their grace period
    private long _safeEpoch;                            // the domain's safe epoch when last asked
    private long _recycledCount;

    // Shadow classes (see ShadowClass): writer-private but for each class's version.
    private readonly Dictionary<(FlowKey Mask, ushort Priority), ShadowClass> _classes = new();
    private readonly ShadowClass _missClass = new(default, -1, 0);
    private readonly List<ShadowClass> _scopeClasses = new(); // flagged AddedInScope or BumpInScope
    private int _addMaxPriority = -1;   // the highest priority added in the scope
    private int _addedAtMax;            // distinct classes added at that priority
    private bool _overflowAddAtMax;     // a rule without a class of its own was added at that priority
    private bool _bumpMiss, _bumpAll;
    private bool _removedInScope;
    private long _removals;
    private readonly TableVersions _published = new(); // _version and _removals as readers see them

    /// <param name="clock">Timestamps of rules and expiry (default: the monotonic clock).</param>
    /// <param name="domain">The reclamation domain of the readers of this table (default: one of its own, with none).</param>
    public FlowTable(IClock? clock = null, QuiescentDomain? domain = null)
    {
        _clock = clock ?? MonotonicClock.Instance;
        _domain = domain ?? new QuiescentDomain();
        _wheel = new TimerWheel(_clock.NowNanos);
    }

    public IClock Clock => _clock;

    /// <summary>This table's id in its <see cref="Pipeline"/>'s stages (0..254), or -1 for a table outside them (e.g. a standby table).</summary>
    public int StageId { get; internal set; } = -1;

    /// <summary>The pipeline's <see cref="Pipeline.Changes"/> when this table is one of its stages: moved after each published change.</summary>
    internal ShadowClass? PipelineChanges { get; init; }

    private volatile TableMissMode _missMode;

    /// <summary>
    /// What a packet no rule of this table matches does when the table is a stage of a multi-table pipeline (see
    /// <see cref="TableMissMode"/>; default <see cref="TableMissMode.Controller"/>, OpenFlow 1.0's table 0). Setting it
    /// is a published change (a writer scope): cached pipeline results that saw this table are stale at once.
    /// </summary>
    public TableMissMode MissMode
    {
        get => _missMode;
        set
        {
            using var w = Write();
            if (_missMode == value) return;
            _missMode = value;
            _bumpMiss = true;
            _changed = true;
        }
    }

    /// <summary>The domain whose readers and holds decide when a removed entry may be reused (see the type remarks).</summary>
    public QuiescentDomain Reclamation => _domain;

    /// <summary>
    /// Whether removed entries are reused by <see cref="WriteScope.NewEntry"/> after their grace period (see the
    /// type remarks); off by default. Turning it off drops the pooled entries.
    /// </summary>
    public bool RecycleEntries
    {
        get => Volatile.Read(ref _recycle);
        set
        {
            lock (_writeLock)
            {
                _recycle = value;
                if (!value)
                {
                    _retired.Clear();
                    _free.Clear();
                }
            }
        }
    }

    /// <summary>Removed entries kept for reuse (retired or free).</summary>
    public int PooledEntryCount
    {
        get
        {
            lock (_writeLock) return _retired.Count + _free.Count;
        }
    }

    /// <summary>Entries <see cref="WriteScope.NewEntry"/> took from the pool instead of allocating.</summary>
    public long RecycledCount => Volatile.Read(ref _recycledCount);

    /// <summary>Bumped once per published change (per write scope or expiry pass that changed something).</summary>
    public long Version => _published.Version;

    /// <summary>The version cached lookup results must carry to be valid (see the type remarks).</summary>
    public long CacheVersion => Volatile.Read(ref _cacheVersion);

    /// <summary>
    /// Bumped once per published write that removed or replaced a rule (expiry included): a cached pipeline result
    /// reads a rule it hit only when this moved (<see cref="PipelineVerdict.IsCurrent"/>).
    /// </summary>
    public long Removals => _published.Removals;

    /// <summary><see cref="Version"/> and <see cref="Removals"/> on a line of their own (what cached pipeline results keep to check).</summary>
    public TableVersions Published => _published;

    /// <summary>
    /// The class cached pipeline results that missed in this table check (<see cref="ShadowClass"/>): bumped by every
    /// added rule and by a change of <see cref="MissMode"/>.
    /// </summary>
    public ShadowClass MissClass => _missClass;

    /// <summary>Shadow classes the table tracks (tests and diagnostics).</summary>
    internal int ShadowClassCount
    {
        get
        {
            lock (_writeLock) return _classes.Count;
        }
    }

    /// <summary>Rules in the table.</summary>
    public int Count => _exact.Count + _tuple.Count;

    /// <summary>Rules in the hash stage (all-ones masks).</summary>
    public int ExactCount => _exact.Count;

    /// <summary>Rules in the tuple space (every other mask, and all-ones rules sharing a key with a hash-stage rule).</summary>
    public int WildcardCount => _tuple.Count;

    /// <summary>Wildcard subtables (distinct masks) in the published search order.</summary>
    public int WildcardSubtableCount => _tuple.PublishedSubtableCount;

    /// <summary>
    /// The table's current shape, republished with every change: <see cref="LookupShape.InPortOnly"/> when no rule
    /// looks at anything but the in_port (every mask within the in_port field, no all-ones rule), so one lookup
    /// answers every packet received on a port (<see cref="TryLookupByInPort"/>); otherwise
    /// <see cref="LookupShape.General"/>.
    /// </summary>
    public LookupShape Shape => _inPortShaped ? LookupShape.InPortOnly : LookupShape.General;

    // ================================================================ readers

    /// <summary>
    /// Reader, the forwarders' lookup for an <see cref="LookupShape.InPortOnly"/> table: the winning rule for every
    /// key of <paramref name="count"/> packets that share <paramref name="key"/>'s in_port. Returns false (and the
    /// caller looks the packets up one by one) when the table has left that shape, or when the rule found looks at
    /// more than the in_port (a writer changed the table meanwhile): a rule is never applied to a packet it does not
    /// match. A race with a writer otherwise gives what <see cref="LookupBurst"/> gives: the state before or after.
    /// Counted in <paramref name="stats"/> as <paramref name="count"/> lookups.
    /// </summary>
    public bool TryLookupByInPort(in FlowKey key, int count, out FlowEntry? winner, FlowTableThreadStats? stats = null)
    {
        winner = null;
        if (!_inPortShaped) return false;
        var e = _tuple.Lookup(key);
        if (e is not null && !WithinInPort(e.Match.Mask)) return false;
        winner = e;
        if (stats is not null)
        {
            stats.ExactLookups += count;
            stats.WildcardLookups += count;
            if (e is not null) stats.WildcardMatched += count;
        }
        return true;
    }

    /// <summary>Whether <paramref name="mask"/> selects no bit outside the in_port field.</summary>
    private static bool WithinInPort(in FlowKey mask)
        => ((mask.W0 & ~s_inPortMask.W0) | mask.W1 | mask.W2 | mask.W3 | mask.W4 | mask.W5
          | mask.W6 | mask.W7 | mask.W8 | mask.W9 | mask.W10 | mask.W11 | mask.W12 | mask.W13 | mask.W14 | mask.W15) == 0;

    private static readonly FlowKey s_inPortMask = new FlowKeyBuilder().InPort(0xFFFF).Key;

    /// <summary>Reader: the winning rule for one packet key, without cache, counted in <paramref name="stats"/> when given.</summary>
    public FlowEntry? Lookup(in FlowKey key, FlowTableThreadStats? stats = null)
    {
        var e = _exact.Count != 0 ? _exact.Lookup(key) : null;
        if (e is not null)
        {
            if (stats is not null)
            {
                stats.ExactLookups++;
                stats.ExactMatched++;
            }
            if (_exactBelowMax != 0 && e.Priority < _tuple.PublishedMaxPriority)
            {
                var w = _tuple.Lookup(key);
                if (w is not null && w.Priority > e.Priority) e = w;
            }
            return e;
        }
        e = _tuple.Lookup(key);
        if (stats is not null)
        {
            stats.ExactLookups++;
            stats.WildcardLookups++;
            if (e is not null) stats.WildcardMatched++;
        }
        return e;
    }

    /// <summary>
    /// Reader, for diagnostics (ofproto/trace): the rule <see cref="Lookup"/> would return for <paramref name="key"/>,
    /// and which stage found it (with the tuple-space subtable's mask). Touches no counter, cache or rule.
    /// </summary>
    public LookupTrace Trace(in FlowKey key)
    {
        var e = _exact.Count != 0 ? _exact.Lookup(key) : null;
        if (e is not null)
        {
            if (_exactBelowMax != 0 && e.Priority < _tuple.PublishedMaxPriority)
            {
                var w = _tuple.Trace(key, out var wMask, out int wProbed);
                if (w is not null && w.Priority > e.Priority) return new LookupTrace(w, LookupStage.TupleSpace, wMask, wProbed);
            }
            return new LookupTrace(e, LookupStage.Hash, e.Match.Mask, 0);
        }
        var t = _tuple.Trace(key, out var mask, out int probed);
        return t is null ? new LookupTrace(null, LookupStage.None, default, probed) : new LookupTrace(t, LookupStage.TupleSpace, mask, probed);
    }

    /// <summary>
    /// Reader, the forwarders' lookup: for each key, the cache (when given), then the hash stage, then the tuple space
    /// (subtable-major over the burst). <paramref name="results"/>[i] is the winning rule or null. Stage hits are
    /// offered to the cache. No allocation.
    /// </summary>
    /// <param name="hashes">Per-packet hashes (any well-mixed hash; only the cache uses them).</param>
    /// <param name="cache">This thread's cache, or null.</param>
    /// <param name="stats">This thread's counters, or null.</param>
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
        // The cache version is read before any table state, so a cached wildcard result is never newer than it.
        long cacheVersion = Volatile.Read(ref _cacheVersion);
        ulong pending = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
        long exactLookups = 0, exactMatched = 0, wildLookups = 0, wildMatched = 0;

        if (cache is not null)
        {
            // Three passes so the cache misses of a burst overlap: prefetch every set, then find the candidates
            // and prefetch their flows, then validate.
            ref FlowKey k0 = ref MemoryMarshal.GetReference(keys);
            ref uint h0 = ref MemoryMarshal.GetReference(hashes);
            ref FlowEntry? r0 = ref MemoryMarshal.GetReference(results);
            Span<long> slots = BurstScratch.ForThread.CacheSlots;
            for (int i = 0; i < n; i++) cache.PrefetchSet(Unsafe.Add(ref h0, i));
            for (int i = 0; i < n; i++)
            {
                var c = cache.Candidate(Unsafe.Add(ref k0, i), Unsafe.Add(ref h0, i), out slots[i]);
                Unsafe.Add(ref r0, i) = c;
                c?.PrefetchStateLine();
            }
            for (int i = 0; i < n; i++)
            {
                var f = Unsafe.Add(ref r0, i);
                if (!cache.Validate(f, slots[i], cacheVersion))
                {
                    Unsafe.Add(ref r0, i) = null;
                    continue;
                }
                pending &= ~(1UL << i);
                if (f!.InExactStage)
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
            exactLookups += BitOperations.PopCount(pending);
            if (_exact.Count != 0)
            {
                exactMatched += _exact.LookupBurst(keys, ref pending, results);
                if (_exactBelowMax != 0) ResolveExactBelowMax(keys, missed & ~pending, results);
            }
            if (pending != 0)
            {
                wildLookups += BitOperations.PopCount(pending);
                ulong found = _tuple.LookupBurst(keys, pending, results);
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

    /// <summary>Hash-stage hits below the tuple space's top priority: a wildcard rule may outrank them.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ResolveExactBelowMax(ReadOnlySpan<FlowKey> keys, ulong hits, Span<FlowEntry?> results)
    {
        int top = _tuple.PublishedMaxPriority;
        for (ulong b = hits; b != 0; b &= b - 1)
        {
            int i = BitOperations.TrailingZeroCount(b);
            var e = results[i]!;
            if (e.Priority >= top) continue;
            var w = _tuple.Lookup(keys[i]);
            if (w is not null && w.Priority > e.Priority) results[i] = w;
        }
    }

    // ================================================================ writers

    /// <summary>Starts a write: takes the writer lock; disposing the scope publishes everything it did and releases the lock.</summary>
    public WriteScope Write()
    {
        _writeLock.Enter();
        return new WriteScope(this);
    }

    /// <summary>
    /// Takes the writer lock and keeps it, with everything written meanwhile unpublished, until <see cref="Unhold"/>:
    /// write scopes this thread starts in between publish nothing when they end, so a run of changes (a controller's
    /// flow-mods read together) moves the table's versions, and cached pipeline results, once. The caller holds no
    /// other table's lock unless it keeps an order that no other writer breaks (see <c>OfFlowTables.BeginRun</c>).
    /// </summary>
    public void Hold()
    {
        _writeLock.Enter();
        _holds++;
    }

    /// <summary>Ends a <see cref="Hold"/>: publishes everything written since (the last hold ended) and releases the lock.</summary>
    public void Unhold()
    {
        if (!_writeLock.IsHeldByCurrentThread || _holds == 0) throw new InvalidOperationException("the table is not held by this thread");
        try
        {
            if (--_holds == 0) PublishLocked();
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    /// <summary>
    /// The writer's handle (see <see cref="Write"/>). Queries made through it see the writer's own changes at once;
    /// lookups see them when the scope ends (rules are visible earlier, never half-built).
    /// </summary>
    public readonly ref struct WriteScope
    {
        private readonly FlowTable _table;

        internal WriteScope(FlowTable table) => _table = table;

        public FlowTable Table => _table;

        /// <summary>
        /// A new rule, not yet inserted: a recycled entry past its grace period when the table recycles and has one,
        /// else a new one. Insert it (or drop it) within this scope.
        /// </summary>
        public FlowEntry NewEntry(in FlowMatch match, ushort priority, FlowActions actions, ushort idleTimeout, ushort hardTimeout,
                                  long createdNanos, object? owner = null, ulong tag = 0, ushort? requestedPriority = null)
            => _table.NewEntryLocked(match, priority, actions, idleTimeout, hardTimeout, createdNanos, owner, tag,
                                     requestedPriority ?? priority);

        /// <summary>Inserts a fully built rule; returns the rule with identical match and priority it replaced, or null.</summary>
        public FlowEntry? Insert(FlowEntry entry) => _table.InsertLocked(entry);

        /// <summary>Removes one rule (reason Delete); false when it is not in the table.</summary>
        public bool Remove(FlowEntry entry) => _table.RemoveLocked(entry);

        /// <summary>Removes these rules, losers first (see the type remarks); the list is reordered.</summary>
        public void Remove(List<FlowEntry> entries) => _table.RemoveManyLocked(entries);

        /// <summary>Swaps a rule's whole action list (readers see the old or the new list, never a mix).</summary>
        public void SetActions(FlowEntry entry, FlowActions actions) => _table.SetActionsLocked(entry, actions);

        /// <summary>
        /// Swaps a rule's whole instruction set (<see cref="FlowEntry.Instructions"/>; null: apply-actions only), before
        /// or after its insertion; a published change (cached pipeline results through this table are stale at once).
        /// </summary>
        public void SetInstructions(FlowEntry entry, FlowInstructions? instructions) => _table.SetInstructionsLocked(entry, instructions);

        /// <summary>Replaces a rule's <see cref="FlowEntry.Tag"/> (not an observed change: the datapath does not read it).</summary>
        public void SetTag(FlowEntry entry, ulong tag) => entry.SetTag(tag);

        /// <summary>The rule with exactly this match and priority, or null.</summary>
        public FlowEntry? Find(in FlowMatch match, ushort priority) => _table.FindLocked(match, priority);

        /// <summary>Appends every rule whose match is a subset of <paramref name="request"/> (any priority).</summary>
        public void CollectSubsets(in FlowMatch request, List<FlowEntry> into) => _table.CollectSubsetsLocked(request, into);

        /// <summary>Appends every rule with exactly this match, whatever its priority.</summary>
        public void CollectIdentical(in FlowMatch match, List<FlowEntry> into) => _table.CollectIdenticalLocked(match, into);

        /// <summary>True when a rule of this priority overlaps <paramref name="match"/> (some packet could match both).</summary>
        public bool HasOverlap(in FlowMatch match, ushort priority) => _table.HasOverlapLocked(match, priority);

        public void Dispose()
        {
            try
            {
                // Within a hold (Hold) the hold's end publishes.
                if (_table._holds == 0) _table.PublishLocked();
            }
            finally
            {
                _table._writeLock.Exit();
            }
        }
    }

    /// <summary>
    /// Removes every rule whose idle or hard timeout has passed at the clock's current time, appending them (reason
    /// IdleTimeout or HardTimeout; hard wins when both are due) to <paramref name="removed"/>. Returns how many.
    /// </summary>
    public int Expire(List<FlowRemoved> removed)
    {
        using var w = Write();
        long now = _clock.NowNanos;
        _due.Clear();
        _wheel.Advance(now, _due);
        foreach (var (e, reason) in _due)
        {
            bool ok = RemoveFromStage(e);
            Debug.Assert(ok, "a timed rule is in the table until it expires or is removed");
            e.MarkRemoved();
            removed.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
            Notify(ObserverEventKind.Removed, e, reason);
            Retire(e);
        }
        int count = _due.Count;
        _due.Clear();
        if (count > 0) _changed = true;
        return count;
    }

    /// <summary>Appends every rule (a consistent snapshot, taken under the writer lock).</summary>
    public void Snapshot(List<FlowEntry> into)
    {
        using var w = Write();
        CollectSubsetsLocked(FlowMatch.All, into);
    }

    /// <summary>Registers an observer: told, in order, about every published insert, action swap and removal.</summary>
    public void AddObserver(IFlowTableObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_writeLock) _observers = [.. _observers, observer];
    }

    public void RemoveObserver(IFlowTableObserver observer)
    {
        lock (_writeLock) _observers = Array.FindAll(_observers, o => !ReferenceEquals(o, observer));
    }

    private FlowEntry? InsertLocked(FlowEntry entry)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        // Not yet published: its action list may still be swapped for the shared equal one.
        entry.SetActions(_interner.Intern(entry.Actions));
        // Its class before it is visible: a lookup that finds it reads the class (see ShadowClass).
        var cls = ClassFor(entry.Match, entry.Priority);
        entry.Shadow = cls;
        cls.Rules++;
        FlowEntry? replaced;
        if (entry.Match.IsExact)
        {
            var existing = _exact.FindForInsert(entry.Match.Value, out int slot, out uint hash);
            // A free hash slot does not mean a new rule: an identical rule may sit in the tuple space (it went there
            // while the slot held another priority); the new one replaces it there.
            if (existing is null ? _tuple.Find(entry.Match, entry.Priority) is null : existing.Priority == entry.Priority)
            {
                entry.InExactStage = true;
                _exact.InsertAt(slot, hash, entry);
                if (entry.Priority != MaxPriority) _exactBelowMax++;
                if (existing is not null && existing.Priority != MaxPriority) _exactBelowMax--;
                replaced = existing;
            }
            else
            {
                replaced = _tuple.Insert(entry);
            }
        }
        else
        {
            replaced = _tuple.Insert(entry);
        }
        if (replaced is not null)
        {
            // Same match and priority, so the new rule wins exactly where the old one did: no cache invalidation;
            // cache slots and verdicts holding the old rule fail its IsRemoved test.
            if (replaced.Shadow is { } old) old.Rules--;
            replaced.MarkRemoved();
            _removedInScope = true;
            if (TimerWheel.HasTimeout(replaced)) _wheel.NoteRemoved();
            Notify(ObserverEventKind.Removed, replaced, FlowRemovedReason.Delete);
            Retire(replaced);
        }
        else
        {
            _invalidateCaches = true;
            NoteAdd(entry.Priority, cls);
        }
        if (TimerWheel.HasTimeout(entry)) _wheel.Add(entry);
        Notify(ObserverEventKind.Added, entry, default);
        _changed = true;
        return replaced;
    }

    private bool RemoveLocked(FlowEntry entry)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        if (!RemoveFromStage(entry)) return false;
        entry.MarkRemoved();
        if (TimerWheel.HasTimeout(entry)) _wheel.NoteRemoved();
        Notify(ObserverEventKind.Removed, entry, FlowRemovedReason.Delete);
        Retire(entry);
        _changed = true;
        return true;
    }

    /// <summary>Writer: a removed entry enters the pool, tagged with the current epoch (see the type remarks).</summary>
    private void Retire(FlowEntry e)
    {
        if (!_recycle || _observers.Length != 0 || _retired.Count + _free.Count >= MaxPooledEntries) return;
        e.RetiredEpoch = _domain.CurrentEpoch;
        _retired.Enqueue(e);
        _retiredInScope = true;
    }

    private FlowEntry NewEntryLocked(in FlowMatch match, ushort priority, FlowActions actions, ushort idleTimeout, ushort hardTimeout,
                                     long createdNanos, object? owner, ulong tag, ushort requestedPriority)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        if (_recycle && (_free.Count != 0 || Reclaim()))
        {
            var e = _free.Pop();
            e.Reinitialize(match, priority, actions, idleTimeout, hardTimeout, createdNanos, owner, tag, requestedPriority);
            _recycledCount++;
            return e;
        }
        return new FlowEntry(match, priority, actions, idleTimeout, hardTimeout, createdNanos, owner, tag, requestedPriority);
    }

    /// <summary>Writer: moves the retired entries past their grace period to the free list; true when it has one.</summary>
    private bool Reclaim()
    {
        if (_retired.Count == 0) return false;
        // The domain is asked again only when the oldest retired entry is not known to be safe already.
        if (_retired.Peek().RetiredEpoch >= _safeEpoch) _safeEpoch = _domain.SafeEpoch();
        while (_retired.Count != 0 && _retired.Peek().RetiredEpoch < _safeEpoch) _free.Push(_retired.Dequeue());
        return _free.Count != 0;
    }

    private void RemoveManyLocked(List<FlowEntry> entries)
    {
        // Losers first: a concurrent lookup then sees either the pre- or the post-removal winner.
        if (entries.Count > 1) entries.Sort(_tuple.RemovalOrder);
        foreach (var e in entries)
        {
            bool ok = RemoveLocked(e);
            Debug.Assert(ok);
        }
    }

    private bool RemoveFromStage(FlowEntry e)
    {
        if (e.InExactStage)
        {
            if (!_exact.Remove(e)) return false;
            if (e.Priority != MaxPriority) _exactBelowMax--;
        }
        else if (!_tuple.Remove(e))
        {
            return false;
        }
        // Removing a rule takes no key from another (see ShadowClass): no class moves; verdicts that hit it see Removals move.
        if (e.Shadow is { } c) c.Rules--;
        _removedInScope = true;
        return true;
    }

    /// <summary>Writer: the shadow class of rules of this mask and priority (created on first use; the miss class past the cap).</summary>
    private ShadowClass ClassFor(in FlowMatch match, ushort priority)
    {
        var key = (match.Mask, priority);
        if (_classes.TryGetValue(key, out var c)) return c;
        if (_classes.Count >= MaxShadowClasses)
        {
            // Classes with no rule left can go: a verdict that still holds one hit a rule that is removed.
            foreach (var (k, v) in _classes)
                if (v.Rules == 0 && !v.AddedInScope && !v.BumpInScope) _classes.Remove(k);
            if (_classes.Count >= MaxShadowClasses) return _missClass;
        }
        // Born at the version this scope publishes: a reader that finds a rule of it before then records it as stale.
        c = new ShadowClass(match.Mask, priority, _version + 1);
        _classes.Add(key, c);
        return c;
    }

    /// <summary>Writer: a new rule (not a replacement) of <paramref name="cls"/> at <paramref name="priority"/> (see <see cref="PublishClasses"/>).</summary>
    private void NoteAdd(int priority, ShadowClass cls)
    {
        _bumpMiss = true;
        if (priority > _addMaxPriority)
        {
            _addMaxPriority = priority;
            _addedAtMax = 0;
            _overflowAddAtMax = false;
        }
        if (cls.IsMissClass)
        {
            if (priority == _addMaxPriority) _overflowAddAtMax = true;
            return;
        }
        if (cls.AddedInScope) return;
        if (priority == _addMaxPriority) _addedAtMax++;
        if (!cls.BumpInScope) _scopeClasses.Add(cls);
        cls.AddedInScope = true;
    }

    /// <summary>Writer: <paramref name="e"/>'s actions or instructions change (verdicts that hit it composed the old ones).</summary>
    private void NoteSwap(FlowEntry e)
    {
        var c = e.Shadow;
        if (c is null || c.BumpInScope) return;
        if (c.IsMissClass)
        {
            _bumpMiss = true;
            return;
        }
        if (!c.AddedInScope) _scopeClasses.Add(c);
        c.BumpInScope = true;
    }

    /// <summary>
    /// Writer, when a scope publishes version <paramref name="version"/>: bumps every class the scope's changes could
    /// take a key from (see <see cref="ShadowClass"/>): below the highest priority added, at it when a rule of
    /// another class was added there, every class whose rule had its actions or instructions swapped, the miss class
    /// after an add or a miss-mode change, and all of them when the tie order may have moved.
    /// </summary>
    private void PublishClasses(long version)
    {
        if (_bumpAll)
        {
            foreach (var c in _classes.Values) c.Bump(version);
            _missClass.Bump(version);
        }
        else
        {
            if (_bumpMiss) _missClass.Bump(version);
            int max = _addMaxPriority;
            if (max >= 0)
            {
                foreach (var c in _classes.Values)
                {
                    if (c.Priority < max || (c.Priority == max && (_overflowAddAtMax || _addedAtMax > (c.AddedInScope ? 1 : 0))))
                        c.Bump(version);
                }
            }
            foreach (var c in _scopeClasses)
                if (c.BumpInScope) c.Bump(version);
        }
        foreach (var c in _scopeClasses) c.AddedInScope = c.BumpInScope = false;
        _scopeClasses.Clear();
        _addMaxPriority = -1;
        _addedAtMax = 0;
        _overflowAddAtMax = _bumpMiss = _bumpAll = false;
    }

    private void SetActionsLocked(FlowEntry entry, FlowActions actions)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        entry.SetActions(_interner.Intern(actions));
        NoteSwap(entry);
        Notify(ObserverEventKind.Modified, entry, default);
        _changed = true;
    }

    private void SetInstructionsLocked(FlowEntry entry, FlowInstructions? instructions)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        entry.SetInstructions(instructions);
        NoteSwap(entry);
        _changed = true;
    }

    private FlowEntry? FindLocked(in FlowMatch match, ushort priority)
    {
        if (match.IsExact)
        {
            var e = _exact.Find(match.Value);
            if (e is not null && e.Priority == priority) return e;
        }
        return _tuple.Find(match, priority);
    }

    private void CollectSubsetsLocked(in FlowMatch request, List<FlowEntry> into)
    {
        _exact.CollectSubsets(request, into);
        _tuple.CollectSubsets(request, into);
    }

    private void CollectIdenticalLocked(in FlowMatch match, List<FlowEntry> into)
    {
        if (match.IsExact && _exact.Find(match.Value) is { } e) into.Add(e);
        _tuple.CollectIdentical(match, into);
    }

    private bool HasOverlapLocked(in FlowMatch match, ushort priority)
    {
        if (_tuple.HasOverlap(match, priority)) return true;
        if (_exact.Count == 0) return false;
        if (_exactBelowMax == 0)
            return priority == MaxPriority && _exact.HasOverlap(match);
        var scratch = new List<FlowEntry>();
        _exact.CollectSubsets(FlowMatch.All, scratch);
        foreach (var e in scratch)
            if (e.Priority == priority && e.Match.Overlaps(match)) return true;
        return false;
    }

    private void PublishLocked()
    {
        if (_tuple.Publish(out bool maxLowered))
        {
            // The search order is the tie rule among equal-priority wildcard rules, and a removal that lowers a
            // remaining subtable's max priority can move it behind another: a tie's cached winner may be stale then.
            // (Inserts invalidate anyway; a removal that empties a subtable leaves the others' order as it was.)
            if (maxLowered)
            {
                _invalidateCaches = true;
                _bumpAll = true;
            }
            bool within = true;
            foreach (var mask in _tuple.PublishedMasks()) within &= WithinInPort(mask);
            _tupleInPortShaped = within;
        }
        bool shaped = _tupleInPortShaped && _exact.Count == 0;
        if (shaped != _inPortShaped) _inPortShaped = shaped;
        if (_invalidateCaches)
        {
            Volatile.Write(ref _cacheVersion, Interlocked.Increment(ref s_cacheVersions));
            _invalidateCaches = false;
        }
        if (_changed)
        {
            // Classes first: a class version is never above the table version that follows it (see ShadowClass).
            PublishClasses(_version + 1);
            if (_removedInScope)
            {
                // After the removed entries were marked: a reader that sees the count move finds them removed.
                _published.PublishRemovals(++_removals);
                _removedInScope = false;
            }
            _published.PublishVersion(++_version);
            PipelineChanges?.Increment(); // last: a cached result validated at the old count looks again
            _changed = false;
        }
        if (_retiredInScope)
        {
            // The entries retired in this scope are unlinked: their epoch ends (a full fence).
            _domain.Advance();
            _retiredInScope = false;
        }
        if (_events.Count > 0 && !_flushing) FlushEvents();
    }

    private void Notify(ObserverEventKind kind, FlowEntry e, FlowRemovedReason reason)
    {
        if (_observers.Length != 0) _events.Add(new ObserverEvent(kind, e, reason));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FlushEvents()
    {
        // Observers may query the table (the lock is reentrant; a nested scope must not flush the same events again).
        _flushing = true;
        try
        {
            FlushEventsCore();
        }
        finally
        {
            _flushing = false;
        }
    }

    private void FlushEventsCore()
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

    /// <summary>Timer-wheel work counter (entries examined by <see cref="Expire"/>), for tests.</summary>
    internal long TimerVisits => _wheel.Visits;
    internal int TimerTracked => _wheel.Tracked;
}
