using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The classifier as forwarding sees it: an exact flow outranks every wildcard, and an in_port-only table is looked up
/// once per burst until its shape changes.
/// </summary>
public sealed class ClassifierForwardingTests
{
    [Fact]
    public void ExactBeatsHigherPriorityWildcard()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.All & ~OfWildcards.DlType), 65000, FlowAction.Output(3));
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(2));
        r.Send(1, f);
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void InPortOnlyTable_OneLookupPerBurst_GivesPerPacketResults_AndFallsBackWhenTheShapeChanges()
    {
        using var r = new FlowTablesRig();
        var allButInPort = (OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt;
        var frames = new byte[64][];
        for (int i = 0; i < frames.Length; i++) frames[i] = Udp(H1, H2, "10.0.0.1", $"10.0.1.{i}", (ushort)(1000 + i));
        r.Add(MatchOf(frames[0], 1, allButInPort), 10, FlowAction.Output(2));
        r.Add(FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default), 0, FlowAction.Output(4));
        Assert.Equal(Softswitch.Datapath.Classifier.LookupShape.InPortOnly, r.Dp.Pipeline.LookupTable.Shape);

        foreach (var p in r.Ports) p.CaptureSent = false;
        var before = r.Dp.Pipeline.GetLookupTotals();
        r.Ports[0].SetGenerator(frames, 6400);
        Assert.Equal(6400, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(6400, r.Ports[1].Counters.TxPackets);
        var byPort = r.Dp.Pipeline.LookupTable.Lookup(new FlowKeyBuilder().InPort(1).Key)!;
        Assert.Equal(6400, byPort.Packets);
        Assert.Equal(6400L * frames[0].Length, byPort.Bytes);
        var after = r.Dp.Pipeline.GetLookupTotals();
        Assert.Equal(6400, after.WildcardLookups - before.WildcardLookups);
        Assert.Equal(6400, after.WildcardMatched - before.WildcardMatched);

        // Port 3 has no rule of its own: the match-all rule takes its packets.
        r.Ports[2].SetGenerator(frames, 640);
        Assert.Equal(640, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(640, r.Ports[3].Counters.TxPackets);

        // One rule that looks at nw_dst: per-packet lookups again, and only its packet changes its way.
        var one = MatchOf(frames[5], 1, OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask));
        r.Add(one, 20, FlowAction.Output(3));
        Assert.Equal(Softswitch.Datapath.Classifier.LookupShape.General, r.Dp.Pipeline.LookupTable.Shape);
        r.Ports[0].SetGenerator(frames, 6400);
        Assert.Equal(6400, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(100, r.Ports[2].Counters.TxPackets);
        Assert.Equal(6400 + 6300, r.Ports[1].Counters.TxPackets);

        // Deleted again: back to one lookup per burst, with no allocation per packet.
        Assert.Equal(FlowModStatus.Ok, r.Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, one, 20, FlowActions.Drop)));
        Assert.Equal(Softswitch.Datapath.Classifier.LookupShape.InPortOnly, r.Dp.Pipeline.LookupTable.Shape);
        Forwarding.ForwardingTests.AssertSteadyForwardingAllocatesNothing(r);
        Assert.Equal(100, r.Ports[2].Counters.TxPackets);
    }
}
