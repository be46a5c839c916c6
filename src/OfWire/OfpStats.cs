using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire;

// OFPT_STATS_REQUEST / OFPT_STATS_REPLY: one class per stats type, each behind a common base carrying
// the ofp_stats_request/reply header (type, flags).
//
// +---------------------------------------------+
// | ofp_header (8)                              |
// +----------------------+----------------------+
// | type (OFPST_*) (2)   | flags (2)            |
// +----------------------+----------------------+
// | body (length - 12), by type                 |
// +---------------------------------------------+
//
// Request bodies: DESC and TABLE empty; FLOW and AGGREGATE ofp_flow_stats_request (44); PORT
// ofp_port_stats_request (8); QUEUE ofp_queue_stats_request (8); VENDOR vendor id (4) + data.
// Reply bodies: DESC ofp_desc_stats (1056); FLOW ofp_flow_stats[]; AGGREGATE (24); TABLE
// ofp_table_stats[] (64 each); PORT ofp_port_stats[] (104 each); QUEUE ofp_queue_stats[] (32 each);
// VENDOR vendor id (4) + data.
// Any other type: OFPBRC_BAD_STAT. A body of the wrong size: OFPBRC_BAD_LEN.

/// <summary>Base of every OFPT_STATS_REQUEST.</summary>
public abstract class OfpStatsRequest : OfpMessage
{
    public const int HeaderSize = 12;

    private protected OfpStatsRequest()
    {
    }

    public sealed override OfpType Type => OfpType.StatsRequest;

    public abstract OfpStatsType StatsType { get; }

    /// <summary>Request flags; none are defined in 1.0 (kept as received).</summary>
    public ushort Flags { get; set; }

    private protected abstract int StatsBodySize { get; }

    private protected abstract void EncodeStatsBody(Span<byte> body);

    private protected sealed override int BodySize => HeaderSize - OfpHeader.Size + StatsBodySize;

    private protected sealed override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)StatsType);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(2), Flags);
        EncodeStatsBody(body.Slice(HeaderSize - OfpHeader.Size));
    }

    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if ((uint)body.Length < HeaderSize - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        var type = (OfpStatsType)BinaryPrimitives.ReadUInt16BigEndian(body);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(2));
        ReadOnlySpan<byte> stats = body.Slice(HeaderSize - OfpHeader.Size);
        OfpStatsRequest? request = type switch
        {
            OfpStatsType.Desc => stats.IsEmpty ? new OfpDescStatsRequest() : null,
            OfpStatsType.Flow => OfpFlowStatsRequestBase.TryDecode(stats, new OfpFlowStatsRequest()),
            OfpStatsType.Aggregate => OfpFlowStatsRequestBase.TryDecode(stats, new OfpAggregateStatsRequest()),
            OfpStatsType.Table => stats.IsEmpty ? new OfpTableStatsRequest() : null,
            OfpStatsType.Port => OfpPortStatsRequest.TryDecode(stats),
            OfpStatsType.Queue => OfpQueueStatsRequest.TryDecode(stats),
            OfpStatsType.PortDesc => OfpPortDescStatsRequest.TryDecode(stats),
            OfpStatsType.Vendor => OfpVendorStatsRequest.TryDecode(stats),
            _ => null,
        };
        if (request is null)
        {
            bool known = type is <= OfpStatsType.Queue or OfpStatsType.PortDesc or OfpStatsType.Vendor;
            return Fail(known ? OfpError.BadLen : OfpError.BadRequest(OfpBadRequestCode.BadStat), out message, out error);
        }
        request.Flags = flags;
        return Success(request, out message, out error);
    }
}

/// <summary>OFPST_DESC request: empty body.</summary>
public sealed class OfpDescStatsRequest : OfpStatsRequest
{
    public override OfpStatsType StatsType => OfpStatsType.Desc;
    private protected override int StatsBodySize => 0;
    private protected override void EncodeStatsBody(Span<byte> body) { }
}

/// <summary>OFPST_TABLE request: empty body.</summary>
public sealed class OfpTableStatsRequest : OfpStatsRequest
{
    public override OfpStatsType StatsType => OfpStatsType.Table;
    private protected override int StatsBodySize => 0;
    private protected override void EncodeStatsBody(Span<byte> body) { }
}

