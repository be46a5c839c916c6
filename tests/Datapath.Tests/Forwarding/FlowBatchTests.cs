using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// How a forwarder turns a burst into flow-batches. A flow (or a pipeline's verdict) whose whole action list is one
/// output to a port is queued for the port as it is classified, with no flow-batch (<see cref="FlowActions.SoleOutput"/>),
/// and a port's state is read again only when some port's changed (<c>OutputStage.PlainSlot</c>): it must count and
/// drop exactly as a batch's output does, see a port's new state at once, keep each flow's packets in order beside
/// flows that run as batches, and credit every table a verdict visited. Other flows are grouped by flow, or batched by
/// runs of consecutive packets while every packet is a flow of its own; verdicts keep their burst's batch number.
/// </summary>
public sealed class FlowBatchTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:00:0a"), MacB = MacAddress.Parse("02:00:00:00:00:0b");
    private static readonly uint IpA = Ipv4.Parse("10.0.0.1"), IpB = Ipv4.Parse("10.0.0.2");

    private sealed class Rig : IDisposable
    {
        public readonly SwitchDatapath Dp = new(new DatapathOptions { PacketInRate = 0 });
        public readonly MemoryPort[] Ports = new MemoryPort[4];

        public Rig()
        {
            for (ushort i = 1; i <= 3; i++) Ports[i] = AddPort(i);
        }

        public MemoryPort AddPort(ushort no)
        {
            var port = new MemoryPort("s" + no, new MacAddress(0x0200000000a0UL + no)) { CaptureSent = true };
            Dp.AddPort(port, no);
            return port;
        }

        /// <summary>A rule of the one table (no pipeline of stages).</summary>
        public FlowEntry Add(ushort sport, params FlowAction[] actions)
        {
            using var w = Dp.Pipeline.Stage(0)!.Write();
            var e = new FlowEntry(FlowMatch.Exact(FlowKeyOf(Frame(sport), 1)), 100, new FlowActions(actions), 0, 0, Dp.Clock.NowNanos);
            w.Insert(e);
            return e;
        }

        /// <summary>
        /// Makes the pipeline two tables: table 0 a catch-all rule that goes to table 1 (returned with table 1, which
        /// drops on a miss and has no rules yet).
        /// </summary>
        public (FlowEntry GotoRule, Classifier.FlowTable Second) TwoTables()
        {
            var p = Dp.Pipeline;
            var second = p.GetOrCreateStage(1, Classifier.TableMissMode.Drop);
            p.EnableStages();
            var all = new FlowEntry(FlowMatch.FromOpenFlow(OfWildcards.All, default), 1, FlowActions.Drop, 0, 0, 0);
            using var w = p.Stage(0)!.Write();
            w.SetInstructions(all, new FlowInstructions(null, false, 0, 0, 1));
            w.Insert(all);
            return (all, second);
        }

        /// <summary>Injects the frames on port 1 as one burst and forwards them.</summary>
        public void Send(params byte[][] frames)
        {
            foreach (var f in frames) Ports[1].Inject(f);
            Dp.PollUntilIdle();
        }

        public void Dispose() => Dp.Dispose();
    }

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
        using var r = new Rig();
        var e = r.Add(1000, FlowAction.Output(2));
        var frames = Enumerable.Range(0, 40).Select(_ => Frame(1000)).ToArray();
        for (int i = 0; i < frames.Length; i++) frames[i][^1] = (byte)i; // payload tells them apart
        r.Send(frames);
        var sent = r.Ports[2].TakeSent();
        Assert.Equal(40, sent.Count);
        for (int i = 0; i < sent.Count; i++) Assert.Equal((byte)i, sent[i][^1]);
        Assert.Equal(40, e.Packets);
        Assert.Equal(40L * frames[0].Length, e.Bytes);
    }

    [Fact]
    public void APortsNewStateHoldsForItsNextPackets_DownNoFwdAndBackUp()
    {
        using var r = new Rig();
        r.Add(1000, FlowAction.Output(2));
        r.Send(Frame(1000));
        Assert.Single(r.Ports[2].TakeSent());

        Assert.True(r.Dp.SetPortConfig(2, PortConfig.NoFwd, PortConfig.NoFwd));
        r.Send(Frame(1000), Frame(1000));
        Assert.Empty(r.Ports[2].TakeSent());
        Assert.Equal(2, r.Dp.DropCount(DropReason.NoFwd));

        Assert.True(r.Dp.SetPortConfig(2, PortConfig.PortDown, PortConfig.NoFwd | PortConfig.PortDown));
        r.Send(Frame(1000));
        Assert.Empty(r.Ports[2].TakeSent());
        Assert.Equal(1, r.Dp.DropCount(DropReason.PortDown));

        Assert.True(r.Dp.SetPortConfig(2, 0, PortConfig.PortDown));
        r.Send(Frame(1000));
        Assert.Single(r.Ports[2].TakeSent());
    }

    [Fact]
    public void APortRemovedAndAddedAgainUnderItsNumberGetsThePackets_AndOutputToTheInputPortIsDropped()
    {
        using var r = new Rig();
        r.Add(1000, FlowAction.Output(2));
        r.Add(1001, FlowAction.Output(1));
        r.Send(Frame(1000), Frame(1001));
        Assert.Single(r.Ports[2].TakeSent());
        Assert.Empty(r.Ports[1].TakeSent());
        Assert.Equal(1, r.Dp.DropCount(DropReason.OutputToInPort));

        Assert.True(r.Dp.RemovePort(2));
        r.Send(Frame(1000));
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoSuchPort));
        var again = r.AddPort(2);
        r.Send(Frame(1000));
        Assert.Single(again.TakeSent());
    }

    [Fact]
    public void ABatchOutputPastItsQueuesRoom_IsSentWholeAndInOrder()
    {
        // Two outputs to one port: the second batch finds the queue 20 deep, fills it, and the rest follows the flush.
        using var r = new Rig();
        var e = r.Add(1000, FlowAction.Output(2), FlowAction.Output(2));
        var frames = Enumerable.Range(0, 20).Select(_ => Frame(1000)).ToArray();
        for (int i = 0; i < frames.Length; i++) frames[i][^1] = (byte)i;
        r.Send(frames);
        var sent = r.Ports[2].TakeSent();
        Assert.Equal(Enumerable.Range(0, 20).Concat(Enumerable.Range(0, 20)).ToArray(), sent.Select(f => (int)f[^1]).ToArray());
        Assert.Equal(20, e.Packets);
    }

    [Fact]
    public void SoleOutputsAndBatchedFlowsInOneBurst_KeepEachFlowsOrder()
    {
        using var r = new Rig();
        var sole = r.Add(1000, FlowAction.Output(2));
        var rewrite = r.Add(1001, FlowAction.SetDlDst(MacA), FlowAction.Output(2));
        var frames = new byte[16][];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = Frame((ushort)(1000 + i % 2));
            frames[i][^1] = (byte)i;
        }
        r.Send(frames);
        var sent = r.Ports[2].TakeSent();
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
        using var r = new Rig();
        var (first, t1) = r.TwoTables();
        FlowEntry second;
        using (var w = t1.Write())
        {
            second = new FlowEntry(FlowMatch.FromOpenFlow(OfWildcards.All, default), 1, new FlowActions([FlowAction.Output(3)]), 0, 0, 0);
            w.Insert(second);
        }
        r.Send(Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(20, r.Ports[3].TakeSent().Count);
        Assert.Equal(20, first.Packets);
        Assert.Equal(20, second.Packets);
        var stats = r.Dp.Forwarders[0].StageStats;
        Assert.Equal(20, stats.Lookups[0]);
        Assert.Equal(20, stats.Matched[0]);
        Assert.Equal(20, stats.Lookups[1]);
        Assert.Equal(20, stats.Matched[1]);
    }

    /// <summary>Table 0's rule with <paramref name="actions"/> and <paramref name="meter"/>, then goto table 1, whose rule outputs to port 3.</summary>
    private static (FlowEntry First, FlowEntry Second) FilterThenOutput(Rig r, uint meter, params FlowAction[] actions)
    {
        var p = r.Dp.Pipeline;
        var t1 = p.GetOrCreateStage(1, Classifier.TableMissMode.Drop);
        p.EnableStages();
        var first = new FlowEntry(FlowMatch.FromOpenFlow(OfWildcards.All, default), 1, new FlowActions(actions), 0, 0, 0);
        using (var w = p.Stage(0)!.Write())
        {
            w.SetInstructions(first, new FlowInstructions(gotoTable: 1, meter: meter));
            w.Insert(first);
        }
        var second = new FlowEntry(FlowMatch.FromOpenFlow(OfWildcards.All, default), 1, new FlowActions([FlowAction.Output(3)]), 0, 0, 0);
        using (var w = t1.Write()) w.Insert(second);
        return (first, second);
    }

    [Fact]
    public void AMeterDropInAnEarlierTable_TheLaterTablesCountOnlyWhatPassed()
    {
        using var r = new Rig();
        // 1 packet/s with a burst of 5, full at the start: 5 of 20 pass.
        r.Dp.Meters.Set(new Meters.Meter(1, Meters.MeterUnit.Pktps, burst: true, stats: true, [new Meters.MeterBand(Meters.MeterBandType.Drop, 1, 5)], r.Dp.Clock.NowNanos));
        var (first, second) = FilterThenOutput(r, 1);
        r.Send(Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(5, r.Ports[3].TakeSent().Count);
        Assert.Equal(20, first.Packets);
        Assert.Equal(5, second.Packets);
        var stats = r.Dp.Forwarders[0].StageStats;
        Assert.Equal(20, stats.Lookups[0]);
        Assert.Equal(20, stats.Matched[0]);
        Assert.Equal(5, stats.Lookups[1]);
        Assert.Equal(5, stats.Matched[1]);
    }

    [Fact]
    public void ADecTtlDropInAnEarlierTable_TheLaterTablesCountOnlyWhatPassed()
    {
        using var r = new Rig();
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
        r.Send(frames);
        Assert.Equal(10, r.Ports[3].TakeSent().Count);
        Assert.Equal(20, first.Packets);
        Assert.Equal(10, second.Packets);
        var stats = r.Dp.Forwarders[0].StageStats;
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

    /// <summary>Table 0 decrements the TTL and goes to table 1, whose only rule is a table-miss rule (priority 0, match-all) to port 3.</summary>
    private static (FlowEntry First, FlowEntry Miss) DecTtlThenTableMissRule(Rig r, params FlowAction[] firstActions)
    {
        var p = r.Dp.Pipeline;
        var t1 = p.GetOrCreateStage(1, Classifier.TableMissMode.Drop);
        p.EnableStages();
        var first = new FlowEntry(FlowMatch.FromOpenFlow(OfWildcards.All, default), 1, new FlowActions(firstActions), 0, 0, 0);
        using (var w = p.Stage(0)!.Write())
        {
            w.SetInstructions(first, new FlowInstructions(gotoTable: 1));
            w.Insert(first);
        }
        var miss = new FlowEntry(FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default), 0, new FlowActions([FlowAction.Output(3)]), 0, 0, 0);
        using (var w = t1.Write()) w.Insert(miss);
        return (first, miss);
    }

    [Fact]
    public void ATableMissRuleBehindADecTtlDrop_CountsItsPacketsAsLookedUpNotMatched()
    {
        using var r = new Rig();
        var (_, miss) = DecTtlThenTableMissRule(r, FlowAction.DecNwTtl());
        r.Send(HalfWithTtl1(20));
        Assert.Equal(10, r.Ports[3].TakeSent().Count);
        Assert.Equal(10, miss.Packets);
        var stats = r.Dp.Forwarders[0].StageStats;
        Assert.Equal(20, stats.Matched[0]);
        Assert.Equal(10, stats.Lookups[1]);
        Assert.Equal(0, stats.Matched[1]);
    }

    [Fact]
    public void ATableMissRuleWithoutAFilter_CountsItsPacketsAsLookedUpNotMatched()
    {
        using var r = new Rig();
        var (_, miss) = DecTtlThenTableMissRule(r);
        r.Send(Enumerable.Range(0, 20).Select(i => Frame((ushort)(2000 + i))).ToArray());
        Assert.Equal(20, r.Ports[3].TakeSent().Count);
        Assert.Equal(20, miss.Packets);
        var stats = r.Dp.Forwarders[0].StageStats;
        Assert.Equal(20, stats.Lookups[1]);
        Assert.Equal(0, stats.Matched[1]);
    }

    private static MacAddress DstFor(ushort sport) => new(0x020000005000UL + sport);

    /// <summary>A burst of <paramref name="sports"/>' frames, each with its position in the burst as its last byte.</summary>
    private static byte[][] Burst(params ushort[] sports)
        => sports.Select((sp, i) => { var f = Frame(sp); f[^1] = (byte)i; return f; }).ToArray();

    [Fact]
    public void BurstsOfAFlowPerPacketAreBatchedByRuns_AndEveryPacketIsRewrittenCountedAndInOrder()
    {
        using var r = new Rig();
        var flows = Enumerable.Range(0, 64).Select(i => (ushort)(3000 + i))
            .ToDictionary(sp => sp, sp => r.Add(sp, FlowAction.SetDlDst(DstFor(sp)), FlowAction.Output(2)));
        var rng = new Random(7);
        var sent = new List<ushort>();
        for (int b = 0; b < 12; b++)
        {
            var sports = flows.Keys.OrderBy(_ => rng.Next()).Take(32).ToArray();
            if (b == 11) sports = [3000, 3000, 3001, 3001, 3001, 3000, 3002, 3002]; // runs of one flow, one repeated later
            r.Send(Burst(sports));
            sent.AddRange(sports);
            var got = r.Ports[2].TakeSent();
            Assert.Equal(sports.Length, got.Count);
            foreach (var f in got) Assert.Equal(DstFor(SportOf(f)), MacAddress.Read(f));
            foreach (var sp in sports.Distinct())
            {
                var positions = got.Where(f => SportOf(f) == sp).Select(f => (int)f[^1]).ToArray();
                Assert.Equal(positions.Order().ToArray(), positions);
            }
        }
        Assert.True(r.Dp.Forwarders[0].BurstsBatchedByRuns >= 9, $"batched by runs: {r.Dp.Forwarders[0].BurstsBatchedByRuns}");
        foreach (var (sp, e) in flows) Assert.Equal(sent.Count(x => x == sp), e.Packets);
    }

    [Fact]
    public void AFewFlowsInterleavedAreGroupedByFlow()
    {
        using var r = new Rig();
        var a = r.Add(1000, FlowAction.SetDlDst(MacA), FlowAction.Output(2));
        var b = r.Add(1001, FlowAction.SetDlDst(MacB), FlowAction.Output(3));
        for (int i = 0; i < 20; i++) r.Send(Burst(Enumerable.Range(0, 32).Select(k => (ushort)(1000 + k % 2)).ToArray()));
        Assert.Equal(0, r.Dp.Forwarders[0].BurstsBatchedByRuns);
        Assert.Equal(320, a.Packets);
        Assert.Equal(320, b.Packets);
        Assert.Equal(320, r.Ports[2].TakeSent().Count);
        Assert.Equal(320, r.Ports[3].TakeSent().Count);
    }

    [Fact]
    public void RunsBrokenBySoleOutputsAndMisses_KeepEachFlowsPacketsAndCounts()
    {
        using var r = new Rig();
        var flows = Enumerable.Range(0, 40).Select(i => (ushort)(3000 + i)).ToArray();
        foreach (var sp in flows) r.Add(sp, FlowAction.SetDlDst(DstFor(sp)), FlowAction.Output(2));
        var sole = r.Add(999, FlowAction.Output(3));
        for (int i = 0; i < 3; i++) r.Send(Burst(flows[..32]));
        r.Ports[2].TakeSent();
        long before = r.Dp.Forwarders[0].BurstsBatchedByRuns;
        // 3000 x2, sole, 3000, miss (sport 1), 3000, 3001 x2, sole, 3001
        r.Send(Burst(3000, 3000, 999, 3000, 1, 3000, 3001, 3001, 999, 3001));
        Assert.Equal(before + 1, r.Dp.Forwarders[0].BurstsBatchedByRuns);
        var got = r.Ports[2].TakeSent();
        Assert.Equal(new[] { 0, 1, 3, 5 }, got.Where(f => SportOf(f) == 3000).Select(f => (int)f[^1]).ToArray());
        Assert.Equal(new[] { 6, 7, 9 }, got.Where(f => SportOf(f) == 3001).Select(f => (int)f[^1]).ToArray());
        Assert.Equal(new[] { 2, 8 }, r.Ports[3].TakeSent().Select(f => (int)f[^1]).ToArray());
        Assert.Equal(2, sole.Packets);
        Assert.Equal(1, r.Dp.Forwarders[0].Misses);
    }

    [Fact]
    public void VerdictsThatRewriteAreGroupedByVerdict_BurstAfterBurst()
    {
        using var r = new Rig();
        var (_, t1) = r.TwoTables();
        var rules = new Dictionary<ushort, FlowEntry>();
        using (var w = t1.Write())
        {
            foreach (ushort sp in new ushort[] { 1000, 1001, 1002 })
            {
                var m = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.TpSrc, new FlowKeyBuilder().TpSrc(sp).Key);
                rules[sp] = new FlowEntry(m, 10, new FlowActions([FlowAction.SetDlDst(DstFor(sp)), FlowAction.Output(2)]), 0, 0, 0);
                w.Insert(rules[sp]);
            }
        }
        for (int b = 0; b < 3; b++)
        {
            r.Send(Burst(Enumerable.Range(0, 30).Select(i => (ushort)(1000 + i % 3)).ToArray()));
            var got = r.Ports[2].TakeSent();
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
