namespace Softswitch.Vswitchd;

/// <summary>
/// A bounded ring of control frames the datapath handed to a bridge's protocol (BPDUs for the spanning tree, LACPDUs
/// for bonds, IGMP and MLD for multicast snooping, with their VLAN): a forwarding thread copies a frame in
/// (<see cref="Add"/>), the protocol's round takes them out in order
/// (<see cref="TryTake(Span{byte}, out ushort, out int, out ushort)"/>). Its own short lock (<c>_lock</c>), never held with the protocol's, so a forwarding thread
/// never waits on the protocol; a full ring counts the frame in <see cref="Overflow"/> and drops it.
/// </summary>
internal sealed class ReceivedFrames
{
    private readonly Lock _lock = new();
    private readonly byte[][] _frame;
    private readonly ushort[] _port;
    private readonly ushort[] _vlan;
    private readonly int[] _size;
    private readonly int _frameSize;
    private int _head, _count;
    private long _overflow;

    public ReceivedFrames(int slots, int frameSize)
    {
        _frameSize = frameSize;
        _frame = new byte[slots][];
        for (int i = 0; i < slots; i++) _frame[i] = new byte[frameSize];
        _port = new ushort[slots];
        _vlan = new ushort[slots];
        _size = new int[slots];
    }

    /// <summary>Frames dropped because the ring was full (the protocol is late by more than the ring's slots).</summary>
    public long Overflow => Interlocked.Read(ref _overflow);

    /// <summary>Copies the first bytes of <paramref name="frame"/> (up to the slot size) in, received on port <paramref name="no"/>
    /// (in VLAN <paramref name="vlan"/>, for a protocol that needs it).</summary>
    public void Add(ushort no, ReadOnlySpan<byte> frame, ushort vlan = 0)
    {
        lock (_lock)
        {
            if (_count == _frame.Length)
            {
                _overflow++;
                return;
            }
            int slot = (_head + _count) % _frame.Length;
            int size = Math.Min(frame.Length, _frameSize);
            frame[..size].CopyTo(_frame[slot]);
            _size[slot] = size;
            _port[slot] = no;
            _vlan[slot] = vlan;
            _count++;
        }
    }

    /// <summary>The oldest frame, copied into <paramref name="into"/> (at least the slot size), with its port and size; false when empty.</summary>
    public bool TryTake(Span<byte> into, out ushort no, out int size) => TryTake(into, out no, out size, out _);

    /// <summary><see cref="TryTake(Span{byte}, out ushort, out int)"/> with the frame's VLAN as given to <see cref="Add"/>.</summary>
    public bool TryTake(Span<byte> into, out ushort no, out int size, out ushort vlan)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                no = 0;
                size = 0;
                vlan = 0;
                return false;
            }
            no = _port[_head];
            size = _size[_head];
            vlan = _vlan[_head];
            _frame[_head].AsSpan(0, size).CopyTo(into);
            _head = (_head + 1) % _frame.Length;
            _count--;
            return true;
        }
    }
}
