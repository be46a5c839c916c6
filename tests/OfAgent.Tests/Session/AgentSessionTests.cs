using System.Buffers.Binary;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>The agent over a real loopback socket with a codec-built test controller, driving a real datapath.</summary>
public sealed class AgentSessionTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01");
    private static readonly MacAddress H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static byte[] Udp(uint dst = 0x0A000002) => FrameBuilder.Udp(H1, H2, 0x0A000001, dst, 1000, 2000, 100);

    private static OfpFlowMod ExactFlow(byte[] frame, ushort inPort, params OfpAction[] actions)
    {
        PacketParser.Parse(frame, inPort, out var k, out _);
        var m = new OfpMatch
        {
            Wildcards = 0, InPort = inPort, DlSrc = new OfpMac(k.DlSrc.Value), DlDst = new OfpMac(k.DlDst.Value), DlVlan = k.DlVlan,
            DlType = k.DlType, NwTos = k.NwTos, NwProto = k.NwProto, NwSrc = k.NwSrc, NwDst = k.NwDst, TpSrc = k.TpSrc, TpDst = k.TpDst,
        };
        var fm = new OfpFlowMod { Match = m, Command = OfpFlowModCommand.Add, Priority = 100 };
        fm.Actions.AddRange(actions);
        return fm;
    }

    private static async Task<OfpErrorMsg> ExpectError(TestController c, OfpErrorType type, ushort code, uint xid)
    {
        var e = await c.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal(type, e.ErrorType);
        Assert.Equal(code, e.Code);
        Assert.Equal(xid, e.Xid);
        Assert.True(e.Data.Length >= 8, "the error echoes the request");
        return e;
    }

    [Fact]
    public async Task HandshakeFeaturesAndConfig()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        uint xid = c.Send(new OfpFeaturesRequest());
        var f = await c.ReceiveAsync<OfpFeaturesReply>();
        Assert.Equal(xid, f.Xid);
        Assert.Equal(0x1234UL, f.DatapathId);
        Assert.Equal(4, f.Ports.Count);
        Assert.Equal("mem1", f.Ports[0].Name);
        Assert.Equal((byte)1, f.NTables); // one logical OpenFlow table
        Assert.Equal(256u, f.NBuffers);
        Assert.Equal(0xFFFu, f.Actions);

        c.Send(new OfpSetConfig { Flags = OfpConfigFlags.FragDrop, MissSendLen = 64 });
        c.Send(new OfpGetConfigRequest());
        var gc = await c.ReceiveAsync<OfpGetConfigReply>();
        Assert.Equal(OfpConfigFlags.FragDrop, gc.Flags);
        Assert.Equal((ushort)64, gc.MissSendLen);
        Assert.Equal(FragmentMode.Drop, rig.Dp.FragmentMode);

        uint ex = c.Send(new OfpEchoRequest { Data = new byte[] { 1, 2, 3 } });
        var er = await c.ReceiveAsync<OfpEchoReply>();
        Assert.Equal(ex, er.Xid);
        Assert.Equal(new byte[] { 1, 2, 3 }, er.Data.ToArray());
    }

    [Fact]
    public async Task HigherHelloVersionNegotiatesDown_LowerIsRefused()
    {
        await using var rig = new AgentRig();
        // A plain HELLO of 1.5 (no bitmap): the smaller version, 1.3, which both speak.
        using (var c = await rig.ConnectAsync(helloVersion: 6))
        {
            c.SendRaw([4, 5, 0, 8, 0, 0, 0, 77]);
            var reply = await c.ReceiveRawAsync();
            Assert.Equal(new byte[] { 4, 6, 0, 32, 0, 0, 0, 77 }, reply![..8]); // a 1.3 FEATURES_REPLY
        }
        // 1.1 without a bitmap: the peer will speak 1.1, which this switch does not.
        using (var c = await rig.ConnectAsync(helloVersion: 2))
        {
            var refusal = await c.ReceiveRawAsync();
            Assert.Equal(new byte[] { 0, 0, 0, 0 }, refusal![8..12]);
            Assert.Equal("We support versions 0x01, 0x04; you support 0x02", System.Text.Encoding.ASCII.GetString(refusal[12..]));
        }
        using var old = await rig.ConnectAsync(helloVersion: 0);
        var raw = await old.ReceiveRawAsync();
        Assert.NotNull(raw);
        Assert.True(OfpMessage.TryDecode(raw!, out var m, out _));
        var e = Assert.IsType<OfpErrorMsg>(m);
        Assert.Equal(OfpErrorType.HelloFailed, e.ErrorType);
        Assert.Equal((ushort)OfpHelloFailedCode.Incompatible, e.Code);
        // OF1.0: HELLO_FAILED data is an ASCII explanation, not the request's bytes.
        var text = e.Data.ToArray();
        Assert.NotEmpty(text);
        Assert.All(text, b => Assert.InRange(b, (byte)0x20, (byte)0x7E));
        Assert.Contains("0x01", System.Text.Encoding.ASCII.GetString(text));
        Assert.Null(await old.ReceiveRawAsync(2000)); // closed
    }

    [Fact]
    public async Task FlowModForwardsAndMissBecomesBufferedPacketInThenPacketOut()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();
        c.Send(new OfpSetConfig { MissSendLen = 32 });
        var f = Udp();
        c.Send(ExactFlow(f, 1, OfpAction.Output(2)));
        await c.BarrierAsync();
        rig.Ports[0].Inject(f);
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());

        var miss = Udp(0x0A000009);
        rig.Ports[0].Inject(miss);
        rig.Poll();
        var pin = await c.ReceiveAsync<OfpPacketIn>();
        Assert.Equal(OfpPacketInReason.NoMatch, pin.Reason);
        Assert.Equal((ushort)1, pin.InPort);
        Assert.Equal(miss.Length, pin.TotalLen);
        Assert.Equal(32, pin.Data.Length);
        Assert.NotEqual(OfpConstants.NoBuffer, pin.BufferId);

        var po = new OfpPacketOut { BufferId = pin.BufferId, InPort = 1 };
        po.Actions.Add(OfpAction.Output(3));
        c.Send(po);
        await c.BarrierAsync();
        Assert.Equal(miss, Assert.Single(rig.Ports[2].TakeSent()));

        // The buffer was used: a second packet-out with it is BUFFER_EMPTY; a made-up id is BUFFER_UNKNOWN.
        uint x1 = c.Send(po);
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BufferEmpty, x1);
        po.BufferId = 0x00ABCD42;
        uint x2 = c.Send(po);
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BufferUnknown, x2);
    }

    [Fact]
    public async Task FlowModWithBufferIdReleasesThePacketThroughTheNewFlow()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();
        var f = Udp();
        rig.Ports[0].Inject(f);
        rig.Poll();
        var pin = await c.ReceiveAsync<OfpPacketIn>();
        var fm = ExactFlow(f, 1, OfpAction.Output(4));
        fm.BufferId = pin.BufferId;
        c.Send(fm);
        await c.BarrierAsync();
        Assert.Equal(f, Assert.Single(rig.Ports[3].TakeSent()));
    }

    [Fact]
    public async Task BufferedPacketOfAFlowModIsProcessedByThatFlowsActions()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();
        var f = Udp();
        rig.Ports[0].Inject(f);
        rig.Poll();
        var pin = await c.ReceiveAsync<OfpPacketIn>();
        // A flow that the buffered packet does not match (it came in on port 1): its actions still apply to it,
        // and it does not come back as a new PACKET_IN.
        var fm = ExactFlow(f, 2, OfpAction.Output(4));
        fm.BufferId = pin.BufferId;
        c.Send(fm);
        await c.BarrierAsync();
        Assert.Equal(f, Assert.Single(rig.Ports[3].TakeSent()));
        rig.Poll();
        c.Send(new OfpEchoRequest());
        Assert.IsType<OfpEchoReply>(await c.ReceiveAsync()); // no PACKET_IN before it
    }

    [Fact]
    public async Task FlowWhoseStatsEntryCannotBeEncodedIsRefusedWithTooMany()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        // 8,182 outputs: the flow-mod fits in 64 KiB (72 + 65,456 bytes) but its flow-stats entry (88 + 65,456) does not.
        var f = Udp();
        var tooMany = ExactFlow(f, 1, Enumerable.Repeat(OfpAction.Output(2), 8182).ToArray());
        uint x = c.Send(tooMany);
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.TooMany, x);
        // OpenFlow 1.3 reads the same flow back too, each output in 16 bytes: 4,091 outputs would make the entry of a flow
        // matching anything 65,520 bytes (48 fixed, the empty match and the apply-actions header 8 each), one past what a
        // 1.3 reply holds.
        OfpFlowMod AnyFlow(int outputs)
        {
            var fm = new OfpFlowMod { Match = OfpMatch.All, Command = OfpFlowModCommand.Add, Priority = 100 };
            fm.Actions.AddRange(Enumerable.Repeat(OfpAction.Output(2), outputs));
            return fm;
        }
        x = c.Send(AnyFlow(4091));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.TooMany, x);
        c.Send(AnyFlow(4090));
        await c.BarrierAsync();
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        Assert.Equal(4090, (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single().Actions.Count);
    }

    [Fact]
    public async Task ATableAtTheFlowLimit_RefusesExactAndWildcardFlowsAlike_AndTableStatsReportTheLimit()
    {
        await using var rig = new AgentRig(tables: new FlowTableOptions { MaxFlows = 2 });
        using var c = await rig.ConnectAsync();
        OfpFlowMod Wild(ushort inPort)
        {
            var fm = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 5, Match = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = inPort } };
            fm.Actions.Add(OfpAction.Output(1));
            return fm;
        }
        c.Send(ExactFlow(Udp(), 1, OfpAction.Output(2)));
        c.Send(Wild(2));
        Assert.Empty(await c.BarrierAsync()); // both taken
        uint x = c.Send(Wild(3));
        await ExpectError(c, OfpErrorType.FlowModFailed, (ushort)OfpFlowModFailedCode.AllTablesFull, x);
        x = c.Send(ExactFlow(Udp(0x0A000003), 1, OfpAction.Output(2)));
        await ExpectError(c, OfpErrorType.FlowModFailed, (ushort)OfpFlowModFailedCode.AllTablesFull, x);

        c.Send(new OfpTableStatsRequest());
        var t = Assert.Single((await c.ReceiveAsync<OfpTableStatsReply>()).Tables);
        Assert.Equal((2u, 2u), (t.MaxEntries, t.ActiveCount));
    }

    [Fact]
    public async Task FlowStatsReportTheControllersPriorityAndExactFlowsStillWin()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var f = Udp();
        c.Send(ExactFlow(f, 1, OfpAction.Output(2)));   // priority 100, exact
        var wild = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 60000, Match = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = 1 } };
        wild.Actions.Add(OfpAction.Output(3));
        c.Send(wild);
        await c.BarrierAsync();
        rig.Ports[0].Inject(f);
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());          // the exact flow beats the higher-priority wildcard one
        Assert.Empty(rig.Ports[2].TakeSent());
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = 2 });
        Assert.Equal((ushort)100, (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single().Priority);
    }

    [Fact]
    public async Task OneLogicalTable_FlowsAndStatsSayTableZero()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var f = Udp();
        c.Send(ExactFlow(f, 1, OfpAction.Output(2)));                                  // stored in the exact part
        var wild = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 5, Match = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = 3 } };
        wild.Actions.Add(OfpAction.Output(1));                                            // stored in the wildcard part
        c.Send(wild);
        await c.BarrierAsync();
        rig.Ports[2].Inject(f);
        rig.Poll();
        Assert.Single(rig.Ports[0].TakeSent());

        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        var flows = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows;
        Assert.Equal(2, flows.Count);
        Assert.All(flows, s => Assert.Equal((byte)0, s.TableId));
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0, OutPort = (ushort)OfpPort.None });
        Assert.Equal(2, (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Count);
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 1, OutPort = (ushort)OfpPort.None });
        Assert.Empty((await c.ReceiveAsync<OfpFlowStatsReply>()).Flows);

        c.Send(new OfpTableStatsRequest());
        var t = Assert.Single((await c.ReceiveAsync<OfpTableStatsReply>()).Tables);
        Assert.Equal((byte)0, t.TableId);
        Assert.Equal(2u, t.ActiveCount);
        Assert.Equal(1UL, t.LookupCount);   // one packet, looked up once
        Assert.Equal(1UL, t.MatchedCount);
    }

    [Fact]
    public async Task ControllerActionPacketInIsTruncatedToMaxLen()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var f = Udp();
        c.Send(ExactFlow(f, 1, OfpAction.Output((ushort)OfpPort.Controller, 20)));
        await c.BarrierAsync();
        rig.Ports[0].Inject(f);
        rig.Poll();
        var pin = await c.ReceiveAsync<OfpPacketIn>();
        Assert.Equal(OfpPacketInReason.Action, pin.Reason);
        Assert.Equal(20, pin.Data.Length);
    }

    [Fact]
    public async Task DeleteWithSendFlowRemReportsFinalCounters_IdleTimeoutToo()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var f = Udp();
        var fm = ExactFlow(f, 1, OfpAction.Output(2));
        fm.Flags = OfpFlowModFlags.SendFlowRem;
        fm.Cookie = 0xC0FFEE;
        c.Send(fm);
        await c.BarrierAsync();
        rig.Ports[0].Inject(f);
        rig.Ports[0].Inject(f);
        rig.Poll();
        c.Send(new OfpFlowMod { Command = OfpFlowModCommand.Delete, Match = OfpMatch.All });
        var fr = await c.ReceiveAsync<OfpFlowRemoved>();
        Assert.Equal(OfpFlowRemovedReason.Delete, fr.Reason);
        Assert.Equal(2UL, fr.PacketCount);
        Assert.Equal((ulong)(2 * f.Length), fr.ByteCount);
        Assert.Equal(0xC0FFEEUL, fr.Cookie);

        var idle = ExactFlow(f, 1, OfpAction.Output(2));
        idle.Flags = OfpFlowModFlags.SendFlowRem;
        idle.IdleTimeout = 3;
        c.Send(idle);
        await c.BarrierAsync();
        rig.Clock.Advance(TimeSpan.FromSeconds(4));
        rig.Dp.RunMaintenance();
        var ir = await c.ReceiveAsync<OfpFlowRemoved>();
        Assert.Equal(OfpFlowRemovedReason.IdleTimeout, ir.Reason);
        Assert.Equal((ushort)3, ir.IdleTimeout);
    }

    [Fact]
    public async Task LocalPortAndReservedOutputsCrossTheWireInOpenFlowNumbers()
    {
        // The datapath numbers the local port and the reserved outputs its own way; a controller sees OF1.0's.
        await using var rig = new AgentRig(ports: 2);
        var local = new MemoryPort("local", new MacAddress(0x0200_0000_00FEUL)) { CaptureSent = true };
        rig.Dp.AddPort(local, PortNumber.Local);
        using var c = await rig.ConnectAsync();
        c.Send(new OfpFeaturesRequest());
        var features = await c.ReceiveAsync<OfpFeaturesReply>();
        Assert.Equal("local", Assert.Single(features.Ports, p => p.PortNo == (ushort)OfpPort.Local).Name);

        var frame = Udp();
        c.Send(ExactFlow(frame, (ushort)OfpPort.Local, OfpAction.Output((ushort)OfpPort.Flood), OfpAction.Output((ushort)OfpPort.Controller, 64)));
        await c.BarrierAsync();
        local.Inject(frame);
        rig.Poll();
        var pin = await c.ReceiveAsync<OfpPacketIn>();
        Assert.Equal((ushort)OfpPort.Local, pin.InPort);
        Assert.Equal(OfpPacketInReason.Action, pin.Reason);
        Assert.Single(rig.Ports[0].TakeSent());
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Empty(local.TakeSent());

        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.Flood });
        var stats = Assert.Single((await c.ReceiveAsync<OfpFlowStatsReply>()).Flows);
        Assert.Equal((ushort)OfpPort.Local, stats.Match.InPort);
        Assert.Equal([(ushort)OfpPort.Flood, (ushort)OfpPort.Controller], stats.Actions.Select(a => a.Port));
        Assert.Equal((ushort)64, stats.Actions[1].MaxLen);
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.All });
        Assert.Empty((await c.ReceiveAsync<OfpFlowStatsReply>()).Flows);

        c.Send(new OfpPortStatsRequest { PortNo = (ushort)OfpPort.Local });
        Assert.Equal((ushort)OfpPort.Local, Assert.Single((await c.ReceiveAsync<OfpPortStatsReply>()).Ports).PortNo);
        // The local port's queues are reported like every port's: asked by number, and with OFPP_ALL.
        c.Send(new OfpQueueStatsRequest { PortNo = (ushort)OfpPort.Local, QueueId = OfpConstants.QueueAll });
        var localQueues = (await c.ReceiveAsync<OfpQueueStatsReply>()).Queues;
        Assert.Equal(rig.Dp.Options.QueuesPerPort, localQueues.Count);
        Assert.All(localQueues, q => Assert.Equal((ushort)OfpPort.Local, q.PortNo));
        c.Send(new OfpQueueStatsRequest { PortNo = (ushort)OfpPort.All, QueueId = OfpConstants.QueueAll });
        Assert.Equal(3 * rig.Dp.Options.QueuesPerPort, (await c.ReceiveAsync<OfpQueueStatsReply>()).Queues.Count);

        // A packet-out from LOCAL back to IN_PORT reaches the local port; to an unnamed reserved number it is refused.
        var po = new OfpPacketOut { InPort = (ushort)OfpPort.Local, Data = frame };
        po.Actions.Add(OfpAction.Output((ushort)OfpPort.InPort));
        c.Send(po);
        await c.BarrierAsync();
        Assert.Single(local.TakeSent());
        var bad = new OfpPacketOut { InPort = (ushort)OfpPort.None, Data = frame };
        bad.Actions.Add(OfpAction.Output(PortNumber.Flood));
        uint xid = c.Send(bad);
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadOutPort, xid);
    }

    [Fact]
    public async Task StatsOfEveryKind_FlowStatsSplitWithReplyMore()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        for (int i = 0; i < 800; i++)
            c.Send(ExactFlow(Udp(0x0B000000u + (uint)i), 1, OfpAction.SetDlDst(new OfpMac(0x020000000099)), OfpAction.Output(2)));
        await c.BarrierAsync();

        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        int flows = 0, replies = 0;
        while (true)
        {
            var r = await c.ReceiveAsync<OfpFlowStatsReply>();
            replies++;
            flows += r.Flows.Count;
            if ((r.Flags & OfpStatsReplyFlags.ReplyMore) == 0) break;
        }
        Assert.Equal(800, flows);
        Assert.True(replies >= 2, $"{replies} replies for 800 flows of 104 bytes");

        c.Send(new OfpAggregateStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = 2 });
        Assert.Equal(800u, (await c.ReceiveAsync<OfpAggregateStatsReply>()).FlowCount);
        c.Send(new OfpAggregateStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = 3 });
        Assert.Equal(0u, (await c.ReceiveAsync<OfpAggregateStatsReply>()).FlowCount);

        c.Send(new OfpTableStatsRequest());
        var ts = await c.ReceiveAsync<OfpTableStatsReply>();
        Assert.Single(ts.Tables);
        Assert.Equal(800u, ts.Tables[0].ActiveCount);

        c.Send(new OfpPortStatsRequest { PortNo = (ushort)OfpPort.None });
        Assert.Equal(4, (await c.ReceiveAsync<OfpPortStatsReply>()).Ports.Count);
        c.Send(new OfpQueueStatsRequest { PortNo = (ushort)OfpPort.All, QueueId = OfpConstants.QueueAll });
        Assert.Equal(4 * rig.Dp.Options.QueuesPerPort, (await c.ReceiveAsync<OfpQueueStatsReply>()).Queues.Count);
        c.Send(new OfpDescStatsRequest());
        Assert.Contains("Softswitch", (await c.ReceiveAsync<OfpDescStatsReply>()).MfrDesc);
        c.Send(new OfpQueueGetConfigRequest { Port = 1 });
        Assert.Equal(rig.Dp.Options.QueuesPerPort, (await c.ReceiveAsync<OfpQueueGetConfigReply>()).Queues.Count);
    }

    [Fact]
    public async Task EveryBadRequestGetsItsError()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var f = Udp();
        uint x = c.Send(ExactFlow(f, 1, OfpAction.Output(9)));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadOutPort, x);
        x = c.Send(ExactFlow(f, 1, OfpAction.Output((ushort)OfpPort.Table)));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadOutPort, x);
        x = c.Send(ExactFlow(f, 1, OfpAction.Enqueue(2, 99)));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadQueue, x);
        x = c.Send(ExactFlow(f, 1, OfpAction.VendorAction(0x005c16c7, new byte[8])));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadVendor, x);
        // Nicira actions: an unknown subtype, a truncated NXAST_REG_LOAD, a resubmit that names nothing (resubmit(,)), a vlan_tci load
        // under a mask of two runs.
        x = c.Send(ExactFlow(f, 1, OfpAction.VendorAction(OfpConstants.NiciraVendorId, new byte[] { 0x00, 0x63, 0, 0, 0, 0, 0, 0 })));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadVendorType, x);
        x = c.Send(ExactFlow(f, 1, OfpAction.VendorAction(OfpConstants.NiciraVendorId, new byte[] { 0x00, 0x07, 0x00, 0x07, 0x00, 0x01, 0x3a, 0x01 })));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadLen, x);
        x = c.Send(ExactFlow(f, 1, OfpAction.NxResubmitTable(255)));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadArgument, x);
        x = c.Send(ExactFlow(f, 1, OfpAction.NxRegLoad2([0x00, 0x00, 0x09, 0x04, 0x10, 0x01, 0x1f, 0x0f])));
        await ExpectError(c, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadArgument, x);
        // Nicira's messages are served (the NXM flow format): an unknown subtype is BAD_SUBTYPE, a Nicira statistics
        // request without its subtype BAD_LEN, another vendor's BAD_VENDOR, as Open vSwitch answers them.
        x = c.Send(new OfpVendor { Vendor = 0x2320, Data = new byte[8] });
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadSubtype, x);
        x = c.Send(new OfpVendorStatsRequest { Vendor = 0x2320 });
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadLen, x);
        x = c.Send(new OfpVendor { Vendor = 0x005c16c7, Data = new byte[8] });
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadVendor, x);
        x = c.Send(new OfpVendorStatsRequest { Vendor = 0x005c16c7, Data = new byte[8] });
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadVendor, x);
        x = c.Send(new OfpFeaturesReply());
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadType, x);
        var emerg = ExactFlow(f, 1, OfpAction.Output(2));
        emerg.Flags = OfpFlowModFlags.Emerg;
        emerg.IdleTimeout = 5;
        x = c.Send(emerg);
        await ExpectError(c, OfpErrorType.FlowModFailed, (ushort)OfpFlowModFailedCode.BadEmergTimeout, x);
        var ov = new OfpFlowMod { Match = OfpMatch.All, Priority = 5, Flags = OfpFlowModFlags.CheckOverlap };
        c.Send(ov);
        await c.BarrierAsync();
        x = c.Send(ov);
        await ExpectError(c, OfpErrorType.FlowModFailed, (ushort)OfpFlowModFailedCode.Overlap, x);
        x = c.Send(new OfpPortMod { PortNo = 77, HwAddr = new OfpMac(1) });
        await ExpectError(c, OfpErrorType.PortModFailed, (ushort)OfpPortModFailedCode.BadPort, x);
        x = c.Send(new OfpPortMod { PortNo = 1, HwAddr = new OfpMac(0xBAD) });
        await ExpectError(c, OfpErrorType.PortModFailed, (ushort)OfpPortModFailedCode.BadHwAddr, x);
        x = c.Send(new OfpQueueGetConfigRequest { Port = 77 });
        await ExpectError(c, OfpErrorType.QueueOpFailed, (ushort)OfpQueueOpFailedCode.BadPort, x);
        var bad = new OfpEchoRequest { Xid = 7 }.ToArray();
        bad[0] = 4; // wrong version after negotiation
        c.SendRaw(bad);
        var be = await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadVersion, 7);
        Assert.Equal(bad, be.Data.ToArray());
        // The connection still works.
        await c.BarrierAsync();
    }

    [Fact]
    public async Task PortStatsReportUnmaintainedCountersAsAllOnes()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();              // negotiated: table misses now go to this controller
        rig.Ports[0].Inject(Udp());
        rig.Poll();
        await c.ReceiveAsync<OfpPacketIn>(); // a table miss
        c.Send(new OfpPortStatsRequest { PortNo = 1 });
        var p = (await c.ReceiveAsync<OfpPortStatsReply>()).Ports.Single();
        Assert.Equal(1UL, p.RxPackets);            // kept by the port
        Assert.Equal(0UL, p.TxDropped);            // kept, nothing dropped
        Assert.Equal(0UL, p.RxErrors);             // an in-memory port counts frames too big for a buffer
        const ulong unknown = ulong.MaxValue;      // OF1.0: a counter the port does not keep is all ones
        Assert.Equal(unknown, p.TxErrors);
        Assert.Equal(unknown, p.RxFrameErr);
        Assert.Equal(unknown, p.RxOverErr);
        Assert.Equal(unknown, p.RxCrcErr);
        Assert.Equal(unknown, p.Collisions);
    }

    [Fact]
    public async Task PacketOutLargerThanTheSwitchCarriesIsAnError()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var big = new byte[rig.Dp.MaxFrameSize + 1];
        Udp().CopyTo(big, 0);
        var po = new OfpPacketOut { InPort = (ushort)OfpPort.None, Data = big };
        po.Actions.Add(OfpAction.Output(2));
        uint x = c.Send(po);
        await ExpectError(c, OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadLen, x);
        Assert.Empty(rig.Ports[1].TakeSent());
        // The largest frame it carries goes out.
        var max = new byte[rig.Dp.MaxFrameSize];
        Udp().CopyTo(max, 0);
        po = new OfpPacketOut { InPort = (ushort)OfpPort.None, Data = max };
        po.Actions.Add(OfpAction.Output(2));
        c.Send(po);
        await c.BarrierAsync();
        Assert.Equal(max.Length, rig.Ports[1].TakeSent().Single().Length);
    }

    [Fact]
    public async Task MatchIsNormalisedForItsDlType_OF101Section34()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        // Wildcards 0x00100013: in_port, dl_vlan, dl_type and dl_vlan_pcp wildcarded; the IP and port fields are left
        // at zero "exact", which cannot apply without an IPv4 dl_type and must be wildcarded.
        var m = new OfpMatch { Wildcards = (OfpFlowWildcards)0x00100013, DlSrc = new OfpMac(H1.Value), DlDst = new OfpMac(H2.Value) };
        var fm = new OfpFlowMod { Match = m, Command = OfpFlowModCommand.Add, Priority = 10 };
        fm.Actions.Add(OfpAction.Output(2));
        c.Send(fm);
        await c.BarrierAsync();
        rig.Ports[0].Inject(Udp());
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());

        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        var st = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single();
        Assert.Equal(32, st.Match.NwSrcWildcardBits);
        Assert.Equal(32, st.Match.NwDstWildcardBits);
        var w = st.Match.Wildcards;
        Assert.True((w & (OfpFlowWildcards.NwProto | OfpFlowWildcards.NwTos | OfpFlowWildcards.TpSrc | OfpFlowWildcards.TpDst))
            == (OfpFlowWildcards.NwProto | OfpFlowWildcards.NwTos | OfpFlowWildcards.TpSrc | OfpFlowWildcards.TpDst), $"wildcards 0x{(uint)w:x}");
        Assert.Equal(1UL, st.PacketCount);

        // ARP: nw_src/nw_dst/nw_proto apply, nw_tos and the ports do not.
        var arp = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~(OfpFlowWildcards.DlType | OfpFlowWildcards.NwProto), DlType = 0x0806, NwProto = 1, TpSrc = 7 };
        arp.Wildcards &= ~(OfpFlowWildcards.TpSrc | OfpFlowWildcards.NwTos);
        fm = new OfpFlowMod { Match = arp, Command = OfpFlowModCommand.Add, Priority = 11 };
        fm.Actions.Add(OfpAction.Output(3));
        c.Send(fm);
        await c.BarrierAsync();
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = 3 });
        var a = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single();
        Assert.Equal((OfpFlowWildcards)0, a.Match.Wildcards & OfpFlowWildcards.NwProto);
        Assert.NotEqual((OfpFlowWildcards)0, a.Match.Wildcards & OfpFlowWildcards.TpSrc);
        Assert.NotEqual((OfpFlowWildcards)0, a.Match.Wildcards & OfpFlowWildcards.NwTos);
        Assert.Equal((ushort)0, a.Match.TpSrc);
    }

    [Fact]
    public async Task WireExactFlowForArpBeatsEveryWildcardFlow_AndIsReportedNormalised_OF10Section34()
    {
        // Exactness is decided on the match as received (wildcards 0), not on the normalised one: the ARP flow below
        // has nw_tos and the ports wildcarded once normalised, yet it is an exact flow and ranks above every wildcard flow.
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var arp = FrameBuilder.Arp(1, H1, 0x0A000001, default, 0x0A000002, MacAddress.Broadcast);
        var wild = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.DlType, DlType = 0x0806 };
        var wfm = new OfpFlowMod { Match = wild, Command = OfpFlowModCommand.Add, Priority = 0xFFFF };
        wfm.Actions.Add(OfpAction.Output(3));
        c.Send(wfm);
        var exact = ExactFlow(arp, 1, OfpAction.Output(2));
        exact.Priority = 5;
        c.Send(exact);
        await c.BarrierAsync();
        rig.Ports[0].Inject(arp);
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Empty(rig.Ports[2].TakeSent());

        // Reported as the OF1.0 rules store it (nw_tos and the ports wildcarded), with the controller's priority.
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = 2 });
        var st = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single();
        Assert.Equal(OfpFlowWildcards.NwTos | OfpFlowWildcards.TpSrc | OfpFlowWildcards.TpDst, st.Match.Wildcards);
        Assert.Equal((ushort)5, st.Priority);
        Assert.Equal(1UL, st.PacketCount);

        // A strict delete of an exact match finds it whatever priority it carries (exact flows rank at the top).
        c.Send(new OfpFlowMod { Match = exact.Match, Command = OfpFlowModCommand.DeleteStrict, Priority = 1234 });
        await c.BarrierAsync();
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        var left = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single();
        Assert.Equal((ushort)3, left.Actions.Single().Port);
    }

    [Fact]
    public async Task EmergencyFlowsAreListedInTable0xFE_Only()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var em = new OfpFlowMod { Match = OfpMatch.All, Command = OfpFlowModCommand.Add, Priority = 7, Flags = OfpFlowModFlags.Emerg, Cookie = 0xE };
        em.Actions.Add(OfpAction.Output(2));
        c.Send(em);
        var normal = new OfpFlowMod { Match = OfpMatch.All, Command = OfpFlowModCommand.Add, Priority = 8, Cookie = 0xA };
        normal.Actions.Add(OfpAction.Output(3));
        c.Send(normal);
        await c.BarrierAsync();

        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFE, OutPort = (ushort)OfpPort.None });
        var e = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single();
        Assert.Equal((0xEUL, (ushort)7), (e.Cookie, e.Priority));
        Assert.Equal((byte)0xFE, e.TableId);
        foreach (byte table in new byte[] { 0xFF, 0 })
        {
            c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = table, OutPort = (ushort)OfpPort.None });
            var n = (await c.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single();
            Assert.Equal((0xAUL, (byte)0), (n.Cookie, n.TableId));
        }

        c.Send(new OfpAggregateStatsRequest { Match = OfpMatch.All, TableId = 0xFE, OutPort = (ushort)OfpPort.None });
        Assert.Equal(1u, (await c.ReceiveAsync<OfpAggregateStatsReply>()).FlowCount);
        c.Send(new OfpAggregateStatsRequest { Match = OfpMatch.All, TableId = 0xFE, OutPort = 3 });
        Assert.Equal(0u, (await c.ReceiveAsync<OfpAggregateStatsReply>()).FlowCount);
        c.Send(new OfpAggregateStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        Assert.Equal(1u, (await c.ReceiveAsync<OfpAggregateStatsReply>()).FlowCount);
    }

    [Fact]
    public async Task SetConfigWithFragReasmIsAcceptedAndGetConfigShowsWhatIsTrue()
    {
        // As Open vSwitch: reassembly is not supported, so the fragment handling stays as it was, without an error;
        // the miss_send_len is taken.
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        c.Send(new OfpSetConfig { Flags = OfpConfigFlags.FragDrop, MissSendLen = 128 });
        c.Send(new OfpSetConfig { Flags = OfpConfigFlags.FragReasm, MissSendLen = 200 });
        Assert.Empty(await c.BarrierAsync());
        c.Send(new OfpGetConfigRequest());
        var gc = await c.ReceiveAsync<OfpGetConfigReply>();
        Assert.Equal((OfpConfigFlags.FragDrop, (ushort)200), (gc.Flags, gc.MissSendLen));
    }

    [Fact]
    public async Task TwoExactFlowsOnUntaggedFramesThatDifferOnlyInPcp_AreOneFlow_AndItForwards()
    {
        // As Open vSwitch: OFP_VLAN_NONE is untagged frames whatever dl_vlan_pcp says, so the second add replaces the
        // first (before, each was a flow that no frame matched in software, and one row of an XDP target's flow map).
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var f = Udp();
        var first = ExactFlow(f, 1, OfpAction.Output(2));
        first.Match = first.Match with { DlVlanPcp = 1 };
        var second = ExactFlow(f, 1, OfpAction.Output(3));
        second.Match = second.Match with { DlVlanPcp = 2 };
        c.Send(first);
        c.Send(second);
        await c.BarrierAsync();
        Assert.Equal(1, rig.Switch.Flows.Main.Count);
        rig.Ports[0].Inject(f);
        rig.Poll();
        Assert.Empty(rig.Ports[1].TakeSent());
        Assert.Single(rig.Ports[2].TakeSent());
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        var flow = Assert.Single((await c.ReceiveAsync<OfpFlowStatsReply>()).Flows);
        Assert.Equal((ushort)0xffff, flow.Match.DlVlan);
        Assert.Equal(0, flow.Match.DlVlanPcp);
        Assert.Equal(1UL, flow.PacketCount);
    }

    [Fact]
    public async Task SetConfigFromASlave_StoresItsMissSendLen_AndLeavesItTheFragments_WithoutAnError()
    {
        // As Open vSwitch's handle_set_config in every version (and this switch's OpenFlow 1.3): a slave's miss_send_len
        // is its own; the fragment handling is not its to change, and SET_CONFIG is no write it is refused.
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();
        var conn = Assert.Single(rig.Agent.Connections);
        Assert.Equal(Softswitch.Ofproto.OfError.None, rig.Switch.Roles.Request(conn.Controller, Softswitch.Ofproto.OfRole.Slave, 1));
        c.Send(new OfpSetConfig { Flags = OfpConfigFlags.FragDrop, MissSendLen = 64 });
        Assert.Empty(await c.BarrierAsync());
        c.Send(new OfpGetConfigRequest());
        var gc = await c.ReceiveAsync<OfpGetConfigReply>();
        Assert.Equal((OfpConfigFlags.FragNormal, (ushort)64), (gc.Flags, gc.MissSendLen));
        Assert.Equal(Softswitch.Ofproto.FragmentHandling.Normal, rig.Switch.Fragments);
    }

    [Fact]
    public async Task PortModConfigIsHonouredAndReportedToTheOtherControllersNotItsSender()
    {
        // As Open vSwitch (connmgr_send_port_status) for versions before 1.5: the sender knows what it changed.
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        using var other = await rig.ConnectAsync();
        await c.BarrierAsync();
        await other.BarrierAsync();
        c.Send(new OfpPortMod { PortNo = 2, HwAddr = new OfpMac(rig.Ports[1].Info.HwAddr.Value), Config = OfpPortConfig.NoFwd, Mask = OfpPortConfig.NoFwd });
        var ps = await other.ReceiveAsync<OfpPortStatus>();
        Assert.Equal(OfpPortReason.Modify, ps.Reason);
        Assert.Equal((ushort)2, ps.Desc.PortNo);
        Assert.Equal(OfpPortConfig.NoFwd, ps.Desc.Config & OfpPortConfig.NoFwd);
        Assert.Equal(PortConfig.NoFwd, rig.Dp.Ports.Get(2)!.Config);
        // The report is made before the PORT_MOD's handling ends, so it would precede the barrier's reply.
        Assert.Empty(await c.BarrierAsync());
        // A change the sender did not make (the link) still reaches it.
        rig.Ports[1].SetLink(false);
        rig.Dp.RunMaintenance();
        var down = await c.ReceiveAsync<OfpPortStatus>();
        Assert.Equal((ushort)2, down.Desc.PortNo);
    }

    [Fact]
    public async Task MalformedStreamClosesOnlyThatConnection()
    {
        await using var rig = new AgentRig();
        using var good = await rig.ConnectAsync();
        using var evil = await rig.ConnectAsync();
        evil.SendRaw([1, 2, 0, 4, 0, 0, 0, 9]); // length 4 < 8
        var raw = await evil.ReceiveRawAsync();
        Assert.NotNull(raw);
        Assert.Equal((byte)OfpType.Error, raw![1]);
        Assert.Null(await evil.ReceiveRawAsync(2000));
        good.Send(new OfpFeaturesRequest());
        Assert.IsType<OfpFeaturesReply>(await good.ReceiveAsync());
    }

    [Fact]
    public async Task FailModeFollowsTheControllerConnection()
    {
        await using var rig = new AgentRig(failMode: FailMode.Standalone);
        Assert.Equal(MissBehavior.Normal, rig.Dp.MissBehavior);
        using (var c = await rig.ConnectAsync())
        {
            await c.BarrierAsync();
            Assert.Equal(MissBehavior.Controller, rig.Dp.MissBehavior);
        }
        for (int i = 0; i < 100 && rig.Dp.MissBehavior != MissBehavior.Normal; i++) await Task.Delay(20);
        Assert.Equal(MissBehavior.Normal, rig.Dp.MissBehavior);
    }

    [Theory]
    [InlineData(FailMode.Standalone, MissBehavior.Normal)]
    [InlineData(FailMode.Secure, MissBehavior.Drop)]
    public async Task FailModeIsRightAfterControllersConnectAndCloseConcurrently(FailMode mode, MissBehavior alone)
    {
        // Controllers connect, negotiate and close from 8 threads at once. The fail-mode state is computed from the
        // connection set and written under one lock, so whatever the interleaving: while an anchor controller stays
        // connected every sample says Controller, and once the last one is gone the fail mode is back.
        await using var rig = new AgentRig(failMode: mode);
        using var anchor = await rig.ConnectAsync();
        await anchor.BarrierAsync();
        Assert.Equal(MissBehavior.Controller, rig.Dp.MissBehavior);

        int wrong = 0, samples = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (rig.Dp.MissBehavior != MissBehavior.Controller) Interlocked.Increment(ref wrong);
                samples++;
                Thread.SpinWait(50);
            }
        });
        async Task Churn(int rounds)
        {
            for (int i = 0; i < rounds; i++)
            {
                using var c = await rig.ConnectAsync();
                if ((i & 1) == 0) await c.BarrierAsync();     // half negotiate fully, half close right after HELLO
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Churn(25))));
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Count == 1), $"connections left: {rig.Agent.Connections.Count}");
        stop.Cancel();
        await sampler;
        Assert.True(samples > 100, $"only {samples} samples");
        Assert.Equal(0, wrong);
        Assert.Equal(MissBehavior.Controller, rig.Dp.MissBehavior);

        // Now without an anchor: the last close must leave the fail mode, whichever close ran last.
        anchor.Dispose();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Churn(10))));
        // Every churned connection was accepted (its client read the switch's HELLO), but one whose client closed right
        // after its own HELLO may still be in its opening phase, to be established (a controller, briefly) and closed
        // later on a loaded machine: wait until the listener holds none, in either phase.
        var listener = rig.Agent.Listeners[0];
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Count == 0 && listener.Live == 0),
            $"connections left: {rig.Agent.Connections.Count}, live in the listener: {listener.Live}");
        Assert.True(await Wait.UntilAsync(() => rig.Dp.MissBehavior == alone), $"miss behaviour {rig.Dp.MissBehavior} with no controller ({mode})");
        Assert.False(rig.Agent.ControllerConnected);
        await Task.Delay(100);
        Assert.Equal(alone, rig.Dp.MissBehavior);                 // and it stays there (no late write of an older state)
    }

    [Fact]
    public async Task ServiceConnectionsNeverChangeFailModeAndGetAsyncOnlyAfterSetConfig()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Controllers = { "ptcp:0" }, Listeners = { "ptcp:0" } }, failMode: FailMode.Standalone);
        int controllerPort = rig.Agent.ListenEndpoints[0].Port, servicePort = rig.Agent.ListenEndpoints[1].Port;
        using var tool = await AgentRig.ConnectToAsync(servicePort);
        await tool.BarrierAsync();
        // A tool's connection is not a controller: the standalone switch keeps forwarding table misses itself.
        Assert.False(rig.Agent.ControllerConnected);
        Assert.Equal(MissBehavior.Normal, rig.Dp.MissBehavior);
        rig.Ports[0].Inject(Udp());
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        rig.Dp.SetPortConfig(2, PortConfig.NoFlood, PortConfig.NoFlood); // a PORT_STATUS a controller would see
        uint x = tool.Send(new OfpGetConfigRequest());
        var gc = await tool.ReceiveAsync<OfpGetConfigReply>();
        Assert.Equal(x, gc.Xid);
        Assert.Equal((ushort)0, gc.MissSendLen);                           // OVS: a service connection starts at 0

        // A controller connects: misses go to it (128 bytes), not to the tool.
        using var ctl = await AgentRig.ConnectToAsync(controllerPort);
        await ctl.BarrierAsync();
        Assert.Equal(MissBehavior.Controller, rig.Dp.MissBehavior);
        var big = FrameBuilder.Udp(H1, H2, 0x0A000001, 0x0A000002, 1000, 2000, 600);
        rig.Ports[0].Inject(big);
        rig.Poll();
        Assert.Equal(128, (await ctl.ReceiveAsync<OfpPacketIn>()).Data.Length);
        tool.Send(new OfpEchoRequest());
        Assert.IsType<OfpEchoReply>(await tool.ReceiveAsync());            // nothing asynchronous before it

        // The tool asks (as ovs-ofctl monitor does): now it gets packet-ins too, with its own miss_send_len.
        tool.Send(new OfpSetConfig { MissSendLen = 65535 });
        await tool.BarrierAsync();
        rig.Ports[0].Inject(big);
        rig.Poll();
        Assert.Equal(big.Length, (await tool.ReceiveAsync<OfpPacketIn>()).Data.Length);
        Assert.Equal(128, (await ctl.ReceiveAsync<OfpPacketIn>()).Data.Length);

        // The tool leaving changes nothing; the controller leaving brings the fail mode back.
        tool.Dispose();
        await Task.Delay(200);
        Assert.Equal(MissBehavior.Controller, rig.Dp.MissBehavior);
        ctl.Dispose();
        for (int i = 0; i < 100 && rig.Dp.MissBehavior != MissBehavior.Normal; i++) await Task.Delay(20);
        Assert.Equal(MissBehavior.Normal, rig.Dp.MissBehavior);
    }

    private static AgentOptions SmallQueues() => new() { ReplyQueueLimit = 64 << 10, PacketInQueueLimit = 64 << 10, SendQueueHardLimit = 1 << 20 };

    private static async Task AddFlowsAsync(TestController c, int n, OfpFlowModFlags flags = OfpFlowModFlags.None)
    {
        for (int i = 0; i < n; i++)
        {
            var fm = ExactFlow(Udp(0x0B000000u + (uint)i), 1, OfpAction.Output(2));
            fm.Flags = flags;
            c.Send(fm);
            if (i % 5000 == 4999) await c.BarrierAsync();
        }
        await c.BarrierAsync();
    }

    [Fact]
    public async Task LongFlowStatsDumpIsPacedByTheReaderNotClosed()
    {
        // 100,000 flows are about 10 MB of replies, ten times the hard limit: streamed with back-pressure, all arrive.
        await using var rig = new AgentRig(options: SmallQueues());
        using var c = await rig.ConnectAsync();
        await AddFlowsAsync(c, 100_000);
        c.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        await Task.Delay(1500); // a reader that is slow to start
        int flows = 0;
        while (true)
        {
            var r = await c.ReceiveAsync<OfpFlowStatsReply>(20_000);
            flows += r.Flows.Count;
            if ((r.Flags & OfpStatsReplyFlags.ReplyMore) == 0) break;
        }
        Assert.Equal(100_000, flows);
        await c.BarrierAsync();
    }

    [Fact]
    public async Task MassDeleteOfSendFlowRemFlows_EveryFlowRemovedArrivesBeforeTheBarrierReply_ControllerStaysConnected()
    {
        // A reply limit far below the burst, a hard limit above it: FLOW_REMOVED are accounted as replies, never dropped.
        await using var rig = new AgentRig(options: new AgentOptions { ReplyQueueLimit = 64 << 10, PacketInQueueLimit = 64 << 10, SendQueueHardLimit = 16 << 20 });
        using var c = await rig.ConnectAsync();
        await AddFlowsAsync(c, 50_000, OfpFlowModFlags.SendFlowRem);
        c.Send(new OfpFlowMod { Command = OfpFlowModCommand.Delete, Match = OfpMatch.All, OutPort = (ushort)OfpPort.None });
        await Task.Delay(1500); // the controller does not read while 50,000 FLOW_REMOVED (4.4 MB) are produced
        var before = await c.BarrierAsync();   // the barrier is read only once they drained: it comes after every one
        Assert.Equal(50_000, before.Count(m => m is OfpFlowRemoved));
        Assert.Equal(0, rig.Agent.AsyncMessagesDropped);
        Assert.Contains(rig.Agent.Connections, x => x.IsOpen);
    }

    /// <summary>Mutated messages per run (SOFTSWITCH_FUZZ_ITERATIONS overrides, e.g. for a soak of millions).</summary>
    private static readonly int Iterations = Environment.GetEnvironmentVariable("SOFTSWITCH_FUZZ_ITERATIONS") is { } n ? int.Parse(n) : 20_000;

    [Fact]
    public async Task FuzzedMessagesNeverKillTheAgent()
    {
        await using var rig = new AgentRig();
        var seed = Environment.GetEnvironmentVariable("SOFTSWITCH_FUZZ_SEED") is { } s ? int.Parse(s) : 20261122;
        var rng = new Random(seed);
        var f = Udp();
        byte[][] corpus =
        [
            ExactFlow(f, 1, OfpAction.Output(2), OfpAction.SetNwSrc(1)).ToArray(),
            new OfpPacketOut { InPort = 1, Actions = [OfpAction.Output(2)], Data = f }.ToArray(),
            new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF }.ToArray(),
            new OfpPortMod { PortNo = 1 }.ToArray(),
            new OfpSetConfig { MissSendLen = 128 }.ToArray(),
            new OfpQueueGetConfigRequest { Port = 1 }.ToArray(),
        ];
        using var c = await rig.ConnectAsync();
        for (int i = 0; i < Iterations; i++)
        {
            var m = (byte[])corpus[rng.Next(corpus.Length)].Clone();
            int flips = 1 + rng.Next(4);
            for (int k = 0; k < flips; k++) m[8 + rng.Next(m.Length - 8)] = (byte)rng.Next(256);
            m[0] = 1;
            BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
            c.SendRaw(m);
            // Drain what the switch answers so its send queue never looks stuck.
            if (i % 1000 == 999) await c.BarrierAsync();
            if (i % 5000 == 4999) await c.BarrierAsync();
        }
        await c.BarrierAsync();
        using var c2 = await rig.ConnectAsync();
        c2.Send(new OfpFeaturesRequest());
        var after = await c2.ReceiveAsync();
        Assert.True(after is OfpFeaturesReply, $"the agent stopped answering after {Iterations} mutated messages (seed {seed}, SOFTSWITCH_FUZZ_SEED replays)");
    }
}
