using Softswitch.Control;
using Softswitch.Datapath;
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
        Assert.Contains($"{(port.ZeroCopy ? "zero-copy" : "copy")} mode, XDP {(port.AttachedMode == XdpAttachMode.Native ? "native" : "generic")}, 1 queue(s) of 8192 rx frames, multi-buffer on", line);
        foreach (var counter in new[] { "rx_dropped 0", "rx_ring_full 0", "rx_fill_ring_empty_descs 0", "tx_ring_empty_descs ", "rx_invalid_descs 0", "tx_invalid_descs 0", "tx_kicks 0" })
            Assert.Contains(counter, line);
        Assert.False(port.ZeroCopy, "a veth has no zero-copy AF_XDP");
    }
}
