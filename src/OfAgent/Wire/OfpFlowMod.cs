using System.Buffers.Binary;

namespace Softswitch.OfAgent.Wire;

// Flow table messages: OFPT_FLOW_MOD (controller -> switch) and OFPT_FLOW_REMOVED (switch -> controller).

/// <summary>
/// OFPT_FLOW_MOD. The decoder checks framing, the command (OFPFMFC_BAD_COMMAND) and every action
/// (OFPET_BAD_ACTION, including output to OFPP_NONE or a port in 0xff00..0xfff7). Everything that needs
/// switch state (port existence, buffer ids, overlap, emergency timeouts, output to OFPP_TABLE outside
/// packet-out) is left to the translator.
/// </summary>
public sealed class OfpFlowMod : OfpMessage
{
    public const int MinSize = 72;

    public override OfpType Type => OfpType.FlowMod;

    public OfpMatch Match { get; set; } = OfpMatch.All;

    /// <summary>Opaque controller-issued identifier.</summary>
    public ulong Cookie { get; set; }

    public OfpFlowModCommand Command { get; set; }

    /// <summary>Idle seconds before discarding; 0 is permanent.</summary>
    public ushort IdleTimeout { get; set; }

    /// <summary>Seconds before discarding; 0 is permanent.</summary>
    public ushort HardTimeout { get; set; }

    public ushort Priority { get; set; } = OfpConstants.DefaultPriority;

    /// <summary>Buffered packet to apply to, or <see cref="OfpConstants.NoBuffer"/>; not meaningful for deletes.</summary>
    public uint BufferId { get; set; } = OfpConstants.NoBuffer;

    /// <summary>For delete commands, restrict to flows that output here; OFPP_NONE means no restriction.</summary>
    public ushort OutPort { get; set; } = (ushort)OfpPort.None;

    public OfpFlowModFlags Flags { get; set; }

    public List<OfpAction> Actions { get; set; } = new();

    private protected override int BodySize => MinSize - OfpHeader.Size + OfpActions.GetEncodedSize(Actions);

    private protected override void EncodeBody(Span<byte> body)
    {
        Match.Write(body);
        BinaryPrimitives.WriteUInt64BigEndian(body.Slice(40), Cookie);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(48), (ushort)Command);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(50), IdleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(52), HardTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(54), Priority);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(56), BufferId);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(60), OutPort);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(62), (ushort)Flags);
        OfpActions.Encode(Actions, body.Slice(MinSize - OfpHeader.Size));
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8)                                                |  0
    // +---------------------------------------------------------------+
    // | ofp_match (40)                                                |  8
    // +---------------------------------------------------------------+
    // |                         cookie (8)                            | 48
    // +-------------------------------+-------------------------------+
    // |           command             |         idle_timeout          | 56
    // +-------------------------------+-------------------------------+
    // |         hard_timeout          |           priority            | 60
    // +-------------------------------+-------------------------------+
    // |                          buffer_id                            | 64
    // +-------------------------------+-------------------------------+
    // |           out_port            |            flags              | 68
    // +-------------------------------+-------------------------------+
    // | actions (length - 72)                                         | 72
    // +---------------------------------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        const int fixedBody = MinSize - OfpHeader.Size;
        if ((uint)body.Length < fixedBody)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        var command = (OfpFlowModCommand)BinaryPrimitives.ReadUInt16BigEndian(body.Slice(48));
        if (command > OfpFlowModCommand.DeleteStrict)
        {
            return Fail(OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand), out message, out error);
        }
        if (!OfpActions.TryDecode(body.Slice(fixedBody), out List<OfpAction> actions, out error))
        {
            message = null;
            return false;
        }
        OfpMatch.TryRead(body, out OfpMatch match);
        return Success(new OfpFlowMod
        {
            Match = match,
            Cookie = BinaryPrimitives.ReadUInt64BigEndian(body.Slice(40)),
            Command = command,
            IdleTimeout = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(50)),
            HardTimeout = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(52)),
            Priority = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(54)),
            BufferId = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(56)),
            OutPort = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(60)),
            Flags = (OfpFlowModFlags)BinaryPrimitives.ReadUInt16BigEndian(body.Slice(62)),
            Actions = actions,
        }, out message, out error);
    }
}

/// <summary>OFPT_FLOW_REMOVED: a flow expired or was deleted (sent when it had OFPFF_SEND_FLOW_REM).</summary>
public sealed class OfpFlowRemoved : OfpMessage
{
    public const int Size = 88;

    public override OfpType Type => OfpType.FlowRemoved;

    public OfpMatch Match { get; set; }
    public ulong Cookie { get; set; }
    public ushort Priority { get; set; }
    public OfpFlowRemovedReason Reason { get; set; }
    public uint DurationSec { get; set; }
    public uint DurationNsec { get; set; }

    /// <summary>Idle timeout from the original flow-mod.</summary>
    public ushort IdleTimeout { get; set; }

    public ulong PacketCount { get; set; }
    public ulong ByteCount { get; set; }

    private protected override int BodySize => Size - OfpHeader.Size;

    private protected override void EncodeBody(Span<byte> body)
    {
        Match.Write(body);
        BinaryPrimitives.WriteUInt64BigEndian(body.Slice(40), Cookie);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(48), Priority);
        body[50] = (byte)Reason;
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(52), DurationSec);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(56), DurationNsec);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(60), IdleTimeout);
        BinaryPrimitives.WriteUInt64BigEndian(body.Slice(64), PacketCount);
        BinaryPrimitives.WriteUInt64BigEndian(body.Slice(72), ByteCount);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8)                                                |  0
    // +---------------------------------------------------------------+
    // | ofp_match (40)                                                |  8
    // +---------------------------------------------------------------+
    // |                         cookie (8)                            | 48
    // +-------------------------------+---------------+---------------+
    // |           priority            |    reason     |    pad (1)    | 56
    // +-------------------------------+---------------+---------------+
    // |                        duration_sec                           | 60
    // +---------------------------------------------------------------+
    // |                        duration_nsec                          | 64
    // +-------------------------------+-------------------------------+
    // |         idle_timeout          |           pad2 (2)            | 68
    // +-------------------------------+-------------------------------+
    // |                      packet_count (8)                         | 72
    // +---------------------------------------------------------------+
    // |                       byte_count (8)                          | 80
    // +---------------------------------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if (body.Length != Size - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        OfpMatch.TryRead(body, out OfpMatch match);
        return Success(new OfpFlowRemoved
        {
            Match = match,
            Cookie = BinaryPrimitives.ReadUInt64BigEndian(body.Slice(40)),
            Priority = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(48)),
            Reason = (OfpFlowRemovedReason)body[50],
            DurationSec = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(52)),
            DurationNsec = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(56)),
            IdleTimeout = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(60)),
            PacketCount = BinaryPrimitives.ReadUInt64BigEndian(body.Slice(64)),
            ByteCount = BinaryPrimitives.ReadUInt64BigEndian(body.Slice(72)),
        }, out message, out error);
    }
}
