using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A rule's counters: the forwarding threads' words (plain adds by the datapath's one forwarding thread, or by the
/// first of several to count the rule; once a second counts it, each counts in a slot of its own) and everything else
/// (packet-outs, offload counts, resets) through the rule's side counts, so no count is lost however the writers interleave.
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
        for (int i = 0; i < N; i++) e.Forwarded(2, 64, i, FlowEntry.SoleWriter);
        control.Join();
        Assert.Equal(3L * N, e.Packets);
        Assert.Equal(164L * N, e.Bytes);
    }

    [Fact]
    public void SeveralForwardingThreadsCountingOneRuleLoseNoCount_WhicheverClaimsIt()
    {
        for (int round = 0; round < 20; round++)
        {
            var e = NewEntry();
            const int N = 200_000;
            using var go = new ManualResetEventSlim();
            // Ids 1-3 race to claim the rule's words, then count in their slots (two made: id 3 has none and adds
            // atomically beside); id 0 (a thread past 254) never claims.
            var threads = new byte[] { 1, 2, 3, 0 }.Select(id => new Thread(() =>
            {
                go.Wait();
                for (int i = 0; i < N; i++) e.Forwarded(1, 60, i, id, threads: 2);
            })).ToArray();
            foreach (var t in threads) t.Start();
            go.Set();
            foreach (var t in threads) t.Join();
            Assert.Equal(4L * N, e.Packets);
            Assert.Equal(240L * N, e.Bytes);
            Assert.Equal(FlowEntry.Contended, e.CountingOwner);
        }
    }

    [Fact]
    public void TheFirstThreadToCountARuleOwnsItsWords_UntilASecondCountsIt_ThenEachCountsInASlotOfItsOwn()
    {
        var e = NewEntry();
        Assert.Equal(0, e.CountingOwner);
        e.Forwarded(2, 128, 1, 2, threads: 2);
        e.Forwarded(2, 128, 1, 2, threads: 2);
        Assert.Equal(2, e.CountingOwner);
        e.Forwarded(3, 192, 2, 1, threads: 2);
        Assert.Equal(FlowEntry.Contended, e.CountingOwner);
        e.Forwarded(1, 64, 3, 2, threads: 2);
        Assert.Equal(FlowEntry.Contended, e.CountingOwner);
        Assert.Equal(8, e.Packets);
        Assert.Equal(512, e.Bytes);
        e.ResetCounters();
        e.Forwarded(1, 60, 4 * FlowEntry.LastUsedStepNanos, 1, threads: 2);
        Assert.Equal(1, e.Packets);
        Assert.Equal(60, e.Bytes);
        Assert.Equal(4 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
    }

    [Fact]
    public void TheLastUsedTime_IsStoredWhenItMovesByAMillisecond()
    {
        // A store per batch would pass the rule's line between the forwarding threads' cores.
        var e = NewEntry();
        e.Forwarded(1, 60, 10 * FlowEntry.LastUsedStepNanos, 1);
        Assert.Equal(10 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
        e.Forwarded(1, 60, 10 * FlowEntry.LastUsedStepNanos + FlowEntry.LastUsedStepNanos - 1, 2);
        Assert.Equal(10 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
        e.Forwarded(1, 60, 11 * FlowEntry.LastUsedStepNanos, 1);
        Assert.Equal(11 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
    }

    [Fact]
    public void ARuleSeveralThreadsCount_KeepsItsLastUsedTimeInTheirSlots_NotInTheLineTheyAllRead()
    {
        // A last-used store into the rule's own line, once a millisecond per rule, would take the line of the actions
        // and match from every other thread that reads it: with a thousand shared wildcard rules, a million times a second.
        var ownWord = typeof(FlowEntry).GetField("_lastUsedNanos", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var e = NewEntry();
        long created = e.LastUsedNanos;
        e.Forwarded(1, 60, 5 * FlowEntry.LastUsedStepNanos, 1, threads: 2);
        Assert.Equal(5 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);       // the owner's own word, while it is the only one
        e.Forwarded(1, 60, 7 * FlowEntry.LastUsedStepNanos, 2, threads: 2);
        Assert.Equal(FlowEntry.Contended, e.CountingOwner);
        Assert.Equal(7 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
        e.Forwarded(1, 60, 9 * FlowEntry.LastUsedStepNanos, 1, threads: 2);
        e.Forwarded(1, 60, 8 * FlowEntry.LastUsedStepNanos, 2, threads: 2);
        Assert.Equal(9 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);       // the latest of the threads' slots
        Assert.Equal(5 * FlowEntry.LastUsedStepNanos, (long)ownWord.GetValue(e)!); // untouched since the rule was contended
        Assert.Equal(4, e.Packets);
        e.Touch(20 * FlowEntry.LastUsedStepNanos);                               // the control path still moves it
        Assert.Equal(20 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
        Assert.True(created < e.LastUsedNanos);
    }

    [Fact]
    public void AResetZeroesWhatWasCountedAndLaterPacketsCountFromZero()
    {
        var e = NewEntry();
        e.Forwarded(10, 640, 5, FlowEntry.SoleWriter);
        e.AddCounts(3, 300);
        e.ResetCounters();
        Assert.Equal(0, e.Packets);
        Assert.Equal(0, e.Bytes);
        e.Forwarded(4, 256, 6, FlowEntry.SoleWriter);
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
            for (int i = 0; i < N; i++) e.Forwarded(1, 1, i, FlowEntry.SoleWriter);
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
    public void ADatapathWithOneForwardingThreadCountsItsRulesAsTheSoleWriter_WithSeveralEachAsAnOwnerOfItsOwn()
    {
        using var one = new SwitchDatapath(new DatapathOptions { Threads = 1 });
        using var two = new SwitchDatapath(new DatapathOptions { Threads = 2 });
        Assert.Equal(FlowCounting.SoleWriter, one.Forwarders[0].Counting);
        Assert.Equal(FlowEntry.SoleWriter, one.Forwarders[0].CountingId);
        Assert.All(two.Forwarders, f => Assert.Equal(FlowCounting.Shared, f.Counting));
        Assert.Equal([1, 2], two.Forwarders.Select(f => (int)f.CountingId));
        Assert.Equal(FlowCounting.Control, one.Control.Counting);
        Assert.Equal(FlowCounting.Control, two.Control.Counting);
    }
}
