using System.Buffers.Binary;
using Softswitch.Bench.Gen;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;

namespace Softswitch.Bench.Tests;

/// <summary>
/// The generator on a real veth pair, both modes: what it says it sent is what reached the peer's XDP_DROP sink (its
/// xdp_drops counter), frame for frame; and the XDP mode's program writes each flow's bytes as the AF_PACKET mode
/// does. Counts only, no timing.
/// </summary>
public sealed class GenWireTests
{
    private static PacketGen.Options Opts(string dev, string mode, long count, int flows, long rate = 0) => new()
    {
        Dev = dev, Mode = mode, Count = count, Flows = flows, Rate = rate, Seconds = 30,
    };

    private static long XdpDrops(string dev)
    {
        long sum = 0;
        foreach (var line in Sh.Check("ethtool", "-S", dev).Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().EndsWith("_xdp_drops", StringComparison.Ordinal)) sum += long.Parse(line[(colon + 1)..].Trim());
        }
        return sum;
    }

    private static int AttachDrop(string dev)
    {
        int prog = Bpf.LoadXdpProgram(XdpCommand.ActionProgram(Bpf.XDP_DROP), "test_drop", out string log);
        Assert.True(prog >= 0, log);
        int link = Bpf.AttachXdp(prog, NetInterface.Open(dev).Index, Bpf.XDP_FLAGS_DRV_MODE);
        LibC.close(prog);
        Assert.True(link >= 0, $"attach: {LibC.StrError(-link)}");
        return link;
    }

    [NetnsFact]
    [RequiresTool("ethtool")]
    public void EveryFrameTheGeneratorCountsReachesThePeer_InBothModes()
    {
        using var veth = VethPair.Create();
        int link = AttachDrop(veth.B);
        try
        {
            foreach (var (mode, rate) in new[] { ("packet", 0L), ("xdp", 0L), ("packet", 200_000L), ("xdp", 200_000L) })
            {
                long before = XdpDrops(veth.B);
                var r = mode == "xdp" ? XdpGen.Send(Opts(veth.A, mode, 20_000, 1000, rate)) : PacketGen.Send(Opts(veth.A, mode, 20_000, 1000, rate));
                Thread.Sleep(100);
                Assert.Equal(20_000, r.Sent);
                Assert.Equal(0, r.SendErrors);
                Assert.Equal(20_000, XdpDrops(veth.B) - before);
            }
        }
        finally
        {
            LibC.close(link);
        }
    }

    [NetnsFact]
    [RequiresTool("ethtool")]
    public void XdpModeCountsWhatTheVethRefused_AsNotSent()
    {
        using var veth = VethPair.Create();   // no program on the peer and GRO off: the veth refuses XDP frames
        var r = XdpGen.Send(Opts(veth.A, "xdp", 1_000, 1));
        Assert.Equal(0, r.Sent);
        Assert.Equal(1_000, r.SendErrors);
    }

    [NetnsFact]
    public void XdpProgramWritesEachFlowsBytes_InTurn()
    {
        var frames = new GenFrames(64, 5, GenFrames.ParseMac("02:00:00:00:00:02"), GenFrames.ParseMac("02:00:00:00:00:01"),
            GenFrames.ParseIp("10.88.0.1"), GenFrames.ParseIp("10.88.0.2"));
        var outs = XdpGen.RunOnEachFlow(frames, 12);
        var expect = frames.Template.ToArray();
        for (int i = 0; i < 12; i++)
        {
            frames.Patch(expect, i % 5);
            Assert.Equal(expect, outs[i]);
            Assert.Equal(0, GenFrames.Ipv4Checksum(outs[i].AsSpan(14, 20)));
            Assert.Equal(1024 + (i % 5), BinaryPrimitives.ReadUInt16BigEndian(outs[i].AsSpan(GenFrames.UdpSrcPortOffset)));
        }
    }
}
