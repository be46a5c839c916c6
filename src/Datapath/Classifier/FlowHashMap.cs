using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// An open-addressed map from a masked key to one <see cref="FlowEntry"/>: one writer, any number of
/// lock-free readers. The exact table and every tuple-space subtable are one of these.
/// </summary>
/// <remarks>
/// Buckets of <see cref="BucketSlots"/> tags (one <see cref="Vector128{T}"/>) beside their entries; a tag is the hash
/// with bit 31 set, 0 is empty and <see cref="DeletedTag"/> a tombstone. Invariants: deletion never makes a slot empty,
/// so an empty slot ends every probe sequence through its bucket; at most 3/4 of the slots are used or deleted; a key
/// is never placed further than <see cref="Table.MaxDisplacement"/> from its home bucket. One writer (the caller
/// serialises): an entry is written before its tag, and growing builds new arrays published with one
/// <see cref="Volatile.Write{T}(ref T, T)"/>; readers load <see cref="Current"/> once. Design: docs/datapath.md,
/// "The hash map under every stage".
/// </remarks>
internal sealed class FlowHashMap
{
    public const int BucketSlots = 4;
    public const uint DeletedTag = 1;
    private const uint TagBit = 0x8000_0000u;
    private const int MinSlots = 16;

    /// <summary>One immutable-shape generation of the arrays (contents change in place as described above).</summary>
    public sealed class Table
    {
        public readonly uint[] Tags;
        public readonly FlowEntry?[] Entries;
        public readonly uint BucketMask;
        /// <summary>
        /// How many buckets past its home bucket any key of this table was ever placed (only grows; written
        /// before the key is published). A reader that loaded it may stop probing after that many extra buckets.
        /// </summary>
        public int MaxDisplacement;

        public Table(int slots)
        {
            Debug.Assert(slots >= BucketSlots && (slots & (slots - 1)) == 0);
            Tags = new uint[slots];
            Entries = new FlowEntry?[slots];
            BucketMask = (uint)(slots / BucketSlots - 1);
        }

        public int Slots => Tags.Length;
    }

    private Table _table;
    private readonly WriterState _w = new(); // moved with every add and remove: off the line lookups read (_table)
    private readonly int _slotsPerKey;

    /// <summary>The writer's counters, off the lookups' line (see <see cref="TupleSpace"/>'s).</summary>
    [StructLayout(LayoutKind.Explicit)]
    private sealed class WriterState
    {
        [FieldOffset(64)] public int Count;
        [FieldOffset(68)] public int Deleted;
    }

    /// <param name="initialCapacity">Keys to size for.</param>
    /// <param name="slotsPerKey">
    /// Slots allocated per key when (re)building: 2 (at most half full: the exact table, where memory per flow
    /// counts) or 4 (a quarter: subtables, which are small and probed by every packet, so short probes matter more).
    /// </param>
    public FlowHashMap(int initialCapacity = 0, int slotsPerKey = 2)
    {
        if (slotsPerKey is not (2 or 4)) ThrowHelper.ArgumentOutOfRange(nameof(slotsPerKey));
        _slotsPerKey = slotsPerKey;
        _table = new Table(SlotsFor(initialCapacity));
    }

