using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Tunnels;
using Softswitch.Tunnels;

namespace Softswitch.Tests.Tunnels;

/// <summary>The <c>--tunnel</c> spec: every accepted form read into the datapath's config, the canonical spelling, and
/// every refusal with a message that names the problem.</summary>
public sealed class TunnelSpecTests
{
    [Fact]
    public void ParsesTheFullVxlanSpec()
    {
        var c = TunnelSpec.Parse("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100,port=5,underlay=3,remote_mac=02:00:00:00:00:02,local_mac=02:00:00:00:00:01,dstport=8472,ttl=32");
        Assert.Equal("vx1", c.Name);
        Assert.Equal(TunnelKind.Vxlan, c.Kind);
        Assert.Equal(Ipv4.Parse("10.0.0.1"), c.LocalIp);
        Assert.Equal(Ipv4.Parse("10.0.0.2"), c.RemoteIp);
        Assert.Equal(100u, c.Key);
        Assert.True(c.HasKey);
        Assert.False(c.FlowKey);
        Assert.Equal((ushort)5, c.PortNo);
        Assert.Equal((ushort)3, c.Underlay);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:02"), c.RemoteMac);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:01"), c.LocalMac);
        Assert.Equal((ushort)8472, c.DstPort);
        Assert.Equal((byte)32, c.Ttl);
        Assert.Equal(c.RemoteIp, c.NextHopIp);
    }

    [Fact]
    public void DefaultsOfTheOptionsLeftOut()
    {
        // Every option left out keeps the config's own default (the datapath's tests pin those: port 4789, TTL 64,
        // TOS 0, no port number or underlay, no MACs, a locally administered port MAC).
        var c = TunnelSpec.Parse("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100");
        var local = Ipv4.Parse("10.0.0.1");
        var remote = Ipv4.Parse("10.0.0.2");
        Assert.Equal(new TunnelConfig { Name = "vx1", Kind = TunnelKind.Vxlan, LocalIp = local, RemoteIp = remote, Key = 100, HasKey = true }, c);
        Assert.True((c.PortMac.Value >> 40 & 0x02) != 0, "locally administered");

        var g = TunnelSpec.Parse("g:gre,local=10.0.0.1,remote=10.0.0.2");
        Assert.False(g.HasKey);
        var gk = TunnelSpec.Parse("g:GRETAP,local=10.0.0.1,remote=10.0.0.2,key=0xffffffff");
        Assert.True(gk.HasKey);
        Assert.Equal(0xFFFF_FFFFu, gk.Key);

        var i = TunnelSpec.Parse("ip:ipip,local=10.0.0.1,remote=10.0.0.2,mac=0a:00:00:00:00:0a,nexthop=10.0.0.254");
        Assert.Equal(MacAddress.Parse("0a:00:00:00:00:0a"), i.InnerSource);
        Assert.Equal(MacAddress.Broadcast, i.InnerDestination);
        Assert.Equal(Ipv4.Parse("10.0.0.254"), i.NextHopIp);
        var i2 = TunnelSpec.Parse("ip:ipip,local=10.0.0.1,remote=10.0.0.2,inner_src_mac=00:00:00:00:00:01,inner_dst_mac=00:00:00:00:00:02");
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:01"), i2.InnerSource);
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:02"), i2.InnerDestination);

        var f = TunnelSpec.Parse("vx:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=flow");
        Assert.True(f.FlowKey);
        Assert.False(f.HasKey);
    }

    [Fact]
    public void Geneve_TakesVxlansOptions_ItsOwnPortByDefault_AndCsumAndDf()
    {
        var c = TunnelSpec.Parse("ge1:GENEVE,local=10.0.0.1,remote=10.0.0.2,vni=100");
        Assert.Equal(TunnelKind.Geneve, c.Kind);
        Assert.Equal((100u, true, (ushort)6081), (c.Key, c.HasKey, c.DstPort));
        Assert.Equal((false, true), (c.UdpChecksum, c.DontFragment));
        Assert.Equal(new TunnelConfig { Name = "ge1", Kind = TunnelKind.Geneve, LocalIp = Ipv4.Parse("10.0.0.1"), RemoteIp = Ipv4.Parse("10.0.0.2"), Key = 100, HasKey = true }, c);
        // The kind's own port given explicitly is the same config (and written back without it).
        Assert.Equal(c, TunnelSpec.Parse("ge1:geneve,local=10.0.0.1,remote=10.0.0.2,vni=100,dstport=6081"));
        Assert.Equal("ge1:geneve,local=10.0.0.1,remote=10.0.0.2,vni=100", TunnelSpec.Format(c));
        var o = TunnelSpec.Parse("ge1:geneve,local=10.0.0.1,remote=10.0.0.2,vni=flow,csum=TRUE,df=false,dstport=7000");
        Assert.Equal((true, false, true, (ushort)7000), (o.FlowKey, o.DontFragment, o.UdpChecksum, o.DstPort));
        Assert.Null(o.Problem());
    }

    [Theory]
    [InlineData("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100")]
    [InlineData("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=flow,port=7,underlay=1,remote_mac=02:00:00:00:00:02,nexthop=10.0.0.254,local_mac=02:00:00:00:00:01,mac=0e:00:00:00:00:01,dstport=8472,ttl=9,tos=184")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8,key=0")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8,key=flow")]
    [InlineData("i:ipip,local=1.2.3.4,remote=5.6.7.8,inner_src_mac=00:00:00:00:00:01,inner_dst_mac=00:00:00:00:00:02")]
    [InlineData("ge:geneve,local=1.2.3.4,remote=5.6.7.8,vni=16777215")]
    [InlineData("ge:geneve,local=1.2.3.4,remote=5.6.7.8,vni=flow,dstport=4789,ttl=9,tos=184,csum=true,df=false")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8,key=1,df=false")]
    public void CanonicalSpellingRoundTrips(string spec)
    {
        var c = TunnelSpec.Parse(spec);
        Assert.Null(c.Problem());   // what the parser accepts, the datapath takes
        Assert.Equal(spec, TunnelSpec.Format(c));
        Assert.Equal(c, TunnelSpec.Parse(TunnelSpec.Format(c)));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("vx1", "expected NAME:KIND")]
    [InlineData(":vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1", "name before ':' is empty")]
    [InlineData("averyveryverylongname:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1", "longer than 15")]
    [InlineData("t:stt,local=10.0.0.1,remote=10.0.0.2", "unknown tunnel kind 'stt' (expected vxlan, geneve, gre or ipip)")]
    [InlineData("t:geneve,local=10.0.0.1,remote=10.0.0.2", "missing vni=")]
    [InlineData("t:geneve,local=10.0.0.1,remote=10.0.0.2,key=5", "geneve uses vni=")]
    [InlineData("t:gre,local=10.0.0.1,remote=10.0.0.2,csum=true", "csum= is for vxlan and geneve")]
    [InlineData("t:geneve,local=10.0.0.1,remote=10.0.0.2,vni=1,csum=1", "csum='1' is not true or false")]
    [InlineData("t:geneve,local=10.0.0.1,remote=10.0.0.2,vni=1,df=no", "df='no' is not true or false")]
    [InlineData("t:vxlan,remote=10.0.0.2,vni=1", "missing local=")]
    [InlineData("t:vxlan,local=10.0.0.1,vni=1", "missing remote=")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2", "missing vni=")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=16777216", "24 bits")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=-1", "vni='-1'")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,key=5", "vxlan uses vni=")]
    [InlineData("t:gre,local=10.0.0.1,remote=10.0.0.2,vni=5", "gre uses key=")]
    [InlineData("t:gre,local=10.0.0.1,remote=10.0.0.2,key=4294967296", "32 bits")]
    [InlineData("t:ipip,local=10.0.0.1,remote=10.0.0.2,key=1", "ipip has no key")]
    [InlineData("t:gre,local=10.0.0.1,remote=10.0.0.2,dstport=4789", "dstport= is for vxlan")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,inner_src_mac=00:00:00:00:00:01", "inner_src_mac= is for ipip")]
    [InlineData("t:vxlan,local=10.0.0.300,remote=10.0.0.2,vni=1", "local='10.0.0.300' is not an IPv4 address")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.1,vni=1", "same address")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=239.1.1.1,vni=1", "unicast")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,port=0", "port='0'")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,port=65281", "1..65280")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,underlay=x", "underlay='x'")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,remote_mac=02:00", "not a MAC address")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,ttl=0", "ttl='0'")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,dstport=0", "dstport='0'")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,vni=2", "given twice")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,,ttl=3", "empty option")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,fast", "not NAME=VALUE")]
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,gbp=1", "unknown option 'gbp'")]
    public void ErrorsNameTheProblem(string spec, string expect)
    {
        Assert.False(TunnelSpec.TryParse(spec, out _, out var error));
        Assert.Contains(expect, error);
        var e = Assert.Throws<FormatException>(() => TunnelSpec.Parse(spec));
        Assert.Equal(error, e.Message);
    }
}
