using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's fin_timeout: a TCP packet with FIN or RST through a rule that holds it lowers the rule's timeouts
/// (never raises them; 0 leaves one as it is) once the maintenance drains the forwarder's signal, and the rule then
/// expires by its new timeouts; other packets change nothing; the fast path allocates nothing.
/// </summary>
public sealed class FinTimeoutTests
{
    private static FlowEntry Insert(DatapathRig r, int table, ushort idle, ushort hard, FlowAction[] actions, FlowInstructions? ins = null)
    {
        var pipeline = r.Dp.Pipeline;
        var stage = table == 0 ? pipeline.Table(0) : pipeline.GetOrCreateStage(table, TableMissMode.Drop);
        pipeline.EnableStages();
        using var w = stage.Write();
        var e = new FlowEntry(Any, 10, new FlowActions(actions), idle, hard, r.Clock.NowNanos);
        if (ins is not null) w.SetInstructions(e, ins);
        w.Insert(e);
        return e;
    }

    private static byte[] Tcp(byte flags, ushort sport = 1000)
    {
        byte[] f = FrameBuilder.Tcp(MacA, MacB, IpA, IpB, sport, 80);
        f[14 + 20 + 13] = flags;
        return f;
    }

    [Fact]
    public void AFin_LowersTheRulesTimeouts_AndTheRuleThenExpires()
    {
        using var r = new DatapathRig(2);
        var e = Insert(r, 0, 60, 120, [FlowAction.FinTimeout(10, 20), FlowAction.Output(2)]);
        r.Send(1, Tcp(0x10)); // an ACK: nothing
        r.Dp.RunMaintenance();
        Assert.Equal((60, 120), (e.IdleTimeout, e.HardTimeout));
        Assert.Single(r.Sent(2));
        r.Send(1, Tcp(0x11)); // FIN|ACK
        Assert.Single(r.Sent(2));
        r.Dp.RunMaintenance();
        Assert.Equal((10, 20), (e.IdleTimeout, e.HardTimeout));
        Assert.Equal(1, r.Dp.Counters.Read(FinTimeoutCounters.Posted));
        r.Clock.Advance(TimeSpan.FromSeconds(11));
        r.Dp.RunMaintenance();
        Assert.True(e.IsRemoved);
        Assert.Equal(FlowRemovedReason.IdleTimeout, Assert.Single(r.Removed).Reason);
    }

    [Fact]
    public void ARst_LowersOnlyLongerTimeouts_HardCountedFromCreation_AndAResubmittedRuleIsTheOneLowered()
    {
        using var r = new DatapathRig(2);
        // Table 0 resubmits to table 1, whose rule holds the fin_timeout: that rule is lowered, not table 0's.
        var first = Insert(r, 0, 0, 0, [FlowAction.Resubmit(1)]);
        var e = Insert(r, 1, 5, 0, [FlowAction.FinTimeout(30, 40), FlowAction.Output(2)]);
        r.Clock.Advance(TimeSpan.FromSeconds(3));
        r.Send(1, Tcp(0x04)); // RST
        r.Dp.RunMaintenance();
        Assert.Equal((5, 40), (e.IdleTimeout, e.HardTimeout)); // the idle timeout was shorter: kept
        Assert.Equal((0, 0), (first.IdleTimeout, first.HardTimeout));
        // Kept busy, it still goes at 40 s after its creation (hard timeouts count from there, as Open vSwitch's).
        for (int t = 5; t < 40; t += 2)
        {
            r.Clock.Advance(TimeSpan.FromSeconds(2));
            r.Send(1, Tcp(0x10));
            r.Dp.RunMaintenance();
            Assert.False(e.IsRemoved, $"at {t} s");
        }
        r.Clock.Advance(TimeSpan.FromSeconds(2));
        r.Dp.RunMaintenance();
        Assert.True(e.IsRemoved);
        Assert.Equal(FlowRemovedReason.HardTimeout, Assert.Single(r.Removed).Reason);
        Assert.False(first.IsRemoved);
    }

    [Fact]
    public void ALoweredFlow_ExpiresOnce_WhenBothItsTimerReferencesComeDueTogether()
    {
        using var r = new DatapathRig(2);
        var e = Insert(r, 0, 60, 0, [FlowAction.FinTimeout(10, 0), FlowAction.Output(2)]);
        r.Send(1, Tcp(0x01)); // FIN
        r.Dp.RunMaintenance();
        Assert.Equal(10, e.IdleTimeout);
        var table = r.Dp.Pipeline.Table(0);
        Assert.Equal(2, table.TimerTracked); // filed again under 10 s; the 60 s reference stays, stale in advance
        r.Clock.Advance(TimeSpan.FromSeconds(70)); // both references due in one pass
        var removed = new List<FlowRemoved>();
        Assert.Equal(1, table.Expire(removed));
        Assert.Same(e, Assert.Single(removed).Entry);
        Assert.Equal(0, table.TimerTracked);
    }

    [Fact]
    public void ReduceTimeouts_IsOpenVswitchsReduceTimeout()
    {
        Assert.Equal(10, FlowTable.Reduced(0, 10));   // none: set
        Assert.Equal(10, FlowTable.Reduced(60, 10));  // longer: lowered
        Assert.Equal(5, FlowTable.Reduced(5, 10));    // shorter: kept
        Assert.Equal(60, FlowTable.Reduced(60, 0));   // 0: untouched
    }

    [Fact]
    public void AFinTimeoutFlowsFastPath_AllocatesNothing_FinsIncluded()
    {
        using var r = new DatapathRig(2);
        Insert(r, 0, 0, 0, [FlowAction.FinTimeout(10, 0), FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        r.Port(1).SetGenerator([.. Enumerable.Range(0, 8).Select(i => Tcp((byte)(i == 3 ? 0x11 : 0x10), (ushort)(1000 + i)))], 0);
        void Round()
        {
            for (int i = 0; i < 8; i++)
            {
                r.Port(1).SetGeneratorCount(8);
                r.Dp.PollUntilIdle();
            }
        }
        Round(); // warm: the verdicts made, the ring's first signal posted
        Assert.Equal(0, AllocationMeter.SteadyState(Round, 8));
        Assert.Equal(128, r.Port(2).Counters.TxPackets);
    }
}
