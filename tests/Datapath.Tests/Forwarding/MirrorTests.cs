using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Port mirrors (<see cref="SwitchDatapath.SetMirrors"/>, Open vSwitch's Mirror table): packets selected by the port
/// they arrive on, the port they leave by and their VLAN are copied once to the output port (or flooded in the output
/// VLAN), cut to the snaplen; the output port takes no part in NORMAL; and mirroring allocates nothing per packet.
/// </summary>
public sealed class MirrorTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("0e:00:00:00:0b:01"), H2 = MacAddress.Parse("0e:00:00:00:0b:02"),
        H3 = MacAddress.Parse("0e:00:00:00:0b:03"), Unknown = MacAddress.Parse("0e:00:00:00:0b:99");

    private static DatapathRig Rig(int ports = 4, bool capture = true)
    {
        var rig = new DatapathRig(ports, capture: capture);
        rig.Dp.MissBehavior = MissBehavior.Normal;
        return rig;
    }

    private static byte[] Frame(MacAddress src, MacAddress dst, ushort? vlan = null, int size = 64)
        => FrameBuilder.Udp(src, dst, 0x0A000001, 0x0A000002, 1000, 2000, frameSize: size, vlan: vlan);

    private static byte[] Tagged(byte[] untagged, ushort vid)
    {
        var f = new byte[untagged.Length + 4];
        untagged.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), vid);
        untagged.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    private static string Hex(byte[] f) => Convert.ToHexString(f);

    /// <summary>Ports 1 to 3 as select_all selects them (each a source and a destination), copies to port 4.</summary>
    private static Mirror All(string name = "m", int snaplen = 0) => new(name, [1, 2, 3], [1, 2, 3], null, 4, snaplen: snaplen);

    [Fact]
    public void SelectAll_CopiesEachPacketOnce_AndTheOutputPortTakesNoPartInNormal()
    {
        using var rig = Rig();
        rig.Dp.SetMirrors([All()]);
        // Flooded to 2 and 3 (both selected for what they send as well), never to the output port: one copy there.
        var f = Frame(H1, Unknown);
        rig.Send(1, f);
        Assert.Equal([Hex(f)], rig.Sent(2).Select(Hex));
        Assert.Equal([Hex(f)], rig.Sent(3).Select(Hex));
        Assert.Equal([Hex(f)], rig.Sent(4).Select(Hex));
        // Back to H1, learned on 1: one copy.
        var back = Frame(H2, H1);
        rig.Send(2, back);
        Assert.Equal([Hex(back)], rig.Sent(1).Select(Hex));
        Assert.Equal([Hex(back)], rig.Sent(4).Select(Hex));
        var m = rig.Dp.Mirrors!.Mirrors[0];
        Assert.Equal((2L, (long)(f.Length + back.Length)), (m.TxPackets, m.TxBytes));

        // What the output port receives is dropped by NORMAL (nor is its sender learned there), and counted.
        rig.Send(4, Frame(H3, H1));
        Assert.Empty(rig.Sent(1));
        Assert.Empty(rig.Sent(2));
        Assert.Equal(1, rig.Dp.DropCount(DropReason.MirrorPort));
        Assert.DoesNotContain(rig.Dp.MacTable.Snapshot(), l => l.Mac == H3);

        // Without mirrors the port is an ordinary one again, and nothing is copied.
        rig.Dp.SetMirrors(null);
        Assert.Null(rig.Dp.Mirrors);
        rig.Send(1, Frame(H1, Unknown));
        Assert.Single(rig.Sent(4));
        rig.Send(4, Frame(H3, H1));
        Assert.Single(rig.Sent(1));
    }

    [Fact]
    public void SourceAndDestinationPorts_SelectWhatArrivesThereAndWhatLeavesThere()
    {
        using var rig = Rig();
        // H1 behind 1, H2 behind 2.
        rig.Send(1, Frame(H1, Unknown));
        rig.Send(2, Frame(H2, Unknown));
        foreach (var p in rig.Ports) p.TakeSent();

        rig.Dp.SetMirrors([new Mirror("src", [1], [], null, 4)]);
        var fromH1 = Frame(H1, H2);
        var toH1 = Frame(H2, H1);
        rig.Send(1, fromH1);
        rig.Send(2, toH1);
        Assert.Equal([Hex(fromH1)], rig.Sent(4).Select(Hex));

        rig.Dp.SetMirrors([new Mirror("dst", [], [1], null, 4)]);
        rig.Send(1, fromH1);
        rig.Send(2, toH1);
        Assert.Equal([Hex(toH1)], rig.Sent(4).Select(Hex));

        // Two mirrors to the same port: a packet both select is copied there once (and counted by the first).
        rig.Dp.SetMirrors([new Mirror("a", [1], [], null, 4), new Mirror("b", [], [2], null, 4)]);
        rig.Send(1, fromH1);
        Assert.Single(rig.Sent(4));
        Assert.Equal((1L, 0L), (rig.Dp.Mirrors!.Mirrors[0].TxPackets, rig.Dp.Mirrors.Mirrors[1].TxPackets));
    }

    [Fact]
    public void DestinationMirror_CopiesThePacketAsItLeaves_OnceForAFloodOverSeveralSelectedPorts()
    {
        using var rig = Rig(5);
        rig.Dp.MissBehavior = MissBehavior.Drop;
        var rewritten = MacAddress.Parse("0e:00:00:00:0b:77");
        rig.Insert(0, FlowMatch.All, 1, [FlowAction.SetDlDst(rewritten), FlowAction.Output(2), FlowAction.Output(3)]);
        rig.Dp.SetMirrors([new Mirror("d", [], [2, 3], null, 5)]);
        var f = Frame(H1, H2);
        rig.Send(1, f);
        var sent = rig.Sent(5);
        Assert.Single(sent);
        Assert.Equal(rewritten, MacAddress.Read(sent[0]));   // the packet as it was output, after the rewrite
        Assert.Equal(Hex(rig.Sent(2)[0]), Hex(sent[0]));
    }

    [Fact]
    public void SelectVlan_TakesOnlyItsVlans_AndAnAccessPortsFramesLeaveTaggedToATrunkOutput()
    {
        using var rig = Rig();
        Assert.True(rig.Dp.SetPortVlan(1, PortVlan.Access(10)));
        rig.Dp.SetMirrors([new Mirror("v", [1, 2], [], [10], 4)]);
        var untagged = Frame(H1, Unknown);
        rig.Send(1, untagged);   // VLAN 10 (port 1's): mirrored, with tag 10 (port 4 is a trunk)
        Assert.Equal([Hex(Tagged(untagged, 10))], rig.Sent(4).Select(Hex));
        rig.Send(2, Frame(H2, Unknown, vlan: 20));   // VLAN 20: not selected
        Assert.Empty(rig.Sent(4));
        var ten = Frame(H2, Unknown, vlan: 10);
        rig.Send(2, ten);
        Assert.Equal([Hex(ten)], rig.Sent(4).Select(Hex));
        rig.Send(2, Frame(H2, Unknown));   // untagged on a trunk: VLAN 0, not selected
        Assert.Empty(rig.Sent(4));
    }

    [Fact]
    public void AFloodThatRetagsForSomePorts_IsStillCopiedOnce()
    {
        using var rig = Rig(5);
        Assert.True(rig.Dp.SetPortVlan(1, PortVlan.Access(10)));
        Assert.True(rig.Dp.SetPortVlan(2, PortVlan.Access(10)));
        // Port 3 a trunk (gets a tagged copy of what floods in VLAN 10), port 4 the output; all selected, as select_all.
        rig.Dp.SetMirrors([new Mirror("all", [1, 2, 3, 4], [1, 2, 3, 4], null, 5)]);
        var f = Frame(H1, Unknown);
        rig.Send(1, f);
        Assert.Single(rig.Sent(2));
        Assert.Equal([Hex(Tagged(f, 10))], rig.Sent(3).Select(Hex));
        Assert.Equal([Hex(Tagged(f, 10))], rig.Sent(5).Select(Hex));
        Assert.Equal(1, rig.Dp.Mirrors!.Mirrors[0].TxPackets);
    }

    [Fact]
    public void Snaplen_CutsTheCopyOnly_AndCountsTheWholePacket()
    {
        using var rig = Rig();
        rig.Dp.SetMirrors([All(snaplen: 64)]);
        var big = Frame(H1, Unknown, size: 600);
        rig.Send(1, big);
        Assert.Equal(big.Length, rig.Sent(2).Single().Length);
        var copy = rig.Sent(4).Single();
        Assert.Equal(Hex(big[..64]), Hex(copy));
        Assert.Equal(big.Length, rig.Dp.Mirrors!.Mirrors[0].TxBytes);
    }

    [Fact]
    public void OutputVlan_FloodsTheCopyTaggedToTheTrunksOfThatVlan_UntaggedToItsAccessPorts()
    {
        using var rig = Rig(5);
        Assert.True(rig.Dp.SetPortVlan(3, PortVlan.Trunk([99])));
        Assert.True(rig.Dp.SetPortVlan(4, PortVlan.Access(99)));
        Assert.True(rig.Dp.SetPortVlan(5, PortVlan.Access(7)));
        Assert.True(rig.Dp.SetPortVlan(2, PortVlan.Access(5)));
        rig.Dp.SetMirrors([new Mirror("rspan", [1], [], null, PortNumber.None, outVlan: 99)]);
        var f = Frame(H1, H2);
        rig.Send(1, f);   // port 1: a trunk of every VLAN, the frame untagged (VLAN 0), nobody else in VLAN 0
        Assert.Equal([Hex(Tagged(f, 99))], rig.Sent(3).Select(Hex));
        Assert.Equal([Hex(f)], rig.Sent(4).Select(Hex));
        Assert.Empty(rig.Sent(2));
        Assert.Empty(rig.Sent(5));
        Assert.Equal(1, rig.Dp.Mirrors!.Mirrors[0].TxPackets);
    }

    [Fact]
    public void APortAddedLater_IsSelectedByItsNumber()
    {
        using var rig = new DatapathRig(DatapathRig.MemoryPorts(3), addPorts: false);
        rig.Dp.MissBehavior = MissBehavior.Normal;
        rig.Dp.AddPort(rig.Ports[0], 1);
        rig.Dp.AddPort(rig.Ports[1], 2);
        rig.Dp.SetMirrors([new Mirror("late", [1], [], null, 3)]);
        rig.Dp.AddPort(rig.Ports[2], 3);
        rig.Send(1, Frame(H1, Unknown));
        Assert.Single(rig.Sent(2));
        Assert.Single(rig.Sent(3));   // the copy only: NORMAL does not flood to the output port
    }

    [Fact]
    public void MirroringTenThousandPacketsAllocatesNothing()
    {
        using var rig = Rig(capture: false);
        long copies = 0;
        rig.Port(4).OnSend = _ => copies++;
        rig.Dp.SetMirrors([All()]);
        rig.Send(1, Frame(H1, Unknown));
        rig.Send(2, Frame(H2, Unknown));
        rig.Port(1).SetGenerator([Frame(H1, H2)], 0);
        rig.Port(2).SetGenerator([Frame(H2, H1)], 0);
        copies = 0;
        long forwardedBefore = rig.Port(1).Counters.TxPackets + rig.Port(2).Counters.TxPackets;
        long bytes = AllocationMeter.SteadyState(() =>
        {
            rig.Port(1).SetGeneratorCount(10_000);
            rig.Port(2).SetGeneratorCount(10_000);
            rig.Dp.PollUntilIdle();
        });
        Assert.Equal(0, bytes);
        Assert.True(copies >= 20_000, $"{copies} copies reached the output port");
        // One copy for each packet forwarded (selected where it arrived and where it left).
        Assert.Equal(rig.Port(1).Counters.TxPackets + rig.Port(2).Counters.TxPackets - forwardedBefore, copies);
    }
}
