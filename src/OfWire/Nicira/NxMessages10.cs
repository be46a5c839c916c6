using System.Buffers;
using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire;

/// <summary>
/// An OpenFlow 1.0 error as Open vSwitch sends it: a standard one (ofp_error_msg's type and code) or one of Nicira's
/// (Open vSwitch's "NX1.0(type,code)": OFPET type NXET_VENDOR 0xb0c2, code NXVC_VENDOR_ERROR 0, then an
/// nx_vendor_error naming vendor 0x2320 and the type and code, then the request), how OpenFlow 1.0 carries the errors
/// it has no code for (OFPBMC_*, the NXM errors).
/// </summary>
public readonly record struct Nx10Error(ushort Type, ushort Code, bool Nicira)
{
    /// <summary>NXET_VENDOR: the ofp_error_msg type of a Nicira error in OpenFlow 1.0.</summary>
    public const ushort VendorErrorType = 0xb0c2;

    public static implicit operator Nx10Error(OfpError e) => new((ushort)e.Type, e.Code, e.Nicira);

    /// <summary>A Nicira error NX1.0(<paramref name="type"/>, <paramref name="code"/>).</summary>
    public static Nx10Error Nx(ushort type, ushort code) => new(type, code, true);

    /// <summary>NXBRC_NXM_INVALID, NX1.0(1,256).</summary>
    public static readonly Nx10Error NxmInvalid = Nx(1, 256);
    /// <summary>NXBRC_UNENCODABLE_ERROR, NX1.0(1,521): what Open vSwitch sends for an error OpenFlow 1.0 has no code for (OFPBMC_BAD_LEN).</summary>
    public static readonly Nx10Error Unencodable = Nx(1, 521);
    /// <summary>OFPBRC_BAD_TABLE_ID, NX1.0(1,512).</summary>
    public static readonly Nx10Error BadTableId = Nx(1, 512);

    /// <summary>
    /// The 1.0 error of a refusal in 1.3's numbers (a codec every version shares): BAD_REQUEST's first nine codes
    /// (BAD_VERSION to BUFFER_UNKNOWN), which 1.0 numbers alike; anything else, which this maps no 1.0 code to,
    /// NXBRC_UNENCODABLE_ERROR.
    /// </summary>
    public static Nx10Error Of(Ofp13Error e)
        => e.Type == Ofp13ErrorType.BadRequest && e.Code <= Ofp13Codes.BufferUnknown ? new((ushort)OfpErrorType.BadRequest, e.Code, false) : Unencodable;

    /// <summary>The NX1.0 error of a match that cannot be read or used (Open vSwitch's OFPBMC_* codes in OpenFlow 1.0).</summary>
    public static Nx10Error Of(NxmError e) => e switch
    {
        NxmError.BadField => Nx(0, 263),
        NxmError.BadValue => Nx(1, 258),
        NxmError.BadMask => Nx(1, 259),
        NxmError.BadPrereq => Nx(1, 260),
        NxmError.DupField => Nx(1, 261),
        NxmError.BadWildcards => Nx(1, 262),
        NxmError.Invalid => NxmInvalid,
        _ => Unencodable,
    };

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |   ofp_header (8): version 1, OFPT_ERROR, the request's xid    |   0
    // +-------------------------------+-------------------------------+
    // |     type (0xb0c2 for NX)      |      code (0 for NX)          |  8
    // +-------------------------------+-------------------------------+
    // |      vendor 0x00002320 (NX only: nx_vendor_error)             | 12
    // +-------------------------------+-------------------------------+
    // |       NX type                 |        NX code                | 16
    // +-------------------------------+-------------------------------+
    // |   the request's first 64 bytes                                | 20
    // +---------------------------------------------------------------+
    /// <summary>The OFPT_ERROR answering <paramref name="request"/>, whole.</summary>
    public byte[] ForRequest(ReadOnlySpan<byte> request)
    {
        if (!Nicira) return OfpErrorEnvelope.ForRequest(OfpConstants.Version, Type, Code, request);
        var data = request[..Math.Min(request.Length, OfpErrorEnvelope.DataSize)];
        var msg = new byte[OfpErrorEnvelope.MinSize + 8 + data.Length];
        uint xid = OfpHeader.TryRead(request, out var h) ? h.Xid : 0;
        new OfpHeader(OfpConstants.Version, OfpHeader.ErrorType, (ushort)msg.Length, xid).Write(msg);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(8), VendorErrorType);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(12), OfpConstants.NiciraVendorId);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(16), Type);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(18), Code);
        data.CopyTo(msg.AsSpan(20));
        return msg;
    }

    public override string ToString() => Nicira ? $"NX1.0({Type},{Code})" : new OfpError((OfpErrorType)Type, Code).ToString();
}

