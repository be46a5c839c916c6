using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// <see cref="OfMatchCompiler"/>: every OpenFlow 1.3 OXM basic field, whole and under arbitrary bit masks, compiles to
/// the datapath's match, classifies the packets it should, and comes back unchanged; OpenFlow 1.0 matches compile to
/// the very match the OpenFlow 1.0 wildcards build.
/// </summary>
public class OfMatchCompilerTests
{
    private static readonly UInt128 s_v6a = ((UInt128)0x2001_0db8_0000_0001UL << 64) | 0x0000_0000_0000_00aaUL;

    public static TheoryData<string> FieldNames => new(s_fields.Keys);

    /// <summary>One setter per field: whole field, then a partial mask where the field has more than one bit.</summary>
    private static readonly Dictionary<string, (Func<OfMatch, OfMatch> Whole, Func<OfMatch, OfMatch>? Partial)> s_fields = new()
    {
        ["in_port"] = (m => m.InPort(3), null),
        ["in_phy_port"] = (m => m.InPhyPort(4), null),
        ["metadata"] = (m => m.Metadata(0x1122_3344_5566_7788), m => m.Metadata(0x1122_3344_5566_7788, 0xff00_0000_0000_00f0)),
        ["eth_src"] = (m => m.EthSrc(0x0200_0000_0001), m => m.EthSrc(0x0200_0000_0001, 0xffff_0000_0000)),
        ["eth_dst"] = (m => m.EthDst(0x0200_0000_0002), m => m.EthDst(0x0100_0000_0000, 0x0100_0000_0000)),
        ["eth_type"] = (m => m.EthType(0x86dd), null),
        ["vlan_vid"] = (m => m.Vlan(10), m => m.VlanVid(OfMatch.VlanPresent, OfMatch.VlanPresent)),
        ["vlan_untagged"] = (m => m.Untagged(), null),
        ["vlan_pcp"] = (m => m.VlanPcp(5), null),
        ["ip_dscp"] = (m => m.IpDscp(46), null),
        ["ip_ecn"] = (m => m.IpEcn(3), null),
        ["ip_proto"] = (m => m.NwProto(58), null),
        ["ipv4_src"] = (m => m.NwSrc(0x0a00_0001), m => m.NwSrc(0x0a00_0001, 0xff00_ff00)),
        ["ipv4_dst"] = (m => m.NwDst(0x0a00_0002), m => m.NwDst(0x0a00_0000, 0xff00_0000)),
        ["tcp_src"] = (m => m.TpSrc(80), m => m.TpSrc(0x0400, 0xfc00)),
        ["tcp_dst"] = (m => m.TpDst(443), m => m.TpDst(0x0001, 0x0001)),
        ["icmpv6_type"] = (m => m.Icmpv6Type(135), null),
        ["icmpv6_code"] = (m => m.Icmpv6Code(1), null),
        ["arp_op"] = (m => m.ArpOp(2), null),
        ["arp_spa"] = (m => m.ArpSpa(0x0a00_0003), m => m.ArpSpa(0x0a00_0003, 0xffff_0000)),
        ["arp_tpa"] = (m => m.ArpTpa(0x0a00_0004), null),
        ["arp_sha"] = (m => m.ArpSha(0x0200_0000_0005), m => m.ArpSha(0x0200_0000_0005, 0x0000_ffff_ffff)),
        ["arp_tha"] = (m => m.ArpTha(0x0200_0000_0006), m => m.ArpTha(0x0200_0000_0006, 0xff)),
        ["ipv6_src"] = (m => m.Ipv6Src(s_v6a), m => m.Ipv6Src(s_v6a, UInt128.MaxValue << 64)),
        ["ipv6_dst"] = (m => m.Ipv6Dst(s_v6a + 1), m => m.Ipv6Dst(s_v6a, 0xffff)),
        ["ipv6_flabel"] = (m => m.Ipv6Flabel(0xabcde), m => m.Ipv6Flabel(0xabcde, 0xf000f)),
        ["nd_target"] = (m => m.NdTarget(s_v6a + 2), null),
        ["nd_sll"] = (m => m.NdSll(0x0200_0000_0007), null),
        ["nd_tll"] = (m => m.NdTll(0x0200_0000_0008), null),
        ["mpls_label"] = (m => m.MplsLabel(0x12345), null),
        ["mpls_tc"] = (m => m.MplsTc(5), null),
        ["mpls_bos"] = (m => m.MplsBos(1), null),
        ["pbb_isid"] = (m => m.PbbIsid(0xabcdef), m => m.PbbIsid(0xab0000, 0xff0000)),
        ["tunnel_id"] = (m => m.TunnelId(0x99), m => m.TunnelId(0x90, 0xf0)),
        ["ipv6_exthdr"] = (m => m.Ipv6ExtHdr(0x41), m => m.Ipv6ExtHdr(0x40, 0x40)),
    };

