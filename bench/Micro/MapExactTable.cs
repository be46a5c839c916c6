using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Softswitch.Datapath;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Bench.Micro;

/// <summary>
/// The exact gate's baseline (<see cref="ExactGateBenchmarks"/>): the hash stage's index before
/// <see cref="Softswitch.Datapath.Classifier.ExactRecordTable"/> replaced it, rules with no wildcard in the 12-tuple
/// keyed by the packet key ANDed with <see cref="FlowMatch.ExactMaskNoTun"/> (the tunnel id word cleared, nw_tos
/// reduced to DSCP, padding cleared) in a <see cref="FlowHashMap"/> of <see cref="FlowEntry"/> objects.
/// </summary>
/// <remarks>
/// <para>Design: one <see cref="FlowHashMap"/> (bucketized open addressing: a parallel <c>uint[]</c> of tags and
/// <c>FlowEntry?[]</c> of entries, tombstones on delete, in-place replacement, rebuild-and-publish past 3/4 load).
/// Per flow it costs the entry object plus 12 bytes per slot at 25-50% load factor (about 24-48 bytes).</para>
/// <para>Thread safety: the benchmark's one thread writes and reads (the burst lookup's scratch arrays are the
/// table's). The table's hash is its own (CRC32C of the masked key).</para>
/// </remarks>
[SkipLocalsInit]
internal sealed class MapExactTable
{
    private static readonly ulong s_m0 = FlowMatch.ExactMaskNoTun.W0, s_m1 = FlowMatch.ExactMaskNoTun.W1,
        s_m2 = FlowMatch.ExactMaskNoTun.W2, s_m3 = FlowMatch.ExactMaskNoTun.W3, s_m4 = FlowMatch.ExactMaskNoTun.W4;

    private readonly FlowHashMap _map;
    private readonly uint[] _hashes = new uint[64];
    private readonly nint[] _candidates = new nint[64];

    public MapExactTable(int initialCapacity = 0)
    {
        Debug.Assert(FlowMatch.ExactMaskNoTun.W5 == 0);
        _map = new FlowHashMap(initialCapacity);
    }

    /// <summary>Flows in the table.</summary>
    public int Count => _map.Count;

    /// <summary>Slots currently allocated (for memory accounting).</summary>
    public int SlotCount => _map.SlotCount;

    /// <summary>Reader: the exact rule matching this packet key (its tunnel id is ignored), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FlowEntry? Lookup(in FlowKey key)
    {
        ulong k0 = key.W0 & s_m0, k1 = key.W1 & s_m1, k2 = key.W2 & s_m2, k3 = key.W3 & s_m3, k4 = key.W4 & s_m4;
        uint h = FlowHash.Of(k0, k1, k2, k3, k4, 0);
        return FlowHashMap.Probe(_map.Current, h, k0, k1, k2, k3, k4, 0);
    }

