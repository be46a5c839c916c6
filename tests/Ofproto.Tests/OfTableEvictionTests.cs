using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// OpenFlow 1.4's table configuration as Open vSwitch keeps it: eviction from a full table (lowest importance first,
/// then closest to expiry; flows without a timeout never), vacancy events with their hysteresis, the configuration
/// TABLE_DESC shows, and TABLE_MOD's refusals.
/// </summary>
public sealed class OfTableEvictionTests
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]);

    private static FlowMatch InPort(ushort port) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort, new FlowKeyBuilder().InPort(port).Key);

    private static FlowMod Add(ushort inPort, ushort idle = 0, ushort hard = 0, ushort importance = 0, byte table = 0)
        => new(FlowModCommand.Add, InPort(inPort), 10, s_out2, IdleTimeout: idle, HardTimeout: hard, Rules: MatchRules.OpenFlow13,
               TableId: table, Importance: importance, Flags: FlowModFlags.SendFlowRemoved);

    private static FlowMod Delete(ushort inPort, byte table = 0)
        => new(FlowModCommand.DeleteStrict, InPort(inPort), 10, FlowActions.Drop, Rules: MatchRules.OpenFlow13, TableId: table);

    private static List<ushort> Ports(OfFlowTables t, byte table = 0)
    {
        var into = new List<FlowEntry>();
        t.Collect(FlowMatch.All, PortNumber.None, false, into, false, table);
        return [.. into.Select(e => e.Match.Value.InPort).Order()];
    }

    [Fact]
    public void AFullTable_WithEvictionOff_RefusesAnAdd_WithItOn_EvictsTheLeastImportantThenTheSoonestToExpire()
    {
        var clock = new ManualClock();
        var t = new OfFlowTables(clock, new FlowTableOptions { MaxFlows = 4 });
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(1)));                                  // permanent: never evicted
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(2, hard: 100, importance: 7)));
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(3, hard: 50, importance: 7)));
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(4, idle: 200, importance: 3)));
        Assert.Equal(FlowModStatus.TableFull, t.Apply(Add(5, hard: 10, importance: 9)));
        Assert.Equal([1, 2, 3, 4], Ports(t));

        t.SetEviction(0, true);
        var removed = new List<FlowRemoved>();
        // Lowest importance first, whatever its lifetime (port 4: importance 3, 200 s idle).
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(5, hard: 10, importance: 9), removed));
        Assert.Equal([1, 2, 3, 5], Ports(t));
        Assert.Equal(FlowRemovedReason.Eviction, Assert.Single(removed).Reason);
        Assert.Equal(4, removed[0].Entry.Match.Value.InPort);
        // Then, among equals (importance 7), the one that expires first (port 3's hard timeout, 50 s).
        removed.Clear();
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(6, hard: 500, importance: 8), removed));
        Assert.Equal([1, 2, 5, 6], Ports(t));
        Assert.Equal(3, Assert.Single(removed).Entry.Match.Value.InPort);
        // Port 2 is now the only flow of importance 7.
        removed.Clear();
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(7, idle: 20, importance: 7), removed));
        Assert.Equal(2, Assert.Single(removed).Entry.Match.Value.InPort);
        // An idle timeout counts from the last use: port 7 (unused since 0 s, idle 20 s) is due before port 5 (hard
        // 10 s) but port 5's importance (9) keeps it.
        clock.Advance(TimeSpan.FromSeconds(90));
        removed.Clear();
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(8, hard: 1, importance: 7), removed));
        Assert.Equal(7, Assert.Single(removed).Entry.Match.Value.InPort);
        Assert.Equal([1, 5, 6, 8], Ports(t));
        // Replacing a flow evicts nothing.
        removed.Clear();
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(8, hard: 2, importance: 7), removed));
        Assert.Empty(removed);
    }

    /// <summary>
    /// The eviction heap against a scan: random adds (few importances, so ties), replaces, deletes, uses (an idle
    /// timeout counts from the last use, so a flow's place moves later), time passing, and atomic batches committed and
    /// reverted; every eviction takes a flow of the least (importance, expiry) a scan of the table finds at that moment.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void EveryEviction_TakesAFlowAScanWouldTake_ThroughUsesDeletesAndBatches(int seed)
    {
        var rng = new Random(seed);
        var clock = new ManualClock();
        var t = new OfFlowTables(clock, new FlowTableOptions { MaxFlows = 24 });
        t.SetEviction(0, true);
        var removed = new List<FlowRemoved>();
        int evictions = 0;
        for (int step = 0; step < 3000; step++)
        {
            var flows = new List<FlowEntry>();
            t.Collect(FlowMatch.All, PortNumber.None, false, flows, false, 0);
            int op = rng.Next(10);
            if (op < 5 || flows.Count == 0)
            {
                ushort port = (ushort)rng.Next(1, 80);
                bool replaces = flows.Any(e => e.Match.Value.InPort == port);
                var evictable = flows.Where(e => (e.IdleTimeout | e.HardTimeout) != 0).ToList();
                var least = evictable.Count == 0 ? default : evictable.Min(Place);
                bool batch = rng.Next(4) == 0, revert = batch && rng.Next(2) == 0;
                var add = Add(port, idle: (ushort)(rng.Next(3) == 0 ? 0 : rng.Next(1, 60)), hard: (ushort)(rng.Next(3) == 0 ? 0 : rng.Next(1, 60)),
                              importance: (ushort)rng.Next(3));
                removed.Clear();
                FlowModStatus status;
                if (batch)
                {
                    var b = t.BeginBatch(atomic: true);
                    status = b.Apply(add, null, out _);
                    if (revert) b.Revert();
                    else b.Commit(removed);
                }
                else
                {
                    status = t.Apply(add, removed);
                }
                if (replaces || flows.Count < 24)
                {
                    Assert.Equal(FlowModStatus.Ok, status);
                    Assert.Empty(removed);
                }
                else if (evictable.Count == 0)
                {
                    Assert.Equal(FlowModStatus.TableFull, status);
                }
                else
                {
                    Assert.Equal(FlowModStatus.Ok, status);
                    if (revert) continue;
                    var victim = Assert.Single(removed);
                    Assert.Equal(FlowRemovedReason.Eviction, victim.Reason);
                    Assert.Equal(least, Place(victim.Entry));
                    evictions++;
                }
            }
            else if (op < 6 && flows.Count == 24)
            {
                // One batch deletes a flow, adds one in its room, then adds another: the eviction passes over the
                // deleted flow (still linked, hidden from the batch) and may take the one just added.
                var gone = flows[rng.Next(flows.Count)];
                ushort a = Unused(flows, rng), c;
                do c = Unused(flows, rng); while (c == a);
                ushort importance = (ushort)rng.Next(3), idle = (ushort)rng.Next(1, 60);
                var rest = flows.Where(e => e != gone && (e.IdleTimeout | e.HardTimeout) != 0).Select(Place)
                                .Append((importance, clock.NowNanos + idle * 1_000_000_000L)).ToList();
                var b = t.BeginBatch(atomic: true);
                Assert.Equal(FlowModStatus.Ok, b.Apply(Delete(gone.Match.Value.InPort), null, out _));
                Assert.Equal(FlowModStatus.Ok, b.Apply(Add(a, idle: idle, importance: importance), null, out _));
                Assert.Equal(FlowModStatus.Ok, b.Apply(Add(c, hard: 30, importance: 2), null, out _));
                if (rng.Next(2) == 0)
                {
                    b.Revert();
                    continue;
                }
                removed.Clear();
                b.Commit(removed);
                var evicted = Assert.Single(removed, r => r.Reason == FlowRemovedReason.Eviction);
                Assert.Equal(rest.Min(), Place(evicted.Entry));
                evictions++;
            }
            else if (op < 7)
            {
                t.Apply(Delete(flows[rng.Next(flows.Count)].Match.Value.InPort));
            }
            else if (op < 9)
            {
                flows[rng.Next(flows.Count)].Touch(clock.NowNanos);
            }
            else
            {
                clock.Advance(TimeSpan.FromMilliseconds(rng.Next(1, 5000)));
            }
        }
        Assert.True(evictions > 150, $"{evictions} evictions");

        static ushort Unused(List<FlowEntry> flows, Random rng)
        {
            ushort p;
            do p = (ushort)rng.Next(1, 80); while (flows.Any(e => e.Match.Value.InPort == p));
            return p;
        }

        static (ushort, long) Place(FlowEntry e)
        {
            long expiry = long.MaxValue;
            if (e.HardTimeout != 0) expiry = e.CreatedNanos + e.HardTimeout * 1_000_000_000L;
            if (e.IdleTimeout != 0) expiry = Math.Min(expiry, e.LastUsedNanos + e.IdleTimeout * 1_000_000_000L);
            return (OfFlowRule.Of(e)!.Importance, expiry);
        }
    }

    [Fact]
    public void ATableOfPermanentFlows_StaysFull_EvenWithEvictionOnAndImportance()
    {
        var t = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 2 });
        t.SetEviction(0, true);
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(1, importance: 1)));
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(2)));
        Assert.Equal(FlowModStatus.TableFull, t.Apply(Add(3, hard: 5)));
        Assert.Equal([1, 2], Ports(t));
        // Eviction is the table's own: table 1 (eviction off) refuses while table 0 evicts.
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(1, hard: 5, table: 1)));
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(2, hard: 5, table: 1)));
        Assert.Equal(FlowModStatus.TableFull, t.Apply(Add(3, hard: 5, table: 1)));
    }

    [Fact]
    public void AnEvictionInAnAtomicBatch_IsReportedAtTheCommit_AndUndoneByARevert()
    {
        var t = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 2 });
        t.SetEviction(0, true);
        t.Apply(Add(1, hard: 10));
        t.Apply(Add(2, hard: 20));
        var b = t.BeginBatch(atomic: true);
        Assert.Equal(FlowModStatus.Ok, b.Apply(Add(3, hard: 30), null, out _));
        b.Revert();
        Assert.Equal([1, 2], Ports(t));

        b = t.BeginBatch(atomic: true);
        Assert.Equal(FlowModStatus.Ok, b.Apply(Add(3, hard: 30), null, out _));
        Assert.Equal(FlowModStatus.Ok, b.Apply(Delete(2), null, out _));
        var removed = new List<FlowRemoved>();
        b.Commit(removed);
        Assert.Equal([3], Ports(t));
        Assert.Equal([(1, FlowRemovedReason.Eviction), (2, FlowRemovedReason.Delete)],
                     removed.Select(r => ((int)r.Entry.Match.Value.InPort, r.Reason)).OrderBy(x => x.Item1));
    }

    [Fact]
    public void VacancyEvents_FireOnceBelowDown_RearmAboveUp_AsOpenVSwitchsTest()
    {
        // ofproto.at "ofproto - asynchronous message control": flow limit 10, vacancy:20,80 on an empty table.
        var t = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 10 });
        var events = new List<(OfTableStatusReason Reason, OfTableDesc Table)>();
        t.SetVacancy(1, true, 20, 80);
        Assert.Equal(new OfTableDesc(1, false, true, 20, 80, 100), t.Describe(1));
        for (ushort p = 1; p <= 10; p++)
        {
            t.Apply(Add(p, table: 1));
            t.CollectVacancyEvents(events);
            // Below 20% (9 flows: 10%) the down event, once.
            Assert.Equal(p >= 9 ? 1 : 0, events.Count);
        }
        Assert.Equal((OfTableStatusReason.VacancyDown, new OfTableDesc(1, false, true, 20, 80, 10)), events[0]);
        events.Clear();
        for (ushort p = 1; p <= 10; p++)
        {
            t.Apply(Delete(p, table: 1));
            t.CollectVacancyEvents(events);
            // Above 80% (1 flow: 90%) the up event, once.
            Assert.Equal(p >= 9 ? 1 : 0, events.Count);
        }
        Assert.Equal((OfTableStatusReason.VacancyUp, new OfTableDesc(1, false, true, 20, 80, 90)), events[0]);

        // Turned on at 70% (below up): armed for the rise, so filling the table tells nothing and emptying it tells VACANCY_UP.
        events.Clear();
        t.SetVacancy(1, false, 0, 0);
        for (ushort p = 1; p <= 3; p++) t.Apply(Add(p, table: 1));
        t.SetVacancy(1, true, 20, 80);
        for (ushort p = 4; p <= 10; p++) t.Apply(Add(p, table: 1));
        t.CollectVacancyEvents(events);
        Assert.Empty(events);
        for (ushort p = 1; p <= 10; p++) t.Apply(Delete(p, table: 1));
        t.CollectVacancyEvents(events);
        Assert.Equal((OfTableStatusReason.VacancyUp, new OfTableDesc(1, false, true, 20, 80, 100)), Assert.Single(events));
        // Off: nothing, whatever the table does.
        events.Clear();
        t.SetVacancy(1, false, 0, 0);
        for (ushort p = 1; p <= 10; p++) t.Apply(Add(p, table: 1));
        t.CollectVacancyEvents(events);
        Assert.Empty(events);
        Assert.Equal(new OfTableDesc(1, false, false, 0, 0, 0), t.Describe(1));
    }

    private sealed class Reports : IOfReports
    {
        public readonly List<OfFlowRemoved> Removed = new();
        public readonly List<(OfTableStatusReason, OfTableDesc)> Status = new();

        public void PacketIn(in OfPacketIn packet) { }

        public void FlowRemoved(in OfFlowRemoved removed) => Removed.Add(removed);

        public void PortStatus(OfPortReason reason, OfPortDesc port) { }

        public void TableStatus(OfTableStatusReason reason, in OfTableDesc table) => Status.Add((reason, table));
    }

    private static FlowModRequest Add14(ushort priority, ushort hard, ushort importance, byte table = 0)
        => new(FlowModCommand.Add, OfMatch.Any, priority, OfInstructions.Apply(new[] { OfAction.Output(1) }), TableId: table, HardTimeout: hard,
               Flags: FlowModFlags.SendFlowRemoved, Rules: MatchRules.OpenFlow13, Importance: importance);

    [Fact]
    public void TheSwitch_TableModSetsAndRefusesAsOpenVSwitch_EvictsWithFlowRemoved_TellsVacancy_ShowsImportance()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
        dp.AddPort(new MemoryPort("m1", new MacAddress(0x0200_0000_0010UL)));
        using var sw = new OfSwitch(dp, new OfSwitchOptions { DatapathId = 7 }, new OfFlowTables(dp, new FlowTableOptions { MaxFlows = 4 }));
        var reports = new Reports();
        sw.Start(reports);

        // Only the switch's own eviction flags; thresholds down <= up <= 100; the table is judged first.
        Assert.Equal(OfError.BadTableConfig, sw.TableMod(new TableModRequest(0, OfTableConfig.None, true, OfEvictionFlags.Importance)));
        Assert.Equal(OfError.BadTableConfig, sw.TableMod(new TableModRequest(0, OfTableConfig.None, VacancyEvents: true, VacancyDown: 90, VacancyUp: 80)));
        Assert.Equal(OfError.BadTableId, sw.TableMod(new TableModRequest(254, OfTableConfig.None, true)));
        Assert.Equal(new OfTableDesc(0, false, false, 0, 0, 100), sw.TableDescription(0));
        Assert.Equal(OfError.None, sw.TableMod(new TableModRequest(0, OfTableConfig.None, true, OfEvictionFlags.Switch, true, 30, 60)));
        Assert.Equal(new OfTableDesc(0, true, true, 30, 60, 100), sw.TableDescription(0));
        Assert.Equal(OfEvictionFlags.Switch, sw.TableDescription(0).EvictionFlags);
        // Every table at once.
        Assert.Equal(OfError.None, sw.TableMod(new TableModRequest(OfTables.All, OfTableConfig.None, true, null, false)));
        Assert.Equal(new OfTableDesc(9, true, false, 0, 0, 100), sw.TableDescription(9));
        Assert.Equal(OfError.None, sw.TableMod(new TableModRequest(0, OfTableConfig.None, true, null, true, 30, 60)));

        for (ushort p = 1; p <= 4; p++) Assert.Equal(OfError.None, sw.FlowMod(Add14(p, (ushort)(100 + p), (ushort)(p == 3 ? 1 : 5))));
        // 3 flows: 25% < 30, VACANCY_DOWN once; the fourth (0%) tells nothing more.
        Assert.Equal([(OfTableStatusReason.VacancyDown, new OfTableDesc(0, true, true, 30, 60, 25))], reports.Status);
        Assert.Equal(OfError.None, sw.FlowMod(Add14(5, 100, 5)));
        var evicted = Assert.Single(reports.Removed);
        Assert.Equal((OfFlowRemovedReason.Eviction, (ushort)3), (evicted.Reason, evicted.Priority));

        var importance = new Dictionary<ushort, ushort>();
        Assert.Equal(OfError.None, sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) =>
        {
            importance[f.Priority] = f.Importance;
            return true;
        }));
        Assert.Equal(new Dictionary<ushort, ushort> { [1] = 5, [2] = 5, [4] = 5, [5] = 5 }, importance);
        // A modify keeps the flow's importance.
        Assert.Equal(OfError.None, sw.FlowMod(Add14(5, 100, 0) with { Command = FlowModCommand.ModifyStrict }));
        Assert.Equal(OfError.None, sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) =>
        {
            importance[f.Priority] = f.Importance;
            return true;
        }));
        Assert.Equal(5, importance[5]);

        // Deleting down to one flow (75% > 60): VACANCY_UP.
        for (ushort p = 1; p <= 4; p++) sw.FlowMod(new FlowModRequest(FlowModCommand.DeleteStrict, OfMatch.Any, p, default, Rules: MatchRules.OpenFlow13));
        Assert.Equal((OfTableStatusReason.VacancyUp, new OfTableDesc(0, true, true, 30, 60, 75)), reports.Status[^1]);
        Assert.Equal(2, reports.Status.Count);
    }
}
