using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One sampled packet as the forwarding thread saw it before running its actions: where it came in, where its flow
/// sends it, its length, and the sampler's running totals when it was taken. The first <see cref="HeaderLength"/>
/// bytes of the frame travel beside it.
/// </summary>
/// <param name="InPort">The port it arrived on (a <see cref="PortNumber"/>).</param>
/// <param name="OutPort">Its flow's first output port (a <see cref="PortNumber"/>, possibly a target such as
/// <see cref="PortNumber.Flood"/>), or <see cref="PortNumber.None"/> when there is none.</param>
/// <param name="OutputCount">How many outputs its flow has (0: dropped), or -1 when unknown (a table miss, decided
/// by the miss behaviour).</param>
/// <param name="Pool">Packets this thread's sampler had seen, this one included (sampled or skipped).</param>
/// <param name="Drops">Samples this thread had lost to a full ring.</param>
[StructLayout(LayoutKind.Auto)]
public readonly record struct PacketSample(ushort InPort, ushort OutPort, int OutputCount, int FrameLength, int HeaderLength, long Pool, long Drops);

/// <summary>
/// 1-in-N packet sampling for one forwarding thread: a countdown the forwarder decrements per flow-batch, and a
/// bounded single-producer single-consumer ring of samples that an exporter drains.
/// </summary>
/// <remarks>
/// <para><b>Hot path</b>: <see cref="Skip"/> subtracts a batch's size (its packets on the wire: a GSO super-frame counts as its segments) from the countdown, a field of this thread's
/// own (no allocation, no shared write, no branch beyond the sign test). Only when it reaches zero does
/// <see cref="Take"/> run (out of line): it copies the chosen packets' first <see cref="HeaderSize"/> bytes into the
/// ring and draws the next skip, uniform in [1, 2N-1] (mean N) from a per-thread xorshift generator, so sampling does
/// not lock onto periodic traffic (as sFlow asks). With sampling off the countdown starts at <see cref="long.MaxValue"/>
/// and never reaches zero.</para>
/// <para><b>Totals</b>: the pool (packets seen) is derived, never counted per packet: it is the sum of the skips
/// drawn so far minus the countdown. Drops are samples lost to a full ring.</para>
/// <para><b>Thread safety</b>: <see cref="Skip"/> and <see cref="Take"/> belong to the forwarding thread (the
/// producer), <see cref="TryRead"/> to one exporter thread (the consumer). The producer publishes a slot with a
/// release store of its tail, the consumer frees it with a release store of its head; each cursor sits on its own
/// cache line. <see cref="SeenPackets"/> and <see cref="DropCount"/> are racy reads of monotonic counters.</para>
/// </remarks>
public sealed class PacketSampler
{
    /// <summary>Bytes of each sampled frame kept (sFlow's default header size).</summary>
    public const int HeaderSize = 128;

    private long _countdown = long.MaxValue;
    private long _skipSum = long.MaxValue;
    private ulong _rng;
    private long _drops;
    private readonly int _rate;
    private readonly byte[] _headers;
    private readonly PacketSample[] _samples;
    private Cursors _cursors;

