using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// The table ids requests name, judged by the switch alone (<see cref="OfTables"/>'s rule through <see cref="OfSwitch"/>):
/// TABLE_MOD, flow-mods to tables 254 and 255, flow and aggregate statistics of tables 254 and 255 under each
/// version's rules, and the statistics of a table a controller may use before a flow-mod created it.
/// </summary>
public sealed class OfSwitchTableTests : IDisposable
{
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly OfSwitch _sw;

    public OfSwitchTableTests()
    {
        _dp.AddPort(new MemoryPort("m1", new MacAddress(0x0200_0000_0010UL)));
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 7 });
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private static readonly OfInstructions Output1 = OfInstructions.Apply(new[] { OfAction.Output(1) });

    private static FlowModRequest Mod13(FlowModCommand command, byte table)
        => new(command, OfMatch.Any, 1, command is FlowModCommand.Add ? Output1 : default, TableId: table, Rules: MatchRules.OpenFlow13);

    private int Visited(in FlowStatsRequest req, out OfError error)
    {
        int n = 0;
        error = _sw.VisitFlows(req, (in OfFlowStats f) => { n++; return true; });
        return n;
    }

    [Fact]
    public void TableModTakesEveryTableAControllerMayUseAndAllOfThemAndRefuses254()
    {
        Assert.Equal(OfError.None, _sw.TableMod(new TableModRequest(0, OfTableConfig.None)));
        Assert.Equal(OfError.None, _sw.TableMod(new TableModRequest(OfTables.Count - 1, OfTableConfig.None)));
        Assert.Equal(OfError.None, _sw.TableMod(new TableModRequest(OfTables.All, OfTableConfig.None)));
        Assert.Equal(OfError.BadTableId, _sw.TableMod(new TableModRequest(254, OfTableConfig.None)));
        // The table is judged before the config.
        Assert.Equal(OfError.BadTableId, _sw.TableMod(new TableModRequest(254, OfTableConfig.Unrecognised)));
        Assert.Equal(OfError.BadTableConfig, _sw.TableMod(new TableModRequest(3, OfTableConfig.Unrecognised)));
        // It changes nothing: no table is created, table 0's miss is what it was.
        var miss = _sw.Tables[0].Miss;
        Assert.Equal(OfError.None, _sw.TableMod(new TableModRequest(5, OfTableConfig.None)));
        Assert.False(_sw.HasTable(5));
        Assert.Equal(miss, _sw.Tables[0].Miss);
    }

    [Fact]
    public void TableModFromASlaveIsRefusedBeforeItsTableIsLookedAt()
    {
        var slave = _sw.Roles.Join();
        _sw.Roles.Request(slave, OfRole.Slave, 0);
        Assert.Equal(OfError.IsSlave, _sw.TableMod(new TableModRequest(0, OfTableConfig.None), slave));
        Assert.Equal(OfError.IsSlave, _sw.TableMod(new TableModRequest(254, OfTableConfig.None), slave));
        var master = _sw.Roles.Join();
        Assert.Equal(OfError.None, _sw.TableMod(new TableModRequest(0, OfTableConfig.None), master));
    }

    [Fact]
    public void FlowModsToTable254AreRefusedAnd255IsEveryTableForDeletesOnly()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Mod13(FlowModCommand.Add, 3)));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Mod13(FlowModCommand.Add, 254)));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Mod13(FlowModCommand.Delete, 254)));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Mod13(FlowModCommand.Add, OfTables.All)));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Mod13(FlowModCommand.Modify, OfTables.All)));
        Assert.False(_sw.HasTable(254));
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13)).FlowCount);
        Assert.Equal(OfError.None, _sw.FlowMod(Mod13(FlowModCommand.Delete, OfTables.All)));
        Assert.Equal(0u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13)).FlowCount);
        // A goto to 254 is no table either.
        var gotoLast = new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 254);
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Mod13(FlowModCommand.Add, 1) with { Instructions = gotoLast }));
    }

    [Fact]
    public void StatisticsOfTable254AreRefusedUnderOpenFlow13AndAreTheEmergencyFlowsUnderOpenFlow10()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Mod13(FlowModCommand.Add, 2)));
        var of13 = new FlowStatsRequest(OfMatch.Any, TableId: 254, Rules: MatchRules.OpenFlow13);
        Assert.Equal(0, Visited(of13, out var error));
        Assert.Equal(OfError.BadTableId, error);
        Assert.Equal(OfError.BadTableId, _sw.Aggregate(of13, out var none));
        Assert.Equal(default, none);
        // 255 is every table; a table a controller may use that no flow-mod created holds nothing.
        Assert.Equal(1, Visited(of13 with { TableId = OfTables.All }, out error));
        Assert.Equal(OfError.None, error);
        Assert.Equal(0, Visited(of13 with { TableId = 9 }, out error));
        Assert.Equal(OfError.None, error);
        // OpenFlow 1.0's 0xfe is its emergency flows: none here, and no refusal.
        var of10 = new FlowStatsRequest(OfMatch.Any, TableId: OfTables.EmergencyTableId, Rules: MatchRules.OpenFlow10);
        Assert.Equal(OfError.None, _sw.Aggregate(of10, out var emergency));
        Assert.Equal(0u, emergency.FlowCount);
    }

    [Fact]
    public void TableStatsOfATableNotYetCreatedAreZerosAnd254IsNoTable()
    {
        var st = _sw.TableStats(7);
        Assert.Equal(((byte)7, 0, 0L, 0L), (st.TableId, st.ActiveCount, st.LookupCount, st.MatchedCount));
        Assert.False(_sw.HasTable(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => _sw.TableStats(254));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod13(FlowModCommand.Add, 7)));
        Assert.Equal(1, _sw.TableStats(7).ActiveCount);
    }
}
