using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// One 64-byte slot of an <see cref="ExactRecordTable"/>: the masked key's five base words, the packet and byte counts,
/// the state word (the action-list id in its low 24 bits, the counting owner in its high 8) and the last-used time in
/// milliseconds of the table's clock.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
public struct ExactRecord
{
    public ulong W0, W1, W2, W3, W4;
    public long Packets;
    public long Bytes;
    /// <summary><see cref="ExactRecordTable.IdMask"/>: the action-list id (<see cref="ExactRecordTable.EmptyId"/>: an
    /// empty slot, <see cref="ExactRecordTable.DeletedId"/>: a tombstone); the high byte: the forwarding thread that
    /// counts in <see cref="Packets"/> and <see cref="Bytes"/> (0: none claimed yet).</summary>
    public uint Word;
    public uint LastUsedMillis;
}

/// <summary>
/// A one-level exact stage: the hash slot is the record (<see cref="ExactRecord"/>), so a hit reads one line (two when
/// the probe runs past its home slot) and counts and finds its action list there, with no second, dependent level.
/// Keys are packet keys ANDed with <see cref="FlowMatch.ExactMaskNoTun"/>, whose sixth word is zero (neither stored nor
/// compared), hashed with <see cref="FlowHash"/>. It is a <see cref="FlowTable"/>'s hash stage, its only index of those rules.
/// </summary>
/// <remarks>
/// <para>Layout: a <see cref="Records"/> generation holds the records in native memory, 64-byte aligned (2 MiB aligned and
/// advised <c>MADV_HUGEPAGE</c> when 2 MiB or more), a power-of-two count probed linearly from <c>hash &amp; mask</c>, and
/// a parallel managed array of the <see cref="FlowEntry"/> each slot holds, through which every reader but the
/// single-table forwarding path's hits finds the rule (<see cref="Find(in FlowKey)"/>, the entry-form burst lookup,
/// statistics, removal, timeouts, cache inserts). Live plus tombstoned slots are at most half the slots, so every probe meets an
/// empty slot. Action lists are interned per table into an id-indexed array (<see cref="ActionsOf"/>), by reference:
/// <see cref="ActionInterner"/> already makes equal lists one object.</para>
/// <para>Publication: the writer fills the key words, zeroes the counts and sets the entry, then stores the state word
/// (a release store); a reader loads the word (acquire) before the key words. An action swap replaces the id in the
/// word (keeping the owner byte). Removal stores the tombstone; the slot is reused, and its counts folded into its entry
/// (<see cref="FlowEntry.AddCounts"/>), only after the <see cref="QuiescentDomain"/> says every reader has passed a
/// quiescent point since (<see cref="Reclaim"/>), so a reader that loaded the old id compares, and counts into, words
/// that still belong to it. Growth (or a compaction of tombstones) builds a new generation, copying each live record
/// with its counts, publishes it with one store, and after the old generation's grace period folds into each entry what
/// was counted in the old records after the copy, then frees them. So the counts are exact: an entry's total is its own
/// counts plus its live record's (<see cref="ReadCounts"/>), never lower than it was and, after every grace period,
/// everything counted.</para>
/// <para>Counting (<see cref="Forwarded"/>): the datapath's only forwarding thread adds plainly; with several, the first
/// thread to count a record claims its owner byte (a compare-and-swap on the state word) and adds plainly, and any other
/// thread is told to count in the entry instead (<see cref="FlowEntry"/>'s own claim and per-thread slots).</para>
/// <para>Thread safety: one writer at a time (the caller serialises); any number of readers, which load
/// <see cref="Current"/> once per burst and quiesce in the table's domain between bursts. A reader outside the domain
/// may meet a slot reused under it: the lookups that return rules check each rule against its key, so it gets the rule
/// or a miss, never another key's rule.</para>
/// </remarks>
[SkipLocalsInit]
public sealed unsafe partial class ExactRecordTable : IDisposable
{
    /// <summary>The action-id bits of <see cref="ExactRecord.Word"/>.</summary>
    public const uint IdMask = 0x00FF_FFFF;
    /// <summary>The id of an empty slot (ends a probe).</summary>
    public const uint EmptyId = 0;
    /// <summary>The id of a removed key's slot (a probe goes past it; reused after its grace period).</summary>
    public const uint DeletedId = IdMask;
    /// <summary><see cref="Forwarded"/>'s owner id for the datapath's only forwarding thread (adds with no claim).</summary>
    public const byte SoleWriter = byte.MaxValue;
    private const int OwnerShift = 24;
    private const int MinSlots = 16;
    /// <summary>At most 2^24 slots (1 GiB of records).</summary>
    public const int MaxSlots = 1 << 24;
    /// <summary>The most keys the table holds (a load of at most one half of <see cref="MaxSlots"/>); one more throws.
    /// A flow table's limit keeps below it, with room for a versioned replacement of every key
    /// (<c>FlowTableOptions.MaxFlowLimit</c>).</summary>
    public const int MaxKeys = MaxSlots / 2;

