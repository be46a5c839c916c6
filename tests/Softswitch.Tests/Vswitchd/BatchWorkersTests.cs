using System.Collections.Concurrent;
using Softswitch.Vswitchd;

namespace Softswitch.Tests.Vswitchd;

/// <summary>The kept threads that make or delete the bridges of one change: every item once, up to Threads + 1 at
/// once, on the same threads batch after batch.</summary>
public sealed class BatchWorkersTests
{
    [Fact]
    public void EveryItemRunsOnce_OnTheKeptThreadsAndTheCaller_BatchAfterBatch()
    {
        using var workers = new BatchWorkers(3, "test-batch");
        var threads = new ConcurrentDictionary<int, bool>();
        for (int round = 0; round < 5; round++)
        {
            var runs = new int[50];
            int inFlight = 0, most = 0;
            workers.Run(runs.Length, i =>
            {
                int now = Interlocked.Increment(ref inFlight);
                for (int m; (m = Volatile.Read(ref most)) < now && Interlocked.CompareExchange(ref most, now, m) != m;) { }
                threads[Environment.CurrentManagedThreadId] = true;
                Interlocked.Increment(ref runs[i]);
                Thread.Yield();
                Interlocked.Decrement(ref inFlight);
            });
            Assert.All(runs, r => Assert.Equal(1, r));
            Assert.InRange(most, 1, 4);
        }
        // The caller and the three kept threads, whatever the number of batches: no thread is made for a batch.
        Assert.InRange(threads.Count, 1, 4);
    }

    [Fact]
    public void ItemsOverlap_AsManyAsTheThreadsAndTheCaller()
    {
        using var workers = new BatchWorkers(3, "test-batch");
        // Each of the first four items waits for the others: the batch finishes only if four run at once.
        using var together = new Barrier(4);
        bool met = true;
        workers.Run(8, i =>
        {
            if (i < 4 && !together.SignalAndWait(TimeSpan.FromSeconds(30))) Volatile.Write(ref met, false);
        });
        Assert.True(met, "four items never ran at once");
    }

    [Fact]
    public void OneItem_OrNoThreads_RunsOnTheCaller()
    {
        using var none = new BatchWorkers(0, "test-batch");
        int caller = Environment.CurrentManagedThreadId, seen = -1, count = 0;
        none.Run(3, _ =>
        {
            seen = Environment.CurrentManagedThreadId;
            count++;
        });
        Assert.Equal(3, count);
        Assert.Equal(caller, seen);
        using var some = new BatchWorkers(2, "test-batch");
        some.Run(1, _ => seen = Environment.CurrentManagedThreadId);
        Assert.Equal(caller, seen);
    }
}
