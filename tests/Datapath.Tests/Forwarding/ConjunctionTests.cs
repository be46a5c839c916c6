using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's conjunctive matches (ovs-fields(7), "Conjunctive Match Fields"; lib/classifier.c): rules whose only
/// actions are conjunction(id,k/n) are clauses their table's lookup combines; a packet that matches a clause of every
/// dimension of an id, at one priority above any other rule it matches, is looked up again with conj_id = id, and what
/// that finds runs. Through the forwarders (cached verdicts included) and the walk.
/// </summary>
public sealed class ConjunctionTests
{
    private static readonly uint IpC = Ipv4.Parse("10.0.0.3"), IpD = Ipv4.Parse("10.0.0.4");

    private static FlowMatch NwSrc(uint ip)
        => new(new FlowKeyBuilder().DlType(0xFFFF).NwSrc(~0u).Key, new FlowKeyBuilder().DlType(0x0800).NwSrc(ip).Key);

    private static FlowMatch TpDst(ushort port)
        => new(new FlowKeyBuilder().DlType(0xFFFF).NwProto(0xFF).TpDst(0xFFFF).Key, new FlowKeyBuilder().DlType(0x0800).NwProto(17).TpDst(port).Key);

    private static FlowMatch TpSrc(ushort port)
        => new(new FlowKeyBuilder().DlType(0xFFFF).NwProto(0xFF).TpSrc(0xFFFF).Key, new FlowKeyBuilder().DlType(0x0800).NwProto(17).TpSrc(port).Key);

    private static FlowMatch ConjId(uint id) => new(default, default, default, default, true, id);

    private static FlowAction Conj(uint id, byte k, byte n) => FlowAction.Conjunction(id, (byte)(k - 1), n);

    private static byte[] Udp(uint src, ushort dport, ushort sport = 1000) => FrameBuilder.Udp(MacA, MacB, src, IpB, sport, dport);

    private static FlowKey Key(uint src, ushort dport, ushort sport = 1000)
        => new FlowKeyBuilder().InPort(1).DlSrc(MacA).DlDst(MacB).DlType(0x0800).NwProto(17).NwSrc(src).NwDst(IpB).TpSrc(sport).TpDst(dport).Key;

    /// <summary>
    /// ovs-fields(7)'s example: (ip_src in {A, B}) and (tp_dst in {80, 443}) goes to port 2, anything else to port 3.
    /// </summary>
    private static DatapathRig Acl(int ports = 4)
    {
        var r = new DatapathRig(ports);
        r.Insert(0, NwSrc(IpA), 100, [Conj(1, 1, 2)]);
        r.Insert(0, NwSrc(IpC), 100, [Conj(1, 1, 2)]);
        r.Insert(0, TpDst(80), 100, [Conj(1, 2, 2)]);
        r.Insert(0, TpDst(443), 100, [Conj(1, 2, 2)]);
        r.Insert(0, ConjId(1), 100, [FlowAction.Output(2)]);
        r.Insert(0, Any, 1, [FlowAction.Output(3)]);
        return r;
    }

    /// <summary>Sends <paramref name="frame"/> on port 1 and returns the one port it left by.</summary>
    private static int Egress(DatapathRig r, byte[] frame)
    {
        r.Send(1, frame);
        var ports = Enumerable.Range(2, r.Ports.Length - 1).Where(p => r.Sent(p).Count > 0).ToArray();
        return Assert.Single(ports);
    }

    [Fact]
    public void EveryDimensionMatched_RunsTheConjIdFlow_ElseTheOtherRules()
    {
        using var r = Acl();
        Assert.True(r.Dp.Pipeline.IsMultiStage);
        Assert.True(r.Dp.Pipeline.Table(0).IsConjunctive);
        for (int round = 0; round < 2; round++) // the second round takes the cached verdicts
        {
            Assert.Equal(2, Egress(r, Udp(IpA, 80)));
            Assert.Equal(2, Egress(r, Udp(IpC, 443)));
            Assert.Equal(3, Egress(r, Udp(IpA, 22)));  // one dimension only
            Assert.Equal(3, Egress(r, Udp(IpD, 80)));  // the other only
            Assert.Equal(3, Egress(r, Udp(IpD, 22)));
        }
        // The conj_id flow is credited, not the clauses (Open vSwitch counts the flow whose actions ran).
        var conjFlow = r.Dp.Pipeline.Table(0).Lookup(Key(IpA, 80));
        Assert.NotNull(conjFlow);
        Assert.True(conjFlow!.Match.UsesConjId);
    }

