using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of10;

// OFPT_STATS_REPLY: one class per stats type behind a common base (the layout and each type's body: see
// OfpStatsRequest.cs); the fixed-size entries and the flow entry are in OfpStatsBodies.cs.

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
        new OfpHeader(OfpConstants.Version, (byte)OfpType.StatsReply, checked((ushort)length), xid).Write(destination);
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

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |             ofp_header (8): OFPT_STATS_REPLY (17)             |   0
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

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |     ofp_flow_stats (length): above OfpFlowStats.TryDecode     |   0
    // +---------------------------------------------------------------+
    // |          entries back to back, to the end of the body         | len
    // +---------------------------------------------------------------+
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

/// <summary>OFPST_TABLE reply.</summary>
public sealed class OfpTableStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Table;

    public List<OfpTableStats> Tables { get; set; } = new();

    private protected override int StatsBodySize => Tables.Count * OfpTableStats.Size;

    private protected override void EncodeStatsBody(Span<byte> body) => OfpStatsList.Write(Tables, body);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_table_stats (64): the diagram above OfpTableStats.TryRead |   0
    // +---------------------------------------------------------------+
    // |          entries back to back, to the end of the body         |  64
    // +---------------------------------------------------------------+
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body) =>
        OfpStatsList.TryRead<OfpTableStats>(body) is { } tables ? new OfpTableStatsReply { Tables = tables } : null;
}

/// <summary>OFPST_PORT reply.</summary>
public sealed class OfpPortStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Port;

    public List<OfpPortStats> Ports { get; set; } = new();

    private protected override int StatsBodySize => Ports.Count * OfpPortStats.Size;

    private protected override void EncodeStatsBody(Span<byte> body) => OfpStatsList.Write(Ports, body);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |  ofp_port_stats (104): the diagram above OfpPortStats.TryRead |   0
    // +---------------------------------------------------------------+
    // |          entries back to back, to the end of the body         | 104
    // +---------------------------------------------------------------+
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body) =>
        OfpStatsList.TryRead<OfpPortStats>(body) is { } ports ? new OfpPortStatsReply { Ports = ports } : null;
}

/// <summary>OFPST_QUEUE reply.</summary>
public sealed class OfpQueueStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.Queue;

    public List<OfpQueueStats> Queues { get; set; } = new();

    private protected override int StatsBodySize => Queues.Count * OfpQueueStats.Size;

    private protected override void EncodeStatsBody(Span<byte> body) => OfpStatsList.Write(Queues, body);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_queue_stats (32): the diagram above OfpQueueStats.TryRead |   0
    // +---------------------------------------------------------------+
    // |          entries back to back, to the end of the body         |  32
    // +---------------------------------------------------------------+
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body) =>
        OfpStatsList.TryRead<OfpQueueStats>(body) is { } queues ? new OfpQueueStatsReply { Queues = queues } : null;
}

/// <summary>OFPST_PORT_DESC reply (<see cref="OfpStatsType.PortDesc"/>): ofp_phy_port entries.</summary>
public sealed class OfpPortDescStatsReply : OfpStatsReply
{
    public override OfpStatsType StatsType => OfpStatsType.PortDesc;

    public List<OfpPhyPort> Ports { get; set; } = new();

    private protected override int StatsBodySize => Ports.Count * OfpPhyPort.Size;

    private protected override void EncodeStatsBody(Span<byte> body) => OfpStatsList.Write(Ports, body);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |    ofp_phy_port (48): the diagram above OfpPhyPort.TryRead    |   0
    // +---------------------------------------------------------------+
    // |          entries back to back, to the end of the body         |  48
    // +---------------------------------------------------------------+
    internal static OfpStatsReply? TryDecode(ReadOnlySpan<byte> body) =>
        OfpStatsList.TryRead<OfpPhyPort>(body) is { } ports ? new OfpPortDescStatsReply { Ports = ports } : null;
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
