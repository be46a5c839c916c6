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

/// <summary>The exporters that read a forwarding thread's samples, each at its own rate and from its own ring.</summary>
public enum SampleChannel
{
    /// <summary>sFlow's flow samples.</summary>
    Sflow = 0,
    /// <summary>IPFIX's bridge sampling.</summary>
    Ipfix = 1,
}

/// <summary>
/// 1-in-N packet sampling for one forwarding thread, for each <see cref="SampleChannel"/> at its own N: one countdown
/// the forwarder decrements per flow-batch, and per channel a bounded single-producer single-consumer ring of samples
/// that its exporter drains.
/// </summary>
/// <remarks>
/// <para><b>Hot path</b>: <see cref="Skip"/> subtracts a batch's size (its packets on the wire: a GSO super-frame counts as its segments) from the countdown, a field of this thread's
/// own (no allocation, no shared write, no branch beyond the sign test). The countdown is the packets until the next
/// channel's turn (the least of the channels' own countdowns), so a second channel costs the forwarder nothing more.
/// Only when it reaches zero does <see cref="Take"/> run (out of line): it brings each channel's countdown up to date,
/// copies the packets chosen for a channel (their first <see cref="HeaderSize"/> bytes) into that channel's ring, and
/// draws the channel's next skip, uniform in [1, 2N-1] (mean N) from its own xorshift generator, so sampling does
/// not lock onto periodic traffic (as sFlow asks) and the channels choose independently. With every channel off the
/// countdown starts at <see cref="long.MaxValue"/> and never reaches zero.</para>
/// <para><b>Totals</b>: the pool (packets seen) is derived, never counted per packet: the packets consumed at the
/// last <see cref="Take"/> plus what the countdown has gone down since. A sampler made to replace another
/// (<c>previous</c>: a rate changed) goes on from its totals, so a collector's pool and drops never go back. Drops
/// are samples lost to a full ring, per channel.</para>
/// <para><b>Thread safety</b>: <see cref="Skip"/> and <see cref="Take"/> belong to the forwarding thread (the
/// producer), <see cref="TryRead(SampleChannel, Span{byte}, out PacketSample)"/> of a channel to one exporter thread
/// (its consumer). The producer publishes a slot with a release store of the ring's tail, the consumer frees it with
/// a release store of its head; each cursor sits on its own cache line. <see cref="SeenPackets"/> and
/// <see cref="DropCountOf"/> are racy reads of monotonic counters.</para>
/// </remarks>
public sealed class PacketSampler
{
    /// <summary>Bytes of each sampled frame kept (sFlow's default header size).</summary>
    public const int HeaderSize = 128;

    /// <summary>How many channels a sampler has (<see cref="SampleChannel"/>).</summary>
    public const int ChannelCount = 2;

    private long _countdown = long.MaxValue;
    /// <summary>The countdown's value when <see cref="Take"/> last brought the channels up to date.</summary>
    private long _synced = long.MaxValue;
    /// <summary>Packets seen up to that moment (with those of the sampler this one replaced).</summary>
    private long _consumed;
    private readonly bool _on;
    private readonly Channel?[] _channels = new Channel?[ChannelCount];

    /// <param name="rate">Sample 1 in <paramref name="rate"/> packets for <see cref="SampleChannel.Sflow"/>; 0: off.</param>
    /// <param name="ringSlots">Samples a ring holds before the forwarder counts drops (rounded up to a power of two).</param>
    public PacketSampler(int rate, int ringSlots = 4096, ulong seed = 0)
        : this([rate, 0], ringSlots, seed)
    {
    }

