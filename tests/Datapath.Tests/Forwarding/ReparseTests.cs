using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// After an apply-action that changes which headers a packet has (pop_mpls, pop_pbb, push_pbb, a second VLAN tag pushed
/// or an inner one uncovered, set eth_type), the next table matches the packet as it now is (OpenFlow 1.3.5 sections
/// 5.1 and 5.10): the inner IPv4, IPv6 or ARP packet's fields after a pop, the pushed header's after a push. Each case
/// runs twice (the second packet through the cached verdicts) and checks the frame sent and the counters of every table.
/// </summary>
public sealed class ReparseTests
{
    internal static readonly MacAddress BMacA = MacAddress.Parse("02:00:00:00:bb:01"), BMacB = MacAddress.Parse("02:00:00:00:bb:02");
    internal static readonly UInt128 V6A = UInt128.Parse("42540766411282592856903984951653826561"); // 2001:db8::1
    internal static readonly UInt128 V6B = V6A + 1;

    internal static byte[] Ipv4Tcp(byte tos = 0x28, ushort dport = 80) => FrameBuilder.Tcp(MacA, MacB, IpA, IpB, 1234, dport, tos: tos);

    /// <summary>An Ethernet/IPv6 ICMPv6 echo request (type 128).</summary>
    internal static byte[] Ipv6Icmp(byte type = 128)
    {
        var f = new byte[14 + 40 + 8];
        MacB.Write(f);
        MacA.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeIpv6);
        f[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), 8);
        f[20] = PacketParser.ProtoIcmpv6;
        f[21] = 64;
        BinaryPrimitives.WriteUInt128BigEndian(f.AsSpan(22), V6A);
        BinaryPrimitives.WriteUInt128BigEndian(f.AsSpan(38), V6B);
        f[54] = type;
        return f;
    }

    internal static byte[] ArpRequest() => FrameBuilder.Arp(1, MacA, IpA, default, IpB);

    /// <summary><paramref name="inner"/> with one MPLS entry (label, bottom of stack, TTL 64) between its addresses and its payload.</summary>
    internal static byte[] Mpls(byte[] inner, uint label = 100)
    {
        var f = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeMpls);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), (label << 12) | 0x100 | 64);
        inner.AsSpan(14).CopyTo(f.AsSpan(18));
        return f;
    }

    /// <summary><paramref name="customer"/> behind a backbone header: B-DA, B-SA, ethertype 0x88e7 and an I-tag of <paramref name="isid"/>.</summary>
    internal static byte[] Pbb(byte[] customer, uint isid = 0x123456)
    {
        var f = new byte[customer.Length + 18];
        BMacB.Write(f);
        BMacA.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypePbb);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), isid);
        customer.CopyTo(f.AsSpan(18));
        return f;
    }

    /// <summary><paramref name="frame"/> with an 802.1Q tag of <paramref name="vid"/> inserted after its addresses.</summary>
    internal static byte[] Tag(byte[] frame, ushort vid)
    {
        var f = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), vid);
        frame.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    /// <summary>A match on the fields <paramref name="mask"/> sets, with the values <paramref name="value"/> gives them.</summary>
    internal static FlowMatch Match(FlowKeyBuilder mask, FlowKeyBuilder value) => new(mask.Key, value.Key);

    private static FlowKeyBuilder B => new();

    public static TheoryData<string> Ipv4Fields => new() { "ip_dscp", "ipv4_src", "tcp_dst" };

    /// <summary>A table-1 match on one field of <see cref="Ipv4Tcp"/>'s IPv4/TCP packet (DSCP 10, 10.0.0.1, port 80).</summary>
    private static FlowMatch Ipv4Match(string field) => field switch
    {
        "ip_dscp" => Match(B.DlType(0xFFFF).NwTos(0xFC), B.DlType(PacketParser.EthTypeIpv4).NwTos(0x28)),
        "ipv4_src" => Match(B.DlType(0xFFFF).NwSrc(0xFFFFFFFF), B.DlType(PacketParser.EthTypeIpv4).NwSrc(IpA)),
        _ => Match(B.DlType(0xFFFF).NwProto(0xFF).TpDst(0xFFFF), B.DlType(PacketParser.EthTypeIpv4).NwProto(PacketParser.ProtoTcp).TpDst(80)),
    };

    /// <summary>
    /// Table 0 runs <paramref name="apply"/> and goes to table 1, where <paramref name="match"/> outputs to port 2 (and
    /// anything else to port 3); two packets of <paramref name="frame"/> are sent. Returns what port 2 sent.
    /// </summary>
    private static List<byte[]> TwoTables(byte[] frame, FlowAction[] apply, FlowMatch match, out DatapathRig rig)
    {
        var r = rig = new DatapathRig();
        var t0 = r.Insert(0, Any, 10, apply, Goto(1));
        var hit = r.Insert(1, match, 20, [FlowAction.Output(2)]);
        var other = r.Insert(1, Any, 1, [FlowAction.Output(3)]);
        r.Send(1, frame, times: 2);
        var sent = r.Sent(2);
        Assert.True(sent.Count == 2, $"table 1 sent {sent.Count} of 2 to port 2 ({r.Sent(3).Count} to the catch-all)");
        Assert.Equal(2, t0.Packets);
        Assert.Equal(2, hit.Packets);
        Assert.Equal(0, other.Packets);
        Assert.Equal((2, 2), r.Dp.Pipeline.GetStageTotals(0));
        Assert.Equal((2, 2), r.Dp.Pipeline.GetStageTotals(1));
        return sent;
    }

    [Theory]
    [MemberData(nameof(Ipv4Fields))]
    public void PopMpls_Table1MatchesTheInnerIpv4Packet(string field)
    {
        var inner = Ipv4Tcp();
        var sent = TwoTables(Mpls(inner), [FlowAction.PopMpls(PacketParser.EthTypeIpv4)], Ipv4Match(field), out var r);
        using (r)
        {
            Assert.All(sent, f => Assert.Equal(Convert.ToHexString(inner), Convert.ToHexString(f)));
            Assert.Equal(2, r.Fwd.Recirculations);
        }
    }

    [Fact]
    public void PopMpls_Table1MatchesTheInnerIcmpv6Type()
    {
        var inner = Ipv6Icmp();
        var match = Match(B.DlType(0xFFFF).NwProto(0xFF).TpSrc(0xFFFF), B.DlType(PacketParser.EthTypeIpv6).NwProto(PacketParser.ProtoIcmpv6).TpSrc(128));
        var sent = TwoTables(Mpls(inner), [FlowAction.PopMpls(PacketParser.EthTypeIpv6)], match, out var r);
        using (r) Assert.All(sent, f => Assert.Equal(Convert.ToHexString(inner), Convert.ToHexString(f)));
    }

    [Fact]
    public void PopMpls0806_Table1MatchesTheArpOpcode()
    {
        var inner = ArpRequest();
        var match = Match(B.DlType(0xFFFF).NwProto(0xFF).NwDst(0xFFFFFFFF), B.DlType(PacketParser.EthTypeArp).NwProto(1).NwDst(IpB));
        var sent = TwoTables(Mpls(inner), [FlowAction.PopMpls(PacketParser.EthTypeArp)], match, out var r);
        using (r) Assert.All(sent, f => Assert.Equal(Convert.ToHexString(inner), Convert.ToHexString(f)));
    }

    [Theory]
    [MemberData(nameof(Ipv4Fields))]
    public void PopPbb_Table1MatchesTheCustomersIpv4Packet(string field)
    {
        var customer = Ipv4Tcp();
        var sent = TwoTables(Pbb(customer), [FlowAction.PopPbb()], Ipv4Match(field), out var r);
        using (r) Assert.All(sent, f => Assert.Equal(Convert.ToHexString(customer), Convert.ToHexString(f)));
    }

    [Fact]
    public void PopPbb_Table1MatchesTheCustomersEthernetAddresses()
    {
        var customer = Ipv4Tcp();
        var match = Match(B.DlSrc(MacAddress.Parse("ff:ff:ff:ff:ff:ff")).DlDst(MacAddress.Parse("ff:ff:ff:ff:ff:ff")), B.DlSrc(MacA).DlDst(MacB));
        var sent = TwoTables(Pbb(customer), [FlowAction.PopPbb()], match, out var r);
        using (r) Assert.All(sent, f => Assert.Equal(Convert.ToHexString(customer), Convert.ToHexString(f)));
    }

    [Fact]
    public void PopPbb_Table1MatchesTheCustomersIcmpv6AndArp()
    {
        var v6 = Match(B.DlType(0xFFFF).NwProto(0xFF).TpSrc(0xFFFF), B.DlType(PacketParser.EthTypeIpv6).NwProto(PacketParser.ProtoIcmpv6).TpSrc(128));
        TwoTables(Pbb(Ipv6Icmp()), [FlowAction.PopPbb()], v6, out var r6).ForEach(_ => { });
        r6.Dispose();
        var arp = Match(B.DlType(0xFFFF).NwProto(0xFF), B.DlType(PacketParser.EthTypeArp).NwProto(1));
        TwoTables(Pbb(ArpRequest()), [FlowAction.PopPbb()], arp, out var ra).ForEach(_ => { });
        ra.Dispose();
    }

    [Fact]
    public void PushMplsAndSetLabel_Table1MatchesTheLabel()
    {
        var match = Match(B.DlType(0xFFFF).MplsLabel(0xFFFFF).MplsBos(1), B.DlType(PacketParser.EthTypeMpls).MplsLabel(77).MplsBos(1));
        var sent = TwoTables(Ipv4Tcp(), [FlowAction.PushMpls(PacketParser.EthTypeMpls), FlowAction.SetMplsLabel(77)], match, out var r);
        using (r)
        {
            Assert.All(sent, f => Assert.Equal(77u, BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(14)) >> 12));
            Assert.Equal(0, r.Fwd.Recirculations); // the key follows a push of MPLS: no re-parse
        }
    }

    [Fact]
    public void PushVlanOnATaggedPacket_Table1SeesTheNewOuterTagAndTheInnerTagsEthertype()
    {
        // One tag is matched (as OpenFlow and Open vSwitch's vlan-limit 1): after the push, dl_type is the inner tag's TPID.
        var frame = Tag(Ipv4Tcp(), 5);
        var match = Match(B.VlanVid(0x1FFF).DlType(0xFFFF), B.VlanVid(FlowKey.VlanPresent | 20).DlType(PacketParser.EthTypeVlan));
        var sent = TwoTables(frame, [FlowAction.PushVlan(PacketParser.EthTypeVlan), FlowAction.SetVlanVid(20)], match, out var r);
        using (r)
        {
            Assert.All(sent, f => Assert.Equal(20, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(14)) & 0xFFF));
            Assert.All(sent, f => Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(18)) & 0xFFF));
        }
    }

    [Fact]
    public void PushVlanOnAnUntaggedPacket_Table1MatchesTheVid_WithNoReparse()
    {
        var match = Match(B.VlanVid(0x1FFF).DlType(0xFFFF).NwSrc(0xFFFFFFFF), B.VlanVid(FlowKey.VlanPresent | 20).DlType(PacketParser.EthTypeIpv4).NwSrc(IpA));
        var sent = TwoTables(Ipv4Tcp(), [FlowAction.PushVlan(PacketParser.EthTypeVlan), FlowAction.SetVlanVid(20)], match, out var r);
        using (r) Assert.Equal(0, r.Fwd.Recirculations);
    }

    [Fact]
    public void PopVlanOfADoubleTaggedPacket_Table1MatchesTheInnerTag()
    {
        var frame = Tag(Tag(Ipv4Tcp(), 5), 9); // outer 9, inner 5
        var match = Match(B.VlanVid(0x1FFF).DlType(0xFFFF), B.VlanVid(FlowKey.VlanPresent | 5).DlType(PacketParser.EthTypeIpv4));
        var sent = TwoTables(frame, [FlowAction.StripVlan()], match, out var r);
        using (r) Assert.All(sent, f => Assert.Equal(Convert.ToHexString(Tag(Ipv4Tcp(), 5)), Convert.ToHexString(f)));
    }

    [Fact]
    public void SetEthType_Table1ParsesThePayloadAsTheNewType()
    {
        // An IPv4 packet under a local ethertype: set to 0x0800, table 1 sees its addresses.
        var frame = Ipv4Tcp();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
        var sent = TwoTables(frame, [FlowAction.SetEthType(PacketParser.EthTypeIpv4)], Ipv4Match("ipv4_src"), out var r);
        using (r) Assert.All(sent, f => Assert.Equal(Convert.ToHexString(Ipv4Tcp()), Convert.ToHexString(f)));
    }

    [Fact]
    public void OutputBeforeThePop_SendsTheFrameAsItWas_AndTheActionSetCarriesOver()
    {
        using var r = new DatapathRig();
        var mpls = Mpls(Ipv4Tcp());
        // Table 0: output the MPLS frame, pop, write an output to port 4 into the action set; table 1 rewrites the inner
        // packet's DSCP; the action set's output runs at the end, on the rewritten inner packet.
        r.Insert(0, Any, 10, [FlowAction.Output(3), FlowAction.PopMpls(PacketParser.EthTypeIpv4)], Goto(1, new FlowActions([FlowAction.Output(4)])));
        r.Insert(1, Ipv4Match("ip_dscp"), 10, [FlowAction.SetNwTos(0x10)], Goto(2, md: 7, mdMask: 0xFF));
        r.Insert(2, Match(B.Metadata(0xFF).NwTos(0xFC), B.Metadata(7).NwTos(0x10)), 10, [FlowAction.Output(2)]);
        r.Send(1, mpls, times: 3);
        Assert.All(r.Sent(3), f => Assert.Equal(Convert.ToHexString(mpls), Convert.ToHexString(f)));
        var two = r.Sent(2);
        var four = r.Sent(4);
        Assert.Equal(3, two.Count);
        Assert.Equal(3, four.Count);
        var expected = Ipv4Tcp(tos: 0x10);
        Assert.All(two, f => Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(f)));
        Assert.All(four, f => Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(f)));
        foreach (int t in new[] { 0, 1, 2 }) Assert.Equal((3, 3), r.Dp.Pipeline.GetStageTotals(t));
    }

    [Fact]
    public void ASecondPop_ReparsesAgain()
    {
        using var r = new DatapathRig();
        var inner = Ipv4Tcp();
        var two = Mpls(Mpls(inner, 200), 100);
        BinaryPrimitives.WriteUInt32BigEndian(two.AsSpan(14), (100u << 12) | 64); // the outer entry is not the bottom
        r.Insert(0, Match(B.MplsLabel(0xFFFFF), B.MplsLabel(100)), 10, [FlowAction.PopMpls(PacketParser.EthTypeMpls)], Goto(1));
        r.Insert(1, Match(B.MplsLabel(0xFFFFF).MplsBos(1), B.MplsLabel(200).MplsBos(1)), 10, [FlowAction.PopMpls(PacketParser.EthTypeIpv4)], Goto(2));
        r.Insert(2, Ipv4Match("tcp_dst"), 10, [FlowAction.Output(2)]);
        r.Send(1, two, times: 2);
        var sent = r.Sent(2);
        Assert.Equal(2, sent.Count);
        Assert.All(sent, f => Assert.Equal(Convert.ToHexString(inner), Convert.ToHexString(f)));
        Assert.Equal(4, r.Fwd.Recirculations);
    }

    [Fact]
    public void SteadyState_TheRestIsACachedVerdict_AndAllocatesNothing()
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [FlowAction.PopMpls(PacketParser.EthTypeIpv4)], Goto(1));
        r.Insert(1, Ipv4Match("ipv4_src"), 10, [FlowAction.Output(2)]);
        var frame = Mpls(Ipv4Tcp());
        r.Send(1, frame, times: 4);
        long built = r.Fwd.VerdictsBuilt, walks = r.Fwd.PipelineWalks;
        Assert.Equal(2, built); // the prefix and the rest
        Assert.Equal(2, walks);
        Assert.Equal(4, r.Sent(2).Count);
        r.Port(2).CaptureSent = false;
        r.Port(1).SetGenerator([frame], 0);
        long alloc = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(64);
            r.Dp.PollUntilIdle();
        });
        Assert.Equal(built, r.Fwd.VerdictsBuilt);
        Assert.Equal(walks, r.Fwd.PipelineWalks);
        Assert.True(r.Fwd.Recirculations >= 4 + 64);
        Assert.Equal(0, alloc);
    }
}
