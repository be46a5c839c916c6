using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire;

/// <summary>
/// One nx_flow_monitor_request as read (<see cref="NxFlowMonitor.TryDecodeRequests"/>): its flags are Nicira's NXFMF_*,
/// its out_port OpenFlow 1.0's; the match is the message's bytes <see cref="MatchOffset"/>.. + <see cref="MatchLength"/>.
/// </summary>
public readonly record struct NxFlowMonitorRequestFields(uint Id, ushort Flags, ushort OutPort, byte TableId, int MatchOffset, int MatchLength);

/// <summary>One nx_flow_monitor_request to write (tests, the fuzz oracle), its match as NXM entries.</summary>
public sealed record NxFlowMonitorRequest(uint Id, ushort Flags, ushort OutPort, byte TableId, Ofp13Oxm[] Match);

/// <summary>
/// One entry of an NXST_FLOW_MONITOR reply: nx_flow_update_full (ADDED, DELETED, MODIFIED: the flow, its NXM match and,
/// when the monitor asked, its OpenFlow 1.0 actions) or nx_flow_update_abbrev (ABBREV: the xid of the requester's own
/// flow-mod). <see cref="Event"/> is Nicira's NXFME_*; <see cref="Reason"/> a DELETED's OFPRR_* as Open vSwitch numbers
/// them (idle 0, hard 1, delete 2, group delete 3, meter delete 4, eviction 5).
/// </summary>
public sealed record NxFlowUpdate(ushort Event, ushort Reason, ushort Priority, ushort IdleTimeout, ushort HardTimeout, byte TableId, ulong Cookie,
                                  Ofp13Oxm[] Match, OfpAction[] Actions, uint Xid = 0)
{
    /// <summary>An ABBREV of the flow-mod <paramref name="xid"/>.</summary>
    public static NxFlowUpdate Abbrev(uint xid) => new(NxFlowMonitor.EventAbbrev, 0, 0, 0, 0, 0, 0, [], [], xid);

    /// <summary>The bytes the entry takes.</summary>
    public int Size
    {
        get
        {
            if (Event == NxFlowMonitor.EventAbbrev) return NxFlowMonitor.AbbrevSize;
            int size = NxFlowMonitor.FullSize + Nx10.Padded(NxMatch.Size(Match));
            foreach (var a in Actions) size += a.EncodedSize;
            return size;
        }
    }

    public bool Equals(NxFlowUpdate? other)
        => other is not null && (Event, Reason, Priority, IdleTimeout, HardTimeout, TableId, Cookie, Xid)
           == (other.Event, other.Reason, other.Priority, other.IdleTimeout, other.HardTimeout, other.TableId, other.Cookie, other.Xid)
           && Match.AsSpan().SequenceEqual(other.Match) && Actions.AsSpan().SequenceEqual(other.Actions);

    public override int GetHashCode() => HashCode.Combine(Event, Priority, Cookie, Xid, Match.Length, Actions.Length);
}

/// <summary>
/// Open vSwitch's flow monitors of OpenFlow 1.0 (include/openflow/nicira-ext.h, lib/ofp-monitor.c): the NXST_FLOW_MONITOR
/// request (a vendor statistics request of subtype 2 carrying nx_flow_monitor_request entries, each with an nx_match)
/// and reply (nx_flow_update entries), NXT_FLOW_MONITOR_CANCEL, and the NXT_FLOW_MONITOR_PAUSED and _RESUMED the switch
/// sends for flow control. The match is <see cref="NxMatch"/>'s, the actions OpenFlow 1.0's (<see cref="OfpActions"/>).
/// </summary>
/// <remarks>
/// Decoders never throw and never read outside their span. As Open vSwitch's ofputil_decode_flow_monitor_request, in its
/// order: a request shorter than its 16 bytes is BAD_REQUEST/BAD_LEN; flags that ask for no event (ADD, DELETE,
/// MODIFY) or carry a bit past OWN OFPMOFC_BAD_FLAGS, NX1.0(1,518); reserved bytes not zero NXBRC_MUST_BE_ZERO,
/// NX1.0(1,515); a padded match past the message OFPBMC_BAD_LEN, which OpenFlow 1.0 says as NXBRC_UNENCODABLE_ERROR.
/// The match's entries are read by whoever builds the match (the agent). Stateless.
/// </remarks>
public static class NxFlowMonitor
{
    /// <summary>NXST_FLOW_MONITOR: the vendor statistics subtype.</summary>
    public const uint StatsFlowMonitor = 2;
    /// <summary>NXT subtypes: NXT_FLOW_MONITOR_CANCEL, NXT_FLOW_MONITOR_PAUSED, NXT_FLOW_MONITOR_RESUMED.</summary>
    public const uint Cancel = 21, Paused = 22, Resumed = 23;

