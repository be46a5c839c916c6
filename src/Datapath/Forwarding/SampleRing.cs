using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// A bounded single-producer single-consumer ring of samples: each slot a record of <typeparamref name="T"/> and the
/// first <see cref="PacketSampler.HeaderSize"/> bytes of its frame. The forwarding thread writes (<see cref="TryWrite"/>),
/// one exporter thread reads (<see cref="TryRead"/>); a full ring refuses the sample (its owner counts the drop).
/// </summary>
/// <remarks>
/// The producer publishes a slot with a release store of the tail, the consumer frees it with a release store of the
/// head; each cursor sits on its own cache line. Allocates only when made.
/// </remarks>
internal sealed class SampleRing<T> where T : struct
{
    private readonly byte[] _headers;
    private readonly T[] _records;
    private readonly int[] _lengths;
    private SampleRingCursors _cursors;

    /// <param name="slots">Samples the ring holds (rounded up to a power of two, at least 2).</param>
    public SampleRing(int slots)
    {
        slots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, slots));
        _headers = new byte[slots * PacketSampler.HeaderSize];
        _records = new T[slots];
        _lengths = new int[slots];
    }

    /// <summary>Queues <paramref name="record"/> with the first bytes of <paramref name="frame"/>; false when the ring is full.</summary>
    public bool TryWrite(in T record, ReadOnlySpan<byte> frame)
    {
        long tail = _cursors.Tail;
        if (tail - Volatile.Read(ref _cursors.Head) >= _records.Length) return false;
        int slot = (int)tail & (_records.Length - 1);
        int len = Math.Min(frame.Length, PacketSampler.HeaderSize);
        frame[..len].CopyTo(_headers.AsSpan(slot * PacketSampler.HeaderSize, PacketSampler.HeaderSize));
        _lengths[slot] = len;
        _records[slot] = record;
        Volatile.Write(ref _cursors.Tail, tail + 1);
        return true;
    }

    /// <summary>The oldest sample not yet read, its header bytes copied to <paramref name="header"/> (at least
    /// <see cref="PacketSampler.HeaderSize"/> bytes; <paramref name="headerLength"/> of them); false when empty.</summary>
    public bool TryRead(Span<byte> header, out T record, out int headerLength)
    {
        long head = _cursors.Head;
        if (head == Volatile.Read(ref _cursors.Tail))
        {
            record = default;
            headerLength = 0;
            return false;
        }
        int slot = (int)head & (_records.Length - 1);
        record = _records[slot];
        headerLength = _lengths[slot];
        _headers.AsSpan(slot * PacketSampler.HeaderSize, headerLength).CopyTo(header);
        Volatile.Write(ref _cursors.Head, head + 1);
        return true;
    }
}

/// <summary>A ring's cursors, each on a cache line of its own (the producer writes Tail, the consumer Head).</summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal struct SampleRingCursors
{
    [FieldOffset(64)] public long Tail;
    [FieldOffset(128)] public long Head;
}
