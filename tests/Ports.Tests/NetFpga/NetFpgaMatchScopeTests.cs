using Softswitch.Datapath.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Ports.Tests.NetFpga;

/// <summary>The board's key holds the OpenFlow 1.0 twelve-tuple: any match beyond it stays in software.</summary>
public class NetFpgaMatchScopeTests
{
    public static TheoryData<string> Beyond => new(s_beyond.Keys);

    private static readonly Dictionary<string, OfMatch> s_beyond = new()
    {
        ["metadata"] = new OfMatch().EthType(0x0800).Metadata(1),
        ["ipv6_src"] = new OfMatch().EthType(0x86dd).Ipv6Src(1),
        ["nd_target"] = new OfMatch().EthType(0x86dd).NwProto(58).NdTarget(2),
        ["arp_sha"] = new OfMatch().EthType(0x0806).ArpSha(0x0200_0000_0001),
        ["mpls_label"] = new OfMatch().EthType(0x8847).MplsLabel(5),
        ["pbb_isid"] = new OfMatch().EthType(0x88e7).PbbIsid(5),
        ["ip_ecn"] = new OfMatch().EthType(0x0800).IpEcn(1),
        ["ipv6_flabel"] = new OfMatch().EthType(0x86dd).Ipv6Flabel(7),
        ["partial eth_src"] = new OfMatch().EthSrc(0x0200_0000_0000, 0xff00_0000_0000),
        ["non-prefix ipv4_src"] = new OfMatch().EthType(0x0800).NwSrc(0x0a00_0001, 0xff00_00ff),
    };

    [Theory]
    [MemberData(nameof(Beyond))]
    public void MatchBeyondTheTwelveTuple_StaysInSoftware(string name)
    {
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(s_beyond[name], out var m));
        Assert.Equal(OffloadReason.UnsupportedMatch, NetFpgaEncoding.CheckMatch(m, out _));
    }

    [Fact]
    public void TwelveTupleMatch_IsOffloadable()
    {
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(new OfMatch().InPort(1).EthType(0x0800).NwSrc(0x0a00_0000, 0xffff_0000).NwProto(6).TpDst(80), out var m));
        Assert.Equal(OffloadReason.None, NetFpgaEncoding.CheckMatch(m, out _));
    }
}