/// <summary>struct ofp_flow_stats_request, the body shared by OFPST_FLOW and OFPST_AGGREGATE requests.</summary>
public abstract class OfpFlowStatsRequestBase : OfpStatsRequest
{
    public const int BodySizeBytes = 44;

    private protected OfpFlowStatsRequestBase()
    {
    }

    public OfpMatch Match { get; set; } = OfpMatch.All;

    /// <summary>Table to read, or <see cref="OfpConstants.TableAll"/>.</summary>
    public byte TableId { get; set; } = OfpConstants.TableAll;

    /// <summary>Only flows that output to this port; OFPP_NONE means no restriction.</summary>
    public ushort OutPort { get; set; } = (ushort)OfpPort.None;

    private protected override int StatsBodySize => BodySizeBytes;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        Match.Write(body);
        body[40] = TableId;
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(42), OutPort);
    }

    // +---------------------------------------------------------------+
    // | ofp_match (40)                                                |  0
    // +---------------+---------------+-------------------------------+
    // |   table_id    |    pad (1)    |           out_port            | 40
    // +---------------+---------------+-------------------------------+
    internal static OfpStatsRequest? TryDecode(ReadOnlySpan<byte> body, OfpFlowStatsRequestBase request)
    {
        if (body.Length != BodySizeBytes)
        {
            return null;
        }
        OfpMatch.TryRead(body, out OfpMatch match);
        request.Match = match;
        request.TableId = body[40];
        request.OutPort = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(42));
        return request;
    }
}

/// <summary>OFPST_FLOW request.</summary>
public sealed class OfpFlowStatsRequest : OfpFlowStatsRequestBase
{
    public override OfpStatsType StatsType => OfpStatsType.Flow;
}

/// <summary>OFPST_AGGREGATE request.</summary>
public sealed class OfpAggregateStatsRequest : OfpFlowStatsRequestBase
{
    public override OfpStatsType StatsType => OfpStatsType.Aggregate;
}

/// <summary>OFPST_PORT request.</summary>
public sealed class OfpPortStatsRequest : OfpStatsRequest
{
    public override OfpStatsType StatsType => OfpStatsType.Port;

    /// <summary>One port, or OFPP_NONE for all ports.</summary>
    public ushort PortNo { get; set; } = (ushort)OfpPort.None;

    private protected override int StatsBodySize => 8;

    private protected override void EncodeStatsBody(Span<byte> body) => BinaryPrimitives.WriteUInt16BigEndian(body, PortNo);

    // +-------------------------------+-------------------------------+
    // |           port_no             |           pad (6) ...         |
    // +-------------------------------+-------------------------------+
    internal static OfpStatsRequest? TryDecode(ReadOnlySpan<byte> body) =>
        body.Length != 8 ? null : new OfpPortStatsRequest { PortNo = BinaryPrimitives.ReadUInt16BigEndian(body) };
}

/// <summary>OFPST_QUEUE request.</summary>
public sealed class OfpQueueStatsRequest : OfpStatsRequest
{
    public override OfpStatsType StatsType => OfpStatsType.Queue;

    /// <summary>One port, or OFPP_ALL for all ports.</summary>
    public ushort PortNo { get; set; } = (ushort)OfpPort.All;

    /// <summary>One queue, or <see cref="OfpConstants.QueueAll"/>.</summary>
    public uint QueueId { get; set; } = OfpConstants.QueueAll;

    private protected override int StatsBodySize => 8;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, PortNo);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(4), QueueId);
    }

    // +-------------------------------+-------------------------------+
    // |           port_no             |           pad (2)             |
    // +-------------------------------+-------------------------------+
    // |                           queue_id                            |
    // +---------------------------------------------------------------+
    internal static OfpStatsRequest? TryDecode(ReadOnlySpan<byte> body) =>
        body.Length != 8
            ? null
            : new OfpQueueStatsRequest
            {
                PortNo = BinaryPrimitives.ReadUInt16BigEndian(body),
                QueueId = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(4)),
            };
}

