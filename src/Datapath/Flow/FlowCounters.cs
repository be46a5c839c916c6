using System.Runtime.CompilerServices;
using Softswitch.Datapath.Classifier;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// Per-thread flow counters of one pipeline (after vpp <c>vlib_combined_counter_main_t</c>): every flow a table of the
/// pipeline holds has a counter slot; every forwarding thread has a <see cref="FlowCounterSlab"/> in which it adds a
/// flow-batch's packets and bytes and stores its time with plain stores, in lines no other thread writes. Readers of
/// <see cref="FlowEntry.Packets"/>, <see cref="FlowEntry.Bytes"/> and <see cref="FlowEntry.LastUsedNanos"/> sum (or
/// take the latest of) every slab.
/// </summary>
/// <remarks>
/// <para><b>Slots</b> are handed out by a table's writer (<see cref="Assign"/>) before the entry is published and given
/// back when it leaves the table (<see cref="Release"/>), tagged with the reclamation domain's current epoch. A given
/// back slot is reused only once the domain's safe epoch has passed that tag: every forwarding thread has passed a
/// quiescent point since, so none still counts into it for the old flow (a thread's exact-match cache may still hold
/// the old entry, but never validates a removed one). Before reuse the slot's sums are folded into the old entry's
/// own counters (when it is still the incarnation that had the slot) and the slot is zeroed in every slab. A reader of
/// a removed flow's counters racing that fold may see them low for that moment; the removal report carries the
/// counts taken at removal.</para>
/// <para><b>Lane 0</b>: the first slab made (while no other is inline) is inline: its thread counts in fields of the
/// entry itself, which only that thread writes, so the common single-thread case touches no line more per flow-batch
/// than the lookup did (a slab's slot is one more random line per packet at a large working set). Those counts
/// belong to the entry, not to the slot, and are never folded or zeroed but by the entry's next incarnation.</para>
/// <para><b>Slabs</b> are paged (<see cref="PageSlots"/> slots of <see cref="SlotLongs"/> longs: packets, bytes, last
/// use) and grown by the writer before it hands out a slot of a new page, so a forwarding thread never allocates and
/// always finds the page of a slot it met. A slab made later gets every page at once.</para>
/// <para><b>Thread safety</b>: <see cref="Assign"/>, <see cref="Release"/>, slab creation and hand-back take this
/// registry's lock (writers of several tables of one pipeline may call at once); a slab is written by its owner only
/// (and zeroed by the writer for a slot no thread can count into); reads are racy sums of monotonic longs.</para>
/// </remarks>
public sealed class FlowCounterRegistry
{
    internal const int PageShift = 10, PageSlots = 1 << PageShift, SlotLongs = 4;

    private readonly Lock _lock = new();
    private readonly QuiescentDomain _domain;
    private volatile FlowCounterSlab[] _slabs = [];
    /// <summary>The sums of the slabs handed back (written under the lock).</summary>
    private readonly FlowCounterSlab _retired;
    private int _highWater;
    private int _pages;
    private readonly Stack<int> _free = new();
    private readonly Queue<Released> _released = new(); // epochs ascending
    private long _safeEpoch;

    private readonly record struct Released(int Slot, long Epoch, FlowEntry Entry, int Serial);

    public FlowCounterRegistry(QuiescentDomain domain)
    {
        _domain = domain;
        _retired = new FlowCounterSlab(this, inline: false);
    }

    /// <summary>Slots ever handed out (the slabs' length).</summary>
    public int SlotCount => Volatile.Read(ref _highWater);

