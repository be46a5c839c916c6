namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One thread (<c>upcalls</c>) that drains the packets for the controller of every datapath served by one
/// <see cref="ForwardingThreads"/>, handing each to the handler its consumer (the OpenFlow switch over that datapath)
/// registered: many switches in one process cost one such thread, not one each.
/// </summary>
/// <remarks>
/// Every member's forwarders set the one shared signal after queueing an upcall. The pump resets it, then drains every
/// consumer (a bounded number per ring) until a round finds nothing, then sleeps on it; an upcall queued after the
/// reset sets it again, so none waits for a later one. The thread starts with the first consumer.
/// Thread safety: <see cref="Add"/> and <see cref="Remove"/> from any thread but the pump's; a round runs under
/// <c>_lock</c>, so <see cref="Remove"/> returns with no handler of that consumer running or to come.
/// </remarks>
public sealed class SharedUpcallPump : IDisposable
{
    private sealed record Consumer(SwitchDatapath Dp, UpcallHandler Handler);

    private readonly ManualResetEventSlim _signal;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _cts = new();
    private volatile Consumer[] _consumers = [];
    private Thread? _thread;

    internal SharedUpcallPump(ManualResetEventSlim signal) => _signal = signal;

    /// <summary>Whether its thread runs (started by the first consumer).</summary>
    internal bool Running => _thread is { IsAlive: true };

    /// <summary>Consumers registered now.</summary>
    public int Count => _consumers.Length;

    /// <summary>Has <paramref name="handler"/> receive <paramref name="dp"/>'s packets for the controller (one consumer per datapath).</summary>
    public void Add(SwitchDatapath dp, UpcallHandler handler)
    {
        lock (_lock)
        {
            if (Array.Exists(_consumers, c => c.Dp == dp)) throw new InvalidOperationException("the datapath's upcalls already have a consumer");
            _consumers = [.. _consumers, new Consumer(dp, handler)];
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "upcalls" };
                _thread.Start();
            }
        }
        _signal.Set();   // upcalls queued before it was registered are drained now
    }

    /// <summary>Stops handing <paramref name="dp"/>'s upcalls to its consumer; returns once none is being handled.</summary>
    public void Remove(SwitchDatapath dp)
    {
        lock (_lock) _consumers = Array.FindAll(_consumers, c => c.Dp != dp);
    }

    private void Run()
    {
        while (!_cts.IsCancellationRequested)
        {
            _signal.Reset();
            int n = 0;
            lock (_lock)
            {
                foreach (var c in _consumers) n += c.Dp.DrainUpcalls(c.Handler);
            }
            if (n > 0) continue;
            try { _signal.Wait(Timeout.Infinite, _cts.Token); }
            catch (OperationCanceledException) { return; }
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        if (_thread is { } t && t != Thread.CurrentThread) t.Join();
        _cts.Dispose();
    }
}