/// <summary>
/// OFPST_PORT_DESC request (Open vSwitch's extension of OpenFlow 1.0, <see cref="OfpStatsType.PortDesc"/>): an empty body
/// (every port), as ovs-ofctl sends it to an OpenFlow 1.0 switch; a body of a port_no and 6 bytes of padding (one port,
/// OFPP_NONE every port) is taken too.
/// </summary>
public sealed class OfpPortDescStatsRequest : OfpStatsRequest
{
    public override OfpStatsType StatsType => OfpStatsType.PortDesc;

    /// <summary>One port, or OFPP_NONE for all ports.</summary>
    public ushort PortNo { get; set; } = (ushort)OfpPort.None;

    /// <summary>Whether the request carries a port_no (an empty body otherwise, which means every port).</summary>
    public bool HasPortNo { get; set; }

    private protected override int StatsBodySize => HasPortNo ? 8 : 0;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        if (HasPortNo) BinaryPrimitives.WriteUInt16BigEndian(body, PortNo);
    }

    internal static OfpStatsRequest? TryDecode(ReadOnlySpan<byte> body) => body.Length switch
    {
        0 => new OfpPortDescStatsRequest(),
        8 => new OfpPortDescStatsRequest { PortNo = BinaryPrimitives.ReadUInt16BigEndian(body), HasPortNo = true },
        _ => null,
    };
}

/// <summary>OFPST_VENDOR request. Refusing an unknown vendor (OFPBRC_BAD_VENDOR) is the session's call.</summary>
public sealed class OfpVendorStatsRequest : OfpStatsRequest
{
    public override OfpStatsType StatsType => OfpStatsType.Vendor;

    public uint Vendor { get; set; }

    /// <summary>Vendor-defined bytes after the vendor id.</summary>
    public ReadOnlyMemory<byte> Data { get; set; }

    private protected override int StatsBodySize => 4 + Data.Length;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32BigEndian(body, Vendor);
        Data.Span.CopyTo(body.Slice(4));
    }

    // +---------------------------------------------------------------+
    // |                         vendor (4)                            |
    // +---------------------------------------------------------------+
    // | data ...                                                      |
    internal static OfpStatsRequest? TryDecode(ReadOnlySpan<byte> body) =>
        (uint)body.Length < 4
            ? null
            : new OfpVendorStatsRequest { Vendor = BinaryPrimitives.ReadUInt32BigEndian(body), Data = OfpWire.Copy(body.Slice(4)) };
}

/// <summary>Base of every OFPT_STATS_REPLY. Large replies are split by the sender with OFPSF_REPLY_MORE.</summary>
public abstract class OfpStatsReply : OfpMessage
{
    public const int HeaderSize = 12;

    /// <summary>
    /// Writes the 12 bytes that open a stats reply of <paramref name="length"/> bytes (ofp_header, type, flags) at the
    /// start of <paramref name="destination"/>: for replies written entry by entry into a buffer, without a message object.
    /// </summary>
    public static void WriteHeader(Span<byte> destination, OfpStatsType type, bool more, int length, uint xid)
    {
        new OfpHeader(OfpConstants.Version, OfpType.StatsReply, checked((ushort)length), xid).Write(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(OfpHeader.Size), (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(OfpHeader.Size + 2), (ushort)(more ? OfpStatsReplyFlags.ReplyMore : 0));
    }

    private protected OfpStatsReply()
    {
    }

    public sealed override OfpType Type => OfpType.StatsReply;

    public abstract OfpStatsType StatsType { get; }

    public OfpStatsReplyFlags Flags { get; set; }

    private protected abstract int StatsBodySize { get; }

    private protected abstract void EncodeStatsBody(Span<byte> body);

    private protected sealed override int BodySize => HeaderSize - OfpHeader.Size + StatsBodySize;

    private protected sealed override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)StatsType);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(2), (ushort)Flags);
        EncodeStatsBody(body.Slice(HeaderSize - OfpHeader.Size));
    }

    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if ((uint)body.Length < HeaderSize - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        var type = (OfpStatsType)BinaryPrimitives.ReadUInt16BigEndian(body);
        var flags = (OfpStatsReplyFlags)BinaryPrimitives.ReadUInt16BigEndian(body.Slice(2));
        ReadOnlySpan<byte> stats = body.Slice(HeaderSize - OfpHeader.Size);
        error = OfpError.BadLen;
        OfpStatsReply? reply = type switch
        {
            OfpStatsType.Desc => OfpDescStatsReply.TryDecode(stats),
            OfpStatsType.Flow => OfpFlowStatsReply.TryDecode(stats, out error),
            OfpStatsType.Aggregate => OfpAggregateStatsReply.TryDecode(stats),
            OfpStatsType.Table => OfpTableStatsReply.TryDecode(stats),
            OfpStatsType.Port => OfpPortStatsReply.TryDecode(stats),
            OfpStatsType.Queue => OfpQueueStatsReply.TryDecode(stats),
            OfpStatsType.PortDesc => OfpPortDescStatsReply.TryDecode(stats),
            OfpStatsType.Vendor => OfpVendorStatsReply.TryDecode(stats),
            _ => null,
        };
        if (reply is null)
        {
            bool known = type is <= OfpStatsType.Queue or OfpStatsType.PortDesc or OfpStatsType.Vendor;
            return Fail(known ? error : OfpError.BadRequest(OfpBadRequestCode.BadStat), out message, out error);
        }
        reply.Flags = flags;
        return Success(reply, out message, out error);
    }
}

