using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// Atomic batches (<see cref="FlowModBatch"/>, a bundle's commit): statuses and tables as one-by-one application when
/// committed, every table exactly as before (flows, counters, timeouts, cookies) when reverted, deletes in effect for
/// the batch at once and out of their tables at the commit, and the whole batch published as one pipeline change.
/// </summary>
public sealed class FlowModBatchTests
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]), s_out3 = new([FlowAction.Output(3)]);

    private static FlowMatch InPort(ushort port) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort, new FlowKeyBuilder().InPort(port).Key);

    private static FlowMod Add(byte table, ushort inPort, ushort priority = 10, FlowActions? actions = null, ulong cookie = 0,
                               ushort idle = 0, ushort hard = 0, FlowModFlags flags = FlowModFlags.None)
        => new(FlowModCommand.Add, InPort(inPort), priority, actions ?? s_out2, Cookie: cookie, IdleTimeout: idle, HardTimeout: hard,
               Flags: flags, Rules: MatchRules.OpenFlow13, TableId: table);

    private static FlowMod Delete(byte table, ushort inPort, ushort priority = 10)
        => new(FlowModCommand.DeleteStrict, InPort(inPort), priority, FlowActions.Drop, Rules: MatchRules.OpenFlow13, TableId: table);

    private static FlowMod Modify(byte table, ushort inPort, FlowActions actions, bool resetCounts = false)
        => new(FlowModCommand.Modify, InPort(inPort), 0, actions, Flags: resetCounts ? FlowModFlags.ResetCounts : FlowModFlags.None,
               Rules: MatchRules.OpenFlow13, TableId: table);

    /// <summary>Every flow of every table with everything a revert must restore: match, priority, actions, cookie, timeouts, counts, creation time.</summary>
    private static List<string> Flows(OfFlowTables t)
    {
        var all = new List<string>();
        foreach (var table in t.Tables.ToArray())
        {
            var into = new List<FlowEntry>();
            t.Collect(FlowMatch.All, PortNumber.None, false, into, false, table.Id);
            foreach (var e in into)
            {
                all.Add($"{table.Id} {e.Match} {e.RequestedPriority} {string.Join(",", e.Actions.Items.Select(a => a.ToString()))} " +
                        $"{e.Instructions?.GotoTable} c={OfFlowRule.CookieOf(e)} t={e.IdleTimeout}/{e.HardTimeout} n={e.Packets}/{e.Bytes} at={e.CreatedNanos} removed={e.IsRemoved}");
            }
        }
        all.Sort(StringComparer.Ordinal);
        return all;
    }

    private static OfFlowTables Seeded(ManualClock clock)
    {
        var t = new OfFlowTables(clock);
        for (byte table = 0; table < 4; table++)
        {
            for (ushort port = 1; port <= 4; port++)
            {
                Assert.Equal(FlowModStatus.Ok, t.Apply(Add(table, port, cookie: (ulong)(table * 10 + port), idle: 30, hard: 60)));
                clock.Advance(TimeSpan.FromMilliseconds(3));
            }
        }
        // Counts on every flow, so a revert that loses them shows.
        foreach (var s in t.Tables.ToArray())
        {
            var into = new List<FlowEntry>();
            t.Collect(FlowMatch.All, PortNumber.None, false, into, false, s.Id);
            foreach (var e in into) e.Hit(s.Id + 1, 100 * (s.Id + 1), clock.NowNanos);
        }
        return t;
    }

    /// <summary>
    /// A modify, or an add that replaces a flow (OpenFlow 1.3: counts kept), in an atomic batch makes a new flow beside
    /// the old one, which lookups see until the commit: the new flow has the old one's counts, those it counted until
    /// the commit included; RESET_COUNTS starts it at none.
    /// </summary>
    [Theory]
    [InlineData(FlowModCommand.Modify, false)]
    [InlineData(FlowModCommand.Add, false)]
    [InlineData(FlowModCommand.Modify, true)]
    public void AReplaceInABatch_KeepsTheCounts_UntilTheCommitIncluded(FlowModCommand command, bool reset)
    {
        var clock = new ManualClock();
        var t = new OfFlowTables(clock);
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(0, 1, cookie: 7, idle: 30)));
        var into = new List<FlowEntry>();
        t.Collect(FlowMatch.All, PortNumber.None, false, into, false, 0);
        var old = Assert.Single(into);
        old.Hit(2, 200, clock.NowNanos);

        var batch = t.BeginBatch(atomic: true);
        var mod = command == FlowModCommand.Add ? Add(0, 1, actions: s_out3, cookie: 7, idle: 30, flags: reset ? FlowModFlags.ResetCounts : FlowModFlags.None)
                                                : Modify(0, 1, s_out3, reset);
        Assert.Equal(FlowModStatus.Ok, batch.Apply(mod, null, out _));
        into.Clear();
        t.Collect(FlowMatch.All, PortNumber.None, false, into, false, 0);
        var flow = Assert.Single(into); // within the batch's own view: the new flow only
        Assert.NotSame(old, flow);
        Assert.False(old.IsRemoved);
        Assert.Equal(s_out2.ToString(), old.Actions.ToString());
        // Still the flow lookups find: it counts.
        old.Hit(3, 300, clock.NowNanos);
        batch.Commit();

        Assert.True(old.IsRemoved);
        into.Clear();
        t.Collect(FlowMatch.All, PortNumber.None, false, into, false, 0);
        Assert.Same(flow, Assert.Single(into));
        Assert.Equal(s_out3.ToString(), flow.Actions.ToString());
        Assert.Equal(7UL, OfFlowRule.CookieOf(flow));
        Assert.Equal(30, flow.IdleTimeout);
        Assert.Equal(reset ? 0 : 5, flow.Packets);
        Assert.Equal(reset ? 0 : 500, flow.Bytes);
    }

    [Fact]
    public void AFlowModFailingHalfway_RevertsEveryTable_FlowsCountersTimeoutsAndCookies()
    {
        var clock = new ManualClock();
        var t = Seeded(clock);
        var before = Flows(t);
        long changes = t.Pipeline.Changes.Version;
        var versions = t.Tables.ToArray().Select(s => t.Pipeline.Stage(s.Id)!.Version).ToArray();

        var batch = t.BeginBatch(atomic: true);
        Assert.Same(batch, t.Current);
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Add(0, 9), null, out _));                               // a new flow
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Add(1, 2, actions: s_out3, cookie: 99), null, out _));  // replaces one
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Modify(2, 3, s_out3, resetCounts: true), null, out _)); // modifies one
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Delete(3, 4), null, out _));                            // deletes one
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Delete(1, 2), null, out _));                            // deletes the replacement
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Add(1, 2, actions: s_out2, cookie: 7), null, out _));   // and adds it again
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Modify(1, 2, s_out3), null, out _));                    // then modifies that
        var overlap = Add(2, 3) with { Flags = FlowModFlags.CheckOverlap };
        Assert.Equal(FlowModStatus.Overlap, batch.Apply(overlap, null, out _));
        // Nothing of it is published while the batch is open.
        Assert.Equal(changes, t.Pipeline.Changes.Version);
        batch.Revert();

        Assert.Null(t.Current);
        Assert.Equal(before, Flows(t));
        // Published as one change (a revert touched the tables, and cached results must look again).
        Assert.Equal(changes + 1, t.Pipeline.Changes.Version);
        Assert.Throws<InvalidOperationException>(() => batch.Commit());
        Assert.All(t.Tables.ToArray(), s => Assert.True(t.Pipeline.Stage(s.Id)!.Version >= versions[s.Id]));
    }

    [Fact]
    public void ADeleteInABatch_IsGoneForTheBatch_AndLeavesItsTableAtTheCommit_AfterTheAdds()
    {
        var clock = new ManualClock();
        var t = Seeded(clock);
        var batch = t.BeginBatch(atomic: true);
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Delete(0, 1), null, out _));
        // Still in the table (packets still find it) but gone for the batch: a modify finds nothing, an overlap
        // check does not see it, and the table's capacity counts it out.
        Assert.Equal(4, t.GetTableStats(0).ActiveCount);
        var modify = new FlowMod(FlowModCommand.ModifyStrict, InPort(1), 10, s_out3, Rules: MatchRules.OpenFlow13, TableId: 0);
        Assert.Equal(FlowModStatus.Ok, batch.Apply(modify, null, out var modified));
        Assert.Null(modified);
        var readd = Add(0, 1, actions: s_out3) with { Flags = FlowModFlags.CheckOverlap };
        Assert.Equal(FlowModStatus.Ok, batch.Apply(readd, null, out var added));
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Delete(0, 2), null, out _));
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Add(0, 12), null, out _));
        // The re-added flow beside the deleted one (packets find the deleted one until the commit), the deleted ones still in.
        Assert.Equal(6, t.GetTableStats(0).ActiveCount);
        var removed = new List<FlowRemoved>();
        batch.Commit(removed);

        Assert.Equal(4, t.GetTableStats(0).ActiveCount);
        Assert.Equal(2, removed.Count);
        Assert.All(removed, r => Assert.Equal(FlowRemovedReason.Delete, r.Reason));
        Assert.Equal([1UL, 2UL], removed.Select(r => OfFlowRule.CookieOf(r.Entry)).Order());
        // The re-added flow is a new one: no counts carried from the deleted one.
        Assert.NotNull(added);
        Assert.False(added!.IsRemoved);
        Assert.Equal(0, added.Packets);
    }

    [Fact]
    public void ATableFullAfterTheBatchsDeletes_CountsThemOut()
    {
        var t = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 2 });
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(0, 1)));
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(0, 2)));
        var batch = t.BeginBatch(atomic: true);
        Assert.Equal(FlowModStatus.TableFull, batch.Apply(Add(0, 3), null, out _));
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Delete(0, 1), null, out _));
        Assert.Equal(FlowModStatus.Ok, batch.Apply(Add(0, 3), null, out _));
        Assert.Equal(FlowModStatus.TableFull, batch.Apply(Add(0, 4), null, out _));
        batch.Commit();
        Assert.Equal(2, t.GetTableStats(0).ActiveCount);
    }

    [Fact]
    public void RandomBatches_CommitAsOneByOne_AndRevertToTheStart()
    {
        var rng = new Random(58);
        for (int round = 0; round < 40; round++)
        {
            var clock = new ManualClock();
            var committed = Seeded(clock);
            var each = Seeded(new ManualClock());
            var reverted = Seeded(new ManualClock());
            var start = Flows(reverted);
            var mods = new List<FlowMod>();
            for (int i = 0; i < 30; i++)
            {
                byte table = (byte)rng.Next(4);
                ushort port = (ushort)rng.Next(1, 7);
                ushort priority = (ushort)(10 * rng.Next(1, 3));
                var flags = rng.Next(5) == 0 ? FlowModFlags.CheckOverlap : FlowModFlags.None;
                if (rng.Next(6) == 0) flags |= FlowModFlags.ResetCounts;
                var actions = rng.Next(2) == 0 ? s_out2 : s_out3;
                var command = (FlowModCommand)rng.Next(5);
                if (command is FlowModCommand.Delete && rng.Next(5) == 0) table = FlowModRequest.AllTables;
                mods.Add(new FlowMod(command, rng.Next(6) == 0 ? FlowMatch.All : InPort(port), priority, command is FlowModCommand.Delete or FlowModCommand.DeleteStrict ? FlowActions.Drop : actions,
                                     Cookie: (ulong)i, IdleTimeout: (ushort)rng.Next(3), Flags: flags, Rules: MatchRules.OpenFlow13, TableId: table));
            }
            var expected = mods.Select(m => each.Apply(m)).ToList();
            var c = committed.BeginBatch(atomic: true);
            Assert.Equal(expected, mods.Select(m => c.Apply(m, null, out _)).ToList());
            c.Commit();
            Assert.Equal(Flows(each), Flows(committed));

            var r = reverted.BeginBatch(atomic: true);
            foreach (var m in mods) r.Apply(m, null, out _);
            r.Revert();
            Assert.Equal(start, Flows(reverted));
        }
    }

    [Fact]
    public void OneBatchAtATime_OnItsThread()
    {
        var t = new OfFlowTables(new ManualClock());
        var b = t.BeginBatch(atomic: true);
        Assert.Throws<InvalidOperationException>(() => t.BeginBatch(atomic: false));
        Assert.True(t.InRun);
        b.Commit();
        Assert.False(t.InRun);
        var plain = t.BeginBatch(atomic: false);
        Assert.Throws<InvalidOperationException>(plain.Revert);
        plain.Commit();
    }

    private sealed class ChangeLog : OfFlowTables.IFlowChanges
    {
        public readonly List<(ushort InPort, OfFlowUpdateEvent Event, FlowRemovedReason Reason)> Events = [];

        public void Changed(FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason, FlowEntry? replaced = null)
            => Events.Add((e.Match.Value.InPort, ev, ev == OfFlowUpdateEvent.Removed ? reason : FlowRemovedReason.Delete));
    }

    /// <summary>
    /// A committed atomic batch tells the flow monitors its changes in the order it made them (as Open vSwitch's bundle
    /// commit reports each message in turn): a flow deleted and added again is Removed, then Added, so a monitor ends
    /// with the flow; an eviction is told where the add that evicted made it.
    /// </summary>
    [Fact]
    public void ACommittedBatch_TellsItsChangesInItsOrder_ADeleteBeforeTheAddAfterIt()
    {
        var t = new OfFlowTables(new ManualClock(), new FlowTableOptions { MaxFlows = 3 });
        var log = new ChangeLog();
        t.Changes = log;
        t.SetEviction(0, true);
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(0, 1)));
        Assert.Equal(FlowModStatus.Ok, t.Apply(Add(0, 2, hard: 10)));
        log.Events.Clear();

        var b = t.BeginBatch(atomic: true);
        Assert.Equal(FlowModStatus.Ok, b.Apply(Delete(0, 1), null, out _));
        Assert.Equal(FlowModStatus.Ok, b.Apply(Add(0, 1, actions: s_out3), null, out _));
        Assert.Equal(FlowModStatus.Ok, b.Apply(Add(0, 3), null, out _));
        Assert.Equal(FlowModStatus.Ok, b.Apply(Add(0, 4), null, out _)); // full: evicts port 2's flow
        Assert.Empty(log.Events);
        b.Commit();
        Assert.Equal([(1, OfFlowUpdateEvent.Removed, FlowRemovedReason.Delete), (1, OfFlowUpdateEvent.Added, FlowRemovedReason.Delete),
                      (3, OfFlowUpdateEvent.Added, FlowRemovedReason.Delete), (2, OfFlowUpdateEvent.Removed, FlowRemovedReason.Eviction),
                      (4, OfFlowUpdateEvent.Added, FlowRemovedReason.Delete)], log.Events);
    }
}
