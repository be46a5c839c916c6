using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Softswitch.OfWire.Of10;

/// <summary>
/// Base of every OpenFlow 1.0 message: the header fields plus encode/decode plumbing.
/// <para>
/// Layer: the codec owns the OpenFlow wire format (byte layouts, wire constants, framing, length checks, and the
/// error a malformed message earns) and nothing else. It references nothing of the switch: no datapath types and no
/// Ofproto model. Mapping wire values to the switch's (ports, wildcards, reasons) is the agent's (Translate);
/// deciding what a message means is the agent's and Ofproto's.
/// </para>
/// <para>
/// Design: one sealed class per message type (per stats body for stats), mutable plain data, owned
/// memory (decoding copies variable-length data out of the frame, so a message outlives the receive
/// buffer). The hierarchy is closed: only this assembly can add types. Not thread-safe; hand a message
/// to one owner at a time.
/// </para>
/// <para>
/// Decoding: <see cref="TryDecode"/> takes exactly one framed message and either returns it or the
/// OpenFlow error (type/code) the switch must answer with. It never throws on bad input and never reads
/// outside the frame. Encoding writes pad bytes as zero and computes the header length; a decoded
/// message re-encodes to the bytes it came from, except where the peer sent non-zero pad bytes.
/// </para>
/// </summary>
public abstract class OfpMessage
{
    private protected OfpMessage()
    {
    }

    /// <summary>ofp_header.version; 1 unless a HELLO carried another version.</summary>
    public byte Version { get; set; } = OfpConstants.Version;

    /// <summary>ofp_header.xid.</summary>
    public uint Xid { get; set; }

    /// <summary>ofp_header.type.</summary>
    public abstract OfpType Type { get; }

    /// <summary>Total encoded size including the 8-byte header (may exceed 65535 for oversized lists).</summary>
    public int EncodedSize => OfpHeader.Size + BodySize;

    /// <summary>Bytes after the header.</summary>
    private protected abstract int BodySize { get; }

    /// <summary>Writes the body into a span of exactly <see cref="BodySize"/> bytes, already zeroed.</summary>
    private protected abstract void EncodeBody(Span<byte> body);

