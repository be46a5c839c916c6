using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One packet a sample action (<see cref="ActionKind.Sample"/>) chose, as it was at that point of its actions: the port
/// it came in on and the action's arguments. The first <see cref="HeaderLength"/> bytes of the frame travel beside it.
/// </summary>
/// <param name="InPort">The port it arrived on (a <see cref="Ports.PortNumber"/>).</param>
/// <param name="SamplingPort">The action's sampling port, a 16-bit OpenFlow port number (0xffff: none).</param>
/// <param name="Direction">The action's direction: 0 default, 1 ingress, 2 egress.</param>
/// <param name="Probability">The action's probability, out of 65535 (each sample stands for 65535 / it packets).</param>
[StructLayout(LayoutKind.Auto)]
public readonly record struct FlowSample(ushort InPort, ushort SamplingPort, byte Direction, ushort Probability, uint CollectorSetId, uint ObsDomainId,
                                         uint ObsPointId, int FrameLength, int HeaderLength);

/// <summary>The counters of the sample action (docs/datapath.md, "Sample").</summary>
public static class FlowSampleCounters
{
    /// <summary>Packets a sample action chose and queued for the exporter.</summary>
    public static readonly Counter Taken = Coverage.Define("flow-sample-taken", "packets a sample action chose and queued for its collector set's exporter");
    /// <summary>Packets a sample action chose and lost: the forwarder's flow-sample ring was full.</summary>
    public static readonly Counter RingFull = Coverage.Define("flow-sample-ring-full", "packets a sample action chose and lost: their forwarding thread's flow-sample ring was full");
}

/// <summary>
/// The sample action's mechanism for one forwarding thread: a per-thread generator chooses each packet with the
/// action's probability, and the chosen ones go into a <see cref="SampleRing{T}"/> (the ring bridge sampling uses) that
/// the host's per-flow IPFIX exporter drains, tagged with the action's collector set and ids.
/// </summary>
/// <remarks>
/// <para><b>Choice</b>: as Open vSwitch's datapath sample action: the probability p (1..65535) scaled to 32 bits
/// (p &lt;&lt; 16 | p, so 65535 is every packet) against one 32-bit draw of a xorshift64 generator per packet
/// (chosen when the draw is at most it); 65535 draws nothing, 0 chooses nothing.</para>
/// <para><b>Allocation</b>: the ring (<see cref="DatapathOptions.SampleRingSlots"/> slots) is made by the first
/// packet chosen, once; after that a sample allocates nothing. A full ring drops the sample, counted
/// (<c>flow-sample-ring-full</c>).</para>
/// <para><b>Thread safety</b>: <see cref="Take"/> belongs to the forwarding thread (the producer); the control path's
/// sampler (packet-outs, run by several threads) takes a lock there. <see cref="TryRead"/> belongs to one exporter
/// thread (the consumer).</para>
/// </remarks>
public sealed class FlowSampler
{
    private readonly int _slots;
    private readonly CounterSet _counters;
    private readonly Lock? _producers;
    private ulong _rng;
    private SampleRing<FlowSample>? _ring;

    /// <param name="ringSlots">Samples the ring holds (rounded up to a power of two).</param>
    /// <param name="counters">The thread's counter set.</param>
    /// <param name="seed">The generator's seed (0: random).</param>
    /// <param name="shared">Several threads produce (the control path): <see cref="Take"/> locks.</param>
    public FlowSampler(int ringSlots, CounterSet counters, ulong seed = 0, bool shared = false)
    {
        _slots = ringSlots;
        _counters = counters;
        _rng = seed != 0 ? seed : (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        _producers = shared ? new Lock() : null;
    }

    /// <summary>Samples the packets <paramref name="pkts"/> of <paramref name="pool"/> for sample action <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Take(in FlowAction a, PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (a.SampleProbability == 0) return;
        if (_producers is null)
        {
            TakeOwned(a, pool, pkts);
            return;
        }
        lock (_producers) TakeOwned(a, pool, pkts);
    }

    private void TakeOwned(in FlowAction a, PacketPool pool, ReadOnlySpan<int> pkts)
    {
        uint p = a.SampleProbability;
        uint threshold = p << 16 | p;
        ulong x = _rng;
        int taken = 0, full = 0;
        foreach (int pkt in pkts)
        {
            if (threshold != uint.MaxValue)
            {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if ((uint)(x >> 32) > threshold) continue;
            }
            var ring = _ring ?? MakeRing();
            var frame = pool.Frame(pkt);
            var s = new FlowSample(pool.InPort[pkt], a.SamplingPort, a.SampleDirection, a.SampleProbability, a.SampleCollectorSetId,
                                   a.SampleObsDomainId, a.SampleObsPointId, frame.Length, Math.Min(frame.Length, PacketSampler.HeaderSize));
            if (ring.TryWrite(s, frame)) taken++;
            else full++;
        }
        _rng = x;
        if (taken != 0) _counters.Add(FlowSampleCounters.Taken, taken);
        if (full != 0) _counters.Add(FlowSampleCounters.RingFull, full);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SampleRing<FlowSample> MakeRing()
    {
        var ring = new SampleRing<FlowSample>(_slots);
        Volatile.Write(ref _ring, ring);
        return ring;
    }

    /// <summary>
    /// The oldest sample not yet read, its header bytes copied to <paramref name="header"/> (at least
    /// <see cref="PacketSampler.HeaderSize"/> bytes); false when there is none. One consumer thread only.
    /// </summary>
    public bool TryRead(Span<byte> header, out FlowSample sample)
    {
        if (Volatile.Read(ref _ring) is { } ring) return ring.TryRead(header, out sample, out _);
        sample = default;
        return false;
    }
}
