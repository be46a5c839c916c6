using System.Buffers.Binary;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// NORMAL with VLAN memberships (<see cref="PortVlan"/>, Open vSwitch's Port tag and trunks): access ports take
/// untagged frames into their VLAN and send untagged, trunks carry their VLANs tagged, frames of a VLAN a port does
/// not carry are dropped and counted, addresses are learned per VLAN; and none of it allocates per packet.
/// </summary>
public sealed class NormalVlanTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("0e:00:00:00:0a:01"), H2 = MacAddress.Parse("0e:00:00:00:0a:02"),
        H3 = MacAddress.Parse("0e:00:00:00:0a:03"), Unknown = MacAddress.Parse("0e:00:00:00:0a:99");

    /// <summary>Ports 1 and 2 access VLAN 10, port 3 access VLAN 20, port 4 a trunk of VLAN 10, port 5 a trunk of every VLAN.</summary>
    private static DatapathRig Rig(bool capture = true)
    {
        var rig = new DatapathRig(5, capture: capture);
        rig.Dp.MissBehavior = MissBehavior.Normal;
        Assert.True(rig.Dp.SetPortVlan(1, PortVlan.Access(10)));
        Assert.True(rig.Dp.SetPortVlan(2, PortVlan.Access(10)));
        Assert.True(rig.Dp.SetPortVlan(3, PortVlan.Access(20)));
        Assert.True(rig.Dp.SetPortVlan(4, PortVlan.Trunk([10])));
        Assert.False(rig.Dp.SetPortVlan(9, PortVlan.Access(10)));
        return rig;
    }

    private static byte[] Frame(MacAddress src, MacAddress dst, ushort? vlan = null) => FrameBuilder.Udp(src, dst, 0x0A000001, 0x0A000002, 1000, 2000, vlan: vlan);

    /// <summary>The frame with an 802.1Q tag of <paramref name="vid"/> (PCP 0) after its addresses.</summary>
    private static byte[] Tagged(byte[] untagged, ushort vid)
    {
        var f = new byte[untagged.Length + 4];
        untagged.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), vid);
        untagged.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    private static byte[] Untagged(byte[] tagged) => [.. tagged.AsSpan(0, 12), .. tagged.AsSpan(16)];

    private static void Expect(DatapathRig rig, params (int Port, byte[]? Frame)[] expected)
    {
        for (int port = 1; port <= rig.Ports.Length; port++)
        {
            var sent = rig.Sent(port);
            var want = expected.Where(e => e.Port == port).Select(e => e.Frame!).ToList();
            Assert.True(want.Count == sent.Count, $"port {port}: {sent.Count} frame(s) sent, {want.Count} expected");
            for (int i = 0; i < want.Count; i++) Assert.Equal(Convert.ToHexString(want[i]), Convert.ToHexString(sent[i]));
        }
    }

    [Fact]
    public void AccessPortsTakeUntaggedFramesIntoTheirVlan_TrunksCarryThemTagged()
    {
        using var rig = Rig();
        // From access port 1 (VLAN 10) to an unknown address: flooded in VLAN 10 only, untagged to access port 2,
        // tagged 10 to both trunks; access port 3 (VLAN 20) gets nothing.
        var f = Frame(H1, Unknown);
        rig.Send(1, f);
        Expect(rig, (2, f), (4, Tagged(f, 10)), (5, Tagged(f, 10)));

        // Back from trunk 4, tagged 10, to H1, learned on port 1 in VLAN 10: to port 1 alone, untagged.
        var back = Frame(H2, H1, vlan: 10);
        rig.Send(4, back);
        Expect(rig, (1, Untagged(back)));
        Assert.Contains(rig.Dp.MacTable.Snapshot(), l => l.Mac == H1 && l.Vlan == 10 && l.Port == 1);
        Assert.Contains(rig.Dp.MacTable.Snapshot(), l => l.Mac == H2 && l.Vlan == 10 && l.Port == 4);

        // From trunk 5 (every VLAN), tagged 20: flooded in VLAN 20, to access port 3 untagged (trunk 4 does not carry 20).
        var twenty = Frame(H3, Unknown, vlan: 20);
        rig.Send(5, twenty);
        Expect(rig, (3, Untagged(twenty)));

        // Untagged on trunk 5 is VLAN 0: no access port is of VLAN 0 and trunk 4 does not carry it.
        rig.Send(5, Frame(H3, Unknown));
        Expect(rig);
        Assert.Equal(0, rig.Dp.DropCount(DropReason.NormalVlan));
    }

    [Fact]
    public void FramesOfAVlanThePortDoesNotCarry_AreDroppedAndCounted()
    {
        using var rig = Rig();
        rig.Send(1, Frame(H1, Unknown, vlan: 10));   // tagged on an access port, even with its own VLAN
        rig.Send(4, Frame(H2, Unknown, vlan: 20));   // a VLAN the trunk does not list
        rig.Send(4, Frame(H2, Unknown));             // untagged (VLAN 0) on a trunk of VLAN 10 only
        Expect(rig);
        Assert.Equal(3, rig.Dp.DropCount(DropReason.NormalVlan));
        Assert.Contains(rig.Dp.Counters.Snapshot(), c => c.Info.Name == "drop-normal-vlan" && c.Value == 3);
        Assert.Empty(rig.Dp.MacTable.Snapshot());   // nothing learned from them

        // A priority tag (VLAN id 0) on an access port is the port's VLAN; it leaves access ports untagged.
        var priority = Frame(H1, Unknown, vlan: 0);
        rig.Send(1, priority);
        Expect(rig, (2, Untagged(priority)), (4, Tagged(Untagged(priority), 10)), (5, Tagged(Untagged(priority), 10)));
    }

    [Fact]
    public void WithoutMemberships_NormalPassesFramesAsTheyAre()
    {
        using var rig = Rig();
        for (ushort no = 1; no <= 4; no++) Assert.True(rig.Dp.SetPortVlan(no, null));
        var tagged = Frame(H1, Unknown, vlan: 30);
        rig.Send(1, tagged);
        Expect(rig, (2, tagged), (3, tagged), (4, tagged), (5, tagged));
    }

    [Fact]
    public void TaggingAndUntaggingTenThousandPacketsAllocatesNothing()
    {
        using var rig = Rig(capture: false);
        long toTrunk = 0;
        rig.Port(4).OnSend = f => toTrunk += f.Length == 68 && f[12] == 0x81 ? 1 : 0;
        // H1 on access port 1 and H2 on trunk 4, each known to the other: 1 -> 4 pushes a tag, 4 -> 1 pops it.
        rig.Send(1, Frame(H1, Unknown));
        rig.Send(4, Frame(H2, Unknown, vlan: 10));
        rig.Port(1).SetGenerator([Frame(H1, H2)], 0);
        rig.Port(4).SetGenerator([Frame(H2, H1, vlan: 10)], 0);
        toTrunk = 0;
        long bytes = AllocationMeter.SteadyState(() =>
        {
            rig.Port(1).SetGeneratorCount(10_000);
            rig.Port(4).SetGeneratorCount(10_000);
            rig.Dp.PollUntilIdle();
        });
        Assert.Equal(0, bytes);
        Assert.True(toTrunk >= 10_000, $"{toTrunk} tagged frames reached the trunk");
        Assert.True(rig.Port(1).Counters.TxPackets >= 10_000, $"{rig.Port(1).Counters.TxPackets} frames reached the access port");
        Assert.Equal((2L, 0L), (rig.Port(2).Counters.TxPackets, rig.Port(3).Counters.TxPackets));   // the two learning floods only
        Assert.Equal(0, rig.Dp.DropCount(DropReason.NormalVlan));
    }
}
