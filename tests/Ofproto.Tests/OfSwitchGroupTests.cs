using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// Group-mods through <see cref="OfSwitch"/>: every rule and its error, chains and loops, the flows a group's deletion
/// deletes (reported GROUP_DELETE), out_group filters, descriptions read back as given, statistics and reference counts.
/// </summary>
public sealed class OfSwitchGroupTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[4];
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

    public OfSwitchGroupTests()
    {
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

    private static OfBucket Bucket(params OfAction[] actions) => new(0, OfPort.Any, GroupModRequest.AnyGroup, actions);

    private static GroupModRequest Add(uint id, OfGroupType type, params OfBucket[] buckets) => new(GroupModCommand.Add, type, id, buckets);

    private static FlowModRequest Flow(ushort tpDst, params OfAction[] actions)
        => new(FlowModCommand.Add, new OfMatch().EthType(0x0800).NwProto(17).TpDst(tpDst), 10, OfInstructions.Apply(actions),
               Flags: FlowModFlags.SendFlowRemoved, Rules: MatchRules.OpenFlow13);

    private void Send(ushort tpDst)
    {
        _ports[0].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, tpDst));
        _dp.PollUntilIdle();
    }

    [Fact]
    public void EveryModelGroupType_BecomesTheDatapathTypeOfItsName()
    {
        foreach (var t in Enum.GetValues<OfGroupType>())
            Assert.Equal(t.ToString(), OfSwitch.ToDatapath(t).ToString());
        Assert.Equal(Enum.GetValues<OfGroupType>().Length, Enum.GetValues<Softswitch.Datapath.Groups.GroupType>().Length);
    }

    [Fact]
    public void GroupRulesAnswerWithTheSpecErrors()
    {
        var output1 = Bucket(OfAction.Output(1));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(GroupModRequest.AllGroups, OfGroupType.All, output1)));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(GroupModRequest.MaxId + 1, OfGroupType.All, output1)));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(GroupModRequest.MaxId, OfGroupType.All, output1)));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(1, OfGroupType.Indirect)));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(1, OfGroupType.Indirect, output1, output1)));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(1, OfGroupType.All, output1 with { Weight = 1 })));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(1, OfGroupType.Select, output1, output1)));
        Assert.Equal(OfError.InvalidGroup, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1)));
        Assert.Equal(OfError.WatchUnsupported, _sw.GroupMod(Add(1, OfGroupType.All, output1 with { WatchPort = 1 })));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchPort = 9 })));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchPort = OfPort.Controller })));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchGroup = 5 })));
        Assert.Equal(OfError.BadOutPort, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(9)))));
        Assert.Equal(OfError.BadOutGroup, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Group(2)))));
        Assert.Equal(OfError.BadGroupType, _sw.GroupMod(Add(1, (OfGroupType)4, output1)));
        Assert.Equal(OfError.UnknownGroup, _sw.GroupMod(Add(1, OfGroupType.All, output1) with { Command = GroupModCommand.Modify }));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.Select, output1 with { Weight = 0 }, output1 with { Weight = 3 })));
        Assert.Equal(OfError.GroupExists, _sw.GroupMod(Add(1, OfGroupType.All, output1)));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.FastFailover, output1 with { WatchPort = 1 }, output1 with { WatchGroup = 1 })));
        // Nothing refused was kept.
        Assert.Equal([1u, 2u, GroupModRequest.MaxId], _sw.GroupDescriptions().Select(d => d.GroupId));
        // A slave may not write.
        var slave = _sw.Roles.Join();
        _sw.Roles.Request(slave, OfRole.Slave, 0);
        Assert.Equal(OfError.IsSlave, _sw.GroupMod(Add(3, OfGroupType.All, output1), slave));
    }

    /// <summary>
    /// A bucket's actions are applied as an action set (OpenFlow 1.3.5 section 5.6.1; Open vSwitch's xlate_group_bucket):
    /// an output written before a set-field outputs the rewritten frame, a later output of the bucket replaces an earlier
    /// one, a group beside an output wins, and the group's description keeps the actions as they were written.
    /// </summary>
    [Fact]
    public void ABucketRunsAsAnActionSet_TheDescriptionKeepsItAsWritten()
    {
        var mac = MacAddress.Parse("02:00:00:00:00:99");
        OfAction[] written = [OfAction.Output(2), OfAction.SetEthDst(mac.Value), OfAction.SetVlanVid(5), OfAction.PushVlan(0x8100)];
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(written), Bucket(OfAction.Output(3), OfAction.Output(4)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.Indirect, Bucket(OfAction.Output(3), OfAction.Group(1)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(5, OfAction.Group(1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(6, OfAction.Group(2))));
        Send(5);
        var two = Assert.Single(_ports[1].TakeSent());
        Assert.Equal(mac, MacAddress.Read(two));
        Assert.Equal((ushort)0x8100, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(two.AsSpan(12)));
        Assert.Equal(5, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(two.AsSpan(14)) & 0x0FFF);
        Assert.Empty(_ports[2].TakeSent());
        Assert.Single(_ports[3].TakeSent());
        Send(6); // group 2's group wins over its output: group 1 again
        Assert.Single(_ports[1].TakeSent());
        Assert.Empty(_ports[2].TakeSent());
        Assert.Single(_ports[3].TakeSent());
        var desc = Assert.Single(_sw.GroupDescriptions(1));
        Assert.Equal(written, desc.Buckets[0].Actions.ToArray());
        Assert.Equal([OfAction.Output(3), OfAction.Output(4)], desc.Buckets[1].Actions.ToArray());
    }

    [Fact]
    public void ChainsAreFollowedAndLoopsRefused()
    {
        Assert.Equal(OfError.None, _sw.GroupMod(Add(0, OfGroupType.All, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Group(0)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.Indirect, Bucket(OfAction.Group(1)))));
        Assert.Equal(OfError.GroupLoop, _sw.GroupMod(Add(0, OfGroupType.All, Bucket(OfAction.Group(2))) with { Command = GroupModCommand.Modify }));
        Assert.Equal(OfError.GroupLoop, _sw.GroupMod(Add(3, OfGroupType.All, Bucket(OfAction.Group(3)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(5, OfAction.Group(2))));
        Send(5);
        Assert.Single(_ports[1].TakeSent());
        // A chain deeper than the datapath follows is refused, not silently cut.
        for (uint id = 10; id < 10 + Datapath.Groups.GroupTable.MaxDepth; id++)
            Assert.Equal(OfError.None, _sw.GroupMod(Add(id, OfGroupType.Indirect, Bucket(id == 10 ? OfAction.Output(2) : OfAction.Group(id - 1)))));
        Assert.Equal(OfError.ChainTooDeep, _sw.GroupMod(Add(99, OfGroupType.Indirect, Bucket(OfAction.Group(9 + Datapath.Groups.GroupTable.MaxDepth)))));
    }

    [Fact]
    public void ABucketWatchingItsOwnGroupAndWatchCyclesAreRefusedAsBadWatches()
    {
        var output1 = Bucket(OfAction.Output(1));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchGroup = 1 })));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchPort = 1 })));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchGroup = 1 }) with { Command = GroupModCommand.Modify }));
        // 2 watches 1, 3 watches 2: 1 may not come to watch 3.
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.FastFailover, output1 with { WatchGroup = 1 })));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(3, OfGroupType.FastFailover, output1 with { WatchGroup = 2 })));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchPort = 1 }, output1 with { WatchGroup = 3 }) with { Command = GroupModCommand.Modify }));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchPort = 2 }) with { Command = GroupModCommand.Modify }));
        // Deleted and added again, 1 is still watched by 2: it may not watch 3 either.
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Delete, OfGroupType.All, 1, [])));
        Assert.Equal(OfError.BadWatch, _sw.GroupMod(Add(1, OfGroupType.FastFailover, output1 with { WatchGroup = 3 })));
    }

    [Fact]
    public void AGroupAddedAgainUnderAChainThatStillAppliesItsId_IsCheckedWithThatChain()
    {
        // Groups 11..17 chain down to group 10 (seven groups); 10 is deleted, and 11's bucket applies nothing until it is back.
        int depth = Datapath.Groups.GroupTable.MaxDepth;
        Assert.Equal(OfError.None, _sw.GroupMod(Add(10, OfGroupType.Indirect, Bucket(OfAction.Output(2)))));
        for (uint id = 11; id < 10 + depth - 1; id++)
            Assert.Equal(OfError.None, _sw.GroupMod(Add(id, OfGroupType.Indirect, Bucket(OfAction.Group(id - 1)))));
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Delete, OfGroupType.All, 10, [])));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.Indirect, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.Indirect, Bucket(OfAction.Group(1)))));
        // Back as one group above 1 the chain is full; above 2 it would be one too deep.
        Assert.Equal(OfError.ChainTooDeep, _sw.GroupMod(Add(10, OfGroupType.Indirect, Bucket(OfAction.Group(2)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(10, OfGroupType.Indirect, Bucket(OfAction.Group(1)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(5, OfAction.Group(10 + (uint)depth - 2))));
        Send(5);
        Assert.Single(_ports[1].TakeSent());
    }

    [Fact]
    public void AChainIsMeasuredByItsLongestPath_WhenAGroupIsReachedByPathsOfDifferentLengths()
    {
        // 20 applies 21 (which applies 1) and 1 directly; 1 heads a chain of MaxDepth - 2 groups: 20's longest chain is full.
        int depth = Datapath.Groups.GroupTable.MaxDepth;
        for (uint id = (uint)depth - 2; id >= 1; id--)
            Assert.Equal(OfError.None, _sw.GroupMod(Add(id, OfGroupType.Indirect, Bucket(id == depth - 2 ? OfAction.Output(2) : OfAction.Group(id + 1)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(21, OfGroupType.Indirect, Bucket(OfAction.Group(1)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(20, OfGroupType.All, Bucket(OfAction.Group(1)), Bucket(OfAction.Group(21)))));
        Assert.Equal(OfError.ChainTooDeep, _sw.GroupMod(Add(30, OfGroupType.Indirect, Bucket(OfAction.Group(20)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(20, OfGroupType.All, Bucket(OfAction.Group(1)), Bucket(OfAction.Group(1))) with { Command = GroupModCommand.Modify }));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(30, OfGroupType.Indirect, Bucket(OfAction.Group(20)))));
    }

    [Fact]
    public void ChainChecksWalkEachGroupOnce_WhateverTheBucketsThatApplyIt()
    {
        // Seven groups, each with 64 buckets applying the group below: 64^6 paths from the top, one chain of seven.
        var wide = new OfBucket[64];
        for (uint id = 107; id >= 101; id--)
        {
            Array.Fill(wide, Bucket(id == 107 ? OfAction.Output(2) : OfAction.Group(id + 1)));
            Assert.Equal(OfError.None, _sw.GroupMod(Add(id, OfGroupType.All, wide)));
        }
        Array.Fill(wide, Bucket(OfAction.Group(101)));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(100, OfGroupType.All, wide)));
        Assert.Equal(OfError.ChainTooDeep, _sw.GroupMod(Add(99, OfGroupType.Indirect, Bucket(OfAction.Group(100)))));
        Assert.Equal(OfError.GroupLoop, _sw.GroupMod(Add(107, OfGroupType.All, Bucket(OfAction.Group(101))) with { Command = GroupModCommand.Modify }));
    }

    [Fact]
    public void AModifyThatPushesAnExistingChainPastTheDatapathsDepthIsRefused()
    {
        // A chain of MaxDepth - 1 groups ending in group 10, which outputs: one more group below 10 still fits, two do not.
        int depth = Datapath.Groups.GroupTable.MaxDepth;
        for (uint id = 10; id < 10 + depth - 1; id++)
            Assert.Equal(OfError.None, _sw.GroupMod(Add(id, OfGroupType.Indirect, Bucket(id == 10 ? OfAction.Output(2) : OfAction.Group(id - 1)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.Indirect, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.Indirect, Bucket(OfAction.Group(1)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(10, OfGroupType.Indirect, Bucket(OfAction.Group(1))) with { Command = GroupModCommand.Modify }));
        Assert.Equal(OfError.ChainTooDeep, _sw.GroupMod(Add(10, OfGroupType.Indirect, Bucket(OfAction.Group(2))) with { Command = GroupModCommand.Modify }));
        // Group 1, at the bottom of a full chain, may not grow one below it either.
        Assert.Equal(OfError.None, _sw.GroupMod(Add(3, OfGroupType.Indirect, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.ChainTooDeep, _sw.GroupMod(Add(1, OfGroupType.Indirect, Bucket(OfAction.Group(3))) with { Command = GroupModCommand.Modify }));
    }

    [Fact]
    public void FlowsNeedTheirGroupsAndAGroupsDeletionDeletesItsFlows()
    {
        Assert.Equal(OfError.BadOutGroup, _sw.FlowMod(Flow(1, OfAction.Group(1))));
        var write = new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 1,
            new OfInstructions(ReadOnlyMemory<OfAction>.Empty, WriteActions: new[] { OfAction.Group(7) }), Rules: MatchRules.OpenFlow13);
        Assert.Equal(OfError.BadOutGroup, _sw.FlowMod(write));
        Assert.Equal(OfError.BadOutGroup, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, new[] { OfAction.Group(1) },
                                                                             FrameBuilder.Udp(Src, Dst, 1, 2, 1, 2))));

        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(2)), Bucket(OfAction.Output(3)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.Indirect, Bucket(OfAction.Output(4)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(1, OfAction.Group(1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(2, OfAction.Group(2))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(3, OfAction.Output(4))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(7, OfGroupType.All, Bucket(OfAction.Group(1)))));
        Assert.Equal(OfError.None, _sw.FlowMod(write));
        Send(1);
        Assert.Single(_ports[1].TakeSent());
        Assert.Single(_ports[2].TakeSent());

        var stats = _sw.GroupStatistics();
        Assert.Equal([1u, 2u, 7u], stats.Select(s => s.GroupId));
        Assert.Equal(2u, stats[0].RefCount); // a flow and group 7's bucket
        Assert.Equal(1u, stats[1].RefCount);
        Assert.Equal(1UL, stats[0].Packets);
        Assert.Equal([1UL, 1UL], stats[0].Buckets.Select(b => b.Packets));
        Assert.Equal(0UL, stats[1].Packets);
        Assert.Single(_sw.GroupStatistics(2));
        Assert.Empty(_sw.GroupStatistics(3));

        // out_group filters statistics and deletes.
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, OutGroup: 2, Rules: MatchRules.OpenFlow13)).FlowCount);
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, OutGroup: 7, Rules: MatchRules.OpenFlow13)).FlowCount);
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default, TableId: FlowModRequest.AllTables,
                                                                  OutGroup: 2, Rules: MatchRules.OpenFlow13)));
        Assert.Equal(3u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13)).FlowCount);

        // Deleting group 1 deletes its flow (reported GROUP_DELETE), not the others; group 7's bucket now applies nothing.
        _reports.Removed.Clear();
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Delete, OfGroupType.All, 1, [])));
        Assert.Equal(2u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13)).FlowCount);
        var removed = Assert.Single(_reports.Removed);
        Assert.Equal(OfFlowRemovedReason.GroupDelete, removed.Reason);
        Send(1);
        Assert.Empty(_ports[1].TakeSent());
        // Deleting one that does not exist is no error; OFPG_ALL deletes the rest and their flows.
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Delete, OfGroupType.All, 1, [])));
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Delete, OfGroupType.All, GroupModRequest.AllGroups, [])));
        Assert.Empty(_sw.GroupDescriptions());
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13)).FlowCount); // the output:4 flow
    }

    [Fact]
    public void AModifiedGroupReadsBackAsGivenAndKeepsItsCounters()
    {
        var b1 = new OfBucket(1, 1, GroupModRequest.AnyGroup, new[] { OfAction.SetTpSrc(2000), OfAction.Output(2) });
        var b2 = new OfBucket(2, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(3) });
        Assert.Equal(OfError.None, _sw.GroupMod(Add(4, OfGroupType.Select, b1, b2)));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(1, OfAction.Group(4))));
        for (ushort i = 0; i < 20; i++)
        {
            _ports[0].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, (ushort)(100 + i), 1));
        }
        _dp.PollUntilIdle();
        var desc = Assert.Single(_sw.GroupDescriptions(4));
        Assert.Equal(OfGroupType.Select, desc.Type);
        Assert.Equal(2, desc.Buckets.Count);
        Assert.Equal(b1.Actions.ToArray(), desc.Buckets[0].Actions.ToArray());
        Assert.Equal((ushort)1, desc.Buckets[0].Weight);
        Assert.Equal(1u, desc.Buckets[0].WatchPort);
        Assert.Equal(20UL, _sw.GroupStatistics(4)[0].Packets);

        Assert.Equal(OfError.None, _sw.GroupMod(Add(4, OfGroupType.All, Bucket(OfAction.Output(4))) with { Command = GroupModCommand.Modify }));
        Assert.Equal(OfGroupType.All, _sw.GroupDescriptions(4)[0].Type);
        var after = _sw.GroupStatistics(4)[0];
        Assert.Equal(20UL, after.Packets);
        Assert.Equal(0UL, after.Buckets[0].Packets);
        Send(1);
        Assert.Single(_ports[3].TakeSent());
    }

    [Fact]
    public void ABundlesGroupMods_CommitInOrderWithItsFlows_OrAllComeBack()
    {
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(2)))));
        static BundledRequest G(GroupModRequest g) => new(null, null, [], g);
        static BundledRequest F(FlowModRequest f) => new(f, null, []);

        // A group added, one changed, a flow that applies the new group, then a flow that fails: nothing stays.
        var failing = new List<BundledRequest>
        {
            G(Add(5, OfGroupType.Indirect, Bucket(OfAction.Group(1)))),
            G(Add(1, OfGroupType.All, Bucket(OfAction.Output(3))) with { Command = GroupModCommand.Modify }),
            F(Flow(7, OfAction.Group(5))),
            F(Flow(8, OfAction.Output(77))),
        };
        Assert.Equal(OfError.BadOutPort, _sw.CommitBundle(failing, null, out int failed));
        Assert.Equal(3, failed);
        var only = Assert.Single(_sw.GroupDescriptions());
        Assert.Equal(1u, only.GroupId);
        Assert.Equal(OfAction.Output(2), Assert.Single(only.Buckets).Actions.Span[0]);
        var flows = new List<FlowEntry>();
        _sw.Flows.Collect(FlowMatch.All, Datapath.Ports.PortNumber.None, false, flows);
        Assert.Empty(flows);
        Send(1);
        Assert.Empty(_ports[1].TakeSent());

        // A group-mod that fails (an ADD of a group that exists) takes back the group-mods before it.
        var exists = new List<BundledRequest> { G(Add(6, OfGroupType.All, Bucket(OfAction.Output(3)))), G(Add(1, OfGroupType.All, Bucket(OfAction.Output(3)))) };
        Assert.Equal(OfError.GroupExists, _sw.CommitBundle(exists, null, out failed));
        Assert.Equal(1, failed);
        Assert.Single(_sw.GroupDescriptions());

        // The same bundle without the failing flow: the flow applies the group the bundle added, which the bundle changed.
        failing.RemoveAt(3);
        Assert.Equal(OfError.None, _sw.CommitBundle(failing, null, out failed));
        Assert.Equal(-1, failed);
        Assert.Equal([1u, 5u], _sw.GroupDescriptions().Select(d => d.GroupId));
        Send(7);
        Assert.Single(_ports[2].TakeSent());
        Assert.Empty(_ports[1].TakeSent());

    }

    private static BundledRequest Bundled(GroupModRequest g) => new(null, null, [], g);
    private static BundledRequest Bundled(FlowModRequest f) => new(f, null, []);
    private static GroupModRequest Modify(uint id, params OfBucket[] buckets) => new(GroupModCommand.Modify, OfGroupType.All, id, buckets);

    /// <summary>Sends one frame to tp_dst <paramref name="tpDst"/> and says which of ports 2 to 4 it left by (a bit each).</summary>
    private int SentTo(ushort tpDst)
    {
        Send(tpDst);
        int to = 0;
        for (int i = 1; i < 4; i++) to |= _ports[i].TakeSent().Count != 0 ? 1 << (i + 1) : 0;
        return to;
    }

    /// <summary>
    /// A bundle's group MODIFY is versioned with its flows (as Open vSwitch's groups are): a packet sent while the commit
    /// has applied every message but not yet published meets the old group through the old flow; after the commit, the
    /// new group through the new flow. The group keeps the counts it took until the commit. A bundle of a group-mod alone
    /// is seen at its commit too.
    /// </summary>
    [Fact]
    public void ABundlesGroupModify_IsSeenExactlyWithItsFlows()
    {
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(7, OfAction.Group(1))));
        var inside = new List<int>();
        int messages = 2; // sent once every message is applied, before the commit publishes
        _sw.BundleStep = i => { if (i == messages) inside.Add(SentTo(7)); };
        // The flow replaced by one that also outputs to port 4; the group's bucket moved from port 2 to port 3.
        Assert.Equal(OfError.None, _sw.CommitBundle(
            [Bundled(Modify(1, Bucket(OfAction.Output(3)))), Bundled(Flow(7, OfAction.Group(1), OfAction.Output(4)))], null, out int failed));
        Assert.Equal(-1, failed);
        Assert.Equal([1 << 2], inside); // old group, old flow
        Assert.Equal((1 << 3) | (1 << 4), SentTo(7)); // new group, new flow
        Assert.Equal(2UL, _sw.GroupStatistics(1)[0].Packets);
        Assert.Equal(1UL, _sw.GroupStatistics(1)[0].Buckets[0].Packets);
        Assert.Equal(1, _dp.Groups.VersionCount(1));

        // A group-mod alone: nothing else publishes the version.
        inside.Clear();
        messages = 1;
        Assert.Equal(OfError.None, _sw.CommitBundle([Bundled(Modify(1, Bucket(OfAction.Output(2))))], null, out failed));
        Assert.Equal([(1 << 3) | (1 << 4)], inside);
        Assert.Equal((1 << 2) | (1 << 4), SentTo(7));
        Assert.Equal(4UL, _sw.GroupStatistics(1)[0].Packets);
        _sw.BundleStep = null;
    }

    /// <summary>A bundle that fails after a group MODIFY (a later flow-mod fails): the old group is what every packet meets, during the commit and after it.</summary>
    [Fact]
    public void ARevertedBundlesGroupModify_IsNeverSeen()
    {
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(7, OfAction.Group(1))));
        var inside = new List<int>();
        // Sent before the failing flow-mod is applied, every message before it applied.
        _sw.BundleStep = i => { if (i == 2) inside.Add(SentTo(7)); };
        // (A missing group is found in its place, after the messages before it are applied.)
        Assert.Equal(OfError.BadOutGroup, _sw.CommitBundle(
            [Bundled(Modify(1, Bucket(OfAction.Output(3)))), Bundled(Flow(7, OfAction.Group(1), OfAction.Output(4))), Bundled(Flow(9, OfAction.Group(99)))], null, out int failed));
        _sw.BundleStep = null;
        Assert.Equal(2, failed);
        Assert.Equal([1 << 2], inside);
        Assert.Equal(1 << 2, SentTo(7));
        Assert.Equal(OfAction.Output(2), _sw.GroupDescriptions(1)[0].Buckets[0].Actions.Span[0]);
        Assert.Equal(1, _dp.Groups.VersionCount(1));
        Assert.Equal(2UL, _sw.GroupStatistics(1)[0].Packets);
    }

    /// <summary>A bundled group DELETE leaves the group to the flows of the version before until the commit; after it, group and flows are gone together.</summary>
    [Fact]
    public void ABundledGroupDelete_LeavesTheGroupToOldFlowsUntilTheCommit()
    {
        static GroupModRequest Delete(uint id) => new(GroupModCommand.Delete, OfGroupType.All, id, []);
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(7, OfAction.Group(1))));
        var inside = new List<int>();
        _sw.BundleStep = i => { if (i == 2) inside.Add(SentTo(7)); };
        Assert.Equal(OfError.None, _sw.CommitBundle([Bundled(Delete(1)), Bundled(Flow(8, OfAction.Output(3)))], null, out int failed));
        _sw.BundleStep = null;
        Assert.Equal(-1, failed);
        Assert.Equal([1 << 2], inside);
        Assert.Equal(0, SentTo(7));
        Assert.Equal(1 << 3, SentTo(8));
        Assert.Empty(_sw.GroupDescriptions());
        Assert.Equal(0, _dp.Groups.VersionCount(1));
        Assert.Equal(0, _dp.Groups.Count);
    }

    /// <summary>
    /// A bundled group DELETE (Open vSwitch bundles every group-mod): the flows that apply the group leave with the
    /// commit, reported with reason GROUP_DELETE; a later message of the bundle sees the group gone; a bundle that fails
    /// after it brings back the group and its flows, which forward as before.
    /// </summary>
    [Fact]
    public void ABundledGroupDelete_TakesItsFlowsAtTheCommit_OrBringsBothBack()
    {
        static BundledRequest G(GroupModRequest g) => new(null, null, [], g);
        static BundledRequest F(FlowModRequest f) => new(f, null, []);
        static GroupModRequest Delete(uint id) => new(GroupModCommand.Delete, OfGroupType.All, id, []);
        Assert.Equal(OfError.None, _sw.GroupMod(Add(1, OfGroupType.All, Bucket(OfAction.Output(2)))));
        Assert.Equal(OfError.None, _sw.GroupMod(Add(2, OfGroupType.All, Bucket(OfAction.Output(3)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(7, OfAction.Group(1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Flow(8, OfAction.Group(2))));
        _reports.Removed.Clear();

        // Deleted, then applied by a flow of the same bundle: BAD_OUT_GROUP, and nothing of the bundle stays.
        Assert.Equal(OfError.BadOutGroup, _sw.CommitBundle([G(Delete(1)), F(Flow(9, OfAction.Group(1)))], null, out int failed));
        Assert.Equal(1, failed);
        Assert.Equal([1u, 2u], _sw.GroupDescriptions().Select(d => d.GroupId).Order());
        Assert.Empty(_reports.Removed);
        Send(7);
        Assert.Single(_ports[1].TakeSent());
        // Deleted and added again in one bundle (a new group of that id), with a flow that fails after them.
        Assert.Equal(OfError.BadOutPort, _sw.CommitBundle(
            [G(Delete(GroupModRequest.AllGroups)), G(Add(1, OfGroupType.All, Bucket(OfAction.Output(4)))), F(Flow(9, OfAction.Output(77)))], null, out failed));
        Assert.Equal(2, failed);
        Assert.Equal(OfAction.Output(2), _sw.GroupDescriptions(1)[0].Buckets[0].Actions.Span[0]);
        Send(8);
        Assert.Single(_ports[2].TakeSent());
        Assert.Empty(_reports.Removed);

        // Committed: group 1's flow leaves with reason GROUP_DELETE, group 2 and its flow stay.
        Assert.Equal(OfError.None, _sw.CommitBundle([G(Delete(1)), F(Flow(9, OfAction.Output(4)))], null, out failed));
        Assert.Equal(-1, failed);
        Assert.Equal([2u], _sw.GroupDescriptions().Select(d => d.GroupId));
        var removed = Assert.Single(_reports.Removed);
        Assert.Equal(OfFlowRemovedReason.GroupDelete, removed.Reason);
        var flows = new List<FlowEntry>();
        _sw.Flows.Collect(FlowMatch.All, Datapath.Ports.PortNumber.None, false, flows);
        Assert.Equal(2, flows.Count);
        Send(7);
        Assert.Empty(_ports[1].TakeSent());
        Send(8);
        Assert.Single(_ports[2].TakeSent());
    }

    /// <summary>
    /// A bundled packet-out is checked before the bundle's changes: one that cannot be sent (an output to no port, a
    /// packet of no bytes) fails the bundle, whose flows then do not stay.
    /// </summary>
    [Fact]
    public void ABundledPacketOut_ThatCannotBeSent_FailsTheBundle()
    {
        static BundledRequest P(PacketOutRequest p) => new(null, null, [], Answered: true, PacketOut: p);
        static BundledRequest F(FlowModRequest f) => new(f, null, []);
        var frame = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 7);
        var toNowhere = new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, new[] { OfAction.Output(77) }, frame);
        Assert.Equal(OfError.BadOutPort, _sw.CommitBundle([F(Flow(7, OfAction.Output(2))), P(toNowhere)], null, out int failed));
        Assert.Equal(1, failed);
        var empty = new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, new[] { OfAction.Output(2) }, ReadOnlyMemory<byte>.Empty);
        Assert.Equal(OfError.BadPacketLength, _sw.CommitBundle([F(Flow(7, OfAction.Output(2))), P(empty)], null, out failed));
        var flows = new List<FlowEntry>();
        _sw.Flows.Collect(FlowMatch.All, Datapath.Ports.PortNumber.None, false, flows);
        Assert.Empty(flows);
        // One that can: the commit checks it and leaves the sending to the connection, after the flows are in.
        Assert.Equal(OfError.None, _sw.CommitBundle([F(Flow(7, OfAction.Output(2))), P(toNowhere with { Actions = new[] { OfAction.Output(3) } })], null, out failed));
        Assert.Equal(-1, failed);
        Assert.Empty(_ports[2].TakeSent());
    }
}
