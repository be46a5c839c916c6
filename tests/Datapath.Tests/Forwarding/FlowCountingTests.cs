using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A rule's counters: the forwarding threads' words (plain adds when the datapath has one forwarding thread, atomic
/// adds with several) and everything else (packet-outs, offload counts, resets) through the rule's side counts, so
/// no count is lost however the writers interleave.
/// </summary>
public sealed class FlowCountingTests
{
    private static FlowEntry NewEntry()
        => new(FlowMatch.Exact(new FlowKeyBuilder().InPort(1).Key), 100, FlowActions.Drop, 0, 0, 0);

    [Fact]
    public void TheSoleForwardingThreadAndTheControlPathCountTogetherWithoutLosingAny()
    {
        var e = NewEntry();
        const int N = 2_000_000;
        var control = new Thread(() =>
        {
            for (int i = 0; i < N; i++) e.Hit(1, 100, i);
        });
        control.Start();
        for (int i = 0; i < N; i++) e.Forwarded(2, 64, i, soleWriter: true);
        control.Join();
        Assert.Equal(3L * N, e.Packets);
        Assert.Equal(164L * N, e.Bytes);
    }

    [Fact]
    public void SeveralForwardingThreadsCountAtomically()
    {
        var e = NewEntry();
        const int N = 1_000_000;
        var threads = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < N; i++) e.Forwarded(1, 60, i, soleWriter: false);
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Equal(3L * N, e.Packets);
        Assert.Equal(180L * N, e.Bytes);
    }

    [Fact]
    public void AResetZeroesWhatWasCountedAndLaterPacketsCountFromZero()
    {
        var e = NewEntry();
        e.Forwarded(10, 640, 5, soleWriter: true);
        e.AddCounts(3, 300);
        e.ResetCounters();
        Assert.Equal(0, e.Packets);
        Assert.Equal(0, e.Bytes);
        e.Forwarded(4, 256, 6, soleWriter: true);
        e.Hit(1, 60, 7);
        Assert.Equal(5, e.Packets);
        Assert.Equal(316, e.Bytes);
        Assert.Equal(7, e.LastUsedNanos);
    }

    [Fact]
    public void AResetWhileTheForwardingThreadCountsKeepsEveryPacketCountedAfterIt()
    {
        var e = NewEntry();
        const int N = 2_000_000;
        var forwarding = new Thread(() =>
        {
            for (int i = 0; i < N; i++) e.Forwarded(1, 1, i, soleWriter: true);
        });
        forwarding.Start();
        while (e.Packets < N / 4) Thread.SpinWait(10);
        e.ResetCounters();
        long afterReset = e.Packets;
        forwarding.Join();
        // What was counted before the reset (at least a quarter) went; what the thread counted after it stays. (Packets
        // and bytes are each reset as of the moment it reads them, so they may differ by what was counted in between.)
        Assert.InRange(e.Packets, afterReset, 3L * N / 4);
        Assert.InRange(e.Bytes, 0, 3L * N / 4);
    }

    [Fact]
    public void ADatapathWithOneForwardingThreadCountsItsRulesAsTheSoleWriter_WithSeveralAtomically()
    {
        using var one = new SwitchDatapath(new DatapathOptions { Threads = 1 });
        using var two = new SwitchDatapath(new DatapathOptions { Threads = 2 });
        Assert.Equal(FlowCounting.SoleWriter, one.Forwarders[0].Counting);
        Assert.All(two.Forwarders, f => Assert.Equal(FlowCounting.Atomic, f.Counting));
        Assert.Equal(FlowCounting.Control, one.Control.Counting);
        Assert.Equal(FlowCounting.Control, two.Control.Counting);
    }
}
