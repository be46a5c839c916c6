using Softswitch.Ports.Linux;

namespace Softswitch.Ports.Tests;

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
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) NetInterface.CurrentIndex(lo);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
