using System.Buffers.Binary;

namespace Softswitch.OfWire.Of13;

/// <summary>OFPBCT_*: what a bundle control message asks or answers (OpenFlow 1.4.1 section 7.3.9.1).</summary>
public enum Ofp13BundleCtrlType : ushort
{
    OpenRequest = 0, OpenReply = 1, CloseRequest = 2, CloseReply = 3, CommitRequest = 4, CommitReply = 5,
    DiscardRequest = 6, DiscardReply = 7,
}

/// <summary>OFPBFC_*: the bundle errors (OpenFlow 1.4.1 section 7.5.4.17, type OFPET_BUNDLE_FAILED).</summary>
public enum Ofp13BundleError : ushort
{
    Unknown = 0, Eperm = 1, BadId = 2, BundleExist = 3, BundleClosed = 4, OutOfBundles = 5, BadType = 6, BadFlags = 7,
    MsgBadLen = 8, MsgBadXid = 9, MsgUnsup = 10, MsgConflict = 11, MsgTooMany = 12, MsgFailed = 13, Timeout = 14,
    BundleInProgress = 15,
}

/// <summary>
/// Bundles (OpenFlow 1.4.1 section 7.3.9): OFPT_BUNDLE_CONTROL (33) and OFPT_BUNDLE_ADD_MESSAGE (34) under version 5 and
/// later, and the same bodies under 1.3 as the ONF extension (OFPT_EXPERIMENTER, experimenter 0x4f4e4600, exp_type
/// ONF_ET_BUNDLE_CONTROL 2300 / ONF_ET_BUNDLE_ADD_MESSAGE 2301), which Open vSwitch's tools send with
/// <c>-O OpenFlow13 --bundle</c>. The version is a parameter: the framing is told by the message's own header.
/// </summary>
public static class Ofp13Bundle
{
    /// <summary>The ONF's experimenter id (0x4f4e4600, "ONF\0").</summary>
    public const uint OnfExperimenter = 0x4f4e4600;
    public const uint OnfBundleControl = 2300;
    public const uint OnfBundleAddMessage = 2301;
    /// <summary>The first ONF1.3 experimenter error code of OFPET_BUNDLE_FAILED (code n is 2300 + n).</summary>
    public const ushort OnfBundleErrorBase = 2300;
    /// <summary>OpenFlow 1.4's message types and error type.</summary>
    public const byte Of14BundleControl = 33, Of14BundleAddMessage = 34;
    public const ushort Of14BundleFailed = 17;
    /// <summary>OpenFlow 1.4's version byte.</summary>
    public const byte Version14 = 5;
    /// <summary>OFPBF_ATOMIC and OFPBF_ORDERED.</summary>
    public const ushort FlagAtomic = 1, FlagOrdered = 2;
    /// <summary>A bundle message's body before its properties or its inner message: bundle_id, type (add: pad), flags.</summary>
    public const int BodySize = 8;
    /// <summary>The experimenter header the 1.3 framing puts before the body: experimenter, exp_type.</summary>
    public const int OnfHeaderSize = 8;

    /// <summary>
    /// What a message is: <see cref="Of14BundleControl"/>, <see cref="Of14BundleAddMessage"/> or 0 (neither). A 1.3
    /// OFPT_EXPERIMENTER with the ONF's id and exp_type 2300/2301, or a version 5+ message of type 33/34.
    /// </summary>
    public static byte Kind(ReadOnlySpan<byte> msg)
    {
        if (msg.Length < 8) return 0;
        if (msg[0] >= Version14) return msg[1] is Of14BundleControl or Of14BundleAddMessage ? msg[1] : (byte)0;
        if (msg[0] != 4 || msg[1] != (byte)Ofp13Type.Experimenter || msg.Length < 16) return 0;
        if (Be.U32(msg, 8) != OnfExperimenter) return 0;
        return Be.U32(msg, 12) switch
        {
            OnfBundleControl => Of14BundleControl,
            OnfBundleAddMessage => Of14BundleAddMessage,
            _ => 0,
        };
    }

