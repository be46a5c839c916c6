using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Tunnels;

/// <summary>The tunnel paths allocate nothing per packet, and a tunnel port's Send is safe from several threads.</summary>
public sealed class TunnelAllocationTests
{
    private const int Packets = 10_000;

    [Theory]
    [InlineData(TunnelKind.Vxlan, 100u)]
    [InlineData(TunnelKind.Geneve, 100u)]
    [InlineData(TunnelKind.Gre, 5u)]
    [InlineData(TunnelKind.Ipip, null)]
    public void TenThousandPacketsEncapAndDecapThroughTheDatapathAllocateNothing(TunnelKind kind, uint? key)
    {
        // Switch A encapsulates frames from a generator on its host port; switch B decapsulates a generator of the
        // frames A produced. Nothing links the underlays and nothing captures, so the ports allocate nothing either.
        bool ipip = kind == TunnelKind.Ipip;
        using var r = new TunnelRig(link: false, capture: false)
            .WithTunnels(kind, key, sideA: ipip ? TunnelRig.IpipInnerA : null, sideB: ipip ? TunnelRig.IpipInnerB : null).WithCrossFlows();
        var frames = new byte[32][];
        for (int i = 0; i < frames.Length; i++) frames[i] = TunnelGoldenTests.Inner(64 + i * 8, (ushort)(1000 + i));
        r.HostA.SetGenerator(frames, 0);
        // What A sends is what B will receive.
        var wire = new List<byte[]>();
        r.UnderA.OnSend = f => wire.Add(f.ToArray());
        r.HostA.SetGeneratorCount(frames.Length);
        r.A.PollUntilIdle();
        r.UnderA.OnSend = null;
        Assert.Equal(frames.Length, wire.Count);
        r.UnderB.SetGenerator([.. wire], 0);
        var delivered = new List<byte[]>();
        r.HostB.OnSend = f => delivered.Add(f.ToArray());
        r.UnderB.SetGeneratorCount(frames.Length);
        r.B.PollUntilIdle();
        r.HostB.OnSend = null;
        Assert.Equal(frames, delivered);

        long txBefore = r.TunA!.Counters.TxPackets, rxBefore = r.TunB!.Counters.RxPackets;
        long hostBefore = r.HostB.Counters.TxPackets;
        long bytes = AllocationMeter.SteadyState(() =>
        {
            r.HostA.SetGeneratorCount(Packets);
            r.A.PollUntilIdle();
            r.UnderB.SetGeneratorCount(Packets);
            r.B.PollUntilIdle();
        });
        Assert.Equal(0, bytes);
        Assert.True(r.TunA.Counters.TxPackets - txBefore >= Packets);
        Assert.Equal(r.TunA.Counters.TxPackets - txBefore, r.TunB.Counters.RxPackets - rxBefore);
        Assert.Equal(r.TunB.Counters.RxPackets - rxBefore, r.HostB.Counters.TxPackets - hostBefore);
        Assert.Equal(0, r.A.Tunnels.ReceiveDrops.Total + r.B.Tunnels.ReceiveDrops.Total + r.TunA.Drops.Total);
    }

