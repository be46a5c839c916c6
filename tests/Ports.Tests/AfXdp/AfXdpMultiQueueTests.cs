using System.Diagnostics;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// AF_XDP on a two-queue veth: one socket per RX queue, frames of both queues received (by the port alone, or split
/// across two forwarding threads that each receive on their own queues and transmit on queue t mod Q), counters and
/// flow stats adding up; transmit only through the sockets' TX rings, from every thread. The sending veth spreads flows over its TX queues by hash, and each TX queue lands on the same-numbered RX
/// queue of the peer; frames go out from two CPUs as well.
/// </summary>
public sealed class AfXdpMultiQueueTests(ITestOutputHelper output)
{
    private static readonly MacAddress Src = MacAddress.Parse("0e:00:00:00:71:01");

    /// <summary>One UDP frame per flow (source ports differ), so each frame is unique and the flows hash apart.</summary>
    private static List<byte[]> Flows(int count, MacAddress dst, int firstPort = 1000) =>
        Enumerable.Range(0, count).Select(i => FrameBuilder.Udp(Src, dst, Ipv4.Parse("10.71.0.1"), Ipv4.Parse("10.71.0.2"),
            (ushort)(firstPort + i), 7000, 64 + (i % 5) * 100)).ToList();

    /// <summary>Sends half the frames from CPU 0 and half from CPU 1 at the same time.</summary>
    private static void SendFromTwoCpus(Netns ns, List<byte[]> frames)
    {
        var even = frames.Where((_, i) => i % 2 == 0).ToList();
        var odd = frames.Where((_, i) => i % 2 == 1).ToList();
        int cpus = Environment.ProcessorCount;
        Parallel.Invoke(() => ns.SendFrames(even, cpu: 0), () => ns.SendFrames(odd, cpu: Math.Min(1, cpus - 1)));
    }

    private void AssertEveryQueueGotTraffic(AfXdpPort port)
    {
        var perQueue = port.RxPacketsPerQueue;
        output.WriteLine($"{port}: frames per queue {string.Join(" / ", perQueue)}");
        if (perQueue.Count(n => n > 0) < perQueue.Length)
        {
            // The kernel chose the queues (by flow hash on the sending veth); if it put everything on one, say so
            // loudly rather than fail: the other checks still hold.
            string msg = $"SKIPPED ASSERTION: the kernel put every frame on one queue of {port} ({string.Join(" / ", perQueue)}); the per-queue spread is not checked";
            output.WriteLine(msg);
            Console.Error.WriteLine("[AfXdpMultiQueueTests] " + msg);
        }
        else
        {
            Assert.All(perQueue, n => Assert.True(n > 0));
        }
    }

    [NetnsFact]
    public void TwoQueueVeth_OneSocketPerQueue_FramesOfBothQueuesAllReceived()
    {
        using var ns = Netns.Create(queues: 2);
        using var port = new AfXdpPort(ns.HostIf);
        Assert.Equal([0, 1], port.Queues);
        var frames = Flows(256, MacAddress.Parse("0e:00:00:00:71:02"));
        SendFromTwoCpus(ns, frames);

        var pool = new PacketPool(1024);
        var want = new HashSet<string>(frames.Select(Convert.ToHexString));
        var got = new List<string>();
        Span<int> pkts = stackalloc int[32];
        var sw = Stopwatch.StartNew();
        while (got.Count < frames.Count && sw.ElapsedMilliseconds < 5000)
        {
            int n = port.Receive(pool, pkts);
            for (int i = 0; i < n; i++)
            {
                var f = pool.Frame(pkts[i]).ToArray();
                if (f.Length >= 14 && f[12] == 0x08 && f[13] == 0x00) got.Add(Convert.ToHexString(f));
            }
            pool.Release(pkts[..n]);
            if (n == 0) Thread.Sleep(1);
        }
        Assert.Equal(frames.Count, got.Count);
        Assert.True(want.SetEquals(got), "received frames differ from the sent ones");
        Assert.Equal(got.Count, got.Distinct().Count());
        Assert.Equal(port.Counters.Snapshot().RxPackets, port.RxPacketsPerQueue.Sum());
        Assert.True(port.Counters.Snapshot().RxPackets >= frames.Count);
        AssertEveryQueueGotTraffic(port);
    }

