using System.Buffers.Binary;
using Softswitch.Datapath;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// AF_XDP sockets whose UMEM is a <see cref="PacketArena"/>, received into by pools carved from it: the port-backend
/// suite (frames intact and in order, VLAN tags kept, a burst of 32 out, nothing allocated per packet) with frames
/// received in place, where they land, a queue moving between threads, the arena running dry, the slots coming back
/// at close, and frames forwarded by a datapath whose pools are the arena.
/// </summary>
public sealed class AfXdpArenaTests(ITestOutputHelper output) : PortBackendTests(output)
{
    private const int Rx = 1024, Tx = 256, PerSocket = Rx + Tx;   // 5 whole batches
    private readonly PacketArena _arena = new(16 * 1024);

    private static AfXdpOptions Options(PacketArena arena, int? queueCount = null)
        => new() { Arena = arena, RxFrames = Rx, TxFrames = Tx, QueueCount = queueCount, SendInPlace = true };

    protected override IPort Open(string ifname) => new AfXdpPort(ifname, Options(_arena));

    protected override PacketPool NewPool(int buffers) => new(_arena, buffers);

    /// <summary>Every slot is free (in the pool's cache or on the shared stack) but those the open sockets hold.</summary>
    protected override void AssertAllBuffersBack(PacketPool pool) => Assert.Equal(_arena.SlotCount - Held(_arena), pool.FreeCount + _arena.SharedFreeCount);

    private static int Held(PacketArena a) => a.Holder.AsSpan().Length - a.Holder.AsSpan().Count(0);

    /// <summary>A frame received through a pool over the arena is the slot the kernel wrote it into (the kernel's
    /// headroom in front), and a fresh buffer took the slot's place in the fill ring; through a pool of its own the
    /// frame is copied, as before.</summary>
    [NetnsFact]
    public void ReceivedFrames_AreTheArenaSlotsTheyArrivedIn()
    {
        using var ns = Netns.Create();
        using var port = new AfXdpPort(ns.HostIf, Options(_arena));
        Assert.True(port.InArena);
        Assert.Equal(PerSocket, Held(_arena));
        var frames = new List<byte[]>();
        for (int i = 0; i < 20; i++) frames.Add(MakeFrame(RxType, 7000 + i, 64 + i * 70));
        ns.SendFrames(frames, ns.NsIf);

        var pool = new PacketPool(_arena, 512);
        var got = ReceiveHeld(port, pool, frames.Count);
        Assert.Equal(frames.Count, got.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            int p = got[i];
            Assert.True(p < _arena.SlotCount, $"buffer {p} is not an arena slot");
            Assert.Equal(PacketArena.KernelHeadroom, pool.Head[p]);
            Assert.Equal(0, _arena.Holder[p]);   // the pool's now, not the socket's
            Assert.True(frames[i].AsSpan().SequenceEqual(pool.Frame(p)), $"frame {i} differs");
        }
        Assert.Equal(PerSocket, Held(_arena));   // each slot taken was replaced in the fill ring
        pool.Release(got.ToArray());

        // A pool of its own: copies, into its own slab.
        ns.SendFrames(frames, ns.NsIf);
        var own = new PacketPool(256);
        var copied = ReceiveUntil(port, own, RxType, frames.Count, TimeSpan.FromSeconds(3));
        Assert.Equal(frames.Count, copied.Count);
        for (int i = 0; i < frames.Count; i++) Assert.True(frames[i].AsSpan().SequenceEqual(copied[i]), $"copied frame {i} differs");
        Assert.Equal(own.Capacity, own.FreeCount);
    }

