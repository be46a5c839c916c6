using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Bench.Micro;

/// <summary>
/// One 64-byte slot of <see cref="ExactRecordTable"/>: the masked key's five base words, the packet and byte counters,
/// the action-list id (0: empty slot, <see cref="ExactRecordTable.DeletedId"/>: tombstone) and the last-used time in
/// milliseconds.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct ExactRecord
{
    public ulong W0, W1, W2, W3, W4;
    public long Packets;
    public long Bytes;
    public uint ActionId;
    public uint LastUsedMillis;
}

/// <summary>
/// Prototype of a one-level exact table (the gate in docs/benchmarks.md, "One-level exact table gate"): the hash slot
/// is the record. Linear probing over 64-byte records in native, 64-byte-aligned memory at a load factor of at most
/// 1/2, keyed by a packet key ANDed with <see cref="FlowMatch.ExactMaskNoTun"/> (whose sixth word is zero, so it is
/// neither stored nor compared), hashed as <see cref="MapExactTable"/> hashes it.
/// </summary>
/// <remarks>
/// Measurement prototype: one thread writes and reads (no publication order between the key words and the id, no
/// growth: the capacity is fixed at construction). A burst lookup prefetches every pending key's home slot first, then
/// compares, so the misses of a burst overlap; a hit is one line (two when the probe runs past the home slot, the next
/// line, which the hardware's adjacent-line prefetch often brings with it) and one page.
/// </remarks>
[SkipLocalsInit]
internal sealed unsafe partial class ExactRecordTable : IDisposable
{
    /// <summary>The action id of a removed key's slot (a probe goes past it; an insert may reuse it).</summary>
    public const uint DeletedId = uint.MaxValue;

    private static readonly ulong s_m0 = FlowMatch.ExactMaskNoTun.W0, s_m1 = FlowMatch.ExactMaskNoTun.W1,
        s_m2 = FlowMatch.ExactMaskNoTun.W2, s_m3 = FlowMatch.ExactMaskNoTun.W3, s_m4 = FlowMatch.ExactMaskNoTun.W4;

    private ExactRecord* _slots;
    private readonly uint _mask;
    private readonly int _capacity;
    private readonly uint[] _hashes = new uint[64];
    private int _count;
    private int _deleted;