    [Theory]
    [MemberData(nameof(FieldNames))]
    public void EveryField_WholeAndMasked_CompilesAndComesBack(string field)
    {
        var (whole, partial) = s_fields[field];
        foreach (var set in partial is null ? new[] { whole } : new[] { whole, partial })
        {
            var m = set(new OfMatch());
            Assert.NotEqual(default(OfFields), m.Mask);
            Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
            Assert.Equal(m, OfMatchCompiler.ToOfMatch(dp));
            Assert.False(dp.Equals(FlowMatch.All), $"{field}: compiled to match-all");
        }
    }

    [Fact]
    public void AllFieldsTogether_RoundTrip_AndMatchTheKeyTheyDescribe()
    {
        var m = new OfMatch();
        foreach (var (name, (whole, _)) in s_fields)
        {
            if (name is not ("in_phy_port" or "vlan_untagged" or "arp_op" or "arp_spa" or "arp_tpa" or "icmpv6_type" or "icmpv6_code" or "nd_sll" or "nd_tll"))
                m = whole(m);
        }
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        Assert.Equal(m, OfMatchCompiler.ToOfMatch(dp));
        Assert.True(dp.UsesExtension);
        Assert.False(dp.IsOpenFlow10);

        var key = new FlowKeyBuilder().InPort(3).Metadata(0x1122_3344_5566_7788).DlSrc(new MacAddress(0x0200_0000_0001))
            .DlDst(new MacAddress(0x0200_0000_0002)).DlType(0x86dd).DlVlan(10).DlVlanPcp(5).NwTos(46 << 2).IpEcn(3).NwProto(58)
            .NwSrc(0x0a00_0001).NwDst(0x0a00_0002).TpSrc(80).TpDst(443).ArpSha(new MacAddress(0x0200_0000_0005))
            .ArpTha(new MacAddress(0x0200_0000_0006)).Ipv6Src(s_v6a).Ipv6Dst(s_v6a + 1).Ipv6Flabel(0xabcde).NdTarget(s_v6a + 2)
            .MplsLabel(0x12345).MplsTc(5).MplsBos(1).PbbIsid(0xabcdef).TunId(0x99).Ipv6ExtHdr(0x41).Key;
        Assert.True(dp.Matches(key));
        foreach (int offset in new[] { FlowKey.MetadataOffset + 7, FlowKey.Ipv6DstOffset + 15, FlowKey.MplsLabelOffset + 3, FlowKey.PbbIsidOffset + 3, FlowKey.IpEcnOffset })
        {
            var b = new FlowKeyBuilder(key);
            b.Bytes[offset] ^= 1;
            Assert.False(dp.Matches(b.UpdateExtMap().Key), $"a bit flipped at byte {offset} still matches");
        }
    }

