using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// Page-aligned pinned memory cut into 2 KiB slots, registrable whole as the UMEM of AF_XDP sockets (aligned chunks of
/// <see cref="SlotSize"/>), that the forwarding threads' packet pools are carved from, so that a received frame is a
/// pool buffer (docs/ports.md, "Design: the packet pool as the UMEM").
/// </summary>
/// <remarks>
/// Slot i spans <c>[BaseOffset + i * SlotSize, + SlotSize)</c> of <see cref="Slab"/>, and its UMEM address (the offset
/// the kernel and the rings speak of) is <c>i * SlotSize</c>. Slot 0 sits on a page boundary: the array is allocated one
/// page longer and its first page-aligned byte taken, so slots tile pages and none crosses one, and a zero-copy driver
/// (which refuses a chunk over pages whose DMA addresses are not contiguous) takes every one without hugepages. The
/// kernel writes a received frame <see cref="KernelHeadroom"/> bytes into its chunk, room for the pool's encapsulation
/// headroom. Large buffers (<see cref="LargeCount"/>, each <see cref="PacketPool.LargeSlotSize"/> bytes) follow the
/// slots in the array, outside the UMEM; each pool over the arena claims its own share of them, and gives the share back
/// when its switch is disposed (<see cref="PacketPool.ReturnToArena"/>), so bridges made and deleted never use them up.
/// One index space: buffer i &lt; <see cref="SlotCount"/> is slot i for every pool over the arena, and the metadata
/// arrays (head, length, reference counts...) span the slots and the large buffers, so a
/// buffer one thread allocated (and lent to a socket's fill ring) is a buffer of whichever thread receives it.
/// Free slots not in a pool's cache nor lent to a socket sit in batches of <see cref="Batch"/> on a lock-free stack
/// (Treiber, its head tagged against ABA); pools refill from it and spill to it a batch at a time, never per packet.
/// The slot count is rounded up to whole batches, so every batch on the stack is full.
/// A slot lent to a socket (its fill ring, its TX frames) carries the socket's tag in <see cref="Holder"/>, so the
/// socket's slots come back whole when it closes, wherever the kernel left them.
/// The array lives on the pinned object heap, so its address never changes; the arena must outlive every socket it is
/// registered with (the kernel pins its pages for as long as one is open).
/// Thread safety: the free stack, <see cref="ClaimLarge"/> and <see cref="ReturnLarge"/> are safe from any thread; a buffer's metadata belongs to
/// its one owner at a time (a pool's cache or burst, a socket's rings), so it needs no atomics.
/// </remarks>
public sealed unsafe class PacketArena
{
    /// <summary>Bytes of a slot, the UMEM chunk size: a power of two, two to a 4 KiB page.</summary>
    public const int SlotSize = 2048;
    /// <summary>Where the kernel puts a received frame in its chunk (XDP_PACKET_HEADROOM).</summary>
    public const int KernelHeadroom = 256;
    /// <summary>Slots a pool moves to or from the shared free stack at a time.</summary>
    public const int Batch = 256;
    /// <summary>Batch nodes beyond the slots' own: room for the batches in transit between a pop and a push.</summary>
    private const int SpareNodes = 64;

    /// <summary>The pinned array holding the slots (from <see cref="BaseOffset"/> on), then the large buffers.</summary>
    public readonly byte[] Slab;
    /// <summary>Offset in <see cref="Slab"/> of slot 0, the first page boundary of the array's data.</summary>
    public readonly int BaseOffset;
    /// <summary>Slots in the arena (a whole number of <see cref="Batch"/>es).</summary>
    public readonly int SlotCount;
    /// <summary>Large buffers after the slots (buffer indices <see cref="SlotCount"/> onwards).</summary>
    public readonly int LargeCount;
    /// <summary>Offset in <see cref="Slab"/> of large buffer 0.</summary>
    public readonly int LargeStart;

    // The metadata of every buffer (slots, then large buffers), shared by the pools over the arena.
    internal readonly ushort[] Head, FrameLength, InPort;
    internal readonly ulong[] TunId, TunIp;
    internal readonly OffloadInfo[] Offload;
    internal readonly int[] Refs;
    /// <summary>The tag of the socket a slot is lent to (0: none), written by the slot's owner as it lends or takes it
    /// back, read when the socket closes (<see cref="ReturnHeld"/>).</summary>
    public readonly int[] Holder;

