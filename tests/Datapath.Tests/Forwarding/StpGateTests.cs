using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// The spanning tree gate of a port (<see cref="SwitchDatapath.SetPortStp"/>): BPDUs go to the sink and are never
/// forwarded, a port that does not forward neither sends nor has its frames forwarded, learning learns only, flooding
/// leaves blocked ports out, every change is a port-status event; with spanning tree off nothing changes.
/// </summary>
public sealed class StpGateTests
{
    private sealed class Sink : IBpduSink
    {
        public readonly List<(ushort Port, byte[] Frame)> Got = [];
        public void Received(PortSlot port, ReadOnlySpan<byte> frame) => Got.Add((port.No, frame.ToArray()));
    }

    private static byte[] Bpdu()
    {
        var f = new byte[60];
        f[0] = 0x01; f[1] = 0x80; f[2] = 0xC2;
        f[6] = 0x02; f[11] = 0x09;
        f[12] = 0; f[13] = 38;
        f[14] = 0x42; f[15] = 0x42; f[16] = 0x03;
        return f;
    }

    [Fact]
    public void StpOff_BpdusAreFloodedAsAnyFrame()
    {
        using var r = new DatapathRig(3);
        r.Dp.MissBehavior = MissBehavior.Normal;
        var sink = new Sink();
        r.Dp.BpduSink = sink;
        r.Send(1, Bpdu());
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
        Assert.Empty(sink.Got);
    }

    [Fact]
    public void Bpdus_ConsumedOnEveryStateButOff()
    {
        using var r = new DatapathRig(3);
        r.Dp.MissBehavior = MissBehavior.Normal;
        var sink = new Sink();
        r.Dp.BpduSink = sink;
        r.Dp.SetPortStp(1, PortStpState.Blocking);
        r.Dp.SetPortStp(2, PortStpState.Forwarding);
        r.Dp.SetPortStp(3, PortStpState.Excluded);
        r.Send(1, Bpdu());
        r.Send(2, Bpdu());
        r.Send(3, Bpdu());
        Assert.Equal([1, 2, 3], sink.Got.Select(g => (int)g.Port));
        Assert.Equal(Bpdu(), sink.Got[0].Frame);
        for (int p = 1; p <= 3; p++) Assert.Empty(r.Sent(p));
    }

    [Fact]
    public void Blocking_NeitherForwardsNorLearns_Learning_LearnsOnly()
    {
        using var r = new DatapathRig(3);
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Dp.SetPortStp(1, PortStpState.Forwarding);
        r.Dp.SetPortStp(2, PortStpState.Blocking);
        r.Dp.SetPortStp(3, PortStpState.Forwarding);
        // From the blocked port: dropped, not learned.
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Empty(r.Sent(1));
        Assert.Empty(r.Sent(3));
        Assert.Equal(1, r.Dp.DropCount(DropReason.StpNotForwarding));
        Assert.Equal(0, r.Dp.MacTable.Count);
        // A flood from port 1 leaves the blocked port out.
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Empty(r.Sent(2));
        Assert.Single(r.Sent(3));
        // Learning: the source is learned, the frame still dropped; a frame to it then goes nowhere (not forwarding).
        r.Dp.SetPortStp(2, PortStpState.Learning);
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Empty(r.Sent(1));
        Assert.Equal(2, r.Dp.DropCount(DropReason.StpNotForwarding));
        Assert.Equal((ushort)2, r.Dp.MacTable.Lookup(H2, 0, r.Clock.NowNanos));
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Empty(r.Sent(2));
        Assert.Equal(3, r.Dp.DropCount(DropReason.StpNotForwarding));
        // Forwarding: both ways.
        r.Dp.SetPortStp(2, PortStpState.Forwarding);
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Single(r.Sent(2));
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Single(r.Sent(1));
        // Blocking again forgets what was learned on the port.
        r.Dp.SetPortStp(2, PortStpState.Blocking);
        Assert.Equal(PortNumber.None, r.Dp.MacTable.Lookup(H2, 0, r.Clock.NowNanos));
    }

    [Fact]
    public void StateChanges_ArePortStatusEvents_OnlyWhenTheyChange()
    {
        using var r = new DatapathRig(2);
        r.PortEvents.Clear();
        Assert.True(r.Dp.SetPortStp(1, PortStpState.Listening));
        Assert.True(r.Dp.SetPortStp(1, PortStpState.Listening));
        Assert.True(r.Dp.SetPortStp(1, PortStpState.Learning));
        Assert.False(r.Dp.SetPortStp(9, PortStpState.Learning));
        Assert.Equal([(PortStatusReason.Modify, (ushort)1), (PortStatusReason.Modify, (ushort)1)], r.PortEvents);
        Assert.Equal(PortStpState.Learning, r.Dp.Ports.Get(1)!.Stp);
        Assert.Equal(PortConfig.StpBpdu | PortConfig.StpNoForward, r.Dp.Ports.Get(1)!.Config);
        r.Dp.SetPortStp(1, PortStpState.Off);
        Assert.Equal(PortConfig.None, r.Dp.Ports.Get(1)!.Config);
    }
}
