using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// Runs of flow-mods (<see cref="OfFlowTables.BeginRun"/>) and multi-table batches (<see cref="OfFlowTables.ApplyBatch"/>):
/// the same statuses and tables as flow-mods applied one by one, each table published once, other writers kept
/// waiting only until the run ends, and the flow-mods that must stand alone publishing what the run holds first.
/// </summary>
public sealed class FlowModRunTests
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]), s_out3 = new([FlowAction.Output(3)]);

    private static FlowMatch InPort(ushort port) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort, new FlowKeyBuilder().InPort(port).Key);

    private static FlowMod Add(byte table, ushort inPort, ushort priority = 10, FlowActions? actions = null, int gotoTable = FlowInstructions.NoGoto)
        => new(FlowModCommand.Add, InPort(inPort), priority, actions ?? s_out2, Rules: MatchRules.OpenFlow13, TableId: table,
               Instructions: gotoTable == FlowInstructions.NoGoto ? null : new FlowInstructions(gotoTable: gotoTable));

    private static FlowMod Delete(byte table, ushort inPort, ushort priority = 10)
        => new(FlowModCommand.DeleteStrict, InPort(inPort), priority, FlowActions.Drop, Rules: MatchRules.OpenFlow13, TableId: table);

    /// <summary>Every flow of every table, as (table, match, priority, actions) in a stable order.</summary>
    private static List<string> Flows(OfFlowTables t)
    {
        var all = new List<string>();
        foreach (var table in t.Tables.ToArray())
        {
            var into = new List<FlowEntry>();
            t.Collect(FlowMatch.All, PortNumber.None, false, into, false, table.Id);
            foreach (var e in into)
                all.Add($"{table.Id} {e.Match} {e.RequestedPriority} {string.Join(",", e.Actions.Items.Select(a => a.ToString()))} {e.Instructions?.GotoTable}");
        }
        all.Sort(StringComparer.Ordinal);
        return all;
    }

    private static long TableVersion(OfFlowTables t, byte id) => t.Pipeline.Stage(id)!.Version;

    [Fact]
    public void ARun_PublishesEachTableItWroteOnce_WhenItEnds_AndEndsAsOneByOneWould()
    {
        var run = new OfFlowTables(new ManualClock());
        var each = new OfFlowTables(new ManualClock());
        var mods = new List<FlowMod> { Add(0, 1, gotoTable: 1), Add(1, 1, gotoTable: 2), Add(2, 1) };
        foreach (var m in mods) { run.Apply(m); each.Apply(m); }
        long changes = run.Pipeline.Changes.Version, v1 = TableVersion(run, 1), v2 = TableVersion(run, 2), v0 = TableVersion(run, 0);

        var churn = new List<FlowMod>();
        for (ushort p = 2; p < 60; p++)
        {
            churn.Add(Add(1, p, gotoTable: 2));
            churn.Add(Add(2, p, actions: p % 2 == 0 ? s_out2 : s_out3));
            if (p % 3 == 0) churn.Add(Delete(1, (ushort)(p - 1)));
        }
        churn.Add(Add(2, 5, priority: 10, actions: s_out3)); // replaces an earlier flow
        run.BeginRun();
        Assert.True(run.InRun);
        var statuses = new List<FlowModStatus>();
        foreach (var m in churn)
        {
            statuses.Add(run.Apply(m));
            // Nothing is published while the run holds the tables.
            Assert.Equal(changes, run.Pipeline.Changes.Version);
        }
        Assert.Equal((v1, v2), (TableVersion(run, 1), TableVersion(run, 2)));
        run.EndRun();
        Assert.False(run.InRun);
        run.EndRun(); // nothing to end: no effect

        Assert.Equal((v0, v1 + 1, v2 + 1), (TableVersion(run, 0), TableVersion(run, 1), TableVersion(run, 2)));
        // Both tables published as one change: the pipeline's count moved once.
        Assert.Equal(changes + 1, run.Pipeline.Changes.Version);
        Assert.Equal(churn.Select(m => each.Apply(m)), statuses);
        Assert.Equal(Flows(each), Flows(run));
    }

    [Fact]
    public void AnotherWriter_WaitsForTheRun_AndGoesOnWhenItEnds()
    {
        var t = new OfFlowTables(new ManualClock());
        t.Apply(Add(0, 1, gotoTable: 1));
        t.Apply(Add(1, 1));
        t.BeginRun();
        t.Apply(Add(1, 2));
        t.Apply(Add(0, 2, gotoTable: 1));
        // A writer on one of the held tables (another connection's flow-mod) waits, one on a table the run does not
        // hold goes on, a second run waits for the first, and nothing deadlocks. (Threads, not tasks: a run belongs
        // to the thread that began it.)
        FlowModStatus otherSt = FlowModStatus.BadCommand, freeSt = FlowModStatus.BadCommand, secondSt = FlowModStatus.BadCommand;
        var other = new Thread(() => otherSt = t.Apply(Add(1, 3)));
        var free = new Thread(() => freeSt = t.Apply(Add(3, 9)));
        var second = new Thread(() =>
        {
            t.BeginRun();
            try { secondSt = t.Apply(Add(0, 4, gotoTable: 1)); }
            finally { t.EndRun(); }
        });
        other.Start();
        free.Start();
        Assert.True(free.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal(FlowModStatus.Ok, freeSt);
        Assert.False(other.Join(200));
        second.Start();
        Assert.False(second.Join(100));
        t.EndRun();
        Assert.True(other.Join(TimeSpan.FromSeconds(10)));
        Assert.True(second.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal((FlowModStatus.Ok, FlowModStatus.Ok), (otherSt, secondSt));
        Assert.Equal((3, 3), (t.GetTableStats(1).ActiveCount, t.GetTableStats(0).ActiveCount));
    }

    [Fact]
    public void EveryTableDelete_And_TheRunsCap_PublishWhatTheRunHolds()
    {
        var t = new OfFlowTables(new ManualClock());
        t.Apply(Add(0, 1, gotoTable: 1));
        t.Apply(Add(1, 1));
        t.Apply(Add(2, 700));
        long v1 = TableVersion(t, 1), changes = t.Pipeline.Changes.Version;
        t.BeginRun();
        t.Apply(Add(1, 2));
        Assert.Equal(v1, TableVersion(t, 1));
        // OFPTT_ALL joins the run: every table is held, and published with the rest when the run ends.
        var all = new FlowMod(FlowModCommand.Delete, InPort(1), 0, FlowActions.Drop, Rules: MatchRules.OpenFlow13, TableId: FlowModRequest.AllTables);
        Assert.Equal(FlowModStatus.Ok, t.Apply(all));
        Assert.Equal((v1, changes), (TableVersion(t, 1), t.Pipeline.Changes.Version));
        Assert.True(t.InRun);
        Assert.Equal((0, 1), (t.GetTableStats(0).ActiveCount, t.GetTableStats(1).ActiveCount));

        t.EndRun();
        Assert.Equal(changes + 1, t.Pipeline.Changes.Version);

        // The cap: a run publishes after MaxRunFlowMods flow-mods and goes on holding.
        t.BeginRun();
        long before = TableVersion(t, 2);
        for (int i = 0; i < OfFlowTables.MaxRunFlowMods; i++) t.Apply(Add(2, (ushort)(1 + i % 500), actions: i % 2 == 0 ? s_out2 : s_out3));
        Assert.Equal(before, TableVersion(t, 2));
        t.Apply(Add(2, 600));
        Assert.Equal(before + 1, TableVersion(t, 2));
        t.EndRun();
        Assert.Equal(before + 2, TableVersion(t, 2));
        Assert.Equal(502, t.GetTableStats(2).ActiveCount);
    }

    [Fact]
    public void EmergencyFlowMods_InARun_JoinIt()
    {
        var t = new OfFlowTables(new ManualClock());
        long main = t.Main.Version;
        t.BeginRun();
        var normal = new FlowMod(FlowModCommand.Add, InPort(1), 10, s_out2);
        var emergency = new FlowMod(FlowModCommand.Add, InPort(2), 10, s_out3, Flags: FlowModFlags.Emergency);
        Assert.Equal(FlowModStatus.Ok, t.Apply(normal));
        Assert.Equal(main, t.Main.Version);
        long em = t.EmergencyTable.Version;
        Assert.Equal(FlowModStatus.Ok, t.Apply(emergency));
        Assert.Equal((main, em), (t.Main.Version, t.EmergencyTable.Version));
        t.EndRun();
        Assert.Equal((main + 1, em + 1), (t.Main.Version, t.EmergencyTable.Version));
        Assert.Equal((1, 1), (t.Main.Count, t.Emergency));
    }

    /// <summary>Random flow-mods over four tables (adds, modifies, deletes, every-table deletes and 1.0 modifies, backward gotos).</summary>
    private static List<FlowMod> RandomMods(Random rng, int count)
    {
        var mods = new List<FlowMod>();
        for (int i = 0; i < count; i++)
        {
            byte table = (byte)rng.Next(4);
            ushort port = (ushort)rng.Next(1, 9);
            ushort priority = (ushort)(10 * rng.Next(1, 3));
            var match = rng.Next(8) == 0 ? FlowMatch.All : InPort(port);
            var command = (FlowModCommand)rng.Next(5);
            if (command is FlowModCommand.Delete && rng.Next(6) == 0) table = FlowModRequest.AllTables;
            // OpenFlow 1.0's modify names every table.
            var rules = MatchRules.OpenFlow13;
            if (command is FlowModCommand.Modify or FlowModCommand.ModifyStrict && rng.Next(4) == 0) (table, rules) = (FlowModRequest.AllTables, MatchRules.OpenFlow10);
            int gotoTable = rng.Next(3) == 0 ? rng.Next(4) : FlowInstructions.NoGoto; // backward or same: BadGotoTable
            var actions = rng.Next(2) == 0 ? s_out2 : s_out3;
            mods.Add(new FlowMod(command, match, priority, actions, Rules: rules, TableId: table,
                                 Instructions: gotoTable == FlowInstructions.NoGoto ? null : new FlowInstructions(gotoTable: gotoTable)));
        }
        return mods;
    }

    [Fact]
    public void RandomFlowMods_InABatch_OrARun_EndAsOneByOne()
    {
        for (int seed = 0; seed < 40; seed++)
        {
            var mods = RandomMods(new Random(seed), 200);
            var each = new OfFlowTables(new ManualClock());
            var batch = new OfFlowTables(new ManualClock());
            var run = new OfFlowTables(new ManualClock());
            var removedEach = new List<FlowRemoved>();
            var removedBatch = new List<FlowRemoved>();
            var removedRun = new List<FlowRemoved>();
            var expected = mods.Select(m => each.Apply(m, removedEach)).ToArray();
            var got = new FlowModStatus[mods.Count];
            batch.ApplyBatch(mods.ToArray(), got, removedBatch);
            run.BeginRun();
            var inRun = mods.Select(m => run.Apply(m, removedRun)).ToArray();
            run.EndRun();
            Assert.Equal(expected, got);
            Assert.Equal(expected, inRun);
            Assert.Equal(Flows(each), Flows(batch));
            Assert.Equal(Flows(each), Flows(run));
            Assert.Equal(removedEach.Count, removedBatch.Count);
            Assert.Equal(removedEach.Count, removedRun.Count);
        }
    }
}
