using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// The flow-removed reports of flow-mods applied in a run (<see cref="OfSwitch.BeginFlowModRun"/>): sent once the run
/// has published the removal, with the counts of every packet the flow forwarded until then.
/// </summary>
public sealed class FlowModRunReportTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[3];
    private readonly OfSwitch _sw;
    private readonly Reports _reports = new();

    private sealed class Reports : IOfReports
    {
        public readonly List<OfFlowRemoved> Removed = new();
        public void PacketIn(in OfPacketIn packet) { }
        public void FlowRemoved(in OfFlowRemoved removed) { lock (Removed) Removed.Add(removed); }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    /// <summary>What the datapath's listeners are told before a removal is reported (an offload target's cue to read its last counts).</summary>
    private sealed class Removing : IDatapathEvents
    {
        public readonly List<FlowEntry> Entries = new();
        public void OnFlowsRemoving(ReadOnlySpan<FlowRemoved> removed)
        {
            lock (Entries)
                foreach (var r in removed) Entries.Add(r.Entry);
        }
    }

    private readonly Removing _removing = new();

    public FlowModRunReportTests()
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"m{i + 1}", new MacAddress(0x0200_0000_0010UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 7 });
        _sw.Start(_reports);
        _sw.SetControllerConnected(true);
        _dp.Subscribe(_removing);
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private void Send(int n)
    {
        for (int i = 0; i < n; i++) _ports[0].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2));
        _dp.PollUntilIdle();
    }

    private int SentOn(int port) => _ports[port].TakeSent().Count;

    private static FlowModRequest Add13(byte table, in OfMatch m, OfInstructions ins, FlowModFlags flags = FlowModFlags.None)
        => new(FlowModCommand.Add, m, 5, ins, TableId: table, Flags: flags, Rules: MatchRules.OpenFlow13);

    /// <summary>A listener that, told of a removal, sees whether another thread can set the fail mode meanwhile.</summary>
    private sealed class FailModeProbe(OfSwitch sw) : IDatapathEvents
    {
        public int Calls;
        public bool FailModeLockFree = true;

        public void OnFlowsRemoving(ReadOnlySpan<FlowRemoved> removed)
        {
            Calls++;
            // An offload target waits here for its last counts: no fail-mode lock may be held meanwhile.
            var other = new Thread(() => sw.SetControllerConnected(false)) { IsBackground = true };
            other.Start();
            FailModeLockFree &= other.Join(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void EnteringEmergencyMode_ReportsTheDeletedFlowsHoldingNoFailModeLock()
    {
        var m = new OfMatch().EthDst(Dst.Value);
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, m, 5, OfInstructions.Apply(new[] { OfAction.Output(2) }),
                                                                  Flags: FlowModFlags.SendFlowRemoved)));
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(1) }),
                                                                  Flags: FlowModFlags.Emergency)));
        var probe = new FailModeProbe(_sw);
        _dp.Subscribe(probe);
        _sw.SetControllerConnected(false);   // secure: the emergency flows take over, the normal flow is deleted
        Assert.True(_sw.Flows.UseEmergencyTable);
        Assert.Equal(1, probe.Calls);
        Assert.True(probe.FailModeLockFree, "the removal was reported under the switch's fail-mode lock");
        Assert.Single(_reports.Removed);
    }

    [Fact]
    public void ADeleteInARunIsReportedAfterTheRunPublishesItWithEveryPacketItForwarded()
    {
        // Two tables: the packets' verdicts span both, cached by the forwarder.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 1))));
        var flow = new OfMatch().EthDst(Dst.Value);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, flow, OfInstructions.Apply(new[] { OfAction.Output(2) }), FlowModFlags.SendFlowRemoved)));
        Send(3);
        Assert.Equal(3, SentOn(1));

        _sw.BeginFlowModRun();
        try
        {
            var delete = new FlowModRequest(FlowModCommand.DeleteStrict, flow, 5, default, TableId: 1, Rules: MatchRules.OpenFlow13);
            Assert.Equal(OfError.None, _sw.FlowMod(delete));
            // Not yet in effect: packets still go by the flow, and no report says it is gone.
            Send(2);
            lock (_reports.Removed) Assert.Empty(_reports.Removed);
        }
        finally
        {
            _sw.EndFlowModRun();
        }
        int forwardedInRun = SentOn(1);
        var r = Assert.Single(_reports.Removed);
        Assert.Equal(OfFlowRemovedReason.Delete, r.Reason);
        Assert.Equal((ulong)(3 + forwardedInRun), r.PacketCount);
        // Published: the next packets find no flow in table 1.
        Send(2);
        Assert.Equal(0, SentOn(1));
    }

    public static TheoryData<string> Deletions => new() { "group", "meter" };

    /// <summary>
    /// A group's or a meter's deletion on a thread in a run: the run's tables are published first, the flows it takes
    /// with it are reported after their removal is in effect, with every packet they forwarded, and the datapath's
    /// listeners are told before the report.
    /// </summary>
    [Theory]
    [MemberData(nameof(Deletions))]
    public void AGroupOrMeterDeletion_ReportsItsFlowsOnceTheirRemovalIsInEffect(string what)
    {
        bool group = what == "group";
        if (group)
        {
            var bucket = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(2) });
            Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 1, [bucket])));
        }
        else
        {
            Assert.Equal(OfError.None, _sw.MeterMod(new MeterModRequest(MeterModCommand.Add, OfMeterFlags.Pktps | OfMeterFlags.Burst, 1, [new OfMeterBand(OfMeterBandType.Drop, 1000, 1000)])));
        }
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 1))));
        var flow = new OfMatch().EthDst(Dst.Value);
        var ins = group ? OfInstructions.Apply(new[] { OfAction.Group(1) })
                        : new OfInstructions(new[] { OfAction.Output(2) }, Meter: 1);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, flow, ins, FlowModFlags.SendFlowRemoved)));
        var entries = new List<FlowEntry>();
        _sw.Flows.Collect(FlowMatch.All, PortNumber.None, false, entries, false, 1);
        var entry = Assert.Single(entries);
        Send(3);
        Assert.Equal(3, SentOn(1));

        _sw.BeginFlowModRun();
        try
        {
            // The run holds table 1 (another flow added to it), then the deletion comes on the same thread.
            Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, new OfMatch().EthDst(Src.Value), OfInstructions.Apply(new[] { OfAction.Output(3) }))));
            var delete = group ? _sw.GroupMod(new GroupModRequest(GroupModCommand.Delete, OfGroupType.All, 1, []))
                               : _sw.MeterMod(new MeterModRequest(MeterModCommand.Delete, OfMeterFlags.None, 1, []));
            Assert.Equal(OfError.None, delete);
            Send(2);
        }
        finally
        {
            _sw.EndFlowModRun();
        }
        Assert.Equal(0, SentOn(1));
        var r = Assert.Single(_reports.Removed);
        Assert.Equal(group ? OfFlowRemovedReason.GroupDelete : OfFlowRemovedReason.MeterDelete, r.Reason);
        Assert.Equal(3UL, r.PacketCount);
        Assert.Equal(3, entry.Packets);
        lock (_removing.Entries) Assert.Contains(entry, _removing.Entries);
    }

    /// <summary>
    /// A removal's report waits for a forwarding thread still inside the round in which it found the flow: the burst
    /// it credits to the flow after the removal was published is in the FLOW_REMOVED.
    /// </summary>
    [Fact]
    public void ARemovalsReport_CountsTheBurstOfAForwarderStillInsideItsRound()
    {
        var flow = new OfMatch().EthDst(Dst.Value);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, flow, OfInstructions.Apply(new[] { OfAction.Output(2) }), FlowModFlags.SendFlowRemoved)));
        var entries = new List<FlowEntry>();
        _sw.Flows.Collect(FlowMatch.All, PortNumber.None, false, entries, false, 0);
        var entry = Assert.Single(entries);

        // A forwarding thread in a round: it found the flow, and credits its burst once the removal is being reported.
        var reader = _sw.Flows.Reclamation.Register();
        using var inRound = new ManualResetEventSlim();
        var forwarder = new Thread(() =>
        {
            reader.Quiesce();
            inRound.Set();
            while (true)
            {
                lock (_removing.Entries)
                    if (_removing.Entries.Contains(entry)) break;
                Thread.Yield();
            }
            entry.Hit(4, 240, 0);
            reader.Quiesce();
        });
        forwarder.Start();
        inRound.Wait();
        try
        {
            Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.DeleteStrict, flow, 5, default, TableId: 0, Rules: MatchRules.OpenFlow13)));
        }
        finally
        {
            forwarder.Join();
            _sw.Flows.Reclamation.Unregister(reader);
        }
        var r = Assert.Single(_reports.Removed);
        Assert.Equal((4UL, 240UL), (r.PacketCount, r.ByteCount));
    }
}
