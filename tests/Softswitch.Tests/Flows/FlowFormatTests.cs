using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Flows;

/// <summary>Matches and actions in ovs-ofctl's OpenFlow 1.0 syntax (what `ovs-ofctl dump-flows` prints for the same flow).</summary>
public sealed class FlowFormatTests
{
    private const OfWildcards Any = OfWildcards.All | OfWildcards.TunIdExt;

    /// <summary>tcp_flags as Open vSwitch's format_flags_masked prints them (tests/ovs-ofctl.at's flows).</summary>
    [Theory]
    [InlineData(0x012, 0xfff, "syn|ack")]
    [InlineData(0x000, 0xfff, "0")]
    [InlineData(0x202, 0xfff, "syn|0x200")]
    [InlineData(0x002, 0x012, "+syn-ack")]
    [InlineData(0x002, 0x017, "-fin+syn-rst-ack")]
    [InlineData(0x012, 0x0ff, "-fin+syn-rst-psh+ack-urg-ece-cwr")]
    [InlineData(0x000, 0x200, "-[Unknown]")]
    public void TcpFlags_AsOpenVswitchPrintsThem(ushort value, ushort mask, string text) => Assert.Equal(text, FlowFormat.TcpFlags(value, mask));

    /// <summary>
    /// A field set written as NXAST_REG_LOAD prints as the load it was (Open vSwitch's format_SET_FIELD for a raw
    /// NXAST_RAW_REG_LOAD; a 128-bit field as its two 64-bit loads); written as a set-field or as REG_LOAD2, as before.
    /// </summary>
    [Fact]
    public void AFieldSetWrittenAsALoad_PrintsAsTheLoad()
    {
        static string Loaded(FlowAction a) => FlowFormat.Action(a.WrittenAs(OfAction.LoadFormRegLoad));
        Assert.Equal("load:0xa000001->NXM_OF_IP_DST[]", Loaded(FlowAction.SetNwDst(0x0A000001)));
        Assert.Equal("load:0x20000000009->NXM_OF_ETH_DST[]", Loaded(FlowAction.SetDlDst(new MacAddress(0x0200_0000_0009))));
        Assert.Equal("load:0x1f90->NXM_OF_TCP_DST[]", Loaded(FlowAction.SetTpDst(8080, 6)));
        Assert.Equal("load:0x35->NXM_OF_UDP_SRC[]", Loaded(FlowAction.SetTpSrc(53, 17)));
        Assert.Equal("load:0x5->NXM_NX_TUN_ID[]", Loaded(FlowAction.SetTunnel(5)));
        Assert.Equal("load:0x40->NXM_NX_IP_TTL[]", Loaded(FlowAction.SetNwTtl(64)));
        Assert.Equal("load:0x1->NXM_NX_IPV6_SRC[0..63],load:0x20010db800000000->NXM_NX_IPV6_SRC[64..127]",
                     Loaded(FlowAction.SetIpv6Src(((UInt128)0x20010db800000000 << 64) | 1)));
        Assert.Equal("mod_nw_dst:10.0.0.1", FlowFormat.Action(FlowAction.SetNwDst(0x0A000001)));
        Assert.Equal("mod_nw_dst:10.0.0.1", FlowFormat.Action(FlowAction.SetNwDst(0x0A000001).WrittenAs(OfAction.LoadFormRegLoad2)));
    }

