namespace Softswitch;

/// <summary>
/// Runs an action every period on a dedicated background thread that blocks in between (a kernel wait, no spinning).
/// </summary>
/// <remarks>
/// Used instead of <see cref="System.Threading.Timer"/> for the host's once-a-second checks: a timer callback runs on a
/// thread-pool worker, and each such wake-up of an idle switch also wakes the pool's workers, which spin before they
/// sleep again; a thread of its own costs one wake-up per period. Dispose stops it without waiting for a running
/// tick (as Timer.Dispose). Thread safety: the action runs on this thread only, one tick at a time.
/// </remarks>
internal sealed class PeriodicThread : IDisposable
{
    private readonly ManualResetEvent _stop = new(false);
    private readonly TimeSpan _period;
    private readonly Action _tick;

    public PeriodicThread(string name, TimeSpan period, Action tick)
    {
        _period = period;
        _tick = tick;
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    private void Run()
    {
        try
        {
            while (!_stop.WaitOne(_period)) _tick();
        }
        catch (ObjectDisposedException) { }   // disposed between two ticks
    }

    public void Dispose()
    {
        try { _stop.Set(); }
        catch (ObjectDisposedException) { }
    }
}
