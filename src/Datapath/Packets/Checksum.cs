using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// The Internet checksum (RFC 1071): full computation over spans and incremental update (RFC 1624).
/// </summary>
/// <remarks>
/// Conventions: every 16-bit quantity here (a checksum, a field value, a partial sum) is the number you
/// get by reading the two wire bytes big-endian (<see cref="BinaryPrimitives.ReadUInt16BigEndian"/>), and
/// results are written back the same way. A 32-bit field (an IPv4 address) is read big-endian too, which is
/// also the host-order value <see cref="Flow.FlowKey"/> accessors and <see cref="Actions.FlowAction"/> use.
/// <para>
/// <see cref="Sum"/> returns the folded one's-complement sum, which is never 0 unless every byte is zero;
/// the checksum field holds its complement (<see cref="Compute"/>). A receiver verifies by summing the
/// covered bytes including the checksum and getting 0xFFFF (<see cref="IsValid"/>).
/// </para>
/// <para>
/// Incremental update uses RFC 1624 eqn. 3, <c>HC' = ~(~HC + ~m + m')</c>, in one's-complement arithmetic.
/// When HC was computed from scratch over data that is not all zero, the result equals a from-scratch
/// recomputation bit for bit (it never produces 0xFFFF, the flaw of RFC 1141's eqn. 2). UDP's "0 means
/// no checksum" rule is the caller's business (see <see cref="Actions.PacketRewriter"/>).
/// </para>
/// Stateless and thread-safe; never allocates.
/// </remarks>
public static class Checksum
{
    /// <summary>One's-complement sum of <paramref name="data"/> as big-endian 16-bit words (an odd last byte is
    /// padded with a zero low byte), folded to 16 bits.</summary>
    [SkipLocalsInit]
    public static ushort Sum(ReadOnlySpan<byte> data)
    {
        // Words are read in native order and the 16-bit result is byte-swapped at the end on little-endian
        // hosts: the one's-complement sum commutes with byte swapping (RFC 1071 section 2(B)). Each ulong
        // read is added as two 32-bit halves into a 64-bit accumulator, so carries never overflow (2^31 reads).
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint len = (nuint)data.Length;
        nuint i = 0;
        ulong s0 = 0, s1 = 0;
        while (len - i >= 32)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            ulong b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 8));
            ulong c = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 16));
            ulong d = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 24));
            s0 += (a & 0xFFFF_FFFF) + (a >> 32) + (c & 0xFFFF_FFFF) + (c >> 32);
            s1 += (b & 0xFFFF_FFFF) + (b >> 32) + (d & 0xFFFF_FFFF) + (d >> 32);
            i += 32;
        }
        while (len - i >= 8)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            s0 += (a & 0xFFFF_FFFF) + (a >> 32);
            i += 8;
        }
        if (len - i >= 4)
        {
            s1 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
            i += 4;
        }
        if (len - i >= 2)
        {
            s0 += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, i));
            i += 2;
        }
        if (len - i != 0)
        {
            // The odd byte is the high byte of a big-endian word: in native little-endian order it is the low byte.
            ulong last = Unsafe.Add(ref p, i);
            s1 += BitConverter.IsLittleEndian ? last : last << 8;
        }
        ulong s = s0 + s1; // both < 2^62: no overflow
        ushort folded = Fold(s);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded;
    }

    /// <summary>The checksum of <paramref name="data"/> (whose checksum field must read zero): <c>~Sum(data)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Compute(ReadOnlySpan<byte> data) => (ushort)~Sum(data);

    /// <summary>True when <paramref name="data"/>, checksum field included, sums to 0xFFFF.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Sum(data) == 0xFFFF;

    /// <summary>One's-complement addition of two 16-bit sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Add(ushort a, ushort b)
    {
        uint s = (uint)a + b;
        return (ushort)((s & 0xFFFF) + (s >> 16));
    }

    /// <summary>Folds a wide one's-complement accumulator to 16 bits (end-around carry).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);   // < 2^33
        sum = (sum & 0xFFFF) + (sum >> 16);        // < 2^17 + 2^16
        sum = (sum & 0xFFFF) + (sum >> 16);        // <= 0xFFFF + 2
        sum = (sum & 0xFFFF) + (sum >> 16);        // <= 0xFFFF
        return (ushort)sum;
    }

    /// <summary>Sum of the IPv4 pseudo-header (RFC 793/768): addresses, zero, protocol, and TCP/UDP length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort PseudoHeaderSum(uint srcIp, uint dstIp, byte protocol, ushort l4Length)
        => Fold((ulong)(srcIp >> 16) + (srcIp & 0xFFFF) + (dstIp >> 16) + (dstIp & 0xFFFF) + protocol + l4Length);

    /// <summary>
    /// TCP/UDP checksum from scratch: complement of the pseudo-header sum plus <paramref name="segment"/> (the L4
    /// header and payload, whose checksum field must read zero). For UDP the caller maps a result of 0 to 0xFFFF.
    /// </summary>
    public static ushort ComputeL4(uint srcIp, uint dstIp, byte protocol, ReadOnlySpan<byte> segment)
        => (ushort)~Add(PseudoHeaderSum(srcIp, dstIp, protocol, (ushort)segment.Length), Sum(segment));

    /// <summary>RFC 1624 eqn. 3: the checksum after a covered 16-bit field changes from <paramref name="oldValue"/>
    /// to <paramref name="newValue"/>. The field must sit at an even offset from the start of the covered data.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort oldCsum, ushort oldValue, ushort newValue)
    {
        uint s = (uint)(ushort)~oldCsum + (ushort)~oldValue + newValue;   // < 3 * 2^16
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (ushort)~s;
    }

    /// <summary>RFC 1624 eqn. 3 for a covered 32-bit field (e.g. an IPv4 address, big-endian value) at an even offset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort oldCsum, uint oldValue, uint newValue)
    {
        uint notOld = ~oldValue;
        uint s = (uint)(ushort)~oldCsum + (notOld >> 16) + (notOld & 0xFFFF) + (newValue >> 16) + (newValue & 0xFFFF); // < 5 * 2^16
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (ushort)~s;
    }
}