/// <summary>The fixed fields of an NXT_FLOW_MOD (<see cref="Nx10.TryDecodeFlowMod"/>); the match is the message's bytes <see cref="Nx10.FlowModMatchOffset"/>.. + <see cref="MatchLength"/>.</summary>
public readonly record struct NxFlowModFields(ulong Cookie, ushort Command, ushort IdleTimeout, ushort HardTimeout, ushort Priority,
                                              uint BufferId, ushort OutPort, OfpFlowModFlags Flags, int MatchLength);

/// <summary>The fixed fields of an NXST_FLOW or NXST_AGGREGATE request; the match is the message's bytes <see cref="Nx10.StatsMatchOffset"/>.. + <see cref="MatchLength"/>.</summary>
public readonly record struct NxFlowStatsRequestFields(uint Subtype, ushort OutPort, byte TableId, int MatchLength);

/// <summary>
/// Open vSwitch's Nicira messages of OpenFlow 1.0 that carry or choose the NXM flow format (include/openflow/nicira-ext.h,
/// lib/ofp-msgs.h): NXT_SET_FLOW_FORMAT, NXT_FLOW_MOD_TABLE_ID, NXT_FLOW_MOD, NXT_FLOW_REMOVED, and the NXST_FLOW and
/// NXST_AGGREGATE statistics. The match is <see cref="NxMatch"/>'s, the actions OpenFlow 1.0's (<see cref="OfpActions"/>).
/// </summary>
/// <remarks>
/// Decoding checks what Open vSwitch's ofpraw decoding and ofputil_decode_* check from the bytes alone, in their order:
/// the message's size for its subtype (OFPBRC_BAD_LEN), the match's padded length against the message (OFPBMC_BAD_LEN,
/// which OpenFlow 1.0 carries as NXBRC_UNENCODABLE_ERROR), the actions (OFPET_BAD_ACTION). The entries of the match are
/// read by whoever builds the match from them (the agent: prerequisites and duplicates need the entries before each).
/// Stateless.
/// </remarks>
public static class Nx10
{
    /// <summary>ofp_header, vendor and subtype: the head of every NXT message.</summary>
    public const int HeaderSize = 16;
    /// <summary>ofp_header, stats type (OFPST_VENDOR), flags, vendor, subtype and 4 pad bytes: the head of every NXST message.</summary>
    public const int StatsHeaderSize = 24;

    /// <summary>NXT subtypes.</summary>
    public const uint SetFlowFormat = 12, FlowMod = 13, FlowRemoved = 14, FlowModTableId = 15, SetPacketInFormat = 16;
    /// <summary>NXST subtypes.</summary>
    public const uint StatsFlow = 0, StatsAggregate = 1;
    /// <summary>NXT_SET_FLOW_FORMAT's formats: NXFF_OPENFLOW10 and NXFF_NXM.</summary>
    public const uint FormatOpenFlow10 = 0, FormatNxm = 2;

    /// <summary>Where an NXT_FLOW_MOD's match starts (after the header and nx_flow_mod's 32 bytes).</summary>
    public const int FlowModMatchOffset = HeaderSize + 32;
    /// <summary>Where an NXST_FLOW or NXST_AGGREGATE request's match starts.</summary>
    public const int StatsMatchOffset = StatsHeaderSize + 8;
    /// <summary>The size of an nx_flow_stats entry without its match and actions.</summary>
    public const int FlowStatsEntrySize = 48;
    /// <summary>The size of an NXT_FLOW_REMOVED without its match.</summary>
    public const int FlowRemovedSize = HeaderSize + 40;
    /// <summary>An NXST_AGGREGATE reply's size (the header and ofp_aggregate_stats_reply).</summary>
    public const int AggregateReplySize = StatsHeaderSize + 24;

