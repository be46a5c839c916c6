using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// The agent's flow-mod path (decode from the receive buffer, translate, one call to the switch inside its request
/// scope, as the request dispatcher runs it) over a table that recycles its entries: churn allocates nothing in steady state.
/// </summary>
public class FlowModPathAllocationTests
{
    [Fact]
    public void ChurnOfAddAndDeleteStrictAllocatesNothingWhenRecycling()
    {
        // A clock that stands still: the timer wheel files the timed flows in buckets it already has (a real clock
        // moves them into buckets the wheel meets for the first time, which it allocates once per bucket).
        using var dp = new SwitchDatapath(new DatapathOptions(), new ManualClock());
        dp.AddPort(new MemoryPort("p1", MacAddress.Parse("02:00:00:00:00:01")));
        dp.AddPort(new MemoryPort("p2", MacAddress.Parse("02:00:00:00:00:02")));
        using var sw = new OfSwitch(dp, null, new OfFlowTables(dp, new FlowTableOptions { RecycleEntries = true }));
        const int window = 1000;
        var add = new byte[window][];
        var del = new byte[window][];
        for (int i = 0; i < window; i++)
        {
            // Exact and wildcard flows, some with timeouts (the timer wheel tracks them), two action lists.
            var key = new FlowKeyBuilder().DlType(0x0800).NwDst(0x0AC80000u + (uint)i).Key;
            var match = i % 2 == 0 ? FlowMatch.Exact(key) : FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlType & ~OfWildcards.NwDstMask, key);
            var fm = new OfpFlowMod
            {
                Command = OfpFlowModCommand.DeleteStrict, Match = MatchTranslator.ToOfpMatch(OfMatchCompiler.ToOfMatch(match)), Priority = 20, Xid = (uint)i,
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
        void One(byte[] msg)
        {
            using var scope = sw.BeginRequest();
            wire.Clear();
            if (!OfpFlowMod.TryDecode(msg, wire, out var fm, out _)) throw new InvalidOperationException("not a flow-mod");
            var actions = ReadOnlyMemory<OfAction>.Empty;
            if (fm.Command == OfpFlowModCommand.Add && !ActionTranslator.TryDecode(wire, out actions, out _))
                throw new InvalidOperationException("bad actions");
            if (!FlowModTranslator.TryCommand(fm.Command, out var command)) throw new InvalidOperationException("bad command");
            if (sw.FlowMod(FlowModTranslator.ToRequest(fm, command, actions)) != OfError.None) throw new InvalidOperationException("flow-mod failed");
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
        Assert.True(sw.Flows.Main.RecycledCount >= 4000);
        Assert.Equal(window, sw.Flows.Main.Count);
    }

    [Fact]
    public void ChurnOfModifyAndModifyStrictAllocatesNothing_WhileTableZeroIsTheOnlyTable()
    {
        // An OpenFlow 1.0 modify names every table; while table 0 is the only one it is a modify of table 0.
        using var dp = new SwitchDatapath(new DatapathOptions(), new ManualClock());
        dp.AddPort(new MemoryPort("p1", MacAddress.Parse("02:00:00:00:00:01")));
        dp.AddPort(new MemoryPort("p2", MacAddress.Parse("02:00:00:00:00:02")));
        using var sw = new OfSwitch(dp, null, new OfFlowTables(dp, new FlowTableOptions { RecycleEntries = true }));
        const int window = 1000;
        var mods = new byte[2 * window][];
        for (int i = 0; i < window; i++)
        {
            var key = new FlowKeyBuilder().DlType(0x0800).NwDst(0x0AC80000u + (uint)i).Key;
            var match = i % 2 == 0 ? FlowMatch.Exact(key) : FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlType & ~OfWildcards.NwDstMask, key);
            var fm = new OfpFlowMod
            {
                Command = OfpFlowModCommand.ModifyStrict, Match = MatchTranslator.ToOfpMatch(OfMatchCompiler.ToOfMatch(match)), Priority = 20, Xid = (uint)i,
                BufferId = 0xFFFFFFFF, OutPort = 0xFFFF, Cookie = 0x55, Actions = [OfpAction.Output(1)],
            };
            mods[2 * i] = fm.ToArray();
            // The loose one changes the same flow (its match is the flow's, any priority) back to the other port.
            fm.Command = OfpFlowModCommand.Modify;
            fm.Actions = [OfpAction.Output(2)];
            mods[2 * i + 1] = fm.ToArray();
        }
        var wire = new List<OfpAction>(16);
        void One(byte[] msg)
        {
            using var scope = sw.BeginRequest();
            wire.Clear();
            if (!OfpFlowMod.TryDecode(msg, wire, out var fm, out _)) throw new InvalidOperationException("not a flow-mod");
            if (!ActionTranslator.TryDecode(wire, out var actions, out _)) throw new InvalidOperationException("bad actions");
            if (!FlowModTranslator.TryCommand(fm.Command, out var command)) throw new InvalidOperationException("bad command");
            if (sw.FlowMod(FlowModTranslator.ToRequest(fm, command, actions)) != OfError.None) throw new InvalidOperationException("flow-mod failed");
        }
        // The first pass adds every flow (a modify that matches nothing is OpenFlow 1.0's add).
        int next = 0;
        void Round()
        {
            for (int k = 0; k < 8000; k++) One(mods[next++ % mods.Length]);
        }
        for (int r = 0; r < 3; r++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Round();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(bytes == 0, $"{bytes} bytes allocated by 8,000 modifies");
        Assert.Equal(window, sw.Flows.Main.Count);
        Assert.False(sw.Flows.Pipeline.IsMultiStage);
    }
}
