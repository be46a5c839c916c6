using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// A pinned slab of fixed-size packet buffers referenced by int index, with per-packet metadata in
/// parallel arrays (vpp-style).
/// </summary>
/// <remarks>
/// Design: slot i spans <c>[i*SlotSize, (i+1)*SlotSize)</c> of <see cref="Slab"/>. A frame starts at
/// <c>Head[i]</c> bytes into its slot, which is <see cref="Headroom"/> on allocation, so encapsulation
/// prepends by moving Head back and VLAN push/pop by moving 12 bytes. Buffers are reference counted:
/// a buffer queued to several output ports is shared, and returns to the free list when the last
/// reference is released. The slab is pinned, so ports may hand its addresses to the kernel.
/// Thread safety: none, by design. A pool belongs to one forwarding context (a poll thread, or the control
/// path under its lock); ports allocate from it on that thread in Receive and must have copied frames out
/// before Send returns, so buffers never cross threads and reference counts need no atomics.
/// </remarks>
public sealed class PacketPool
{
    public const int Headroom = 128;
    public const int DefaultDataSize = 2048;

    public readonly byte[] Slab;
    public readonly int SlotSize;
    public readonly int Capacity;
    /// <summary>Offset of the frame's first byte within its slot.</summary>
    public readonly ushort[] Head;
    /// <summary>Frame length in bytes.</summary>
    public readonly ushort[] Length;
    /// <summary>OpenFlow port the frame arrived on (or the packet-out in_port).</summary>
    public readonly ushort[] InPort;
    private readonly int[] _refs;
    private readonly int[] _free;
    private int _freeCount;

    public PacketPool(int capacity, int dataSize = DefaultDataSize)
    {
        if (capacity <= 0) ThrowHelper.ArgumentOutOfRange(nameof(capacity));
        SlotSize = Headroom + dataSize;
        Capacity = capacity;
        Slab = GC.AllocateUninitializedArray<byte>(capacity * SlotSize, pinned: true);
        Head = new ushort[capacity];
        Length = new ushort[capacity];
        InPort = new ushort[capacity];
        _refs = new int[capacity];
        _free = new int[capacity];
        for (int i = 0; i < capacity; i++) _free[i] = capacity - 1 - i;
        _freeCount = capacity;
    }

    /// <summary>Largest frame a buffer holds without headroom use.</summary>
    public int MaxFrameSize => SlotSize - Headroom;

    public int FreeCount => _freeCount;

    /// <summary>Fills <paramref name="dest"/> with fresh buffers (refcount 1, Head = Headroom, Length 0); returns how many it got.</summary>
    public int Alloc(Span<int> dest)
    {
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
        foreach (int p in pkts)
        {
            if (--refs[p] == 0) free[top++] = p;
        }
        _freeCount = top;
    }

    public void Release(int p)
    {
        if (--_refs[p] == 0) _free[_freeCount++] = p;
    }

    /// <summary>The frame bytes of buffer <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Frame(int p) => new(Slab, p * SlotSize + Head[p], Length[p]);

    /// <summary>The whole writable area from the frame start to the slot end (for receive and growth).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Tail(int p) => new(Slab, p * SlotSize + Head[p], SlotSize - Head[p]);

    /// <summary>Copies <paramref name="frame"/> into buffer <paramref name="p"/>; false when it does not fit.</summary>
    public bool Write(int p, ReadOnlySpan<byte> frame)
    {
        if ((uint)frame.Length > (uint)(SlotSize - Head[p])) return false;
        frame.CopyTo(new Span<byte>(Slab, p * SlotSize + Head[p], frame.Length));
        Length[p] = (ushort)frame.Length;
        return true;
    }

    /// <summary>Prepends <paramref name="bytes"/> of room before the frame (encap, VLAN push); false without headroom.</summary>
    public bool Push(int p, int bytes)
    {
        if (bytes > Head[p]) return false;
        Head[p] = (ushort)(Head[p] - bytes);
        Length[p] = (ushort)(Length[p] + bytes);
        return true;
    }

    /// <summary>Removes <paramref name="bytes"/> from the frame's front (decap, VLAN pop); false when shorter.</summary>
    public bool Pull(int p, int bytes)
    {
        if (bytes > Length[p]) return false;
        Head[p] = (ushort)(Head[p] + bytes);
        Length[p] = (ushort)(Length[p] - bytes);
        return true;
    }

    /// <summary>Copies buffer <paramref name="src"/> (frame, in_port) into a new buffer; -1 when the pool is empty.</summary>
    public int Clone(int src)
    {
        int p = Alloc();
        if (p < 0) return -1;
        Head[p] = Head[src];
        Length[p] = Length[src];
        InPort[p] = InPort[src];
        Frame(src).CopyTo(Frame(p));
        return p;
    }
}
