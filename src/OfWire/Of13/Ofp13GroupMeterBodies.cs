using System.Diagnostics.CodeAnalysis;

namespace Softswitch.OfWire.Of13;

/// <summary>A packet and byte counter pair: ofp_bucket_counter (GROUP) and ofp_meter_band_stats (METER), 16 bytes each.</summary>
public readonly record struct Ofp13Counter(ulong PacketCount, ulong ByteCount);

/// <summary>OFPMP_GROUP's entry, ofp_group_stats: 40 bytes and a counter per bucket.</summary>
public sealed record Ofp13GroupStats(uint GroupId, uint RefCount, ulong PacketCount, ulong ByteCount, uint DurationSec, uint DurationNsec,
                                     Ofp13Counter[] Buckets) : IOfp13Entry<Ofp13GroupStats>
{
    public void Write(Ofp13Writer w)
    {
        w.U16((ushort)(40 + 16 * Buckets.Length)); w.Zeros(2); w.U32(GroupId); w.U32(RefCount); w.Zeros(4);
        w.U64(PacketCount); w.U64(ByteCount); w.U32(DurationSec); w.U32(DurationNsec);
        foreach (var b in Buckets)
        {
            w.U64(b.PacketCount); w.U64(b.ByteCount);
        }
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |              pad              |   0
    // +---------------------------------------------------------------+
    // |                            group_id                           |   4
    // +---------------------------------------------------------------+
    // |                           ref_count                           |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                        packet_count (8)                       |  16
    // +---------------------------------------------------------------+
    // |                         byte_count (8)                        |  24
    // +---------------------------------------------------------------+
    // |                          duration_sec                         |  32
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         |  36
    // +---------------------------------------------------------------+
    // |      bucket_stats: packet_count (8), byte_count (8) each      |  40
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13GroupStats entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < 40) return false;
        size = Be.U16(s, 0);
        if (size < 40 || size > s.Length || (size - 40) % 16 != 0) return false;
        entry = new(Be.U32(s, 4), Be.U32(s, 8), Be.U64(s, 16), Be.U64(s, 24), Be.U32(s, 32), Be.U32(s, 36), Counters(s[40..size]));
        return true;
    }

    internal static Ofp13Counter[] Counters(ReadOnlySpan<byte> s)
    {
        var c = new Ofp13Counter[s.Length / 16];
        for (int i = 0; i < c.Length; i++) c[i] = new(Be.U64(s, 16 * i), Be.U64(s, 16 * i + 8));
        return c;
    }
}

/// <summary>OFPMP_GROUP_DESC's entry, ofp_group_desc: 8 bytes and the buckets (as a GROUP_MOD carries them).</summary>
public sealed record Ofp13GroupDesc(byte GroupType, uint GroupId, List<Ofp13Bucket> Buckets) : IOfp13Entry<Ofp13GroupDesc>
{
    /// <summary>The bytes before the buckets.</summary>
    public const int FixedSize = 8;

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.U8(GroupType); w.U8(0); w.U32(GroupId);
        Ofp13Buckets.Encode(w, Buckets);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |             length            |      type     |      pad      |   0
    // +---------------------------------------------------------------+
    // |                            group_id                           |   4
    // +---------------------------------------------------------------+
    // |                      buckets (to length)                      |   8
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13GroupDesc entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < 8) return false;
        size = Be.U16(s, 0);
        if (size < 8 || size > s.Length) return false;
        var buckets = new List<Ofp13Bucket>();
        if (!Ofp13Buckets.TryDecode(s[8..size], buckets, out _)) return false;
        entry = new(s[2], Be.U32(s, 4), buckets);
        return true;
    }
}

/// <summary>OFPMP_GROUP_FEATURES' body, ofp_group_features (40 bytes): per group type (ALL, SELECT, INDIRECT, FF) its limit and actions.</summary>
public sealed record Ofp13GroupFeatures(uint Types, uint Capabilities, uint[] MaxGroups, uint[] Actions) : IOfp13Entry<Ofp13GroupFeatures>
{
    public const int Size = 40;

    public void Write(Ofp13Writer w)
    {
        w.U32(Types); w.U32(Capabilities);
        for (int i = 0; i < 4; i++) w.U32(i < MaxGroups.Length ? MaxGroups[i] : 0);
        for (int i = 0; i < 4; i++) w.U32(i < Actions.Length ? Actions[i] : 0);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                             types                             |   0
    // +---------------------------------------------------------------+
    // |                          capabilities                         |   4
    // +---------------------------------------------------------------+
    // |         max_groups[4]: ALL, SELECT, INDIRECT, FF (16)         |   8
    // +---------------------------------------------------------------+
    // |    actions[4]: a bitmap of action types per group type (16)   |  24
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13GroupFeatures entry, out int size)
    {
        entry = null;
        size = Size;
        if (s.Length < Size) return false;
        uint[] max = new uint[4], actions = new uint[4];
        for (int i = 0; i < 4; i++)
        {
            max[i] = Be.U32(s, 8 + 4 * i);
            actions[i] = Be.U32(s, 24 + 4 * i);
        }
        entry = new(Be.U32(s, 0), Be.U32(s, 4), max, actions);
        return true;
    }
}