    private readonly int[] _batchSlots;    // node k holds slots [k * Batch, (k + 1) * Batch)
    private readonly int[] _next;          // node k's successor on its stack, + 1 (0: none)
    private long _full, _empty;            // stack heads: tag (upper 32 bits), top node + 1 (lower 32)
    private int _fullBatches;
    private readonly int[] _largeFree;     // unclaimed large buffers (indices among them), a stack under _largeLock
    private int _largeFreeCount;
    private readonly Lock _largeLock = new();
    private int _nextHolder;

    public PacketArena(int slotCount, int largeCount = 0)
    {
        int page = Environment.SystemPageSize;
        if (slotCount <= 0 || slotCount > (int.MaxValue / 2 - page) / SlotSize) ThrowHelper.ArgumentOutOfRange(nameof(slotCount));
        if (largeCount < 0 || largeCount > 4096) ThrowHelper.ArgumentOutOfRange(nameof(largeCount));
        slotCount = (slotCount + Batch - 1) / Batch * Batch;
        SlotCount = slotCount;
        LargeCount = largeCount;
        // Whole pages (the kernel pins the last one whole) plus one to find the first page boundary in.
        long pages = ((long)slotCount * SlotSize + page - 1) / page;
        long slotBytes = (pages + 1) * page;
        Slab = GC.AllocateArray<byte>(checked((int)(slotBytes + (long)largeCount * PacketPool.LargeSlotSize)), pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Slab));
        BaseOffset = (int)((page - (start & (page - 1))) & (page - 1));
        LargeStart = (int)slotBytes;
        int total = slotCount + largeCount;
        Head = new ushort[total];
        FrameLength = new ushort[total];
        InPort = new ushort[total];
        TunId = new ulong[total];
        TunIp = new ulong[total];
        Offload = new OffloadInfo[largeCount];
        _largeFree = new int[largeCount];
        for (int i = 0; i < largeCount; i++) _largeFree[i] = largeCount - 1 - i;
        _largeFreeCount = largeCount;
        Refs = new int[total];
        Holder = new int[slotCount];

