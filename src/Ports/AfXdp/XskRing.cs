using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Ports.AfXdp;

/// <summary>struct xdp_desc: a frame in the UMEM (RX and TX rings).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XdpDesc
{
    public ulong Addr;
    public uint Len;
    public uint Options;
}

/// <summary>
/// One AF_XDP ring mapped from the kernel: a power-of-two array of descriptors (xdp_desc for RX/TX, u64 UMEM
/// addresses for fill/completion) with free-running u32 producer and consumer indices.
/// </summary>
/// <remarks>
/// Single-producer/single-consumer between us and the kernel; each side owns one index. <see cref="Local"/> is our
/// own index (the producer for fill/TX, the consumer for RX/completion), kept here so we never read back our own
/// shared word. Ordering (the inline helpers of libxdp's xsk.h, in .NET terms): read the peer's index with an acquire
/// load before touching entries it published; write entries, then publish our index with a release store.
/// Thread safety: one thread at a time per ring (RX/fill: the poll thread; TX/completion: the send lock).
/// </remarks>
internal unsafe struct XskRing
{
    public uint* Producer;
    public uint* Consumer;
    public uint* Flags;
    public byte* Ring;
    public uint Mask;
    public uint Size;
    public uint Local;
    public void* Map;
    public nuint MapSize;

    public const uint XDP_RING_NEED_WAKEUP = 1;

    // Consumer side (RX, completion).

    /// <summary>Entries the kernel has published and we have not consumed.</summary>
    public readonly uint Available
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref *Producer) - Local;
    }

    /// <summary>Hands <paramref name="n"/> consumed entries back to the kernel (after we are done reading them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Release(uint n)
    {
        Local += n;
        Volatile.Write(ref *Consumer, Local);
    }

    // Producer side (fill, TX).

    /// <summary>Free slots we may write.</summary>
    public readonly uint Free
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Size - (Local - Volatile.Read(ref *Consumer));
    }

    /// <summary>Publishes <paramref name="n"/> entries written at Local.. to the kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Submit(uint n)
    {
        Local += n;
        Volatile.Write(ref *Producer, Local);
    }

    /// <summary>True when the kernel asks to be kicked (sendto for TX, poll/recvfrom for fill).</summary>
    public readonly bool NeedsWakeup
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Volatile.Read(ref *Flags) & XDP_RING_NEED_WAKEUP) != 0;
    }

    /// <summary>True when every entry we produced has been consumed by the kernel.</summary>
    public readonly bool Drained => Volatile.Read(ref *Consumer) == Local;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly ref XdpDesc Desc(uint idx) => ref ((XdpDesc*)Ring)[idx & Mask];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly ref ulong Addr(uint idx) => ref ((ulong*)Ring)[idx & Mask];
}
