using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// Network-order loads and stores at a byte offset from a reference, for hot paths that already hold a
/// <c>ref byte</c> and have bounds-checked the header once (span code uses <see cref="BinaryPrimitives"/>).
/// Stateless; no bounds checks: the caller guarantees <c>off + size</c> lies inside the buffer.
/// </summary>
public static class BigEndian
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Read16(ref byte b, int off)
    {
        ushort v = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref b, off));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Read32(ref byte b, int off)
    {
        uint v = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref b, off));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write16(ref byte b, int off, ushort v)
        => Unsafe.WriteUnaligned(ref Unsafe.Add(ref b, off), BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write32(ref byte b, int off, uint v)
        => Unsafe.WriteUnaligned(ref Unsafe.Add(ref b, off), BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v);
}
