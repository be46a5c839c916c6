using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
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
        OfpStatsReply? reply;
        bool ok = type switch
        {
            OfpStatsType.Desc => OfpDescStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.Flow => OfpFlowStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.Aggregate => OfpAggregateStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.Table => OfpTableStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.Port => OfpPortStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.Queue => OfpQueueStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.PortDesc => OfpPortDescStatsReply.TryDecode(stats, out reply, out error),
            OfpStatsType.Vendor => OfpVendorStatsReply.TryDecode(stats, out reply, out error),
            _ => Refuse(OfpError.BadRequest(OfpBadRequestCode.BadStat), out reply, out error),
        };
        if (!ok)
        {
            return Fail(error, out message, out error);
        }
        reply!.Flags = flags;
        return Success(reply, out message, out error);
    }

    private protected static bool Accept(OfpStatsReply value, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        reply = value;
        error = default;
        return true;
    }

    private protected static bool Refuse(OfpError reason, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        reply = null;
        error = reason;
        return false;
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
    /// <summary>BAD_LEN unless the body is 1,056 bytes.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        const int s = OfpConstants.DescStrSize;
        if (body.Length != BodySizeBytes)
        {
            return Refuse(OfpError.BadLen, out reply, out error);
        }
        return Accept(new OfpDescStatsReply
        {
            MfrDesc = OfpWire.ReadString(body.Slice(0, s)),
            HwDesc = OfpWire.ReadString(body.Slice(s, s)),
            SwDesc = OfpWire.ReadString(body.Slice(2 * s, s)),
            SerialNum = OfpWire.ReadString(body.Slice(3 * s, OfpConstants.SerialNumSize)),
            DpDesc = OfpWire.ReadString(body.Slice(3 * s + OfpConstants.SerialNumSize, s)),
        }, out reply, out error);
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
    /// <summary>Reads each entry to the end of the body; false with the first entry's error.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        var flows = new OfpFlowStatsReply();
        while (!body.IsEmpty)
        {
            if (!OfpFlowStats.TryDecode(body, out OfpFlowStats? flow, out int size, out error))
            {
                return Refuse(error, out reply, out error);
            }
            flows.Flows.Add(flow);
            body = body.Slice(size);
        }
        return Accept(flows, out reply, out error);
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
    /// <summary>BAD_LEN unless the body is 24 bytes.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error) =>
        body.Length != BodySizeBytes
            ? Refuse(OfpError.BadLen, out reply, out error)
            : Accept(new OfpAggregateStatsReply
            {
                PacketCount = BinaryPrimitives.ReadUInt64BigEndian(body),
                ByteCount = BinaryPrimitives.ReadUInt64BigEndian(body.Slice(8)),
                FlowCount = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(16)),
            }, out reply, out error);
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
    /// <summary>BAD_LEN unless the body is a whole number of entries.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        var tables = new List<OfpTableStats>();
        return OfpStatsList.TryDecode(body, tables, out error) ? Accept(new OfpTableStatsReply { Tables = tables }, out reply, out error) : Refuse(error, out reply, out error);
    }
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
    /// <summary>BAD_LEN unless the body is a whole number of entries.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        var ports = new List<OfpPortStats>();
        return OfpStatsList.TryDecode(body, ports, out error) ? Accept(new OfpPortStatsReply { Ports = ports }, out reply, out error) : Refuse(error, out reply, out error);
    }
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
    /// <summary>BAD_LEN unless the body is a whole number of entries.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        var queues = new List<OfpQueueStats>();
        return OfpStatsList.TryDecode(body, queues, out error) ? Accept(new OfpQueueStatsReply { Queues = queues }, out reply, out error) : Refuse(error, out reply, out error);
    }
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
    /// <summary>BAD_LEN unless the body is a whole number of entries.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error)
    {
        var ports = new List<OfpPhyPort>();
        return OfpStatsList.TryDecode(body, ports, out error) ? Accept(new OfpPortDescStatsReply { Ports = ports }, out reply, out error) : Refuse(error, out reply, out error);
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
    /// <summary>BAD_LEN when the body is shorter than the vendor id.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out OfpStatsReply? reply, out OfpError error) =>
        (uint)body.Length < 4
            ? Refuse(OfpError.BadLen, out reply, out error)
            : Accept(new OfpVendorStatsReply { Vendor = BinaryPrimitives.ReadUInt32BigEndian(body), Data = OfpWire.Copy(body.Slice(4)) }, out reply, out error);
}
