using System.Diagnostics;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Xunit.Abstractions;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests;

/// <summary>
/// An idle forwarding thread blocks in the kernel (epoll on its ports' descriptors and a control eventfd) and every
/// arrival wakes it: frames injected at every phase of its going to sleep are forwarded at once, never after the
/// blocked wait's timeout (set to 20 s here, so one lost wake-up fails the test).
/// </summary>
public sealed class WakeupTests(ITestOutputHelper output)
{
    private static readonly MacAddress MacA = MacAddress.Parse("0e:00:00:00:0a:01"), MacB = MacAddress.Parse("0e:00:00:00:0a:02");
    private static readonly byte[] Frame = FrameBuilder.Udp(MacA, MacB, 0x0A000001, 0x0A000002, 1000, 2000);

    private static (SwitchDatapath dp, MemoryPort a, MemoryPort b, Func<long> delivered) Switch(int busyPollMicros, bool addPorts = true)
    {
        var dp = new SwitchDatapath(new DatapathOptions { BusyPollMicros = busyPollMicros, IdleWakeMs = 20_000, PacketInRate = 0 })
        {
            MissBehavior = MissBehavior.Normal,   // an unknown destination floods: port 1 -> port 2
        };
        var a = new MemoryPort("a", MacA);
        var b = new MemoryPort("b", MacB);
        long n = 0;
        b.OnSend = _ => Interlocked.Increment(ref n);
        if (addPorts)
        {
            dp.AddPort(a, 1);
            dp.AddPort(b, 2);
        }
        return (dp, a, b, () => Interlocked.Read(ref n));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    public void EveryFrame_WakesTheSleepingThread_AtAnyPhase(int busyPollMicros)
    {
        var (dp, a, _, delivered) = Switch(busyPollMicros);
        using var _dp = dp;
        dp.Start();
        var waiter = dp.Waiters[0];
        Assert.True(waiter.Blocking, "epoll is unavailable");
        Assert.True(Wait.Until(() => waiter.Sleeps > 0, 5000), "the idle thread never went to sleep");
        var rnd = new Random(7);
        long worst = 0;
        const int Rounds = 1500;
        for (int i = 0; i < Rounds; i++)
        {
            long before = delivered();
            long sleeps = waiter.Sleeps;
            switch (i % 3)
            {
                case 0: Wait.Until(() => waiter.Sleeps > sleeps, 50); break;   // asleep (or about to be)
                case 1: break;                                               // right after the last frame: going to sleep
                default: Thread.SpinWait(rnd.Next(1, 4000)); break;         // anywhere in between
            }
            long t0 = Stopwatch.GetTimestamp();
            a.Inject(Frame);
            Assert.True(Wait.Until(() => delivered() > before, 5000), $"frame {i} was not forwarded within 5 s (lost wake-up)");
            worst = Math.Max(worst, Stopwatch.GetTimestamp() - t0);
        }
        double worstMs = worst * 1000.0 / Stopwatch.Frequency;
        output.WriteLine($"{Rounds} frames, {waiter.Sleeps} sleeps, worst wake-to-forward {worstMs:F2} ms");
        Assert.Equal(Rounds, delivered());
        Assert.True(waiter.Sleeps >= Rounds / 3, $"the thread slept only {waiter.Sleeps} times");
        Assert.True(worstMs < 2000, $"worst latency {worstMs:F1} ms");
    }

    [Fact]
    public void IdleThread_StaysAsleep()
    {
        var (dp, _, _, _) = Switch(50);
        using var _dp = dp;
        dp.Start();
        var waiter = dp.Waiters[0];
        Assert.True(Wait.Until(() => waiter.Sleeps > 0, 5000));
        long s0 = waiter.Sleeps;
        Thread.Sleep(1500);
        // Blocked in epoll_wait (20 s timeout here): no poll rounds, so no CPU, while nothing arrives.
        Assert.True(waiter.Sleeps - s0 <= 1, $"{waiter.Sleeps - s0} wake-ups in 1.5 s of idleness");
    }

    [Fact]
    public void PortAddedWhileAsleep_IsPolledAtOnce_AndStopWakesTheThread()
    {
        var (dp, a, b, delivered) = Switch(0, addPorts: false);
        dp.Start();
        var waiter = dp.Waiters[0];
        Assert.True(Wait.Until(() => waiter.Sleeps > 0, 5000));
        a.Inject(Frame);                 // queued before the port exists
        dp.AddPort(b, 2);
        dp.AddPort(a, 1);
        Assert.True(Wait.Until(() => delivered() == 1, 3000), "the new port was not polled after the control wake-up");
        Assert.True(waiter.ControlWakeups >= 1);
        Assert.True(Wait.Until(() => waiter.Sleeps > 1, 5000));
        var sw = Stopwatch.StartNew();
        dp.Dispose();
        Assert.True(sw.ElapsedMilliseconds < 3000, $"Stop took {sw.ElapsedMilliseconds} ms with the thread asleep");
    }

    [Fact]
    public void TwoThreads_EachSleepsAndWakesOnItsOwnPorts()
    {
        var dp = new SwitchDatapath(new DatapathOptions { Threads = 2, BusyPollMicros = 0, IdleWakeMs = 20_000, PacketInRate = 0 }) { MissBehavior = MissBehavior.Normal };
        using var _dp = dp;
        var ports = new MemoryPort[4];
        long n = 0;
        for (int i = 0; i < 4; i++)
        {
            ports[i] = new MemoryPort($"p{i}", new MacAddress(0x0e0000000b00UL + (ulong)i));
            ports[i].OnSend = _ => Interlocked.Increment(ref n);
            dp.AddPort(ports[i], (ushort)(i + 1));
        }
        dp.Start();
        Assert.True(Wait.Until(() => dp.Waiters[0].Sleeps > 0 && dp.Waiters[1].Sleeps > 0, 5000));
        for (int i = 0; i < 400; i++)
        {
            long before = Interlocked.Read(ref n);
            ports[i % 4].Inject(FrameBuilder.Udp(new MacAddress(0x0e0000000c00UL + (ulong)(i % 4)), MacB, 1, 2, 3, 4));
            Assert.True(Wait.Until(() => Interlocked.Read(ref n) >= before + 3, 5000), $"frame {i} (port {i % 4 + 1}) was not flooded");
        }
        Assert.True(dp.Forwarders[0].Packets > 0 && dp.Forwarders[1].Packets > 0);
    }
}
