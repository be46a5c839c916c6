using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// <see cref="FlowTable"/> against <see cref="ClassifierModel"/>: random rule sets (a few masks, all-ones rules at
/// random priorities, replacements, the same match at several priorities, ties) changed by write scopes of inserts and
/// removals, and after every scope each lookup path (single, burst with and without the exact-match cache, trace)
/// answers every key as the model does. FsCheck chooses the seeds and prints the failing one with its replay; a
/// failing seed is kept as an <see cref="InlineDataAttribute"/> case of the theory below.
/// </summary>
public class ClassifierGenericDifferentialTests
{
    [Fact]
    public void RandomRuleSets_EveryLookupPathEqualsTheGenericReference()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from steps in Gen.Choose(1, 30)
                  select (seed, steps);
        Prop.ForAll(gen.ToArbitrary(), t => RunCase(t.seed, t.steps))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }

    /// <summary>
    /// The same over keys and masks that use the extension words (any bits of metadata, IPv6, MPLS, ARP hardware
    /// addresses, PBB), mixed with OpenFlow 1.0 masks in one table: the subtables over extension words take their own
    /// hash and compare, the others the six-word path, the exact table and the cache compare whole keys.
    /// </summary>
    [Fact]
    public void RandomRuleSetsOverExtensionWords_EveryLookupPathEqualsTheGenericReference()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from steps in Gen.Choose(1, 30)
                  select (seed, steps);
        Prop.ForAll(gen.ToArbitrary(), t => RunCase(t.seed, t.steps, extension: true))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }

    /// <summary>
    /// A case the property found: an all-ones rule at the highest priority kept in the tuple space (its match was in
    /// the hash stage at another priority) was cached as unshadowable, and a more specific mask over extension words at
    /// the same priority, inserted later, did not take its packets from the cache.
    /// </summary>
    [Fact]
    public void AllOnesRuleInTheTupleSpace_IsNotCachedAsUnshadowable() => Assert.True(RunCase(239103447, 18, extension: true));

    /// <summary>The extension generator gives tables with subtables over extension words and keys those rules match.</summary>
    [Fact]
    public void ExtensionGenerator_ReachesExtensionSubtablesAndTheirHits()
    {
        int extRules = 0, extHits = 0;
        for (int seed = 1; seed <= 20; seed++)
        {
            var rng = new Random(seed);
            var data = new ClassifierRuleData(rng, extension: true);
            var model = new ClassifierModel();
            for (int i = 0; i < 100; i++) model.Insert(data.NewRule());
            foreach (var r in model.Rules)
                if (r.Match.UsesExtension) extRules++;
            for (int i = 0; i < 200; i++)
            {
                var w = model.Lookup(data.KeyMatching(model.Rules[rng.Next(model.Count)].Match));
                if (w is not null && w.Match.UsesExtension) extHits++;
            }
        }
        Assert.True(extRules > 200 && extHits > 200, $"rules over extension words {extRules}, lookups they won {extHits}");
    }

    [Theory]
    [InlineData(1, 40)]
    [InlineData(2, 40)]
    [InlineData(3, 40)]
    [InlineData(4, 40)]
    public void FixedSeeds_EveryLookupPathEqualsTheGenericReference(int seed, int steps) => Assert.True(RunCase(seed, steps));

    /// <summary>The generator reaches the cases the tie rules are about (so the property above tests them).</summary>
    [Fact]
    public void Generator_ReachesTiesAllOnesBelowTheTopAndSecondAllOnesRules()
    {
        int hashTies = 0, belowTop = 0, secondAllOnes = 0, tupleTies = 0;
        for (int seed = 1; seed <= 20; seed++)
        {
            var rng = new Random(seed);
            var data = new ClassifierRuleData(rng);
            var model = new ClassifierModel();
            for (int i = 0; i < 150; i++)
            {
                var old = model.Count > 0 && rng.Next(5) == 0 ? model.Rules[rng.Next(model.Count)] : null;
                model.Insert(old is null ? data.NewRule() : data.NewRule(old.Match, data.Priority()));
            }
            foreach (var r in model.Rules)
            {
                if (r.Match.IsExact && r.Priority != FlowTable.MaxPriority) belowTop++;
                if (r.Match.IsExact && !model.InHashStage(r)) secondAllOnes++;
            }
            for (int i = 0; i < 500; i++)
            {
                var key = data.KeyMatching(model.Rules[rng.Next(model.Count)].Match);
                var w = model.Lookup(key);
                var rivals = model.Rules.Where(r => r != w && r.Priority == w!.Priority && r.Match.Matches(key)).ToList();
                if (rivals.Count == 0) continue;
                if (model.InHashStage(w!)) hashTies++;
                else tupleTies++;
            }
        }
        Assert.True(hashTies > 20 && tupleTies > 20 && belowTop > 100 && secondAllOnes > 5,
            $"hash-stage ties {hashTies}, tuple-space ties {tupleTies}, all-ones below the top {belowTop}, second all-ones rules {secondAllOnes}");
    }

    /// <summary>
    /// Big subtables, where some keys sit past their home bucket (the burst's overflow path); with 40,000 rules, subtables
    /// past the size from which the burst lookup prefetches home buckets and candidates.
    /// </summary>
    [Theory]
    [InlineData(6000, false)]
    [InlineData(40000, true)]
    public void LargeSubtables_WithOverflow_BurstEqualsNaiveScan(int count, bool prefetched)
    {
        const int seed = 77;
        var rng = new Random(seed);
        var space = new TupleSpace();
        var rules = new List<FlowEntry>();
        var masks = new[]
        {
            OfWildcards.All & ~(OfWildcards.NwSrcMask | OfWildcards.TpDst) | OfWildcards.TunIdExt,
            OfWildcards.All & ~(OfWildcards.NwDstMask | OfWildcards.InPort) | OfWildcards.TunIdExt,
        };
        for (int i = 0; i < count; i++)
        {
            var key = new FlowKeyBuilder().InPort((ushort)rng.Next(1, 50)).NwSrc((uint)rng.Next(1 << 12)).NwDst((uint)rng.Next(1 << 12))
                .TpDst((ushort)rng.Next(1, 8)).Key;
            var e = new FlowEntry(FlowMatch.FromOpenFlow(masks[i & 1], key), (ushort)rng.Next(100), FlowActions.Drop, 0, 0, 0);
            var replaced = space.Insert(e);
            if (replaced is not null) rules.Remove(replaced);
            rules.Add(e);
        }
        space.Publish();
        Assert.True(space.MaxDisplacement > 0, "no key overflowed its home bucket: the test no longer covers that path");
        Assert.Equal(prefetched, space.HasPrefetchedSubtable);

        var keys = new FlowKey[32];
        var results = new FlowEntry?[32];
        for (int round = 0; round < 100; round++)
        {
            for (int i = 0; i < 32; i++)
            {
                var r = rules[rng.Next(rules.Count)];
                keys[i] = rng.Next(8) == 0
                    ? new FlowKeyBuilder().InPort(99).Key
                    : new FlowKeyBuilder(r.Match.Value).InPort(r.Match.Value.InPort == 0 ? (ushort)rng.Next(1, 50) : r.Match.Value.InPort).Key;
            }
            Array.Clear(results);
            space.LookupBurst(keys, uint.MaxValue, results);
            for (int i = 0; i < 32; i++)
            {
                var matching = rules.Where(e => e.Match.Matches(keys[i])).ToList();
                var got = results[i];
                if (matching.Count == 0)
                {
                    Assert.True(got is null, $"seed {seed} round {round} key {keys[i]}: got {Describe(got)}, expected a miss");
                    continue;
                }
                int top = matching.Max(e => e.Priority);
                Assert.True(got is not null && got.Priority == top && matching.Contains(got),
                    $"seed {seed} round {round} key {keys[i]}: got {Describe(got)}, expected priority {top}");
                Assert.Same(results[i], space.Lookup(keys[i]));
            }
        }
    }

    /// <summary>A free hash slot with an identical rule in the tuple space: the insert replaces that rule.</summary>
    [Fact]
    public void AllOnesRule_IdenticalToOneInTheTupleSpace_ReplacesIt()
    {
        var table = new FlowTable(new ManualClock());
        var exact = FlowMatch.Exact(new FlowKeyBuilder().InPort(1).DlType(0x0800).NwSrc(0x0A000001).Key);
        var low = new FlowEntry(exact, 5, FlowActions.Drop, 0, 0, 0, tag: 1);
        var high = new FlowEntry(exact, 10, FlowActions.Drop, 0, 0, 0, tag: 2);
        var again = new FlowEntry(exact, 10, FlowActions.Drop, 0, 0, 0, tag: 3);
        using (var w = table.Write())
        {
            w.Insert(low);  // the hash stage
            w.Insert(high); // the tuple space: the hash slot holds another priority
        }
        using (var w = table.Write()) w.Remove(low);
        using (var w = table.Write()) Assert.Same(high, w.Insert(again));
        Assert.Equal(1, table.Count);
        Assert.True(high.IsRemoved);
        Assert.Same(again, table.Lookup(exact.Value));
        using (var w = table.Write()) Assert.True(w.Remove(again));
        Assert.Null(table.Lookup(exact.Value));
        Assert.Equal(0, table.Count);
    }

    private static bool RunCase(int seed, int steps, bool extension = false)
    {
        var rng = new Random(seed);
        var data = new ClassifierRuleData(rng, extension);
        var table = new FlowTable(new ManualClock());
        var model = new ClassifierModel();
        var emc = new ExactMatchCache(256, insertInverseProbability: 1); // kept across steps: tests its invalidation
        var stats = new FlowTableThreadStats();
        var toRemove = new List<FlowEntry>();
        var keys = new FlowKey[100];
        var hashes = new uint[100];
        var results = new FlowEntry?[100];

        for (int step = 0; step < steps; step++)
        {
            string where = $"seed {seed} step {step}";
            using (var w = table.Write())
            {
                int ops = step == 0 ? 20 + rng.Next(100) : 1 + rng.Next(8);
                for (int op = 0; op < ops; op++)
                {
                    int c = rng.Next(100);
                    if (c < 12 && model.Count > 0)
                    {
                        var victim = model.Rules[rng.Next(model.Count)];
                        Assert.True(model.Remove(victim));
                        Assert.True(w.Remove(victim), $"{where}: Remove({Describe(victim)}) found nothing");
                    }
                    else if (c < 17 && model.Count > 0)
                    {
                        toRemove.Clear();
                        foreach (var r in model.Rules)
                            if (rng.Next(6) == 0) toRemove.Add(r);
                        foreach (var r in toRemove) model.Remove(r);
                        w.Remove(toRemove);
                    }
                    else
                    {
                        FlowEntry e;
                        if (c < 27 && model.Count > 0)
                        {
                            // Same match as an existing rule: its priority (a replacement) or another one.
                            var old = model.Rules[rng.Next(model.Count)];
                            e = rng.Next(2) == 0 ? data.NewRule(old.Match, old.Priority) : data.NewRule(old.Match, data.Priority());
                        }
                        else
                        {
                            e = data.NewRule();
                        }
                        var expected = model.Insert(e);
                        var replaced = w.Insert(e);
                        Assert.True(ReferenceEquals(expected, replaced),
                            $"{where}: Insert({Describe(e)}) replaced {Describe(replaced)}, reference {Describe(expected)}");
                    }
                }
            }
            Assert.True(model.Count == table.Count, $"{where}: {table.Count} rules, reference {model.Count}");
            Assert.True(model.HashCount == table.ExactCount, $"{where}: {table.ExactCount} in the hash stage, reference {model.HashCount}");

            int n = 1 + rng.Next(keys.Length);
            for (int i = 0; i < n; i++)
            {
                keys[i] = model.Count > 0 && rng.Next(10) < 7 ? data.KeyMatching(model.Rules[rng.Next(model.Count)].Match) : data.RandomKey();
                hashes[i] = keys[i].Hash();
            }
            for (int i = 0; i < n; i++)
            {
                var expected = model.Lookup(keys[i]);
                Same(where, "single lookup", keys[i], expected, table.Lookup(keys[i]));
                Same(where, "single lookup with stats", keys[i], expected, table.Lookup(keys[i], stats));
                var t = table.Trace(keys[i]);
                Same(where, "trace", keys[i], expected, t.Entry);
                Assert.True(model.StageOf(expected) == t.Stage, $"{where}: trace of {keys[i]} names {t.Stage}, reference {model.StageOf(expected)}");
                if (expected is not null)
                    Assert.True(expected.Match.Mask.Equals(t.Mask), $"{where}: trace of {keys[i]} names another mask than its rule's");
            }
            foreach (var cache in new[] { null, emc, emc })
            {
                Array.Clear(results);
                table.LookupBurst(keys.AsSpan(0, n), hashes.AsSpan(0, n), results.AsSpan(0, n), cache, stats);
                string path = cache is null ? "burst lookup" : "burst lookup with the cache";
                for (int i = 0; i < n; i++) Same(where, path, keys[i], model.Lookup(keys[i]), results[i]);
            }
        }
        return true;
    }

    private static void Same(string where, string path, in FlowKey key, FlowEntry? expected, FlowEntry? got)
        => Assert.True(ReferenceEquals(expected, got), $"{where}: {path} of {key} got {Describe(got)}, reference {Describe(expected)}");

    internal static string Describe(FlowEntry? e) => e is null ? "(miss)" : $"#{e.Tag} prio={e.Priority} {e.Match}";
}
