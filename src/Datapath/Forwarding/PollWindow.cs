using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// When a forwarding thread that found nothing stops polling and blocks: after its short busy-poll window (
/// <see cref="DatapathOptions.BusyPollMicros"/>) from its last frame, or, when traffic came in an earlier spell within
/// the last second (<see cref="RecentMs"/>), after the longer linger (<see cref="DatapathOptions.LingerMicros"/>).
/// </summary>
/// <remarks>
/// Design (docs/datapath.md, "Idle threads"): a frame that finds the thread blocked pays its wake-up (tens of
/// microseconds on a veth); the reply to a ping, or the next message of a request/response exchange, comes a few
/// dozen microseconds after the frame that caused it, often just after the short window. A thread that lingers finds
/// it awake, so a round trip pays one wake-up, not two. Only a thread that had traffic in an earlier spell less than a
/// second before lingers: a lone frame after a quiet spell (an ARP, a probe) blocks after the short window as before,
/// so an idle switch spins for nothing. The window is measured from the last round that found frames: a wake-up that
/// finds nothing costs one round. Timestamps are <see cref="System.Diagnostics.Stopwatch"/> ticks given by the caller
/// (tests drive it with their own clock). Owned by one forwarding thread; no allocation.
/// </remarks>
public struct PollWindow
{
    /// <summary>How recent an earlier spell's traffic makes the thread linger (milliseconds).</summary>
    public const int RecentMs = 1000;

    private readonly long _shortTicks, _lingerTicks, _recentTicks;
    private long _lastWork;
    // The last frame of the spell before the current one (set as the thread blocks).
    private long _previousSpellEnd;

    /// <param name="shortTicks">The busy-poll window after a frame (ticks).</param>
    /// <param name="lingerTicks">The window after a frame when an earlier spell had traffic within <paramref name="recentTicks"/> (0: never linger).</param>
    /// <param name="recentTicks">How recent that earlier spell must be (ticks).</param>
    /// <param name="now">The start (counts as neither work nor a spell).</param>
    public PollWindow(long shortTicks, long lingerTicks, long recentTicks, long now)
    {
        _shortTicks = shortTicks;
        _lingerTicks = lingerTicks;
        _recentTicks = recentTicks;
        _lastWork = now - Math.Max(shortTicks, lingerTicks);
        _previousSpellEnd = _lastWork - recentTicks - 1;
    }

    /// <summary>A window of microseconds at <paramref name="ticksPerSecond"/> (the one a forwarding thread uses); a
    /// busy-poll window of 0 (block as soon as a round finds nothing) has no linger either.</summary>
    public static PollWindow FromMicros(int busyPollMicros, int lingerMicros, long ticksPerSecond, long now)
        => new(busyPollMicros * ticksPerSecond / 1_000_000, busyPollMicros == 0 ? 0 : lingerMicros * ticksPerSecond / 1_000_000,
               RecentMs * ticksPerSecond / 1000, now);

    /// <summary>Whether the thread lingers after its current spell (an earlier spell's traffic was recent enough).</summary>
    public readonly bool Lingering => _lingerTicks > _shortTicks && _lastWork - _previousSpellEnd <= _recentTicks;

    /// <summary>A round found frames at <paramref name="now"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Work(long now) => _lastWork = now;

    /// <summary>Whether a round that found nothing at <paramref name="now"/> polls on (false: the thread may block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool KeepPolling(long now)
    {
        long idle = now - _lastWork;
        return idle < _shortTicks || (idle < _lingerTicks && Lingering);
    }

    /// <summary>The thread blocks now: its current spell ended with its last frame.</summary>
    public void Blocking() => _previousSpellEnd = _lastWork;
}
