using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Two forwarding threads that hit one rule and send to one port (or receive from one port's two receivers) count in
/// slots of their own (the rule's per-thread slots, the port's per-thread slots), and the sums read exactly what was
/// forwarded, with nothing allocated per packet.
/// </summary>
public sealed class ThreadSlotCountingTests
{
    private static readonly MacAddress Src = new(0x0200_0000_1000UL), Dst = new(0x0200_0000_2000UL);

    private static byte[][] Frames(int count, int size)
    {
        var frames = new byte[count][];
        for (int i = 0; i < count; i++) frames[i] = FrameBuilder.Udp(Src, Dst, 0x0A00_0000u | (uint)i, 0x0B00_0001u, (ushort)(1024 + i), 5001, size);
        return frames;
    }

    /// <summary>Runs <paramref name="work"/>(thread index) on two threads at once; returns each one's steady-state allocation.</summary>
    private static long[] OnTwoThreads(Func<int, long> work)
    {
        var allocated = new long[2];
        Exception? failure = null;
        using var go = new ManualResetEventSlim();
        var threads = Enumerable.Range(0, 2).Select(idx => new Thread(() =>
        {
            go.Wait();
            try { allocated[idx] = work(idx); }
            catch (Exception e) { failure = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        go.Set();
        foreach (var t in threads) t.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException($"a forwarding thread failed: {failure}");
        return allocated;
    }

    private static int PollUntilIdle(SwitchDatapath dp, int idx)
    {
        int got = 0, n;
        while ((n = dp.PollOnce(idx)) > 0) got += n;
        return got;
    }

    /// <summary>
    /// No thread's slot of a rule's counts lies in the array's first line, beside the length every counting thread
    /// reads: a slot there took that line from the other core at each count, and two threads sharing a thousand
    /// wildcard rules ran at 0.6-0.8 of their rate alone. Slots are a stride (128 bytes) apart, each inside the array.
    /// </summary>
    [Fact]
    public void ARulesThreadSlots_StayOffTheArraysFirstLine_AndApartFromEachOther()
    {
        const int arrayDataOffset = 16; // a long[]'s elements begin after its method table and length (64-bit)
        for (int threads = 1; threads <= 64; threads++)
        {
            int length = FlowEntry.ThreadSlotsLength(threads);
            for (int t = 1; t <= threads; t++)
            {
                int first = FlowEntry.ThreadSlotIndex((byte)t);
                Assert.True(arrayDataOffset + first * sizeof(long) >= 64, $"thread {t}'s slot begins in the array's first line");
                Assert.True(first + 2 < length, $"thread {t}'s slot ends past the array ({threads} threads)");
                if (t > 1) Assert.Equal(FlowEntry.ThreadSlotStride, first - FlowEntry.ThreadSlotIndex((byte)(t - 1)));
            }
        }
        Assert.True(FlowEntry.ThreadSlotStride * sizeof(long) >= 128);
    }

    [Fact]
    public void TwoThreadsThroughOneCatchAllToOnePort_CountExactly_AndAllocateNothingPerPacket()
    {
        const int Warm = 5_000, Round = 20_000, Size = 64;
        using var r = new DatapathRig(3, new DatapathOptions { Threads = 2, EmcEntries = 1024, PacketInRate = 0 }, capture: false);
        var rule = r.Insert(0, FlowMatch.All, 0, [FlowAction.Output(3)]);
        // Port 1 is thread 0's, port 2 thread 1's; both send everything to port 3 through the one rule.
        var frames = Frames(256, Size);
        r.Port(1).SetGenerator(frames, Warm);
        r.Port(2).SetGenerator(frames, Warm);
        var rounds = new int[2];
        var forwarded = new long[2];
        var allocated = OnTwoThreads(idx =>
        {
            var port = r.Port(idx + 1);
            Assert.Equal(Warm, PollUntilIdle(r.Dp, idx));
            // (Asserts allocate: the round only counts, and what it forwarded is checked after.)
            return AllocationMeter.SteadyState(() =>
            {
                port.SetGeneratorCount(Round);
                forwarded[idx] += PollUntilIdle(r.Dp, idx);
                rounds[idx]++;
            });
        });
        Assert.Equal([0L, 0L], allocated);
        Assert.Equal(rounds[0] * (long)Round, forwarded[0]);
        Assert.Equal(rounds[1] * (long)Round, forwarded[1]);
        long total = 2L * Warm + (rounds[0] + rounds[1]) * (long)Round;
        Assert.Equal(total, r.Port(3).Counters.TxPackets);
        Assert.Equal(total * Size, r.Port(3).Counters.TxBytes);
        Assert.Equal(Warm + rounds[0] * (long)Round, r.Port(1).Counters.RxPackets);
        Assert.Equal(Warm + rounds[1] * (long)Round, r.Port(2).Counters.RxPackets);
        Assert.Equal(total * Size, r.Port(1).Counters.RxBytes + r.Port(2).Counters.RxBytes);
        Assert.Equal(total, rule.Packets);
        Assert.Equal(total * Size, rule.Bytes);
        Assert.Equal(FlowEntry.Contended, rule.CountingOwner);
        Assert.Equal(total, r.Dp.Forwarders[0].Packets + r.Dp.Forwarders[1].Packets);
        var s = r.Port(3).Counters.Snapshot();
        Assert.Equal((total, total * Size), (s.TxPackets, s.TxBytes));
    }

    [Fact]
    public void OnePortSplitByFlowHashOverTwoThreads_ReceivesEachFrameOnce_AndCountsExactly()
    {
        const int Count = 30_000, Size = 80;
        var ports = DatapathRig.MemoryPorts(3, capture: false);
        ports[0] = new MemoryPort("p1", new MacAddress(0x0200_0000_0001UL)) { SplitByFlowHash = true };
        using var r = new DatapathRig(ports, new DatapathOptions { Threads = 2, EmcEntries = 1024, PacketInRate = 0 });
        r.Insert(0, FlowMatch.All, 0, [FlowAction.Output(3)]);
        r.Port(1).SetGenerator(Frames(512, Size), Count);
        var got = new int[2];
        OnTwoThreads(idx => got[idx] = PollUntilIdle(r.Dp, idx));
        Assert.Equal(Count, got[0] + got[1]);
        Assert.All(got, n => Assert.InRange(n, 1, Count - 1));
        Assert.Equal(Count, r.Port(1).Counters.RxPackets);
        Assert.Equal((long)Count * Size, r.Port(1).Counters.RxBytes);
        Assert.Equal(Count, r.Port(3).Counters.TxPackets);
    }

    [Fact]
    public void PortCounters_SumTheThreadsSlotsAndTheSharedOne_ExactlyWhateverAddsThem()
    {
        var c = new PortCounters();
        object owner = new(), other = new();
        c.AddTx(5, 500);   // before the datapath gave it slots: shared
        c.ProvideThreadSlots(owner, 2);
        Assert.Equal(5, c.TxPackets);
        const int N = 200_000;
        // Thread slots 1 and 2 of the owner; a control thread (no slot) and a thread of another datapath add atomically.
        var adders = new (object? Owner, int Slot)[] { (owner, 1), (owner, 2), (null, 0), (other, 1), (owner, 3) };
        var threads = adders.Select(a => new Thread(() =>
        {
            PortCounters.EnterThread(a.Owner, a.Slot);
            for (int i = 0; i < N; i++)
            {
                c.AddTx(1, 60);
                c.AddRx(2, 100);
                c.AddTxDropped(1);
                c.AddRxDropped(3);
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        long n = (long)N * adders.Length;
        Assert.Equal((5 + n, 500 + 60 * n), (c.TxPackets, c.TxBytes));
        Assert.Equal((2 * n, 100 * n), (c.RxPackets, c.RxBytes));
        Assert.Equal((n, 3 * n), (c.TxDropped, c.RxDropped));
        // Totals set from outside (a board's registers) read back as set.
        c.Store(1, 2, 3, 4, 5, 6);
        Assert.Equal((1L, 2L, 3L, 4L, 5L, 6L), (c.RxPackets, c.RxBytes, c.TxPackets, c.TxBytes, c.RxDropped, c.TxDropped));
    }
}
