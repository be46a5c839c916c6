using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A flow (or a pipeline's verdict) whose list is rewrites then one output to a port (<see cref="FlowActions.RewriteOutput"/>)
/// is run on each packet as it is classified, with no flow-batch, as a sole output is queued: in every corridor (the hash
/// stage's records, a table's entries, a pipeline's verdicts) the packet must leave exactly as the batch executor leaves
/// it (bytes, length, the push-failure counters), counted on its rule, in its place among the burst's other packets to
/// the same port.
/// </summary>
public sealed class RewriteOutputTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:00:0a"), MacB = MacAddress.Parse("02:00:00:00:00:0b");
    private static readonly uint IpA = Ipv4.Parse("10.0.0.1"), IpB = Ipv4.Parse("10.0.0.2");

    /// <summary>How the rule holding the list is found.</summary>
    public enum Corridor
    {
        /// <summary>Exact rules of table 0 alone: hash-stage hits answered from their records.</summary>
        Records,
        /// <summary>A wildcard rule of table 0 alone: the entry the lookup found.</summary>
        Entries,
        /// <summary>Table 0 goes to table 1, whose rule holds the list: the pipeline's verdict.</summary>
        Verdicts,
    }

    public static TheoryData<Corridor> Corridors => new() { Corridor.Records, Corridor.Entries, Corridor.Verdicts };

    private static FlowMatch All => FlowMatch.FromOpenFlow(OfWildcards.All, default);

    private static byte[] Frame(ushort sport) => FrameBuilder.Udp(MacA, MacB, IpA, IpB, sport, 2000);

    private static ushort SportOf(byte[] f) => (ushort)((f[34] << 8) | f[35]);

    [Fact]
    public void OnlyRewritesThenOneOutputToAPortRunWithNoBatch()
    {
        Assert.Equal(3, new FlowActions([FlowAction.SetDlDst(MacA), FlowAction.Output(3)]).RewriteOutput);
        Assert.Equal(2, new FlowActions([FlowAction.PushMpls(0x8847), FlowAction.SetMplsLabel(100), FlowAction.Output(2)]).RewriteOutput);
        Assert.Equal(2, new FlowActions([FlowAction.PopVlan(), FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid(20), FlowAction.Output(2)]).RewriteOutput);
        Assert.Equal(2, new FlowActions([FlowAction.SetIpv6Src(UInt128.One), FlowAction.SetNwTtl(9), FlowAction.PopMpls(0x0800), FlowAction.Output(2)]).RewriteOutput);
        FlowAction[][] others =
        [
            [FlowAction.Output(3)], // a sole output
            [FlowAction.SetDlDst(MacA), FlowAction.Output(PortNumber.Flood)],
            [FlowAction.SetDlDst(MacA), FlowAction.Output(PortNumber.InPort)],
            [FlowAction.SetDlDst(MacA), FlowAction.Output(PortNumber.Controller)],
            [FlowAction.SetDlDst(MacA), FlowAction.Output(PortNumber.Normal)],
            [FlowAction.Output(2), FlowAction.SetDlDst(MacA)],
            [FlowAction.SetDlDst(MacA), FlowAction.Output(2), FlowAction.Output(3)],
            [FlowAction.SetDlDst(MacA), FlowAction.Enqueue(2, 1)],
            [FlowAction.DecNwTtl(), FlowAction.Output(2)],
            [FlowAction.PushMpls(0x8847), FlowAction.DecMplsTtl(), FlowAction.Output(2)],
            [FlowAction.SetTunnel(5), FlowAction.Output(2)],
            [FlowAction.SetQueue(1), FlowAction.SetDlDst(MacA), FlowAction.Output(2)],
            [FlowAction.SetDlDst(MacA), FlowAction.Group(1)],
            [FlowAction.Meter(1), FlowAction.SetDlDst(MacA), FlowAction.Output(2)],
            [FlowAction.SetDlDst(MacA)],
            [],
        ];
        foreach (var items in others) Assert.Equal(0, new FlowActions(items).RewriteOutput);
        Assert.Equal(0, new FlowActions([FlowAction.SetDlDst(MacA), FlowAction.Output(3)]).SoleOutput);
    }

    /// <summary>
    /// Sole outputs are queued as they are classified: a rewriting list's packets, when run in a batch after the burst's
    /// classification, went to the port behind every sole output of their burst. Now each keeps its place.
    /// </summary>
    [Theory]
    [MemberData(nameof(Corridors))]
    public void ARewrittenPacketKeepsItsPlaceAmongTheSoleOutputsToItsPort(Corridor corridor)
    {
        using var r = new DatapathRig(3);
        var rules = new List<FlowEntry>();
        var frames = new byte[20][];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = Frame((ushort)(1000 + i % 2));
            frames[i][^1] = (byte)i;
        }
        FlowAction[] rewrite = [FlowAction.SetDlDst(MacB), FlowAction.SetNwDst(IpA), FlowAction.Output(2)], sole = [FlowAction.Output(2)];
        switch (corridor)
        {
            case Corridor.Records:
                rules.Add(r.Insert(0, FlowMatch.Exact(KeyOf(frames[0])), 100, rewrite));
                rules.Add(r.Insert(0, FlowMatch.Exact(KeyOf(frames[1])), 100, sole));
                break;
            case Corridor.Entries:
                rules.Add(r.Insert(0, BySport(1000), 100, rewrite));
                rules.Add(r.Insert(0, BySport(1001), 100, sole));
                break;
            default:
                r.Insert(0, All, 1, [], new FlowInstructions(gotoTable: 1));
                rules.Add(r.Insert(1, BySport(1000), 100, rewrite));
                rules.Add(r.Insert(1, BySport(1001), 100, sole));
                break;
        }
        for (int round = 0; round < 3; round++)
        {
            r.SendBurst(1, frames);
            var sent = r.Sent(2);
            Assert.Equal(Enumerable.Range(0, 20).ToArray(), sent.Select(f => (int)f[^1]).ToArray());
            Assert.All(sent.Where(f => SportOf(f) == 1000), f => Assert.Equal(MacB, MacAddress.Read(f)));
        }
        r.Dp.PollUntilIdle();
        Assert.All(rules, e => Assert.Equal(30, e.Packets));
        Assert.All(rules, e => Assert.Equal(30L * frames[0].Length, e.Bytes));
    }

    /// <summary>
    /// Random lists of rewrites (the fusable runs, pushes and pops of every kind, set-fields, TTL sets and copies) then an
    /// output, on random frames (untagged, tagged once or twice, MPLS, IPv4/IPv6/ARP/ICMP, runts): what the port is sent
    /// is what the batch executor makes of the same frames, byte for byte, and the push failures are counted alike.
    /// </summary>
    [Theory]
    [MemberData(nameof(Corridors))]
    public void EveryPacketLeavesAsTheBatchExecutorLeavesIt(Corridor corridor)
    {
        for (int seed = 0; seed < 150; seed++)
        {
            var rng = new Random(seed * 3 + (int)corridor);
            var items = RandomRewrites(rng);
            var frames = ActionPlanTests.RandomFrames(rng).Select(f => f.Frame).Where(f => f.Length >= 14).ToArray();
            if (frames.Length == 0) continue;
            var list = new FlowActions(items);
            Assert.True(list.RewriteOutput == 2, $"seed {seed}: {string.Join(",", items)}");
            var (expected, pushFailed, vlanPushFailed) = Reference(list, frames);

            using var r = new DatapathRig(3);
            var keys = frames.Select(KeyOf).Distinct().ToArray();
            switch (corridor)
            {
                case Corridor.Records:
                    foreach (var k in keys) r.Insert(0, FlowMatch.Exact(k), 100, items);
                    break;
                case Corridor.Entries:
                    r.Insert(0, All, 1, items);
                    break;
                default:
                    r.Insert(0, All, 1, [], new FlowInstructions(gotoTable: 1));
                    r.Insert(1, All, 1, items);
                    break;
            }
            r.SendBurst(1, frames);
            var sent = r.Sent(2);
            string ctx = $"seed {seed}, {corridor}: {string.Join(",", items)}";
            Assert.True(expected.Length == sent.Count, $"{sent.Count} sent, {ctx}");
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Convert.ToHexString(expected[i]) == Convert.ToHexString(sent[i]), $"frame {i} ({Convert.ToHexString(frames[i])}), {ctx}");
            Assert.True(pushFailed == r.Dp.Counters.Read(ActionExecutor.PushFailed), $"push failures, {ctx}");
            Assert.True(vlanPushFailed == r.Dp.Counters.Read(DatapathCounters.VlanPushFailed), $"VLAN push failures, {ctx}");
        }
    }

    /// <summary>The frames <paramref name="list"/> leaves when the executor runs it over them as one batch (each in a buffer
    /// with the usual headroom), and the push failures it counts.</summary>
    private static (byte[][] Frames, long PushFailed, long VlanPushFailed) Reference(FlowActions list, byte[][] frames)
    {
        var pool = new PacketPool(frames.Length + 1);
        var pkts = new int[frames.Length];
        var layers = new PacketLayers[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            pkts[i] = pool.Alloc();
            Assert.True(pool.Write(pkts[i], frames[i]));
            PacketParser.Parse(frames[i], 1, out _, out layers[i]);
        }
        var counters = new CounterSet();
        var sink = new RecordingSink();
        new ActionExecutor(counters).Execute(list, pool, pkts, layers, ref sink);
        Assert.Equal(2, Assert.Single(sink.Outputs).Port);
        return (pkts.Select(p => pool.Frame(p).ToArray()).ToArray(), counters[ActionExecutor.PushFailed], counters[DatapathCounters.VlanPushFailed]);
    }

    /// <summary>1-4 runs of rewrites (the fusable ones, pushes and pops, set-fields of OpenFlow 1.0 and 1.3, TTL sets and
    /// copies), then an output to port 2.</summary>
    private static FlowAction[] RandomRewrites(Random r)
    {
        var items = new List<FlowAction>();
        for (int runs = r.Next(1, 5); runs > 0 || items.Count == 0; runs--)
        {
            ushort tpid = r.Next(3) == 0 ? (ushort)0x88A8 : (ushort)0x8100;
            switch (r.Next(6))
            {
                case 0:
                    items.Add(FlowAction.PopVlan());
                    items.Add(FlowAction.PushVlan(tpid));
                    for (int s = r.Next(0, 3); s > 0; s--) items.Add(FlowAction.SetVlanVid((ushort)r.Next(0x1000)));
                    break;
                case 1:
                    items.Add(FlowAction.PushVlan(tpid));
                    if (r.Next(2) == 0) items.Add(FlowAction.SetVlanPcp((byte)r.Next(8)));
                    break;
                case 2:
                    items.Add(FlowAction.PushMpls(r.Next(2) == 0 ? (ushort)0x8847 : (ushort)0x8848));
                    if (r.Next(3) != 0) items.Add(FlowAction.SetMplsLabel((uint)r.Next(0x100000)));
                    if (r.Next(2) == 0) items.Add(FlowAction.SetMplsTtl((byte)r.Next(256)));
                    break;
                case 3:
                    items.Add(r.Next(6) switch
                    {
                        0 => FlowAction.PopVlan(),
                        1 => FlowAction.PopMpls(r.Next(2) == 0 ? (ushort)0x0800 : (ushort)0x86DD),
                        2 => FlowAction.PushPbb(),
                        3 => FlowAction.PopPbb(),
                        4 => FlowAction.CopyTtlOut(),
                        _ => FlowAction.CopyTtlIn(),
                    });
                    break;
                case 4:
                    items.Add(r.Next(5) switch
                    {
                        0 => FlowAction.SetIpv6Src(new UInt128((ulong)r.NextInt64(), (ulong)r.NextInt64())),
                        1 => FlowAction.SetIpv6Dst(new UInt128(0x20010DB8_00000000UL, (ulong)r.NextInt64())),
                        2 => FlowAction.SetNwTtl((byte)r.Next(256)),
                        3 => FlowAction.SetIpEcn((byte)r.Next(4)),
                        _ => FlowAction.SetMplsTc((byte)r.Next(8)),
                    });
                    break;
                default:
                    var a = ActionPropertyTests.RandomAction(r);
                    if (a.Kind != ActionKind.Output) items.Add(a);
                    break;
            }
        }
        items.Add(FlowAction.Output(2));
        return [.. items];
    }

    private static FlowMatch BySport(ushort sport)
        => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.TpSrc, new FlowKeyBuilder().TpSrc(sport).Key);

    private static FlowKey KeyOf(byte[] frame)
    {
        PacketParser.Parse(frame, 1, out var key, out _);
        return key;
    }
}