/// <summary>OFPST_DESC reply (struct ofp_desc_stats): NUL-terminated ASCII strings.</summary>
public sealed class OfpDescStatsReply : OfpStatsReply
{
    public const int BodySizeBytes = 3 * OfpConstants.DescStrSize + OfpConstants.SerialNumSize + OfpConstants.DescStrSize;

    public override OfpStatsType StatsType => OfpStatsType.Desc;

    public string MfrDesc { get; set; } = string.Empty;
    public string HwDesc { get; set; } = string.Empty;
    public string SwDesc { get; set; } = string.Empty;
    public string SerialNum { get; set; } = string.Empty;
    public string DpDesc { get; set; } = string.Empty;

    private protected override int StatsBodySize => BodySizeBytes;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        const int s = OfpConstants.DescStrSize;
        OfpWire.WriteString(MfrDesc, body.Slice(0, s));
        OfpWire.WriteString(HwDesc, body.Slice(s, s));
        OfpWire.WriteString(SwDesc, body.Slice(2 * s, s));
        OfpWire.WriteString(SerialNum, body.Slice(3 * s, OfpConstants.SerialNumSize));
        OfpWire.WriteString(DpDesc, body.Slice(3 * s + OfpConstants.SerialNumSize, s));
    }

    // +-----------------------------+
    // | mfr_desc (256)              |    0
    // | hw_desc (256)               |  256
    // | sw_desc (256)               |  512
    // | serial_num (32)             |  768
    // | dp_desc (256)               |  800
    // +-----------------------------+ 1056
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body)
    {
        const int s = OfpConstants.DescStrSize;
        if (body.Length != BodySizeBytes)
        {
            return null;
        }
        return new OfpDescStatsReply
        {
            MfrDesc = OfpWire.ReadString(body.Slice(0, s)),
            HwDesc = OfpWire.ReadString(body.Slice(s, s)),
            SwDesc = OfpWire.ReadString(body.Slice(2 * s, s)),
            SerialNum = OfpWire.ReadString(body.Slice(3 * s, OfpConstants.SerialNumSize)),
            DpDesc = OfpWire.ReadString(body.Slice(3 * s + OfpConstants.SerialNumSize, s)),
        };
    }
}

/// <summary>struct ofp_flow_stats: one flow in an OFPST_FLOW reply.</summary>
public sealed class OfpFlowStats
{
    public const int MinSize = 88;

    public byte TableId { get; set; }
    public OfpMatch Match { get; set; }
    public uint DurationSec { get; set; }
    public uint DurationNsec { get; set; }
    public ushort Priority { get; set; }
    public ushort IdleTimeout { get; set; }
    public ushort HardTimeout { get; set; }
    public ulong Cookie { get; set; }
    public ulong PacketCount { get; set; }
    public ulong ByteCount { get; set; }
    public List<OfpAction> Actions { get; set; } = new();

