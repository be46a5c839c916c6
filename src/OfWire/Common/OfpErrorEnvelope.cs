using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>
/// OFPT_ERROR's envelope, the same in every version: the header, ofp_error_msg's type and code (the version's numbers)
/// and, as data, the failed request's first 64 bytes (the spec asks for at least 64), under the request's xid (0 when it
/// has no whole header). Each codec names its own types and codes; this only lays them out.
/// </summary>
public static class OfpErrorEnvelope
{
    // +-------------------------------------+
    // | ofp_header (8)                      |
    // +------------------+------------------+
    // | type (2)         | code (2)         |
    // +------------------+------------------+
    // | data (length - 12)                  |
    // +-------------------------------------+
    /// <summary>The size of the header, type and code.</summary>
    public const int MinSize = 12;

    /// <summary>How much of the failed request an error carries.</summary>
    public const int DataSize = 64;

    /// <summary>The size of the error answering <paramref name="request"/>.</summary>
    public static int SizeFor(ReadOnlySpan<byte> request) => MinSize + Math.Min(request.Length, DataSize);

    /// <summary>Writes the error answering <paramref name="request"/> and returns its size (<see cref="SizeFor"/>).</summary>
    public static int Write(Span<byte> destination, byte version, ushort type, ushort code, ReadOnlySpan<byte> request)
    {
        uint xid = OfpHeader.TryRead(request, out var header) ? header.Xid : 0;
        var data = request[..Math.Min(request.Length, DataSize)];
        int size = MinSize + data.Length;
        if ((uint)destination.Length < (uint)size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        new OfpHeader(version, OfpHeader.ErrorType, (ushort)size, xid).Write(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], code);
        data.CopyTo(destination[MinSize..]);
        return size;
    }

    /// <summary>The error answering <paramref name="request"/>, whole.</summary>
    public static byte[] ForRequest(byte version, ushort type, ushort code, ReadOnlySpan<byte> request)
    {
        var msg = new byte[SizeFor(request)];
        Write(msg, version, type, code, request);
        return msg;
    }
}
