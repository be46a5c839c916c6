using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Many datapaths served by one set of forwarding threads (<see cref="ForwardingThreads"/>): no datapath starts a
/// thread of its own, every one forwards, an idle set sleeps in the kernel and wakes for a frame on any datapath, and a
/// datapath stopped is no longer polled while the others go on. Only the set's own threads are counted
/// (<see cref="ForwardingThreads.LiveThreads"/>, <see cref="ForwardingThreads.LiveHelperThreads"/>): other test classes'
/// datapaths run threads of their own meanwhile.
/// </summary>
[Collection(nameof(SharedThreadsCollection))]
public sealed class SharedThreadsTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("0e:00:00:00:0b:01"), MacB = MacAddress.Parse("0e:00:00:00:0b:02");
    private static readonly byte[] Frame = FrameBuilder.Udp(MacA, MacB, 0x0A000001, 0x0A000002, 1000, 2000);

    private sealed record Sw(SwitchDatapath Dp, MemoryPort A, Func<long> Delivered);

    private static Sw Switch(ForwardingThreads shared)
    {
        var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, sharedThreads: shared)
        {
            MissBehavior = MissBehavior.Normal,   // an unknown destination floods: port 1 -> port 2
        };
        var a = new MemoryPort("a", MacA);
        var b = new MemoryPort("b", MacB);
        long n = 0;
        b.OnSend = _ => Interlocked.Increment(ref n);
        dp.AddPort(a, 1);
        dp.AddPort(b, 2);
        return new Sw(dp, a, () => Interlocked.Read(ref n));
    }

    [Fact]
    public void FifteenDatapaths_OnTwoSharedThreads_AllForward_AndAStoppedOneIsLeft()
    {
        using var shared = new ForwardingThreads(2, busyPollMicros: 0, idleWakeMs: 20_000);
        var switches = Enumerable.Range(0, 15).Select(_ => Switch(shared)).ToList();
        try
        {
            foreach (var s in switches) s.Dp.Start();
            Assert.Equal(15, shared.Attached);
            Assert.All(switches, s => Assert.Equal(2, s.Dp.Forwarders.Count));
            // The set's own two threads forward for all fifteen, and no datapath runs a set of its own (other test
            // classes' datapaths run threads of their own meanwhile: only this set's are counted).
            Assert.Equal(2, shared.LiveThreads);
            Assert.All(switches, s => Assert.Null(s.Dp.OwnThreads));

            // Idle: both threads asleep in the kernel (a 20 s timeout, so a lost wake-up fails below).
            Assert.True(Wait.Until(() => shared.Waiters.All(w => w.Sleeps > 0), 5000), "an idle shared thread never slept");
            for (int round = 0; round < 20; round++)
            {
                var s = switches[round % switches.Count];
                long was = s.Delivered();
                s.A.Inject(Frame);
                Assert.True(Wait.Until(() => s.Delivered() > was, 5000), $"round {round}: datapath {round % switches.Count} did not forward within 5 s");
            }

            // One stopped and disposed (its ports with it): the rest still forward.
            var gone = switches[3];
            gone.Dp.Dispose();
            switches.RemoveAt(3);
            Assert.Equal(14, shared.Attached);
            foreach (var s in switches)
            {
                long was = s.Delivered();
                for (int i = 0; i < 10; i++) s.A.Inject(Frame);
                Assert.True(Wait.Until(() => s.Delivered() >= was + 10, 5000), "a datapath stopped forwarding after another was removed");
            }
        }
        finally
        {
            foreach (var s in switches) s.Dp.Dispose();
        }
        Assert.Equal(0, shared.Attached);
    }

    private sealed class MaintenanceCount : IDatapathEvents
    {
        public int Rounds;
        public void OnMaintenanceStarting() => Interlocked.Increment(ref Rounds);
    }

    [Fact]
    public void FifteenDatapaths_ShareOneMaintenanceThreadAndOneUpcallPump_EachStillMaintainedAndHeard()
    {
        using var shared = new ForwardingThreads(1, busyPollMicros: 0, idleWakeMs: 20_000);
        var dps = new List<SwitchDatapath>();
        var maintenance = new List<MaintenanceCount>();
        var heard = new long[15];
        try
        {
            for (int i = 0; i < 15; i++)
            {
                var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, IdleMaintenanceInterval = TimeSpan.FromMilliseconds(20) }, sharedThreads: shared)
                {
                    MissBehavior = MissBehavior.Controller,
                };
                dp.AddPort(new MemoryPort("a", MacA), 1);
                var m = new MaintenanceCount();
                dp.Subscribe(m);
                int idx = i;
                dp.Start();
                shared.Upcalls.Add(dp, (in Upcall _) => Interlocked.Increment(ref heard[idx]));
                dps.Add(dp);
                maintenance.Add(m);
            }
            // The shared set's one maintenance thread and one upcall pump serve all fifteen, and no datapath runs a set
            // of its own (only this set's threads are counted: other test classes' datapaths run their own meanwhile).
            Assert.Equal(1, shared.LiveThreads);
            Assert.Equal(2, shared.LiveHelperThreads);
            Assert.All(dps, dp => Assert.Null(dp.OwnThreads));
            Assert.True(Wait.Until(() => maintenance.All(m => Volatile.Read(ref m.Rounds) >= 2), 5000), "a datapath's maintenance never ran on the shared thread");

            // A miss on each datapath reaches that datapath's consumer, and only it.
            for (int i = 0; i < dps.Count; i++)
            {
                ((MemoryPort)dps[i].Ports.Get(1)!.Port).Inject(Frame);
                int idx = i;
                Assert.True(Wait.Until(() => Interlocked.Read(ref heard[idx]) == 1, 5000), $"datapath {i}'s upcall was not pumped");
            }
            Assert.All(heard, n => Assert.Equal(1, n));

            // A consumer removed hears nothing more; the others still do.
            shared.Upcalls.Remove(dps[0]);
            ((MemoryPort)dps[0].Ports.Get(1)!.Port).Inject(Frame);
            ((MemoryPort)dps[1].Ports.Get(1)!.Port).Inject(Frame);
            Assert.True(Wait.Until(() => Interlocked.Read(ref heard[1]) == 2, 5000), "datapath 1's second upcall was not pumped");
            Assert.Equal(1, Interlocked.Read(ref heard[0]));
        }
        finally
        {
            foreach (var dp in dps)
            {
                shared.Upcalls.Remove(dp);
                dp.Dispose();
            }
        }
        // Stopped datapaths are maintained no more.
        int[] rounds = [.. maintenance.Select(m => Volatile.Read(ref m.Rounds))];
        Thread.Sleep(100);
        Assert.Equal(rounds, maintenance.Select(m => Volatile.Read(ref m.Rounds)));
    }

    [Fact]
    public void FifteenIdleDatapaths_Settled_TheirThreadsAllocateNothingPerRound()
    {
        // Short idle waits and maintenance intervals, so a few seconds hold a hundred rounds of each thread.
        using var shared = new ForwardingThreads(2, busyPollMicros: 0, idleWakeMs: 20);
        var switches = new List<Sw>();
        var maintenance = new List<MaintenanceCount>();
        try
        {
            for (int i = 0; i < 15; i++)
            {
                var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, IdleMaintenanceInterval = TimeSpan.FromMilliseconds(20) }, sharedThreads: shared)
                {
                    MissBehavior = MissBehavior.Normal,
                };
                var a = new MemoryPort("a", MacA);
                var b = new MemoryPort("b", MacB);
                long n = 0;
                b.OnSend = _ => Interlocked.Increment(ref n);
                dp.AddPort(a, 1);
                dp.AddPort(b, 2);
                var m = new MaintenanceCount();
                dp.Subscribe(m);
                dp.Start();
                switches.Add(new Sw(dp, a, () => Interlocked.Read(ref n)));
                maintenance.Add(m);
            }
            // Each datapath forwards once (its lazily made state is made), then the set settles.
            foreach (var s in switches)
            {
                s.A.Inject(Frame);
                Assert.True(Wait.Until(() => s.Delivered() == 1, 5000), "a datapath did not forward");
            }
            Thread.Sleep(1000);

            long[] before = [.. Enumerable.Range(0, shared.Count + 1).Select(shared.AllocatedBytes)];
            long[] sleeps = [.. shared.Waiters.Select(w => w.Sleeps)];
            int[] rounds = [.. maintenance.Select(m => Volatile.Read(ref m.Rounds))];
            // At least ten rounds of every thread and of every datapath's maintenance: about 200 ms at 20 ms each on a
            // quiet machine; a loaded one gets longer (a count, not a rate: the wait ends as soon as the rounds are in).
            bool Went() => Enumerable.Range(0, shared.Count).All(i => shared.Waiters[i].Sleeps - sleeps[i] >= 10)
                && Enumerable.Range(0, maintenance.Count).All(i => Volatile.Read(ref maintenance[i].Rounds) - rounds[i] >= 10);
            Thread.Sleep(2000);
            bool went = Wait.Until(Went, 30_000);
            long[] after = [.. Enumerable.Range(0, shared.Count + 1).Select(shared.AllocatedBytes)];

            // The threads went round (woken by their 20 ms waits), and each datapath was maintained, meanwhile.
            for (int i = 0; i < shared.Count; i++) Assert.True(shared.Waiters[i].Sleeps - sleeps[i] >= 10, $"fwd-{i} slept {shared.Waiters[i].Sleeps - sleeps[i]} times in 30 s");
            for (int i = 0; i < maintenance.Count; i++) Assert.True(Volatile.Read(ref maintenance[i].Rounds) - rounds[i] >= 10, $"datapath {i} was maintained {Volatile.Read(ref maintenance[i].Rounds) - rounds[i]} times in 30 s");
            Assert.True(went);
            for (int i = 0; i <= shared.Count; i++)
            {
                string who = i < shared.Count ? $"fwd-{i}" : "dp-maint";
                Assert.True(before[i] > 0, $"{who} never said what it allocated");
                Assert.True(after[i] == before[i], $"{who} allocated {after[i] - before[i]} bytes in 2 s idle");
            }
        }
        finally
        {
            foreach (var s in switches) s.Dp.Dispose();
        }
    }

    [Fact]
    public void Start_Attaches_AndStop_Detaches()
    {
        using var shared = new ForwardingThreads(1, busyPollMicros: 0);
        using var dp = new SwitchDatapath(sharedThreads: shared);
        Assert.Single(dp.Forwarders);
        dp.Start();
        Assert.Equal(1, shared.Attached);
        dp.Stop();
        Assert.Equal(0, shared.Attached);
    }

    /// <summary>
    /// Two datapaths on one shared thread keep their exact-match entries in the thread's one cache, and neither ever
    /// takes the other's: the same frame on the same in_port (an identical key and hash, so the same set) matches an
    /// exact rule that outputs to port 2 in one switch and to port 3 in the other, frame after frame, each from its own
    /// cache entry. Driven on the test thread (the datapaths are not started, so the shared thread never polls them).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TwoDatapaths_OnOneSharedThread_NeverTakeEachOthersCacheEntry(bool multiStage)
    {
        using var shared = new ForwardingThreads(1, busyPollMicros: 0, idleWakeMs: 20_000);
        var options = new DatapathOptions { PacketInRate = 0 };
        using var a = new Softswitch.TestKit.DatapathRig(3, options, sharedThreads: shared);
        using var b = new Softswitch.TestKit.DatapathRig(3, options, sharedThreads: shared);
        Assert.True(a.Fwd.Cache!.SharesSlotsWith(b.Fwd.Cache!), "one cache's slots for both switches");
        PacketParser.Parse(Frame, 1, out var key, out _);
        var exact = FlowMatch.Exact(key);
        a.Insert(0, exact, 100, [FlowAction.Output(2)]);
        b.Insert(0, exact, 100, [FlowAction.Output(3)]);
        if (multiStage)
        {
            // A later stage makes every switch classify through verdicts, which the cache holds as well.
            a.Insert(1, FlowMatch.All, 1, []);
            b.Insert(1, FlowMatch.All, 1, []);
        }
        for (int round = 0; round < 4; round++)
        {
            a.Send(1, Frame);
            Assert.Single(a.Sent(2));
            Assert.Empty(a.Sent(3));
            b.Send(1, Frame);
            b.Send(1, Frame);
            Assert.Equal(2, b.Sent(3).Count);
            Assert.Empty(b.Sent(2));
        }
        // Every frame after each switch's first came from its own entry; each inserted its own once.
        Assert.Equal(3, a.Fwd.Cache!.Hits);
        Assert.Equal(7, b.Fwd.Cache!.Hits);
        Assert.Equal(1, a.Fwd.Cache!.Inserts);
        Assert.Equal(1, b.Fwd.Cache!.Inserts);

        // Clearing one switch's view (its pipeline changed) leaves the other's entry.
        a.Fwd.Cache!.Clear();
        b.Send(1, Frame);
        Assert.Single(b.Sent(3));
        Assert.Equal(8, b.Fwd.Cache!.Hits);
    }

    [Fact]
    public void ADetachedDatapathsCacheEntries_AreClearedByItsThread()
    {
        using var shared = new ForwardingThreads(1, busyPollMicros: 0, idleWakeMs: 20_000);
        using var a = new Softswitch.TestKit.DatapathRig(2, new DatapathOptions { PacketInRate = 0 }, sharedThreads: shared);
        PacketParser.Parse(Frame, 1, out var key, out _);
        a.Insert(0, FlowMatch.Exact(key), 100, [FlowAction.Output(2)]);
        a.Send(1, Frame);
        Assert.Equal(1, a.Fwd.Cache!.Inserts);
        a.Dp.Start();
        a.Dp.Stop();
        Assert.True(Wait.Until(() => shared.PendingPurges == 0, 5000), "the thread never cleared the detached switch's view");
        Assert.Equal(0, a.Fwd.Cache!.Occupied);
    }
}

[CollectionDefinition(nameof(SharedThreadsCollection), DisableParallelization = true)]
public sealed class SharedThreadsCollection;