    /// <summary>NXFMF_* request flags.</summary>
    public const ushort FlagInitial = 1, FlagAdd = 2, FlagDelete = 4, FlagModify = 8, FlagActions = 16, FlagOwn = 32, FlagsAll = 0x3f;
    /// <summary>NXFME_* update events.</summary>
    public const ushort EventAdded = 0, EventDeleted = 1, EventModified = 2, EventAbbrev = 3;

    /// <summary>nx_flow_monitor_request's size before its match; nx_flow_update_full's; nx_flow_update_abbrev's.</summary>
    public const int RequestSize = 16, FullSize = 24, AbbrevSize = 8;
    /// <summary>An NXT_FLOW_MONITOR_CANCEL's size (the NXT head and the monitor id).</summary>
    public const int CancelSize = Nx10.HeaderSize + 4;

    /// <summary>OFPMOFC_MONITOR_EXISTS, NX1.0(1,517).</summary>
    public static readonly Nx10Error MonitorExists = Nx10Error.Nx(1, 517);
    /// <summary>OFPMOFC_BAD_FLAGS, NX1.0(1,518).</summary>
    public static readonly Nx10Error BadFlags = Nx10Error.Nx(1, 518);
    /// <summary>OFPMOFC_UNKNOWN_MONITOR, NX1.0(1,519).</summary>
    public static readonly Nx10Error UnknownMonitor = Nx10Error.Nx(1, 519);
    /// <summary>NXBRC_MUST_BE_ZERO, NX1.0(1,515).</summary>
    public static readonly Nx10Error MustBeZero = Nx10Error.Nx(1, 515);
    /// <summary>NXBRC_FM_BAD_EVENT, NX1.0(1,520): a reply entry of an event Nicira does not define.</summary>
    public static readonly Nx10Error BadEvent = Nx10Error.Nx(1, 520);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | the NXST head (24): OFPT_STATS_REQUEST, OFPST_VENDOR, 0x2320, |  0
    // | subtype 2                                                     |
    // +---------------------------------------------------------------+
    // then, to the end, entries of:
    // +---------------------------------------------------------------+
    // |                               id                              |  0
    // +-------------------------------+-------------------------------+
    // |          flags (NXFMF)        |           out_port            |  4
    // +-------------------------------+---------------+---------------+
    // |           match_len           |    table_id   |   zeros (1)   |  8
    // +-------------------------------+---------------+---------------+
    // |                            zeros (4)                          | 12
    // +---------------------------------------------------------------+
    // | nx_match (match_len), zero padding to 8                       | 16
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads every entry of an NXST_FLOW_MONITOR request (<paramref name="frame"/> whole; its NXST head read by
    /// <see cref="Nx10.TryDecodeStatsRequest"/>) into <paramref name="into"/> (cleared first).
    /// </summary>
    public static bool TryDecodeRequests(ReadOnlySpan<byte> frame, List<NxFlowMonitorRequestFields> into, out Nx10Error error)
    {
        into.Clear();
        error = default;
        int at = Nx10.StatsHeaderSize;
        if (frame.Length < at)
        {
            error = OfpError.BadLen;
            return false;
        }
        while (at < frame.Length)
        {
            var s = frame[at..];
            if (s.Length < RequestSize)
            {
                error = OfpError.BadLen;
                return false;
            }
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(s[4..]);
            if ((flags & (FlagAdd | FlagDelete | FlagModify)) == 0 || (flags & ~FlagsAll) != 0)
            {
                error = BadFlags;
                return false;
            }
            if (s[11] != 0 || BinaryPrimitives.ReadUInt32BigEndian(s[12..]) != 0)
            {
                error = MustBeZero;
                return false;
            }
            int matchLen = BinaryPrimitives.ReadUInt16BigEndian(s[8..]);
            if (RequestSize + Nx10.Padded(matchLen) > s.Length)
            {
                error = Nx10Error.Unencodable;
                return false;
            }
            into.Add(new NxFlowMonitorRequestFields(BinaryPrimitives.ReadUInt32BigEndian(s), flags, BinaryPrimitives.ReadUInt16BigEndian(s[6..]),
                                                    s[10], at + RequestSize, matchLen));
            at += RequestSize + Nx10.Padded(matchLen);
        }
        return true;
    }

    /// <summary>An NXST_FLOW_MONITOR request of <paramref name="requests"/>, whole (tests, the fuzz oracle, the corpus).</summary>
    public static byte[] EncodeRequest(uint xid, IReadOnlyList<NxFlowMonitorRequest> requests)
    {
        int size = Nx10.StatsHeaderSize;
        foreach (var r in requests) size += RequestSize + Nx10.Padded(NxMatch.Size(r.Match));
        var msg = new byte[size];
        Nx10.WriteStatsHeader(msg, OfpType.StatsRequest, StatsFlowMonitor, more: false, size, xid);
        int at = Nx10.StatsHeaderSize;
        foreach (var r in requests)
        {
            var s = msg.AsSpan(at);
            int matchLen = NxMatch.Size(r.Match);
            BinaryPrimitives.WriteUInt32BigEndian(s, r.Id);
            BinaryPrimitives.WriteUInt16BigEndian(s[4..], r.Flags);
            BinaryPrimitives.WriteUInt16BigEndian(s[6..], r.OutPort);
            BinaryPrimitives.WriteUInt16BigEndian(s[8..], (ushort)matchLen);
            s[10] = r.TableId;
            NxMatch.Write(s[RequestSize..], r.Match);
            at += RequestSize + Nx10.Padded(matchLen);
        }
        return msg;
    }

    // +---------------------------------------------------------------+
    // | ofp_header (8), OFPT_VENDOR, vendor 0x2320, subtype 21        |  0
    // +---------------------------------------------------------------+
    // |                            monitor id                         | 16
    // +---------------------------------------------------------------+
    /// <summary>NXT_FLOW_MONITOR_CANCEL's monitor id; BAD_LEN unless the message is 20 bytes.</summary>
    public static bool TryDecodeCancel(ReadOnlySpan<byte> frame, out uint id, out OfpError error)
    {
        id = 0;
        error = default;
        if (frame.Length != CancelSize)
        {
            error = OfpError.BadLen;
            return false;
        }
        id = BinaryPrimitives.ReadUInt32BigEndian(frame[Nx10.HeaderSize..]);
        return true;
    }

    /// <summary>An NXT_FLOW_MONITOR_CANCEL of monitor <paramref name="id"/>, whole.</summary>
    public static byte[] EncodeCancel(uint xid, uint id)
        => Nx10.Message(Cancel, xid, [(byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id]);

    /// <summary>NXT_FLOW_MONITOR_PAUSED or _RESUMED (xid 0, no body), whole.</summary>
    public static byte[] FlowControl(bool paused) => Nx10.Message(paused ? Paused : Resumed, 0, []);

    /// <summary>
    /// NXST_FLOW_MONITOR replies carrying <paramref name="updates"/> in order, in parts of at most 65535 bytes with
    /// OFPSF_REPLY_MORE on all but the last (one empty reply when there are none).
    /// </summary>
    public static List<byte[]> EncodeReplies(uint xid, IReadOnlyList<NxFlowUpdate> updates)
    {
        var parts = new List<byte[]>();
        int i = 0;
        do
        {
            int size = Nx10.StatsHeaderSize, first = i;
            while (i < updates.Count && (i == first || size + updates[i].Size <= OfpConstants.MaxMessageSize))
                size += updates[i++].Size;
            if (size > OfpConstants.MaxMessageSize) ThrowHelper.ThrowMessageTooLarge(size);
            var msg = new byte[size];
            Nx10.WriteStatsHeader(msg, OfpType.StatsReply, StatsFlowMonitor, more: i < updates.Count, size, xid);
            int at = Nx10.StatsHeaderSize;
            for (int k = first; k < i; k++) at += Write(msg.AsSpan(at), updates[k]);
            parts.Add(msg);
        }
        while (i < updates.Count);
        return parts;
    }

    private static int Write(Span<byte> e, NxFlowUpdate u)
    {
        int size = u.Size;
        BinaryPrimitives.WriteUInt16BigEndian(e, (ushort)size);
        BinaryPrimitives.WriteUInt16BigEndian(e[2..], u.Event);
        if (u.Event == EventAbbrev)
        {
            BinaryPrimitives.WriteUInt32BigEndian(e[4..], u.Xid);
            return size;
        }
        int matchLen = NxMatch.Size(u.Match);
        BinaryPrimitives.WriteUInt16BigEndian(e[4..], u.Reason);
        BinaryPrimitives.WriteUInt16BigEndian(e[6..], u.Priority);
        BinaryPrimitives.WriteUInt16BigEndian(e[8..], u.IdleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(e[10..], u.HardTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(e[12..], (ushort)matchLen);
        e[14] = u.TableId;
        BinaryPrimitives.WriteUInt64BigEndian(e[16..], u.Cookie);
        NxMatch.Write(e[FullSize..], u.Match);
        OfpActions.Encode(u.Actions, e[(FullSize + Nx10.Padded(matchLen))..size]);
        return size;
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |        event: NXFME_*         |   0
    // +-------------------------------+-------------------------------+
    // |       reason (OFPRR_*)        |            priority           |   4
    // +-------------------------------+-------------------------------+
    // |          idle_timeout         |          hard_timeout         |   8
    // +-------------------------------+---------------+---------------+
    // |           match_len           |    table_id   |      pad      |  12
    // +-------------------------------+---------------+---------------+
    // |                           cookie (8)                          |  16
    // +---------------------------------------------------------------+
    // |            nx_match (match_len), zero padding to 8            |  24
    // +---------------------------------------------------------------+
    // |               actions (OpenFlow 1.0's, to length)             | 24+m
    // +---------------------------------------------------------------+
    // ABBREV (NXFME_ABBREV 3): length 8, event, xid. Entries follow the NXST head (24) of an OFPT_STATS_REPLY, subtype 2.
    /// <summary>
    /// Reads the entries of one NXST_FLOW_MONITOR reply (<paramref name="frame"/> whole) into <paramref name="into"/>
    /// (cleared first), as Open vSwitch's ofputil_decode_flow_update: an entry whose length is under 8, not a multiple of 8
    /// or past the message, an ABBREV not 8 bytes, a full entry under 24 bytes or whose match overruns it, is BAD_LEN;
    /// an event past ABBREV NXBRC_FM_BAD_EVENT; the match's and actions' errors as theirs.
    /// </summary>
    public static bool TryDecodeReply(ReadOnlySpan<byte> frame, List<NxFlowUpdate> into, out Nx10Error error)
    {
        into.Clear();
        error = default;
        if (frame.Length < Nx10.StatsHeaderSize || frame[1] != (byte)OfpType.StatsReply
            || BinaryPrimitives.ReadUInt32BigEndian(frame[16..]) != StatsFlowMonitor)
        {
            error = OfpError.BadLen;
            return false;
        }
        var s = frame[Nx10.StatsHeaderSize..];
        var match = new List<Ofp13Oxm>();
        var actions = new List<OfpAction>();
        while (!s.IsEmpty)
        {
            if (s.Length < AbbrevSize)
            {
                error = OfpError.BadLen;
                return false;
            }
            int length = BinaryPrimitives.ReadUInt16BigEndian(s);
            ushort ev = BinaryPrimitives.ReadUInt16BigEndian(s[2..]);
            if (length > s.Length || length % 8 != 0 || length < AbbrevSize)
            {
                error = OfpError.BadLen;
                return false;
            }
            if (ev == EventAbbrev)
            {
                if (length != AbbrevSize)
                {
                    error = OfpError.BadLen;
                    return false;
                }
                into.Add(NxFlowUpdate.Abbrev(BinaryPrimitives.ReadUInt32BigEndian(s[4..])));
                s = s[AbbrevSize..];
                continue;
            }
            if (ev > EventAbbrev)
            {
                error = BadEvent;
                return false;
            }
            if (length < FullSize)
            {
                error = OfpError.BadLen;
                return false;
            }
            int matchLen = BinaryPrimitives.ReadUInt16BigEndian(s[12..]);
            if (FullSize + Nx10.Padded(matchLen) > length)
            {
                error = OfpError.BadLen;
                return false;
            }
            match.Clear();
            if (!NxMatch.TryDecode(s.Slice(FullSize, matchLen), match, out var me))
            {
                error = Nx10Error.Of(me);
                return false;
            }
            actions.Clear();
            if (!OfpActions.TryDecode(s[(FullSize + Nx10.Padded(matchLen))..length], actions, out var actionError))
            {
                error = actionError;
                return false;
            }
            into.Add(new NxFlowUpdate(ev, BinaryPrimitives.ReadUInt16BigEndian(s[4..]), BinaryPrimitives.ReadUInt16BigEndian(s[6..]),
                                      BinaryPrimitives.ReadUInt16BigEndian(s[8..]), BinaryPrimitives.ReadUInt16BigEndian(s[10..]), s[14],
                                      BinaryPrimitives.ReadUInt64BigEndian(s[16..]), [.. match], [.. actions]));
            s = s[length..];
        }
        return true;
    }
}
