using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The classifier's table hash: CRC32C over the six base words of <c>key &amp; mask</c>, then over the extension words
/// the mask covers (none for an OpenFlow 1.0 mask, so a 12-tuple table hashes six words as it always did).
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

    /// <summary>Hash of an already-masked key whose mask covers no extension word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Of(in FlowKey masked) => Of(masked.W0, masked.W1, masked.W2, masked.W3, masked.W4, masked.W5);

    /// <summary>Hash of an already-masked key whose mask covers the extension words <paramref name="extWords"/> (bit i: word 6 + i).</summary>
    public static uint Of(in FlowKey masked, ushort extWords)
    {
        uint h = Of(masked.W0, masked.W1, masked.W2, masked.W3, masked.W4, masked.W5);
        var w = masked.AllWords;
        for (uint b = extWords; b != 0; b &= b - 1) h = BitOperations.Crc32C(h, w[FlowKey.BaseWords + BitOperations.TrailingZeroCount(b)]);
        return h;
    }

    /// <summary>Hash of a rule's match in its table (the value's base words, then the extension words its mask covers).</summary>
    public static uint OfRule(in FlowMatch match)
    {
        ref readonly var v = ref match.ValueBase;
        uint h = Of(v.W0, v.W1, v.W2, v.W3, v.W4, v.W5);
        for (uint b = match.Shape.ExtWords; b != 0; b &= b - 1)
            h = BitOperations.Crc32C(h, match.ValueWord(FlowKey.BaseWords + BitOperations.TrailingZeroCount(b)));
        if (match.Shape.RegisterWords != 0)
        {
            var r = match.RegisterValue;
            for (uint b = match.Shape.RegisterWords; b != 0; b &= b - 1) h = BitOperations.Crc32C(h, r.Word(BitOperations.TrailingZeroCount(b)));
        }
        if (match.UsesConjId) h = BitOperations.Crc32C(h, match.ConjIdValue);
        return h;
    }

    /// <summary>
    /// Continues a hash of <c>key &amp; mask</c> over the register words in <paramref name="words"/> (bit i: word i) of
    /// <c>regs &amp; mask</c>: a lookup's side of <see cref="OfRule"/> for a mask that tests registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static uint ExtendRegisters(uint h, in Registers regs, in Registers mask, ushort words)
    {
        for (uint b = words; b != 0; b &= b - 1)
        {
            int i = BitOperations.TrailingZeroCount(b);
            h = BitOperations.Crc32C(h, regs.Word(i) & mask.Word(i));
        }
        return h;
    }

    /// <summary>
    /// Continues a base hash <paramref name="h"/> of <c>key &amp; mask</c> over the extension words in
    /// <paramref name="extWords"/> (a packet's side of <see cref="Of(in FlowKey, ushort)"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static uint Extend(uint h, in FlowKey key, in FlowKey mask, ushort extWords)
    {
        var k = key.AllWords;
        var m = mask.AllWords;
        for (uint b = extWords; b != 0; b &= b - 1)
        {
            int i = FlowKey.BaseWords + BitOperations.TrailingZeroCount(b);
            h = BitOperations.Crc32C(h, k[i] & m[i]);
        }
        return h;
    }

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
    {
        int n = 0;
        foreach (ulong w in mask.AllWords) n += BitOperations.PopCount(w);
        return n;
    }

    /// <summary>Word-by-word unsigned comparison (the last tie-breaker between subtables).</summary>
    public static int CompareWords(in FlowKey a, in FlowKey b)
    {
        var x = a.AllWords;
        var y = b.AllWords;
        for (int i = 0; i < FlowKey.Words; i++)
        {
            int c = x[i].CompareTo(y[i]);
            if (c != 0) return c;
        }
        return 0;
    }

    /// <summary>True when every bit set in <paramref name="inner"/> is also set in <paramref name="outer"/>.</summary>
    public static bool Covers(in FlowKey outer, in FlowKey inner)
    {
        var o = outer.AllWords;
        var n = inner.AllWords;
        ulong d = 0;
        for (int i = 0; i < FlowKey.Words; i++) d |= n[i] & ~o[i];
        return d == 0;
    }
}
