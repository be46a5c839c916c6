using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.Patch;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests.Patch;

/// <summary>
/// Patch ports: two switches joined in user space. A frame from a host on one switch reaches a host on the other
/// through the patch (both switches learning, on one shared forwarding thread asleep between frames); ends connect
/// only to an end that names them back; closing an end takes both links down, and a new end with its name brings
/// them up again; a full ring drops and counts.
/// </summary>
public sealed class PatchPortTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("0e:00:00:00:0c:01"), MacB = MacAddress.Parse("0e:00:00:00:0c:02");
    private static readonly byte[] Frame = FrameBuilder.Udp(MacA, MacB, 0x0A000001, 0x0A000002, 1000, 2000);

    [Fact]
    public void AFrame_CrossesThePatch_BetweenTwoSwitches()
    {
        var panel = new PatchPanel();
        using var threads = new ForwardingThreads(1, busyPollMicros: 0, idleWakeMs: 20_000);
        using var sw1 = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, sharedThreads: threads) { MissBehavior = MissBehavior.Normal };
        using var sw2 = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, sharedThreads: threads) { MissBehavior = MissBehavior.Normal };
        var hostA = new MemoryPort("a", MacA);
        var hostB = new MemoryPort("b", MacB);
        long atB = 0;
        hostB.OnSend = f => { if (f.SequenceEqual(Frame)) Interlocked.Increment(ref atB); };
        sw1.AddPort(hostA, 1);
        sw1.AddPort(panel.Open("p1", "p2", MacAddress.Parse("02:00:00:00:0c:11")), 2);
        sw2.AddPort(panel.Open("p2", "p1", MacAddress.Parse("02:00:00:00:0c:12")), 1);
        sw2.AddPort(hostB, 2);
        sw1.Start();
        sw2.Start();
        sw1.NotifyLinkChange();   // the first end's link came up when the second was opened
        Assert.True(Wait.Until(() => sw1.Ports.Get(2)!.LinkUp, 5000), "the patch's link never came up");
        Assert.True(Wait.Until(() => threads.Waiters[0].Sleeps > 0, 5000), "the idle thread never slept");
        for (int i = 1; i <= 20; i++)
        {
            hostA.Inject(Frame);
            int want = i;
            Assert.True(Wait.Until(() => Interlocked.Read(ref atB) >= want, 5000), $"frame {i} did not cross the patch: a rx {hostA.Counters.RxPackets}, p1 tx {sw1.Ports.Get(2)!.Port.Counters.TxPackets} drop {sw1.Ports.Get(2)!.Port.Counters.TxDropped}, p2 rx {sw2.Ports.Get(1)!.Port.Counters.RxPackets}, b tx {hostB.Counters.TxPackets}");
        }
        Assert.Equal(20, sw2.Ports.Get(1)!.Port.Counters.RxPackets);
    }

    [Fact]
    public void Ends_ConnectByName_AndAClosedEndTakesBothLinksDown()
    {
        var panel = new PatchPanel();
        var mac = MacAddress.Parse("02:00:00:00:0c:21");
        using var x = panel.Open("x", "y", mac);
        Assert.False(x.LinkUp);   // no y yet
        using var stranger = panel.Open("z", "x", mac);
        Assert.False(x.LinkUp);   // z names x, but x names y
        var y = panel.Open("y", "x", mac);
        Assert.True(x.LinkUp && y.LinkUp);
        Assert.Same(y, x.Peer);
        panel.Close(y);
        y.Dispose();
        Assert.False(x.LinkUp);
        using var y2 = panel.Open("y", "x", mac);
        Assert.True(x.LinkUp && y2.LinkUp);
        Assert.Throws<ArgumentException>(() => panel.Open("y", "x", mac));
        Assert.Throws<ArgumentException>(() => panel.Open("w", "", mac));
        Assert.Throws<ArgumentException>(() => panel.Open("w", "w", mac));
    }

    [Fact]
    public void AFullRing_DropsAndCounts()
    {
        var panel = new PatchPanel();
        var mac = MacAddress.Parse("02:00:00:00:0c:31");
        using var a = panel.Open("a", "b", mac);
        using var b = panel.Open("b", "a", mac);
        var pool = new PacketPool(PatchPort.Slots + 64);
        Span<int> pkts = stackalloc int[32];
        int sent = 0;
        while (sent < PatchPort.Slots + 32)
        {
            int n = pool.Alloc(pkts);
            for (int i = 0; i < n; i++) Assert.True(pool.Write(pkts[i], Frame));
            a.Send(pool, pkts[..n]);
            pool.Release(pkts[..n]);
            sent += n;
        }
        Assert.Equal(PatchPort.Slots, a.Counters.TxPackets);
        Assert.Equal(sent - PatchPort.Slots, a.Counters.TxDropped);
        int got = 0, r;
        while ((r = b.Receive(pool, pkts)) > 0)
        {
            foreach (int p in pkts[..r]) Assert.True(pool.Frame(p).SequenceEqual(Frame));
            pool.Release(pkts[..r]);
            got += r;
        }
        Assert.Equal(PatchPort.Slots, got);
    }
}
