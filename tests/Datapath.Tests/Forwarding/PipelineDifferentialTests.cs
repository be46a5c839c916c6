using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Cached multi-table forwarding (exact-match cache of verdicts, verdicts shared by chain) against the table-by-table
/// reference (every packet run through the tables with a verdict of its own): random rule sets over five tables
/// (gotos, write/clear-actions, metadata, header rewrites, random miss modes), random packets in bursts, and random
/// churn between bursts (inserts, removals, action and instruction swaps, miss-mode changes). After every burst both
/// switches must have sent the same frames on every port, made the same packet-ins, and credited the same counters to
/// every rule and every table. FsCheck chooses the seeds; a failing one is kept as an inline case below.
/// </summary>
public sealed class PipelineDifferentialTests
{
    private static readonly MacAddress[] Macs = [MacA, MacB, MacC, MacAddress.Parse("02:00:00:00:00:0d")];
    private static readonly int[] TableIds = [0, 1, 2, 4, 7];

    [Fact]
    public void RandomPipelinesAndChurn_CachedEqualsTableByTable()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from rounds in Gen.Choose(1, 12)
                  select (seed, rounds);
        Prop.ForAll(gen.ToArbitrary(), t => RunCase(t.seed, t.rounds)).Check(Config.QuickThrowOnFailure.WithMaxTest(60));
    }

    [Theory]
    [InlineData(1, 20)]
    [InlineData(2, 20)]
    [InlineData(3, 20)]
    public void FixedSeeds_CachedEqualsTableByTable(int seed, int rounds) => Assert.True(RunCase(seed, rounds));

    /// <summary>
    /// A cache of 8 slots: verdicts are evicted and their objects reused for other chains all the time, so a verdict
    /// reused while something still referred to it would show here as a wrong frame or count.
    /// </summary>
    [Fact]
    public void TinyCache_VerdictsReusedUnderEviction_CachedEqualsTableByTable()
    {
        long reused = 0;
        for (int seed = 11; seed <= 30; seed++)
        {
            RunCase(seed, 40, out _, out _, emcEntries: 8, out long r, out _);
            reused += r;
        }
        Assert.True(reused > 20, $"{reused} verdicts reused");
    }

    /// <summary>The cases reach the cache (so the property above compares cached verdicts, not only fresh ones).</summary>
    [Fact]
    public void Cases_HitTheCacheAndRebuildVerdictsAfterChurn()
    {
        long hits = 0, built = 0, repaired = 0;
        for (int seed = 1; seed <= 3; seed++)
        {
            RunCase(seed, 20, out long h, out long b, ExactMatchCache.DefaultCapacity, out _, out long p);
            hits += h;
            built += b;
            repaired += p;
        }
        Assert.True(hits > 30, $"{hits} cache hits");
        Assert.True(built > 10, $"{built} verdicts built");
        Assert.True(repaired > 0, $"{repaired} verdicts repaired");
    }

    /// <summary>
    /// Churn made mostly of rules deleted and added back as equal ones and of swaps for equal actions and instructions:
    /// the stale verdicts the cache repairs in place instead of running the pipeline (PipelineVerdict.TryRepair) must
    /// forward and count as the table-by-table reference does.
    /// </summary>
    [Fact]
    public void ChurnOfEqualRules_RepairedVerdicts_CachedEqualsTableByTable()
    {
        long repaired = 0;
        for (int seed = 41; seed <= 60; seed++)
        {
            RunCase(seed, 30, out _, out _, ExactMatchCache.DefaultCapacity, out _, out long p, equalChurn: true);
            repaired += p;
        }
        Assert.True(repaired > 20, $"{repaired} verdicts repaired");
    }

    private sealed record Rule(int Table, FlowEntry A, FlowEntry B);

    private static bool RunCase(int seed, int rounds) => RunCase(seed, rounds, out _, out _);

    private static bool RunCase(int seed, int rounds, out long cacheHits, out long verdictsBuilt)
        => RunCase(seed, rounds, out cacheHits, out verdictsBuilt, ExactMatchCache.DefaultCapacity, out _, out _);

    private static bool RunCase(int seed, int rounds, out long cacheHits, out long verdictsBuilt, int emcEntries, out long verdictsReused, out long verdictsRepaired,
                                bool equalChurn = false)
    {
        var rng = new Random(seed);
        using var cached = new DatapathRig(options: new DatapathOptions { PacketInRate = 0, EmcEntries = emcEntries });
        using var reference = new DatapathRig(options: new DatapathOptions { PacketInRate = 0, EmcEntries = 0 });
        reference.Fwd.BypassVerdictCaches = true;
        var rules = new List<Rule>();
        foreach (int t in TableIds)
        {
            var mode = (TableMissMode)rng.Next(3);
            foreach (var r in new[] { cached, reference })
            {
                var stage = t == 0 ? r.Dp.Pipeline.Stage(0)! : r.Dp.Pipeline.GetOrCreateStage(t);
                stage.MissMode = mode;
                r.Dp.Pipeline.EnableStages();
            }
        }
        for (int i = 0; i < 25; i++) AddRule(rng, cached, reference, rules);
        cached.Dp.MissBehavior = reference.Dp.MissBehavior = MissBehavior.Controller;

        for (int round = 0; round < rounds; round++)
        {
            int burst = rng.Next(1, 40);
            for (int i = 0; i < burst; i++)
            {
                var frame = RandomFrame(rng);
                ushort port = (ushort)rng.Next(1, 5);
                cached.Port(port).Inject(frame);
                reference.Port(port).Inject(frame);
            }
            cached.Dp.PollUntilIdle();
            reference.Dp.PollUntilIdle();
            Compare(cached, reference, rules, seed, round);
            for (int c = rng.Next(0, 4); c > 0; c--) Churn(rng, cached, reference, rules, equalChurn);
        }
        cacheHits = cached.Fwd.Cache!.Hits;
        verdictsBuilt = cached.Fwd.VerdictsBuilt;
        verdictsReused = cached.Fwd.VerdictsReused;
        verdictsRepaired = cached.Fwd.VerdictRepairs;
        return true;
    }

    private static void Compare(DatapathRig a, DatapathRig b, List<Rule> rules, int seed, int round)
    {
        string where = $"seed {seed}, round {round}";
        for (ushort p = 1; p <= 4; p++)
        {
            var sa = a.Sent(p).Select(Convert.ToHexString).Order().ToList();
            var sb = b.Sent(p).Select(Convert.ToHexString).Order().ToList();
            Assert.True(sa.SequenceEqual(sb), $"{where}: port {p} sent {sa.Count} frames cached, {sb.Count} table by table");
        }
        int ua = a.Dp.DrainUpcalls((in Upcall _) => { }), ub = b.Dp.DrainUpcalls((in Upcall _) => { });
        Assert.True(ua == ub, $"{where}: {ua} packet-ins cached, {ub} table by table");
        foreach (var r in rules)
        {
            Assert.True(r.A.Packets == r.B.Packets && r.A.Bytes == r.B.Bytes,
                        $"{where}: rule {r.A} counted {r.A.Packets}/{r.A.Bytes} cached, {r.B.Packets}/{r.B.Bytes} table by table");
        }
        foreach (int t in TableIds) Assert.Equal(b.Dp.Pipeline.GetStageTotals(t), a.Dp.Pipeline.GetStageTotals(t));
    }

    private static byte[] RandomFrame(Random rng)
    {
        var src = Macs[rng.Next(Macs.Length)];
        var dst = Macs[rng.Next(Macs.Length)];
        ushort? vlan = rng.Next(3) switch { 0 => null, 1 => 5, _ => 6 };
        return FrameBuilder.Udp(src, dst, IpA, IpB, (ushort)rng.Next(1, 3), (ushort)rng.Next(80, 82), vlan: vlan);
    }

    private static FlowMatch RandomMatch(Random rng)
    {
        var w = OfWildcards.All;
        var b = new FlowKeyBuilder();
        if (rng.Next(3) == 0) { w &= ~OfWildcards.InPort; b.InPort((ushort)rng.Next(1, 5)); }
        if (rng.Next(2) == 0) { w &= ~OfWildcards.DlSrc; b.DlSrc(Macs[rng.Next(Macs.Length)]); }
        if (rng.Next(2) == 0) { w &= ~OfWildcards.DlDst; b.DlDst(Macs[rng.Next(Macs.Length)]); }
        if (rng.Next(3) == 0) { w &= ~OfWildcards.DlVlan; b.DlVlan(rng.Next(3) switch { 0 => FlowKey.VlanNone, 1 => (ushort)5, _ => (ushort)6 }); }
        if (rng.Next(4) == 0) { w &= ~(OfWildcards.DlType | OfWildcards.NwProto | OfWildcards.TpDst); b.DlType(PacketParser.EthTypeIpv4).NwProto(PacketParser.ProtoUdp).TpDst((ushort)rng.Next(80, 82)); }
        return FlowMatch.FromOpenFlow(w, b.Key);
    }

    private static FlowAction RandomAction(Random rng, bool forSet) => rng.Next(forSet ? 5 : 6) switch
    {
        0 => FlowAction.Output((ushort)rng.Next(1, 5)),
        1 => FlowAction.SetDlDst(Macs[rng.Next(Macs.Length)]),
        2 => FlowAction.SetVlanVid((ushort)rng.Next(5, 7)),
        3 => FlowAction.StripVlan(),
        4 => FlowAction.SetTpDst((ushort)rng.Next(80, 82)),
        _ => FlowAction.SetDlSrc(Macs[rng.Next(Macs.Length)]),
    };

    private static FlowActions RandomActions(Random rng, bool forSet)
    {
        var items = new FlowAction[rng.Next(0, 3)];
        for (int i = 0; i < items.Length; i++) items[i] = RandomAction(rng, forSet);
        return new FlowActions(items);
    }

    private static FlowInstructions? RandomInstructions(Random rng, int table)
    {
        if (rng.Next(4) == 0) return null;
        var later = TableIds.Where(t => t > table).ToArray();
        int go = later.Length > 0 && rng.Next(4) != 0 ? later[rng.Next(later.Length)] : FlowInstructions.NoGoto;
        var write = rng.Next(2) == 0 ? RandomActions(rng, forSet: true) : null;
        ulong mask = rng.Next(3) == 0 ? (ulong)rng.Next(1, 256) : 0;
        return new FlowInstructions(write, rng.Next(5) == 0, (ulong)rng.Next(), mask, go);
    }

    private static FlowInstructions? Copy(FlowInstructions? i)
        => i is null ? null : new(i.WriteActions is { } w ? new FlowActions([.. w.Items]) : null, i.ClearActions, i.MetadataValue, i.MetadataMask, i.GotoTable, i.Meter);

    private static void AddRule(Random rng, DatapathRig a, DatapathRig b, List<Rule> rules)
    {
        int t = TableIds[rng.Next(TableIds.Length)];
        var match = RandomMatch(rng);
        ushort prio = (ushort)rng.Next(1, 6);
        var apply = RandomActions(rng, forSet: false);
        var ins = RandomInstructions(rng, t);
        FlowEntry Insert(DatapathRig r)
        {
            var stage = r.Dp.Pipeline.Stage(t)!;
            using var w = stage.Write();
            // An identical rule is replaced (and leaves the list below).
            var e = new FlowEntry(match, prio, new FlowActions(apply.Items), 0, 0, r.Dp.Clock.NowNanos);
            w.SetInstructions(e, ins);
            w.Insert(e);
            return e;
        }
        var ea = Insert(a);
        var eb = Insert(b);
        rules.RemoveAll(r => r.A.IsRemoved);
        rules.Add(new Rule(t, ea, eb));
    }

    private static void Churn(Random rng, DatapathRig a, DatapathRig b, List<Rule> rules, bool equalChurn = false)
    {
        int op = equalChurn && rng.Next(4) != 0 ? rng.Next(5, 7) : rng.Next(8);
        if (op == 0 || rules.Count == 0)
        {
            AddRule(rng, a, b, rules);
            return;
        }
        var r = rules[rng.Next(rules.Count)];
        switch (op)
        {
            case 1:
                foreach (var (rig, e) in new[] { (a, r.A), (b, r.B) })
                {
                    using var w = rig.Dp.Pipeline.Stage(r.Table)!.Write();
                    w.Remove(e);
                }
                rules.Remove(r);
                break;
            case 2:
            {
                var actions = RandomActions(rng, forSet: false);
                foreach (var (rig, e) in new[] { (a, r.A), (b, r.B) })
                {
                    using var w = rig.Dp.Pipeline.Stage(r.Table)!.Write();
                    w.SetActions(e, new FlowActions(actions.Items));
                }
                break;
            }
            case 3:
            {
                var ins = RandomInstructions(rng, r.Table);
                foreach (var (rig, e) in new[] { (a, r.A), (b, r.B) })
                {
                    using var w = rig.Dp.Pipeline.Stage(r.Table)!.Write();
                    w.SetInstructions(e, ins);
                }
                break;
            }
            case 5:
            {
                // Deleted and added back as an equal rule (new objects with the same contents), as a controller re-sends.
                rules.Remove(r);
                var pair = new FlowEntry[2];
                int k = 0;
                foreach (var (rig, e) in new[] { (a, r.A), (b, r.B) })
                {
                    using var w = rig.Dp.Pipeline.Stage(r.Table)!.Write();
                    w.Remove(e);
                    var again = new FlowEntry(e.Match, e.Priority, new FlowActions([.. e.Actions.Items]), 0, 0, rig.Dp.Clock.NowNanos);
                    w.SetInstructions(again, Copy(e.Instructions));
                    w.Insert(again);
                    pair[k++] = again;
                }
                rules.RemoveAll(x => x.A.IsRemoved);
                rules.Add(new Rule(r.Table, pair[0], pair[1]));
                break;
            }
            case 6:
            {
                // Actions and instructions swapped for equal ones.
                foreach (var (rig, e) in new[] { (a, r.A), (b, r.B) })
                {
                    using var w = rig.Dp.Pipeline.Stage(r.Table)!.Write();
                    w.SetActions(e, new FlowActions([.. e.Actions.Items]));
                    w.SetInstructions(e, Copy(e.Instructions));
                }
                break;
            }
            default:
            {
                int t = TableIds[rng.Next(TableIds.Length)];
                var mode = (TableMissMode)rng.Next(3);
                a.Dp.Pipeline.Stage(t)!.MissMode = mode;
                b.Dp.Pipeline.Stage(t)!.MissMode = mode;
                break;
            }
        }
    }
}
