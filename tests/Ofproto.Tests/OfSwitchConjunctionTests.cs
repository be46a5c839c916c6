using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// conjunction(id,k/n) and conj_id through the OpenFlow layer: what Open vSwitch refuses with NXBAC_BAD_CONJUNCTION (a
/// conjunction beside any other action or an instruction, n outside 2..64, k outside 1..n), a conj_id match that is
/// whole or absent, and flows that compile to clauses the datapath combines, read back as they came.
/// </summary>
public sealed class OfSwitchConjunctionTests : IDisposable
{
    private static readonly PortTable NoPorts = new([], null);
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly OfSwitch _sw;

    private sealed class Reports : IOfReports
    {
        public void PacketIn(in OfPacketIn packet) { }
        public void FlowRemoved(in OfFlowRemoved removed) { }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    public OfSwitchConjunctionTests()
    {
        for (int i = 0; i < 3; i++) _dp.AddPort(new MemoryPort($"m{i + 1}", new MacAddress(0x0200_0000_0010UL + (ulong)i)));
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 7 });
        _sw.Start(new Reports());
        _sw.SetControllerConnected(true);
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private static OfError Compile(params OfAction[] a) => OfActionCompiler.TryCompile(a, NoPorts, ActionContext.FlowMod, 8, out _);

    /// <summary>Every flow as statistics show it: (conj_id mask, conj_id, actions).</summary>
    private List<(uint Mask, uint ConjId, OfAction[] Actions)> Flows()
    {
        var list = new List<(uint, uint, OfAction[])>();
        Assert.Equal(OfError.None, _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) =>
        {
            list.Add((f.Match.Mask.ConjId, f.Match.Value.ConjId, f.Actions.ToArray()));
            return true;
        }));
        return list;
    }

    private OfError Add(OfMatch m, OfInstructions ins, byte table = 0, ushort priority = 100)
        => _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, m, priority, ins, TableId: table, Rules: MatchRules.OpenFlow13));

    [Fact]
    public void ConjunctionsAlone_Compile_ToAClauseTheDatapathCombines()
    {
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile([OfAction.Conjunction(7, 0, 2), OfAction.Conjunction(8, 2, 3)], NoPorts,
                                                               ActionContext.FlowMod, 8, out var list));
        Assert.True(list.IsConjunctive);
        Assert.Equal(2, list.MinConjClauses);
        Assert.Equal([FlowAction.Conjunction(7, 0, 2), FlowAction.Conjunction(8, 2, 3)], list.Items);
        Assert.Equal([OfAction.Conjunction(7, 0, 2), OfAction.Conjunction(8, 2, 3)], list.Items.Select(a => OfActionCompiler.ToOfAction(a)).ToArray());
    }

    public static TheoryData<OfAction[]> Refused => new()
    {
        new[] { OfAction.Conjunction(1, 0, 2), OfAction.Output(1) },
        new[] { OfAction.Output(1), OfAction.Conjunction(1, 0, 2) },
        new[] { OfAction.Conjunction(1, 0, 1) },
        new[] { OfAction.Conjunction(1, 0, 65) },
        new[] { OfAction.Conjunction(1, 2, 2) },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void WhatOpenVswitchRefuses_IsBadConjunction(OfAction[] actions) => Assert.Equal(OfError.BadConjunction, Compile(actions));

    [Fact]
    public void AConjunctionWithAnInstruction_IsBadConjunction_AndAPartialConjIdMaskUnsupported()
    {
        var conj = new[] { OfAction.Conjunction(1, 0, 2) };
        Assert.Equal(OfError.BadConjunction, Add(OfMatch.Any.EthType(0x0800), new OfInstructions(conj, GotoTable: 1)));
        Assert.Equal(OfError.BadConjunction, Add(OfMatch.Any.EthType(0x0800), new OfInstructions(conj, WriteActions: new[] { OfAction.Output(1) })));
        var partial = OfMatch.Any;
        partial.Value.ConjId = 1;
        partial.Mask.ConjId = 0xff;
        Assert.Equal(OfError.UnsupportedMask, Add(partial, OfInstructions.Apply(new[] { OfAction.Output(1) })));
        Assert.Empty(Flows());
    }

    [Fact]
    public void ClausesAndAConjIdFlow_ReadBackAsTheyCame_AndMakeTheTableConjunctive()
    {
        Assert.Equal(OfError.None, Add(OfMatch.Any.EthType(0x0800).NwSrc(0x0a000001), OfInstructions.Apply(new[] { OfAction.Conjunction(5, 0, 2) })));
        Assert.Equal(OfError.None, Add(OfMatch.Any.EthType(0x0800).NwProto(17).TpDst(80), OfInstructions.Apply(new[] { OfAction.Conjunction(5, 1, 2) })));
        Assert.Equal(OfError.None, Add(OfMatch.Any.ConjId(5), OfInstructions.Apply(new[] { OfAction.Output(2) })));
        Assert.Equal(OfError.None, Add(OfMatch.Any.ConjId(6), OfInstructions.Apply(new[] { OfAction.Output(3) })));
        var flows = Flows();
        Assert.Equal(4, flows.Count);
        Assert.True(_dp.Pipeline.IsMultiStage);
        Assert.True(_dp.Pipeline.Table(0).IsConjunctive);
        Assert.Contains(flows, f => f.Mask == uint.MaxValue && f.ConjId == 5);
        Assert.Contains(flows, f => f.Mask == uint.MaxValue && f.ConjId == 6);
        Assert.Contains(flows, f => f.Actions.SequenceEqual(new[] { OfAction.Conjunction(5, 1, 2) }));
        // A delete by conj_id takes that flow only.
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any.ConjId(6), 0, default, TableId: FlowModRequest.AllTables,
                                                                  Rules: MatchRules.OpenFlow13)));
        Assert.Equal(3, Flows().Count);
        Assert.DoesNotContain(Flows(), f => f.ConjId == 6);
    }
}
