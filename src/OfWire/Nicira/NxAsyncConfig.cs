using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire;

/// <summary>
/// Open vSwitch's asynchronous-configuration extensions for the versions before 1.4 (include/openflow/nicira-ext.h,
/// lib/ofp-connection.c ofputil_decode_set_async_config) and the request forwarding that reaches them
/// (lib/ofp-monitor.c ofputil_encode_requestforward):
/// <list type="bullet">
/// <item>NXT_SET_ASYNC_CONFIG (NXT 1.0+, subtype 19): the six masks of OpenFlow 1.3's SET_ASYNC (packet-in,
/// port-status, flow-removed; each for master or equal, then for slave), so a 1.0 controller can choose them;</item>
/// <item>NXT_SET_ASYNC_CONFIG2 (NXT 1.0-1.3, subtype 27): 1.4's SET_ASYNC property list, so a 1.0 or 1.3 controller
/// can set the masks 1.3 has no room for (role status, table status, request forwarding);</item>
/// <item>NXT_REQUESTFORWARD (NXT 1.0-1.2, subtype 132) and ONFT13_REQUESTFORWARD (the ONF extension under 1.3,
/// experimenter 0x4f4e4600, exp_type 2350): 1.4's OFPT_REQUESTFORWARD (the forwarded request whole after the head).
/// Under 1.0 the request is a group-mod as Open vSwitch writes it there, NXT_GROUP_MOD (<see cref="NxGroupMod"/>: 1.5's
/// ofp15_group_mod with 1.0's actions in its buckets).</item>
/// </list>
/// There is no Nicira GET_ASYNC: Open vSwitch answers OFPT_GET_ASYNC_REQUEST from 1.3 on only.
/// </summary>
/// <remarks>
/// Decoders check what Open vSwitch's ofpraw layer checks from the bytes (a fixed body of exactly 24 bytes; a property
/// list of whole 8-byte units, else OFPBRC_BAD_LEN) and leave the rest to <see cref="Ofp14AsyncConfig.TryDecodeProperties"/>
/// (whose errors are 1.4's: the agent writes them as the connection's version says). Stateless.
/// </remarks>
public static class NxAsyncConfig
{
    /// <summary>NXT subtypes: NXT_SET_ASYNC_CONFIG, NXT_SET_ASYNC_CONFIG2, NXT_REQUESTFORWARD.</summary>
    public const uint SetAsyncConfig = 19, SetAsyncConfig2 = 27, RequestForward = 132;

    /// <summary>The ONF's experimenter id, and ONFT13_REQUESTFORWARD's exp_type.</summary>
    public const uint OnfExperimenter = 0x4f4e4600, OnfRequestForward = 2350;

    /// <summary>ONF1.3's codes of OFPACFC_INVALID and OFPACFC_UNSUPPORTED (experimenter errors of <see cref="OnfExperimenter"/> under 1.3).</summary>
    public const ushort OnfAsyncInvalid = 2370, OnfAsyncUnsupported = 2371;

    /// <summary>NXT_SET_ASYNC_CONFIG's size: the head and six masks.</summary>
    public const int SetAsyncConfigSize = NxPacketIn.HeaderSize + 24;

    private const byte VendorType = NxPacketIn.MessageType;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |        ofp_header (8), vendor 0x00002320, subtype 19          |   0
    // +---------------------------------------------------------------+
    // |  packet_in_mask[0] (master, equal) | packet_in_mask[1] (slave)|  16
    // +---------------------------------------------------------------+
    // | port_status_mask[0]               | port_status_mask[1]       |  24
    // +---------------------------------------------------------------+
    // | flow_removed_mask[0]              | flow_removed_mask[1]      |  32
    // +---------------------------------------------------------------+
    /// <summary>
    /// NXT_SET_ASYNC_CONFIG's masks into <paramref name="masks"/> (six: packet-in master, slave, port-status master, slave,
    /// flow-removed master, slave); false with BAD_REQUEST/BAD_LEN unless the message is exactly
    /// <see cref="SetAsyncConfigSize"/> bytes (and <paramref name="masks"/> holds six). Bits of no reason are the
    /// caller's to drop (Open vSwitch's decode is loose here).
    /// </summary>
    public static bool TryDecodeSetAsyncConfig(ReadOnlySpan<byte> msg, Span<uint> masks, out Ofp13Error error)
    {
        if (msg.Length != SetAsyncConfigSize || masks.Length < 6)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        for (int i = 0; i < 6; i++) masks[i] = BinaryPrimitives.ReadUInt32BigEndian(msg[(NxPacketIn.HeaderSize + 4 * i)..]);
        error = default;
        return true;
    }