    private static readonly ulong s_m0 = FlowMatch.ExactMaskNoTun.W0, s_m1 = FlowMatch.ExactMaskNoTun.W1,
        s_m2 = FlowMatch.ExactMaskNoTun.W2, s_m3 = FlowMatch.ExactMaskNoTun.W3, s_m4 = FlowMatch.ExactMaskNoTun.W4;

    // Writer-private slot states (readers see only the state word).
    private const byte Empty = 0, Live = 1, Retiring = 2, Reusable = 3;

    private readonly QuiescentDomain _domain;
    private Records _current;
    private int _count;
    private int _tombstones;
    // Removed slots waiting for their grace period, oldest first (under _foldLock: the removal report settles them from
    // its own thread).
    private readonly Queue<Removal> _removing = new();
    private readonly Stack<Removal> _spareRemovals = new(); // reused, so churn allocates nothing
    private readonly Lock _foldLock = new();
    // Generations replaced by growth, waiting for their grace period, oldest first.
    private readonly Queue<Records> _retired = new();
    // Action lists by id (published whole when it grows), their ids and reference counts, and ids waiting to be reused.
    private FlowActions?[] _actions = new FlowActions?[64];
    private readonly Dictionary<FlowActions, (uint Id, int Refs)> _ids = new(ReferenceEqualityComparer.Instance);
    private readonly Queue<(uint Id, long Epoch)> _freedIds = new();
    private readonly Stack<uint> _freeIds = new();
    private uint _nextId = 1;

