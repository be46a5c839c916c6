using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Qos;

namespace Softswitch.Datapath.Tests;

/// <summary>Egress shaping: ceilings, guarantees and the spare rate over simulated time, tail drops, and a shaped port in a datapath.</summary>
public class QueueShapingTests
{
    private static readonly byte[] s_frame = FrameBuilder.Udp(new MacAddress(0x020000000001UL), new MacAddress(0x020000000002UL), 1, 2, 3, 4, 1500);

    /// <summary>Keeps every queue of <paramref name="backlogged"/> full and drains the shaper for <paramref name="seconds"/> of simulated time; bits sent per queue.</summary>
    private static Dictionary<uint, long> Simulate(PortShaper shaper, uint[] backlogged, double seconds)
    {
        var sent = backlogged.ToDictionary(q => q, _ => 0L);
        var buf = new byte[ShapedQueue.SlotSize];
        long now = 0;
        for (long t = 0; t < (long)(seconds * 10_000); t++)
        {
            now += 100_000; // 100 us steps
            foreach (var q in backlogged)
                while (shaper.QueueFor(q).Backlog < 20) shaper.QueueFor(q).TryEnqueue(s_frame);
            shaper.Refill(now);
            int len;
            while ((len = shaper.Next(buf, out var from)) > 0) sent[from!.Id] += len * 8L;
        }
        return sent;
    }

    [Fact]
    public void QueuesGetTheirMaxRatesUnderThePortsCeiling()
    {
        var shaper = new PortShaper(100_000_000, [new ShapedQueue(0, 0, 30_000_000, 100), new ShapedQueue(1, 0, 70_000_000, 100)], 0);
        var sent = Simulate(shaper, [0, 1], 10);
        Assert.InRange(sent[0] / 10.0, 29.7e6, 30.3e6);
        Assert.InRange(sent[1] / 10.0, 69.3e6, 70.7e6);
    }

    [Fact]
    public void TheCeilingBoundsQueuesThatWantMore()
    {
        var shaper = new PortShaper(50_000_000, [new ShapedQueue(0, 0, 0, 100), new ShapedQueue(1, 0, 0, 100)], 0);
        var sent = Simulate(shaper, [0, 1], 10);
        Assert.InRange((sent[0] + sent[1]) / 10.0, 49.5e6, 50.5e6);
        Assert.InRange(sent[0] / (double)sent[1], 0.95, 1.05); // the spare rate shared evenly
    }

    [Fact]
    public void AMinRateQueueGetsItsGuaranteeAgainstAGreedyOne()
    {
        var shaper = new PortShaper(100_000_000, [new ShapedQueue(0, 60_000_000, 0, 100), new ShapedQueue(1, 0, 0, 100)], 0);
        var sent = Simulate(shaper, [0, 1], 10);
        Assert.True(sent[0] / 10.0 >= 59.4e6, $"queue 0: {sent[0] / 10.0 / 1e6:F2} Mbit/s");
        Assert.InRange((sent[0] + sent[1]) / 10.0, 99e6, 101e6);
        // With the guaranteed queue idle, the other takes the whole port.
        var alone = Simulate(new PortShaper(100_000_000, [new ShapedQueue(0, 60_000_000, 0, 100), new ShapedQueue(1, 0, 0, 100)], 0), [1], 5);
        Assert.InRange(alone[1] / 5.0, 99e6, 101e6);
    }

    [Fact]
    public void AFullQueueDropsAtTheTailAndCountsIt()
    {
        var q = new ShapedQueue(3, 0, 1000, 4);
        for (int i = 0; i < 4; i++) Assert.True(q.TryEnqueue(s_frame));
        Assert.False(q.TryEnqueue(s_frame));
        Assert.False(q.TryEnqueue(new byte[ShapedQueue.SlotSize + 1]));
        Assert.Equal(2, q.Dropped);
        Assert.Equal(4, q.Backlog);
        // Unconfigured queue ids go to queue 0, which a shaper always has.
        var shaper = new PortShaper(0, [q], 0);
        Assert.Same(q, shaper.QueueFor(3));
        Assert.True(shaper.QueueFor(5).Implicit);
        Assert.Same(shaper.QueueFor(0), shaper.QueueFor(uint.MaxValue));
    }

