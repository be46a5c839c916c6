namespace Softswitch.Datapath.Qos;

/// <summary>
/// One egress queue of a shaped port: its guaranteed rate (min-rate) and its ceiling (max-rate), in bits per second
/// of Ethernet frames (0: none), the packets waiting in it and its counters.
/// </summary>
/// <remarks>
/// The packets are copies (a ring of fixed-size slots filled by the forwarding threads under the queue's lock and
/// drained by the port's scheduler), so a waiting packet holds no buffer of a forwarding thread. A packet that finds
/// the ring full, or is longer than a slot, is dropped and counted (<see cref="Dropped"/>, the queue's tx_errors).
/// </remarks>
public sealed class ShapedQueue
{
    /// <summary>The longest frame a queue holds (a 9000-byte jumbo frame with its headers).</summary>
    public const int SlotSize = 9216;

    private readonly byte[][] _slots;
    private readonly int[] _lengths;
    private int _head, _count;
    internal readonly Lock Lock = new();

    // Token buckets, in bits (see PortShaper).
    internal long MinTokens, MaxTokens, MinCapacity, MaxCapacity;
    internal long MinRemainder, MaxRemainder;
    internal long Deficit;

    public ShapedQueue(uint id, long minRate, long maxRate, int depth)
    {
        if (minRate < 0 || maxRate < 0 || (maxRate != 0 && minRate > maxRate)) ThrowHelper.Argument(nameof(minRate));
        Id = id;
        MinRate = minRate;
        MaxRate = maxRate;
        _slots = new byte[depth][];
        _lengths = new int[depth];
        MinCapacity = PortShaper.BucketFor(minRate);
        MaxCapacity = PortShaper.BucketFor(maxRate);
    }

    public uint Id { get; }
    /// <summary>Queue 0 added by the port's shaping because none was configured (unlimited but by the port).</summary>
    public bool Implicit { get; init; }
    /// <summary>The rate the queue is guaranteed while it has packets (bit/s; 0: none).</summary>
    public long MinRate { get; }
    /// <summary>The rate the queue never exceeds (bit/s; 0: only the port's).</summary>
    public long MaxRate { get; }
    /// <summary>The most packets the queue holds.</summary>
    public int Depth => _slots.Length;

    internal long SentPackets, SentBytes, DroppedPackets;
    public long Sent => Volatile.Read(ref SentPackets);
    public long SentByteCount => Volatile.Read(ref SentBytes);
    /// <summary>Packets dropped: the queue was full, or the frame longer than <see cref="SlotSize"/>.</summary>
    public long Dropped => Volatile.Read(ref DroppedPackets);
    /// <summary>Packets waiting now.</summary>
    public int Backlog => Volatile.Read(ref _count);

    /// <summary>Runs before an enqueue takes the lock (tests order a race with it).</summary>
    internal Action? BeforeEnqueue;

    /// <summary>Copies <paramref name="frame"/> to the tail; false (counted) when the queue is full or the frame too long.</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> frame) => TryEnqueue(frame, out _);

    /// <summary>
    /// <see cref="TryEnqueue(ReadOnlySpan{byte})"/>, and whether the queue was empty before (decided under the lock: the
    /// enqueue that makes the queue non-empty is the one that must wake the scheduler).
    /// </summary>
    public bool TryEnqueue(ReadOnlySpan<byte> frame, out bool wasEmpty)
    {
        wasEmpty = false;
        if (frame.Length > SlotSize)
        {
            Interlocked.Increment(ref DroppedPackets);
            return false;
        }
        BeforeEnqueue?.Invoke();
        lock (Lock)
        {
            if (_count == _slots.Length)
            {
                DroppedPackets++;
                return false;
            }
            int i = (_head + _count) % _slots.Length;
            var slot = _slots[i] ??= new byte[SlotSize]; // each slot once, the first time the queue grows to it
            frame.CopyTo(slot);
            _lengths[i] = frame.Length;
            wasEmpty = _count == 0;
            Volatile.Write(ref _count, _count + 1);
            return true;
        }
    }

    /// <summary>The length of the packet at the head, or -1 when the queue is empty (call under <see cref="Lock"/>).</summary>
    internal int HeadLength() => _count == 0 ? -1 : _lengths[_head];

    /// <summary>Copies the head packet into <paramref name="into"/> and removes it (call under <see cref="Lock"/>, the queue not empty).</summary>
    internal int Dequeue(Span<byte> into)
    {
        int len = _lengths[_head];
        _slots[_head].AsSpan(0, len).CopyTo(into);
        _head = (_head + 1) % _slots.Length;
        Volatile.Write(ref _count, _count - 1);
        SentPackets++;
        SentBytes += len;
        return len;
    }
}