    /// <summary>Where the body starts: after the header, and under 1.3 after the experimenter header.</summary>
    private static int BodyOffset(ReadOnlySpan<byte> msg) => msg[0] >= Version14 ? 8 : 8 + OnfHeaderSize;

    // OpenFlow 1.4 and 1.5: OFPT_BUNDLE_CONTROL (33). OpenFlow 1.3, the ONF extension: an OFPT_EXPERIMENTER whose
    // experimenter 0x4f4e4600 (4) and exp_type 2300 (4) sit at 8, the same body after them (at 16, not 8).
    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                    ofp_header (8): type 33                    |   0
    // +---------------------------------------------------------------+
    // |                           bundle_id                           |   8
    // +-------------------------------+-------------------------------+
    // |              type             |             flags             |  12
    // +-------------------------------+-------------------------------+
    // |                     properties (to length)                    |  16
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes a bundle control message (<see cref="Kind"/> said <see cref="Of14BundleControl"/>). Properties are
    /// accepted and skipped (none is defined but the experimenter's). Refusals are as Open vSwitch's ofpraw layer
    /// gives them before ofputil_decode_bundle_ctrl reads the body (a fixed body, then properties in whole 8-byte
    /// units): BAD_REQUEST/BAD_LEN when the body is short or the properties are not a multiple of 8 bytes.
    /// </summary>
    public static bool TryDecodeControl(ReadOnlySpan<byte> msg, out uint bundleId, out Ofp13BundleCtrlType type, out ushort flags,
                                        out Ofp13Error error)
    {
        bundleId = 0;
        type = default;
        flags = 0;
        int at = BodyOffset(msg);
        if (msg.Length < at + BodySize || (msg.Length - at - BodySize) % 8 != 0)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        bundleId = Be.U32(msg, at);
        type = (Ofp13BundleCtrlType)Be.U16(msg, at + 4);
        flags = Be.U16(msg, at + 6);
        error = default;
        return true;
    }

    // As the control's: OFPT_BUNDLE_ADD_MESSAGE (34), or under 1.3 exp_type 2301 and the body at 16.
    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                    ofp_header (8): type 34                    |   0
    // +---------------------------------------------------------------+
    // |                           bundle_id                           |   8
    // +-------------------------------+-------------------------------+
    // |              pad              |             flags             |  12
    // +-------------------------------+-------------------------------+
    // |   message: its ofp_header (its length, the outer xid), body   |  16
    // +---------------------------------------------------------------+
    // |                     properties (to length)                    | 16+m
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes a bundle add message (<see cref="Kind"/> said <see cref="Of14BundleAddMessage"/>): its bundle id, flags
    /// and inner message. Refusals are as Open vSwitch's ofputil_decode_bundle_add, in its order: a body too short for
    /// the bundle header is BAD_REQUEST/BAD_LEN; an inner message shorter than a header, OFPBFC_MSG_BAD_LEN; another
    /// version than the outer one, OFPBFC_MSG_UNSUP (Open vSwitch's OFPBFC_BAD_VERSION is a Nicira code the 1.4 list
    /// does not have); a length under a header's or longer than what follows, OFPBFC_MSG_BAD_LEN; another xid,
    /// OFPBFC_MSG_BAD_XID. A bundle error is <see cref="Failed"/>'s (written in the version's form by
    /// <see cref="Ofp13Messages.Error"/>).
    /// </summary>
    public static bool TryDecodeAdd(ReadOnlySpan<byte> msg, out uint bundleId, out ushort flags, out ReadOnlySpan<byte> inner,
                                    out Ofp13Error error)
    {
        bundleId = 0;
        flags = 0;
        inner = default;
        int at = BodyOffset(msg);
        if (msg.Length < at + BodySize)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        bundleId = Be.U32(msg, at);
        flags = Be.U16(msg, at + 6);
        var rest = msg[(at + BodySize)..];
        if (rest.Length < 8) return Refuse(Ofp13BundleError.MsgBadLen, out error);
        if (rest[0] != msg[0]) return Refuse(Ofp13BundleError.MsgUnsup, out error);
        int len = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
        if (len < 8 || len > rest.Length) return Refuse(Ofp13BundleError.MsgBadLen, out error);
        if (Be.U32(rest, 4) != Be.U32(msg, 4)) return Refuse(Ofp13BundleError.MsgBadXid, out error);
        inner = rest[..len];
        error = default;
        return true;
    }

