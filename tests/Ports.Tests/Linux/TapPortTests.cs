using System.Security.Cryptography;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.Linux;

/// <summary>The TAP backend: the port creates a tap interface, which is then moved into the namespace as the peer.</summary>
public sealed class TapPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    protected override IPort Open(string ifname) => new TapPort(ifname);

    protected override (IPort Port, string PeerIf) OpenFor(Netns ns)
    {
        string name = "ssw" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant() + "t";
        var port = new TapPort(name);
        try
        {
            ns.Adopt(name);   // the tap (and its fd) keeps working from inside the namespace
        }
        catch
        {
            port.Dispose();
            throw;
        }
        return (port, name);
    }

    [NetnsFact]
    public void Receive_AfterAnEmptyRead_SkipsTheSyscall_UntilPrepareWaitRearms()
    {
        using var ns = Netns.Create();
        var (port, peer) = OpenFor(ns);
        using var _ = port;
        var pool = new PacketPool(64);
        Span<int> burst = stackalloc int[Burst.Size];
        Drain(port, pool, burst);   // ends on an empty read: the next receives skip the read

        var frame = MakeFrame(RxType, 1, 100);
        ns.SendFrames([frame], peer);
        var fd = port.WaitFd;
        Assert.True(WaitReadable(fd, TimeSpan.FromSeconds(3)), "the frame never reached the tap");
        for (int i = 0; i < TapPort.EmptyReadSkips; i++)
            Assert.Equal(0, port.Receive(pool, burst));   // the frame waits in the tap meanwhile

        Assert.True(port.PrepareWait());
        int n = port.Receive(pool, burst);
        Assert.True(n >= 1);
        bool found = false;
        for (int i = 0; i < n; i++) found |= frame.AsSpan().SequenceEqual(pool.Frame(burst[i]));
        Assert.True(found, $"{n} frames read, none the one sent");
        pool.Release(burst[..n]);
        Assert.Equal(pool.Capacity, pool.FreeCount);
    }

    [NetnsFact]
    public void Receive_AfterAnEmptyRead_ReadsAgainWithinTheSkipCount()
    {
        using var ns = Netns.Create();
        var (port, peer) = OpenFor(ns);
        using var _ = port;
        var pool = new PacketPool(64);
        Span<int> burst = stackalloc int[Burst.Size];
        Drain(port, pool, burst);
        ns.SendFrames([MakeFrame(RxType, 2, 100)], peer);
        Assert.True(WaitReadable(port.WaitFd, TimeSpan.FromSeconds(3)), "the frame never reached the tap");
        int calls = 0, n = 0;
        while (n == 0 && calls <= TapPort.EmptyReadSkips) { n = port.Receive(pool, burst); calls++; }
        Assert.True(n >= 1);
        Assert.Equal(TapPort.EmptyReadSkips + 1, calls);
        pool.Release(burst[..n]);
    }

    /// <summary>Reads what the tap holds (the kernel may have sent it frames while it was up in this namespace) until a read finds nothing.</summary>
    private static void Drain(IPort port, PacketPool pool, Span<int> burst)
    {
        int n;
        do
        {
            port.PrepareWait();
            n = port.Receive(pool, burst);
            pool.Release(burst[..n]);
        }
        while (n > 0);
    }

    private static unsafe bool WaitReadable(int fd, TimeSpan limit)
    {
        var pfd = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
        return LibC.poll(&pfd, 1, (int)limit.TotalMilliseconds) == 1;
    }

    /// <summary>The address and MTU asked for are the device's before the port describes it (vswitchd's Interface mac
    /// and mtu_request); an MTU the kernel refuses is an open error naming it.</summary>
    [NetnsFact]
    public void Open_WithAMacAndAnMtu_DescribesThem_AndAnMtuTheKernelRefuses_IsAnError()
    {
        string name = $"vrt{Environment.ProcessId % 100000}";
        var mac = new MacAddress(0x02_00_00_00_00_5aUL);
        using (var port = new TapPort(name, mac: mac, mtu: 1400))
        {
            Assert.Equal((mac, 1400), (port.Info.HwAddr, port.Info.Mtu));
            Assert.Equal("1400", File.ReadAllText($"/sys/class/net/{name}/mtu").Trim());
        }
        // Another name: the kernel may still be unregistering the first device, under load.
        var e = Assert.Throws<PortOpenException>(() => new TapPort(name + "m", mtu: 10));
        Assert.Contains("cannot set its MTU to 10", e.Message);
    }

    [Fact]
    public void Open_InvalidName_Throws()
    {
        var e = Assert.Throws<PortOpenException>(() => new TapPort("bad/name"));
        Assert.Equal(PortOpenError.InvalidSpec, e.Error);
    }
}