    [Fact]
    public void EncapAndClassifyApisAllocateNothing()
    {
        var u = new MemoryPort("u", TunnelGoldenTests.UnderA);
        var tx = new TunnelPort(TestTunnels.Vxlan("vx", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = TunnelGoldenTests.UnderB }, u);
        var rx = new TunnelPort(TestTunnels.Vxlan("vx", TunnelRig.IpB, TunnelRig.IpA, 100), new MemoryPort("u", TunnelGoldenTests.UnderB));
        var bind = new UnderlayBinding(null, [rx], new TunnelDropCounters());
        var pool = new PacketPool(64);
        int src = pool.Alloc();
        pool.Write(src, TunnelGoldenTests.Inner());
        var pkts = new int[32];
        long bytes = AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < Packets; i++)
            {
                int b = pool.Alloc();
                tx.Header.Encapsulate(pool.Frame(src), pool, b, 100);
                if (bind.Classify(pool, b, out _, out _) != RxVerdict.Decapsulated) throw new InvalidOperationException();
                pool.Release(b);
            }
            // The IPort path: a burst through Send (private pool, lock) into the underlay.
            for (int i = 0; i < Packets / 32; i++)
            {
                pkts.AsSpan().Fill(src);
                tx.Send(pool, pkts, 7);
            }
        });
        Assert.Equal(0, bytes);
        Assert.Equal(pool.Capacity - 1, pool.FreeCount);
    }

    [Fact]
    public void SendFromSeveralThreadsDeliversEveryFrameIntact()
    {
        const int threads = 4, perThread = 2_000;
        var u = new MemoryPort("u", TunnelGoldenTests.UnderA);
        var tx = new TunnelPort(TestTunnels.Vxlan("vx", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = TunnelGoldenTests.UnderB }, u);
        var rx = new TunnelPort(TestTunnels.FlowKeyed(TunnelKind.Vxlan, "vx", TunnelRig.IpB, TunnelRig.IpA), new MemoryPort("u", TunnelGoldenTests.UnderB));
        var bind = new UnderlayBinding(null, [rx], new TunnelDropCounters());
        var seen = new int[threads];
        long bad = 0;
        var check = new PacketPool(1);
        var gate = new Lock();
        u.OnSend = frame =>
        {
            lock (gate)
            {
                int b = check.Alloc();
                check.Write(b, frame);
                if (bind.Classify(check, b, out _, out ulong id) != RxVerdict.Decapsulated
                    || id == 0 || id > threads
                    || !check.Frame(b).SequenceEqual(TunnelGoldenTests.Inner(64 + (int)id * 4, (ushort)(1000 + id))))
                {
                    bad++;
                }
                else
                {
                    seen[id - 1]++;
                }

                check.Release(b);
            }
        };
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t + 1;   // the thread's VNI (0 would mean "the configured one")
            workers[t] = new Thread(() =>
            {
                var pool = new PacketPool(64);
                var frame = TunnelGoldenTests.Inner(64 + id * 4, (ushort)(1000 + id));
                var burst = new int[8];
                for (int i = 0; i < burst.Length; i++)
                {
                    burst[i] = pool.Alloc();
                    pool.Write(burst[i], frame);
                }
                for (int i = 0; i < perThread / burst.Length; i++) tx.Send(pool, burst, (ulong)id);
            });
        }
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        Assert.Equal(0, bad);
        Assert.All(seen, n => Assert.Equal(perThread, n));
        Assert.Equal(threads * perThread, tx.Counters.TxPackets);
    }
}

public sealed class TunnelThreadedTests
{
    [Fact]
    public void RunningSwitchesWithTwoThreadsEachDeliverEveryFrameWhileArpResolves()
    {
        // Host and underlay ports are polled by different threads, so encapsulation (host thread) races the ARP
        // reply being learned (underlay thread); the held frames must all come out once, in one piece.
        const int frames = 2_000;
        using var r = new TunnelRig(capture: false, options: new DatapathOptions { Threads = 2, PacketInRate = 0 });
        var (a, b, hostA, hostB) = (r.A, r.B, r.HostA, r.HostB);
        long delivered = 0, corrupt = 0;
        var expect = TunnelGoldenTests.Inner();
        hostB.OnSend = f =>
        {
            if (f.SequenceEqual(expect)) Interlocked.Increment(ref delivered);
            else Interlocked.Increment(ref corrupt);
        };
        var ta = a.Tunnels.Add(TestTunnels.Vxlan("t", TunnelRig.IpA, TunnelRig.IpB, 9) with { PortNo = 10, Underlay = 2 });
        var tb = b.Tunnels.Add(TestTunnels.Vxlan("t", TunnelRig.IpB, TunnelRig.IpA, 9) with { PortNo = 10, Underlay = 2 });
        r.SideA.Insert(0, TunnelRig.InPort(1), 100, [FlowAction.Output(10)]);
        r.SideB.Insert(0, TunnelRig.InPort(10), 100, [FlowAction.Output(1)]);
        // The first frames are queued before the switches run, so they meet an unresolved next hop.
        for (int i = 0; i < TunnelPort.HoldCapacity; i++) hostA.Inject(expect);
        a.Start();
        b.Start();
        for (int i = TunnelPort.HoldCapacity; i < frames; i++)
        {
            hostA.Inject(expect);
            if (i % 64 == 0) Thread.Sleep(1);
        }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (Interlocked.Read(ref delivered) + ta.Drops.Total < frames && sw.ElapsedMilliseconds < 20_000) Thread.Sleep(10);
        a.Stop();
        b.Stop();
        Assert.Equal(0, corrupt);
        Assert.Equal(TunnelGoldenTests.UnderB, ta.NextHopMac);
        Assert.Equal(TunnelGoldenTests.UnderA, tb.NextHopMac);
        // Frames that found the hold queue full are the only ones allowed to go missing, and they are counted.
        Assert.Equal(frames, Interlocked.Read(ref delivered) + ta.Drops[TunnelDropReason.Unresolved]);
        Assert.True(delivered > frames / 2, $"delivered {delivered} of {frames}");
        Assert.Equal(0, ta.HeldCount);
        Assert.Equal(0, b.Tunnels.ReceiveDrops.Total);
    }
}
