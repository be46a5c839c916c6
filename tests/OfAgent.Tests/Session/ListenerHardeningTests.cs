using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Listeners that cannot be exhausted nor locked: a hard deadline on the opening phase, a per-listener cap whose
/// longest-idle connection makes room for a newcomer, no thread per peer that has not completed HELLO, and liveness
/// counted in whole messages.
/// </summary>
public sealed class ListenerHardeningTests
{
    private static Socket Open(int port)
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        s.Connect(IPAddress.Loopback, port);
        return s;
    }

    /// <summary>True once the switch has closed <paramref name="s"/> (EOF or reset), reading and discarding what it sent.</summary>
    private static bool ClosedByPeer(Socket s)
    {
        var buf = new byte[4096];
        try
        {
            while (s.Poll(0, SelectMode.SelectRead))
                if (s.Receive(buf) == 0) return true;
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    [Fact]
    public async Task SilentAndTricklingPeersAreClosedAtTheHelloDeadline_WithoutAThreadEach()
    {
        await using var rig = new AgentRig(options: new AgentOptions { HelloTimeout = TimeSpan.FromMilliseconds(700), MaxConnectionsPerListener = 1000 });
        int threadsBefore = Process.GetCurrentProcess().Threads.Count;
        var silent = Enumerable.Range(0, 300).Select(_ => Open(rig.ListenPort)).ToList();
        var trickle = Enumerable.Range(0, 10).Select(_ => Open(rig.ListenPort)).ToList();
        await Wait.UntilAsync(() => rig.Agent.Listeners[0].Live == 310, 3000);
        // The former design gave each accepted peer two threads (600+ here); the opening phase now has none.
        int threadsDuring = Process.GetCurrentProcess().Threads.Count;
        Assert.True(threadsDuring - threadsBefore < 100, $"threads went from {threadsBefore} to {threadsDuring} with 310 peers in their opening phase");

        // One byte every 100 ms: a HELLO that would take 800 ms to arrive; bytes must not extend the deadline.
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 2500 && !trickle.All(ClosedByPeer))
        {
            foreach (var t in trickle)
                try { t.Send([1]); } catch (SocketException) { }
            await Task.Delay(100);
        }
        Assert.True(trickle.All(ClosedByPeer), "trickling peers are still open after 2.5 s");
        Assert.True(await Wait.UntilAsync(() => silent.All(ClosedByPeer), 3000), "silent peers are still open");
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Listeners[0].Live == 0), $"live: {rig.Agent.Listeners[0].Live}");
        Assert.Equal(310, rig.Agent.Listeners[0].OpeningFailed);
        Assert.True(rig.Log.Contains("timed out waiting for the peer's HELLO"), rig.Log.Dump());

        // A well-behaved controller still gets in.
        using var c = await rig.ConnectAsync();
        Assert.IsType<OfpFeaturesReply>(await RequestAsync(c, new OfpFeaturesRequest()));
        foreach (var s in silent.Concat(trickle)) s.Dispose();
    }

    [Fact]
    public async Task AProbeThatClosesWithoutAByteIsADebugLine_NotARefusal()
    {
        await using var rig = new AgentRig();
        var listener = rig.Agent.Listeners[0];
        // Connect-and-close, as a second daemon checking whether a socket is live does, 5 times; then a peer that
        // sends half a header and closes, which IS a refusal worth a warning.
        for (int i = 0; i < 5; i++)
        {
            using (var probe = Open(rig.ListenPort))
                probe.Shutdown(SocketShutdown.Both);
        }

        Assert.True(await Wait.UntilAsync(() => listener.Probes == 5), $"probes: {listener.Probes}\n{rig.Log.Dump()}");
        using (var partial = Open(rig.ListenPort))
        {
            partial.Send([1, 0, 0]);
            partial.Shutdown(SocketShutdown.Both);
        }
        Assert.True(await Wait.UntilAsync(() => listener.OpeningFailed == 6), $"opening failures: {listener.OpeningFailed}\n{rig.Log.Dump()}");
        var warnings = rig.Log.Lines.Where(l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Select(l => l.Message).ToList();
        Assert.Single(warnings, w => w.Contains("closed after 3 byte(s)", StringComparison.Ordinal));
        Assert.DoesNotContain(warnings, w => w.Contains("closed before sending HELLO", StringComparison.Ordinal));
        Assert.Equal(5, rig.Log.Lines.Count(l => l.Level == Microsoft.Extensions.Logging.LogLevel.Debug && l.Message.Contains("closed without sending anything", StringComparison.Ordinal)));
        Assert.Equal(5, listener.Probes);
    }

    private static async Task<OfpMessage> RequestAsync(TestController c, OfpMessage m)
    {
        c.Send(m);
        return await c.ReceiveAsync();
    }

    [Fact]
    public async Task ANegotiatedPeerThatTricklesAPartialMessageIsClosedAsSilent()
    {
        // The connections' clock is the test's: 100 ms of it pass between two bytes, whatever the machine's load.
        var time = new ManualTimeProvider();
        await using var rig = new AgentRig(options: new AgentOptions { InactivityProbe = TimeSpan.FromMilliseconds(300), Time = time });
        using var c = await rig.ConnectAsync();
        Assert.IsType<OfpFeaturesReply>(await RequestAsync(c, new OfpFeaturesRequest()));
        var conn = Assert.Single(rig.Agent.Connections);
        // An ECHO_REQUEST header announcing 64 bytes, then one byte every 100 ms: never a whole message.
        c.SendRaw([1, 2, 0, 64, 0, 0, 0, 9]);
        for (int i = 0; i < 30 && conn.IsOpen; i++)
        {
            try { c.SendRaw([0]); }
            catch (SocketException) { break; }
            // The byte reaches the switch before the clock moves on.
            long received = conn.BytesReceived;
            await Wait.UntilAsync(() => conn.BytesReceived > received || !conn.IsOpen, 1000);
            time.Advance(TimeSpan.FromMilliseconds(100));
            // An echo request the tick sent is written and taken before the next, as in 100 ms of a quiet machine.
            Wait.Until(() => !conn.IsOpen || (conn.QueuedBytes == 0 && conn.SocketUnsentBytes == 0), 5000);
        }
        Assert.False(conn.IsOpen, "a peer that trickles bytes of one message was kept open for 3 s (bytes counted as liveness)");
        Assert.True(rig.Log.Contains("no answer for"), rig.Log.Dump());
    }

    [Fact]
    public async Task AtTheCapTheOldestSilentPeerMakesRoom_AndANewcomerClosesTheLongestIdle()
    {
        await using var rig = new AgentRig(options: new AgentOptions { MaxConnectionsPerListener = 3, HelloTimeout = TimeSpan.FromSeconds(30) });
        var listener = rig.Agent.Listeners[0];
        using var c1 = await rig.ConnectAsync();
        // Established before the silent peers arrive; until the switch has read its HELLO it is still opening, and
        // would be the oldest opening peer.
        Assert.IsType<OfpFeaturesReply>(await RequestAsync(c1, new OfpFeaturesRequest()));
        using var silent1 = Open(rig.ListenPort);
        using var silent2 = Open(rig.ListenPort);
        Assert.True(await Wait.UntilAsync(() => listener.Live == 3));

        // A tool arriving at the cap completes its HELLO: the oldest silent peer was dropped for it.
        using var c2 = await rig.ConnectAsync();
        Assert.IsType<OfpFeaturesReply>(await RequestAsync(c2, new OfpFeaturesRequest()));
        Assert.True(await Wait.UntilAsync(() => ClosedByPeer(silent1)), "the oldest silent peer is still open");
        Assert.False(ClosedByPeer(silent2));
        Assert.Equal(1, listener.Evicted);
        // The line is written after the socket is closed: wait for it.
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("dropped before its HELLO to make room (3 connections is the listener's cap)")), rig.Log.Dump());

        using var c3 = await rig.ConnectAsync();
        Assert.IsType<OfpFeaturesReply>(await RequestAsync(c3, new OfpFeaturesRequest())); // established, not still opening
        Assert.True(await Wait.UntilAsync(() => ClosedByPeer(silent2)));

        // Three established connections: a silent fourth peer opens in the reserve and displaces none of them; a
        // fifth takes its place there.
        using var late = Open(rig.ListenPort);
        Assert.True(await Wait.UntilAsync(() => listener.Live == 4), $"live: {listener.Live}");
        using var late2 = Open(rig.ListenPort);
        Assert.True(await Wait.UntilAsync(() => ClosedByPeer(late)), "the older silent peer in the reserve is still open");
        Assert.False(ClosedByPeer(late2));
        Assert.Equal(3, listener.Evicted); // silent1, silent2 (for c3) and late
        foreach (var c in new[] { c1, c2, c3 }) Assert.IsType<OfpFeaturesReply>(await RequestAsync(c, new OfpFeaturesRequest()));
        Assert.Equal(0, listener.EvictedIdle);

        // A fourth tool completes its HELLO: the established connection idle longest (c1 asked before c2 and c3) is
        // closed for it, and the others keep working.
        using var c4 = await rig.ConnectAsync();
        Assert.IsType<OfpFeaturesReply>(await RequestAsync(c4, new OfpFeaturesRequest()));
        Assert.Equal(1, listener.EvictedIdle);
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("(the longest), to make room for")), rig.Log.Dump());
        c1.Send(new OfpFeaturesRequest());
        Assert.Null(await c1.ReceiveRawAsync(5000));
        foreach (var c in new[] { c2, c3, c4 }) Assert.IsType<OfpFeaturesReply>(await RequestAsync(c, new OfpFeaturesRequest()));
        Assert.Equal(0, listener.RefusedFull);
    }

    /// <summary>
    /// 110 sessions that send HELLO and then an echo every 2 s against a listener capped at 100: each newcomer that
    /// completes HELLO is served (FEATURES and a barrier), 10 of 10, on a controller listener as on a service one.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public Task AListenerFilledByKeepaliveSessionsStillServesNewcomers(bool controllerListener)
        => FilledListenerServesNewcomers(controllerListener, ofctl: false);

    /// <summary>The same, and ovs-ofctl dump-flows, run 10 times after the newcomers, is served each time.</summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData(true)]
    [InlineData(false)]
    public Task AListenerFilledByKeepaliveSessionsStillServesOvsOfctl(bool controllerListener)
        => FilledListenerServesNewcomers(controllerListener, ofctl: true);

    private static async Task FilledListenerServesNewcomers(bool controllerListener, bool ofctl)
    {
        var options = controllerListener ? new AgentOptions { Controllers = { "ptcp:0" } } : new AgentOptions { Listeners = { "ptcp:0" } };
        await using var rig = new AgentRig(options: options);
        var listener = rig.Agent.Listeners[0];
        Assert.Equal(100, options.MaxConnectionsPerListener);
        var load = new List<TestController>();
        for (int i = 0; i < 110; i++)
        {
            try { load.Add(await AgentRig.ConnectToAsync(rig.ListenPort)); }
            catch (Exception e) when (e is Xunit.Sdk.XunitException or SocketException) { } // the former policy closed these at once
        }
        using var stop = new CancellationTokenSource();
        var keepalive = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var l in load)
                    try { l.Send(new OfpEchoRequest()); } catch (SocketException) { }
                try { await Task.Delay(2000, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        Assert.True(await Wait.UntilAsync(() => listener.Live >= 100, 30_000), $"live: {listener.Live}");

        int served = 0;
        var newcomers = new List<TestController>();
        var failures = new List<string>();
        for (int i = 0; i < 10; i++)
        {
            try
            {
                // Each newcomer stays connected, so every one of them needs a place of its own.
                var c = await AgentRig.ConnectToAsync(rig.ListenPort);
                newcomers.Add(c);
                Assert.IsType<OfpFeaturesReply>(await RequestAsync(c, new OfpFeaturesRequest()));
                await c.BarrierAsync();
                served++;
            }
            catch (Exception e) when (e is Xunit.Sdk.XunitException or SocketException)
            {
                failures.Add(e.Message);
            }
        }
        int ofctlServed = 0;
        if (ofctl)
        {
            for (int i = 0; i < 10; i++)
            {
                var (code, _, err) = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "dump-flows", $"tcp:127.0.0.1:{rig.ListenPort}");
                if (code == 0) ofctlServed++;
                else failures.Add(err);
            }
        }
        stop.Cancel();
        await keepalive;
        Assert.True(served == 10, $"{served} of 10 newcomers served: {string.Join("; ", failures)}\n{rig.Log.Dump()}");
        if (ofctl) Assert.True(ofctlServed == 10, $"ovs-ofctl dump-flows served {ofctlServed} of 10: {string.Join("; ", failures)}");
        // Room was made by closing idle sessions (on a busy machine a load session may also have been closed by the
        // keepalive meanwhile and left its place free, so not every newcomer needs an eviction).
        Assert.True(listener.EvictedIdle >= 1, $"idle connections closed for room: {listener.EvictedIdle}");
        Assert.True(listener.Live <= 125, $"live: {listener.Live} (cap 100 and a reserve of 25)");
        // The newcomers still work: the later ones closed load sessions, never an earlier newcomer.
        foreach (var c in newcomers) Assert.IsType<OfpFeaturesReply>(await RequestAsync(c, new OfpFeaturesRequest()));
        foreach (var c in load.Concat(newcomers)) c.Dispose();
    }

    [Fact]
    public async Task IPv6AndUnixListeners()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ssw-tls-{Guid.NewGuid():N}.sock");
        await using (var rig = new AgentRig(options: new AgentOptions { Listeners = { "ptcp:0:[::1]", $"punix:{path}" } }))
        {
            var v6 = Assert.IsType<IPEndPoint>(rig.Agent.Listeners[0].LocalEndPoint);
            Assert.Equal(IPAddress.IPv6Loopback, v6.Address);
            using var c6 = new TestController();
            await c6.ConnectAsync(v6);
            Assert.IsType<OfpFeaturesReply>(await RequestAsync(c6, new OfpFeaturesRequest()));
            using var cu = new TestController();
            await cu.ConnectAsync(new UnixDomainSocketEndPoint(path));
            Assert.IsType<OfpFeaturesReply>(await RequestAsync(cu, new OfpFeaturesRequest()));
            Assert.False(rig.Log.Contains("without TLS"), "a loopback or Unix listener needs no warning");
        }
        Assert.False(File.Exists(path), "the punix: socket file is removed on shutdown");

        // A stale socket file (its process died) is taken over; a regular file is never deleted.
        // (python binds and exits without unlinking, like a process that died; the runtime would unlink it on dispose.)
        var (code, _, err) = ExternalTool.Run("python3", "-c", $"import socket; socket.socket(socket.AF_UNIX).bind('{path}')");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(path));
        await using (var rig = new AgentRig(options: new AgentOptions { Listeners = { $"punix:{path}" } }))
        {
            using var cu = new TestController();
            await cu.ConnectAsync(new UnixDomainSocketEndPoint(path));
        }
        File.WriteAllText(path, "not a socket");
        var e = Assert.Throws<IOException>(() => new AgentRig(options: new AgentOptions { Listeners = { $"punix:{path}" } }));
        Assert.Contains($"cannot listen on punix:{path}: the file exists and is not a socket", e.Message);
        Assert.Equal("not a socket", File.ReadAllText(path));
        File.Delete(path);
    }

    [Fact]
    public async Task APlaintextListenerOnANonLoopbackAddressWarnsOnce()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Listeners = { "ptcp:0:0.0.0.0" } });
        var warnings = rig.Log.Lines.Where(l => l.Message.Contains("non-loopback address without TLS")).ToList();
        Assert.Single(warnings);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warnings[0].Level);
    }

    [Fact]
    public async Task AnAddressInUseNamesTheEndpoint()
    {
        await using var rig = new AgentRig();
        var e = Assert.Throws<IOException>(() => new AgentRig(options: new AgentOptions { Listeners = { $"ptcp:{rig.ListenPort}" } }));
        Assert.Equal($"cannot listen on 127.0.0.1:{rig.ListenPort}: address already in use", e.Message);
    }
}
