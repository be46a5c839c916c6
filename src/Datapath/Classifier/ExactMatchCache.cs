using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The exact-match cache (EMC): a per-forwarding-thread, fixed-size, set-associative array mapping a full packet
/// key to the flow a table lookup chose for it, or to the <see cref="PipelineVerdict"/> of a multi-stage pipeline
/// (after ovs <c>lib/dpif-netdev-dfc.h</c>).
/// </summary>
/// <remarks>
/// A slot is a hit only while it is this cache's (its owner, below), its flow is not removed, is the incarnation cached
/// (<see cref="FlowEntry.Serial"/>) and either is unshadowable or was cached at the table's current
/// <see cref="FlowTable.CacheVersion"/>; a verdict is checked by <see cref="PipelineVerdict.IsCurrent"/>. Insertion over
/// a busy set is probabilistic.
/// One array of slots may serve several switches that one forwarding thread serves (<see cref="Share"/>, as an Open
/// vSwitch PMD thread's one EMC serves every bridge): each view has an owner number of its own, unique in the process,
/// written into the slots it fills and compared on every lookup, so no switch ever takes another's entry, and its own
/// hit, miss and insert counts. Views compete for the slots (an insert may evict another view's entry); clearing a view
/// empties its slots only. Not thread-safe: every view of one array belongs to one forwarding thread.
/// Design: docs/datapath.md, "The exact-match cache".
/// </remarks>
[SkipLocalsInit]
public sealed class ExactMatchCache
{
    public const int DefaultCapacity = 8192;
    public const int DefaultInsertInverseProbability = 100;

    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public FlowKey Key;
        public FlowEntry? Flow;
        public PipelineVerdict? Verdict;
        public long Version;
        public uint Hash;
        public int Serial;
        /// <summary>The view that filled the slot (0: empty).</summary>
        public int Owner;
    }

    // Owner numbers, never reused (0 is no owner): 2^31 caches made in one process before one repeats.
    private static int s_owners;

    private readonly Slot[] _slots;
    private readonly int _owner;
    private readonly uint _setMask;
    private readonly int _waysShift;
    private readonly uint _insertThreshold;
    private readonly bool _alwaysInsert;
    private uint _rng;
    private long _hits, _misses, _inserts;

    /// <param name="capacity">Slots in total (rounded up to a power of two, at least <paramref name="ways"/>).</param>
    /// <param name="ways">Associativity: 2 or 4.</param>
    /// <param name="insertInverseProbability">When a set is busy, insert 1 in this many misses (1 or less: always).</param>
    /// <param name="seed">Seed of the insertion coin (deterministic per seed).</param>
    public ExactMatchCache(int capacity = DefaultCapacity, int ways = 2,
                           int insertInverseProbability = DefaultInsertInverseProbability, uint seed = 0x9E3779B9u)
    {
        if (ways is not (2 or 4)) ThrowHelper.ArgumentOutOfRange(nameof(ways));
        if (capacity < ways || capacity > 1 << 26) ThrowHelper.ArgumentOutOfRange(nameof(capacity));
        int slots = (int)BitOperations.RoundUpToPowerOf2((uint)capacity);
        _slots = new Slot[slots];
        _waysShift = BitOperations.Log2((uint)ways);
        _setMask = (uint)(slots >> _waysShift) - 1;
        _alwaysInsert = insertInverseProbability <= 1;
        _insertThreshold = _alwaysInsert ? uint.MaxValue : uint.MaxValue / (uint)insertInverseProbability;
        _rng = seed == 0 ? 1u : seed;
        _owner = Interlocked.Increment(ref s_owners);
    }

    private ExactMatchCache(ExactMatchCache shared)
    {
        _slots = shared._slots;
        _waysShift = shared._waysShift;
        _setMask = shared._setMask;
        _alwaysInsert = shared._alwaysInsert;
        _insertThreshold = shared._insertThreshold;
        _owner = Interlocked.Increment(ref s_owners);
        _rng = (uint)_owner * 0x9E3779B9u | 1;
    }

    /// <summary>
    /// A cache for another switch in this one's slots (same capacity, associativity and insertion policy; counters of
    /// its own): its entries are never this one's, nor this one's its. For the thread that owns this cache only.
    /// </summary>
    public ExactMatchCache Share() => new(this);

    /// <summary>Whether this cache and <paramref name="other"/> are views of one array of slots.</summary>
    public bool SharesSlotsWith(ExactMatchCache other) => ReferenceEquals(_slots, other._slots);

    /// <summary>Slots this cache holds an entry in (walks the array: diagnostics and tests).</summary>
    public int Occupied
    {
        get
        {
            int n = 0;
            foreach (ref readonly var s in _slots.AsSpan())
                if (s.Owner == _owner) n++;
            return n;
        }
    }

    public int Capacity => _slots.Length;
    public int Ways => 1 << _waysShift;
    public long Hits => _hits;
    public long Misses => _misses;
    public long Inserts => _inserts;

    /// <summary>Prefetches the set <paramref name="hash"/> maps to (a burst's first pass).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchSet(uint hash)
    {
        ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)((hash & _setMask) << _waysShift));
        Prefetch.Lines(ref s, ((Unsafe.SizeOf<Slot>() << _waysShift) + 63) >> 6);
    }

    /// <summary>
    /// The flow cached under <paramref name="key"/> without validating it (a burst's second pass; the caller
    /// prefetches the flow and then calls <see cref="Validate"/> with <paramref name="slot"/>), or null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FlowEntry? Candidate(in FlowKey key, uint hash, out long slot)
    {
        ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)((hash & _setMask) << _waysShift));
        int ways = 1 << _waysShift;
        for (int w = 0; w < ways; w++)
        {
            ref Slot x = ref Unsafe.Add(ref s, w);
            if (x.Hash == hash && x.Owner == _owner && x.Key.EqualsPacketKey(key))
            {
                slot = (nint)((hash & _setMask) << _waysShift) + w;
                return x.Flow;
            }
        }
        slot = 0;
        return null;
    }

    /// <summary>Whether a <see cref="Candidate"/> (and the slot it came from) is a hit; counts the hit or miss.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Validate(FlowEntry? f, long slot, long cacheVersion)
    {
        if (f is not null && !f.IsRemoved)
        {
            ref Slot x = ref _slots[(int)slot];
            if (f.Serial == x.Serial && ((f.IsUnshadowable && f.InExactStage) || x.Version == cacheVersion))
            {
                _hits++;
                return true;
            }
        }
        _misses++;
        return false;
    }

    /// <summary>Offers a table lookup's result for caching (see the insertion policy above).</summary>
    public void Insert(in FlowKey key, uint hash, FlowEntry flow, long cacheVersion)
    {
        int way = InsertWay(key, hash, cacheVersion);
        if (way >= 0) InsertAt(way, key, hash, flow, cacheVersion);
    }

    /// <summary>
    /// The first half of <see cref="Insert"/>: the way of <paramref name="hash"/>'s set a result for
    /// <paramref name="key"/> would take, or -1 when the insertion policy declines it (the coin lost), so a caller can
    /// leave the result unread until it is taken.
    /// </summary>
    public int InsertWay(in FlowKey key, uint hash, long cacheVersion)
    {
        ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)((hash & _setMask) << _waysShift));
        int ways = 1 << _waysShift;
        int victim = -1, empty = -1;
        for (int w = 0; w < ways; w++)
        {
            ref Slot x = ref Unsafe.Add(ref s, w);
            if (x.Hash == hash && x.Owner == _owner && x.Key.EqualsPacketKey(key))
            {
                victim = w;
                break;
            }
            if (empty < 0 && x.Flow is null && x.Verdict is null) empty = w;
        }
        if (victim < 0) victim = empty;
        if (victim < 0)
        {
            // The coin is tossed before any resident flow is read (as ovs emc_probabilistic_insert): a miss that
            // loses it costs no load of the set's flows, which at a large working set are cold.
            if (!_alwaysInsert && NextRandom() >= _insertThreshold) return -1;
            for (int w = 0; w < ways; w++)
            {
                ref Slot x = ref Unsafe.Add(ref s, w);
                if (x.Owner != _owner) continue;   // another switch's: only the coin below evicts it
                var f = x.Flow;
                if (f is null || f.IsRemoved || f.Serial != x.Serial || (!(f.IsUnshadowable && f.InExactStage) && x.Version != cacheVersion))
                {
                    victim = w;
                    break;
                }
            }
            if (victim < 0) victim = (int)(NextRandom() >> (32 - _waysShift));
        }
        return victim;
    }

    /// <summary>The second half of <see cref="Insert"/>: puts the result in the way <see cref="InsertWay"/> chose.</summary>
    public void InsertAt(int victim, in FlowKey key, uint hash, FlowEntry flow, long cacheVersion)
    {
        ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)((hash & _setMask) << _waysShift));
        ref Slot v = ref Unsafe.Add(ref s, victim);
        v.Key = key;
        v.Hash = hash;
        v.Flow = flow;
        if (v.Verdict is { } old)
        {
            v.Verdict = null;
            old.Release();
        }
        v.Version = cacheVersion;
        v.Serial = flow.Serial;
        v.Owner = _owner;
        _inserts++;
    }

    /// <summary>The current verdict cached under <paramref name="key"/>, or null; counts the hit or miss.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PipelineVerdict? LookupVerdict(in FlowKey key, uint hash) => LookupVerdict(key, hash, out _);

    /// <summary>
    /// The current verdict cached under <paramref name="key"/>, or null (a miss) with <paramref name="stale"/> the verdict
    /// the slot holds for the key when it is no longer current (its owner may repair it, see
    /// <see cref="PipelineVerdict.FindRepair"/>; it stays in the slot until something else is put there); counts the hit or miss.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PipelineVerdict? LookupVerdict(in FlowKey key, uint hash, out PipelineVerdict? stale)
    {
        ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)((hash & _setMask) << _waysShift));
        int ways = 1 << _waysShift;
        stale = null;
        for (int w = 0; w < ways; w++)
        {
            ref Slot x = ref Unsafe.Add(ref s, w);
            if (x.Hash == hash && x.Owner == _owner && x.Verdict is { } v && x.Key.EqualsPacketKey(key))
            {
                if (!v.IsCurrent())
                {
                    stale = v;
                    break;
                }
                _hits++;
                return v;
            }
        }
        _misses++;
        return null;
    }

    /// <summary>Offers a pipeline run's verdict for caching (the insertion policy above).</summary>
    public void InsertVerdict(in FlowKey key, uint hash, PipelineVerdict verdict)
    {
        ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)((hash & _setMask) << _waysShift));
        int ways = 1 << _waysShift;
        int victim = -1, empty = -1;
        for (int w = 0; w < ways; w++)
        {
            ref Slot x = ref Unsafe.Add(ref s, w);
            if (x.Hash == hash && x.Owner == _owner && x.Key.EqualsPacketKey(key))
            {
                victim = w;
                break;
            }
            if (empty < 0 && x.Verdict is null && x.Flow is null) empty = w;
        }
        if (victim < 0) victim = empty;
        if (victim < 0)
        {
            if (!_alwaysInsert && NextRandom() >= _insertThreshold) return;
            for (int w = 0; w < ways; w++)
            {
                ref Slot x = ref Unsafe.Add(ref s, w);
                if (x.Owner == _owner && (x.Verdict is not { } v || !v.IsCurrent()))
                {
                    victim = w;
                    break;
                }
            }
            if (victim < 0) victim = (int)(NextRandom() >> (32 - _waysShift));
        }
        ref Slot slot = ref Unsafe.Add(ref s, victim);
        slot.Key = key;
        slot.Hash = hash;
        slot.Flow = null;
        slot.Owner = _owner;
        // The slots a verdict is in are counted, so its owner can reuse it once none holds it.
        var old = slot.Verdict;
        verdict.AddRef();
        slot.Verdict = verdict;
        old?.Release();
        _inserts++;
    }

    /// <summary>Drops every flow and verdict this cache holds, leaving other views' (counters are kept).</summary>
    public void Clear()
    {
        foreach (ref var s in _slots.AsSpan())
        {
            if (s.Owner != _owner) continue;
            var v = s.Verdict;
            s = default;
            v?.Release();
        }
    }

    public void ResetCounters()
    {
        _hits = 0;
        _misses = 0;
        _inserts = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint NextRandom()
    {
        // xorshift32
        uint x = _rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _rng = x;
        return x;
    }
}
