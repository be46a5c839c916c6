using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// The sample action in the datapath: probability 65535 takes every packet (its header as the actions before it left
/// it, the action's ids), a low one few (counts with a fixed seed), 0 none; nothing while flow sampling is off; in a
/// clone too; a full ring counts its drops; the packet is forwarded unchanged, and a sampling flow's fast path
/// allocates nothing.
/// </summary>
public sealed class FlowSamplerTests
{
    private static readonly MacAddress MacD = MacAddress.Parse("02:00:00:00:00:0d");

    private static DatapathRig Rig(ulong seed = 0, int ringSlots = 4096)
    {
        var r = new DatapathRig(3, new DatapathOptions { EmcEntries = 1024, PacketInRate = 0, FlowSampleSeed = seed, SampleRingSlots = ringSlots });
        r.Dp.FlowSampling = true;
        return r;
    }

    private static List<(FlowSample Sample, byte[] Header)> Drain(DatapathRig r)
    {
        var list = new List<(FlowSample, byte[])>();
        var buf = new byte[PacketSampler.HeaderSize];
        foreach (var f in r.Dp.Forwarders)
            while (f.FlowSampler.TryRead(buf, out var s)) list.Add((s, buf[..s.HeaderLength]));
        return list;
    }

    [Fact]
    public void Probability65535_SamplesEveryPacket_AsTheActionsBeforeItLeftIt_AndTheFlowForwards()
    {
        using var r = Rig();
        r.Insert(0, Any, 10, [FlowAction.Sample(65535, 1, 2, 3, 0xffff, 0), FlowAction.SetDlDst(MacD),
                              FlowAction.Sample(65535, 4, 5, 6, 2, 2), FlowAction.Output(2)]);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 50);
        var sent = r.Sent(2);
        Assert.Equal(50, sent.Count);
        Assert.All(sent, f => Assert.Equal(MacD, MacAddress.Read(f)));
        var got = Drain(r);
        Assert.Equal(100, got.Count);
        Assert.Equal(50, got.Count(g => g.Sample == new FlowSample(1, 0xffff, 0, 65535, 1, 2, 3, frame.Length, frame.Length) && MacAddress.Read(g.Header) == MacB));
        Assert.Equal(50, got.Count(g => g.Sample == new FlowSample(1, 2, 2, 65535, 4, 5, 6, frame.Length, frame.Length) && MacAddress.Read(g.Header) == MacD));
        Assert.Equal(100, r.Dp.Counters.Read(FlowSampleCounters.Taken));
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(12345UL)]
    public void ALowProbability_SamplesFew_AndZeroNone(ulong seed)
    {
        using var r = Rig(seed);
        r.Insert(0, Any, 10, [FlowAction.Sample(655, 1, 0, 0, 0xffff, 0), FlowAction.Sample(0, 2, 0, 0, 0xffff, 0), FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        var frame = Frame(MacA, MacB);
        int taken = 0;
        for (int round = 0; round < 20; round++)
        {
            r.Send(1, frame, times: 1000);
            var got = Drain(r);
            Assert.All(got, g => Assert.Equal(1u, g.Sample.CollectorSetId));
            taken += got.Count;
        }
        // 20,000 packets at 655/65535 (1 in 100): about 200; a fair generator lands far inside these bounds.
        Assert.InRange(taken, 120, 300);
        Assert.Equal(20_000, r.Port(2).Counters.TxPackets);
    }

    [Fact]
    public void WithFlowSamplingOff_NothingIsTaken()
    {
        using var r = Rig();
        r.Dp.FlowSampling = false;
        r.Insert(0, Any, 10, [FlowAction.Sample(65535, 1, 2, 3, 0xffff, 0), FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB), times: 5);
        Assert.Equal(5, r.Sent(2).Count);
        Assert.Empty(Drain(r));
    }

    [Fact]
    public void ASampleInAClone_SamplesTheClonesCopy()
    {
        using var r = Rig();
        r.Insert(0, Any, 10, [FlowAction.CloneOf(2), FlowAction.SetDlDst(MacD), FlowAction.Sample(65535, 9, 0, 0, 0xffff, 1), FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB), times: 3);
        Assert.All(r.Sent(2), f => Assert.Equal(MacB, MacAddress.Read(f)));
        var got = Drain(r);
        Assert.Equal(3, got.Count);
        Assert.All(got, g => Assert.Equal(MacD, MacAddress.Read(g.Header)));
    }

    [Fact]
    public void AFullRing_CountsItsDrops_AndForwardingGoesOn()
    {
        using var r = Rig(ringSlots: 8);
        r.Insert(0, Any, 10, [FlowAction.Sample(65535, 1, 2, 3, 0xffff, 0), FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB), times: 20);
        Assert.Equal(20, r.Sent(2).Count);
        Assert.Equal(8, Drain(r).Count);
        Assert.Equal(12, r.Dp.Counters.Read(FlowSampleCounters.RingFull));
    }

    [Fact]
    public void ASamplingFlowsFastPath_AllocatesNothing()
    {
        using var r = Rig();
        r.Insert(0, Any, 10, [FlowAction.Sample(65535, 1, 2, 3, 0xffff, 0), FlowAction.Sample(6554, 1, 2, 3, 0xffff, 0), FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        r.Port(1).SetGenerator([Frame(MacA, MacB), Frame(MacA, MacC)], 0);
        var buf = new byte[PacketSampler.HeaderSize];
        long allocated = long.MaxValue, group = 0, drained = 0;
        for (int round = 0; round < 40; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(64);
            r.Dp.PollUntilIdle();
            while (r.Fwd.FlowSampler.TryRead(buf, out _)) drained++;
            if (round < 8) continue;
            group += GC.GetAllocatedBytesForCurrentThread() - before;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Equal(0, allocated);
        Assert.True(drained >= 40 * 64, $"{drained} samples");
    }
}