    /// <summary>A frame whose buffer has one reference goes out from its own slot (the slot joins the socket's TX
    /// frames, a spare TX frame joins the pool); one shared with another output is copied.</summary>
    [NetnsFact]
    public void SentFrames_GoOutFromTheirOwnSlots_UnlessShared()
    {
        using var ns = Netns.Create();
        using var port = new AfXdpPort(ns.HostIf, Options(_arena));
        var pool = new PacketPool(_arena, 512);
        var frames = new List<byte[]>();
        for (int i = 0; i < 32; i++) frames.Add(MakeFrame(TxType, i, 60 + i * 45));
        using var cap = ns.StartCapture(TxType, frames.Count + 1, timeoutSeconds: 5, ifname: ns.NsIf);
        var burst = new int[32];
        Assert.Equal(32, pool.Alloc(burst));
        for (int i = 0; i < 32; i++) Assert.True(pool.Write(burst[i], frames[i]));
        port.Send(pool, burst);
        Assert.Equal(32, port.TxInPlace);
        foreach (int p in burst) Assert.NotEqual(0, _arena.Holder[p]);   // the socket's now
        pool.Release(burst);
        foreach (int p in burst) Assert.Equal(1, pool.RefCount(p));      // the sender's reference dropped; not freed

        int shared = pool.Alloc();
        var last = MakeFrame(TxType, 32, 100);
        pool.Write(shared, last);
        pool.AddRef(shared);
        port.Send(pool, [shared]);
        Assert.Equal(32, port.TxInPlace);   // copied
        Assert.Equal(0, _arena.Holder[shared]);
        pool.Release(shared);
        pool.Release(shared);

        var captured = cap.Finish();
        frames.Add(last);
        Assert.Equal(frames.Count, captured.Count);
        captured.Sort((a, b) => BinaryPrimitives.ReadInt32BigEndian(a.AsSpan(14)).CompareTo(BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(14))));
        for (int i = 0; i < frames.Count; i++) Assert.Equal(Convert.ToHexString(frames[i]), Convert.ToHexString(captured[i]));
        AssertAllBuffersBack(pool);
    }

    /// <summary>By default only a zero-copy socket sends from the slot itself: in copy mode (veth) frames are copied
    /// into TX frames, while received ones are still taken in place.</summary>
    [NetnsFact]
    public void InCopyMode_FramesAreCopiedOutByDefault()
    {
        using var ns = Netns.Create();
        using var port = new AfXdpPort(ns.HostIf, Options(_arena) with { SendInPlace = null });
        Assert.False(port.ZeroCopy);
        var pool = new PacketPool(_arena, 512);
        var frames = new List<byte[]>();
        for (int i = 0; i < 8; i++) frames.Add(MakeFrame(TxType, i, 100 + i));
        using var cap = ns.StartCapture(TxType, frames.Count, timeoutSeconds: 5, ifname: ns.NsIf);
        var burst = new int[frames.Count];
        Assert.Equal(frames.Count, pool.Alloc(burst));
        for (int i = 0; i < frames.Count; i++) pool.Write(burst[i], frames[i]);
        port.Send(pool, burst);
        pool.Release(burst);
        Assert.Equal(0, port.TxInPlace);
        Assert.Equal(frames.Count, cap.Finish().Count);
        AssertAllBuffersBack(pool);
    }

    private static List<int> ReceiveHeld(IPort port, PacketPool pool, int count)
    {
        var got = new List<int>();
        Span<int> burst = stackalloc int[Burst.Size];
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (got.Count < count && sw.ElapsedMilliseconds < 3000)
        {
            int n = port.Receive(pool, burst);
            for (int i = 0; i < n; i++)
            {
                var f = pool.Frame(burst[i]);
                if (f.Length >= 14 && BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == RxType) got.Add(burst[i]);
                else pool.Release(burst[i]);
            }
            if (n == 0) Thread.Sleep(1);
        }
        return got;
    }

    /// <summary>An arena with too few free slots for the port's queues is not used: the sockets get UMEMs of their own
    /// (frames copied) and the port says why; the arena is left as it was. A frame size other than 2048 is refused.</summary>
    [NetnsFact]
    public void AnArenaShortOfSlots_LeavesThePortItsOwnUmem()
    {
        using var ns = Netns.Create(queues: 2);
        var small = new PacketArena(2 * PerSocket - PacketArena.Batch);   // a batch short of two queues
        using (var port = new AfXdpPort(ns.HostIf, Options(small)))
        {
            Assert.False(port.InArena);
            Assert.Equal("the packet arena has 2304 free slots, 2 queue(s) of 1280 frames need more", port.ArenaRefusal);
            Assert.Equal(small.SlotCount, small.SharedFreeCount);
            var frames = new List<byte[]> { MakeFrame(RxType, 1, 100) };
            ns.SendFrames(frames, ns.NsIf);
            Assert.Single(ReceiveUntil(port, new PacketPool(small, 256), RxType, 1, TimeSpan.FromSeconds(3)));
        }
        var bad = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf, Options(_arena) with { FrameSize = 4096 }));
        Assert.Equal(PortOpenError.InvalidSpec, bad.Error);
        Assert.Equal(_arena.SlotCount, _arena.SharedFreeCount);
    }

    /// <summary>An interface whose MTU leaves no room in a slot (a frame with two VLAN tags past the 1,792 bytes behind
    /// the kernel's headroom) is not put over the arena: its sockets get UMEMs of their own and the port says why; it
    /// receives all the same, and the arena is left as it was.</summary>
    [NetnsFact]
    public void AnMtuBeyondASlot_LeavesThePortItsOwnUmem()
    {
        using var ns = Netns.Create();
        Sh.Check("ip", "link", "set", ns.HostIf, "mtu", "1771");
        using (var port = new AfXdpPort(ns.HostIf, Options(_arena)))
        {
            Assert.False(port.InArena);
            Assert.Equal("mtu 1771: a frame of 1793 bytes with two VLAN tags does not fit the 1792 a packet arena slot receives", port.ArenaRefusal);
            Assert.Equal(_arena.SlotCount, _arena.SharedFreeCount);
            ns.SendFrames([MakeFrame(RxType, 1, 100)], ns.NsIf);
            Assert.Single(ReceiveUntil(port, new PacketPool(_arena, 256), RxType, 1, TimeSpan.FromSeconds(3)));
        }
        // On an interface of its own: the kernel releases a closed socket's queue in the background, so binding the
        // same queue again at once can find it still taken.
        using var ns1770 = Netns.Create();
        Sh.Check("ip", "link", "set", ns1770.HostIf, "mtu", "1770");
        using (var port = new AfXdpPort(ns1770.HostIf, Options(_arena)))
        {
            Assert.True(port.InArena);
            Assert.Null(port.ArenaRefusal);
        }
    }

    /// <summary>Closing the port gives back every slot its sockets held, wherever the kernel left them (in the fill
    /// ring, or taken for frames: their replacements).</summary>
    [NetnsFact]
    public void ClosingThePort_GivesEverySlotBack()
    {
        using var ns = Netns.Create(queues: 2);
        var pool = new PacketPool(_arena, 512);
        var port = new AfXdpPort(ns.HostIf, Options(_arena));
        Assert.Equal(2 * PerSocket, Held(_arena));
        Assert.Equal(_arena.SlotCount - 2 * PerSocket, _arena.SharedFreeCount);
        var frames = new List<byte[]>();
        for (int i = 0; i < 300; i++) frames.Add(MakeFrame(RxType, i, 64 + i));
        ns.SendFrames(frames, ns.NsIf);
        Assert.Equal(frames.Count, ReceiveUntil(port, pool, RxType, frames.Count, TimeSpan.FromSeconds(3)).Count);
        port.Dispose();
        Assert.Equal(0, Held(_arena));
        pool.ReturnToArena();
        Assert.True(pool.FreeCount < PacketArena.Batch, $"{pool.FreeCount} left in the cache");
        Assert.Equal(_arena.SlotCount, _arena.SharedFreeCount + pool.FreeCount);
    }

    /// <summary>With every free buffer taken, a receive takes nothing and counts it (rx_no_buffers); the frames wait in
    /// the RX ring and come once buffers are free again: nothing hangs, nothing is lost uncounted.</summary>
    [NetnsFact]
    public void AnEmptyPool_IsCounted_AndTheFramesComeOnceBuffersAreFree()
    {
        using var ns = Netns.Create();
        var arena = new PacketArena(PerSocket + PacketArena.Batch);
        using var port = new AfXdpPort(ns.HostIf, Options(arena));
        var pool = new PacketPool(arena, 512);
        var hog = new int[arena.SlotCount];
        int hogged = pool.Alloc(hog);
        Assert.Equal(PacketArena.Batch, hogged);
        Assert.Equal(0, pool.Alloc(new int[1]));

        var frames = new List<byte[]>();
        for (int i = 0; i < 10; i++) frames.Add(MakeFrame(RxType, i, 200 + i));
        ns.SendFrames(frames, ns.NsIf);
        Span<int> burst = stackalloc int[Burst.Size];
        Thread.Sleep(50);
        Assert.Equal(0, port.Receive(pool, burst));
        Assert.True(port.RxNoBuffers > 0, "the empty pool was not counted");

        pool.Release(hog.AsSpan(0, hogged));
        var got = ReceiveUntil(port, pool, RxType, frames.Count, TimeSpan.FromSeconds(3));
        Assert.Equal(frames.Count, got.Count);
        for (int i = 0; i < frames.Count; i++) Assert.True(frames[i].AsSpan().SequenceEqual(got[i]), $"frame {i} differs");
    }

    /// <summary>
    /// A receive queue handed from one thread to another mid-traffic (each with its own pool over the arena, the
    /// handover a join, as the datapath's quiescent handover): the second thread receives into slots the first lent to
    /// the fill ring, and every frame sent is received or counted by the kernel, in order.
    /// </summary>
    [NetnsFact]
    public void AQueueMovedBetweenThreads_LosesNothingUncounted_AndKeepsOrder()
    {
        using var ns = Netns.Create();
        using var port = new AfXdpPort(ns.HostIf, Options(_arena));
        const int Count = 3000;
        var frames = new List<byte[]>();
        for (int i = 0; i < Count; i++) frames.Add(MakeFrame(RxType, i, 60 + i % 1400));
        var seqs = new List<int>();
        var lentByFirst = new HashSet<int>();
        int takenFromFirst = 0;
        string? differs = null;
        bool stop = false;

        void Run(PacketPool pool, int until, bool first)
        {
            Span<int> burst = stackalloc int[Burst.Size];
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (seqs.Count < until && !Volatile.Read(ref stop) && sw.ElapsedMilliseconds < 20_000)
            {
                int n = port.Receive(pool, burst);
                for (int i = 0; i < n; i++)
                {
                    int p = burst[i];
                    var f = pool.Frame(p);
                    if (f.Length < 18 || BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != RxType) continue;
                    int seq = BinaryPrimitives.ReadInt32BigEndian(f[14..]);
                    if ((uint)seq >= Count || !frames[seq].AsSpan().SequenceEqual(f)) differs ??= $"frame {seq} differs";
                    seqs.Add(seq);
                    if (!first && lentByFirst.Contains(p)) takenFromFirst++;
                }
                pool.Release(burst[..n]);
                if (n == 0) Thread.Yield();
            }
            if (first)
            {
                for (int s = 0; s < _arena.SlotCount; s++)
                {
                    if (_arena.Holder[s] != 0) lentByFirst.Add(s);
                }
            }
        }

        var sender = new Thread(() => ns.SendFrames(frames, ns.NsIf));
        sender.Start();
        var a = new Thread(() => Run(new PacketPool(_arena, 512), Count / 3, first: true));
        a.Start();
        a.Join();
        var b = new Thread(() => Run(new PacketPool(_arena, 512), Count, first: false));
        b.Start();
        sender.Join();
        Thread.Sleep(500);
        Volatile.Write(ref stop, true);
        b.Join();

        var k = port.KernelStatistics;
        // The kernel's counts: the socket's (XDP_STATISTICS) and the veth's own (its ring towards our side).
        ulong veth = ulong.Parse(ns.Exec("cat", $"/sys/class/net/{ns.NsIf}/statistics/tx_dropped").Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        ulong dropped = k.RxDropped + k.RxRingFull + veth;
        Output.WriteLine($"received {seqs.Count} of {Count}, the kernel dropped {dropped} ({k}, veth {veth}); the second thread received {takenFromFirst} frames into slots the first lent");
        Assert.Null(differs);
        Assert.Equal((ulong)Count, (ulong)seqs.Count + dropped);
        for (int i = 1; i < seqs.Count; i++) Assert.True(seqs[i] > seqs[i - 1], $"frame {seqs[i]} after {seqs[i - 1]}");
        Assert.True(takenFromFirst > 0, "the second thread received nothing into slots the first lent");
    }

    /// <summary>Frames forwarded AF_XDP to AF_XDP by a datapath whose pools are the arena (received in place) and by
    /// one without (copied), and AF_XDP to AF_PACKET (copied once): byte-exact, in order, no buffer lost.</summary>
    [NetnsFact]
    public void Forwarding_AfXdpToAfXdp_InPlace_IsByteExact() => Forward("afxdp", arena: true);

    [NetnsFact]
    public void Forwarding_AfXdpToAfXdp_Copied_IsByteExact() => Forward("afxdp", arena: false);

    [NetnsFact]
    public void Forwarding_AfXdpToAfPacket_InPlace_IsByteExact() => Forward("afpacket", arena: true);

    private void Forward(string egress, bool arena)
    {
        using var a = Netns.Create();
        using var b = Netns.Create();
        var pa = new AfXdpPort(a.HostIf, arena ? Options(_arena) : Options(_arena) with { Arena = null });
        IPort pb = egress == "afxdp" ? new AfXdpPort(b.HostIf, arena ? Options(_arena) : Options(_arena) with { Arena = null })
                                     : new AfPacketPort(b.HostIf);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, Arena = arena ? _arena : null, LargeBuffers = 0 })
        {
            MissBehavior = MissBehavior.Normal,
        };
        dp.AddPort(pa, 1);
        dp.AddPort(pb, 2);
        Assert.Equal(arena, dp.Forwarders[0].Pool.Arena is not null);
        Assert.Equal(arena, pa.InArena);
        dp.Start();
        try
        {
            var frames = new List<byte[]>();
            for (int i = 0; i < 200; i++) frames.Add(MakeFrame(TxType, i, 60 + (i * 53) % 1455));
            frames.Add(MakeFrame(TxType, 200, 1514));
            using var cap = b.StartCapture(TxType, frames.Count, timeoutSeconds: 10, ifname: b.NsIf);
            a.SendFrames(frames, a.NsIf);
            var captured = cap.Finish();
            Assert.Equal(frames.Count, captured.Count);
            for (int i = 0; i < frames.Count; i++)
                Assert.True(frames[i].AsSpan().SequenceEqual(captured[i]), $"frame {i} differs: sent {frames[i].Length} B, got {captured[i].Length} B");
            long txInPlace = (pb as AfXdpPort)?.TxInPlace ?? 0;
            Output.WriteLine($"received in place {pa.RxInPlace}, sent in place {txInPlace}");
            Assert.True(arena ? pa.RxInPlace >= frames.Count : pa.RxInPlace == 0, $"received in place {pa.RxInPlace}");
            Assert.True(arena && egress == "afxdp" ? txInPlace >= frames.Count : txInPlace == 0, $"sent in place {txInPlace}");
        }
        finally
        {
            dp.Stop();
        }
        if (arena)
        {
            // Every slot is free, or lent to an open socket: none lost on the way.
            var pool = dp.Forwarders[0].Pool;
            Assert.Equal(_arena.SlotCount - Held(_arena), pool.FreeCount + _arena.SharedFreeCount);
        }
    }
}