    /// <summary>QueueCount (Open vSwitch's n_rxq) serves queues 0 to N-1; more than the interface has is refused. A
    /// veth binds in copy mode, so RequireZeroCopy (xdp-mode native-with-zerocopy) refuses it, with the reason.</summary>
    [NetnsFact]
    public void QueueCount_ServesTheFirstQueues_AndRequireZeroCopyRefusesCopyMode()
    {
        using var ns = Netns.Create(queues: 2);
        using (var one = new AfXdpPort(ns.HostIf, new AfXdpOptions { QueueCount = 1 }))
            Assert.Equal([0], one.Queues);
        // The kernel frees a closed socket's queue slot after the close returns (the socket's last reference goes
        // later): the next bind on queue 0 may find it busy for a moment.
        using (var both = OpenWhenFree(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { QueueCount = 2, NeedWakeup = false })))
            Assert.Equal([0, 1], both.Queues);
        var e = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { QueueCount = 3 }));
        Assert.Contains("3 RX queue(s) asked for; the interface has 2", e.Message);
        var zc = Assert.Throws<PortOpenException>(() => OpenWhenFree(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { Mode = XdpAttachMode.Native, RequireZeroCopy = true })));
        Assert.Contains("zero-copy was asked for, but the driver bound the socket(s) in copy mode (driver offers no zero-copy)", zc.Message);
    }

    /// <summary>A veth has no zero-copy AF_XDP: each socket asks for it (XDP_ZEROCOPY), the kernel refuses
    /// (EOPNOTSUPP), and the socket binds copy mode, multi-buffer kept, saying why; copy mode asked for and generic XDP
    /// say so instead of trying.</summary>
    [NetnsFact]
    public void ZeroCopyBind_FallsBackToCopyMode_OnVeth_AndEachSocketSaysWhy()
    {
        using var ns = Netns.Create(queues: 2);
        const string NoZc = "driver offers no zero-copy";
        using (var port = OpenWhenFree(() => new AfXdpPort(ns.HostIf)))
        {
            Assert.False(port.ZeroCopy);
            Assert.True(port.MultiBuffer);
            Assert.Equal([(0, false, NoZc), (1, false, NoZc)], port.SocketModes);
        }
        using (var port = OpenWhenFree(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { ZeroCopy = false })))
            Assert.Equal([(0, false, "asked for"), (1, false, "asked for")], port.SocketModes);
        using (var port = OpenWhenFree(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { Mode = XdpAttachMode.Generic, QueueId = 1 })))
        {
            Assert.Equal([(1, false, "generic XDP")], port.SocketModes);
            Assert.Equal(XdpAttachMode.Generic, port.AttachedMode);
        }
    }

    private static AfXdpPort OpenWhenFree(Func<AfXdpPort> open)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return open();
            }
            catch (PortOpenException e) when (e.Message.Contains("already has an AF_XDP socket", StringComparison.Ordinal) && sw.ElapsedMilliseconds < 5000)
            {
                Thread.Sleep(20);
            }
        }
    }

    [NetnsFact]
    public void QueueOption_ServesThatQueueOnly_AndANonexistentQueueIsRefused()
    {
        using var ns = Netns.Create(queues: 2);
        var e = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { QueueId = 2 }));
        Assert.Equal(PortOpenError.InvalidSpec, e.Error);
        Assert.Contains("queue=2 does not exist", e.Message);
        output.WriteLine(e.Message);

        using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { QueueId = 1 });
        Assert.Equal([1], port.Queues);
        SendFromTwoCpus(ns, Flows(128, MacAddress.Parse("0e:00:00:00:71:02")));
        var pool = new PacketPool(256);
        Span<int> pkts = stackalloc int[32];
        long got = 0;
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 1500)
        {
            int n = port.Receive(pool, pkts);
            got += n;
            pool.Release(pkts[..n]);
            if (n == 0) Thread.Sleep(5);
        }
        // Only queue 1's share arrives here; queue 0's frames went to the kernel stack.
        output.WriteLine($"received {got} of 128 on queue 1");
        Assert.Equal(got, port.RxPacketsPerQueue.Single());
        Assert.InRange(got, 0, 128);
    }

    [NetnsFact]
    public void TwoThreads_EachReceivesItsOwnQueues_AndTransmitsOnQueueTModQ_CountersAndFlowStatsAddUp()
    {
        using var a = Netns.Create(queues: 2);
        using var b = Netns.Create(queues: 2);
        using var portA = new AfXdpPort(a.HostIf);
        using var portB = new AfXdpPort(b.HostIf);
        using var dp = new SwitchDatapath(new DatapathOptions { Threads = 2, PacketInRate = 0 }) { MissBehavior = MissBehavior.Drop };
        dp.AddPort(portA, 1);
        dp.AddPort(portB, 2);
        var tables = new OfFlowTables(dp);
        var match = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType),
            new FlowKeyBuilder().InPort(1).DlType(0x0800).Key);
        Assert.Equal(FlowModStatus.Ok, tables.Apply(new FlowMod(FlowModCommand.Add, match, 100, new FlowActions([FlowAction.Output(2)])), null, out var flow));
        dp.Start();

        var frames = Flows(400, MacAddress.Parse(b.NsMac));
        using var cap = b.StartCapture(0x0800, frames.Count, timeoutSeconds: 10);
        SendFromTwoCpus(a, frames);
        var got = cap.Finish();
        var sent = new HashSet<string>(frames.Select(Convert.ToHexString));
        int matching = got.Count(f => sent.Contains(Convert.ToHexString(f)));
        output.WriteLine($"captured {got.Count}, of ours {matching}; A rx {portA.Counters.RxPackets} B tx {portB.Counters.TxPackets}; " +
                         $"threads {dp.Forwarders[0].Packets} / {dp.Forwarders[1].Packets}; B lanes {string.Join(", ", portB.TransmitLanes)}");
        Assert.Equal(frames.Count, matching);

        // Counters settle once the last burst is flushed.
        var sw = Stopwatch.StartNew();
        while (portB.Counters.Snapshot().TxPackets < frames.Count && sw.ElapsedMilliseconds < 2000) Thread.Sleep(10);
        Assert.Equal(frames.Count, portA.Counters.Snapshot().RxPackets);
        Assert.Equal(frames.Count, portA.RxPacketsPerQueue.Sum());
        Assert.Equal(frames.Count, portB.Counters.Snapshot().TxPackets);
        Assert.Equal(0, portB.Counters.Snapshot().TxDropped);
        Assert.Equal(frames.Count, flow!.Packets);
        Assert.Equal(frames.Sum(f => (long)f.Length), flow.Bytes);
        Assert.Equal(frames.Count, dp.Forwarders[0].Packets + dp.Forwarders[1].Packets);
        // Thread t transmits on B's queue t mod 2 (thread 0 under the lock it shares with the other threads' lane),
        // every frame through a TX ring, and every descriptor posted comes back through the completion ring.
        var lanes = portB.TransmitLanes;
        Assert.Equal([("fwd-0", 0, true), ("fwd-1", 1, false), ("other", 0, true)], lanes.Select(l => (l.Thread, l.Queue, l.Locked)));
        Assert.Equal(frames.Count, lanes[0].Frames + lanes[1].Frames);
        Assert.Equal(0, lanes[2].Frames);
        Assert.Equal(frames.Count, portB.TxPostedPerQueue.Sum());
        AssertCompleted(portB);
        AssertEveryQueueGotTraffic(portA);
        if (portA.RxPacketsPerQueue.All(n => n > 0))
            Assert.True(dp.Forwarders[0].Packets > 0 && dp.Forwarders[1].Packets > 0, "one thread forwarded everything");
    }

    /// <summary>Every descriptor posted on each queue's TX ring comes back through its completion ring (waits for the
    /// kernel to free the last frames).</summary>
    internal static void AssertCompleted(AfXdpPort port)
    {
        var sw = Stopwatch.StartNew();
        while (!port.TxCompletedPerQueue.SequenceEqual(port.TxPostedPerQueue) && sw.ElapsedMilliseconds < 5000) Thread.Sleep(10);
        Assert.Equal(port.TxPostedPerQueue, port.TxCompletedPerQueue);
    }

    /// <summary>
    /// Open vSwitch's XPS case: two forwarding threads, each receiving one input port, both transmitting to one output
    /// port with one queue; both threads send on its queue 0 under its lock, every frame arrives once, and the lanes'
    /// counts, the port's counters and the TX/completion rings agree.
    /// </summary>
    [NetnsFact]
    public void TwoThreads_BothTransmitToOneSingleQueuePort_UnderItsLock_EveryFrameDeliveredAndCounted()
    {
        using var a = Netns.Create();
        using var b = Netns.Create();
        using var c = Netns.Create();
        using var portA = new AfXdpPort(a.HostIf);
        using var portB = new AfXdpPort(b.HostIf);
        using var portC = new AfXdpPort(c.HostIf);
        using var dp = new SwitchDatapath(new DatapathOptions { Threads = 2, PacketInRate = 0 }) { MissBehavior = MissBehavior.Drop };
        dp.AddPort(portA, 1);
        dp.AddPort(portB, 2);
        dp.AddPort(portC, 3);
        var tables = new OfFlowTables(dp);
        foreach (ushort inPort in new ushort[] { 1, 2 })
        {
            var match = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType),
                new FlowKeyBuilder().InPort(inPort).DlType(0x0800).Key);
            Assert.Equal(FlowModStatus.Ok, tables.Apply(new FlowMod(FlowModCommand.Add, match, 100, new FlowActions([FlowAction.Output(3)])), null, out _));
        }
        dp.Start();

        var dst = MacAddress.Parse(c.NsMac);
        var fromA = Flows(300, dst, 1000);
        var fromB = Flows(300, dst, 2000);
        using var cap = c.StartCapture(0x0800, fromA.Count + fromB.Count, timeoutSeconds: 10);
        int cpus = Environment.ProcessorCount;
        Parallel.Invoke(() => a.SendFrames(fromA, cpu: 0), () => b.SendFrames(fromB, cpu: Math.Min(1, cpus - 1)));
        var got = cap.Finish().Select(Convert.ToHexString).ToList();
        var sent = fromA.Concat(fromB).Select(Convert.ToHexString).ToList();
        var lanes = portC.TransmitLanes;
        output.WriteLine($"captured {got.Count}; C tx {portC.Counters.TxPackets}, dropped {portC.Counters.TxDropped}, lock waits {portC.TxLockWaits}; lanes {string.Join(", ", lanes)}");
        Assert.Equal(sent.Order(), got.Where(sent.Contains).Order());   // each frame once

        var sw = Stopwatch.StartNew();
        while (portC.Counters.Snapshot().TxPackets < sent.Count && sw.ElapsedMilliseconds < 2000) Thread.Sleep(10);
        Assert.Equal(sent.Count, portC.Counters.Snapshot().TxPackets);
        Assert.Equal(0, portC.Counters.Snapshot().TxDropped);
        Assert.Equal([("fwd-0", 0, true), ("fwd-1", 0, true), ("other", 0, true)], lanes.Select(l => (l.Thread, l.Queue, l.Locked)));
        lanes = portC.TransmitLanes;
        Assert.Equal(fromA.Count, lanes[0].Frames);   // thread 0 receives A (ports go to threads round-robin)
        Assert.Equal(fromB.Count, lanes[1].Frames);   // thread 1 receives B
        Assert.Equal(0, lanes[2].Frames);
        Assert.Equal([(long)sent.Count], portC.TxPostedPerQueue);
        AssertCompleted(portC);
    }

    /// <summary>Transmit allocates nothing, on a forwarding thread's unlocked queue and on the other lane's locked one,
    /// and every descriptor posted is completed.</summary>
    [NetnsFact]
    public void Send_AllocatesNothing_UnlockedOrLocked_AndEveryDescriptorCompletes()
    {
        using var ns = Netns.Create(queues: 2);
        using var port = new AfXdpPort(ns.HostIf);   // one forwarding thread by default: fwd-0 on queue 0 alone, the other lane on queue 1
        var frame = Flows(1, MacAddress.Parse(ns.NsMac), 4000)[0];
        var pool = new PacketPool(64);
        var pkts = new int[32];
        Assert.Equal(32, pool.Alloc(pkts));
        foreach (int p in pkts)
        {
            frame.CopyTo(pool.Slab, pool.FrameOffset(p));
            pool.Length[p] = (ushort)frame.Length;
        }
        long Bursts()
        {
            for (int i = 0; i < 50; i++) port.Send(pool, pkts);   // warm-up: the JIT's first calls allocate
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++) port.Send(pool, pkts);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long forwarding = -1;
        var t = new Thread(() =>
        {
            TransmitThread.Set(0);
            forwarding = Bursts();
        });
        t.Start();
        t.Join();
        long other = Bursts();   // this thread forwards nothing: the other lane
        var lanes = port.TransmitLanes;
        output.WriteLine($"allocated {forwarding} / {other} B; lanes {string.Join(", ", lanes)}; tx {port.Counters.TxPackets} dropped {port.Counters.TxDropped}");
        Assert.Equal(0, forwarding);
        Assert.Equal(0, other);
        Assert.Equal([("fwd-0", 0, false), ("other", 1, true)], lanes.Select(l => (l.Thread, l.Queue, l.Locked)));
        var c = port.Counters.Snapshot();
        Assert.Equal(2 * 250 * 32, c.TxPackets + c.TxDropped);   // a full TX ring drops, counted
        Assert.Equal(c.TxPackets, lanes[0].Frames + lanes[1].Frames);
        Assert.Equal(c.TxPackets, port.TxPostedPerQueue.Sum());
        AssertCompleted(port);
        pool.Release(pkts);
    }

    [NetnsFact]
    public void APacketOut_FromAThreadThatForwardsNothing_GoesOutOnTheOtherLanesQueue_UnderItsLock()
    {
        using var ns = Netns.Create(queues: 2);
        using var port = new AfXdpPort(ns.HostIf);
        var frames = Flows(3, MacAddress.Parse(ns.NsMac), 3000);
        using var cap = ns.StartCapture(0x0800, frames.Count);
        var pool = new PacketPool(16);
        Span<int> pkts = stackalloc int[3];
        Assert.Equal(3, pool.Alloc(pkts));
        for (int i = 0; i < 3; i++)
        {
            frames[i].CopyTo(pool.Slab, pool.FrameOffset(pkts[i]));
            pool.Length[pkts[i]] = (ushort)frames[i].Length;
        }
        port.Send(pool, pkts);   // this thread is no forwarding thread: the other lane, queue 1 mod 2 = 1, locked
        pool.Release(pkts);
        var got = cap.Finish();
        Assert.Equal(frames.Select(Convert.ToHexString).Order(), got.Select(Convert.ToHexString).Order());
        Assert.Equal(("other", 1, true, 3L), port.TransmitLanes[^1]);
        Assert.Equal([0L, 3L], port.TxPostedPerQueue);
        AssertCompleted(port);
        Assert.Equal(3, port.Counters.Snapshot().TxPackets);
    }
}