    [Fact]
    public void AShapedPortSendsWhatItsQueuesReleaseAndCountsIt()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        var a = new MemoryPort("a", new MacAddress(0x020000000011UL));
        var b = new MemoryPort("b", new MacAddress(0x020000000012UL)) { CaptureSent = true };
        dp.AddPort(a);
        dp.AddPort(b);
        Assert.True(dp.SetShaping(2, new PortShaper(0, [new ShapedQueue(1, 0, 1_000_000_000, 100)], dp.Clock.NowNanos)));
        using (var w = dp.Pipeline.Stage(0)!.Write())
            w.Insert(new FlowEntry(FlowMatch.All, 1, new FlowActions([FlowAction.Enqueue(2, 1)]), 0, 0, dp.Clock.NowNanos));
        for (int i = 0; i < 10; i++) a.Inject(s_frame);
        dp.PollUntilIdle();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var got = new List<byte[]>();
        while (got.Count < 10 && DateTime.UtcNow < deadline)
        {
            got.AddRange(b.TakeSent());
            Thread.Sleep(10);
        }
        Assert.Equal(10, got.Count);
        Assert.All(got, f => Assert.Equal(s_frame, f));
        Assert.Equal(10, dp.Ports.Get(2)!.Queues[1].TxPackets);
        Assert.Equal(10L * s_frame.Length, dp.Ports.Get(2)!.Queues[1].TxBytes);
    }

    [Fact]
    public void AJumboFrameThroughAShapedQueueLeavesWhole()
    {
        // A datapath carrying 9000-byte frames: the scheduler's copies must hold what a queue holds.
        var jumbo = FrameBuilder.Udp(new MacAddress(0x020000000001UL), new MacAddress(0x020000000002UL), 1, 2, 3, 4, 9000);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, FrameSize = 9000 + 14 + 8 });
        var a = new MemoryPort("a", new MacAddress(0x020000000011UL));
        var b = new MemoryPort("b", new MacAddress(0x020000000012UL)) { CaptureSent = true };
        dp.AddPort(a);
        dp.AddPort(b);
        Assert.True(dp.SetShaping(2, new PortShaper(100_000_000, [new ShapedQueue(1, 0, 50_000_000, 100)], dp.Clock.NowNanos)));
        using (var w = dp.Pipeline.Stage(0)!.Write())
            w.Insert(new FlowEntry(FlowMatch.All, 1, new FlowActions([FlowAction.Enqueue(2, 1)]), 0, 0, dp.Clock.NowNanos));
        for (int i = 0; i < 5; i++) a.Inject(jumbo);
        dp.PollUntilIdle();
        var got = new List<byte[]>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (dp.Ports.Get(2)!.Queues[1].TxPackets + dp.Ports.Get(2)!.Queues[1].TxErrors < 5 && DateTime.UtcNow < deadline)
        {
            got.AddRange(b.TakeSent());
            Thread.Sleep(10);
        }
        Thread.Sleep(20);
        got.AddRange(b.TakeSent());
        Assert.Equal(5, got.Count);
        Assert.All(got, f => Assert.Equal(jumbo, f));
        Assert.Equal(5, dp.Ports.Get(2)!.Queues[1].TxPackets);
        Assert.Equal(5L * jumbo.Length, dp.Ports.Get(2)!.Queues[1].TxBytes);
        Assert.Equal(0, dp.Ports.Get(2)!.Queues[1].TxErrors);
    }

    [Fact]
    public void AnEnqueueIntoAQueueEmptiedMeanwhileWakesTheScheduler()
    {
        // The scheduler empties the queue between the forwarding thread's look at it and its enqueue, then sleeps:
        // that enqueue is the queue's 0 -> 1 and must wake it.
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        var a = new MemoryPort("a", new MacAddress(0x020000000011UL));
        var b = new MemoryPort("b", new MacAddress(0x020000000012UL));
        dp.AddPort(a);
        dp.AddPort(b);
        var q = new ShapedQueue(1, 0, 0, 100);
        Assert.True(dp.SetShaping(2, new PortShaper(0, [q], dp.Clock.NowNanos)));
        using (var w = dp.Pipeline.Stage(0)!.Write())
            w.Insert(new FlowEntry(FlowMatch.All, 1, new FlowActions([FlowAction.Enqueue(2, 1)]), 0, 0, dp.Clock.NowNanos));
        var buf = new byte[ShapedQueue.SlotSize];
        int enqueues = 0;
        q.BeforeEnqueue = () =>
        {
            if (++enqueues != 2) return;
            lock (q.Lock)
                while (q.HeadLength() >= 0) q.Dequeue(buf);
        };
        long kicks = dp.Qos.Kicks;
        a.Inject(s_frame);
        a.Inject(s_frame);
        dp.PollUntilIdle();
        Assert.Equal(2, enqueues);
        Assert.Equal(kicks + 2, dp.Qos.Kicks); // one per 0 -> 1
    }
}