/// <summary>
/// A port's egress shaping: its ceiling (max-rate of the whole port) and its queues, as Open vSwitch's linux-htb QoS
/// has them. Packets output through a queue (OpenFlow 1.0 ENQUEUE, 1.3 set_queue then output) wait in that queue;
/// packets output without one, or through a queue id not configured, wait in queue 0 (configured or not: the port's
/// ceiling applies to them), as linux-htb's default class.
/// </summary>
/// <remarks>
/// <para><b>Scheduling</b> (<see cref="QosScheduler"/>, one thread for every shaped port of the datapath): each queue
/// has a bucket filled at its min-rate and one at its max-rate, and the port one at its max-rate, each holding
/// <see cref="BucketNanos"/> of its rate (never less than two of the longest frames). A packet may leave when the port's
/// bucket holds it (or the port has no ceiling) and: first, queues whose min-rate bucket holds their head packet, in
/// turn (the guarantee); then the queues whose max-rate bucket holds it (or that have no max-rate), by deficit round
/// robin over bytes (the spare rate shared). A packet sent takes its bits from every bucket of its queue and the
/// port's (a min-rate bucket never below 0). So a queue gets at least its min-rate while it has packets and the port
/// can carry it, never more than its max-rate, and the port never more than its ceiling.</para>
/// <para>Min-rate guarantees need a port ceiling: without one the port sends as fast as it can and every queue gets
/// what it asks up to its max-rate.</para>
/// </remarks>
public sealed class PortShaper
{
    /// <summary>
    /// How much of its rate a bucket holds: shaping is within this much time, and the scheduler may be kept off the CPU
    /// this long (a loaded machine) without a queue losing rate.
    /// </summary>
    public const long BucketNanos = 50_000_000;
    /// <summary>Packets a queue holds (tail drop past them).</summary>
    public const int DefaultDepth = 1000;
    /// <summary>The most queues a port has (queue ids 0..MaxQueues-1).</summary>
    public const int MaxQueues = 64;

    private readonly ShapedQueue?[] _queues;
    private long _portTokens, _portRemainder, _last;
    private int _rr, _drr;
    internal readonly long PortCapacity;

    /// <param name="maxRate">The port's ceiling in bit/s (0: none).</param>
    /// <param name="queues">The configured queues (queue 0 is added, unlimited, when not among them).</param>
    /// <param name="nowNanos">The clock now (the buckets start full).</param>
    public PortShaper(long maxRate, IEnumerable<ShapedQueue> queues, long nowNanos)
    {
        if (maxRate < 0) ThrowHelper.ArgumentOutOfRange(nameof(maxRate));
        MaxRate = maxRate;
        _queues = new ShapedQueue?[MaxQueues];
        foreach (var q in queues)
        {
            if (q.Id >= MaxQueues) ThrowHelper.ArgumentOutOfRange(nameof(queues));
            _queues[q.Id] = q;
        }
        _queues[0] ??= new ShapedQueue(0, 0, 0, DefaultDepth) { Implicit = true };
        PortCapacity = BucketFor(maxRate);
        _portTokens = PortCapacity;
        foreach (var q in _queues)
        {
            if (q is null) continue;
            q.MinTokens = q.MinCapacity;
            q.MaxTokens = q.MaxCapacity;
        }
        _last = nowNanos;
    }

    /// <summary>The port's ceiling (bit/s; 0: none).</summary>
    public long MaxRate { get; }

    /// <summary>The queues by id (null: not configured).</summary>
    public IReadOnlyList<ShapedQueue?> Queues => _queues;

    /// <summary>The queue packets output through <paramref name="queueId"/> wait in (queue 0 for one not configured).</summary>
    public ShapedQueue QueueFor(uint queueId) => queueId < MaxQueues && _queues[queueId] is { } q ? q : _queues[0]!;

    internal static long BucketFor(long rate)
        => rate == 0 ? 0 : Math.Max(2L * ShapedQueue.SlotSize * 8, (long)((UInt128)(ulong)rate * BucketNanos / 1_000_000_000));

    /// <summary>Adds the tokens of the time since the last refill (the scheduler's thread only).</summary>
    internal void Refill(long now)
    {
        long elapsed = now - _last;
        if (elapsed <= 0) return;
        _last = now;
        Add(ref _portTokens, ref _portRemainder, PortCapacity, MaxRate, elapsed);
        foreach (var q in _queues)
        {
            if (q is null) continue;
            Add(ref q.MinTokens, ref q.MinRemainder, q.MinCapacity, q.MinRate, elapsed);
            Add(ref q.MaxTokens, ref q.MaxRemainder, q.MaxCapacity, q.MaxRate, elapsed);
        }
    }

