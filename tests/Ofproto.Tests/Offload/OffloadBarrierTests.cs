using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Offload;

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

    public OffloadBarrierTests()
    {
        _dp.AddPort(new MemoryPort("b1", new MacAddress(0x0200_0000_0001)), 1);
        _dp.AddPort(new MemoryPort("b2", new MacAddress(0x0200_0000_0002)), 2);
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 9 });
        _target.BeforeWrite = _ => Thread.Sleep(200);   // a slow device
        _offload = OffloadAttachment.Attach(_dp, _target, syncOnRequests: true);
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
        var agg = _sw.Aggregate(new FlowStatsRequest(OfMatch.Any));
        Assert.Equal((7UL, 700UL), (agg.PacketCount, agg.ByteCount));

        Assert.Equal(FlowModStatus.Ok, _sw.Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, 100, FlowActions.Drop), null));
        _sw.Barrier();
        Assert.False(_target.Holds(e!));
        Assert.Null(_target.Lookup(m.Value));
        Assert.Equal(0, _offload.BarrierTimeouts);
    }
}
