using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's multipath: the link a key's hash picks is Open vSwitch's own (vectors read from ovs-vswitchd 3.1's
/// ofproto/trace, every field set and algorithm); the walk loads it into its register, where a later lookup sees it,
/// and a frame goes out of the link's port; a verdict stands for one link; the fast path allocates nothing.
/// </summary>
public sealed class MultipathTests
{
    private static FieldRef Reg(int i, int ofs = 0, int bits = 32) => new((PipelineField)i, ofs, bits);

    // The flow the vectors were read with: multipath(FIELDS,BASIS,ALG,N,ARG,NXM_NX_REGi[]) for i = 0..7, in this order.
    private static readonly (int Fields, ushort Basis, int Algorithm, int Links, uint Arg)[] s_specs =
    [
        (Multipath.EthSrc, 50, Multipath.ModuloN, 4, 0), (Multipath.SymmetricL4, 7, Multipath.HashThreshold, 5, 0),
        (Multipath.SymmetricL3L4, 3, Multipath.Hrw, 6, 0), (Multipath.SymmetricL3L4Udp, 9, Multipath.IterHash, 7, 8),
        (Multipath.NwSrc, 11, Multipath.ModuloN, 13, 0), (Multipath.NwDst, 0, Multipath.Hrw, 100, 0),
        (Multipath.SymmetricL3, 65535, Multipath.ModuloN, 1000, 0), (Multipath.SymmetricL4, 2, Multipath.Hrw, 50, 0),
    ];

    public static TheoryData<string, int[]> OvsVectors => new()
    {
        // ovs-appctl ofproto/trace clbr0 "<flow>": the final flow's reg0..reg7.
        { "tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1000,tp_dst=80", [2, 1, 0, 2, 0, 0x2e, 0x11f, 0x1f] },
        { "tcp6,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,tp_src=40000,tp_dst=443", [1, 4, 2, 0, 0xc, 0xb, 0x185, 0x27] },
        { "arp,dl_vlan=7,dl_src=00:00:00:00:00:0c,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.1,arp_tpa=10.0.0.9", [1, 4, 2, 2, 0xb, 8, 0x6e, 0x18] },
    };

    private static FlowKey KeyOf(string flow) => flow.Split(',')[0] switch
    {
        "tcp" => new FlowKeyBuilder().InPort(1).DlType(0x0800).DlSrc(MacAddress.Parse("00:00:00:00:00:01")).DlDst(MacAddress.Parse("00:00:00:00:00:02"))
                    .NwProto(6).NwSrc(Ipv4.Parse("10.0.0.1")).NwDst(Ipv4.Parse("10.0.0.2")).TpSrc(1000).TpDst(80).Key,
        "tcp6" => new FlowKeyBuilder().InPort(1).DlType(0x86DD).DlSrc(MacAddress.Parse("00:00:00:00:00:0a")).DlDst(MacAddress.Parse("00:00:00:00:00:0b"))
                    .NwProto(6).Ipv6Src(Ip6("2001:db8::1")).Ipv6Dst(Ip6("2001:db8::2")).TpSrc(40000).TpDst(443).Key,
        _ => new FlowKeyBuilder().InPort(1).DlType(0x0806).DlVlan(7).DlSrc(MacAddress.Parse("00:00:00:00:00:0c")).DlDst(MacAddress.Parse("ff:ff:ff:ff:ff:ff"))
                    .NwSrc(Ipv4.Parse("10.0.0.1")).NwDst(Ipv4.Parse("10.0.0.9")).Key,
    };

    private static UInt128 Ip6(string s) => System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(System.Net.IPAddress.Parse(s).GetAddressBytes());

    [Theory]
    [MemberData(nameof(OvsVectors))]
    public void EveryFieldSetAndAlgorithm_PicksOpenVswitchsLink(string flow, int[] links)
    {
        var key = KeyOf(flow);
        for (int i = 0; i < s_specs.Length; i++)
        {
            var (fields, basis, algorithm, n, arg) = s_specs[i];
            Assert.Equal(links[i], Multipath.Link(key, fields, basis, algorithm, n, arg));
        }
    }

    [Fact]
    public void TheWalkLoadsTheLink_ALaterLookupSeesIt_AndEachFrameLeavesByItsLink()
    {
        using var r = new DatapathRig(6);
        // multipath(symmetric_l3l4+udp,7,hrw,4,0,reg0[0..1]), then table 1 sends link k out of port k + 2.
        r.Insert(0, Any, 10, [FlowAction.Multipath(Reg(0, 0, 2), Multipath.SymmetricL3L4Udp, 7, Multipath.Hrw, 3, 0), FlowAction.Resubmit(1)]);
        for (int k = 0; k < 4; k++) r.Insert(1, RegMatch(0, (uint)k), 10, [FlowAction.Output((ushort)(k + 2))]);
        var seen = new HashSet<int>();
        for (ushort sport = 1000; sport < 1032; sport++)
        {
            byte[] frame = FrameBuilder.Udp(MacA, MacB, IpA, IpB, sport, 53);
            PacketParser.Parse(frame, 1, out var key, out _);
            int link = Multipath.Link(key, Multipath.SymmetricL3L4Udp, 7, Multipath.Hrw, 4, 0);
            seen.Add(link);
            r.Send(1, frame);
            for (int p = 2; p <= 5; p++) Assert.Equal(p == link + 2 ? 1 : 0, r.Sent(p).Count);
            // Symmetric: the reply takes the same link.
            PacketParser.Parse(FrameBuilder.Udp(MacB, MacA, IpB, IpA, 53, sport), 1, out var back, out _);
            Assert.Equal(link, Multipath.Link(back, Multipath.SymmetricL3L4Udp, 7, Multipath.Hrw, 4, 0));
        }
        Assert.Equal(4, seen.Count); // 32 flows over 4 links use them all
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlType(0x0800).NwProto(17).NwSrc(IpA).NwDst(IpB).TpSrc(1000).TpDst(53).Key);
        Assert.Single(walk.KeyReads.ToArray()); // a verdict stands for one link
        Assert.True(walk.UsedRegisterActions);
    }

    [Fact]
    public void AMultipathFlowsFastPath_AllocatesNothing()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Multipath(Reg(0, 0, 1), Multipath.SymmetricL4, 0, Multipath.ModuloN, 1, 0), FlowAction.Resubmit(1)]);
        r.Insert(1, RegMatch(0, 0), 10, [FlowAction.Output(2)]);
        r.Insert(1, RegMatch(0, 1), 10, [FlowAction.Output(3)]);
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([.. Enumerable.Range(0, 8).Select(i => FrameBuilder.Udp(MacA, MacB, IpA, IpB, (ushort)(1000 + i), 53))], 0);
        long allocated = long.MaxValue, group = 0;
        for (int round = 0; round < 40; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(8);
            r.Dp.PollUntilIdle();
            if (round < 8) continue;
            group += GC.GetAllocatedBytesForCurrentThread() - before;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Equal(0, allocated);
        Assert.Equal(320, r.Port(2).Counters.TxPackets + r.Port(3).Counters.TxPackets);
    }

    private static FlowMatch RegMatch(int i, uint value)
    {
        var k = Any;
        var m = k.RegisterMask;
        var v = k.RegisterValue;
        m.SetReg(i, uint.MaxValue);
        v.SetReg(i, value);
        return new FlowMatch(k.Mask, k.Value, m, v);
    }
}
