using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// An active controller as <c>dp/show</c> tells it (<see cref="OfControllerStatus"/>): connected and on which version,
/// or how many attempts failed and why the last did: nothing accepts the connection, or something accepts it but no
/// OpenFlow session is agreed (no version in common, either side's HELLO_FAILED).
/// </summary>
public sealed class ControllerStatusTests
{
    private const uint V10 = 1u << 1;
    private const uint V13 = 1u << 4;

    [Fact]
    public async Task NothingListeningIsAFailedConnectWithItsReason()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        await using var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" } });
        var status = Assert.Single(rig.Agent.ActiveControllers);
        Assert.True(await Wait.UntilAsync(() => status.FailedAttempts >= 1), rig.Log.Dump());
        Assert.False(status.Connected);
        Assert.Equal(OfControllerStatus.Stage.Connect, status.LastStage);
        string line = status.Describe();
        Assert.True(Regex.IsMatch(line, $@"^controller tcp:127\.0\.0\.1:{port}: not connected, \d+ failed attempt\(s\), last: connect failed: connection refused$"), line);
    }

    /// <summary>A 1.0-only switch and a peer whose HELLO offers only 1.3: the switch sends HELLO_FAILED, and says so.</summary>
    [Fact]
    public Task APeerWithNoVersionInCommonIsNoOpenFlowSession()
        => AgainstRefusingPeer(s => s.Send(OfpHelloVersions.Hello(V13, 1)), async (rig, status, port) =>
        {
            Assert.Equal(OfControllerStatus.Stage.Session, status.LastStage);
            Assert.Matches($@"^controller tcp:127\.0\.0\.1:{port}: not connected, \d+ failed attempt\(s\), last: no OpenFlow session: " +
                           @"the peer speaks OpenFlow 1\.3, this switch 1\.0 \(--protocols\); sent HELLO_FAILED$", status.Describe());
            // The retry line says the same.
            Assert.True(await Wait.UntilAsync(() => rig.Log.Contains($"controller tcp:127.0.0.1:{port}: not connected (the peer speaks OpenFlow 1.3, " +
                                                                      "this switch 1.0 (--protocols); sent HELLO_FAILED); retrying in 1 s")), rig.Log.Dump());
        });

    /// <summary>A peer that answers our HELLO with HELLO_FAILED: its refusal, in its own words.</summary>
    [Fact]
    public Task APeerRefusingOurHelloIsNoOpenFlowSessionInItsWords()
    {
        byte[] refusal = [4, 1, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, (byte)'n', (byte)'o', (byte)' ', (byte)'1', (byte)'.'];
        return AgainstRefusingPeer(s => { s.Send([4, 0, 0, 8, 0, 0, 0, 1]); s.Send(refusal); }, (_, status, port) =>
        {
            Assert.EndsWith(" failed attempt(s), last: no OpenFlow session: " +
                            "it refused our HELLO: HELLO_FAILED INCOMPATIBLE \"no 1.\" (it speaks OpenFlow 1.3; this switch speaks 1.0)", status.Describe());
            Assert.StartsWith($"controller tcp:127.0.0.1:{port}: not connected, ", status.Describe());
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// A 1.0-only switch whose one controller is a peer giving every connection <paramref name="answer"/>: once an
    /// attempt has failed, <paramref name="check"/> looks at the agent, the controller's status and the peer's port.
    /// </summary>
    private static async Task AgainstRefusingPeer(Action<Socket> answer, Func<AgentRig, OfControllerStatus, int, Task> check)
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        int port = ((IPEndPoint)server.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var peer = Serve(server, stop.Token, answer);
        await using (var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" }, Versions = V10 }))
        {
            var status = Assert.Single(rig.Agent.ActiveControllers);
            Assert.True(await Wait.UntilAsync(() => status.FailedAttempts >= 1, 10_000), rig.Log.Dump());
            await check(rig, status, port);
        }
        stop.Cancel();
        await peer;
    }

    /// <summary>A controller that agrees: connected, with the version; the count of failures starts again.</summary>
    [Fact]
    public async Task AnAgreedSessionIsConnectedWithItsVersion()
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        int port = ((IPEndPoint)server.LocalEndpoint).Port;
        await using var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" } });
        var status = Assert.Single(rig.Agent.ActiveControllers);
        using var s = await server.AcceptSocketAsync();
        s.Send(OfpHelloVersions.Hello(V10 | V13, 1));
        Assert.True(await Wait.UntilAsync(() => status.Connected), rig.Log.Dump());
        Assert.Equal($"controller tcp:127.0.0.1:{port}: connected, OpenFlow 1.3", status.Describe());
        Assert.Equal(0, status.FailedAttempts);
    }

    /// <summary>Accepts connections until stopped; each gets <paramref name="answer"/>, then is read until it closes.</summary>
    private static Task Serve(TcpListener server, CancellationToken stop, Action<Socket> answer) => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            Socket s;
            try { s = await server.AcceptSocketAsync(stop); }
            catch (OperationCanceledException) { return; }
            using (s)
            {
                answer(s);
                var buf = new byte[4096];
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
                cts.CancelAfter(10_000);
                try
                {
                    while (await s.ReceiveAsync(buf, SocketFlags.None, cts.Token) > 0) { }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException) { }
            }
        }
    });
}
