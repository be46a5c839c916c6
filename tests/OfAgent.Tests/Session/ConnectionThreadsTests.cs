using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// The threads of connections' loops outlive the connections: tools connect per command (a monitoring poll every few
/// seconds), and a thread per connection loop is garbage and a wasted allocation quantum each time.
/// </summary>
[Collection(nameof(ConnectionThreadsCollection))]
public sealed class ConnectionThreadsTests
{
    [Fact]
    public async Task ALoopThatEnds_LeavesItsThreadToTheNext()
    {
        var threads = new ConnectionThreads("t-reuse");
        var ids = new HashSet<int>();
        for (int i = 0; i < 20; i++)
        {
            int id = 0;
            await threads.Run(() => id = Environment.CurrentManagedThreadId).WaitAsync(TimeSpan.FromSeconds(10));
            ids.Add(id);
            Assert.True(await Wait.UntilAsync(() => threads.Idle == 1, 10_000), "not within 10 s: threads.Idle == 1");
        }
        Assert.Single(ids);
        Assert.Equal(1, threads.Created);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, ids);
    }

    [Fact]
    public async Task ABurst_MakesTheThreadsItNeeds_AndKeepsAtMostMaxIdle()
    {
        var threads = new ConnectionThreads("t-burst");
        const int burst = ConnectionThreads.MaxIdle + 4;
        using var gate = new ManualResetEventSlim(false);
        int running = 0;
        var runs = new Task[burst];
        for (int i = 0; i < burst; i++)
        {
            runs[i] = threads.Run(() =>
            {
                Interlocked.Increment(ref running);
                gate.Wait();
            });
        }
        // Every loop runs at once (each blocks until the gate opens): none waits for another's thread.
        Assert.True(await Wait.UntilAsync(() => Volatile.Read(ref running) == burst, 10_000), "not within 10 s: Volatile.Read(ref running) == burst");
        Assert.Equal(burst, threads.Created);
        gate.Set();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await Wait.UntilAsync(() => threads.Idle == ConnectionThreads.MaxIdle, 10_000), "not within 10 s: threads.Idle == ConnectionThreads.MaxIdle");
        // The next burst of the same size reuses the waiting threads and makes only the rest.
        await Task.WhenAll(Enumerable.Range(0, ConnectionThreads.MaxIdle).Select(_ => threads.Run(() => { })))
            .WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(burst, threads.Created);
    }

    [Fact]
    public async Task ToolConnections_OneAfterAnother_ReuseTheConnectionThreads()
    {
        await using var rig = new AgentRig();
        // A first connection (the rig's threads may be the first of the process).
        using (var first = await rig.ConnectAsync())
        {
            first.Send(new OfpPortStatsRequest { PortNo = (ushort)OfpPort.None });
            Assert.Equal(4, (await first.ReceiveAsync<OfpPortStatsReply>()).Ports.Count);
        }
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Count == 0, 10_000), "not within 10 s: rig.Agent.Connections.Count == 0");
        int before = OfConnection.ThreadsCreated;
        for (int i = 0; i < 10; i++)
        {
            using (var c = await rig.ConnectAsync())
            {
                c.Send(new OfpPortStatsRequest { PortNo = (ushort)OfpPort.None });
                Assert.Equal(4, (await c.ReceiveAsync<OfpPortStatsReply>()).Ports.Count);
            }
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Count == 0, 10_000), "not within 10 s: rig.Agent.Connections.Count == 0");
        }
        // Ten connections, one at a time: no new thread (a plain connection's turns run on the pool's threads; a design
        // with a thread per loop made twenty).
        Assert.Equal(before, OfConnection.ThreadsCreated);
    }

    [Fact]
    public async Task PortStats_MoreThanOneReplyHolds_AreSplitWithReplyMore()
    {
        const int perReply = OfpStatsReplies.MaxEntriesSize / OfpPortStats.Size;
        await using var rig = new AgentRig(ports: perReply + 10);
        using var c = await rig.ConnectAsync();
        c.Send(new OfpPortStatsRequest { PortNo = (ushort)OfpPort.None });
        var first = await c.ReceiveAsync<OfpPortStatsReply>();
        var second = await c.ReceiveAsync<OfpPortStatsReply>();
        Assert.Equal(OfpStatsReplyFlags.ReplyMore, first.Flags);
        Assert.Equal((OfpStatsReplyFlags)0, second.Flags);
        Assert.Equal(perReply, first.Ports.Count);
        Assert.Equal(Enumerable.Range(1, perReply + 10).Select(n => (ushort)n), first.Ports.Concat(second.Ports).Select(p => p.PortNo));
        // One port asked for, and one that does not exist: one reply each, the second empty.
        c.Send(new OfpPortStatsRequest { PortNo = 7 });
        Assert.Equal((ushort)7, Assert.Single((await c.ReceiveAsync<OfpPortStatsReply>()).Ports).PortNo);
        c.Send(new OfpPortStatsRequest { PortNo = 0xFE00 });
        var none = await c.ReceiveAsync<OfpPortStatsReply>();
        Assert.Empty(none.Ports);
        Assert.Equal((OfpStatsReplyFlags)0, none.Flags);
    }
}

/// <summary>Counts threads of the whole process's connections: no other test makes connections meanwhile.</summary>
[CollectionDefinition(nameof(ConnectionThreadsCollection), DisableParallelization = true)]
public sealed class ConnectionThreadsCollection;
