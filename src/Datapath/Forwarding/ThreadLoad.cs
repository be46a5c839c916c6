using System.Diagnostics;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One forwarding thread's measured load, as Open vSwitch keeps a PMD thread's (lib/dpif-netdev.c): the ticks of its
/// rounds that found frames (busy), per interval of <see cref="IntervalMs"/> for the last <see cref="RxQueue.Intervals"/>
/// intervals, the length of the last interval, and for how many intervals in a row it was busier than the auto
/// load-balance threshold.
/// </summary>
/// <remarks>
/// The thread ends an interval at the start of the first round past its end (<see cref="Due"/>, <see cref="EndInterval"/>),
/// and with it the intervals of the queues it polls; a thread asleep wakes at least every idle wake-up (a second), so an
/// interval ends at most that late, and its length is what it really lasted. Only the owning thread writes (plain stores
/// in a padded field: no line shared with another thread's); readers use volatile loads.
/// </remarks>
public sealed class ThreadLoad
{
    /// <summary>An interval's length (Open vSwitch's PMD_INTERVAL_LEN: 10 s, six of them a minute of history).</summary>
    public const int IntervalMs = 10_000;

    private readonly long _intervalTicks;
    private Hot _hot;
    private readonly long[] _busyHistory = new long[RxQueue.Intervals];

    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Hot
    {
        [FieldOffset(64)] public long Busy;
        [FieldOffset(72)] public long IntervalStart;
        [FieldOffset(80)] public long NextEnd;
        [FieldOffset(88)] public long LastIntervalTicks;
        [FieldOffset(96)] public int Index;
        [FieldOffset(100)] public int Overloaded;
        [FieldOffset(104)] public long Intervals;
    }

    /// <param name="now">Stopwatch ticks: the first interval starts here.</param>
    /// <param name="intervalTicks">An interval's length in Stopwatch ticks (default <see cref="IntervalMs"/>).</param>
    public ThreadLoad(long now, long intervalTicks = 0)
    {
        _intervalTicks = intervalTicks > 0 ? intervalTicks : IntervalMs * Stopwatch.Frequency / 1000;
        _hot.IntervalStart = now;
        _hot.NextEnd = now + _intervalTicks;
    }

    /// <summary>The owner: a round that found frames took <paramref name="ticks"/>.</summary>
    public void AddBusy(long ticks) => Volatile.Write(ref _hot.Busy, _hot.Busy + ticks);

    /// <summary>The owner: whether the current interval is over at <paramref name="now"/>.</summary>
    public bool Due(long now) => now >= _hot.NextEnd;

    /// <summary>
    /// The owner: ends the interval at <paramref name="now"/>, and the intervals of <paramref name="queues"/> (the
    /// queues it polls); counts the interval as overloaded when its busy share is at least
    /// <paramref name="loadThresholdPercent"/> (Open vSwitch counts pmd_overloaded so).
    /// </summary>
    public void EndInterval(long now, ReadOnlySpan<RxQueue> queues, int loadThresholdPercent)
    {
        foreach (var q in queues) q.EndInterval();
        EndOwnInterval(now, loadThresholdPercent);
    }

    /// <summary>The owner: ends the thread's own interval (its queues are ended by the caller).</summary>
    public void EndOwnInterval(long now, int loadThresholdPercent)
    {
        long length = now - _hot.IntervalStart;
        long busy = _hot.Busy;
        int load = length > 0 ? (int)Math.Min(100, busy * 100 / length) : 0;
        Volatile.Write(ref _hot.Overloaded, load >= loadThresholdPercent ? _hot.Overloaded + 1 : 0);
        int i = _hot.Index;
        Volatile.Write(ref _busyHistory[i], busy);
        _hot.Index = i + 1 == RxQueue.Intervals ? 0 : i + 1;
        Volatile.Write(ref _hot.LastIntervalTicks, length);
        Volatile.Write(ref _hot.Busy, 0);
        _hot.IntervalStart = now;
        _hot.NextEnd = now + _intervalTicks;
        Volatile.Write(ref _hot.Intervals, _hot.Intervals + 1);
    }

    /// <summary>The length of the last completed interval in ticks (0: none yet): Open vSwitch's intrvl_cycles.</summary>
    public long LastIntervalTicks => Volatile.Read(ref _hot.LastIntervalTicks);

    /// <summary>Busy ticks of the last <see cref="RxQueue.Intervals"/> completed intervals.</summary>
    public long BusyHistoryTicks
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _busyHistory.Length; i++) sum += Volatile.Read(ref _busyHistory[i]);
            return sum;
        }
    }

    /// <summary>Busy ticks in the current interval so far.</summary>
    public long CurrentBusyTicks => Volatile.Read(ref _hot.Busy);

    /// <summary>Completed intervals in a row whose busy share reached the auto load-balance threshold.</summary>
    public int OverloadedIntervals => Volatile.Read(ref _hot.Overloaded);

    /// <summary>Intervals completed since the thread started.</summary>
    public long CompletedIntervals => Volatile.Read(ref _hot.Intervals);
}