    /// <summary>The entry's length field: 88 + actions.</summary>
    public int EncodedSize => MinSize + OfpActions.GetEncodedSize(Actions);

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |            length             |   table_id    |    pad (1)    |  0
    // +-------------------------------+---------------+---------------+
    // | ofp_match (40)                                                |  4
    // +---------------------------------------------------------------+
    // |                        duration_sec                           | 44
    // |                        duration_nsec                          | 48
    // +-------------------------------+-------------------------------+
    // |           priority            |         idle_timeout          | 52
    // +-------------------------------+-------------------------------+
    // |         hard_timeout          |           pad2 (6) ...        | 56
    // +-------------------------------+-------------------------------+
    // |                         cookie (8)                            | 64
    // |                      packet_count (8)                         | 72
    // |                       byte_count (8)                          | 80
    // +---------------------------------------------------------------+
    // | actions (length - 88)                                         | 88
    // +---------------------------------------------------------------+
    /// <summary>Decodes one entry at the start of <paramref name="source"/>; <paramref name="size"/> is its length.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, [NotNullWhen(true)] out OfpFlowStats? stats, out int size, out OfpError error)
    {
        stats = null;
        size = 0;
        if ((uint)source.Length < MinSize)
        {
            error = OfpError.BadLen;
            return false;
        }
        int len = BinaryPrimitives.ReadUInt16BigEndian(source);
        if (len < MinSize || len > source.Length)
        {
            error = OfpError.BadLen;
            return false;
        }
        if (!OfpActions.TryDecode(source.Slice(MinSize, len - MinSize), out List<OfpAction> actions, out error))
        {
            return false;
        }
        OfpMatch.TryRead(source.Slice(4), out OfpMatch match);
        stats = new OfpFlowStats
        {
            TableId = source[2],
            Match = match,
            DurationSec = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(44)),
            DurationNsec = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(48)),
            Priority = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(52)),
            IdleTimeout = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(54)),
            HardTimeout = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(56)),
            Cookie = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(64)),
            PacketCount = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(72)),
            ByteCount = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(80)),
            Actions = actions,
        };
        size = len;
        return true;
    }

    /// <summary>Writes the entry (pads zero) and returns its size.</summary>
    public int Encode(Span<byte> destination)
    {
        int size = EncodedSize;
        if (size > ushort.MaxValue)
        {
            ThrowHelper.ThrowMessageTooLarge(size);
        }
        if ((uint)destination.Length < (uint)size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        Write(destination.Slice(0, size), TableId, Match, DurationSec, DurationNsec, Priority, IdleTimeout, HardTimeout, Cookie,
            PacketCount, ByteCount, CollectionsMarshal.AsSpan(Actions));
        return size;
    }

    /// <summary>
    /// Writes one ofp_flow_stats entry filling <paramref name="d"/> (<see cref="MinSize"/> plus the actions' size,
    /// pads zero): the one layout of an entry, for <see cref="Encode"/> and the pooled reply writer.
    /// </summary>
    internal static void Write(Span<byte> d, byte tableId, in OfpMatch match, uint durationSec, uint durationNsec, ushort priority,
                               ushort idleTimeout, ushort hardTimeout, ulong cookie, ulong packetCount, ulong byteCount,
                               ReadOnlySpan<OfpAction> actions)
    {
        d.Slice(0, MinSize).Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)d.Length);
        d[2] = tableId;
        match.Write(d.Slice(4));
        BinaryPrimitives.WriteUInt32BigEndian(d.Slice(44), durationSec);
        BinaryPrimitives.WriteUInt32BigEndian(d.Slice(48), durationNsec);
        BinaryPrimitives.WriteUInt16BigEndian(d.Slice(52), priority);
        BinaryPrimitives.WriteUInt16BigEndian(d.Slice(54), idleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(d.Slice(56), hardTimeout);
        BinaryPrimitives.WriteUInt64BigEndian(d.Slice(64), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(d.Slice(72), packetCount);
        BinaryPrimitives.WriteUInt64BigEndian(d.Slice(80), byteCount);
        OfpActions.Encode(actions, d.Slice(MinSize));
    }
}

