using System.Buffers.Binary;
using System.Diagnostics;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// The same checks for every real-port backend: a port opens on the root-side end of a fresh veth pair, frames are
/// sent from inside the namespace with a raw socket, and frames sent by the port are captured inside the namespace.
/// </summary>
public abstract class PortBackendTests(ITestOutputHelper output)
{
    protected const ushort RxType = 0x88B5;   // IEEE local experimental ethertypes
    protected const ushort TxType = 0x88B6;
    protected readonly ITestOutputHelper Output = output;

    protected abstract IPort Open(string ifname);

    /// <summary>Opens the port under test for <paramref name="ns"/>; returns it and the namespace-side interface that is its peer.</summary>
    protected virtual (IPort Port, string PeerIf) OpenFor(Netns ns) => (Open(ns.HostIf), ns.NsIf);

    /// <summary>Backends whose kernel path needs a moment after open before the first frame is seen.</summary>
    protected virtual int SettleMs => 0;

    /// <summary>The pool the tests receive into and send from (a backend may carve it from its own memory).</summary>
    protected virtual PacketPool NewPool(int buffers) => new(buffers);

    /// <summary>Asserts that every buffer of <paramref name="pool"/> is free again (none kept by the port).</summary>
    protected virtual void AssertAllBuffersBack(PacketPool pool) => Assert.Equal(pool.Capacity, pool.FreeCount);

    [NetnsFact]
    public void Receive_GetsFramesFromNamespace_Intact_InOrder()
    {
        using var ns = Netns.Create();
        var (port, peer) = OpenFor(ns);
        using var _ = port;
        Settle();
        var frames = new List<byte[]>();
        for (int i = 0; i < 40; i++)
            frames.Add(MakeFrame(RxType, i, 60 + (i * 37) % 1455));
        frames.Add(MakeFrame(RxType, 40, 1514));
        ns.SendFrames(frames, peer);

        var pool = NewPool(512);
        // The port fills frames and lengths; a packet's in_port is the forwarder's to stamp (IPort's contract).
        const ushort untouched = 0xBEEF;
        pool.InPort.AsSpan().Fill(untouched);
        var got = ReceiveUntil(port, pool, RxType, frames.Count, TimeSpan.FromSeconds(3));
        Assert.Equal(frames.Count, got.Count);
        for (int i = 0; i < frames.Count; i++)
            Assert.True(frames[i].AsSpan().SequenceEqual(got[i]), $"frame {i} differs: sent {frames[i].Length} B, got {got[i].Length} B");
        AssertAllBuffersBack(pool);
        Assert.True(pool.InPort.AsSpan().IndexOfAnyExcept(untouched) < 0, "the port wrote a packet's InPort");
        var c = port.Counters.Snapshot();
        Assert.True(c.RxPackets >= frames.Count, $"RxPackets {c.RxPackets}");
        Assert.True(c.RxBytes >= frames.Sum(f => (long)f.Length), $"RxBytes {c.RxBytes}");
    }

