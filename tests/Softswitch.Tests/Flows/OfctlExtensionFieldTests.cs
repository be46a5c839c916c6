using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Flows;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Flows;

/// <summary>
/// The fields beyond OpenFlow 1.0 that ovs-ofctl spells (IPv6, ND, ARP hardware addresses, MPLS, metadata, ECN, DSCP,
/// ICMPv6): <see cref="OfctlFlowParser"/> reads them into the match they say, and <see cref="FlowFormat"/> prints that
/// match back as the same text, which reads back as the same match.
/// </summary>
public class OfctlExtensionFieldTests
{
    private static FlowMod Parse(string text)
    {
        Assert.True(OfctlFlowParser.TryParse(text, FlowModCommand.Add, out var mod, out var error), error);
        return mod;
    }

    [Theory]
    [InlineData("priority=5,ipv6,ipv6_src=2001:db8::1")]
    [InlineData("priority=5,ipv6,ipv6_src=2001:db8::/32,ipv6_dst=fe80::/ffff:0:ffff::")]
    [InlineData("priority=5,tcp6,ipv6_dst=2001:db8::2,tp_dst=443")]
    [InlineData("priority=5,udp6,nw_tos=184,tp_src=53")]
    [InlineData("priority=5,ipv6,ipv6_label=0x12345,ip_ecn=3")]
    [InlineData("priority=5,ipv6,ipv6_label=0x10/0xf0")]
    [InlineData("priority=5,icmp6,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8::9,nd_sll=02:00:00:00:00:01")]
    [InlineData("priority=5,icmp6,icmpv6_type=136,nd_target=2001:db8::9,nd_tll=02:00:00:00:00:02")]
    [InlineData("priority=5,arp,arp_op=1,arp_sha=02:00:00:00:00:03,arp_tha=02:00:00:00:00:00/ff:ff:ff:00:00:00")]
    [InlineData("priority=5,dl_type=0x8847,mpls_label=1000,mpls_tc=5,mpls_bos=1")]
    [InlineData("priority=5,in_port=1,metadata=0xabc")]
    [InlineData("priority=5,metadata=0x100/0xff00")]
    [InlineData("priority=5,ip,nw_frag=no")]
    [InlineData("priority=5,ip,nw_frag=first")]
    [InlineData("priority=5,udp,nw_frag=later")]
    [InlineData("priority=5,ipv6,nw_frag=yes")]
    [InlineData("priority=5,ipv6,nw_frag=not_later")]
    [InlineData("priority=5,dp_hash=0x1/0xf")]
    [InlineData("priority=5,dp_hash=0")]
    [InlineData("priority=5,ip,dp_hash=0x5,in_port=1")]
    public void NewFields_PrintAsWrittenAndReadBackTheSame(string rule)
    {
        var m = Parse(rule + ",actions=drop");
        string printed = FlowFormat.Rule(m.Priority, m.Match);
        Assert.Equal(rule, printed);
        Assert.Equal(m.Match, Parse(printed + ",actions=drop").Match);
    }

