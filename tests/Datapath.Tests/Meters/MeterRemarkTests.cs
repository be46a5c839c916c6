using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// A DSCP_REMARK band against a DROP band of the same rate on the same offer (twice the rate, after the meter idled,
/// as a conformance run installs a meter and then sends): the packets the remark band leaves unmarked are exactly those
/// the drop band passes, and the band marks the excess: over ten seconds, all but a small part of rate x time.
/// </summary>
public sealed class MeterRemarkTests
{
    private static readonly MacAddress A = new(0x020000000001UL), B = new(0x020000000002UL);
    private const byte Af11 = 10 << 2, Af12 = 12 << 2;

    private struct Sink : IActionSink
    {
        public List<byte[]> Frames;
        public PacketPool Pool;

        public readonly void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            foreach (int p in pkts) Frames.Add(Pool.Frame(p).ToArray());
        }

        public readonly void SetTunnel(ulong tunnelId) { }
        public readonly void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }
        public readonly void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
            => Output(PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
    }

    /// <summary>
    /// Offers <paramref name="perMs"/> copies of <paramref name="frame"/> every millisecond for <paramref name="seconds"/>
    /// through meter 1 (one band of <paramref name="type"/> at <paramref name="rate"/>), after the meter idled 2 s; returns
    /// per packet sent whether it was sent and its DSCP (-1: dropped).
    /// </summary>
    private static List<int> Offer(MeterBandType type, MeterUnit unit, uint rate, byte[] frame, double perMs, int seconds)
    {
        var clock = new ManualClock();
        var meters = new MeterTable(clock);
        meters.Set(new Meter(1, unit, false, true, [new MeterBand(type, rate, 0, precLevel: 1)], clock.NowNanos));
        var exec = new ActionExecutor { Meters = meters };
        var pool = new PacketPool(256);
        var actions = new FlowActions([FlowAction.Meter(1), FlowAction.Output(2)]);
        var layers0 = ActionOfp13Tests.LayersOf(frame);
        var result = new List<int>();
        clock.AdvanceNanos(2_000_000_000);
        double owed = 0;
        var pkts = new int[64];
        var layers = new PacketLayers[64];
        for (int ms = 0; ms < seconds * 1000; ms++)
        {
            clock.AdvanceNanos(1_000_000);
            owed += perMs;
            int n = (int)owed;
            owed -= n;
            if (n == 0) continue;
            for (int i = 0; i < n; i++)
            {
                pkts[i] = pool.Alloc();
                pool.Write(pkts[i], frame);
                layers[i] = layers0;
            }
            var sink = new Sink { Frames = [], Pool = pool };
            exec.Execute(actions, pool, pkts.AsSpan(0, n), layers, ref sink);
            pool.Release(pkts.AsSpan(0, n));
            foreach (var f in sink.Frames) result.Add(f[15] >> 2);
            for (int i = sink.Frames.Count; i < n; i++) result.Add(-1);
        }
        return result;
    }

    public static TheoryData<MeterUnit, uint, int, double> Rates => new()
    {
        { MeterUnit.Kbps, 10_000, 1000, 2.5 },      // 10 Mbit/s band, 20 Mbit/s of 1,000-byte frames
        { MeterUnit.Kbps, 100_000, 1000, 25 },      // 100 Mbit/s band, 200 Mbit/s
        { MeterUnit.Pktps, 1000, 64, 2 },           // 1,000 pkt/s band, 2,000 pkt/s
    };

    [Theory]
    [MemberData(nameof(Rates))]
    public void TheRemarkBandLeavesUnmarkedWhatTheDropBandPasses(MeterUnit unit, uint rate, int size, double perMs)
    {
        var frame = FrameBuilder.Udp(A, B, 0x0a000001, 0x0a000002, 1, 2, size, tos: Af11);
        var drop = Offer(MeterBandType.Drop, unit, rate, frame, perMs, 10);
        var remark = Offer(MeterBandType.DscpRemark, unit, rate, frame, perMs, 10);
        Assert.Equal(drop.Count, remark.Count);
        Assert.DoesNotContain(-1, remark); // a remark band drops nothing
        int passed = drop.Count(d => d >= 0), unmarked = remark.Count(d => d == Af11 >> 2);
        // The drop band's bucket is the long one TCP needs (Meter.DefaultBurstNanos); the remark band's is shorter, so it
        // leaves unmarked at most what the drop band passes.
        Assert.True(unmarked <= passed, $"{unmarked} unmarked, {passed} passed the drop band");
        Assert.Equal(remark.Count - unmarked, remark.Count(d => d == Af12 >> 2));
    }

    [Theory]
    [MemberData(nameof(Rates))]
    public void TheRemarkBandMarksTheExcess_AfterTheMeterIdled(MeterUnit unit, uint rate, int size, double perMs)
    {
        var frame = FrameBuilder.Udp(A, B, 0x0a000001, 0x0a000002, 1, 2, size, tos: Af11);
        var remark = Offer(MeterBandType.DscpRemark, unit, rate, frame, perMs, 10);
        long unitsPerPacket = unit == MeterUnit.Kbps ? size * 8L : 1;
        long excess = remark.Count * unitsPerPacket - rate * (unit == MeterUnit.Kbps ? 1000L : 1) * 10; // offered - rate x 10 s
        long marked = remark.Count(d => d == Af12 >> 2) * unitsPerPacket;
        // Twice the rate offered: the excess is rate x 10 s; what the bucket saved while the meter idled passes unmarked.
        Assert.True(marked >= excess * 0.97, $"{marked} of {excess} marked ({100.0 * marked / excess:F1}%)");
        // And no more than the excess: the rate passes unmarked.
        Assert.True(marked <= excess, $"{marked} marked, more than the {excess} offered above the rate");
    }
}
