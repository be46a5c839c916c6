using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;

namespace Softswitch.Tests.Control;

/// <summary>dp/show gives each AF_XDP port its mode and its sockets' kernel counters (XDP_STATISTICS).</summary>
public sealed class DpShowXdpTests
{
    [NetnsFact]
    public void DpShow_GivesAnAfXdpPortsModeAndXdpStatistics()
    {
        using var ns = Netns.Create();
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        var port = new AfXdpPort(ns.HostIf);
        dp.AddPort(port, 1);
        var agent = new OfSwitchAgent(new OfSwitch(dp), new AgentOptions());
        string text = DaemonCommands.DpShow(dp, agent, offload: null);
        var line = text.Split('\n').Single(l => l.TrimStart().StartsWith("afxdp:", StringComparison.Ordinal));
        Assert.Contains($"copy mode (driver offers no zero-copy), XDP {(port.AttachedMode == XdpAttachMode.Native ? "native" : "generic")}, 1 queue(s) of 8192 rx frames, umem own, multi-buffer on", line);
        foreach (var counter in new[] { "rx_dropped 0", "rx_ring_full 0", "rx_fill_ring_empty_descs 0", "tx_ring_empty_descs ", "rx_invalid_descs 0", "tx_invalid_descs 0", "tx_kicks 0" })
            Assert.Contains(counter, line);
        Assert.False(port.ZeroCopy, "a veth has no zero-copy AF_XDP");
        // One forwarding thread, one queue: the thread shares queue 0 with the other threads' lane, so both lock.
        var tx = text.Split('\n').Single(l => l.TrimStart().StartsWith("afxdp tx:", StringComparison.Ordinal));
        Assert.Equal("    afxdp tx: fwd-0 queue 0 locked 0 frames; other queue 0 locked 0 frames; queue 0 posted 0 completed 0", tx);
    }

    /// <summary>A port whose sockets registered the packet arena says its frames are received in place; the bind
    /// still fell back to copy mode on veth, and says so.</summary>
    [NetnsFact]
    public void DpShow_SaysThePortReceivesInPlace_OverThePacketArena()
    {
        using var ns = Netns.Create();
        var arena = new PacketArena(16 * 1024, largeCount: 32);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, Arena = arena });
        var port = new AfXdpPort(ns.HostIf, new AfXdpOptions { Arena = arena, RxFrames = 1024, TxFrames = 256 });
        dp.AddPort(port, 1);
        var agent = new OfSwitchAgent(new OfSwitch(dp), new AgentOptions());
        string text = DaemonCommands.DpShow(dp, agent, offload: null);
        var line = text.Split('\n').Single(l => l.TrimStart().StartsWith("afxdp:", StringComparison.Ordinal));
        Assert.Contains("afxdp: copy mode (driver offers no zero-copy), ", line);
        Assert.Contains("1 queue(s) of 1024 rx frames, umem packet arena (received in place), multi-buffer on", line);
    }

    /// <summary>One mode for all sockets when they agree, else each socket's.</summary>
    [Fact]
    public void XdpModeText_SaysEachSocketsModeWhenTheyDiffer()
    {
        Assert.Equal("zero-copy mode", DaemonCommands.XdpModeText([(0, true, null), (1, true, null)]));
        Assert.Equal("copy mode (asked for)", DaemonCommands.XdpModeText([(0, false, "asked for"), (1, false, "asked for")]));
        Assert.Equal("mixed mode: queue 0 zero-copy, queue 1 copy (driver offers no zero-copy)",
            DaemonCommands.XdpModeText([(0, true, null), (1, false, "driver offers no zero-copy")]));
    }

    /// <summary>Two threads on a two-queue port: thread t on queue t mod 2; thread 1 has queue 1 alone (unlocked),
    /// thread 0 shares queue 0 with the other threads' lane (2 mod 2), so it locks.</summary>
    [NetnsFact]
    public void DpShow_SaysWhichThreadTransmitsOnWhichQueue_AndWhichLock()
    {
        using var ns = Netns.Create(queues: 2);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, Threads = 2 });
        dp.AddPort(new AfXdpPort(ns.HostIf), 1);
        var agent = new OfSwitchAgent(new OfSwitch(dp), new AgentOptions());
        string text = DaemonCommands.DpShow(dp, agent, offload: null);
        var tx = text.Split('\n').Single(l => l.TrimStart().StartsWith("afxdp tx:", StringComparison.Ordinal));
        Assert.Equal("    afxdp tx: fwd-0 queue 0 locked 0 frames; fwd-1 queue 1 unlocked 0 frames; other queue 0 locked 0 frames; " +
                     "queue 0 posted 0 completed 0; queue 1 posted 0 completed 0", tx);
    }
}
