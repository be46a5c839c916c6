using System.Buffers.Binary;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire;

/// <summary>
/// struct ofp_header, the 8 bytes in front of every OpenFlow message.
/// A plain value: reading it validates nothing but the span size.
/// </summary>
public readonly record struct OfpHeader(byte Version, OfpType Type, ushort Length, uint Xid)
{
    public const int Size = OfpConstants.HeaderSize;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |    version    |      type     |            length             |
    // +---------------+---------------+-------------------------------+
    // |                              xid                              |
    // +---------------------------------------------------------------+
    /// <summary>Reads the header from the first 8 bytes; false if fewer are present.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out OfpHeader header)
    {
        if ((uint)source.Length < Size)
        {
            header = default;
            return false;
        }
        header = new OfpHeader(
            source[0],
            (OfpType)source[1],
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(2)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)));
        return true;
    }

    /// <summary>Writes the 8 header bytes. The destination must hold at least 8 bytes.</summary>
    public void Write(Span<byte> destination)
    {
        if ((uint)destination.Length < Size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        destination[0] = Version;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4), Xid);
    }
}