    /// <param name="rate">Sample 1 in <paramref name="rate"/> packets; 0: sampling off.</param>
    /// <param name="ringSlots">Samples the ring holds before the forwarder counts drops (rounded up to a power of two).</param>
    public PacketSampler(int rate, int ringSlots = 4096, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        _rate = rate;
        _rng = seed != 0 ? seed : (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        if (rate == 0)
        {
            _headers = [];
            _samples = [];
            return;
        }
        int slots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, ringSlots));
        _headers = new byte[slots * HeaderSize];
        _samples = new PacketSample[slots];
        _countdown = NextSkip();
        _skipSum = _countdown;
    }

    /// <summary>1 in how many packets is sampled (0: off).</summary>
    public int Rate => _rate;

    /// <summary>Packets this sampler has seen (sampled or skipped); racy from other threads.</summary>
    public long SeenPackets => _rate == 0 ? 0 : Volatile.Read(ref _skipSum) - Volatile.Read(ref _countdown);

    /// <summary>Samples lost because the ring was full; racy from other threads.</summary>
    public long DropCount => Volatile.Read(ref _drops);

    /// <summary>
    /// Counts the packets <paramref name="pkts"/> of <paramref name="pool"/> as the wire carries them (a GSO super-frame
    /// as its segments); true when one of them is to be sampled (call <see cref="Take"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Skip(PacketPool pool, ReadOnlySpan<int> pkts)
        => (_countdown -= pool.LargeCapacity == 0 || _rate == 0 ? pkts.Length : Weigh(pool, pkts)) <= 0;

    /// <summary>The packets <paramref name="pkts"/> make on the wire.</summary>
    private static int Weigh(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        int n = pkts.Length;
        foreach (int p in pkts)
        {
            if (pool.OwesOffload(p)) n += WeightOf(pool, p) - 1;
        }
        return n;
    }

    private static int WeightOf(PacketPool pool, int p)
    {
        if (!pool.OwesOffload(p)) return 1;
        int length = pool.Length[p];
        return SoftwareOffload.WireSize(pool.Frame(p), pool.OffloadOf(p), ref length);
    }

    /// <summary>
    /// After <see cref="Skip"/> returned true for <paramref name="pkts"/>: samples the chosen packets (before their
    /// actions run), with <paramref name="actions"/> (null: a table miss) telling where they go.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Take(PacketPool pool, ReadOnlySpan<int> pkts, FlowActions? actions)
    {
        int n = pkts.Length;
        while (_countdown <= 0)
        {
            // The batch's last packet is position n-1; the countdown says how far before it (in packets on the wire: a
            // super-frame spans its segments) the chosen one is.
            long back = -_countdown;
            int i = n - 1;
            for (int w = WeightOf(pool, pkts[i]); back >= w && i > 0; w = WeightOf(pool, pkts[i]))
            {
                back -= w;
                i--;
            }
            Write(pool, pkts[i], actions, _skipSum);
            long skip = NextSkip();
            _countdown += skip;
            _skipSum += skip;
        }
    }

    private void Write(PacketPool pool, int p, FlowActions? actions, long seen)
    {
        long tail = _cursors.Tail;
        if (tail - Volatile.Read(ref _cursors.Head) >= _samples.Length)
        {
            Volatile.Write(ref _drops, _drops + 1);
            return;
        }
        int slot = (int)tail & (_samples.Length - 1);
        var frame = pool.Frame(p);
        int len = Math.Min(frame.Length, HeaderSize);
        frame[..len].CopyTo(_headers.AsSpan(slot * HeaderSize, HeaderSize));
        ushort outPort = PortNumber.None;
        int outputs = -1;
        if (actions is not null)
        {
            outputs = actions.OutputCount;
            foreach (var a in actions.Items)
            {
                if (!a.IsOutput) continue;
                outPort = a.Port == PortNumber.InPort ? pool.InPort[p] : a.Port;
                break;
            }
        }
        _samples[slot] = new PacketSample(pool.InPort[p], outPort, outputs, frame.Length, len, seen, _drops);
        Volatile.Write(ref _cursors.Tail, tail + 1);
    }

    /// <summary>
    /// The oldest sample not yet read, its header bytes copied to <paramref name="header"/> (at least
    /// <see cref="HeaderSize"/> bytes); false when the ring is empty. One consumer thread only.
    /// </summary>
    public bool TryRead(Span<byte> header, out PacketSample sample)
    {
        long head = _cursors.Head;
        if (head == Volatile.Read(ref _cursors.Tail))
        {
            sample = default;
            return false;
        }
        int slot = (int)head & (_samples.Length - 1);
        sample = _samples[slot];
        _headers.AsSpan(slot * HeaderSize, sample.HeaderLength).CopyTo(header);
        Volatile.Write(ref _cursors.Head, head + 1);
        return true;
    }

    /// <summary>Uniform in [1, 2N-1] (mean N); always 1 for N = 1.</summary>
    private long NextSkip()
    {
        ulong x = _rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        _rng = x;
        ulong span = 2UL * (ulong)_rate - 1;
        return (long)(x % span) + 1;
    }

    /// <summary>The ring's cursors, each on a cache line of its own (the producer writes Tail, the consumer Head).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Cursors
    {
        [FieldOffset(64)] public long Tail;
        [FieldOffset(128)] public long Head;
    }
}