    /// <param name="capacity">Keys the table must hold; it allocates the next power of two at or above twice that.</param>
    /// <param name="hugePages">Align the slots to 2 MiB and ask the kernel for transparent huge pages (madvise).</param>
    public ExactRecordTable(int capacity, bool hugePages = false)
    {
        if (capacity < 1 || capacity > 1 << 29) throw new ArgumentOutOfRangeException(nameof(capacity));
        int slots = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, 2 * capacity));
        nuint size = (nuint)slots * (nuint)sizeof(ExactRecord);
        nuint align = hugePages ? 2u << 20 : 64u;
        if (hugePages) size = (size + align - 1) & ~(align - 1);
        _slots = (ExactRecord*)NativeMemory.AlignedAlloc(size, align);
        if (hugePages && OperatingSystem.IsLinux()) HugePagesAdvised = madvise(_slots, size, MadvHugePage) == 0;
        NativeMemory.Clear(_slots, size);
        _mask = (uint)(slots - 1);
        _capacity = capacity;
        SlotCount = slots;
    }

    /// <summary>Slots allocated (a power of two, at least twice the capacity).</summary>
    public int SlotCount { get; }

    /// <summary>Keys present.</summary>
    public int Count => _count;

    /// <summary>Whether the kernel accepted the huge-page advice (false when not asked for).</summary>
    public bool HugePagesAdvised { get; }

    /// <summary>The record in <paramref name="slot"/> (a slot a lookup returned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ExactRecord Record(int slot)
    {
        Debug.Assert((uint)slot <= _mask);
        return ref _slots[slot];
    }

    /// <summary>Adds <paramref name="key"/> (masked here) with a non-zero action id, or replaces the id of the key
    /// already present. Returns its slot. Throws when the table already holds its capacity.</summary>
    public int Insert(in FlowKey key, uint actionId)
    {
        if (actionId is 0 or DeletedId) throw new ArgumentOutOfRangeException(nameof(actionId));
        int found = Find(key);
        if (found >= 0)
        {
            _slots[found].ActionId = actionId;
            return found;
        }
        if (_count >= _capacity) throw new InvalidOperationException("exact record table full");
        ulong k0 = key.W0 & s_m0, k1 = key.W1 & s_m1, k2 = key.W2 & s_m2, k3 = key.W3 & s_m3, k4 = key.W4 & s_m4;
        if ((_count + _deleted + 1) * 4 > SlotCount * 3) Compact();
        uint s = FlowHash.Of(k0, k1, k2, k3, k4, 0) & _mask;
        while (_slots[s].ActionId is not (0 or DeletedId)) s = (s + 1) & _mask;
        if (_slots[s].ActionId == DeletedId) _deleted--;
        ref var r = ref _slots[s];
        r.W0 = k0; r.W1 = k1; r.W2 = k2; r.W3 = k3; r.W4 = k4;
        r.Packets = 0;
        r.Bytes = 0;
        r.LastUsedMillis = 0;
        r.ActionId = actionId;
        _count++;
        return (int)s;
    }

    /// <summary>Removes <paramref name="key"/>; false when it is not present.</summary>
    public bool Remove(in FlowKey key)
    {
        int s = Find(key);
        if (s < 0) return false;
        _slots[s].ActionId = DeletedId;
        _count--;
        _deleted++;
        return true;
    }

    /// <summary>Re-places the live records (counters kept) with no tombstones, so an empty slot ends every probe.</summary>
    private void Compact()
    {
        int n = SlotCount;
        var live = new ExactRecord[_count];
        int j = 0;
        for (int i = 0; i < n; i++)
        {
            if (_slots[i].ActionId is not (0 or DeletedId)) live[j++] = _slots[i];
        }
        NativeMemory.Clear(_slots, (nuint)n * (nuint)sizeof(ExactRecord));
        foreach (ref readonly var r in live.AsSpan())
        {
            uint s = FlowHash.Of(r.W0, r.W1, r.W2, r.W3, r.W4, 0) & _mask;
            while (_slots[s].ActionId != 0) s = (s + 1) & _mask;
            _slots[s] = r;
        }
        _deleted = 0;
    }

    /// <summary>The slot of <paramref name="key"/> (masked here), or -1.</summary>
    public int Find(in FlowKey key)
    {
        ulong k0 = key.W0 & s_m0, k1 = key.W1 & s_m1, k2 = key.W2 & s_m2, k3 = key.W3 & s_m3, k4 = key.W4 & s_m4;
        return Probe(FlowHash.Of(k0, k1, k2, k3, k4, 0) & _mask, k0, k1, k2, k3, k4);
    }

    /// <summary>
    /// Burst lookup: for every key whose bit is set in <paramref name="pending"/>, stores its slot in
    /// <paramref name="slots"/> and clears the bit on a hit. Returns the number of hits. Two passes: hash every key and
    /// prefetch its home slot, then compare.
    /// </summary>
    public int LookupBurst(ReadOnlySpan<FlowKey> keys, ref ulong pending, Span<int> slots)
    {
        ulong bits = pending;
        if (bits == 0) return 0;
        Debug.Assert(keys.Length <= 64 && slots.Length >= keys.Length);
        ulong m0 = s_m0, m1 = s_m1, m2 = s_m2, m3 = s_m3, m4 = s_m4;
        ExactRecord* table = _slots;
        uint mask = _mask;
        ref FlowKey k = ref MemoryMarshal.GetReference(keys);
        ref uint hs = ref MemoryMarshal.GetArrayDataReference(_hashes);
        while (bits != 0)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            bits &= bits - 1;
            ref FlowKey key = ref Unsafe.Add(ref k, i);
            uint s = FlowHash.Of(key.W0 & m0, key.W1 & m1, key.W2 & m2, key.W3 & m3, key.W4 & m4, 0) & mask;
            Unsafe.Add(ref hs, i) = s;
            if (System.Runtime.Intrinsics.X86.Sse.IsSupported) System.Runtime.Intrinsics.X86.Sse.Prefetch0(table + s);
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
        return found;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Probe(uint s, ulong k0, ulong k1, ulong k2, ulong k3, ulong k4)
    {
        ExactRecord* table = _slots;
        uint mask = _mask;
        while (true)
        {
            ExactRecord* p = table + s;
            uint id = p->ActionId;
            if (id == 0) return -1;
            if (id != DeletedId && ((p->W0 ^ k0) | (p->W1 ^ k1) | (p->W2 ^ k2) | (p->W3 ^ k3) | (p->W4 ^ k4)) == 0) return (int)s;
            s = (s + 1) & mask;
        }
    }

    public void Dispose()
    {
        if (_slots is null) return;
        NativeMemory.AlignedFree(_slots);
        _slots = null;
    }

    private const int MadvHugePage = 14;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