    private static void Add(ref long tokens, ref long remainder, long capacity, long rate, long elapsed)
    {
        if (rate == 0 || tokens >= capacity)
        {
            remainder = 0;
            return;
        }
        UInt128 scaled = (UInt128)(ulong)elapsed * (ulong)rate + (ulong)remainder;
        UInt128 add = scaled / 1_000_000_000;
        if (add >= (ulong)(capacity - tokens))
        {
            tokens = capacity;
            remainder = 0;
        }
        else
        {
            tokens += (long)add;
            remainder = (long)(scaled - add * 1_000_000_000);
        }
    }

    /// <summary>
    /// The next packet allowed to leave now, copied into <paramref name="into"/>: its length and queue, or 0 when none
    /// may (the scheduler's thread only).
    /// </summary>
    internal int Next(Span<byte> into, out ShapedQueue? from)
    {
        from = null;
        var queues = _queues;
        // The guarantees first, in turn.
        for (int k = 0; k < MaxQueues; k++)
        {
            var q = queues[(_rr + k) % MaxQueues];
            if (q is null || q.MinRate == 0 || q.Backlog == 0) continue;
            lock (q.Lock)
            {
                int len = q.HeadLength();
                long bits = len * 8L;
                if (len < 0 || q.MinTokens < bits || !PortAllows(bits)) continue;
                _rr = (int)((q.Id + 1) % MaxQueues);
                return Take(q, into, bits, out from);
            }
        }
        // Then the spare rate, deficit round robin over bytes among the queues below their ceiling: the queue in turn
        // sends while its deficit covers its head packet; the next one in turn gets a quantum when its turn comes.
        for (int k = 0; k < 2 * MaxQueues + 1; k++)
        {
            var q = queues[_drr];
            if (q is null || q.Backlog == 0)
            {
                if (q is not null) q.Deficit = 0;
                NextTurn();
                continue;
            }
            lock (q.Lock)
            {
                int len = q.HeadLength();
                long bits = len * 8L;
                if (len < 0 || (q.MaxRate != 0 && q.MaxTokens < bits) || q.Deficit < len)
                {
                    NextTurn();
                    continue;
                }
                if (!PortAllows(bits)) return 0; // the port's ceiling holds everyone back
                q.Deficit -= len;
                return Take(q, into, bits, out from);
            }
        }
        return 0;
    }

    /// <summary>About one full-size frame: what a queue may send per turn of the round robin.</summary>
    private const int Quantum = 1536;

    private void NextTurn()
    {
        _drr = (_drr + 1) % MaxQueues;
        if (_queues[_drr] is { } n) n.Deficit = Math.Min(n.Deficit + Quantum, ShapedQueue.SlotSize + Quantum);
    }

    private bool PortAllows(long bits) => MaxRate == 0 || _portTokens >= bits;

    private int Take(ShapedQueue q, Span<byte> into, long bits, out ShapedQueue from)
    {
        from = q;
        if (MaxRate != 0) _portTokens -= bits;
        if (q.MaxRate != 0) q.MaxTokens -= bits;
        if (q.MinRate != 0) q.MinTokens = Math.Max(0, q.MinTokens - bits);
        return q.Dequeue(into);
    }

    /// <summary>Nanoseconds until a waiting packet could leave (0: now; <see cref="long.MaxValue"/>: nothing waits).</summary>
    internal long WaitNanos()
    {
        long best = long.MaxValue;
        foreach (var q in _queues)
        {
            if (q is null || q.Backlog == 0) continue;
            long bits;
            lock (q.Lock) bits = q.HeadLength() * 8L;
            if (bits < 0) continue;
            long wait = 0;
            if (MaxRate != 0 && _portTokens < bits) wait = Math.Max(wait, (bits - _portTokens) * 1_000_000_000 / MaxRate);
            if (q.MaxRate != 0 && q.MaxTokens < bits) wait = Math.Max(wait, (bits - q.MaxTokens) * 1_000_000_000 / q.MaxRate);
            best = Math.Min(best, wait);
        }
        return best;
    }

    /// <summary>Whether any queue has packets waiting.</summary>
    internal bool HasBacklog()
    {
        foreach (var q in _queues)
            if (q is { Backlog: > 0 }) return true;
        return false;
    }
}
