using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Forwarding end to end through the real pipeline, with in-memory ports and rules as flow-mods: misses, learning, port
/// config, the LOCAL port, packet-out, ports coming and going, no allocation per packet (ovs tests/ofproto-dpif.at in spirit).
/// </summary>
public sealed class ForwardingTests
{
    [Fact]
    public void ExactFlowForwardsToItsPortAndCounts()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        Assert.Equal(FlowModStatus.Ok, r.Add(MatchOf(f, 1, OfWildcards.None), 100, FlowAction.Output(2)));
        r.Send(1, f);
        r.Send(1, f);
        var sent = r.Sent(2);
        Assert.Equal(2, sent.Count);
        Assert.Equal(f, sent[0]);
        Assert.Empty(r.Sent(3));
        var entries = new List<FlowEntry>();
        r.Flows.Collect(FlowMatch.All, PortNumber.None, false, entries);
        Assert.Single(entries);
        Assert.Equal(2, entries[0].Packets);
        Assert.Equal(2 * f.Length, entries[0].Bytes);
    }

    [Fact]
    public void MissGoesToControllerWithNoMatchReason()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Send(1, f);
        var ups = r.Upcalls();
        Assert.Single(ups);
        Assert.Equal((ushort)1, ups[0].InPort);
        Assert.Equal(UpcallReason.Miss, ups[0].Reason);
        Assert.Equal(f, ups[0].Frame);
    }

    [Fact]
    public void MissInSecureModeDropsAndCounts()
    {
        using var r = new FlowTablesRig();
        r.Dp.MissBehavior = MissBehavior.Drop;
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Empty(r.Upcalls());
        Assert.Equal(1, r.Dp.DropCount(DropReason.MissSecure));
    }

    [Fact]
    public void StandaloneLearnsAndStopsFlooding()
    {
        using var r = new FlowTablesRig();
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
        Assert.Single(r.Sent(4));
        Assert.Empty(r.Sent(1));
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Single(r.Sent(1));
        Assert.Empty(r.Sent(3));
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void PortConfigNoRecvAndNoFwdDrop()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(2));
        r.Dp.SetPortConfig(2, PortConfig.NoFwd, PortConfig.NoFwd);
        r.Send(1, f);
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoFwd));
        r.Dp.SetPortConfig(2, PortConfig.None, PortConfig.NoFwd);
        r.Dp.SetPortConfig(1, PortConfig.NoRecv, PortConfig.NoRecv);
        r.Send(1, f);
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoRecv));
        Assert.Contains((PortStatusReason.Modify, (ushort)2), r.PortEvents);
    }

    [Fact]
    public void NoRecvKeepsBpdus_NoRecvStpDropsThem()
    {
        using var r = new FlowTablesRig();
        r.Dp.MissBehavior = MissBehavior.Controller;
        var bpdu = new byte[60];
        MacAddress.Parse("01:80:c2:00:00:00").Write(bpdu);
        H1.Write(bpdu.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(bpdu.AsSpan(12), 38); // 802.3 length, LLC 42 42 03
        bpdu[14] = 0x42; bpdu[15] = 0x42; bpdu[16] = 0x03;
        var data = Udp(H1, H2, "10.0.0.1", "10.0.0.2");

        r.Dp.SetPortConfig(1, PortConfig.NoRecv, PortConfig.NoRecv);
        r.Send(1, data);
        r.Send(1, bpdu);
        var ups = r.Upcalls();
        Assert.Equal(bpdu, ups.Single().Frame);          // the BPDU still reaches the controller
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoRecv));

        r.Dp.SetPortConfig(1, PortConfig.NoRecvStp, PortConfig.NoRecv | PortConfig.NoRecvStp);
        r.Send(1, bpdu);
        r.Send(1, data);
        ups = r.Upcalls();
        Assert.Equal(data, ups.Single().Frame);
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoRecvStp));
    }

    [Fact]
    public void NormalLearnsNothingOnPseudoPorts()
    {
        using var r = new FlowTablesRig();
        var fromH1 = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        var normal = new FlowActions([FlowAction.Output(PortNumber.Normal)]);
        r.Dp.PacketOut(fromH1, PortNumber.Controller, normal);
        r.Dp.PacketOut(fromH1, PortNumber.None, normal);
        r.Dp.PacketOut(fromH1, PortNumber.Local, normal); // this rig has no LOCAL port
        Assert.Equal(0, r.Dp.MacTable.Count);
        for (int p = 1; p <= 4; p++) Assert.Equal(3, r.Sent(p).Count); // each packet-out flooded to every port
        // A reply to H1 is still flooded: H1 was not learned on a pseudo-port.
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Single(r.Sent(1));
        Assert.Single(r.Sent(3));
        Assert.Single(r.Sent(4));
        Assert.Equal(0, r.Dp.DropCount(DropReason.NoSuchPort));
    }

    [Fact]
    public void LocalPortCarriesFlowsBothWaysAndItsLinkIsMonitored()
    {
        using var r = new FlowTablesRig();
        var local = new MemoryPort("ss-1", new MacAddress(0x0200_0000_00FEUL)) { CaptureSent = true };
        local.SetLink(false); // a LOCAL tap starts administratively down
        r.Dp.AddPort(local, PortNumber.Local);
        Assert.Contains((PortStatusReason.Add, PortNumber.Local), r.PortEvents);
        var toLocal = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        var fromLocal = Udp(H2, H1, "10.0.0.2", "10.0.0.1");
        r.Add(MatchOf(toLocal, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Local));
        r.Add(MatchOf(fromLocal, PortNumber.Local, OfWildcards.None), 1, FlowAction.Output(1));
        r.Send(1, toLocal);
        Assert.Empty(local.TakeSent());
        Assert.Equal(1, r.Dp.DropCount(DropReason.LinkDown));

        local.SetLink(true); // the host brings the interface up
        r.Dp.RunMaintenance();
        Assert.Contains((PortStatusReason.Modify, PortNumber.Local), r.PortEvents);
        r.Send(1, toLocal);
        Assert.Equal(toLocal, local.TakeSent().Single());
        local.Inject(fromLocal);   // what the host sends on the tap enters with in_port LOCAL
        r.Dp.PollUntilIdle();
        Assert.Equal(fromLocal, r.Sent(1).Single());
    }

    private static MemoryPort AddLocal(DatapathRig r)
    {
        var local = new MemoryPort("ss-1", new MacAddress(0x0200_0000_00FEUL)) { CaptureSent = true };
        r.Dp.AddPort(local, PortNumber.Local);
        return local;
    }

    private static readonly MacAddress Broadcast = MacAddress.Parse("ff:ff:ff:ff:ff:ff");

    [Theory]
    [InlineData(PortNumber.Flood)]
    [InlineData(PortNumber.All)]
    [InlineData(PortNumber.Normal)]
    public void FloodAllAndNormalReachTheLocalPort_NeverTheInputPort(ushort action)
    {
        using var r = new FlowTablesRig();
        var local = AddLocal(r);
        var arp = Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255");
        r.Add(MatchOf(arp, 1, OfWildcards.All & ~OfWildcards.InPort), 1, FlowAction.Output(action));
        r.Send(1, arp);
        Assert.Equal(arp, local.TakeSent().Single());
        Assert.Empty(r.Sent(1));
        for (int p = 2; p <= 4; p++) Assert.Equal(arp, r.Sent(p).Single());
    }

    [Theory]
    [InlineData(PortNumber.Flood)]
    [InlineData(PortNumber.All)]
    [InlineData(PortNumber.Normal)]
    public void LocalAsInputPortFloodsToEveryOtherPort(ushort action)
    {
        using var r = new FlowTablesRig();
        var local = AddLocal(r);
        var dhcp = Udp(H3, Broadcast, "0.0.0.0", "255.255.255.255", 68, 67);
        r.Add(MatchOf(dhcp, PortNumber.Local, OfWildcards.All & ~OfWildcards.InPort), 1, FlowAction.Output(action));
        local.Inject(dhcp);
        r.Dp.PollUntilIdle();
        Assert.Empty(local.TakeSent());
        for (int p = 1; p <= 4; p++) Assert.Equal(dhcp, r.Sent(p).Single());
        Assert.Equal(0, r.Dp.DropCount(DropReason.OutputToInPort));
    }

    [Fact]
    public void StandaloneLearningFloodsBroadcastsToTheLocalPort_AndLearnsHostsBehindIt()
    {
        using var r = new FlowTablesRig();
        var local = AddLocal(r);
        r.Dp.MissBehavior = MissBehavior.Normal;
        var request = Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255");
        r.Send(1, request);
        Assert.Equal(request, local.TakeSent().Single());
        Assert.Empty(r.Sent(1));
        for (int p = 2; p <= 4; p++) Assert.Single(r.Sent(p));
        // The host behind LOCAL answers: learned on LOCAL, the reply goes to port 1 alone.
        local.Inject(Udp(H3, H1, "10.0.0.3", "10.0.0.1"));
        r.Dp.PollUntilIdle();
        Assert.Single(r.Sent(1));
        for (int p = 2; p <= 4; p++) Assert.Empty(r.Sent(p));
        // Unicast to the host behind LOCAL goes to LOCAL alone.
        r.Send(2, Udp(H2, H3, "10.0.0.2", "10.0.0.3"));
        Assert.Single(local.TakeSent());
        Assert.Empty(r.Sent(3));
        Assert.Empty(r.Sent(4));
    }

    [Fact]
    public void FloodSkipsALocalPortConfiguredNotToFlood_AllDoesNot()
    {
        using var r = new FlowTablesRig();
        var local = AddLocal(r);
        r.Dp.SetPortConfig(PortNumber.Local, PortConfig.NoFlood, PortConfig.NoFlood);
        var f = Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Flood));
        r.Send(1, f);
        Assert.Empty(local.TakeSent());
        Assert.Single(r.Sent(2));
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.All));
        r.Send(1, f);
        Assert.Single(local.TakeSent());
    }

    [Fact]
    public void PacketOutWithTableUsesFlowTable()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(4));
        r.Dp.PacketOut(f, 1, new FlowActions([FlowAction.Output(PortNumber.Table)]));
        Assert.Single(r.Sent(4));
        r.Dp.PacketOut(f, PortNumber.None, new FlowActions([FlowAction.Output(2), FlowAction.Output(3)]));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
    }

    /// <summary>Rounds of 10,000 generated frames on port 1 until allocation is steady: all forwarded, 0 bytes. Returns the rounds.</summary>
    internal static int AssertSteadyForwardingAllocatesNothing(DatapathRig r)
    {
        int got = 0, rounds = 0;
        long allocated = AllocationMeter.SteadyState(() =>
        {
            r.Ports[0].SetGeneratorCount(10_000);
            got += r.Dp.PollUntilIdle(100_000);
            rounds++;
        });
        Assert.Equal(10_000 * rounds, got);
        Assert.Equal(0, allocated);
        return rounds;
    }

    [Fact]
    public void ForwardingAllocatesNothingPerPacket()
    {
        using var r = new FlowTablesRig();
        var frames = new byte[64][];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = Udp(H1, H2, "10.0.0.1", $"10.0.1.{i}");
            r.Add(MatchOf(frames[i], 1, OfWildcards.None), 1, FlowAction.SetDlDst(H3), FlowAction.Output((ushort)(2 + i % 3)));
        }
        r.Add(MatchOf(frames[0], 1, OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwProto)), 5, FlowAction.Output(2));
        foreach (var p in r.Ports) p.CaptureSent = false;
        r.Ports[0].SetGenerator(frames, 1000);
        r.Dp.PollUntilIdle();
        int rounds = AssertSteadyForwardingAllocatesNothing(r);
        Assert.Equal(1000 + 10_000 * rounds, r.Ports[1].Counters.TxPackets + r.Ports[2].Counters.TxPackets + r.Ports[3].Counters.TxPackets);
    }

    [Fact]
    public void AddedPortGetsNumberAndStatusEvent_RemovedPortToo()
    {
        using var r = new FlowTablesRig(2);
        var slot = r.Dp.AddPort(new MemoryPort("p9", new MacAddress(9)));
        Assert.Equal((ushort)3, slot.No);
        Assert.True(r.Dp.RemovePort(3));
        Assert.Equal([(PortStatusReason.Add, (ushort)3), (PortStatusReason.Delete, (ushort)3)], r.PortEvents);
    }
}
