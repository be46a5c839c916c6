using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A removed port is the datapath's to dispose, with the receivers it split its receiving into, once every forwarding
/// thread has passed a quiescent point after the removal: not while one may still be inside a round, and promptly
/// after.
/// </summary>
public sealed class PortLifetimeTests
{
    /// <summary>A port that receives nothing; it records its disposal (and, opened as a split, its receivers').</summary>
    private sealed class TrackedPort(string name, int split = 1) : IPort
    {
        private static long s_live;
        private int _disposed;
        /// <summary>Ports and receivers made by this class and not disposed yet.</summary>
        public static long Live => Interlocked.Read(ref s_live);
        public TrackedPort Counted() { Interlocked.Increment(ref s_live); return this; }
        public bool Disposed => Volatile.Read(ref _disposed) != 0;
        public PortInfo Info { get; } = new(name, new MacAddress(7));
        public PortCounters Counters { get; } = new();
        public bool LinkUp => true;
        public int Receive(PacketPool pool, Span<int> pkts) => 0;
        public void Send(PacketPool pool, ReadOnlySpan<int> pkts) { }
        public IRxQueue[] OpenReceivers(int count)
        {
            var list = new IRxQueue[Math.Min(count, split)];
            list[0] = this;
            for (int i = 1; i < list.Length; i++) list[i] = new TrackedPort($"{name}.{i}").Counted();
            return list;
        }
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0 && Interlocked.Decrement(ref s_live) < 0) throw new InvalidOperationException("disposed a port not counted");
        }
    }

    /// <summary>A port whose Receive can be made to block, holding its forwarding thread inside a round.</summary>
    private sealed class GatePort : IPort
    {
        private readonly ManualResetEventSlim _open = new(true);
        private volatile bool _inside;
        public bool Inside => _inside;
        public void Close() => _open.Reset();
        public void Open() => _open.Set();
        public PortInfo Info { get; } = new("gate", new MacAddress(8));
        public PortCounters Counters { get; } = new();
        public bool LinkUp => true;
        public int Receive(PacketPool pool, Span<int> pkts)
        {
            if (_open.IsSet) return 0;
            _inside = true;
            _open.Wait();
            _inside = false;
            return 0;
        }
        public void Send(PacketPool pool, ReadOnlySpan<int> pkts) { }
        public void Dispose() { }
    }

    private static void WaitFor(Func<bool> state, string what) => Assert.True(Wait.Until(state, 60_000), $"timed out waiting: {what}");

    [Fact]
    public void ARemovedPortIsDisposedOnlyAfterEveryForwardingThreadPassedAQuiescentPoint()
    {
        var gate = new GatePort();
        var victim = new TrackedPort("victim").Counted();
        using var dp = new SwitchDatapath(new DatapathOptions { Threads = 2 });
        Assert.Equal(0, dp.AddPort(gate, 1).Index % 2);     // thread 0 polls the gate
        Assert.Equal(1, dp.AddPort(victim, 2).Index % 2);   // thread 1 polls the victim
        dp.Start();
        try
        {
            gate.Close();
            WaitFor(() => gate.Inside, "thread 0 inside a round");
            Assert.True(dp.RemovePort(2));
            Assert.False(victim.Disposed);
            // The maintenance thread tries again and again while thread 0 stays inside the round that began before
            // the removal: the port stays open.
            long deferrals = dp.ReclaimDeferrals;
            WaitFor(() => dp.ReclaimDeferrals >= deferrals + 3, "three more tries to dispose the removed port");
            Assert.False(victim.Disposed);
            Assert.Equal(1, dp.RetiredPortCount);
        }
        finally
        {
            gate.Open();
        }
        WaitFor(() => victim.Disposed, "the removed port disposed after thread 0's next quiescent point");
        Assert.Equal(0, dp.RetiredPortCount);
    }

    [Fact]
    public async Task WaitForRemovedPorts_ReturnsOnceTheHeldPortIsDisposed_AndGivesUpAtItsLimit()
    {
        var gate = new GatePort();
        var victim = new TrackedPort("victim").Counted();
        using var dp = new SwitchDatapath(new DatapathOptions { Threads = 2 });
        dp.AddPort(gate, 1);
        dp.AddPort(victim, 2);
        dp.Start();
        gate.Close();
        WaitFor(() => gate.Inside, "thread 0 inside a round");
        Assert.True(dp.RemovePort(2));
        Assert.False(dp.WaitForRemovedPorts(TimeSpan.FromMilliseconds(50)));   // thread 0 still holds it
        Assert.False(victim.Disposed);
        var opener = Task.Run(() => dp.WaitForRemovedPorts(TimeSpan.FromSeconds(60)));
        gate.Open();
        Assert.True(await opener.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(victim.Disposed);
        Assert.True(dp.WaitForRemovedPorts(TimeSpan.Zero));
    }

    [Fact]
    public void ARemovedPortOfAStoppedOrIdleDatapathIsDisposedAtOnce()
    {
        using var dp = new SwitchDatapath();
        var p = new TrackedPort("p").Counted();
        dp.AddPort(p, 1);
        Assert.True(dp.RemovePort(1));
        Assert.True(p.Disposed);   // no forwarding thread is registered: nothing can hold it
    }

    [Fact]
    public void ReopeningASplitPortManyTimesLeavesNoReceiverBehind()
    {
        var dp = new SwitchDatapath(new DatapathOptions { Threads = 2 });
        dp.Start();
        long before = TrackedPort.Live;
        var first = new TrackedPort("split", split: 2).Counted();
        dp.AddPort(first, 1);
        Assert.Equal(2, first.Receivers(dp));
        for (int i = 0; i < 10; i++)
        {
            Assert.True(dp.RemovePort(1));
            dp.AddPort(new TrackedPort("split", split: 2).Counted(), 1);
        }
        // The ten removed ports and their ten extra receivers are disposed: the open ones are the current port's two.
        // A reclaimed port leaves the retired list under the port lock and is disposed just after it: wait for both.
        WaitFor(() => dp.RetiredPortCount == 0 && first.Disposed && TrackedPort.Live == before + 2, "every removed port disposed");
        Assert.Equal(before + 2, TrackedPort.Live);
        dp.Dispose();
        Assert.Equal(before, TrackedPort.Live);
    }
}

internal static class PortLifetimeTestExtensions
{
    public static int Receivers(this IPort port, SwitchDatapath dp) => dp.Ports.WithLocal.Single(s => ReferenceEquals(s.Port, port)).Receivers.Length;
}
