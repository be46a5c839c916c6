namespace Softswitch.Vswitchd;

/// <summary>
/// A fixed set of threads, made once, that run the items of one batch beside the thread that hands it over: the
/// bridges of one change made or deleted at once (<see cref="VswitchdService"/>), so their kernel waits overlap.
/// </summary>
/// <remarks>
/// The threads are made with the daemon and wait on a monitor between batches (no spinning, no allocation), so the
/// daemon's thread count is the same with one bridge as with a hundred and during a change as after it: at most
/// <see cref="Threads"/> + 1 items run at once, whatever the batch's size. The caller of <see cref="Run"/> takes items
/// too, so a batch finishes even when every worker is busy elsewhere or gone. Each batch is its own object: a worker
/// that wakes late for one that is over finds nothing left in it and cannot take an item of the next. One caller at a
/// time (the configuration thread); <see cref="Dispose"/> ends the workers after their current item.
/// </remarks>
internal sealed class BatchWorkers : IDisposable
{
    private sealed class Batch(int count, Action<int> work)
    {
        public readonly int Count = count;
        public readonly Action<int> Work = work;
        public int Next = -1;
        public int Pending = count;
        public readonly ManualResetEventSlim Done = new(false);

        /// <summary>Runs items until none is left; the one that finishes the last sets <see cref="Done"/>.</summary>
        public void Drain()
        {
            for (int k; (k = Interlocked.Increment(ref Next)) < Count;)
            {
                Work(k);
                if (Interlocked.Decrement(ref Pending) == 0) Done.Set();
            }
        }
    }

    private readonly object _gate = new();
    private Batch? _batch;
    private bool _stopping;

    /// <summary>The worker threads (the caller of <see cref="Run"/> is one more).</summary>
    public int Threads { get; }

    public BatchWorkers(int threads, string name)
    {
        Threads = threads;
        for (int i = 0; i < threads; i++) new Thread(Loop) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>
    /// Runs <paramref name="work"/>(0 .. <paramref name="count"/> - 1), up to <see cref="Threads"/> + 1 at once, and
    /// returns when every item is done; <paramref name="work"/> throws nothing. One item runs on this thread alone.
    /// </summary>
    public void Run(int count, Action<int> work)
    {
        if (count <= 0) return;
        if (count == 1 || Threads == 0)
        {
            for (int i = 0; i < count; i++) work(i);
            return;
        }
        var batch = new Batch(count, work);
        lock (_gate)
        {
            _batch = batch;
            Monitor.PulseAll(_gate);
        }
        batch.Drain();
        batch.Done.Wait();
        lock (_gate)
        {
            if (ReferenceEquals(_batch, batch)) _batch = null;
        }
        batch.Done.Dispose();
    }

    private void Loop()
    {
        Batch? last = null;
        while (true)
        {
            Batch batch;
            lock (_gate)
            {
                while (!_stopping && (_batch is null || ReferenceEquals(_batch, last))) Monitor.Wait(_gate);
                if (_stopping) return;
                batch = last = _batch!;
            }
            batch.Drain();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
    }
}
