using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Softswitch.Datapath;

/// <summary>
/// Software prefetch hints for burst lookups: touch the cache lines the next pass will read, for every packet of
/// the burst first, so the misses overlap instead of queueing one after another (ovs emc/dpcls prefetching).
/// </summary>
/// <remarks>
/// A prefetch is only a hint: it never faults and never changes program state, so taking the address of a
/// managed object or array element for it is safe even if the GC moves the object right after (the hint is
/// then merely wasted). No-ops where the instruction set has no prefetch.
/// </remarks>
internal static unsafe class Prefetch
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Line<T>(ref T location)
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref location));
    }

    /// <summary>Prefetches <paramref name="lines"/> cache lines from <paramref name="location"/> on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lines<T>(ref T location, int lines)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)Unsafe.AsPointer(ref location);
        for (int i = 0; i < lines; i++) Sse.Prefetch0(p + 64 * i);
    }

    /// <summary>Prefetches the first <paramref name="lines"/> cache lines of an object.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Object(object? o, int lines)
    {
        if (!Sse.IsSupported || o is null) return;
        byte* p = *(byte**)Unsafe.AsPointer(ref o);
        for (int i = 0; i < lines; i++) Sse.Prefetch0(p + 64 * i);
    }
}
