using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>AF_XDP with the default mode choice (native on veth when the kernel allows it).</summary>
public sealed class AfXdpPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
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
    protected override IPort Open(string ifname)
    {
        var port = new AfXdpPort(ifname, new AfXdpOptions { Mode = XdpAttachMode.Generic });
        Assert.Equal(XdpAttachMode.Generic, port.AttachedMode);
        return port;
    }
}
