using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire;

/// <summary>The packet-in format of a connection (Open vSwitch's enum ofputil_packet_in_format, NXT_SET_PACKET_IN_FORMAT).</summary>
public enum NxPacketInFormat : byte
{
    /// <summary>OFPUTIL_PACKET_IN_STD: the version's own OFPT_PACKET_IN (the default).</summary>
    Standard = 0,
    /// <summary>OFPUTIL_PACKET_IN_NXT: NXT_PACKET_IN, an nx_packet_in with an NXM match.</summary>
    Nxt = 1,
    /// <summary>OFPUTIL_PACKET_IN_NXT2: NXT_PACKET_IN2, properties (userdata among them).</summary>
    Nxt2 = 2,
}

/// <summary>The fields of a packet-in besides its frame and match, as NXT_PACKET_IN and NXT_PACKET_IN2 carry them.</summary>
/// <param name="BufferId">The buffer id, 0xffffffff for none.</param>
/// <param name="TotalLen">The frame's whole length (the data may be cut shorter).</param>
/// <param name="Reason">The reason's wire value in the connection's version (OFPR_*).</param>
/// <param name="Cookie">The flow's cookie (NXT_PACKET_IN2 leaves out all-ones).</param>
public readonly record struct NxPacketInFields(uint BufferId, int TotalLen, byte Reason, byte TableId, ulong Cookie);

/// <summary>
/// A decoded NXT_PACKET_IN2 (valid while its message is): the fields, and the properties' bytes as they came.
/// </summary>
public readonly ref struct NxPacketIn2
{
    public NxPacketIn2(NxPacketInFields fields, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> metadata, ReadOnlySpan<byte> userData,
                       ReadOnlySpan<byte> continuation)
    {
        Fields = fields;
        Packet = packet;
        Metadata = metadata;
        UserData = userData;
        Continuation = continuation;
    }

    public readonly NxPacketInFields Fields;
    /// <summary>NXPINT_PACKET: the frame, or its first bytes.</summary>
    public readonly ReadOnlySpan<byte> Packet;
    /// <summary>NXPINT_METADATA: OXM/NXM TLVs (in_port, tun_id, metadata, ...).</summary>
    public readonly ReadOnlySpan<byte> Metadata;
    /// <summary>NXPINT_USERDATA: the controller action's userdata (empty: none).</summary>
    public readonly ReadOnlySpan<byte> UserData;
    /// <summary>NXPINT_CONTINUATION's payload (empty: none; this switch never sends one).</summary>
    public readonly ReadOnlySpan<byte> Continuation;
}

/// <summary>
/// Open vSwitch's packet-in extension (include/openflow/nicira-ext.h, lib/ofp-packet.c): NXT_SET_PACKET_IN_FORMAT, which
/// a connection sends to choose its packet-in format, and the two forms the switch then sends, NXT_PACKET_IN (an
/// nx_packet_in with an NXM match) and NXT_PACKET_IN2 (properties). Every version carries them after its own header:
/// OpenFlow 1.0's OFPT_VENDOR and 1.1 and later's OFPT_EXPERIMENTER are both type 4, with vendor (experimenter) 0x2320
/// and a 32-bit subtype, so one codec serves all with the version a parameter.
/// </summary>
/// <remarks>
/// The packet-in's context is written as Open vSwitch's ofputil_encode_nx_packet_in and ofputil_put_packet_in write
/// theirs (flow_get_metadata's fields that the switch carries, in nx_put_raw's order): in_port always, tun_id and
/// metadata when not zero. NXT_PACKET_IN names them by their NXM headers (in_port OpenFlow 1.0's 16-bit port,
/// NXM_OF_IN_PORT; metadata by OXM_OF_METADATA, which has no NXM header); NXT_PACKET_IN2's metadata property by their
/// OXM headers in the version (in_port OXM_OF_IN_PORT, 32-bit, in every version; tun_id NXM_NX_TUN_ID before 1.3,
/// OXM_OF_TUNNEL_ID from 1.3 on). Writers write into the caller's span and allocate nothing. Stateless.
/// </remarks>
public static class NxPacketIn
{
    /// <summary>NXT subtypes: NXT_SET_PACKET_IN_FORMAT, NXT_PACKET_IN, NXT_RESUME, NXT_PACKET_IN2.</summary>
    public const uint SetPacketInFormat = 16, PacketIn = 17, Resume = 28, PacketIn2 = 30;

    /// <summary>The ofp_header type of a Nicira message: OFPT_VENDOR (1.0) and OFPT_EXPERIMENTER (1.1 and later) are both 4.</summary>
    public const byte MessageType = 4;