    [Fact]
    public void AHigherPriorityRule_BeatsTheClauses_ALowerOneLosesToThem()
    {
        using var r = Acl();
        r.Insert(0, TpSrc(7), 200, [FlowAction.Output(4)]);
        r.Insert(0, TpSrc(9), 50, [FlowAction.Output(4)]);
        Assert.Equal(4, Egress(r, Udp(IpA, 80, sport: 7)));
        Assert.Equal(2, Egress(r, Udp(IpA, 80, sport: 9)));
        Assert.Equal(4, Egress(r, Udp(IpA, 22, sport: 9))); // no conjunction: the hard rule at 50 wins over the default
    }

    [Fact]
    public void ClausesOfOneIdAtTwoPriorities_DoNotCombine()
    {
        using var r = new DatapathRig(4);
        r.Insert(0, NwSrc(IpA), 100, [Conj(1, 1, 2)]);
        r.Insert(0, TpDst(80), 90, [Conj(1, 2, 2)]);
        r.Insert(0, ConjId(1), 100, [FlowAction.Output(2)]);
        r.Insert(0, Any, 1, [FlowAction.Output(3)]);
        Assert.Equal(3, Egress(r, Udp(IpA, 80)));
    }

    [Fact]
    public void AClauseThatCannotComplete_GivesWayToALowerRuleOfItsOwnMatch()
    {
        using var r = Acl();
        // The same match as a clause, lower and not a clause: when the conjunction does not complete, it is the next
        // rule of that match (classifier.c's soft-match loop), ahead of the default.
        r.Insert(0, NwSrc(IpA), 50, [FlowAction.Output(4)]);
        Assert.Equal(4, Egress(r, Udp(IpA, 22)));
        Assert.Equal(2, Egress(r, Udp(IpA, 80)));
    }

