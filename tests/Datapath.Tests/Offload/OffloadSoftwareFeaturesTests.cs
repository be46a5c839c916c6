using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Qos;

namespace Softswitch.Datapath.Tests.Offload;

/// <summary>
/// The datapath's per-port and per-packet software features (a port's shaper, sFlow sampling, a live capture) are
/// done by the target or keep the flows they apply to in software under their own reason, followed as they come and go.
/// </summary>
public sealed class OffloadSoftwareFeaturesTests : IDisposable
{
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
    }

    /// <summary>A datapath of ports 1 and 2 under a manager without a worker (the test drains it).</summary>
    private (SwitchDatapath Dp, DummyOffloadTarget Target, OffloadManager Manager) Rig(int samplingRate = 0, OffloadFeatures features = OffloadFeatures.None)
    {
        var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, SamplingRate = samplingRate }, new ManualClock());
        _owned.Add(dp);
        dp.AddPort(new MemoryPort("f1", new MacAddress(0x0200_0000_0001)), 1);
        dp.AddPort(new MemoryPort("f2", new MacAddress(0x0200_0000_0002)), 2);
        var target = new DummyOffloadTarget([1, 2], OffloadLookupModel.ExactFirst) { Features = features };
        var manager = new OffloadManager(dp, target);
        _owned.Add(manager);
        manager.Attach(startWorker: false);
        return (dp, target, manager);
    }

    /// <summary>An exact UDP flow from port 1 out of port <paramref name="output"/>, placed.</summary>
    private static FlowEntry Add(SwitchDatapath dp, OffloadManager manager, ushort output)
    {
        var b = new FlowKeyBuilder();
        b.InPort(1);
        b.DlVlan(0xFFFF);
        b.DlType(0x0800);
        b.NwProto(17);
        b.NwSrc(0x0A000001);
        b.NwDst(0x0A000002);
        var e = new FlowEntry(FlowMatch.Exact(b.Key), 100, new FlowActions([FlowAction.Output(output)]), 0, 0, 0);
        using (var w = dp.Pipeline.Table(0).Write()) w.Insert(e);
        manager.ProcessPending();
        return e;
    }

    private static OffloadReason ReasonOf(OffloadManager m, FlowEntry e)
    {
        Assert.True(m.TryGetPlacement(e, out var p));
        return p.Reason;
    }

    private static PortShaper Shaper(SwitchDatapath dp) => new(10_000_000, [new ShapedQueue(0, 0, 0, 100)], dp.Clock.NowNanos);

    [Fact]
    public void AnOutputToAShapedPort_StaysInSoftwareWhileTheShaperIsThere()
    {
        var (dp, target, manager) = Rig();
        var toShaped = Add(dp, manager, 2);
        Assert.True(target.Holds(toShaped));

        // Shaped: what the target sent would skip the port's queues and rates (it stayed in the target before).
        Assert.True(dp.SetShaping(2, Shaper(dp)));
        manager.Poll();
        Assert.False(target.Holds(toShaped));
        Assert.Equal(OffloadReason.PortShaped, ReasonOf(manager, toShaped));
        Assert.Equal(1, manager.Stats.SoftwareReasons[OffloadReason.PortShaped]);

        Assert.True(dp.SetShaping(2, null));
        manager.Poll();
        Assert.True(target.Holds(toShaped));
    }

    [Fact]
    public void ConjunctiveClauses_KeepTheTableInSoftwareWhileTheyAreThere()
    {
        var (dp, target, manager) = Rig();
        var e = Add(dp, manager, 2);
        Assert.True(target.Holds(e));
        var clauseMatch = new FlowMatch(new FlowKeyBuilder().DlType(0xFFFF).NwSrc(~0u).Key, new FlowKeyBuilder().DlType(0x0800).NwSrc(0x0A000001).Key);
        var clause = new FlowEntry(clauseMatch, 200, new FlowActions([FlowAction.Conjunction(1, 0, 2)]), 0, 0, 0);
        using (var w = dp.Pipeline.Table(0).Write()) w.Insert(clause);
        manager.ProcessPending();
        manager.Poll();
        // A conjunction of higher priority may take the exact flow's packets: the whole table is the software's.
        Assert.False(target.Holds(e));
        Assert.False(target.Holds(clause));
        Assert.Equal(OffloadReason.Instructions, ReasonOf(manager, clause));
        using (var w = dp.Pipeline.Table(0).Write()) w.Remove(clause);
        manager.ProcessPending();
        manager.Poll();
        Assert.True(target.Holds(e));
    }

    [Fact]
    public void ALiveCapture_KeepsEveryFlowInSoftwareWhileItRuns()
    {
        var (dp, target, manager) = Rig();
        var e = Add(dp, manager, 2);
        Assert.True(target.Holds(e));
        dp.Tap = new NoTap();
        manager.Poll();
        Assert.False(target.Holds(e));
        Assert.Equal(OffloadReason.Capture, ReasonOf(manager, e));
        dp.Tap = null;
        manager.Poll();
        Assert.True(target.Holds(e));
    }

    [Fact]
    public void SflowSampling_KeepsTheFlowsInSoftware()
    {
        var (dp, target, manager) = Rig(samplingRate: 100);
        var e = Add(dp, manager, 2);
        Assert.False(target.Holds(e));
        Assert.Equal(OffloadReason.Sampling, ReasonOf(manager, e));
    }

    /// <summary>IPFIX's sampling channel keeps flows in software as sFlow's does, while it is set.</summary>
    [Fact]
    public void IpfixSampling_KeepsTheFlowsInSoftwareWhileItIsSet()
    {
        var (dp, target, manager) = Rig();
        var e = Add(dp, manager, 2);
        Assert.True(target.Holds(e));
        dp.SetSamplingRate(SampleChannel.Ipfix, 64);
        manager.Poll();
        Assert.False(target.Holds(e));
        Assert.Equal(OffloadReason.Sampling, ReasonOf(manager, e));
        dp.SetSamplingRate(SampleChannel.Ipfix, 0);
        manager.Poll();
        Assert.True(target.Holds(e));
    }

    [Fact]
    public void APortMirror_KeepsTheFlowsInSoftwareWhileItIsSet()
    {
        var (dp, target, manager) = Rig();
        dp.AddPort(new MemoryPort("f3", new MacAddress(0x0200_0000_0003)), 3);
        var e = Add(dp, manager, 2);
        Assert.True(target.Holds(e));
        // The target's packets would not be copied to the mirror's port.
        dp.SetMirrors([new Mirror("m", [1], [], null, 3)]);
        manager.Poll();
        Assert.False(target.Holds(e));
        Assert.Equal(OffloadReason.Mirrored, ReasonOf(manager, e));
        dp.SetMirrors(null);
        manager.Poll();
        Assert.True(target.Holds(e));
    }

    [Fact]
    public void ATargetThatDoesTheFeatures_HoldsTheFlows()
    {
        var (dp, target, manager) = Rig(samplingRate: 100, features: OffloadFeatures.Shaping | OffloadFeatures.Sampling | OffloadFeatures.Capture | OffloadFeatures.Mirroring);
        Assert.True(dp.SetShaping(2, Shaper(dp)));
        dp.Tap = new NoTap();
        var e = Add(dp, manager, 2);
        manager.Poll();
        Assert.True(target.Holds(e));
    }

    private sealed class NoTap : PacketTap
    {
        public override void Received(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts) { }
        public override void Parsed(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts, ReadOnlySpan<FlowKey> keys) { }
        public override void Sent(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts) { }
    }
}