    /// <summary>The published arrays: readers load this once per lookup (or once per burst).</summary>
    public Table Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _table);
    }

    /// <summary>Keys present (written by the writer, readable by anyone).</summary>
    public int Count => Volatile.Read(ref _w.Count);

    public int SlotCount => _table.Slots;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint TagOf(uint hash) => hash | TagBit;

    /// <summary>
    /// Reader probe: the entry whose <see cref="FlowMatch.Value"/> equals the masked key (k0..k5), whose table
    /// hash is <paramref name="hash"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowEntry? Probe(Table t, uint hash, ulong k0, ulong k1, ulong k2, ulong k3, ulong k4, ulong k5)
    {
        if (Vector128.IsHardwareAccelerated)
        {
            return Probe(ref MemoryMarshal.GetArrayDataReference(t.Tags), ref MemoryMarshal.GetArrayDataReference(t.Entries),
                         t.BucketMask, Volatile.Read(ref t.MaxDisplacement), hash, k0, k1, k2, k3, k4, k5);
        }
        return ProbeScalar(t, hash, k0, k1, k2, k3, k4, k5);
    }

    /// <summary>
    /// <see cref="Probe(Table, uint, ulong, ulong, ulong, ulong, ulong, ulong)"/> over references the caller has
    /// already taken from one <see cref="Table"/> (a burst loop hoists them out of its per-packet loop), with the
    /// table's <see cref="Table.MaxDisplacement"/> read before them. SIMD only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowEntry? Probe(ref uint tags, ref FlowEntry? entries, uint bucketMask, int maxDisplacement, uint hash,
                                   ulong k0, ulong k1, ulong k2, ulong k3, ulong k4, ulong k5)
    {
        var want = Vector128.Create(hash | TagBit);
        uint b = hash & bucketMask;
        for (int d = 0; ; d++)
        {
            var v = Vector128.LoadUnsafe(ref tags, (nuint)(b * BucketSlots));
            uint hits = Vector128.Equals(v, want).ExtractMostSignificantBits();
            while (hits != 0)
            {
                int j = System.Numerics.BitOperations.TrailingZeroCount(hits);
                var e = Volatile.Read(ref Unsafe.Add(ref entries, (nint)(b * BucketSlots) + j));
                if (e is not null)
                {
                    ref readonly var v2 = ref e.Match.ValueBase;
                    if (((v2.W0 ^ k0) | (v2.W1 ^ k1) | (v2.W2 ^ k2) | (v2.W3 ^ k3) | (v2.W4 ^ k4) | (v2.W5 ^ k5)) == 0)
                        return e;
                }
                hits &= hits - 1;
            }
            if (d >= maxDisplacement) return null;
            b = (b + 1) & bucketMask;
        }
    }

    /// <summary>
    /// Tag hits (one bit per slot) in the home bucket of <paramref name="hash"/>, and its empty slots. SIMD only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HomeBucketHits(ref uint tags, uint bucketMask, uint hash, out uint empties)
    {
        var v = Vector128.LoadUnsafe(ref tags, (nuint)((hash & bucketMask) * BucketSlots));
        empties = Vector128.Equals(v, Vector128<uint>.Zero).ExtractMostSignificantBits();
        return Vector128.Equals(v, Vector128.Create(hash | TagBit)).ExtractMostSignificantBits();
    }

    /// <summary>
    /// Burst-loop probe: like <see cref="Probe(ref uint, ref FlowEntry?, uint, int, uint, ulong, ulong, ulong, ulong, ulong, ulong)"/>
    /// but compares a tag hit as <c>(key &amp; mask) == value</c> over the base words straight from memory, so the caller
    /// keeps no masked words live across the probe (fewer registers, fewer spills in the per-packet loop). For masks
    /// that cover no extension word (the others use <see cref="ProbeExtended"/>). SIMD only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowEntry? ProbeMasked(ref uint tags, ref FlowEntry? entries, uint bucketMask, int maxDisplacement, uint hash,
                                         in FlowKey key, in FlowKey mask)
    {
        var want = Vector128.Create(hash | TagBit);
        uint b = hash & bucketMask;
        for (int d = 0; ; d++)
        {
            var v = Vector128.LoadUnsafe(ref tags, (nuint)(b * BucketSlots));
            uint hits = Vector128.Equals(v, want).ExtractMostSignificantBits();
            while (hits != 0)
            {
                int j = System.Numerics.BitOperations.TrailingZeroCount(hits);
                var e = Volatile.Read(ref Unsafe.Add(ref entries, (nint)(b * BucketSlots) + j));
                if (e is not null && BaseMatches(key, mask, e)) return e;
                hits &= hits - 1;
            }
            if (d >= maxDisplacement) return null;
            b = (b + 1) & bucketMask;
        }
    }

    /// <summary><c>(key &amp; mask) == value</c> over the base words (three 128-bit compares, one zero test).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool BaseMatches(in FlowKey key, in FlowKey mask, FlowEntry e)
    {
        ref readonly ulong k = ref key.W0, m = ref mask.W0, v = ref e.Match.ValueBase.W0;
        var d0 = (Vector128.LoadUnsafe(in k) & Vector128.LoadUnsafe(in m)) ^ Vector128.LoadUnsafe(in v);
        var d1 = (Vector128.LoadUnsafe(in k, 2) & Vector128.LoadUnsafe(in m, 2)) ^ Vector128.LoadUnsafe(in v, 2);
        var d2 = (Vector128.LoadUnsafe(in k, 4) & Vector128.LoadUnsafe(in m, 4)) ^ Vector128.LoadUnsafe(in v, 4);
        return (d0 | d1 | d2) == Vector128<ulong>.Zero;
    }

    /// <summary>
    /// Probe of a table whose mask covers extension words or registers: the hash is <see cref="FlowHash.Extend"/>'s (and
    /// <see cref="FlowHash.ExtendRegisters"/>', then the conj_id's when the mask tests it), and a tag hit is compared over
    /// the base words, the extension words the mask covers, the registers and the conj_id (<paramref name="conjId"/>: the
    /// lookup's, 0 but within a conjunctive match's lookup). Scalar (these tables are the rare kind).
    /// </summary>
    public static FlowEntry? ProbeExtended(Table t, uint hash, in FlowKey key, in FlowKey mask, in Registers regs, uint conjId = 0)
    {
        uint[] tags = t.Tags;
        FlowEntry?[] entries = t.Entries;
        uint bucketMask = t.BucketMask;
        uint tag = hash | TagBit;
        uint b = hash & bucketMask;
        while (true)
        {
            bool sawEmpty = false;
            int s0 = (int)(b * BucketSlots);
            for (int j = 0; j < BucketSlots; j++)
            {
                uint tg = Volatile.Read(ref tags[s0 + j]);
                if (tg == tag)
                {
                    var e = Volatile.Read(ref entries[s0 + j]);
                    if (e is not null && e.Match.ValueMatches(key, mask) && e.Match.RegistersMatch(regs) && e.Match.ConjIdMatches(conjId)) return e;
                }
                else if (tg == 0)
                {
                    sawEmpty = true;
                }
            }
            if (sawEmpty) return null;
            b = (b + 1) & bucketMask;
        }
    }

    /// <summary>Scalar twin of <see cref="Probe(Table, uint, ulong, ulong, ulong, ulong, ulong, ulong)"/> (SIMD off).</summary>
    public static FlowEntry? ProbeScalar(Table t, uint hash, ulong k0, ulong k1, ulong k2, ulong k3, ulong k4, ulong k5)
    {
        uint[] tags = t.Tags;
        FlowEntry?[] entries = t.Entries;
        uint mask = t.BucketMask;
        uint tag = hash | TagBit;
        uint b = hash & mask;
        while (true)
        {
            bool sawEmpty = false;
            int s0 = (int)(b * BucketSlots);
            for (int j = 0; j < BucketSlots; j++)
            {
                uint tg = Volatile.Read(ref tags[s0 + j]);
                if (tg == tag)
                {
                    var e = Volatile.Read(ref entries[s0 + j]);
                    if (e is not null)
                    {
                        ref readonly var v2 = ref e.Match.ValueBase;
                        if (((v2.W0 ^ k0) | (v2.W1 ^ k1) | (v2.W2 ^ k2) | (v2.W3 ^ k3) | (v2.W4 ^ k4) | (v2.W5 ^ k5)) == 0)
                            return e;
                    }
                }
                else if (tg == 0)
                {
                    sawEmpty = true;
                }
            }
            if (sawEmpty) return null;
            b = (b + 1) & mask;
        }
    }

    // ---------------------------------------------------------------- writer side (caller serialises)

    /// <summary>Writer: slot index of the key equal to <paramref name="value"/> (already masked), or -1.</summary>
    public int FindSlot(in FlowKey value, uint hash)
    {
        var t = _table;
        uint tag = hash | TagBit;
        uint b = hash & t.BucketMask;
        while (true)
        {
            bool sawEmpty = false;
            int s0 = (int)(b * BucketSlots);
            for (int j = 0; j < BucketSlots; j++)
            {
                uint tg = t.Tags[s0 + j];
                if (tg == tag)
                {
                    var e = t.Entries[s0 + j];
                    if (e is not null && e.Match.ValueEquals(value)) return s0 + j;
                }
                else if (tg == 0)
                {
                    sawEmpty = true;
                }
            }
            if (sawEmpty) return -1;
            b = (b + 1) & t.BucketMask;
        }
    }

    /// <summary>Writer: slot index of the rule whose value (key and registers) equals <paramref name="match"/>'s (its mask this map's), or -1.</summary>
    public int FindSlot(in FlowMatch match, uint hash)
    {
        if (!match.UsesRegisters && !match.UsesConjId) return FindSlot(match.Value, hash);
        var value = match.Value;
        var regs = match.RegisterValue;
        var t = _table;
        uint tag = hash | TagBit;
        uint b = hash & t.BucketMask;
        while (true)
        {
            bool sawEmpty = false;
            int s0 = (int)(b * BucketSlots);
            for (int j = 0; j < BucketSlots; j++)
            {
                uint tg = t.Tags[s0 + j];
                if (tg == tag)
                {
                    var e = t.Entries[s0 + j];
                    if (e is not null && e.Match.ValueEquals(value) && e.Match.RegisterValueEquals(regs) && e.Match.ConjIdValue == match.ConjIdValue) return s0 + j;
                }
                else if (tg == 0)
                {
                    sawEmpty = true;
                }
            }
            if (sawEmpty) return -1;
            b = (b + 1) & t.BucketMask;
        }
    }

    /// <summary>Writer: the entry in a slot returned by <see cref="FindSlot(in FlowKey, uint)"/>.</summary>
    public FlowEntry SlotEntry(int slot) => _table.Entries[slot]!;

    /// <summary>Writer: replaces the entry of an existing key in place (same key, same tag): one atomic store.</summary>
    public void ReplaceAt(int slot, FlowEntry e) => Volatile.Write(ref _table.Entries[slot], e);

    /// <summary>Writer: adds a key that is not present (<see cref="FindSlot(in FlowMatch, uint)"/> returned -1).</summary>
    public void Add(uint hash, FlowEntry e)
    {
        var t = _table;
        if ((_w.Count + _w.Deleted + 1) * 4 > t.Slots * 3)
            t = Rebuild(_w.Count + 1);
        Place(t, hash | TagBit, e, publish: true);
        Volatile.Write(ref _w.Count, _w.Count + 1);
    }

    /// <summary>Writer: deletes the key in <paramref name="slot"/>.</summary>
    public void RemoveAt(int slot)
    {
        var t = _table;
        Volatile.Write(ref t.Tags[slot], DeletedTag);
        Volatile.Write(ref t.Entries[slot], null);
        _w.Deleted++;
        Volatile.Write(ref _w.Count, _w.Count - 1);
        // Shrink when mostly empty so a burst of deletes does not leave a huge sparse array behind.
        if (t.Slots > MinSlots && _w.Count * 8 < t.Slots && _w.Deleted * 4 > t.Slots)
            Rebuild(_w.Count);
    }

    /// <summary>Writer: every present entry, in slot order (a snapshot copy; safe to mutate the map meanwhile).</summary>
    public void CopyTo(List<FlowEntry> into)
    {
        var entries = _table.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e is not null) into.Add(e);
        }
    }

    /// <summary>Writer: visits the present entries of the current arrays (do not mutate the map from the callback).</summary>
    public Table WriterTable => _table;

    private int SlotsFor(int count)
    {
        long want = Math.Max(MinSlots, (long)count * _slotsPerKey);
        long slots = MinSlots;
        while (slots < want) slots <<= 1;
        if (slots > 1 << 30) ThrowHelper.InvalidOperation("flow hash map too large");
        return (int)slots;
    }

    private Table Rebuild(int count)
    {
        var old = _table;
        var t = new Table(SlotsFor(count));
        for (int i = 0; i < old.Slots; i++)
        {
            var e = old.Entries[i];
            if (e is not null) Place(t, old.Tags[i], e, publish: false);
        }
        _w.Deleted = 0;
        Volatile.Write(ref _table, t);
        return t;
    }

    private void Place(Table t, uint tag, FlowEntry e, bool publish)
    {
        uint b = tag & t.BucketMask;
        for (int displacement = 0; ; displacement++)
        {
            if (displacement > t.MaxDisplacement) Volatile.Write(ref t.MaxDisplacement, displacement);
            int s0 = (int)(b * BucketSlots);
            for (int j = 0; j < BucketSlots; j++)
            {
                uint tg = t.Tags[s0 + j];
                if (tg == 0 || tg == DeletedTag)
                {
                    if (publish)
                    {
                        if (tg == DeletedTag) _w.Deleted--;
                        Volatile.Write(ref t.Entries[s0 + j], e);
                        Volatile.Write(ref t.Tags[s0 + j], tag);
                    }
                    else
                    {
                        t.Entries[s0 + j] = e;
                        t.Tags[s0 + j] = tag;
                    }
                    return;
                }
            }
            b = (b + 1) & t.BucketMask;
        }
    }
}
