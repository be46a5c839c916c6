using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfPacket;

public sealed class AfPacketPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    [Fact]
    public void Open_MissingInterface_ThrowsPortOpenException() => AssertAMissingInterfaceIsRefused();

    protected override IPort Open(string ifname) => new AfPacketPort(ifname);

    /// <summary>
    /// A port opened with a small initial ring (as `softswitch vswitchd` opens its ports) pins a few pages until it is
    /// first busy: a few frames leave it small; a burst larger than it (sent while nobody reads) makes the next receive
    /// grow it fourfold (64 frames), and larger bursts again (256), up to the full ring, which then keeps a burst of
    /// 400 frames whole and in order.
    /// </summary>
    [NetnsFact]
    public void SmallInitialRing_StaysSmallWhileQuiet_AndGrowsToTheFullRingWhenFirstBusy()
    {
        using var ns = Netns.Create();
        using var port = new AfPacketPort(ns.HostIf, new AfPacketOptions { RingSize = 1 << 20, InitialRxFrames = 16 });
        Assert.Equal(16, port.RingFrames);
        Assert.Equal(16 * port.RingFrameSize, port.RingBytes);
        var pool = new PacketPool(1024);
        ns.SendFrames([MakeFrame(RxType, 0, 100), MakeFrame(RxType, 1, 100)]);
        Assert.Equal(2, ReceiveUntil(port, pool, RxType, 2, TimeSpan.FromSeconds(3)).Count);
        Assert.Equal(16, port.RingFrames);

        ns.SendFrames(Enumerable.Range(0, 64).Select(i => MakeFrame(RxType, i, 100)));
        ReceiveUntil(port, pool, RxType, 16, TimeSpan.FromMilliseconds(500));
        Assert.Equal(64, port.RingFrames);
        Assert.Equal(64 * port.RingFrameSize, port.RingBytes);
        ns.SendFrames(Enumerable.Range(0, 200).Select(i => MakeFrame(RxType, i, 100)));
        ReceiveUntil(port, pool, RxType, 64, TimeSpan.FromMilliseconds(500));
        Assert.Equal(256, port.RingFrames);
        // Half of 256 frames is more than one receive takes: a loss grows it (a frame marked so, at the next receive).
        ns.SendFrames(Enumerable.Range(0, 400).Select(i => MakeFrame(RxType, i, 100)));
        ReceiveUntil(port, pool, RxType, 256, TimeSpan.FromMilliseconds(500));
        ns.SendFrames(Enumerable.Range(0, 10).Select(i => MakeFrame(RxType, 500 + i, 100)));
        ReceiveUntil(port, pool, RxType, 10, TimeSpan.FromMilliseconds(500));
        Assert.Equal(1 << 20, port.RingBytes);
        Assert.Equal(512, port.RingFrames);

        var burst = Enumerable.Range(0, 400).Select(i => MakeFrame(RxType, 1000 + i, 100 + i)).ToList();
        ns.SendFrames(burst);
        var got = ReceiveUntil(port, pool, RxType, burst.Count, TimeSpan.FromSeconds(3));
        Assert.Equal(burst.Count, got.Count);
        for (int i = 0; i < burst.Count; i++) Assert.True(burst[i].AsSpan().SequenceEqual(got[i]), $"frame {i} differs");
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    /// <summary>
    /// A grow keeps the frames the old ring still holds: a receive that takes half of a full small ring (here 8 of 16)
    /// grows it, and the other 8 come next, before anything the new ring gets, in order, none counted dropped.
    /// </summary>
    [NetnsFact]
    public void Grow_CarriesTheFramesTheOldRingHolds_InOrder()
    {
        using var ns = Netns.Create();
        using var port = new AfPacketPort(ns.HostIf, new AfPacketOptions { RingSize = 1 << 20, InitialRxFrames = 16 });
        Assert.Equal(16, port.RingFrames);
        var pool = new PacketPool(256);
        var sent = Enumerable.Range(0, 16).Select(i => MakeFrame(RxType, i, 100 + i)).ToList();
        ns.SendFrames(sent);
        var got = new List<byte[]>();
        Span<int> half = stackalloc int[8];
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int n = 0;
        while (n == 0 && sw.ElapsedMilliseconds < 3000) { n = port.Receive(pool, half); if (n == 0) Thread.Sleep(1); }
        Assert.Equal(8, n);
        for (int i = 0; i < n; i++)
        {
            var f = pool.Frame(half[i]);
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == RxType) got.Add(f.ToArray());
        }
        pool.Release(half[..n]);
        Assert.Equal(64, port.RingFrames);
        var after = MakeFrame(RxType, 99, 300);
        ns.SendFrames([after]);
        got.AddRange(ReceiveUntil(port, pool, RxType, 17 - got.Count, TimeSpan.FromSeconds(3)));
        Assert.Equal(17, got.Count);
        for (int i = 0; i < 16; i++) Assert.True(sent[i].AsSpan().SequenceEqual(got[i]), $"frame {i} differs");
        Assert.True(after.AsSpan().SequenceEqual(got[16]), "the new ring's frame came before the carried ones");
        Assert.Equal(0, port.Counters.Snapshot().RxDropped);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    /// <summary>
    /// With a most (<see cref="AfPacketOptions.MaxRingSize"/>, as `softswitch vswitchd` opens its default ports) a full
    /// ring that loses frames while its port is offered a ring's frames a second (not for one burst of a quiet port)
    /// grows fourfold, up to that most and no further: the frames the kernel dropped are counted,
    /// and the grown ring then keeps a burst the full one could not, whole and in order. Without it a ring never grows
    /// past its full size (`softswitch run`'s ports).
    /// </summary>
    [NetnsFact]
    public void FullRingThatLosesFrames_GrowsFourfoldUpToItsMost_AndThenKeepsTheBurst()
    {
        using var ns = Netns.Create();
        using var port = new AfPacketPort(ns.HostIf, new AfPacketOptions { RingSize = 128 << 10, InitialRxFrames = 16, MaxRingSize = 512 << 10 });
        var pool = new PacketPool(1024);
        ns.SendFrames(Enumerable.Range(0, 64).Select(i => MakeFrame(RxType, i, 100)));
        ReceiveUntil(port, pool, RxType, 64, TimeSpan.FromMilliseconds(500));
        Assert.Equal(64, port.RingFrames);   // busy: the small ring grew to the full one (two 64 KiB blocks)

        // A burst more than the full ring holds while nobody reads: the kernel drops the rest, counted, but 264 frames
        // offered in these seconds are not a ring's frames a second (640 in ten): the ring keeps its size.
        long dropped = port.Counters.Snapshot().RxDropped;
        ns.SendFrames(Enumerable.Range(0, 200).Select(i => MakeFrame(RxType, 100 + i, 100)));
        ReceiveUntil(port, pool, RxType, 64, TimeSpan.FromSeconds(3));
        ns.SendFrames(Enumerable.Range(0, 10).Select(i => MakeFrame(RxType, 300 + i, 100)));
        ReceiveUntil(port, pool, RxType, 10, TimeSpan.FromMilliseconds(500));
        Assert.Equal(64, port.RingFrames);
        Assert.True(port.Counters.Snapshot().RxDropped - dropped >= 200 - 64, $"{port.Counters.Snapshot().RxDropped - dropped} counted dropped");

        // Traffic at the rate a ring's frames a second makes (here 700 more, one burst): the loss grows it fourfold.
        ns.SendFrames(Enumerable.Range(0, 700).Select(i => MakeFrame(RxType, 400 + i, 100)));
        ReceiveUntil(port, pool, RxType, 64, TimeSpan.FromSeconds(3));
        ns.SendFrames(Enumerable.Range(0, 10).Select(i => MakeFrame(RxType, 1200 + i, 100)));
        ReceiveUntil(port, pool, RxType, 10, TimeSpan.FromMilliseconds(500));
        Assert.Equal(256, port.RingFrames);
        Assert.Equal(512 << 10, port.RingBytes);

        var burst = Enumerable.Range(0, 250).Select(i => MakeFrame(RxType, 1000 + i, 100 + i)).ToList();
        ns.SendFrames(burst);
        var got = ReceiveUntil(port, pool, RxType, burst.Count, TimeSpan.FromSeconds(3));
        Assert.Equal(burst.Count, got.Count);
        for (int i = 0; i < burst.Count; i++) Assert.True(burst[i].AsSpan().SequenceEqual(got[i]), $"frame {i} differs");

        // At its most, a loss grows it no more.
        ns.SendFrames(Enumerable.Range(0, 400).Select(i => MakeFrame(RxType, 2000 + i, 100)));
        ReceiveUntil(port, pool, RxType, 256, TimeSpan.FromSeconds(3));
        ns.SendFrames(Enumerable.Range(0, 10).Select(i => MakeFrame(RxType, 2500 + i, 100)));
        Assert.Equal(10, ReceiveUntil(port, pool, RxType, 10, TimeSpan.FromSeconds(3)).Count);
        Assert.Equal(256, port.RingFrames);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    /// <summary>
    /// A ring grows while a steady stream arrives and loses nothing: a sender on the other end of a veth keeps 12 frames
    /// of four flows in flight (never more than the 16-frame small ring holds, so no drop is due), while the
    /// receiving thread grows the ring at every 150th frame (16, 64, 256, 512 frames, then fourfold to its most).
    /// Every frame arrives exactly once, in order per flow, none counted dropped, and the port transmits throughout.
    /// </summary>
    [NetnsFact]
    public void GrowUnderASteadyStream_ReceivesEveryFrameOnce_InOrderPerFlow()
    {
        using var veth = VethPair.Create();
        using var port = new AfPacketPort(veth.A, new AfPacketOptions { RingSize = 1 << 20, InitialRxFrames = 16, MaxRingSize = 4 << 20 });
        using var sender = new AfPacketPort(veth.B, new AfPacketOptions { RingSize = 128 << 10 });
        const int Total = 1500, Window = 12, Flows = 4;
        var pool = new PacketPool(1024);
        var txPool = new PacketPool(64);
        var count = new int[Total];
        var lastOfFlow = new int[Flows];
        Array.Fill(lastOfFlow, -1);
        int received = 0, reordered = 0, stray = 0;
        var grows = new List<int>();
        long sent = 0;
        var senderDone = new ManualResetEventSlim();
        var tx = new Thread(() =>
        {
            Span<int> one = stackalloc int[1];
            var stall = Stopwatch.StartNew();
            long skipped = 0;
            for (int i = 0; i < Total; i++)
            {
                // At most Window frames in flight, counted by what the port took (its counter is up to date before a
                // receive grows the ring, so frames are on their way during the grow). Frames lost for good would
                // stall the stream: after 200 ms without progress the sender writes them off and goes on (the tally
                // below shows what was lost).
                long seen = port.Counters.RxPackets;
                stall.Restart();
                while (i - port.Counters.RxPackets - skipped >= Window)
                {
                    long r = port.Counters.RxPackets;
                    if (r != seen) { seen = r; stall.Restart(); }
                    if (stall.ElapsedMilliseconds > 200) { skipped = i - r; break; }
                    Thread.SpinWait(50);
                }
                if (txPool.Alloc(one) != 1) throw new InvalidOperationException("tx pool empty");
                var f = MakeFrame(RxType, i, 80);
                f[5] = (byte)(0x10 + i % Flows);   // the flow: destination MAC
                txPool.Write(one[0], f);
                sender.Send(txPool, one);
                txPool.Release(one);
                Interlocked.Increment(ref sent);
            }
            senderDone.Set();
        }) { IsBackground = true, Name = "ring-tx" };

        Span<int> burst = stackalloc int[Burst.Size];
        var limit = Stopwatch.StartNew();
        long idleSince = 0;
        int nextGrow = 150;
        tx.Start();
        // Until every frame came, or the sender is done and nothing more came for a second.
        while (Volatile.Read(ref received) < Total && limit.Elapsed < TimeSpan.FromSeconds(30))
        {
            int n = port.Receive(pool, burst);
            for (int i = 0; i < n; i++)
            {
                var f = pool.Frame(burst[i]);
                if (f.Length < 18 || BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != RxType) continue;
                int seq = BinaryPrimitives.ReadInt32BigEndian(f[14..]);
                if ((uint)seq >= Total || f[5] != 0x10 + seq % Flows) { stray++; continue; }
                int flow = seq % Flows;
                if (seq <= lastOfFlow[flow]) reordered++;
                lastOfFlow[flow] = Math.Max(lastOfFlow[flow], seq);
                if (count[seq]++ == 0) Interlocked.Increment(ref received);
            }
            pool.Release(burst[..n]);
            if (Volatile.Read(ref received) >= nextGrow)
            {
                nextGrow += 150;
                grows.Add(port.RingFrames);
                port.ForceGrow();
            }
            if (n > 0) idleSince = limit.ElapsedMilliseconds;
            else if (senderDone.IsSet && limit.ElapsedMilliseconds - idleSince > 1000) break;
            else Thread.SpinWait(20);
        }
        tx.Join();
        int lost = count.Count(c => c == 0), twice = count.Count(c => c > 1);
        var c = port.Counters.Snapshot();
        Output.WriteLine($"sent {Interlocked.Read(ref sent)}, received {received}, lost {lost}, twice {twice}, reordered {reordered}, stray {stray}; ring {port.RingFrames} frames (grown from {string.Join(", ", grows)}); RxDropped {c.RxDropped}, tx errors {sender.Counters.Snapshot().TxErrors}");
        Assert.Equal(0, lost);
        Assert.Equal(0, twice);
        Assert.Equal(0, reordered);
        Assert.Equal(0, c.RxDropped);
        Assert.Equal(2048, port.RingFrames);   // grown 16 -> 64 -> 256 -> 512 -> 2048 while the stream ran
        Assert.True(port.GrowsThroughFanout);
        Assert.Equal(pool.Capacity, pool.FreeCount);

        // The port transmits after its grows (on the socket it now receives with).
        var back = MakeFrame(TxType, 7, 90);
        Span<int> one = stackalloc int[1];
        Assert.Equal(1, pool.Alloc(one));
        pool.Write(one[0], back);
        port.Send(pool, one);
        pool.Release(one);
        var echoed = ReceiveUntil(sender, pool, TxType, 1, TimeSpan.FromSeconds(3));
        Assert.Single(echoed);
        Assert.True(back.AsSpan().SequenceEqual(echoed[0]));
    }

    /// <summary>A ring without a most keeps its size through losses.</summary>
    [NetnsFact]
    public void RingWithoutAMost_KeepsItsSizeThroughLosses()
    {
        using var ns = Netns.Create();
        using var port = new AfPacketPort(ns.HostIf, new AfPacketOptions { RingSize = 128 << 10 });
        var pool = new PacketPool(1024);
        ns.SendFrames(Enumerable.Range(0, 200).Select(i => MakeFrame(RxType, i, 100)));
        ReceiveUntil(port, pool, RxType, 64, TimeSpan.FromSeconds(3));
        ns.SendFrames(Enumerable.Range(0, 10).Select(i => MakeFrame(RxType, 300 + i, 100)));
        Assert.Equal(10, ReceiveUntil(port, pool, RxType, 10, TimeSpan.FromSeconds(3)).Count);
        Assert.Equal(64, port.RingFrames);
        Assert.True(port.Counters.Snapshot().RxDropped >= 200 - 64);
    }

    /// <summary>
    /// rx_errors is a counter AF_PACKET keeps: 0 from the start (not -1, which port stats report as all ones, "not
    /// kept"), in the port and in the receivers it splits into; the counters it does not keep stay -1.
    /// </summary>
    [NetnsFact]
    public void RxErrorsIsKeptFromZero_TheCountersItDoesNotKeepAreMarkedSo()
    {
        string tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string a = "pt" + tag + "a", b = "pt" + tag + "b";
        Sh.Check("ip", "link", "add", a, "type", "veth", "peer", "name", b);
        try
        {
            using var port = new AfPacketPort(a);
            var c = port.Counters.Snapshot();
            Assert.Equal(0, c.RxErrors);
            Assert.Equal(-1, c.RxFrameErrors);
            Assert.Equal(-1, c.RxOverErrors);
            Assert.Equal(-1, c.RxCrcErrors);
            Assert.Equal(-1, c.Collisions);
            var receivers = port.OpenReceivers(2);
            try
            {
                Assert.Equal(2, receivers.Length);
                Assert.Same(port.Counters, receivers[1].Counters);
                Assert.Equal(0, receivers[1].Counters.RxErrors);
            }
            finally
            {
                for (int i = 1; i < receivers.Length; i++) receivers[i].Dispose();
            }
        }
        finally
        {
            Sh.Run("ip", "link", "del", a);
        }
    }
}