    /// <summary>
    /// The ICMP, DSCP, VLAN PCP, MPLS and PBB fields written as loads print as those loads, under the header the load
    /// named (OXM_OF_IP_DSCP's six bits apart from NXM_OF_IP_TOS's byte); an ICMPv6 set under ICMPv6's name; nw_ttl and
    /// nw_tos written as Open vSwitch's set_field of their NXM fields as that set_field.
    /// </summary>
    [Fact]
    public void MoreFieldSetsWrittenAsLoads_PrintAsTheLoads()
    {
        static string Loaded(FlowAction a) => FlowFormat.Action(a.WrittenAs(OfAction.LoadFormRegLoad));
        Assert.Equal("load:0x3->NXM_OF_ICMP_TYPE[]", Loaded(FlowAction.SetIcmpType(3)));
        Assert.Equal("load:0x80->NXM_NX_ICMPV6_TYPE[]", Loaded(FlowAction.SetIcmpType(128, icmpv6: true)));
        Assert.Equal("load:0x1->NXM_NX_ICMPV6_CODE[]", Loaded(FlowAction.SetIcmpCode(1, icmpv6: true)));
        Assert.Equal("load:0x8->OXM_OF_IP_DSCP[]", FlowFormat.Action(FlowAction.SetNwTos(0x20).WrittenAs(OfAction.LoadFormRegLoad | OfAction.LoadFormOxmName)));
        Assert.Equal("load:0x20->NXM_OF_IP_TOS[]", Loaded(FlowAction.SetNwTos(0x20)));
        Assert.Equal("load:0x3->OXM_OF_VLAN_PCP[]", Loaded(FlowAction.SetVlanPcp(3)));
        Assert.Equal("load:0x5->OXM_OF_MPLS_LABEL[]", Loaded(FlowAction.SetMplsLabel(5)));
        Assert.Equal("load:0x2->OXM_OF_MPLS_TC[]", Loaded(FlowAction.SetMplsTc(2)));
        Assert.Equal("load:0x123456->OXM_OF_PBB_ISID[]", Loaded(FlowAction.SetPbbIsid(0x123456)));
        Assert.Equal("set_field:135->icmpv6_type", FlowFormat.Action(FlowAction.SetIcmpType(135, icmpv6: true)));
        Assert.Equal("set_field:64->nw_ttl", FlowFormat.Action(FlowAction.SetNwTtl(64).WrittenAs(OfAction.LoadFormNxSetField)));
        Assert.Equal("set_field:32->nw_tos", FlowFormat.Action(FlowAction.SetNwTos(32).WrittenAs(OfAction.LoadFormNxSetField)));
    }

