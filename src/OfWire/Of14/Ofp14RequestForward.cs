using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Of14;

/// <summary>
/// OFPT_REQUESTFORWARD (OpenFlow 1.4.1 section 7.4.6; 1.5 keeps it): a controller's GROUP_MOD or METER_MOD that
/// changed the switch, forwarded to the other controllers that asked for it (SET_ASYNC's OFPACPT_REQUESTFORWARD_SLAVE and
/// _MASTER properties, bit <see cref="ReasonGroupMod"/> or <see cref="ReasonMeterMod"/>). The outer header's xid is 0,
/// the inner request keeps the xid its sender gave it, as Open vSwitch's ofputil_encode_requestforward writes them.
/// </summary>
/// <remarks>
/// The decoder (tests, the fuzz oracle) checks what Open vSwitch's ofputil_decode_requestforward checks from the bytes:
/// an inner header that does not fit, or an inner length under 8 or past the message, OFPBFC_MSG_BAD_LEN; an inner
/// version other than the outer's BAD_REQUEST/BAD_VERSION; an inner type other than GROUP_MOD and METER_MOD
/// BAD_REQUEST/BAD_TYPE. The inner request itself is its own codec's. Stateless.
/// </remarks>
public static class Ofp14RequestForward
{
    /// <summary>OFPT_REQUESTFORWARD's type (1.4 and later).</summary>
    public const Ofp13Type Type = (Ofp13Type)32;
    /// <summary>OFPRFR_GROUP_MOD and OFPRFR_METER_MOD: the reasons, and their bits in the request-forward masks.</summary>
    public const byte ReasonGroupMod = 0, ReasonMeterMod = 1;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |       ofp_header (8): OFPT_REQUESTFORWARD, xid 0              |   0
    // +---------------------------------------------------------------+
    // |       the request (GROUP_MOD or METER_MOD), whole, its own    |   8
    // |       header (the outer's version, the sender's xid)          |
    // +---------------------------------------------------------------+
    /// <summary>An OFPT_REQUESTFORWARD of <paramref name="inner"/> (whole, in <paramref name="version"/>), whole; the switch sends xid 0.</summary>
    public static byte[] Encode(byte version, ReadOnlySpan<byte> inner, uint xid = 0)
    {
        Ofp14Messages.CheckVersion(version);
        if (inner.Length < 8 || inner[0] != version) throw new ArgumentException("the inner request must be a whole message of the outer's version", nameof(inner));
        var w = new Ofp13Writer(8 + inner.Length);
        int start = w.Begin(version, Type, xid);
        w.Bytes(inner);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>The reason of a forwarded request of type <paramref name="inner"/> (GROUP_MOD or METER_MOD).</summary>
    public static byte ReasonOf(Ofp13Type inner) => inner == Ofp13Type.MeterMod ? ReasonMeterMod : ReasonGroupMod;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |            ofp_header (8): OFPT_REQUESTFORWARD (32)           |   0
    // +---------------------------------------------------------------+
    // |      the request: ofp_header, GROUP_MOD or METER_MOD body     |   8
    // +---------------------------------------------------------------+
    /// <summary>Reads an OFPT_REQUESTFORWARD (whole): the inner request's bytes and its reason, or the error.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> msg, out int innerOffset, out int innerLength, out byte reason, out Ofp13Error error)
    {
        innerOffset = 8;
        innerLength = 0;
        reason = 0;
        if (!Ofp14Messages.TryHeader(msg, 8, exact: false, out byte version, out _, out error)) return false;
        if (msg[1] != (byte)Type)
        {
            error = Ofp13Error.BadRequest(Ofp13Codes.BadType);
            return false;
        }
        var inner = msg[8..];
        int length = inner.Length >= 4 ? Be.U16(inner, 2) : 0;
        if (inner.Length < 8 || length < 8 || length > inner.Length)
        {
            error = new Ofp13Error((Ofp13ErrorType)Ofp13Bundle.Of14BundleFailed, (ushort)Ofp13BundleError.MsgBadLen);
            return false;
        }
        if (inner[0] != version)
        {
            error = Ofp13Error.BadRequest(Ofp13Codes.BadVersion);
            return false;
        }
        if ((Ofp13Type)inner[1] is not (Ofp13Type.GroupMod or Ofp13Type.MeterMod))
        {
            error = Ofp13Error.BadRequest(Ofp13Codes.BadType);
            return false;
        }
        reason = ReasonOf((Ofp13Type)inner[1]);
        innerLength = length;
        return true;
    }
}
