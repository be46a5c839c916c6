using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's bundle and bundle_load: hrw picks Open vSwitch's own member (vectors read from ovs-vswitchd 3.1's
/// ofproto/trace, every field set, all members up and one down), active_backup the first live one; a member whose link goes down or that is taken administratively
/// down is passed over at once (a verdict that read liveness is stale when a port's state moves), none live drops (or
/// loads OFPP_NONE); bundle_load's register is read by output:reg; the fast path allocates nothing.
/// </summary>
public sealed class BundleTests
{
    private static FieldRef Reg(int i, int ofs = 0, int bits = 32) => new((PipelineField)i, ofs, bits);

    private static FlowAction BundleOut(int fields, ushort basis, int algorithm, params ushort[] members)
        => FlowAction.Bundle(null, fields, basis, algorithm, BundleMembers.Register(members));

    private static FlowAction BundleLoad(FieldRef dst, int fields, ushort basis, int algorithm, params ushort[] members)
        => FlowAction.Bundle(dst, fields, basis, algorithm, BundleMembers.Register(members));

    [Fact]
    public void ActiveBackup_TakesTheFirstLiveMember_AndALinkDownMovesIt()
    {
        using var r = new DatapathRig(4);
        r.Insert(0, Any, 10, [BundleOut(Multipath.EthSrc, 50, Bundle.ActiveBackup, 2, 3)]);
        byte[] frame = FrameBuilder.Udp(MacA, MacB, IpA, IpB, 1000, 53);
        r.Send(1, frame);
        Assert.Equal((1, 0), (r.Sent(2).Count, r.Sent(3).Count));
        // bundle.at "bundle action with ports up and down": p1 down, then p2 down, then p1 up.
        r.Port(2).SetLink(false);
        r.Dp.RunMaintenance();
        r.Send(1, frame);
        Assert.Equal((0, 1), (r.Sent(2).Count, r.Sent(3).Count));
        r.Dp.Ports.Get(3)!.UpdateConfig(PortConfig.PortDown, PortConfig.PortDown);
        r.Send(1, frame);
        Assert.Equal((0, 0), (r.Sent(2).Count, r.Sent(3).Count)); // none live: dropped
        r.Port(2).SetLink(true);
        r.Dp.RunMaintenance();
        r.Send(1, frame);
        Assert.Equal((1, 0), (r.Sent(2).Count, r.Sent(3).Count));
        r.Dp.Ports.Get(3)!.UpdateConfig(PortConfig.None, PortConfig.PortDown);
        r.Send(1, frame);
        Assert.Equal((1, 0), (r.Sent(2).Count, r.Sent(3).Count)); // the first live member again
    }

    // The flow the vectors were read with: bundle_load(FIELDS,BASIS,hrw,ofport,NXM_NX_REGi[],members:1,2,3,4,5) for the
    // field sets 0..6 (basis 7i + 3) into reg0..reg6, then bundle_load(symmetric_l4,60,hrw,ofport,NXM_NX_REG7[],members:5,3,1).
    private static readonly (int Fields, ushort Basis, ushort[] Members)[] s_specs =
    [
        .. Enumerable.Range(0, 7).Select(i => (i, (ushort)(7 * i + 3), new ushort[] { 1, 2, 3, 4, 5 })),
        (Multipath.SymmetricL4, 60, [5, 3, 1]),
    ];

    public static TheoryData<string, int[], int[]> OvsVectors => new()
    {
        // ovs-appctl ofproto/trace nxbbr "<flow>" (ovs-vswitchd 3.1, netdev datapath, dummy ports 1-5): the final flow's
        // reg0..reg7 with every port up, then with port 3 down (ovs-ofctl mod-port nxbbr nxbp3 down).
        { "tcp,tp_src=1000", [5, 3, 1, 2, 4, 2, 3, 1], [5, 1, 1, 2, 4, 2, 4, 1] },
        { "tcp,tp_src=1001", [5, 5, 3, 1, 4, 2, 3, 1], [] },
        { "udp", [2, 4, 1, 2, 4, 3, 2, 5], [2, 4, 1, 2, 4, 1, 2, 5] },
        { "tcp6", [4, 3, 2, 5, 4, 5, 3, 5], [4, 2, 2, 5, 4, 5, 5, 5] },
        { "arp", [1, 5, 4, 3, 1, 4, 1, 5], [] },
    };

    private static FlowKey KeyOf(string flow) => flow switch
    {
        "tcp,tp_src=1000" => TcpKey(1000),
        "tcp,tp_src=1001" => TcpKey(1001),
        // udp,dl_src=00:00:00:00:00:03,dl_dst=00:00:00:00:00:04,nw_src=192.168.1.5,nw_dst=10.9.8.7,udp_src=5353,udp_dst=53
        "udp" => new FlowKeyBuilder().InPort(1).DlType(0x0800).DlSrc(MacAddress.Parse("00:00:00:00:00:03")).DlDst(MacAddress.Parse("00:00:00:00:00:04"))
                    .NwProto(17).NwSrc(Ipv4.Parse("192.168.1.5")).NwDst(Ipv4.Parse("10.9.8.7")).TpSrc(5353).TpDst(53).Key,
        // tcp6,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,tp_src=40000,tp_dst=443
        "tcp6" => new FlowKeyBuilder().InPort(1).DlType(0x86DD).DlSrc(MacAddress.Parse("00:00:00:00:00:0a")).DlDst(MacAddress.Parse("00:00:00:00:00:0b"))
                    .NwProto(6).Ipv6Src(Ip6("2001:db8::1")).Ipv6Dst(Ip6("2001:db8::2")).TpSrc(40000).TpDst(443).Key,
        // arp,dl_vlan=7,dl_src=00:00:00:00:00:0c,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.1,arp_tpa=10.0.0.9
        _ => new FlowKeyBuilder().InPort(1).DlType(0x0806).DlVlan(7).DlSrc(MacAddress.Parse("00:00:00:00:00:0c")).DlDst(MacAddress.Parse("ff:ff:ff:ff:ff:ff"))
                    .NwSrc(Ipv4.Parse("10.0.0.1")).NwDst(Ipv4.Parse("10.0.0.9")).Key,
    };

    private static UInt128 Ip6(string s) => System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(System.Net.IPAddress.Parse(s).GetAddressBytes());

    [Theory]
    [MemberData(nameof(OvsVectors))]
    public void Hrw_PicksOpenVswitchsMember_EveryFieldSet_AndWithAMemberDown(string flow, int[] allUp, int[] port3Down)
    {
        var key = KeyOf(flow);
        for (int i = 0; i < s_specs.Length; i++)
        {
            var (fields, basis, members) = s_specs[i];
            Assert.Equal(allUp[i], Bundle.Pick(key, fields, basis, Bundle.Hrw, members, static _ => true));
            if (port3Down.Length != 0) Assert.Equal(port3Down[i], Bundle.Pick(key, fields, basis, Bundle.Hrw, members, static p => p != 3));
        }
    }

    [Fact]
    public void Hrw_SpreadsOverTheLiveMembers_AndOnlyTheDownMembersFlowsMove()
    {
        // bundle.at's disruption property: taking member 3 down moves only the keys that picked it.
        ushort[] members = [1, 2, 3, 4, 5];
        var picks = new Dictionary<ushort, ushort>();
        var seen = new HashSet<ushort>();
        for (ushort sport = 1000; sport < 1200; sport++)
        {
            var key = TcpKey(sport);
            ushort p = Bundle.Pick(key, Multipath.SymmetricL4, 60, Bundle.Hrw, members, _ => true);
            picks[sport] = p;
            seen.Add(p);
        }
        Assert.Equal(5, seen.Count);
        foreach (var (sport, p) in picks)
        {
            ushort q = Bundle.Pick(TcpKey(sport), Multipath.SymmetricL4, 60, Bundle.Hrw, members, port => port != 3);
            if (p == 3) Assert.NotEqual(3, q);
            else Assert.Equal(p, q);
        }
        Assert.Equal(Bundle.None, Bundle.Pick(TcpKey(1), Multipath.SymmetricL4, 60, Bundle.Hrw, members, _ => false));
        Assert.Equal(Bundle.None, Bundle.Pick(TcpKey(1), Multipath.SymmetricL4, 60, Bundle.Hrw, [], _ => true));
        // Reserved members are always live (member_enabled_cb), the controller never.
        Assert.Equal((ushort)0xfffa, Bundle.Pick(TcpKey(1), 0, 0, Bundle.ActiveBackup, [0xfffd, 7, 0xfffa], _ => false));
    }

    private static FlowKey TcpKey(ushort sport)
        => new FlowKeyBuilder().InPort(1).DlType(0x0800).DlSrc(MacAddress.Parse("00:00:00:00:00:01")).DlDst(MacAddress.Parse("00:00:00:00:00:02"))
               .NwProto(6).NwSrc(IpA).NwDst(IpB).TpSrc(sport).TpDst(80).Key;

    [Fact]
    public void BundleLoad_WritesThePickIntoARegister_ThatOutputRegReads_AndNoneLiveLoadsOfppNone()
    {
        using var r = new DatapathRig(5);
        r.Insert(0, Any, 10, [BundleLoad(Reg(0, 0, 16), Multipath.SymmetricL3L4, 3, Bundle.Hrw, 2, 3, 4), FlowAction.Resubmit(1)]);
        r.Insert(1, Any, 10, [FlowAction.OutputField(Reg(0, 0, 16))]);
        var seen = new HashSet<int>();
        for (ushort sport = 1000; sport < 1032; sport++)
        {
            byte[] frame = FrameBuilder.Tcp(MacA, MacB, IpA, IpB, sport, 80);
            PacketParser.Parse(frame, 1, out var key, out _);
            ushort pick = Bundle.Pick(key, Multipath.SymmetricL3L4, 3, Bundle.Hrw, [2, 3, 4], _ => true);
            seen.Add(pick);
            r.Send(1, frame);
            for (int p = 2; p <= 4; p++) Assert.Equal(p == pick ? 1 : 0, r.Sent(p).Count);
        }
        Assert.Equal(3, seen.Count);
        var walk = new PipelineWalk();
        var k = TcpKey(1000);
        walk.Run(r.Dp.Pipeline, k);
        Assert.True(walk.UsedRegisterActions);
        Assert.NotEqual(0, walk.LivenessAt);
        Assert.Equal(Bundle.Pick(k, Multipath.SymmetricL3L4, 3, Bundle.Hrw, [2, 3, 4], _ => true), (ushort)walk.FinalRegisters.Reg(0));
        foreach (int p in new[] { 2, 3, 4 }) r.Port(p).SetLink(false);
        r.Dp.RunMaintenance();
        walk.Run(r.Dp.Pipeline, k);
        Assert.Equal(0xffffu, walk.FinalRegisters.Reg(0));
    }

    [Fact]
    public void ABundleFlowsFastPath_AllocatesNothing()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [BundleOut(Multipath.SymmetricL4, 0, Bundle.Hrw, 2, 3)]);
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([.. Enumerable.Range(0, 8).Select(i => FrameBuilder.Udp(MacA, MacB, IpA, IpB, (ushort)(1000 + i), 53))], 0);
        void Round()
        {
            for (int i = 0; i < 8; i++)
            {
                r.Port(1).SetGeneratorCount(8);
                r.Dp.PollUntilIdle();
            }
        }
        Round(); // warm: the verdicts made
        Assert.Equal(0, AllocationMeter.SteadyState(Round, 8));
        Assert.Equal(128, r.Port(2).Counters.TxPackets + r.Port(3).Counters.TxPackets);
    }
}
