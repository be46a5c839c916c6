using System.Diagnostics;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// The two accounts of a connection's send queue: replies, FLOW_REMOVED and PORT_STATUS are never dropped (the peer
/// is paced by not reading its requests), packet-ins are dropped and counted under their own limit; and a peer that
/// stops reading a long reply is closed by the keepalive, which ends the reply and its hold of the tables.
/// </summary>
public sealed class BackPressureTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01");
    private static readonly MacAddress H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static byte[] Udp(uint dst) => FrameBuilder.Udp(H1, H2, 0x0A000001, dst, 1000, 2000, 100);

    private static OfpFlowMod ExactFlow(uint dst, OfpFlowModCommand command = OfpFlowModCommand.Add)
    {
        PacketParser.Parse(Udp(dst), 1, out var k, out _);
        var m = new OfpMatch
        {
            Wildcards = 0, InPort = 1, DlSrc = new OfpMac(k.DlSrc.Value), DlDst = new OfpMac(k.DlDst.Value), DlVlan = k.DlVlan,
            DlType = k.DlType, NwTos = k.NwTos, NwProto = k.NwProto, NwSrc = k.NwSrc, NwDst = k.NwDst, TpSrc = k.TpSrc, TpDst = k.TpDst,
        };
        var fm = new OfpFlowMod { Match = m, Command = command, Priority = 100 };
        fm.Actions.Add(OfpAction.Output(2));
        return fm;
    }

    private static async Task AddFlowsAsync(TestController c, uint firstDst, int n, OfpFlowModFlags flags = OfpFlowModFlags.None, ushort hardTimeout = 0)
    {
        for (int i = 0; i < n; i++)
        {
            var fm = ExactFlow(firstDst + (uint)i);
            fm.Flags = flags;
            fm.HardTimeout = hardTimeout;
            c.Send(fm);
            if (i % 5000 == 4999) await c.BarrierAsync();
        }
        await c.BarrierAsync();
    }

    private static OfpFlowStatsRequest DumpAll() => new() { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None };

    [Fact]
    public async Task DuringALongDumpToASlowReader_EveryFlowRemovedAndThePortStatusArrive_PacketInDropsCountedApart()
    {
        // Default reply limit (1 MiB); a small packet-in backlog, so that packet-ins behind the dump are dropped. The
        // connections' clock stands still: the keepalive never ticks, whatever a loaded machine does to the reader's pace.
        await using var rig = new AgentRig(options: new AgentOptions { PacketInQueueLimit = 16 << 10, Time = new ManualTimeProvider() });
        using var c = await rig.ConnectAsync();
        const int Dumped = 100_000, Expiring = 200, Misses = 3000;
        await AddFlowsAsync(c, 0x0B000000, Dumped);
        await AddFlowsAsync(c, 0x0C000000, Expiring, OfpFlowModFlags.SendFlowRem, hardTimeout: 10);
        var conn = Assert.Single(rig.Agent.Connections);

        uint dumpXid = c.Send(DumpAll());
        int flows = 0, removed = 0, portDown = 0, packetIns = 0;
        bool dumpDone = false, eventsMade = false;
        long read = 0, paced = 0;   // bytes read, and bytes the pace allows for so far
        var clock = Stopwatch.StartNew();
        void Count(OfpMessage m)
        {
            switch (m)
            {
                case OfpFlowStatsReply r when r.Xid == dumpXid:
                    flows += r.Flows.Count;
                    if ((r.Flags & OfpStatsReplyFlags.ReplyMore) == 0) dumpDone = true;
                    break;
                case OfpFlowRemoved fr:
                    Assert.Equal(OfpFlowRemovedReason.HardTimeout, fr.Reason);
                    removed++;
                    break;
                case OfpPortStatus ps when ps.Desc.PortNo == 3 && (ps.Desc.State & OfpPortState.LinkDown) != 0:
                    portDown++;
                    break;
                case OfpPacketIn:
                    packetIns++;
                    break;
            }
        }
        // A controller reading at about 1 MB/s: the dump (about 10 MB) takes about ten seconds.
        while (!dumpDone)
        {
            var raw = await c.ReceiveRawAsync(30_000) ?? throw new Xunit.Sdk.XunitException($"the dump stopped after {flows} flows");
            Assert.True(OfpMessage.TryDecode(raw, out var m, out var err), $"undecodable message: {err}");
            if (m is OfpEchoRequest e) c.Send(new OfpEchoReply { Data = e.Data });
            Count(m!);
            if (read == 0) clock.Restart();   // paced from the first reply on
            read += raw.Length;
            paced += raw.Length;
            if (!eventsMade && read > 2_000_000 && conn.QueuedBytes > 512 << 10)
            {
                // The dump is under way, the sockets' buffers are full and replies wait in the connection's queue:
                // the SEND_FLOW_REM flows expire, a port goes down, table misses come in.
                eventsMade = true;
                rig.Clock.Advance(TimeSpan.FromSeconds(11));
                rig.Dp.RunMaintenance();
                rig.Ports[2].SetLink(false);
                rig.Dp.RunMaintenance();
                for (int i = 0; i < Misses; i++)
                {
                    rig.Ports[0].Inject(Udp(0x0D000000 + (uint)i));
                    if (i % 32 == 31) rig.Poll();
                }
                rig.Poll();
            }
            long ahead = paced / 1000 - clock.ElapsedMilliseconds;   // 1,000 bytes per millisecond
            if (ahead > 10) await Task.Delay((int)ahead);
            else if (ahead < -20) paced = (clock.ElapsedMilliseconds - 20) * 1000;   // no catching up in a burst after a stall
        }
        Assert.True(eventsMade, "the connection never had replies waiting during the dump: the test proves nothing");
        Assert.Equal(Dumped + Expiring, flows);
        // Everything queued before the barrier arrives before its reply (the flows expired while they were dumped).
        foreach (var m in await c.BarrierAsync()) Count(m);

        Assert.Equal(Expiring, removed);
        Assert.Equal(1, portDown);
        Assert.Equal(0, rig.Agent.AsyncMessagesDropped);
        // Packet-ins are what is dropped for a connection that is behind, counted on their own.
        Assert.True(conn.PacketInsDropped > 0, $"no packet-in dropped ({packetIns} arrived): the test proves nothing about them");
        Assert.True(rig.Agent.PacketInsDropped >= conn.PacketInsDropped);
        Assert.True(packetIns > 0, "no packet-in arrived at all");
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task AControllerReadingSlowly_WhileFlowsExpire_GetsEveryFlowRemoved_AndIsNeverClosed()
    {
        // A controller reading at 64 KiB/s through a 64 KiB receive buffer, answering echo requests when it reads
        // them: the switch's writes each take seconds to complete, but the peer takes bytes all the time. The
        // connections' clock is the reader's: it moves by the time each read takes at that pace (the keepalive ticking
        // meanwhile), so a reader starved by a busy machine loses no time.
        var probe = TimeSpan.FromSeconds(2);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time });
        using var c = await rig.ConnectAsync(receiveBufferSize: 64 << 10);
        const int Expiring = 20_000;
        await AddFlowsAsync(c, 0x0C000000, Expiring, OfpFlowModFlags.SendFlowRem, hardTimeout: 10);
        var conn = Assert.Single(rig.Agent.Connections);

        uint dumpXid = c.Send(DumpAll());
        int removed = 0, dumped = 0;
        bool dumpDone = false, expired = false;
        long read = 0;
        const int Rate = 64 << 10;            // bytes per second
        var slowFor = TimeSpan.FromSeconds(15); // of the connections' clock; then the rest is read with the clock standing
        long startMs = time.GetTimestamp();
        while (removed < Expiring || !dumpDone)
        {
            bool slow = time.GetTimestamp() - startMs < (long)slowFor.TotalMilliseconds;
            var raw = await c.ReceiveRawAsync(30_000, slow ? 4096 : 65536)
                      ?? throw new Xunit.Sdk.XunitException($"closed or stalled after {read} bytes, {removed} FLOW_REMOVED, {dumped} flows dumped\n{rig.Log.Dump()}");
            Assert.True(OfpMessage.TryDecode(raw, out var m, out var err), $"undecodable message: {err}");
            switch (m)
            {
                case OfpEchoRequest e:
                    c.Send(new OfpEchoReply { Data = e.Data });
                    break;
                case OfpFlowRemoved fr:
                    Assert.Equal(OfpFlowRemovedReason.HardTimeout, fr.Reason);
                    removed++;
                    break;
                case OfpFlowStatsReply r when r.Xid == dumpXid:
                    dumped += r.Flows.Count;
                    if ((r.Flags & OfpStatsReplyFlags.ReplyMore) == 0) dumpDone = true;
                    break;
            }
            read += raw.Length;
            if (!expired && read > 128 << 10)
            {
                // The dump is under way and waits for room: every flow expires now, its FLOW_REMOVED queued behind it.
                expired = true;
                rig.Clock.Advance(TimeSpan.FromSeconds(11));
                rig.Dp.RunMaintenance();
            }
            if (slow) time.Advance(TimeSpan.FromMilliseconds((double)raw.Length * 1000 / Rate));
        }
        Console.WriteLine($"{read} bytes read ({slowFor.TotalSeconds} s of the connections' clock at {Rate >> 10} KiB/s), probe {probe.TotalSeconds} s");
        Assert.True(expired);
        Assert.Equal(Expiring, removed);
        Assert.True(dumped > 0);
        Assert.Equal(0, rig.Agent.AsyncMessagesDropped);
        Assert.True(conn.IsOpen, rig.Log.Dump());
        Assert.False(rig.Log.Contains("closing"), rig.Log.Dump());
    }

    /// <summary>
    /// Moves the connections' clock half a probe interval at a time (a keepalive tick each) until <paramref name="conn"/>
    /// closes: true when it did within twenty intervals.
    /// </summary>
    private static bool AdvanceUntilClosed(ManualTimeProvider time, TimeSpan probe, OfConnection conn)
    {
        for (int i = 0; i < 40 && conn.IsOpen; i++)
        {
            time.Advance(probe / 2);
            // The peer's kernel may still be taking the last bytes of a burst: give it a moment between ticks.
            Thread.Sleep(5);
        }
        return !conn.IsOpen;
    }

    [Fact]
    public async Task APeerClosedWithFlowRemovedQueued_CountsEachAsDropped_AndItsCloseSaysHowMany()
    {
        // The connections' clock is the test's: the keepalive closes the peer when the test moves it, after every
        // FLOW_REMOVED is queued, however long a loaded machine takes to queue them.
        var probe = TimeSpan.FromSeconds(2);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time });
        using var c = await rig.ConnectAsync(receiveBufferSize: 64 << 10);
        // 60,000 flows are about 6 MB of flow stats: more than the reply limit and both sockets' buffers hold.
        await AddFlowsAsync(c, 0x0B000000, 60_000);
        const int Expiring = 2000;
        await AddFlowsAsync(c, 0x0C000000, Expiring, OfpFlowModFlags.SendFlowRem, hardTimeout: 10);
        var conn = Assert.Single(rig.Agent.Connections);

        // A dump the peer reads nothing of fills the sockets and the queue up to the reply limit; the flows expire
        // behind it, every FLOW_REMOVED queued.
        c.Send(DumpAll());
        Assert.True(await Wait.UntilAsync(() => conn.QueuedBytes > rig.Agent.Options.ReplyQueueLimit, 30_000), rig.Log.Dump());
        rig.Clock.Advance(TimeSpan.FromSeconds(11));
        rig.Dp.RunMaintenance();

        // The peer takes nothing: closed by the probe, and what it never got is counted, not lost silently.
        Assert.True(conn.IsOpen, rig.Log.Dump());
        Assert.True(AdvanceUntilClosed(time, probe, conn), rig.Log.Dump());
        Assert.True(rig.Log.Contains("none of our writes taken"), rig.Log.Dump());
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("not delivered"), 10_000), rig.Log.Dump());
        Assert.Equal(Expiring, rig.Agent.AsyncMessagesDropped);
        Assert.True(rig.Log.Contains($"{Expiring} of them FLOW_REMOVED or PORT_STATUS"), rig.Log.Dump());
    }

    [Fact]
    public async Task APeerThatStopsReadingADump_IsClosedByTheProbe_AndTheDumpsHoldIsReleased()
    {
        var probe = TimeSpan.FromSeconds(2);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time }, tables: new FlowTableOptions { RecycleEntries = true });
        var domain = rig.Agent.Switch.Flows.Reclamation;
        OfConnection conn;
        using (var c = await rig.ConnectAsync())
        {
            // 100,000 flows are about 10 MB of replies: more than the reply limit and both sockets' buffers hold.
            await AddFlowsAsync(c, 0x0B000000, 100_000);
            conn = Assert.Single(rig.Agent.Connections);
            c.Send(DumpAll());
            // The peer reads nothing more and answers nothing, but keeps its socket open; once our bytes wait for it
            // (the dump is past the reply limit), the connections' clock moves.
            Assert.True(await Wait.UntilAsync(() => conn.QueuedBytes > rig.Agent.Options.ReplyQueueLimit, 30_000), rig.Log.Dump());
            Assert.True(AdvanceUntilClosed(time, probe, conn), "a peer that stopped reading a dump was never closed");
            Assert.True(rig.Log.Contains("none of our writes taken"), rig.Log.Dump());
            // The dump gave up: its request's hold of the reclamation domain is gone.
            Assert.True(await Wait.UntilAsync(() => domain.HoldCount == 0, 30_000), $"{domain.HoldCount} holds left");
        }

        // Recycling resumes: flows removed now are reused by the next adds.
        using var c2 = await rig.ConnectAsync();
        c2.Send(new OfpFlowMod { Command = OfpFlowModCommand.Delete, Match = OfpMatch.All, OutPort = (ushort)OfpPort.None });
        uint barrier = c2.Send(new OfpBarrierRequest());
        Assert.Equal(barrier, (await c2.ReceiveAsync<OfpBarrierReply>(60_000)).Xid);   // a delete of 100,000 flows, on a loaded machine
        long recycledBefore = rig.Agent.Switch.Flows.Main.RecycledCount;
        await AddFlowsAsync(c2, 0x0C000000, 1000);
        Assert.True(rig.Agent.Switch.Flows.Main.RecycledCount > recycledBefore, "no entry was recycled after the dump's connection closed");
    }
}
