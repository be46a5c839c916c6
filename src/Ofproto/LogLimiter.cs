namespace Softswitch.Ofproto;

/// <summary>
/// A token bucket for log lines: at most <c>burst</c> lines per <c>window</c>; the next line allowed after a quiet
/// spell reports how many were suppressed. Thread-safe (one lock, taken only on rare paths).
/// </summary>
public sealed class LogLimiter(int burst, TimeSpan window)
{
    private readonly Lock _lock = new();
    private long _windowStart = Environment.TickCount64;
    private int _taken;
    private long _suppressed;

    /// <summary>True when a line may be written now; <paramref name="suppressed"/> is how many were held back before it.</summary>
    public bool TryTake(out long suppressed)
    {
        lock (_lock)
        {
            long now = Environment.TickCount64;
            if (now - _windowStart >= (long)window.TotalMilliseconds)
            {
                _windowStart = now;
                _taken = 0;
            }
            if (_taken < burst)
            {
                _taken++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }
            _suppressed++;
            suppressed = 0;
            return false;
        }
    }
}
