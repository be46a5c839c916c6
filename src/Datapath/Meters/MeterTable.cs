using System.Collections.Concurrent;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Meters;

/// <summary>What a meter band does to the packets past its rate (OpenFlow 1.3.5 section 7.3.4.5).</summary>
public enum MeterBandType : byte
{
    /// <summary>Drop them (a policer).</summary>
    Drop,
    /// <summary>Raise their DiffServ drop precedence by the band's precedence level (a DiffServ policer).</summary>
    DscpRemark,
}

/// <summary>What a meter measures (OFPMF_KBPS or OFPMF_PKTPS).</summary>
public enum MeterUnit : byte
{
    /// <summary>Kilobits per second of Ethernet frames (header to payload, as the port sends them; no FCS).</summary>
    Kbps,
    /// <summary>Packets per second.</summary>
    Pktps,
}

/// <summary>
/// One band of a <see cref="Meter"/>: a type, a rate and a burst, and the token bucket that measures the meter's packets
/// against them. Counts the packets and bytes it applied to.
/// </summary>
public sealed class MeterBand
{
    public MeterBand(MeterBandType type, uint rate, uint burstSize = 0, byte precLevel = 0)
    {
        if (rate == 0) ThrowHelper.ArgumentOutOfRange(nameof(rate));
        Type = type;
        Rate = rate;
        BurstSize = burstSize;
        PrecLevel = precLevel;
    }

    public MeterBandType Type { get; }
    /// <summary>The rate above which the band applies, in the meter's unit (kbit/s or packets/s).</summary>
    public uint Rate { get; }
    /// <summary>The burst as configured (kilobits or packets; 0: the meter's default, see <see cref="Meter"/>).</summary>
    public uint BurstSize { get; }
    /// <summary>DSCP_REMARK: drop-precedence levels to add.</summary>
    public byte PrecLevel { get; }
    /// <summary>The bucket's size in the meter's burst unit (kilobits or packets): the burst given, or the default.</summary>
    public long BucketSize => InKbps ? Capacity / 1000 : Capacity;

    // The bucket, in bits (Kbps) or packets (Pktps), with the fraction of a unit the last refill left over (in units
    // times the clock's nanoseconds): refills are exact, whatever the time between two batches.
    internal long Tokens, Capacity, RatePerSecond;
    internal bool InKbps;
    internal long Remainder;

    internal long PacketCount, ByteCount;
    /// <summary>Packets the band applied to (dropped or remarked).</summary>
    public long Packets => Volatile.Read(ref PacketCount);
    public long Bytes => Volatile.Read(ref ByteCount);
}

/// <summary>
/// A meter: its id, unit and bands, the token buckets that measure its packets, and its counters (OpenFlow 1.3.5
/// section 5.7).
/// </summary>
/// <remarks>
/// A packet takes its cost from every band whose bucket holds enough; of the bands it exceeds, the one with the
/// highest rate applies. Without a given burst (<see cref="Burst"/>) a bucket holds <see cref="DefaultBurstNanos"/>
/// (a DSCP_REMARK band <see cref="RemarkBurstNanos"/>) of its rate and starts empty; with one, that size, full. Every
/// forwarding thread shares one budget per band: a batch takes the meter's lock once.
/// Design, and why the buckets have these sizes: docs/datapath.md, "Meters".
/// </remarks>
public sealed class Meter
{
    /// <summary>The burst of a band with none given: this much time at its rate.</summary>
    public const long DefaultBurstNanos = 1_000_000_000;
    /// <summary>The burst of a DSCP_REMARK band with none given (it drops nothing, so TCP needs no long one).</summary>
    public const long RemarkBurstNanos = 100_000_000;
    /// <summary>The smallest bucket of a kbit/s band: two full-size Ethernet frames.</summary>
    public const long MinBurstBits = 2 * 1518 * 8;
    /// <summary>The most bands a meter holds.</summary>
    public const int MaxBands = 8;

    private readonly Lock _lock = new();
    private long _last;

    /// <param name="id">The meter's id.</param>
    /// <param name="unit">What the bands' rates measure.</param>
    /// <param name="burst">Whether bands' burst sizes apply (OFPMF_BURST).</param>
    /// <param name="stats">Whether the controller asked for statistics (OFPMF_STATS; counted either way).</param>
    /// <param name="bands">The bands (at most <see cref="MaxBands"/>).</param>
    /// <param name="createdNanos">When the meter was added (its duration counts from here).</param>
    public Meter(uint id, MeterUnit unit, bool burst, bool stats, MeterBand[] bands, long createdNanos)
    {
        if (bands.Length > MaxBands) ThrowHelper.ArgumentOutOfRange(nameof(bands));
        Id = id;
        Unit = unit;
        Burst = burst;
        Stats = stats;
        Bands = bands;
        CreatedNanos = createdNanos;
        _last = createdNanos;
        foreach (var b in bands)
        {
            if (b.ByteCount != 0 || b.PacketCount != 0 || b.Tokens != 0) ThrowHelper.Argument(nameof(bands)); // a band belongs to one meter
            long perSecond = unit == MeterUnit.Kbps ? b.Rate * 1000L : b.Rate;
            bool given = burst && b.BurstSize != 0;
            long capacity = given
                ? (unit == MeterUnit.Kbps ? b.BurstSize * 1000L : b.BurstSize)
                : (long)((UInt128)(ulong)perSecond * (ulong)(b.Type == MeterBandType.DscpRemark ? RemarkBurstNanos : DefaultBurstNanos) / 1_000_000_000);
            capacity = Math.Max(capacity, unit == MeterUnit.Kbps ? MinBurstBits : 1);
            b.RatePerSecond = perSecond;
            b.InKbps = unit == MeterUnit.Kbps;
            b.Capacity = capacity;
            b.Tokens = given ? capacity : 0;
        }
    }

