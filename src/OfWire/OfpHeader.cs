using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

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

/// <summary>
/// The OpenFlow error (type and code) a decoder hands back instead of a message: exactly what the
/// switch puts into the OFPT_ERROR it answers with. Codes are raw so that any type's code fits.
/// </summary>
public readonly record struct OfpError(OfpErrorType Type, ushort Code)
{
    public static OfpError BadRequest(OfpBadRequestCode code) => new(OfpErrorType.BadRequest, (ushort)code);
    public static OfpError BadAction(OfpBadActionCode code) => new(OfpErrorType.BadAction, (ushort)code);
    public static OfpError HelloFailed(OfpHelloFailedCode code) => new(OfpErrorType.HelloFailed, (ushort)code);
    public static OfpError FlowModFailed(OfpFlowModFailedCode code) => new(OfpErrorType.FlowModFailed, (ushort)code);
    public static OfpError PortModFailed(OfpPortModFailedCode code) => new(OfpErrorType.PortModFailed, (ushort)code);
    public static OfpError QueueOpFailed(OfpQueueOpFailedCode code) => new(OfpErrorType.QueueOpFailed, (ushort)code);

    internal static readonly OfpError BadLen = BadRequest(OfpBadRequestCode.BadLen);
    internal static readonly OfpError BadActionLen = BadAction(OfpBadActionCode.BadLen);

    public override string ToString() => Type switch
    {
        OfpErrorType.HelloFailed => $"HelloFailed/{(OfpHelloFailedCode)Code}",
        OfpErrorType.BadRequest => $"BadRequest/{(OfpBadRequestCode)Code}",
        OfpErrorType.BadAction => $"BadAction/{(OfpBadActionCode)Code}",
        OfpErrorType.FlowModFailed => $"FlowModFailed/{(OfpFlowModFailedCode)Code}",
        OfpErrorType.PortModFailed => $"PortModFailed/{(OfpPortModFailedCode)Code}",
        OfpErrorType.QueueOpFailed => $"QueueOpFailed/{(OfpQueueOpFailedCode)Code}",
        _ => $"type{(ushort)Type}/code{Code}",
    };
}

/// <summary>Small helpers shared by the decoders and encoders.</summary>
internal static class OfpWire
{
    /// <summary>
    /// Reads a NUL-terminated fixed-size char field (port name, table name, desc strings).
    /// Latin-1 maps every byte to one char, so a name without NUL or with high bytes survives a round trip.
    /// </summary>
    public static string ReadString(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        if (end < 0)
        {
            end = field.Length;
        }
        return end == 0 ? string.Empty : Encoding.Latin1.GetString(field.Slice(0, end));
    }

    /// <summary>
    /// Writes a string into a fixed-size field, zero filling the rest. A string as long as the field
    /// fills it without a NUL (that is how such a field decodes); longer strings are cut.
    /// </summary>
    public static void WriteString(string? value, Span<byte> field)
    {
        field.Clear();
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        ReadOnlySpan<char> chars = value.AsSpan(0, Math.Min(value.Length, field.Length));
        Encoding.Latin1.GetBytes(chars, field);
    }

    /// <summary>Copies decoded variable-length data out of the transient frame.</summary>
    public static ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> data) =>
        data.IsEmpty ? ReadOnlyMemory<byte>.Empty : data.ToArray();
}

internal static class ThrowHelper
{
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowDestinationTooSmall() =>
        throw new ArgumentException("Destination is smaller than the encoded size.", "destination");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowMessageTooLarge(int size) =>
        throw new InvalidOperationException($"Encoded message would be {size} bytes; an OpenFlow message is at most {OfpConstants.MaxMessageSize}.");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgument(string message, string paramName) =>
        throw new ArgumentException(message, paramName);
}
