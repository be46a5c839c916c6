using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// How a forwarder turns a burst into flow-batches. A flow (or a pipeline's verdict) whose whole action list is one
/// output to a port is queued for the port as it is classified, with no flow-batch (<see cref="FlowActions.SoleOutput"/>),
/// and a port's state is read again only when some port's changed (<c>OutputStage.PlainSlot</c>): it must count and
/// drop exactly as a batch's output does, see a port's new state at once, keep each flow's packets in order beside
/// flows that run as batches, and credit every table a verdict visited. Other flows are grouped by flow, or batched by
/// runs of consecutive packets while every packet is a flow of its own; verdicts keep their burst's batch number. (A list of
/// rewrites then one output needs no batch either: RewriteOutputTests. The batched lists here hold a dec_ttl, which can
/// take a packet out of its batch.)
/// </summary>
public sealed class FlowBatchTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:00:0a"), MacB = MacAddress.Parse("02:00:00:00:00:0b");
    private static readonly uint IpA = Ipv4.Parse("10.0.0.1"), IpB = Ipv4.Parse("10.0.0.2");

    /// <summary>A rule of the one table (no pipeline of stages) for the frames from source port <paramref name="sport"/>.</summary>
    private static FlowEntry Add(DatapathRig r, ushort sport, params FlowAction[] actions)
        => r.Insert(0, FlowMatch.Exact(FlowKeyOf(Frame(sport), 1)), 100, actions);

    private static FlowMatch All => FlowMatch.FromOpenFlow(OfWildcards.All, default);

    /// <summary>Table 0's catch-all rule with <paramref name="actions"/> and <paramref name="meter"/>, then goto table 1 (which drops on a miss).</summary>
    private static FlowEntry GotoTable1(DatapathRig r, uint meter = 0, params FlowAction[] actions)
        => r.Insert(0, All, 1, actions, new FlowInstructions(gotoTable: 1, meter: meter));

    private static byte[] Frame(ushort sport) => FrameBuilder.Udp(MacA, MacB, IpA, IpB, sport, 2000);

    private static FlowKey FlowKeyOf(byte[] frame, ushort inPort)
    {
        PacketParser.Parse(frame, inPort, out var key, out _);
        return key;
    }

    private static ushort SportOf(byte[] f) => (ushort)((f[34] << 8) | f[35]);

    [Fact]
    public void OnlyAListOfOneOutputToAPortIsASoleOutput()
    {
        Assert.Equal(3, new FlowActions([FlowAction.Output(3)]).SoleOutput);
        Assert.Equal(0, new FlowActions([FlowAction.Output(PortNumber.Flood)]).SoleOutput);
        Assert.Equal(0, new FlowActions([FlowAction.Output(PortNumber.InPort)]).SoleOutput);
        Assert.Equal(0, new FlowActions([FlowAction.Output(PortNumber.Controller)]).SoleOutput);
        Assert.Equal(0, new FlowActions([FlowAction.Output(2), FlowAction.Output(3)]).SoleOutput);
        Assert.Equal(0, new FlowActions([FlowAction.SetDlDst(MacA), FlowAction.Output(3)]).SoleOutput);
        Assert.Equal(0, FlowActions.Drop.SoleOutput);
    }

    [Fact]
    public void ASoleOutputFlowCountsEveryPacketAndByte_AndSendsThemInOrder()
    {
        using var r = new DatapathRig(3);
        var e = Add(r, 1000, FlowAction.Output(2));
        var frames = Enumerable.Range(0, 40).Select(_ => Frame(1000)).ToArray();
        for (int i = 0; i < frames.Length; i++) frames[i][^1] = (byte)i; // payload tells them apart
        r.SendBurst(1, frames);
        var sent = r.Sent(2);
        Assert.Equal(40, sent.Count);
        for (int i = 0; i < sent.Count; i++) Assert.Equal((byte)i, sent[i][^1]);
        Assert.Equal(40, e.Packets);
        Assert.Equal(40L * frames[0].Length, e.Bytes);
    }

    /// <summary>A set_tunnel is its flow-batch's own: a table miss later in the same burst goes to the controller
    /// with no tunnel id (the packet came from no tunnel).</summary>
    [Fact]
    public void ASetTunnelInOneBatch_LeavesNoTunnelIdToTheBurstsMisses()
    {
        using var r = new DatapathRig(3);
        r.Dp.MissBehavior = MissBehavior.Controller;
        Add(r, 1000, FlowAction.SetTunnel(5), FlowAction.Output(2));
        r.SendBurst(1, Frame(1000), Frame(1001));
        var ups = new List<(ushort InPort, ulong Tunnel, UpcallReason Reason)>();
        r.Dp.DrainUpcalls((in Upcall u) => ups.Add((u.InPort, u.TunnelId, u.Reason)));
        Assert.Equal([((ushort)1, 0UL, UpcallReason.Miss)], ups);
        Assert.Single(r.Sent(2));
    }

    [Fact]
    public void APortsNewStateHoldsForItsNextPackets_DownNoFwdAndBackUp()
    {
        using var r = new DatapathRig(3);
        Add(r, 1000, FlowAction.Output(2));
        r.SendBurst(1, Frame(1000));
        Assert.Single(r.Sent(2));

        Assert.True(r.Dp.SetPortConfig(2, PortConfig.NoFwd, PortConfig.NoFwd));
        r.SendBurst(1, Frame(1000), Frame(1000));
        Assert.Empty(r.Sent(2));
        Assert.Equal(2, r.Dp.DropCount(DropReason.NoFwd));

        Assert.True(r.Dp.SetPortConfig(2, PortConfig.PortDown, PortConfig.NoFwd | PortConfig.PortDown));
        r.SendBurst(1, Frame(1000));
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.PortDown));

        Assert.True(r.Dp.SetPortConfig(2, 0, PortConfig.PortDown));
        r.SendBurst(1, Frame(1000));
        Assert.Single(r.Sent(2));
    }

    [Fact]
    public void APortRemovedAndAddedAgainUnderItsNumberGetsThePackets_AndOutputToTheInputPortIsDropped()
    {
        using var r = new DatapathRig(3);
        Add(r, 1000, FlowAction.Output(2));
        Add(r, 1001, FlowAction.Output(1));
        r.SendBurst(1, Frame(1000), Frame(1001));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(1));
        Assert.Equal(1, r.Dp.DropCount(DropReason.OutputToInPort));

        Assert.True(r.Dp.RemovePort(2));
        r.SendBurst(1, Frame(1000));
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoSuchPort));
        var again = new MemoryPort("p2", new MacAddress(0x0200_0000_0002UL)) { CaptureSent = true };
        r.Dp.AddPort(again, 2);
        r.SendBurst(1, Frame(1000));
        Assert.Single(again.TakeSent());
    }

    [Fact]
    public void ABatchOutputPastItsQueuesRoom_IsSentWholeAndInOrder()
    {
        // Two outputs to one port: the second batch finds the queue 20 deep, fills it, and the rest follows the flush.
        using var r = new DatapathRig(3);
        var e = Add(r, 1000, FlowAction.Output(2), FlowAction.Output(2));
        var frames = Enumerable.Range(0, 20).Select(_ => Frame(1000)).ToArray();
        for (int i = 0; i < frames.Length; i++) frames[i][^1] = (byte)i;
        r.SendBurst(1, frames);
        var sent = r.Sent(2);
        Assert.Equal(Enumerable.Range(0, 20).Concat(Enumerable.Range(0, 20)).ToArray(), sent.Select(f => (int)f[^1]).ToArray());
        Assert.Equal(20, e.Packets);
    }

    [Fact]
    public void SoleOutputsAndBatchedFlowsInOneBurst_KeepEachFlowsOrder()
    {
        using var r = new DatapathRig(3);
        var sole = Add(r, 1000, FlowAction.Output(2));
        var rewrite = Add(r, 1001, FlowAction.SetDlDst(MacA), FlowAction.DecNwTtl(), FlowAction.Output(2));
        var frames = new byte[16][];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = Frame((ushort)(1000 + i % 2));
            frames[i][^1] = (byte)i;
        }
        r.SendBurst(1, frames);
        var sent = r.Sent(2);
        Assert.Equal(16, sent.Count);
        foreach (ushort sport in new ushort[] { 1000, 1001 })
        {
            var order = sent.Where(f => SportOf(f) == sport).Select(f => (int)f[^1]).ToArray();
            Assert.Equal(Enumerable.Range(0, 8).Select(i => 2 * i + sport - 1000).ToArray(), order);
        }
        Assert.All(sent.Where(f => SportOf(f) == 1001), f => Assert.Equal(MacA, MacAddress.Read(f)));
        Assert.Equal(8, sole.Packets);
        Assert.Equal(8, rewrite.Packets);
    }

    [Fact]
    public void AVerdictOfOneOutput_CreditsEveryTableAndRuleItVisited()
    {
        using var r = new DatapathRig(3);
        var (first, second) = FilterThenOutput(r, 0);
        r.SendBurst(1, Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(20, r.Sent(3).Count);
        Assert.Equal(20, first.Packets);
        Assert.Equal(20, second.Packets);
        var stats = r.Fwd.StageStats;
        Assert.Equal(20, stats.Lookups[0]);
        Assert.Equal(20, stats.Matched[0]);
        Assert.Equal(20, stats.Lookups[1]);
        Assert.Equal(20, stats.Matched[1]);
    }

    /// <summary>Table 0's rule with <paramref name="actions"/> and <paramref name="meter"/>, then goto table 1, whose rule outputs to port 3.</summary>
    private static (FlowEntry First, FlowEntry Second) FilterThenOutput(DatapathRig r, uint meter, params FlowAction[] actions)
        => (GotoTable1(r, meter, actions), r.Insert(1, All, 1, [FlowAction.Output(3)]));

    [Fact]
    public void AMeterDropInAnEarlierTable_TheLaterTablesCountOnlyWhatPassed()
    {
        using var r = new DatapathRig(3);
        // 1 packet/s with a burst of 5, full at the start: 5 of 20 pass.
        r.Dp.Meters.Set(new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 1, 5)], r.Dp.Clock.NowNanos));
        var (first, second) = FilterThenOutput(r, 1);
        r.SendBurst(1, Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(5, r.Sent(3).Count);
        Assert.Equal(20, first.Packets);
        Assert.Equal(5, second.Packets);
        var stats = r.Fwd.StageStats;
        Assert.Equal(20, stats.Lookups[0]);
        Assert.Equal(20, stats.Matched[0]);
        Assert.Equal(5, stats.Lookups[1]);
        Assert.Equal(5, stats.Matched[1]);
    }

    [Fact]
    public void ADecTtlDropInAnEarlierTable_TheLaterTablesCountOnlyWhatPassed()
    {
        using var r = new DatapathRig(3);
        var (first, second) = FilterThenOutput(r, 0, FlowAction.DecNwTtl());
        // Every other frame arrives with TTL 1: dec_ttl drops it in table 0.
        var frames = Enumerable.Range(0, 20).Select(i =>
        {
            var f = Frame((ushort)(2000 + i));
            if (i % 2 == 0) return f;
            f[22] = 1;
            f[24] = f[25] = 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
            return f;
        }).ToArray();
        r.SendBurst(1, frames);
        Assert.Equal(10, r.Sent(3).Count);
        Assert.Equal(20, first.Packets);
        Assert.Equal(10, second.Packets);
        var stats = r.Fwd.StageStats;
        Assert.Equal(20, stats.Lookups[0]);
        Assert.Equal(10, stats.Lookups[1]);
        Assert.Equal(10, stats.Matched[1]);
    }

    /// <summary>Frames of which every other one arrives with TTL 1 (dec_ttl drops it).</summary>
    private static byte[][] HalfWithTtl1(int count) => Enumerable.Range(0, count).Select(i =>
    {
        var f = Frame((ushort)(2000 + i));
        if (i % 2 == 0) return f;
        f[22] = 1;
        f[24] = f[25] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
        return f;
    }).ToArray();

    /// <summary>Table 0 decrements the TTL and goes to table 1, whose only rule is a table-miss rule (priority 0, match-all,
    /// marked as the table's miss rule as Ofproto marks OpenFlow 1.3's) to port 3.</summary>
    private static (FlowEntry First, FlowEntry Miss) DecTtlThenTableMissRule(DatapathRig r, params FlowAction[] firstActions)
    {
        var first = GotoTable1(r, 0, firstActions);
        var miss = r.Insert(1, FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default), 0, [FlowAction.Output(3)], isTableMiss: true);
        return (first, miss);
    }

    [Fact]
    public void ATableMissRuleBehindADecTtlDrop_CountsItsPacketsAsLookedUpNotMatched()
    {
        using var r = new DatapathRig(3);
        var (_, miss) = DecTtlThenTableMissRule(r, FlowAction.DecNwTtl());
        r.SendBurst(1, HalfWithTtl1(20));
        Assert.Equal(10, r.Sent(3).Count);
        Assert.Equal(10, miss.Packets);
        var stats = r.Fwd.StageStats;
        Assert.Equal(20, stats.Matched[0]);
        Assert.Equal(10, stats.Lookups[1]);
        Assert.Equal(0, stats.Matched[1]);
    }

    [Fact]
    public void ATableMissRuleWithoutAFilter_CountsItsPacketsAsLookedUpNotMatched()
    {
        using var r = new DatapathRig(3);
        var (_, miss) = DecTtlThenTableMissRule(r);
        r.SendBurst(1, Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(20, r.Sent(3).Count);
        Assert.Equal(20, miss.Packets);
        var stats = r.Fwd.StageStats;
        Assert.Equal(20, stats.Lookups[1]);
        Assert.Equal(0, stats.Matched[1]);
    }

    [Fact]
    public void ACatchAllRuleTheLayerAboveDidNotMark_CountsItsPacketsAsMatched()
    {
        // Priority 0 and every field wildcarded is only OpenFlow 1.3's table-miss entry when the layer above says so.
        using var r = new DatapathRig(3);
        GotoTable1(r, 0);
        var all = r.Insert(1, FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default), 0, [FlowAction.Output(3)]);
        r.SendBurst(1, Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(20, all.Packets);
        var stats = r.Fwd.StageStats;
        Assert.Equal(20, stats.Lookups[1]);
        Assert.Equal(20, stats.Matched[1]);
    }

    private static MacAddress DstFor(ushort sport) => new(0x020000005000UL + sport);

    /// <summary>A burst of <paramref name="sports"/>' frames, each with its position in the burst as its last byte.</summary>
    private static byte[][] Burst(params ushort[] sports)
        => sports.Select((sp, i) => { var f = Frame(sp); f[^1] = (byte)i; return f; }).ToArray();

    [Fact]
    public void BurstsOfAFlowPerPacketAreBatchedByRuns_AndEveryPacketIsRewrittenCountedAndInOrder()
    {
        using var r = new DatapathRig(3);
        var flows = Enumerable.Range(0, 64).Select(i => (ushort)(3000 + i))
            .ToDictionary(sp => sp, sp => Add(r, sp, FlowAction.SetDlDst(DstFor(sp)), FlowAction.DecNwTtl(), FlowAction.Output(2)));
        var rng = new Random(7);
        var sent = new List<ushort>();
        for (int b = 0; b < 12; b++)
        {
            var sports = flows.Keys.OrderBy(_ => rng.Next()).Take(32).ToArray();
            if (b == 11) sports = [3000, 3000, 3001, 3001, 3001, 3000, 3002, 3002]; // runs of one flow, one repeated later
            r.SendBurst(1, Burst(sports));
            sent.AddRange(sports);
            var got = r.Sent(2);
            Assert.Equal(sports.Length, got.Count);
            foreach (var f in got) Assert.Equal(DstFor(SportOf(f)), MacAddress.Read(f));
            foreach (var sp in sports.Distinct())
            {
                var positions = got.Where(f => SportOf(f) == sp).Select(f => (int)f[^1]).ToArray();
                Assert.Equal(positions.Order().ToArray(), positions);
            }
        }
        Assert.True(r.Fwd.BurstsBatchedByRuns >= 9, $"batched by runs: {r.Fwd.BurstsBatchedByRuns}");
        foreach (var (sp, e) in flows) Assert.Equal(sent.Count(x => x == sp), e.Packets);
    }

    [Fact]
    public void AFewFlowsInterleavedAreGroupedByFlow()
    {
        using var r = new DatapathRig(3);
        var a = Add(r, 1000, FlowAction.SetDlDst(MacA), FlowAction.DecNwTtl(), FlowAction.Output(2));
        var b = Add(r, 1001, FlowAction.SetDlDst(MacB), FlowAction.DecNwTtl(), FlowAction.Output(3));
        for (int i = 0; i < 20; i++) r.SendBurst(1, Burst(Enumerable.Range(0, 32).Select(k => (ushort)(1000 + k % 2)).ToArray()));
        Assert.Equal(0, r.Fwd.BurstsBatchedByRuns);
        Assert.Equal(320, a.Packets);
        Assert.Equal(320, b.Packets);
        Assert.Equal(320, r.Sent(2).Count);
        Assert.Equal(320, r.Sent(3).Count);
    }

    [Fact]
    public void RunsBrokenBySoleOutputsAndMisses_KeepEachFlowsPacketsAndCounts()
    {
        using var r = new DatapathRig(3);
        var flows = Enumerable.Range(0, 40).Select(i => (ushort)(3000 + i)).ToArray();
        foreach (var sp in flows) Add(r, sp, FlowAction.SetDlDst(DstFor(sp)), FlowAction.DecNwTtl(), FlowAction.Output(2));
        var sole = Add(r, 999, FlowAction.Output(3));
        for (int i = 0; i < 3; i++) r.SendBurst(1, Burst(flows[..32]));
        r.Sent(2);
        long before = r.Fwd.BurstsBatchedByRuns;
        // 3000 x2, sole, 3000, miss (sport 1), 3000, 3001 x2, sole, 3001
        r.SendBurst(1, Burst(3000, 3000, 999, 3000, 1, 3000, 3001, 3001, 999, 3001));
        Assert.Equal(before + 1, r.Fwd.BurstsBatchedByRuns);
        var got = r.Sent(2);
        Assert.Equal(new[] { 0, 1, 3, 5 }, got.Where(f => SportOf(f) == 3000).Select(f => (int)f[^1]).ToArray());
        Assert.Equal(new[] { 6, 7, 9 }, got.Where(f => SportOf(f) == 3001).Select(f => (int)f[^1]).ToArray());
        Assert.Equal(new[] { 2, 8 }, r.Sent(3).Select(f => (int)f[^1]).ToArray());
        Assert.Equal(2, sole.Packets);
        Assert.Equal(1, r.Fwd.Misses);
    }

    [Fact]
    public void VerdictsThatRewriteAreGroupedByVerdict_BurstAfterBurst()
    {
        using var r = new DatapathRig(3);
        GotoTable1(r);
        var rules = new Dictionary<ushort, FlowEntry>();
        foreach (ushort sp in new ushort[] { 1000, 1001, 1002 })
        {
            var m = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.TpSrc, new FlowKeyBuilder().TpSrc(sp).Key);
            rules[sp] = r.Insert(1, m, 10, [FlowAction.SetDlDst(DstFor(sp)), FlowAction.DecNwTtl(), FlowAction.Output(2)]);
        }
        for (int b = 0; b < 3; b++)
        {
            r.SendBurst(1, Burst(Enumerable.Range(0, 30).Select(i => (ushort)(1000 + i % 3)).ToArray()));
            var got = r.Sent(2);
            Assert.Equal(30, got.Count);
            foreach (ushort sp in rules.Keys)
            {
                var mine = got.Where(f => SportOf(f) == sp).ToArray();
                Assert.Equal(Enumerable.Range(0, 10).Select(i => 3 * i + sp - 1000).ToArray(), mine.Select(f => (int)f[^1]).ToArray());
                Assert.All(mine, f => Assert.Equal(DstFor(sp), MacAddress.Read(f)));
            }
        }
        foreach (var e in rules.Values) Assert.Equal(30, e.Packets);
    }
}
