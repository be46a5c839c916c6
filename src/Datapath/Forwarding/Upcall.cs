using Softswitch.Datapath.Counters;

namespace Softswitch.Datapath.Forwarding;

/// <summary>Why a packet goes to the controller: no rule matched, an output action sent it, or a TTL decrement
/// would have brought its TTL to 0.</summary>
public enum UpcallReason : byte
{
    Miss,
    Action,
    InvalidTtl,
    /// <summary>
    /// Not a packet: a learn request (<see cref="Actions.ActionKind.LearnRequest"/>) for the layer above to install
    /// the learned flow: <see cref="Upcall.UserData"/> the template id, the frame its values, 16 bytes each (big-endian).
    /// </summary>
    Learn,
    /// <summary>
    /// As <see cref="Action"/>, by a packet-out: its actions, or a flow its output to the table reached (the layer above
    /// reports a plain output to the controller so, as Open vSwitch's in_packet_out; <see cref="Upcall"/>'s fields as Action's).
    /// </summary>
    PacketOut,
}

/// <summary>A packet for the controller, as the agent sees it while draining (valid only during the callback).</summary>
public readonly ref struct Upcall
{
    public readonly ReadOnlySpan<byte> Frame;
    public readonly ushort InPort;
    public readonly UpcallReason Reason;
    /// <summary>For reason Action (and PacketOut): the output action's max_len. Otherwise 0xFFFF (the layer above applies its own).</summary>
    public readonly ushort MaxLen;
    /// <summary>
    /// For reason Action (and PacketOut): the output action's opaque user data (<see cref="Actions.FlowAction.OutputToController"/>), 0
    /// for a plain output to the controller port; 0 otherwise.
    /// </summary>
    public readonly ulong UserData;
    /// <summary>For reason Action (and PacketOut): the output action's opaque user tag, as <see cref="UserData"/>; 0 otherwise.</summary>
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
/// Design: the forwarding thread copies the whole frame into a free frame slot (the agent buffers whole
/// packets for buffer_id and truncates what it sends itself); when the ring is full, or the token bucket
/// (packet-in rate limit) is empty, the packet is counted and dropped, so a slow controller never makes
/// memory grow. A <see cref="ManualResetEventSlim"/> wakes the consumer. One producer: the owning forwarding
/// thread (the control path's ring is written under the datapath's control lock).
/// <para>Frame slots are not the ring's positions: the producer takes the most recently freed slot (a stack of its
/// own, refilled from the slots the consumer hands back in a second ring). A ring that never holds more than k
/// packets at once so writes only its first k slots, and only their pages become resident: with the positions as
/// slots, a switch whose controller sees a packet-in now and then touched every slot within a few hundred packet-ins
/// (256 slots of 2 KB a forwarder, on every bridge of a Mininet topology).</para>
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
    private readonly int[] _frameOf;  // by ring position: the frame slot holding that position's packet
    private readonly int[] _free;     // the producer's free frame slots, a stack (the last freed on top)
    private int _freeCount;
    private int _framesWritten;       // frame slots ever written: 0.._framesWritten-1 (a stack hands them out in order)
    private readonly int[] _returned; // frame slots the consumer is done with, in the order it freed them
    private long _returnHead;         // next to write in _returned (consumer)
    private long _returnTail;         // next to take from _returned (producer)
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
        _frameOf = new int[capacityPow2];
        _returned = new int[capacityPow2];
        _free = new int[capacityPow2];
        for (int k = 0; k < capacityPow2; k++) _free[k] = capacityPow2 - 1 - k; // slot 0 on top
        _freeCount = capacityPow2;
        _mask = capacityPow2 - 1;
        _signal = signal;
    }

    public int Count => (int)(Volatile.Read(ref _head) - Volatile.Read(ref _tail));

    /// <summary>
    /// How many frame slots have ever been written (the most packets the ring has held at once, give or take the ones
    /// the consumer had not yet handed back): only their pages of the frames' array are resident.
    /// </summary>
    public int FrameSlotsWritten => Volatile.Read(ref _framesWritten);

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
        // The consumer hands a frame slot back before it moves the tail past it, so with room in the ring there is a
        // free slot here (the check stays, as a full ring's answer).
        long returned = Volatile.Read(ref _returnHead);
        while (_returnTail < returned) _free[_freeCount++] = _returned[(int)(_returnTail++ & _mask)];
        if (_freeCount == 0) return DropReason.UpcallQueueFull;
        int slotIndex = _free[--_freeCount];
        if (slotIndex >= _framesWritten) _framesWritten = slotIndex + 1;
        int i = (int)(head & _mask);
        _frameOf[i] = slotIndex;
        var slot = _data.AsSpan(slotIndex * _maxFrame, _maxFrame);
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
            int frame = _frameOf[i];
            handler(new Upcall(new ReadOnlySpan<byte>(_data, frame * _maxFrame, _length[i]), _inPort[i], (UpcallReason)_reason[i], _maxLen[i], _userData[i], _userTag[i],
                                _metadata[i], _tunnelId[i]));
            // The frame slot back to the producer first, then the position: room in the ring means a free slot.
            _returned[(int)(_returnHead & _mask)] = frame;
            Volatile.Write(ref _returnHead, _returnHead + 1);
            tail++;
            n++;
            Volatile.Write(ref _tail, tail);
        }
        return n;
    }
}