    [Fact]
    public void SeveralConjunctionsSharingClauses_AndThreeDimensions()
    {
        using var r = new DatapathRig(5);
        r.Insert(0, NwSrc(IpA), 100, [Conj(1, 1, 2), Conj(2, 1, 2), Conj(3, 1, 3)]);
        r.Insert(0, TpDst(80), 100, [Conj(1, 2, 2), Conj(3, 2, 3)]);
        r.Insert(0, TpDst(443), 100, [Conj(2, 2, 2)]);
        r.Insert(0, TpSrc(7), 100, [Conj(3, 3, 3)]);
        r.Insert(0, ConjId(1), 100, [FlowAction.Output(2)]);
        r.Insert(0, ConjId(2), 100, [FlowAction.Output(3)]);
        r.Insert(0, ConjId(3), 100, [FlowAction.Output(4)]);
        r.Insert(0, Any, 1, [FlowAction.Output(5)]);
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(3, Egress(r, Udp(IpA, 443)));
            Assert.Equal(5, Egress(r, Udp(IpC, 443)));
            int three = Egress(r, Udp(IpA, 80, sport: 7)); // ids 1 and 3 both complete: one of their flows (Open vSwitch: either)
            Assert.Contains(three, new[] { 2, 4 });
            Assert.Equal(2, Egress(r, Udp(IpA, 80, sport: 8))); // id 3 lacks its third dimension
        }
    }

    [Fact]
    public void AConjunctionWithNoConjIdFlow_LeavesThePacketToTheOtherRules()
    {
        using var r = new DatapathRig(4);
        r.Insert(0, NwSrc(IpA), 100, [Conj(7, 1, 2)]);
        r.Insert(0, TpDst(80), 100, [Conj(7, 2, 2)]);
        r.Insert(0, ConjId(8), 100, [FlowAction.Output(2)]);
        r.Insert(0, Any, 1, [FlowAction.Output(3)]);
        Assert.Equal(3, Egress(r, Udp(IpA, 80)));
        var conj7 = r.Insert(0, ConjId(7), 100, [FlowAction.Output(4)]);
        Assert.Equal(4, Egress(r, Udp(IpA, 80))); // the cached verdict saw the conj_id flow come
        using (var w = r.Dp.Pipeline.Table(0).Write()) w.Remove(conj7);
        Assert.Equal(3, Egress(r, Udp(IpA, 80)));
    }

    [Fact]
    public void CachedVerdicts_FollowEveryChangeToAClause_AndEachKeysOwnFields()
    {
        using var r = Acl();
        var table = r.Dp.Pipeline.Table(0);
        // Keys that differ only in a clause's field: each its own verdict, right for it.
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(2, Egress(r, Udp(IpA, 80)));
            Assert.Equal(3, Egress(r, Udp(IpA, 81)));
            Assert.Equal(2, Egress(r, Udp(IpA, 443)));
        }
        // A clause removed: the conjunction no longer completes for port 80.
        var clause80 = FindRule(table, TpDst(80), 100);
        Assert.NotNull(clause80);
        Assert.True(clause80!.Actions.IsConjunctive);
        using (var w = table.Write()) w.Remove(clause80!);
        Assert.Equal(3, Egress(r, Udp(IpA, 80)));
        Assert.Equal(2, Egress(r, Udp(IpA, 443)));
        // Added back, and a clause added for port 81.
        r.Insert(0, TpDst(80), 100, [Conj(1, 2, 2)]);
        r.Insert(0, TpDst(81), 100, [Conj(1, 2, 2)]);
        Assert.Equal(2, Egress(r, Udp(IpA, 80)));
        Assert.Equal(2, Egress(r, Udp(IpA, 81)));
        // A clause's actions swapped for an output: no longer a clause, a rule of its own.
        var clause81 = FindRule(table, TpDst(81), 100)!;
        using (var w = table.Write()) w.SetActions(clause81, new FlowActions([FlowAction.Output(4)]));
        Assert.Equal(4, Egress(r, Udp(IpA, 81)));
        Assert.Equal(4, Egress(r, Udp(IpD, 81)));
        // And back to a clause.
        using (var w = table.Write()) w.SetActions(clause81, new FlowActions([Conj(1, 2, 2)]));
        Assert.Equal(2, Egress(r, Udp(IpA, 81)));
        Assert.Equal(3, Egress(r, Udp(IpD, 81)));
    }

    [Fact]
    public void TheLastClauseGone_TheTableLooksUpPlainlyAgain()
    {
        using var r = new DatapathRig(4);
        var a = r.Insert(0, NwSrc(IpA), 100, [Conj(1, 1, 2)]);
        var b = r.Insert(0, TpDst(80), 100, [Conj(1, 2, 2)]);
        r.Insert(0, ConjId(1), 100, [FlowAction.Output(2)]);
        r.Insert(0, Any, 1, [FlowAction.Output(3)]);
        var table = r.Dp.Pipeline.Table(0);
        Assert.Equal(2, Egress(r, Udp(IpA, 80)));
        using (var w = table.Write())
        {
            w.Remove(a);
            w.Remove(b);
        }
        Assert.False(table.IsConjunctive);
        Assert.Equal(3, Egress(r, Udp(IpA, 80)));
    }

    [Fact]
    public void TheTrace_NamesTheClausesThatFormedTheMatch()
    {
        using var r = Acl();
        var table = r.Dp.Pipeline.Table(0);
        var t = table.Trace(Key(IpA, 80));
        Assert.True(t.Entry!.Match.UsesConjId);
        Assert.Equal(1u, t.Entry.Match.ConjIdValue);
        Assert.NotNull(t.Conjunctions);
        Assert.Equal(2, t.Conjunctions!.Count);
        Assert.Contains(t.Conjunctions, e => e.Match == NwSrc(IpA));
        Assert.Contains(t.Conjunctions, e => e.Match == TpDst(80));
        var miss = table.Trace(Key(IpA, 22));
        Assert.Null(miss.Conjunctions);
        Assert.False(miss.Entry!.Match.UsesConjId);
    }

    [Fact]
    public void ConjunctiveFlows_ForwardWithoutAllocating()
    {
        using var r = Acl();
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([Udp(IpA, 80), Udp(IpC, 443), Udp(IpA, 22), Udp(IpD, 80)], 0);
        var conjFlow = FindRule(r.Dp.Pipeline.Table(0), ConjId(1), 100)!;
        long bytes = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(4096);
            r.Dp.PollUntilIdle();
        }, rounds: 6);
        Assert.Equal(0, bytes);
        Assert.True(conjFlow.Packets >= 2048, $"{conjFlow.Packets} packets through the conj_id flow"); // half of each round's
        // And the uncached walk through the conjunctive lookup: no allocation either.
        var walk = new PipelineWalk();
        var k = Key(IpA, 80);
        walk.Run(r.Dp.Pipeline, k);
        Assert.Equal([FlowAction.Output(2)], walk.Composed.ToArray());
        Assert.Equal(0, AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 100; i++) walk.Run(r.Dp.Pipeline, k);
        }));
    }

    private static FlowEntry? FindRule(FlowTable table, FlowMatch match, ushort priority)
    {
        using var w = table.Write();
        return w.Find(match, priority);
    }
}
