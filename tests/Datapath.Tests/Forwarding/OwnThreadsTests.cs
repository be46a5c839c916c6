using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A datapath without shared threads runs the one poll loop (<see cref="ForwardingThreads"/>) with itself as the only
/// member: its threads sleep in its own waiters, stop with it and start again, and forwarding allocates nothing on them.
/// Runs in the shared threads' collection, as their tests do.
/// </summary>
[Collection(nameof(SharedThreadsCollection))]
public sealed class OwnThreadsTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("0e:00:00:00:0c:01"), MacB = MacAddress.Parse("0e:00:00:00:0c:02");
    private static readonly byte[] Frame = FrameBuilder.Udp(MacA, MacB, 0x0A000001, 0x0A000002, 1000, 2000);

    private static (SwitchDatapath Dp, MemoryPort A, Func<long> Delivered) Switch(int threads)
    {
        var dp = new SwitchDatapath(new DatapathOptions { Threads = threads, PacketInRate = 0, IdleWakeMs = 50 })
        {
            MissBehavior = MissBehavior.Normal,   // an unknown destination floods: port 1 -> port 2
        };
        var a = new MemoryPort("a", MacA);
        var b = new MemoryPort("b", MacB);
        long n = 0;
        b.OnSend = _ => Interlocked.Increment(ref n);
        dp.AddPort(a, 1);
        dp.AddPort(b, 2);
        return (dp, a, () => Interlocked.Read(ref n));
    }

    [Fact]
    public void OwnThreads_AreOneForwardingThreadsSet_ThatStopsWithTheDatapath_AndStartsAgain()
    {
        var (dp, a, delivered) = Switch(2);
        using (dp)
        {
            Assert.Null(dp.OwnThreads);
            for (int run = 1; run <= 2; run++)
            {
                dp.Start();
                var own = dp.OwnThreads;
                Assert.NotNull(own);
                Assert.Equal(1, own.Attached);
                Assert.Equal(2, own.Count);
                Assert.Same(dp.Waiters[0], own.Waiters[0]);   // the datapath's waiters: their counters outlive a stop
                Assert.Same(dp.Balancer, own.Balancer);
                // This set's own threads (other test classes' datapaths run fwd- threads of their own meanwhile).
                Assert.Equal(2, own.LiveThreads);
                a.Inject(Frame);
                Assert.True(Wait.Until(() => delivered() == run, 5000), $"run {run}: the frame was not forwarded");
                Assert.True(Wait.Until(() => dp.Waiters.Sum(w => w.Sleeps) > 0, 5000), "the threads never slept in the datapath's waiters");
                dp.Stop();
                Assert.Null(dp.OwnThreads);
                Assert.Equal(0, own.Attached);
                Assert.True(Wait.Until(() => own.LiveThreads == 0, 5000), $"{own.LiveThreads} of the stopped set's threads still run");
            }
        }
    }

    [Fact]
    public void ForwardingOnOwnThreads_AllocatesNothingPerPacket()
    {
        using var r = new DatapathRig(2, new DatapathOptions { Threads = 1, EmcEntries = 1024, PacketInRate = 0, IdleWakeMs = 50 }, capture: false);
        r.Insert(0, FlowMatch.All, 0, [FlowAction.Output(2)]);
        var dp = r.Dp;
        dp.Start();
        var own = dp.OwnThreads!;
        var waiter = dp.Waiters[0];
        const int Burst = 2000;
        long sent = 0, least = long.MaxValue;
        // The thread's allocation count is read as it is about to block: one reading after a burst is forwarded and
        // the thread went to sleep twice more (so the reading is later than the burst), one after the next burst; the
        // least of several bursts (the first ones tier the code up).
        long Settled()
        {
            long sleeps = waiter.Sleeps;
            Assert.True(Wait.Until(() => waiter.Sleeps > sleeps + 1, 10_000), "the forwarding thread did not go back to sleep");
            return own.AllocatedBytes(0);
        }
        for (int round = 0; round < 8 && least != 0; round++)
        {
            long start = Settled();
            for (int i = 0; i < Burst; i++) r.Port(1).Inject(Frame);
            sent += Burst;
            Assert.True(Wait.Until(() => r.Port(2).Counters.TxPackets == sent, 10_000), $"round {round}: {r.Port(2).Counters.TxPackets} of {sent} forwarded");
            least = Math.Min(least, Settled() - start);
        }
        Assert.True(least == 0, $"the forwarding thread allocated {least} bytes for {Burst} packets ({(double)least / Burst:F3} B/packet)");
    }
}
