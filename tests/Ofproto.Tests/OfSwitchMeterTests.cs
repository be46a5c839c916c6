using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// Meter-mods through <see cref="OfSwitch"/>: every rule and its error, flows naming meters, the flows a meter's deletion
/// deletes (reported METER_DELETE), configurations read back as given, statistics with flow counts and band counters.
/// </summary>
public sealed class OfSwitchMeterTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private readonly ManualClock _clock = new();
    private readonly SwitchDatapath _dp;
    private readonly MemoryPort[] _ports = new MemoryPort[2];
    private readonly OfSwitch _sw;
    private readonly Reports _reports = new();

    private sealed class Reports : IOfReports
    {
        public readonly List<OfFlowRemoved> Removed = [];
        public void PacketIn(in OfPacketIn packet) { }
        public void FlowRemoved(in OfFlowRemoved removed)
        {
            lock (Removed) Removed.Add(removed);
        }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    public OfSwitchMeterTests()
    {
        _dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, _clock);
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"m{i + 1}", new MacAddress(0x0200_0000_0010UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 7 });
        _sw.Start(_reports);
        _sw.SetControllerConnected(true);
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private static readonly OfMeterBand Drop10 = new(OfMeterBandType.Drop, 10, 0);

    private static MeterModRequest Add(uint id, OfMeterFlags flags, params OfMeterBand[] bands) => new(MeterModCommand.Add, flags, id, bands);

    private static FlowModRequest Flow(ushort tpDst, uint meter)
        => new(FlowModCommand.Add, new OfMatch().EthType(0x0800).NwProto(17).TpDst(tpDst), 10,
               new OfInstructions(new[] { OfAction.Output(2) }, Meter: meter), Flags: FlowModFlags.SendFlowRemoved, Rules: MatchRules.OpenFlow13);

    private int Send(ushort tpDst, int count)
    {
        for (int i = 0; i < count; i++) _ports[0].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, tpDst));
        _dp.PollUntilIdle();
        return _ports[1].TakeSent().Count;
    }

    [Fact]
    public void MeterRulesAnswerWithTheSpecErrors()
    {
        Assert.Equal(OfError.InvalidMeter, _sw.MeterMod(Add(0, OfMeterFlags.Kbps, Drop10)));
        Assert.Equal(OfError.InvalidMeter, _sw.MeterMod(Add(MeterModRequest.MaxId + 1, OfMeterFlags.Kbps, Drop10)));
        Assert.Equal(OfError.InvalidMeter, _sw.MeterMod(Add(MeterModRequest.All, OfMeterFlags.Kbps, Drop10)));
        Assert.Equal(OfError.InvalidMeter, _sw.MeterMod(Add(MeterModRequest.Slowpath, OfMeterFlags.Kbps, Drop10)));
        Assert.Equal(OfError.BadMeterFlags, _sw.MeterMod(Add(1, OfMeterFlags.Kbps | OfMeterFlags.Pktps, Drop10)));
        Assert.Equal(OfError.BadMeterFlags, _sw.MeterMod(Add(1, OfMeterFlags.Unrecognised, Drop10)));
        Assert.Equal(OfError.BadMeterBand, _sw.MeterMod(Add(1, OfMeterFlags.Kbps, new OfMeterBand(OfMeterBandType.Experimenter, 10, 0))));
        Assert.Equal(OfError.BadMeterBand, _sw.MeterMod(Add(1, OfMeterFlags.Kbps, new OfMeterBand(OfMeterBandType.Experimenter, 10, 0))));
        Assert.Equal(OfError.BadMeterRate, _sw.MeterMod(Add(1, OfMeterFlags.Kbps, Drop10 with { Rate = 0 })));
        Assert.Equal(OfError.OutOfBands, _sw.MeterMod(Add(1, OfMeterFlags.Kbps, Enumerable.Repeat(Drop10, 9).ToArray())));
        Assert.Equal(OfError.UnknownMeter, _sw.MeterMod(new MeterModRequest(MeterModCommand.Modify, OfMeterFlags.Kbps, 1, [Drop10])));
        Assert.Equal(OfError.BadMeterCommand, _sw.MeterMod(new MeterModRequest((MeterModCommand)3, OfMeterFlags.Kbps, 1, [Drop10])));
        Assert.Equal(OfError.UnknownMeter, _sw.FlowMod(Flow(1, 1)));
        Assert.Equal(OfError.InvalidMeter, _sw.FlowMod(Flow(1, MeterModRequest.Controller)));

        Assert.Equal(OfError.None, _sw.MeterMod(Add(1, OfMeterFlags.None, Drop10))); // neither unit: kbps
        Assert.Equal(OfError.MeterExists, _sw.MeterMod(Add(1, OfMeterFlags.Kbps, Drop10)));
        Assert.Equal(OfError.None, _sw.MeterMod(Add(2, OfMeterFlags.Pktps)));           // no band: measures and counts only
        Assert.Equal(OfError.None, _sw.MeterMod(Add(MeterModRequest.Controller, OfMeterFlags.Pktps, Drop10)));
        Assert.Equal(OfError.None, _sw.MeterMod(new MeterModRequest(MeterModCommand.Delete, OfMeterFlags.None, 77, []))); // nothing to delete: no error
        var slave = _sw.Roles.Join();
        _sw.Roles.Request(slave, OfRole.Slave, 0);
        Assert.Equal(OfError.IsSlave, _sw.MeterMod(Add(3, OfMeterFlags.Kbps, Drop10), slave));
        Assert.Equal([1u, 2u, MeterModRequest.Controller], _sw.MeterConfigurations().Select(c => c.MeterId));
    }

    [Fact]
    public void FlowsRunThroughTheirMeterAndGoWithIt()
    {
        var band = new OfMeterBand(OfMeterBandType.Drop, 100, 5);
        Assert.Equal(OfError.None, _sw.MeterMod(Add(1, OfMeterFlags.Pktps | OfMeterFlags.Burst | OfMeterFlags.Stats, band)));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(1, 1)));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(2, 1)));
        Assert.Equal(5, Send(1, 8) + Send(2, 4)); // one budget for both flows: the burst of 5
        _clock.Advance(TimeSpan.FromMilliseconds(20)); // 2 packets at 100 pkt/s
        Assert.Equal(2, Send(2, 4));

        var config = Assert.Single(_sw.MeterConfigurations(1));
        Assert.Equal(OfMeterFlags.Pktps | OfMeterFlags.Burst | OfMeterFlags.Stats, config.Flags);
        Assert.Equal([band], config.Bands);
        var stats = Assert.Single(_sw.MeterStatistics(1));
        Assert.Equal(2u, stats.FlowCount);
        Assert.Equal(16ul, stats.Packets);
        Assert.Equal(9ul, stats.Bands[0].Packets);
        Assert.Equal(20_000_000, stats.DurationNanos);

        // A modification keeps the counters and the age; the new band's bucket is full.
        var wider = band with { BurstSize = 50 };
        Assert.Equal(OfError.None, _sw.MeterMod(new MeterModRequest(MeterModCommand.Modify, OfMeterFlags.Pktps | OfMeterFlags.Burst, 1, [wider])));
        Assert.Equal(10, Send(1, 10));
        stats = Assert.Single(_sw.MeterStatistics(1));
        Assert.Equal(26ul, stats.Packets);
        Assert.Equal(0ul, stats.Bands[0].Packets);

        // Deleting every meter deletes its flows, reported METER_DELETE.
        Assert.Equal(OfError.None, _sw.MeterMod(new MeterModRequest(MeterModCommand.Delete, OfMeterFlags.None, MeterModRequest.All, [])));
        Assert.Empty(_sw.MeterConfigurations());
        Assert.Equal(2, _reports.Removed.Count(r => r.Reason == OfFlowRemovedReason.MeterDelete));
        Assert.Equal(0, Send(1, 1));
    }
}
