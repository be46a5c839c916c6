using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Plain connections run as turns on one small pool: the threads do not grow with the connections (a vswitchd with a
/// hundred bridges, each connected to its controller), and a turn that waits for a slow peer does not stall the others.
/// </summary>
[Collection(nameof(ConnectionThreadsCollection))]
public sealed class ConnectionWorkersTests
{
    [Fact]
    public async Task FiftyConnectedControllers_UseNoMoreThreadsThanOne()
    {
        await using var rig = new AgentRig();
        var controllers = new List<TestController>();
        try
        {
            controllers.Add(await rig.ConnectAsync());
            await Exchange(controllers[0]);
            Assert.True(rig.Agent.Connections.Single().Pooled);
            // Let the pool settle to its size (threads another test made while waiting end once idle).
            var pool = ConnectionWorkers.Shared;
            // (A retired thread leaves /proc a moment after it leaves the pool's count.)
            Assert.True(await Wait.UntilAsync(() => pool.Threads <= pool.Size && ConnectionThreadNames().Work <= pool.Size, 10_000),
                "not within 10 s: pool.Threads <= pool.Size and as many of-work threads in /proc");
            int created = OfConnection.ThreadsCreated, alive = pool.Threads;
            var oneConnection = ConnectionThreadNames();

            for (int i = 0; i < 49; i++) controllers.Add(await rig.ConnectAsync());
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Count == 50, 10_000), "not within 10 s: rig.Agent.Connections.Count == 50");
            // Every session is served, the fifty at once and one after another.
            await Task.WhenAll(controllers.Select(Exchange));
            foreach (var c in controllers) await Exchange(c);

            // No thread per connection: at most the pool's threads were made, whatever the number of connections, and
            // no connection has a receive or send loop of its own (the former design: 100 "of-rx"/"of-tx" threads here).
            Assert.True(OfConnection.ThreadsCreated - created <= pool.Size - alive,
                $"{OfConnection.ThreadsCreated - created} connection threads made for 49 more connections (pool size {pool.Size})");
            var fifty = ConnectionThreadNames();
            Assert.Equal(oneConnection.Loops, fifty.Loops);
            // The same threads as with one connection: the pool made all of its threads with its first work.
            Assert.Equal(pool.Size, oneConnection.Work);
            Assert.Equal(oneConnection.Work, fifty.Work);
            Assert.True(pool.Threads <= pool.Size);
        }
        finally
        {
            foreach (var c in controllers) c.Dispose();
        }
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Count == 0, 10_000), "not within 10 s: rig.Agent.Connections.Count == 0");
    }

    [Fact]
    public async Task ATurnThatWaits_LetsThePoolRunTheOthers_ThenShrinksBack()
    {
        var pool = new ConnectionWorkers(2, "t-work");
        using var gate = new ManualResetEventSlim(false);
        int waiting = 0;
        var blockers = new Work[2];
        for (int i = 0; i < blockers.Length; i++)
        {
            blockers[i] = new Work(() =>
            {
                pool.BeginBlocking();
                Interlocked.Increment(ref waiting);
                gate.Wait();
                pool.EndBlocking();
            });
            pool.Enqueue(blockers[i]);
        }
        Assert.True(await Wait.UntilAsync(() => Volatile.Read(ref waiting) == 2, 10_000), "not within 10 s: Volatile.Read(ref waiting) == 2");
        // Both of the pool's threads wait for their peers: the next connection's turn still runs.
        var other = new Work(() => { });
        pool.Enqueue(other);
        await other.Done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(pool.Created > pool.Size);
        gate.Set();
        await Task.WhenAll(blockers.Select(b => b.Done.Task)).WaitAsync(TimeSpan.FromSeconds(10));
        // The extra threads end once idle and the waiting is over; the pool keeps its size.
        Assert.True(await Wait.UntilAsync(() => pool.Threads == pool.Size, 10_000), "not within 10 s: pool.Threads == pool.Size");
        int created = pool.Created;
        var more = Enumerable.Range(0, 20).Select(_ => new Work(() => { })).ToArray();
        foreach (var w in more) pool.Enqueue(w);
        await Task.WhenAll(more.Select(w => w.Done.Task)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(created, pool.Created);
    }

    private sealed class Work(Action body) : ConnectionWorkers.IWork
    {
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool RunTurn()
        {
            body();
            Done.TrySetResult();
            return false;
        }

        // A turn that never leaves a socket to the pool is never asked to linger.
        public bool TryLinger(int wakeFd, int timeoutMs) => throw new InvalidOperationException("no socket to linger on");

        public bool EndLinger(bool readable) => throw new InvalidOperationException("no socket to linger on");
    }

    /// <summary>A barrier answered (its reply is what <see cref="TestController.BarrierAsync"/> waits for), and no error before it.</summary>
    private static async Task Exchange(TestController c)
        => Assert.DoesNotContain(await c.BarrierAsync(), m => m is OfpErrorMsg);

    /// <summary>This process's threads of connections (Linux names them in /proc): the pool's, and receive or send loops.</summary>
    private static (int Work, int Loops) ConnectionThreadNames()
    {
        int work = 0, loops = 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            string name;
            try { name = File.ReadAllText(Path.Combine(task, "comm")).Trim(); }
            catch (IOException) { continue; }
            if (name == "of-work") work++;
            else if (name is "of-rx" or "of-tx") loops++;
        }
        return (work, loops);
    }
}