    /// <summary>OFPBFC <paramref name="code"/> as an error of the 1.3 codec: type OFPET_BUNDLE_FAILED (17), 1.4's.</summary>
    public static Ofp13Error Failed(Ofp13BundleError code) => new((Ofp13ErrorType)Of14BundleFailed, (ushort)code);

    private static bool Refuse(Ofp13BundleError code, out Ofp13Error error)
    {
        error = Failed(code);
        return false;
    }

    /// <summary>A bundle control reply (no properties) in <paramref name="version"/>'s framing.</summary>
    public static byte[] ControlReply(byte version, uint xid, uint bundleId, Ofp13BundleCtrlType type, ushort flags)
    {
        var w = new Ofp13Writer(32);
        int start = BeginMessage(w, version, xid, OnfBundleControl, Of14BundleControl);
        w.U32(bundleId);
        w.U16((ushort)type);
        w.U16(flags);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>A bundle control request (tests, tools): as <see cref="ControlReply"/>.</summary>
    public static byte[] ControlRequest(byte version, uint xid, uint bundleId, Ofp13BundleCtrlType type, ushort flags)
        => ControlReply(version, xid, bundleId, type, flags);

    /// <summary>A bundle add message carrying <paramref name="inner"/> (whose xid it takes), in <paramref name="version"/>'s framing.</summary>
    public static byte[] AddMessage(byte version, uint bundleId, ushort flags, ReadOnlySpan<byte> inner)
    {
        var w = new Ofp13Writer(32 + inner.Length);
        uint xid = inner.Length >= 8 ? Be.U32(inner, 4) : 0;
        int start = BeginMessage(w, version, xid, OnfBundleAddMessage, Of14BundleAddMessage);
        w.U32(bundleId);
        w.U16(0);
        w.U16(flags);
        w.Bytes(inner);
        w.Finish(start);
        return w.ToArray();
    }

    private static int BeginMessage(Ofp13Writer w, byte version, uint xid, uint expType, byte of14Type)
    {
        if (version >= Version14)
        {
            int s = w.Begin(version, (Ofp13Type)of14Type, xid);
            return s;
        }
        int start = w.Begin(version, Ofp13Type.Experimenter, xid);
        w.U32(OnfExperimenter);
        w.U32(expType);
        return start;
    }

    // OpenFlow 1.4+: ofp_error_msg, type OFPET_BUNDLE_FAILED (17), code. OpenFlow 1.3: ofp_error_experimenter_msg:
    // | version | 1 | length | xid |
    // | type 0xffff (16) | exp_code 2300 + code (16) |
    // | experimenter 0x4f4e4600 (32)                 |
    // | data: the request's first 64 bytes ...       |
    /// <summary>The error answering <paramref name="request"/> with OFPBFC <paramref name="code"/>, in <paramref name="version"/>'s form.</summary>
    public static byte[] Error(byte version, Ofp13BundleError code, ReadOnlySpan<byte> request)
    {
        var data = request[..Math.Min(request.Length, 64)];
        uint xid = request.Length >= 8 ? Be.U32(request, 4) : 0;
        var w = new Ofp13Writer(24 + data.Length);
        int start = w.Begin(version, Ofp13Type.Error, xid);
        if (version >= Version14)
        {
            w.U16(Of14BundleFailed);
            w.U16((ushort)code);
        }
        else
        {
            w.U16((ushort)Ofp13ErrorType.Experimenter);
            w.U16((ushort)(OnfBundleErrorBase + (ushort)code));
            w.U32(OnfExperimenter);
        }
        w.Bytes(data);
        w.Finish(start);
        return w.ToArray();
    }
}
