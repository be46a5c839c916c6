using System.Runtime.CompilerServices;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Control;

/// <summary>
/// One <c>trace/watch</c>: samples live packets that match a filter, at most <see cref="Rate"/> a second and at most
/// <see cref="Limit"/> in all, for the control side to trace (<see cref="OfprotoTrace.Report"/>) when its client polls.
/// </summary>
/// <remarks>
/// <para><b>Hot path</b> (<see cref="Offer"/>, on forwarding threads, per parsed burst): while the second's budget is
/// spent, the ring is full or the watch is done, one compare of the clock with <c>_quietUntil</c>; otherwise a masked
/// compare per packet against the filter. A match is copied (flow key and frame, up to <see cref="MaxFrameSize"/>
/// bytes) into a fixed ring of <see cref="Slots"/> slots under a lock taken only for a sample: no allocation.</para>
/// <para><b>Control side</b> (<see cref="Take"/>): takes the samples out under the same lock; the client's poll then
/// traces them against the flow table as it is at that moment (a flow-mod in between shows its result).</para>
/// <para>Thread safety: <see cref="Offer"/> from any thread; the rest from control threads.</para>
/// </remarks>
[SkipLocalsInit]
internal sealed class TraceWatch
{
    public const int Slots = 64;
    public const int MaxFrameSize = 9216;

    public readonly record struct Sample(long Number, long UnixMicros, FlowKey Key, byte[]? Frame, int Length);

    private readonly Lock _lock = new();
    private readonly FlowKey _mask, _value;
    private readonly byte[][] _frames = new byte[Slots][];
    private readonly int[] _lengths = new int[Slots];
    private readonly FlowKey[] _keys = new FlowKey[Slots];
    private readonly long[] _times = new long[Slots];
    private int _head, _count;
    private long _taken, _delivered;
    private long _windowEnd;
    private int _windowTaken;
    private long _quietUntil;
    private long _lastPolled;

    public int Id { get; }
    public string Filter { get; }
    public int Rate { get; }
    /// <summary>Packets to trace in all; 0 for no limit.</summary>
    public long Limit { get; }

    public TraceWatch(int id, string filter, in FlowMatch match, int rate, long limit)
    {
        Id = id;
        Filter = filter;
        _mask = match.Mask;
        _value = match.Value;
        Rate = rate;
        Limit = limit;
        for (int i = 0; i < Slots; i++) _frames[i] = new byte[MaxFrameSize];
        _lastPolled = Environment.TickCount64;
    }

    /// <summary>Packets sampled so far.</summary>
    public long Taken => Volatile.Read(ref _taken);
    /// <summary>Milliseconds (<see cref="Environment.TickCount64"/>) of the last poll.</summary>
    public long LastPolled => Volatile.Read(ref _lastPolled);
    /// <summary>Every packet the limit allows was sampled and handed out.</summary>
    public bool Done => Limit > 0 && Volatile.Read(ref _delivered) >= Limit;

    /// <summary>Samples what matches in a parsed burst (forwarding threads).</summary>
    public void Offer(PacketPool pool, ReadOnlySpan<int> pkts, ReadOnlySpan<FlowKey> keys)
    {
        long now = Environment.TickCount64;
        if (now < Volatile.Read(ref _quietUntil)) return;
        for (int i = 0; i < keys.Length; i++)
        {
            if (keys[i].MatchesMasked(_mask, _value) && !TrySample(pool.Frame(pkts[i]), keys[i], now)) return;
        }
    }

    /// <summary>Copies one packet into the ring; false when no more may be taken for now (the caller stops).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TrySample(ReadOnlySpan<byte> frame, in FlowKey key, long now)
    {
        lock (_lock)
        {
            if (now >= _windowEnd)
            {
                _windowEnd = now + 1000;
                _windowTaken = 0;
            }
            if (Limit > 0 && _taken >= Limit)
            {
                Volatile.Write(ref _quietUntil, long.MaxValue);
                return false;
            }
            if (_windowTaken >= Rate || _count == Slots)
            {
                Volatile.Write(ref _quietUntil, _count == Slots ? now + 10 : _windowEnd);
                return false;
            }
            int slot = (_head + _count) % Slots;
            _keys[slot] = key;
            _lengths[slot] = frame.Length;
            if (frame.Length <= MaxFrameSize) frame.CopyTo(_frames[slot]);
            _times[slot] = Ports.PcapFile.PcapWriter.NowMicros();
            _count++;
            _taken++;
            _windowTaken++;
            return true;
        }
    }

    /// <summary>Takes the samples waiting (control side); each has its number in the watch (from 1).</summary>
    public List<Sample> Take()
    {
        Volatile.Write(ref _lastPolled, Environment.TickCount64);
        var list = new List<Sample>();
        lock (_lock)
        {
            long first = _taken - _count + 1;
            for (int i = 0; i < _count; i++)
            {
                int slot = (_head + i) % Slots;
                int len = _lengths[slot];
                list.Add(new Sample(first + i, _times[slot], _keys[slot], len <= MaxFrameSize ? _frames[slot].AsSpan(0, len).ToArray() : null, len));
            }
            _head = (_head + _count) % Slots;
            _count = 0;
            _delivered = _taken;
            if (Limit == 0 || _taken < Limit) Volatile.Write(ref _quietUntil, Math.Min(Volatile.Read(ref _quietUntil), _windowEnd));
        }
        return list;
    }
}
