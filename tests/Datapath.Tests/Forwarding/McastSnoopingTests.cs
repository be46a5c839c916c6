using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// NORMAL with multicast snooping (<see cref="McastSnoopingTable"/>, as Open vSwitch's xlate_normal): a registered
/// group's traffic goes to its ports, the flood ports and the routers only; unregistered traffic floods (or, with
/// flood-unregistered off, goes to routers and flood ports); 224.0.0.x floods; reports go to routers and
/// flood-reports ports only and are handed to snooping with their port and VLAN, queries are handed over and flooded;
/// off, multicast floods and nothing is handed over; and a registered group's traffic allocates nothing per packet.
/// </summary>
public sealed class McastSnoopingTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("0e:00:00:00:0b:01"), H2 = MacAddress.Parse("0e:00:00:00:0b:02"),
        H3 = MacAddress.Parse("0e:00:00:00:0b:03");
    private static readonly (ulong High, ulong Low) Group = McastSnoopingTable.MappedIpv4(McastFrames.Ipv4("239.1.2.3"));

    private sealed class Sink : IMcastSnoopingSink
    {
        public readonly List<(ushort Port, ushort Vlan, byte[] Frame)> Frames = [];
        public void Received(ushort port, ushort vlan, ReadOnlySpan<byte> frame) => Frames.Add((port, vlan, frame.ToArray()));
    }

    private static DatapathRig Rig(bool capture = true)
    {
        var rig = new DatapathRig(5, capture: capture);
        rig.Dp.MissBehavior = MissBehavior.Normal;
        return rig;
    }

    private static McastSnoopingTable Table(ushort[] members, McastSnoopingTable.Router[]? routers = null, ushort[]? flood = null, ushort[]? reports = null,
                                            bool floodUnregistered = true)
        => new([new McastSnoopingTable.Group(Group.High, Group.Low, 0, members)], routers ?? [], flood ?? [], reports ?? [], floodUnregistered);

    private static int[] Receivers(DatapathRig rig) => [.. Enumerable.Range(1, rig.Ports.Length).Where(p => rig.Sent(p).Count > 0)];

    [Fact]
    public void Off_MulticastFloodsAndNothingIsHandedOver()
    {
        using var rig = Rig();
        var sink = new Sink();
        rig.Dp.McastSink = sink;
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "239.1.2.3"));
        Assert.Equal([2, 3, 4, 5], Receivers(rig));
        rig.Send(2, McastFrames.IgmpV2Report(H2, "10.0.0.2", "239.1.2.3"));
        Assert.Equal([1, 3, 4, 5], Receivers(rig));
        Assert.Empty(sink.Frames);
    }

    [Fact]
    public void ARegisteredGroup_GoesToItsPortsTheFloodPortsAndTheRoutersOnly()
    {
        using var rig = Rig();
        rig.Dp.SetMcastSnooping(Table([2, 3], routers: [new(0, 5), new(7, 4)], flood: [3]));
        // Members 2 and 3, flood port 3 (once), router 5 of VLAN 0 (router 4 is VLAN 7's).
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "239.1.2.3"));
        Assert.Equal([2, 3, 5], Receivers(rig));
        // From a member: the others, never back.
        rig.Send(2, McastFrames.UdpToGroup(H2, "10.0.0.2", "239.1.2.3"));
        Assert.Equal([3, 5], Receivers(rig));

        // Unregistered: flooded; with flood-unregistered off, to the routers and flood ports only.
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "239.9.9.9"));
        Assert.Equal([2, 3, 4, 5], Receivers(rig));
        rig.Dp.SetMcastSnooping(Table([2], routers: [new(0, 5)], flood: [3], floodUnregistered: false));
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "239.9.9.9"));
        Assert.Equal([3, 5], Receivers(rig));

        // 224.0.0.x (not IGMP) always floods (RFC 4541 2.1.2), broadcast and non-IP multicast as before.
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "224.0.0.251"));
        Assert.Equal([2, 3, 4, 5], Receivers(rig));
        rig.Send(1, FrameBuilder.Udp(H1, MacAddress.Parse("ff:ff:ff:ff:ff:ff"), 0x0A000001, 0x0A0000FF, 1, 2));
        Assert.Equal([2, 3, 4, 5], Receivers(rig));

        // Off again: the group's traffic floods.
        rig.Dp.SetMcastSnooping(null);
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "239.1.2.3"));
        Assert.Equal([2, 3, 4, 5], Receivers(rig));
    }

    [Fact]
    public void Reports_GoToRoutersAndFloodReportPortsOnly_QueriesFlood_BothHandedToSnooping()
    {
        using var rig = Rig();
        var sink = new Sink();
        rig.Dp.McastSink = sink;
        Assert.True(rig.Dp.SetPortVlan(1, PortVlan.Access(10)));
        Assert.True(rig.Dp.SetPortVlan(2, PortVlan.Access(10)));
        rig.Dp.SetMcastSnooping(new McastSnoopingTable([], [new(10, 2), new(0, 3)], [], [4], true));
        // A v2 report on access port 1 (VLAN 10): to router 2 of VLAN 10 and flood-reports port 4 (a trunk of every
        // VLAN, tagged), not to host port 5 nor router 3 of VLAN 0; handed over as port 1, VLAN 10.
        var report = McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.1.2.3");
        rig.Send(1, report);
        Assert.Equal([2, 4], Receivers(rig));
        Assert.Equal((1, 10), (sink.Frames[0].Port, sink.Frames[0].Vlan));
        Assert.Equal(report, sink.Frames[0].Frame);
        // v1, v3 and leave likewise.
        rig.Send(1, McastFrames.IgmpV1Report(H1, "10.0.0.1", "239.1.2.3"));
        rig.Send(1, McastFrames.IgmpV3Report(H1, "10.0.0.1", null, (4, "239.1.2.3", [])));
        rig.Send(1, McastFrames.IgmpLeave(H1, "10.0.0.1", "239.1.2.3"));
        Assert.Equal(4, sink.Frames.Count);
        Assert.Equal(3, rig.Port(2).TakeSent().Count);
        Assert.Empty(rig.Port(5).TakeSent());

        // A query from router port 3: flooded (VLAN 0: port 5 and trunk 4; access ports 1 and 2 are VLAN 10), handed over.
        rig.Sent(4);
        rig.Send(3, McastFrames.IgmpQuery(H3, "10.0.0.3"));
        Assert.Equal([4, 5], Receivers(rig));
        Assert.Equal((3, 0), (sink.Frames[4].Port, sink.Frames[4].Vlan));

        // MLD: a v2 report to the routers and flood-reports ports only, a query flooded; both handed over.
        rig.Send(5, McastFrames.MldV2Report(H3, "fe80::3", (2, "ff05::1:3", [])));
        Assert.Equal([3, 4], Receivers(rig));
        rig.Send(5, McastFrames.MldQuery(H3, "fe80::3"));
        Assert.Equal([3, 4], Receivers(rig));
        Assert.Equal(7, sink.Frames.Count);
        Assert.Equal(7, rig.Dp.Counters.Read(DatapathCounters.McastSnoopingFrame));

        // Without a sink they are still forwarded, counted unheard.
        rig.Dp.McastSink = null;
        rig.Send(5, McastFrames.IgmpV2Report(H3, "10.0.0.3", "239.1.2.3"));
        Assert.Equal([3, 4], Receivers(rig));
        Assert.Equal(1, rig.Dp.Counters.Read(DatapathCounters.McastSnoopingUnheard));
    }

    [Fact]
    public void ABondInTheGroup_GetsTheTrafficByOneMember()
    {
        using var rig = Rig();
        var bond = new Bond("bond0", BondMode.ActiveBackup, [4, 5]);
        bond.Update(5, [4, 5], BondLacp.Off);
        rig.Dp.SetBonds([bond]);
        rig.Dp.SetMcastSnooping(Table([2, bond.Key]));
        rig.Send(1, McastFrames.UdpToGroup(H1, "10.0.0.1", "239.1.2.3"));
        Assert.Equal([2, 5], Receivers(rig));
        // From the bond's active member: not back into the bond.
        rig.Send(5, McastFrames.UdpToGroup(H3, "10.0.0.3", "239.1.2.3"));
        Assert.Equal([2], Receivers(rig));
    }

    [Fact]
    public void TenThousandPacketsToARegisteredGroup_AllocateNothing()
    {
        using var rig = Rig(capture: false);
        rig.Dp.SetMcastSnooping(Table([2, 3]));
        rig.Port(1).SetGenerator([McastFrames.UdpToGroup(H1, "10.0.0.1", "239.1.2.3")], 0);
        long bytes = AllocationMeter.SteadyState(() =>
        {
            rig.Port(1).SetGeneratorCount(10_000);
            rig.Dp.PollUntilIdle();
        });
        Assert.Equal(0, bytes);
        Assert.True(rig.Port(2).Counters.TxPackets >= 10_000, $"{rig.Port(2).Counters.TxPackets} frames reached member 2");
        Assert.Equal(rig.Port(2).Counters.TxPackets, rig.Port(3).Counters.TxPackets);
        Assert.Equal((0L, 0L), (rig.Port(4).Counters.TxPackets, rig.Port(5).Counters.TxPackets));
    }

    [Fact]
    public void TheTable_LooksUpGroupsByAddressAndVlan()
    {
        var groups = Enumerable.Range(0, 3000).Select(i => new McastSnoopingTable.Group(0, 0x0000_FFFF_EF00_0000UL + (ulong)i, (ushort)(i % 3), [(ushort)(i % 7 + 1), 1]))
            .ToList();
        var t = new McastSnoopingTable(groups, [], [], [], true);
        Assert.Equal(3000, t.Count);
        foreach (var g in groups) Assert.Equal(g.Ports.Distinct().Order(), t.Lookup(g.AddressHigh, g.AddressLow, g.Vlan));
        Assert.Null(t.Lookup(0, 0x0000_FFFF_EF00_0000UL, 1));   // its VLAN is 0
        Assert.Null(t.Lookup(1, 0x0000_FFFF_EF00_0000UL, 0));
        Assert.Null(new McastSnoopingTable(true).Lookup(Group.High, Group.Low, 0));
    }
}
