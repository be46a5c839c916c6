using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;

namespace Softswitch.OfWire.Of13;

/// <summary>
/// One entry of an OpenFlow 1.3 multipart reply body: written in wire order (pads as zero), read back with every
/// length checked against the span. <see cref="TryRead"/> never throws and never reads outside the span; it returns
/// false for what the entry cannot hold (a length that does not fit, an experimenter element).
/// </summary>
public interface IOfp13Entry<TSelf> where TSelf : IOfp13Entry<TSelf>
{
    /// <summary>Appends the entry's bytes.</summary>
    void Write(Ofp13Writer w);

    /// <summary>Reads one entry from the start of <paramref name="s"/>; <paramref name="size"/> is the bytes it took.</summary>
    static abstract bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out TSelf entry, out int size);
}

/// <summary>Whole multipart reply bodies: a list of entries of one type.</summary>
public static class Ofp13Entries
{
    /// <summary>Reads entries until the body ends; false when one does not read.</summary>
    public static bool TryReadAll<T>(ReadOnlySpan<byte> body, List<T> into) where T : IOfp13Entry<T>
    {
        while (!body.IsEmpty)
        {
            if (!T.TryRead(body, out var e, out int size) || size <= 0 || size > body.Length) return false;
            into.Add(e);
            body = body[size..];
        }
        return true;
    }

    /// <summary>
    /// A fixed-size NUL-terminated string as <see cref="Ofp13Writer.FixedString"/> writes it: UTF-8 up to the first NUL,
    /// the field's last byte (the spec's terminator) or the first byte that is not UTF-8, whichever comes first. So
    /// what is read is written back the same, and reads the same again.
    /// </summary>
    public static string ReadFixedString(ReadOnlySpan<byte> field)
    {
        var s = field.IsEmpty ? field : field[..^1];
        int nul = s.IndexOf((byte)0);
        if (nul >= 0) s = s[..nul];
        int valid = 0;
        while (valid < s.Length && Rune.DecodeFromUtf8(s[valid..], out _, out int n) == System.Buffers.OperationStatus.Done) valid += n;
        return Encoding.UTF8.GetString(s[..valid]);
    }

    /// <summary>A duration in nanoseconds as the duration_sec and duration_nsec fields of a stats entry.</summary>
    public static void Duration(long nanos, out uint sec, out uint nsec)
    {
        sec = (uint)(nanos / 1_000_000_000);
        nsec = (uint)(nanos % 1_000_000_000);
    }
}

/// <summary>OFPMP_DESC's body, ofp_desc (1056 bytes).</summary>
public sealed record Ofp13Desc(string Manufacturer, string Hardware, string Software, string SerialNumber, string Datapath)
    : IOfp13Entry<Ofp13Desc>
{
    public const int Size = 4 * Ofp13.DescStrLen + Ofp13.SerialNumLen;

    public void Write(Ofp13Writer w)
    {
        w.FixedString(Manufacturer, Ofp13.DescStrLen);
        w.FixedString(Hardware, Ofp13.DescStrLen);
        w.FixedString(Software, Ofp13.DescStrLen);
        w.FixedString(SerialNumber, Ofp13.SerialNumLen);
        w.FixedString(Datapath, Ofp13.DescStrLen);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         mfr_desc (256)                        |   0
    // +---------------------------------------------------------------+
    // |                         hw_desc (256)                         | 256
    // +---------------------------------------------------------------+
    // |                         sw_desc (256)                         | 512
    // +---------------------------------------------------------------+
    // |                        serial_num (32)                        | 768
    // +---------------------------------------------------------------+
    // |                         dp_desc (256)                         | 800
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13Desc entry, out int size)
    {
        entry = null;
        size = Size;
        if (s.Length < Size) return false;
        const int D = Ofp13.DescStrLen;
        entry = new(Ofp13Entries.ReadFixedString(s[..D]), Ofp13Entries.ReadFixedString(s[D..(2 * D)]),
                    Ofp13Entries.ReadFixedString(s[(2 * D)..(3 * D)]), Ofp13Entries.ReadFixedString(s[(3 * D)..(3 * D + Ofp13.SerialNumLen)]),
                    Ofp13Entries.ReadFixedString(s[(3 * D + Ofp13.SerialNumLen)..Size]));
        return true;
    }
}

/// <summary>
/// OFPMP_FLOW's entry, ofp_flow_stats: 48 fixed bytes, the match (padded to 8), the instructions. Mutable so that a
/// long reply reuses one (its lists are cleared and refilled per flow).
/// </summary>
public sealed class Ofp13FlowStats : IOfp13Entry<Ofp13FlowStats>
{
    /// <summary>The bytes before the match.</summary>
    public const int FixedSize = 48;