/// <summary>
/// What AF_XDP cannot take from the kernel: no offload metadata travels with its frames. A local sender's unfilled
/// checksums are recognised and filled in software; its TSO super-frames come only in generic mode (a veth turns its
/// peer's TSO off while a native program runs), which one warning per port says, with the fix; frames too large for a
/// UMEM frame or a packet buffer are dropped and counted.
/// </summary>
public sealed class AfXdpKernelOffloadTests(ITestOutputHelper output)
{
    [NetnsFact]
    public void OffloadWarning_OncePerPortInGenericMode_WithTheFix_NoneInNative()
    {
        using (var ns = Netns.Create(kernelOffloads: true, queues: 2))
        {
            var log = new ListLogger(Microsoft.Extensions.Logging.LogLevel.Debug);
            using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { Logger = log, Mode = XdpAttachMode.Generic });
            var receivers = port.OpenReceivers(2);
            Assert.Equal(2, receivers.Length);
            var warnings = log.At(Microsoft.Extensions.Logging.LogLevel.Warning);
            foreach (var w in warnings) output.WriteLine(w);
            var offload = warnings.Where(w => w.Contains("offload metadata", StringComparison.Ordinal)).ToList();
            Assert.Single(offload);
            Assert.Contains("ethtool -K PEER tso off gso off", offload[0]);
            Assert.Contains($"afxdp:{ns.HostIf}:xdp-mode=native", offload[0]);
            Assert.Contains($"afpacket:{ns.HostIf}", offload[0]);
            Assert.Single(warnings);   // nothing else to warn about on a two-queue veth served whole
        }
        using (var ns = Netns.Create(kernelOffloads: true))
        {
            Assert.Contains("tcp-segmentation-offload: on", ns.Exec("ethtool", "-k", ns.NsIf).Stdout);
            var log = new ListLogger(Microsoft.Extensions.Logging.LogLevel.Debug);
            using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { Logger = log, Mode = XdpAttachMode.Native });
            // The kernel's half of the bargain the silence rests on: no super-frame comes while the program runs.
            Assert.Contains("tcp-segmentation-offload: off", ns.Exec("ethtool", "-k", ns.NsIf).Stdout);
            Assert.Empty(log.At(Microsoft.Extensions.Logging.LogLevel.Warning));
        }
    }

    /// <summary>
    /// A UDP datagram and a TCP SYN sent by the namespace's own stack over a veth with the kernel's default offloads
    /// (so their checksums are left for the device) arrive through AF_XDP with full checksums, counted as completed.
    /// </summary>
    [NetnsFact]
    public void ALocalSendersUnfilledChecksums_AreFilledOnReceive_AndCounted()
    {
        using var ns = Netns.Create(kernelOffloads: true);
        using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { Mode = XdpAttachMode.Native });
        ns.Exec("ip", "addr", "add", "10.77.0.1/24", "dev", ns.NsIf);
        ns.Exec("ip", "neigh", "replace", "10.77.0.2", "lladdr", "02:00:00:00:77:02", "dev", ns.NsIf);
        var send = ns.Exec(NsTool.Python, "-c",
            "import socket\n" +
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(bytes(range(101)), ('10.77.0.2', 4000))\n" +
            "t = socket.socket(); t.setblocking(False); t.connect_ex(('10.77.0.2', 5201))\n" +
            "import time; time.sleep(0.3)");
        Assert.True(send.Ok, send.Stderr);

        var pool = new PacketPool(64, 2048);
        Span<int> pkts = stackalloc int[32];
        byte[]? udp = null, syn = null;
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 4000 && (udp is null || syn is null))
        {
            int n = port.Receive(pool, pkts);
            for (int i = 0; i < n; i++)
            {
                var f = pool.Frame(pkts[i]).ToArray();
                if (f.Length < 38 || f[12] != 0x08 || f[13] != 0x00) continue;
                int dport = f[36] << 8 | f[37];
                if (f[23] == 17 && dport == 4000) udp ??= f;
                if (f[23] == 6 && dport == 5201) syn ??= f;
            }
            pool.Release(pkts[..n]);
            if (n == 0) Thread.Sleep(10);
        }
        Assert.NotNull(udp);
        Assert.NotNull(syn);
        foreach (var f in new[] { udp, syn })
        {
            int len = (f[16] << 8 | f[17]) - 20;
            ushort pseudo = Checksum.PseudoHeaderSum(FlowFrames.Ip("10.77.0.1"), FlowFrames.Ip("10.77.0.2"), f[23], (ushort)len);
            Assert.Equal(0xFFFF, Checksum.Add(pseudo, Checksum.Sum(f.AsSpan(34, len))));
        }
        Assert.True(port.Counters.RxChecksumCompleted >= 2, $"completed {port.Counters.RxChecksumCompleted}");
    }

    [NetnsFact]
    public void FramesTooLargeForAUmemFrameOrAPacketBuffer_AreDroppedAndCounted()
    {
        using var ns = Netns.Create();
        Sh.Check("ip", "link", "set", ns.HostIf, "mtu", "9000");
        ns.Exec("ip", "link", "set", ns.NsIf, "mtu", "9000");
        using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { MultiBuffer = false });
        output.WriteLine($"attached in {port.AttachedMode} mode");
        var pool = new PacketPool(64, 1522);
        static byte[] Frame(int size)
        {
            var f = new byte[size];
            f.AsSpan(0, 6).Fill(0xff);
            f[6] = 0x02; f[12] = 0x88; f[13] = 0xb5;
            return f;
        }
        // 1700 B fits a UMEM frame (up to 1792 B behind the kernel's headroom) but not a 1522-byte packet buffer;
        // 4000 B fits neither (the kernel drops it: XDP_STATISTICS rx_dropped); 100 B is fine.
        ns.SendFrames([Frame(1700), Frame(4000), Frame(100)]);
        Span<int> pkts = stackalloc int[32];
        var got = new List<int>();
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 4000 && (got.Count < 1 || port.Counters.Snapshot().RxDropped < 2))
        {
            int n = port.Receive(pool, pkts);
            for (int i = 0; i < n; i++) got.Add(pool.Length[pkts[i]]);
            pool.Release(pkts[..n]);
            if (n == 0) Thread.Sleep(20);
        }
        output.WriteLine($"received {string.Join(",", got)}; rx dropped {port.Counters.RxDropped}, oversize {port.Counters.RxOversize}, kernel {port.KernelStatistics}");
        Assert.Equal([100], got);
        Assert.Equal(1, port.Counters.RxOversize);
        Assert.Equal(1, port.RxTooBig);
        Assert.Equal(2, port.Counters.Snapshot().RxDropped);
        Assert.Equal(1UL, port.KernelStatistics.RxDropped);
    }

    /// <summary>A frame chained over UMEM frames when the pool has no large buffer free: dropped here and counted.</summary>
    [NetnsFact]
    public void AChainedFrame_WithNoLargeBufferFree_IsDroppedAndCounted()
    {
        using var ns = Netns.Create();
        Sh.Check("ip", "link", "set", ns.HostIf, "mtu", "9000");
        ns.Exec("ip", "link", "set", ns.NsIf, "mtu", "9000");
        using var port = new AfXdpPort(ns.HostIf);
        Assert.True(port.MultiBuffer);
        var pool = new PacketPool(64, largeCapacity: 0);
        var big = new byte[4000];
        big.AsSpan(0, 6).Fill(0xff);
        big[6] = 0x02; big[12] = 0x88; big[13] = 0xb5;
        var small = big.AsSpan(0, 100).ToArray();
        ns.SendFrames([big, small]);
        Span<int> pkts = stackalloc int[32];
        var got = new List<int>();
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 4000 && got.Count < 1)
        {
            int n = port.Receive(pool, pkts);
            for (int i = 0; i < n; i++) got.Add(pool.Length[pkts[i]]);
            pool.Release(pkts[..n]);
            if (n == 0) Thread.Sleep(20);
        }
        Assert.Equal([100], got);
        Assert.Equal(1, port.Counters.RxOversize);
        Assert.Equal(1, port.Counters.Snapshot().RxDropped);
        Assert.Equal(0UL, port.KernelStatistics.RxDropped);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }
}
