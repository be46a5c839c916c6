using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The executor's fused plan (<see cref="ActionPlan"/>): what fuses, the retag's exact bytes, and, over random frames
/// (untagged, one or two tags of either TPID, MPLS, IPv4/IPv6/ARP, runts, little or no headroom, large buffers) and random
/// lists built around the fusable runs, that the fused list leaves every frame, buffer head, layer offset, output and
/// counter exactly as the same list run action by action.
/// </summary>
public class ActionPlanTests
{
    private const string Macs = "020000000002 020000000001";
    private const string Ip4Udp = "0800 4500001c 00000000 4011 0000 0a000001 0a000002 0001 0002 0008 0000";

    private static readonly FlowAction Retag20 = FlowAction.SetVlanVid(20);

    [Fact]
    public void RetagAndPushSetRunsFuseAndTheItemsStayAsWritten()
    {
        FlowAction[] items = [FlowAction.PopVlan(), FlowAction.PushVlan(0x8100), Retag20, FlowAction.SetVlanPcp(3), FlowAction.Output(2)];
        var list = new FlowActions(items);
        Assert.Same(items, list.Items);
        Assert.Equal(2, list.Plan.Length);
        Assert.Equal(ActionPlan.VlanRetag, list.Plan[0].Kind);
        Assert.Equal((0u, (ushort)4), (list.Plan[0].QueueId, list.Plan[0].Port));
        Assert.Equal(0x8100UL, list.Plan[0].Value);
        Assert.Equal((0x1000UL << 16) | 0x6014, list.Plan[0].Value2);
        Assert.Equal([false, false], list.PlanModifiedAfter);

        var mpls = new FlowActions([FlowAction.Output(1), FlowAction.PushMpls(0x8847), FlowAction.SetMplsLabel(100), FlowAction.SetMplsTtl(9), FlowAction.Output(2)]);
        Assert.Equal([ActionKind.Output, ActionPlan.MplsPushSet, ActionKind.Output], mpls.Plan.Select(a => a.Kind));
        Assert.Equal([true, false, false], mpls.PlanModifiedAfter);
        Assert.Equal(((ulong)0x00000F00 << 32) | (100u << 12) | 9, mpls.Plan[1].Value2);

        var push = new FlowActions([FlowAction.PushVlan(0x88A8), Retag20, FlowAction.Output(2)]);
        Assert.Equal([ActionPlan.VlanPushSet, ActionKind.Output], push.Plan.Select(a => a.Kind));
    }

    [Fact]
    public void ListsWithNothingToFuseRunTheirOwnItems()
    {
        FlowAction[][] lists =
        [
            [FlowAction.PushVlan(0x8100), FlowAction.Output(2)],
            [FlowAction.PopVlan(), FlowAction.SetVlanVid(5), FlowAction.Output(2)],
            [FlowAction.PushMpls(0x8847), FlowAction.DecMplsTtl(), FlowAction.SetMplsLabel(7)],
            [FlowAction.SetVlanVid(5), FlowAction.PushVlan(0x8100)],
        ];
        foreach (var items in lists)
        {
            var list = new FlowActions(items);
            Assert.Same(list.Items, list.Plan);
            Assert.Same(list.ModifiedAfter, list.PlanModifiedAfter);
        }
    }

    [Theory]
    // One tag: the pop takes it with its PCP and CFI; the pushed tag has nothing to copy.
    [InlineData("8100 b00a " + Ip4Udp, "8100 0014 " + Ip4Udp, 16)]
    // QinQ: the pushed tag copies the inner tag's PCP and CFI (0xb00a: PCP 5, CFI 1), the inner tag stays. The parser
    // stops at the inner tag's TPID; the pop made that tag known, so the ethertype is the one after it.
    [InlineData("88a8 6064 8100 b00a " + Ip4Udp, "8100 b014 8100 b00a " + Ip4Udp, 20)]
    // Untagged: the pop does nothing, the push inserts a tag (the frame grows by 4).
    [InlineData(Ip4Udp, "8100 0014 " + Ip4Udp, 16)]
    public void RetagGivesTheTagThePopThenPushGives(string l2AndAfter, string expected, int ethType)
    {
        var b = new Batch(Frames.Hex(Macs + l2AndAfter));
        b.Run(FlowAction.PopVlan(), FlowAction.PushVlan(0x8100), Retag20, FlowAction.Output(2));
        Assert.Equal(Convert.ToHexString(Frames.Hex(Macs + expected)), Convert.ToHexString(b.Frame(0)));
        PacketParser.Parse(b.Frame(0), 1, out _, out var fresh);
        fresh.EthType = (ushort)ethType;
        Assert.Equal(fresh, b.Layers[0]);
    }

