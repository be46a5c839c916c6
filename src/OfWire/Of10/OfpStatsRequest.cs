using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

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
        OfpStatsRequest? request;
        bool ok = type switch
        {
            OfpStatsType.Desc => TryDecodeEmpty(stats, new OfpDescStatsRequest(), out request, out error),
            OfpStatsType.Flow => OfpFlowStatsRequestBase.TryDecode(stats, new OfpFlowStatsRequest(), out request, out error),
            OfpStatsType.Aggregate => OfpFlowStatsRequestBase.TryDecode(stats, new OfpAggregateStatsRequest(), out request, out error),
            OfpStatsType.Table => TryDecodeEmpty(stats, new OfpTableStatsRequest(), out request, out error),
            OfpStatsType.Port => OfpPortStatsRequest.TryDecode(stats, out request, out error),
            OfpStatsType.Queue => OfpQueueStatsRequest.TryDecode(stats, out request, out error),
            OfpStatsType.PortDesc => OfpPortDescStatsRequest.TryDecode(stats, out request, out error),
            OfpStatsType.Vendor => OfpVendorStatsRequest.TryDecode(stats, out request, out error),
            _ => Refuse(OfpError.BadRequest(OfpBadRequestCode.BadStat), out request, out error),
        };
        if (!ok)
        {
            return Fail(error, out message, out error);
        }
        request!.Flags = flags;
        return Success(request, out message, out error);
    }

    /// <summary>A body that must be empty (OFPST_DESC, OFPST_TABLE): <paramref name="value"/>, else BAD_LEN.</summary>
    private static bool TryDecodeEmpty(ReadOnlySpan<byte> body, OfpStatsRequest value, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error) =>
        body.IsEmpty ? Accept(value, out request, out error) : Refuse(OfpError.BadLen, out request, out error);

    private protected static bool Accept(OfpStatsRequest value, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error)
    {
        request = value;
        error = default;
        return true;
    }

    private protected static bool Refuse(OfpError reason, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error)
    {
        request = null;
        error = reason;
        return false;
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
    /// <summary>Reads the body into <paramref name="into"/>; BAD_LEN unless it is 44 bytes.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, OfpFlowStatsRequestBase into, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error)
    {
        if (body.Length != BodySizeBytes)
        {
            return Refuse(OfpError.BadLen, out request, out error);
        }
        OfpMatch.TryRead(body, out OfpMatch match);
        into.Match = match;
        into.TableId = body[40];
        into.OutPort = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(42));
        return Accept(into, out request, out error);
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
    /// <summary>BAD_LEN unless the body is 8 bytes.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error) =>
        body.Length != 8
            ? Refuse(OfpError.BadLen, out request, out error)
            : Accept(new OfpPortStatsRequest { PortNo = BinaryPrimitives.ReadUInt16BigEndian(body) }, out request, out error);
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
    /// <summary>BAD_LEN unless the body is 8 bytes.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error) =>
        body.Length != 8
            ? Refuse(OfpError.BadLen, out request, out error)
            : Accept(new OfpQueueStatsRequest
            {
                PortNo = BinaryPrimitives.ReadUInt16BigEndian(body),
                QueueId = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(4)),
            }, out request, out error);
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
    /// <summary>BAD_LEN unless the body is empty or 8 bytes.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error) => body.Length switch
    {
        0 => Accept(new OfpPortDescStatsRequest(), out request, out error),
        8 => Accept(new OfpPortDescStatsRequest { PortNo = BinaryPrimitives.ReadUInt16BigEndian(body), HasPortNo = true }, out request, out error),
        _ => Refuse(OfpError.BadLen, out request, out error),
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
    /// <summary>BAD_LEN when the body is shorter than the vendor id.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsRequest? request, out OfpError error) =>
        (uint)body.Length < 4
            ? Refuse(OfpError.BadLen, out request, out error)
            : Accept(new OfpVendorStatsRequest { Vendor = BinaryPrimitives.ReadUInt32BigEndian(body), Data = OfpWire.Copy(body.Slice(4)) }, out request, out error);
}
