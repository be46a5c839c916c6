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

    /// <summary>
    /// A LEARN2 with limit=2 and result_dst=reg0[0] into table 10: eth_dst=eth_src (priority 7, tag 5), whose flows the
    /// layer above has table 10 count by tag.
    /// </summary>
    private sealed record Limited(byte Table, FieldRef[] Fields) : ILearnTemplate
    {
        private static readonly LearnMatchSpec[] s_matches = [new(new FieldRef(PipelineField.EthDst, 0, 48), 0, 0)];
        public ReadOnlySpan<FieldRef> Sources => Fields;
        public uint Limit => 2;
        public ulong Tag => 5;
        public ushort Priority => 7;
        public FieldRef? ResultDst => new FieldRef(PipelineField.Reg0, 0, 1);
        public ReadOnlySpan<LearnMatchSpec> Matches => s_matches;
        public bool Equals(Limited? o) => o is not null && Table == o.Table && Fields.AsSpan().SequenceEqual(o.Fields);
        public override int GetHashCode() => HashCode.Combine(Table, Fields.Length, 5);
    }

    private static readonly int s_limited = LearnTemplates.Register(new Limited(10, [new FieldRef(PipelineField.EthSrc, 0, 48)]));
    private static readonly MacAddress MacD = MacAddress.Parse("02:00:00:00:00:0d");

    private static FlowMatch Reg0Bit(bool set)
    {
        var k = Any;
        var m = k.RegisterMask;
        var v = k.RegisterValue;
        m.SetReg(0, 1);
        v.SetReg(0, set ? 1u : 0u);
        return new FlowMatch(k.Mask, k.Value, m, v);
    }

    /// <summary>learn(limit=2,result_dst=reg0[0]),resubmit(,1); table 1 sends reg0[0]=1 out of port 2 and 0 out of port 3.</summary>
    private static DatapathRig LimitedRig()
    {
        var r = new DatapathRig(4);
        r.Insert(0, Any, 10, [FlowAction.Learn(s_limited), FlowAction.Resubmit(1)]);
        r.Insert(1, Reg0Bit(true), 10, [FlowAction.Output(2)]);
        r.Insert(1, Reg0Bit(false), 10, [FlowAction.Output(3)]);
        using (var w = r.Dp.Pipeline.GetOrCreateStage(10, TableMissMode.Drop).Write()) w.WatchTag(5);
        return r;
    }

    /// <summary>What the layer above does for a learned flow: eth_dst=<paramref name="mac"/> at the learn's priority and tag.</summary>
    private static FlowEntry Learned(DatapathRig r, MacAddress mac, ulong tag = 5)
    {
        using var w = r.Dp.Pipeline.Stage(10)!.Write();
        var e = w.NewEntry(DlDst(mac), 7, FlowActions.Drop, 0, 0, r.Clock.NowNanos, tag: tag);
        w.Insert(e);
        return e;
    }

    /// <summary>
    /// Open vSwitch's learn limit and result bit: under the limit the learn posts and writes 1, which the resubmitted
    /// lookup sees; with the table holding the limit of flows of the learn's tag, a new source posts nothing and writes
    /// 0; a source whose flow is there is a refresh (posted, 1); a flow of another tag does not count; a flow that leaves
    /// makes room at the next packet (the cached verdict went stale with the table).
    /// </summary>
    [Fact]
    public void ALimitedLearn_LearnsUnderItsLimit_RefreshesWhatIsThere_AndWritesWhetherItLearned()
    {
        using var r = LimitedRig();
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Single(Requests(r));
        var a = Learned(r, MacA);
        Learned(r, MacB, tag: 6); // another cookie's flow: not counted
        Assert.True(r.Dp.Pipeline.Stage(10)!.TaggedCount(5, out int count));
        Assert.Equal(1, count);
        r.Send(1, Frame(MacC, MacB));
        Assert.Single(r.Sent(2));
        Assert.Single(Requests(r));
        Learned(r, MacC);

        // Two flows of tag 5: D learns nothing and takes table 1's reg0[0]=0 flow.
        r.Send(1, Frame(MacD, MacB), times: 3);
        Assert.Equal(3, r.Sent(3).Count);
        Assert.Empty(r.Sent(2));
        Assert.Empty(Requests(r));
        // A's flow is there: a refresh, not counted against the limit.
        r.Clock.AdvanceNanos(LearnState.RefreshNanos + 1);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Equal((UInt128)MacA.Value, Assert.Single(Requests(r)).Values[0]);

        // A's flow leaves: D learns at its next packet.
        using (var w = r.Dp.Pipeline.Stage(10)!.Write()) Assert.True(w.Remove(a));
        r.Send(1, Frame(MacD, MacB));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
        Assert.Equal((UInt128)MacD.Value, Assert.Single(Requests(r)).Values[0]);
    }

    /// <summary>
    /// The probe that tells a refresh from a new flow looks for the learned flow itself: a rule of higher priority over
    /// its key (here one matching everything) does not hide it, so a source whose flow is there still refreshes it at
    /// the limit.
    /// </summary>
    [Fact]
    public void ALimitedLearnsProbe_FindsItsFlowUnderAHigherPriorityRule()
    {
        using var r = LimitedRig();
        Learned(r, MacA);
        Learned(r, MacC);
        using (var w = r.Dp.Pipeline.Stage(10)!.Write()) w.Insert(w.NewEntry(Any, 100, FlowActions.Drop, 0, 0, r.Clock.NowNanos));
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
        Assert.Equal((UInt128)MacA.Value, Assert.Single(Requests(r)).Values[0]);
        r.Send(1, Frame(MacD, MacB)); // a new source at the limit still learns nothing
        Assert.Single(r.Sent(3));
        Assert.Empty(Requests(r));
    }

    /// <summary>A limited learn's cached verdict serves its packets without allocating, under the limit or over it.</summary>
    [Fact]
    public void ALimitedLearnsFastPath_AllocatesNothing()
    {
        using var r = LimitedRig();
        Learned(r, MacC);
        Learned(r, MacD);
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([Frame(MacA, MacB)], 0);
        UpcallHandler drain = static (in Upcall _) => { };
        long allocated = long.MaxValue, group = 0;
        for (int round = 0; round < 24; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(4);
            r.Dp.PollUntilIdle();
            r.Dp.DrainUpcalls(drain);
            if (round < 8) continue;
            group += GC.GetAllocatedBytesForCurrentThread() - before;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Equal(0, allocated);
        Assert.Equal(96, r.Port(3).Counters.TxPackets);
    }
}
