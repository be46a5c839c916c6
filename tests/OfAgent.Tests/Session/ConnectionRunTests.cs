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
        var probe = TimeSpan.FromMilliseconds(200);
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe });
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();
        var conn = Assert.Single(rig.Agent.Connections);

        // Another writer's run holds the tables for three probe intervals (as a delete of a million flows does).
        using var held = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            rig.Switch.BeginFlowModRun();
            held.Set();
            Thread.Sleep(3 * probe);
            rig.Switch.EndFlowModRun();
        });
        holder.Start();
        held.Wait();
        c.Send(Flow(0x0A000001));
        holder.Join();
        // The flow-mod was waiting on the switch, not the peer: the connection is open and answers.
        await c.BarrierAsync();
        Assert.True(conn.IsOpen, rig.Log.Dump());
        Assert.False(rig.Log.Contains("no answer"), rig.Log.Dump());
        Assert.Equal(1, rig.Switch.Flows.Main.Count);
    }

    [Fact]
    public async Task AMalformedFrameAfterFlowMods_EndsTheRunBeforeTheConnectionWaitsForItsLastBytes()
    {
        // The reply limit lets a whole dump be queued, so a peer that reads none of it leaves bytes waiting for good.
        await using var rig = new AgentRig(options: new AgentOptions { ReplyQueueLimit = 256L << 20 });
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

        // A dump a reads nothing of, flow-mods (a run), then a frame shorter than a header: a is closed, after a moment
        // given to the send loop to deliver the error.
        var burst = new List<byte>();
        burst.AddRange(new OfpFlowStatsRequest { Xid = 1, Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None }.ToArray());
        for (uint i = 0; i < 3; i++) burst.AddRange(Flow(0x0C000000 + i).ToArray());
        burst.AddRange(new byte[] { 1, (byte)OfpType.FlowMod, 0, 4, 0, 0, 0, 9 });
        a.SendRaw(burst.ToArray());
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("malformed stream"), 30_000), rig.Log.Dump());

        // Meanwhile another connection's flow-mod takes effect at once: the closing connection holds no run.
        b.Send(Flow(0x0D000001));
        await b.BarrierAsync();
        Assert.True(connA.IsOpen, "the other connection's flow-mod waited until the closing connection was closed");
        Assert.True(await Wait.UntilAsync(() => !connA.IsOpen));
        Assert.Equal(60_000 + 3 + 1, rig.Switch.Flows.Main.Count);
    }
}
