using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// The pipeline's register file (Open vSwitch's <c>reg0</c>-<c>reg15</c>): 64 bytes that no packet carries, zeroed
/// at the start of every pipeline run and written only by the register actions of the rules a packet hits. The same
/// bytes seen 32 bits (<c>reg0</c>-<c>reg15</c>), 64 bits (<c>xreg0</c>-<c>xreg7</c>) and 128 bits
/// (<c>xxreg0</c>-<c>xxreg3</c>) at a time.
/// </summary>
/// <remarks>
/// Held as eight 64-bit words, word k being <c>xreg k</c>: <c>reg 2k</c> its upper 32 bits and <c>reg 2k+1</c> its
/// lower, and <c>xxreg j</c> words 2j (upper) and 2j+1 (lower), as Open vSwitch's flow_get_xreg and flow_get_xxreg
/// compose them. A rule's register match (<see cref="FlowMatch.RegisterMask"/>) has the same layout. Mutable value type;
/// docs/datapath.md, "Registers".
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public struct Registers : IEquatable<Registers>
{
    public const int Size = 64, Words = 8;
    /// <summary>32-bit registers (reg0-reg15), 64-bit views (xreg0-xreg7) and 128-bit views (xxreg0-xxreg3).</summary>
    public const int RegCount = 16, XRegCount = 8, XXRegCount = 4;

    private WordArray _w;

    [InlineArray(Words)]
    private struct WordArray
    {
        private ulong _e;
    }

    /// <summary>Word <paramref name="i"/> (xreg i).</summary>
    public readonly ulong Word(int i) => _w[i];

    /// <summary>Which words are non-zero (bit i: word i).</summary>
    public readonly byte NonZeroWords
    {
        get
        {
            int map = 0;
            for (int i = 0; i < Words; i++)
                if (_w[i] != 0) map |= 1 << i;
            return (byte)map;
        }
    }

    public readonly bool IsZero => NonZeroWords == 0;

    public readonly uint Reg(int i) => (uint)(_w[i >> 1] >> ((~i & 1) * 32));

    public void SetReg(int i, uint v)
    {
        int shift = (~i & 1) * 32;
        ref ulong w = ref _w[i >> 1];
        w = (w & ~(0xFFFF_FFFFUL << shift)) | ((ulong)v << shift);
    }

    public readonly ulong XReg(int i) => _w[i];
    public void SetXReg(int i, ulong v) => _w[i] = v;
    public readonly UInt128 XXReg(int i) => new(_w[2 * i], _w[2 * i + 1]);

    public void SetXXReg(int i, UInt128 v)
    {
        _w[2 * i] = (ulong)(v >> 64);
        _w[2 * i + 1] = (ulong)v;
    }

    /// <summary>True when <c>(this &amp; mask) == value</c> over every word.</summary>
    public readonly bool MatchesMasked(in Registers mask, in Registers value)
    {
        ulong d = 0;
        for (int i = 0; i < Words; i++) d |= (_w[i] & mask._w[i]) ^ value._w[i];
        return d == 0;
    }

    /// <summary><c>this &amp; mask</c>, word by word.</summary>
    public readonly Registers And(in Registers mask)
    {
        var r = new Registers();
        for (int i = 0; i < Words; i++) r._w[i] = _w[i] & mask._w[i];
        return r;
    }

    /// <summary>True when every bit set in <paramref name="inner"/> is set here.</summary>
    public readonly bool Covers(in Registers inner)
    {
        ulong d = 0;
        for (int i = 0; i < Words; i++) d |= inner._w[i] & ~_w[i];
        return d == 0;
    }

    public readonly int PopCount()
    {
        int n = 0;
        for (int i = 0; i < Words; i++) n += BitOperations.PopCount(_w[i]);
        return n;
    }

    /// <summary>Word-by-word unsigned comparison (a total order for tie-breaking).</summary>
    public readonly int CompareWords(in Registers other)
    {
        for (int i = 0; i < Words; i++)
        {
            int c = _w[i].CompareTo(other._w[i]);
            if (c != 0) return c;
        }
        return 0;
    }

    public readonly bool Equals(Registers other)
    {
        ulong d = 0;
        for (int i = 0; i < Words; i++) d |= _w[i] ^ other._w[i];
        return d == 0;
    }

    public override readonly bool Equals(object? obj) => obj is Registers r && Equals(r);

    public override readonly int GetHashCode()
    {
        uint h = 0x2545F491u;
        for (int i = 0; i < Words; i++) h = BitOperations.Crc32C(h, _w[i]);
        return (int)h;
    }

    public static bool operator ==(in Registers a, in Registers b) => a.Equals(b);
    public static bool operator !=(in Registers a, in Registers b) => !a.Equals(b);

    /// <summary>The non-zero registers as Open vSwitch's trace prints them (<c>reg0=0x1,reg3=0x2a</c>); empty when all are 0.</summary>
    public override readonly string ToString()
    {
        var parts = new List<string>();
        for (int i = 0; i < RegCount; i++)
            if (Reg(i) != 0) parts.Add($"reg{i}=0x{Reg(i):x}");
        return string.Join(',', parts);
    }
}
