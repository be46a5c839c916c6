using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// Page-aligned pinned memory cut into 2 KiB slots, registrable whole as the UMEM of AF_XDP sockets (aligned chunks of
/// <see cref="SlotSize"/>): the memory packet pools are to be carved from, so that a received frame is a pool buffer
/// (docs/ports.md, "Design: the packet pool as the UMEM").
/// </summary>
/// <remarks>
/// Slot i spans <c>[BaseOffset + i * SlotSize, + SlotSize)</c> of <see cref="Slab"/>, and its UMEM address (the offset
/// the kernel and the rings speak of) is <c>i * SlotSize</c>. Slot 0 sits on a page boundary: the array is allocated one
/// page longer and its first page-aligned byte taken, so slots tile pages and none crosses one, and a zero-copy driver
/// (which refuses a chunk over pages whose DMA addresses are not contiguous) takes every slot without hugepages. The
/// kernel writes a received frame <see cref="KernelHeadroom"/> bytes into its chunk, room for the pool's encapsulation
/// headroom. The array lives on the pinned object heap, so its address never changes; the arena must outlive every
/// socket it is registered with (the kernel pins its pages for as long as one is open).
/// Thread safety: immutable once built; each slot belongs to one owner at a time (a socket's rings, a pool).
/// </remarks>
public sealed unsafe class PacketArena
{
    /// <summary>Bytes of a slot, the UMEM chunk size: a power of two, two to a 4 KiB page.</summary>
    public const int SlotSize = 2048;
    /// <summary>Where the kernel puts a received frame in its chunk (XDP_PACKET_HEADROOM).</summary>
    public const int KernelHeadroom = 256;

    /// <summary>The pinned array holding the slots (from <see cref="BaseOffset"/> on).</summary>
    public readonly byte[] Slab;
    /// <summary>Offset in <see cref="Slab"/> of slot 0, the first page boundary of the array's data.</summary>
    public readonly int BaseOffset;
    /// <summary>Slots in the arena.</summary>
    public readonly int SlotCount;

    public PacketArena(int slotCount)
    {
        int page = Environment.SystemPageSize;
        if (slotCount <= 0 || slotCount > (int.MaxValue - page) / SlotSize) ThrowHelper.ArgumentOutOfRange(nameof(slotCount));
        SlotCount = slotCount;
        // Whole pages (the kernel pins the last one whole) plus one to find the first page boundary in.
        long pages = ((long)slotCount * SlotSize + page - 1) / page;
        Slab = GC.AllocateArray<byte>(checked((int)((pages + 1) * page)), pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Slab));
        BaseOffset = (int)((page - (start & (page - 1))) & (page - 1));
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
}
