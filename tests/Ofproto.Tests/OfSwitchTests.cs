using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// The switch as controllers see it (<see cref="OfSwitch"/>), through its version-independent requests: what it checks,
/// what it refuses and why, what it reports, and the roles and async config of its controllers.
/// </summary>
public sealed class OfSwitchTests : IDisposable
{
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[3];
    private readonly OfSwitch _sw;
    private readonly Reports _reports = new();

    private sealed class Reports : IOfReports
    {
        public readonly List<OfFlowRemoved> Removed = new();
        public readonly List<(OfPortReason, OfPortDesc)> Ports = new();
        public int PacketIns;
        /// <summary>Each packet-in's reason and controller id, in order.</summary>
        public readonly List<(OfPacketInReason Reason, ushort ControllerId)> PacketInIds = new();
        public void PacketIn(in OfPacketIn packet)
        {
            lock (PacketInIds) PacketInIds.Add((packet.Reason, packet.ControllerId));
            Interlocked.Increment(ref PacketIns);
        }
        public void FlowRemoved(in OfFlowRemoved removed) { lock (Removed) Removed.Add(removed); }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { lock (Ports) Ports.Add((reason, port)); }
    }

    public OfSwitchTests()
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"m{i + 1}", new MacAddress(0x0200_0000_0010UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 7 });
        _sw.Start(_reports);
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private static OfMatch Udp(uint dst) => new OfMatch().EthType(0x0800).NwProto(17).NwDst(dst);

    private static FlowModRequest Add(in OfMatch m, ushort priority, ulong cookie = 0, FlowModFlags flags = FlowModFlags.None, params OfAction[] actions)
        => new(FlowModCommand.Add, m, priority, OfInstructions.Apply(actions), Cookie: cookie, Flags: flags, Rules: MatchRules.AsGiven);

    [Fact]
    public void ATableAtItsFlowLimitRefusesANewFlowWithTableFullAndReportsTheLimit()
    {
        Assert.Equal(FlowTableOptions.DefaultMaxFlows, _sw.TableStats(0).MaxEntries);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
        dp.AddPort(new MemoryPort("m1", new MacAddress(0x0200_0000_0020)));
        using var sw = new OfSwitch(dp, new OfSwitchOptions { DatapathId = 8 }, new OfFlowTables(dp, new FlowTableOptions { MaxFlows = 2 }));
        sw.Start(new Reports());

        // OpenFlow 1.0: wildcard flows, then an exact one (every field of the twelve-tuple given).
        var exact = new OfMatch().InPort(1).EthSrc(0x0200_0000_0001).EthDst(0x0200_0000_0002).Untagged().VlanPcp(0).EthType(0x0800)
            .NwTos(0).NwProto(17).NwSrc(0x0a000001).NwDst(0x0a000002).TpSrc(1).TpDst(2);
        Assert.Equal(OfError.None, _sw.FlowMod(Add(exact, 10, actions: OfAction.Output(1)))); // the default limit takes it
        Assert.Equal(1, _sw.Flows.ActiveExact);
        Assert.Equal(OfError.None, sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(1))));
        Assert.Equal(OfError.None, sw.FlowMod(Add(Udp(2), 10, actions: OfAction.Output(1))));
        Assert.Equal(OfError.TableFull, sw.FlowMod(Add(Udp(3), 10, actions: OfAction.Output(1))));
        Assert.Equal(OfError.TableFull, sw.FlowMod(Add(exact, 10, actions: OfAction.Output(1))));
        Assert.Equal(OfError.None, sw.FlowMod(new FlowModRequest(FlowModCommand.DeleteStrict, Udp(2), 10, default)));
        Assert.Equal(OfError.None, sw.FlowMod(Add(exact, 10, actions: OfAction.Output(1))));
        Assert.Equal(OfError.TableFull, sw.FlowMod(Add(Udp(3), 10, actions: OfAction.Output(1))));
        var st = sw.TableStats(0);
        Assert.Equal((2, 2), (st.MaxEntries, st.ActiveCount));

        // OpenFlow 1.3, table 1: its own two flows, of either kind.
        FlowModRequest Add13(in OfMatch m) => Add(m, 10, actions: OfAction.Output(1)) with { TableId = 1, Rules = MatchRules.OpenFlow13 };
        Assert.Equal(OfError.None, sw.FlowMod(Add13(Udp(1))));
        Assert.Equal(OfError.None, sw.FlowMod(Add13(exact)));
        Assert.Equal(OfError.TableFull, sw.FlowMod(Add13(Udp(2))));
        var exact2 = exact;
        exact2.TpDst(3);
        Assert.Equal(OfError.TableFull, sw.FlowMod(Add13(exact2)));
        st = sw.TableStats(1);
        Assert.Equal((2, 2), (st.MaxEntries, st.ActiveCount));
        Assert.All(sw.Tables.ToArray(), t => Assert.Equal(2, t.MaxEntries));
    }

    [Fact]
    public void AFlowModIsCheckedAgainstTheSwitchBeforeItChangesAnything()
    {
        Assert.Equal(OfError.BadOutPort, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(9))));
        Assert.Equal(OfError.BadOutPort, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(OfPort.Table))));
        Assert.Equal(OfError.BadQueue, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Enqueue(1, 1000))));
        var partialInPort = new OfMatch().InPort(1);
        partialInPort.Mask.InPort = 0xff;
        Assert.Equal(OfError.UnsupportedMask, _sw.FlowMod(Add(partialInPort, 10, actions: OfAction.Output(1))));
        Assert.Equal(OfError.BadMatchPort, _sw.FlowMod(Add(new OfMatch().InPort(0x10000), 10, actions: OfAction.Output(1))));
        var writeActions = Add(Udp(1), 10, actions: OfAction.Output(1)) with { Instructions = new OfInstructions(new[] { OfAction.Output(1) }, WriteActions: new[] { OfAction.Output(2) }) };
        Assert.Equal(OfError.UnsupportedInstruction, _sw.FlowMod(writeActions));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(1)) with { TableId = 3 }));
        Assert.Equal(0, _sw.Flows.Main.Count);
        Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(2))));
        Assert.Equal(1, _sw.Flows.Main.Count);
        // A delete may name every table.
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default, TableId: FlowModRequest.AllTables)));
        Assert.Equal(0, _sw.Flows.Main.Count);
    }

    [Fact]
    public void CookieMasksSelectWhatAModifyADeleteAndStatisticsTouch()
    {
        for (uint i = 0; i < 6; i++)
            Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(i), 10, cookie: 0xab00 | i, flags: FlowModFlags.SendFlowRemoved, OfAction.Output(1))));
        var odd = new FlowStatsRequest(OfMatch.Any, Cookie: 1, CookieMask: 1, Rules: MatchRules.AsGiven);
        Assert.Equal(3u, _sw.Totals(odd).FlowCount);
        Assert.Equal(6u, _sw.Totals(new FlowStatsRequest(OfMatch.Any)).FlowCount);
        // Delete the even cookies only: their FLOW_REMOVED is the switch's report, with the reason.
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default, Cookie: 0, CookieMask: 1)));
        Assert.Equal(3, _sw.Flows.Main.Count);
        Assert.Equal(3, _reports.Removed.Count);
        Assert.All(_reports.Removed, r => Assert.Equal(0UL, r.Cookie & 1));
        Assert.All(_reports.Removed, r => Assert.Equal(OfFlowRemovedReason.Delete, r.Reason));
        // Modify only the cookie 0xab03 flow.
        var modify = new FlowModRequest(FlowModCommand.Modify, OfMatch.Any, 0, OfInstructions.Apply(new[] { OfAction.Output(3) }),
                                        Cookie: 0xab03, CookieMask: ulong.MaxValue);
        Assert.Equal(OfError.None, _sw.FlowMod(modify));
        int toPort3 = 0;
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any), (in OfFlowStats f) =>
        {
            if (f.Actions.Length == 1 && f.Actions[0].Port == 3) toPort3++;
            return true;
        });
        Assert.Equal(1, toPort3);
    }

    [Fact]
    public void OnlyFlowsThatAskedAreReportedRemoved()
    {
        _sw.FlowMod(Add(Udp(1), 10, flags: FlowModFlags.SendFlowRemoved, actions: OfAction.Output(1)));
        _sw.FlowMod(Add(Udp(2), 10, actions: OfAction.Output(1)));
        _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default));
        var r = Assert.Single(_reports.Removed);
        Assert.Equal(Udp(1), r.Match);
        Assert.Equal((ushort)10, r.Priority);
    }

    [Fact]
    public void PacketOutRefusesWhatItCannotSendAndABufferIsReleasedOnce()
    {
        var frame = FrameOf(60);
        Assert.Equal(OfError.BadPacketLength, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, new[] { OfAction.Output(2) }, ReadOnlyMemory<byte>.Empty)));
        Assert.Equal(OfError.BufferUnknown, _sw.PacketOut(new PacketOutRequest(12345, OfPort.Controller, new[] { OfAction.Output(2) }, default)));
        uint id = _sw.BufferPacket(frame, 1);
        Assert.NotEqual(PacketBuffers.NoBuffer, id);
        Assert.Equal(OfError.None, _sw.PacketOut(new PacketOutRequest(id, OfPort.Controller, new[] { OfAction.Output(2) }, default)));
        Assert.Single(_ports[1].TakeSent());
        Assert.Equal(OfError.BufferEmpty, _sw.PacketOut(new PacketOutRequest(id, OfPort.Controller, new[] { OfAction.Output(2) }, default)));
        // TABLE is an output a packet-out may use.
        Assert.Equal(OfError.None, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, 1, new[] { OfAction.Output(OfPort.Table) }, frame)));
    }

    private static byte[] FrameOf(int length)
    {
        var f = new byte[length];
        f[0] = 0x02; f[5] = 0x20; f[6] = 0x02; f[11] = 0x10; f[12] = 0x08; f[13] = 0x06;
        return f;
    }

    [Fact]
    public void PortsAreDescribedWithTheLocalPortLastAndPortModChecksTheAddress()
    {
        var ports = _sw.PortDescriptions();
        Assert.Equal(new uint[] { 1, 2, 3 }, ports.Select(p => p.PortNo));
        Assert.Equal("m2", ports[1].Name);
        Assert.Equal(1_000_000u, ports[0].CurrentSpeedKbps);
        Assert.Equal(OfError.PortModBadPort, _sw.PortMod(new PortModRequest(9, 0, OfPortConfig.NoFlood, OfPortConfig.NoFlood)));
        Assert.Equal(OfError.PortModBadHwAddr, _sw.PortMod(new PortModRequest(2, 0x0200_0000_0099, OfPortConfig.NoFlood, OfPortConfig.NoFlood)));
        Assert.Equal(OfError.None, _sw.PortMod(new PortModRequest(2, 0x0200_0000_0011, OfPortConfig.NoFlood, OfPortConfig.NoFlood)));
        Assert.Equal(OfPortConfig.NoFlood, _sw.PortDescriptions()[1].Config);
        Assert.Equal(OfError.QueueBadPort, _sw.QueueStats(9, OfSwitch.AllQueues, new List<OfQueueStats>()));
        var queues = new List<OfQueueStats>();
        Assert.Equal(OfError.None, _sw.QueueStats(OfPort.Any, OfSwitch.AllQueues, queues));
        Assert.Equal(3 * _sw.QueuesPerPort, queues.Count);
    }

    [Fact]
    public void FragmentHandlingFromASlave_IsIgnoredWithoutAnError()
    {
        // As Open vSwitch's handle_set_config: the setting is a master's or an equal's; a slave's SET_CONFIG is no error.
        var slave = _sw.Roles.Join();
        Assert.Equal(OfError.None, _sw.Roles.Request(slave, OfRole.Slave, 1));
        Assert.Equal(OfError.None, _sw.SetFragments(FragmentHandling.Drop, slave));
        Assert.Equal(FragmentHandling.Normal, _sw.Fragments);
        Assert.Equal(FragmentMode.Normal, _dp.FragmentMode);
        var master = _sw.Roles.Join();
        Assert.Equal(OfError.None, _sw.Roles.Request(master, OfRole.Master, 2));
        Assert.Equal(OfError.None, _sw.SetFragments(FragmentHandling.Drop, master));
        Assert.Equal(FragmentHandling.Drop, _sw.Fragments);
    }

    [Fact]
    public void FragmentReassemblyIsAcceptedWithoutAnErrorAndTheSettingKept()
    {
        // As Open vSwitch's handle_set_config: an unsupported mode is logged and the current one kept, no error.
        Assert.Equal(OfError.None, _sw.SetFragments(FragmentHandling.Drop));
        Assert.Equal(FragmentMode.Drop, _dp.FragmentMode);
        Assert.Equal(OfError.None, _sw.SetFragments(FragmentHandling.Reassemble));
        Assert.Equal(FragmentHandling.Drop, _sw.Fragments);
        Assert.Equal(FragmentMode.Drop, _dp.FragmentMode);
        Assert.Equal(OfError.None, _sw.SetFragments(FragmentHandling.Normal));
        Assert.Equal(OfError.None, _sw.SetFragments(FragmentHandling.Reassemble));
        Assert.Equal(FragmentHandling.Normal, _sw.Fragments);
    }

    [Fact]
    public void TheFailModeFollowsTheControllerAndEmergencyFlowsTakeOverOnlyWithoutOne()
    {
        Assert.Equal(MissBehavior.Drop, _dp.MissBehavior);
        _sw.SetControllerConnected(true);
        Assert.Equal(MissBehavior.Controller, _dp.MissBehavior);
        Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(1), 10, flags: FlowModFlags.Emergency, actions: OfAction.Output(1))));
        Assert.False(_sw.Flows.UseEmergencyTable);
        _sw.SetControllerConnected(false);
        Assert.Equal(MissBehavior.Drop, _dp.MissBehavior);
        Assert.True(_sw.Flows.UseEmergencyTable);
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, TableId: OfTables.EmergencyTableId)).FlowCount);
        Assert.Equal(0u, _sw.Totals(new FlowStatsRequest(OfMatch.Any)).FlowCount);
    }

    [Fact]
    public void EnteringEmergencyModeDeletesTheNormalFlowsAndTheEmergencyFlowsStayAfterReconnecting()
    {
        // OpenFlow 1.0 section 4.3: all normal entries are deleted when entering emergency mode; on reconnecting the
        // emergency entries remain.
        _sw.SetControllerConnected(true);
        Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(2), 10, cookie: 0xA, flags: FlowModFlags.SendFlowRemoved, actions: OfAction.Output(2))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(3), 10, cookie: 0xB, actions: OfAction.Output(3))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add(OfMatch.Any, 1, cookie: 0xE, flags: FlowModFlags.Emergency, actions: OfAction.Output(1))));

        _sw.SetControllerConnected(false);
        Assert.True(_sw.Flows.UseEmergencyTable);
        Assert.Equal(0u, _sw.Totals(new FlowStatsRequest(OfMatch.Any)).FlowCount);
        Assert.Equal(0, _sw.Flows.Main.Count);
        var removed = Assert.Single(_reports.Removed); // only the flow that asked for it
        Assert.Equal((0xAUL, OfFlowRemovedReason.Delete), (removed.Cookie, removed.Reason));

        _sw.SetControllerConnected(true);
        Assert.False(_sw.Flows.UseEmergencyTable);
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, TableId: OfTables.EmergencyTableId)).FlowCount);
        Assert.Equal(0u, _sw.Totals(new FlowStatsRequest(OfMatch.Any)).FlowCount);
    }

    [Fact]
    public void WithoutEmergencyFlowsLosingTheControllerKeepsTheNormalFlows()
    {
        _sw.SetControllerConnected(true);
        Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(2), 10, actions: OfAction.Output(2))));
        _sw.SetControllerConnected(false);
        Assert.False(_sw.Flows.UseEmergencyTable);
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any)).FlowCount);
        // An emergency flow added while disconnected enters emergency mode: the normal flows go then.
        Assert.Equal(OfError.None, _sw.FlowMod(Add(OfMatch.Any, 1, flags: FlowModFlags.Emergency, actions: OfAction.Output(1))));
        Assert.True(_sw.Flows.UseEmergencyTable);
        Assert.Equal(0u, _sw.Totals(new FlowStatsRequest(OfMatch.Any)).FlowCount);
    }

    [Fact]
    public void ASlaveMayNotChangeTheSwitchAndANewMasterDemotesTheOldOne()
    {
        var a = _sw.Roles.Join();
        var b = _sw.Roles.Join();
        Assert.Equal(OfRole.Equal, a.Role);
        Assert.Equal(OfError.None, _sw.Roles.Request(a, OfRole.Master, 5));
        Assert.Equal(OfError.None, _sw.Roles.Request(b, OfRole.Master, 6));
        Assert.Equal(OfRole.Slave, a.Role);
        Assert.Equal(OfRole.Master, b.Role);
        // Stale generation ids are refused; equal ones are not (the spec's "smaller than" with wrap-around).
        Assert.Equal(OfError.StaleRole, _sw.Roles.Request(a, OfRole.Master, 5));
        Assert.Equal(OfError.None, _sw.Roles.Request(a, OfRole.Slave, 6));
        Assert.Equal(OfError.StaleRole, _sw.Roles.Request(a, OfRole.Master, ulong.MaxValue));
        Assert.Equal(OfError.None, _sw.Roles.Request(a, OfRole.Equal, 0));
        Assert.Equal(OfError.None, _sw.Roles.Request(a, OfRole.Slave, 7));
        Assert.Equal(OfError.IsSlave, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(1)), a));
        Assert.Equal(OfError.IsSlave, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, 1, new[] { OfAction.Output(2) }, FrameOf(60)), a));
        Assert.Equal(OfError.IsSlave, _sw.PortMod(new PortModRequest(2, 0x0200_0000_0011, OfPortConfig.NoFlood, OfPortConfig.NoFlood), a));
        Assert.Equal(OfError.None, _sw.FlowMod(Add(Udp(1), 10, actions: OfAction.Output(1)), b));
        // A slave wants port status by default, not packet-ins or flow removals; a master all three.
        Assert.False(a.Wants(OfAsyncKind.PacketIn, (int)OfPacketInReason.NoMatch));
        Assert.True(a.Wants(OfAsyncKind.PortStatus, (int)OfPortReason.Add));
        Assert.False(a.Wants(OfAsyncKind.FlowRemoved, (int)OfFlowRemovedReason.Delete));
        Assert.True(b.Wants(OfAsyncKind.PacketIn, (int)OfPacketInReason.Action));
        Assert.True(b.Wants(OfAsyncKind.FlowRemoved, (int)OfFlowRemovedReason.IdleTimeout));
        Assert.False(b.Wants(OfAsyncKind.PacketIn, (int)OfPacketInReason.InvalidTtl));
        b.Async = b.Async with { PacketInMaster = 0 };
        Assert.False(b.Wants(OfAsyncKind.PacketIn, (int)OfPacketInReason.Action));
        _sw.Roles.Leave(a);
        _sw.Roles.Leave(b);
    }

    /// <summary>
    /// Packets whose TTL a dec_ttl brings to 0 go to the controllers while one of them asks for such packet-ins
    /// (OFPR_INVALID_TTL in its role's packet-in mask, which OpenFlow 1.3's SET_ASYNC sets), as Open vSwitch sends them
    /// up and lets each connection's mask choose; while none does, they are dropped and counted.
    /// </summary>
    [Fact]
    public void InvalidTtlPacketIns_GoUpWhileAControllerAsksForThem()
    {
        _sw.SetControllerConnected(true);
        var flow = new FlowModRequest(FlowModCommand.Add, Udp(0x0a000002), 10, OfInstructions.Apply(new[] { OfAction.DecNwTtl(), OfAction.Output(2) }),
                                      Rules: MatchRules.OpenFlow13);
        Assert.Equal(OfError.None, _sw.FlowMod(flow));
        var frame = Softswitch.Datapath.Packets.FrameBuilder.Udp(new MacAddress(0x0200_0000_0001), new MacAddress(0x0200_0000_0002), 0x0a000001, 0x0a000002, 1, 2);
        frame[22] = 1; // IPv4 TTL
        frame[24] = frame[25] = 0;
        uint sum = 0;
        for (int i = 14; i < 34; i += 2) sum += (uint)(frame[i] << 8 | frame[i + 1]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        frame[24] = (byte)(~sum >> 8);
        frame[25] = (byte)~sum;
        void SendOne()
        {
            _ports[0].Inject(frame);
            _dp.PollUntilIdle();
        }

        var a = _sw.Roles.Join();
        var b = _sw.Roles.Join();
        Assert.False(_sw.InvalidTtlToController);
        uint bit = OfAsyncConfig.Bit(OfPacketInReason.InvalidTtl);
        a.Async = a.Async with { PacketInMaster = a.Async.PacketInMaster | bit };
        Assert.True(_sw.InvalidTtlToController);
        SendOne();
        Assert.True(Wait.Until(() => Volatile.Read(ref _reports.PacketIns) == 1));
        Assert.Empty(_ports[1].TakeSent());

        // A slave's own mask applies to it: the master one no longer does.
        Assert.Equal(OfError.None, _sw.Roles.Request(a, OfRole.Slave, 1));
        Assert.False(_sw.InvalidTtlToController);
        Assert.Equal(OfError.None, _sw.Roles.Request(a, OfRole.Equal, 0));
        Assert.True(_sw.InvalidTtlToController);
        // Another controller's asking keeps them on when the first one leaves; none asking, they are off.
        b.Async = b.Async with { PacketInMaster = b.Async.PacketInMaster | bit };
        _sw.Roles.Leave(a);
        Assert.True(_sw.InvalidTtlToController);
        b.Async = OfAsyncConfig.Default;
        Assert.False(_sw.InvalidTtlToController);
        _sw.Roles.Leave(b);
    }

    /// <summary>
    /// Open vSwitch's dec_ttl(id,...): a packet whose TTL it brings to 0 goes up once per listed controller id, in order, with
    /// reason invalid_ttl (a plain dec_ttl's packet-in is controller id 0's), and is not forwarded; a packet with TTL to
    /// spare goes on decremented. More ids than the datapath action holds are refused, not cut.
    /// </summary>
    [Fact]
    public void DecTtlWithIds_SendsOnePacketInPerControllerId()
    {
        _sw.SetControllerConnected(true);
        var a = _sw.Roles.Join();
        a.Async = a.Async with { PacketInMaster = a.Async.PacketInMaster | OfAsyncConfig.Bit(OfPacketInReason.InvalidTtl) };
        var flow = new FlowModRequest(FlowModCommand.Add, Udp(0x0a000002), 10,
                                      OfInstructions.Apply(new[] { OfAction.DecNwTtl([7, 0, 9]), OfAction.Output(2) }), Rules: MatchRules.OpenFlow13);
        Assert.Equal(OfError.None, _sw.FlowMod(flow));
        _ports[0].Inject(UdpWithTtl(1));
        _dp.PollUntilIdle();
        Assert.True(Wait.Until(() => Volatile.Read(ref _reports.PacketIns) == 3));
        lock (_reports.PacketInIds)
            Assert.Equal([(OfPacketInReason.InvalidTtl, 7), (OfPacketInReason.InvalidTtl, 0), (OfPacketInReason.InvalidTtl, 9)], _reports.PacketInIds);
        Assert.Empty(_ports[1].TakeSent());
        _ports[0].Inject(UdpWithTtl(64));
        _dp.PollUntilIdle();
        Assert.Equal(63, Assert.Single(_ports[1].TakeSent())[22]);

        var plain = flow with { Instructions = OfInstructions.Apply(new[] { OfAction.DecNwTtl(), OfAction.Output(2) }) };
        Assert.Equal(OfError.None, _sw.FlowMod(plain));
        _ports[0].Inject(UdpWithTtl(1));
        _dp.PollUntilIdle();
        Assert.True(Wait.Until(() => Volatile.Read(ref _reports.PacketIns) == 4));
        lock (_reports.PacketInIds) Assert.Equal((OfPacketInReason.InvalidTtl, (ushort)0), _reports.PacketInIds[^1]);

        ushort[] eleven = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        Assert.Equal(OfError.BadArgument, _sw.FlowMod(flow with { Instructions = OfInstructions.Apply(new[] { OfAction.DecNwTtl(eleven) }) }));
        Assert.Equal(OfError.None, _sw.FlowMod(flow with { Instructions = OfInstructions.Apply(new[] { OfAction.DecNwTtl(eleven[..10]) }) }));
        _sw.Roles.Leave(a);
    }

    /// <summary>A UDP frame to 10.0.0.2 with IPv4 TTL <paramref name="ttl"/> (header checksum right).</summary>
    private static byte[] UdpWithTtl(byte ttl)
    {
        var frame = Softswitch.Datapath.Packets.FrameBuilder.Udp(new MacAddress(0x0200_0000_0001), new MacAddress(0x0200_0000_0002), 0x0a000001, 0x0a000002, 1, 2);
        frame[22] = ttl;
        frame[24] = frame[25] = 0;
        uint sum = 0;
        for (int i = 14; i < 34; i += 2) sum += (uint)(frame[i] << 8 | frame[i + 1]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        frame[24] = (byte)(~sum >> 8);
        frame[25] = (byte)~sum;
        return frame;
    }

    [Fact]
    public void PortNumbersCrossToTheDatapathOneToOne()
    {
        Prop.ForAll(Arb.From(Gen.Choose(0, 0xffff)), n =>
        {
            ushort dp = (ushort)n;
            uint of = OfPort.FromDatapath(dp);
            return OfPort.ToDatapath(of, out var back) && back == dp;
        }).QuickCheckThrowOnFailure();
        Assert.True(OfPort.ToDatapath(OfPort.Local, out var local) && local == PortNumber.Local);
        Assert.True(OfPort.ToDatapath(OfPort.Any, out var none) && none == PortNumber.None);
    }

    [Fact]
    public void AMatchTheDatapathCanClassifyReadsBackAsItWasWritten()
    {
        var gen = from inPort in Gen.Choose(0, 4)
                  from vlan in Gen.Choose(-1, 4095)
                  from type in Gen.Elements<ushort>(0, 0x0800, 0x0806, 0x86dd)
                  from proto in Gen.Choose(-1, 255)
                  from src in Gen.Choose(0, 32)
                  from dst in Gen.Choose(0, 32)
                  from tp in Gen.Choose(-1, 65535)
                  from tun in Gen.Choose(-1, 1000)
                  select (inPort, vlan, type, proto, src, dst, tp, tun);
        Prop.ForAll(Arb.From(gen), t =>
        {
            var m = new OfMatch();
            if (t.inPort > 0) m.InPort((uint)t.inPort);
            if (t.vlan == 0) m.Untagged();
            else if (t.vlan > 0) m.Vlan((ushort)t.vlan);
            if (t.type != 0) m.EthType(t.type);
            if (t.proto >= 0) m.NwProto((byte)t.proto);
            m.NwSrc(0x0a0b0c0d, OfMatch.PrefixMask(t.src));
            m.NwDst(0xc0a80001, OfMatch.PrefixMask(t.dst));
            if (t.tp >= 0) m.TpDst((ushort)t.tp);
            if (t.tun >= 0) m.TunnelId((ulong)t.tun);
            return OfMatchCompiler.TryCompile(m, out var dp) == OfError.None && OfMatchCompiler.ToOfMatch(dp) == m;
        }).QuickCheckThrowOnFailure();
    }
}
