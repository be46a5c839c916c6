using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

/// <summary>Meters: token buckets measured exactly over time, band selection, DSCP remarking, several threads, no allocation.</summary>
public class MeterTests
{
    private static readonly MacAddress A = new(0x020000000001UL), B = new(0x020000000002UL);

    private struct CountSink : IActionSink
    {
        public int Sent;
        public List<byte[]>? Frames;
        public PacketPool? Pool;

        public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            Sent += pkts.Length;
            if (Frames is { } f)
            {
                foreach (int p in pkts) f.Add(Pool!.Frame(p).ToArray());
            }
        }

        public readonly void SetTunnel(ulong tunnelId) { }
        public readonly void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }
        public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
            => Output(PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
    }

    private sealed class Rig
    {
        public readonly ManualClock Clock = new();
        public readonly MeterTable Meters;
        public readonly PacketPool Pool = new(256);
        public readonly CounterSet Counters = new();
        public readonly ActionExecutor Exec;
        private readonly FlowActions _actions = new([FlowAction.Meter(1), FlowAction.Output(2)]);
        private readonly int[] _pkts = new int[32];
        private readonly PacketLayers[] _layers = new PacketLayers[32];

        public Rig()
        {
            Meters = new MeterTable(Clock);
            Exec = new ActionExecutor(Counters) { Meters = Meters };
        }

        public Meter Add(uint id, MeterUnit unit, bool burst, params MeterBand[] bands)
        {
            var m = new Meter(id, unit, burst, true, bands, Clock.NowNanos);
            Meters.Set(m);
            return m;
        }

        /// <summary>Runs <paramref name="count"/> copies of <paramref name="frame"/> through meter 1 then an output, in batches of 32; returns how many were sent.</summary>
        public int Offer(byte[] frame, int count, List<byte[]>? frames = null)
        {
            var actions = _actions;
            var layers0 = ActionOfp13Tests.LayersOf(frame);
            int sent = 0;
            var pkts = _pkts;
            var layers = _layers;
            while (count > 0)
            {
                int n = Math.Min(32, count);
                for (int i = 0; i < n; i++)
                {
                    pkts[i] = Pool.Alloc();
                    Pool.Write(pkts[i], frame);
                    layers[i] = layers0;
                }
                var sink = new CountSink { Frames = frames, Pool = Pool };
                Exec.Execute(actions, Pool, pkts.AsSpan(0, n), layers, ref sink);
                Pool.Release(pkts.AsSpan(0, n));
                sent += sink.Sent;
                count -= n;
            }
            return sent;
        }
    }

    private static byte[] Udp(int size, byte tos = 0) => FrameBuilder.Udp(A, B, 0x0a000001, 0x0a000002, 1, 2, size, tos: tos);

    [Fact]
    public void AKbpsDropBandPassesItsBurstThenItsRate()
    {
        var rig = new Rig();
        // 1,000 kbit/s with a burst of 30 kbit: two 1,500-byte frames (12,000 bits each) fit in the full bucket, 6,000 bits stay.
        rig.Add(1, MeterUnit.Kbps, burst: true, new MeterBand(MeterBandType.Drop, 1000, 30));
        var f = Udp(1500);
        Assert.Equal(2, rig.Offer(f, 10));
        Assert.Equal(8, rig.Counters[ActionExecutor.MeterDrop]);
        rig.Clock.AdvanceNanos(5_999_999); // 5,999.999 bits more: a fraction short of a frame
        Assert.Equal(0, rig.Offer(f, 1));
        rig.Clock.AdvanceNanos(1);
        Assert.Equal(1, rig.Offer(f, 1));
        var m = Assert.IsType<Meter>(rig.Meters.All.Single());
        Assert.Equal(12, m.Packets);
        Assert.Equal(9, m.Bands[0].Packets);
        Assert.Equal(9 * 1500, m.Bands[0].Bytes);
    }

    [Fact]
    public void RatesHoldExactlyOverMinutesOfSimulatedTime()
    {
        var rig = new Rig();
        rig.Add(1, MeterUnit.Kbps, burst: false, new MeterBand(MeterBandType.Drop, 10_000));
        var f = Udp(1000);
        // Offer 2x the rate (20 Mbit/s of 1,000-byte frames: one every 400 us) for 10 simulated minutes, in 1 ms steps.
        long passedBits = 0;
        for (int ms = 0; ms < 600_000; ms++)
        {
            rig.Clock.AdvanceNanos(1_000_000);
            int offered = ms % 2 == 0 ? 3 : 2; // 2.5 frames per ms
            passedBits += rig.Offer(f, offered) * 8000L;
        }
        long expected = 10_000_000L * 600; // rate x time: a default bucket starts empty
        // What the bucket holds at the end (less than a frame per 1 ms step's offer) is all that is missing: no drift.
        Assert.InRange(passedBits, expected - 3 * 8000, expected);
    }

    [Fact]
    public void APacketRateMeterPassesItsRateEachSecondAtAHundredTimesTheOffer()
    {
        var rig = new Rig();
        rig.Add(1, MeterUnit.Pktps, burst: false, new MeterBand(MeterBandType.Drop, 1000));
        var f = Udp(64);
        Assert.Equal(0, rig.Offer(f, 100)); // a default bucket starts empty: nothing passes before time does
        for (int s = 0; s < 5; s++)
        {
            int passed = 0;
            for (int step = 0; step < 1000; step++)
            {
                rig.Clock.AdvanceNanos(1_000_000);
                passed += rig.Offer(f, 100); // 100 kpps
            }
            Assert.InRange(passed, 990, 1010);
        }
    }

    [Fact]
    public void TheHighestRateBandExceededApplies()
    {
        var rig = new Rig();
        // Remark above 1,000 pkt/s, drop above 2,000, with bursts of 100 and 200 packets (full at the start).
        var m = rig.Add(1, MeterUnit.Pktps, burst: true,
                        new MeterBand(MeterBandType.DscpRemark, 1000, 100, precLevel: 1), new MeterBand(MeterBandType.Drop, 2000, 200));
        var frames = new List<byte[]>();
        int sent = rig.Offer(Udp(64, tos: 10 << 2), 300, frames); // AF11
        Assert.Equal(200, sent);
        Assert.Equal(100, frames.Count(x => x[15] >> 2 == 10)); // within both rates: untouched
        Assert.Equal(100, frames.Count(x => x[15] >> 2 == 12)); // past 1,000 only: AF12
        Assert.All(frames, x => Assert.True(Checksum.IsValid(x.AsSpan(14, 20))));
        Assert.Equal(100, m.Bands[0].Packets);
        Assert.Equal(100, m.Bands[1].Packets);
    }

    [Theory]
    [InlineData(10, 1, 12)] // AF11 -> AF12
    [InlineData(10, 2, 14)] // AF11 -> AF13
    [InlineData(14, 1, 14)] // AF13 stays: the highest drop precedence
    [InlineData(34, 5, 38)] // AF41 -> AF43, saturating
    [InlineData(46, 1, 46)] // EF has no drop precedence
    [InlineData(0, 1, 0)]   // nor does the default class
    public void DscpRemarkRaisesTheDropPrecedenceOfAssuredForwardingClasses(int dscp, int levels, int expected)
    {
        var f = Udp(64, tos: (byte)((dscp << 2) | 1)); // ECN bits kept
        var l = ActionOfp13Tests.LayersOf(f);
        ActionExecutor.RemarkDscp(f, l, (byte)levels);
        Assert.Equal(expected, f[15] >> 2);
        Assert.Equal(1, f[15] & 3);
        Assert.True(Checksum.IsValid(f.AsSpan(14, 20)));

        var v6 = (byte[])ActionOfp13Tests.Ipv6Udp.Clone();
        v6[14] = (byte)(0x60 | (dscp >> 2));
        v6[15] = (byte)((dscp & 3) << 6);
        ActionExecutor.RemarkDscp(v6, ActionOfp13Tests.LayersOf(v6), (byte)levels);
        Assert.Equal(expected, ((v6[14] & 0xF) << 2) | (v6[15] >> 6));
    }

    [Fact]
    public void SeveralThreadsShareOneBudget()
    {
        var clock = new ManualClock();
        var meters = new MeterTable(clock);
        // 1,000 pkt/s with a burst of 500 packets, the clock standing still: exactly 500 pass, whichever threads ask.
        meters.Set(new Meter(1, MeterUnit.Pktps, true, true, [new MeterBand(MeterBandType.Drop, 1000, 500)], clock.NowNanos));
        int passed = 0;
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            var pool = new PacketPool(64);
            var exec = new ActionExecutor { Meters = meters };
            var actions = new FlowActions([FlowAction.Meter(1), FlowAction.Output(2)]);
            var f = Udp(64);
            var layers = Enumerable.Repeat(ActionOfp13Tests.LayersOf(f), 32).ToArray();
            var pkts = new int[32];
            int mine = 0;
            for (int round = 0; round < 100; round++)
            {
                for (int i = 0; i < 32; i++)
                {
                    pkts[i] = pool.Alloc();
                    pool.Write(pkts[i], f);
                }
                var sink = new CountSink();
                exec.Execute(actions, pool, pkts, layers, ref sink);
                pool.Release(pkts);
                mine += sink.Sent;
            }
            Interlocked.Add(ref passed, mine);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(500, passed);
        meters.TryGet(1, out var m);
        Assert.Equal(4 * 100 * 32, m.Packets);
        Assert.Equal(4 * 100 * 32 - 500, m.Bands[0].Packets);
    }

    [Fact]
    public void AMissingMeterPassesAndIsCounted()
    {
        var rig = new Rig();
        Assert.Equal(5, rig.Offer(Udp(64), 5));
        Assert.Equal(5, rig.Counters[ActionExecutor.MeterMissing]);
    }

    [Fact]
    public void MeteringAllocatesNothing()
    {
        var rig = new Rig();
        rig.Add(1, MeterUnit.Kbps, burst: false, new MeterBand(MeterBandType.DscpRemark, 1000, precLevel: 1), new MeterBand(MeterBandType.Drop, 5000));
        var f = Udp(1000, tos: 10 << 2);
        long allocated = AllocationMeter.SteadyState(() =>
        {
            rig.Clock.AdvanceNanos(100_000);
            rig.Offer(f, 32);
        });
        Assert.Equal(0, allocated);
    }
}
