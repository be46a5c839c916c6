using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>OpenFlow 1.0 flow-mod semantics, capacity, emergency flows, EMC validity, observers, stats.</summary>
public class OfFlowTablesFlowModTests
{
    private static readonly FlowActions s_out1 = new([FlowAction.Output(1)]);
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]);

    private static FlowKey Key(ushort inPort, uint nwDst, ushort tpDst = 80)
        => new FlowKeyBuilder().InPort(inPort).DlVlan(0xFFFF).DlType(0x0800).NwProto(6)
            .NwSrc(0x0A000001).NwDst(nwDst).TpSrc(1234).TpDst(tpDst).Key;

    /// <summary>Match on in_port and an nw_dst prefix (tunnel id wildcarded, as OF1.0 controllers mean).</summary>
    private static FlowMatch InPortDst(ushort inPort, uint nwDst, int prefix)
        => FlowMatch.FromOpenFlow(
            (OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask))
            | (OfWildcards)((uint)(32 - prefix) << (int)OfWildcards.NwDstShift) | OfWildcards.TunIdExt,
            Key(inPort, nwDst));

    private static FlowMod Add(in FlowMatch m, ushort prio, FlowActions? a = null, ulong cookie = 0, ushort idle = 0,
                               ushort hard = 0, FlowModFlags flags = FlowModFlags.None)
        => new(FlowModCommand.Add, m, prio, a ?? s_out1, cookie, idle, hard, flags);

    [Fact]
    public void Add_ReplacesIdenticalRule_WithFreshCountersAndNoFlowRemoved()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var m = InPortDst(1, 0x0A000002, 24);
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(m, 100, s_out1, cookie: 1), null));
        var first = table.Lookup(Key(1, 0x0A000002), 0)!;
        first.Hit(5, 500, clock.NowNanos);
        clock.Advance(TimeSpan.FromSeconds(3));

        var removed = new List<FlowRemoved>();
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(m, 100, s_out2, cookie: 2), removed));
        Assert.Empty(removed);
        Assert.True(first.IsRemoved);
        var second = table.Lookup(Key(1, 0x0A000002), 0)!;
        Assert.NotSame(first, second);
        Assert.Equal(0, second.Packets);
        Assert.Equal(clock.NowNanos, second.CreatedNanos);
        Assert.Equal(2UL, second.Cookie);
        Assert.Same(s_out2, second.Actions);
        Assert.Equal(1, table.ActiveWildcard);

        // Same match, another priority: a second rule, not a replacement.
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(m, 50), null));
        Assert.Equal(2, table.ActiveWildcard);
        Assert.Same(second, table.Lookup(Key(1, 0x0A000002), 0));
    }

    [Fact]
    public void Exact_BeatsEveryWildcard_AndPriorityIsNormalised()
    {
        var table = new OfFlowTables(new ManualClock());
        var key = Key(1, 0x0A000002);
        table.Apply(Add(InPortDst(1, 0x0A000002, 32), 0xFFFF, s_out1), null);
        table.Apply(Add(FlowMatch.Exact(key), 3, s_out2), null);
        var hit = table.Lookup(key, 0)!;
        Assert.Equal(0xFFFF, hit.Priority);
        Assert.Equal(OfFlowTables.MainTableId, hit.TableId);
        Assert.Same(s_out2, hit.Actions);
        // A packet with a tunnel id still hits the exact rule (exact rules ignore it).
        var tunnelled = new FlowKeyBuilder(key).TunId(77).Key;
        Assert.Same(hit, table.Lookup(tunnelled, 0));

        // Strict requests on an exact match are normalised too: whatever priority they carry.
        var removed = new List<FlowRemoved>();
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, FlowMatch.Exact(key), 9, s_out1), null);
        Assert.Same(s_out1, hit.Actions);
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, FlowMatch.Exact(key), 1234, FlowActions.Drop), removed);
        Assert.Single(removed);
        Assert.Same(hit, removed[0].Entry);
        Assert.Equal(0, table.ActiveExact);
    }

    [Fact]
    public void OpenFlow10_ExactnessIsDecidedOnTheMatchAsReceived_TheFlowKeepsTheNormalisedMatch()
    {
        // An ARP flow with no wildcard is exact (OF1.0 3.4): it ranks above every wildcard flow, even one at 0xFFFF,
        // although the 1.0 rules wildcard nw_tos and the ports it cannot match on.
        var table = new OfFlowTables(new ManualClock());
        var arp = new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlType(0x0806).NwProto(1).NwSrc(0x0A000001).NwDst(0x0A000002).Key;
        var allArp = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.DlType) | OfWildcards.TunIdExt, arp);
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, allArp, 0xFFFF, s_out1, Rules: MatchRules.OpenFlow10), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.Exact(arp), 5, s_out2, Rules: MatchRules.OpenFlow10), null));
        var hit = table.Lookup(arp, 0)!;
        Assert.Same(s_out2, hit.Actions);
        Assert.Equal((0xFFFF, 5), (hit.Priority, hit.RequestedPriority));
        Assert.Equal(OfWildcards.NwTos | OfWildcards.TpSrc | OfWildcards.TpDst | OfWildcards.TunIdExt, hit.Match.Wildcards);

        // Strict requests with that exact match find it whatever priority they carry.
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, FlowMatch.Exact(arp), 9, s_out1, Rules: MatchRules.OpenFlow10), null);
        Assert.Same(s_out1, hit.Actions);
        var removed = new List<FlowRemoved>();
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, FlowMatch.Exact(arp), 1234, FlowActions.Drop, Rules: MatchRules.OpenFlow10), removed);
        Assert.Same(hit, Assert.Single(removed).Entry);
        Assert.Equal(1, table.ActiveWildcard);

        // Normalised matches that are not exact keep their requested priority.
        var arpFrom1 = FlowMatch.FromOpenFlow(OfWildcards.NwTos | OfWildcards.TunIdExt, arp);
        table.Apply(new FlowMod(FlowModCommand.Add, arpFrom1, 7, s_out2, Rules: MatchRules.OpenFlow10), null);
        Assert.Same(s_out1, table.Lookup(arp, 0)!.Actions);
    }

    [Fact]
    public void Modify_KeepsCountersAndTimeouts_UpdatesActionsAndCookie_OrAddsWhenNothingMatches()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var a = InPortDst(1, 0x0A000100, 24);
        var b = InPortDst(1, 0x0A000200, 24);
        table.Apply(Add(a, 10, s_out1, cookie: 1, idle: 30, hard: 60), null);
        table.Apply(Add(b, 20, s_out1, cookie: 1), null);
        var ea = table.Lookup(Key(1, 0x0A000101), 0)!;
        var eb = table.Lookup(Key(1, 0x0A000201), 0)!;
        ea.Hit(3, 300, clock.NowNanos);

        // Non-strict on in_port=1 covers both (any priority).
        var inPort1 = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort | OfWildcards.TunIdExt, Key(1, 0));
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Modify, inPort1, 0, s_out2, Cookie: 7, IdleTimeout: 1), null));
        foreach (var e in new[] { ea, eb })
        {
            Assert.False(e.IsRemoved);
            Assert.Same(s_out2, e.Actions);
            Assert.Equal(7UL, e.Cookie);
        }
        Assert.Equal(3, ea.Packets);
        Assert.Equal(30, ea.IdleTimeout);
        Assert.Equal(60, ea.HardTimeout);
        Assert.Equal(2, table.ActiveWildcard);

        // Strict with the wrong priority matches nothing, so it acts as ADD.
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.ModifyStrict, a, 11, s_out1, Cookie: 9), null));
        Assert.Equal(3, table.ActiveWildcard);
        Assert.Equal(11, table.Lookup(Key(1, 0x0A000101), 0)!.Priority);
        Assert.Same(s_out2, ea.Actions);
    }

    [Fact]
    public void Modify_CookieOptionOff_KeepsCookie()
    {
        var table = new OfFlowTables(new ManualClock(), new FlowTableOptions { ModifyUpdatesCookie = false });
        var m = InPortDst(2, 0x0A000100, 24);
        table.Apply(Add(m, 10, s_out1, cookie: 5), null);
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, m, 10, s_out2, Cookie: 6), null);
        var e = table.Lookup(Key(2, 0x0A000100), 0)!;
        Assert.Same(s_out2, e.Actions);
        Assert.Equal(5UL, e.Cookie);
    }

    [Fact]
    public void CheckOverlap_RefusesSamePriorityOverlap_Only()
    {
        var table = new OfFlowTables(new ManualClock());
        var wide = InPortDst(1, 0x0A000000, 16);
        var narrow = InPortDst(1, 0x0A000100, 24);
        var elsewhere = InPortDst(2, 0x0A000100, 24);
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(wide, 10), null));
        Assert.Equal(FlowModStatus.Overlap, table.Apply(Add(narrow, 10, flags: FlowModFlags.CheckOverlap), null));
        Assert.Equal(FlowModStatus.Overlap, table.Apply(Add(wide, 10, flags: FlowModFlags.CheckOverlap), null)); // identical overlaps too
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(narrow, 11, flags: FlowModFlags.CheckOverlap), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(elsewhere, 10, flags: FlowModFlags.CheckOverlap), null));
        Assert.Equal(3, table.ActiveWildcard);

        // Exact rules live at 0xFFFF: they overlap wildcard rules of priority 0xFFFF that cover them.
        var key = Key(1, 0x0A000105);
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(InPortDst(1, 0x0A000100, 24), 0xFFFF), null));
        Assert.Equal(FlowModStatus.Overlap, table.Apply(Add(FlowMatch.Exact(key), 1, flags: FlowModFlags.CheckOverlap), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(FlowMatch.Exact(Key(3, 0x0A000105)), 1, flags: FlowModFlags.CheckOverlap), null));
        Assert.Equal(FlowModStatus.Overlap, table.Apply(Add(InPortDst(3, 0x0A000000, 8), 0xFFFF, flags: FlowModFlags.CheckOverlap), null));
    }

    [Fact]
    public void Capacity_IsEnforcedPerTable_ReplacementsStillAllowed()
    {
        var table = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 3, MaxEmergencyFlows = 1 });
        for (ushort p = 1; p <= 2; p++) Assert.Equal(FlowModStatus.Ok, table.Apply(Add(FlowMatch.Exact(Key(p, 1)), 0), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(InPortDst(1, 0x0A000000, 8), 1), null));
        // Exact and wildcard flows count alike against the one limit.
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Add(FlowMatch.Exact(Key(4, 1)), 0), null));
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Add(InPortDst(1, 0x0A000000, 8), 2), null));
        // MODIFY that has to add also reports TableFull.
        Assert.Equal(FlowModStatus.TableFull, table.Apply(new FlowMod(FlowModCommand.ModifyStrict, InPortDst(9, 0, 8), 3, s_out1), null));
        // Replacing a flow is no new flow.
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(FlowMatch.Exact(Key(2, 1)), 0, s_out2), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(InPortDst(1, 0x0A000000, 8), 1, s_out2), null));
        Assert.Equal((2, 1), (table.ActiveExact, table.ActiveWildcard));

        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(InPortDst(1, 0, 8), 1, flags: FlowModFlags.Emergency), null));
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Add(FlowMatch.Exact(Key(9, 9)), 1, flags: FlowModFlags.Emergency), null));

        // Each classifier stage may hold up to the table's limit (they share it).
        var stats = table.GetStageStats(0);
        Assert.Equal(("hash", 3, 2), (stats.Name, stats.MaxEntries, stats.ActiveCount));
        stats = table.GetStageStats(1);
        Assert.Equal(("tuple-space", 3, 1), (stats.Name, stats.MaxEntries, stats.ActiveCount));
        stats = table.GetTableStats(OfFlowTables.MainTableId);
        Assert.Equal(("classifier", 3, 3), (stats.Name, stats.MaxEntries, stats.ActiveCount));
    }

    [Theory]
    [InlineData(MatchRules.OpenFlow10, 0)]
    [InlineData(MatchRules.OpenFlow13, 0)]
    [InlineData(MatchRules.OpenFlow13, 3)]
    public void FlowLimit_HoldsThatManyFlowsOfAnyKind_InEachTable(MatchRules rules, byte tableId)
    {
        var table = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 3 });
        FlowMod Mod(FlowModCommand command, FlowMatch m, ushort priority) => new(command, m, priority, s_out1, Rules: rules, TableId: tableId);

        // Wildcard flows alone fill a table (what a 1.3 controller installs), then neither kind gets in.
        for (ushort prio = 1; prio <= 3; prio++) Assert.Equal(FlowModStatus.Ok, table.Apply(Mod(FlowModCommand.Add, InPortDst(1, 0x0A000000, 8), prio), null));
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Mod(FlowModCommand.Add, InPortDst(1, 0x0A000000, 8), 4), null));
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Mod(FlowModCommand.Add, FlowMatch.Exact(Key(1, 1)), 5), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Mod(FlowModCommand.Add, InPortDst(1, 0x0A000000, 8), 3), null)); // a replacement

        // Exact flows take the room a deleted flow leaves, and meet the same limit.
        Assert.Equal(FlowModStatus.Ok, table.Apply(Mod(FlowModCommand.DeleteStrict, InPortDst(1, 0x0A000000, 8), 3), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Mod(FlowModCommand.Add, FlowMatch.Exact(Key(1, 1)), 5), null));
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Mod(FlowModCommand.Add, FlowMatch.Exact(Key(2, 1)), 5), null));
        Assert.Equal(FlowModStatus.TableFull, table.Apply(Mod(FlowModCommand.Add, InPortDst(2, 0x0A000000, 8), 6), null));

        var st = table.GetTableStats(tableId);
        Assert.Equal((tableId, 3, 3), (st.TableId, st.MaxEntries, st.ActiveCount));
        Assert.All(table.Tables.ToArray(), t => Assert.Equal(3, t.MaxEntries));
        if (tableId != OfFlowTables.MainTableId)
        {
            // The limit is each table's: table 0 still takes flows.
            Assert.Equal(FlowModStatus.Ok, table.Apply(Mod(FlowModCommand.Add, InPortDst(1, 0x0A000000, 8), 1) with { TableId = 0 }, null));
            Assert.Equal((1, 3), (table.GetTableStats(0).ActiveCount, table.GetTableStats(0).MaxEntries));
        }
    }

    [Fact]
    public void FlowLimit_Default_IsTwoMillionFlowsOfAnyKind()
    {
        var table = new OfFlowTables(new ManualClock());
        Assert.Equal(2_000_000, FlowTableOptions.DefaultMaxFlows);
        Assert.Equal(FlowTableOptions.DefaultMaxFlows, table.GetTableStats(0).MaxEntries);
        Assert.Equal(FlowTableOptions.DefaultMaxFlows, table.GetStageStats(1).MaxEntries);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 0 }));
    }

    [Fact]
    public void FlowLimit_StaysWithinWhatTheRecordTableHolds_WithEveryExactFlowTwice()
    {
        // A limit past the hash stage's record table would let an add reach the table's own bound (an exception in the
        // middle of an add); a bundle can hold each exact flow twice (old and new version) until its commit ends.
        Assert.True(2L * FlowTableOptions.MaxFlowLimit <= Softswitch.Datapath.Classifier.ExactRecordTable.MaxKeys);
        Assert.True(FlowTableOptions.DefaultMaxFlows <= FlowTableOptions.MaxFlowLimit);
        Assert.Equal(FlowTableOptions.MaxFlowLimit,
            new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = FlowTableOptions.MaxFlowLimit }).GetTableStats(0).MaxEntries);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = FlowTableOptions.MaxFlowLimit + 1 }));
    }

    [Fact]
    public void TableModel_IsOneOpenFlowTable_WithTheClassifierStagesAsItsDetail()
    {
        var table = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 5 });
        var t = Assert.Single(table.Tables.ToArray());
        Assert.Equal(((byte)0, "classifier", 5, TableMiss.Controller), (t.Id, t.Name, t.MaxEntries, t.Miss));
        Assert.Equal(1, table.TableCount);
        table.Apply(Add(FlowMatch.Exact(Key(1, 1)), 0), null);
        table.Apply(Add(InPortDst(2, 0x0A000000, 8), 1), null);
        // Exact and wildcard flows alike are flows of table 0.
        var lookups = table.CreateThreadStats();
        Assert.Equal((byte)0, table.Lookup(Key(1, 1), 0, lookups)!.TableId);
        Assert.Equal((byte)0, table.Lookup(Key(2, 0x0A000001), 0, lookups)!.TableId);
        var st = table.GetTableStats(0);
        Assert.Equal(((byte)0, "classifier", 5, 2, 2L, 2L), (st.TableId, st.Name, st.MaxEntries, st.ActiveCount, st.LookupCount, st.MatchedCount));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.GetTableStats(1));
        Assert.Equal(("hash", 1), (table.GetStageStats(0).Name, table.GetStageStats(0).ActiveCount));
        Assert.Equal(("tuple-space", 1), (table.GetStageStats(1).Name, table.GetStageStats(1).ActiveCount));
        Assert.Equal((byte)0, table.GetStageStats(1).TableId);
    }

    [Fact]
    public void Emergency_SeparateTable_TimeoutsRefused_UsedOnlyWhenSwitchedOn()
    {
        var table = new OfFlowTables(new ManualClock());
        var key = Key(1, 0x0A000001);
        var m = InPortDst(1, 0x0A000000, 8);
        Assert.Equal(FlowModStatus.BadEmergencyTimeout, table.Apply(Add(m, 5, idle: 1, flags: FlowModFlags.Emergency), null));
        Assert.Equal(FlowModStatus.BadEmergencyTimeout, table.Apply(Add(m, 5, hard: 1, flags: FlowModFlags.Emergency), null));
        // A MODIFY that would have to add an emergency flow with timeouts fails the same way.
        Assert.Equal(FlowModStatus.BadEmergencyTimeout,
            table.Apply(new FlowMod(FlowModCommand.Modify, m, 5, s_out1, IdleTimeout: 3, Flags: FlowModFlags.Emergency), null));
        Assert.Equal(0, table.Emergency);

        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(m, 5, s_out2, flags: FlowModFlags.Emergency), null));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(m, 5, s_out1), null));
        Assert.Equal((1, 1), (table.Emergency, table.ActiveWildcard));

        var emc = new ExactMatchCache(64);
        var results = new FlowEntry?[1];
        Assert.Same(s_out1, table.Lookup(key, 0)!.Actions);
        table.LookupBurst([key], [key.Hash()], results, emc);
        Assert.Same(s_out1, results[0]!.Actions);
        table.LookupBurst([key], [key.Hash()], results, emc); // now cached

        table.UseEmergencyTable = true;
        var em = table.Lookup(key, 0)!;
        Assert.True(em.IsEmergency);
        Assert.Same(s_out2, em.Actions);
        table.LookupBurst([key], [key.Hash()], results, emc);
        Assert.Same(em, results[0]); // the EMC is bypassed
        Assert.Null(table.Lookup(Key(2, 0x0A000001), 0));

        // Flow-mods without OFPFF_EMERG never touch emergency flows, and vice versa.
        var removed = new List<FlowRemoved>();
        table.Apply(new FlowMod(FlowModCommand.Delete, FlowMatch.All, 0, FlowActions.Drop), removed);
        Assert.Single(removed);
        Assert.False(removed[0].Entry.IsEmergency);
        Assert.Equal(1, table.Emergency);
        var listed = new List<FlowEntry>();
        table.Collect(FlowMatch.All, PortNumber.None, false, listed, emergency: true);
        Assert.Equal(new[] { em }, listed);
        table.Apply(new FlowMod(FlowModCommand.Delete, FlowMatch.All, 0, FlowActions.Drop, Flags: FlowModFlags.Emergency), removed);
        Assert.Equal(0, table.Emergency);

        table.UseEmergencyTable = false;
        Assert.Null(table.Lookup(key, 0));
    }

    [Fact]
    public void BadCommand()
    {
        var table = new OfFlowTables(new ManualClock());
        Assert.Equal(FlowModStatus.BadCommand, table.Apply(new FlowMod((FlowModCommand)9, FlowMatch.All, 0, s_out1), null));
        Assert.Equal(0L, table.Version);
    }

    [Fact]
    public void EmcValidity_ExactChurnKeepsExactHits_WildcardAddInvalidates()
    {
        var table = new OfFlowTables(new ManualClock());
        var emc = new ExactMatchCache(1024, insertInverseProbability: 1000);
        var exactKey = Key(1, 0x0A000001);
        var wildKey = Key(2, 0x0A000001);
        table.Apply(Add(FlowMatch.Exact(exactKey), 0, s_out1), null);
        table.Apply(Add(InPortDst(2, 0x0A000000, 8), 10, s_out1), null);
        FlowKey[] keys = [exactKey, wildKey];
        uint[] hashes = [exactKey.Hash(), wildKey.Hash()];
        var results = new FlowEntry?[2];
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Equal(2, emc.Inserts);
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Equal(2, emc.Hits);

        // Exact churn: the shadow version moves, the cached exact flow stays valid, the wildcard one does not.
        long shadow = table.CacheVersion;
        for (ushort i = 0; i < 50; i++)
        {
            table.Apply(Add(FlowMatch.Exact(Key(3, i)), 0), null);
            table.Apply(new FlowMod(FlowModCommand.DeleteStrict, FlowMatch.Exact(Key(3, i)), 0, FlowActions.Drop), null);
        }
        Assert.True(table.CacheVersion > shadow);
        emc.ResetCounters();
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Equal((1L, 1L), (emc.Hits, emc.Misses));
        Assert.Same(s_out1, results[1]!.Actions);

        // A higher-priority wildcard rule must win at once, not after the cached entry ages out.
        table.LookupBurst(keys, hashes, results, emc); // re-cached
        table.Apply(Add(InPortDst(2, 0x0A000000, 24), 20, s_out2), null);
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Same(s_out2, results[1]!.Actions);

        // MODIFY needs no invalidation: same entry object, new actions.
        shadow = table.CacheVersion;
        table.LookupBurst(keys, hashes, results, emc);
        var cached = results[1];
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, InPortDst(2, 0x0A000000, 24), 20, s_out1), null);
        Assert.Equal(shadow, table.CacheVersion);
        emc.ResetCounters();
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Equal(2L, emc.Hits);
        Assert.Same(cached, results[1]);
        Assert.Same(s_out1, results[1]!.Actions);

        // Deleting the cached flow makes it a miss (IsRemoved), and the lower rule takes over.
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, InPortDst(2, 0x0A000000, 24), 20, FlowActions.Drop), null);
        Assert.Equal(shadow, table.CacheVersion);
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Equal(10, results[1]!.Priority);
        // An exact add for the wildcard-cached key takes over too.
        table.LookupBurst(keys, hashes, results, emc);
        table.Apply(Add(FlowMatch.Exact(wildKey), 0, s_out2), null);
        table.LookupBurst(keys, hashes, results, emc);
        Assert.Equal(OfFlowTables.MainTableId, results[1]!.TableId);
    }

    [Fact]
    public void Emc_ProbabilisticInsertWhenBusy_AlwaysWhenFree()
    {
        var table = new OfFlowTables(new ManualClock());
        table.Apply(Add(FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default), 1), null);
        // One set of two ways: everything collides.
        var emc = new ExactMatchCache(2, ways: 2, insertInverseProbability: 100, seed: 42);
        var results = new FlowEntry?[1];
        for (ushort i = 0; i < 10_000; i++)
        {
            var k = Key(i, 1);
            table.LookupBurst([k], [7u], results, emc);
        }
        // Two free-way inserts, then about 1 in 100 of the remaining misses.
        Assert.InRange(emc.Inserts, 2 + 50, 2 + 200);
        var always = new ExactMatchCache(2, ways: 2, insertInverseProbability: 1);
        for (ushort i = 0; i < 100; i++) table.LookupBurst([Key(i, 1)], [7u], results, always);
        Assert.Equal(100, always.Inserts);
    }

    [Fact]
    public void Observers_SeeEveryChangeAfterItIsPublished()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var log = new RecordingObserver(table);
        table.AddObserver(log);
        var m = InPortDst(1, 0x0A000000, 8);
        table.Apply(Add(m, 5), null);
        table.Apply(Add(m, 5, s_out2), null);                                   // replace
        table.Apply(new FlowMod(FlowModCommand.Modify, m, 0, s_out1), null);
        table.Apply(Add(FlowMatch.Exact(Key(1, 1)), 0, idle: 1), null);
        clock.Advance(TimeSpan.FromSeconds(2));
        table.Expire(new List<FlowRemoved>());
        table.Apply(new FlowMod(FlowModCommand.Delete, FlowMatch.All, 0, FlowActions.Drop), null);
        Assert.Equal(new[]
        {
            "added 5", "removed 5 Delete", "added 5", "modified 5", "added 65535", "removed 65535 IdleTimeout", "removed 5 Delete",
        }, log.Events);
        Assert.True(log.AllVisibleWhenReported);
    }

    [Fact]
    public void Apply_ReturnsTheFlowWithTheRequestsMatchAndPriority()
    {
        var table = new OfFlowTables(new ManualClock());
        var m = InPortDst(1, 0x0A000002, 24);

        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(m, 100), null, out var added));
        Assert.NotNull(added);
        Assert.Same(added, table.Lookup(Key(1, 0x0A000002), 0));

        // MODIFY_STRICT changes that flow in place and returns it.
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.ModifyStrict, m, 100, s_out2), null, out var modified));
        Assert.Same(added, modified);
        Assert.Same(s_out2, modified!.Actions);

        // A non-strict MODIFY returns the one of its targets with the request's match and priority, if any.
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Modify, m, 100, s_out1), null, out modified));
        Assert.Same(added, modified);
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Modify, FlowMatch.All, 100, s_out2), null, out modified));
        Assert.Null(modified);
        Assert.Same(s_out2, added!.Actions);

        // A MODIFY_STRICT that matches nothing adds, and returns the new flow.
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.ModifyStrict, m, 7, s_out1), null, out var asAdd));
        Assert.NotNull(asAdd);
        Assert.NotSame(added, asAdd);
        Assert.Equal(7, asAdd!.RequestedPriority);

        // An exact flow's priority is normalised; the request's own priority still finds it.
        var exact = FlowMatch.Exact(Key(2, 0x0A000003));
        Assert.Equal(FlowModStatus.Ok, table.Apply(Add(exact, 10), null, out var exactFlow));
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.ModifyStrict, exact, 10, s_out2), null, out var exactModified));
        Assert.Same(exactFlow, exactModified);

        // DELETE and failures return nothing.
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, 100, FlowActions.Drop), null, out var deleted));
        Assert.Null(deleted);
        Assert.Equal(FlowModStatus.Overlap, table.Apply(Add(m, 7, flags: FlowModFlags.CheckOverlap), null, out var refused));
        Assert.Null(refused);
    }

    private sealed class RecordingObserver(OfFlowTables table) : IFlowTableObserver
    {
        public readonly List<string> Events = new();
        public bool AllVisibleWhenReported = true;

        public void OnAdded(FlowEntry e)
        {
            Events.Add($"added {e.Priority}");
            var found = new List<FlowEntry>();
            // Collect takes the writer lock; observers run under it, and the lock is reentrant.
            table.Collect(e.Match, PortNumber.None, true, found);
            AllVisibleWhenReported &= found.Contains(e);
        }

        public void OnModified(FlowEntry e) => Events.Add($"modified {e.Priority}");

        public void OnRemoved(FlowEntry e, FlowRemovedReason reason)
        {
            Events.Add($"removed {e.Priority} {reason}");
            AllVisibleWhenReported &= e.IsRemoved;
        }
    }

    [Fact]
    public void Version_BumpsOncePerPublishedChange()
    {
        var table = new OfFlowTables(new ManualClock());
        Assert.Equal(0L, table.Version);
        table.Apply(Add(InPortDst(1, 0, 8), 1), null);
        Assert.Equal(1L, table.Version);
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, InPortDst(1, 0, 8), 2, FlowActions.Drop), null); // no-op
        Assert.Equal(1L, table.Version);
        var mods = Enumerable.Range(0, 10).Select(i => Add(InPortDst((ushort)i, 0, 8), 1)).ToArray();
        table.ApplyBatch(mods, new FlowModStatus[10], null);
        Assert.Equal(2L, table.Version);
        Assert.Equal(10, table.ActiveWildcard); // in_port 1 replaced
    }

    [Fact]
    public void TableStats_SumPerThreadCounters()
    {
        var table = new OfFlowTables(new ManualClock());
        table.Apply(Add(FlowMatch.Exact(Key(1, 1)), 0), null);
        table.Apply(Add(InPortDst(2, 0, 8), 1), null);
        var s1 = table.CreateThreadStats();
        var s2 = table.CreateThreadStats();
        var emc = new ExactMatchCache(64, insertInverseProbability: 1);
        FlowKey[] keys = [Key(1, 1), Key(2, 5), Key(3, 5)];
        uint[] hashes = keys.Select(k => k.Hash()).ToArray();
        var results = new FlowEntry?[3];
        table.LookupBurst(keys, hashes, results, emc, s1);
        table.LookupBurst(keys, hashes, results, emc, s2); // EMC hits counted like table hits
        table.Lookup(keys[2], 0, s2);
        var t0 = table.GetStageStats(0);
        var t1 = table.GetStageStats(1);
        Assert.Equal((7L, 2L), (t0.LookupCount, t0.MatchedCount));
        Assert.Equal((5L, 2L), (t1.LookupCount, t1.MatchedCount));
        Assert.Equal((7L, 4L), (table.GetTableStats(0).LookupCount, table.GetTableStats(0).MatchedCount));
        table.ReleaseThreadStats(s1);
        Assert.Equal(7L, table.GetStageStats(0).LookupCount);
    }

    [Fact]
    public void Collect_SubsetStrictAndOutPort()
    {
        var table = new OfFlowTables(new ManualClock());
        table.Apply(Add(InPortDst(1, 0x0A000000, 8), 1, s_out1), null);
        table.Apply(Add(InPortDst(1, 0x0A000000, 8), 2, s_out2), null);
        table.Apply(Add(InPortDst(1, 0x0A010000, 16), 3, s_out1), null);
        table.Apply(Add(FlowMatch.Exact(Key(1, 0x0A010203)), 0, s_out2), null);
        table.Apply(Add(InPortDst(2, 0x0A000000, 8), 1, s_out1), null);
        var list = new List<FlowEntry>();
        table.Collect(InPortDst(1, 0x0A000000, 8), PortNumber.None, strict: false, list);
        Assert.Equal(4, list.Count);
        list.Clear();
        table.Collect(InPortDst(1, 0x0A000000, 8), 2, strict: false, list);
        Assert.Equal(2, list.Count);
        list.Clear();
        table.Collect(InPortDst(1, 0x0A000000, 8), PortNumber.None, strict: true, list);
        Assert.Equal(new[] { 1, 2 }, list.Select(e => (int)e.Priority).Order());
        list.Clear();
        table.Collect(FlowMatch.Exact(Key(1, 0x0A010203)), PortNumber.None, strict: false, list);
        Assert.Single(list);
    }
}
