using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

/// <summary>
/// The OpenFlow error (type and code) a decoder hands back instead of a message: exactly what the
/// switch puts into the OFPT_ERROR it answers with. Codes are raw so that any type's code fits. <see cref="Nicira"/>:
/// one of Open vSwitch's "NX1.0(type,code)" errors, which OpenFlow 1.0 carries inside NXET_VENDOR
/// (<see cref="Nx10Error"/>), for the errors 1.0 has no code for (OFPBAC_BAD_SET_TYPE, OFPBMC_BAD_WILDCARDS, ...).
/// </summary>
public readonly record struct OfpError(OfpErrorType Type, ushort Code, bool Nicira = false)
{
    /// <summary>Open vSwitch's NX1.0(<paramref name="type"/>, <paramref name="code"/>), sent inside NXET_VENDOR.</summary>
    public static OfpError Nx(OfpErrorType type, ushort code) => new(type, code, true);

    public static OfpError BadRequest(OfpBadRequestCode code) => new(OfpErrorType.BadRequest, (ushort)code);
    public static OfpError BadAction(OfpBadActionCode code) => new(OfpErrorType.BadAction, (ushort)code);
    public static OfpError HelloFailed(OfpHelloFailedCode code) => new(OfpErrorType.HelloFailed, (ushort)code);
    public static OfpError FlowModFailed(OfpFlowModFailedCode code) => new(OfpErrorType.FlowModFailed, (ushort)code);
    public static OfpError PortModFailed(OfpPortModFailedCode code) => new(OfpErrorType.PortModFailed, (ushort)code);
    public static OfpError QueueOpFailed(OfpQueueOpFailedCode code) => new(OfpErrorType.QueueOpFailed, (ushort)code);

    internal static readonly OfpError BadLen = BadRequest(OfpBadRequestCode.BadLen);
    internal static readonly OfpError BadActionLen = BadAction(OfpBadActionCode.BadLen);

    public override string ToString() => Nicira ? $"NX({(ushort)Type},{Code})" : Type switch
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

/// <summary>
/// OFPT_ERROR (struct ofp_error_msg). Type and code are kept raw: OVS sends vendor error types
/// (e.g. 0xb0c2, NXET_VENDOR) even on 1.0, and those must round-trip.
/// </summary>
public sealed class OfpErrorMsg : OfpMessage
{
    public const int MinSize = 12;

    public override OfpType Type => OfpType.Error;

    /// <summary>ofp_error_msg.type.</summary>
    public OfpErrorType ErrorType { get; set; }

    /// <summary>ofp_error_msg.code, interpreted per <see cref="ErrorType"/>.</summary>
    public ushort Code { get; set; }

    /// <summary>For most errors the start of the failed request; for HELLO_FAILED an ASCII explanation.</summary>
    public ReadOnlyMemory<byte> Data { get; set; }

    /// <summary>Type and code together.</summary>
    public OfpError Error
    {
        get => new(ErrorType, Code);
        set
        {
            ErrorType = value.Type;
            Code = value.Code;
        }
    }

    private protected override int BodySize => 4 + Data.Length;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)ErrorType);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(2), Code);
        Data.Span.CopyTo(body.Slice(4));
    }

    /// <summary>
    /// The error reply to a failed request: the request's xid (0 if it has no complete header) and, as
    /// data, its first <paramref name="maxDataSize"/> bytes (the spec asks for at least 64).
    /// </summary>
    public static OfpErrorMsg ForRequest(OfpError error, ReadOnlySpan<byte> request, int maxDataSize = OfpConstants.ErrorDataMinSize)
    {
        uint xid = OfpHeader.TryRead(request, out OfpHeader header) ? header.Xid : 0;
        int dataSize = Math.Clamp(maxDataSize, 0, OfpConstants.MaxMessageSize - MinSize);
        return new OfpErrorMsg
        {
            Xid = xid,
            Error = error,
            Data = OfpWire.Copy(request.Slice(0, Math.Min(request.Length, dataSize))),
        };
    }

    /// <summary>
    /// Writes the error reply to a failed request without allocating (see <see cref="ForRequest"/>)
    /// and returns its size. The destination needs 12 + min(request length, 64) bytes.
    /// </summary>
    public static int WriteReply(OfpError error, ReadOnlySpan<byte> request, Span<byte> destination)
        => OfpErrorEnvelope.Write(destination, OfpConstants.Version, (ushort)error.Type, error.Code, request);

    // +-------------------------------------+
    // | ofp_header (8)                      |
    // +------------------+------------------+
    // | type (2)         | code (2)         |
    // +------------------+------------------+
    // | data (length - 12)                  |
    // +-------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if ((uint)body.Length < 4)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        return Success(new OfpErrorMsg
        {
            ErrorType = (OfpErrorType)BinaryPrimitives.ReadUInt16BigEndian(body),
            Code = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(2)),
            Data = OfpWire.Copy(body.Slice(4)),
        }, out message, out error);
    }
}
