using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Cached pipeline verdicts under churn: a flow-mod that cannot change a verdict (another rule of the hit's mask and
/// priority added or removed, a rule below the hit, a change in a table the packet does not visit) leaves it in the
/// cache; every change that could (a rule that outranks or ties the hit, the hit removed or its actions or
/// instructions swapped, a rule added or the miss mode changed where the packet missed, a stage created where the
/// run found none) makes it stale at once; and chains that churn keeps making anew reuse pooled verdicts.
/// </summary>
public sealed class VerdictChurnTests
{
    private static readonly MacAddress MacD = MacAddress.Parse("02:00:00:00:00:0d");

    /// <summary>vlan -> eth_src -> eth_dst (writes the output) -> a catch-all: the Faucet shape.</summary>
    private static (FlowEntry Src, FlowEntry Dst, FlowEntry Out) Faucet(DatapathRig r)
    {
        r.Insert(0, Vlan(0xFFFF), 100, [], Goto(1));
        var src = r.Insert(1, DlSrc(MacA), 100, [], Goto(2));
        var dst = r.Insert(2, DlDst(MacB), 100, [], Goto(3, write: new FlowActions([FlowAction.Output(2)])));
        var o = r.Insert(3, Any, 0, []);
        return (src, dst, o);
    }

    private static void Remove(DatapathRig r, int table, FlowEntry e)
    {
        using var w = r.Dp.Pipeline.Stage(table)!.Write();
        Assert.True(w.Remove(e));
    }

    /// <summary>Sends the frame once and says whether the cache answered with a verdict built before (no table run).</summary>
    private static bool CachedAnswer(DatapathRig r, byte[] frame)
    {
        long built = r.Fwd.VerdictsBuilt, misses = r.Fwd.Cache!.Misses;
        r.Send(1, frame);
        return r.Fwd.VerdictsBuilt == built && r.Fwd.Cache.Misses == misses;
    }

    [Fact]
    public void FlowModsThatCannotChangeTheVerdict_LeaveItCached()
    {
        using var r = new DatapathRig();
        Faucet(r);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 2);
        Assert.Equal(2, r.Sent(2).Count);

        // Other hosts' rules (same mask and priority as the hits) come and go in every table the packet visits.
        var c = r.Insert(1, DlSrc(MacC), 100, [], Goto(2));
        var d = r.Insert(2, DlDst(MacD), 100, [], Goto(3, write: new FlowActions([FlowAction.Output(4)])));
        Assert.True(CachedAnswer(r, frame));
        Remove(r, 1, c);
        Remove(r, 2, d);
        Assert.True(CachedAnswer(r, frame));
        // A rule below the hit, and a rule in a table the packet never reaches.
        var low = r.Insert(2, Any, 5, [FlowAction.Output(4)]);
        r.Insert(7, Any, 100, [FlowAction.Output(4)]);
        Assert.True(CachedAnswer(r, frame));
        // A replacement of another rule, and a swap of the actions of a rule of another class. (A swap in the hit's
        // own class makes the class stale: the class, not the rule, carries the version.)
        var e = r.Insert(1, DlSrc(MacD), 100, [], Goto(2));
        r.Insert(1, DlSrc(MacD), 100, [], Goto(3));
        Assert.True(e.IsRemoved);
        using (var w = r.Dp.Pipeline.Stage(2)!.Write()) w.SetActions(low, new FlowActions([FlowAction.Output(3)]));
        Assert.True(CachedAnswer(r, frame));
        Assert.Equal(4, r.Sent(2).Count);
        Assert.Empty(r.Sent(3));
        Assert.Empty(r.Sent(4));
    }

    public static TheoryData<string> Changes => new()
    {
        "higher priority", "equal priority other mask", "hit removed", "hit actions swapped", "hit instructions swapped",
        "rule added where it missed", "miss mode where it missed", "stage created past a continue",
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void FlowModsThatCouldChangeTheVerdict_MakeItStaleAtOnce(string change)
    {
        using var r = new DatapathRig();
        var (src, dst, _) = Faucet(r);
        var frame = Frame(MacA, MacB);
        var missing = Frame(MacC, MacB); // no eth_src rule: misses in table 1 (drop)
        r.Send(1, frame, times: 2);
        r.Send(1, missing, times: 2);
        Assert.Equal(2, r.Sent(2).Count);
        Assert.True(CachedAnswer(r, frame) && CachedAnswer(r, missing));
        r.Sent(2);

        byte[] probe = frame;
        ushort expectPort;
        switch (change)
        {
            case "higher priority":
                r.Insert(2, DlDst(MacB), 200, [FlowAction.Output(3)]);
                expectPort = 3;
                break;
            case "equal priority other mask":
                // An equal-priority rule of another mask may win the tie: the verdict must be recomputed.
                r.Insert(1, FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.DlSrc | OfWildcards.DlDst),
                                                new FlowKeyBuilder().DlSrc(MacA).DlDst(MacB).Key), 100, [FlowAction.Output(3)]);
                expectPort = 0;
                break;
            case "hit removed":
                Remove(r, 1, src);
                expectPort = 0;
                break;
            case "hit actions swapped":
                using (var w = r.Dp.Pipeline.Stage(1)!.Write()) w.SetActions(src, new FlowActions([FlowAction.Output(4)]));
                expectPort = 4;
                break;
            case "hit instructions swapped":
                using (var w = r.Dp.Pipeline.Stage(2)!.Write()) w.SetInstructions(dst, Goto(3, write: new FlowActions([FlowAction.Output(3)])));
                expectPort = 3;
                break;
            case "rule added where it missed":
                r.Insert(1, DlSrc(MacC), 100, [FlowAction.Output(4)]);
                probe = missing;
                expectPort = 4;
                break;
            case "miss mode where it missed":
                r.Dp.Pipeline.Stage(1)!.MissMode = TableMissMode.Continue; // on to table 2, which outputs to 2
                probe = missing;
                expectPort = 2;
                break;
            default:
                // A new rule sends the packet on to stage 4, which does not exist yet (dropped); creating the stage
                // must make that verdict stale.
                r.Insert(1, DlSrc(MacC), 100, [], Goto(4));
                r.Send(1, missing); // runs into stage 4, which does not exist: dropped
                Assert.Empty(r.Sent(2));
                Assert.True(CachedAnswer(r, missing));
                r.Insert(4, Any, 10, [FlowAction.Output(3)]); // creates stage 4
                probe = missing;
                expectPort = 3;
                break;
        }
        Assert.False(CachedAnswer(r, probe));
        if (expectPort != 0)
        {
            Assert.Single(r.Sent(expectPort));
        }
        else if (change == "hit removed")
        {
            Assert.Empty(r.Sent(2));
        }
        // The next packet is answered by the cache again.
        Assert.True(CachedAnswer(r, probe));
    }

    /// <summary>The current verdict the cache holds for <paramref name="frame"/> received on port 1, and its key.</summary>
    private static PipelineVerdict CachedVerdict(DatapathRig r, byte[] frame, out FlowKey key)
    {
        PacketParser.Parse(frame, 1, out key, out _);
        var v = r.Fwd.Cache!.LookupVerdict(key, key.Hash());
        Assert.NotNull(v);
        return v;
    }

    /// <summary>Sends the frame <paramref name="times"/> times in one burst; returns the walks and the repairs it made.</summary>
    private static (long Walks, long Repairs) SendCounting(DatapathRig r, byte[] frame, int times = 1)
    {
        long walks = r.Fwd.PipelineWalks, repairs = r.Fwd.VerdictRepairs;
        r.Send(1, frame, times: times);
        return (r.Fwd.PipelineWalks - walks, r.Fwd.VerdictRepairs - repairs);
    }

    public static TheoryData<string> Repairable => new()
    {
        "deleted and added back", "added back with equal objects", "actions swapped for equal ones",
        "instructions swapped for equal ones", "outranked by a rule that does the same", "table 0 rule added back",
    };

    /// <summary>
    /// A flow-mod that makes the verdict stale but leaves every stage returning a rule that does what its hit did (the
    /// churn of a controller that deletes and re-adds, or re-sends, its rules): the next packet repairs the verdict in
    /// place, with no pipeline run and no verdict built, is forwarded as before, and each rule is credited with the
    /// packets it matched (the old incarnation before, the new one after).
    /// </summary>
    [Theory]
    [MemberData(nameof(Repairable))]
    public void AChangeToARuleThatDoesTheSame_RepairsTheVerdict_AndCreditsEachRule(string change)
    {
        using var r = new DatapathRig();
        var (src, dst, _) = Faucet(r);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 2);
        Assert.Equal(2, r.Sent(2).Count);
        var table0 = r.Dp.Pipeline.Stage(0)!;
        FlowEntry old, now;
        switch (change)
        {
            case "deleted and added back":
                old = src;
                Remove(r, 1, src);
                now = r.Insert(1, DlSrc(MacA), 100, [], src.Instructions);
                break;
            case "added back with equal objects":
                old = dst;
                Remove(r, 2, dst);
                now = r.Insert(2, DlDst(MacB), 100, [], Goto(3, write: new FlowActions([FlowAction.Output(2)])));
                break;
            case "actions swapped for equal ones":
                old = now = src;
                using (var w = r.Dp.Pipeline.Stage(1)!.Write()) w.SetActions(src, new FlowActions([]));
                break;
            case "instructions swapped for equal ones":
                old = now = dst;
                using (var w = r.Dp.Pipeline.Stage(2)!.Write()) w.SetInstructions(dst, Goto(3, write: new FlowActions([FlowAction.Output(2)])));
                break;
            case "outranked by a rule that does the same":
                old = dst;
                now = r.Insert(2, DlDst(MacB), 200, [], Goto(3, write: new FlowActions([FlowAction.Output(2)])));
                break;
            default:
            {
                using (var w = table0.Write()) old = w.Find(Vlan(0xFFFF), 100)!;
                using (var w = table0.Write()) Assert.True(w.Remove(old));
                now = r.Insert(0, Vlan(0xFFFF), 100, [], Goto(1));
                break;
            }
        }
        long oldBefore = old.Packets;
        Assert.Equal((0, 1), SendCounting(r, frame, times: 3));
        Assert.Equal(3, r.Sent(2).Count);
        if (!ReferenceEquals(old, now))
        {
            Assert.Equal(oldBefore, old.Packets); // nothing after its removal or its loss of the packet
            Assert.Equal(3, now.Packets);
        }
        else
        {
            Assert.Equal(5, now.Packets);
        }
        Assert.Equal(5, ReferenceEquals(old, dst) && !ReferenceEquals(now, dst) ? dst.Packets + now.Packets : dst.Packets);
        // Current again: the next packet is a cache hit.
        Assert.True(CachedAnswer(r, frame));
        Assert.Single(r.Sent(2));
    }

    /// <summary>A stage that now returns a rule doing something else (or nothing) is not repaired: the pipeline runs.</summary>
    [Fact]
    public void AChangeToARuleThatDoesOtherwise_RunsThePipeline()
    {
        using var r = new DatapathRig();
        var (src, dst, _) = Faucet(r);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame);
        Assert.Single(r.Sent(2));
        // Added back going to table 3 directly: the action set is empty, the packet is dropped.
        Remove(r, 1, src);
        src = r.Insert(1, DlSrc(MacA), 100, [], Goto(3));
        Assert.Equal((1, 0), SendCounting(r, frame));
        Assert.Empty(r.Sent(2));
        // Added back with an apply-action.
        Remove(r, 1, src);
        src = r.Insert(1, DlSrc(MacA), 100, [FlowAction.Output(4)], Goto(2));
        Assert.Equal((1, 0), SendCounting(r, frame));
        Assert.Single(r.Sent(4));
        Assert.Single(r.Sent(2));
        // Gone: a miss, then back: the miss verdict is not repaired into a hit.
        Remove(r, 1, src);
        Assert.Equal((1, 0), SendCounting(r, frame));
        r.Insert(1, DlSrc(MacA), 100, [FlowAction.Output(4)], Goto(2));
        Assert.Equal((1, 0), SendCounting(r, frame));
        Assert.Single(r.Sent(4));
        Assert.Equal(3, dst.Packets);
    }

    /// <summary>
    /// A verdict that several keys share (one chain) is not repaired in place for one of them (another key might find
    /// other rules): the first key's repair is interned as a new chain, which the next key's repair then shares; the
    /// last holder repairs the old verdict in place. No key walks, one verdict is built, and the counters are right.
    /// </summary>
    [Fact]
    public void ASharedVerdict_IsRepairedIntoTheNewChain_NotInPlace()
    {
        using var r = new DatapathRig();
        var (src, dst, _) = Faucet(r);
        byte[][] frames = [Frame(MacA, MacB, sport: 1000), Frame(MacA, MacB, sport: 1001), Frame(MacA, MacB, sport: 1002)];
        foreach (var f in frames) r.Send(1, f);
        Assert.Equal(1, r.Fwd.VerdictsBuilt); // one chain, one verdict, three cache slots
        Remove(r, 1, src);
        var again = r.Insert(1, DlSrc(MacA), 100, [], src.Instructions);
        Assert.Equal((0, 1), SendCounting(r, frames[0]));
        Assert.Equal(2, r.Fwd.VerdictsBuilt); // the new chain's verdict
        Assert.Equal((0, 1), SendCounting(r, frames[1]));
        Assert.Equal((0, 1), SendCounting(r, frames[2]));
        Assert.Equal(2, r.Fwd.VerdictsBuilt); // shared by the second key, the old one repaired in place by the third
        Assert.Equal(6, r.Sent(2).Count);
        Assert.Equal(3, src.Packets);
        Assert.Equal(3, again.Packets);
        Assert.Equal(6, dst.Packets);
        foreach (var f in frames) Assert.True(CachedAnswer(r, f));
        Assert.Equal(3, r.Sent(2).Count);
    }

    /// <summary>
    /// A verdict already given to a packet of the burst (the same key earlier in it) is not repaired in place under that
    /// packet, which is credited to the rules it went through: the repair is a new verdict; otherwise the same stale
    /// verdict is repaired.
    /// </summary>
    [Fact]
    public void AVerdictAlreadyGivenToAPacketOfTheBurst_IsNotRepaired()
    {
        using var r = new DatapathRig();
        var (src, _, _) = Faucet(r);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame);
        var v = CachedVerdict(r, frame, out var key);
        Remove(r, 1, src);
        r.Insert(1, DlSrc(MacA), 100, [], src.Instructions);
        Assert.Null(r.Fwd.Cache!.LookupVerdict(key, key.Hash(), out var stale));
        Assert.Same(v, stale);
        var other = r.Fwd.Repair(v, key, [v]);
        Assert.NotNull(other);
        Assert.NotSame(v, other);
        Assert.True(other.IsCurrent());
        Assert.False(v.IsCurrent());
        Assert.Same(v, r.Fwd.Repair(v, key, [null]));
        Assert.True(v.IsCurrent());
    }

    /// <summary>
    /// Packets a verdict carried before its repair and not yet credited are credited to the rules it was built with,
    /// not to the rules it is repaired to.
    /// </summary>
    [Fact]
    public void ARepair_PaysPendingCreditsToTheRulesThePacketsWentThrough()
    {
        using var r = new DatapathRig();
        var (_, dst, _) = Faucet(r);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame);
        var v = CachedVerdict(r, frame, out var key);
        var outranking = r.Insert(2, DlDst(MacB), 200, [], Goto(3, write: new FlowActions([FlowAction.Output(2)])));
        // Three packets counted on the verdict and not yet paid (as between two bursts of a busy port).
        v.PendingPackets = 3;
        v.PendingBytes = 3 * frame.Length;
        Assert.Same(v, r.Fwd.Repair(v, key, []));
        Assert.Equal(0, v.PendingPackets);
        r.Send(1, Frame(MacB, MacA)); // another packet, whose burst ends in a credit flush
        Assert.Equal(4, dst.Packets);
        Assert.Equal(0, outranking.Packets);
        r.Send(1, frame);
        Assert.Equal(1, outranking.Packets);
    }

    [Fact]
    public void ChainsMadeAnewByChurn_ReusePooledVerdicts_AndAllocateNothing()
    {
        using var r = new DatapathRig();
        var (src, _, _) = Faucet(r);
        r.Port(2).CaptureSent = false;
        var frame = Frame(MacA, MacB);
        r.Port(1).SetGenerator([frame], 0);
        // Allocation is summed over groups of 8 rounds after 8 to warm up, and the smallest group's sum is kept: the
        // runtime may allocate once on the thread while it tiers a method up (as AllocationMeter).
        long allocated = long.MaxValue, group = 0;
        for (int round = 0; round < 40; round++)
        {
            // The packet's eth_src rule deleted and added again: a miss chain, then a chain through a new rule, each
            // a verdict built anew (the flow-mods themselves are not measured).
            Remove(r, 1, src);
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(2);
            r.Dp.PollUntilIdle();
            long mid = GC.GetAllocatedBytesForCurrentThread();
            src = r.Insert(1, DlSrc(MacA), 100, [], Goto(2));
            long again = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(2);
            r.Dp.PollUntilIdle();
            if (round < 8) continue;
            group += mid - before + GC.GetAllocatedBytesForCurrentThread() - again;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Equal(0, allocated);
        Assert.True(r.Fwd.VerdictsReused > 30, $"{r.Fwd.VerdictsReused} verdicts reused");
    }

    /// <summary>
    /// A run that reads a rule of a write still in progress (visible to lookups, its class not yet published) records
    /// the class as moved: its verdict is never current and never handed to a later run with other actions.
    /// </summary>
    [Fact]
    public void ARunRacingAWrite_IsNeverCurrent_NorShared()
    {
        var p = new Pipeline(MonotonicClock.Instance);
        p.EnableStages();
        var t0 = p.Stage(0)!;
        var walk = new PipelineWalk();
        var interner = new VerdictInterner();
        var key = new FlowKeyBuilder().InPort(1).Key;
        PipelineVerdict v1, v2;
        using (var w = t0.Write()) w.Insert(new FlowEntry(InPort(2), 10, FlowActions.Drop, 0, 0, 0)); // the subtable, published
        using (var w = t0.Write())
        {
            // A new class in that subtable: visible to lookups at once, its class published with the scope.
            var e = new FlowEntry(InPort(1), 20, new FlowActions([FlowAction.Output(2)]), 0, 0, 0);
            w.Insert(e);
            walk.Run(p, key);
            Assert.Equal(-1, walk.Versions[0]);
            v1 = interner.Intern(walk);
            w.SetActions(e, new FlowActions([FlowAction.Output(3)]));
            walk.Run(p, key);
            v2 = interner.Intern(walk);
        }
        Assert.NotSame(v1, v2);
        Assert.Equal(2, v1.Actions.Items[0].Port);
        Assert.Equal(3, v2.Actions.Items[0].Port);
        Assert.False(v1.IsCurrent());
        Assert.False(v2.IsCurrent());
        walk.Run(p, key); // after the write: current
        Assert.True(interner.Intern(walk).IsCurrent());
    }

    [Fact]
    public void Table_KeepsAtMostTheCapOfClasses_ThenSharesTheMissClass_AndDropsEmptyOnes()
    {
        var t = new FlowTable();
        var entries = new List<FlowEntry>();
        using (var w = t.Write())
        {
            for (int p = 0; p < FlowTable.MaxShadowClasses + 10; p++)
            {
                var e = new FlowEntry(InPort(1), (ushort)(p + 1), FlowActions.Drop, 0, 0, 0);
                w.Insert(e);
                entries.Add(e);
            }
        }
        Assert.Equal(FlowTable.MaxShadowClasses, t.ShadowClassCount);
        Assert.Same(t.MissClass, entries[^1].Shadow);
        Assert.NotSame(t.MissClass, entries[0].Shadow);
        // An add bumps the miss class, so verdicts that hit a rule past the cap are stale at every add: still correct.
        long before = t.MissClass.Version;
        using (var w = t.Write()) w.Insert(new FlowEntry(InPort(2), 1, FlowActions.Drop, 0, 0, 0));
        Assert.NotEqual(before, t.MissClass.Version);
        // Once the early classes are empty, a new class takes the place of one of them.
        using (var w = t.Write()) w.Remove(entries.GetRange(0, 20));
        var late = new FlowEntry(DlSrc(MacA), 7, FlowActions.Drop, 0, 0, 0);
        using (var w = t.Write()) w.Insert(late);
        Assert.NotSame(t.MissClass, late.Shadow);
        Assert.True(t.ShadowClassCount <= FlowTable.MaxShadowClasses);
    }

    [Fact]
    public void Table_BumpsOnlyTheClassesAChangeCanShadow()
    {
        var t = new FlowTable();
        FlowEntry Insert(FlowMatch m, ushort prio)
        {
            using var w = t.Write();
            var e = new FlowEntry(m, prio, FlowActions.Drop, 0, 0, 0);
            w.Insert(e);
            return e;
        }
        var a = Insert(DlSrc(MacA), 100);
        var low = Insert(Any, 1);
        var classA = a.Shadow!;
        var classLow = low.Shadow!;
        long va = classA.Version, vl = classLow.Version, vm = t.MissClass.Version;

        var b = Insert(DlSrc(MacB), 100); // same class as a: bumps the classes below it and the miss class
        Assert.Same(classA, b.Shadow);
        Assert.Equal(va, classA.Version);
        Assert.NotEqual(vl, classLow.Version);
        Assert.NotEqual(vm, t.MissClass.Version);

        va = classA.Version;
        vl = classLow.Version;
        vm = t.MissClass.Version;
        using (var w = t.Write()) w.Remove(b); // removals bump nothing
        Assert.Equal((va, vl, vm), (classA.Version, classLow.Version, t.MissClass.Version));

        Insert(DlDst(MacB), 100); // same priority, other mask: bumps a's class too
        Assert.NotEqual(va, classA.Version);
        Assert.True(classA.Version <= t.Version && classLow.Version <= t.Version && t.MissClass.Version <= t.Version);

        va = classA.Version;
        Insert(DlDst(MacC), 50); // below a: a's class stays
        Assert.Equal(va, classA.Version);
        t.MissMode = TableMissMode.Continue;
        Assert.Equal(t.Version, t.MissClass.Version);
        Assert.Equal(va, classA.Version);
    }
}
