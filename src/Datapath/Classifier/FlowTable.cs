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
/// All-ones rules live in a hash stage, the others in the <see cref="TupleSpace"/>; the winner is the highest priority
/// over both, with fixed ties. One writer at a time (<see cref="Write"/>, published when the scope ends); readers never
/// lock and may see an entry just removed (<see cref="FlowEntry.IsRemoved"/>). An atomic batch's rules are versioned:
/// a lookup sees the rules visible at the <see cref="TablesVersion"/> it is given or reads (<see cref="Hold(long)"/>,
/// docs/datapath.md, "Atomic batches"). With <see cref="RecycleEntries"/>, a removed entry is reused only after its
/// <see cref="QuiescentDomain"/> grace period.
/// Design: docs/datapath.md, "One table".
/// </remarks>
[SkipLocalsInit]
public sealed partial class FlowTable
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
    /// <summary>Writer-private: <see cref="Hold()"/>s not yet ended (the lock holder's; scopes within publish nothing).</summary>
    private int _holds;
    private readonly ActionInterner _interner = new();

    // Read by lookups.
    // The hash stage: its rules as records (created at the first), its only index. The single-table forwarding path looks
    // up, counts and reads the action list there without touching the entry (see LookupBurst's record form); every other
    // reader finds the rule through the record's slot.
    private ExactRecordTable? _records;
    private readonly TupleSpace _tuple = new();
    private long _cacheVersion = Interlocked.Increment(ref s_cacheVersions);
    private volatile int _exactBelowMax; // hash-stage rules below MaxPriority: lookups must also ask the tuple space
    private volatile bool _inPortShaped = true; // published: no hash-stage rule, every subtable's mask within in_port
    private bool _tupleInPortShaped = true; // writer: every subtable of the last published order within in_port
    // Conjunctive matches: set (by the writer, before such a rule is visible) while some rule is a clause (its actions
    // only conjunction(...)), cleared when a publication finds none left. Lookups then combine clauses (LookupConjunctive).
    private volatile bool _conjunctive;
    private int _softRules; // writer: rules whose actions are conjunctive
    private readonly ShadowClass _conjClass = new(default, -1, 0);

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
    private readonly Dictionary<(FlowMaskBits Mask, ushort Priority), ShadowClass> _classes = new();
    private readonly ShadowClass _missClass = new(default, -1, 0);
    private readonly List<ShadowClass> _scopeClasses = new(); // flagged AddedInScope or BumpInScope
    private int _addMaxPriority = -1;   // the highest priority added in the scope
    private int _addedAtMax;            // distinct classes added at that priority
    private bool _overflowAddAtMax;     // a rule without a class of its own was added at that priority
    private bool _bumpMiss, _bumpAll;
    private bool _removedInScope;
    private long _removals;
    private readonly TableVersions _published = new(); // _version and _removals as readers see them
    // The tags whose rules the table counts (WatchTag): replaced whole by the writer, read by lookups' learns.
    private volatile TagCount[] _tagWatches = [];

    // Versions (docs/datapath.md, "Atomic batches"): set (before such a rule is linked) while some rule of the table may
    // be hidden at a version a reader holds, cleared once every reader has passed a quiescent point after the commit or
    // revert that ended it (Settle). Lookups check what they found against their version only while it is set.
    private volatile bool _versionsPending;
    private long _holdVersion;                          // writer: the version this hold's inserts and hides take (0: none)
    // Writer: rules hidden in this hold (with their visibility before), unlinked at its commit; rules inserted seen from
    // a version on, made always seen once every reader has passed it (Settle).
    private readonly List<(FlowEntry Entry, byte Kind, uint Version)> _hidden = new();
    private readonly List<(FlowEntry Entry, int Serial)> _shown = new();

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

    /// <summary>The version lookups see rules at: the pipeline's, shared by all its tables (a table of its own has one of its own).</summary>
    public TablesVersion Versions { get; internal init; } = new();

    /// <summary>
    /// Some rule of the table may be hidden at a version a reader holds (an atomic batch's add or delete, until the
    /// batch's commit or revert has settled): lookups check what they find against their version.
    /// </summary>
    public bool HasVersionsPending => _versionsPending;

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

    /// <summary>The domain whose readers and holds decide when a removed entry may be reused (docs/datapath.md, "Reusing removed rules").</summary>
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

    /// <summary>The version cached lookup results must carry to be valid (docs/datapath.md, "One table").</summary>
    public long CacheVersion => Volatile.Read(ref _cacheVersion);

    /// <summary>
    /// Bumped once per published write that removed or replaced a rule (expiry included): a cached pipeline result
    /// reads a rule it hit only when this moved (<see cref="PipelineVerdict.IsCurrent"/>).
    /// </summary>
    public long Removals => _published.Removals;

    /// <summary>
    /// How many rules carry tag <paramref name="tag"/> (<see cref="FlowEntry.Tag"/>), when the table counts them
    /// (<see cref="WriteScope.WatchTag"/>), else false. Lock-free: the count moves as the writer links and unlinks
    /// rules, before it publishes them, so a reader may see a rule counted that a lookup does not find yet (or the
    /// reverse for a removal).
    /// </summary>
    public bool TaggedCount(ulong tag, out int count)
    {
        foreach (var w in _tagWatches)
        {
            if (w.Tag != tag) continue;
            count = w.Count;
            return true;
        }
        count = 0;
        return false;
    }

    /// <summary><see cref="Version"/> and <see cref="Removals"/> on a line of their own (what cached pipeline results keep to check).</summary>
    public TableVersions Published => _published;

    /// <summary>
    /// The class cached pipeline results that missed in this table check (<see cref="ShadowClass"/>): bumped by every
    /// added rule and by a change of <see cref="MissMode"/>.
    /// </summary>
    public ShadowClass MissClass => _missClass;

    /// <summary>
    /// Some rule of the table is a clause of conjunctive matches (its actions only <c>conjunction(id,k/n)</c>), so its
    /// lookups combine clauses (docs/datapath.md, "Conjunctive matches").
    /// </summary>
    public bool IsConjunctive => _conjunctive;

    /// <summary>
    /// The class a cached pipeline result that looked <paramref name="e"/> up here checks: while the table
    /// <see cref="IsConjunctive"/>, one class that every published change of the table moves (what clauses combine to
    /// depends on rules other than the one found); else the rule's class, or the miss class for a miss.
    /// </summary>
    public ShadowClass ClassOf(FlowEntry? e) => _conjunctive ? _conjClass : e?.Shadow ?? _missClass;

    /// <summary>Shadow classes the table tracks (tests and diagnostics).</summary>
    internal int ShadowClassCount
    {
        get
        {
            lock (_writeLock) return _classes.Count;
        }
    }

    /// <summary>Rules in the table.</summary>
    public int Count => ExactCount + _tuple.Count;

    /// <summary>Bytes of native memory the hash stage's records take (memory accounting; the rest of a table is managed).</summary>
    public long ExactRecordNativeSize => Volatile.Read(ref _records)?.Current.NativeSize ?? 0;

    /// <summary>Rules in the hash stage (all-ones masks).</summary>
    public int ExactCount => Volatile.Read(ref _records)?.Count ?? 0;

    /// <summary>Reader: the hash stage's rule for <paramref name="key"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FlowEntry? ExactLookup(in FlowKey key) => Volatile.Read(ref _records) is { Count: not 0 } r ? r.Find(key) : null;

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
        if (!_inPortShaped || _conjunctive) return false;
        var e = _tuple.Lookup(key);
        // Read after the lookup (set before a hidden rule is linked): the packets are then looked up one by one.
        if (_versionsPending || (e is not null && !WithinInPort(e.Match.Mask))) return false;
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

    /// <summary>
    /// The packet's words (tunnel endpoints, TTL and TCP flags) this table's rules test, or null (most tables): the walk
    /// puts them in the register file only for such a table's lookups, and a verdict through it checks them per packet.
    /// </summary>
    internal PacketWordUse? PacketWords => _tuple.PacketWords;

    /// <summary>Some rule of this table tests the packet's words or actset_output, which a repair's lookup (every register 0) does not know.</summary>
    internal bool TestsPipelineWords => _tuple.PacketWords is not null || _tuple.TestsActset;

    /// <summary>
    /// Reader, the pipeline walk's lookup: the winning rule for <paramref name="key"/> with the register file
    /// <paramref name="regs"/>. Only the tuple space holds rules on registers (never the exact table), so the exact
    /// stage is looked up as always and only subtables whose mask tests registers read <paramref name="regs"/>.
    /// </summary>
    public FlowEntry? Lookup(in FlowKey key, in Registers regs) => Lookup(key, regs, Versions.Current);

    /// <summary>
    /// As <see cref="Lookup(in FlowKey, in Registers)"/>, among the rules visible at tables version
    /// <paramref name="version"/> (the one the walk read once for the packet).
    /// </summary>
    public FlowEntry? Lookup(in FlowKey key, in Registers regs, long version)
    {
        if (regs.IsZero) return Lookup(key, version);
        if (_conjunctive) return LookupConjunctive(key, regs, null, version);
        var e = ExactLookup(key);
        if (e is not null)
        {
            if (_exactBelowMax != 0 && e.Priority < _tuple.PublishedMaxPriority)
            {
                var w = _tuple.Lookup(key, regs);
                if (w is not null && w.Priority > e.Priority) e = w;
            }
        }
        else
        {
            e = _tuple.Lookup(key, regs);
        }
        // The flag read after the lookup (set before a hidden rule is linked); the plain lookup's winner is the best
        // visible rule unless it is hidden itself (a hidden rule outranks only what it hides).
        if (e is not null && _versionsPending && !e.VisibleAt(version)) return LookupVisible(key, regs, version);
        // A clause found by a lookup that read the flag before the writer set it: combined after all.
        return e is not null && e.Actions.IsConjunctive ? LookupConjunctive(key, regs, null, version) : e;
    }

    /// <summary>
    /// Reader: a rule of tag <paramref name="tag"/> and requested priority <paramref name="priority"/> matching
    /// <paramref name="key"/> and visible at <paramref name="version"/>, even where a rule of higher priority matches the
    /// key too (the hash stage's rule, then each subtable's rules for the key), or null.
    /// </summary>
    internal FlowEntry? FindMatching(in FlowKey key, in Registers regs, ulong tag, ushort priority, long version)
    {
        if (ExactLookup(key) is { } x && x.Tag == tag && x.RequestedPriority == priority && !x.IsRemoved && x.VisibleAt(version))
            return x;
        return _tuple.FindMatching(key, regs, tag, priority, version);
    }

    /// <summary>
    /// Reader: the winning rule among those visible at <paramref name="version"/>, the hash stage's rule counted only when
    /// visible and the tuple space's subtables followed down past hidden rules (<see cref="TupleSpace.LookupVisible"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FlowEntry? LookupVisible(in FlowKey key, in Registers regs, long version)
    {
        var e = ExactLookup(key);
        if (e is not null && !e.VisibleAt(version)) e = null;
        var w = _tuple.LookupVisible(key, regs, version);
        if (w is not null && (e is null || w.Priority > e.Priority)) e = w;
        return e is not null && e.Actions.IsConjunctive ? LookupConjunctive(key, regs, null, version) : e;
    }

    /// <summary>
    /// Reader: the lookup of a table with clauses of conjunctive matches (<see cref="IsConjunctive"/>; any table may be
    /// looked up so): the hash stage, then <see cref="TupleSpace.LookupConjunctive"/>. <paramref name="clauses"/>, when
    /// given, receives the clauses that formed the conjunctive match that won (ofproto/trace).
    /// </summary>
    public FlowEntry? LookupConjunctive(in FlowKey key, in Registers regs, List<FlowEntry>? clauses)
        => LookupConjunctive(key, regs, clauses, Versions.Current);

    /// <summary>As <see cref="LookupConjunctive(in FlowKey, in Registers, List{FlowEntry}?)"/>, among the rules visible at <paramref name="version"/>.</summary>
    public FlowEntry? LookupConjunctive(in FlowKey key, in Registers regs, List<FlowEntry>? clauses, long version)
        => _tuple.LookupConjunctive(key, regs, ExactLookup(key), clauses, out _, version);

    /// <summary>Reader: the winning rule for one packet key (every register 0), without cache, counted in <paramref name="stats"/> when given.</summary>
    public FlowEntry? Lookup(in FlowKey key, FlowTableThreadStats? stats = null) => Lookup(key, Versions.Current, stats);

    /// <summary>As <see cref="Lookup(in FlowKey, FlowTableThreadStats?)"/>, among the rules visible at <paramref name="version"/>.</summary>
    public FlowEntry? Lookup(in FlowKey key, long version, FlowTableThreadStats? stats = null)
    {
        if (_conjunctive) return CountedConjunctive(key, stats, version);
        var e = ExactLookup(key);
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
            if (_versionsPending && !e.VisibleAt(version)) return LookupVisible(key, default, version);
            return e.Actions.IsConjunctive ? LookupConjunctive(key, default, null, version) : e;
        }
        e = _tuple.Lookup(key);
        if (stats is not null)
        {
            stats.ExactLookups++;
            stats.WildcardLookups++;
            if (e is not null) stats.WildcardMatched++;
        }
        if (e is not null && _versionsPending && !e.VisibleAt(version)) return LookupVisible(key, default, version);
        return e is not null && e.Actions.IsConjunctive ? LookupConjunctive(key, default, null, version) : e;
    }

    /// <summary>A conjunctive table's lookup, counted as the stages would count it (a hash-stage winner as a hash-stage match).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FlowEntry? CountedConjunctive(in FlowKey key, FlowTableThreadStats? stats, long version)
    {
        var e = LookupConjunctive(key, default, null, version);
        if (stats is not null)
        {
            stats.ExactLookups++;
            if (e is { InExactStage: true })
            {
                stats.ExactMatched++;
            }
            else
            {
                stats.WildcardLookups++;
                if (e is not null) stats.WildcardMatched++;
            }
        }
        return e;
    }

    /// <summary>
    /// Reader, for diagnostics (ofproto/trace): the rule <see cref="Lookup(in FlowKey, in Registers)"/> would return for <paramref name="key"/>,
    /// and which stage found it (with the tuple-space subtable's mask). Touches no counter, cache or rule.
    /// </summary>
    public LookupTrace Trace(in FlowKey key) => Trace(key, default);

    /// <summary>As <see cref="Trace(in FlowKey)"/>, with the register file <paramref name="regs"/>.</summary>
    public LookupTrace Trace(in FlowKey key, in Registers regs)
    {
        long version = Versions.Current;
        if (_conjunctive)
        {
            var clauses = new List<FlowEntry>();
            var c = _tuple.LookupConjunctive(key, regs, ExactLookup(key), clauses, out int cProbed, version);
            var stage = c is null ? LookupStage.None : c.InExactStage ? LookupStage.Hash : LookupStage.TupleSpace;
            return new LookupTrace(c, stage, c?.Match.Mask ?? default, cProbed, clauses.Count == 0 ? null : clauses);
        }
        if (_versionsPending)
        {
            // Some rule may be hidden: the visible winner, with its stage and mask (no probe count).
            var v = Lookup(key, regs, version);
            return v is null ? new LookupTrace(null, LookupStage.None, default, 0)
                : new LookupTrace(v, v.InExactStage ? LookupStage.Hash : LookupStage.TupleSpace, v.Match.Mask, 0);
        }
        var e = ExactLookup(key);
        if (e is not null)
        {
            if (_exactBelowMax != 0 && e.Priority < _tuple.PublishedMaxPriority)
            {
                var w = _tuple.Trace(key, regs, out var wMask, out int wProbed);
                if (w is not null && w.Priority > e.Priority) return new LookupTrace(w, LookupStage.TupleSpace, wMask, wProbed);
            }
            return new LookupTrace(e, LookupStage.Hash, e.Match.Mask, 0);
        }
        var t = _tuple.Trace(key, regs, out var mask, out int probed);
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
        if (_conjunctive)
        {
            // Clauses combine per key (a multi-stage pipeline's walk is where such tables are looked up; no cache).
            long version = Versions.Current;
            for (int i = 0; i < n; i++) results[i] = CountedConjunctive(keys[i], stats, version);
            return;
        }
        for (int off = 0; off < n; off += 64)
        {
            int len = Math.Min(64, n - off);
            LookupChunk(keys.Slice(off, len), hashes.Slice(off, len), results.Slice(off, len), cache, stats);
        }
    }

    /// <summary>
    /// Reader, the single-table forwarding path's lookup: as <see cref="LookupBurst"/>,
    /// but a hash-stage hit is answered from the records: its bit is set in <paramref name="recordHits"/>, its slot in
    /// <paramref name="slots"/> (of the returned generation, valid until the caller's next quiescent point) and its
    /// result left null, so the caller counts in the record and reads the action list by id
    /// (<see cref="ActionsOfRecord"/>) without touching the entry. At most 64 keys. Whenever the records cannot answer
    /// alone (rules hidden at some version, a hash-stage rule below the tuple space's top priority, clauses), every
    /// result is an entry and <paramref name="recordHits"/> is 0.
    /// </summary>
    internal ExactRecordTable.Records? LookupBurstRecords(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<uint> hashes, Span<FlowEntry?> results,
                                                         Span<int> slots, ExactMatchCache? cache, FlowTableThreadStats? stats, out ulong recordHits)
    {
        recordHits = 0;
        if (_conjunctive || keys.Length > 64 || slots.Length < keys.Length)
        {
            LookupBurst(keys, hashes, results, cache, stats);
            return null;
        }
        if (hashes.Length < keys.Length || results.Length < keys.Length) ThrowHelper.Argument(nameof(results));
        return LookupChunk(keys, hashes, results, cache, stats, slots, ref recordHits);
    }

    /// <summary>Reader: whether a hit of the hash stage is the table's answer by itself, with no other stage asked:
    /// the table has records, no clauses, and no hash-stage rule that a wildcard rule may outrank (as the burst lookups
    /// decide it). Then a lookup that the exact-match cache answers costs about what the record's probe does.</summary>
    internal bool ExactAnswersAlone
        => !_conjunctive && Volatile.Read(ref _records) is { Count: not 0 } && (_exactBelowMax == 0 || _tuple.PublishedMaxPriority < 0);

    /// <summary>Reader: the action list of a record's state word (<see cref="ExactRecord.Word"/>), or null when the
    /// record was removed since the lookup (the caller then goes through the slot's entry).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal FlowActions? ActionsOfRecord(uint word) => _records!.ActionsOf(word);

    private void LookupChunk(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<uint> hashes, Span<FlowEntry?> results,
                             ExactMatchCache? cache, FlowTableThreadStats? stats)
    {
        ulong none = 0;
        LookupChunk(keys, hashes, results, cache, stats, default, ref none);
    }

    private ExactRecordTable.Records? LookupChunk(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<uint> hashes, Span<FlowEntry?> results,
                                                  ExactMatchCache? cache, FlowTableThreadStats? stats, Span<int> slots, ref ulong recordHits)
    {
        ExactRecordTable.Records? gen = null;
        int n = keys.Length;
        results.Clear();
        // The cache version is read before any table state, so a cached wildcard result is never newer than it.
        long cacheVersion = Volatile.Read(ref _cacheVersion);
        // The tables version after it (a commit publishes the version before it moves the cache version).
        var versions = Versions;
        long version = versions.Current;
        ulong pending = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
        long exactLookups = 0, exactMatched = 0, wildLookups = 0, wildMatched = 0;

        if (cache is not null)
        {
            // Three passes so the cache misses of a burst overlap: prefetch every set, then find the candidates
            // and prefetch their flows, then validate.
            ref FlowKey k0 = ref MemoryMarshal.GetReference(keys);
            ref uint h0 = ref MemoryMarshal.GetReference(hashes);
            ref FlowEntry? r0 = ref MemoryMarshal.GetReference(results);
            Span<long> cacheSlots = BurstScratch.ForThread.CacheSlots;
            for (int i = 0; i < n; i++) cache.PrefetchSet(Unsafe.Add(ref h0, i));
            for (int i = 0; i < n; i++)
            {
                var c = cache.Candidate(Unsafe.Add(ref k0, i), Unsafe.Add(ref h0, i), out cacheSlots[i]);
                Unsafe.Add(ref r0, i) = c;
                c?.PrefetchStateLine();
            }
            for (int i = 0; i < n; i++)
            {
                var f = Unsafe.Add(ref r0, i);
                if (!cache.Validate(f, cacheSlots[i], cacheVersion))
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
            if (Volatile.Read(ref _records) is { Count: not 0 } records)
            {
                if (!slots.IsEmpty && (_exactBelowMax == 0 || _tuple.PublishedMaxPriority < 0))
                {
                    gen = records.Current;
                    ulong before = pending;
                    exactMatched += gen.LookupBurst(keys, ref pending, slots);
                    recordHits = before & ~pending;
                    // A wildcard rule published meanwhile may outrank a hit below the top priority: decided on the entries.
                    if (_exactBelowMax != 0 && recordHits != 0 && _tuple.PublishedMaxPriority >= 0)
                    {
                        ulong hits = recordHits;
                        recordHits = EntriesOfRecords(gen, hits, slots, results);
                        ResolveExactBelowMax(keys, hits, results);
                    }
                }
                else
                {
                    exactMatched += records.LookupBurst(keys, ref pending, results);
                    if (_exactBelowMax != 0) ResolveExactBelowMax(keys, missed & ~pending, results);
                }
            }
            if (pending != 0)
            {
                wildLookups += BitOperations.PopCount(pending);
                ulong found = _tuple.LookupBurst(keys, pending, results);
                wildMatched += BitOperations.PopCount(found);
            }
            // The flag read after the lookups (set before a hidden rule is linked), the version after them too.
            if (_versionsPending || versions.Current != version)
            {
                if (recordHits != 0) recordHits = EntriesOfRecords(gen!, recordHits, slots, results);
                ResolveVersions(keys, missed, results, version);
            }
            if (cache is not null)
            {
                for (ulong b = missed; b != 0; b &= b - 1)
                {
                    int i = BitOperations.TrailingZeroCount(b);
                    var f = results[i];
                    if (f is not null)
                    {
                        cache.Insert(keys[i], hashes[i], f, cacheVersion);
                    }
                    else if ((recordHits >> i & 1) != 0)
                    {
                        // The entry is read only when the cache takes the result (a busy set takes 1 in N).
                        int way = cache.InsertWay(keys[i], hashes[i], cacheVersion);
                        if (way >= 0 && gen!.Entry(slots[i]) is { } e) cache.InsertAt(way, keys[i], hashes[i], e, cacheVersion);
                    }
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
        return gen;
    }

    /// <summary>Record hits turned into entry results (slow paths: a burst whose tables version moved).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong EntriesOfRecords(ExactRecordTable.Records gen, ulong hits, Span<int> slots, Span<FlowEntry?> results)
    {
        for (ulong b = hits; b != 0; b &= b - 1)
        {
            int i = BitOperations.TrailingZeroCount(b);
            results[i] = gen.Entry(slots[i]);
        }
        return 0;
    }

    /// <summary>
    /// The burst's table lookups (<paramref name="looked"/>) as of one tables version: when the version moved while they
    /// ran (a commit published, and may have unlinked a rule a lookup passed), they are done again at the new one, until
    /// it holds still; else each hidden rule found gives way to the rule visible at <paramref name="version"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ResolveVersions(ReadOnlySpan<FlowKey> keys, ulong looked, Span<FlowEntry?> results, long version)
    {
        for (int tries = 0; ; tries++)
        {
            long now = Versions.Current;
            if (now == version)
            {
                for (ulong b = looked; b != 0; b &= b - 1)
                {
                    int i = BitOperations.TrailingZeroCount(b);
                    if (results[i] is { } e && !e.VisibleAt(version)) results[i] = LookupVisible(keys[i], default, version);
                }
                return;
            }
            version = now;
            for (ulong b = looked; b != 0; b &= b - 1)
            {
                int i = BitOperations.TrailingZeroCount(b);
                results[i] = Lookup(keys[i], version);
            }
            // Commits without end would keep this burst here: after a few, the last lookups stand.
            if (tries == MaxVersionRetries) return;
        }
    }

    /// <summary>How many times a burst or walk whose tables version moved under it is looked up again before it stands as it is.</summary>
    public const int MaxVersionRetries = 8;

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

    /// <summary>Timer-wheel work counter (entries examined by <see cref="Expire"/>), for tests.</summary>
    internal long TimerVisits => _wheel.Visits;
    internal int TimerTracked => _wheel.Tracked;
}
