using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Tunnels;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Tunnels;

/// <summary>The config record's defaults and derived values (its text form is the host's, tested there).</summary>
public sealed class TunnelConfigTests
{
    private static readonly uint Local = Ipv4.Parse("10.0.0.1"), Remote = Ipv4.Parse("10.0.0.2");

    [Fact]
    public void Defaults()
    {
        var c = new TunnelConfig { Name = "vx1", Kind = TunnelKind.Vxlan, LocalIp = Local, RemoteIp = Remote, Key = 100, HasKey = true };
        Assert.Equal((ushort)4789, c.DstPort);
        Assert.Equal((ushort)6081, (c with { Kind = TunnelKind.Geneve }).DstPort);   // unset: the kind's port
        Assert.Equal((ushort)8472, (c with { Kind = TunnelKind.Geneve, DstPort = 8472 }).DstPort);
        Assert.True(c.DontFragment);
        Assert.False(c.UdpChecksum);
        Assert.Equal((byte)64, c.Ttl);
        Assert.Equal((byte)0, c.Tos);
        Assert.Equal((ushort)0, c.PortNo);
        Assert.Equal((ushort)0, c.Underlay);
        Assert.Null(c.RemoteMac);
        Assert.Null(c.LocalMac);
        Assert.Equal(Remote, c.NextHopIp);
        Assert.True((c.PortMac.Value >> 40 & 0x02) != 0, "locally administered");
        Assert.False(c.PortMac.IsMulticast);
        Assert.Equal(TunnelConfig.DefaultPortMac(Local, Remote, 100), c.PortMac);
        Assert.NotEqual(c.PortMac, (c with { Key = 101 }).PortMac);

        var i = TestTunnels.Ipip("ip", Local, Remote) with { Mac = MacAddress.Parse("0a:00:00:00:00:0a"), NextHop = Ipv4.Parse("10.0.0.254") };
        Assert.Equal(MacAddress.Parse("0a:00:00:00:00:0a"), i.PortMac);
        Assert.Equal(MacAddress.Parse("0a:00:00:00:00:0a"), i.InnerSource);
        Assert.Equal(MacAddress.Broadcast, i.InnerDestination);
        Assert.Equal(Ipv4.Parse("10.0.0.254"), i.NextHopIp);
        var i2 = TestTunnels.Ipip("ip", Local, Remote) with { InnerSrcMac = MacAddress.Parse("00:00:00:00:00:01"), InnerDstMac = MacAddress.Parse("00:00:00:00:00:02") };
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:01"), i2.InnerSource);
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:02"), i2.InnerDestination);
        Assert.Equal(i2.PortMac, TestTunnels.Ipip("ip", Local, Remote).InnerSource);
    }

    [Fact]
    public void PortMtuIsTheUnderlayMinusTheOverhead()
    {
        // Linux defaults over a 1500-byte underlay: vxlan 1450, gretap 1462 (1458 with a key), ipip 1480.
        uint a = Ipv4.Parse("1.1.1.1"), b = Ipv4.Parse("2.2.2.2");
        Assert.Equal(50, TunnelHeader.InnerOverhead(TestTunnels.Vxlan("t", a, b, 1)));
        Assert.Equal(38, TunnelHeader.InnerOverhead(TestTunnels.Gre("t", a, b)));
        Assert.Equal(42, TunnelHeader.InnerOverhead(TestTunnels.Gre("t", a, b, key: 1)));
        Assert.Equal(42, TunnelHeader.InnerOverhead(TestTunnels.FlowKeyed(TunnelKind.Gre, "t", a, b)));
        Assert.Equal(20, TunnelHeader.InnerOverhead(TestTunnels.Ipip("t", a, b)));
    }

    [Fact]
    public void InconsistentConfigsNameTheirProblem_AndTheRegistryRefusesThem()
    {
        var ok = TestTunnels.Vxlan("t", Local, Remote, 1);
        Assert.Null(ok.Problem());
        Assert.Null(TestTunnels.Gre("t", Local, Remote).Problem());
        Assert.Null(TestTunnels.FlowKeyed(TunnelKind.Gre, "t", Local, Remote).Problem());
        Assert.Null(TestTunnels.FlowKeyed(TunnelKind.Vxlan, "t", Local, Remote).Problem());
        Assert.Null((ok with { Key = TunnelConfig.MaxVni }).Problem());
        (TunnelConfig Config, string Expect)[] cases =
        [
            (ok with { Name = "" }, "1 to 15 characters"),
            (ok with { Name = "averyveryverylongname" }, "1 to 15 characters"),
            (ok with { Kind = (TunnelKind)7 }, "unknown tunnel kind 7"),
            (ok with { RemoteIp = Ipv4.Parse("239.1.1.1") }, "must be unicast"),
            (ok with { LocalIp = 0 }, "must be unicast"),
            (ok with { RemoteIp = 0xFFFF_FFFF }, "must be unicast"),
            (ok with { RemoteIp = Local }, "same address 10.0.0.1"),
            (ok with { FlowKey = true }, "a fixed key and a flow key"),
            (ok with { HasKey = false }, "needs a VNI or a flow key"),
            (ok with { Key = TunnelConfig.MaxVni + 1 }, "VNI 16777216 does not fit 24 bits"),
            (TestTunnels.Ipip("t", Local, Remote) with { Key = 5, HasKey = true }, "has no key"),
            (TestTunnels.Ipip("t", Local, Remote) with { FlowKey = true }, "has no key"),
            (ok with { DstPort = 0 }, "UDP destination port 0"),
            (ok with { Ttl = 0 }, "outer TTL 0"),
            (TestTunnels.Geneve("t", Local, Remote, 1) with { DstPort = 0 }, "UDP destination port 0"),
            (TestTunnels.Geneve("t", Local, Remote, 1) with { HasKey = false }, "a Geneve tunnel needs a VNI or a flow key"),
            (TestTunnels.Gre("t", Local, Remote) with { UdpChecksum = true }, "a UDP checksum on a tunnel that is not carried in UDP"),
        ];
        using var dp = new SwitchDatapath();
        dp.AddPort(new MemoryPort("u", TunnelGoldenTests.UnderA));
        foreach (var (config, expect) in cases)
        {
            Assert.Contains(expect, config.Problem());
            var e = Assert.Throws<DatapathConfigurationException>(() => dp.Tunnels.Add(config));
            Assert.Contains(expect, e.Message);
        }
        Assert.Empty(dp.Tunnels.List);
        Assert.Single(dp.Ports.List);
        Assert.Equal((ushort)2, dp.Tunnels.Add(ok).Slot!.No);
    }
}