    /// <summary>
    /// Reader, burst form: looks up every key whose bit is set in <paramref name="pending"/>, stores hits in
    /// <paramref name="results"/> and clears their bits. Returns the number of hits.
    /// </summary>
    public int LookupBurst(ReadOnlySpan<FlowKey> keys, ref ulong pending, Span<FlowEntry?> results)
    {
        ulong bits = pending;
        if (bits == 0) return 0;
        Debug.Assert(keys.Length <= 64 && results.Length >= keys.Length && (keys.Length == 64 || bits >> keys.Length == 0));
        var table = _map.Current;
        if (!Vector128.IsHardwareAccelerated) return LookupBurstScalar(table, keys, ref pending, results);
        int maxDisplacement = Volatile.Read(ref table.MaxDisplacement);
        ref uint tags = ref MemoryMarshal.GetArrayDataReference(table.Tags);
        ref FlowEntry? entries = ref MemoryMarshal.GetArrayDataReference(table.Entries);
        uint bucketMask = table.BucketMask;
        ulong m0 = s_m0, m1 = s_m1, m2 = s_m2, m3 = s_m3, m4 = s_m4;
        int found = 0;
        ref FlowKey k = ref MemoryMarshal.GetReference(keys);
        ref FlowEntry? r = ref MemoryMarshal.GetReference(results);
        // Three passes so the cache misses of a burst overlap instead of queueing: (1) hash every pending key and
        // prefetch its home bucket's tags and entries; (2) take the first tag hit in the home bucket as the
        // candidate and prefetch the lines of the entry that pass 3 and the forwarder's grouping read (its actions,
        // counters, serial and flags, and its match value's first five words); (3) confirm the candidate by its key,
        // falling back to a complete probe when it is not the one. The sixth word is neither prefetched nor compared:
        // every rule here has the exact mask, which clears it, so its value there is zero (asserted at insertion).
        Span<uint> hs = _hashes;
        Span<nint> cand = _candidates;
        while (bits != 0)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            bits &= bits - 1;
            ref FlowKey key = ref Unsafe.Add(ref k, i);
            uint h = FlowHash.Of(key.W0 & m0, key.W1 & m1, key.W2 & m2, key.W3 & m3, key.W4 & m4, 0);
            hs[i] = h;
            nint b = (nint)((h & bucketMask) * FlowHashMap.BucketSlots);
            Prefetch.Line(ref Unsafe.Add(ref tags, b));
            Prefetch.Line(ref Unsafe.Add(ref entries, b));
        }
        for (bits = pending; bits != 0; bits &= bits - 1)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            uint h = hs[i];
            nint b = (nint)((h & bucketMask) * FlowHashMap.BucketSlots);
            uint hit = Vector128.Equals(Vector128.LoadUnsafe(ref tags, (nuint)b), Vector128.Create(FlowHashMap.TagOf(h))).ExtractMostSignificantBits();
            nint slot = hit == 0 ? -1 : b + BitOperations.TrailingZeroCount(hit);
            cand[i] = slot;
            if (slot >= 0) Volatile.Read(ref Unsafe.Add(ref entries, slot))?.PrefetchExactLookupLines();
        }
        bits = pending;
        while (bits != 0)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            bits &= bits - 1;
            ref FlowKey key = ref Unsafe.Add(ref k, i);
            ulong k0 = key.W0 & m0, k1 = key.W1 & m1, k2 = key.W2 & m2, k3 = key.W3 & m3, k4 = key.W4 & m4;
            FlowEntry? e = null;
            nint slot = cand[i];
            if (slot >= 0)
            {
                e = Volatile.Read(ref Unsafe.Add(ref entries, slot));
                if (e is not null)
                {
                    ref readonly var v = ref e.Match.ValueBase;
                    if (((v.W0 ^ k0) | (v.W1 ^ k1) | (v.W2 ^ k2) | (v.W3 ^ k3) | (v.W4 ^ k4)) != 0) e = null;
                }
            }
            e ??= FlowHashMap.Probe(ref tags, ref entries, bucketMask, maxDisplacement, hs[i], k0, k1, k2, k3, k4, 0);
            if (e is not null)
            {
                Unsafe.Add(ref r, i) = e;
                pending &= ~(1UL << i);
                found++;
            }
        }
        return found;
    }

    private static int LookupBurstScalar(FlowHashMap.Table table, ReadOnlySpan<FlowKey> keys, ref ulong pending, Span<FlowEntry?> results)
    {
        int found = 0;
        for (ulong bits = pending; bits != 0; bits &= bits - 1)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            ref readonly FlowKey key = ref keys[i];
            ulong k0 = key.W0 & s_m0, k1 = key.W1 & s_m1, k2 = key.W2 & s_m2, k3 = key.W3 & s_m3, k4 = key.W4 & s_m4;
            var e = FlowHashMap.ProbeScalar(table, FlowHash.Of(k0, k1, k2, k3, k4, 0), k0, k1, k2, k3, k4, 0);
            if (e is null) continue;
            results[i] = e;
            pending &= ~(1UL << i);
            found++;
        }
        return found;
    }

    // ---------------------------------------------------------------- writer side (caller serialises)

    /// <summary>Writer: the rule whose match value is <paramref name="value"/> (an exact match's value), or null.</summary>
    public FlowEntry? Find(in FlowKey value)
    {
        int slot = _map.FindSlot(value, FlowHash.Of(value));
        return slot < 0 ? null : _map.SlotEntry(slot);
    }

    /// <summary>
    /// Writer: like <see cref="Find"/>, also returning the slot (or -1) and hash for an <see cref="InsertAt"/> that
    /// follows with no other write in between.
    /// </summary>
    internal FlowEntry? FindForInsert(in FlowKey value, out int slot, out uint hash)
    {
        hash = FlowHash.Of(value);
        slot = _map.FindSlot(value, hash);
        return slot < 0 ? null : _map.SlotEntry(slot);
    }

    /// <summary>Writer: completes an insertion prepared by <see cref="FindForInsert"/> (replace in place, or add).</summary>
    internal void InsertAt(int slot, uint hash, FlowEntry entry)
    {
        Debug.Assert(entry.Match.IsExact && entry.Match.ValueBase.W5 == 0);
        if (slot >= 0) _map.ReplaceAt(slot, entry);
        else _map.Add(hash, entry);
    }

    /// <summary>Writer: removes this entry (by identity). Returns false when it is not in the table.</summary>
    public bool Remove(FlowEntry entry)
    {
        var value = entry.Match.Value;
        int slot = _map.FindSlot(value, FlowHash.Of(value));
        if (slot < 0 || !ReferenceEquals(_map.SlotEntry(slot), entry)) return false;
        _map.RemoveAt(slot);
        return true;
    }

    /// <summary>
    /// Writer: appends every entry whose match is a subset of <paramref name="request"/> (OF1.0 non-strict
    /// modify/delete/stats). An exact request is one probe; a wildcarded one scans the table.
    /// </summary>
    public void CollectSubsets(in FlowMatch request, List<FlowEntry> into)
    {
        // Exact rules leave the tunnel id and the registers wildcarded, so they are subsets only of requests that do too.
        if (!FlowHash.Covers(FlowMatch.ExactMaskNoTun, request.Mask) || request.UsesRegisters) return;
        if (request.Mask.Equals(FlowMatch.ExactMaskNoTun))
        {
            var e = Find(request.Value);
            if (e is not null) into.Add(e);
            return;
        }
        if (request.Mask.Equals(default(FlowKey)))
        {
            _map.CopyTo(into);
            return;
        }
        var entries = _map.WriterTable.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e is not null && e.Match.Value.MatchesMasked(request.Mask, request.Value)) into.Add(e);
        }
    }

    /// <summary>Writer: true when some exact rule overlaps <paramref name="match"/> (a packet could match both).</summary>
    public bool HasOverlap(in FlowMatch match)
    {
        if (_map.Count == 0) return false;
        if (FlowHash.Covers(match.Mask, FlowMatch.ExactMaskNoTun))
        {
            // The match pins every exact-rule field: only the rule with those field values can overlap.
            return Find(match.Value.And(FlowMatch.ExactMaskNoTun)) is not null;
        }
        var entries = _map.WriterTable.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e is not null && e.Match.Overlaps(match)) return true;
        }
        return false;
    }
}