/// <summary>OFPST_FLOW reply: a list of <see cref="OfpFlowStats"/>.</summary>
public sealed class OfpFlowStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Flow;

    public List<OfpFlowStats> Flows { get; set; } = new();

    private protected override int StatsBodySize
    {
        get
        {
            int size = 0;
            foreach (OfpFlowStats flow in CollectionsMarshal.AsSpan(Flows))
            {
                size += flow.EncodedSize;
            }
            return size;
        }
    }

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        int offset = 0;
        foreach (OfpFlowStats flow in CollectionsMarshal.AsSpan(Flows))
        {
            offset += flow.Encode(body.Slice(offset));
        }
    }

    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body, out OfpError error)
    {
        var reply = new OfpFlowStatsReply();
        error = default;
        while (!body.IsEmpty)
        {
            if (!OfpFlowStats.TryDecode(body, out OfpFlowStats? flow, out int size, out error))
            {
                return null;
            }
            reply.Flows.Add(flow);
            body = body.Slice(size);
        }
        return reply;
    }
}

/// <summary>OFPST_AGGREGATE reply.</summary>
public sealed class OfpAggregateStatsReply : OfpStatsReply
{
    public const int BodySizeBytes = 24;

    public override OfpStatsType StatsType => OfpStatsType.Aggregate;

    public ulong PacketCount { get; set; }
    public ulong ByteCount { get; set; }
    public uint FlowCount { get; set; }

    private protected override int StatsBodySize => BodySizeBytes;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt64BigEndian(body, PacketCount);
        BinaryPrimitives.WriteUInt64BigEndian(body.Slice(8), ByteCount);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(16), FlowCount);
    }

    // +---------------------------------------------------------------+
    // |                      packet_count (8)                         |  0
    // |                       byte_count (8)                          |  8
    // +---------------------------------------------------------------+
    // |                         flow_count                            | 16
    // |                           pad (4)                             | 20
    // +---------------------------------------------------------------+
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body) =>
        body.Length != BodySizeBytes
            ? null
            : new OfpAggregateStatsReply
            {
                PacketCount = BinaryPrimitives.ReadUInt64BigEndian(body),
                ByteCount = BinaryPrimitives.ReadUInt64BigEndian(body.Slice(8)),
                FlowCount = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(16)),
            };
}

/// <summary>struct ofp_table_stats (64 bytes).</summary>
public record struct OfpTableStats
{
    public const int Size = 64;

    public byte TableId { get; set; }
    public string Name { get; set; }

    /// <summary>Wildcards the table supports.</summary>
    public OfpFlowWildcards Wildcards { get; set; }

    public uint MaxEntries { get; set; }
    public uint ActiveCount { get; set; }
    public ulong LookupCount { get; set; }
    public ulong MatchedCount { get; set; }

    // +---------------+-----------------------------------------------+
    // |   table_id    |                  pad (3)                      |  0
    // +---------------+-----------------------------------------------+
    // | name (32, NUL-terminated)                                     |  4
    // +---------------------------------------------------------------+
    // |                          wildcards                            | 36
    // |                         max_entries                           | 40
    // |                        active_count                           | 44
    // |                      lookup_count (8)                         | 48
    // |                      matched_count (8)                        | 56
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> source, out OfpTableStats stats)
    {
        if ((uint)source.Length < Size)
        {
            stats = default;
            return false;
        }
        stats = new OfpTableStats
        {
            TableId = source[0],
            Name = OfpWire.ReadString(source.Slice(4, OfpConstants.MaxTableNameSize)),
            Wildcards = (OfpFlowWildcards)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(36)),
            MaxEntries = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(40)),
            ActiveCount = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(44)),
            LookupCount = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(48)),
            MatchedCount = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(56)),
        };
        return true;
    }

    public readonly void Write(Span<byte> destination)
    {
        if ((uint)destination.Length < Size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        destination.Slice(0, 4).Clear();
        destination[0] = TableId;
        OfpWire.WriteString(Name, destination.Slice(4, OfpConstants.MaxTableNameSize));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(36), (uint)Wildcards);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(40), MaxEntries);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(44), ActiveCount);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(48), LookupCount);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(56), MatchedCount);
    }
}

