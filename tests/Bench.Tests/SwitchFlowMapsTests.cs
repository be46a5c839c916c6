using Softswitch.Bench.Agent;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Bench.Tests;

/// <summary>
/// `bench offload-latency` watches a switch's flow map from outside: found through the program on an AF_XDP port with
/// the flow program, it sees a flow's key when the map holds it and the frames its slot counts in the kernel.
/// </summary>
public sealed class SwitchFlowMapsTests
{
    [NetnsFact]
    public void FindsTheFlowMapThroughThePortsProgram_AndSeesAPlacedFlowAndItsFrames()
    {
        using var ns = Netns.Create();
        using var maps = new XdpFlowMaps(16);
        using var port = new AfXdpPort(ns.HostIf);
        port.UseFlowProgram(maps);
        var src = Mac("02:00:00:00:00:01");
        var dst = Mac("02:00:00:00:00:02");
        var frame = FrameBuilder.Udp(src, dst, Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2000);
        var key = new XdpFlowKey(port.Interface.Index, 0, 0x0800, dst.Value, src.Value, 17, 0, 1000, 2000, Ip("10.0.0.1"), Ip("10.0.0.2"));
        var keyBytes = new byte[XdpFlowProgram.KeySize];
        key.Write(keyBytes);

        using var watched = SwitchFlowMaps.Open(ns.HostIf);
        Assert.Null(watched.Slot(keyBytes));
        maps.ClearCounters(5);
        maps.Put(key, new XdpFlowAction(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5));   // drop in the kernel
        Assert.Equal(5u, watched.Slot(keyBytes));
        Assert.Equal(0, watched.Packets(5));

        ns.SendFrames([frame, frame, frame]);

        Assert.True(Wait.Until(() => watched.Packets(5) == 3, 3000), $"counted {watched.Packets(5)}");
        Assert.True(maps.Delete(key));
        Assert.Null(watched.Slot(keyBytes));
    }

    [NetnsFact]
    public void RefusesAnInterfaceWithoutAFlowProgram()
    {
        using var ns = Netns.Create();
        Assert.Throws<IOException>(() => SwitchFlowMaps.Open(ns.HostIf));
        using var port = new AfXdpPort(ns.HostIf);   // the plain redirect program: no flow map
        Assert.Throws<IOException>(() => SwitchFlowMaps.Open(ns.HostIf));
    }
}