    /// <param name="domain">The domain whose readers look up this table (their grace periods gate slot reuse).</param>
    /// <param name="initialCapacity">Keys to make room for at once.</param>
    public ExactRecordTable(QuiescentDomain domain, int initialCapacity = 0)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        Debug.Assert(FlowMatch.ExactMaskNoTun.W5 == 0);
        _domain = domain;
        _current = new Records(SlotsFor(initialCapacity));
    }

    /// <summary>Keys present (any thread).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Slots of the current generation.</summary>
    public int SlotCount => _current.SlotCount;

    /// <summary>Removed slots not yet reusable (diagnostics, tests).</summary>
    public int RemovingCount => _removing.Count;

    /// <summary>Generations replaced by growth and not yet freed (diagnostics, tests).</summary>
    public int RetiredGenerations => _retired.Count;

    /// <summary>Distinct action lists the records refer to.</summary>
    public int ActionListCount => _ids.Count;

    /// <summary>Reader: the generation to look up in (load once per burst).</summary>
    public Records Current => Volatile.Read(ref _current);

    /// <summary>Reader: the action list of an id read from a record's <see cref="ExactRecord.Word"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FlowActions? ActionsOf(uint word)
    {
        var a = Volatile.Read(ref _actions);
        uint id = word & IdMask;
        return id < (uint)a.Length ? Volatile.Read(ref a[id]) : null;
    }

    private static int SlotsFor(int keys)
    {
        long want = Math.Max(MinSlots, 2L * keys);
        if (want > MaxSlots) throw new InvalidOperationException("exact record table: too many keys");
        return (int)BitOperations.RoundUpToPowerOf2((uint)want);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint HashOf(ulong k0, ulong k1, ulong k2, ulong k3, ulong k4) => FlowHash.Of(k0, k1, k2, k3, k4, 0);

    private static uint HashOf(FlowEntry entry)
    {
        ref readonly var v = ref entry.Match.ValueBase;
        return HashOf(v.W0 & s_m0, v.W1 & s_m1, v.W2 & s_m2, v.W3 & s_m3, v.W4 & s_m4);
    }

    // ---------------------------------------------------------------- counting (forwarding threads)

    /// <summary>
    /// Hot path: a forwarding thread accounts one flow-batch in a record it found. <paramref name="owner"/>
    /// <see cref="SoleWriter"/> (the datapath's only forwarding thread) adds plainly; another owner id (1-254) claims the
    /// record if no thread has and adds plainly if it holds the claim. False when another thread holds it (or the record
    /// was removed before the claim): the caller counts in the entry instead (<see cref="FlowEntry"/>'s own claim and
    /// per-thread slots), so every count stays exact. The last-used time is stored only when it moves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Forwarded(ref ExactRecord r, int packets, long bytes, uint nowMillis, byte owner)
    {
        if (owner != SoleWriter && !Owns(ref r, owner)) return false;
        r.Packets += packets;
        r.Bytes += bytes;
        if (r.LastUsedMillis != nowMillis) Volatile.Write(ref r.LastUsedMillis, nowMillis);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Owns(ref ExactRecord r, byte owner)
    {
        uint w = Volatile.Read(ref r.Word);
        uint o = w >> OwnerShift;
        if (o == owner) return owner != 0;
        return o == 0 && owner != 0 && Claim(ref r, owner);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool Claim(ref ExactRecord r, byte owner)
    {
        while (true)
        {
            uint w = Volatile.Read(ref r.Word);
            uint id = w & IdMask;
            if (w >> OwnerShift != 0 || id is EmptyId or DeletedId) return w >> OwnerShift == owner;
            if (Interlocked.CompareExchange(ref r.Word, w | ((uint)owner << OwnerShift), w) == w) return true;
        }
    }

    // ---------------------------------------------------------------- writer side (caller serialises)

    /// <summary>
    /// Writer: adds <paramref name="entry"/> (an exact match) with <paramref name="actions"/>; false when its key is
    /// present already. With <paramref name="replacing"/> (the rule its key holds), the new record is published beside
    /// the old one, then the old one removed, so a reader finds one or the other and never neither; the old rule's
    /// counts stay its own.
    /// </summary>
    public bool Insert(FlowEntry entry, FlowActions actions, FlowEntry? replacing = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(actions);
        Debug.Assert(entry.Match.IsExact && entry.Match.ValueBase.W5 == 0);
        Reclaim();
        ref readonly var v = ref entry.Match.ValueBase;
        ulong k0 = v.W0 & s_m0, k1 = v.W1 & s_m1, k2 = v.W2 & s_m2, k3 = v.W3 & s_m3, k4 = v.W4 & s_m4;
        uint h = HashOf(k0, k1, k2, k3, k4);
        var g = _current;
        if (replacing is null ? g.Probe(h, k0, k1, k2, k3, k4) >= 0 : g.SlotOf(replacing, h) < 0) return false;
        int slot = g.FreeSlot(h);
        if (g.State[slot] == Empty)
        {
            // A new slot (not a reusable tombstone) raises the used share: keep live plus tombstones at most half.
            if ((_count + _tombstones + 1) * 2 > g.SlotCount)
            {
                // Twice the keys (a load of 1/4 to 1/2), or a compaction that drops the tombstones when that leaves a
                // load of at most 3/8 (else the next inserts would rebuild again at once).
                int slots = SlotsFor(_count + 1);
                if (slots == g.SlotCount && (_count + 1) * 8L > 3L * g.SlotCount && slots < MaxSlots) slots *= 2;
                Rebuild(slots);
                g = _current;
                slot = g.FreeSlot(h);
            }
        }
        uint id = Acquire(actions);
        if (g.State[slot] == Reusable) _tombstones--;
        ref var r = ref g.Slots[slot];
        r.W0 = k0; r.W1 = k1; r.W2 = k2; r.W3 = k3; r.W4 = k4;
        r.Packets = 0;
        r.Bytes = 0;
        r.LastUsedMillis = 0;
        Volatile.Write(ref g.Entries[slot], entry);
        g.State[slot] = Live;
        Volatile.Write(ref r.Word, id); // publishes the record (release)
        _count++;
        if (replacing is not null) Remove(replacing);
        return true;
    }

    /// <summary>Writer (or any thread for a reader's answer): the slot of <paramref name="key"/> (masked here) in
    /// <paramref name="gen"/>, or -1.</summary>
    public static int Find(Records gen, in FlowKey key)
    {
        ulong k0 = key.W0 & s_m0, k1 = key.W1 & s_m1, k2 = key.W2 & s_m2, k3 = key.W3 & s_m3, k4 = key.W4 & s_m4;
        return gen.Probe(HashOf(k0, k1, k2, k3, k4), k0, k1, k2, k3, k4);
    }

    /// <summary>
    /// Any thread: the rule whose key is <paramref name="key"/> (masked here), or null. The slot's entry is checked
    /// against the key once read, so a thread outside the domain (under which a removed key's slot may be reused) never
    /// gets another key's rule.
    /// </summary>
    public FlowEntry? Find(in FlowKey key)
    {
        var g = Current;
        ulong k0 = key.W0 & s_m0, k1 = key.W1 & s_m1, k2 = key.W2 & s_m2, k3 = key.W3 & s_m3, k4 = key.W4 & s_m4;
        int s = g.Probe(HashOf(k0, k1, k2, k3, k4), k0, k1, k2, k3, k4);
        var e = s < 0 ? null : g.Entry(s);
        GC.KeepAlive(g);
        return e is not null && HasKey(e, k0, k1, k2, k3, k4) ? e : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HasKey(FlowEntry e, ulong k0, ulong k1, ulong k2, ulong k3, ulong k4)
    {
        ref readonly var v = ref e.Match.ValueBase;
        return ((v.W0 ^ k0) | (v.W1 ^ k1) | (v.W2 ^ k2) | (v.W3 ^ k3) | (v.W4 ^ k4)) == 0;
    }

    /// <summary>
    /// Any thread, burst form with rules for results (the lookups that read the rule: the control path's, the pipeline
    /// walk's, a burst looked up again): for every key whose bit is set in <paramref name="pending"/>, stores its rule in
    /// <paramref name="results"/> and clears the bit on a hit; returns the hits. Each rule is checked against its key
    /// once read, as <see cref="Find(in FlowKey)"/> checks it.
    /// </summary>
    public int LookupBurst(ReadOnlySpan<FlowKey> keys, ref ulong pending, Span<FlowEntry?> results)
    {
        ulong bits = pending;
        if (bits == 0) return 0;
        Debug.Assert(keys.Length <= 64 && results.Length >= keys.Length);
        var g = Current;
        Span<int> slots = BurstScratch.ForThread.ExactSlots;
        g.LookupBurst(keys, ref pending, slots);
        ulong hits = bits & ~pending;
        // The rules' lines first (their match words, then the forwarder's reads), so a burst's misses overlap.
        for (ulong b = hits; b != 0; b &= b - 1)
        {
            int i = BitOperations.TrailingZeroCount(b);
            var e = g.Entry(slots[i]);
            results[i] = e;
            e?.PrefetchExactLookupLines();
        }
        int found = 0;
        for (ulong b = hits; b != 0; b &= b - 1)
        {
            int i = BitOperations.TrailingZeroCount(b);
            ref readonly FlowKey key = ref keys[i];
            var e = results[i];
            if (e is not null && HasKey(e, key.W0 & s_m0, key.W1 & s_m1, key.W2 & s_m2, key.W3 & s_m3, key.W4 & s_m4))
            {
                found++;
                continue;
            }
            results[i] = null;
            pending |= 1UL << i;
        }
        GC.KeepAlive(g);
        return found;
    }

    /// <summary>
    /// Writer: removes <paramref name="entry"/> (by identity); false when it is not in the table. Its record becomes a
    /// tombstone; its counts are folded into the entry once the grace period has passed (<see cref="Reclaim"/>,
    /// <see cref="ReclaimAfterReaders"/>).
    /// </summary>
    public bool Remove(FlowEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var g = _current;
        int s = g.SlotOf(entry, HashOf(entry));
        if (s < 0) return false;
        ref var r = ref g.Slots[s];
        Release(r.Word & IdMask);
        Volatile.Write(ref r.Word, DeletedId);
        g.State[s] = Retiring;
        _count--;
        _tombstones++;
        lock (_foldLock)
        {
            // The counts so far go to the entry now (the record is a tombstone: ReadCounts no longer finds it); what a
            // reader that found it before the tombstone adds later is folded after the grace period (Reclaim,
            // SettleRemoved).
            var x = _spareRemovals.TryPop(out var spare) ? spare : new Removal();
            x.Gen = g;
            x.Slot = s;
            x.Entry = entry;
            x.Epoch = _domain.CurrentEpoch;
            x.FoldedPackets = x.FoldedBytes = 0;
            Fold(x);
            _removing.Enqueue(x);
        }
        _domain.Advance();
        return true;
    }

    /// <summary>Writer: gives <paramref name="entry"/>'s record another action list (one store of the new id); false
    /// when the entry is not in the table.</summary>
    public bool SetActions(FlowEntry entry, FlowActions actions)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(actions);
        var g = _current;
        int s = g.SlotOf(entry, HashOf(entry));
        if (s < 0) return false;
        ref var r = ref g.Slots[s];
        uint old = r.Word & IdMask;
        if (ReferenceEquals(_actions[old], actions)) return true;
        uint id = Acquire(actions);
        while (true)
        {
            uint w = Volatile.Read(ref r.Word);
            if (Interlocked.CompareExchange(ref r.Word, (w & ~IdMask) | id, w) == w) break;
        }
        Release(old);
        _domain.Advance();
        return true;
    }

    /// <summary>
    /// The counts of <paramref name="entry"/>'s live record (0 when it has none): its total is these plus its own
    /// <see cref="FlowEntry.Packets"/> and <see cref="FlowEntry.Bytes"/>. Any thread. Also the record's last-used time
    /// (0 when never counted).
    /// </summary>
    public bool ReadCounts(FlowEntry entry, out long packets, out long bytes, out uint lastUsedMillis)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var g = Current;
        int s = g.SlotOf(entry, HashOf(entry));
        if (s >= 0)
        {
            ref var r = ref g.Slots[s];
            packets = Volatile.Read(ref r.Packets);
            bytes = Volatile.Read(ref r.Bytes);
            lastUsedMillis = Volatile.Read(ref r.LastUsedMillis);
            // The entry is checked after the counts: a slot reused since the lookup holds another entry.
            if (ReferenceEquals(Volatile.Read(ref g.Entries[s]), entry) && (Volatile.Read(ref r.Word) & IdMask) is not (EmptyId or DeletedId))
            {
                GC.KeepAlive(g);
                return true;
            }
        }
        GC.KeepAlive(g);
        packets = bytes = 0;
        lastUsedMillis = 0;
        return false;
    }

    /// <summary>Writer: every entry in the table, appended to <paramref name="into"/>.</summary>
    public void CopyTo(List<FlowEntry> into)
    {
        var g = _current;
        for (int i = 0; i < g.SlotCount; i++)
        {
            if (g.State[i] == Live) into.Add(g.Entries[i]!);
        }
    }

    /// <summary>
    /// Writer: appends every entry whose match is a subset of <paramref name="request"/> (non-strict modify, delete and
    /// statistics). An exact request is one probe; a wildcarded one scans the slots.
    /// </summary>
    public void CollectSubsets(in FlowMatch request, List<FlowEntry> into)
    {
        // Exact rules leave the tunnel id and the registers wildcarded, so they are subsets only of requests that do too.
        if (_count == 0 || !FlowHash.Covers(FlowMatch.ExactMaskNoTun, request.Mask) || request.UsesRegisters) return;
        if (request.Mask.Equals(FlowMatch.ExactMaskNoTun))
        {
            if (Find(request.Value) is { } e) into.Add(e);
            return;
        }
        if (request.Mask.Equals(default(FlowKey)))
        {
            CopyTo(into);
            return;
        }
        var g = _current;
        for (int i = 0; i < g.SlotCount; i++)
        {
            if (g.State[i] == Live && g.Entries[i] is { } e && e.Match.Value.MatchesMasked(request.Mask, request.Value)) into.Add(e);
        }
    }

    /// <summary>Writer: true when some rule overlaps <paramref name="match"/> (a packet could match both).</summary>
    public bool HasOverlap(in FlowMatch match)
    {
        if (_count == 0) return false;
        // A match that pins every field of an exact rule can overlap only the rule with those field values.
        if (FlowHash.Covers(match.Mask, FlowMatch.ExactMaskNoTun)) return Find(match.Value.And(FlowMatch.ExactMaskNoTun)) is not null;
        var g = _current;
        for (int i = 0; i < g.SlotCount; i++)
        {
            if (g.State[i] == Live && g.Entries[i] is { } e && e.Match.Overlaps(match)) return true;
        }
        return false;
    }

    /// <summary>
    /// Writer: folds the counts of removed slots and retired generations whose grace period has passed into their
    /// entries, makes those slots reusable and frees those generations. Returns how many removals and generations it
    /// finished.
    /// </summary>
    public int Reclaim()
    {
        if (_removing.Count == 0 && _retired.Count == 0 && _freedIds.Count == 0) return 0;
        long safe = _domain.SafeEpoch();
        int done = 0;
        lock (_foldLock)
        {
            while (_removing.TryPeek(out var x) && x.Epoch < safe)
            {
                _removing.Dequeue();
                done++;
                Fold(x);
                // A slot of a generation growth replaced is not reused (that generation is dropped whole).
                if (ReferenceEquals(x.Gen, _current))
                {
                    ref var r = ref x.Gen.Slots[x.Slot];
                    r.Packets = 0;
                    r.Bytes = 0;
                    x.Gen.Entries[x.Slot] = null;
                    x.Gen.State[x.Slot] = Reusable;
                }
                x.Gen = null!;
                x.Entry = null!;
                _spareRemovals.Push(x);
            }
            while (_retired.TryPeek(out var g) && g.RetiredEpoch < safe)
            {
                _retired.Dequeue();
                done++;
                g.FoldInto();
                // Not freed here: a thread outside the domain (a test's or a tool's lookup, a single-threaded poll) may
                // still hold it; its finalizer frees the records once nothing references the generation.
            }
        }
        while (_freedIds.TryPeek(out var f) && f.Epoch < safe)
        {
            _freedIds.Dequeue();
            _freeIds.Push(f.Id);
        }
        return done;
    }

    /// <summary>
    /// Any thread, once every reader has passed a quiescent point after epoch <paramref name="epoch"/> (the value
    /// <see cref="QuiescentDomain.Advance"/> returned before the wait): folds into each entry removed before it what its
    /// record counted since the removal, so the entry's counts are final (a removal report reads them). The slots stay
    /// in their grace period (a hold may still be in it); <see cref="Reclaim"/> frees them later and folds nothing twice.
    /// </summary>
    public void SettleRemoved(long epoch)
    {
        lock (_foldLock)
        {
            foreach (var x in _removing)
            {
                if (x.Epoch >= epoch) break;
                Fold(x);
            }
        }
    }

    // Under _foldLock: adds to the entry what its removed record counted since the last fold.
    private static void Fold(Removal x)
    {
        ref var r = ref x.Gen.Slots[x.Slot];
        long p = Volatile.Read(ref r.Packets), b = Volatile.Read(ref r.Bytes);
        x.Entry.AddCounts(p - x.FoldedPackets, b - x.FoldedBytes);
        x.FoldedPackets = p;
        x.FoldedBytes = b;
        GC.KeepAlive(x.Gen);
    }

    private sealed class Removal
    {
        public Records Gen = null!;
        public int Slot;
        public FlowEntry Entry = null!;
        public long Epoch;
        public long FoldedPackets, FoldedBytes;
    }

    /// <summary>
    /// Writer: waits until every reader of the domain has passed a quiescent point (or <paramref name="limitMs"/>
    /// passed), then <see cref="Reclaim"/>s: after it, every removed entry holds its final counts.
    /// </summary>
    public bool ReclaimAfterReaders(int limitMs)
    {
        bool ok = _domain.WaitForReaders(_domain.Advance(), limitMs);
        Reclaim();
        return ok;
    }

    private void Rebuild(int slots)
    {
        var old = _current;
        var g = new Records(slots);
        old.CopiedPackets = new long[old.SlotCount];
        old.CopiedBytes = new long[old.SlotCount];
        // Live records move with their counts (and owner); what their owners add to the old ones until the grace
        // period ends is folded into the entries then.
        for (int i = 0; i < old.SlotCount; i++)
        {
            if (old.State[i] != Live) continue;
            ref var r = ref old.Slots[i];
            long p = Volatile.Read(ref r.Packets), b = Volatile.Read(ref r.Bytes);
            old.CopiedPackets![i] = p;
            old.CopiedBytes![i] = b;
            uint s = HashOf(r.W0, r.W1, r.W2, r.W3, r.W4) & g.Mask;
            while (g.State[s] != Empty) s = (s + 1) & g.Mask;
            ref var n = ref g.Slots[s];
            n = r;
            n.Packets = p;
            n.Bytes = b;
            n.Word = Volatile.Read(ref r.Word);
            g.Entries[s] = old.Entries[i];
            g.State[s] = Live;
        }
        _tombstones = 0;
        old.RetiredEpoch = _domain.CurrentEpoch;
        Volatile.Write(ref _current, g);
        _retired.Enqueue(old);
        _domain.Advance();
    }

    private uint Acquire(FlowActions actions)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_ids, actions, out bool exists);
        if (exists)
        {
            slot.Refs++;
            return slot.Id;
        }
        uint id;
        if (_freeIds.Count != 0)
        {
            id = _freeIds.Pop();
        }
        else
        {
            if (_nextId >= DeletedId)
            {
                _ids.Remove(actions);
                ThrowTooManyLists();
            }
            id = _nextId++;
        }
        if (id >= (uint)_actions.Length)
        {
            var grown = new FlowActions?[Math.Min((long)_actions.Length * 2, DeletedId)];
            Array.Copy(_actions, grown, _actions.Length);
            Volatile.Write(ref _actions, grown);
        }
        Volatile.Write(ref _actions[id], actions);
        slot = (id, 1);
        return id;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooManyLists() => throw new InvalidOperationException("exact record table: too many action lists");

    private void Release(uint id)
    {
        var a = _actions[id]!;
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_ids, a);
        Debug.Assert(!Unsafe.IsNullRef(ref slot));
        if (--slot.Refs > 0) return;
        _ids.Remove(a);
        // The list stays readable under its id until the grace period has passed (a reader may have loaded the id).
        _freedIds.Enqueue((id, _domain.CurrentEpoch));
    }

    /// <summary>Frees every generation's records. Only when no reader will look up the table again.</summary>
    public void Dispose()
    {
        while (_retired.TryDequeue(out var g)) g.Dispose();
        _current.Dispose();
    }

    /// <summary>
    /// One generation of records: readers load it once (<see cref="Current"/>) and use its slots until their next
    /// quiescent point.
    /// </summary>
    public sealed class Records
    {
        internal ExactRecord* Slots;
        internal readonly uint Mask;
        /// <summary>Slot i's rule (slow paths); kept after a removal until its counts are folded.</summary>
        internal readonly FlowEntry?[] Entries;
        internal readonly byte[] State; // writer-private
        internal long[]? CopiedPackets, CopiedBytes; // writer-private: counts copied into the next generation
        internal long RetiredEpoch;

        internal Records(int slots)
        {
            Debug.Assert(BitOperations.IsPow2(slots));
            nuint size = (nuint)slots * (nuint)sizeof(ExactRecord);
            nuint align = size >= HugePage ? HugePage : 64;
            Slots = (ExactRecord*)NativeMemory.AlignedAlloc(size, align);
            if (align == HugePage && OperatingSystem.IsLinux()) _ = madvise(Slots, size, MadvHugePage);
            NativeMemory.Clear(Slots, size);
            GC.AddMemoryPressure((long)size);
            Mask = (uint)(slots - 1);
            SlotCount = slots;
            Entries = new FlowEntry?[slots];
            State = new byte[slots];
        }

        ~Records() => Free();

        /// <summary>Slots (a power of two).</summary>
        public int SlotCount { get; }

        /// <summary>Bytes of native memory the records take.</summary>
        public long NativeSize => (long)SlotCount * sizeof(ExactRecord);

        /// <summary>The record in a slot a lookup returned (valid until the reader's next quiescent point).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ref ExactRecord Record(int slot)
        {
            Debug.Assert((uint)slot <= Mask);
            return ref Slots[slot];
        }

        /// <summary>The rule in a slot a lookup returned (slow paths).</summary>
        public FlowEntry? Entry(int slot) => Volatile.Read(ref Entries[slot]);

        /// <summary>
        /// Reader: the slot of the record whose key is the masked key words, or -1. The state word is loaded (acquire)
        /// before the key words.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal int Probe(uint hash, ulong k0, ulong k1, ulong k2, ulong k3, ulong k4)
        {
            ExactRecord* table = Slots;
            uint mask = Mask;
            uint s = hash & mask;
            while (true)
            {
                ExactRecord* p = table + s;
                uint id = Volatile.Read(ref p->Word) & IdMask;
                if (id == EmptyId) return -1;
                if (id != DeletedId && ((p->W0 ^ k0) | (p->W1 ^ k1) | (p->W2 ^ k2) | (p->W3 ^ k3) | (p->W4 ^ k4)) == 0) return (int)s;
                s = (s + 1) & mask;
            }
        }

        /// <summary>
        /// Any thread: the slot of the live record holding <paramref name="entry"/> (by identity) on
        /// <paramref name="hash"/>'s probe sequence, or -1 (slow paths: statistics, removal).
        /// </summary>
        internal int SlotOf(FlowEntry entry, uint hash)
        {
            uint s = hash & Mask;
            for (uint n = 0; n <= Mask; n++)
            {
                uint id = Volatile.Read(ref Slots[s].Word) & IdMask;
                if (id == EmptyId) break;
                if (id != DeletedId && ReferenceEquals(Volatile.Read(ref Entries[s]), entry))
                {
                    GC.KeepAlive(this);
                    return (int)s;
                }
                s = (s + 1) & Mask;
            }
            GC.KeepAlive(this);
            return -1;
        }

        /// <summary>
        /// Reader, burst form: for every key whose bit is set in <paramref name="pending"/>, stores its slot in
        /// <paramref name="slots"/> and clears the bit on a hit; returns the hits. Two passes, so a burst's misses
        /// overlap: hash every key and prefetch its home record, then compare.
        /// </summary>
        public int LookupBurst(ReadOnlySpan<FlowKey> keys, ref ulong pending, Span<int> slots)
        {
            ulong bits = pending;
            if (bits == 0) return 0;
            Debug.Assert(keys.Length <= 64 && slots.Length >= keys.Length && (keys.Length == 64 || bits >> keys.Length == 0));
            ulong m0 = s_m0, m1 = s_m1, m2 = s_m2, m3 = s_m3, m4 = s_m4;
            ExactRecord* table = Slots;
            uint mask = Mask;
            ref FlowKey k = ref MemoryMarshal.GetReference(keys);
            ref uint hs = ref MemoryMarshal.GetArrayDataReference(BurstScratch.ForThread.ExactHashes);
            while (bits != 0)
            {
                int i = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                ref FlowKey key = ref Unsafe.Add(ref k, i);
                uint h = HashOf(key.W0 & m0, key.W1 & m1, key.W2 & m2, key.W3 & m3, key.W4 & m4);
                Unsafe.Add(ref hs, i) = h;
                Prefetch.Line(ref table[h & mask]);
            }
            int found = 0;
            ref int r = ref MemoryMarshal.GetReference(slots);
            bits = pending;
            while (bits != 0)
            {
                int i = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                ref FlowKey key = ref Unsafe.Add(ref k, i);
                int s = Probe(Unsafe.Add(ref hs, i), key.W0 & m0, key.W1 & m1, key.W2 & m2, key.W3 & m3, key.W4 & m4);
                if (s < 0) continue;
                Unsafe.Add(ref r, i) = s;
                pending &= ~(1UL << i);
                found++;
            }
            GC.KeepAlive(this);
            return found;
        }

        /// <summary>Writer: the first slot of <paramref name="hash"/>'s probe sequence that is empty or a reusable
        /// tombstone (a tombstone still in its grace period is passed).</summary>
        internal int FreeSlot(uint hash)
        {
            uint s = hash & Mask;
            while (State[s] is Live or Retiring) s = (s + 1) & Mask;
            return (int)s;
        }

        /// <summary>Writer, after the grace period of a generation growth replaced: folds into each entry what was
        /// counted in its old record after the copy.</summary>
        internal void FoldInto()
        {
            for (int i = 0; i < SlotCount; i++)
            {
                // A removed record's counts are folded by its removal (Reclaim, SettleRemoved).
                var e = Entries[i];
                if (e is null || State[i] != Live) continue;
                ref var r = ref Slots[i];
                e.AddCounts(r.Packets - CopiedPackets![i], r.Bytes - CopiedBytes![i]);
            }
        }

        internal void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        private void Free()
        {
            // The writer's Dispose and the finalizer never run together (Dispose suppresses it).
            var p = Slots;
            if (p is null) return;
            Slots = null;
            NativeMemory.AlignedFree(p);
            GC.RemoveMemoryPressure(NativeSize);
        }
    }

    private const nuint HugePage = 2u << 20;
    private const int MadvHugePage = 14;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
