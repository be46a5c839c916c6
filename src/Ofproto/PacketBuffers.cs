namespace Softswitch.Ofproto;

/// <summary>
/// The switch's packet buffers for PACKET_IN buffer_id (n_buffers): whole packets kept for a few seconds
/// so a PACKET_OUT or FLOW_MOD can release them by id.
/// </summary>
/// <remarks>
/// Design: a fixed ring of slots; a buffer id is the slot index in the low <see cref="SlotBits"/> bits and a per-slot generation
/// above it, so a stale id is recognised (BUFFER_UNKNOWN) and a used one too (BUFFER_EMPTY) until the slot is
/// reused. A slot is reused only after <see cref="Lifetime"/> or once it has been taken. Thread-safe (one lock).
/// <para>Memory: a slot holds a data array only while its packet waits; a taken packet's array goes to a few spares
/// that the next stores reuse. Slot ids go round the ring (a stale id is told from a new one), so with the arrays kept
/// in their slots every slot would come to hold one (256 x 2 KB a bridge) on a switch whose controller takes its
/// packets as fast as they come.</para>
/// </remarks>
public sealed class PacketBuffers
{
    /// <summary>No buffer: the packet travels whole (every OpenFlow version's OFP_NO_BUFFER).</summary>
    public const uint NoBuffer = 0xffffffff;

    /// <summary>Bits of a buffer id that name the slot; the generation is above them.</summary>
    private const int SlotBits = 8;
    private const uint SlotMask = (1u << SlotBits) - 1;
    /// <summary>Most buffers a pool holds: every slot index fits in <see cref="SlotBits"/>.</summary>
    public const int MaxCount = 1 << SlotBits;
    private const uint GenerationMask = uint.MaxValue >> SlotBits;
    /// <summary>Smallest data array of a slot, so most frames reuse it.</summary>
    private const int MinSlotSize = 2048;

    private sealed class Slot
    {
        public byte[] Data = [];
        public int Length;
        public ushort InPort;
        public uint Id = NoBuffer;
        public long StoredTicks;
        public bool Taken = true;
    }

    private readonly Slot[] _slots;
    private readonly Stack<byte[]> _spares = new();
    /// <summary>Most data arrays kept for reuse beyond the waiting packets' own.</summary>
    private const int MaxSpares = 8;
    private readonly Lock _lock = new();
    private readonly long _lifetimeTicks;
    private uint _next;
    private uint _generation;

    public PacketBuffers(int count = MaxCount, TimeSpan? lifetime = null)
    {
        if (count is <= 0 or > MaxCount) throw new ArgumentOutOfRangeException(nameof(count), $"1..{MaxCount} buffers");
        _slots = new Slot[count];
        for (int i = 0; i < count; i++) _slots[i] = new Slot();
        Lifetime = lifetime ?? TimeSpan.FromSeconds(5);
        _lifetimeTicks = (long)(Lifetime.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
    }

    public int Count => _slots.Length;
    public TimeSpan Lifetime { get; }

    /// <summary>Stores a packet; returns its buffer id, or <see cref="NoBuffer"/> when every buffer is in use.</summary>
    public uint Store(ReadOnlySpan<byte> frame, ushort inPort)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_lock)
        {
            for (int tries = 0; tries < _slots.Length; tries++)
            {
                uint idx = _next++ % (uint)_slots.Length;
                var s = _slots[idx];
                if (!s.Taken && now - s.StoredTicks < _lifetimeTicks) continue;
                if (s.Data.Length < frame.Length)
                {
                    // An expired packet's array (never taken) is still in its slot; otherwise a spare, or a new one.
                    if (s.Data.Length > 0) Spare(s.Data);
                    s.Data = _spares.TryPeek(out var spare) && spare.Length >= frame.Length ? _spares.Pop()
                           : new byte[Math.Max(frame.Length, MinSlotSize)];
                }
                frame.CopyTo(s.Data);
                s.Length = frame.Length;
                s.InPort = inPort;
                s.StoredTicks = now;
                s.Taken = false;
                _generation = (_generation + 1) & GenerationMask;
                s.Id = (_generation << SlotBits) | idx;
                if (s.Id == NoBuffer) s.Id = idx;
                return s.Id;
            }
            return NoBuffer;
        }
    }

    public enum TakeResult : byte { Ok, Unknown, Empty }

    /// <summary>Takes the packet stored under <paramref name="id"/> (once).</summary>
    public TakeResult Take(uint id, out byte[] frame, out ushort inPort)
    {
        frame = [];
        inPort = 0;
        uint idx = id & SlotMask;
        lock (_lock)
        {
            if (idx >= (uint)_slots.Length) return TakeResult.Unknown;
            var s = _slots[idx];
            if (s.Id != id) return TakeResult.Unknown;
            if (s.Taken) return TakeResult.Empty;
            if (System.Diagnostics.Stopwatch.GetTimestamp() - s.StoredTicks >= _lifetimeTicks)
            {
                s.Taken = true;
                return TakeResult.Unknown;
            }
            s.Taken = true;
            frame = s.Data.AsSpan(0, s.Length).ToArray();
            inPort = s.InPort;
            Spare(s.Data);
            s.Data = [];
            return TakeResult.Ok;
        }
    }

    /// <summary>Keeps <paramref name="data"/> for the next stores, up to <see cref="MaxSpares"/> (under the lock).</summary>
    private void Spare(byte[] data)
    {
        if (_spares.Count < MaxSpares) _spares.Push(data);
    }

    /// <summary>Data arrays held: by waiting (or expired, not yet reused) packets' slots, and as spares.</summary>
    public int ArraysHeld
    {
        get
        {
            lock (_lock)
            {
                int n = _spares.Count;
                foreach (var s in _slots) if (s.Data.Length > 0) n++;
                return n;
            }
        }
    }
}
