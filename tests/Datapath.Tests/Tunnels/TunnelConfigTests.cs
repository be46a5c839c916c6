using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath.Tests.Tunnels;

public sealed class TunnelConfigTests
{
    [Fact]
    public void ParsesTheFullVxlanSpec()
    {
        var c = TunnelConfig.Parse("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100,port=5,underlay=3,remote_mac=02:00:00:00:00:02,local_mac=02:00:00:00:00:01,dstport=8472,ttl=32");
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
    public void Defaults()
    {
        var c = TunnelConfig.Parse("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100");
        Assert.Equal((ushort)4789, c.DstPort);
        Assert.Equal((byte)64, c.Ttl);
        Assert.Equal((byte)0, c.Tos);
        Assert.Equal((ushort)0, c.PortNo);
        Assert.Equal((ushort)0, c.Underlay);
        Assert.Null(c.RemoteMac);
        Assert.Null(c.LocalMac);
        Assert.True((c.PortMac.Value >> 40 & 0x02) != 0, "locally administered");
        Assert.False(c.PortMac.IsMulticast);

        var g = TunnelConfig.Parse("g:gre,local=10.0.0.1,remote=10.0.0.2");
        Assert.False(g.HasKey);
        var gk = TunnelConfig.Parse("g:GRETAP,local=10.0.0.1,remote=10.0.0.2,key=0xffffffff");
        Assert.True(gk.HasKey);
        Assert.Equal(0xFFFF_FFFFu, gk.Key);

        var i = TunnelConfig.Parse("ip:ipip,local=10.0.0.1,remote=10.0.0.2,mac=0a:00:00:00:00:0a,nexthop=10.0.0.254");
        Assert.Equal(MacAddress.Parse("0a:00:00:00:00:0a"), i.InnerSource);
        Assert.Equal(MacAddress.Broadcast, i.InnerDestination);
        Assert.Equal(Ipv4.Parse("10.0.0.254"), i.NextHopIp);
        var i2 = TunnelConfig.Parse("ip:ipip,local=10.0.0.1,remote=10.0.0.2,inner_src_mac=00:00:00:00:00:01,inner_dst_mac=00:00:00:00:00:02");
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:01"), i2.InnerSource);
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:02"), i2.InnerDestination);

        var f = TunnelConfig.Parse("vx:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=flow");
        Assert.True(f.FlowKey);
        Assert.False(f.HasKey);
    }

    [Theory]
    [InlineData("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100")]
    [InlineData("vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=flow,port=7,underlay=1,remote_mac=02:00:00:00:00:02,nexthop=10.0.0.254,local_mac=02:00:00:00:00:01,mac=0e:00:00:00:00:01,dstport=8472,ttl=9,tos=184")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8,key=0")]
    [InlineData("g:gre,local=1.2.3.4,remote=5.6.7.8,key=flow")]
    [InlineData("i:ipip,local=1.2.3.4,remote=5.6.7.8,inner_src_mac=00:00:00:00:00:01,inner_dst_mac=00:00:00:00:00:02")]
    public void CanonicalSpellingRoundTrips(string spec)
    {
        var c = TunnelConfig.Parse(spec);
        Assert.Equal(spec, c.ToString());
        Assert.Equal(c, TunnelConfig.Parse(c.ToString()));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("vx1", "expected NAME:KIND")]
    [InlineData(":vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1", "name before ':' is empty")]
    [InlineData("averyveryverylongname:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1", "longer than 15")]
    [InlineData("t:geneve,local=10.0.0.1,remote=10.0.0.2", "unknown tunnel kind 'geneve'")]
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
    [InlineData("t:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=1,csum=1", "unknown option 'csum'")]
    public void ErrorsNameTheProblem(string spec, string expect)
    {
        Assert.False(TunnelConfig.TryParse(spec, out _, out var error));
        Assert.Contains(expect, error);
        var e = Assert.Throws<FormatException>(() => TunnelConfig.Parse(spec));
        Assert.Equal(error, e.Message);
    }

    [Fact]
    public void PortMtuIsTheUnderlayMinusTheOverhead()
    {
        // Linux defaults over a 1500-byte underlay: vxlan 1450, gretap 1462 (1458 with a key), ipip 1480.
        Assert.Equal(50, TunnelHeader.InnerOverhead(TunnelConfig.Parse("t:vxlan,local=1.1.1.1,remote=2.2.2.2,vni=1")));
        Assert.Equal(38, TunnelHeader.InnerOverhead(TunnelConfig.Parse("t:gre,local=1.1.1.1,remote=2.2.2.2")));
        Assert.Equal(42, TunnelHeader.InnerOverhead(TunnelConfig.Parse("t:gre,local=1.1.1.1,remote=2.2.2.2,key=1")));
        Assert.Equal(42, TunnelHeader.InnerOverhead(TunnelConfig.Parse("t:gre,local=1.1.1.1,remote=2.2.2.2,key=flow")));
        Assert.Equal(20, TunnelHeader.InnerOverhead(TunnelConfig.Parse("t:ipip,local=1.1.1.1,remote=2.2.2.2")));
    }
}
