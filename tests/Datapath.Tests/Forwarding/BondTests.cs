using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Bonds in the datapath (<see cref="SwitchDatapath.SetBonds"/>, Open vSwitch's ofproto/bond.c as NORMAL uses it):
/// NORMAL treats the members as one port (one member floods, nothing floods back into its bond, addresses are learned
/// behind the bond, a frame for the bond leaves by the member the mode picks), a member admits what the bond's rule
/// lets in, OpenFlow outputs to a member go to that member, LACP's frames are consumed while it runs, and none of it
/// allocates per packet.
/// </summary>
public sealed class BondTests
{
    private static readonly MacAddress Broadcast = Mac("ff:ff:ff:ff:ff:ff");

    private sealed class Sink : IBpduSink
    {
        public readonly List<(ushort Port, byte[] Frame)> Got = [];
        public void Received(PortSlot port, ReadOnlySpan<byte> frame) => Got.Add((port.No, frame.ToArray()));
    }

    /// <summary>Ports 1 and 2 a bond of <paramref name="mode"/>, both enabled, 1 active; ports 3 and 4 plain.</summary>
    private static (DatapathRig Rig, Bond Bond) Rig(BondMode mode, BondLacp lacp = BondLacp.Off, bool capture = true)
    {
        var rig = new DatapathRig(4, capture: capture);
        rig.Dp.MissBehavior = MissBehavior.Normal;
        var bond = new Bond("bond0", mode, [2, 1]);
        rig.Dp.SetBonds([bond]);
        bond.Update(1, [1, 2], lacp);
        return (rig, bond);
    }

    private static int[] Counts(DatapathRig rig) => [.. Enumerable.Range(1, 4).Select(p => rig.Sent(p).Count)];

    [Fact]
    public void ActiveBackup_FloodsByTheActiveMember_NeverBackIntoTheBond_AndAdmitsOnlyTheActiveMember()
    {
        var (rig, bond) = Rig(BondMode.ActiveBackup);
        using var _ = rig;
        Assert.Equal([1, 2], bond.Members);
        Assert.Same(bond, rig.Dp.Ports.Get(2)!.Bond);
        Assert.Null(rig.Dp.Ports.Get(3)!.Bond);
        // From a plain port to nobody known: the other plain port and the bond's active member, once.
        rig.Send(3, Udp(H3, Broadcast, "10.0.0.3", "10.0.0.255"));
        Assert.Equal([1, 0, 0, 1], Counts(rig));
        // From the active member: the plain ports, never the other member.
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Assert.Equal([0, 0, 1, 1], Counts(rig));
        // From the backup member: not admitted.
        rig.Send(2, Udp(H2, H3, "10.0.0.2", "10.0.0.3"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        Assert.Equal(1, rig.Dp.DropCount(DropReason.BondInadmissible));
        // H1 was learned behind the bond: a frame for it leaves by the active member; when 1 fails, by 2.
        rig.Send(3, Udp(H3, H1, "10.0.0.3", "10.0.0.1"));
        Assert.Equal([1, 0, 0, 0], Counts(rig));
        bond.Update(2, [2], BondLacp.Off);
        rig.Send(3, Udp(H3, H1, "10.0.0.3", "10.0.0.1"));
        Assert.Equal([0, 1, 0, 0], Counts(rig));
        // A frame learned behind the bond coming back in on it is not sent back.
        rig.Send(2, Udp(H1, H1, "10.0.0.1", "10.0.0.1"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        Assert.Equal(1, rig.Dp.DropCount(DropReason.NormalToInPort));
        // No member enabled: a frame for the bond is dropped, counted.
        bond.Update(PortNumber.None, [], BondLacp.Off);
        rig.Send(3, Udp(H3, H1, "10.0.0.3", "10.0.0.1"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        Assert.Equal(1, rig.Dp.DropCount(DropReason.BondNoMember));
    }

    [Fact]
    public void BalanceSlb_DropsMulticastOnAnInactiveMember_AndAFrameWhoseSourceIsLearnedElsewhere()
    {
        var (rig, _) = Rig(BondMode.BalanceSlb);
        using var __ = rig;
        // Broadcast on the inactive member 2: dropped; on the active member: flooded to the plain ports.
        rig.Send(2, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Assert.Equal([0, 0, 1, 1], Counts(rig));
        // Unicast on the inactive member from a source learned behind the bond: admitted.
        rig.Send(4, Udp(H2, Broadcast, "10.0.0.2", "10.0.0.255"));
        Counts(rig);
        rig.Send(2, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Equal([0, 0, 0, 1], Counts(rig));
        // H3 learned behind port 3: H3's frame on a member is a reflection, dropped (and not learned).
        rig.Send(3, Udp(H3, H2, "10.0.0.3", "10.0.0.2"));
        Counts(rig);
        rig.Send(2, Udp(H3, H2, "10.0.0.3", "10.0.0.2"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        Assert.Equal(2, rig.Dp.DropCount(DropReason.BondInadmissible));
        rig.Send(4, Udp(H2, H3, "10.0.0.2", "10.0.0.3"));
        Assert.Equal([0, 0, 1, 0], Counts(rig));
    }

    [Fact]
    public void BalanceSlb_SendsEachSourceByItsBucket_AFailedMembersBucketsMoveAlone()
    {
        var (rig, bond) = Rig(BondMode.BalanceSlb);
        using var _ = rig;
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Counts(rig);
        // 64 sources behind port 3 to H1 (behind the bond): each by the member of its source's bucket, both used.
        var by = new int[3];
        for (int i = 0; i < 64; i++)
        {
            var src = new MacAddress(0x0E00_0000_1000UL + (ulong)i);
            var frame = Udp(src, H1, "10.0.0.3", "10.0.0.1");
            rig.Send(3, frame);
            var c = Counts(rig);
            Assert.Equal(1, c[0] + c[1]);
            int member = c[0] == 1 ? 1 : 2;
            Assert.Equal(bond.Choose(frame, 0), member);
            by[member]++;
        }
        Assert.True(by[1] > 0 && by[2] > 0, $"{by[1]} by member 1, {by[2]} by member 2");
        bond.Update(2, [2], BondLacp.Off);
        Assert.All(Enumerable.Range(0, Bond.BucketCount), b => Assert.Equal(2, bond.BucketMember(b)));
        bond.Update(2, [1, 2], BondLacp.Off);
        Assert.Equal(Bond.BucketCount / 2, Enumerable.Range(0, Bond.BucketCount).Count(b => bond.BucketMember(b) == 1));
        // With three members, one going down moves only its own buckets.
        var three = new Bond("b3", BondMode.BalanceSlb, [1, 2, 3]);
        three.Update(1, [1, 2, 3], BondLacp.Off);
        var all = Enumerable.Range(0, Bond.BucketCount).Select(three.BucketMember).ToArray();
        three.Update(1, [1, 3], BondLacp.Off);
        for (int b = 0; b < Bond.BucketCount; b++)
        {
            if (all[b] != 2) Assert.Equal(all[b], three.BucketMember(b));
            else Assert.NotEqual(2, three.BucketMember(b));
        }
    }

    [Fact]
    public void BalanceTcp_CarriesNothingWithoutLacp_SpreadsFlowsOnceNegotiated()
    {
        var (rig, bond) = Rig(BondMode.BalanceTcp);
        using var _ = rig;
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        Assert.Equal(1, rig.Dp.DropCount(DropReason.BondInadmissible));
        bond.Update(1, [1, 2], BondLacp.Configured);
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        bond.Update(1, [1, 2], BondLacp.Negotiated);
        // Negotiated: an enabled member's frames are admitted, multicast on any member included.
        rig.Send(2, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Assert.Equal([0, 0, 1, 1], Counts(rig));
        var by = new int[3];
        for (ushort sport = 1; sport <= 64; sport++)
        {
            rig.Send(3, Udp(H3, H1, "10.0.0.3", "10.0.0.1", sport, 80));
            var c = Counts(rig);
            Assert.Equal(1, c[0] + c[1]);
            by[c[0] == 1 ? 1 : 2]++;
        }
        Assert.True(by[1] >= 16 && by[2] >= 16, $"{by[1]} flows by member 1, {by[2]} by member 2");
        // A disabled member admits nothing while LACP is negotiated.
        bond.Update(1, [1], BondLacp.Negotiated);
        rig.Send(2, Udp(H1, H3, "10.0.0.1", "10.0.0.3"));
        Assert.Equal([0, 0, 0, 0], Counts(rig));
    }

    [Fact]
    public void TcpHash_IsSymmetric_AndTellsFlowsApart()
    {
        var ab = Udp(H1, H2, "10.0.0.1", "10.0.0.2", 1234, 80);
        var ba = Udp(H2, H1, "10.0.0.2", "10.0.0.1", 80, 1234);
        Assert.Equal(Bond.TcpHash(ab), Bond.TcpHash(ba));
        var hashes = Enumerable.Range(1, 64).Select(p => Bond.TcpHash(Udp(H1, H2, "10.0.0.1", "10.0.0.2", (ushort)p, 80))).Distinct().Count();
        Assert.Equal(64, hashes);
        Assert.NotEqual(Bond.SlbHash(ab, 0), Bond.SlbHash(ab, 10));
        Assert.NotEqual(Bond.TcpHash(ab, 0), Bond.TcpHash(ab, 7));
    }

    [Fact]
    public void OpenFlowOutputToAMember_GoesToThatMember_AFloodActionToEveryMember()
    {
        var (rig, _) = Rig(BondMode.ActiveBackup);
        using var __ = rig;
        rig.Insert(0, Match(inPort: 3), 10, [FlowAction.Output(2)]);
        rig.Insert(0, Match(inPort: 4), 10, [FlowAction.Output(PortNumber.Flood)]);
        rig.Send(3, Udp(H3, H1, "10.0.0.3", "10.0.0.1"));
        Assert.Equal([0, 1, 0, 0], Counts(rig));
        rig.Send(4, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Equal([1, 1, 1, 0], Counts(rig));
    }

    [Fact]
    public void SlowProtocolFrames_AreLacpsWhileItRunsOnTheMember()
    {
        var (rig, _) = Rig(BondMode.ActiveBackup);
        using var __ = rig;
        var sink = new Sink();
        rig.Dp.LacpSink = sink;
        var lacpdu = new byte[124];
        Mac("01:80:c2:00:00:02").Write(lacpdu);
        H1.Write(lacpdu.AsSpan(6));
        lacpdu[12] = 0x88;
        lacpdu[13] = 0x09;
        lacpdu[14] = 1;
        Assert.True(rig.Dp.SetPortLacp(1, true));
        Assert.False(rig.Dp.SetPortLacp(9, true));
        rig.Send(1, lacpdu);
        Assert.Equal([0, 0, 0, 0], Counts(rig));
        Assert.Equal((ushort)1, Assert.Single(sink.Got).Port);
        Assert.Equal(lacpdu, sink.Got[0].Frame);
        Assert.Empty(rig.PortEvents);
        Assert.True(rig.Dp.SetPortLacp(1, false));
        rig.Send(1, lacpdu);
        Assert.Single(sink.Got);
        Assert.Equal([0, 0, 1, 1], Counts(rig));
    }

    [Fact]
    public void SetBonds_ForgetsWhatWasLearnedBehindTheMembers_AndEmptyRestoresPlainPorts()
    {
        var (rig, bond) = Rig(BondMode.ActiveBackup);
        using var _ = rig;
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        Counts(rig);
        Assert.Equal((ushort)1, rig.Dp.MacTable.Lookup(H1, 0, rig.Clock.NowNanos));
        rig.Dp.SetBonds([]);
        Assert.Equal(PortNumber.None, rig.Dp.MacTable.Lookup(H1, 0, rig.Clock.NowNanos));
        Assert.Null(rig.Dp.Ports.Get(1)!.Bond);
        Assert.Empty(rig.Dp.Bonds);
        rig.Send(2, Udp(H2, Broadcast, "10.0.0.2", "10.0.0.255"));
        Assert.Equal([1, 0, 1, 1], Counts(rig));
        Assert.Equal(BondMode.ActiveBackup, bond.Mode);
    }

    [Fact]
    public void NormalThroughABond_TenThousandPacketsAllocateNothing()
    {
        var (rig, _) = Rig(BondMode.BalanceTcp, BondLacp.Negotiated, capture: false);
        using var __ = rig;
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        rig.Send(3, Udp(H3, Broadcast, "10.0.0.3", "10.0.0.255"));
        rig.Port(3).SetGenerator([Udp(H3, H1, "10.0.0.3", "10.0.0.1", 1, 80), Udp(H3, H1, "10.0.0.3", "10.0.0.1", 2, 80)], 0);
        rig.Port(1).SetGenerator([Udp(H1, H3, "10.0.0.1", "10.0.0.3", 80, 1)], 0);
        long bytes = AllocationMeter.SteadyState(() =>
        {
            rig.Port(3).SetGeneratorCount(10_000);
            rig.Port(1).SetGeneratorCount(10_000);
            rig.Dp.PollUntilIdle();
        });
        Assert.Equal(0, bytes);
        Assert.True(rig.Port(1).Counters.TxPackets + rig.Port(2).Counters.TxPackets >= 10_000);
        Assert.True(rig.Port(3).Counters.TxPackets >= 10_000);
        Assert.Equal(0, rig.Dp.DropCount(DropReason.BondInadmissible) + rig.Dp.DropCount(DropReason.BondNoMember));
    }
}