    public uint Id { get; }
    public MeterUnit Unit { get; }
    public bool Burst { get; }
    public bool Stats { get; }
    public MeterBand[] Bands { get; }
    public long CreatedNanos { get; }
    /// <summary>What the layer above says this meter is (the meter-mod as a controller gave it), kept with the meter so
    /// the two never disagree, whichever object reads it; metering never reads it.</summary>
    public object? Description { get; init; }

    internal long PacketCount, ByteCount;
    /// <summary>Packets that entered the meter.</summary>
    public long Packets => Volatile.Read(ref PacketCount);
    public long Bytes => Volatile.Read(ref ByteCount);

    /// <summary>
    /// Measures the packets <paramref name="pkts"/> of <paramref name="pool"/> at <paramref name="nowNanos"/>:
    /// <paramref name="applied"/>[i] is the index of the band that applies to pkts[i], or -1; <paramref name="kept"/>[i]
    /// is 0, or for a GSO super-frame that a drop band cut, the segments before the cut, which pass with
    /// <paramref name="applied"/>[i] applying to them (see <see cref="TakeSegments"/>). Returns how many packets a band
    /// applies to or cuts.
    /// </summary>
    public int Measure(PacketPool pool, ReadOnlySpan<int> pkts, long nowNanos, Span<sbyte> applied, Span<ushort> kept)
    {
        bool packets = Unit == MeterUnit.Pktps;
        int hit = 0;
        long bytes = 0;
        lock (_lock)
        {
            Refill(nowNanos);
            long count = 0;
            for (int i = 0; i < pkts.Length; i++)
            {
                int p = pkts[i];
                int len = pool.Length[p];
                kept[i] = 0;
                int band;
                if (pool.OwesOffload(p))
                {
                    var frame = pool.Frame(p);
                    int segments = SoftwareOffload.Segments(frame, pool.OffloadOf(p), out int header, out int mss);
                    if (segments > 1)
                    {
                        band = TakeSegments(len, segments, header, mss, out int passed);
                        count += segments;
                        bytes += len + (segments - 1) * header;
                        if (passed > 0 && passed < segments) kept[i] = (ushort)passed;
                        applied[i] = (sbyte)band;
                        if (band >= 0 || kept[i] != 0) hit++;
                        continue;
                    }
                }
                bytes += len;
                count++;
                band = Take(packets ? 1 : len * 8L, len, 1);
                applied[i] = (sbyte)band;
                if (band >= 0) hit++;
            }
            PacketCount += count;
            ByteCount += bytes;
        }
        return hit;
    }

    /// <summary>
    /// A super-frame of <paramref name="segments"/> segments (<paramref name="header"/> bytes of headers each and
    /// <paramref name="mss"/> of payload, the last one the rest of <paramref name="length"/>) measured segment by
    /// segment, as the packets it becomes would be. The first segment a drop band applies to cuts it: that band applies
    /// to it and to every later one (counted there; they take no tokens), and <paramref name="passed"/> is the count
    /// before it. A remark band that applies to a segment before the cut remarks the frame (the highest-rate one).
    /// Returns the band that applies to what passes (a drop band: nothing passes; a remark band; -1: none).
    /// </summary>
    private int TakeSegments(int length, int segments, int header, int mss, out int passed)
    {
        bool packets = Unit == MeterUnit.Pktps;
        var bands = Bands;
        int payload = length - header;
        int remark = -1;
        for (int s = 0; s < segments; s++)
        {
            int segLength = header + Math.Min(mss, payload - s * mss);
            int band = Take(packets ? 1 : segLength * 8L, segLength, 1);
            if (band < 0) continue;
            if (bands[band].Type == MeterBandType.Drop)
            {
                passed = s;
                int rest = segments - s - 1;
                // The later segments: their payload (none when the cut one is the last, however short) and their headers.
                bands[band].PacketCount += rest;
                bands[band].ByteCount += Math.Max(0, payload - (s + 1) * mss) + (long)rest * header;
                return s == 0 ? band : remark;
            }
            if (remark < 0 || bands[band].Rate > bands[remark].Rate) remark = band;
        }
        passed = segments;
        return remark;
    }

