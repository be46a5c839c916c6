using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Qos;

/// <summary>
/// Sends what the shaped ports' queues release (<see cref="PortShaper"/>): one thread for the datapath, started with
/// the first shaped port. It sleeps while no queue holds a packet (an enqueue into an empty queue wakes it) and, while
/// packets wait for tokens, until the earliest of them may leave (buckets hold milliseconds of their rate, so a
/// millisecond's sleep loses no tokens).
/// </summary>
/// <remarks>
/// Packets leave in bursts of up to 32 per port, copied from the queues into the scheduler's own pool and sent with
/// one <see cref="IPort.Send"/> (which, by its contract, may run beside the forwarding threads' sends). A port whose
/// link is down drops what its queues release (<see cref="DropReason.LinkDown"/> is the forwarding threads'; here it
/// counts as the queue's tx_errors); a frame that cannot be copied (none can: the buffers are as large as a queue's slots)
/// is dropped, counted as <see cref="DropReason.TooBig"/> and the queue's tx_errors. The queue counters of the port (<see cref="PortSlot.Queues"/>) count packets when
/// they leave and packets dropped at the tail as errors.
/// </remarks>
public sealed class QosScheduler : IDisposable
{
    private readonly IClock _clock;
    private readonly Func<PortTable> _ports;
    private readonly PortQosTable _shaping;
    // Buffers as large as a queue's slots: every frame a queue holds (jumbo frames included) leaves whole.
    private readonly PacketPool _pool = new(Burst.Size, ShapedQueue.SlotSize);
    private readonly byte[] _scratch = new byte[ShapedQueue.SlotSize];
    private readonly int[] _burst = new int[Burst.Size];
    private readonly DropCounters _drops;
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Lock _startLock = new();
    private Thread? _thread;
    private volatile bool _stop;

    /// <param name="drops">Where the scheduler's own drops are counted (its thread is their only writer).</param>
    public QosScheduler(IClock clock, Func<PortTable> ports, PortQosTable shaping, DropCounters drops)
    {
        _clock = clock;
        _ports = ports;
        _shaping = shaping;
        _drops = drops;
    }

    /// <summary>The scheduler's drops by reason (a frame its buffers could not hold: <see cref="DropReason.TooBig"/>).</summary>
    public DropCounters Drops => _drops;

    /// <summary>Rounds of the loop that sent at least one packet (diagnostics).</summary>
    public long Rounds { get; private set; }

    private long _kicks;
    /// <summary>Wake-ups asked for (diagnostics).</summary>
    public long Kicks => Interlocked.Read(ref _kicks);

    /// <summary>Wakes the thread (a queue got its first packet, or a port's shaping changed); starts it the first time.</summary>
    public void Kick()
    {
        Interlocked.Increment(ref _kicks);
        if (_thread is null) Start();
        _wake.Set();
    }

    private void Start()
    {
        lock (_startLock)
        {
            if (_thread is not null || _stop) return;
            _thread = new Thread(Loop) { IsBackground = true, Name = "qos" };
            _thread.Start();
        }
    }

    private void Loop()
    {
        while (!_stop)
        {
            _wake.Reset();
            long now = _clock.NowNanos;
            bool sent = false;
            long wait = long.MaxValue;
            foreach (var slot in _ports().WithLocal)
            {
                if (_shaping.ShaperOf(slot) is not { } shaper) continue;
                shaper.Refill(now);
                sent |= Drain(slot, shaper);
                if (shaper.HasBacklog()) wait = Math.Min(wait, shaper.WaitNanos());
            }
            if (sent)
            {
                Rounds++;
                continue;
            }
            if (wait == long.MaxValue) _wake.Wait(1000);
            else if (wait > 0) _wake.Wait(TimeSpan.FromMilliseconds(Math.Clamp(wait / 1_000_000.0, 1, 1000)));
            else Thread.Yield();
        }
    }

    /// <summary>Sends one burst of what <paramref name="shaper"/> releases now; whether it sent anything.</summary>
    internal bool Drain(PortSlot slot, PortShaper shaper)
    {
        int n = 0;
        var counters = slot.Queues;
        while (n < _burst.Length)
        {
            int p = _pool.Alloc();
            if (p < 0) break;
            int len = shaper.Next(_scratch, out var q);
            if (len == 0)
            {
                _pool.Release(p);
                break;
            }
            bool up = slot.LinkUp && (slot.Config & (PortConfig.PortDown | PortConfig.NoFwd)) == 0;
            // The pool's buffers hold what a queue slot holds, so the copy fails only if that ever changes: then drop and count.
            bool copied = up && _pool.Write(p, _scratch.AsSpan(0, len));
            if (up && !copied) _drops.Add(DropReason.TooBig);
            if (q!.Id < (uint)counters.Length)
            {
                var c = counters[q.Id];
                if (copied)
                {
                    Interlocked.Increment(ref c.TxPackets);
                    Interlocked.Add(ref c.TxBytes, len);
                }
                else
                {
                    Interlocked.Increment(ref c.TxErrors);
                }
            }
            if (!copied)
            {
                _pool.Release(p);
                continue;
            }
            _burst[n++] = p;
        }
        if (n == 0) return false;
        var pkts = _burst.AsSpan(0, n);
        slot.Port.Send(_pool, pkts);
        _pool.Release(pkts);
        return true;
    }

    public void Dispose()
    {
        _stop = true;
        _wake.Set();
        _thread?.Join();
        _wake.Dispose();
    }
}
