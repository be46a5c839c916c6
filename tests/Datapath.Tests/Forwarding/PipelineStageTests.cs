using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A multi-stage pipeline through the forwarder: goto chains, apply-actions composed in visiting order, the action set
/// (write, clear, and its fixed execution order), write-metadata with masks, lookups of later tables on the headers
/// earlier apply-actions rewrote, per-table miss modes, counters of every table visited, and the cached verdict: one
/// cache lookup per packet in steady state, no allocation, and stale at once when a visited table changes in a way that could change it (see VerdictChurnTests).
/// </summary>
public sealed class PipelineStageTests
{
    internal static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:00:0a"), MacB = MacAddress.Parse("02:00:00:00:00:0b");
    internal static readonly MacAddress MacC = MacAddress.Parse("02:00:00:00:00:0c");
    internal static readonly uint IpA = Ipv4.Parse("10.0.0.1"), IpB = Ipv4.Parse("10.0.0.2");

    internal static FlowMatch Any => FlowMatch.FromOpenFlow(OfWildcards.All, default);
    internal static FlowMatch InPort(ushort p) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort, new FlowKeyBuilder().InPort(p).Key);
    internal static FlowMatch DlDst(MacAddress m) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlDst, new FlowKeyBuilder().DlDst(m).Key);
    internal static FlowMatch DlSrc(MacAddress m) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlSrc, new FlowKeyBuilder().DlSrc(m).Key);
    internal static FlowMatch Vlan(ushort vid) => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlVlan, new FlowKeyBuilder().DlVlan(vid).Key);
    internal static FlowInstructions Goto(int t, FlowActions? write = null, bool clear = false, ulong md = 0, ulong mdMask = 0)
        => new(write, clear, md, mdMask, t);
    internal static byte[] Frame(MacAddress src, MacAddress dst, ushort sport = 1000) => FrameBuilder.Udp(src, dst, IpA, IpB, sport, 2000);

    private static MacAddress DstOf(byte[] f) => MacAddress.Read(f);

    [Fact]
    public void GotoChain_RunsEveryTablesApplyActionsInOrder_ThenEnds()
    {
        using var r = new DatapathRig();
        r.Insert(0, InPort(1), 10, [FlowAction.Output(2)], Goto(1));
        r.Insert(1, Any, 10, [FlowAction.SetDlDst(MacC)], Goto(3));
        r.Insert(3, DlDst(MacC), 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        var two = r.Sent(2);
        var three = r.Sent(3);
        Assert.Single(two);
        Assert.Equal(MacB, DstOf(two[0]));   // output in table 0 saw the packet before table 1 rewrote it
        Assert.Single(three);
        Assert.Equal(MacC, DstOf(three[0])); // table 3 looked up the rewritten dl_dst and output it
    }

    [Fact]
    public void ApplyActionRewrite_IsSeenByLaterTablesLookups()
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [FlowAction.SetDlDst(MacC), FlowAction.SetVlanVid(7)], Goto(1));
        r.Insert(1, DlDst(MacB), 20, [FlowAction.Output(2)]);
        r.Insert(1, DlDst(MacC), 10, [FlowAction.Output(3)], Goto(2));
        r.Insert(2, Vlan(7), 10, [FlowAction.Output(4)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Empty(r.Sent(2));
        Assert.Single(r.Sent(3));
        var four = r.Sent(4);
        Assert.Single(four);
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(four[0].AsSpan(12)));
        Assert.Equal(7, BinaryPrimitives.ReadUInt16BigEndian(four[0].AsSpan(14)) & 0x0FFF);
    }

    [Fact]
    public void ActionSet_RunsAfterApplyActions_InTheSpecOrder_WriteReplacesAKind()
    {
        using var r = new DatapathRig();
        // Written in the "wrong" order: output first, then a set-field, then strip (a pop); table 1 replaces dl_dst.
        r.Insert(0, Any, 10, [], Goto(1, new FlowActions([FlowAction.Output(2), FlowAction.SetDlDst(MacB), FlowAction.StripVlan()])));
        r.Insert(1, Any, 10, [FlowAction.Output(3)], Goto(2, new FlowActions([FlowAction.SetDlDst(MacC)])));
        r.Insert(2, Any, 10, []);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlDst(MacA).Key);
        Assert.Equal(PipelineEnd.Actions, walk.End);
        Assert.Equal([ActionKind.Output, ActionKind.StripVlan, ActionKind.SetDlDst, ActionKind.Output], walk.Composed.Select(a => a.Kind).ToArray());
        Assert.Equal(3, walk.Composed[0].Port);
        Assert.Equal(MacC.Value, walk.Composed[2].Value);
        Assert.Equal(2, walk.Composed[3].Port);

        r.Send(1, Frame(MacA, MacA, sport: 1));
        Assert.Equal(MacA, DstOf(Assert.Single(r.Sent(3))));
        Assert.Equal(MacC, DstOf(Assert.Single(r.Sent(2))));
    }

    [Fact]
    public void ClearActions_EmptiesTheSet_AndAMissDiscardsIt()
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [], Goto(1, new FlowActions([FlowAction.Output(2)])));
        r.Insert(1, InPort(1), 10, [], Goto(2, new FlowActions([FlowAction.SetDlDst(MacC)]), clear: true));
        r.Insert(1, InPort(2), 10, [], Goto(3));
        r.Insert(2, Any, 10, []);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal([ActionKind.SetDlDst], walk.Composed.Select(a => a.Kind).ToArray());
        // in_port 2 goes to table 3, which has no rule and drops: the action set (output:2) is discarded.
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(2).Key);
        Assert.Equal(PipelineEnd.MissDrop, walk.End);
        Assert.Empty(walk.Composed);
        r.Send(2, Frame(MacA, MacB));
        Assert.Empty(r.Sent(2));
        Assert.True(r.Fwd.Drops[DropReason.FlowDrop] >= 1);
    }

    [Fact]
    public void WriteMetadata_MasksAccumulate_AndTheExtMapFollows()
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [], Goto(1, md: 0xFFAB, mdMask: 0x00FF));
        r.Insert(1, Any, 10, [], Goto(2, md: 0x1200, mdMask: 0xFF00));
        r.Insert(2, Any, 10, [], new FlowInstructions(metadataValue: 0, metadataMask: 0x1_0000_0000));
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(0x12ABUL, walk.FinalKey.Metadata);
        Assert.Equal(1, walk.FinalKey.ExtMap & 1);
        // Writing zeros back leaves the map clear (the key equals one that never had metadata).
        using var r2 = new DatapathRig();
        r2.Insert(0, Any, 10, [], Goto(1, md: 0x5, mdMask: 0xF));
        r2.Insert(1, Any, 10, [], new FlowInstructions(metadataValue: 0, metadataMask: ulong.MaxValue));
        walk.Run(r2.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(new FlowKeyBuilder().InPort(1).Key, walk.FinalKey);
    }

    [Fact]
    public void LaterTable_MatchesTheMetadataEarlierTablesWrote()
    {
        using var r = new DatapathRig();
        var mdMask = new FlowKeyBuilder().Metadata(0xFF).Key;
        var mdValue = new FlowKeyBuilder().Metadata(0x42).Key;
        var m = new FlowMatch(mdMask, mdValue);
        r.Insert(0, InPort(1), 10, [], Goto(1, md: 0x42, mdMask: 0xFF));
        r.Insert(0, InPort(2), 10, [], Goto(1, md: 0x43, mdMask: 0xFF));
        r.Insert(1, m, 20, [FlowAction.Output(3)]);
        r.Insert(1, Any, 10, [FlowAction.Output(4)]);
        r.Send(1, Frame(MacA, MacB));
        r.Send(2, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        Assert.Single(r.Sent(4));
    }

    [Fact]
    public void MissModes_ControllerDropAndContinue()
    {
        using var r = new DatapathRig();
        r.Insert(0, InPort(1), 10, [FlowAction.Output(4)], Goto(1));
        r.Insert(0, InPort(2), 10, [], Goto(2));
        r.Insert(0, InPort(3), 10, [], Goto(3));
        r.Dp.Pipeline.GetOrCreateStage(1).MissMode = TableMissMode.Controller;
        r.Dp.Pipeline.GetOrCreateStage(2).MissMode = TableMissMode.Drop;
        r.Dp.Pipeline.GetOrCreateStage(3).MissMode = TableMissMode.Continue;
        r.Insert(4, Any, 10, [FlowAction.Output(2)]);

        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(4)); // table 0's apply-actions ran before table 1 missed
        int upcalls = r.Dp.DrainUpcalls((in Upcall u) => Assert.Equal(UpcallReason.Miss, u.Reason));
        Assert.Equal(1, upcalls);

        r.Send(2, Frame(MacA, MacB));
        Assert.Equal(0, r.Dp.DrainUpcalls((in Upcall _) => { }));
        Assert.Empty(r.Sent(1));
        Assert.Empty(r.Sent(2));

        r.Send(3, Frame(MacA, MacB));
        Assert.Single(r.Sent(2)); // table 3 continued to table 4
    }

    [Fact]
    public void OneTableMiss_InTable0_KeepsTheDatapathsMissBehaviour()
    {
        using var r = new DatapathRig();
        r.Dp.Pipeline.EnableStages();
        r.Dp.MissBehavior = MissBehavior.Drop;
        r.Send(1, Frame(MacA, MacB));
        Assert.Equal(0, r.Dp.DrainUpcalls((in Upcall _) => { }));
        r.Dp.MissBehavior = MissBehavior.Controller;
        r.Send(1, Frame(MacA, MacB, sport: 2));
        Assert.Equal(1, r.Dp.DrainUpcalls((in Upcall _) => { }));
    }

    [Fact]
    public void Counters_CreditEveryTableVisited_CachedOrNot()
    {
        using var r = new DatapathRig();
        var e0 = r.Insert(0, Any, 10, [], Goto(1));
        var e1 = r.Insert(1, DlDst(MacB), 10, [], Goto(2));
        var e2 = r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 5);
        r.Send(1, Frame(MacA, MacC), times: 3); // misses in table 1 (drop)
        foreach (var e in new[] { e0, e1, e2 }) Assert.True(e.Bytes > 0);
        Assert.Equal(8, e0.Packets);
        Assert.Equal(5, e1.Packets);
        Assert.Equal(5, e2.Packets);
        Assert.Equal(5 * frame.Length, e2.Bytes);
        Assert.Equal((8L, 8L), r.Dp.Pipeline.GetStageTotals(0));
        Assert.Equal((8L, 5L), r.Dp.Pipeline.GetStageTotals(1));
        Assert.Equal((5L, 5L), r.Dp.Pipeline.GetStageTotals(2));
        Assert.Equal((0L, 0L), r.Dp.Pipeline.GetStageTotals(3));
        Assert.Equal(5, r.Sent(2).Count);
    }

    [Fact]
    public void SteadyState_OneCacheLookupPerPacket_NoVerdictBuilt_NoAllocation()
    {
        using var r = new DatapathRig();
        r.Insert(0, Vlan(0xFFFF), 10, [], Goto(1));
        r.Insert(1, DlSrc(MacA), 10, [], Goto(2));
        r.Insert(2, DlDst(MacB), 10, [], Goto(3));
        r.Insert(3, Any, 10, [FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        var frame = Frame(MacA, MacB);
        Assert.Equal(0, r.Fwd.PipelineWalks);
        r.Send(1, frame, times: 4);
        Assert.Equal(1, r.Fwd.PipelineWalks); // the first packet walked the tables; the next three found its verdict
        r.Port(1).SetGenerator([frame], 0);
        var emc = r.Fwd.Cache!;
        long hits = emc.Hits, misses = emc.Misses, built = r.Fwd.VerdictsBuilt, walks = r.Fwd.PipelineWalks;
        long alloc = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(64);
            r.Dp.PollUntilIdle();
        });
        Assert.Equal(0, r.Fwd.VerdictsBuilt - built);
        Assert.Equal(walks, r.Fwd.PipelineWalks);
        Assert.Equal(misses, emc.Misses);
        Assert.True(emc.Hits - hits >= 64);
        Assert.Equal(0, alloc);
    }

    [Fact]
    public void ChangeInAnyVisitedTable_MakesTheCachedVerdictStaleAtOnce()
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [], Goto(1));
        r.Insert(1, Any, 10, [], Goto(2));
        var e2 = r.Insert(2, Any, 10, [FlowAction.Output(2)]);
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 3);
        Assert.Equal(3, r.Sent(2).Count);

        // An action swap in the last table.
        using (var w = r.Dp.Pipeline.Stage(2)!.Write()) w.SetActions(e2, new FlowActions([FlowAction.Output(3)]));
        r.Send(1, frame);
        Assert.Single(r.Sent(3));

        // A higher-priority rule in the middle table that ends the pipeline there.
        r.Insert(1, DlDst(MacB), 20, [FlowAction.Output(4)]);
        r.Send(1, frame);
        Assert.Single(r.Sent(4));
        Assert.Empty(r.Sent(3));

        // A miss-mode change of a table the packet does not reach leaves it alone; removing the middle rule does not.
        r.Dp.Pipeline.GetOrCreateStage(9).MissMode = TableMissMode.Continue;
        r.Send(1, frame);
        Assert.Single(r.Sent(4));
        using (var w = r.Dp.Pipeline.Stage(1)!.Write())
        {
            var l = new List<FlowEntry>();
            w.CollectSubsets(DlDst(MacB), l);
            w.Remove(l);
        }
        r.Send(1, frame);
        Assert.Single(r.Sent(3));
    }

    [Fact]
    public void SingleStagePipeline_IsNotMultiStage_UntilAStageOrInstructionsAppear()
    {
        var p = new Pipeline(new ManualClock());
        Assert.False(p.IsMultiStage);
        p.AddTable();
        Assert.False(p.IsMultiStage);
        Assert.Null(p.Stage(1));
        var t = p.GetOrCreateStage(5);
        Assert.True(p.IsMultiStage);
        Assert.Same(t, p.Stage(5));
        Assert.Equal(5, t.StageId);
        Assert.Equal([0, 5], p.StageIds());
        Assert.Throws<ArgumentOutOfRangeException>(() => p.GetOrCreateStage(255));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowInstructions(gotoTable: 255));
    }
}
