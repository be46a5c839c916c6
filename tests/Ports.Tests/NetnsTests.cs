using Softswitch.TestKit;

namespace Softswitch.Ports.Tests;

public sealed class NetnsTests
{
    [NetnsFact]
    public void Dispose_RemovesNamespaceAndVeth()
    {
        string name, host;
        using (var ns = Netns.Create())
        {
            name = ns.Name;
            host = ns.HostIf;
            Assert.True(Netns.Exists(name));
            Assert.True(Directory.Exists($"/sys/class/net/{host}"));
            Assert.Equal("up", File.ReadAllText($"/sys/class/net/{host}/operstate").Trim());
        }
        Assert.False(Netns.Exists(name), $"namespace {name} leaked");
        Assert.False(Directory.Exists($"/sys/class/net/{host}"), $"veth {host} leaked");
    }

    /// <summary>The probe behind <see cref="RequiresLinkTypeAttribute"/>: a type every kernel with namespaces has is
    /// available, an unknown one is a problem in the kernel's own words; the probe namespace does not leak.</summary>
    [NetnsFact]
    public void LinkTypeProbe_TellsAvailableFromMissing()
    {
        var before = Namespaces();
        Assert.Null(TestEnv.LinkTypeProblem("veth"));
        Assert.Contains("nknown device type", TestEnv.LinkTypeProblem("sswnosuchtype"));
        Assert.DoesNotContain(Namespaces().Except(before), n => n.StartsWith("ssw-lt", StringComparison.Ordinal));
    }

    private static string[] Namespaces() => Sh.Run("ip", "netns", "list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToArray();

    [NetnsFact]
    public void LinkUp_FollowsTheVethPeer()
    {
        using var ns = Netns.Create();
        using var port = new Softswitch.Ports.AfPacket.AfPacketPort(ns.HostIf);
        Assert.True(port.LinkUp);
        Assert.Equal(ns.HostIf, port.Info.Name);
        Assert.Equal(File.ReadAllText($"/sys/class/net/{ns.HostIf}/address").Trim(), port.Info.HwAddr.ToString());
        Assert.Equal(1500, port.Info.Mtu);
        Assert.Equal(Datapath.Ports.PortFeatures.Rate10GbFd | Datapath.Ports.PortFeatures.Copper, port.Info.Current); // veth reports 10000 Mb/s
        ns.Exec("ip", "link", "set", ns.NsIf, "down");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (port.LinkUp && sw.ElapsedMilliseconds < 2000) Thread.Sleep(10);
        Assert.False(port.LinkUp);
        ns.Exec("ip", "link", "set", ns.NsIf, "up");
        sw.Restart();
        while (!port.LinkUp && sw.ElapsedMilliseconds < 2000) Thread.Sleep(10);
        Assert.True(port.LinkUp);
    }
}
