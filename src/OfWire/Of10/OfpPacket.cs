using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

// Packet messages: OFPT_PACKET_IN (switch -> controller) and OFPT_PACKET_OUT (controller -> switch).

/// <summary>OFPT_PACKET_IN. Data starts at offset 18 (the struct's 2 trailing bytes are the data's start).</summary>
public sealed class OfpPacketIn : OfpMessage
{
    /// <summary>offsetof(struct ofp_packet_in, data): the smallest valid message.</summary>
    public const int MinSize = 18;

    public override OfpType Type => OfpType.PacketIn;

    /// <summary>Datapath buffer id, or <see cref="OfpConstants.NoBuffer"/>.</summary>
    public uint BufferId { get; set; } = OfpConstants.NoBuffer;

    /// <summary>Full length of the frame (Data may be cut to miss_send_len / max_len).</summary>
    public ushort TotalLen { get; set; }

    public ushort InPort { get; set; }

    public OfpPacketInReason Reason { get; set; }

    /// <summary>The Ethernet frame, possibly truncated.</summary>
    public ReadOnlyMemory<byte> Data { get; set; }

    private protected override int BodySize => MinSize - OfpHeader.Size + Data.Length;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32BigEndian(body, BufferId);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(4), TotalLen);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(6), InPort);
        body[8] = (byte)Reason;
        Data.Span.CopyTo(body.Slice(10));
    }

    /// <summary>
    /// Writes a whole OFPT_PACKET_IN (xid 0, as the switch sends them) without a message object: the bytes
    /// <see cref="OfpMessage.ToArray"/> gives for the same fields. Returns its size (<see cref="MinSize"/> + data).
    /// </summary>
    public static int Write(Span<byte> destination, uint bufferId, ushort totalLen, ushort inPort, OfpPacketInReason reason,
                            ReadOnlySpan<byte> data)
    {
        int size = MinSize + data.Length;
        if (size > ushort.MaxValue) ThrowHelper.ThrowMessageTooLarge(size);
        if ((uint)destination.Length < (uint)size) ThrowHelper.ThrowDestinationTooSmall();
        new OfpHeader(OfpConstants.Version, (byte)OfpType.PacketIn, (ushort)size, 0).Write(destination);
        var body = destination.Slice(OfpHeader.Size, size - OfpHeader.Size);
        BinaryPrimitives.WriteUInt32BigEndian(body, bufferId);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(4), totalLen);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(6), inPort);
        body[8] = (byte)reason;
        body[9] = 0;
        data.CopyTo(body.Slice(10));
        return size;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8)                                                |  0
    // +---------------------------------------------------------------+
    // |                          buffer_id                            |  8
    // +-------------------------------+-------------------------------+
    // |          total_len            |           in_port             | 12
    // +---------------+---------------+-------------------------------+
    // |    reason     |    pad (1)    |  data (length - 18) ...       | 16
    // +---------------+---------------+-------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        const int fixedBody = MinSize - OfpHeader.Size;
        if ((uint)body.Length < fixedBody)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        return Success(new OfpPacketIn
        {
            BufferId = BinaryPrimitives.ReadUInt32BigEndian(body),
            TotalLen = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(4)),
            InPort = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(6)),
            Reason = (OfpPacketInReason)body[8],
            Data = OfpWire.Copy(body.Slice(fixedBody)),
        }, out message, out error);
    }
}

/// <summary>
/// OFPT_PACKET_OUT. Data is whatever follows the actions; the spec only expects it when BufferId is
/// OFP_NO_BUFFER, and that check (and OFPBRC_BUFFER_UNKNOWN) is the session's.
/// </summary>
public sealed class OfpPacketOut : OfpMessage
{
    public const int MinSize = 16;

    public override OfpType Type => OfpType.PacketOut;

    /// <summary>Buffered packet to send, or <see cref="OfpConstants.NoBuffer"/> to send <see cref="Data"/>.</summary>
    public uint BufferId { get; set; } = OfpConstants.NoBuffer;

    /// <summary>Packet's input port (OFPP_NONE if none).</summary>
    public ushort InPort { get; set; } = (ushort)OfpPort.None;

    public List<OfpAction> Actions { get; set; } = new();

    public ReadOnlyMemory<byte> Data { get; set; }

    private protected override int BodySize => MinSize - OfpHeader.Size + OfpActions.GetEncodedSize(Actions) + Data.Length;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32BigEndian(body, BufferId);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(4), InPort);
        int actionsLen = OfpActions.Encode(Actions, body.Slice(8));
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(6), (ushort)actionsLen);
        Data.Span.CopyTo(body.Slice(8 + actionsLen));
    }

    // +---------------------------------------------------------------+
    // | ofp_header (8)                                                |  0
    // +---------------------------------------------------------------+
    // |                          buffer_id                            |  8
    // +-------------------------------+-------------------------------+
    // |           in_port             |          actions_len          | 12
    // +-------------------------------+-------------------------------+
    // | actions (actions_len, a multiple of 8)                        | 16
    // +---------------------------------------------------------------+
    // | data (length - 16 - actions_len)                              |
    // +---------------------------------------------------------------+
    // actions_len past the end of the message: OFPBRC_BAD_LEN (as OVS);
    // a bad action list (including actions_len not a multiple of 8): OFPET_BAD_ACTION.
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        const int fixedBody = MinSize - OfpHeader.Size;
        if ((uint)body.Length < fixedBody)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        int actionsLen = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(6));
        if (actionsLen > body.Length - fixedBody)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        if (!OfpActions.TryDecode(body.Slice(fixedBody, actionsLen), out List<OfpAction> actions, out error))
        {
            message = null;
            return false;
        }
        return Success(new OfpPacketOut
        {
            BufferId = BinaryPrimitives.ReadUInt32BigEndian(body),
            InPort = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(4)),
            Actions = actions,
            Data = OfpWire.Copy(body.Slice(fixedBody + actionsLen)),
        }, out message, out error);
    }
}
