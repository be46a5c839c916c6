using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// A pinned slab of fixed-size packet buffers referenced by int index, with per-packet metadata in
/// parallel arrays (vpp-style), and a side pool of large buffers for GSO super-frames.
/// </summary>
/// <remarks>
/// Design: small buffer i (0 &lt;= i &lt; <see cref="Capacity"/>) spans <c>[i*SlotSize, (i+1)*SlotSize)</c> of
/// <see cref="Slab"/>; large buffer <see cref="Capacity"/> + j spans <see cref="LargeSlotSize"/> bytes after all small
/// ones (<see cref="SlotOffset"/>). Both kinds share the index space and the metadata arrays, so every stage handles a
/// large buffer as any other; only ports and the output stage look at <see cref="IsLarge"/>. A pool over a
/// <see cref="PacketArena"/> (a forwarding thread's, when the switch has AF_XDP ports) has the arena's slab, index space
/// and metadata arrays, and a cache of free slots of its own (see its constructor): small buffer i is then arena slot
/// i, UMEM address i x 2,048, so a socket can receive into it and transmit from it. A frame starts at
/// <c>Head[i]</c> bytes into its slot, which is <see cref="Headroom"/> on allocation, so encapsulation
/// prepends by moving Head back and VLAN push/pop by moving 12 bytes.
/// Large buffers (a few, <see cref="LargeDataSize"/> bytes each) hold a 64 KiB GSO super-frame whole, received from a
/// port that speaks virtio-net offloads, with what it still owes in <see cref="Offload"/> (segmentation, a partial
/// checksum); <see cref="Push"/>/<see cref="Pull"/> keep its offsets in step with the frame start. Why a side pool and
/// not chained small buffers: every stage (parser, rewriter, encap, ports) reads a frame as one span, and a super-frame
/// is rare enough per burst (its payload is 45 MSS-sized segments) that 64 KiB slots cost little memory; chains would
/// touch every stage. When the side pool is empty a port falls back to cutting the super-frame into small buffers.
/// Buffers are reference counted:
/// a buffer queued to several output ports is shared, and returns to its free list when the last
/// reference is released. The slab is pinned, so ports may hand its addresses to the kernel.
/// Thread safety: none, by design. A pool belongs to one forwarding context (a poll thread, or the control
/// path under its lock); ports allocate from it on that thread in Receive and must have copied frames out
/// before Send returns, so buffers never cross threads and reference counts need no atomics. Over an arena a slot
/// crosses threads only through a socket's fill ring (lent by one thread, received by another) or the arena's shared
/// stack, both of which publish it.
/// </remarks>
public sealed class PacketPool
{
    public const int Headroom = 128;
    public const int DefaultDataSize = 2048;
    /// <summary>Frame bytes of a large buffer: the largest frame <see cref="Length"/> can describe.</summary>
    public const int LargeDataSize = ushort.MaxValue;
    public const int LargeSlotSize = Headroom + LargeDataSize + 1;

    public readonly byte[] Slab;
    /// <summary>Bytes of a small buffer's slot (see <see cref="SlotSizeOf"/> for any buffer).</summary>
    public readonly int SlotSize;
    /// <summary>Small buffers (indices 0 to Capacity - 1).</summary>
    public readonly int Capacity;
    /// <summary>Large buffers (indices Capacity to Capacity + LargeCapacity - 1; over an arena, this pool's share of
    /// the arena's, from Capacity on).</summary>
    public readonly int LargeCapacity;
    /// <summary>Offset of the frame's first byte within its slot.</summary>
    public readonly ushort[] Head;
    /// <summary>Frame length in bytes.</summary>
    public readonly ushort[] Length;
    /// <summary>The port number (<see cref="Ports.PortNumber"/>) the frame arrived on (or the packet-out in_port).</summary>
    public readonly ushort[] InPort;
    /// <summary>
    /// The tunnel id a decapsulated frame arrived with: written as the frame is decapsulated and read while its forwarder
    /// runs the tunnel's inner packets (their flow keys' tun_id, the packet-in's tunnel_id), stale otherwise.
    /// </summary>
    public readonly ulong[] TunId;
    /// <summary>
    /// The outer IPv4 source (upper 32 bits) and destination (lower 32) a decapsulated frame arrived with, Open vSwitch's
    /// tun_src and tun_dst (<see cref="Flow.Registers.TunnelEndpointsOf"/>): written and read as <see cref="TunId"/> is.
    /// </summary>
    public readonly ulong[] TunIp;
    /// <summary>What a large buffer's frame still owes (index: buffer - <see cref="Capacity"/>).</summary>
    public readonly OffloadInfo[] Offload;
    private readonly int[] _refs;
    private readonly int[] _free;
    private int _freeCount;
    private readonly int[] _largeFree;
    private int _largeFreeCount;
    private readonly int _largeStart;
    private readonly int _base;                 // offset in Slab of buffer 0 (an arena's first page boundary)

