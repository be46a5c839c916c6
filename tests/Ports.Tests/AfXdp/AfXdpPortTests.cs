using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>AF_XDP with the default mode choice (native on veth when the kernel allows it).</summary>
public sealed class AfXdpPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    [Fact]
    public void Open_MissingInterface_ThrowsPortOpenException() => AssertAMissingInterfaceIsRefused();

    protected override IPort Open(string ifname)
    {
        var port = new AfXdpPort(ifname);
        Output.WriteLine($"afxdp:{ifname} attached in {port.AttachedMode} mode");
        return port;
    }

    [NetnsFact]
    public void Open_Twice_OnSameQueue_ExplainsWhy()
    {
        using var ns = Netns.Create();
        using var first = new AfXdpPort(ns.HostIf);
        var e = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf));
        Assert.Contains("already has an AF_XDP socket", e.Message);
        Output.WriteLine(e.Message);
    }

    [NetnsFact]
    public void Open_WithForeignXdpProgramAttached_ExplainsHowToDetach()
    {
        using var ns = Netns.Create();
        int idx = int.Parse(File.ReadAllText($"/sys/class/net/{ns.HostIf}/ifindex"));
        int map = Bpf.CreateXskMap(1);
        int prog = Bpf.LoadRedirectProgram(map, out _);
        Assert.True(map >= 0 && prog >= 0, $"map {map} prog {prog}");
        int link = Bpf.AttachXdp(prog, idx, Bpf.XDP_FLAGS_SKB_MODE);
        try
        {
            Assert.True(link >= 0, $"attach: {link}");
            var e = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf, new AfXdpOptions { Mode = XdpAttachMode.Generic }));
            Assert.Contains("xdp off", e.Message);
            Output.WriteLine(e.Message);
        }
        finally
        {
            LibC.close(link);
            LibC.close(prog);
            LibC.close(map);
        }
    }

    /// <summary>
    /// A port that shares its forwarding thread never waits in poll() (IdleWaitMs 0), yet frames the kernel dropped
    /// because the RX ring was full still reach RxDropped once the ring runs empty.
    /// </summary>
    [NetnsFact]
    public void KernelRingDrops_AreCounted_WhenThePortNeverWaits()
    {
        using var ns = Netns.Create();
        using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { RxFrames = 64, IdleWaitMs = 0 });
        var frames = Enumerable.Range(0, 400).Select(i => MakeFrame(RxType, i, 60)).ToList();
        ns.SendFrames(frames, ns.NsIf);   // nobody receives meanwhile: at most 64 fit in the ring

        var pool = new PacketPool(512);
        Span<int> pkts = stackalloc int[32];
        long received = 0, dropped = 0;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            int n = port.Receive(pool, pkts);
            received += n;
            pool.Release(pkts[..n]);
            dropped = port.Counters.Snapshot().RxDropped;
            if (received + dropped >= frames.Count) break;
            if (n == 0) Thread.Sleep(50);
        }
        Output.WriteLine($"received {received}, dropped {dropped}, kernel {port.KernelStatistics}");
        Assert.InRange(received, 1, 64);
        Assert.True(received + dropped >= frames.Count, $"received {received} + dropped {dropped} < sent {frames.Count}");
    }

    /// <summary>
    /// Jumbo frames on a 9000-byte MTU: received as descriptor chains into the pool's large buffers and sent as chains,
    /// byte for byte, in native and generic XDP; the XDP program is frags-aware, so native mode attaches at this MTU.
    /// </summary>
    [NetnsFact]
    public void JumboFrames_PassWhole_AsDescriptorChains_Native() => JumboFramesPassWhole(XdpAttachMode.Auto);

    [NetnsFact]
    public void JumboFrames_PassWhole_AsDescriptorChains_Generic() => JumboFramesPassWhole(XdpAttachMode.Generic);

    private void JumboFramesPassWhole(XdpAttachMode mode)
    {
        using var ns = Netns.Create();
        Sh.Check("ip", "link", "set", ns.HostIf, "mtu", "9000");
        Sh.Check("ip", "-n", ns.Name, "link", "set", ns.NsIf, "mtu", "9000");
        using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { Mode = mode });
        Output.WriteLine($"afxdp:{ns.HostIf} in {port.AttachedMode} mode, multi-buffer {port.MultiBuffer}, kernel {Environment.OSVersion.Version}");
        Assert.True(port.MultiBuffer, "multi-buffer AF_XDP (XDP_USE_SG) is in every kernel from 6.6 on");
        if (mode == XdpAttachMode.Auto) Assert.Equal(XdpAttachMode.Native, port.AttachedMode);

        // In: a jumbo frame of the MTU, one of several chunks, one of one chunk, in that order.
        byte[][] frames = [MakeFrame(RxType, 0, 9014), MakeFrame(RxType, 1, 5000), MakeFrame(RxType, 2, 1200), MakeFrame(RxType, 3, 4097)];
        ns.SendFrames(frames);
        var pool = new PacketPool(64, largeCapacity: 8);
        var got = ReceiveUntil(port, pool, RxType, frames.Length, TimeSpan.FromSeconds(3));
        Assert.Equal(frames.Length, got.Count);
        for (int i = 0; i < frames.Length; i++)
            Assert.True(frames[i].AsSpan().SequenceEqual(got[i]), $"frame {i}: sent {frames[i].Length} B, got {got[i].Length} B");
        Assert.Equal(pool.Capacity, pool.FreeCount);
        Assert.Equal(pool.LargeCapacity, pool.LargeFreeCount);

        // Out: the same sizes from large and small buffers.
        using var cap = ns.StartCapture(TxType, 3, timeoutSeconds: 5);
        byte[][] outs = [MakeFrame(TxType, 0, 9014), MakeFrame(TxType, 1, 2049), MakeFrame(TxType, 2, 700)];
        Span<int> burst = stackalloc int[3];
        for (int i = 0; i < outs.Length; i++)
        {
            burst[i] = outs[i].Length > pool.MaxFrameSize ? pool.AllocLarge() : pool.Alloc();
            Assert.True(pool.Write(burst[i], outs[i]));
        }
        port.Send(pool, burst);
        pool.Release(burst);
        var captured = cap.Finish().OrderBy(f => f.Length).ToList();
        Assert.Equal(3, captured.Count);
        Assert.Equal(outs.OrderBy(f => f.Length).Select(Convert.ToHexString), captured.Select(Convert.ToHexString));
        var c = port.Counters.Snapshot();
        Assert.Equal(3, c.TxPackets);
        Assert.Equal(0, c.TxDropped);
    }

    /// <summary>Without multi-buffer, a jumbo frame is dropped and counted both ways, never truncated.</summary>
    [NetnsFact]
    public void JumboFrames_WithoutMultiBuffer_AreDroppedAndCounted()
    {
        using var ns = Netns.Create();
        Sh.Check("ip", "link", "set", ns.HostIf, "mtu", "9000");
        Sh.Check("ip", "-n", ns.Name, "link", "set", ns.NsIf, "mtu", "9000");
        using var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { Mode = XdpAttachMode.Generic, MultiBuffer = false });
        Assert.False(port.MultiBuffer);
        ns.SendFrames([MakeFrame(RxType, 0, 9014), MakeFrame(RxType, 1, 100)]);
        var pool = new PacketPool(64, largeCapacity: 2);
        var got = ReceiveUntil(port, pool, RxType, 1, TimeSpan.FromSeconds(3));
        Assert.Single(got);
        Assert.Equal(100, got[0].Length);
        Assert.True(Wait.Until(() => { port.RefreshStatistics(); return port.Counters.Snapshot().RxDropped >= 1; }, 3000), $"RxDropped {port.Counters.Snapshot().RxDropped}");

        int p = pool.AllocLarge();
        Assert.True(pool.Write(p, MakeFrame(TxType, 0, 9014)));
        port.Send(pool, [p]);
        pool.Release(p);
        Assert.Equal(1, port.Counters.Snapshot().TxDropped);
    }

    [NetnsFact]
    public void Dispose_DetachesXdpProgram()
    {
        using var ns = Netns.Create();
        var port = new AfXdpPort(ns.HostIf);
        Assert.Contains("xdp", Sh.Check("ip", "link", "show", ns.HostIf));
        port.Dispose();
        Assert.DoesNotContain("xdp", Sh.Check("ip", "link", "show", ns.HostIf));
    }
}

/// <summary>AF_XDP forced into generic (skb) XDP mode, the fallback for drivers without native XDP.</summary>
public sealed class AfXdpGenericPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    [Fact]
    public void Open_MissingInterface_ThrowsPortOpenException() => AssertAMissingInterfaceIsRefused();

    protected override IPort Open(string ifname)
    {
        var port = new AfXdpPort(ifname, new AfXdpOptions { Mode = XdpAttachMode.Generic });
        Assert.Equal(XdpAttachMode.Generic, port.AttachedMode);
        return port;
    }
}
