using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Wire;

/// <summary>
/// The agent's flow-mod path (decode from the receive buffer, translate, apply inside a hold, as the request
/// dispatcher runs it) over a table that recycles its entries: churn allocates nothing in steady state.
/// </summary>
public class FlowModPathAllocationTests
{
    [Fact]
    public void Churn_of_add_and_delete_strict_allocates_nothing_when_recycling()
    {
        using var dp = new SwitchDatapath();
        dp.AddPort(new MemoryPort("p1", MacAddress.Parse("02:00:00:00:00:01")));
        dp.AddPort(new MemoryPort("p2", MacAddress.Parse("02:00:00:00:00:02")));
        // A clock that stands still: the timer wheel files the timed flows in buckets it already has (a real clock
        // moves them into buckets the wheel meets for the first time, which it allocates once per bucket).
        var tables = new OfFlowTables(new ManualClock(), new FlowTableOptions { RecycleEntries = true });
        const int window = 1000;
        var add = new byte[window][];
        var del = new byte[window][];
        for (int i = 0; i < window; i++)
        {
            // Exact and wildcard flows, some with timeouts (the timer wheel tracks them), two action lists.
            var key = new FlowKeyBuilder().DlType(0x0800).NwDst(0x0AC80000u + (uint)i).Key;
            var match = i % 2 == 0 ? FlowMatch.Exact(key) : FlowMatch.FromOpenFlow(Wildcards.All & ~Wildcards.DlType & ~Wildcards.NwDstMask, key);
            var fm = new OfpFlowMod
            {
                Command = OfpFlowModCommand.DeleteStrict, Match = MatchTranslator.ToOfpMatch(match), Priority = 20, Xid = (uint)i,
                BufferId = 0xFFFFFFFF, OutPort = 0xFFFF,
            };
            del[i] = fm.ToArray();
            fm.Command = OfpFlowModCommand.Add;
            fm.Cookie = 0x55;
            fm.IdleTimeout = (ushort)(i % 3 == 0 ? 60 : 0);
            fm.Actions = [OfpAction.Output((ushort)(1 + i % 2))];
            add[i] = fm.ToArray();
        }
        var wire = new List<OfpAction>(16);
        var removed = new List<FlowRemoved>(4);
        void One(byte[] msg)
        {
            using var hold = tables.Reclamation.Enter();
            wire.Clear();
            if (!OfpFlowMod.TryDecode(msg, wire, out var fm, out _)) throw new InvalidOperationException("not a flow-mod");
            var match = MatchTranslator.ToFlowMatch(fm.Match);
            var actions = FlowActions.Drop;
            if (fm.Command == OfpFlowModCommand.Add && !ActionTranslator.TryTranslate(wire, dp.Ports, ActionContext.FlowMod, 0, out actions, out _))
                throw new InvalidOperationException("bad actions");
            if (!FlowModTranslator.TryCommand(fm.Command, out var command)) throw new InvalidOperationException("bad command");
            var mod = new FlowMod(command, match, fm.Priority, actions, fm.Cookie, fm.IdleTimeout, fm.HardTimeout,
                                  FlowModTranslator.ToFlags(fm.Flags), WireMap.ToDatapathPort(fm.OutPort), MatchRules.OpenFlow10);
            removed.Clear();
            if (tables.Apply(mod, removed, out _) != FlowModStatus.Ok) throw new InvalidOperationException("flow-mod failed");
        }
        for (int i = 0; i < window; i++) One(add[i]);
        int next = 0;
        void Round()
        {
            for (int k = 0; k < 4000; k++)
            {
                int i = next++ % window;
                One(del[i]);
                One(add[i]);
            }
        }
        // Warm-up: the pool, the tables' arrays, and the timer wheel's buckets through a compaction of the deleted
        // flows' stale references (past 4,096 of them) at their size.
        for (int r = 0; r < 6; r++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Round();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(bytes == 0, $"{bytes} bytes allocated by 8,000 flow-mods");
        Assert.True(tables.Main.RecycledCount >= 4000);
        Assert.Equal(window, tables.Main.Count);
    }
}
