using System.Collections.Concurrent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// The flow monitors (<see cref="OfFlowMonitors"/>, Open vSwitch's ofmonitor_*): which connection is told of which
/// flow change, the INITIAL flows, ABBREV for a connection's own flow-mods, atomic batches told when they commit, the
/// refusals, and the PAUSED/RESUMED flow control when a connection's queue backs up.
/// </summary>
public sealed class OfFlowMonitorsTests
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]), s_out3 = new([FlowAction.Output(3)]);

    private static FlowMatch InPort(ushort port) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort, new FlowKeyBuilder().InPort(port).Key);

    private static FlowMod Add(byte table, ushort inPort, FlowActions? actions = null)
        => new(FlowModCommand.Add, InPort(inPort), 10, actions ?? s_out2, Rules: MatchRules.OpenFlow13, TableId: table);

    private static FlowMod Modify(byte table, ushort inPort, FlowActions actions)
        => new(FlowModCommand.ModifyStrict, InPort(inPort), 10, actions, Rules: MatchRules.OpenFlow13, TableId: table);

    private static FlowMod Delete(byte table, ushort inPort)
        => new(FlowModCommand.DeleteStrict, InPort(inPort), 10, FlowActions.Drop, Rules: MatchRules.OpenFlow13, TableId: table);

    private const OfFlowMonitorFlags Events = OfFlowMonitorFlags.Add | OfFlowMonitorFlags.Removed | OfFlowMonitorFlags.Modify;

    private static OfFlowMonitorRequest Monitor(uint id, OfFlowMonitorFlags flags, byte table = FlowModRequest.AllTables, uint outPort = OfPort.Any,
                                                OfFlowMonitorCommand command = OfFlowMonitorCommand.Add)
        => new(id, command, flags, table, outPort, FlowModRequest.AnyGroup, OfMatch.Any);

    /// <summary>What each controller was sent, and the queue each one is said to have.</summary>
    private sealed class Sink : IOfFlowMonitorSink
    {
        public readonly ConcurrentDictionary<OfController, ConcurrentQueue<OfFlowUpdate>> Sent = new(ReferenceEqualityComparer.Instance);
        public readonly ConcurrentDictionary<OfController, long> Queued = new(ReferenceEqualityComparer.Instance);

        public void Send(OfController to, IReadOnlyList<OfFlowUpdate> updates)
        {
            var q = Sent.GetOrAdd(to, _ => new());
            foreach (var u in updates) q.Enqueue(u);
        }

        public long Backlog(OfController to) => Queued.GetValueOrDefault(to);

        public List<OfFlowUpdate> Of(OfController c) => Sent.TryGetValue(c, out var q) ? [.. q] : [];
    }

    private static (OfFlowTables Tables, OfFlowMonitors Monitors, Sink Sink, OfController A, OfController B) Rig()
    {
        var tables = new OfFlowTables(new ManualClock());
        var monitors = new OfFlowMonitors(tables);
        var sink = new Sink();
        monitors.Start(sink);
        var roles = new OfRoles();
        return (tables, monitors, sink, roles.Join(), roles.Join());
    }

    private static void Watch(OfFlowMonitors m, OfController c, params OfFlowMonitorRequest[] requests)
        => Assert.Equal(OfFlowMonitorError.None, m.Apply(c, requests, [], out _));

    [Fact]
    public void EachChange_GoesToTheMonitorsThatWatchIt_WithItsFlow()
    {
        var (tables, monitors, sink, a, b) = Rig();
        Watch(monitors, a, Monitor(1, Events | OfFlowMonitorFlags.Instructions));
        // b watches table 1 only, for removals, and flows that output to port 3.
        Watch(monitors, b, Monitor(1, OfFlowMonitorFlags.Removed, table: 1, outPort: 3));

        tables.Apply(Add(0, 1));
        tables.Apply(Add(1, 1, s_out3));
        tables.Apply(Modify(1, 1, s_out2));
        tables.Apply(Delete(1, 1));
        tables.Apply(Add(1, 2, s_out3));
        tables.Apply(Delete(1, 2));

        var toA = sink.Of(a);
        Assert.Equal([OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Modified, OfFlowUpdateEvent.Removed,
                      OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Removed], toA.Select(u => u.Event));
        Assert.Equal([0, 1, 1, 1, 1, 1], toA.Select(u => (int)u.TableId));
        Assert.Equal(OfFlowRemovedReason.Delete, toA[3].Reason);
        Assert.Equal(10, toA[0].Priority);
        Assert.Equal(1u, toA[0].Match.Value.InPort);
        Assert.Equal([OfAction.Output(3)], toA[1].Actions!);
        Assert.Equal([OfAction.Output(2)], toA[2].Actions!);
        // b: the removal of the flow that outputs to 3 when it goes (the first left it for port 2 before).
        var toB = Assert.Single(sink.Of(b));
        Assert.Equal((OfFlowUpdateEvent.Removed, 2u), (toB.Event, toB.Match.Value.InPort));
        Assert.False(toB.HasInstructions);
    }

    [Fact]
    public void OwnFlowMods_AreOneAbbrevWithTheirXid_UnlessOnlyOwn()
    {
        var (tables, monitors, sink, a, b) = Rig();
        Watch(monitors, a, Monitor(1, Events));
        Watch(monitors, b, Monitor(1, Events | OfFlowMonitorFlags.OnlyOwn));
        tables.Apply(Add(0, 1));
        tables.Apply(Add(0, 2));
        using (OfFlowMonitors.From(a, 0x77))
        {
            // One flow-mod of a's that changes two flows: one ABBREV.
            tables.Apply(new FlowMod(FlowModCommand.Modify, FlowMatch.All, 0, s_out3, Rules: MatchRules.OpenFlow13, TableId: 0));
        }
        using (OfFlowMonitors.From(b, 0x78)) tables.Apply(Delete(0, 1));
        var toA = sink.Of(a);
        Assert.Equal([OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Abbrev, OfFlowUpdateEvent.Removed], toA.Select(u => u.Event));
        Assert.Equal(0x77u, toA[2].Xid);
        // b asked ONLY_OWN: its own delete in full.
        var toB = sink.Of(b);
        Assert.Equal([OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Modified, OfFlowUpdateEvent.Modified, OfFlowUpdateEvent.Removed],
                     toB.Select(u => u.Event));
        // NO_ABBREV (1.4's) as ONLY_OWN: a's own change in full once it asks for it.
        Assert.Equal(OfFlowMonitorError.None, monitors.Apply(a, [Monitor(1, Events | OfFlowMonitorFlags.NoAbbrev, command: OfFlowMonitorCommand.Modify)], [], out _));
        using (OfFlowMonitors.From(a, 0x79)) tables.Apply(Delete(0, 2));
        Assert.Equal((OfFlowUpdateEvent.Removed, 2u), (sink.Of(a)[^1].Event, sink.Of(a)[^1].Match.Value.InPort));
    }

    [Fact]
    public void Initial_ListsTheWatchedFlows_AndRequestsAreRefusedAsOpenVSwitchRefusesThem()
    {
        var (tables, monitors, _, a, _) = Rig();
        tables.Apply(Add(0, 1));
        tables.Apply(Add(2, 1, s_out3));
        var initial = new List<OfFlowUpdate>();
        Assert.Equal(OfFlowMonitorError.None, monitors.Apply(a, [Monitor(1, Events | OfFlowMonitorFlags.Initial, table: 2)], initial, out _));
        var only = Assert.Single(initial);
        Assert.Equal((OfFlowUpdateEvent.Initial, (byte)2), (only.Event, only.TableId));
        Assert.False(only.HasInstructions);

        Assert.Equal(OfFlowMonitorError.Exists, monitors.Apply(a, [Monitor(1, Events)], [], out int failed));
        Assert.Equal(0, failed);
        // A failure undoes the monitors the same request made before it.
        Assert.Equal(OfFlowMonitorError.Unknown, monitors.Apply(a, [Monitor(5, Events), Monitor(9, 0, command: OfFlowMonitorCommand.Delete)], [], out failed));
        Assert.Equal(1, failed);
        Assert.Equal(1, monitors.Count);
        Assert.Equal(OfFlowMonitorError.BadTableId, monitors.Apply(a, [Monitor(6, Events, table: 254)], [], out _));
        Assert.Equal(OfFlowMonitorError.BadOut, monitors.Apply(a, [Monitor(6, Events, outPort: 0x00ffff00)], [], out _));
        // MODIFY replaces, DELETE removes; a closed connection's monitors go.
        Assert.Equal(OfFlowMonitorError.None, monitors.Apply(a, [Monitor(1, Events, command: OfFlowMonitorCommand.Modify)], [], out _));
        Assert.Equal(OfFlowMonitorError.None, monitors.Apply(a, [Monitor(1, 0, command: OfFlowMonitorCommand.Delete)], [], out _));
        Assert.Equal(0, monitors.Count);
        Watch(monitors, a, Monitor(2, Events));
        monitors.Forget(a);
        Assert.Equal(0, monitors.Count);
    }

    [Fact]
    public void AnAtomicBatch_IsToldWhenItCommits_AndNotAtAllWhenReverted()
    {
        var (tables, monitors, sink, a, _) = Rig();
        tables.Apply(Add(0, 9));
        Watch(monitors, a, Monitor(1, Events));
        var b = tables.BeginBatch(atomic: true);
        b.Apply(Add(0, 1), null, out _);
        b.Apply(Delete(0, 9), null, out _);
        Assert.Empty(sink.Of(a));
        b.Revert();
        Assert.Empty(sink.Of(a));
        b = tables.BeginBatch(atomic: true);
        b.Apply(Add(0, 1), null, out _);
        b.Apply(Delete(0, 9), null, out _);
        Assert.Empty(sink.Of(a));
        b.Commit();
        Assert.Equal([OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Removed], sink.Of(a).Select(u => u.Event));
    }

    [Fact]
    public async Task ABackedUpConnection_IsPaused_ThenResumedWithWhatChanged()
    {
        var (tables, monitors, sink, a, _) = Rig();
        tables.Apply(Add(0, 1));
        tables.Apply(Add(0, 2));
        Watch(monitors, a, Monitor(1, Events | OfFlowMonitorFlags.Instructions));
        // The queue is past the limit when the next update has gone: PAUSED follows it.
        sink.Queued[a] = OfFlowMonitors.PauseBacklog + 1;
        tables.Apply(Add(0, 3));
        Assert.Equal([OfFlowUpdateEvent.Added, OfFlowUpdateEvent.Paused], sink.Of(a).Select(u => u.Event));
        Assert.True(monitors.IsPaused(a));
        Assert.Equal(1, monitors.Pauses);
        // While paused: no adds or modifies; the removal of a flow added before the pause goes, of one added after it not.
        tables.Apply(Add(0, 4));
        tables.Apply(Add(0, 5));
        tables.Apply(Modify(0, 2, s_out3));
        tables.Apply(Delete(0, 1));
        tables.Apply(Delete(0, 5));
        var paused = sink.Of(a);
        Assert.Equal(3, paused.Count);
        Assert.Equal((OfFlowUpdateEvent.Removed, 1u), (paused[2].Event, paused[2].Match.Value.InPort));
        // The queue empties: what was added (4) and modified (2) meanwhile, then RESUMED.
        sink.Queued[a] = 0;
        monitors.PollResume();
        Assert.True(await Wait.UntilAsync(() => sink.Of(a).Any(u => u.Event == OfFlowUpdateEvent.Resumed)));
        var resumed = sink.Of(a).Skip(3).ToList();
        Assert.Equal(OfFlowUpdateEvent.Resumed, resumed[^1].Event);
        Assert.Equal(2, resumed.Count - 1);
        Assert.Contains(resumed, u => u.Event == OfFlowUpdateEvent.Added && u.Match.Value.InPort == 4);
        Assert.Contains(resumed, u => u.Event == OfFlowUpdateEvent.Modified && u.Match.Value.InPort == 2 && u.Actions![0] == OfAction.Output(3));
        Assert.False(monitors.IsPaused(a));
        // Updates flow again.
        tables.Apply(Delete(0, 4));
        Assert.Equal(OfFlowUpdateEvent.Removed, sink.Of(a)[^1].Event);
    }
}
