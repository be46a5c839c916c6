using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's learn in the datapath: the pipeline walk reads the learn's fields (as the actions before it left the
/// packet) into the composed list, and each batch the verdict serves posts a learn request through the upcall ring,
/// allocation-free; a learn already posted is not posted again until its refresh interval passes or its table removes a
/// flow; requests beyond the learn rate or a full ring are dropped and counted.
/// </summary>
public sealed class LearnTests
{
    /// <summary>A learn reading eth_src and in_port, into table 10 (the layer above's part is not the datapath's).</summary>
    private sealed record Template(byte Table, FieldRef[] Fields) : ILearnTemplate
    {
        public ReadOnlySpan<FieldRef> Sources => Fields;
        public bool Equals(Template? o) => o is not null && Table == o.Table && Fields.AsSpan().SequenceEqual(o.Fields);
        public override int GetHashCode() => HashCode.Combine(Table, Fields.Length);
    }

    private static readonly int s_id = LearnTemplates.Register(new Template(10, [new FieldRef(PipelineField.EthSrc, 0, 48), new FieldRef(PipelineField.InPort, 0, 16)]));
    private static readonly MacAddress MacC = MacAddress.Parse("02:00:00:00:00:0c");

    private static List<(ulong Id, UInt128[] Values)> Requests(DatapathRig r)
    {
        var list = new List<(ulong, UInt128[])>();
        r.Dp.DrainUpcalls((in Upcall u) =>
        {
            if (u.Reason != UpcallReason.Learn) return;
            var v = new UInt128[u.Frame.Length / 16];
            for (int i = 0; i < v.Length; i++)
                v[i] = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(u.Frame[(16 * i)..]), BinaryPrimitives.ReadUInt64BigEndian(u.Frame[(16 * i + 8)..]));
            list.Add((u.UserData, v));
        });
        return list;
    }

    [Fact]
    public void ALearnFlow_PostsTheValuesItRead_AndTheRestOfItsListRuns()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.SetDlSrc(MacC), FlowAction.Learn(s_id), FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2)).AsSpan(6)));
        var (id, values) = Assert.Single(Requests(r));
        Assert.Equal((ulong)s_id, id);
        // eth_src as the set before the learn left it, then in_port.
        Assert.Equal(new UInt128[] { MacC.Value, 1 }, values);
        Assert.Equal(1, r.Dp.Counters.Read(LearnCounters.Posted));
    }

    [Fact]
    public void ALearnAlreadyPosted_IsPostedAgain_AfterTheRefreshInterval_OrWhenItsTableRemovesAFlow()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Learn(s_id), FlowAction.Output(2)]);
        r.Insert(10, DlSrc(MacB), 1, []);
        r.Send(1, Frame(MacA, MacB), times: 5);
        Assert.Single(Requests(r));
        Assert.Equal(5, r.Sent(2).Count);
        r.Clock.AdvanceNanos(LearnState.RefreshNanos / 2);
        r.Send(1, Frame(MacA, MacB));
        Assert.Empty(Requests(r));
        r.Clock.AdvanceNanos(LearnState.RefreshNanos / 2 + 1);
        r.Send(1, Frame(MacA, MacB), times: 3);
        Assert.Single(Requests(r));
        // A flow leaves table 10 (the learned one may be it): the next packet asks again.
        using (var w = r.Dp.Pipeline.Stage(10)!.Write())
        {
            var list = new List<FlowEntry>();
            w.CollectSubsets(FlowMatch.All, list);
            w.Remove(list);
        }
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(Requests(r));
        // Another source: another verdict, another request.
        r.Send(1, Frame(MacC, MacB));
        var (_, values) = Assert.Single(Requests(r));
        Assert.Equal((UInt128)MacC.Value, values[0]);
    }

    [Fact]
    public void RequestsBeyondTheLearnRate_OrAFullRing_AreDroppedAndCounted_TheNextPacketAsksAgain()
    {
        using var r = new DatapathRig(3, new DatapathOptions { LearnRate = 1 });
        r.Insert(0, Any, 10, [FlowAction.Learn(s_id), FlowAction.Output(2)]);
        // One token (the clock starts at 1 s): the first source's request goes, the next two are refused.
        r.Send(1, Frame(MacA, MacB));
        r.Send(1, Frame(MacB, MacA));
        r.Send(1, Frame(MacC, MacA));
        Assert.Single(Requests(r));
        Assert.Equal(2, r.Dp.Counters.Read(LearnCounters.RateLimited));
        Assert.Equal(3, r.Sent(2).Count); // the packets themselves go on
        r.Clock.AdvanceNanos(1_000_000_000);
        r.Send(1, Frame(MacB, MacA));
        Assert.Equal((UInt128)MacB.Value, Assert.Single(Requests(r)).Values[0]);

        using var full = new DatapathRig(3, new DatapathOptions { LearnRate = 0, UpcallSlots = 2 });
        full.Insert(0, Any, 10, [FlowAction.Learn(s_id), FlowAction.Output(2)]);
        foreach (var src in new[] { MacA, MacB, MacC }) full.Send(1, Frame(src, MacA));
        Assert.Equal(1, full.Dp.Counters.Read(LearnCounters.QueueFull));
        Assert.Equal(2, Requests(full).Count);
        full.Send(1, Frame(MacC, MacA));
        Assert.Single(Requests(full));
    }

    [Fact]
    public void ALearnFlowsFastPath_AllocatesNothing_WhetherItPostsOrNot()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Learn(s_id), FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        r.Port(1).SetGenerator([Frame(MacA, MacB)], 0);
        UpcallHandler drain = static (in Upcall _) => { };
        long allocated = long.MaxValue, group = 0;
        int posted = 0;
        for (int round = 0; round < 40; round++)
        {
            // Every other round the refresh interval passes: that round's first batch posts a request.
            if (round % 2 == 0) r.Clock.AdvanceNanos(LearnState.RefreshNanos + 1);
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(4);
            r.Dp.PollUntilIdle();
            posted += r.Dp.DrainUpcalls(drain);
            if (round < 8) continue;
            group += GC.GetAllocatedBytesForCurrentThread() - before;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Equal(0, allocated);
        Assert.Equal(20, posted);
    }

    [Fact]
    public void TheWalk_ComposesTheRequestWithTheValues_EachAKeyRead()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.Learn(s_id)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(3).DlSrc(MacA).Key);
        Assert.Equal(new[] { FlowAction.LearnRequest(s_id, 2, 0), FlowAction.LearnValue(MacA.Value), FlowAction.LearnValue(3) }, walk.Composed);
        Assert.True(walk.UsedRegisterActions);
        Assert.Equal(2, walk.KeyReads.Length); // one verdict per learned flow
    }
}