    [NetnsFact]
    public void Receive_KeepsVlanTag()
    {
        using var ns = Netns.Create();
        var (port, peer) = OpenFor(ns);
        using var _ = port;
        Settle();
        // 802.1Q, PCP 5, VID 0x123, inner type RxType.
        var inner = MakeFrame(RxType, 7, 100);
        var tagged = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), (5 << 13) | 0x123);
        inner.AsSpan(12).CopyTo(tagged.AsSpan(16));
        ns.SendFrames([tagged], peer);

        var pool = NewPool(64);
        var got = ReceiveUntil(port, pool, 0x8100, 1, TimeSpan.FromSeconds(3));
        Assert.Single(got);
        Assert.Equal(Convert.ToHexString(tagged), Convert.ToHexString(got[0]));
    }

    [NetnsFact]
    public void Send_BurstOf32_ArrivesInNamespace_AndIsNotReceivedBack()
    {
        using var ns = Netns.Create();
        var (port, peer) = OpenFor(ns);
        using var _ = port;
        Settle();
        var pool = NewPool(256);
        var frames = new List<byte[]>();
        for (int i = 0; i < 32; i++) frames.Add(MakeFrame(TxType, i, 60 + i * 45));

        using var cap = ns.StartCapture(TxType, frames.Count, timeoutSeconds: 5, ifname: peer);
        Span<int> burst = stackalloc int[32];
        Assert.Equal(32, pool.Alloc(burst));
        for (int i = 0; i < 32; i++) Assert.True(pool.Write(burst[i], frames[i]));
        port.Send(pool, burst);
        pool.Release(burst);  // Send copied the frames out: the buffers are ours again
        AssertAllBuffersBack(pool);

        var captured = cap.Finish();
        Assert.Equal(32, captured.Count);
        captured.Sort((a, b) => Seq(a).CompareTo(Seq(b)));
        for (int i = 0; i < 32; i++)
            Assert.Equal(Convert.ToHexString(frames[i]), Convert.ToHexString(captured[i]));
        var c = port.Counters.Snapshot();
        Assert.Equal(32, c.TxPackets);
        Assert.Equal(frames.Sum(f => (long)f.Length), c.TxBytes);

        // Our own transmissions must not come back on receive.
        var echoed = ReceiveUntil(port, pool, TxType, 1, TimeSpan.FromMilliseconds(300));
        Assert.Empty(echoed);
    }

    private static long SendRound(IPort port, PacketPool pool, byte[] frame, int bursts)
    {
        Span<int> burst = stackalloc int[Burst.Size];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < bursts; i++) SendBurst(port, pool, burst, frame);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static (long frames, long allocated) ReceiveRound(IPort port, PacketPool pool, int frames, Stopwatch sw)
    {
        Span<int> burst = stackalloc int[Burst.Size];
        long rx = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        while (rx < frames && sw.ElapsedMilliseconds < 12_000)
        {
            int n = port.Receive(pool, burst);
            rx += n;
            pool.Release(burst[..n]);
        }
        return (rx, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [NetnsFact]
    public void HotPath_AllocatesNothing_Over10kPackets()
    {
        using var ns = Netns.Create();
        var (port, peer) = OpenFor(ns);
        using var _ = port;
        Settle();
        var pool = NewPool(1024);
        Span<int> burst = stackalloc int[Burst.Size];
        var frame = MakeFrame(TxType, 1, 64);

        // Warm up both paths (JIT, lazy init), then measure this thread's allocations.
        for (int i = 0; i < 50; i++) SendBurst(port, pool, burst, frame);
        for (int i = 0; i < 50; i++) { int n = port.Receive(pool, burst); pool.Release(burst[..n]); }

        // Measured in rounds, smallest figure kept: the runtime may allocate on this thread while it tiers up the
        // test's own loops (on-stack replacement), but a hot path that allocates does so in every round.
        long sendAlloc = long.MaxValue;
        for (int round = 0; round < 4; round++) sendAlloc = Math.Min(sendAlloc, SendRound(port, pool, frame, 10_000 / Burst.Size + 1));
        Assert.True(port.Counters.TxPackets >= 10_000, $"sent {port.Counters.TxPackets}");

        // Receive: a flood of 64-byte frames from the namespace, drained in bursts.
        using var flood = ns.StartFlood(peer, int.MaxValue, 64, seconds: 15);
        long rx = 0, rxAlloc = long.MaxValue;
        var sw = Stopwatch.StartNew();
        for (int round = 0; round < 4 && sw.ElapsedMilliseconds < 12_000; round++)
        {
            var (got, alloc) = ReceiveRound(port, pool, 10_000, sw);
            rx += got;
            if (got >= 10_000) rxAlloc = Math.Min(rxAlloc, alloc);
        }
        if (!flood.WaitForExit(0)) flood.Kill(entireProcessTree: true);
        Output.WriteLine($"send: {sendAlloc} B allocated per 10k packets; receive: {rxAlloc} B allocated per 10k frames ({rx} frames in all)");
        Assert.True(rx >= 10_000, $"received only {rx} frames");
        Assert.Equal(0, sendAlloc);
        Assert.Equal(0, rxAlloc);
        AssertAllBuffersBack(pool);
    }

    private static void SendBurst(IPort port, PacketPool pool, Span<int> burst, byte[] frame)
    {
        int n = pool.Alloc(burst);
        for (int i = 0; i < n; i++) pool.Write(burst[i], frame);
        port.Send(pool, burst[..n]);
        pool.Release(burst[..n]);
    }

    /// <summary>For backends that open an existing interface (not tap, which creates its own): a missing one is refused by name.</summary>
    protected void AssertAMissingInterfaceIsRefused()
    {
        var e = Assert.Throws<PortOpenException>(() => Open("ssw-nonexist0"));
        Assert.Equal(PortOpenError.InterfaceMissing, e.Error);
        Assert.Contains("ssw-nonexist0", e.Message);
        Output.WriteLine(e.Message);
    }

    private void Settle()
    {
        if (SettleMs > 0) Thread.Sleep(SettleMs);
    }

    /// <summary>Builds an Ethernet frame of <paramref name="size"/> bytes carrying a sequence number and a byte pattern.</summary>
    protected static byte[] MakeFrame(ushort ethertype, int seq, int size)
    {
        var f = new byte[size];
        new byte[] { 0x02, 0x5e, 0x00, 0x00, 0x00, 0x02 }.CopyTo(f, 0);
        new byte[] { 0x02, 0x5e, 0x00, 0x00, 0x00, 0x01 }.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), ethertype);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), seq);
        for (int i = 18; i < size; i++) f[i] = (byte)(i * 7 + seq);
        return f;
    }

    private static int Seq(byte[] f) => BinaryPrimitives.ReadInt32BigEndian(f.AsSpan(14));

    /// <summary>Receives until <paramref name="count"/> frames of <paramref name="ethertype"/> arrived or the time is up; other frames are ignored.</summary>
    protected static List<byte[]> ReceiveUntil(IPort port, PacketPool pool, ushort ethertype, int count, TimeSpan limit)
    {
        var got = new List<byte[]>();
        Span<int> burst = stackalloc int[Burst.Size];
        var sw = Stopwatch.StartNew();
        while (got.Count < count && sw.Elapsed < limit)
        {
            int n = port.Receive(pool, burst);
            for (int i = 0; i < n; i++)
            {
                var f = pool.Frame(burst[i]);
                if (f.Length >= 14 && BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == ethertype) got.Add(f.ToArray());
            }
            pool.Release(burst[..n]);
            if (n == 0) Thread.Sleep(1);
        }
        return got;
    }
}