    public byte TableId;
    public uint DurationSec, DurationNsec;
    public ushort Priority, IdleTimeout, HardTimeout, Flags;
    /// <summary>OpenFlow 1.4's importance (1.3's pad: the writer of a 1.3 reply leaves it 0).</summary>
    public ushort Importance;
    public ulong Cookie, PacketCount, ByteCount;
    public readonly List<Ofp13Oxm> Match = new();
    public readonly List<Ofp13Instruction> Instructions = new();

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.U8(TableId); w.U8(0); w.U32(DurationSec); w.U32(DurationNsec);
        w.U16(Priority); w.U16(IdleTimeout); w.U16(HardTimeout); w.U16(Flags); w.U16(Importance); w.Zeros(2);
        w.U64(Cookie); w.U64(PacketCount); w.U64(ByteCount);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
        Ofp13Instructions.Encode(w, Instructions);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |             length            |    table_id   |      pad      |   0
    // +---------------------------------------------------------------+
    // |                          duration_sec                         |   4
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         |   8
    // +-------------------------------+-------------------------------+
    // |            priority           |          idle_timeout         |  12
    // +-------------------------------+-------------------------------+
    // |          hard_timeout         |             flags             |  16
    // +-------------------------------+-------------------------------+
    // |  pad (1.4, 1.5: importance)   |              pad              |  20
    // +-------------------------------+-------------------------------+
    // |                           cookie (8)                          |  24
    // +---------------------------------------------------------------+
    // |                        packet_count (8)                       |  32
    // +---------------------------------------------------------------+
    // |                         byte_count (8)                        |  40
    // +---------------------------------------------------------------+
    // |                    ofp_match (padded to 8)                    |  48
    // +---------------------------------------------------------------+
    // |                    instructions (to length)                   | 48+m
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13FlowStats entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < 56) return false;
        size = Be.U16(s, 0);
        if (size < 56 || size > s.Length) return false;
        var e = new Ofp13FlowStats
        {
            TableId = s[2], DurationSec = Be.U32(s, 4), DurationNsec = Be.U32(s, 8), Priority = Be.U16(s, 12), IdleTimeout = Be.U16(s, 14),
            HardTimeout = Be.U16(s, 16), Flags = Be.U16(s, 18), Importance = Be.U16(s, 20), Cookie = Be.U64(s, 24), PacketCount = Be.U64(s, 32), ByteCount = Be.U64(s, 40),
        };
        if (!Ofp13Match.TryDecode(s[48..size], e.Match, out int matchSize, out _)) return false;
        if (!Ofp13Instructions.TryDecode(s[(48 + matchSize)..size], e.Instructions, out _)) return false;
        entry = e;
        return true;
    }
}

/// <summary>OFPMP_AGGREGATE's body, ofp_aggregate_stats_reply (24 bytes).</summary>
public readonly record struct Ofp13AggregateStats(ulong PacketCount, ulong ByteCount, uint FlowCount) : IOfp13Entry<Ofp13AggregateStats>
{
    public const int Size = 24;

    public void Write(Ofp13Writer w)
    {
        w.U64(PacketCount); w.U64(ByteCount); w.U32(FlowCount); w.Zeros(4);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                        packet_count (8)                       |   0
    // +---------------------------------------------------------------+
    // |                         byte_count (8)                        |   8
    // +---------------------------------------------------------------+
    // |                           flow_count                          |  16
    // +---------------------------------------------------------------+
    // |                              pad                              |  20
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13AggregateStats entry, out int size)
    {
        size = Size;
        entry = s.Length < Size ? default : new(Be.U64(s, 0), Be.U64(s, 8), Be.U32(s, 16));
        return s.Length >= Size;
    }
}

/// <summary>OFPMP_TABLE's entry, ofp_table_stats (24 bytes).</summary>
public readonly record struct Ofp13TableStats(byte TableId, uint ActiveCount, ulong LookupCount, ulong MatchedCount) : IOfp13Entry<Ofp13TableStats>
{
    public const int Size = 24;

    public void Write(Ofp13Writer w)
    {
        w.U8(TableId); w.Zeros(3); w.U32(ActiveCount); w.U64(LookupCount); w.U64(MatchedCount);
    }

    //  0                   1                   2                   3
    // +---------------+-----------------------------------------------+
    // |    table_id   |                      pad                      |   0
    // +---------------------------------------------------------------+
    // |                          active_count                         |   4
    // +---------------------------------------------------------------+
    // |                        lookup_count (8)                       |   8
    // +---------------------------------------------------------------+
    // |                       matched_count (8)                       |  16
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13TableStats entry, out int size)
    {
        size = Size;
        entry = s.Length < Size ? default : new(s[0], Be.U32(s, 4), Be.U64(s, 8), Be.U64(s, 16));
        return s.Length >= Size;
    }
}

