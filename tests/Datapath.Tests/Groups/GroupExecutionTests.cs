using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

/// <summary>The group action: each group type's semantics, copies, counters, liveness, select spreading, and no allocation.</summary>
public class GroupExecutionTests
{
    /// <summary>Records every output with a copy of the frame as it was sent.</summary>
    private struct FrameSink(PacketPool pool) : IActionSink
    {
        public readonly List<(ushort Port, byte[] Frame, int Buffer)> Sent = [];

        public readonly void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            foreach (int p in pkts) Sent.Add((port, pool.Frame(p).ToArray(), p));
        }

        public readonly void SetTunnel(ulong tunnelId) { }

        public readonly void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }

        public readonly void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
            => Output(PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
    }

    private sealed class Rig
    {
        public readonly PortSlot[] Slots;
        public readonly MemoryPort[] Ports;
        public readonly GroupTable Groups;
        public readonly PacketPool Pool = new(256);
        public readonly CounterSet Counters = new();
        public readonly ActionExecutor Exec;

        public Rig(int ports = 4)
        {
            Ports = new MemoryPort[ports];
            Slots = new PortSlot[ports];
            for (int i = 0; i < ports; i++)
            {
                Ports[i] = new MemoryPort($"g{i + 1}", new MacAddress(0x020000000010UL + (ulong)i));
                Slots[i] = new PortSlot(Ports[i], (ushort)(i + 1), i, 1);
            }
            var table = new PortTable(Slots, null);
            Groups = new GroupTable(() => table);
            Exec = new ActionExecutor(Counters) { Groups = Groups };
        }

        public void SetLink(int port, bool up)
        {
            Ports[port - 1].SetLink(up);
            Slots[port - 1].PollLinkChange();
        }

        public int Load(byte[] frame)
        {
            int p = Pool.Alloc();
            Pool.Write(p, frame);
            return p;
        }

        public FrameSink Run(FlowActions actions, params byte[][] frames)
        {
            var pkts = frames.Select(Load).ToArray();
            var layers = frames.Select(ActionOfp13Tests.LayersOf).ToArray();
            var sink = new FrameSink(Pool);
            Exec.Execute(actions, Pool, pkts, layers, ref sink);
            Pool.Release(pkts);
            return sink;
        }
    }

    private static FlowActions List(params FlowAction[] a) => new(a);

    private static ushort TpSrc(byte[] frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34));

    private static byte[] Udp(ushort src, ushort dst)
    {
        var f = (byte[])ActionOfp13Tests.Ipv4Udp.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), src);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), dst);
        return f;
    }

    /// <summary>Records each output with the tunnel id in force.</summary>
    private struct TunnelSink : IActionSink
    {
        public ulong Tunnel;
        public List<(ushort Port, ulong Tunnel)> Sent;

        public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts) => Sent.Add((port, Tunnel));
        public void SetTunnel(ulong tunnelId) => Tunnel = tunnelId;
        public readonly void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }
        public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
            => Output(PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
    }

    [Fact]
    public void ABucketsSetTunnelIsTheBucketsAlone()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(5, GroupType.All,
            [new GroupBucket(List(FlowAction.SetTunnel(7), FlowAction.Output(2))), new GroupBucket(List(FlowAction.Output(3)))], 0));
        var pkts = new[] { rig.Load(ActionOfp13Tests.Ipv4Udp) };
        var layers = new[] { ActionOfp13Tests.LayersOf(ActionOfp13Tests.Ipv4Udp) };
        var sink = new TunnelSink { Sent = [] };
        rig.Exec.Execute(List(FlowAction.SetTunnel(9), FlowAction.Group(5), FlowAction.Output(4)), rig.Pool, pkts, layers, ref sink);
        rig.Pool.Release(pkts);
        // The first bucket's output goes with 7; the second bucket's and the list's after the group with the list's 9.
        Assert.Equal([(2, 7UL), (3, 9UL), (4, 9UL)], sink.Sent);
    }

    [Fact]
    public void AllGroupRunsEveryBucketOnItsOwnCopyAndTheListSeesTheOriginal()
    {
        var rig = new Rig();
        int free = rig.Pool.FreeCount;
        rig.Groups.Set(new Group(10, GroupType.All,
        [
            new GroupBucket(List(FlowAction.SetTpSrc(2000), FlowAction.Output(1))),
            new GroupBucket(List(FlowAction.SetTpSrc(3000), FlowAction.Output(2))),
        ], 0));
        var sink = rig.Run(List(FlowAction.Group(10), FlowAction.Output(3)), ActionOfp13Tests.Ipv4Udp);
        Assert.Equal([(ushort)1, 2, 3], sink.Sent.Select(s => s.Port));
        Assert.Equal(2000, TpSrc(sink.Sent[0].Frame));
        Assert.Equal(3000, TpSrc(sink.Sent[1].Frame));
        Assert.Equal(TpSrc(ActionOfp13Tests.Ipv4Udp), TpSrc(sink.Sent[2].Frame));
        Assert.Equal(free, rig.Pool.FreeCount); // every copy went back
        rig.Groups.TryGet(10, out var g);
        Assert.Equal(1, g.Packets);
        Assert.Equal(ActionOfp13Tests.Ipv4Udp.Length, g.Bytes);
        Assert.All(g.Buckets, b => Assert.Equal(1, b.Packets));
    }

    [Fact]
    public void AGroupEndingTheListRunsItsLastBucketOnThePacketItself()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.All,
        [
            new GroupBucket(List(FlowAction.Output(1))),
            new GroupBucket(List(FlowAction.SetTpSrc(7), FlowAction.Output(2))),
        ], 0));
        var frame = ActionOfp13Tests.Ipv4Udp;
        int p = rig.Load(frame);
        var sink = new FrameSink(rig.Pool);
        rig.Exec.Execute(List(FlowAction.Group(1)), rig.Pool, [p], [ActionOfp13Tests.LayersOf(frame)], ref sink);
        Assert.NotEqual(p, sink.Sent[0].Buffer); // the first bucket had a copy
        Assert.Equal(p, sink.Sent[1].Buffer);    // the last bucket the packet
        Assert.Equal(7, TpSrc(rig.Pool.Frame(p).ToArray()));
    }

    [Fact]
    public void IndirectGroupRunsItsBucketAndChainsFollow()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(2, GroupType.Indirect, [new GroupBucket(List(FlowAction.Output(4)))], 0));
        rig.Groups.Set(new Group(1, GroupType.Indirect, [new GroupBucket(List(FlowAction.SetTpDst(99), FlowAction.Group(2)))], 0));
        var sink = rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp);
        var sent = Assert.Single(sink.Sent);
        Assert.Equal(4, sent.Port);
        Assert.Equal(99, BinaryPrimitives.ReadUInt16BigEndian(sent.Frame.AsSpan(36)));
    }

    [Fact]
    public void AMissingGroupOrAChainTooDeepAppliesNothingAndIsCounted()
    {
        var rig = new Rig();
        var sink = rig.Run(List(FlowAction.Group(5), FlowAction.Output(1)), ActionOfp13Tests.Ipv4Udp);
        Assert.Single(sink.Sent);
        Assert.Equal(1, rig.Counters[ActionExecutor.GroupMissing]);

        // A chain longer than the datapath follows (the layer above refuses it; here it cannot loop forever).
        for (uint id = 0; id <= GroupTable.MaxDepth; id++)
            rig.Groups.Set(new Group(id, GroupType.Indirect, [new GroupBucket(List(FlowAction.Group(id + 1)))], 0));
        rig.Groups.Set(new Group(GroupTable.MaxDepth + 1, GroupType.Indirect, [new GroupBucket(List(FlowAction.Output(2)))], 0));
        Assert.Empty(rig.Run(List(FlowAction.Group(0)), ActionOfp13Tests.Ipv4Udp).Sent);
        Assert.Equal(1, rig.Counters[ActionExecutor.GroupTooDeep]);
    }

    [Fact]
    public void FastFailoverTakesTheFirstLiveBucketAsLinksGoAndCome()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.FastFailover,
        [
            new GroupBucket(List(FlowAction.Output(1)), watchPort: 1),
            new GroupBucket(List(FlowAction.Output(2)), watchPort: 2),
        ], 0));
        Assert.Equal(1, rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent.Single().Port);
        rig.SetLink(1, false);
        Assert.Equal(2, rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent.Single().Port);
        rig.Slots[1].SetConfig(PortConfig.PortDown); // administratively down counts as dead too
        Assert.Empty(rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent);
        Assert.Equal(1, rig.Counters[ActionExecutor.GroupNoLiveBucket]);
        rig.SetLink(1, true);
        Assert.Equal(1, rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent.Single().Port);
    }

    [Fact]
    public void FastFailoverFollowsAWatchedGroup()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(7, GroupType.FastFailover, [new GroupBucket(List(FlowAction.Output(3)), watchPort: 3)], 0));
        rig.Groups.Set(new Group(1, GroupType.FastFailover,
        [
            new GroupBucket(List(FlowAction.Group(7)), watchGroup: 7),
            new GroupBucket(List(FlowAction.Output(2)), watchPort: 2),
        ], 0));
        Assert.Equal(3, rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent.Single().Port);
        rig.SetLink(3, false);
        Assert.Equal(2, rig.Run(List(FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent.Single().Port);
    }

    /// <summary>Sends <paramref name="flows"/> UDP flows (a batch of 32 at a time) and returns each flow's output port.</summary>
    private static ushort[] Spread(Rig rig, uint group, int flows, int seed = 1)
    {
        var rnd = new Random(seed);
        var frames = Enumerable.Range(0, flows).Select(i => Udp((ushort)i, (ushort)rnd.Next(0, 65536))).ToArray();
        var ports = new ushort[flows];
        for (int i = 0; i < flows; i += 32)
        {
            var batch = frames.Skip(i).Take(32).ToArray();
            var sink = rig.Run(List(FlowAction.Group(group)), batch);
            Assert.Equal(batch.Length, sink.Sent.Count);
            foreach (var (port, frame, _) in sink.Sent) ports[TpSrc(frame)] = port;
        }
        return ports;
    }

    [Fact]
    public void SelectSpreadsFlowsEvenlyAndKeepsEachOnItsBucket()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select,
            [.. Enumerable.Range(2, 3).Select(p => new GroupBucket(List(FlowAction.Output((ushort)p)), weight: 1))], 0));
        var first = Spread(rig, 1, 3000);
        var again = Spread(rig, 1, 3000);
        Assert.Equal(first, again);
        foreach (int port in new[] { 2, 3, 4 })
        {
            int n = first.Count(p => p == port);
            Assert.InRange(n, 900, 1100);
        }
    }

    public static TheoryData<string> PacketTypes => new() { "random MACs", "ARP, random ARP addresses", "ARP, random addresses", "IPv4, random addresses and ports", "IPv6, random addresses", "other type, random MACs" };

    /// <summary>A frame of <paramref name="type"/> with its varying fields drawn from <paramref name="rnd"/>.</summary>
    private static byte[] RandomFrame(string type, Random rnd)
    {
        byte[] f = type switch
        {
            "random MACs" => (byte[])ActionOfp13Tests.Ipv4Udp.Clone(),
            "ARP, random ARP addresses" or "ARP, random addresses" => (byte[])ActionOfp13Tests.Arp.Clone(),
            "IPv4, random addresses and ports" => (byte[])ActionOfp13Tests.Ipv4Udp.Clone(),
            "IPv6, random addresses" => (byte[])ActionOfp13Tests.Ipv6Udp.Clone(),
            _ => Frames.Hex("020000000002 020000000001 88b5 00000000000000000000000000000000000000000000000000000000000000000000"),
        };
        void Fill(int at, int n) => rnd.NextBytes(f.AsSpan(at, n));
        switch (type)
        {
            case "random MACs" or "other type, random MACs" or "ARP, random addresses":
                Fill(0, 12);
                f[0] &= 0xFE; f[6] &= 0xFE;
                if (type == "ARP, random addresses") Fill(22, 20);
                break;
            case "ARP, random ARP addresses": Fill(22, 20); break; // SHA, SPA, THA, TPA; the Ethernet header fixed
            case "IPv4, random addresses and ports": Fill(26, 8); Fill(34, 4); break;
            case "IPv6, random addresses": Fill(22, 32); break;
        }
        return f;
    }

    [Theory]
    [MemberData(nameof(PacketTypes))]
    public void SelectSpreadsEachPacketTypeOverTheBuckets(string type)
    {
        // Four buckets of weight 1, 4000 packets whose varying fields are random: each bucket within a quarter of its share.
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select,
            [.. Enumerable.Range(1, 4).Select(p => new GroupBucket(List(FlowAction.Output((ushort)p)), weight: 1))], 0));
        var rnd = new Random(4242);
        var perPort = new int[5];
        for (int i = 0; i < 4000; i += 32)
        {
            var batch = Enumerable.Range(0, 32).Select(_ => RandomFrame(type, rnd)).ToArray();
            foreach (var (port, _, _) in rig.Run(List(FlowAction.Group(1)), batch).Sent) perPort[port]++;
        }
        for (int port = 1; port <= 4; port++) Assert.InRange(perPort[port], 750, 1250);
    }

    [Fact]
    public void SelectHonoursWeights()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select,
        [
            new GroupBucket(List(FlowAction.Output(1)), weight: 1),
            new GroupBucket(List(FlowAction.Output(2)), weight: 3),
            new GroupBucket(List(FlowAction.Output(3)), weight: 0),
        ], 0));
        var ports = Spread(rig, 1, 4000);
        Assert.InRange(ports.Count(p => p == 1), 850, 1150);
        Assert.InRange(ports.Count(p => p == 2), 2850, 3150);
        Assert.DoesNotContain((ushort)3, ports);
    }

    [Fact]
    public void ADeadSelectBucketMovesOnlyItsOwnFlows()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select,
            [.. Enumerable.Range(1, 4).Select(p => new GroupBucket(List(FlowAction.Output((ushort)p)), weight: 1, watchPort: (ushort)p))], 0));
        var before = Spread(rig, 1, 2000);
        rig.SetLink(4, false);
        var after = Spread(rig, 1, 2000);
        for (int i = 0; i < before.Length; i++)
        {
            if (before[i] != 4) Assert.Equal(before[i], after[i]);
            else Assert.NotEqual(4, after[i]);
        }
        int moved = before.Count(p => p == 4);
        Assert.InRange(moved, 350, 650);
        // The moved flows spread over the live buckets too.
        foreach (int port in new[] { 1, 2, 3 })
            Assert.InRange(Enumerable.Range(0, before.Length).Count(i => before[i] == 4 && after[i] == port), moved / 6, moved / 2);
        rig.SetLink(4, true);
        Assert.Equal(before, Spread(rig, 1, 2000));
    }

    [Fact]
    public void DpHashSelect_SpreadsFlowsByWeightOverItsHashTable_EachFlowOnItsBucket()
    {
        // Weights 1 and 3: Open vSwitch's table of 16 hash values, 4 and 12 of them (Webster's method).
        var rig = new Rig();
        var g = new Group(1, GroupType.Select,
        [
            new GroupBucket(List(FlowAction.Output(1)), weight: 1),
            new GroupBucket(List(FlowAction.Output(2)), weight: 3),
        ], 0, SelectMethod.DpHash, hashBasis: 7);
        Assert.Equal(SelectMethod.DpHash, g.Method);
        Assert.Equal(16, g.SlotCount);
        rig.Groups.Set(g);
        var first = Spread(rig, 1, 4000);
        Assert.Equal(first, Spread(rig, 1, 4000));
        Assert.InRange(first.Count(p => p == 1), 850, 1150);
        Assert.InRange(first.Count(p => p == 2), 2850, 3150);
        // Another basis is another hash: the flows' buckets differ, the shares do not.
        rig.Groups.Set(new Group(1, GroupType.Select, g.Buckets, 0, SelectMethod.DpHash, hashBasis: 8));
        var other = Spread(rig, 1, 4000);
        Assert.NotEqual(first, other);
        Assert.InRange(other.Count(p => p == 1), 850, 1150);
    }

    [Fact]
    public void DpHashSelect_SkipsADeadBucket_TheOthersFlowsStay()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select,
            [.. Enumerable.Range(1, 4).Select(p => new GroupBucket(List(FlowAction.Output((ushort)p)), weight: 1, watchPort: (ushort)p))], 0,
            SelectMethod.DpHash));
        var before = Spread(rig, 1, 2000);
        foreach (int port in new[] { 1, 2, 3, 4 }) Assert.InRange(before.Count(p => p == port), 400, 600);
        rig.SetLink(4, false);
        var after = Spread(rig, 1, 2000);
        Assert.DoesNotContain((ushort)4, after);
        for (int i = 0; i < before.Length; i++)
            if (before[i] != 4) Assert.Equal(before[i], after[i]);
        rig.SetLink(4, true);
        Assert.Equal(before, Spread(rig, 1, 2000));
    }

    [Fact]
    public void DpHashSelect_NeedingMoreThan256HashValues_FallsBackToTheDefault()
    {
        GroupBucket[] buckets = [new(List(FlowAction.Output(1)), weight: 1), new(List(FlowAction.Output(2)), weight: 300)];
        var g = new Group(1, GroupType.Select, buckets, 0, SelectMethod.DpHash);
        Assert.Equal(SelectMethod.Default, g.Method);
        Assert.Equal(SelectMethod.Default, new Group(2, GroupType.Select, buckets, 0, SelectMethod.Hash).Method); // hash without fields
    }

    [Fact]
    public void HashFieldsSelect_HashesOnlyTheNamedFields()
    {
        // fields(udp_dst): every packet of one destination port takes one bucket, whatever its source port; the
        // destinations spread over both buckets.
        var rig = new Rig();
        var fields = new FlowKeyBuilder().TpDst(0xffff).Key;
        rig.Groups.Set(new Group(1, GroupType.Select,
            [new GroupBucket(List(FlowAction.Output(1)), weight: 1), new GroupBucket(List(FlowAction.Output(2)), weight: 1)], 0,
            SelectMethod.Hash, hashBasis: 3, hashFields: fields));
        var byDst = new Dictionary<ushort, ushort>();
        var rnd = new Random(5);
        for (int i = 0; i < 2000; i += 32)
        {
            var batch = Enumerable.Range(i, 32).Select(n => Udp((ushort)rnd.Next(0, 65536), (ushort)(n % 64))).ToArray();
            foreach (var (port, frame, _) in rig.Run(List(FlowAction.Group(1)), batch).Sent)
            {
                ushort dst = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(36));
                if (byDst.TryGetValue(dst, out var seen)) Assert.Equal(seen, port);
                else byDst[dst] = port;
            }
        }
        Assert.Equal(64, byDst.Count);
        Assert.InRange(byDst.Values.Count(p => p == 1), 16, 48);
        // The masked bits alone count: under mask 0xfff0, ports 0-15 are one value.
        rig.Groups.Set(new Group(1, GroupType.Select, rig.Groups.All.Single().Buckets, 0,
            SelectMethod.Hash, hashBasis: 3, hashFields: new FlowKeyBuilder().TpDst(0xfff0).Key));
        var ports = rig.Run(List(FlowAction.Group(1)), [.. Enumerable.Range(0, 16).Select(n => Udp((ushort)(n * 977), (ushort)n))]).Sent.Select(s => s.Port).Distinct();
        Assert.Single(ports);
    }

    [Fact]
    public void SelectCountsBucketsAndEmptyGroupsDropWithACount()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select, [], 0));
        Assert.Single(rig.Run(List(FlowAction.Output(2), FlowAction.Group(1)), ActionOfp13Tests.Ipv4Udp).Sent);
        Assert.Equal(1, rig.Counters[ActionExecutor.GroupNoLiveBucket]);

        rig.Groups.Set(new Group(2, GroupType.Select,
            [new GroupBucket(List(FlowAction.Output(1)), weight: 1), new GroupBucket(List(FlowAction.Output(2)), weight: 1)], 0));
        Spread(rig, 2, 320);
        rig.Groups.TryGet(2, out var g);
        Assert.Equal(320, g.Packets);
        Assert.Equal(320, g.Buckets.Sum(b => b.Packets));
        Assert.Equal(g.Bytes, g.Buckets.Sum(b => b.Bytes));
    }

    [Fact]
    public void FragmentsOfOneDatagramTakeOneBucket()
    {
        var first = (byte[])ActionOfp13Tests.Ipv4Udp.Clone();
        first[20] = 0x20; // MF
        var later = (byte[])ActionOfp13Tests.Ipv4Udp.Clone();
        later[21] = 0x10; // offset 16 bytes, no L4 header
        var lf = ActionOfp13Tests.LayersOf(first);
        var ll = ActionOfp13Tests.LayersOf(later);
        Assert.True(lf.Has(LayerFlags.Fragment) && ll.Has(LayerFlags.Fragment));
        Assert.Equal(ActionExecutor.FlowHashOf(first, lf), ActionExecutor.FlowHashOf(later, ll));
        Assert.NotEqual(ActionExecutor.FlowHashOf(Udp(1, 2), ActionOfp13Tests.LayersOf(Udp(1, 2))),
                        ActionExecutor.FlowHashOf(Udp(1, 3), ActionOfp13Tests.LayersOf(Udp(1, 3))));
    }

    [Fact]
    public void GroupsAllocateNothingPerBatch()
    {
        var rig = new Rig();
        rig.Groups.Set(new Group(1, GroupType.Select,
            [.. Enumerable.Range(1, 3).Select(p => new GroupBucket(List(FlowAction.Output((ushort)p)), weight: 1, watchPort: (ushort)p))], 0));
        rig.Groups.Set(new Group(2, GroupType.All,
            [new GroupBucket(List(FlowAction.SetTpSrc(1), FlowAction.Output(1))), new GroupBucket(List(FlowAction.Group(1)))], 0));
        rig.SetLink(2, false);
        var frames = Enumerable.Range(0, 32).Select(i => Udp((ushort)i, 80)).ToArray();
        var pkts = frames.Select(rig.Load).ToArray();
        var layers = frames.Select(ActionOfp13Tests.LayersOf).ToArray();
        var work = new PacketLayers[32];
        var actions = List(FlowAction.Group(2), FlowAction.Output(4));
        var sink = new CountingSink();
        for (int i = 0; i < 10; i++)
        {
            layers.CopyTo(work, 0);
            rig.Exec.Execute(actions, rig.Pool, pkts, work, ref sink);
        }
        // The measured loop runs long enough to be tiered up on the stack, which may allocate on this thread once:
        // the steady-state figure is the smallest of a few rounds (AllocationMeter).
        int rounds = 0;
        long allocated = AllocationMeter.SteadyState(() =>
        {
            rounds++;
            for (int i = 0; i < 1000; i++)
            {
                layers.CopyTo(work, 0);
                rig.Exec.Execute(actions, rig.Pool, pkts, work, ref sink);
            }
        });
        Assert.Equal(0, allocated);
        Assert.Equal((10 + 1000 * rounds) * 32 * 3, sink.Packets);
    }
}