    /// <summary>Encodes the message and returns its size. Throws if it does not fit or exceeds 65535 bytes.</summary>
    public int Encode(Span<byte> destination)
    {
        int size = EncodedSize;
        if (size > OfpConstants.MaxMessageSize)
        {
            ThrowHelper.ThrowMessageTooLarge(size);
        }
        if ((uint)destination.Length < (uint)size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        Span<byte> frame = destination.Slice(0, size);
        frame.Clear();
        new OfpHeader(Version, (byte)Type, (ushort)size, Xid).Write(frame);
        EncodeBody(frame.Slice(OfpHeader.Size));
        return size;
    }

    /// <summary>Encodes the message; false (nothing useful written) if it does not fit or exceeds 65535 bytes.</summary>
    public bool TryEncode(Span<byte> destination, out int bytesWritten)
    {
        int size = EncodedSize;
        if (size > OfpConstants.MaxMessageSize || (uint)destination.Length < (uint)size)
        {
            bytesWritten = 0;
            return false;
        }
        bytesWritten = Encode(destination);
        return true;
    }

    /// <summary>Encodes the message into a buffer writer (e.g. a PipeWriter) and advances it.</summary>
    public int Encode(IBufferWriter<byte> writer)
    {
        int size = EncodedSize;
        if (size > OfpConstants.MaxMessageSize)
        {
            ThrowHelper.ThrowMessageTooLarge(size);
        }
        int written = Encode(writer.GetSpan(size));
        writer.Advance(written);
        return written;
    }

    /// <summary>Encodes the message into a new array.</summary>
    public byte[] ToArray()
    {
        int size = EncodedSize;
        if (size > OfpConstants.MaxMessageSize)
        {
            ThrowHelper.ThrowMessageTooLarge(size);
        }
        var bytes = new byte[size];
        Encode(bytes);
        return bytes;
    }

    public override string ToString() => $"{Type} (xid={Xid:x}, {EncodedSize} bytes)";

    //  0                   1                   2                   3
    // +---------------+---------------+-------------------------------+
    // |    version    |      type     |             length            |   0
    // +---------------+---------------+-------------------------------+
    // |                              xid                              |   4
    // +---------------------------------------------------------------+
    // |   body (length - 8), by type: the diagram above its decoder   |   8
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes one complete message. <paramref name="frame"/> must be exactly the message
    /// (framing by <see cref="OfpFraming"/>). Checks, in order:
    /// <list type="number">
    /// <item>fewer than 8 bytes, or header length != frame length: OFPBRC_BAD_LEN;</item>
    /// <item>version != 1 on anything but HELLO: OFPBRC_BAD_VERSION (HELLO of any version decodes,
    ///   the session negotiates);</item>
    /// <item>type above OFPT_QUEUE_GET_CONFIG_REPLY: OFPBRC_BAD_TYPE;</item>
    /// <item>the type's own checks: wrong length for the type (OFPBRC_BAD_LEN), unknown stats type
    ///   (OFPBRC_BAD_STAT), bad flow-mod command (OFPFMFC_BAD_COMMAND), bad actions (OFPET_BAD_ACTION).</item>
    /// </list>
    /// Vendor messages and vendor stats decode with their vendor id exposed; refusing an unknown vendor
    /// (OFPBRC_BAD_VENDOR) is the session's job.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> frame, [NotNullWhen(true)] out OfpMessage? message, out OfpError error)
    {
        message = null;
        if (!OfpHeader.TryRead(frame, out OfpHeader header) || header.Length != frame.Length)
        {
            error = OfpError.BadLen;
            return false;
        }
        if (header.Version != OfpConstants.Version && header.Type != OfpHeader.HelloType)
        {
            error = OfpError.BadRequest(OfpBadRequestCode.BadVersion);
            return false;
        }
        ReadOnlySpan<byte> body = frame.Slice(OfpHeader.Size);
        bool ok = (OfpType)header.Type switch
        {
            OfpType.Hello => OfpHello.TryDecodeBody(body, out message, out error),
            OfpType.Error => OfpErrorMsg.TryDecodeBody(body, out message, out error),
            OfpType.EchoRequest => OfpEchoRequest.TryDecodeBody(body, out message, out error),
            OfpType.EchoReply => OfpEchoReply.TryDecodeBody(body, out message, out error),
            OfpType.Vendor => OfpVendor.TryDecodeBody(body, out message, out error),
            OfpType.FeaturesRequest => DecodeEmpty(body, new OfpFeaturesRequest(), out message, out error),
            OfpType.FeaturesReply => OfpFeaturesReply.TryDecodeBody(body, out message, out error),
            OfpType.GetConfigRequest => DecodeEmpty(body, new OfpGetConfigRequest(), out message, out error),
            OfpType.GetConfigReply => OfpSwitchConfig.TryDecodeBody(body, new OfpGetConfigReply(), out message, out error),
            OfpType.SetConfig => OfpSwitchConfig.TryDecodeBody(body, new OfpSetConfig(), out message, out error),
            OfpType.PacketIn => OfpPacketIn.TryDecodeBody(body, out message, out error),
            OfpType.FlowRemoved => OfpFlowRemoved.TryDecodeBody(body, out message, out error),
            OfpType.PortStatus => OfpPortStatus.TryDecodeBody(body, out message, out error),
            OfpType.PacketOut => OfpPacketOut.TryDecodeBody(body, out message, out error),
            OfpType.FlowMod => OfpFlowMod.TryDecodeBody(body, out message, out error),
            OfpType.PortMod => OfpPortMod.TryDecodeBody(body, out message, out error),
            OfpType.StatsRequest => OfpStatsRequest.TryDecodeBody(body, out message, out error),
            OfpType.StatsReply => OfpStatsReply.TryDecodeBody(body, out message, out error),
            OfpType.BarrierRequest => DecodeEmpty(body, new OfpBarrierRequest(), out message, out error),
            OfpType.BarrierReply => DecodeEmpty(body, new OfpBarrierReply(), out message, out error),
            OfpType.QueueGetConfigRequest => OfpQueueGetConfigRequest.TryDecodeBody(body, out message, out error),
            OfpType.QueueGetConfigReply => OfpQueueGetConfigReply.TryDecodeBody(body, out message, out error),
            _ => Fail(OfpError.BadRequest(OfpBadRequestCode.BadType), out message, out error),
        };
        if (!ok)
        {
            message = null;
            return false;
        }
        message!.Version = header.Version;
        message.Xid = header.Xid;
        return true;
    }

    /// <summary>Decodes and checks the message is of type <typeparamref name="T"/>.</summary>
    public static bool TryDecode<T>(ReadOnlySpan<byte> frame, [NotNullWhen(true)] out T? message, out OfpError error)
        where T : OfpMessage
    {
        if (TryDecode(frame, out OfpMessage? m, out error) && m is T typed)
        {
            message = typed;
            return true;
        }
        if (m is not null)
        {
            error = OfpError.BadRequest(OfpBadRequestCode.BadType);
        }
        message = null;
        return false;
    }

    private protected static bool Fail(OfpError reason, out OfpMessage? message, out OfpError error)
    {
        message = null;
        error = reason;
        return false;
    }

    private protected static bool Success(OfpMessage value, out OfpMessage? message, out OfpError error)
    {
        message = value;
        error = default;
        return true;
    }

    private static bool DecodeEmpty(ReadOnlySpan<byte> body, OfpMessage value, out OfpMessage? message, out OfpError error) =>
        body.IsEmpty ? Success(value, out message, out error) : Fail(OfpError.BadLen, out message, out error);
}