        int nodes = slotCount / Batch + SpareNodes;
        _batchSlots = new int[nodes * Batch];
        _next = new int[nodes];
        for (int k = 0; k < nodes; k++)
        {
            if (k < slotCount / Batch)
            {
                for (int i = 0; i < Batch; i++) _batchSlots[k * Batch + i] = k * Batch + i;
                Push(ref _full, k);
                _fullBatches++;
            }
            else
            {
                Push(ref _empty, k);
            }
        }
    }

    /// <summary>The address of slot 0 (page-aligned): the UMEM's start.</summary>
    public byte* Base => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Slab)) + BaseOffset;

    /// <summary>Bytes the slots span: the UMEM's length (a whole number of pages when the slots fill them).</summary>
    public long Length => (long)SlotCount * SlotSize;

    /// <summary>Offset of slot <paramref name="slot"/> in <see cref="Slab"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SlotOffset(int slot) => BaseOffset + slot * SlotSize;

    /// <summary>The UMEM address of slot <paramref name="slot"/>'s first byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong UmemAddress(int slot) => (ulong)slot * SlotSize;

    /// <summary>The slot a UMEM address falls in (a descriptor's address points into its chunk); -1 outside the arena.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SlotOf(ulong umemAddress)
    {
        ulong s = umemAddress / SlotSize;
        return s < (ulong)SlotCount ? (int)s : -1;
    }

    /// <summary>Free slots on the shared stack (not in a pool's cache, not lent to a socket).</summary>
    public int SharedFreeCount => Volatile.Read(ref _fullBatches) * Batch;

    /// <summary>Takes one batch of free slots off the shared stack into <paramref name="dest"/> (at least
    /// <see cref="Batch"/> long); false when the stack is empty.</summary>
    public bool TryTakeBatch(Span<int> dest)
    {
        int node = Pop(ref _full);
        if (node < 0) return false;
        Interlocked.Decrement(ref _fullBatches);
        _batchSlots.AsSpan(node * Batch, Batch).CopyTo(dest);
        Push(ref _empty, node);
        return true;
    }

    /// <summary>Puts one batch of free slots (<see cref="Batch"/> of them, the first of <paramref name="slots"/>) on the
    /// shared stack.</summary>
    public void GiveBatch(ReadOnlySpan<int> slots)
    {
        int node = Pop(ref _empty);
        if (node < 0) node = WaitForNode();
        slots[..Batch].CopyTo(_batchSlots.AsSpan(node * Batch, Batch));
        Push(ref _full, node);
        Interlocked.Increment(ref _fullBatches);
    }

    /// <summary>Every node is in transit between a pop and a push of other threads (more than
    /// <see cref="SpareNodes"/> at once): one comes back within their copy of a batch.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int WaitForNode()
    {
        var spin = new SpinWait();
        int node;
        while ((node = Pop(ref _empty)) < 0) spin.SpinOnce(sleep1Threshold: -1);
        return node;
    }

    private int Pop(ref long head)
    {
        long h = Volatile.Read(ref head);
        while (true)
        {
            int top = (int)(uint)h - 1;
            if (top < 0) return -1;
            int next = Volatile.Read(ref _next[top]);
            long nh = (long)(((ulong)h >> 32) + 1 << 32) | (uint)next;
            long seen = Interlocked.CompareExchange(ref head, nh, h);
            if (seen == h) return top;
            h = seen;
        }
    }

    private void Push(ref long head, int node)
    {
        long h = Volatile.Read(ref head);
        while (true)
        {
            _next[node] = (int)(uint)h;
            long nh = (long)(((ulong)h >> 32) + 1 << 32) | (uint)(node + 1);
            long seen = Interlocked.CompareExchange(ref head, nh, h);
            if (seen == h) return;
            h = seen;
        }
    }

    /// <summary>Claims up to <paramref name="into"/>'s length of the unclaimed large buffers for one pool, writing
    /// their indices among the large buffers there (lowest first); returns how many it got (fewer when the arena has
    /// no more). Not a packet-path call: pools claim when they are made.</summary>
    public int ClaimLarge(Span<int> into)
    {
        lock (_largeLock)
        {
            int n = Math.Min(into.Length, _largeFreeCount);
            for (int k = 0; k < n; k++) into[k] = _largeFree[--_largeFreeCount];
            return n;
        }
    }

    /// <summary>Takes back large buffers a pool claimed (indices among the large buffers), for pools made later.</summary>
    public void ReturnLarge(ReadOnlySpan<int> large)
    {
        lock (_largeLock)
        {
            foreach (int l in large)
            {
                if ((uint)l >= (uint)LargeCount || _largeFreeCount == LargeCount) ThrowHelper.ArgumentOutOfRange(nameof(large));
                _largeFree[_largeFreeCount++] = l;
            }
        }
    }

    /// <summary>Large buffers no pool holds.</summary>
    public int LargeUnclaimed { get { lock (_largeLock) return _largeFreeCount; } }

    /// <summary>Whether the sender that lent slot <paramref name="slot"/> to a TX ring (<see cref="PacketPool.TryLend"/>)
    /// has released its reference, so the socket alone holds it (read by whichever thread reaps the completion).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Released(int slot) => Volatile.Read(ref Refs[slot]) <= 1;

    /// <summary>A fresh tag for a socket to mark the slots lent to it (<see cref="Holder"/>).</summary>
    public int NewHolder() => Interlocked.Increment(ref _nextHolder);

    /// <summary>
    /// Takes <paramref name="count"/> free slots (rounded up to whole batches) off the shared stack for a socket, marks
    /// them as held by <paramref name="holder"/> and writes them to <paramref name="dest"/>; returns how many were taken,
    /// 0 (and nothing taken) when the stack holds fewer.
    /// </summary>
    public int TakeHeld(int count, int holder, List<int> dest)
    {
        int batches = (count + Batch - 1) / Batch;
        Span<int> one = new int[Batch];
        int taken = 0;
        for (; taken < batches; taken++)
        {
            if (!TryTakeBatch(one)) break;
            foreach (int s in one)
            {
                Holder[s] = holder;
                Refs[s] = 1;
                dest.Add(s);
            }
        }
        if (taken == batches) return taken * Batch;
        ReturnHeld(holder);
        dest.Clear();
        return 0;
    }

    /// <summary>Gives every slot held by <paramref name="holder"/> back to the shared stack (the socket closed: the
    /// kernel holds none of them any more). Returns how many.</summary>
    public int ReturnHeld(int holder)
    {
        Span<int> batch = new int[Batch];
        int n = 0, total = 0;
        for (int s = 0; s < SlotCount; s++)
        {
            if (Holder[s] != holder) continue;
            Holder[s] = 0;
            Refs[s] = 0;
            batch[n++] = s;
            total++;
            if (n == Batch)
            {
                GiveBatch(batch);
                n = 0;
            }
        }
        // A socket holds whole batches (TakeHeld, and each slot it receives is replaced by one), so none is left over.
        return total - n;
    }
}
