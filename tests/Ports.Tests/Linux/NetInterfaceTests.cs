using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests.Linux;

/// <summary>An interface's ifindex asked of the kernel as the port re-opener polls it: right, and without allocating.</summary>
public sealed class NetInterfaceTests
{
    [Fact]
    public void CurrentIndexIsTheKernelsIfindexAndZeroForAMissingName()
    {
        // Every network namespace has lo; its ifindex is the one /sys shows.
        int sys = int.Parse(File.ReadAllText("/sys/class/net/lo/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var lo = NetInterface.IfrName("lo");
        Assert.Equal(LibC.IFNAMSIZ, lo.Length);
        Assert.Equal(sys, NetInterface.CurrentIndex(lo));
        Assert.Equal(0, NetInterface.CurrentIndex(NetInterface.IfrName("gc2-nosuchif")));
        Assert.Throws<PortOpenException>(() => NetInterface.IfrName("a/b"));

        NetInterface.CurrentIndex(lo);
        Assert.Equal(0, AllocationMeter.SteadyState(() => { for (int i = 0; i < 1000; i++) NetInterface.CurrentIndex(lo); }));
    }

    [Fact]
    public void CurrentFlagsAreTheKernelsFlagsAndMinusOneForAMissingName()
    {
        // lo's flags: every one /sys shows (the device's own), and the kernel's volatile ones (IFF_RUNNING) besides.
        int sys = Convert.ToInt32(File.ReadAllText("/sys/class/net/lo/flags").Trim(), 16) & 0xFFFF;
        var lo = NetInterface.IfrName("lo");
        Assert.Equal(sys, NetInterface.CurrentFlags(lo) & sys);
        Assert.NotEqual(0, NetInterface.CurrentFlags(lo) & 0x8);   // IFF_LOOPBACK
        Assert.Equal(-1, NetInterface.CurrentFlags(NetInterface.IfrName("ia-nosuchif")));

        NetInterface.CurrentFlags(lo);
        Assert.Equal(0, AllocationMeter.SteadyState(() => { for (int i = 0; i < 1000; i++) NetInterface.CurrentFlags(lo); }));
    }

    /// <summary>
    /// A veth's link modes as its driver reports them through ethtool (10000 Mbit/s full duplex on twisted pair, no
    /// supported or advertised modes), also while it is administratively down, when sysfs refuses to tell its speed:
    /// the port description then says 10GB-FD COPPER, as Open vSwitch shows the same interface.
    /// </summary>
    [NetnsFact]
    public void LinkModesAreTheDriversAlsoWhileTheLinkIsDown()
    {
        using var veth = VethPair.Create();
        Sh.Check("ip", "link", "set", veth.A, "down");
        Assert.False(File.Exists($"/sys/class/net/{veth.A}/speed") && TryRead($"/sys/class/net/{veth.A}/speed") is not null, "sysfs told a down link's speed");
        var nic = NetInterface.Open(veth.A);
        Assert.Equal((PortFeatures.Rate10GbFd | PortFeatures.Copper, PortFeatures.None, PortFeatures.None), nic.LinkModes());
        var info = nic.ToPortInfo();
        Assert.Equal(PortFeatures.Rate10GbFd | PortFeatures.Copper, info.Current);
        Assert.Equal(PortFeatures.None, info.Supported);
        Assert.Null(NetInterface.Open("lo").LinkModes());
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
