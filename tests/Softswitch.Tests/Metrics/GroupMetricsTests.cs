using System.Diagnostics.Metrics;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Metrics;
using Softswitch.OfAgent;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Metrics;

/// <summary>The groups', meters' and queues' counters as the metrics endpoint exports them: per group and bucket, meter and band, port and queue.</summary>
public sealed class GroupMetricsTests
{
    [Fact]
    public void QueueCountersAreExported()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
        var ports = Enumerable.Range(1, 2).Select(i => new MemoryPort($"q{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i)) { CaptureSent = true }).ToArray();
        foreach (var p in ports) dp.AddPort(p);
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions());
        var qos = new QosConfig(dp);
        Assert.True(qos.TryApply("q2:3 max-rate=1G", out var error), error);
        Assert.Equal(OfError.None, agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 1,
            OfInstructions.Apply(new[] { OfAction.Enqueue(2, 5) }))));
        var frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 1, 2, 3, 4);
        for (int i = 0; i < 3; i++) ports[0].Inject(frame);
        dp.PollUntilIdle();
        // Queue 5 is not configured: its packets wait in queue 0, which the qos thread sends.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref dp.Ports.Get(2)!.Queues[0].TxPackets) < 3 && DateTime.UtcNow < deadline) Thread.Sleep(10);

        using var metrics = new SwitchMetrics(dp, agent, null);
        var seen = Observe(metrics, "softswitch_queue");
        Assert.Equal(3, seen["softswitch_queue_tx_packets{port=q2,queue=0}"]);
        Assert.Equal(3L * frame.Length, seen["softswitch_queue_tx_bytes{port=q2,queue=0}"]);
        Assert.Equal(0, seen["softswitch_queue_tx_packets{port=q2,queue=3}"]); // configured: shown though idle
        Assert.Equal(0, seen["softswitch_queue_backlog{port=q2,queue=3}"]);
        Assert.False(seen.ContainsKey("softswitch_queue_tx_packets{port=q1,queue=0}"));
    }

    /// <summary>Every measurement of the instruments named <paramref name="prefix"/>..., as <c>name{label=value,...}</c>.</summary>
    private static Dictionary<string, long> Observe(SwitchMetrics metrics, string prefix)
    {
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (ReferenceEquals(i.Meter, metrics.Meter)) l.EnableMeasurementEvents(i);
        };
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) =>
        {
            if (!i.Name.StartsWith(prefix, StringComparison.Ordinal)) return;
            var labels = string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"));
            seen[$"{i.Name}{{{labels}}}"] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }

    [Fact]
    public void GroupAndBucketCountersAreExported()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
        var ports = Enumerable.Range(1, 3).Select(i => new MemoryPort($"p{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i)) { CaptureSent = true }).ToArray();
        foreach (var p in ports) dp.AddPort(p);
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions());
        var sw = agent.Switch;
        OfBucket Out(uint port) => new(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(port) });
        Assert.Equal(OfError.None, sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 9, [Out(2), Out(3)])));
        Assert.Equal(OfError.None, sw.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 1,
            OfInstructions.Apply(new[] { OfAction.Group(9) }), Rules: MatchRules.OpenFlow13)));
        var frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 1, 2, 3, 4);
        for (int i = 0; i < 5; i++) ports[0].Inject(frame);
        dp.PollUntilIdle();

        using var metrics = new SwitchMetrics(dp, agent, null);
        var seen = Observe(metrics, "softswitch_group");

        Assert.Equal(1, seen["softswitch_groups{}"]);
        Assert.Equal(5, seen["softswitch_group_packets{group=9}"]);
        Assert.Equal(5L * frame.Length, seen["softswitch_group_bytes{group=9}"]);
        Assert.Equal(5, seen["softswitch_group_bucket_packets{group=9,bucket=0}"]);
        Assert.Equal(5, seen["softswitch_group_bucket_packets{group=9,bucket=1}"]);
        Assert.Equal(5L * frame.Length, seen["softswitch_group_bucket_bytes{group=9,bucket=1}"]);
    }

    [Fact]
    public void MeterAndBandCountersAreExported()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
        var ports = Enumerable.Range(1, 2).Select(i => new MemoryPort($"p{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i)) { CaptureSent = true }).ToArray();
        foreach (var p in ports) dp.AddPort(p);
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions());
        var sw = agent.Switch;
        Assert.Equal(OfError.None, sw.MeterMod(new MeterModRequest(MeterModCommand.Add, OfMeterFlags.Pktps | OfMeterFlags.Burst, 4,
            [new OfMeterBand(OfMeterBandType.Drop, 10, 2)])));
        Assert.Equal(OfError.None, sw.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 1,
            new OfInstructions(new[] { OfAction.Output(2) }, Meter: 4), Rules: MatchRules.OpenFlow13)));
        var frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 1, 2, 3, 4);
        for (int i = 0; i < 5; i++) ports[0].Inject(frame);
        dp.PollUntilIdle();
        Assert.Equal(2, ports[1].TakeSent().Count);

        using var metrics = new SwitchMetrics(dp, agent, null);
        var seen = Observe(metrics, "softswitch_meter");

        Assert.Equal(1, seen["softswitch_meters{}"]);
        Assert.Equal(5, seen["softswitch_meter_packets{meter=4}"]);
        Assert.Equal(5L * frame.Length, seen["softswitch_meter_bytes{meter=4}"]);
        Assert.Equal(3, seen["softswitch_meter_band_packets{meter=4,band=0}"]);
        Assert.Equal(3L * frame.Length, seen["softswitch_meter_band_bytes{meter=4,band=0}"]);
    }
}