/// <summary>OFPST_TABLE reply.</summary>
public sealed class OfpTableStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Table;

    public List<OfpTableStats> Tables { get; set; } = new();

    private protected override int StatsBodySize => Tables.Count * OfpTableStats.Size;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        foreach (OfpTableStats table in CollectionsMarshal.AsSpan(Tables))
        {
            table.Write(body);
            body = body.Slice(OfpTableStats.Size);
        }
    }

    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body)
    {
        if (body.Length % OfpTableStats.Size != 0)
        {
            return null;
        }
        var reply = new OfpTableStatsReply { Tables = new List<OfpTableStats>(body.Length / OfpTableStats.Size) };
        for (; !body.IsEmpty; body = body.Slice(OfpTableStats.Size))
        {
            OfpTableStats.TryRead(body, out OfpTableStats table);
            reply.Tables.Add(table);
        }
        return reply;
    }
}

/// <summary>struct ofp_port_stats (104 bytes). Unsupported counters are all ones.</summary>
public record struct OfpPortStats
{
    public const int Size = 104;

    /// <summary>Value of a counter the switch does not support.</summary>
    public const ulong Unsupported = ulong.MaxValue;

    public ushort PortNo { get; set; }
    public ulong RxPackets { get; set; }
    public ulong TxPackets { get; set; }
    public ulong RxBytes { get; set; }
    public ulong TxBytes { get; set; }
    public ulong RxDropped { get; set; }
    public ulong TxDropped { get; set; }
    public ulong RxErrors { get; set; }
    public ulong TxErrors { get; set; }
    public ulong RxFrameErr { get; set; }
    public ulong RxOverErr { get; set; }
    public ulong RxCrcErr { get; set; }
    public ulong Collisions { get; set; }

    // +-------------------------------+-------------------------------+
    // |           port_no             |           pad (6) ...         |  0
    // +-------------------------------+-------------------------------+
    // | rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped,       |  8
    // | tx_dropped, rx_errors, tx_errors, rx_frame_err, rx_over_err,  |
    // | rx_crc_err, collisions: 12 x u64                              |
    // +---------------------------------------------------------------+ 104
    public static bool TryRead(ReadOnlySpan<byte> source, out OfpPortStats stats)
    {
        if ((uint)source.Length < Size)
        {
            stats = default;
            return false;
        }
        stats = new OfpPortStats
        {
            PortNo = BinaryPrimitives.ReadUInt16BigEndian(source),
            RxPackets = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(8)),
            TxPackets = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(16)),
            RxBytes = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(24)),
            TxBytes = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(32)),
            RxDropped = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(40)),
            TxDropped = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(48)),
            RxErrors = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(56)),
            TxErrors = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(64)),
            RxFrameErr = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(72)),
            RxOverErr = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(80)),
            RxCrcErr = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(88)),
            Collisions = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(96)),
        };
        return true;
    }

    public readonly void Write(Span<byte> destination)
    {
        if ((uint)destination.Length < Size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        destination.Slice(0, 8).Clear();
        BinaryPrimitives.WriteUInt16BigEndian(destination, PortNo);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(8), RxPackets);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(16), TxPackets);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(24), RxBytes);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(32), TxBytes);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(40), RxDropped);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(48), TxDropped);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(56), RxErrors);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(64), TxErrors);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(72), RxFrameErr);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(80), RxOverErr);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(88), RxCrcErr);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(96), Collisions);
    }
}

/// <summary>OFPST_PORT reply.</summary>
public sealed class OfpPortStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Port;

    public List<OfpPortStats> Ports { get; set; } = new();

    private protected override int StatsBodySize => Ports.Count * OfpPortStats.Size;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        foreach (OfpPortStats port in CollectionsMarshal.AsSpan(Ports))
        {
            port.Write(body);
            body = body.Slice(OfpPortStats.Size);
        }
    }

    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body)
    {
        if (body.Length % OfpPortStats.Size != 0)
        {
            return null;
        }
        var reply = new OfpPortStatsReply { Ports = new List<OfpPortStats>(body.Length / OfpPortStats.Size) };
        for (; !body.IsEmpty; body = body.Slice(OfpPortStats.Size))
        {
            OfpPortStats.TryRead(body, out OfpPortStats port);
            reply.Ports.Add(port);
        }
        return reply;
    }
}