    /// <summary>The head of every NXT message: ofp_header, vendor, subtype.</summary>
    public const int HeaderSize = 16;

    /// <summary>NXPINT_* property types.</summary>
    public const ushort PropPacket = 0, PropFullLen = 1, PropBufferId = 2, PropTableId = 3, PropCookie = 4, PropReason = 5,
        PropMetadata = 6, PropUserData = 7, PropContinuation = 8;

    /// <summary>No buffer (buffer_id 0xffffffff).</summary>
    public const uint NoBuffer = 0xffffffff;

    /// <summary>The OXM field numbers of the context (<see cref="Ofp13Match"/>'s): in_port, metadata, tunnel_id.</summary>
    private const byte InPortField = 0, MetadataField = 2, TunnelIdField = 38;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |      ofp_header (8): OFPT_VENDOR / OFPT_EXPERIMENTER (4)      |   0
    // +---------------------------------------------------------------+
    // |                vendor / experimenter 0x00002320               |   8
    // +---------------------------------------------------------------+
    // |                            subtype                            |  12
    // +---------------------------------------------------------------+
    /// <summary>The NXT subtype of <paramref name="msg"/> when it is a Nicira message of any version (type 4, vendor 0x2320, 16 bytes or more).</summary>
    public static bool TryReadSubtype(ReadOnlySpan<byte> msg, out uint subtype)
    {
        subtype = 0;
        if (msg.Length < HeaderSize || msg[1] != MessageType || BinaryPrimitives.ReadUInt32BigEndian(msg[8..]) != NxAction.VendorId) return false;
        subtype = BinaryPrimitives.ReadUInt32BigEndian(msg[12..]);
        return true;
    }

    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 16                     |  0
    // +---------------------------------------------------------------+
    // |    format (0: standard, 1: nxt_packet_in, 2: nxt_packet_in2)  | 16
    // +---------------------------------------------------------------+
    /// <summary>
    /// NXT_SET_PACKET_IN_FORMAT's format, as Open vSwitch's ofputil_decode_set_packet_in_format: false with
    /// BAD_REQUEST/BAD_LEN unless the message is 20 bytes, with BAD_REQUEST/EPERM for a format other than 0-2 (1.0
    /// numbers both codes as 1.3 does).
    /// </summary>
    public static bool TryDecodeSetPacketInFormat(ReadOnlySpan<byte> msg, out NxPacketInFormat format, out Ofp13Error error)
    {
        format = NxPacketInFormat.Standard;
        if (msg.Length != HeaderSize + 4)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        uint f = BinaryPrimitives.ReadUInt32BigEndian(msg[HeaderSize..]);
        if (f > (uint)NxPacketInFormat.Nxt2)
        {
            error = Ofp13Error.BadRequest(Ofp13Codes.RequestEperm);
            return false;
        }
        format = (NxPacketInFormat)f;
        error = default;
        return true;
    }