    /// <summary>An NXT_SET_ASYNC_CONFIG in <paramref name="version"/> with <paramref name="masks"/> (six, in the order above), whole.</summary>
    public static byte[] EncodeSetAsyncConfig(byte version, uint xid, ReadOnlySpan<uint> masks)
    {
        if (masks.Length != 6) throw new ArgumentException("six masks", nameof(masks));
        var msg = new byte[SetAsyncConfigSize];
        WriteHead(msg, version, NxAction.VendorId, SetAsyncConfig, xid);
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(NxPacketIn.HeaderSize + 4 * i), masks[i]);
        return msg;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |        ofp_header (8), vendor 0x00002320, subtype 27          |   0
    // +-------------------------------+-------------------------------+
    // |         type: OFPACPT_*       |           length: 8           |  16
    // +-------------------------------+-------------------------------+
    // |                              mask                             |  20
    // +---------------------------------------------------------------+
    // |                  further properties (to length)               |  24
    // +---------------------------------------------------------------+
    /// <summary>
    /// NXT_SET_ASYNC_CONFIG2's properties into <paramref name="into"/> (as 1.4's SET_ASYNC's, in the message's version):
    /// false with BAD_REQUEST/BAD_LEN for a list that is not whole 8-byte units, else with the property's refusal.
    /// </summary>
    public static bool TryDecodeSetAsyncConfig2(ReadOnlySpan<byte> msg, Ofp14AsyncConfig into, out Ofp13Error error)
    {
        if (msg.Length < NxPacketIn.HeaderSize || (msg.Length - NxPacketIn.HeaderSize) % 8 != 0)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        into.Version = msg[0];
        into.Xid = BinaryPrimitives.ReadUInt32BigEndian(msg[4..]);
        return into.TryDecodeProperties(msg[NxPacketIn.HeaderSize..], msg[0], out error);
    }

    /// <summary>An NXT_SET_ASYNC_CONFIG2 in <paramref name="version"/> with the properties <paramref name="properties"/> names, whole.</summary>
    public static byte[] EncodeSetAsyncConfig2(byte version, uint xid, Ofp14AsyncConfig properties)
    {
        var w = new Ofp13Writer(Ofp14AsyncConfig.Count * Ofp14AsyncConfig.PropertySize);
        properties.WriteProperties(w);
        byte[] props = w.ToArray();
        var msg = new byte[NxPacketIn.HeaderSize + props.Length];
        WriteHead(msg, version, NxAction.VendorId, SetAsyncConfig2, xid);
        props.CopyTo(msg, NxPacketIn.HeaderSize);
        return msg;
    }

