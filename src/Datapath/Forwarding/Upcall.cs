
namespace Softswitch.Datapath.Forwarding;

/// <summary>Why a packet goes to the controller: no rule matched, an output action sent it, or a TTL decrement
/// would have brought its TTL to 0.</summary>
public enum UpcallReason : byte
{
    Miss,
    Action,
    InvalidTtl,
}

/// <summary>A packet for the controller, as the agent sees it while draining (valid only during the callback).</summary>
public readonly ref struct Upcall
{
    public readonly ReadOnlySpan<byte> Frame;
    public readonly ushort InPort;
    public readonly UpcallReason Reason;
    /// <summary>For reason Action: the output action's max_len. Otherwise 0xFFFF (the layer above applies its own).</summary>
    public readonly ushort MaxLen;
    /// <summary>
    /// For reason Action: the output action's opaque user data (<see cref="Actions.FlowAction.OutputToController"/>), 0
    /// for a plain output to the controller port; 0 otherwise.
    /// </summary>
    public readonly ulong UserData;
    /// <summary>For reason Action: the output action's opaque user tag, as <see cref="UserData"/>; 0 otherwise.</summary>
    public readonly uint UserTag;
    /// <summary>The pipeline's metadata when the packet was sent (0 in the first table, or when no rule wrote any).</summary>
    public readonly ulong Metadata;
    /// <summary>The packet's tunnel id: what a set_tunnel before the output gave it, else the id it was received with (0: none).</summary>
    public readonly ulong TunnelId;

    public Upcall(ReadOnlySpan<byte> frame, ushort inPort, UpcallReason reason, ushort maxLen, ulong userData = 0, uint userTag = 0,
                  ulong metadata = 0, ulong tunnelId = 0)
    {
        Metadata = metadata;
        TunnelId = tunnelId;
        Frame = frame;
        InPort = inPort;
        Reason = reason;
        MaxLen = maxLen;
        UserData = userData;
        UserTag = userTag;
    }
}

public delegate void UpcallHandler(in Upcall upcall);

/// <summary>
/// A bounded single-producer/single-consumer ring of packets for the controller, with preallocated slots.
/// </summary>
/// <remarks>
/// Design: the forwarding thread copies the whole frame into the next free slot (the agent buffers whole
/// packets for buffer_id and truncates what it sends itself); when the ring is full, or the token bucket
/// (packet-in rate limit) is empty, the packet is counted and dropped, so a slow controller never makes
/// memory grow. A <see cref="ManualResetEventSlim"/> wakes the consumer. One producer: the owning forwarding
/// thread (the control path's ring is written under the datapath's control lock).
/// </remarks>
public sealed class UpcallRing
{
    /// <summary>The slots' frames, <c>_maxFrame</c> bytes each, in one array left uninitialised: a page of it becomes
    /// resident only once a slot on it is written (a ring of a quiet switch costs next to nothing).</summary>
    private readonly byte[] _data;
    private readonly int _maxFrame;
    private readonly int[] _length;
    private readonly ushort[] _inPort;
    private readonly byte[] _reason;
    private readonly ushort[] _maxLen;
    private readonly ulong[] _userData;
    private readonly uint[] _userTag;
    private readonly ulong[] _metadata, _tunnelId;
    private readonly int _mask;
    private long _head, _tail; // head: next to write (producer); tail: next to read (consumer)
    private readonly ManualResetEventSlim _signal;
    private double _tokens;
    private long _lastRefill;

    public UpcallRing(int capacityPow2, int maxFrame, ManualResetEventSlim signal)
    {
        if ((capacityPow2 & (capacityPow2 - 1)) != 0 || capacityPow2 <= 0) throw new ArgumentException("capacity must be a power of two");
        _maxFrame = maxFrame;
        _data = GC.AllocateUninitializedArray<byte>(checked(capacityPow2 * maxFrame));
        _length = new int[capacityPow2];
        _inPort = new ushort[capacityPow2];
        _reason = new byte[capacityPow2];
        _maxLen = new ushort[capacityPow2];
        _userData = new ulong[capacityPow2];
        _userTag = new uint[capacityPow2];
        _metadata = new ulong[capacityPow2];
        _tunnelId = new ulong[capacityPow2];
        _mask = capacityPow2 - 1;
        _signal = signal;
    }

    public int Count => (int)(Volatile.Read(ref _head) - Volatile.Read(ref _tail));

    /// <summary>Producer: queue a packet; returns the drop reason, or null when queued.</summary>
    public DropReason? TryEnqueue(ReadOnlySpan<byte> frame, ushort inPort, UpcallReason reason, ushort maxLen,
                                  long nowNanos, double ratePerSecond, double burst, ulong userData = 0, uint userTag = 0,
                                  ulong metadata = 0, ulong tunnelId = 0)
    {
        if (ratePerSecond > 0)
        {
            if (nowNanos > _lastRefill)
            {
                _tokens = Math.Min(burst, _tokens + (nowNanos - _lastRefill) * 1e-9 * ratePerSecond);
                _lastRefill = nowNanos;
            }
            if (_tokens < 1) return DropReason.UpcallRateLimited;
            _tokens -= 1;
        }
        long head = _head;
        if (head - Volatile.Read(ref _tail) > _mask) return DropReason.UpcallQueueFull;
        int i = (int)(head & _mask);
        var slot = _data.AsSpan(i * _maxFrame, _maxFrame);
        int len = Math.Min(frame.Length, slot.Length);
        frame[..len].CopyTo(slot);
        _length[i] = len;
        _inPort[i] = inPort;
        _reason[i] = (byte)reason;
        _maxLen[i] = maxLen;
        _userData[i] = userData;
        _userTag[i] = userTag;
        _metadata[i] = metadata;
        _tunnelId[i] = tunnelId;
        Volatile.Write(ref _head, head + 1);
        // Full fence: the consumer resets the signal and then reads _head; without it the IsSet load could pass the
        // _head store and both sides miss each other (the consumer then sleeps until its wait times out).
        Interlocked.MemoryBarrier();
        if (!_signal.IsSet) _signal.Set();
        return null;
    }

    /// <summary>Consumer: hands up to <paramref name="max"/> queued packets to <paramref name="handler"/>; returns how many.</summary>
    public int Drain(UpcallHandler handler, int max = int.MaxValue)
    {
        long tail = _tail, head = Volatile.Read(ref _head);
        int n = 0;
        while (tail < head && n < max)
        {
            int i = (int)(tail & _mask);
            handler(new Upcall(new ReadOnlySpan<byte>(_data, i * _maxFrame, _length[i]), _inPort[i], (UpcallReason)_reason[i], _maxLen[i], _userData[i], _userTag[i],
                                _metadata[i], _tunnelId[i]));
            tail++;
            n++;
            Volatile.Write(ref _tail, tail);
        }
        return n;
    }
}
