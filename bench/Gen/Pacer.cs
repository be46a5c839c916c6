namespace Softswitch.Bench.Gen;

/// <summary>
/// A token bucket that spaces frames evenly at a rate: each call to <see cref="Take"/> grants the frames whose send
/// time has come since the last call, at most <see cref="Depth"/> at once, so a generator that polls it in a loop
/// sends a few frames every microsecond or so rather than each second's quota in one burst.
/// </summary>
/// <remarks>
/// Tokens accrue as elapsed ticks × rate / frequency (kept in ticks × frames, integers, so no rounding drifts over a
/// long run) and are capped at <see cref="Depth"/> frames: a generator that fell behind (descheduled, or slower than
/// the rate) does not catch up with a burst; the tokens it could not use are counted in <see cref="Missed"/>, so the
/// offered rate it prints is the one it achieved. Rate 0 means unthrottled: every call grants its maximum.
/// Not thread-safe: one sending thread owns it.
/// </remarks>
public struct Pacer
{
    private readonly long _ratePps;
    private readonly long _frequency;
    private readonly long _capacity;   // Depth × frequency, in the bucket's unit (ticks × frames)
    private long _bucket;              // tokens × frequency
    private long _last;

    /// <summary>A bucket for <paramref name="ratePps"/> frames per second (0: unthrottled), holding at most
    /// <paramref name="depth"/> frames, clocked in ticks of <paramref name="frequency"/> per second, starting full at <paramref name="now"/>.</summary>
    public Pacer(long ratePps, int depth, long frequency, long now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ratePps);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frequency, 1);
        _ratePps = ratePps;
        _frequency = frequency;
        Depth = depth;
        _capacity = depth * frequency;
        _bucket = 0;
        _last = now;
    }

    /// <summary>Most frames one call grants.</summary>
    public int Depth { get; }

    /// <summary>Frames the rate allowed that the caller was too late to take (the bucket was full).</summary>
    public long Missed { get; private set; }

    /// <summary>Grants up to <paramref name="max"/> frames whose time has come at <paramref name="now"/>; the caller
    /// sends exactly that many.</summary>
    public int Take(long now, int max)
    {
        if (max <= 0) return 0;
        if (_ratePps == 0) return max;
        long elapsed = now - _last;
        if (elapsed > 0)
        {
            _last = now;
            Int128 bucket = _bucket + (Int128)elapsed * _ratePps;
            if (bucket > _capacity)
            {
                Missed += (long)((bucket - _capacity) / _frequency);
                bucket = _capacity;
            }
            _bucket = (long)bucket;
        }
        long n = Math.Min(_bucket / _frequency, max);
        _bucket -= n * _frequency;
        return (int)n;
    }

    /// <summary>Ticks from <paramref name="now"/> until the next frame is due (0 if one is due now or the rate is unthrottled).</summary>
    public readonly long TicksUntilNext(long now)
    {
        if (_ratePps == 0) return 0;
        Int128 bucket = _bucket + (Int128)Math.Max(0, now - _last) * _ratePps;
        if (bucket >= _frequency) return 0;
        long lacking = _frequency - (long)bucket;
        return (lacking + _ratePps - 1) / _ratePps;
    }
}