    [Fact]
    public void OpenFlow10Matches_CompileToTheOpenFlow10Match()
    {
        var m = new OfMatch().InPort(2).EthSrc(0x0200_0000_0001).Vlan(7).VlanPcp(3).EthType(0x0800).NwTos(0x28).NwProto(6)
            .NwSrc(0x0a00_0000, 0xffff_ff00).TpDst(80);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        var fields = new FlowKeyBuilder().InPort(2).DlSrc(new MacAddress(0x0200_0000_0001)).DlVlan(7).DlVlanPcp(3).DlType(0x0800)
            .NwTos(0x28).NwProto(6).NwSrc(0x0a00_0000).TpDst(80).Key;
        var w = OfWildcards.DlDst | OfWildcards.TpSrc | OfWildcards.TunIdExt | (OfWildcards)(8u << (int)OfWildcards.NwSrcShift) | OfWildcards.NwDstAll;
        var of10 = FlowMatch.FromOpenFlow(w, fields);
        Assert.Equal(of10, dp);
        Assert.Same(of10.Shape, dp.Shape);
        Assert.Equal(w, dp.Wildcards);
        Assert.True(dp.IsOpenFlow10);
        Assert.False(dp.UsesExtension);
        Assert.Equal(FlowMask.VlanBits, dp.Mask.VlanVid);
    }

    [Fact]
    public void OnlyWhatCannotBeClassified_IsRefused()
    {
        var partialPort = new OfMatch().InPort(1);
        partialPort.Mask.InPort = 0xff;
        Assert.Equal(OfError.UnsupportedMask, OfMatchCompiler.TryCompile(partialPort, out _));
        Assert.Equal(OfError.BadMatchPort, OfMatchCompiler.TryCompile(new OfMatch().InPort(0x10000), out _));
    }

    [Theory]
    [InlineData((ushort)0x86dd, (byte)6, true, true, false)]
    [InlineData((ushort)0x86dd, (byte)58, true, true, false)]
    [InlineData((ushort)0x86dd, (byte)1, true, false, false)]
    [InlineData((ushort)0x0800, (byte)6, true, true, true)]
    [InlineData((ushort)0x0806, (byte)6, false, false, true)]
    [InlineData((ushort)0x8847, (byte)6, false, false, false)]
    public void OpenFlow10Normalisation_AppliesTosProtoAndPortsToIpv6(ushort dlType, byte proto, bool keepsTos, bool keepsPorts, bool keepsAddresses)
    {
        var fields = new FlowKeyBuilder().DlType(dlType).NwTos(0x28).NwProto(proto).NwSrc(0x0a00_0001).NwDst(0x0a00_0002).TpSrc(1).TpDst(2).Key;
        var normal = OfMatchRules.Normalize(FlowMatch.FromOpenFlow(OfWildcards.TunIdExt | OfWildcards.InPort, fields), MatchRules.OpenFlow10);
        var w = normal.Wildcards;
        Assert.Equal(keepsTos, (w & OfWildcards.NwTos) == 0);
        Assert.Equal(keepsPorts, (w & (OfWildcards.TpSrc | OfWildcards.TpDst)) == 0);
        Assert.Equal(keepsAddresses, normal.NwSrcPrefixBits == 32 && normal.NwDstPrefixBits == 32);
        Assert.Equal(dlType is 0x86dd or 0x0800 or 0x0806, (w & OfWildcards.NwProto) == 0);
    }

    [Fact]
    public void OpenFlow10Normalisation_GivesAnUntaggedMatchAPcpOfZero_AndKeepsATaggedOnesPcp()
    {
        // As Open vSwitch: dl_vlan OFP_VLAN_NONE is untagged frames whatever dl_vlan_pcp says.
        var untagged = new FlowKeyBuilder().DlVlan(FlowKey.VlanNone).DlVlanPcp(2).DlType(0x0800).NwProto(17).Key;
        var one = OfMatchRules.Normalize(FlowMatch.FromOpenFlow(OfWildcards.TunIdExt, untagged), MatchRules.OpenFlow10);
        var other = OfMatchRules.Normalize(FlowMatch.FromOpenFlow(OfWildcards.TunIdExt, new FlowKeyBuilder(untagged).DlVlanPcp(5).Key), MatchRules.OpenFlow10);
        Assert.Equal(0, one.Value.DlVlanPcp);
        Assert.Equal((OfWildcards)0, one.Wildcards & OfWildcards.DlVlanPcp);
        Assert.True(one.Equals(other));
        var tagged = new FlowKeyBuilder(untagged).DlVlan(10).Key;
        Assert.Equal(2, OfMatchRules.Normalize(FlowMatch.FromOpenFlow(OfWildcards.TunIdExt, tagged), MatchRules.OpenFlow10).Value.DlVlanPcp);
    }
}
