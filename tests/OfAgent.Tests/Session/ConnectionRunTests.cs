using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Connections and the runs of flow-mods they share: a connection waiting for another's run is waiting on the
/// switch (never closed for silence), and a connection that closes ends its run before it waits for its last bytes.
/// </summary>
public sealed class ConnectionRunTests
{
    private static OfpFlowMod Flow(uint dst)
    {
        var m = new OfpMatch { Wildcards = OfpMatch.WithNwDstPrefix(OfpFlowWildcards.All & ~OfpFlowWildcards.DlType, 32), DlType = 0x0800, NwDst = dst };
        var fm = new OfpFlowMod { Match = m, Command = OfpFlowModCommand.Add, Priority = 100 };
        fm.Actions.Add(OfpAction.Output(2));
        return fm;
    }

    [Fact]
    public async Task AFlowModWaitingForAnotherRun_IsHandling_AndItsConnectionStaysOpen()
    {
        // The connections' clock is the test's: the keepalive ticks when the test moves it, never on a loaded machine's.
        var probe = TimeSpan.FromMilliseconds(200);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time });
        // Another writer's run holds the tables (as a delete of a million flows does) until three probe intervals after
        // the flow-mod is read.
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            rig.Switch.BeginFlowModRun();
            held.Set();
            release.Wait();
            rig.Switch.EndFlowModRun();
        });
        holder.Start();
        held.Wait();
        try
        {
            using var c = await rig.ConnectAsync();
            await c.BarrierAsync();
            var conn = Assert.Single(rig.Agent.Connections);
            long received = Volatile.Read(ref conn.MessagesReceived);
            c.Send(Flow(0x0A000001));
            Assert.True(await Wait.UntilAsync(() => Volatile.Read(ref conn.MessagesReceived) > received), rig.Log.Dump());
            // Handling it: waiting for the run (an idle time of -1).
            Assert.True(await Wait.UntilAsync(() => conn.IdleMilliseconds(0) == -1), rig.Log.Dump());
            // Three probe intervals pass, six keepalive ticks, while the flow-mod waits for the run.
            for (int i = 0; i < 6; i++) time.Advance(probe / 2);
            Assert.True(conn.IsOpen, rig.Log.Dump());
            release.Set();
            holder.Join();
            // The flow-mod was waiting on the switch, not the peer: the connection was never closed and answers.
            await c.BarrierAsync();
            Assert.Equal(1, rig.Switch.Flows.Main.Count);
            Assert.True(conn.IsOpen, rig.Log.Dump());
        }
        finally
        {
            release.Set();
            holder.Join();
        }
    }

    /// <summary>
    /// A datapath listener that takes <see cref="Delay"/> of the connections' clock to take removed flows out (as an
    /// offload target reading their last counts from hardware does), once armed: it moves the clock, the keepalive
    /// ticking meanwhile.
    /// </summary>
    private sealed class SlowRemoval(ManualTimeProvider time) : Softswitch.Datapath.IDatapathEvents
    {
        public TimeSpan Delay;
        public volatile bool Armed;
        public int Calls;

        public void OnFlowsRemoving(ReadOnlySpan<Softswitch.Datapath.Flow.FlowRemoved> removed)
        {
            if (!Armed) return;
            Interlocked.Increment(ref Calls);
            for (var passed = TimeSpan.Zero; passed < Delay; passed += TimeSpan.FromMilliseconds(50)) time.Advance(TimeSpan.FromMilliseconds(50));
        }
    }

    [Fact]
    public async Task ARunWhoseEndReportsSlowly_IsHandling_AndItsConnectionStaysOpen()
    {
        // The end of a run publishes it and reports the flows it deleted, after an offload target took them out of its
        // hardware: ten probe intervals here. The peer waits on the switch meanwhile.
        var probe = TimeSpan.FromMilliseconds(200);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time });
        var slow = new SlowRemoval(time) { Delay = 10 * probe };
        rig.Dp.Subscribe(slow);
        using var c = await rig.ConnectAsync();
        var fm = Flow(0x0A000001);
        fm.Flags = OfpFlowModFlags.SendFlowRem;
        c.Send(fm);
        await c.BarrierAsync();
        var conn = Assert.Single(rig.Agent.Connections);

        slow.Armed = true;
        c.Send(new OfpFlowMod { Command = OfpFlowModCommand.Delete, Match = OfpMatch.All, OutPort = (ushort)OfpPort.None });
        // Answered: the connection was never closed meanwhile (a closed one answers nothing).
        var before = await c.BarrierAsync();
        var removed = Assert.Single(before.OfType<OfpFlowRemoved>());
        Assert.Equal(OfpFlowRemovedReason.Delete, removed.Reason);
        Assert.Equal(1, slow.Calls);
        Assert.True(conn.IsOpen, rig.Log.Dump());
    }

    [Fact]
    public async Task AMalformedFrameAfterFlowMods_EndsTheRunBeforeTheConnectionWaitsForItsLastBytes()
    {
        // The reply limit lets a whole dump be queued, so a peer that reads none of it leaves bytes waiting for good. The
        // connections' clock is the test's: the grace a closing connection gives its last bytes ends when the test says.
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { ReplyQueueLimit = 256L << 20, Time = time });
        using var a = await rig.ConnectAsync(receiveBufferSize: 64 << 10);
        // 60,000 flows are about 6 MB of flow stats: more than both sockets' buffers hold.
        for (int i = 0; i < 60_000; i++)
        {
            a.Send(Flow(0x0B000000 + (uint)i));
            if (i % 5000 == 4999) await a.BarrierAsync();
        }
        await a.BarrierAsync();
        var connA = Assert.Single(rig.Agent.Connections);
        using var b = await rig.ConnectAsync();
        await b.BarrierAsync();

        // Another writer starts a run as soon as a's close is under way: it gets the tables while a is still open.
        bool openWhenFree = false;
        var writer = new Thread(() =>
        {
            if (!Wait.Until(() => rig.Log.Contains("malformed stream"), 30_000)) return;
            rig.Switch.BeginFlowModRun();
            openWhenFree = connA.IsOpen;
            rig.Switch.EndFlowModRun();
        });
        writer.Start();

        // A dump a reads nothing of, flow-mods (a run), then a frame shorter than a header: a is closed, after a moment
        // given to the send loop to deliver the error (which the test ends once the other writer's run is over).
        var burst = new List<byte>();
        burst.AddRange(new OfpFlowStatsRequest { Xid = 1, Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None }.ToArray());
        for (uint i = 0; i < 3; i++) burst.AddRange(Flow(0x0C000000 + i).ToArray());
        burst.AddRange(new byte[] { 1, (byte)OfpType.FlowMod, 0, 4, 0, 0, 0, 9 });
        a.SendRaw(burst.ToArray());
        writer.Join();
        Assert.True(rig.Log.Contains("malformed stream"), rig.Log.Dump());
        Assert.True(openWhenFree, "the other writer's run waited until the closing connection was closed");
        Assert.True(connA.IsOpen, "the closing connection did not wait for its last bytes");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await Wait.UntilAsync(() => !connA.IsOpen));

        // The other connection's flow-mods go on.
        b.Send(Flow(0x0D000001));
        await b.BarrierAsync();
        Assert.Equal(60_000 + 3 + 1, rig.Switch.Flows.Main.Count);
    }
}
