using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Xunit.Abstractions;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// Recycled flow entries: the quiescent-state domain's grace period, reuse only after it, caches and the timer wheel
/// telling incarnations apart, churn without allocation, and readers racing a recycling writer.
/// </summary>
public class ClassifierReclamationTests(ITestOutputHelper output)
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]);
    private static readonly FlowActions s_out3 = new([FlowAction.Output(3)]);

    private static FlowKey Key(int i) => new FlowKeyBuilder().DlType(0x0800).NwDst(0x0A000000u + (uint)i).Key;

    /// <summary>dl_type and the top 24 bits of nw_dst.</summary>
    private static FlowMatch Slash24(int i)
        => FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.DlType & ~OfWildcards.NwDstMask) | (OfWildcards)(8u << 24), Key(i));

    private static FlowEntry Add(FlowTable t, in FlowMatch m, ushort priority, FlowActions a, ushort idle = 0, ulong tag = 0)
    {
        using var w = t.Write();
        var e = w.NewEntry(m, priority, a, idle, 0, t.Clock.NowNanos, tag: tag);
        w.Insert(e);
        return e;
    }

    private static void Remove(FlowTable t, FlowEntry e)
    {
        using var w = t.Write();
        Assert.True(w.Remove(e));
    }

    [Fact]
    public void Domain_SafeEpochWaitsForOnlineReadersAndHolds()
    {
        var d = new QuiescentDomain();
        long e0 = d.CurrentEpoch;
        Assert.Equal(e0, d.SafeEpoch()); // nobody: everything retired before now is safe

        var r = d.Register();
        Assert.False(r.IsOnline);
        Assert.Equal(e0, d.SafeEpoch()); // offline readers hold nothing
        r.Quiesce();
        d.Advance();
        Assert.Equal(e0, d.SafeEpoch()); // the reader may still hold what it found in epoch e0
        r.Quiesce();
        Assert.Equal(e0 + 1, d.SafeEpoch());
        r.Offline();

        var hold = d.Enter();
        Assert.Equal(1, d.HoldCount);
        d.Advance();
        Assert.Equal(e0 + 1, d.SafeEpoch()); // the hold began in e0 + 1
        hold.Dispose();
        Assert.Equal(0, d.HoldCount);
        Assert.Equal(e0 + 2, d.SafeEpoch());
        d.Unregister(r);
        Assert.Equal(0, d.ReaderCount);
    }

    [Fact]
    public void Domain_WaitForReaders_WaitsForOnlineReadersBehindTheEpochNotForHolds()
    {
        var d = new QuiescentDomain();
        var behind = d.Register();
        var offline = d.Register();
        behind.Quiesce();
        using var hold = d.Enter();
        long e = d.Advance();
        Assert.False(d.WaitForReaders(e, 0));   // a reader still in the round that began before e
        behind.Quiesce();
        Assert.True(d.WaitForReaders(e, 0));    // past a quiescent point; the offline reader and the hold count for nothing
        behind.Offline();
        Assert.True(d.WaitForReaders(d.Advance(), 0));
        d.Unregister(behind);
        d.Unregister(offline);
    }

    [Fact]
    public void Domain_TellsTheThreadOnlineAsTheReaderItRegistered()
    {
        var domain = new QuiescentDomain();
        var other = new QuiescentDomain();
        Assert.False(domain.CallerIsOnlineReader);
        var reader = domain.Register();
        Assert.False(domain.CallerIsOnlineReader); // offline until its first quiescent point
        reader.Quiesce();
        Assert.True(domain.CallerIsOnlineReader);
        Assert.False(other.CallerIsOnlineReader);
        bool elsewhere = true;
        var t = new Thread(() => elsewhere = domain.CallerIsOnlineReader);
        t.Start();
        t.Join();
        Assert.False(elsewhere); // the reader is this thread's, not every thread's
        reader.Offline();
        Assert.False(domain.CallerIsOnlineReader);
        reader.Quiesce();
        domain.Unregister(reader);
        Assert.False(domain.CallerIsOnlineReader);
    }

    [Fact]
    public void Domain_HoldsBeyondTheSlotsOverflowWithoutWaiting()
    {
        var d = new QuiescentDomain();
        long e0 = d.CurrentEpoch;
        var holds = new QuiescentDomain.Hold[QuiescentDomain.HoldSlots];
        for (int i = 0; i < holds.Length; i++) holds[i] = d.Enter();
        foreach (var h in holds) h.Dispose();
        for (int i = 0; i < holds.Length; i++) holds[i] = d.Enter();
        d.Advance();
        var first = d.Enter(); // overflow, entered in e0 + 1
        d.Advance();
        var second = d.Enter(); // overflow, entered in e0 + 2
        Assert.Equal(QuiescentDomain.HoldSlots + 2, d.HoldCount);
        foreach (var h in holds) h.Dispose();
        Assert.Equal(e0 + 1, d.SafeEpoch()); // the group announces its first member's epoch
        first.Dispose();
        Assert.Equal(e0 + 1, d.SafeEpoch()); // ... until its last member leaves
        second.Dispose();
        Assert.Equal(0, d.HoldCount);
        Assert.Equal(e0 + 2, d.SafeEpoch());
    }

    [Fact]
    public void Reuse_OnlyAfterEveryReaderPassedAQuiescentPoint()
    {
        var t = new FlowTable(new ManualClock()) { RecycleEntries = true };
        var reader = t.Reclamation.Register();
        reader.Quiesce();
        var a = Add(t, FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2, tag: 1);
        int serialA = a.Serial;
        Assert.Same(a, t.Lookup(Key(1))); // the reader holds a from now on

        Remove(t, a);
        Assert.True(a.IsRemoved);
        var b = Add(t, FlowMatch.Exact(Key(2)), FlowTable.MaxPriority, s_out3, tag: 2);
        Assert.NotSame(a, b); // the reader has not passed a quiescent point since a was removed
        Assert.True(a.IsRemoved);
        Assert.Equal(serialA, a.Serial);
        Assert.Equal(FlowMatch.Exact(Key(1)), a.Match);
        Assert.Equal(0, t.RecycledCount);

        reader.Quiesce();
        var c = Add(t, Slash24(0x300), 100, s_out3, tag: 3);
        Assert.Same(a, c); // past its grace period: a new incarnation
        Assert.NotEqual(serialA, c.Serial);
        Assert.False(c.IsRemoved);
        Assert.Equal(Slash24(0x300), c.Match);
        Assert.Equal((ushort)100, c.Priority);
        Assert.Equal(3ul, c.Tag);
        Assert.Equal(0, c.Packets);
        Assert.False(c.IsUnshadowable);
        Assert.Same(c, t.Lookup(Key(0x305)));
        Assert.Null(t.Lookup(Key(1)));
        Assert.Equal(1, t.RecycledCount);
        t.Reclamation.Unregister(reader);
    }

    [Fact]
    public void Reuse_WaitsForAHoldTakenBeforeTheRemoval()
    {
        var t = new FlowTable(new ManualClock()) { RecycleEntries = true };
        var a = Add(t, FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2);
        var hold = t.Reclamation.Enter();
        Remove(t, a);
        Assert.NotSame(a, Add(t, FlowMatch.Exact(Key(2)), FlowTable.MaxPriority, s_out2));
        hold.Dispose();
        Assert.Same(a, Add(t, FlowMatch.Exact(Key(3)), FlowTable.MaxPriority, s_out2));
    }

    [Fact]
    public void NoReuse_WhenOffOrObserved()
    {
        var off = new FlowTable(new ManualClock());
        var a = Add(off, FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2);
        Remove(off, a);
        Assert.NotSame(a, Add(off, FlowMatch.Exact(Key(2)), FlowTable.MaxPriority, s_out2));
        Assert.Equal(0, off.PooledEntryCount);

        var observed = new FlowTable(new ManualClock()) { RecycleEntries = true };
        observed.AddObserver(new NullObserver());
        var b = Add(observed, FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2);
        Remove(observed, b);
        Assert.NotSame(b, Add(observed, FlowMatch.Exact(Key(2)), FlowTable.MaxPriority, s_out2));
        Assert.Equal(0, observed.PooledEntryCount);
    }

    [Fact]
    public void Cache_MissesARecycledEntryItHeldForAnotherKey()
    {
        var t = new FlowTable(new ManualClock()) { RecycleEntries = true };
        var emc = new ExactMatchCache(64, insertInverseProbability: 1);
        var a = Add(t, FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2);
        var keys = new[] { Key(1) };
        var hashes = new[] { keys[0].Hash() };
        var results = new FlowEntry?[1];
        t.LookupBurst(keys, hashes, results, emc);
        Assert.Same(a, results[0]);
        t.LookupBurst(keys, hashes, results, emc);
        Assert.Equal(1, emc.Hits); // cached: unshadowable, valid across versions

        Remove(t, a);
        var b = Add(t, FlowMatch.Exact(Key(2)), FlowTable.MaxPriority, s_out3); // no readers: a is reused at once
        Assert.Same(a, b);
        Assert.True(b.IsUnshadowable);
        t.LookupBurst(keys, hashes, results, emc);
        Assert.Null(results[0]); // the slot still points at the entry, now another rule: a miss, and no rule for key 1
        Assert.Equal(1, emc.Hits);
    }

    [Fact]
    public void TimerWheel_ForgetsTheDeadlineOfAnEarlierIncarnation()
    {
        var clock = new ManualClock();
        var t = new FlowTable(clock) { RecycleEntries = true };
        var a = Add(t, FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2, idle: 1);
        Remove(t, a);
        var b = Add(t, FlowMatch.Exact(Key(2)), FlowTable.MaxPriority, s_out2); // no timeout
        Assert.Same(a, b);
        clock.Advance(TimeSpan.FromSeconds(5));
        var removed = new List<FlowRemoved>();
        Assert.Equal(0, t.Expire(removed));
        Assert.Same(b, t.Lookup(Key(2)));

        // And a new incarnation with a timeout of its own expires on it.
        Remove(t, b);
        var c = Add(t, FlowMatch.Exact(Key(3)), FlowTable.MaxPriority, s_out2, idle: 2);
        Assert.Same(a, c);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, t.Expire(removed));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, t.Expire(removed));
        Assert.Same(c, removed[0].Entry);
        Assert.Equal(FlowRemovedReason.IdleTimeout, removed[0].Reason);
    }

    /// <summary>
    /// A refresh (a learn's re-learn) restarts the hard timeout as well as the idle one, as Open vSwitch's rule->modified:
    /// the rule outlives its first hard deadline and expires hard_timeout after the refresh; its creation time (what
    /// flow statistics' duration counts from) stays.
    /// </summary>
    [Fact]
    public void ARefresh_RestartsTheHardTimeout_AndKeepsTheCreationTime()
    {
        var clock = new ManualClock();
        var t = new FlowTable(clock);
        FlowEntry e;
        using (var w = t.Write())
        {
            e = w.NewEntry(FlowMatch.Exact(Key(1)), FlowTable.MaxPriority, s_out2, 0, 10, clock.NowNanos);
            w.Insert(e);
        }
        long created = e.CreatedNanos;
        clock.Advance(TimeSpan.FromSeconds(8));
        using (var w = t.Write()) w.Refresh(e, clock.NowNanos);
        Assert.Equal(created, e.CreatedNanos);
        Assert.Equal(clock.NowNanos, e.ModifiedNanos);
        var removed = new List<FlowRemoved>();
        clock.Advance(TimeSpan.FromSeconds(4)); // 12 s after its creation, 4 after the refresh
        Assert.Equal(0, t.Expire(removed));
        Assert.Same(e, t.Lookup(Key(1)));
        clock.Advance(TimeSpan.FromSeconds(7)); // 19 s: 11 after the refresh
        Assert.Equal(1, t.Expire(removed));
        Assert.Equal(FlowRemovedReason.HardTimeout, removed[0].Reason);
        Assert.Equal(19_000_000_000L, removed[0].DurationNanos); // counted from the creation
    }

    /// <summary>
    /// Readers (registered, quiescent between bursts, now and then offline) look up keys, with and without a cache,
    /// while a writer churns the rules of those keys with recycling on. The checker: every rule found matches its key
    /// and carries its key's tag, and is still the same incarnation (serial, match, tag) at the end of the burst,
    /// after the reader dawdled.
    /// </summary>
    [Fact]
    public void Stress_ReadersNeverSeeAnEntryRecycledMidBurst()
    {
        const int nKeys = 256;
        var table = new FlowTable() { RecycleEntries = true };
        var keys = new FlowKey[nKeys];
        var hashes = new uint[nKeys];
        for (int i = 0; i < nKeys; i++)
        {
            keys[i] = Key(i << 8); // one key per /24, so the /24 rule of key i matches key i only
            hashes[i] = keys[i].Hash();
        }
        var live = new FlowEntry?[nKeys * 2]; // writer-private: exact rule and /24 rule of each key
        using var stop = new CancellationTokenSource();
        string? failure = null;
        long bursts = 0, found = 0;

        void Reader(int id)
        {
            var r = table.Reclamation.Register();
            var emc = new ExactMatchCache(256, insertInverseProbability: 1);
            var results = new FlowEntry?[32];
            var serials = new int[32];
            var tags = new ulong[32];
            var rng = new Random(id);
            try
            {
                while (!stop.IsCancellationRequested && failure is null)
                {
                    r.Quiesce();
                    int off = rng.Next(nKeys - 32);
                    table.LookupBurst(keys.AsSpan(off, 32), hashes.AsSpan(off, 32), results, (bursts & 1) == 0 ? emc : null);
                    for (int i = 0; i < 32; i++)
                    {
                        var e = results[i];
                        if (e is null) continue;
                        serials[i] = e.Serial;
                        tags[i] = e.Tag;
                        if (!e.Match.Matches(keys[off + i]) || e.Tag != (ulong)(off + i))
                        {
                            failure = $"reader {id}: key {off + i} found {e} tag {e.Tag}";
                            return;
                        }
                    }
                    Thread.SpinWait(rng.Next(2000)); // the rest of the burst: actions, counters
                    for (int i = 0; i < 32; i++)
                    {
                        var e = results[i];
                        if (e is null) continue;
                        Interlocked.Increment(ref found);
                        e.Hit(1, 64, 0);
                        if (e.Serial != serials[i] || e.Tag != tags[i] || !e.Match.Matches(keys[off + i]))
                        {
                            failure = $"reader {id}: the rule of key {off + i} became {e} (serial {serials[i]} -> {e.Serial}) mid-burst";
                            return;
                        }
                    }
                    if (Interlocked.Increment(ref bursts) % 64 == 0)
                    {
                        r.Offline(); // idle: waits count as quiescent
                        Thread.Sleep(0);
                    }
                }
            }
            finally
            {
                table.Reclamation.Unregister(r);
            }
        }

        var readers = new[] { new Thread(() => Reader(1)), new Thread(() => Reader(2)) };
        foreach (var t in readers) t.Start();
        var rng = new Random(7);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        long mods = 0;
        while (sw.ElapsedMilliseconds < 2000 && failure is null)
        {
            using var w = table.Write();
            for (int k = 0; k < 8; k++, mods++)
            {
                int i = rng.Next(nKeys * 2), key = i >> 1;
                if (live[i] is { } e)
                {
                    w.Remove(e);
                    live[i] = null;
                }
                else
                {
                    var m = (i & 1) == 0 ? FlowMatch.Exact(keys[key]) : Slash24(key << 8);
                    var n = w.NewEntry(m, (i & 1) == 0 ? FlowTable.MaxPriority : (ushort)100, (k & 1) == 0 ? s_out2 : s_out3, 0, 0, 0, tag: (ulong)key);
                    w.Insert(n);
                    live[i] = n;
                }
            }
        }
        stop.Cancel();
        foreach (var t in readers) t.Join();
        output.WriteLine($"{mods} flow-mods, {table.RecycledCount} recycled, {bursts} bursts, {found} rules found");
        Assert.Null(failure);
        Assert.True(table.RecycledCount > mods / 10, $"only {table.RecycledCount} of {mods} inserts reused an entry");
        Assert.True(found > 1000, $"readers found only {found} rules");
    }

    /// <summary>
    /// Model-based: random interleavings (on one thread, at operation granularity) of readers that quiesce, go offline
    /// and look keys up (with their caches), control-thread holds that look keys up, and a writer that adds and removes
    /// the keys' rules in scopes of a few changes. The checker: no rule a reader or a hold still holds (found since its
    /// last quiescent point, or inside the hold) ever changes incarnation, and every lookup answers its key's own rule.
    /// </summary>
    [Fact]
    public void Interleavings_NeverRecycleAnEntryStillHeld()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from n in Gen.Choose(10, 400)
                  select (seed, n);
        long recycled = 0;
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            recycled += RunInterleaving(t.seed, t.n);
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
        output.WriteLine($"{recycled} entries recycled over the cases");
        Assert.True(recycled > 1000, "the cases hardly ever reused an entry: the checker checked nothing");
    }

    private static long RunInterleaving(int seed, int steps)
    {
        const int nKeys = 6, nReaders = 3, nHolds = 2;
        var rng = new Random(seed);
        var t = new FlowTable(new ManualClock()) { RecycleEntries = true };
        var keys = new FlowKey[nKeys];
        for (int i = 0; i < nKeys; i++) keys[i] = Key(i << 8);
        var live = new FlowEntry?[nKeys];
        var readers = new QuiescentDomain.Reader[nReaders];
        var caches = new ExactMatchCache[nReaders];
        var held = new List<(FlowEntry E, int Serial)>[nReaders + nHolds];
        var holds = new QuiescentDomain.Hold?[nHolds];
        for (int r = 0; r < nReaders; r++)
        {
            readers[r] = t.Reclamation.Register();
            caches[r] = new ExactMatchCache(16, insertInverseProbability: 1);
        }
        for (int h = 0; h < held.Length; h++) held[h] = new();
        var results = new FlowEntry?[1];

        void Found(int holder, int key, FlowEntry? e)
        {
            if (e is null)
            {
                if (live[key] is not null) throw new InvalidOperationException($"seed {seed}: key {key} has a rule, the lookup found none");
                return;
            }
            if (e.Tag != (ulong)key || !e.Match.Matches(keys[key]))
                throw new InvalidOperationException($"seed {seed}: key {key} answered with {e} (tag {e.Tag})");
            held[holder].Add((e, e.Serial));
        }

        for (int step = 0; step < steps; step++)
        {
            int op = rng.Next(10), r = rng.Next(nReaders), k = rng.Next(nKeys), h = rng.Next(nHolds);
            switch (op)
            {
                case 0:
                    held[r].Clear();
                    readers[r].Quiesce();
                    break;
                case 1:
                    held[r].Clear();
                    readers[r].Offline();
                    break;
                case 2:
                case 3:
                    if (!readers[r].IsOnline)
                    {
                        held[r].Clear();
                        readers[r].Quiesce();
                    }
                    var key = keys.AsSpan(k, 1);
                    t.LookupBurst(key, [key[0].Hash()], results, rng.Next(2) == 0 ? caches[r] : null);
                    Found(r, k, results[0]);
                    break;
                case 4:
                    if (holds[h] is null) holds[h] = t.Reclamation.Enter();
                    Found(nReaders + h, k, t.Lookup(keys[k]));
                    break;
                case 5:
                    holds[h]?.Dispose();
                    holds[h] = null;
                    held[nReaders + h].Clear();
                    break;
                default:
                    using (var w = t.Write())
                    {
                        for (int c = rng.Next(1, 4); c > 0; c--, k = rng.Next(nKeys))
                        {
                            if (live[k] is { } e)
                            {
                                w.Remove(e);
                                live[k] = null;
                            }
                            else
                            {
                                var m = rng.Next(2) == 0 ? FlowMatch.Exact(keys[k]) : Slash24(k << 8);
                                var n = w.NewEntry(m, m.IsExact ? FlowTable.MaxPriority : (ushort)100, s_out2, 0, 0, 0, tag: (ulong)k);
                                w.Insert(n);
                                live[k] = n;
                            }
                        }
                    }
                    break;
            }
            for (int x = 0; x < held.Length; x++)
            {
                foreach (var (e, serial) in held[x])
                {
                    if (e.Serial != serial)
                        throw new InvalidOperationException($"seed {seed} step {step}: holder {x} held an entry that was recycled (now {e})");
                }
            }
        }
        return t.RecycledCount;
    }

    private sealed class NullObserver : IFlowTableObserver
    {
        public void OnAdded(FlowEntry e) { }
        public void OnModified(FlowEntry e) { }
        public void OnRemoved(FlowEntry e, FlowRemovedReason reason) { }
    }
}