    [Fact]
    public void PipelineWords_ArePrintedWithTheMatch()
    {
        var m = new OfMatch().EthType(0x0800).NwProto(6).NwTtl(64).TcpFlags(0x002, 0x012).PktMark(5, 0xff)
            .TunSrc(0x01020304).TunDst(0x05060700, 0xffffff00).ActsetOutput(3);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        Assert.Equal("tcp,pkt_mark=0x5/0xff,actset_output=3,tun_src=1.2.3.4,tun_dst=5.6.7.0/24,nw_ttl=64,tcp_flags=+syn-ack", FlowFormat.Match(dp));
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(new OfMatch().ActsetOutput(OfMatch.ActsetUnset), out dp));
        Assert.Equal("actset_output=UNSET", FlowFormat.Match(dp));
        // dp_hash first, as Open vSwitch's match_format puts it.
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(new OfMatch().PktMark(5).DpHash(1, 0xf), out dp));
        Assert.Equal("dp_hash=0x1/0xf,pkt_mark=0x5", FlowFormat.Match(dp));
        Assert.Equal("NXM_NX_DP_HASH", FlowFormat.FieldName(PipelineField.DpHash));
    }

    private static FlowMatch M(OfWildcards keep, Action<FlowKeyBuilderBox> set, int nwSrcBits = 0, int nwDstBits = 0)
    {
        var box = new FlowKeyBuilderBox();
        set(box);
        var w = Any & ~keep;
        if (nwSrcBits > 0) w = (OfWildcards)(((uint)w & ~(uint)OfWildcards.NwSrcMask) | ((uint)(32 - nwSrcBits) << (int)OfWildcards.NwSrcShift));
        if (nwDstBits > 0) w = (OfWildcards)(((uint)w & ~(uint)OfWildcards.NwDstMask) | ((uint)(32 - nwDstBits) << (int)OfWildcards.NwDstShift));
        return FlowMatch.FromOpenFlow(w, box.B.Key);
    }

    /// <summary>FlowKeyBuilder returns copies from its setters; a box keeps one builder.</summary>
    private sealed class FlowKeyBuilderBox
    {
        public FlowKeyBuilder B;
    }

    [Fact]
    public void MatchAll_IsEmpty_RuleIsPriorityOnly()
    {
        Assert.Equal("", FlowFormat.Match(FlowMatch.All));
        Assert.Equal("priority=0", FlowFormat.Rule(0, FlowMatch.All));
    }

    [Fact]
    public void ProtocolShorthands()
    {
        Assert.Equal("ip", FlowFormat.Match(M(OfWildcards.DlType, x => x.B.DlType(0x0800))));
        Assert.Equal("arp", FlowFormat.Match(M(OfWildcards.DlType, x => x.B.DlType(0x0806))));
        Assert.Equal("tcp,tp_dst=80", FlowFormat.Match(M(OfWildcards.DlType | OfWildcards.NwProto | OfWildcards.TpDst, x => { x.B.DlType(0x0800); x.B.NwProto(6); x.B.TpDst(80); })));
        Assert.Equal("udp", FlowFormat.Match(M(OfWildcards.DlType | OfWildcards.NwProto, x => { x.B.DlType(0x0800); x.B.NwProto(17); })));
        Assert.Equal("icmp,icmp_type=8,icmp_code=0", FlowFormat.Match(M(OfWildcards.DlType | OfWildcards.NwProto | OfWildcards.TpSrc | OfWildcards.TpDst, x => { x.B.DlType(0x0800); x.B.NwProto(1); x.B.TpSrc(8); })));
        Assert.Equal("ip,nw_proto=47", FlowFormat.Match(M(OfWildcards.DlType | OfWildcards.NwProto, x => { x.B.DlType(0x0800); x.B.NwProto(47); })));
        Assert.Equal("dl_type=0x88cc", FlowFormat.Match(M(OfWildcards.DlType, x => x.B.DlType(0x88CC))));
        Assert.Equal("arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/8,arp_op=1",
            FlowFormat.Match(M(OfWildcards.DlType | OfWildcards.NwProto, x => { x.B.DlType(0x0806); x.B.NwProto(1); x.B.NwSrc(0x0A000001); x.B.NwDst(0x0A000000); }, nwSrcBits: 32, nwDstBits: 8)));
    }

    [Fact]
    public void FieldsInOvsOrder_PrefixesAndVlan()
    {
        var m = M(OfWildcards.InPort | OfWildcards.DlVlan | OfWildcards.DlVlanPcp | OfWildcards.DlSrc | OfWildcards.DlDst | OfWildcards.DlType | OfWildcards.NwTos,
            x =>
            {
                x.B.InPort(3);
                x.B.DlVlan(100);
                x.B.DlVlanPcp(5);
                x.B.DlSrc(MacAddress.Parse("02:00:00:00:00:01"));
                x.B.DlDst(MacAddress.Parse("ff:ff:ff:ff:ff:ff"));
                x.B.DlType(0x0800);
                x.B.NwSrc(0xC0A80100);
                x.B.NwTos(0x20);
            }, nwSrcBits: 24);
        Assert.Equal("ip,in_port=3,dl_vlan=100,dl_vlan_pcp=5,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=192.168.1.0/24,nw_tos=32",
            FlowFormat.Match(m));
        // Untagged, as ovs-ofctl shows an OpenFlow 1.0 dl_vlan=0xffff (with or without its dl_vlan_pcp=0).
        Assert.Equal("vlan_tci=0x0000", FlowFormat.Match(M(OfWildcards.DlVlan, x => x.B.DlVlan(0xFFFF))));
        Assert.Equal("vlan_tci=0x0000", FlowFormat.Match(M(OfWildcards.DlVlan | OfWildcards.DlVlanPcp, x => x.B.DlVlan(0xFFFF))));
        Assert.Equal("in_port=LOCAL", FlowFormat.Match(M(OfWildcards.InPort, x => x.B.InPort(PortNumber.Local))));
        Assert.Equal("tun_id=0x2a", FlowFormat.Match(M(OfWildcards.TunIdExt, x => x.B.TunId(42))));
    }

    [Fact]
    public void Masked_PrintsMasksInOvsOfctlSyntax_NotHex()
    {
        var value = new FlowKeyBuilder();
        value.InPort(1);
        value.DlVlan(0xFFFF);
        value.DlDst(MacAddress.Parse("01:00:5e:00:00:fb"));
        value.DlType(0x0800);
        value.NwProto(17);
        value.NwSrc(0x0A000001);
        value.NwDst(0x0A0A0A0A);
        value.TpDst(0x0050);
        var mask = new FlowKeyBuilder();
        mask.InPort(0xFFFF);
        mask.VlanVid(0x1FFF);
        mask.DlDst(MacAddress.Parse("01:00:00:00:00:00"));
        mask.DlType(0xFFFF);
        mask.NwProto(0xFF);
        mask.NwSrc(0xFFFFFF00);
        mask.NwDst(0xFF00FF00);
        mask.TpDst(0xFFF0);
        Assert.Equal("udp,in_port=1,vlan_tci=0x0000,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,nw_src=10.0.0.0/24,nw_dst=10.0.10.0/255.0.255.0,tp_dst=0x50/0xfff0",
            FlowFormat.Masked(value.Key, mask.Key));
        Assert.Equal("", FlowFormat.Masked(value.Key, default));
    }

    /// <summary>An untagged UDP key from port 1, 00:..:0a to 00:..:0b, 10.0.0.1 to 10.0.0.2, ports 0.</summary>
    private static FlowKeyBuilder UdpKey()
    {
        var k = new FlowKeyBuilder();
        k.InPort(1);
        k.DlVlan(0xFFFF);
        k.DlSrc(MacAddress.Parse("00:00:00:00:00:0a"));
        k.DlDst(MacAddress.Parse("00:00:00:00:00:0b"));
        k.DlType(0x0800);
        k.NwProto(17);
        k.NwSrc(0x0A000001);
        k.NwDst(0x0A000002);
        return k;
    }

    [Fact]
    public void Key_IsTheFlowLineOvsAppctlTracePrints()
    {
        var k = UdpKey();
        k.TpSrc(1000);
        k.TpDst(2000);
        Assert.Equal("udp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,tp_src=1000,tp_dst=2000",
            FlowFormat.Key(k.Key));
        k.DlVlan(5);
        k.DlVlanPcp(3);
        k.DlType(0x88cc);
        Assert.Equal("in_port=1,dl_vlan=5,dl_vlan_pcp=3,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,dl_type=0x88cc", FlowFormat.Key(k.Key));
    }

    /// <summary>A later fragment's Flow line says so, as Open vSwitch's does (its ports read 0: it has no L4 header).</summary>
    [Fact]
    public void Key_OfALaterFragment_SaysNwFragLater()
    {
        var k = UdpKey();
        k.NwFrag(FlowKey.NwFragAny | FlowKey.NwFragLater);
        Assert.Equal("udp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,nw_frag=later,tp_src=0,tp_dst=0",
            FlowFormat.Key(k.Key));
        // A first fragment says so too; a whole packet's nw_frag=no is left out.
        k.NwFrag(FlowKey.NwFragAny);
        Assert.Contains(",nw_frag=first,", FlowFormat.Key(k.Key), StringComparison.Ordinal);
        k.NwFrag(0);
        Assert.DoesNotContain("nw_frag", FlowFormat.Key(k.Key), StringComparison.Ordinal);
    }

    [Fact]
    public void Flow_PrintsPriorityMatchAndActions()
    {
        var arp = OfFlowRule.NewEntry(M(OfWildcards.DlType, x => x.B.DlType(0x0806)), 50, new FlowActions([FlowAction.Output(PortNumber.Controller, 65535)]),
                                0, 0, 0, FlowModFlags.None, 0);
        Assert.Equal("priority=50,arp actions=CONTROLLER:65535", FlowFormat.Flow(arp));
        Assert.Equal("priority=1 actions=drop", FlowFormat.Flow(OfFlowRule.NewEntry(FlowMatch.All, 1, FlowActions.Drop, 0, 0, 0, FlowModFlags.None, 0)));
    }

    [Fact]
    public void Actions_OvsNames()
    {
        var a = new FlowActions([
            FlowAction.SetVlanVid(10), FlowAction.SetVlanPcp(3), FlowAction.SetDlSrc(MacAddress.Parse("02:00:00:00:00:09")),
            FlowAction.SetNwDst(0x0A000002), FlowAction.SetNwTos(0x40), FlowAction.SetTpDst(8080), FlowAction.SetTunnel(0x1F),
            FlowAction.Output(2), FlowAction.Output(PortNumber.InPort), FlowAction.Output(PortNumber.Flood), FlowAction.Output(PortNumber.All),
            FlowAction.Output(PortNumber.Controller, 128), FlowAction.Output(PortNumber.Local), FlowAction.Output(PortNumber.Normal),
            FlowAction.Enqueue(1, 7), FlowAction.StripVlan(),
        ]);
        Assert.Equal("mod_vlan_vid:10,mod_vlan_pcp:3,mod_dl_src:02:00:00:00:00:09,mod_nw_dst:10.0.0.2,mod_nw_tos:64,mod_tp_dst:8080," +
                     "set_tunnel:0x1f,output:2,IN_PORT,FLOOD,ALL,CONTROLLER:128,LOCAL,NORMAL,enqueue:1:7,strip_vlan", FlowFormat.Actions(a));
        Assert.Equal("drop", FlowFormat.Actions(FlowActions.Drop));
    }

    [Fact]
    public void Actions_OpenFlow13AsOvsOfctlPrintsThem()
    {
        var a = new FlowActions([
            FlowAction.SetIpv6Src(new UInt128(0x20010DB8_00000000, 1)), FlowAction.SetNdTarget(new UInt128(0xFE800000_00000000, 0x10)),
            FlowAction.SetIpv6Flabel(0x12345), FlowAction.SetMplsLabel(17), FlowAction.SetArpSpa(0x0A000001),
            FlowAction.SetArpSha(MacAddress.Parse("02:00:00:00:00:09")), FlowAction.PushVlan(0x8100), FlowAction.PopVlan(),
            FlowAction.PushMpls(0x8847), FlowAction.PopMpls(0x0800), FlowAction.SetMplsTtl(9), FlowAction.DecMplsTtl(),
            FlowAction.SetNwTtl(7), FlowAction.DecNwTtl(), FlowAction.CopyTtlOut(), FlowAction.CopyTtlIn(), FlowAction.SetIpEcn(1),
            FlowAction.SetQueue(3), FlowAction.Group(5), FlowAction.Output(2),
        ]);
        Assert.Equal("set_field:2001:db8::1->ipv6_src,set_field:fe80::10->nd_target,set_field:0x12345->ipv6_label," +
                     "set_field:17->mpls_label,set_field:10.0.0.1->arp_spa,set_field:02:00:00:00:00:09->arp_sha,push_vlan:0x8100," +
                     "strip_vlan,push_mpls:0x8847,pop_mpls:0x0800,set_mpls_ttl(9),dec_mpls_ttl,mod_nw_ttl:7,dec_ttl,copy_ttl_out," +
                     "copy_ttl_in,mod_nw_ecn:1,set_queue:3,group:5,output:2", FlowFormat.Actions(a));
    }
}
