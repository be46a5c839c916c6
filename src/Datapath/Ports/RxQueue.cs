using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Ports;

/// <summary>
/// One receive queue a forwarding thread polls: a port's slot, the <see cref="IRxQueue"/> that receives for it (the port
/// itself, or one of the receivers it split its traffic into, <see cref="QueueId"/> its index), and its measured load.
/// </summary>
/// <remarks>
/// The load is Open vSwitch's rxq processing cycles (lib/dpif-netdev.c): the Stopwatch ticks of the polls of this
/// queue that returned frames, added up in the current interval (<see cref="AddBusy"/>), and kept for the last
/// <see cref="Intervals"/> intervals (<see cref="EndInterval"/>) to place queues on threads by load.
/// Thread safety: one thread polls a queue at a time (a move between threads happens at a quiescent point: the old
/// thread stops polling before the new one starts), and only that thread writes the counts: plain stores in a field
/// with 64 bytes of padding either side, so two threads' queues never share a written line. Other threads (pmd-rxq-show,
/// the balancer) read them with volatile loads; a read racing an interval's end may see the interval counted once
/// twice or not at all, which a load estimate tolerates.
/// </remarks>
public sealed class RxQueue
{
    /// <summary>Intervals of history kept per queue and per thread (Open vSwitch's PMD_INTERVAL_MAX).</summary>
    public const int Intervals = 6;

    public RxQueue(PortSlot slot, IRxQueue receiver, int queueId = 0)
    {
        Slot = slot;
        Receiver = receiver;
        QueueId = queueId;
    }

    public PortSlot Slot { get; }
    public IRxQueue Receiver { get; }
    /// <summary>The receiver's index among the port's receivers (0 for a port that does not split).</summary>
    public int QueueId { get; }

    private Hot _hot;
    private readonly long[] _history = new long[Intervals];

    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Hot
    {
        [FieldOffset(64)] public long Current;
        [FieldOffset(72)] public int Index;
    }

    /// <summary>The polling thread: <paramref name="ticks"/> spent on a poll of this queue that returned frames.</summary>
    public void AddBusy(long ticks) => Volatile.Write(ref _hot.Current, _hot.Current + ticks);

    /// <summary>The polling thread: the current interval ends; its ticks replace the oldest of the history.</summary>
    public void EndInterval()
    {
        int i = _hot.Index;
        Volatile.Write(ref _history[i % Intervals], _hot.Current);
        _hot.Index = i + 1 == Intervals ? 0 : i + 1;
        Volatile.Write(ref _hot.Current, 0);
    }

    /// <summary>Ticks counted in the current interval so far.</summary>
    public long CurrentTicks => Volatile.Read(ref _hot.Current);

    /// <summary>Ticks of the last <see cref="Intervals"/> completed intervals (the load the assignment sorts by).</summary>
    public long HistoryTicks
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _history.Length; i++) sum += Volatile.Read(ref _history[i]);
            return sum;
        }
    }

    public override string ToString() => $"{Slot?.Port.Info.Name} queue {QueueId}";
}