    [Fact]
    public void FusedListsEqualTheirActionsOneByOne()
    {
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), seed =>
        {
            RunCase(seed);
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(4000));
    }

    [Fact]
    public void TheRowsListsEqualTheirActionsOneByOneOnEveryFrameShape()
    {
        // The benchmark rows' lists, on each frame shape the generator makes, many times over.
        for (int seed = 0; seed < 3000; seed++)
        {
            var r = new Random(seed);
            FlowAction[] items = (seed & 1) == 0
                ? [FlowAction.PopVlan(), FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid((ushort)r.Next(0x1000)), FlowAction.Output(2)]
                : [FlowAction.PushMpls(0x8847), FlowAction.SetMplsLabel((uint)r.Next(0x100000)), FlowAction.Output(3)];
            Compare(items, RandomFrames(r), $"seed {seed}");
        }
    }

    [Fact]
    public void FusedStepsAllocateNothing()
    {
        var exec = new ActionExecutor();
        var sink = new CountingSink();
        FlowActions[] lists =
        [
            new([FlowAction.PopVlan(), FlowAction.PushVlan(0x8100), Retag20, FlowAction.Output(2)]),
            new([FlowAction.PushMpls(0x8847), FlowAction.SetMplsLabel(100), FlowAction.Output(2)]),
            new([FlowAction.PushVlan(0x88A8), Retag20, FlowAction.Output(2)]),
        ];
        byte[] tagged = Frames.Hex(Macs + "8100 b00a " + Ip4Udp), untagged = Frames.Hex(Macs + Ip4Udp);
        foreach (var list in lists)
        {
            var pool = new PacketPool(33);
            var pkts = new int[32];
            var layers = new PacketLayers[32];
            var round = () =>
            {
                for (int i = 0; i < 32; i++)
                {
                    byte[] f = (i & 1) == 0 ? tagged : untagged;
                    pool.Head[pkts[i]] = PacketPool.Headroom;
                    pool.Write(pkts[i], f);
                    PacketParser.Parse(f, 1, out _, out layers[i]);
                }
                exec.Execute(list, pool, pkts, layers, ref sink);
            };
            for (int i = 0; i < 32; i++) pkts[i] = pool.Alloc();
            for (int i = 0; i < 200; i++) round();
            long allocated = AllocationMeter.SteadyState(() =>
            {
                for (int i = 0; i < 5_000; i++) round();
            });
            Assert.True(allocated == 0, $"{string.Join(",", list.Items)}: {allocated} bytes");
        }
        Assert.True(sink.Packets > 0);
    }

    private static void RunCase(int seed)
    {
        var r = new Random(seed);
        Compare(RandomList(r), RandomFrames(r), $"seed {seed}");
    }

    /// <summary>Runs <paramref name="items"/> fused and unfused on identical batches of <paramref name="frames"/> and
    /// compares everything the list can change.</summary>
    private static void Compare(FlowAction[] items, (byte[] Frame, int Head, bool Large)[] frames, string what)
    {
        var fused = new FlowActions(items);
        var plain = new FlowActions(items, fuse: false);
        var a = Run(fused, frames);
        var b = Run(plain, frames);
        string ctx = $"{what}: {string.Join(",", items)} on {string.Join(" ", frames.Select(f => Convert.ToHexString(f.Frame)[..Math.Min(48, f.Frame.Length * 2)]))}";
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.True(Convert.ToHexString(b.Pool.Frame(b.Pkts[i])) == Convert.ToHexString(a.Pool.Frame(a.Pkts[i])), $"frame {i}, {ctx}");
            Assert.True(b.Pool.Head[b.Pkts[i]] == a.Pool.Head[a.Pkts[i]], $"head {i}, {ctx}");
            Assert.True(b.Layers[i].Equals(a.Layers[i]), $"layers {i}, {ctx}");
        }
        Assert.True(b.Outputs.SequenceEqual(a.Outputs), $"outputs, {ctx}");
        foreach (var c in new[] { ActionExecutor.PushFailed, DatapathCounters.VlanPushFailed, ActionExecutor.InvalidTtlDrop })
            Assert.True(b.Counters[c] == a.Counters[c], $"{c}, {ctx}");
    }

    private static (PacketPool Pool, int[] Pkts, PacketLayers[] Layers, List<string> Outputs, CounterSet Counters) Run(FlowActions list, (byte[] Frame, int Head, bool Large)[] frames)
    {
        var pool = new PacketPool(frames.Length + 1, largeCapacity: frames.Length);
        var pkts = new int[frames.Length];
        var layers = new PacketLayers[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            var (f, head, large) = frames[i];
            pkts[i] = large ? pool.AllocLarge() : pool.Alloc();
            pool.Head[pkts[i]] = (ushort)head;
            Assert.True(pool.Write(pkts[i], f));
            PacketParser.Parse(f, 1, out _, out layers[i]);
        }
        var counters = new CounterSet();
        var sink = new RecordingSink();
        new ActionExecutor(counters).Execute(list, pool, pkts, layers, ref sink);
        var outputs = sink.Outputs.Select(o => $"{o.Port}/{o.MaxLen}/{o.Queue}/{o.ModifiedAfter}/{string.Join(".", o.Pkts)}").ToList();
        return (pool, pkts, layers, outputs, counters);
    }

    /// <summary>A batch of 1-6 frames: a base frame, 0-2 tags of either TPID, maybe an MPLS stack, maybe cut short; its
    /// buffer's headroom (often less than a push needs) and kind.</summary>
    internal static (byte[] Frame, int Head, bool Large)[] RandomFrames(Random r)
    {
        var batch = new (byte[], int, bool)[r.Next(1, 7)];
        for (int i = 0; i < batch.Length; i++)
        {
            byte[] f = r.Next(8) switch
            {
                0 => ActionOfp13Tests.Ipv4Tcp,
                1 => ActionOfp13Tests.Ipv4Udp,
                2 => ActionOfp13Tests.Ipv6Tcp,
                3 => ActionOfp13Tests.Ipv6Udp,
                4 => ActionOfp13Tests.Arp,
                5 => ActionOfp13Tests.Ipv6Ns,
                6 => ActionOfp13Tests.Ipv4Icmp,
                _ => Frames.Build(ActionPropertyTests.RandomSpec(r) with { VlanTci = null }),
            };
            var bytes = new List<byte>(f);
            if (r.Next(3) == 0)
            {
                // An MPLS stack of one or two entries (bottom of stack set on the last) in place of the ethertype's payload type.
                int depth = r.Next(1, 3);
                bytes[12] = 0x88;
                bytes[13] = r.Next(2) == 0 ? (byte)0x47 : (byte)0x48;
                for (int d = depth - 1; d >= 0; d--)
                {
                    uint lse = ((uint)r.Next(0x100000) << 12) | ((uint)r.Next(8) << 9) | (d == depth - 1 ? 0x100u : 0) | (uint)r.Next(256);
                    bytes.InsertRange(14, [(byte)(lse >> 24), (byte)(lse >> 16), (byte)(lse >> 8), (byte)lse]);
                }
            }
            int tags = r.Next(4) switch { 0 => 0, 1 or 2 => 1, _ => 2 };
            for (int t = 0; t < tags; t++)
            {
                ushort tpid = r.Next(3) == 0 ? (ushort)0x88A8 : (ushort)0x8100;
                ushort tci = (ushort)r.Next(0x10000);
                bytes.InsertRange(12, [(byte)(tpid >> 8), (byte)tpid, (byte)(tci >> 8), (byte)tci]);
            }
            byte[] frame = r.Next(6) == 0 ? bytes.Take(r.Next(0, 26)).ToArray() : bytes.ToArray();
            int head = r.Next(4) == 0 ? r.Next(0, 9) : PacketPool.Headroom;
            batch[i] = (frame, head, r.Next(8) == 0);
        }
        return batch;
    }

    /// <summary>1-4 runs: the fusable ones (pop+push+sets, push+sets, push_mpls+sets, some with their sets left out) and
    /// single actions that change the layers the runs meet (pushes and pops of each kind, TTL decrements, outputs).</summary>
    private static FlowAction[] RandomList(Random r)
    {
        var items = new List<FlowAction>();
        int runs = r.Next(1, 5);
        for (int i = 0; i < runs; i++)
        {
            ushort tpid = r.Next(3) == 0 ? (ushort)0x88A8 : (ushort)0x8100;
            switch (r.Next(7))
            {
                case 0:
                    items.Add(FlowAction.PopVlan());
                    items.Add(FlowAction.PushVlan(tpid));
                    AddVlanSets(r, items, r.Next(0, 3));
                    break;
                case 1:
                    items.Add(FlowAction.PushVlan(tpid));
                    AddVlanSets(r, items, r.Next(0, 3));
                    break;
                case 2:
                    items.Add(FlowAction.PushMpls(r.Next(2) == 0 ? (ushort)0x8847 : (ushort)0x8848));
                    for (int s = r.Next(0, 4); s > 0; s--)
                    {
                        items.Add(r.Next(4) switch
                        {
                            0 => FlowAction.SetMplsLabel((uint)r.Next(0x100000)),
                            1 => FlowAction.SetMplsTc((byte)r.Next(8)),
                            2 => FlowAction.SetMplsBos((byte)r.Next(2)),
                            _ => FlowAction.SetMplsTtl((byte)r.Next(256)),
                        });
                    }
                    break;
                case 3:
                    items.Add(r.Next(6) switch
                    {
                        0 => FlowAction.PopVlan(),
                        1 => FlowAction.PopMpls(r.Next(2) == 0 ? (ushort)0x0800 : (ushort)0x86DD),
                        2 => FlowAction.PushPbb(),
                        3 => FlowAction.PopPbb(),
                        4 => FlowAction.DecMplsTtl(),
                        _ => FlowAction.DecNwTtl(),
                    });
                    break;
                case 4:
                    items.Add(FlowAction.Output((ushort)r.Next(1, 5)));
                    break;
                default:
                    items.Add(ActionPropertyTests.RandomAction(r));
                    break;
            }
        }
        if (r.Next(2) == 0) items.Add(FlowAction.Output(2));
        return [.. items];
    }

    private static void AddVlanSets(Random r, List<FlowAction> items, int n)
    {
        for (int s = 0; s < n; s++)
            items.Add(r.Next(2) == 0 ? FlowAction.SetVlanVid((ushort)r.Next(0x10000)) : FlowAction.SetVlanPcp((byte)r.Next(256)));
    }
}
