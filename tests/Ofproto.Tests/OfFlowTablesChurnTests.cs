using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ofproto.Tests;

/// <summary>Flow-mod churn through the table set over recycling tables allocates nothing in steady state.</summary>
public class OfFlowTablesChurnTests(ITestOutputHelper output)
{
    private static readonly FlowActions s_out2 = new([FlowAction.Output(2)]);

    private static FlowKey Key(int i) => new FlowKeyBuilder().DlType(0x0800).NwDst(0x0A000000u + (uint)i).Key;

    private static FlowMatch Slash24(int i)
        => FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.DlType & ~OfWildcards.NwDstMask) | (OfWildcards)(8u << 24), Key(i));

    [Fact]
    public void FlowModChurn_AllocatesNothing_WhenRecycling()
    {
        var tables = new OfFlowTables(new ManualClock(), new FlowTableOptions { RecycleEntries = true });
        const int window = 2000;
        var adds = new FlowMod[window];
        var dels = new FlowMod[window];
        for (int i = 0; i < window; i++)
        {
            var m = i % 2 == 0 ? FlowMatch.Exact(Key(i)) : Slash24(i << 8);
            adds[i] = new FlowMod(FlowModCommand.Add, m, 100, s_out2, Cookie: 7, IdleTimeout: (ushort)(i % 3 == 0 ? 30 : 0));
            dels[i] = new FlowMod(FlowModCommand.DeleteStrict, m, 100, FlowActions.Drop);
            tables.Apply(adds[i], null, out _);
        }
        var removed = new List<FlowRemoved>(16);
        int next = 0;
        void Round()
        {
            for (int k = 0; k < 5000; k++)
            {
                int i = next++ % window;
                // As the agent does: each request inside a hold.
                using (tables.Reclamation.Enter()) tables.Apply(dels[i], removed, out _);
                removed.Clear();
                using (tables.Reclamation.Enter()) tables.Apply(adds[i], null, out _);
            }
        }
        Round(); // warm-up: the pool and the tables' arrays at their size
        long bytes = AllocationMeter.SteadyState(Round);
        output.WriteLine($"{bytes} bytes for 10,000 flow-mods; recycled {tables.Main.RecycledCount}, pooled {tables.Main.PooledEntryCount}");
        Assert.Equal(0, bytes);
        Assert.True(tables.Main.RecycledCount >= 10_000);
        Assert.Equal(window, tables.Main.Count);
    }
}
