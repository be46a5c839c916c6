using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of10;

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

/// <summary>struct ofp_table_stats (64 bytes).</summary>
public record struct OfpTableStats : IOfpStatsEntry<OfpTableStats>
{
    public const int Size = 64;

    static int IOfpStatsEntry<OfpTableStats>.EntrySize => Size;

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

/// <summary>struct ofp_port_stats (104 bytes). Unsupported counters are all ones.</summary>
public record struct OfpPortStats : IOfpStatsEntry<OfpPortStats>
{
    public const int Size = 104;

    static int IOfpStatsEntry<OfpPortStats>.EntrySize => Size;

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

/// <summary>struct ofp_queue_stats (32 bytes).</summary>
public record struct OfpQueueStats : IOfpStatsEntry<OfpQueueStats>
{
    public const int Size = 32;

    static int IOfpStatsEntry<OfpQueueStats>.EntrySize => Size;

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

/// <summary>A fixed-size entry of a stats reply's list body (ofp_table_stats, ofp_port_stats, ofp_queue_stats, ofp_phy_port).</summary>
internal interface IOfpStatsEntry<T> where T : struct, IOfpStatsEntry<T>
{
    static abstract int EntrySize { get; }

    static abstract bool TryRead(ReadOnlySpan<byte> source, out T entry);

    void Write(Span<byte> destination);
}

/// <summary>Reads and writes a stats reply's list of fixed-size entries.</summary>
internal static class OfpStatsList
{
    public static void Write<T>(List<T> entries, Span<byte> body) where T : struct, IOfpStatsEntry<T>
    {
        foreach (T entry in CollectionsMarshal.AsSpan(entries))
        {
            entry.Write(body);
            body = body.Slice(T.EntrySize);
        }
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |        entry (T.EntrySize): the diagram above T.TryRead       |   0
    // +---------------------------------------------------------------+
    // |          entries back to back, to the end of the body         |   n
    // +---------------------------------------------------------------+
    /// <summary>Reads the entries of <paramref name="body"/> into <paramref name="into"/> (appended); BAD_LEN when it is not a whole number of them.</summary>
    public static bool TryDecode<T>(ReadOnlySpan<byte> body, List<T> into, out OfpError error) where T : struct, IOfpStatsEntry<T>
    {
        if (body.Length % T.EntrySize != 0)
        {
            error = OfpError.BadLen;
            return false;
        }
        into.EnsureCapacity(into.Count + body.Length / T.EntrySize);
        for (; !body.IsEmpty; body = body.Slice(T.EntrySize))
        {
            T.TryRead(body, out T entry);
            into.Add(entry);
        }
        error = default;
        return true;
    }
}