/// <summary>OFPMP_METER's entry, ofp_meter_stats: 40 bytes and a counter per band.</summary>
public sealed record Ofp13MeterStats(uint MeterId, uint FlowCount, ulong PacketInCount, ulong ByteInCount, uint DurationSec, uint DurationNsec,
                                     Ofp13Counter[] Bands) : IOfp13Entry<Ofp13MeterStats>
{
    public void Write(Ofp13Writer w)
    {
        w.U32(MeterId); w.U16((ushort)(40 + 16 * Bands.Length)); w.Zeros(6);
        w.U32(FlowCount); w.U64(PacketInCount); w.U64(ByteInCount); w.U32(DurationSec); w.U32(DurationNsec);
        foreach (var b in Bands)
        {
            w.U64(b.PacketCount); w.U64(b.ByteCount);
        }
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            meter_id                           |   0
    // +-------------------------------+-------------------------------+
    // |              len              |              pad              |   4
    // +---------------------------------------------------------------+
    // |                              pad                              |   8
    // +---------------------------------------------------------------+
    // |                           flow_count                          |  12
    // +---------------------------------------------------------------+
    // |                      packet_in_count (8)                      |  16
    // +---------------------------------------------------------------+
    // |                       byte_in_count (8)                       |  24
    // +---------------------------------------------------------------+
    // |                          duration_sec                         |  32
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         |  36
    // +---------------------------------------------------------------+
    // |  band_stats: packet_band_count (8), byte_band_count (8) each  |  40
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13MeterStats entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < 40) return false;
        size = Be.U16(s, 4);
        if (size < 40 || size > s.Length || (size - 40) % 16 != 0) return false;
        entry = new(Be.U32(s, 0), Be.U32(s, 12), Be.U64(s, 16), Be.U64(s, 24), Be.U32(s, 32), Be.U32(s, 36), Ofp13GroupStats.Counters(s[40..size]));
        return true;
    }
}

/// <summary>OFPMP_METER_CONFIG's entry, ofp_meter_config: 8 bytes and the bands (as a METER_MOD carries them).</summary>
public sealed record Ofp13MeterConfig(ushort Flags, uint MeterId, List<Ofp13Band> Bands) : IOfp13Entry<Ofp13MeterConfig>
{
    public void Write(Ofp13Writer w)
    {
        w.U16((ushort)(8 + 16 * Bands.Count)); w.U16(Flags); w.U32(MeterId);
        Ofp13Bands.Encode(w, Bands);
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |             flags             |   0
    // +---------------------------------------------------------------+
    // |                            meter_id                           |   4
    // +---------------------------------------------------------------+
    // |                       bands (to length)                       |   8
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13MeterConfig entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < 8) return false;
        size = Be.U16(s, 0);
        if (size < 8 || size > s.Length) return false;
        var bands = new List<Ofp13Band>();
        if (!Ofp13Bands.TryDecode(s[8..size], bands, out _)) return false;
        entry = new(Be.U16(s, 2), Be.U32(s, 4), bands);
        return true;
    }
}

/// <summary>OFPMP_METER_FEATURES' body, ofp_meter_features (16 bytes).</summary>
public readonly record struct Ofp13MeterFeatures(uint MaxMeter, uint BandTypes, uint Capabilities, byte MaxBands, byte MaxColor)
    : IOfp13Entry<Ofp13MeterFeatures>
{
    public const int Size = 16;

    public void Write(Ofp13Writer w)
    {
        w.U32(MaxMeter); w.U32(BandTypes); w.U32(Capabilities); w.U8(MaxBands); w.U8(MaxColor); w.Zeros(2);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                           max_meter                           |   0
    // +---------------------------------------------------------------+
    // |                           band_types                          |   4
    // +---------------------------------------------------------------+
    // |                          capabilities                         |   8
    // +---------------+---------------+-------------------------------+
    // |   max_bands   |   max_color   |              pad              |  12
    // +---------------+---------------+-------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13MeterFeatures entry, out int size)
    {
        size = Size;
        entry = s.Length < Size ? default : new(Be.U32(s, 0), Be.U32(s, 4), Be.U32(s, 8), s[12], s[13]);
        return s.Length >= Size;
    }
}
