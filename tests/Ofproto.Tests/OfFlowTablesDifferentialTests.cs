using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>The classifier against <see cref="OfFlowTablesReference"/> on seeded random rules, packets and flow-mods.</summary>
public class OfFlowTablesDifferentialTests
{
    private const int Burst = 32;

    public static IEnumerable<object[]> Seeds => Enumerable.Range(1, 8).Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomRuleSets_AllLookupPathsEqualReference(int seed)
    {
        var data = new OfFlowTablesTestData(seed);
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var reference = new OfFlowTablesReference(clock);

        int rules = 300 + data.Rng.Next(300);
        var mods = new List<FlowMod>();
        for (int i = 0; i < rules; i++)
        {
            bool exact = data.Rng.Next(10) == 0;
            var m = exact ? data.RandomExactMatch() : data.RandomWildcardMatch();
            mods.Add(data.AddMod(m, data.RandomPriority()));
        }
        var statuses = new FlowModStatus[mods.Count];
        table.ApplyBatch(mods.ToArray(), statuses, null);
        for (int i = 0; i < mods.Count; i++)
            Assert.True(reference.Apply(mods[i], null) == statuses[i], $"seed {seed}: status of add #{i}");

        Assert.Equal(reference.Normal.Count(e => e.Match.IsExact), table.ActiveExact);
        Assert.Equal(reference.Normal.Count(e => !e.Match.IsExact), table.ActiveWildcard);

        var keys = MakeKeys(data, reference.Normal, 64 * Burst);
        var emc = new ExactMatchCache(1024, insertInverseProbability: 3);
        var stats = table.CreateThreadStats();
        CompareAll(seed, "static rules", table, reference, keys, emc, stats);
        // Second pass: the EMC is warm now.
        CompareAll(seed, "static rules (warm EMC)", table, reference, keys, emc, stats);
        Assert.True(emc.Hits > 0, $"seed {seed}: EMC never hit");

        var t0 = table.GetStageStats(0);
        var t1 = table.GetStageStats(1);
        Assert.Equal(2L * 3 * keys.Length, t0.LookupCount); // three counted paths (single+stats, burst, burst+EMC) x 2 passes
        Assert.Equal(t0.LookupCount - t0.MatchedCount, t1.LookupCount);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void FlowModSequences_MatchReferenceAfterEveryStep(int seed)
    {
        var data = new OfFlowTablesTestData(seed, masks: 10);
        var clock = new ManualClock();
        var options = new FlowTableOptions { MaxFlows = 60, MaxEmergencyFlows = 10 };
        var table = new OfFlowTables(clock, options);
        var reference = new OfFlowTablesReference(clock, options);
        var emc = new ExactMatchCache(256, insertInverseProbability: 2); // persists across steps: tests invalidation
        var removedT = new List<FlowRemoved>();
        var removedR = new List<FlowRemoved>();
        var keys = new FlowKey[Burst];
        var hashes = new uint[Burst];
        var results = new FlowEntry?[Burst];

        for (int step = 0; step < 500;)
        {
            int batch = data.Rng.Next(4) == 0 ? data.Rng.Next(2, 6) : 1;
            var mods = new FlowMod[batch];
            for (int i = 0; i < batch; i++) mods[i] = data.RandomMod(reference.Normal);
            removedT.Clear();
            removedR.Clear();
            var statuses = new FlowModStatus[batch];
            if (batch == 1) statuses[0] = table.Apply(mods[0], removedT);
            else table.ApplyBatch(mods, statuses, removedT);
            for (int i = 0; i < batch; i++)
            {
                var expected = reference.Apply(mods[i], removedR);
                Assert.True(expected == statuses[i],
                    $"seed {seed} step {step + i}: {mods[i].Command} flags={mods[i].Flags} {mods[i].Match} prio={mods[i].Priority}: status {statuses[i]}, reference {expected}");
            }
            step += batch;
            Assert.True(removedR.Select(r => OfFlowTablesTestData.Identity(r.Entry) + r.Reason).Order().SequenceEqual(
                            removedT.Select(r => OfFlowTablesTestData.Identity(r.Entry) + r.Reason).Order()),
                        $"seed {seed} step {step}: removed flows differ");
            Assert.All(removedT, r => Assert.True(r.Entry.IsRemoved));

            if (data.Rng.Next(20) == 0)
            {
                bool em = data.Rng.Next(3) == 0;
                table.UseEmergencyTable = em;
                reference.UseEmergencyTable = em;
            }

            // Contents (normal and emergency), via Collect(all).
            if (step % 5 == 0 || batch > 1)
            {
                CompareContents(seed, step, table, reference.Normal, emergency: false);
                CompareContents(seed, step, table, reference.Emergency, emergency: true);
            }

            // Lookups: single and burst (with the long-lived EMC, and without).
            var src = reference.UseEmergencyTable ? reference.Emergency : reference.Normal;
            for (int i = 0; i < Burst; i++)
            {
                keys[i] = src.Count > 0 && data.Rng.Next(4) != 0 ? data.KeyMatching(src[data.Rng.Next(src.Count)].Match) : data.RandomKey();
                hashes[i] = keys[i].Hash();
            }
            table.LookupBurst(keys, hashes, results, emc);
            for (int i = 0; i < Burst; i++)
            {
                var expected = reference.Lookup(keys[i]);
                Assert.True(OfFlowTablesTestData.Same(expected, results[i]),
                    $"seed {seed} step {step} key {keys[i]}: burst+EMC got {OfFlowTablesTestData.Describe(results[i])}, reference {OfFlowTablesTestData.Describe(expected)}");
                var single = table.Lookup(keys[i], hashes[i]);
                Assert.True(OfFlowTablesTestData.Same(expected, single),
                    $"seed {seed} step {step} key {keys[i]}: single got {OfFlowTablesTestData.Describe(single)}, reference {OfFlowTablesTestData.Describe(expected)}");
            }
            table.LookupBurst(keys, hashes, results, null);
            for (int i = 0; i < Burst; i++)
                Assert.True(OfFlowTablesTestData.Same(reference.Lookup(keys[i]), results[i]), $"seed {seed} step {step}: burst without EMC differs at {i}");
        }
    }

    /// <summary>The sequence generator reaches every outcome (so the sequences above test every path).</summary>
    [Fact]
    public void FlowModGenerator_CoversEveryStatusAndCommand()
    {
        var statuses = new HashSet<FlowModStatus>();
        var commands = new HashSet<FlowModCommand>();
        int deletesThatRemoved = 0, outPortDeletes = 0;
        foreach (var seed in Enumerable.Range(1, 8))
        {
            var data = new OfFlowTablesTestData(seed, masks: 10);
            var options = new FlowTableOptions { MaxFlows = 60, MaxEmergencyFlows = 10 };
            var reference = new OfFlowTablesReference(new ManualClock(), options);
            var removed = new List<FlowRemoved>();
            for (int step = 0; step < 500; step++)
            {
                var mod = data.RandomMod(reference.Normal);
                removed.Clear();
                statuses.Add(reference.Apply(mod, removed));
                commands.Add(mod.Command);
                if (removed.Count > 0)
                {
                    deletesThatRemoved++;
                    if (mod.OutPort != PortNumber.None) outPortDeletes++;
                }
            }
        }
        // The statuses of tables, gotos and instructions (never produced by this generator's table-0, apply-only
        // flow-mods) are OfSwitchPipelineTests'.
        FlowModStatus[] of13Only = [FlowModStatus.BadTableId, FlowModStatus.BadGotoTable, FlowModStatus.UnsupportedInstruction];
        Assert.Equal(Enum.GetValues<FlowModStatus>().Except(of13Only).Order(), statuses.Order());
        Assert.Superset(Enum.GetValues<FlowModCommand>().ToHashSet(), commands);
        Assert.True(deletesThatRemoved > 100 && outPortDeletes > 10, $"{deletesThatRemoved} deletes removed flows, {outPortDeletes} with out_port");
    }

    [Fact]
    public void OutPortFilterAndStrictness()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var toPort1 = new FlowActions([FlowAction.Output(1)]);
        var toPort2 = new FlowActions([FlowAction.Output(2)]);
        var enqueue2 = new FlowActions([FlowAction.Enqueue(2, 7)]);
        var key = new FlowKeyBuilder().InPort(1).DlType(0x0800).NwSrc(0x0A000001).NwDst(0x0A000002).Key;
        var inPort1 = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort | OfWildcards.TunIdExt, key);
        var ipDst = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask) | OfWildcards.TunIdExt, key);
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, inPort1, 10, toPort1), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, inPort1, 20, toPort2), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, ipDst, 30, enqueue2), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.Exact(key), 1, toPort2), null));

        var removed = new List<FlowRemoved>();
        // Non-strict delete of everything that outputs to port 2 (enqueue counts as output to its port).
        table.Apply(new FlowMod(FlowModCommand.Delete, FlowMatch.All, 0, FlowActions.Drop, OutPort: 2), removed);
        Assert.Equal(3, removed.Count);
        Assert.All(removed, r => Assert.Equal(FlowRemovedReason.Delete, r.Reason));
        Assert.Equal(0, table.ActiveExact);
        Assert.Equal(1, table.ActiveWildcard);

        // Strict delete needs the priority; out_port that does not match leaves it alone.
        removed.Clear();
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, inPort1, 11, FlowActions.Drop), removed);
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, inPort1, 10, FlowActions.Drop, OutPort: 3), removed);
        Assert.Empty(removed);
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, inPort1, 10, FlowActions.Drop, OutPort: 1), removed);
        Assert.Single(removed);
        Assert.Equal(0, table.ActiveWildcard);
    }

    private static FlowKey[] MakeKeys(OfFlowTablesTestData data, List<FlowEntry> rules, int n)
    {
        var keys = new FlowKey[n];
        for (int i = 0; i < n; i++)
            keys[i] = data.Rng.Next(10) < 7 && rules.Count > 0 ? data.KeyMatching(rules[data.Rng.Next(rules.Count)].Match) : data.RandomKey();
        return keys;
    }

    private static void CompareAll(int seed, string what, OfFlowTables table, OfFlowTablesReference reference, FlowKey[] keys,
                                   ExactMatchCache emc, FlowTableThreadStats stats)
    {
        var expected = new FlowEntry?[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            expected[i] = reference.Lookup(keys[i]);
            var got = table.Lookup(keys[i], keys[i].Hash(), stats);
            Assert.True(OfFlowTablesTestData.Same(expected[i], got),
                $"seed {seed} ({what}) single lookup of {keys[i]}: got {OfFlowTablesTestData.Describe(got)}, reference {OfFlowTablesTestData.Describe(expected[i])}");
        }
        var hashes = keys.Select(k => k.Hash()).ToArray();
        var results = new FlowEntry?[Burst];
        foreach (var cache in new[] { null, emc })
        {
            for (int off = 0; off < keys.Length; off += Burst)
            {
                table.LookupBurst(keys.AsSpan(off, Burst), hashes.AsSpan(off, Burst), results, cache, stats);
                for (int i = 0; i < Burst; i++)
                {
                    Assert.True(OfFlowTablesTestData.Same(expected[off + i], results[i]),
                        $"seed {seed} ({what}) burst lookup (emc={cache is not null}) of {keys[off + i]}: got {OfFlowTablesTestData.Describe(results[i])}, reference {OfFlowTablesTestData.Describe(expected[off + i])}");
                }
            }
        }
    }

    private static void CompareContents(int seed, int step, OfFlowTables table, List<FlowEntry> reference, bool emergency)
    {
        var got = new List<FlowEntry>();
        table.Collect(FlowMatch.All, PortNumber.None, strict: false, got, emergency);
        var a = reference.Select(OfFlowTablesTestData.Content).Order().ToList();
        var b = got.Select(OfFlowTablesTestData.Content).Order().ToList();
        Assert.True(a.SequenceEqual(b),
            $"seed {seed} step {step}: {(emergency ? "emergency" : "normal")} contents differ: reference has {a.Count}, table {b.Count}; "
            + $"only in reference: {string.Join("; ", a.Except(b).Take(3))}; only in table: {string.Join("; ", b.Except(a).Take(3))}");
        Assert.All(got, e => Assert.False(e.IsRemoved));
        if (!emergency)
        {
            Assert.Equal(reference.Count(e => e.Match.IsExact), table.ActiveExact);
            Assert.Equal(reference.Count(e => !e.Match.IsExact), table.ActiveWildcard);
        }
        else
        {
            Assert.Equal(reference.Count, table.Emergency);
        }
    }
}
