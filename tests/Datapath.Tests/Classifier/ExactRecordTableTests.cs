using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The one-level exact stage's table (<see cref="ExactRecordTable"/>): held keys are found one by one and in bursts,
/// others miss; a removed key's slot is reused only after its grace period; growth keeps every key; the counts a
/// record takes reach its entry exactly, across removals and growth, whatever a reader racing them adds; action ids
/// are shared and swapped; and a seeded random sequence of inserts and removals agrees with a dictionary.
/// </summary>
public sealed class ExactRecordTableTests
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]);
    private static readonly FlowActions s_out3 = new([FlowAction.Output(3)]);

    private static FlowKey Key(int i) => new FlowKeyBuilder().InPort(1).DlType(0x0800).NwProto(17)
        .NwSrc(0x0A000000u + (uint)(i >> 16)).NwDst(0xC0A80000u + (uint)(i & 0xFFFF)).TpSrc(1000).TpDst(2000).Key;

    private static FlowEntry Entry(int i) => new(FlowMatch.Exact(Key(i)), ushort.MaxValue, s_out2, 0, 0, 0);

    private static int Slot(ExactRecordTable t, int i) => ExactRecordTable.Find(t.Current, Key(i));

    private static long Total(ExactRecordTable t, FlowEntry e, out long bytes)
    {
        t.ReadCounts(e, out long p, out long b, out _);
        bytes = e.Bytes + b;
        return e.Packets + p;
    }

    [Fact]
    public void FindsHeldKeys_MissesOthers_InBurstsToo_AndStaysAtMostHalfFull()
    {
        var t = new ExactRecordTable(new QuiescentDomain());
        var entries = new FlowEntry[1000];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = Entry(i);
            Assert.True(t.Insert(entries[i], s_out2));
            Assert.True(t.Count * 2 <= t.SlotCount);
        }
        Assert.False(t.Insert(Entry(5), s_out2)); // the key is held
        Assert.Equal(1000, t.Count);
        for (int i = 0; i < entries.Length; i++) Assert.Same(entries[i], t.Find(Key(i)));
        Assert.Null(t.Find(Key(5000)));
        // Tunnel id and other fields the exact mask clears do not matter.
        var withTun = new FlowKeyBuilder().InPort(1).DlType(0x0800).NwProto(17).NwSrc(0x0A000000u).NwDst(0xC0A80007u)
            .TpSrc(1000).TpDst(2000).TunId(99).Key;
        Assert.Same(entries[7], t.Find(withTun));

        var g = t.Current;
        var keys = new FlowKey[64];
        for (int i = 0; i < 64; i++) keys[i] = Key(i % 2 == 0 ? i : 100_000 + i);
        var slots = new int[64];
        ulong pending = ulong.MaxValue;
        Assert.Equal(32, g.LookupBurst(keys, ref pending, slots));
        for (int i = 0; i < 64; i++)
        {
            bool hit = (pending >> i & 1) == 0;
            Assert.Equal(i % 2 == 0, hit);
            if (hit)
            {
                Assert.Same(entries[i], g.Entry(slots[i]));
                Assert.Same(s_out2, t.ActionsOf(g.Record(slots[i]).Word));
            }
        }
        Assert.Equal(1, t.ActionListCount);
    }

    [Fact]
    public void RemovedSlot_IsReusedOnlyAfterEveryReaderQuiesced_AndItsCountsReachTheEntry()
    {
        var domain = new QuiescentDomain();
        var reader = domain.Register();
        reader.Quiesce();
        var t = new ExactRecordTable(domain);
        var a = Entry(1);
        Assert.True(t.Insert(a, s_out2));
        int slot = Slot(t, 1);
        var g = t.Current;
        // The reader found the record before the removal and counts after it.
        Assert.True(ExactRecordTable.Forwarded(ref g.Record(slot), 3, 300, 5, ExactRecordTable.SoleWriter));
        Assert.True(t.Remove(a));
        Assert.False(t.Remove(a));
        Assert.Null(t.Find(Key(1)));
        Assert.True(ExactRecordTable.Forwarded(ref g.Record(slot), 2, 200, 6, ExactRecordTable.SoleWriter));
        // The same key again cannot take the slot while the reader may still use it.
        var b = Entry(1);
        Assert.True(t.Insert(b, s_out3));
        Assert.NotEqual(slot, Slot(t, 1));
        Assert.Equal(1, t.RemovingCount);
        // What was counted before the removal is in the entry at once; what the reader added after it, at the grace.
        Assert.Equal(3, a.Packets);
        Assert.Equal(0, t.Reclaim());

        reader.Quiesce();
        Assert.Equal(1, t.Reclaim());
        Assert.Equal(5, a.Packets);
        Assert.Equal(500, a.Bytes);
        Assert.Equal(0, Total(t, b, out _));
        // Now the slot is free: removing b and inserting a key homed there may reuse it.
        Assert.True(t.Remove(b));
        reader.Offline();
        t.Reclaim();
        var c = Entry(1);
        Assert.True(t.Insert(c, s_out2));
        Assert.Equal(slot, Slot(t, 1));
        Assert.Equal(0, Total(t, c, out _));
    }

    [Fact]
    public void AsTheHashStagesOnlyIndex_ItReturnsRules_InBurstsToo_AndCollectsSubsetsAndOverlaps()
    {
        var t = new ExactRecordTable(new QuiescentDomain());
        var entries = new FlowEntry[100];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = Entry(i);
            Assert.True(t.Insert(entries[i], s_out2));
        }
        var keys = new FlowKey[64];
        for (int i = 0; i < 64; i++) keys[i] = Key(i % 2 == 0 ? i : 100_000 + i);
        var results = new FlowEntry?[64];
        ulong pending = ulong.MaxValue;
        Assert.Equal(32, t.LookupBurst(keys, ref pending, results));
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(i % 2 != 0, (pending >> i & 1) != 0);
            Assert.Same(i % 2 == 0 ? entries[i] : null, results[i]);
        }

        // Non-strict requests: the exact one is one probe, all and a masked one scan.
        var found = new List<FlowEntry>();
        t.CollectSubsets(FlowMatch.Exact(Key(7)), found);
        Assert.Same(entries[7], Assert.Single(found));
        found.Clear();
        t.CollectSubsets(FlowMatch.All, found);
        Assert.Equal(100, found.Count);
        found.Clear();
        var first16 = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.DlType & ~OfWildcards.NwDstMask) | (OfWildcards)(4u << 24) | OfWildcards.TunIdExt, Key(0));
        t.CollectSubsets(first16, found);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => entries[i]), found.OrderBy(e => Array.IndexOf(entries, e)));
        // A removed rule is no longer found, collected or overlapped.
        Assert.True(t.Remove(entries[3]));
        Assert.Null(t.Find(Key(3)));
        Assert.True(t.HasOverlap(FlowMatch.Exact(Key(4))));
        Assert.False(t.HasOverlap(FlowMatch.Exact(Key(3))));
        Assert.True(t.HasOverlap(first16));
        var elsewhere = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlType, new FlowKeyBuilder().DlType(0x86DD).Key);
        Assert.False(t.HasOverlap(elsewhere));
        found.Clear();
        t.CollectSubsets(FlowMatch.All, found);
        Assert.Equal(99, found.Count);
        Assert.DoesNotContain(entries[3], found);
    }

    [Fact]
    public void Growth_DoublesTheSlots()
    {
        var domain = new QuiescentDomain();
        var t = new ExactRecordTable(domain);
        int slots0 = t.SlotCount;
        var entries = new List<FlowEntry>();
        int i = 0;
        while (t.SlotCount == slots0)
        {
            var e = Entry(i++);
            Assert.True(t.Insert(e, s_out2));
            entries.Add(e);
        }
        Assert.Equal(2 * slots0, t.SlotCount);
        Assert.Equal(slots0 / 2 + 1, t.Count);
        // Growing on: each growth doubles again.
        int slots1 = t.SlotCount;
        while (t.SlotCount == slots1) Assert.True(t.Insert(Entry(i++), s_out2));
        Assert.Equal(2 * slots1, t.SlotCount);
        Assert.Equal(slots1 / 2 + 1, t.Count);
    }

    [Fact]
    public void InsertReplacing_PublishesTheNewRuleBesideTheOld_ThenRemovesTheOld_WhoseCountsStayItsOwn()
    {
        var domain = new QuiescentDomain();
        var t = new ExactRecordTable(domain);
        var a = Entry(7);
        Assert.True(t.Insert(a, s_out2));
        Assert.True(ExactRecordTable.Forwarded(ref t.Current.Record(Slot(t, 7)), 4, 400, 1, ExactRecordTable.SoleWriter));
        var b = Entry(7);
        Assert.False(t.Insert(b, s_out3));
        Assert.True(t.Insert(b, s_out3, replacing: a));
        Assert.Same(b, t.Find(Key(7)));
        Assert.Equal(1, t.Count);
        Assert.Equal(4, a.Packets);
        Assert.Equal(400, a.Bytes);
        Assert.Equal(0, Total(t, b, out _));
        Assert.Same(s_out3, t.ActionsOf(t.Current.Record(Slot(t, 7)).Word));
        Assert.False(t.Insert(Entry(7), s_out2, replacing: a));
    }

    [Fact]
    public void Growth_KeepsEveryKey_AndFoldsWhatWasCountedInTheOldRecordsExactly()
    {
        var domain = new QuiescentDomain();
        var reader = domain.Register();
        reader.Quiesce();
        var t = new ExactRecordTable(domain);
        var entries = new List<FlowEntry>();
        var expected = new List<long>();
        int slots0 = t.SlotCount;
        // Count each rule once, then keep the old generation and count in it after the growth published the new one.
        for (int i = 0; i < 4; i++)
        {
            var e = Entry(i);
            Assert.True(t.Insert(e, s_out2));
            entries.Add(e);
            var g0 = t.Current;
            ExactRecordTable.Forwarded(ref g0.Record(Slot(t, i)), i + 1, 100 * (i + 1), 1, ExactRecordTable.SoleWriter);
            expected.Add(i + 1);
        }
        var old = t.Current;
        var oldSlots = new int[4];
        for (int i = 0; i < 4; i++) oldSlots[i] = Slot(t, i);
        t.Remove(entries[3]);
        for (int i = 4; t.SlotCount == slots0; i++)
        {
            var e = Entry(i);
            Assert.True(t.Insert(e, s_out2));
            entries.Add(e);
            expected.Add(0);
        }
        Assert.NotSame(old, t.Current);
        Assert.Equal(1, t.RetiredGenerations);
        // The reader still counts in the old generation (it loaded it before the growth), into removed rule 3 too.
        for (int i = 0; i < 4; i++)
        {
            ExactRecordTable.Forwarded(ref old.Record(oldSlots[i]), 10, 1000, 2, ExactRecordTable.SoleWriter);
            expected[i] += 10;
        }
        // New lookups count in the new one.
        for (int i = 0; i < entries.Count; i++)
        {
            if (i == 3) continue;
            Assert.Same(entries[i], t.Find(Key(i)));
            ExactRecordTable.Forwarded(ref t.Current.Record(Slot(t, i)), 1, 64, 3, ExactRecordTable.SoleWriter);
            expected[i] += 1;
        }
        // Until the grace period, totals are never above what was counted, and never below what was counted before
        // the growth.
        for (int i = 0; i < 3; i++) Assert.InRange(Total(t, entries[i], out _), i + 1, expected[i]);
        reader.Quiesce();
        t.Reclaim();
        Assert.Equal(0, t.RetiredGenerations);
        for (int i = 0; i < entries.Count; i++) Assert.Equal(expected[i], Total(t, entries[i], out _));
        Assert.Equal(400 + 1000, entries[3].Bytes);
        Assert.Equal(0, t.RemovingCount);
    }

    [Fact]
    public void SeveralThreads_TheFirstClaimsTheRecord_OthersAreSentToTheEntry()
    {
        var t = new ExactRecordTable(new QuiescentDomain());
        var e = Entry(1);
        t.Insert(e, s_out2);
        ref var r = ref t.Current.Record(Slot(t, 1));
        Assert.True(ExactRecordTable.Forwarded(ref r, 1, 10, 1, 1));
        Assert.True(ExactRecordTable.Forwarded(ref r, 1, 10, 1, 1));
        Assert.False(ExactRecordTable.Forwarded(ref r, 1, 10, 1, 2));
        Assert.False(ExactRecordTable.Forwarded(ref r, 1, 10, 1, 0));
        Assert.Same(s_out2, t.ActionsOf(r.Word));
        // An action swap keeps the claim.
        Assert.True(t.SetActions(e, s_out3));
        Assert.Same(s_out3, t.ActionsOf(r.Word));
        Assert.True(ExactRecordTable.Forwarded(ref r, 1, 10, 1, 1));
        Assert.Equal(3, Total(t, e, out long bytes));
        Assert.Equal(30, bytes);
    }

    [Fact]
    public void TwoThreadsCounting_OneRecordWhileItGrowsAndIsRemoved_LoseNothing()
    {
        var domain = new QuiescentDomain();
        var t = new ExactRecordTable(domain);
        var hot = new FlowEntry[8];
        for (int i = 0; i < hot.Length; i++) t.Insert(hot[i] = Entry(i), s_out2);
        const int Rounds = 20_000;
        long[] counted = new long[hot.Length];
        var threads = new Thread[2];
        var start = new Barrier(3);
        for (int th = 0; th < 2; th++)
        {
            byte owner = (byte)(th + 1);
            threads[th] = new Thread(() =>
            {
                var reader = domain.Register();
                var keys = new FlowKey[hot.Length];
                for (int i = 0; i < keys.Length; i++) keys[i] = Key(i);
                var slots = new int[keys.Length];
                start.SignalAndWait();
                for (int n = 0; n < Rounds; n++)
                {
                    reader.Quiesce();
                    var g = t.Current;
                    ulong pending = (1UL << keys.Length) - 1;
                    g.LookupBurst(keys, ref pending, slots);
                    for (int i = 0; i < keys.Length; i++)
                    {
                        if ((pending >> i & 1) != 0) continue;
                        if (!ExactRecordTable.Forwarded(ref g.Record(slots[i]), 1, 10, 1, owner))
                            g.Entry(slots[i])!.AddCounts(1, 10);
                        Interlocked.Increment(ref counted[i]);
                    }
                }
                reader.Offline();
                domain.Unregister(reader);
            });
            threads[th].Start();
        }
        start.SignalAndWait();
        // The writer grows the table under the readers, and churns other keys.
        int next = 1000;
        var churn = new Queue<FlowEntry>();
        while (threads[0].IsAlive || threads[1].IsAlive)
        {
            var e = Entry(next++);
            t.Insert(e, s_out3);
            churn.Enqueue(e);
            if (churn.Count > 300) t.Remove(churn.Dequeue());
            if (next % 64 == 0) Thread.Yield();
        }
        foreach (var th in threads) th.Join();
        Assert.True(t.ReclaimAfterReaders(10_000));
        for (int i = 0; i < hot.Length; i++)
        {
            Assert.Equal(counted[i], Total(t, hot[i], out long bytes));
            Assert.Equal(counted[i] * 10, bytes);
        }
        // A removal's counts are final after the grace period.
        for (int i = 0; i < hot.Length; i++) t.Remove(hot[i]);
        Assert.True(t.ReclaimAfterReaders(10_000));
        for (int i = 0; i < hot.Length; i++) Assert.Equal(counted[i], hot[i].Packets);
    }

    [Fact]
    public void ActionLists_AreSharedByReference_AndTheirIdsReusedAfterTheGracePeriod()
    {
        var domain = new QuiescentDomain();
        var t = new ExactRecordTable(domain);
        var a = Entry(1);
        var b = Entry(2);
        t.Insert(a, s_out2);
        t.Insert(b, s_out2);
        Assert.Equal(1, t.ActionListCount);
        uint id2 = t.Current.Record(Slot(t, 1)).Word & ExactRecordTable.IdMask;
        var other = new FlowActions([FlowAction.Output(9)]);
        t.SetActions(a, other);
        t.SetActions(b, other);
        Assert.Equal(1, t.ActionListCount);
        // s_out2's id is free now; it is readable under its id until the grace period has passed.
        Assert.Same(s_out2, t.ActionsOf(id2));
        t.Reclaim();
        var c = Entry(3);
        t.Insert(c, s_out3);
        Assert.Equal(id2, t.Current.Record(Slot(t, 3)).Word & ExactRecordTable.IdMask);
        Assert.Same(s_out3, t.ActionsOf(id2));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomInsertsAndRemovals_AgreeWithADictionary(int seed)
    {
        var rng = new Random(seed);
        var domain = new QuiescentDomain();
        var reader = domain.Register();
        var t = new ExactRecordTable(domain);
        var model = new Dictionary<int, (FlowEntry Entry, long Packets)>();
        var removed = new List<(FlowEntry Entry, long Packets)>();
        for (int step = 0; step < 20_000; step++)
        {
            int k = rng.Next(3000);
            switch (rng.Next(4))
            {
                case 0:
                case 1:
                {
                    var e = Entry(k);
                    bool added = t.Insert(e, rng.Next(2) == 0 ? s_out2 : s_out3);
                    Assert.True(added == !model.ContainsKey(k), $"seed {seed} step {step}: insert {k}");
                    if (added) model[k] = (e, 0);
                    break;
                }
                case 2:
                {
                    bool held = model.TryGetValue(k, out var m);
                    Assert.Equal(held, held && t.Remove(m.Entry));
                    if (held)
                    {
                        removed.Add(m);
                        model.Remove(k);
                    }
                    break;
                }
                default:
                {
                    // A packet: counted in its record.
                    reader.Quiesce();
                    var g = t.Current;
                    int s = ExactRecordTable.Find(g, Key(k));
                    Assert.True(s >= 0 == model.ContainsKey(k), $"seed {seed} step {step}: lookup {k}");
                    if (s >= 0)
                    {
                        Assert.Same(model[k].Entry, g.Entry(s));
                        ExactRecordTable.Forwarded(ref g.Record(s), 1, 60, 1, ExactRecordTable.SoleWriter);
                        model[k] = (model[k].Entry, model[k].Packets + 1);
                    }
                    break;
                }
            }
            if (step % 1000 == 0) reader.Quiesce();
            Assert.Equal(model.Count, t.Count);
            Assert.True(t.Count * 2 <= t.SlotCount);
        }
        reader.Offline();
        t.Reclaim();
        foreach (var (k, m) in model)
        {
            Assert.Same(m.Entry, t.Find(Key(k)));
            Assert.Equal(m.Packets, Total(t, m.Entry, out long bytes));
            Assert.Equal(m.Packets * 60, bytes);
        }
        foreach (var (e, p) in removed) Assert.Equal(p, e.Packets);
        var all = new List<FlowEntry>();
        t.CopyTo(all);
        Assert.Equal(model.Count, all.Count);
        t.Dispose();
    }
}
