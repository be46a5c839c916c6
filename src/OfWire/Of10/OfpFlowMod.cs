using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

// Flow table messages: OFPT_FLOW_MOD (controller -> switch) and OFPT_FLOW_REMOVED (switch -> controller).

/// <summary>
/// OFPT_FLOW_MOD. The decoder checks framing, the command (OFPFMFC_BAD_COMMAND), every action
/// (OFPET_BAD_ACTION, including output to OFPP_NONE or a port in 0xff00..0xfff7), then the flags (<see cref="BadFlags10"/>). Everything that needs
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

    /// <summary>The flags OpenFlow 1.0 defines: SEND_FLOW_REM, CHECK_OVERLAP, EMERG.</summary>
    public const OfpFlowModFlags KnownFlags = OfpFlowModFlags.SendFlowRem | OfpFlowModFlags.CheckOverlap | OfpFlowModFlags.Emerg;

    /// <summary>
    /// OFPFMFC_BAD_FLAGS, a flow-mod with a flag bit OpenFlow 1.0 does not define (checked after the actions, as Open
    /// vSwitch's ofputil_decode_flow_mod_flags): 1.0 has no code for it, so it is Open vSwitch's NX1.0(3,258), inside NXET_VENDOR.
    /// </summary>
    public static readonly OfpError BadFlags10 = OfpError.Nx(OfpErrorType.FlowModFailed, 258);

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
        var actions = new List<OfpAction>(Math.Min(Math.Max(0, body.Length - (MinSize - OfpHeader.Size)) / OfpAction.HeaderSize, 64));
        if (!TryReadBody(body, actions, out var f, out error))
        {
            message = null;
            return false;
        }
        return Success(new OfpFlowMod
        {
            Match = f.Match,
            Cookie = f.Cookie,
            Command = f.Command,
            IdleTimeout = f.IdleTimeout,
            HardTimeout = f.HardTimeout,
            Priority = f.Priority,
            BufferId = f.BufferId,
            OutPort = f.OutPort,
            Flags = f.Flags,
            Actions = actions,
        }, out message, out error);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |  ofp_flow_mod (72 + actions): the diagram above TryDecodeBody |   0
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes a whole OFPT_FLOW_MOD (header included) without building the message object: its fixed fields into
    /// <paramref name="fields"/> and its actions appended to <paramref name="actions"/> (a list the caller reuses).
    /// The same checks, in the same order and with the same errors, as <see cref="OfpMessage.TryDecode(ReadOnlySpan{byte}, out OfpMessage?, out OfpError)"/>
    /// for a flow-mod: framing (OFPBRC_BAD_LEN), version (OFPBRC_BAD_VERSION), then the body's. False for another type.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> frame, List<OfpAction> actions, out OfpFlowModFields fields, out OfpError error)
        => TryDecode(frame, actions, tableIdInCommand: false, out fields, out error);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |  ofp_flow_mod (72 + actions): the diagram above TryDecodeBody |   0
    // +---------------------------------------------------------------+
    // With flow_mod_table_id, command's high byte (offset 56) is the table id, its low byte (57) the command.
    /// <summary>
    /// As <see cref="TryDecode(ReadOnlySpan{byte}, List{OfpAction}, out OfpFlowModFields, out OfpError)"/>; with
    /// <paramref name="tableIdInCommand"/> (Open vSwitch's flow_mod_table_id extension, enabled by NXT_FLOW_MOD_TABLE_ID)
    /// the command's high byte is the flow's table (<see cref="OfpFlowModFields.TableId"/>; 0xff otherwise).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> frame, List<OfpAction> actions, bool tableIdInCommand, out OfpFlowModFields fields, out OfpError error)
    {
        fields = default;
        if (!OfpHeader.TryRead(frame, out OfpHeader header) || header.Length != frame.Length)
        {
            error = OfpError.BadLen;
            return false;
        }
        if (header.Version != OfpConstants.Version)
        {
            error = OfpError.BadRequest(OfpBadRequestCode.BadVersion);
            return false;
        }
        if (header.Type != (byte)OfpType.FlowMod)
        {
            error = OfpError.BadRequest(OfpBadRequestCode.BadType);
            return false;
        }
        return TryReadBody(frame.Slice(OfpHeader.Size), actions, tableIdInCommand, out fields, out error);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |    the body from offset 8: the diagram above TryDecodeBody    |   8
    // +---------------------------------------------------------------+
    private static bool TryReadBody(ReadOnlySpan<byte> body, List<OfpAction> actions, out OfpFlowModFields fields, out OfpError error)
        => TryReadBody(body, actions, tableIdInCommand: false, out fields, out error);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |    the body from offset 8: the diagram above TryDecodeBody    |   8
    // +---------------------------------------------------------------+
    private static bool TryReadBody(ReadOnlySpan<byte> body, List<OfpAction> actions, bool tableIdInCommand, out OfpFlowModFields fields, out OfpError error)
    {
        const int fixedBody = MinSize - OfpHeader.Size;
        fields = default;
        if ((uint)body.Length < fixedBody)
        {
            error = OfpError.BadLen;
            return false;
        }
        ushort rawCommand = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(48));
        byte tableId = tableIdInCommand ? (byte)(rawCommand >> 8) : (byte)0xff;
        var command = (OfpFlowModCommand)(tableIdInCommand ? rawCommand & 0xff : rawCommand);
        if (command > OfpFlowModCommand.DeleteStrict)
        {
            error = OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand);
            return false;
        }
        if (!OfpActions.TryDecode(body.Slice(fixedBody), actions, out error)) return false;
        var flags = (OfpFlowModFlags)BinaryPrimitives.ReadUInt16BigEndian(body.Slice(62));
        if ((flags & ~KnownFlags) != 0)
        {
            error = BadFlags10;
            return false;
        }
        OfpMatch.TryRead(body, out OfpMatch match);
        fields = new OfpFlowModFields(
            match,
            BinaryPrimitives.ReadUInt64BigEndian(body.Slice(40)),
            command,
            BinaryPrimitives.ReadUInt16BigEndian(body.Slice(50)),
            BinaryPrimitives.ReadUInt16BigEndian(body.Slice(52)),
            BinaryPrimitives.ReadUInt16BigEndian(body.Slice(54)),
            BinaryPrimitives.ReadUInt32BigEndian(body.Slice(56)),
            BinaryPrimitives.ReadUInt16BigEndian(body.Slice(60)),
            flags,
            tableId);
        return true;
    }
}

/// <summary>The fixed fields of an OFPT_FLOW_MOD (<see cref="OfpFlowMod.TryDecode(ReadOnlySpan{byte}, List{OfpAction}, out OfpFlowModFields, out OfpError)"/>).</summary>
public readonly record struct OfpFlowModFields(OfpMatch Match, ulong Cookie, OfpFlowModCommand Command, ushort IdleTimeout,
                                               ushort HardTimeout, ushort Priority, uint BufferId, ushort OutPort, OfpFlowModFlags Flags,
                                               byte TableId = 0xff);

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