    /// <summary>The arena this pool is carved from (its buffers are UMEM slots), or null for a slab of its own.</summary>
    public PacketArena? Arena { get; }

    /// <summary>
    /// A forwarding thread's pool over <paramref name="arena"/>: its buffers are the arena's slots (2,048 bytes each,
    /// <see cref="Headroom"/> in front of a fresh frame), in one index space with every other pool over it. It caches
    /// up to <paramref name="cacheSize"/> free slots of its own (at least two batches), refilled from and spilled to the
    /// arena's shared stack a batch at a time, and claims <paramref name="largeCapacity"/> of the arena's large buffers.
    /// </summary>
    public PacketPool(PacketArena arena, int cacheSize, int largeCapacity = 0)
    {
        if (largeCapacity < 0) ThrowHelper.ArgumentOutOfRange(nameof(largeCapacity));
        Arena = arena;
        SlotSize = PacketArena.SlotSize;
        Capacity = arena.SlotCount;
        Slab = arena.Slab;
        _base = arena.BaseOffset;
        _largeStart = arena.LargeStart;
        Head = arena.Head;
        Length = arena.FrameLength;
        InPort = arena.InPort;
        TunId = arena.TunId;
        TunIp = arena.TunIp;
        Offload = arena.Offload;
        _refs = arena.Refs;
        _free = new int[Math.Max(cacheSize, 2 * PacketArena.Batch)];
        Span<int> claimed = largeCapacity <= 256 ? stackalloc int[largeCapacity] : new int[largeCapacity];
        int got = arena.ClaimLarge(claimed);
        LargeCapacity = got;
        _largeFree = new int[got];
        for (int i = 0; i < got; i++) _largeFree[i] = Capacity + claimed[got - 1 - i];
        _largeFreeCount = got;
    }

    public PacketPool(int capacity, int dataSize = DefaultDataSize, int largeCapacity = 0)
    {
        if (capacity <= 0) ThrowHelper.ArgumentOutOfRange(nameof(capacity));
        if (largeCapacity < 0) ThrowHelper.ArgumentOutOfRange(nameof(largeCapacity));
        SlotSize = Headroom + dataSize;
        Capacity = capacity;
        LargeCapacity = largeCapacity;
        _largeStart = capacity * SlotSize;
        Slab = GC.AllocateUninitializedArray<byte>(checked(_largeStart + largeCapacity * LargeSlotSize), pinned: true);
        int total = capacity + largeCapacity;
        Head = new ushort[total];
        Length = new ushort[total];
        InPort = new ushort[total];
        TunId = new ulong[total];
        TunIp = new ulong[total];
        Offload = new OffloadInfo[largeCapacity];
        _refs = new int[total];
        _free = new int[capacity];
        for (int i = 0; i < capacity; i++) _free[i] = capacity - 1 - i;
        _freeCount = capacity;
        _largeFree = new int[largeCapacity];
        for (int i = 0; i < largeCapacity; i++) _largeFree[i] = total - 1 - i;
        _largeFreeCount = largeCapacity;
    }

    /// <summary>One more than the largest buffer index of this pool (over an arena: of every pool over it).</summary>
    public int IndexLimit => Capacity + (Arena?.LargeCount ?? LargeCapacity);

    /// <summary>Whether <paramref name="p"/> is a large buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsLarge(int p) => p >= Capacity;

    /// <summary>Whether <paramref name="p"/> holds a frame that still owes segmentation or a checksum (<see cref="Offload"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool OwesOffload(int p) => p >= Capacity && Offload[p - Capacity].Pending;

    /// <summary>The offload request of large buffer <paramref name="p"/>.</summary>
    public ref OffloadInfo OffloadOf(int p) => ref Offload[p - Capacity];

    /// <summary>Offset of buffer <paramref name="p"/>'s slot in <see cref="Slab"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SlotOffset(int p) => p < Capacity ? _base + p * SlotSize : _largeStart + (p - Capacity) * LargeSlotSize;

