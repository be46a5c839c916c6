using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Offload;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests.Offload;

/// <summary>
/// An attachment that syncs on requests (the XDP target's): a barrier returns only once the target holds the flow-mods
/// before it, however slow the device, and a statistics request includes what the target counted since the last poll.
/// </summary>
public sealed class OffloadBarrierTests : IDisposable
{
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly OfSwitch _sw;
    private readonly DummyOffloadTarget _target = new([1, 2], OffloadLookupModel.ExactFirst);
    private readonly OffloadAttachment _offload;
    private readonly Reports _reports = new();

    private sealed class Reports : IOfReports
    {
        public readonly List<OfFlowRemoved> Removed = new();
        public void PacketIn(in OfPacketIn packet) { }
        public void FlowRemoved(in OfFlowRemoved removed) { lock (Removed) Removed.Add(removed); }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    public OffloadBarrierTests()
    {
        _dp.AddPort(new MemoryPort("b1", new MacAddress(0x0200_0000_0001)), 1);
        _dp.AddPort(new MemoryPort("b2", new MacAddress(0x0200_0000_0002)), 2);
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 9 });
        _target.BeforeWrite = _ => Thread.Sleep(200);   // a slow device
        _offload = OffloadAttachment.Attach(_dp, _target, syncOnRequests: true);
        _sw.Start(_reports);
    }

    public void Dispose()
    {
        _offload.Dispose();
        _sw.Dispose();
        _dp.Dispose();
    }

    private static FlowMatch Exact()
    {
        var b = new FlowKeyBuilder();
        b.InPort(1);
        b.DlVlan(0xFFFF);
        b.DlType(0x0800);
        b.NwProto(17);
        b.NwSrc(0x0A000001);
        b.NwDst(0x0A000002);
        return FlowMatch.Exact(b.Key);
    }

    [Fact]
    public void TheBarrier_ReturnsOnceTheTargetHoldsTheFlowModsBeforeIt()
    {
        var m = Exact();
        Assert.Equal(FlowModStatus.Ok, _sw.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 100, new FlowActions([FlowAction.Output(2)])), null, out var e));
        _sw.Barrier();
        Assert.True(_target.Holds(e!));

        // Counted by the target, not yet polled: the next statistics request has them.
        for (int i = 0; i < 7; i++) _target.Forward(m.Value, 100);
        var agg = _sw.Totals(new FlowStatsRequest(OfMatch.Any));
        Assert.Equal((7UL, 700UL), (agg.PacketCount, agg.ByteCount));

        Assert.Equal(FlowModStatus.Ok, _sw.Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, 100, FlowActions.Drop), null));
        _sw.Barrier();
        Assert.False(_target.Holds(e!));
        Assert.Null(_target.Lookup(m.Value));
        Assert.Equal(0, _offload.BarrierTimeouts);
    }

    [Fact]
    public void APortModBeforeABarrier_IsInForceInTheTargetWhenTheBarrierReturns()
    {
        var m = Exact();
        Assert.Equal(FlowModStatus.Ok, _sw.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 100, new FlowActions([FlowAction.Output(2)])), null, out var e));
        _sw.Barrier();
        Assert.True(_target.Holds(e!));

        // NO_FWD on the output port: software no longer sends there, so neither may the target once the barrier returns
        // (before, the flow stayed in the target until the next maintenance step).
        Assert.Equal(OfError.None, _sw.PortMod(new PortModRequest(2, 0x0200_0000_0002, OfPortConfig.NoFwd, OfPortConfig.NoFwd)));
        _sw.Barrier();
        Assert.False(_target.Holds(e!));
        Assert.True(_offload.Manager.TryGetPlacement(e!, out var p));
        Assert.Equal(OffloadReason.DatapathState, p.Reason);

        Assert.Equal(OfError.None, _sw.PortMod(new PortModRequest(2, 0x0200_0000_0002, OfPortConfig.None, OfPortConfig.NoFwd)));
        _sw.Barrier();
        Assert.True(_target.Holds(e!));
        Assert.Equal(0, _offload.BarrierTimeouts);
    }

    /// <summary>Adds <see cref="Exact"/> through the switch (asking for a FLOW_REMOVED) and waits until the target holds it.</summary>
    private FlowEntry AddReported(ushort idle = 0, ushort hard = 0)
    {
        var req = new FlowModRequest(FlowModCommand.Add, OfMatchCompiler.ToOfMatch(Exact()), 100, OfInstructions.Apply(new[] { OfAction.Output(2) }),
                                     IdleTimeout: idle, HardTimeout: hard, Flags: FlowModFlags.SendFlowRemoved, Rules: MatchRules.AsGiven);
        Assert.Equal(OfError.None, _sw.FlowMod(req));
        _sw.Barrier();
        var e = _target.Lookup(Exact().Value);
        Assert.NotNull(e);
        return e;
    }

    private OfFlowRemoved SingleRemoved()
    {
        lock (_reports.Removed) return Assert.Single(_reports.Removed);
    }

    [Fact]
    public void AFlowRemovedAfterADelete_CarriesWhatTheTargetForwardedSinceItsLastPoll()
    {
        AddReported();
        for (int i = 0; i < 7; i++) _target.Forward(Exact().Value, 100);

        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.DeleteStrict, OfMatchCompiler.ToOfMatch(Exact()), 100, default)));
        var r = SingleRemoved();
        Assert.Equal(OfFlowRemovedReason.Delete, r.Reason);
        Assert.Equal((7UL, 700UL), (r.PacketCount, r.ByteCount));
    }

    [Fact]
    public void ADeleteInARunOfFlowMods_ReportsTheFinalCountsToo()
    {
        AddReported();
        for (int i = 0; i < 4; i++) _target.Forward(Exact().Value, 60);
        _sw.BeginFlowModRun();
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatchCompiler.ToOfMatch(Exact()), 0, default)));
        _sw.EndFlowModRun();
        Assert.Equal((4UL, 240UL), (SingleRemoved().PacketCount, SingleRemoved().ByteCount));
    }

    [Fact]
    public void IdleTimeouts_SeeWhatTheTargetForwarded()
    {
        var clock = (ManualClock)_dp.Clock;
        var e = AddReported(idle: 5);
        for (int s = 0; s < 4; s++)
        {
            _target.Forward(Exact().Value, 100);
            clock.Advance(TimeSpan.FromSeconds(3));
            _dp.RunMaintenance();       // reads the target's counts first: the flow was used, it stays
            Assert.False(e.IsRemoved);
        }
        clock.Advance(TimeSpan.FromSeconds(6));
        _dp.RunMaintenance();
        Assert.True(e.IsRemoved);
        var r = SingleRemoved();
        Assert.Equal(OfFlowRemovedReason.IdleTimeout, r.Reason);
        Assert.Equal(4UL, r.PacketCount);
    }

    /// <summary>A hard timeout's report includes what the target forwarded between the maintenance read and the flow's removal from it.</summary>
    [Fact]
    public void AnExpiredFlowsReport_IncludesWhatTheTargetForwardedUntilItWasTakenOut()
    {
        var clock = (ManualClock)_dp.Clock;
        var e = AddReported(hard: 10);
        for (int i = 0; i < 3; i++) _target.Forward(Exact().Value, 100);
        // Two more while the flow is still in the device, after the maintenance step read it.
        _target.BeforeWrite = f =>
        {
            if (ReferenceEquals(f, e))
                for (int i = 0; i < 2; i++) _target.Forward(Exact().Value, 100);
        };
        clock.Advance(TimeSpan.FromSeconds(11));
        _dp.RunMaintenance();
        var r = SingleRemoved();
        Assert.Equal(OfFlowRemovedReason.HardTimeout, r.Reason);
        Assert.Equal((5UL, 500UL), (r.PacketCount, r.ByteCount));
    }
}