/// <summary>OFPMP_PORT_STATS's entry, ofp_port_stats (112 bytes).</summary>
public readonly record struct Ofp13PortStats(uint PortNo, ulong RxPackets, ulong TxPackets, ulong RxBytes, ulong TxBytes, ulong RxDropped,
    ulong TxDropped, ulong RxErrors, ulong TxErrors, ulong RxFrameErrors, ulong RxOverErrors, ulong RxCrcErrors, ulong Collisions,
    uint DurationSec, uint DurationNsec) : IOfp13Entry<Ofp13PortStats>
{
    public const int Size = 112;

    public void Write(Ofp13Writer w)
    {
        w.U32(PortNo); w.Zeros(4);
        w.U64(RxPackets); w.U64(TxPackets); w.U64(RxBytes); w.U64(TxBytes); w.U64(RxDropped); w.U64(TxDropped);
        w.U64(RxErrors); w.U64(TxErrors); w.U64(RxFrameErrors); w.U64(RxOverErrors); w.U64(RxCrcErrors); w.U64(Collisions);
        w.U32(DurationSec); w.U32(DurationNsec);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            port_no                            |   0
    // +---------------------------------------------------------------+
    // |                              pad                              |   4
    // +---------------------------------------------------------------+
    // |      rx_packets, tx_packets, rx_bytes, tx_bytes (8 each)      |   8
    // +---------------------------------------------------------------+
    // |     rx_dropped, tx_dropped, rx_errors, tx_errors (8 each)     |  40
    // +---------------------------------------------------------------+
    // |   rx_frame_err, rx_over_err, rx_crc_err, collisions (8 each)  |  72
    // +---------------------------------------------------------------+
    // |                          duration_sec                         | 104
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         | 108
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13PortStats entry, out int size)
    {
        size = Size;
        entry = default;
        if (s.Length < Size) return false;
        entry = new(Be.U32(s, 0), Be.U64(s, 8), Be.U64(s, 16), Be.U64(s, 24), Be.U64(s, 32), Be.U64(s, 40), Be.U64(s, 48), Be.U64(s, 56),
                    Be.U64(s, 64), Be.U64(s, 72), Be.U64(s, 80), Be.U64(s, 88), Be.U64(s, 96), Be.U32(s, 104), Be.U32(s, 108));
        return true;
    }
}

/// <summary>OFPMP_QUEUE's entry, ofp_queue_stats (40 bytes).</summary>
public readonly record struct Ofp13QueueStats(uint PortNo, uint QueueId, ulong TxBytes, ulong TxPackets, ulong TxErrors, uint DurationSec,
    uint DurationNsec) : IOfp13Entry<Ofp13QueueStats>
{
    public const int Size = 40;

    public void Write(Ofp13Writer w)
    {
        w.U32(PortNo); w.U32(QueueId); w.U64(TxBytes); w.U64(TxPackets); w.U64(TxErrors); w.U32(DurationSec); w.U32(DurationNsec);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            port_no                            |   0
    // +---------------------------------------------------------------+
    // |                            queue_id                           |   4
    // +---------------------------------------------------------------+
    // |                          tx_bytes (8)                         |   8
    // +---------------------------------------------------------------+
    // |                         tx_packets (8)                        |  16
    // +---------------------------------------------------------------+
    // |                         tx_errors (8)                         |  24
    // +---------------------------------------------------------------+
    // |                          duration_sec                         |  32
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         |  36
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13QueueStats entry, out int size)
    {
        size = Size;
        entry = s.Length < Size ? default : new(Be.U32(s, 0), Be.U32(s, 4), Be.U64(s, 8), Be.U64(s, 16), Be.U64(s, 24), Be.U32(s, 32), Be.U32(s, 36));
        return s.Length >= Size;
    }
}

/// <summary>OFPMP_PORT_DESC's entry: an <see cref="Ofp13Port"/> (64 bytes).</summary>
public readonly record struct Ofp13PortDesc(Ofp13Port Port) : IOfp13Entry<Ofp13PortDesc>
{
    public void Write(Ofp13Writer w) => Port.Write(w);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |        ofp_port (64): the diagram above Ofp13Port.TryRead     |   0
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13PortDesc entry, out int size)
    {
        bool read = Ofp13Port.TryRead(s, out var port, out size);
        entry = read ? new(port) : default;
        return read;
    }
}