    /// <summary>Bytes of buffer <paramref name="p"/>'s slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SlotSizeOf(int p) => p < Capacity ? SlotSize : LargeSlotSize;

    /// <summary>Bytes from the frame start to the slot end (the most a frame may grow to without moving Head).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Room(int p) => SlotSizeOf(p) - Head[p];

    /// <summary>Offset of the frame's first byte in <see cref="Slab"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FrameOffset(int p) => SlotOffset(p) + Head[p];

    public int LargeFreeCount => _largeFreeCount;

    /// <summary>One large buffer (refcount 1, Head = Headroom, Length 0, no offload request), or -1 when none is free.</summary>
    public int AllocLarge()
    {
        if (_largeFreeCount == 0) return -1;
        int p = _largeFree[--_largeFreeCount];
        _refs[p] = 1;
        Head[p] = Headroom;
        Length[p] = 0;
        Offload[p - Capacity] = default;
        return p;
    }

    /// <summary>Largest frame a small buffer holds without headroom use.</summary>
    public int MaxFrameSize => SlotSize - Headroom;

    public int FreeCount => _freeCount;

    /// <summary>Fills <paramref name="dest"/> with fresh buffers (refcount 1, Head = Headroom, Length 0); returns how many it got.</summary>
    public int Alloc(Span<int> dest)
    {
        if (_freeCount < dest.Length && Arena is not null) Refill(dest.Length);
        int n = Math.Min(dest.Length, _freeCount);
        int top = _freeCount;
        for (int i = 0; i < n; i++)
        {
            int p = _free[--top];
            dest[i] = p;
            _refs[p] = 1;
            Head[p] = Headroom;
            Length[p] = 0;
        }
        _freeCount = top;
        return n;
    }

    /// <summary>Takes batches off the arena's shared stack until the cache holds <paramref name="want"/> (or the stack
    /// is empty).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Refill(int want)
    {
        var arena = Arena!;
        while (_freeCount < want && _freeCount + PacketArena.Batch <= _free.Length
               && arena.TryTakeBatch(_free.AsSpan(_freeCount, PacketArena.Batch)))
        {
            _freeCount += PacketArena.Batch;
        }
    }

    /// <summary>The cache is full: gives its top batch to the arena's shared stack.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int Spill(int top)
    {
        top -= PacketArena.Batch;
        Arena!.GiveBatch(_free.AsSpan(top, PacketArena.Batch));
        return top;
    }

    /// <summary>Gives every cached free buffer back to the arena's shared stack, in whole batches (what is left of a
    /// batch stays cached), and its free large buffers back to the arena's unclaimed ones, for pools made later (a
    /// bridge made after this one's was deleted); a pool of its own keeps them. Called once the pool's thread has
    /// stopped: the pool allocates no large buffer after it.</summary>
    public void ReturnToArena()
    {
        if (Arena is null) return;
        while (_freeCount >= PacketArena.Batch) _freeCount = Spill(_freeCount);
        for (int i = 0; i < _largeFreeCount; i++) _largeFree[i] -= Capacity;
        Arena.ReturnLarge(_largeFree.AsSpan(0, _largeFreeCount));
        _largeFreeCount = 0;
    }

    /// <summary>
    /// Makes arena slot <paramref name="p"/>, lent to a socket and now holding a received frame of
    /// <paramref name="length"/> bytes at <paramref name="head"/>, a buffer of this pool's thread (reference count 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Adopt(int p, int head, int length)
    {
        _refs[p] = 1;
        Head[p] = (ushort)head;
        Length[p] = (ushort)length;
    }

    /// <summary>
    /// Hands arena slot <paramref name="p"/>, whose one reference the caller is about to release, to a socket's TX ring
    /// (transmit without a copy): its count becomes 2, so the caller's release leaves it the socket's, and the socket
    /// waits for that release (<see cref="PacketArena.Released"/>) before it reuses the slot. False (nothing changed) for
    /// a buffer shared with other outputs, a large buffer, or a pool of its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLend(int p)
    {
        if ((uint)p >= (uint)Capacity || Arena is null || _refs[p] != 1) return false;
        _refs[p] = 2;
        return true;
    }

    /// <summary>Takes arena slot <paramref name="slot"/>, given up by a socket in exchange for one it was lent, as a
    /// free buffer of this pool.</summary>
    public void Recycle(int slot)
    {
        _refs[slot] = 0;
        if (_freeCount == _free.Length) _freeCount = Spill(_freeCount);
        _free[_freeCount++] = slot;
    }