    [Fact]
    public void DpHash_IsMatchedOnItsPipelineWord()
    {
        var m = Parse("dp_hash=0x1/0xf,actions=drop").Match;
        Assert.Equal(0xfu, m.RegisterMask.DpHash);
        Assert.Equal(1u, m.RegisterValue.DpHash);
        var regs = default(Registers);
        regs.DpHash = 0x1234_5671;
        Assert.True(m.Matches(default, regs));
        regs.DpHash = 0x1234_5672;
        Assert.False(m.Matches(default, regs));
        Assert.False(OfctlFlowParser.TryParse("dp_hash=0x100000000,actions=drop", FlowModCommand.Add, out _, out var error));
        Assert.Contains("dp_hash", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Fields_MatchTheKeyTheyName()
    {
        var m = Parse("tcp6,ipv6_src=2001:db8::/32,ipv6_dst=2001:db8::2,tp_dst=443,ip_dscp=46,actions=drop").Match;
        Assert.True(m.UsesExtension);
        var key = new FlowKeyBuilder().DlType(0x86dd).NwProto(6).NwTos(46 << 2).TpDst(443)
            .Ipv6Src(((UInt128)0x2001_0db8_1234_0000UL << 64) | 7).Ipv6Dst(((UInt128)0x2001_0db8_0000_0000UL << 64) | 2).Key;
        Assert.True(m.Matches(key));
        Assert.False(m.Matches(new FlowKeyBuilder(key).Ipv6Src((UInt128)0x2001_0db9UL << 96).Key));
        var table = new FlowTable(new ManualClock());
        var entry = new FlowEntry(m, 10, Datapath.Actions.FlowActions.Drop, 0, 0, 0);
        using (var w = table.Write()) w.Insert(entry);
        Assert.Same(entry, table.Lookup(key));
        Assert.Null(table.Lookup(new FlowKeyBuilder(key).Ipv6Dst(3).Key));
    }

    [Fact]
    public void Ipv4Shorthands_AreUnchanged_AndStayOpenFlow10()
    {
        var m = Parse("tcp,nw_src=10.0.0.0/8,tp_dst=80,actions=drop").Match;
        Assert.True(m.IsOpenFlow10);
        Assert.False(m.UsesExtension);
        Assert.Equal("tcp,nw_src=10.0.0.0/8,tp_dst=80", FlowFormat.Match(m));
    }

    [Fact]
    public void OpenFlow13Masks_OnTwelveTupleFields_PrintWithTheirMasks()
    {
        var of = new Ofproto.OfMatch().VlanVid(Ofproto.OfMatch.VlanPresent, Ofproto.OfMatch.VlanPresent).EthDst(0x0100_0000_0000, 0x0100_0000_0000);
        Assert.Equal(Ofproto.OfError.None, Ofproto.OfMatchCompiler.TryCompile(of, out var m));
        Assert.Equal("vlan_tci=0x1000/0x1000,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", FlowFormat.Match(m));
    }

    [Theory]
    [InlineData("ipv6_src=2001:db8::1,actions=drop", "prerequisites")]
    [InlineData("ip,ipv6_src=2001:db8::1,actions=drop", "prerequisites")]
    [InlineData("ipv6,ipv6_src=10.0.0.1,actions=drop", "ipv6_src")]
    [InlineData("ipv6,ipv6_src=2001:db8::/129,actions=drop", "ipv6_src")]
    [InlineData("ipv6,nw_src=10.0.0.1,actions=drop", "prerequisites")]
    [InlineData("icmp6,nd_target=2001:db8::1,actions=drop", "prerequisites")]
    [InlineData("icmp6,icmpv6_type=136,nd_sll=02:00:00:00:00:01,actions=drop", "prerequisites")]
    [InlineData("ip,arp_sha=02:00:00:00:00:01,actions=drop", "prerequisites")]
    [InlineData("ip,mpls_label=5,actions=drop", "prerequisites")]
    [InlineData("dl_type=0x8847,mpls_label=0x100000,actions=drop", "mpls_label")]
    [InlineData("dl_type=0x8847,mpls_tc=8,actions=drop", "mpls_tc")]
    [InlineData("ipv6,ip_ecn=4,actions=drop", "ip_ecn")]
    [InlineData("ip,ip_dscp=64,actions=drop", "ip_dscp")]
    [InlineData("ipv6,ipv6_label=0x100000,actions=drop", "ipv6_label")]
    [InlineData("tcp6,icmpv6_type=1,actions=drop", "prerequisites")]
    [InlineData("ip_frag=first,actions=drop", "prerequisites")]
    [InlineData("arp,ip_frag=no,actions=drop", "prerequisites")]
    [InlineData("ip,ip_frag=maybe,actions=drop", "ip_frag=maybe")]
    [InlineData("ip,ip_frag=first,nw_frag=first,actions=drop", "one field")]
    public void BadExtensionInput_IsAnErrorNamingTheField(string text, string named)
    {
        Assert.False(OfctlFlowParser.TryParse(text, FlowModCommand.Add, out _, out var error));
        Assert.Contains(named, error, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>ip_frag's names (Open vSwitch's all_frags) as the key's nw_frag bits: what each matches.</summary>
    [Theory]
    [InlineData("ip,ip_frag=no", true, false, false)]
    [InlineData("ip,ip_frag=first", false, true, false)]
    [InlineData("ip,ip_frag=later", false, false, true)]
    [InlineData("ip,ip_frag=yes", false, true, true)]
    [InlineData("ip,ip_frag=not_later", true, true, false)]
    [InlineData("ipv6,nw_frag=later", false, false, true)]
    public void IpFrag_MatchesTheFragmentsItNames(string text, bool whole, bool first, bool later)
    {
        var m = Parse(text + ",actions=drop").Match;
        ushort type = text.StartsWith("ipv6", StringComparison.Ordinal) ? (ushort)0x86dd : (ushort)0x0800;
        FlowKey Key(byte frag) => new FlowKeyBuilder().DlType(type).NwFrag(frag).Key;
        Assert.Equal(whole, m.Matches(Key(0)));
        Assert.Equal(first, m.Matches(Key(FlowKey.NwFragAny)));
        Assert.Equal(later, m.Matches(Key(FlowKey.NwFragAny | FlowKey.NwFragLater)));
        Assert.Equal(0u, m.Mask.Ipv6Flabel);
    }
}
