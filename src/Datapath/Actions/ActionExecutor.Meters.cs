using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>Meters: the <see cref="ActionKind.Meter"/> action (OpenFlow 1.3.5 section 5.7).</summary>
/// <remarks>
/// The batch is measured in one call (<see cref="Meter.Measure"/>: one lock, one clock read); the packets a drop band
/// applies to leave the batch as a TTL decrement's do (the survivors stay in order, their layers compacted), counted on
/// <c>meter-drop</c>; a GSO super-frame is measured segment by segment and cut where a drop band first applies (its
/// first segments go on, as the packets it becomes would); those a DSCP-remark band applies to stay with their drop
/// precedence raised (IPv4 header checksum updated). A meter that does not exist (deleted since the rule was cached)
/// measures nothing.
/// </remarks>
public sealed partial class ActionExecutor
{
    /// <summary>The meters that meter actions name (null: every meter action passes its packets).</summary>
    public MeterTable? Meters { get; init; }

    /// <summary>
    /// Whether meters measure (false for a trace, which must neither take tokens nor count: each packet then meets the band
    /// it would meet now, <see cref="Meter.Peek"/>).
    /// </summary>
    public bool RunsMeters { get; init; } = true;

    public static readonly Counter MeterDrop = Coverage.Define("meter-drop", "packets a meter's drop band dropped: past the band's rate");
    public static readonly Counter MeterCut = Coverage.Define("meter-cut", "GSO super-frames a meter's drop band cut: their first segments went on, the rest were dropped");
    public static readonly Counter MeterMissing = Coverage.Define("meter-missing", "packets that met a meter instruction naming no meter (deleted since): passed unmetered");

    private sbyte[] _meterBands = new sbyte[32];
    private ushort[] _meterKept = new ushort[32];

    /// <summary>
    /// The time of the burst being executed, set by the forwarding thread once per burst (its clock read), so that
    /// meters do not read the clock per batch and a meter's second batch of a burst refills nothing; 0: meters read
    /// <see cref="MeterTable.Clock"/> themselves.
    /// </summary>
    internal long BurstNanos;

    /// <summary>Runs meter <paramref name="id"/> over the batch; returns how many packets stay (in <paramref name="scratch"/>'s Live when fewer than all).</summary>
    private int RunMeter(uint id, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, DepthScratch scratch)
    {
        var table = Meters;
        if (table is null || !table.TryGet(id, out var meter))
        {
            _counters.Add(MeterMissing, pkts.Length);
            return pkts.Length;
        }
        if (_meterBands.Length < pkts.Length)
        {
            _meterBands = new sbyte[Math.Max(pkts.Length, _meterBands.Length * 2)];
            _meterKept = new ushort[_meterBands.Length];
        }
        var applied = _meterBands.AsSpan(0, pkts.Length);
        var cut = _meterKept.AsSpan(0, pkts.Length);
        if (RunsMeters)
        {
            if (meter.Measure(pool, pkts, BurstNanos != 0 ? BurstNanos : table.Clock.NowNanos, applied, cut) == 0) return pkts.Length;
        }
        else
        {
            cut.Clear();
            for (int i = 0; i < pkts.Length; i++) applied[i] = (sbyte)meter.Peek(pool.Length[pkts[i]], table.Clock.NowNanos);
        }
        var bands = meter.Bands;
        int kept = 0, dropped = 0;
        int[] live = scratch.Live;
        for (int i = 0; i < pkts.Length; i++)
        {
            int b = applied[i];
            if (b >= 0 && bands[b].Type == MeterBandType.Drop)
            {
                dropped++;
                continue;
            }
            if (cut[i] != 0) Cut(pool, pkts[i], cut[i]);
            if (b >= 0) RemarkDscp(pool.Frame(pkts[i]), layers[i], bands[b].PrecLevel);
            layers[kept] = layers[i];
            live[kept++] = pkts[i];
        }
        if (dropped != 0) _counters.Add(MeterDrop, dropped);
        return kept;
    }

    /// <summary>A super-frame a drop band cut: its first <paramref name="segments"/> segments go on (counted on <c>meter-cut</c>).</summary>
    private void Cut(PacketPool pool, int p, int segments)
    {
        int len = SoftwareOffload.Cut(pool.Frame(p), pool.OffloadOf(p), segments);
        if (len > 0) pool.Length[p] = (ushort)len;
        _counters.Add(MeterCut);
    }

    /// <summary>
    /// Raises the drop precedence of an IPv4 or IPv6 packet's DSCP by <paramref name="levels"/> (RFC 2597's assured
    /// forwarding classes, AFxy = class x, drop precedence y of 1..3, saturating at 3). A DSCP outside those classes
    /// (default, class selectors, expedited forwarding) has no drop precedence to raise and is left as it is.
    /// </summary>
    internal static void RemarkDscp(Span<byte> frame, in PacketLayers layers, byte levels)
    {
        int dscp = PacketRewriter.ReadDscp(frame, layers);
        if (dscp < 0) return;
        int cls = dscp >> 3, drop = (dscp >> 1) & 3;
        if (cls is < 1 or > 4 || drop == 0 || (dscp & 1) != 0) return;
        int raised = Math.Min(3, drop + levels);
        if (raised == drop) return;
        PacketRewriter.SetNwTos(frame, layers, (byte)(((cls << 3) | (raised << 1)) << 2));
    }
}