    /// <summary>One buffer, or -1 when the pool is empty.</summary>
    public int Alloc()
    {
        Span<int> one = stackalloc int[1];
        return Alloc(one) == 1 ? one[0] : -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddRef(int p) => _refs[p]++;

    public int RefCount(int p) => _refs[p];

    /// <summary>Drops one reference from each buffer; buffers that reach zero return to the free list.</summary>
    public void Release(ReadOnlySpan<int> pkts)
    {
        var refs = _refs;
        var free = _free;
        int top = _freeCount;
        int small = Capacity;
        foreach (int p in pkts)
        {
            if (--refs[p] != 0) continue;
            if (p < small)
            {
                if (top == free.Length) top = Spill(top);   // only a pool over an arena: its cache is smaller than its index space
                free[top++] = p;
            }
            else
            {
                _largeFree[_largeFreeCount++] = p;
            }
        }
        _freeCount = top;
    }

    public void Release(int p)
    {
        if (--_refs[p] != 0) return;
        if (p < Capacity)
        {
            if (_freeCount == _free.Length) _freeCount = Spill(_freeCount);
            _free[_freeCount++] = p;
        }
        else
        {
            _largeFree[_largeFreeCount++] = p;
        }
    }

    /// <summary>The frame bytes of buffer <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Frame(int p) => new(Slab, SlotOffset(p) + Head[p], Length[p]);

    /// <summary>The whole writable area from the frame start to the slot end (for receive and growth).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Tail(int p) => new(Slab, SlotOffset(p) + Head[p], SlotSizeOf(p) - Head[p]);

    /// <summary>Copies <paramref name="frame"/> into buffer <paramref name="p"/>; false when it does not fit.</summary>
    public bool Write(int p, ReadOnlySpan<byte> frame)
    {
        if ((uint)frame.Length > (uint)Room(p) || frame.Length > ushort.MaxValue) return false;
        frame.CopyTo(new Span<byte>(Slab, SlotOffset(p) + Head[p], frame.Length));
        Length[p] = (ushort)frame.Length;
        return true;
    }

    /// <summary>Prepends <paramref name="bytes"/> of room before the frame (encap, VLAN push); false without headroom.</summary>
    public bool Push(int p, int bytes)
    {
        if (bytes > Head[p] || Length[p] + bytes > ushort.MaxValue) return false;
        Head[p] = (ushort)(Head[p] - bytes);
        Length[p] = (ushort)(Length[p] + bytes);
        if (p >= Capacity) MoveOffload(p, bytes);
        return true;
    }

    /// <summary>Removes <paramref name="bytes"/> from the frame's front (decap, VLAN pop); false when shorter.</summary>
    public bool Pull(int p, int bytes)
    {
        if (bytes > Length[p]) return false;
        Head[p] = (ushort)(Head[p] + bytes);
        Length[p] = (ushort)(Length[p] - bytes);
        if (p >= Capacity) MoveOffload(p, -bytes);
        return true;
    }

    /// <summary>The frame start moved by <paramref name="delta"/> bytes (positive: bytes prepended): so do the offsets into it.</summary>
    private void MoveOffload(int p, int delta)
    {
        ref var o = ref Offload[p - Capacity];
        if (o.CsumStart == 0) return;
        int start = o.CsumStart + delta;
        if (start <= 0 || start > ushort.MaxValue)
        {
            o.CsumStart = 1;   // the L4 header was cut away: not coherent any more, RefreshPartial refuses it
            return;
        }
        o.CsumStart = (ushort)start;
        if (o.HdrLen != 0) o.HdrLen = (ushort)Math.Max(0, o.HdrLen + delta);
    }

    /// <summary>Copies buffer <paramref name="src"/> (frame, in_port, tunnel id, offload request) into a new buffer of its kind;
    /// -1 when that kind has none free.</summary>
    public int Clone(int src)
    {
        bool large = src >= Capacity;
        int p = large ? AllocLarge() : Alloc();
        if (p < 0) return -1;
        Head[p] = Head[src];
        Length[p] = Length[src];
        InPort[p] = InPort[src];
        TunId[p] = TunId[src];
        TunIp[p] = TunIp[src];
        if (large) Offload[p - Capacity] = Offload[src - Capacity];
        Frame(src).CopyTo(Frame(p));
        return p;
    }
}
