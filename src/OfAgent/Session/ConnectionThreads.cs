namespace Softswitch.OfAgent.Session;

/// <summary>
/// The long-lived threads that run TLS connections' blocking loops (a connection's receive loop on one, its send loop on
/// another; a plain connection has no thread of its own, see <see cref="ConnectionWorkers"/>): a thread whose loop ends
/// waits for the next connection's loop of the same role instead of ending.
/// </summary>
/// <remarks>
/// <para><b>Why</b>: tools connect per command (ovs-ofctl dump-flows, a monitoring poll every few seconds), and a new
/// thread per loop is garbage the collector must eventually collect, a pause on every managed thread, the forwarding
/// ones included. A thread takes its allocation context from the gen0 budget a quantum (about 8 KB) at a time; a
/// thread that allocates a few hundred bytes and ends wastes the rest, so a short-lived connection's two threads cost
/// more of the budget than everything the connection itself allocates. A thread that lives on keeps its context.</para>
/// <para><b>Bounded</b>: at most <see cref="MaxIdle"/> threads per role wait; a loop ending while that many wait
/// ends its thread. A burst of connections makes as many threads as it needs, and the excess ends with it.</para>
/// <para><b>Thread safety</b>: <see cref="Run"/> from any thread. Each waiting thread has its own signal, so a hand-off
/// wakes exactly the thread it chose.</para>
/// </remarks>
internal sealed class ConnectionThreads(string role)
{
    /// <summary>The most threads of one role kept waiting for work.</summary>
    public const int MaxIdle = 8;

    private readonly Lock _lock = new();
    private readonly Stack<Worker> _idle = new(MaxIdle);
    private int _created;

    /// <summary>The threads this role has created so far (a thread reused is not counted again).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>The role's threads waiting for work now.</summary>
    public int Idle { get { lock (_lock) return _idle.Count; } }

    /// <summary>Runs <paramref name="body"/> on a waiting thread of this role, or a new one; the task completes when it returns.</summary>
    public Task Run(Action body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Worker? w;
        lock (_lock) _idle.TryPop(out w);
        if (w is null)
        {
            Interlocked.Increment(ref _created);
            w = new Worker(this);
            w.Give(body, done);
            new Thread(w.Loop) { IsBackground = true, Name = role }.Start();
        }
        else
        {
            w.Give(body, done);
        }
        return done.Task;
    }

    /// <summary>Called by a worker whose loop ended: true when it is to wait for more work.</summary>
    private bool Park(Worker w)
    {
        lock (_lock)
        {
            if (_idle.Count >= MaxIdle) return false;
            _idle.Push(w);
            return true;
        }
    }

    private sealed class Worker(ConnectionThreads owner)
    {
        private readonly SemaphoreSlim _signal = new(0, 1);
        private Action? _body;
        private TaskCompletionSource? _done;

        public void Give(Action body, TaskCompletionSource done)
        {
            _body = body;
            _done = done;
            _signal.Release();
        }

        public void Loop()
        {
            while (true)
            {
                _signal.Wait();
                var body = _body!;
                var done = _done!;
                _body = null;
                _done = null;
                // A loop handles the failures it expects; anything else escapes and ends the process, as on a thread of its own.
                try { body(); }
                finally { done.TrySetResult(); }
                if (!owner.Park(this)) return;
            }
        }
    }
}
