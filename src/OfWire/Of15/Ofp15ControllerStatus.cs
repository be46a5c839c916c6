using System.Diagnostics.CodeAnalysis;
using System.Text;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Of15;

/// <summary>
/// One controller's status (OpenFlow 1.5.1 section 7.3.5.16 and 7.4.7): ofp_controller_status, the entry of the
/// OFPMP_CONTROLLER_STATUS reply and the body of OFPT_CONTROLLER_STATUS. <see cref="Role"/> is OFPCR_ROLE_*,
/// <see cref="Reason"/> OFPCSR_*, <see cref="ChannelStatus"/> OFPCT_STATUS_UP or _DOWN; <see cref="Uri"/> the
/// OFPCSPT_URI property (the connection's address), when known.
/// </summary>
public sealed record Ofp15ControllerStatus(ushort ShortId, uint Role, byte Reason, byte ChannelStatus, string? Uri) : IOfp13Entry<Ofp15ControllerStatus>
{
    /// <summary>OFPT_CONTROLLER_STATUS and OFPMP_CONTROLLER_STATUS.</summary>
    public const Ofp13Type MessageType = (Ofp13Type)35;
    public const Ofp13MultipartType MultipartType = (Ofp13MultipartType)18;
    /// <summary>OFPCSR_*: why the status is sent.</summary>
    public const byte ReasonRequest = 0, ReasonChannelStatus = 1, ReasonRole = 2, ReasonControllerAdded = 3, ReasonControllerRemoved = 4,
        ReasonShortId = 5, ReasonExperimenter = 6;
    /// <summary>OFPCT_STATUS_UP and OFPCT_STATUS_DOWN.</summary>
    public const byte ChannelUp = 0, ChannelDown = 1;
    /// <summary>OFPCSPT_URI.</summary>
    public const ushort PropUri = 0;
    public const int FixedSize = 16;

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.U16(ShortId); w.U32(Role); w.U8(Reason); w.U8(ChannelStatus); w.Zeros(6);
        if (Uri is { } uri)
        {
            byte[] text = Encoding.ASCII.GetBytes(uri);
            w.U16(PropUri); w.U16((ushort)(4 + text.Length)); w.Bytes(text);
            w.Zeros((8 - (4 + text.Length) % 8) % 8);
        }
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |            short_id           |   0
    // +-------------------------------+-------------------------------+
    // |                      role (OFPCR_ROLE_*)                      |   4
    // +---------------+---------------+-------------------------------+
    // |     reason    | channel_status|              pad              |   8
    // +---------------+---------------+-------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                     properties (to length)                    |  16
    // +---------------------------------------------------------------+
    // OFPCSPT_URI: type 0 (2), length (2), the URI's ASCII bytes, zero padding to 8; experimenter (0xffff) passed over.
    /// <summary>
    /// Reads one entry: a length under 16 or past the span, not a multiple of 8, a property that does not fit its
    /// length, or a URI given twice, refuses it; experimenter properties are passed over.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp15ControllerStatus entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < FixedSize) return false;
        int length = Be.U16(s, 0);
        if (length < FixedSize || length > s.Length || length % 8 != 0) return false;
        string? uri = null;
        var props = s[FixedSize..length];
        while (!props.IsEmpty)
        {
            if (props.Length < 4) return false;
            ushort type = Be.U16(props, 0);
            int len = Be.U16(props, 2);
            int padded = (len + 7) & ~7;
            if (len < 4 || padded > props.Length) return false;
            if (type == PropUri)
            {
                if (uri is not null) return false;
                var text = props[4..len];
                foreach (byte b in text)
                    if (b is < 0x20 or > 0x7e) return false;
                uri = Encoding.ASCII.GetString(text);
            }
            else if (type != 0xffff)
            {
                return false;
            }
            props = props[padded..];
        }
        entry = new Ofp15ControllerStatus(Be.U16(s, 2), Be.U32(s, 4), s[8], s[9], uri);
        size = length;
        return true;
    }

    /// <summary>OFPT_CONTROLLER_STATUS carrying this status, whole (the switch sends xid 0).</summary>
    public byte[] Message(byte version, uint xid = 0)
    {
        var w = new Ofp13Writer(64);
        int start = w.Begin(version, MessageType, xid);
        Write(w);
        w.Finish(start);
        return w.ToArray();
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |          ofp_header (8): OFPT_CONTROLLER_STATUS (35)          |   0
    // +---------------------------------------------------------------+
    // |     ofp_controller_status (16 + properties): above TryRead    |   8
    // +---------------------------------------------------------------+
    /// <summary>Reads an OFPT_CONTROLLER_STATUS (whole): its one status, exactly filling the message.</summary>
    public static bool TryDecodeMessage(ReadOnlySpan<byte> msg, [MaybeNullWhen(false)] out Ofp15ControllerStatus status)
    {
        status = null;
        if (msg.Length < 8 + FixedSize || msg[1] != (byte)MessageType || Be.U16(msg, 2) != msg.Length) return false;
        return TryRead(msg[8..], out status, out int size) && size == msg.Length - 8;
    }
}