/// <summary>struct ofp_queue_stats (32 bytes).</summary>
public record struct OfpQueueStats
{
    public const int Size = 32;

    public ushort PortNo { get; set; }
    public uint QueueId { get; set; }
    public ulong TxBytes { get; set; }
    public ulong TxPackets { get; set; }
    public ulong TxErrors { get; set; }

    // +-------------------------------+-------------------------------+
    // |           port_no             |           pad (2)             |  0
    // +-------------------------------+-------------------------------+
    // |                           queue_id                            |  4
    // |                        tx_bytes (8)                           |  8
    // |                       tx_packets (8)                          | 16
    // |                        tx_errors (8)                          | 24
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> source, out OfpQueueStats stats)
    {
        if ((uint)source.Length < Size)
        {
            stats = default;
            return false;
        }
        stats = new OfpQueueStats
        {
            PortNo = BinaryPrimitives.ReadUInt16BigEndian(source),
            QueueId = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)),
            TxBytes = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(8)),
            TxPackets = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(16)),
            TxErrors = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(24)),
        };
        return true;
    }

    public readonly void Write(Span<byte> destination)
    {
        if ((uint)destination.Length < Size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        BinaryPrimitives.WriteUInt16BigEndian(destination, PortNo);
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4), QueueId);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(8), TxBytes);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(16), TxPackets);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(24), TxErrors);
    }
}

/// <summary>OFPST_QUEUE reply.</summary>
public sealed class OfpQueueStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Queue;

    public List<OfpQueueStats> Queues { get; set; } = new();

    private protected override int StatsBodySize => Queues.Count * OfpQueueStats.Size;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        foreach (OfpQueueStats queue in CollectionsMarshal.AsSpan(Queues))
        {
            queue.Write(body);
            body = body.Slice(OfpQueueStats.Size);
        }
    }

    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body)
    {
        if (body.Length % OfpQueueStats.Size != 0)
        {
            return null;
        }
        var reply = new OfpQueueStatsReply { Queues = new List<OfpQueueStats>(body.Length / OfpQueueStats.Size) };
        for (; !body.IsEmpty; body = body.Slice(OfpQueueStats.Size))
        {
            OfpQueueStats.TryRead(body, out OfpQueueStats queue);
            reply.Queues.Add(queue);
        }
        return reply;
    }
}

/// <summary>OFPST_PORT_DESC reply (<see cref="OfpStatsType.PortDesc"/>): ofp_phy_port entries.</summary>
public sealed class OfpPortDescStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.PortDesc;

    public List<OfpPhyPort> Ports { get; set; } = new();

    private protected override int StatsBodySize => Ports.Count * OfpPhyPort.Size;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        foreach (OfpPhyPort port in CollectionsMarshal.AsSpan(Ports))
        {
            port.Write(body);
            body = body.Slice(OfpPhyPort.Size);
        }
    }

    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body)
    {
        if (body.Length % OfpPhyPort.Size != 0)
        {
            return null;
        }
        var reply = new OfpPortDescStatsReply { Ports = new List<OfpPhyPort>(body.Length / OfpPhyPort.Size) };
        for (; !body.IsEmpty; body = body.Slice(OfpPhyPort.Size))
        {
            OfpPhyPort.TryRead(body, out OfpPhyPort port);
            reply.Ports.Add(port);
        }
        return reply;
    }
}

/// <summary>OFPST_VENDOR reply.</summary>
public sealed class OfpVendorStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Vendor;

    public uint Vendor { get; set; }

    public ReadOnlyMemory<byte> Data { get; set; }

    private protected override int StatsBodySize => 4 + Data.Length;

    private protected override void EncodeStatsBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32BigEndian(body, Vendor);
        Data.Span.CopyTo(body.Slice(4));
    }

    // +---------------------------------------------------------------+
    // |                         vendor (4)                            |
    // +---------------------------------------------------------------+
    // | data ...                                                      |
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body) =>
        (uint)body.Length < 4
            ? null
            : new OfpVendorStatsReply { Vendor = BinaryPrimitives.ReadUInt32BigEndian(body), Data = OfpWire.Copy(body.Slice(4)) };
}
