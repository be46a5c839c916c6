using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

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

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |            ofp_header (8): OFPT_STATS_REQUEST (16)            |   0
    // +-------------------------------+-------------------------------+
    // |         type: OFPST_*         |             flags             |   8
    // +-------------------------------+-------------------------------+
    // |                  body (length - 12), by type                  |  12
    // +---------------------------------------------------------------+
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

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |            port_no            |              pad              |   0
    // +-------------------------------+-------------------------------+
    // |                              pad                              |   4
    // +---------------------------------------------------------------+
    // Or an empty body (every port).
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
