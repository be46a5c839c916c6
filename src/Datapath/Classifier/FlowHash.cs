using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The classifier's table hash: CRC32C over the six words of <c>key &amp; mask</c>.
/// </summary>
/// <remarks>
/// Every hashed table (the exact table and each tuple-space subtable) hashes the masked key with this one
/// function, so a rule's hash (over its already-masked <see cref="FlowMatch.Value"/>) and a packet's hash
/// (over its key ANDed with the table's mask) agree. It is deliberately independent of the per-packet hash
/// carried with the burst (which may come from a NIC and only indexes the EMC).
/// </remarks>
internal static class FlowHash
{
    private const uint Seed = 0x2545F491u;

    /// <summary>Hash of an already-masked value (a rule's <see cref="FlowMatch.Value"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Of(in FlowKey masked) => Of(masked.W0, masked.W1, masked.W2, masked.W3, masked.W4, masked.W5);

    /// <summary>
    /// Hash of the six already-masked words (the burst loops keep them in registers): CRC32C over W0..W4, then W5
    /// only when it is non-zero (the tunnel id word is zero for almost every rule and packet, so this saves a step
    /// on the hot path while staying a function of the masked key alone).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Of(ulong w0, ulong w1, ulong w2, ulong w3, ulong w4, ulong w5)
    {
        if (Sse42.X64.IsSupported)
        {
            // The 64-bit form keeps the running CRC in a 64-bit register: no zero-extension between steps.
            ulong c = Sse42.X64.Crc32(Seed, w0);
            c = Sse42.X64.Crc32(c, w1);
            c = Sse42.X64.Crc32(c, w2);
            c = Sse42.X64.Crc32(c, w3);
            c = Sse42.X64.Crc32(c, w4);
            if (w5 != 0) c = Sse42.X64.Crc32(c, w5);
            return (uint)c;
        }
        uint h = BitOperations.Crc32C(Seed, w0);
        h = BitOperations.Crc32C(h, w1);
        h = BitOperations.Crc32C(h, w2);
        h = BitOperations.Crc32C(h, w3);
        h = BitOperations.Crc32C(h, w4);
        if (w5 != 0) h = BitOperations.Crc32C(h, w5);
        return h;
    }

    /// <summary>Number of set bits in a mask (how specific a subtable is).</summary>
    public static int PopCount(in FlowKey mask)
        => BitOperations.PopCount(mask.W0) + BitOperations.PopCount(mask.W1) + BitOperations.PopCount(mask.W2)
         + BitOperations.PopCount(mask.W3) + BitOperations.PopCount(mask.W4) + BitOperations.PopCount(mask.W5);

    /// <summary>Word-by-word unsigned comparison (the last tie-breaker between subtables).</summary>
    public static int CompareWords(in FlowKey a, in FlowKey b)
    {
        int c = a.W0.CompareTo(b.W0);
        if (c != 0) return c;
        c = a.W1.CompareTo(b.W1);
        if (c != 0) return c;
        c = a.W2.CompareTo(b.W2);
        if (c != 0) return c;
        c = a.W3.CompareTo(b.W3);
        if (c != 0) return c;
        c = a.W4.CompareTo(b.W4);
        if (c != 0) return c;
        return a.W5.CompareTo(b.W5);
    }

    /// <summary>True when every bit set in <paramref name="inner"/> is also set in <paramref name="outer"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Covers(in FlowKey outer, in FlowKey inner)
        => ((inner.W0 & ~outer.W0) | (inner.W1 & ~outer.W1) | (inner.W2 & ~outer.W2)
          | (inner.W3 & ~outer.W3) | (inner.W4 & ~outer.W4) | (inner.W5 & ~outer.W5)) == 0;
}
