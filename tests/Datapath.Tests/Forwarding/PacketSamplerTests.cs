using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// The forwarders' 1-in-N packet sampling (what sFlow export reads): which packets are taken, the pool and drop
/// totals, the header bytes and ports of each sample, and no allocation per packet with sampling on.
/// </summary>
public sealed class PacketSamplerTests
{
    private sealed class Rig : DatapathRig
    {
        public Rig(int rate, int ringSlots = 1024)
            : base(3, new DatapathOptions { EmcEntries = 1024, PacketInRate = 0, SamplingRate = rate, SampleRingSlots = ringSlots }, capture: false)
        {
            Dp.MissBehavior = MissBehavior.Drop;
        }

        public PacketSampler Sampler => Dp.Forwarders[0].Sampler;

        public void InPortTo(ushort inPort, params FlowAction[] actions)
            => Insert(0, new FlowMatch(new FlowKeyBuilder().InPort(0xFFFF).Key, new FlowKeyBuilder().InPort(inPort).Key), 100, actions);

        public List<(PacketSample Sample, byte[] Header)> Drain(SampleChannel channel = SampleChannel.Sflow)
        {
            var list = new List<(PacketSample, byte[])>();
            var buf = new byte[PacketSampler.HeaderSize];
            while (Sampler.TryRead(channel, buf, out var s)) list.Add((s, buf[..s.HeaderLength]));
            return list;
        }

    }

