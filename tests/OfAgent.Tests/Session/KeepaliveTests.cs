using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>The keepalive of an idle connection: a peer is closed only after an echo request it left unanswered.</summary>
public sealed class KeepaliveTests
{
    [Fact]
    public async Task ALateTick_ProbesAnIdlePeerBeforeClosingIt()
    {
        // A clock that never moves by itself: the timer never ticks during the test, which makes the ticks, one as late
        // as a stalled timer's.
        var probe = TimeSpan.FromHours(1);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time });
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync();
        var conn = Assert.Single(rig.Agent.Connections);
        // Nothing of ours waits: the peer has acknowledged the barrier's reply.
        Assert.True(await Wait.UntilAsync(() => conn.SocketUnsentBytes == 0));
        long probeMs = (long)probe.TotalMilliseconds;
        long start = time.GetTimestamp();

        // Two and a half probe intervals of silence seen at once: the peer was never asked, so it is asked now.
        conn.Keepalive(start + 5 * probeMs / 2);
        Assert.True(conn.IsOpen, rig.Log.Dump());
        Assert.IsType<OfpEchoRequest>(Decode(await c.ReceiveRawAsync()));

        // Half an interval later it is still owed the rest of its interval; a whole one after the request, it is closed.
        conn.Keepalive(start + 3 * probeMs);
        Assert.True(conn.IsOpen, rig.Log.Dump());
        conn.Keepalive(start + 7 * probeMs / 2 + 1);
        Assert.False(conn.IsOpen);
        Assert.True(rig.Log.Contains("no answer"), rig.Log.Dump());
    }

    [Fact]
    public async Task ALateTick_GivesBytesItSeesWaitingForTheFirstTimeTwoIntervals()
    {
        // Over a Unix socket the bytes a peer has not read stay in the socket's count, however few.
        string path = Path.Combine(Path.GetTempPath(), $"ssw-keepalive-{Guid.NewGuid():N}.sock");
        var probe = TimeSpan.FromHours(1);
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = probe, Time = time, Listeners = { $"punix:{path}" } });
        using var c = new TestController();
        await c.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        await c.BarrierAsync();
        var conn = Assert.Single(rig.Agent.Connections);
        long probeMs = (long)probe.TotalMilliseconds;
        conn.Keepalive(time.GetTimestamp());   // a tick on time: nothing waits

        // The peer asks for an echo and reads nothing more: the reply, written at once, waits unread in the socket.
        c.Send(new OfpEchoRequest { Data = new byte[1000] });
        Assert.True(await Wait.UntilAsync(() => conn.SocketUnsentBytes > 0), rig.Log.Dump());
        long start = time.GetTimestamp();

        // The first tick to see it comes two and a half intervals late: the peer's time to take it starts there.
        conn.Keepalive(start + 5 * probeMs / 2);
        Assert.True(conn.IsOpen, rig.Log.Dump());
        conn.Keepalive(start + 4 * probeMs);
        Assert.True(conn.IsOpen, rig.Log.Dump());
        // Two intervals after it, none taken: closed.
        conn.Keepalive(start + 9 * probeMs / 2 + 1);
        Assert.False(conn.IsOpen);
        Assert.True(rig.Log.Contains("none of our writes taken"), rig.Log.Dump());
    }

    private static OfpMessage Decode(byte[]? raw)
    {
        Assert.NotNull(raw);
        Assert.True(OfpMessage.TryDecode(raw, out var m, out var err), $"undecodable: {err}");
        return m!;
    }
}