    /// <summary>Measures one packet of <paramref name="length"/> bytes: the band that applies to it, or -1.</summary>
    public int MeasureOne(int length, long nowNanos)
    {
        lock (_lock)
        {
            Refill(nowNanos);
            PacketCount++;
            ByteCount += length;
            return Take(Unit == MeterUnit.Pktps ? 1 : length * 8L, length, 1);
        }
    }

    /// <summary>
    /// One packet of <paramref name="cost"/> (<paramref name="segments"/> packets on the wire) against the buckets (under
    /// the lock): its cost taken from every band whose bucket holds it, or is full (a packet larger than the bucket
    /// passes a full one, which then owes the excess: the rate holds, and a burst smaller than a jumbo frame does not
    /// stop every one; Open vSwitch's user-space meter never passes such a packet); of the others, the highest-rate band
    /// applies and counts the packet. Returns that band, or -1.
    /// </summary>
    private int Take(long cost, int length, int segments)
    {
        var bands = Bands;
        int band = -1;
        uint bandRate = 0;
        for (int b = 0; b < bands.Length; b++)
        {
            var mb = bands[b];
            if (mb.Tokens >= cost || mb.Tokens >= mb.Capacity)
            {
                mb.Tokens -= cost;
            }
            else if (mb.Rate > bandRate)
            {
                band = b;
                bandRate = mb.Rate;
            }
        }
        if (band >= 0)
        {
            bands[band].PacketCount += segments;
            bands[band].ByteCount += length;
        }
        return band;
    }

    /// <summary>The band a packet of <paramref name="length"/> bytes would meet now, without taking tokens or counting (traces).</summary>
    public int Peek(int length, long nowNanos)
    {
        long cost = Unit == MeterUnit.Pktps ? 1 : length * 8L;
        lock (_lock)
        {
            Refill(nowNanos);
            int band = -1;
            uint bandRate = 0;
            for (int b = 0; b < Bands.Length; b++)
            {
                if (Bands[b].Tokens < cost && Bands[b].Tokens < Bands[b].Capacity && Bands[b].Rate > bandRate)
                {
                    band = b;
                    bandRate = Bands[b].Rate;
                }
            }
            return band;
        }
    }

    /// <summary>The tokens band <paramref name="band"/> holds now (bits or packets).</summary>
    public long TokensOf(int band, long nowNanos)
    {
        lock (_lock)
        {
            Refill(nowNanos);
            return Bands[band].Tokens;
        }
    }

    private void Refill(long now)
    {
        long elapsed = now - _last;
        if (elapsed <= 0) return; // another thread's clock read ran ahead: its refill covered this instant
        _last = now;
        foreach (var b in Bands)
        {
            if (b.Tokens >= b.Capacity)
            {
                b.Remainder = 0;
                continue;
            }
            // Units accrued: elapsed * rate / 1e9, exactly (the remainder carries the fraction to the next refill).
            UInt128 scaled = (UInt128)(ulong)elapsed * (ulong)b.RatePerSecond + (ulong)b.Remainder;
            UInt128 add = scaled / 1_000_000_000;
            long room = b.Capacity - b.Tokens;
            if (add >= (ulong)room)
            {
                b.Tokens = b.Capacity;
                b.Remainder = 0;
            }
            else
            {
                b.Tokens += (long)add;
                b.Remainder = (long)(scaled - add * 1_000_000_000);
            }
        }
    }

    /// <summary>Takes the counters of <paramref name="old"/> (a modification keeps the meter's statistics and age; bands start from 0).</summary>
    public void InheritCounters(Meter old)
    {
        PacketCount = old.Packets;
        ByteCount = old.Bytes;
    }
}

/// <summary>
/// The datapath's meters by id: written by the layer above (meter-mods), read by every forwarding thread per batch
/// that meets a meter action. <see cref="Controller"/>, when the layer above names one, is the meter the output stage
/// measures each packet for the controller against; which id it has is the layer above's business.
/// </summary>
public sealed class MeterTable
{
    private readonly ConcurrentDictionary<uint, Meter> _meters = new();
    private volatile Meter? _controller;

    public MeterTable(IClock clock) => Clock = clock;

    /// <summary>The clock meters measure time by.</summary>
    public IClock Clock { get; }

    public int Count => _meters.Count;

    /// <summary>The meter for packets to the controller, or null: set by the layer above (one writer), read by the output
    /// stage per packet for the controller (a volatile field).</summary>
    public Meter? Controller
    {
        get => _controller;
        set => _controller = value;
    }

    public bool TryGet(uint id, out Meter meter) => _meters.TryGetValue(id, out meter!);

    /// <summary>Adds or replaces (by id) <paramref name="meter"/>.</summary>
    public void Set(Meter meter)
    {
        _meters[meter.Id] = meter;
    }

    public bool Remove(uint id)
    {
        return _meters.TryRemove(id, out _);
    }

    /// <summary>Every meter, in no order.</summary>
    public IEnumerable<Meter> All => _meters.Values;
}
