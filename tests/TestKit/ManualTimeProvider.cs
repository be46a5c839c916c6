namespace Softswitch.TestKit;

/// <summary>
/// A <see cref="TimeProvider"/> that moves only when a test says so (<see cref="Advance"/>): the timers it made fire
/// on the advancing thread, each at its own due time in order, so a test's timing is its own and not a loaded
/// machine's. Timestamps are milliseconds. Thread-safe.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private static readonly DateTimeOffset s_epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly Lock _lock = new();
    private readonly List<Timer> _timers = new();
    private long _nowMs;

    /// <param name="startMs">The first timestamp (milliseconds).</param>
    public ManualTimeProvider(long startMs = 1_000_000) => _nowMs = startMs;

    public override long TimestampFrequency => 1000;

    public override long GetTimestamp() => Volatile.Read(ref _nowMs);

    public override DateTimeOffset GetUtcNow() => s_epoch.AddMilliseconds(GetTimestamp());

    /// <summary>Timers made and not disposed (a test can wait for the one it expects).</summary>
    public int TimerCount
    {
        get
        {
            lock (_lock) return _timers.Count;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var t = new Timer(this, callback, state);
        lock (_lock) _timers.Add(t);
        t.Change(dueTime, period);
        return t;
    }

    /// <summary>
    /// Moves the clock on by <paramref name="by"/>: each timer due meanwhile fires (a periodic one once per period),
    /// the clock standing at its due time while it runs; then the clock stands at the end.
    /// </summary>
    public void Advance(TimeSpan by)
    {
        long end;
        lock (_lock) end = _nowMs + (long)by.TotalMilliseconds;
        while (true)
        {
            Timer? next = null;
            lock (_lock)
            {
                foreach (var t in _timers)
                    if (t.DueMs is long due && due <= end && (next is null || due < next.DueMs)) next = t;
                if (next is null)
                {
                    _nowMs = end;
                    return;
                }
                _nowMs = Math.Max(_nowMs, next.DueMs!.Value);
                next.DueMs = next.PeriodMs > 0 ? next.DueMs + next.PeriodMs : null;
            }
            next.Fire();
        }
    }

    private sealed class Timer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        // Under the owner's lock.
        public long? DueMs;
        public long PeriodMs;

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
            {
                if (!owner._timers.Contains(this)) return false;
                DueMs = dueTime == Timeout.InfiniteTimeSpan ? null : owner._nowMs + (long)dueTime.TotalMilliseconds;
                PeriodMs = period == Timeout.InfiniteTimeSpan ? 0 : (long)period.TotalMilliseconds;
                return true;
            }
        }

        public void Dispose()
        {
            lock (owner._lock) owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