    /// <summary>An NXT_SET_PACKET_IN_FORMAT in <paramref name="version"/>, whole.</summary>
    public static byte[] EncodeSetPacketInFormat(byte version, uint xid, uint format)
    {
        var msg = new byte[HeaderSize + 4];
        WriteHeader(msg, version, SetPacketInFormat, msg.Length, xid);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(HeaderSize), format);
        return msg;
    }

    private static void WriteHeader(Span<byte> dest, byte version, uint subtype, int length, uint xid)
    {
        dest[0] = version;
        dest[1] = MessageType;
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)length);
        BinaryPrimitives.WriteUInt32BigEndian(dest[4..], xid);
        BinaryPrimitives.WriteUInt32BigEndian(dest[8..], NxAction.VendorId);
        BinaryPrimitives.WriteUInt32BigEndian(dest[12..], subtype);
    }

    /// <summary>The most bytes an NXT_PACKET_IN carries besides its frame: the head, nx_packet_in, the largest match (in_port 6, tun_id 12, metadata 12: 32 padded) and 2 pad bytes.</summary>
    public const int PacketInOverhead = HeaderSize + 24 + 32 + 2;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 17                     |  0
    // +---------------------------------------------------------------+
    // |                          buffer_id                            | 16
    // +-------------------------------+---------------+---------------+
    // |          total_len            |    reason     |   table_id    | 20
    // +-------------------------------+---------------+---------------+
    // |                          cookie (8)                           | 24
    // +-------------------------------+-------------------------------+
    // |          match_len            |            pad (6)            | 32
    // +-------------------------------+-------------------------------+
    // | nx_match (match_len), zero padding to 8, then 2 zero bytes    | 40
    // +---------------------------------------------------------------+
    // | the frame (or its first bytes) to the end                     |
    // +---------------------------------------------------------------+
    /// <summary>
    /// Writes an NXT_PACKET_IN (xid 0) into <paramref name="dest"/> (at least <see cref="PacketInOverhead"/> + the data's
    /// bytes) and returns its size. <paramref name="inPort"/> is OpenFlow 1.1's 32-bit port; <paramref name="tunnelId"/>
    /// and <paramref name="metadata"/> are left out when 0.
    /// </summary>
    public static int WritePacketIn(Span<byte> dest, byte version, in NxPacketInFields f, uint inPort, ulong tunnelId, ulong metadata,
                                    ReadOnlySpan<byte> data)
    {
        Span<byte> match = stackalloc byte[32];
        int n = NxMatch.WriteEntry(match, Ofp13Oxm.Exact(InPortField, inPort));
        if (tunnelId != 0) n += NxMatch.WriteEntry(match[n..], Ofp13Oxm.Exact(TunnelIdField, tunnelId));
        if (metadata != 0) n += NxMatch.WriteEntry(match[n..], Ofp13Oxm.Exact(MetadataField, metadata));
        return WritePacketIn(dest, version, f, match[..n], data);
    }

    /// <summary>As the context form, with the nx_match given (its bytes, without padding); dest at least 42 + the match padded + the data.</summary>
    public static int WritePacketIn(Span<byte> dest, byte version, in NxPacketInFields f, ReadOnlySpan<byte> match, ReadOnlySpan<byte> data)
    {
        int pos = 40 + ((match.Length + 7) & ~7);
        dest[..(pos + 2)].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(dest[16..], f.BufferId);
        BinaryPrimitives.WriteUInt16BigEndian(dest[20..], (ushort)Math.Min(f.TotalLen, ushort.MaxValue));
        dest[22] = f.Reason;
        dest[23] = f.TableId;
        BinaryPrimitives.WriteUInt64BigEndian(dest[24..], f.Cookie);
        BinaryPrimitives.WriteUInt16BigEndian(dest[32..], (ushort)match.Length);
        match.CopyTo(dest[40..]);
        pos += 2;
        data.CopyTo(dest[pos..]);
        pos += data.Length;
        WriteHeader(dest, version, PacketIn, pos, 0);
        return pos;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |         ofp_header (8), vendor 0x2320, subtype 17 (16)        |   0
    // +---------------------------------------------------------------+
    // |                           buffer_id                           |  16
    // +-------------------------------+---------------+---------------+
    // |           total_len           |     reason    |    table_id   |  20
    // +-------------------------------+---------------+---------------+
    // |                           cookie (8)                          |  24
    // +-------------------------------+-------------------------------+
    // |           match_len           |              pad              |  32
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  36
    // +---------------------------------------------------------------+
    // |            nx_match (match_len), zero padding to 8            |  40
    // +---------------------------------------------------------------+
    // |           2 zero bytes, then the frame (to the end)           | 40+m
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads an NXT_PACKET_IN's fields, its nx_match (<paramref name="match"/>, match_len bytes) and its frame, as Open
    /// vSwitch's ofputil_decode_packet_in: false with BAD_REQUEST/BAD_LEN when the message is shorter than its fixed part,
    /// with BAD_MATCH/BAD_LEN when the match padded to 8 runs past it (nx_pull_match), with BAD_REQUEST/BAD_LEN when the
    /// 2 pad bytes after the match do. The match's entries are the caller's to read (<see cref="NxMatch.TryDecode"/>).
    /// </summary>
    public static bool TryDecodePacketIn(ReadOnlySpan<byte> msg, out NxPacketInFields f, out ReadOnlySpan<byte> match, out ReadOnlySpan<byte> data,
                                         out Ofp13Error error)
    {
        f = default;
        match = data = default;
        if (msg.Length < 40)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        int matchLen = BinaryPrimitives.ReadUInt16BigEndian(msg[32..]);
        int matchEnd = 40 + ((matchLen + 7) & ~7);
        if (matchEnd > msg.Length)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
            return false;
        }
        if (matchEnd + 2 > msg.Length)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        f = new NxPacketInFields(BinaryPrimitives.ReadUInt32BigEndian(msg[16..]), BinaryPrimitives.ReadUInt16BigEndian(msg[20..]), msg[22], msg[23],
                                 BinaryPrimitives.ReadUInt64BigEndian(msg[24..]));
        match = msg.Slice(40, matchLen);
        data = msg[(matchEnd + 2)..];
        error = default;
        return true;
    }

    /// <summary>
    /// The most bytes an NXT_PACKET_IN2 carries besides its frame and userdata: the head, the packet property's header
    /// and padding, full_len, buffer_id, table_id, cookie, reason, the metadata property of the largest context (in_port
    /// 8, tun_id 12, metadata 12: 40 with its header) and the userdata property's header and padding.
    /// </summary>
    public const int PacketIn2Overhead = HeaderSize + (4 + 7) + 8 + 8 + 8 + 16 + 8 + 40 + (4 + 7);

    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 30                     |  0
    // +-------------------------------+-------------------------------+
    // | property type (2)             | property length (2): 4 + payload | 16
    // +-------------------------------+-------------------------------+
    // | payload, zero padding to 8; then the next property ...       |
    // +---------------------------------------------------------------+
    //   PACKET (0): the frame's bytes sent          FULL_LEN (1): u32, when the frame was cut
    //   BUFFER_ID (2): u32, when buffered           TABLE_ID (3): u8
    //   COOKIE (4): pad (4) u64, unless all-ones    REASON (5): u8
    //   METADATA (6): OXM/NXM TLVs                   USERDATA (7): the controller action's, when it has any
    //   CONTINUATION (8): a paused pipeline (never sent here)
    /// <summary>
    /// Writes an NXT_PACKET_IN2 (xid 0) into <paramref name="dest"/> (at least <see cref="PacketIn2Overhead"/> + the
    /// data's and the userdata's bytes) and returns its size, its properties in Open vSwitch's order
    /// (ofputil_encode_nx_packet_in2), BUFFER_ID after FULL_LEN.
    /// </summary>
    public static int WritePacketIn2(Span<byte> dest, byte version, in NxPacketInFields f, uint inPort, ulong tunnelId, ulong metadata,
                                     ReadOnlySpan<byte> data, ReadOnlySpan<byte> userData)
    {
        Span<byte> tlvs = stackalloc byte[36];
        int n = Ofp13Match.WriteTlv(tlvs, Ofp13Oxm.Exact(InPortField, inPort));
        if (tunnelId != 0)
        {
            var tun = Ofp13Oxm.Exact(TunnelIdField, tunnelId);
            n += version < Ofp13.Version ? NxMatch.WriteEntry(tlvs[n..], tun) : Ofp13Match.WriteTlv(tlvs[n..], tun);
        }
        if (metadata != 0) n += Ofp13Match.WriteTlv(tlvs[n..], Ofp13Oxm.Exact(MetadataField, metadata));
        return WritePacketIn2(dest, version, f, tlvs[..n], data, userData);
    }

    /// <summary>
    /// As the context form, with the metadata property's TLVs given; dest at least <see cref="PacketIn2Overhead"/> - 40 +
    /// the TLVs padded + the data and the userdata.
    /// </summary>
    public static int WritePacketIn2(Span<byte> dest, byte version, in NxPacketInFields f, ReadOnlySpan<byte> metadataTlvs,
                                     ReadOnlySpan<byte> data, ReadOnlySpan<byte> userData)
    {
        int pos = HeaderSize;
        pos += Property(dest[pos..], PropPacket, data);
        if (data.Length != f.TotalLen) pos += U32(dest[pos..], PropFullLen, (uint)f.TotalLen);
        if (f.BufferId != NoBuffer) pos += U32(dest[pos..], PropBufferId, f.BufferId);
        pos += U8(dest[pos..], PropTableId, f.TableId);
        if (f.Cookie != ulong.MaxValue)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dest[pos..], PropCookie);
            BinaryPrimitives.WriteUInt16BigEndian(dest[(pos + 2)..], 16);
            dest.Slice(pos + 4, 4).Clear();
            BinaryPrimitives.WriteUInt64BigEndian(dest[(pos + 8)..], f.Cookie);
            pos += 16;
        }
        pos += U8(dest[pos..], PropReason, f.Reason);
        pos += Property(dest[pos..], PropMetadata, metadataTlvs);
        if (!userData.IsEmpty) pos += Property(dest[pos..], PropUserData, userData);
        WriteHeader(dest, version, PacketIn2, pos, 0);
        return pos;
    }

    /// <summary>A property of <paramref name="payload"/>, zero padding to 8; its padded size.</summary>
    private static int Property(Span<byte> dest, ushort type, ReadOnlySpan<byte> payload)
    {
        int len = 4 + payload.Length, padded = (len + 7) & ~7;
        BinaryPrimitives.WriteUInt16BigEndian(dest, type);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)len);
        payload.CopyTo(dest[4..]);
        dest[len..padded].Clear();
        return padded;
    }

    private static int U32(Span<byte> dest, ushort type, uint value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, type);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], 8);
        BinaryPrimitives.WriteUInt32BigEndian(dest[4..], value);
        return 8;
    }

    private static int U8(Span<byte> dest, ushort type, byte value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, type);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], 5);
        dest[4] = value;
        dest.Slice(5, 3).Clear();
        return 8;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |         ofp_header (8), vendor 0x2320, subtype 30 (16)        |   0
    // +-------------------------------+-------------------------------+
    // |    property type: NXPINT_*    |      length: 4 + payload      |  16
    // +-------------------------------+-------------------------------+
    // |                   payload, zero padding to 8                  |  20
    // +---------------------------------------------------------------+
    // |                further properties (to the end)                |
    // +---------------------------------------------------------------+
    // The property types and payloads: the list above WritePacketIn2.
    /// <summary>
    /// Reads an NXT_PACKET_IN2 (or an NXT_RESUME, which has the same properties), as Open vSwitch's decode_nx_packet_in2
    /// does: false with BAD_REQUEST/BAD_LEN for a message shorter than its head; with BAD_PROPERTY/BAD_LEN for a property
    /// shorter than its header or past the message (padded to 8), a u8 payload empty, a u32 payload not 4 bytes, a cookie
    /// not 12 (pad and value); with BAD_PROPERTY/BAD_TYPE for an unknown type; with BAD_REQUEST/BAD_LEN for no packet or
    /// a full_len below the packet's length. Absent (or 0): full_len is the packet's length; absent, the buffer none and
    /// the cookie all-ones.
    /// </summary>
    public static bool TryDecodePacketIn2(ReadOnlySpan<byte> msg, out NxPacketIn2 pin, out Ofp13Error error)
    {
        pin = default;
        if (msg.Length < HeaderSize)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        ReadOnlySpan<byte> packet = default, metadata = default, userData = default, continuation = default;
        int fullLen = -1;
        uint bufferId = NoBuffer;
        byte table = 0, reason = 0;
        ulong cookie = ulong.MaxValue;
        var props = msg[HeaderSize..];
        while (props.Length > 0)
        {
            if (props.Length < 4) return PropertyError(Ofp13Codes.PropBadLen, out error);
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(props);
            int len = BinaryPrimitives.ReadUInt16BigEndian(props[2..]);
            int padded = (len + 7) & ~7;
            if (len < 4 || padded > props.Length) return PropertyError(Ofp13Codes.PropBadLen, out error);
            var payload = props[4..len];
            switch (type)
            {
                case PropPacket: packet = payload; break;
                case PropFullLen: if (payload.Length != 4) return PropertyError(Ofp13Codes.PropBadLen, out error); fullLen = (int)BinaryPrimitives.ReadUInt32BigEndian(payload); break;
                case PropBufferId: if (payload.Length != 4) return PropertyError(Ofp13Codes.PropBadLen, out error); bufferId = BinaryPrimitives.ReadUInt32BigEndian(payload); break;
                case PropTableId: if (payload.Length < 1) return PropertyError(Ofp13Codes.PropBadLen, out error); table = payload[0]; break;
                case PropCookie: if (payload.Length != 12) return PropertyError(Ofp13Codes.PropBadLen, out error); cookie = BinaryPrimitives.ReadUInt64BigEndian(payload[4..]); break;
                case PropReason: if (payload.Length < 1) return PropertyError(Ofp13Codes.PropBadLen, out error); reason = payload[0]; break;
                case PropMetadata: metadata = payload; break;
                case PropUserData: userData = payload; break;
                case PropContinuation: continuation = payload; break;
                default: return PropertyError(Ofp13Codes.PropBadType, out error);
            }
            props = props[padded..];
        }
        if (packet.IsEmpty || fullLen > 0 && fullLen < packet.Length)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        if (fullLen <= 0) fullLen = packet.Length;
        pin = new NxPacketIn2(new NxPacketInFields(bufferId, fullLen, reason, table, cookie), packet, metadata, userData, continuation);
        error = default;
        return true;
    }

    private static bool PropertyError(ushort code, out Ofp13Error error)
    {
        error = new Ofp13Error(Ofp13ErrorType.BadProperty, code);
        return false;
    }
}