    private static byte[] Frame(int seq, int size)
    {
        var f = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 0x0A000001, 0x0A000002, 1000, 2000, size);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(42), seq);
        return f;
    }

    [Fact]
    public void RateOne_SamplesEveryPacket_WithItsHeaderPortsAndPool()
    {
        using var r = new Rig(rate: 1);
        r.InPortTo(1, FlowAction.Output(2));
        for (int i = 0; i < 40; i++) r.Ports[0].Inject(Frame(i, 200));
        r.Dp.PollUntilIdle();
        var got = r.Drain();
        Assert.Equal(40, got.Count);
        for (int i = 0; i < got.Count; i++)
        {
            var (s, header) = got[i];
            Assert.Equal(i + 1, s.Pool);
            Assert.Equal((ushort)1, s.InPort);
            Assert.Equal((ushort)2, s.OutPort);
            Assert.Equal(1, s.OutputCount);
            Assert.Equal(200, s.FrameLength);
            Assert.Equal(PacketSampler.HeaderSize, s.HeaderLength);
            Assert.Equal(Frame(i, 200).AsSpan(0, PacketSampler.HeaderSize).ToArray(), header);
        }
        Assert.Equal(40, r.Sampler.SeenPackets);
        Assert.Equal(0, r.Sampler.DropCount);
    }

    /// <summary>SetSamplingRate (an sFlow row set or cleared on a running bridge) takes effect from the next packet.</summary>
    [Fact]
    public void SamplingRateSetWhileRunning_AppliesToThePacketsAfter()
    {
        using var r = new Rig(rate: 0);
        r.InPortTo(1, FlowAction.Output(2));
        for (int i = 0; i < 10; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        Assert.Equal((0, 0L), (r.Sampler.Rate, r.Sampler.SeenPackets));

        r.Dp.SetSamplingRate(1);
        Assert.Equal(1, r.Dp.SamplingRate);
        for (int i = 0; i < 10; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        Assert.Equal(10, r.Drain().Count);

        r.Dp.SetSamplingRate(0);
        for (int i = 0; i < 10; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        Assert.Empty(r.Drain());
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Dp.SetSamplingRate(-1));
    }

    [Fact]
    public void ShortFrames_DropsAndMisses_AreSampledAsTheyAre()
    {
        using var r = new Rig(rate: 1);
        r.InPortTo(1); // drop
        r.Ports[0].Inject(Frame(1, 64));
        r.Ports[1].Inject(Frame(2, 64)); // no flow: a miss
        r.Dp.PollUntilIdle();
        var got = r.Drain();
        Assert.Equal(2, got.Count);
        var drop = got.Single(g => g.Sample.InPort == 1).Sample;
        Assert.Equal(0, drop.OutputCount);
        Assert.Equal(64, drop.HeaderLength);
        var miss = got.Single(g => g.Sample.InPort == 2).Sample;
        Assert.Equal(-1, miss.OutputCount);
        Assert.Equal(PortNumber.None, miss.OutPort);
    }

    [Fact]
    public void OneInK_TakesAboutSeenOverK_AndThePoolCountsEveryPacket()
    {
        const int K = 64, N = 64_000;
        using var r = new Rig(rate: K, ringSlots: 4096);
        r.InPortTo(1, FlowAction.Output(2));
        var frames = Enumerable.Range(0, 16).Select(i => Frame(i, 100)).ToArray();
        r.Ports[0].SetGenerator(frames, N);
        Assert.Equal(N, r.Dp.PollUntilIdle(1_000_000));
        var got = r.Drain();
        // Skips are uniform in [1, 2K-1]: the count is near N/K (closer than binomial); 6 sigma of binomial is generous.
        double mean = (double)N / K;
        Assert.InRange(got.Count, mean - 6 * Math.Sqrt(mean), mean + 6 * Math.Sqrt(mean));
        long last = 0;
        foreach (var (s, _) in got)
        {
            Assert.InRange(s.Pool - last, 1, 2 * K - 1);
            last = s.Pool;
        }
        Assert.Equal(N, r.Sampler.SeenPackets);
    }

    [Fact]
    public void FullRing_CountsDrops_AndKeepsTheOldestSamples()
    {
        using var r = new Rig(rate: 1, ringSlots: 8);
        r.InPortTo(1, FlowAction.Output(2));
        for (int i = 0; i < 20; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        Assert.Equal(12, r.Sampler.DropCount);
        var got = r.Drain();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), got.Select(g => g.Sample.Pool));
        r.Ports[0].Inject(Frame(99, 100));
        r.Dp.PollUntilIdle();
        var next = Assert.Single(r.Drain());
        Assert.Equal(21, next.Sample.Pool);
        Assert.Equal(12, next.Sample.Drops);
    }

    [Fact]
    public void Off_TakesNothing()
    {
        using var r = new Rig(rate: 0);
        r.InPortTo(1, FlowAction.Output(2));
        for (int i = 0; i < 100; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        Assert.Empty(r.Drain());
        Assert.Equal(0, r.Sampler.SeenPackets);
    }

    [Fact]
    public void SamplingOn_ForwardingAllocatesNothing()
    {
        using var r = new Rig(rate: 400, ringSlots: 64);
        r.InPortTo(1, FlowAction.Output(2));
        var frames = Enumerable.Range(0, 16).Select(i => Frame(i, 100)).ToArray();
        r.Ports[0].SetGenerator(frames, 0);
        var buf = new byte[PacketSampler.HeaderSize];
        long allocated = AllocationMeter.SteadyState(() =>
        {
            r.Ports[0].SetGeneratorCount(10_000);
            r.Dp.PollUntilIdle(100_000);
            while (r.Sampler.TryRead(buf, out _)) { }
        });
        Assert.Equal(0, allocated);
        Assert.True(r.Sampler.SeenPackets >= 10_000);
    }

    /// <summary>sFlow and IPFIX sample one forwarding thread at their own rates, each from its own ring; turning one off
    /// leaves the other's samples and its pool going on where they were.</summary>
    [Fact]
    public void TwoChannels_SampleAtTheirOwnRates_FromTheirOwnRings()
    {
        using var r = new Rig(rate: 1, ringSlots: 8192);
        r.InPortTo(1, FlowAction.Output(2));
        r.Dp.SetSamplingRate(SampleChannel.Ipfix, 4);
        Assert.Equal((1, 4), (r.Dp.SamplingRate, r.Dp.SamplingRateOf(SampleChannel.Ipfix)));
        Assert.True(r.Dp.Sampling);
        for (int i = 0; i < 4000; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        var sflow = r.Drain();
        var ipfix = r.Drain(SampleChannel.Ipfix);
        Assert.Equal(4000, sflow.Count);
        Assert.Equal(Enumerable.Range(1, 4000).Select(i => (long)i), sflow.Select(x => x.Sample.Pool));
        Assert.InRange(ipfix.Count, 800, 1200);
        Assert.True(ipfix.Zip(ipfix.Skip(1)).All(p => p.First.Sample.Pool < p.Second.Sample.Pool), "IPFIX samples in the order taken");
        Assert.All(ipfix, x => Assert.Equal(((ushort)1, (ushort)2, 1), (x.Sample.InPort, x.Sample.OutPort, x.Sample.OutputCount)));
        Assert.Equal(4000, r.Sampler.SeenPackets);

        r.Dp.SetSamplingRate(SampleChannel.Ipfix, 0);
        Assert.Equal(0, r.Sampler.RateOf(SampleChannel.Ipfix));
        for (int i = 0; i < 10; i++) r.Ports[0].Inject(Frame(i, 100));
        r.Dp.PollUntilIdle();
        Assert.Equal(Enumerable.Range(4001, 10).Select(i => (long)i), r.Drain().Select(x => x.Sample.Pool));
        Assert.Empty(r.Drain(SampleChannel.Ipfix));
        r.Dp.SetSamplingRate(0);
        Assert.False(r.Dp.Sampling);
    }

    [Fact]
    public void BothChannelsOn_ForwardingAllocatesNothing()
    {
        using var r = new Rig(rate: 400, ringSlots: 64);
        r.Dp.SetSamplingRate(SampleChannel.Ipfix, 300);
        r.InPortTo(1, FlowAction.Output(2));
        var frames = Enumerable.Range(0, 16).Select(i => Frame(i, 100)).ToArray();
        r.Ports[0].SetGenerator(frames, 0);
        var buf = new byte[PacketSampler.HeaderSize];
        long allocated = AllocationMeter.SteadyState(() =>
        {
            r.Ports[0].SetGeneratorCount(10_000);
            r.Dp.PollUntilIdle(100_000);
            while (r.Sampler.TryRead(SampleChannel.Sflow, buf, out _)) { }
            while (r.Sampler.TryRead(SampleChannel.Ipfix, buf, out _)) { }
        });
        Assert.Equal(0, allocated);
        Assert.True(r.Sampler.SeenPackets >= 10_000);
    }
}