    /// <summary>Slots given back and not yet reusable (waiting for every reader to pass a quiescent point).</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock) return _released.Count;
        }
    }

    /// <summary>A slab for a new forwarding thread (hand it back with <see cref="ReleaseSlab"/>).</summary>
    public FlowCounterSlab CreateSlab()
    {
        lock (_lock)
        {
            bool inline = Array.TrueForAll(_slabs, x => !x.IsInline);
            var s = new FlowCounterSlab(this, inline);
            if (!inline) s.Grow(_pages);
            _slabs = [.. _slabs, s];
            return s;
        }
    }

    /// <summary>A thread stops counting: its sums are kept (added to the registry's own slab).</summary>
    public void ReleaseSlab(FlowCounterSlab slab)
    {
        lock (_lock)
        {
            if (Array.IndexOf(_slabs, slab) < 0) return;
            _slabs = Array.FindAll(_slabs, x => !ReferenceEquals(x, slab));
            if (slab.IsInline) return; // its counts stay in the entries
            _retired.Grow(_pages);
            for (int s = 0; s < _highWater; s++)
            {
                ref long from = ref slab.SlotRef(s);
                ref long to = ref _retired.SlotRef(s);
                Volatile.Write(ref to, to + from);
                Volatile.Write(ref Unsafe.Add(ref to, 1), Unsafe.Add(ref to, 1) + Unsafe.Add(ref from, 1));
                if (Unsafe.Add(ref from, 2) > Unsafe.Add(ref to, 2)) Volatile.Write(ref Unsafe.Add(ref to, 2), Unsafe.Add(ref from, 2));
            }
        }
    }

    /// <summary>Writer: gives <paramref name="e"/> (not yet published) a slot.</summary>
    internal void Assign(FlowEntry e)
    {
        lock (_lock)
        {
            if (_free.Count == 0) Reclaim();
            int slot;
            if (_free.Count != 0)
            {
                slot = _free.Pop();
            }
            else
            {
                slot = _highWater;
                if (slot >> PageShift >= _pages)
                {
                    // One page more at a time: a slab costs 32 bytes a flow and no more (the registry's own slab
                    // gets pages only when a thread hands its slab back).
                    int pages = _pages + 1;
                    foreach (var s in _slabs)
                        if (!s.IsInline) s.Grow(pages);
                    _pages = pages;
                }
                Volatile.Write(ref _highWater, slot + 1);
            }
            e.SetCounterSlot(this, slot);
        }
    }

    /// <summary>Writer: <paramref name="e"/> left its table; its slot is reused after the grace period.</summary>
    internal void Release(FlowEntry e)
    {
        int slot = e.CounterSlot;
        if (slot < 0 || !ReferenceEquals(e.CounterRegistry, this)) return;
        lock (_lock) _released.Enqueue(new Released(slot, _domain.CurrentEpoch, e, e.Serial));
    }

    /// <summary>Moves the given-back slots past their grace period to the free list (under the lock).</summary>
    private void Reclaim()
    {
        if (_released.Count == 0) return;
        if (_released.Peek().Epoch >= _safeEpoch) _safeEpoch = _domain.SafeEpoch();
        while (_released.Count != 0 && _released.Peek().Epoch < _safeEpoch)
        {
            var r = _released.Dequeue();
            Sum(r.Slot, out long packets, out long bytes, out long used);
            if (r.Entry.Serial == r.Serial && r.Entry.CounterSlot == r.Slot) r.Entry.FoldCounters(packets, bytes, used);
            foreach (var s in _slabs)
                if (!s.IsInline) s.Clear(r.Slot);
            if (_retired.Has(r.Slot)) _retired.Clear(r.Slot);
            _free.Push(r.Slot);
        }
    }

    /// <summary>Reader: the sums over every slab of <paramref name="slot"/>, and its latest use.</summary>
    internal void Sum(int slot, out long packets, out long bytes, out long usedNanos)
    {
        packets = bytes = usedNanos = 0;
        if (_retired.Has(slot))
        {
            ref long r = ref _retired.SlotRef(slot);
            packets = Volatile.Read(ref r);
            bytes = Volatile.Read(ref Unsafe.Add(ref r, 1));
            usedNanos = Volatile.Read(ref Unsafe.Add(ref r, 2));
        }
        foreach (var s in _slabs)
        {
            if (s.IsInline) continue;
            ref long c = ref s.SlotRef(slot);
            packets += Volatile.Read(ref c);
            bytes += Volatile.Read(ref Unsafe.Add(ref c, 1));
            usedNanos = Math.Max(usedNanos, Volatile.Read(ref Unsafe.Add(ref c, 2)));
        }
    }
}

/// <summary>
/// One forwarding thread's counters of every flow of a pipeline (see <see cref="FlowCounterRegistry"/>): written by
/// that thread only, with plain stores.
/// </summary>
public sealed class FlowCounterSlab
{
    internal readonly FlowCounterRegistry Registry;
    /// <summary>
    /// Lane 0: this thread counts in the entries themselves (fields no other thread writes, in the lines the thread
    /// has just read for the lookup), so it pays no line more per flow; the slab has no pages.
    /// </summary>
    internal readonly bool IsInline;
    private long[][] _pages = [];

    internal FlowCounterSlab(FlowCounterRegistry registry, bool inline)
    {
        Registry = registry;
        IsInline = inline;
    }

    /// <summary>The first of the slot's longs (packets, then bytes, then last use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref long SlotRef(int slot)
        => ref Volatile.Read(ref _pages)[slot >> FlowCounterRegistry.PageShift][(slot & (FlowCounterRegistry.PageSlots - 1)) * FlowCounterRegistry.SlotLongs];

    /// <summary>Owner thread: counts one flow-batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Add(int slot, int packets, long bytes, long nowNanos)
    {
        ref long c = ref SlotRef(slot);
        c += packets;
        Unsafe.Add(ref c, 1) += bytes;
        Unsafe.Add(ref c, 2) = nowNanos;
    }

    /// <summary>Whether the slab has the page of <paramref name="slot"/> (the registry's own slab may not).</summary>
    internal bool Has(int slot) => slot >> FlowCounterRegistry.PageShift < Volatile.Read(ref _pages).Length;

    /// <summary>Prefetches the slot's line (a burst's prefetch pass).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Prefetch(int slot) => Datapath.Prefetch.Line(ref SlotRef(slot));

    /// <summary>Registry, under its lock: at least <paramref name="pages"/> pages.</summary>
    internal void Grow(int pages)
    {
        var old = _pages;
        if (old.Length >= pages) return;
        var grown = new long[pages][];
        Array.Copy(old, grown, old.Length);
        for (int i = old.Length; i < pages; i++) grown[i] = new long[FlowCounterRegistry.PageSlots * FlowCounterRegistry.SlotLongs];
        Volatile.Write(ref _pages, grown);
    }

    /// <summary>Registry, for a slot no thread counts into: zeroes it.</summary>
    internal void Clear(int slot)
    {
        ref long c = ref SlotRef(slot);
        Volatile.Write(ref c, 0);
        Volatile.Write(ref Unsafe.Add(ref c, 1), 0);
        Volatile.Write(ref Unsafe.Add(ref c, 2), 0);
    }
}
