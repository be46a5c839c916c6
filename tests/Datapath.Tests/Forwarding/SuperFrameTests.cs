using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// GSO super-frames through the pipeline in large buffers: handed on whole (with their offload request, partial
/// checksum refreshed after rewrites) to ports that take them, cut in software for every other output (a port
/// without offloads, the controller), and the buffers come back. Checksums are checked by completing them as the
/// kernel would and by verifying each software segment.
/// </summary>
public sealed class SuperFrameTests
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private static readonly uint SrcIp = Ipv4.Parse("10.5.0.1"), DstIp = Ipv4.Parse("10.5.0.2");
    private const int Mss = 1448, Payload = 20 * Mss + 100;   // 21 segments, the last one short
    private const int L4 = 34;

    /// <summary>A port whose frames arrive in large buffers as super-frames and which takes them whole (or not) on send.</summary>
    private sealed class OffloadPort(string name, bool accepts) : IPort
    {
        private readonly Queue<(byte[] Frame, OffloadInfo Offload)> _rx = new();
        public readonly List<(byte[] Frame, OffloadInfo Offload, bool Large)> Sent = new();
        public bool Capture = true;
        public long SentCount;
        public byte[]? Generator;
        public OffloadInfo GeneratorOffload;
        public int GeneratorLeft;

        public PortInfo Info { get; } = new(name, MacAddress.Parse("02:00:00:00:aa:01"));
        public PortCounters Counters { get; } = new();
        public bool LinkUp => true;
        public bool AcceptsOffload => accepts;
        public int WaitFd => PortWait.NeverReceives;

        public void Inject(byte[] frame, OffloadInfo o) => _rx.Enqueue((frame, o));

        public int Receive(PacketPool pool, Span<int> pkts)
        {
            int n = 0;
            while (n < pkts.Length && (_rx.Count > 0 || GeneratorLeft > 0))
            {
                int p = pool.AllocLarge();
                if (p < 0) break;
                byte[] f;
                OffloadInfo o;
                if (_rx.Count > 0)
                {
                    (f, o) = _rx.Dequeue();
                }
                else
                {
                    f = Generator!;
                    o = GeneratorOffload;
                    GeneratorLeft--;
                }
                Assert.True(pool.Write(p, f));
                pool.OffloadOf(p) = o;
                pkts[n++] = p;
            }
            return n;
        }

        public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
        {
            lock (Sent)   // the QoS scheduler's thread sends too
            {
                foreach (int p in pkts)
                {
                    SentCount++;
                    if (Capture) Sent.Add((pool.Frame(p).ToArray(), pool.IsLarge(p) ? pool.OffloadOf(p) : default, pool.IsLarge(p)));
                }
            }
        }

        public void Dispose() { }
    }

    /// <summary>A datapath with large buffers: super-frames arrive on port 1, port 2 takes them whole, port 3 does not.</summary>
    private sealed class Rig : DatapathRig
    {
        public readonly OffloadPort In = new("in", accepts: true), Whole = new("whole", accepts: true);
        public readonly MemoryPort Plain = new("plain", MacAddress.Parse("02:00:00:00:bb:01")) { CaptureSent = true };

        public Rig(ManualClock? clock = null, int samplingRate = 0)
            : base(0, new DatapathOptions { PacketInRate = 0, LargeBuffers = 8, SamplingRate = samplingRate }, clock)
        {
            Dp.AddPort(In, 1);
            Dp.AddPort(Whole, 2);
            Dp.AddPort(Plain, 3);
        }

        /// <summary>The one rule: what port 1 receives gets <paramref name="actions"/>.</summary>
        public void Add(params FlowAction[] actions)
            => Insert(0, FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort, new FlowKeyBuilder().InPort(1).Key), 100, actions);
    }

    /// <summary>Ethernet + IPv4 + TCP carrying <paramref name="payload"/> bytes, its TCP checksum left partial as a
    /// local sender leaves it (the field holds the pseudo-header sum), with the offload request that goes with it.</summary>
    private static (byte[] Frame, OffloadInfo Offload) SuperFrame(int payload = Payload, ushort ipId = 0x4000, uint seq = 7000)
    {
        int l4Length = 20 + payload;
        var f = new byte[L4 + l4Length];
        Src.Write(f.AsSpan(6));
        Dst.Write(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(20 + l4Length));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), ipId);
        f[20] = 0x40;   // DF
        f[22] = 64;
        f[23] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(26), SrcIp);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(30), DstIp);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(L4), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(L4 + 2), 5001);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(L4 + 4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(L4 + 8), 99);
        f[L4 + 12] = 0x50;
        f[L4 + 13] = 0x18;   // ACK PSH
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(L4 + 14), 512);
        for (int i = 0; i < payload; i++) f[L4 + 20 + i] = (byte)(i * 7 + 3);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(L4 + 16), Checksum.PseudoHeaderSum(SrcIp, DstIp, 6, (ushort)l4Length));
        var o = new OffloadInfo { GsoType = OffloadInfo.GsoTcpV4, GsoSize = Mss, CsumStart = L4, CsumOffset = 16 };
        return (f, o);
    }

    /// <summary>What the kernel does with a partial checksum: sum from csum_start to the end, complement, store.</summary>
    private static byte[] Completed(byte[] frame, OffloadInfo o)
    {
        var c = (byte[])frame.Clone();
        Assert.True(SoftwareOffload.CompleteChecksum(c, o.CsumStart, o.CsumOffset));
        return c;
    }

    private static void AssertValidTcp(byte[] f, int l3 = 14)
    {
        Assert.True(Checksum.IsValid(f.AsSpan(l3, 20)), "IPv4 header checksum");
        uint s = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 12)), d = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 16));
        var seg = f.AsSpan(l3 + 20);
        Assert.Equal(0xFFFF, Checksum.Add(Checksum.PseudoHeaderSum(s, d, 6, (ushort)seg.Length), Checksum.Sum(seg)));
    }

    [Fact]
    public void HandedOnWhole_ToAPortThatTakesIt_PartialChecksumFollowsRewrittenAddressAndPort()
    {
        using var rig = new Rig();
        uint newDst = Ipv4.Parse("192.0.2.77");
        rig.Add(FlowAction.SetNwDst(newDst), FlowAction.SetTpDst(8080), FlowAction.Output(2));
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();

        var sent = Assert.Single(rig.Whole.Sent);
        Assert.True(sent.Large);
        Assert.Equal(frame.Length, sent.Frame.Length);
        Assert.Equal(OffloadInfo.GsoTcpV4, sent.Offload.GsoType);
        Assert.Equal(Mss, sent.Offload.GsoSize);
        Assert.Equal(L4, sent.Offload.CsumStart);
        Assert.Equal(16, sent.Offload.CsumOffset);
        Assert.Equal(L4 + 20, sent.Offload.HdrLen);
        Assert.Equal(newDst, BinaryPrimitives.ReadUInt32BigEndian(sent.Frame.AsSpan(30)));
        Assert.Equal(8080, BinaryPrimitives.ReadUInt16BigEndian(sent.Frame.AsSpan(L4 + 2)));
        Assert.Equal(Checksum.PseudoHeaderSum(SrcIp, newDst, 6, (ushort)(frame.Length - L4)), BinaryPrimitives.ReadUInt16BigEndian(sent.Frame.AsSpan(L4 + 16)));
        AssertValidTcp(Completed(sent.Frame, sent.Offload));
        Assert.Equal(1, rig.Dp.Counters.Read(DatapathCounters.GsoHandedOn));
        Assert.Equal(0, rig.Dp.Counters.Read(DatapathCounters.GsoSegmented));
        var pool = rig.Fwd.Pool;
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    [Fact]
    public void ToAPortWithoutOffloads_SegmentedInSoftware_EverySegmentValidAndRewritten()
    {
        using var rig = new Rig();
        rig.Add(FlowAction.SetNwSrc(Ipv4.Parse("198.51.100.9")), FlowAction.SetTpSrc(1234), FlowAction.Output(3));
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();

        var segs = rig.Plain.TakeSent();
        Assert.Equal(21, segs.Count);
        uint seq = 7000;
        for (int i = 0; i < segs.Count; i++)
        {
            var s = segs[i];
            int payload = i < 20 ? Mss : 100;
            Assert.Equal(L4 + 20 + payload, s.Length);
            AssertValidTcp(s);
            Assert.Equal(Ipv4.Parse("198.51.100.9"), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(26)));
            Assert.Equal(1234, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(L4)));
            Assert.Equal((ushort)(0x4000 + i), BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18)));
            Assert.Equal(seq, BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(L4 + 4)));
            Assert.Equal(i == 20 ? 0x18 : 0x10, s[L4 + 13]);   // PSH on the last segment only
            Assert.True(frame.AsSpan(L4 + 20 + i * Mss, payload).SequenceEqual(s.AsSpan(L4 + 20)));
            seq += (uint)payload;
        }
        Assert.Equal(1, rig.Dp.Counters.Read(DatapathCounters.GsoSegmented));
        Assert.Equal(21, rig.Dp.Counters.Read(DatapathCounters.GsoSegments));
        Assert.Equal(0, rig.Dp.Counters.Read(DatapathCounters.GsoHandedOn));
        var pool = rig.Fwd.Pool;
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    [Fact]
    public void OutputThenRewriteThenOutput_SegmentsShowTheFrameBefore_TheWholeCopyAfter()
    {
        using var rig = new Rig();
        rig.Add(FlowAction.Output(3), FlowAction.SetNwDst(Ipv4.Parse("203.0.113.5")), FlowAction.SetVlanVid(42), FlowAction.Output(2));
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();

        var segs = rig.Plain.TakeSent();
        Assert.Equal(21, segs.Count);
        foreach (var s in segs)
        {
            AssertValidTcp(s);
            Assert.Equal(DstIp, BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(30)));
        }
        var sent = Assert.Single(rig.Whole.Sent);
        // The pushed tag moved the L4 header by 4 bytes, and the offsets with it.
        Assert.Equal(frame.Length + 4, sent.Frame.Length);
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(sent.Frame.AsSpan(12)));
        Assert.Equal(L4 + 4, sent.Offload.CsumStart);
        Assert.Equal(L4 + 24, sent.Offload.HdrLen);
        Assert.Equal(Ipv4.Parse("203.0.113.5"), BinaryPrimitives.ReadUInt32BigEndian(sent.Frame.AsSpan(34)));
        AssertValidTcp(Completed(sent.Frame, sent.Offload), l3: 18);
        var pool = rig.Fwd.Pool;
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    [Fact]
    public void ToTheController_EachSegmentIsAPacketIn()
    {
        using var rig = new Rig();   // no flow: a miss goes to the controller
        var (frame, o) = SuperFrame(payload: 3 * Mss);
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        var ups = new List<byte[]>();
        rig.Dp.DrainUpcalls((in Upcall u) => ups.Add(u.Frame.ToArray()));
        Assert.Equal(3, ups.Count);
        foreach (var u in ups)
        {
            Assert.Equal(L4 + 20 + Mss, u.Length);
            AssertValidTcp(u);
        }
        Assert.Equal(1, rig.Dp.Counters.Read(DatapathCounters.GsoSegmented));
    }

    [Fact]
    public void CopyForAPortThatTakesOffloads_NoLargeBufferFree_SegmentedInstead()
    {
        using var rig = new Rig();
        rig.Add(FlowAction.Output(2), FlowAction.SetTpDst(10), FlowAction.Output(2));
        var pool = rig.Fwd.Pool;
        for (int i = 0; i < pool.LargeCapacity; i++) rig.In.Inject(SuperFrame().Frame, SuperFrame().Offload);   // a burst takes every large buffer
        rig.Dp.PollUntilIdle();
        int whole = rig.Whole.Sent.Count(s => s.Large), cut = rig.Whole.Sent.Count(s => !s.Large);
        Assert.Equal(pool.LargeCapacity, whole);   // the last output of each: the buffer itself
        Assert.Equal(pool.LargeCapacity * 21, cut);   // the first output of each: no buffer for a whole copy
        foreach (var s in rig.Whole.Sent)
        {
            if (s.Large) AssertValidTcp(Completed(s.Frame, s.Offload));
            else AssertValidTcp(s.Frame);
        }
        Assert.Equal(0, rig.Dp.Counters.Read(DatapathCounters.Drop(DropReason.PoolExhausted)));
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    [Fact]
    public void MalformedSuperFrame_ForAPortWithoutOffloads_IsDroppedAndCounted()
    {
        using var rig = new Rig();
        rig.Add(FlowAction.Output(3));
        var (frame, o) = SuperFrame();
        o.GsoType = OffloadInfo.GsoTcpV6;   // says IPv6, carries IPv4
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        Assert.Empty(rig.Plain.TakeSent());
        Assert.Equal(1, rig.Dp.Counters.Read(DatapathCounters.Drop(DropReason.GsoRefused)));
        var pool = rig.Fwd.Pool;
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);
    }

    [Fact]
    public void IncoherentAfterRewrite_ForAPortThatTakesOffloads_IsSegmentedInstead()
    {
        using var rig = new Rig();
        rig.Add(FlowAction.Output(2));
        var (frame, o) = SuperFrame();
        o.CsumStart = L4 + 2;   // does not point at the TCP header
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        Assert.Equal(21, rig.Whole.Sent.Count);
        foreach (var s in rig.Whole.Sent)
        {
            Assert.False(s.Large);
            AssertValidTcp(s.Frame);
        }
        Assert.Equal(0, rig.Dp.Counters.Read(DatapathCounters.GsoHandedOn));
    }

    [Fact]
    public void HandingOnAndSegmenting_AllocateNothingPerPacket()
    {
        using var rig = new Rig();
        rig.Add(FlowAction.SetTpDst(9), FlowAction.Output(3), FlowAction.SetTpDst(10), FlowAction.Output(2));
        rig.Whole.Capture = false;
        rig.Plain.CaptureSent = false;
        var (frame, o) = SuperFrame();
        rig.In.Generator = frame;
        rig.In.GeneratorOffload = o;
        var fwd = rig.Fwd;
        var slot = rig.Dp.Ports.Get(1)!;
        void Round()
        {
            rig.In.GeneratorLeft = 200;
            while (fwd.Poll(slot) > 0) { }
        }
        Round();
        long bytes = AllocationMeter.SteadyState(Round);
        Assert.Equal(0, bytes);
        Assert.True(rig.Dp.Counters.Read(DatapathCounters.GsoHandedOn) >= 200, $"sent whole {rig.Whole.SentCount}, handed on {rig.Dp.Counters.Read(DatapathCounters.GsoHandedOn)}, segments {rig.Dp.Counters.Read(DatapathCounters.GsoSegments)}, forwarder packets {fwd.Packets}, misses {fwd.Misses}");
        Assert.True(rig.Dp.Counters.Read(DatapathCounters.GsoSegments) >= 200 * 21);
    }

    /// <summary>Wire bytes of <see cref="SuperFrame"/>'s segments: each repeats the 54 bytes of headers.</summary>
    private const int WireBytes = 21 * (L4 + 20) + Payload;

    /// <summary>Wire bytes of the first <paramref name="segments"/> full segments of <see cref="SuperFrame"/>.</summary>
    private static long SegmentBytes(int segments) => segments * (long)(L4 + 20 + Mss);

    [Fact]
    public void APktpsMeter_ChargesASuperFrameItsSegments_AndCutsTheOneThatMeetsAnEmptyBucket()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);
        // 10 packets/s with a burst of 100 packets, full at the start: four 21-segment super-frames (84) fit, the
        // fifth's first 16 segments do, the rest is dropped.
        var meter = new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 10, 100)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Add(FlowAction.Meter(1), FlowAction.Output(3));
        for (int i = 0; i < 10; i++)
        {
            var (frame, o) = SuperFrame();
            rig.In.Inject(frame, o);
        }
        rig.Dp.PollUntilIdle();
        Assert.Equal(100, rig.Plain.TakeSent().Count);
        Assert.Equal(10 * 21, meter.Packets);
        Assert.Equal(10L * WireBytes, meter.Bytes);
        Assert.Equal(110, meter.Bands[0].Packets);
        Assert.Equal(10L * WireBytes - 4L * WireBytes - SegmentBytes(16), meter.Bands[0].Bytes);
        Assert.Equal(1, rig.Dp.Counters.Read(ActionExecutor.MeterCut));
    }

    [Fact]
    public void ACutOnTheShortLastSegment_CountsThatSegmentAlone()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);
        // 10 packets/s with a burst of 20: the first 20 segments pass, the 21st (the short last one: 100 bytes of
        // payload) meets the empty bucket and is the only one the band drops.
        var meter = new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 10, 20)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Add(FlowAction.Meter(1), FlowAction.Output(3));
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        Assert.Equal(20, rig.Plain.TakeSent().Count);
        Assert.Equal(21, meter.Packets);
        Assert.Equal(WireBytes, meter.Bytes);
        Assert.Equal(1, meter.Bands[0].Packets);
        Assert.Equal(L4 + 20 + 100, meter.Bands[0].Bytes);
        Assert.Equal(WireBytes - SegmentBytes(20), meter.Bands[0].Bytes);
        Assert.Equal(1, rig.Dp.Counters.Read(ActionExecutor.MeterCut));
    }

    [Fact]
    public void AKbpsMeterWithABurstSmallerThanASuperFrame_PassesTheSegmentsItsBucketHolds_AndKeepsItsRate()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);
        // 1,000 kbit/s with a 100 kbit burst: a full segment is 12,016 bits on the wire, so a full bucket passes 8.
        var meter = new Meters.Meter(1, Meters.MeterUnit.Kbps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 1000, 100)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Add(FlowAction.Meter(1), FlowAction.Output(3));
        int Offer()
        {
            var (frame, o) = SuperFrame();
            rig.In.Inject(frame, o);
            rig.Dp.PollUntilIdle();
            return rig.Plain.TakeSent().Count;
        }
        Assert.Equal(8, Offer());    // what a full bucket holds
        Assert.Equal(0, Offer());    // the 3,872 bits left hold no segment
        clock.AdvanceNanos(50_000_000);
        Assert.Equal(4, Offer());    // 50,000 bits more: four segments
        clock.AdvanceNanos(1_000_000_000);
        Assert.Equal(8, Offer());    // a second refills the bucket, no more
        Assert.Equal(4L * WireBytes, meter.Bytes);
        Assert.Equal(4 * 21, meter.Packets);
        Assert.Equal(4 * 21 - 20, meter.Bands[0].Packets);
    }

    [Fact]
    public void ARemarkBand_PassesEverySegment_AndRemarksTheFrameItAppliesToPartOf()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);
        // 10 packets/s with a burst of 5: the band applies to segments 6 to 21.
        var meter = new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.DscpRemark, 10, 5, precLevel: 1)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Add(FlowAction.Meter(1), FlowAction.Output(3));
        var (frame, o) = SuperFrame();
        frame[15] = 10 << 2;   // AF11
        frame[24] = frame[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), Checksum.Compute(frame.AsSpan(14, 20)));
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        var segs = rig.Plain.TakeSent();
        Assert.Equal(21, segs.Count);
        Assert.All(segs, f => Assert.Equal(12 << 2, f[15]));   // AF12
        Assert.All(segs, f => AssertValidTcp(f));
        Assert.Equal(21, meter.Packets);
        Assert.Equal(16, meter.Bands[0].Packets);
        Assert.Equal(0, rig.Dp.Counters.Read(ActionExecutor.MeterCut));
    }

    [Fact]
    public void ACutSuperFrame_HandedOnWhole_IsTheSegmentsBeforeTheCut()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);
        var meter = new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 10, 5)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Add(FlowAction.Meter(1), FlowAction.Output(2), FlowAction.Output(3));
        var (frame, o) = SuperFrame();
        frame[L4 + 13] = 0x19;   // ACK PSH FIN: the last segment's flags go with the tail
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();

        var sent = Assert.Single(rig.Whole.Sent);
        Assert.True(sent.Large);
        Assert.Equal(L4 + 20 + 5 * Mss, sent.Frame.Length);
        Assert.Equal(OffloadInfo.GsoTcpV4, sent.Offload.GsoType);
        Assert.Equal(20 + 20 + 5 * Mss, BinaryPrimitives.ReadUInt16BigEndian(sent.Frame.AsSpan(16)));
        Assert.Equal(0x10, sent.Frame[L4 + 13]);
        Assert.True(frame.AsSpan(0, L4 + 20 + 5 * Mss)[(L4 + 20)..].SequenceEqual(sent.Frame.AsSpan(L4 + 20)));
        AssertValidTcp(Completed(sent.Frame, sent.Offload));

        var segs = rig.Plain.TakeSent();
        Assert.Equal(5, segs.Count);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(L4 + 20 + Mss, segs[i].Length);
            AssertValidTcp(segs[i]);
            Assert.Equal(7000u + (uint)(i * Mss), BinaryPrimitives.ReadUInt32BigEndian(segs[i].AsSpan(L4 + 4)));
            Assert.Equal(0x10, segs[i][L4 + 13]);
        }
        Assert.Equal(16, meter.Bands[0].Packets);
        var pool = rig.Fwd.Pool;
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);
    }

    [Fact]
    public void ASuperFrameThroughAMeter_AllocatesNothingPerPacket()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);
        var meter = new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 1000, 50)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Add(FlowAction.Meter(1), FlowAction.Output(2));
        rig.Whole.Capture = false;
        var (frame, o) = SuperFrame();
        rig.In.Generator = frame;
        rig.In.GeneratorOffload = o;
        void Round()
        {
            rig.In.GeneratorLeft = 200;
            clock.AdvanceNanos(30_000_000);   // 30 segments a round: super-frames pass whole, cut and dropped
            rig.Dp.PollUntilIdle();
        }
        Round();
        long bytes = AllocationMeter.SteadyState(Round);
        Assert.Equal(0, bytes);
        Assert.True(rig.Dp.Counters.Read(ActionExecutor.MeterCut) > 0);
        Assert.True(meter.Bands[0].Packets > 0);
    }

    [Fact]
    public void ThroughAShapedQueue_ASuperFrameWaitsAndIsCountedAsItsSegments()
    {
        using var rig = new Rig();
        var queue = new Qos.ShapedQueue(1, 0, 0, 100);
        Assert.True(rig.Dp.SetShaping(2, new Qos.PortShaper(0, [queue], rig.Dp.Clock.NowNanos)));
        rig.Add(FlowAction.Enqueue(2, 1));
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        var counters = rig.Dp.Ports.Get(2)!.Queues[1];
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref counters.TxPackets) >= 21, 10_000), $"queue 1 sent {counters.TxPackets}");
        Assert.True(SpinWait.SpinUntil(() => { lock (rig.Whole.Sent) return rig.Whole.Sent.Count >= 21; }, 10_000));
        Assert.Equal(21, counters.TxPackets);
        Assert.Equal(WireBytes, counters.TxBytes);
        Assert.Equal(0, counters.TxErrors);
        Assert.Equal(21, queue.Sent);
        lock (rig.Whole.Sent)
        {
            Assert.Equal(21, rig.Whole.Sent.Count);
            Assert.All(rig.Whole.Sent, s => AssertValidTcp(s.Frame));
        }
    }

    [Fact]
    public void TheControllerMeter_MeasuresEachSegmentOnce()
    {
        var clock = new ManualClock();
        using var rig = new Rig(clock);   // no flow: a miss goes to the controller
        var meter = new Meters.Meter(0xfffffffe, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 10, 5)], clock.NowNanos);
        rig.Dp.Meters.Set(meter);
        rig.Dp.Meters.Controller = meter;   // as Ofproto names the controller meter
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        int ups = 0;
        rig.Dp.DrainUpcalls((in Upcall u) => ups++);
        Assert.Equal(5, ups);
        Assert.Equal(21, meter.Packets);
        Assert.Equal(16, meter.Bands[0].Packets);
        Assert.Equal(16, rig.Dp.DropCount(DropReason.ControllerMeter));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheSampler_CountsASuperFrameAsItsSegments(bool flow)
    {
        using var rig = new Rig(samplingRate: 1);
        if (flow) rig.Add(FlowAction.Output(3));
        var (frame, o) = SuperFrame();
        rig.In.Inject(frame, o);
        rig.Dp.PollUntilIdle();
        var sampler = rig.Fwd.Sampler;
        Assert.Equal(21, sampler.SeenPackets);
        var header = new byte[PacketSampler.HeaderSize];
        int samples = 0;
        while (sampler.TryRead(header, out var sample))
        {
            Assert.Equal(frame.Length, sample.FrameLength);
            samples++;
        }
        Assert.Equal(21, samples);   // 1 in 1: every segment's turn, each the super-frame's header
    }
}