    /// <summary>
    /// NXT_REQUESTFORWARD (<paramref name="version"/> 1.0) or ONFT13_REQUESTFORWARD (1.3) of <paramref name="inner"/>
    /// (whole, in <paramref name="version"/>), whole; the switch sends xid 0.
    /// </summary>
    public static byte[] EncodeRequestForward(byte version, ReadOnlySpan<byte> inner, uint xid = 0)
    {
        if (version is not (OfpConstants.Version or Ofp13.Version)) throw new ArgumentOutOfRangeException(nameof(version), version, "1.0 or 1.3");
        if (inner.Length < 8 || inner[0] != version) throw new ArgumentException("the inner request must be a whole message of the outer's version", nameof(inner));
        var msg = new byte[NxPacketIn.HeaderSize + inner.Length];
        if (version == OfpConstants.Version) WriteHead(msg, version, NxAction.VendorId, RequestForward, xid);
        else WriteHead(msg, version, OnfExperimenter, OnfRequestForward, xid);
        inner.CopyTo(msg.AsSpan(NxPacketIn.HeaderSize));
        return msg;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |      ofp_header (8): VENDOR (4) / EXPERIMENTER (4), xid 0     |   0
    // +---------------------------------------------------------------+
    // |    vendor 0x00002320 (1.0) / experimenter 0x4f4e4600 (1.3)    |   8
    // +---------------------------------------------------------------+
    // |            subtype 132 (1.0) / exp_type 2350 (1.3)            |  12
    // +---------------------------------------------------------------+
    // |  the request, whole: its header (the outer version, its xid)  |  16
    // +---------------------------------------------------------------+
    // The request: under 1.3 a GROUP_MOD or METER_MOD, under 1.0 Open vSwitch's NXT_GROUP_MOD.
    /// <summary>
    /// Reads an NXT_REQUESTFORWARD (1.0) or ONFT13_REQUESTFORWARD (1.3), whole: the inner request's place; false when
    /// the head is not one of them, or the inner request's header does not fit, is under 8 bytes, runs past the
    /// message or is of another version.
    /// </summary>
    public static bool TryDecodeRequestForward(ReadOnlySpan<byte> msg, out int innerOffset, out int innerLength)
    {
        innerOffset = NxPacketIn.HeaderSize;
        innerLength = 0;
        if (msg.Length < NxPacketIn.HeaderSize + 8 || msg[1] != VendorType || BinaryPrimitives.ReadUInt16BigEndian(msg[2..]) != msg.Length) return false;
        uint vendor = BinaryPrimitives.ReadUInt32BigEndian(msg[8..]), subtype = BinaryPrimitives.ReadUInt32BigEndian(msg[12..]);
        bool ok = msg[0] == OfpConstants.Version ? (vendor, subtype) == (NxAction.VendorId, RequestForward)
                : msg[0] == Ofp13.Version && (vendor, subtype) == (OnfExperimenter, OnfRequestForward);
        var inner = msg[NxPacketIn.HeaderSize..];
        int length = BinaryPrimitives.ReadUInt16BigEndian(inner[2..]);
        if (!ok || inner[0] != msg[0] || length < 8 || length > inner.Length) return false;
        innerLength = length;
        return true;
    }

    /// <summary>
    /// The 1.0 error of a refused NXT_SET_ASYNC_CONFIG2 (<paramref name="e"/> as <see cref="TryDecodeSetAsyncConfig2"/>
    /// gave it), as Open vSwitch's ofperr_encode_msg writes it in 1.0: OFPACFC_INVALID and _UNSUPPORTED, which 1.0 has
    /// no code for, NXBRC_UNENCODABLE_ERROR (NX1.0(1,521)); a property's BAD_LEN NX1.0(13,3); the message's BAD_LEN.
    /// </summary>
    public static Nx10Error Error10(Ofp13Error e) => e.Type switch
    {
        Ofp13ErrorType.AsyncConfigFailed => Nx10Error.Unencodable,
        Ofp13ErrorType.BadProperty => Nx10Error.Nx((ushort)Ofp13ErrorType.TableFeaturesFailed, (ushort)(e.Code + 2)),
        _ => OfpError.BadRequest(OfpBadRequestCode.BadLen),
    };

    /// <summary>
    /// The whole error reply, in 1.3 (<paramref name="version"/>), to a refused NXT_SET_ASYNC_CONFIG2 (<paramref name="e"/>
    /// as <see cref="TryDecodeSetAsyncConfig2"/> gave it), as Open vSwitch writes it under 1.3: OFPACFC_INVALID and
    /// _UNSUPPORTED as ONF1.3 experimenter errors (<see cref="OnfAsyncInvalid"/>, <see cref="OnfAsyncUnsupported"/>), a
    /// property's BAD_LEN OF1.3(13,3) (OFPBPC_* share TABLE_FEATURES_FAILED's codes there), the message's BAD_LEN.
    /// </summary>
    public static byte[] ErrorReply13(byte version, Ofp13Error e, ReadOnlySpan<byte> request) => e.Type switch
    {
        Ofp13ErrorType.AsyncConfigFailed => OnfError(version, e.Code == Ofp13Codes.AsyncInvalid ? OnfAsyncInvalid : OnfAsyncUnsupported, request),
        Ofp13ErrorType.BadProperty => Ofp13Messages.Error(version, new Ofp13Error(Ofp13ErrorType.TableFeaturesFailed, (ushort)(e.Code + 2)), request),
        _ => Ofp13Messages.Error(version, e, request),
    };

    // | ofp_header (8) | type 0xffff (2) | exp_code (2) | experimenter 0x4f4e4600 (4) | data: the request's first 64 bytes |
    /// <summary>
    /// An ONF1.3 experimenter error answering <paramref name="request"/> (Open vSwitch's OFPACFC_* under 1.3:
    /// <see cref="OnfAsyncInvalid"/>, <see cref="OnfAsyncUnsupported"/>): its xid, its first 64 bytes as data.
    /// </summary>
    public static byte[] OnfError(byte version, ushort expCode, ReadOnlySpan<byte> request)
    {
        var data = request[..Math.Min(request.Length, OfpErrorEnvelope.DataSize)];
        uint xid = request.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(request[4..]) : 0;
        var w = new Ofp13Writer(16 + data.Length);
        int start = w.Begin(version, Ofp13Type.Error, xid);
        w.U16((ushort)Ofp13ErrorType.Experimenter);
        w.U16(expCode);
        w.U32(OnfExperimenter);
        w.Bytes(data);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>The head of a whole message <paramref name="dest"/>: ofp_header (its length the span's), vendor or experimenter, subtype or exp_type.</summary>
    private static void WriteHead(Span<byte> dest, byte version, uint vendor, uint subtype, uint xid)
    {
        dest[0] = version;
        dest[1] = VendorType;
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)dest.Length);
        BinaryPrimitives.WriteUInt32BigEndian(dest[4..], xid);
        BinaryPrimitives.WriteUInt32BigEndian(dest[8..], vendor);
        BinaryPrimitives.WriteUInt32BigEndian(dest[12..], subtype);
    }
}