    /// <param name="rates">Each channel's rate (by <see cref="SampleChannel"/>; missing: 0, off).</param>
    /// <param name="ringSlots">Samples each ring holds before the forwarder counts drops (rounded up to a power of two).</param>
    /// <param name="seed">The first channel's generator seed (0: random); the others derive theirs from it.</param>
    /// <param name="previous">The sampler this one replaces: its totals are carried on.</param>
    public PacketSampler(ReadOnlySpan<int> rates, int ringSlots = 4096, ulong seed = 0, PacketSampler? previous = null)
    {
        if (rates.Length > ChannelCount) throw new ArgumentException($"at most {ChannelCount} channels", nameof(rates));
        ulong rng = seed != 0 ? seed : (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        long seen = previous?.SeenPackets ?? 0;
        _consumed = seen;
        long next = long.MaxValue;
        for (int c = 0; c < rates.Length; c++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(rates[c], nameof(rates));
            if (rates[c] == 0) continue;
            var ch = new Channel(rates[c], ringSlots, rng + (ulong)c * 0x9E3779B97F4A7C15UL, previous?.DropCountOf((SampleChannel)c) ?? 0);
            _channels[c] = ch;
            next = Math.Min(next, ch.Remaining);
            _on = true;
        }
        _countdown = next;
        _synced = next;
    }

    /// <summary>1 in how many packets <see cref="SampleChannel.Sflow"/> samples (0: off).</summary>
    public int Rate => RateOf(SampleChannel.Sflow);

    /// <summary>1 in how many packets <paramref name="channel"/> samples (0: off).</summary>
    public int RateOf(SampleChannel channel) => _channels[(int)channel]?.Rate ?? 0;

    /// <summary>Packets this sampler (and those it replaced) has seen, sampled or skipped, while a channel was on; racy from other threads.</summary>
    public long SeenPackets => !_on ? _consumed : Volatile.Read(ref _consumed) + Volatile.Read(ref _synced) - Volatile.Read(ref _countdown);

    /// <summary><see cref="SampleChannel.Sflow"/>'s samples lost because its ring was full; racy from other threads.</summary>
    public long DropCount => DropCountOf(SampleChannel.Sflow);

    /// <summary><paramref name="channel"/>'s samples lost because its ring was full; racy from other threads.</summary>
    public long DropCountOf(SampleChannel channel) => _channels[(int)channel] is { } ch ? Volatile.Read(ref ch.Drops) : 0;

    /// <summary>
    /// Counts the packets <paramref name="pkts"/> of <paramref name="pool"/> as the wire carries them (a GSO super-frame
    /// as its segments); true when one of them is to be sampled (call <see cref="Take"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Skip(PacketPool pool, ReadOnlySpan<int> pkts)
        => (_countdown -= pool.LargeCapacity == 0 || !_on ? pkts.Length : Weigh(pool, pkts)) <= 0;

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
    /// actions run) for each channel whose turn came, with <paramref name="actions"/> (null: a table miss) telling
    /// where they go.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Take(PacketPool pool, ReadOnlySpan<int> pkts, FlowActions? actions)
    {
        long consumed = _synced - _countdown; // since the last Take, this batch included
        long total = _consumed + consumed;
        long next = long.MaxValue;
        int n = pkts.Length;
        foreach (var ch in _channels)
        {
            if (ch is null) continue;
            ch.Remaining -= consumed;
            while (ch.Remaining <= 0)
            {
                // The batch's last packet is position n-1; the channel's countdown says how far before it (in packets
                // on the wire: a super-frame spans its segments) the chosen one is.
                long back = -ch.Remaining;
                int i = n - 1;
                for (int w = WeightOf(pool, pkts[i]); back >= w && i > 0; w = WeightOf(pool, pkts[i]))
                {
                    back -= w;
                    i--;
                }
                ch.Write(pool, pkts[i], actions, total + ch.Remaining);
                ch.Remaining += ch.NextSkip();
            }
            next = Math.Min(next, ch.Remaining);
        }
        Volatile.Write(ref _consumed, total);
        _countdown = next;
        Volatile.Write(ref _synced, next);
    }

    /// <summary>
    /// <see cref="SampleChannel.Sflow"/>'s oldest sample not yet read (see <see cref="TryRead(SampleChannel, Span{byte}, out PacketSample)"/>).
    /// </summary>
    public bool TryRead(Span<byte> header, out PacketSample sample) => TryRead(SampleChannel.Sflow, header, out sample);

    /// <summary>
    /// The oldest sample of <paramref name="channel"/> not yet read, its header bytes copied to <paramref name="header"/>
    /// (at least <see cref="HeaderSize"/> bytes); false when the ring is empty or the channel off. One consumer thread
    /// per channel only.
    /// </summary>
    public bool TryRead(SampleChannel channel, Span<byte> header, out PacketSample sample)
    {
        if (_channels[(int)channel] is { } ch) return ch.TryRead(header, out sample);
        sample = default;
        return false;
    }

    /// <summary>One channel: its rate, countdown, generator and ring.</summary>
    private sealed class Channel
    {
        public readonly int Rate;
        /// <summary>Packets until this channel's next sample, as of the sampler's last <see cref="Take"/>.</summary>
        public long Remaining;
        public long Drops;
        private ulong _rng;
        private readonly SampleRing<PacketSample> _ring;

        public Channel(int rate, int ringSlots, ulong seed, long drops)
        {
            Rate = rate;
            _rng = seed == 0 ? 1 : seed;
            Drops = drops;
            _ring = new SampleRing<PacketSample>(ringSlots);
            Remaining = NextSkip();
        }

        /// <param name="seen">The packets seen up to and including this one.</param>
        public void Write(PacketPool pool, int p, FlowActions? actions, long seen)
        {
            var frame = pool.Frame(p);
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
            var sample = new PacketSample(pool.InPort[p], outPort, outputs, frame.Length, Math.Min(frame.Length, HeaderSize), seen, Drops);
            if (!_ring.TryWrite(sample, frame)) Volatile.Write(ref Drops, Drops + 1);
        }

        public bool TryRead(Span<byte> header, out PacketSample sample) => _ring.TryRead(header, out sample, out _);

        /// <summary>Uniform in [1, 2N-1] (mean N); always 1 for N = 1.</summary>
        public long NextSkip()
        {
            ulong x = _rng;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            _rng = x;
            ulong span = 2UL * (ulong)Rate - 1;
            return (long)(x % span) + 1;
        }
    }
}
