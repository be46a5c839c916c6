using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// What groups cost a forwarding thread is bounded whatever the groups: liveness works out each watched group once per
/// question, a watch cycle answers dead, and a question checks at most <see cref="GroupTable.MaxLivenessChecks"/>
/// buckets (the port table's lookups, one per watched-port check, count the work); one action list runs at most
/// <see cref="ActionExecutor.MaxBucketRuns"/> buckets.
/// </summary>
public class GroupWorkBoundsTests
{
    private const ushort DeadPort = 9; // no such port: never live

    private sealed class Rig
    {
        public readonly GroupTable Groups;
        public long PortLookups;

        public Rig()
        {
            var port = new MemoryPort("l1", new MacAddress(0x020000000010UL));
            var table = new PortTable([new PortSlot(port, 1, 0, 1)], null);
            Groups = new GroupTable(() =>
            {
                PortLookups++;
                return table;
            });
        }
    }

    private static FlowActions Out(ushort port) => new([FlowAction.Output(port)]);

    /// <summary>A fast-failover group whose <paramref name="n"/> buckets each watch one of <paramref name="watched"/> in turn, then a port.</summary>
    private static Group Watching(uint id, int n, uint[] watched, ushort port = DeadPort)
    {
        var buckets = new GroupBucket[n];
        for (int i = 0; i < n; i++) buckets[i] = new GroupBucket(Out(1), watchPort: port, watchGroup: watched[i % watched.Length]);
        return new Group(id, GroupType.FastFailover, buckets, 0);
    }

    [Fact]
    public void AGroupWatchedFromManyBuckets_IsWorkedOutOnce()
    {
        // Eight levels of eight buckets, each bucket watching the level below (and a dead port): 8^8 paths to the bottom.
        var rig = new Rig();
        const int Levels = 8, Fan = 8;
        rig.Groups.Set(Watching(100 + Levels - 1, Fan, [GroupBucket.NoWatchGroup]));
        for (uint level = Levels - 1; level-- > 0;) rig.Groups.Set(Watching(100 + level, Fan, [100 + level + 1]));
        rig.Groups.TryGet(100, out var top);

        Assert.Equal(-1, rig.Groups.FirstLive(top));
        Assert.Equal(Levels * Fan, rig.PortLookups); // each bucket of each level once
    }

    [Fact]
    public void AWatchCycle_AnswersDeadAfterVisitingEachGroupOnce()
    {
        // The layer above refuses watch cycles; the datapath must still answer quickly if one is set.
        var rig = new Rig();
        const int Fan = 4;
        rig.Groups.Set(Watching(1, Fan, [2]));
        rig.Groups.Set(Watching(2, Fan, [3]));
        rig.Groups.Set(Watching(3, Fan, [1]));
        rig.Groups.TryGet(1, out var g);

        Assert.Equal(-1, rig.Groups.FirstLive(g));
        Assert.True(rig.PortLookups <= 2 * 3 * Fan, $"{rig.PortLookups} port lookups");
        Assert.False(rig.Groups.IsLive(g.Buckets[0]));
        // A live port anywhere on the cycle makes every group on it live.
        rig.Groups.Set(Watching(3, Fan, [1], port: 1));
        Assert.Equal(0, rig.Groups.FirstLive(g));
    }

    [Fact]
    public void AQuestionChecksAtMostItsBudget_AndTheExecutorCountsACutShortQuestion()
    {
        // One group of 1024 buckets watching 1024 distinct groups of 1024 buckets each: a million checks uncut.
        var rig = new Rig();
        var watched = new uint[Group.MaxBuckets];
        for (int i = 0; i < watched.Length; i++)
        {
            watched[i] = 1000 + (uint)i;
            rig.Groups.Set(Watching(watched[i], Group.MaxBuckets, [GroupBucket.NoWatchGroup]));
        }
        rig.Groups.Set(Watching(1, Group.MaxBuckets, watched));
        rig.Groups.TryGet(1, out var top);

        Assert.Equal(-1, rig.Groups.FirstLive(top));
        Assert.True(rig.PortLookups <= 4 * Group.MaxBuckets, $"{rig.PortLookups} port lookups");

        var counters = new CounterSet();
        var exec = new ActionExecutor(counters) { Groups = rig.Groups };
        var pool = new PacketPool(8);
        int p = pool.Alloc();
        pool.Write(p, ActionOfp13Tests.Ipv4Udp);
        var layers = new[] { ActionOfp13Tests.LayersOf(ActionOfp13Tests.Ipv4Udp) };
        var sink = new DropSink();
        exec.Execute(new FlowActions([FlowAction.Group(1)]), pool, [p], layers, ref sink);
        pool.Release(p);
        Assert.Equal(1, counters[ActionExecutor.GroupNoLiveBucket]);
        Assert.Equal(1, counters[ActionExecutor.GroupLivenessCutShort]);
    }

    [Fact]
    public void AnActionListRunsAtMostItsBucketRuns_WhenAllGroupsFanOutThroughAChain()
    {
        // Three levels of ALL groups of 32 buckets, each applying the level below; the bottom outputs: 32^3 = 32,768
        // outputs of one packet, and 33,824 bucket runs.
        var rig = new Rig();
        const int Fan = 32;
        for (uint level = 3; level >= 1; level--)
        {
            var buckets = new GroupBucket[Fan];
            for (int i = 0; i < Fan; i++)
                buckets[i] = new GroupBucket(level == 3 ? Out(1) : new FlowActions([FlowAction.Group(level + 1)]));
            rig.Groups.Set(new Group(level, GroupType.All, buckets, 0));
        }
        var counters = new CounterSet();
        var exec = new ActionExecutor(counters) { Groups = rig.Groups };
        var pool = new PacketPool(64);
        int p = pool.Alloc();
        pool.Write(p, ActionOfp13Tests.Ipv4Udp);
        var layers = new[] { ActionOfp13Tests.LayersOf(ActionOfp13Tests.Ipv4Udp) };
        int free = pool.FreeCount;
        var sink = new CountingSink();
        exec.Execute(new FlowActions([FlowAction.Group(1)]), pool, [p], layers, ref sink);

        Assert.InRange(sink.Outputs.Count, 1, ActionExecutor.MaxBucketRuns);
        Assert.True(counters[ActionExecutor.GroupBucketRunsExceeded] > 0);
        Assert.Equal(free, pool.FreeCount); // every copy released
        // The next list starts with its own runs.
        var next = new CountingSink();
        exec.Execute(new FlowActions([FlowAction.Group(3)]), pool, [p], layers, ref next);
        Assert.Equal(Fan, next.Outputs.Count);
        pool.Release(p);
    }

    private readonly struct CountingSink() : IActionSink
    {
        public readonly List<ushort> Outputs = [];
        public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            foreach (int _ in pkts) Outputs.Add(port);
        }
        public void SetTunnel(ulong tunnelId) { }
        public void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }
        public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts) { }
    }

    private struct DropSink : IActionSink
    {
        public readonly void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts) { }
        public readonly void SetTunnel(ulong tunnelId) { }
        public readonly void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }
        public readonly void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts) { }
    }
}
