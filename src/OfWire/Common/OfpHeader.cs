using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>
/// struct ofp_header, the 8 bytes in front of every OpenFlow message of every version. A plain value: reading it
/// validates nothing but the span size. <see cref="Type"/> is the version's number (its codec names it).
/// </summary>
public readonly record struct OfpHeader(byte Version, byte Type, ushort Length, uint Xid)
{
    public const int Size = 8;

    /// <summary>The most bytes a message of any version has (its 16-bit length).</summary>
    public const int MaxMessageSize = ushort.MaxValue;

    /// <summary>OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST and OFPT_ECHO_REPLY: the same numbers in every version.</summary>
    public const byte HelloType = 0, ErrorType = 1, EchoRequestType = 2, EchoReplyType = 3;

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
            source[1],
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
        destination[1] = Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4), Xid);
    }
}