    /// <summary>The padded size of a match of <paramref name="matchLength"/> bytes.</summary>
    public static int Padded(int matchLength) => (matchLength + 7) & ~7;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |           ofp_header (8): version 1, OFPT_VENDOR (4)          |   0
    // +---------------------------------------------------------------+
    // |                       vendor 0x00002320                       |   8
    // +---------------------------------------------------------------+
    // |                            subtype                            |  12
    // +---------------------------------------------------------------+
    /// <summary>The NXT subtype of <paramref name="frame"/> (an OFPT_VENDOR of vendor 0x2320), or the error: BAD_LEN under 16 bytes, BAD_VENDOR for another vendor.</summary>
    public static bool TryReadSubtype(ReadOnlySpan<byte> frame, out uint subtype, out OfpError error)
    {
        subtype = 0;
        error = default;
        if (frame.Length < 12)
        {
            error = OfpError.BadLen;
            return false;
        }
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[8..]) != OfpConstants.NiciraVendorId)
        {
            error = OfpError.BadRequest(OfpBadRequestCode.BadVendor);
            return false;
        }
        if (frame.Length < HeaderSize)
        {
            error = OfpError.BadLen;
            return false;
        }
        subtype = BinaryPrimitives.ReadUInt32BigEndian(frame[12..]);
        return true;
    }

    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 12                     |  0
    // +---------------------------------------------------------------+
    // |            format (0: openflow10, 2: nxm)                     | 16
    // +---------------------------------------------------------------+
    /// <summary>NXT_SET_FLOW_FORMAT's format; BAD_LEN unless the message is 20 bytes.</summary>
    public static bool TryDecodeSetFlowFormat(ReadOnlySpan<byte> frame, out uint format, out OfpError error)
    {
        format = 0;
        error = default;
        if (frame.Length != HeaderSize + 4)
        {
            error = OfpError.BadLen;
            return false;
        }
        format = BinaryPrimitives.ReadUInt32BigEndian(frame[HeaderSize..]);
        return true;
    }

    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 15                     |  0
    // +---------------+-----------------------------------------------+
    // |  set (0 / 1)  |                 pad (7)                       | 16
    // +---------------+-----------------------------------------------+
    /// <summary>NXT_FLOW_MOD_TABLE_ID's set; BAD_LEN unless the message is 24 bytes.</summary>
    public static bool TryDecodeFlowModTableId(ReadOnlySpan<byte> frame, out bool set, out OfpError error)
    {
        set = false;
        error = default;
        if (frame.Length != HeaderSize + 8)
        {
            error = OfpError.BadLen;
            return false;
        }
        set = frame[HeaderSize] != 0;
        return true;
    }

    /// <summary>An NXT message of <paramref name="subtype"/> with <paramref name="body"/> (tests, and the fuzz corpus).</summary>
    public static byte[] Message(uint subtype, uint xid, ReadOnlySpan<byte> body)
    {
        var msg = new byte[HeaderSize + body.Length];
        WriteHeader(msg, subtype, msg.Length, xid);
        body.CopyTo(msg.AsSpan(HeaderSize));
        return msg;
    }

    private static void WriteHeader(Span<byte> dest, uint subtype, int length, uint xid)
    {
        new OfpHeader(OfpConstants.Version, (byte)OfpType.Vendor, (ushort)length, xid).Write(dest);
        BinaryPrimitives.WriteUInt32BigEndian(dest[8..], OfpConstants.NiciraVendorId);
        BinaryPrimitives.WriteUInt32BigEndian(dest[12..], subtype);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 13                     |  0
    // +---------------------------------------------------------------+
    // |                         cookie (8)                            | 16
    // +-------------------------------+-------------------------------+
    // | command (table id in the high |         idle_timeout          | 24
    // | byte with flow_mod_table_id)  |                               |
    // +-------------------------------+-------------------------------+
    // |         hard_timeout          |           priority            | 28
    // +-------------------------------+-------------------------------+
    // |                          buffer_id                            | 32
    // +-------------------------------+-------------------------------+
    // |           out_port            |            flags              | 36
    // +-------------------------------+-------------------------------+
    // |          match_len            |            pad (6)            | 40
    // +-------------------------------+                               +
    // |                                                               | 44
    // +---------------------------------------------------------------+
    // | nx_match (match_len), zero padding to 8 bytes                 | 48
    // +---------------------------------------------------------------+
    // | actions (OpenFlow 1.0's) to the end                           |
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads an NXT_FLOW_MOD's fixed fields and actions (into <paramref name="actions"/>, appended); the match is left in
    /// the message for the agent. Errors: BAD_LEN (shorter than 48 bytes), NXBRC_UNENCODABLE_ERROR (OFPBMC_BAD_LEN: a
    /// padded match longer than the message), the actions' OFPET_BAD_ACTION, a flag 1.0 does not define
    /// <see cref="OfpFlowMod.BadFlags10"/>.
    /// </summary>
    public static bool TryDecodeFlowMod(ReadOnlySpan<byte> frame, List<OfpAction> actions, out NxFlowModFields fields, out Nx10Error error)
    {
        fields = default;
        error = default;
        if (frame.Length < FlowModMatchOffset)
        {
            error = OfpError.BadLen;
            return false;
        }
        var b = frame[HeaderSize..];
        int matchLen = BinaryPrimitives.ReadUInt16BigEndian(b[24..]);
        if (FlowModMatchOffset + Padded(matchLen) > frame.Length)
        {
            error = Nx10Error.Unencodable;
            return false;
        }
        if (!OfpActions.TryDecode(frame[(FlowModMatchOffset + Padded(matchLen))..], actions, out var actionError))
        {
            error = actionError;
            return false;
        }
        var flags = (OfpFlowModFlags)BinaryPrimitives.ReadUInt16BigEndian(b[22..]);
        if ((flags & ~OfpFlowMod.KnownFlags) != 0)
        {
            error = OfpFlowMod.BadFlags10;
            return false;
        }
        fields = new NxFlowModFields(
            BinaryPrimitives.ReadUInt64BigEndian(b),
            BinaryPrimitives.ReadUInt16BigEndian(b[8..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[10..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[12..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[14..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[16..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[20..]),
            flags,
            matchLen);
        return true;
    }

    /// <summary>An NXT_FLOW_MOD of <paramref name="f"/> with <paramref name="match"/> and <paramref name="actions"/> (tests, the fuzz corpus).</summary>
    public static byte[] EncodeFlowMod(uint xid, in NxFlowModFields f, ReadOnlySpan<Ofp13Oxm> match, ReadOnlySpan<OfpAction> actions)
    {
        int matchLen = NxMatch.Size(match);
        int actionsSize = 0;
        foreach (var a in actions) actionsSize += a.EncodedSize;
        var msg = new byte[FlowModMatchOffset + Padded(matchLen) + actionsSize];
        WriteHeader(msg, FlowMod, msg.Length, xid);
        var b = msg.AsSpan(HeaderSize);
        BinaryPrimitives.WriteUInt64BigEndian(b, f.Cookie);
        BinaryPrimitives.WriteUInt16BigEndian(b[8..], f.Command);
        BinaryPrimitives.WriteUInt16BigEndian(b[10..], f.IdleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(b[12..], f.HardTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(b[14..], f.Priority);
        BinaryPrimitives.WriteUInt32BigEndian(b[16..], f.BufferId);
        BinaryPrimitives.WriteUInt16BigEndian(b[20..], f.OutPort);
        BinaryPrimitives.WriteUInt16BigEndian(b[22..], (ushort)f.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(b[24..], (ushort)matchLen);
        NxMatch.Write(msg.AsSpan(FlowModMatchOffset), match);
        OfpActions.Encode(actions, msg.AsSpan(FlowModMatchOffset + Padded(matchLen)));
        return msg;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8), OFPT_STATS_REQUEST                            |  0
    // +-------------------------------+-------------------------------+
    // |    type (0xffff: vendor)      |            flags              |  8
    // +-------------------------------+-------------------------------+
    // |                      vendor 0x00002320                        | 12
    // +---------------------------------------------------------------+
    // |              subtype (0: NXST_FLOW, 1: NXST_AGGREGATE)        | 16
    // +---------------------------------------------------------------+
    // |                            pad (4)                            | 20
    // +-------------------------------+---------------+---------------+
    // |           out_port            |   match_len                   | 24
    // +---------------+---------------+-------------------------------+
    // |   table_id    |                  pad (3)                      | 28
    // +---------------+-----------------------------------------------+
    // | nx_match (match_len), zero padding to 8: the rest exactly     | 32
    // +---------------------------------------------------------------+
    /// <summary>
    /// The NXST subtype of an OpenFlow 1.0 statistics request of type OFPST_VENDOR (BAD_LEN under 24 bytes, BAD_VENDOR
    /// for another vendor), and for NXST_FLOW and NXST_AGGREGATE their fields: BAD_LEN when the body is not 8 bytes and
    /// a padded match that fill the message exactly (NXBRC_UNENCODABLE_ERROR, OFPBMC_BAD_LEN, for a match past its end).
    /// </summary>
    public static bool TryDecodeStatsRequest(ReadOnlySpan<byte> frame, out NxFlowStatsRequestFields fields, out Nx10Error error)
    {
        fields = default;
        error = default;
        if (frame.Length < 16)
        {
            error = OfpError.BadLen;
            return false;
        }
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[12..]) != OfpConstants.NiciraVendorId)
        {
            error = OfpError.BadRequest(OfpBadRequestCode.BadVendor);
            return false;
        }
        if (frame.Length < StatsHeaderSize)
        {
            error = OfpError.BadLen;
            return false;
        }
        uint subtype = BinaryPrimitives.ReadUInt32BigEndian(frame[16..]);
        if (subtype is not (StatsFlow or StatsAggregate))
        {
            fields = new NxFlowStatsRequestFields(subtype, 0, 0, 0);
            return true;
        }
        if (frame.Length < StatsMatchOffset)
        {
            error = OfpError.BadLen;
            return false;
        }
        int matchLen = BinaryPrimitives.ReadUInt16BigEndian(frame[26..]);
        if (StatsMatchOffset + Padded(matchLen) > frame.Length)
        {
            error = Nx10Error.Unencodable;
            return false;
        }
        if (StatsMatchOffset + Padded(matchLen) != frame.Length)
        {
            error = OfpError.BadLen;
            return false;
        }
        fields = new NxFlowStatsRequestFields(subtype, BinaryPrimitives.ReadUInt16BigEndian(frame[24..]), frame[28], matchLen);
        return true;
    }

    /// <summary>An NXST_FLOW or NXST_AGGREGATE request (tests, the fuzz corpus).</summary>
    public static byte[] EncodeStatsRequest(uint xid, uint subtype, ushort outPort, byte tableId, ReadOnlySpan<Ofp13Oxm> match)
    {
        int matchLen = NxMatch.Size(match);
        var msg = new byte[StatsMatchOffset + Padded(matchLen)];
        WriteStatsHeader(msg, OfpType.StatsRequest, subtype, more: false, msg.Length, xid);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(24), outPort);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(26), (ushort)matchLen);
        msg[28] = tableId;
        NxMatch.Write(msg.AsSpan(StatsMatchOffset), match);
        return msg;
    }

    /// <summary>Writes the 24-byte head of an NXST message (OFPSF_REPLY_MORE in a reply when <paramref name="more"/>).</summary>
    public static void WriteStatsHeader(Span<byte> dest, OfpType type, uint subtype, bool more, int length, uint xid)
    {
        new OfpHeader(OfpConstants.Version, (byte)type, (ushort)length, xid).Write(dest);
        BinaryPrimitives.WriteUInt16BigEndian(dest[8..], (ushort)OfpStatsType.Vendor);
        BinaryPrimitives.WriteUInt16BigEndian(dest[10..], more ? (ushort)1 : (ushort)0);
        BinaryPrimitives.WriteUInt32BigEndian(dest[12..], OfpConstants.NiciraVendorId);
        BinaryPrimitives.WriteUInt32BigEndian(dest[16..], subtype);
        dest.Slice(20, 4).Clear();
    }

    // +---------------------------------------------------------------+
    // | the NXST head (24), OFPT_STATS_REPLY, subtype 1               |  0
    // +---------------------------------------------------------------+
    // |                       packet_count (8)                        | 24
    // +---------------------------------------------------------------+
    // |                        byte_count (8)                         | 32
    // +---------------------------------------------------------------+
    // |          flow_count           |            pad (4)            | 40
    // +---------------------------------------------------------------+
    /// <summary>An NXST_AGGREGATE reply, whole.</summary>
    public static byte[] AggregateReply(uint xid, ulong packets, ulong bytes, uint flows)
    {
        var msg = new byte[AggregateReplySize];
        WriteStatsHeader(msg, OfpType.StatsReply, StatsAggregate, more: false, msg.Length, xid);
        BinaryPrimitives.WriteUInt64BigEndian(msg.AsSpan(24), packets);
        BinaryPrimitives.WriteUInt64BigEndian(msg.AsSpan(32), bytes);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(40), flows);
        return msg;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8), vendor 0x2320, subtype 14                     |  0
    // +---------------------------------------------------------------+
    // |                         cookie (8)                            | 16
    // +-------------------------------+---------------+---------------+
    // |           priority            |    reason     | table_id + 1  | 24
    // +-------------------------------+---------------+---------------+
    // |                        duration_sec                           | 28
    // +---------------------------------------------------------------+
    // |                        duration_nsec                          | 32
    // +-------------------------------+-------------------------------+
    // |         idle_timeout          |          match_len            | 36
    // +-------------------------------+-------------------------------+
    // |                      packet_count (8)                         | 40
    // +---------------------------------------------------------------+
    // |                       byte_count (8)                          | 48
    // +---------------------------------------------------------------+
    // | nx_match (match_len), zero padding to 8                       | 56
    // +---------------------------------------------------------------+
    /// <summary>An NXT_FLOW_REMOVED, whole (table_id is the flow's table plus one, as Open vSwitch 1.11 and later send it).</summary>
    public static byte[] EncodeFlowRemoved(ulong cookie, ushort priority, byte reason, byte tableId, uint durationSec, uint durationNsec,
                                           ushort idleTimeout, ulong packets, ulong bytes, ReadOnlySpan<Ofp13Oxm> match)
    {
        int matchLen = NxMatch.Size(match);
        var msg = new byte[FlowRemovedSize + Padded(matchLen)];
        WriteHeader(msg, FlowRemoved, msg.Length, 0);
        var b = msg.AsSpan(HeaderSize);
        BinaryPrimitives.WriteUInt64BigEndian(b, cookie);
        BinaryPrimitives.WriteUInt16BigEndian(b[8..], priority);
        b[10] = reason;
        b[11] = (byte)(tableId + 1);
        BinaryPrimitives.WriteUInt32BigEndian(b[12..], durationSec);
        BinaryPrimitives.WriteUInt32BigEndian(b[16..], durationNsec);
        BinaryPrimitives.WriteUInt16BigEndian(b[20..], idleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(b[22..], (ushort)matchLen);
        BinaryPrimitives.WriteUInt64BigEndian(b[24..], packets);
        BinaryPrimitives.WriteUInt64BigEndian(b[32..], bytes);
        NxMatch.Write(msg.AsSpan(FlowRemovedSize), match);
        return msg;
    }
}

/// <summary>
/// Writes NXST_FLOW replies entry by entry into pooled 64 KiB arrays (no object per flow), as
/// <see cref="OfpFlowStatsReplyWriter"/> does for OFPST_FLOW: an entry that does not fit ends the reply (the caller
/// sends it with the MORE flag and begins another). Not thread safe: one per dumping thread.
/// </summary>
public sealed class NxFlowStatsReplyWriter(ArrayPool<byte>? pool = null)
{
    private readonly ArrayPool<byte> _pool = pool ?? ArrayPool<byte>.Shared;
    private byte[]? _buffer;
    private int _used;
    private uint _xid;

    /// <summary>Entries in the reply being built.</summary>
    public int EntryCount { get; private set; }

    /// <summary>Starts a reply with this xid.</summary>
    public void Begin(uint xid)
    {
        _xid = xid;
        _used = Nx10.StatsHeaderSize;
        EntryCount = 0;
        _buffer ??= _pool.Rent(OfpConstants.MaxMessageSize);
    }

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |            length             |   table_id    |      pad      |  0
    // +-------------------------------+---------------+---------------+
    // |                        duration_sec                           |  4
    // +---------------------------------------------------------------+
    // |                        duration_nsec                          |  8
    // +-------------------------------+-------------------------------+
    // |           priority            |         idle_timeout          | 12
    // +-------------------------------+-------------------------------+
    // |         hard_timeout          |          match_len            | 16
    // +-------------------------------+-------------------------------+
    // |    idle_age (seconds + 1)     |    hard_age (seconds + 1)     | 20
    // +-------------------------------+-------------------------------+
    // |                          cookie (8)                           | 24
    // +---------------------------------------------------------------+
    // |                       packet_count (8)                        | 32
    // +---------------------------------------------------------------+
    // |                        byte_count (8)                         | 40
    // +---------------------------------------------------------------+
    // | nx_match (match_len), zero padding to 8                       | 48
    // +---------------------------------------------------------------+
    // | actions (OpenFlow 1.0's) to length                            |
    // +---------------------------------------------------------------+
    /// <summary>
    /// Appends one nx_flow_stats entry (idle_age and hard_age 0: unknown); false, with nothing written, when it does not
    /// fit in this reply and the reply has entries already. Throws when one entry alone cannot fit any reply.
    /// </summary>
    public bool TryAdd(byte tableId, uint durationSec, uint durationNsec, ushort priority, ushort idleTimeout, ushort hardTimeout,
                       ulong cookie, ulong packetCount, ulong byteCount, ReadOnlySpan<Ofp13Oxm> match, ReadOnlySpan<OfpAction> actions)
    {
        if (_buffer is null) throw new InvalidOperationException("TryAdd before Begin");
        int matchLen = NxMatch.Size(match);
        int actionsSize = 0;
        foreach (var a in actions) actionsSize += a.EncodedSize;
        int size = Nx10.FlowStatsEntrySize + Nx10.Padded(matchLen) + actionsSize;
        if (_used + size > OfpConstants.MaxMessageSize)
        {
            if (EntryCount > 0) return false;
            ThrowHelper.ThrowMessageTooLarge(Nx10.StatsHeaderSize + size);
        }
        var e = _buffer.AsSpan(_used, size);
        e.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(e, (ushort)size);
        e[2] = tableId;
        BinaryPrimitives.WriteUInt32BigEndian(e[4..], durationSec);
        BinaryPrimitives.WriteUInt32BigEndian(e[8..], durationNsec);
        BinaryPrimitives.WriteUInt16BigEndian(e[12..], priority);
        BinaryPrimitives.WriteUInt16BigEndian(e[14..], idleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(e[16..], hardTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(e[18..], (ushort)matchLen);
        BinaryPrimitives.WriteUInt64BigEndian(e[24..], cookie);
        BinaryPrimitives.WriteUInt64BigEndian(e[32..], packetCount);
        BinaryPrimitives.WriteUInt64BigEndian(e[40..], byteCount);
        NxMatch.Write(e[Nx10.FlowStatsEntrySize..], match);
        OfpActions.Encode(actions, e[(Nx10.FlowStatsEntrySize + Nx10.Padded(matchLen))..]);
        _used += size;
        EntryCount++;
        return true;
    }

    /// <summary>
    /// The reply built since <see cref="Begin"/> (OFPSF_REPLY_MORE when <paramref name="more"/>): its first
    /// <paramref name="count"/> bytes of an array rented from the writer's pool, now the caller's.
    /// </summary>
    public byte[] Finish(bool more, out int count)
    {
        var b = _buffer ?? throw new InvalidOperationException("Finish before Begin");
        Nx10.WriteStatsHeader(b, OfpType.StatsReply, Nx10.StatsFlow, more, _used, _xid);
        _buffer = null;
        count = _used;
        return b;
    }
}
