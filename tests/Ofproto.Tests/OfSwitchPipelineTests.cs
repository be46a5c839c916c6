using Softswitch.Datapath;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// OpenFlow 1.3 flow-mods through <see cref="OfSwitch"/> (<see cref="MatchRules.OpenFlow13"/>): tables 1..254 created
/// on demand, instructions (goto, write-actions, metadata), forward-only gotos, OFPTT_ALL deletes, OpenFlow 1.3's
/// table-miss (no flow: drop; the priority-0 catch-all flow decides otherwise), and flow, aggregate and table
/// statistics per table. OpenFlow 1.0's rules stay as they were (table 0, apply-actions only).
/// </summary>
public sealed class OfSwitchPipelineTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[3];
    private readonly OfSwitch _sw;
    private readonly Reports _reports = new();

    private sealed class Reports : IOfReports
    {
        public int PacketIns;
        public byte LastTable = 0xff;
        public ulong LastCookie;
        public ulong LastMetadata;
        public OfPacketInReason LastReason;
        public (ushort MaxLen, bool ByAction, ushort ControllerId) LastAction;
        public void PacketIn(in OfPacketIn packet)
        {
            LastAction = (packet.MaxLen, packet.ByAction, packet.ControllerId);
            LastMetadata = packet.Metadata;
            LastTable = packet.TableId;
            LastCookie = packet.Cookie;
            LastReason = packet.Reason;
            Interlocked.Increment(ref PacketIns);
        }
        public void FlowRemoved(in OfFlowRemoved removed) { }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    public OfSwitchPipelineTests()
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

    private static FlowModRequest Add13(byte table, in OfMatch m, ushort priority, OfInstructions ins, ulong cookie = 0)
        => new(FlowModCommand.Add, m, priority, ins, TableId: table, Cookie: cookie, Rules: MatchRules.OpenFlow13);

    private static OfInstructions Goto(byte table, params OfAction[] apply) => new(apply, GotoTable: table);

    private void Send(int port = 0)
    {
        _ports[port].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2));
        _dp.PollUntilIdle();
    }

    private int SentOn(int port) => _ports[port].TakeSent().Count;

    /// <summary>
    /// A load into part of a packet field in a packet-out's actions and in a group's bucket (Open vSwitch runs both
    /// through the pipeline, as a flow's list): the frame goes out rewritten, its IPv4 header checksum fixed; a load into
    /// a register stays a flow's (BAD_ARGUMENT).
    /// </summary>
    [Fact]
    public void APartialLoadInAPacketOutOrABucket_ForwardsTheRewrittenFrame()
    {
        var load = OfAction.FieldLoad(new OfSubfield(OfField.NwTtl, 0, 4), 5, OfAction.LoadFormRegLoad);
        var frame = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2);
        byte ttl = (byte)((frame[22] & 0xF0) | 5);
        void Check(byte[] sent)
        {
            Assert.Equal(ttl, sent[22]);
            uint sum = 0;
            for (int i = 14; i < 34; i += 2) sum += (uint)(sent[i] << 8 | sent[i + 1]);
            while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
            Assert.Equal(0xFFFFu, sum);
            Assert.Equal(frame.Length, sent.Length);
            for (int i = 0; i < frame.Length; i++)
                if (i is not (22 or 24 or 25)) Assert.Equal(frame[i], sent[i]); // all but the TTL and the header checksum
        }
        Assert.Equal(OfError.None, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, new[] { load, OfAction.Output(2) }, frame)));
        Check(Assert.Single(_ports[1].TakeSent()));
        var bucket = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { load, OfAction.Output(3) });
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 6, [bucket])));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Group(6) }))));
        Send();
        Check(Assert.Single(_ports[2].TakeSent()));
        var reg = OfAction.FieldLoad(new OfSubfield(OfField.Reg0, 0, 4), 5, OfAction.LoadFormRegLoad);
        Assert.Equal(OfError.BadArgument, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, new[] { reg, OfAction.Output(2) }, frame)));
    }

    [Fact]
    public void InstructionsAreAcceptedUnderOpenFlow13Only_GotosMustGoForward()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, Goto(1))));
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Add13(2, OfMatch.Any, 1, Goto(2))));
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Add13(3, OfMatch.Any, 1, Goto(1))));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Add13(255, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(1) }))));
        // One limit, the switch's: tables 0..253 (254 is the emergency flows' id), for the table and the goto alike.
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Add13(OfFlowTables.MaxTables, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(1) }))));
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Add13(1, OfMatch.Any, 1, Goto(OfFlowTables.MaxTables))));
        // Under OpenFlow 1.0's rules an instruction other than a goto-table is refused whole, and so is a table other than 0.
        var clear = new OfInstructions(new[] { OfAction.Output(1) }, ClearActions: true);
        Assert.Equal(OfError.UnsupportedInstruction, _sw.FlowMod(Add13(0, OfMatch.Any, 2, clear) with { Rules = MatchRules.OpenFlow10 }));
        Assert.Equal(OfError.UnsupportedInstruction, _sw.FlowMod(Add13(0, OfMatch.Any, 2, Goto(1) with { Meter = 1 }) with { Rules = MatchRules.OpenFlow10 }));
        Assert.Equal(OfError.UnsupportedInstruction, _sw.FlowMod(Add13(0, OfMatch.Any, 2, Goto(1)) with { Rules = MatchRules.OpenFlow10 & ~MatchRules.GotoTable }));
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Add13(0, OfMatch.Any, 2, Goto(OfFlowTables.MaxTables)) with { Rules = MatchRules.OpenFlow10 }));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Add13(1, OfMatch.Any, 2, OfInstructions.Apply(new[] { OfAction.Output(1) })) with { Rules = MatchRules.OpenFlow10 }));
        // The refused flow-mods created no table; the goto created the table it names.
        Assert.True(_sw.Flows.HasTable(1));
        Assert.False(_sw.Flows.HasTable(2));
        Assert.False(_sw.Flows.HasTable(3));
        Assert.Equal([0, 1], _sw.Tables.ToArray().Select(t => (int)t.Id));
        Assert.Equal(TableMiss.Drop, _sw.Tables[1].Miss);
    }

    private static FlowModRequest Mod10(FlowModCommand command, ushort priority, OfInstructions ins)
        => new(command, OfMatch.Any, priority, ins, Rules: MatchRules.OpenFlow10);

    private OfFlowInstructions? InstructionsOfTableZero()
    {
        OfFlowInstructions? found = null;
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, TableId: 0, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) => { found = f.Instructions; return true; });
        return found;
    }

    [Fact]
    public void AnOpenFlow10GotoFromTableZero_GoesOn_AndAnOpenFlow10ModifySetsOnlyTheGoto()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10(FlowModCommand.Add, 5, Goto(1, OfAction.Output(3)))));
        Send();
        Assert.Equal(1, SentOn(2)); // table 0's apply-actions
        Assert.Equal(1, SentOn(1)); // then table 1's
        Assert.Equal((byte)1, InstructionsOfTableZero()?.GotoTable);

        // A 1.0 modify without the goto drops it; table 1 is not reached.
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10(FlowModCommand.Modify, 5, OfInstructions.Apply(new[] { OfAction.Output(3) }))));
        Assert.Null(InstructionsOfTableZero());
        Send();
        Assert.Equal(1, SentOn(2));
        Assert.Equal(0, SentOn(1));

        // A flow with instructions 1.0 cannot show keeps them through a 1.0 modify, which sets its goto.
        var write = new OfInstructions(ReadOnlyMemory<OfAction>.Empty, WriteActions: new[] { OfAction.Output(3) }, GotoTable: 1);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 5, write)));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10(FlowModCommand.ModifyStrict, 5, Goto(2))));
        var ins = InstructionsOfTableZero();
        Assert.Equal((byte)2, ins?.GotoTable);
        Assert.NotNull(ins?.WriteActions);
    }

    private static readonly OfMatch Ip = new OfMatch().EthType(0x0800), Tcp = new OfMatch().EthType(0x0800).NwProto(6),
                                    Udp = new OfMatch().EthType(0x0800).NwProto(17), Arp = new OfMatch().EthType(0x0806);

    /// <summary>An OpenFlow 1.0 modify as the agent gives it: it names every table.</summary>
    private static FlowModRequest Mod10All(FlowModCommand command, in OfMatch m, ushort priority, OfInstructions ins, ulong cookie = 0)
        => new(command, m, priority, ins, TableId: FlowModRequest.AllTables, Cookie: cookie, Rules: MatchRules.OpenFlow10);

    private sealed record Seen(byte Table, ushort Priority, OfMatch Match, uint Output, byte? Goto, bool Writes, ulong Metadata, ulong Cookie);

    private Seen[] FlowsSeen()
    {
        var seen = new List<Seen>();
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) =>
        {
            seen.Add(new Seen(f.TableId, f.Priority, f.Match, f.Actions.Length == 1 ? f.Actions[0].Port : 0, f.Instructions?.GotoTable,
                              f.Instructions?.WriteActions is not null, f.Instructions?.MetadataValue ?? 0, f.Cookie));
            return true;
        });
        return [.. seen.OrderBy(x => x.Table).ThenBy(x => x.Priority).ThenBy(x => x.Match.Value.NwProto)];
    }

    private Seen Flow(byte table, ushort priority, in OfMatch m)
    {
        var match = m;
        return Assert.Single(FlowsSeen(), f => f.Table == table && f.Priority == priority && f.Match == match);
    }

    [Fact]
    public void AnOpenFlow10Modify_ChangesTheMatchingFlowsOfEveryTable_StrictOnlyTheIdenticalOnes_AndAddsToTableZeroWhenNoneMatches()
    {
        var out1 = new[] { OfAction.Output(1) };
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, Tcp, 5, Goto(2, OfAction.Output(1)))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, Arp, 5, OfInstructions.Apply(out1))));
        var writes = new OfInstructions(out1, WriteActions: new[] { OfAction.Output(2) }, MetadataValue: 0xab, MetadataMask: 0xff);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, Tcp, 5, writes)));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, Tcp, 7, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, Ip, 5, OfInstructions.Apply(out1))));

        // Loose: every ip flow of tables 0 and 2 outputs to 3 and takes the cookie; a 1.0 modify sets the goto (none
        // here) and keeps a flow's write-actions and metadata. The arp flow stays.
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Ip, 0, OfInstructions.Apply(new[] { OfAction.Output(3) }), cookie: 0x10)));
        Assert.Equal(new Seen(0, 5, Tcp, 3, null, false, 0, 0x10), Flow(0, 5, Tcp));
        Assert.Equal(new Seen(0, 5, Arp, 1, null, false, 0, 0), Flow(0, 5, Arp));
        Assert.Equal(new Seen(2, 5, Tcp, 3, null, true, 0xab, 0x10), Flow(2, 5, Tcp));
        Assert.Equal(new Seen(2, 7, Tcp, 3, null, false, 0, 0x10), Flow(2, 7, Tcp));
        Assert.Equal(new Seen(2, 5, Ip, 3, null, false, 0, 0x10), Flow(2, 5, Ip));

        // Strict: the tcp flows of priority 5, in each table, and no other.
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.ModifyStrict, Tcp, 5, OfInstructions.Apply(new[] { OfAction.Output(2) }), cookie: 0x20)));
        Assert.Equal(new Seen(0, 5, Tcp, 2, null, false, 0, 0x20), Flow(0, 5, Tcp));
        Assert.Equal(new Seen(2, 5, Tcp, 2, null, true, 0xab, 0x20), Flow(2, 5, Tcp));
        Assert.Equal(new Seen(2, 7, Tcp, 3, null, false, 0, 0x10), Flow(2, 7, Tcp));
        Assert.Equal(new Seen(2, 5, Ip, 3, null, false, 0, 0x10), Flow(2, 5, Ip));

        // A modify no flow of any table matches is OpenFlow 1.0's add, into table 0.
        Assert.Equal(5, FlowsSeen().Length);
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.ModifyStrict, Udp, 9, OfInstructions.Apply(new[] { OfAction.Output(2) }), cookie: 0x30)));
        Assert.Equal(new Seen(0, 9, Udp, 2, null, false, 0, 0x30), Flow(0, 9, Udp));
        Assert.Equal(6, FlowsSeen().Length);
        Assert.Equal(3, _sw.Flows.Main.Count);
        // A loose one (any priority) finds table 0's arp flow and sets its goto; it adds nothing.
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Arp, 6, Goto(3, OfAction.Output(3)), cookie: 0x40)));
        Assert.Equal(new Seen(0, 5, Arp, 3, 3, false, 0, 0x40), Flow(0, 5, Arp));
        Assert.Equal(6, FlowsSeen().Length);
        Assert.True(_sw.Flows.HasTable(3));
    }

    [Fact]
    public void AnOpenFlow10ModifyThatWouldSetABackwardGoto_IsRefusedWhole()
    {
        var out1 = new[] { OfAction.Output(1) };
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, Tcp, 5, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, Tcp, 5, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, Tcp, 7, OfInstructions.Apply(out1))));
        var before = FlowsSeen();

        // A resubmit to table 2 (or 1) for flows of table 2: the goto would not go forward there; nothing changes.
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Tcp, 0, Goto(2, OfAction.Output(3)), cookie: 0x10)));
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Mod10All(FlowModCommand.ModifyStrict, Tcp, 5, Goto(1, OfAction.Output(3)))));
        // A goto to table 0 goes forward from no table, not even for the add a modify matching nothing is.
        Assert.Equal(OfError.BadGotoTable, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Udp, 0, Goto(0, OfAction.Output(3)))));
        Assert.Equal(before, FlowsSeen());
        Assert.False(_sw.Flows.HasTable(1));

        // Forward from every flow it changes, it is taken: tables 0 and 2 go on to table 3.
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.ModifyStrict, Tcp, 5, Goto(3, OfAction.Output(3)))));
        Assert.Equal(new Seen(0, 5, Tcp, 3, 3, false, 0, 0), Flow(0, 5, Tcp));
        Assert.Equal(new Seen(2, 5, Tcp, 3, 3, false, 0, 0), Flow(2, 5, Tcp));
        Assert.Equal(new Seen(2, 7, Tcp, 1, null, false, 0, 0), Flow(2, 7, Tcp));
        // A strict modify that finds its flow in table 0 only may go to table 1.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, Udp, 5, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.ModifyStrict, Udp, 5, Goto(1, OfAction.Output(2)))));
        Assert.Equal(new Seen(0, 5, Udp, 2, 1, false, 0, 0), Flow(0, 5, Udp));

        // Under OpenFlow 1.3's rules a modify may not name every table.
        var of13 = new FlowModRequest(FlowModCommand.Modify, Tcp, 0, OfInstructions.Apply(out1), TableId: FlowModRequest.AllTables, Rules: MatchRules.OpenFlow13);
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(of13));
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(of13 with { Command = FlowModCommand.ModifyStrict }));
    }

    [Fact]
    public void AnOpenFlow10ModifyOfEveryTableThatAppliesAGroup_ChangesEveryTable_InARunOrNot()
    {
        var out1 = new[] { OfAction.Output(1) };
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 4, [new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(3) })])));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, Tcp, 5, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, Tcp, 5, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Tcp, 0, OfInstructions.Apply(new[] { OfAction.Group(4) }))));
        Assert.Equal([(0, 4u), (2, 4u)], FlowsSeen().Select(f => ((int)f.Table, GroupOf(f.Table))));

        // In a run (a connection's burst of flow-mods): the run ends before the group lock, and what it held is in.
        _sw.BeginFlowModRun();
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, Tcp, 5, OfInstructions.Apply(out1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.ModifyStrict, Tcp, 5, OfInstructions.Apply(new[] { OfAction.Output(2), OfAction.Group(4) }))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(3, Tcp, 5, OfInstructions.Apply(out1))));
        _sw.EndFlowModRun();
        Assert.False(_sw.Flows.InRun);
        Assert.Equal([(0, 4u), (1, 4u), (2, 4u), (3, 0u)], FlowsSeen().Select(f => ((int)f.Table, GroupOf(f.Table))));
    }

    /// <summary>The group the tcp flow of priority 5 in <paramref name="table"/> applies last, or 0.</summary>
    private uint GroupOf(byte table)
    {
        uint group = 0;
        _sw.VisitFlows(new FlowStatsRequest(Tcp, TableId: table, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) =>
        {
            foreach (var a in f.Actions)
                if (a.Type == OfActionType.Group) group = a.QueueId;
            return true;
        });
        return group;
    }

    [Fact]
    public void AnOpenFlow10ModifyOfEveryTable_IsOneOfTableZeroWhileItIsTheOnlyTable()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Udp, 5, OfInstructions.Apply(new[] { OfAction.Output(1) }))));
        Assert.Equal(OfError.None, _sw.FlowMod(Mod10All(FlowModCommand.Modify, Ip, 0, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
        Assert.False(_sw.Flows.Pipeline.IsMultiStage);
        Assert.Equal([new Seen(0, 5, Udp, 2, null, false, 0, 0)], FlowsSeen());
        Send();
        Assert.Equal(1, SentOn(1));
    }

    [Fact]
    public void TheLastTableIsTheLimitLessOne()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, OfMatch.Any, 1, Goto(OfFlowTables.MaxTables - 1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(OfFlowTables.MaxTables - 1, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(1) }))));
        Assert.True(_sw.HasTable(OfFlowTables.MaxTables - 1));
        Assert.False(_sw.HasTable(OfFlowTables.MaxTables));
    }

    [Fact]
    public void APacketGoesThroughEveryTableAndEachCountsIt()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, Goto(1))));
        var write = new OfInstructions(ReadOnlyMemory<OfAction>.Empty, WriteActions: new[] { OfAction.Output(3) }, GotoTable: 4,
                                       MetadataValue: 0x11, MetadataMask: 0xff);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, new OfMatch().EthDst(Dst.Value), 5, write, cookie: 0x1)));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(4, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(2) }), cookie: 0x4)));
        for (int i = 0; i < 3; i++) Send();
        Assert.Equal(3, SentOn(1));
        Assert.Equal(3, SentOn(2));   // the action set's output, after table 4's apply-actions

        var seen = new List<(byte Table, ulong Packets)>();
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) => { seen.Add((f.TableId, f.PacketCount)); return true; });
        Assert.Equal([((byte)0, 3UL), ((byte)1, 3UL), ((byte)4, 3UL)], seen.OrderBy(s => s.Table).ToArray());
        Assert.Equal(1u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, TableId: 4, Rules: MatchRules.OpenFlow13)).FlowCount);
        Assert.Equal(0u, _sw.Totals(new FlowStatsRequest(OfMatch.Any, TableId: 9, Rules: MatchRules.OpenFlow13)).FlowCount);
        foreach (byte t in new byte[] { 0, 1, 4 })
        {
            var st = _sw.TableStats(t);
            Assert.Equal(t, st.TableId);
            Assert.Equal(1, st.ActiveCount);
            Assert.Equal(3, st.LookupCount);
            Assert.Equal(3, st.MatchedCount);
        }
    }

    [Fact]
    public void AfterAMeterOrADecTtlDrop_EachLaterTableCountsOnlyWhatReachedIt()
    {
        // Table 0: a meter of 1 packet/s with a burst of 6 (full at the start), then table 1: dec_ttl, then table 2: output.
        Assert.Equal(OfError.None, _sw.MeterMod(new MeterModRequest(MeterModCommand.Add, OfMeterFlags.Pktps | OfMeterFlags.Burst, 1,
            [new OfMeterBand(OfMeterBandType.Drop, 1, 6)])));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 1, Meter: 1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, OfMatch.Any, 1, Goto(2, OfAction.DecNwTtl()))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
        // 20 frames in one burst, every other one with TTL 1: the meter passes 6, of which dec_ttl drops 3.
        for (int i = 0; i < 20; i++)
        {
            var f = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, (ushort)(100 + i));
            if (i % 2 == 1)
            {
                f[22] = 1;
                f[24] = f[25] = 0;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Datapath.Packets.Checksum.Compute(f.AsSpan(14, 20)));
            }
            _ports[0].Inject(f);
        }
        _dp.PollUntilIdle();
        Assert.Equal(3, SentOn(1));
        Assert.Equal((20L, 20L), (_sw.TableStats(0).LookupCount, _sw.TableStats(0).MatchedCount));
        Assert.Equal((6L, 6L), (_sw.TableStats(1).LookupCount, _sw.TableStats(1).MatchedCount));
        Assert.Equal((3L, 3L), (_sw.TableStats(2).LookupCount, _sw.TableStats(2).MatchedCount));
        var seen = new List<(byte Table, ulong Packets)>();
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) => { seen.Add((f.TableId, f.PacketCount)); return true; });
        Assert.Equal([((byte)0, 20UL), ((byte)1, 6UL), ((byte)2, 3UL)], seen.OrderBy(s => s.Table).ToArray());
    }

    [Fact]
    public void OpenFlow13TableMissIsADropUnlessACatchAllFlowSaysOtherwise()
    {
        _sw.Flows.SetTableMiss(0, TableMiss.Drop);
        Send();
        Assert.False(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) != 0, 200));
        Assert.Equal(0, SentOn(1) + SentOn(2));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 0, Goto(2))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any, 0, OfInstructions.Apply(new[] { OfAction.Output(OfPort.Controller) }))));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 1, 5000));
        // Table 2's hit is on its table-miss flow entry: a lookup, not a match; table 0's catch-all also has priority 0.
        Assert.Equal((1L, 0L), (_sw.TableStats(2).LookupCount, _sw.TableStats(2).MatchedCount));
    }

    [Fact]
    public void ATableMissFlowEntrysPacketsAreLookedUpButNotMatched()
    {
        _sw.Flows.SetTableMiss(0, TableMiss.Drop);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, new OfMatch().EthDst(Dst.Value), 5, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 0, OfInstructions.Apply(new[] { OfAction.Output(3) }))));
        var other = MacAddress.Parse("02:00:00:00:00:09");
        for (int i = 0; i < 2; i++) Send();
        for (int i = 0; i < 3; i++)
        {
            _ports[0].Inject(FrameBuilder.Udp(Src, other, 0x0a000001, 0x0a000002, 1, (ushort)(2 + i)));
            _dp.PollUntilIdle();
        }
        Assert.Equal((2, 3), (SentOn(1), SentOn(2)));
        var st = _sw.TableStats(0);
        Assert.Equal((5L, 2L), (st.LookupCount, st.MatchedCount));
        // A flow that matches everything at priority 1 is an ordinary flow: its packets are matched.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(3) }))));
        _ports[0].Inject(FrameBuilder.Udp(Src, other, 0x0a000001, 0x0a000002, 1, 9));
        _dp.PollUntilIdle();
        Assert.Equal((6L, 3L), (_sw.TableStats(0).LookupCount, _sw.TableStats(0).MatchedCount));
    }

    [Fact]
    public void AnOpenFlow10CatchAllFlowCountsItsPacketsAsMatched()
    {
        var add = new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 0, OfInstructions.Apply(new[] { OfAction.Output(2) }), Rules: MatchRules.OpenFlow10);
        Assert.Equal(OfError.None, _sw.FlowMod(add));
        for (int i = 0; i < 3; i++) Send();
        Assert.Equal(3, SentOn(1));
        Assert.Equal((3L, 3L), (_sw.TableStats(0).LookupCount, _sw.TableStats(0).MatchedCount));
    }

    /// <summary>
    /// Open vSwitch's controller action: the packet-in carries the reason, max_len and controller id the action gave (a
    /// no_match from a flow that is no table-miss entry included), and the flow's table and cookie; a plain output to the
    /// controller is none of that.
    /// </summary>
    [Fact]
    public void AControllerActionGivesItsReasonMaxLenAndControllerId()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any.EthType(0x0800), 9,
            OfInstructions.Apply(new[] { OfAction.Controller(1234, 2, 5678) }), cookie: 0x77)));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 5, Goto(2))));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 1, 5000));
        Assert.Equal((2, 0x77UL, OfPacketInReason.InvalidTtl), (_reports.LastTable, _reports.LastCookie, _reports.LastReason));
        Assert.Equal(((ushort)1234, true, (ushort)5678), _reports.LastAction);

        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any.EthType(0x0800), 9,
            OfInstructions.Apply(new[] { OfAction.Controller(64, 0, 0) }), cookie: 0x78)));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 2, 5000));
        Assert.Equal((2, 0x78UL, OfPacketInReason.NoMatch), (_reports.LastTable, _reports.LastCookie, _reports.LastReason));
        Assert.Equal(((ushort)64, true, (ushort)0), _reports.LastAction);

        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any.EthType(0x0800), 9,
            OfInstructions.Apply(new[] { OfAction.Output(OfPort.Controller, 64) }), cookie: 0x79)));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 3, 5000));
        Assert.Equal(OfPacketInReason.Action, _reports.LastReason);
        Assert.Equal(((ushort)64, false, (ushort)0), _reports.LastAction);
    }

    [Fact]
    public void APacketInNamesTheFlowThatSentItAndATableMissEntryIsAMiss()
    {
        _sw.Flows.SetTableMiss(0, TableMiss.Drop);
        // Table 3's table-miss flow entry (priority 0, matching everything) reached through a goto: reason explicit miss.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 5, Goto(3), cookie: 0x11)));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(3, OfMatch.Any, 0, OfInstructions.Apply(new[] { OfAction.Output(OfPort.Controller, 0xffff) }), cookie: 0xc0ffee)));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 1, 5000));
        Assert.Equal((3, 0xc0ffeeUL, OfPacketInReason.ExplicitMiss), (_reports.LastTable, _reports.LastCookie, _reports.LastReason));

        // A flow that matches something, in the write-actions of table 3 at priority 7: the action set's, with its cookie.
        var udp = OfMatch.Any.EthType(0x0800).NwProto(17);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(3, udp, 7, new OfInstructions(default, WriteActions: new[] { OfAction.Output(OfPort.Controller, 128) }), cookie: 0xbeef)));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 2, 5000));
        Assert.Equal((3, 0xbeefUL, OfPacketInReason.ActionSet), (_reports.LastTable, _reports.LastCookie, _reports.LastReason));
        // Asynchronous masks treat the table-miss entry's packet-in as a miss.
        Assert.Equal(OfPacketInReason.NoMatch, OfPacketInReason.ExplicitMiss.AsyncReason());
    }

    /// <summary>
    /// OpenFlow 1.4's refinements of OFPR_ACTION, as Open vSwitch's xlate_output_action picks them: a plain output to the
    /// controller in an action set is ACTION_SET (a table-miss entry's too), in a group's bucket GROUP (the group reached
    /// from an action set too), in a packet-out's actions PACKET_OUT (also through a group, and in the flows its output to
    /// the table reaches); a controller action keeps the reason it names.
    /// </summary>
    [Fact]
    public void AnOutputToTheControllerIsReportedAsWhereItWas_ActionSetGroupOrPacketOut()
    {
        var bucket = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(OfPort.Controller, 0xffff) });
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 5, [bucket])));
        var udp = OfMatch.Any.EthType(0x0800).NwProto(17);
        int n = 0;
        // cookie null: a group's bucket or a packet-out's actions, which belong to no flow here.
        void Expect(byte table, ulong? cookie, OfPacketInReason reason)
        {
            n++;
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == n, 5000));
            Assert.Equal(reason, _reports.LastReason);
            if (cookie is { } c) Assert.Equal((table, c), ((byte)_reports.LastTable, _reports.LastCookie));
        }

        // A table-miss flow entry's action set: still ACTION_SET (Open vSwitch makes only OFPR_ACTION an explicit miss).
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 0, new OfInstructions(default, WriteActions: new[] { OfAction.Output(OfPort.Controller, 0xffff) }), cookie: 0x21)));
        Send();
        Expect(0, 0x21, OfPacketInReason.ActionSet);
        // Apply-actions reaching the group.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, OfInstructions.Apply(new[] { OfAction.Group(5) }), cookie: 0x22)));
        Send();
        Expect(0, null, OfPacketInReason.Group);
        // An action set holding the group: the group's.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, new OfInstructions(default, WriteActions: new[] { OfAction.Group(5) }), cookie: 0x23)));
        Send();
        Expect(0, null, OfPacketInReason.Group);

        var frame = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2);
        OfError Out(params OfAction[] actions) => _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, OfPort.Controller, actions, frame));
        Assert.Equal(OfError.None, Out(OfAction.Output(OfPort.Controller, 0xffff)));
        Expect(0, null, OfPacketInReason.PacketOut);
        Assert.Equal(OfError.None, Out(OfAction.Group(5)));
        Expect(0, null, OfPacketInReason.PacketOut);
        // Through the table: the flow there sends it, as a packet-out's (its table and cookie).
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, OfInstructions.Apply(new[] { OfAction.Output(OfPort.Controller, 0xffff) }), cookie: 0x24)));
        Assert.Equal(OfError.None, _sw.PacketOut(new PacketOutRequest(PacketBuffers.NoBuffer, 1, new[] { OfAction.Output(OfPort.Table) }, frame)));
        Expect(0, 0x24, OfPacketInReason.PacketOut);
        // A controller action names its own reason, in a packet-out too.
        Assert.Equal(OfError.None, Out(OfAction.Controller(0xffff, 0, 0)));
        Expect(0, null, OfPacketInReason.NoMatch);
        // And a plain output from a frame the switch received is an action's again.
        Send();
        Expect(0, 0x24, OfPacketInReason.Action);
    }

    /// <summary>
    /// Where a resubmit leads, as Open vSwitch's in_action_set and group_bucket_action say: a rule the action set's
    /// resubmit reaches outputs to the controller as the action set (ACTION_SET); a rule a bucket's resubmit reaches as an
    /// action (ACTION: the bucket's own output is the group's), and as the action set when the set applied the group.
    /// </summary>
    [Fact]
    public void AnOutputToTheControllerInARuleAResubmitReached_IsTheActionSetsOrAnActions()
    {
        var toController = new[] { OfAction.Output(OfPort.Controller, 0xffff) };
        var resubmit = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Resubmit(7, OfPort.InPort) });
        var own = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, toController);
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 6, [resubmit])));
        Assert.Equal(OfError.None, _sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 8, [own])));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(7, OfMatch.Any, 1, OfInstructions.Apply(toController), cookie: 0x77)));
        var udp = OfMatch.Any.EthType(0x0800).NwProto(17);
        int n = 0;
        void Expect(OfPacketInReason reason, ulong cookie)
        {
            n++;
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == n, 5000));
            Assert.Equal((reason, (byte)7, cookie), (_reports.LastReason, (byte)_reports.LastTable, _reports.LastCookie));
        }

        // The action set's resubmit.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, new OfInstructions(default, WriteActions: new[] { OfAction.Resubmit(7, OfPort.InPort) }))));
        Send();
        Expect(OfPacketInReason.ActionSet, 0x77);
        // A bucket's resubmit from apply-actions, then from the action set.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, OfInstructions.Apply(new[] { OfAction.Group(6) }))));
        Send();
        Expect(OfPacketInReason.Action, 0x77);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, new OfInstructions(default, WriteActions: new[] { OfAction.Group(6) }))));
        Send();
        Expect(OfPacketInReason.ActionSet, 0x77);
        // The rule a resubmit in apply-actions reaches: an action's.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, OfInstructions.Apply(new[] { OfAction.Resubmit(7, OfPort.InPort) }))));
        Send();
        Expect(OfPacketInReason.Action, 0x77);
        // A bucket's own output stays the group's.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, udp, 9, OfInstructions.Apply(new[] { OfAction.Group(8) }))));
        Send();
        n++;
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == n, 5000));
        Assert.Equal(OfPacketInReason.Group, _reports.LastReason);
    }

    [Fact]
    public void APacketInCarriesTheMetadataTheEarlierTablesWrote()
    {
        _sw.Flows.SetTableMiss(0, TableMiss.Drop);
        var toController = new[] { OfAction.Output(OfPort.Controller, 0xffff) };
        // Table 0 writes 0xab in the low byte and goes to table 2, whose apply-actions send to the controller.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, new OfInstructions(default, GotoTable: 2, MetadataValue: 0xab, MetadataMask: 0xff))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any, 1, OfInstructions.Apply(toController))));
        // Twice: the table-by-table run and the cached verdict.
        for (int i = 1; i <= 2; i++)
        {
            Send();
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == i, 5000));
            Assert.Equal((2, 0xabUL), (_reports.LastTable, _reports.LastMetadata));
        }

        // Table 2 writes more and puts the output in the action set: the packet-in sees the metadata at the end.
        var write = new OfInstructions(default, WriteActions: toController, MetadataValue: 0x120000, MetadataMask: 0xff0000);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any, 1, write) with { Command = FlowModCommand.Modify }));
        for (int i = 3; i <= 4; i++)
        {
            Send();
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == i, 5000));
            Assert.Equal((2, 0x1200abUL), (_reports.LastTable, _reports.LastMetadata));
        }

        // Table 0 sending to the controller itself: no metadata yet.
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, OfInstructions.Apply(toController))));
        Send();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _reports.PacketIns) == 5, 5000));
        Assert.Equal((0, 0UL), (_reports.LastTable, _reports.LastMetadata));
    }

    [Fact]
    public void AnOpenFlow13AddThatReplacesAFlowKeepsItsCountersUnlessResetCounts()
    {
        var add = Add13(0, OfMatch.Any, 5, OfInstructions.Apply(new[] { OfAction.Output(2) }));
        Assert.Equal(OfError.None, _sw.FlowMod(add));
        Send();
        ulong Packets()
        {
            ulong n = 0;
            _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) => { n += f.PacketCount; return true; });
            return n;
        }
        Assert.True(SpinWait.SpinUntil(() => Packets() == 1, 5000));
        Assert.Equal(OfError.None, _sw.FlowMod(add with { Cookie = 7 }));
        Assert.Equal(1UL, Packets()); // 1.3.5 section 6.4: copied from the replaced flow
        Assert.Equal(OfError.None, _sw.FlowMod(add with { Flags = FlowModFlags.ResetCounts | FlowModFlags.NoPacketCounts }));
        Assert.Equal(0UL, Packets());
        Assert.Equal(FlowModFlags.ResetCounts | FlowModFlags.NoPacketCounts, FlagsOfTheFlow()); // the flow keeps them all, as Open vSwitch's rule
    }

    private FlowModFlags FlagsOfTheFlow()
    {
        FlowModFlags kept = 0;
        int n = 0;
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) => { kept = f.Flags; n++; return true; });
        Assert.Equal(1, n);
        return kept;
    }

    /// <summary>
    /// A flow keeps the flags of the ADD that made it, RESET_COUNTS among them; a modify (its RESET_COUNTS too) leaves
    /// them as they are, as Open vSwitch's replace_rule_start copies the old rule's flags unless the command is an add;
    /// an ADD that replaces the flow sets them anew.
    /// </summary>
    [Theory]
    [InlineData(FlowModCommand.Modify)]
    [InlineData(FlowModCommand.ModifyStrict)]
    public void AFlowKeepsItsAddsFlags_AModifyLeavesThem(FlowModCommand command)
    {
        var add = Add13(0, OfMatch.Any, 5, OfInstructions.Apply(new[] { OfAction.Output(2) }));
        Assert.Equal(OfError.None, _sw.FlowMod(add with { Flags = FlowModFlags.ResetCounts | FlowModFlags.SendFlowRemoved }));
        Assert.Equal(FlowModFlags.ResetCounts | FlowModFlags.SendFlowRemoved, FlagsOfTheFlow());
        var modify = add with { Command = command, Instructions = OfInstructions.Apply(new[] { OfAction.Output(3) }) };
        Assert.Equal(OfError.None, _sw.FlowMod(modify with { Flags = FlowModFlags.NoByteCounts }));
        Assert.Equal(FlowModFlags.ResetCounts | FlowModFlags.SendFlowRemoved, FlagsOfTheFlow());
        Assert.Equal(OfError.None, _sw.FlowMod(modify with { Flags = FlowModFlags.ResetCounts | FlowModFlags.CheckOverlap }));
        Assert.Equal(FlowModFlags.ResetCounts | FlowModFlags.SendFlowRemoved, FlagsOfTheFlow());
        Assert.Equal(OfError.None, _sw.FlowMod(add with { Flags = FlowModFlags.NoByteCounts }));
        Assert.Equal(FlowModFlags.NoByteCounts, FlagsOfTheFlow());
    }

    [Fact]
    public void DeleteInEveryTableAndModifyReplacesTheInstructions()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, Goto(1))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(2, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(3) }))));
        Send();
        Assert.Equal(1, SentOn(1));

        // MODIFY_STRICT of table 0's flow: now it goes to table 2.
        var mod = Add13(0, OfMatch.Any, 1, Goto(2)) with { Command = FlowModCommand.ModifyStrict };
        Assert.Equal(OfError.None, _sw.FlowMod(mod));
        Send();
        Assert.Equal(0, SentOn(1));
        Assert.Equal(1, SentOn(2));

        // A delete in table 1 only, then in every table.
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default, TableId: 1, Rules: MatchRules.OpenFlow13)));
        Assert.Equal(0, _sw.Flows.Pipeline.Stage(1)!.Count);
        Assert.Equal(1, _sw.Flows.Main.Count);
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default, TableId: FlowModRequest.AllTables, Rules: MatchRules.OpenFlow13)));
        Assert.Equal(0, _sw.Flows.Main.Count);
        Assert.Equal(0, _sw.Flows.Pipeline.Stage(2)!.Count);
        // An add may not name every table.
        Assert.Equal(OfError.BadTableId, _sw.FlowMod(Add13(FlowModRequest.AllTables, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
    }

    [Fact]
    public void OpenFlow10FlowModsLeaveThePipelineSingleTable()
    {
        Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 1, OfInstructions.Apply(new[] { OfAction.Output(2) }))));
        Assert.False(_sw.Flows.Pipeline.IsMultiStage);
        Send();
        Assert.Equal(1, SentOn(1));
        Assert.Single(_sw.Tables.ToArray());
        Assert.Equal(TableMiss.Controller, _sw.Tables[0].Miss);
        Assert.Equal(TableMissMode.Controller, _sw.Flows.Main.MissMode);
    }

    [Fact]
    public void ABufferedPacketReleasedByAnOpenFlow13FlowModRunsTheWholePipeline()
    {
        // Table 1 outputs by its write-actions; table 0's flow, added with the buffer, rewrites eth_dst and goes there.
        var write = new OfInstructions(default, WriteActions: new[] { OfAction.Output(3) });
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, OfMatch.Any, 1, write)));
        var frame = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2);
        uint id = _sw.BufferPacket(frame, 1);
        Assert.NotEqual(PacketBuffers.NoBuffer, id);
        const ulong NewDst = 0x02_00_00_00_00_99;
        var add = Add13(0, OfMatch.Any, 1, Goto(1, OfAction.SetEthDst(NewDst))) with { BufferId = id };
        Assert.Equal(OfError.None, _sw.FlowMod(add));
        _dp.PollUntilIdle();

        Assert.Equal(0, SentOn(1));
        var sent = _ports[2].TakeSent();
        var only = Assert.Single(sent);
        Assert.Equal(NewDst, MacAddress.Read(only.AsSpan(0, 6)).Value);
        Assert.Equal(0, _reports.PacketIns);
        // Each table's flow counts the packet once.
        var seen = new List<(byte Table, ulong Packets)>();
        _sw.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) => { seen.Add((f.TableId, f.PacketCount)); return true; });
        Assert.Equal(new[] { ((byte)0, 1UL), ((byte)1, 1UL) }, seen.OrderBy(x => x.Table).ToArray());
    }

    [Fact]
    public void ABufferedPacketReleasedByAFlowThatWritesActionsAndGoesOn_LeavesAsTheWholePipelineDecides()
    {
        // Table 0's flow (added with the buffer) writes eth_dst and output:2 into the action set and goes to table 1,
        // whose flow writes output:3 over it: the packet leaves rewritten on port 3 only, when the action set runs.
        var table1 = new OfInstructions(default, WriteActions: new[] { OfAction.Output(3) });
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(1, OfMatch.Any, 1, table1)));
        var frame = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2);
        uint id = _sw.BufferPacket(frame, 1);
        const ulong NewDst = 0x02_00_00_00_00_77;
        var table0 = new OfInstructions(default, WriteActions: new[] { OfAction.SetEthDst(NewDst), OfAction.Output(2) }, GotoTable: 1);
        Assert.Equal(OfError.None, _sw.FlowMod(Add13(0, OfMatch.Any, 1, table0) with { BufferId = id }));
        _dp.PollUntilIdle();

        Assert.Equal(0, SentOn(0));
        Assert.Equal(0, SentOn(1));
        var only = Assert.Single(_ports[2].TakeSent());
        Assert.Equal(NewDst, MacAddress.Read(only.AsSpan(0, 6)).Value);
        Assert.Equal(Src.Value, MacAddress.Read(only.AsSpan(6, 6)).Value);
        Assert.Equal(0, _reports.PacketIns);
        // The buffer is spent: a second release of the same id is refused.
        Assert.Equal(OfError.BufferEmpty, _sw.FlowMod(Add13(0, OfMatch.Any, 2, table0) with { BufferId = id }));
    }
}
