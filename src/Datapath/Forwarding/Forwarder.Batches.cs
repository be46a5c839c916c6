using System.Runtime.CompilerServices;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Forwarding;

// Step 4's flow-batches: the packets of a burst that run one action list together. Both classify corridors (one table
// by flow, ClassifyAndExecute; a pipeline by verdict, ClassifyPass, also after a re-parse point) group through Group,
// into the same arrays; they differ only in how a packet's batch is found (ByFlow, ByVerdict).
public sealed partial class Forwarder
{
    // Batch b holds _batchCount[b] packets (and their layers) at b * Burst.Size of _batchPkts and _batchLayers; its
    // first packet's position in the burst is _batchFirst[b] (its flow or verdict is the corridor's at that position:
    // no reference is stored per packet). The grouping index of ByFlow (flow serial -> batch) and the positions of the
    // packets to group (the others were run as they were classified). The thread's arrays, not a stackalloc, for the
    // reason Classifier.BurstScratch gives (the methods that group get the run's profile).
    private readonly int[] _batchCount = new int[Burst.Size];
    private readonly byte[] _batchIndex = new byte[64];
    private readonly byte[] _batchFirst = new byte[Burst.Size];
    private readonly byte[] _batchRest = new byte[Burst.Size];
    private readonly int[] _batchPkts = new int[Burst.Size * Burst.Size];
    private readonly PacketLayers[] _batchLayers = new PacketLayers[Burst.Size * Burst.Size];

    /// <summary>How <see cref="Group"/> finds the batch of a burst's packet.</summary>
    private interface IBatchKey
    {
        /// <summary>The batch packet <paramref name="i"/> (its position in the burst) joins: an existing one, or
        /// <paramref name="next"/>, a new batch it starts.</summary>
        int BatchOf(int i, int next);
    }

    /// <summary>
    /// Batches by the flow each packet matched (the burst's entries): a 64-slot open-addressing index keyed by the
    /// entry's serial number, each slot a batch whose flow is the one at its first packet's position.
    /// </summary>
    private readonly struct ByFlow : IBatchKey
    {
        private readonly FlowEntry?[] _entries;
        private readonly byte[] _index, _first;

        public ByFlow(FlowEntry?[] entries, byte[] index, byte[] first)
        {
            _entries = entries;
            _index = index;
            _first = first;
            index.AsSpan().Fill(0xFF);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int BatchOf(int i, int next)
        {
            var e = _entries[i];
            int h = e!.Serial & 63;
            while (true)
            {
                int b = _index[h];
                if (b == 0xFF)
                {
                    _index[h] = (byte)next;
                    return next;
                }
                if (ReferenceEquals(_entries[_first[b]], e)) return b;
                h = (h + 1) & 63;
            }
        }
    }

    /// <summary>
    /// Batches by each packet's pipeline verdict (<paramref name="verdicts"/>): a verdict belongs to this thread, so it
    /// holds its batch number for the burst itself (ovs keeps a flow's batch in the flow: its flows are per thread too)
    /// and needs no index.
    /// </summary>
    private readonly struct ByVerdict(PipelineVerdict?[] verdicts, long burst) : IBatchKey
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int BatchOf(int i, int next)
        {
            var v = verdicts[i]!;
            if (v.BatchBurst == burst) return v.Batch;
            v.BatchBurst = burst;
            v.Batch = next;
            return next;
        }
    }

    /// <summary>
    /// Groups the packets at positions <paramref name="rest"/> of a burst into batches as <paramref name="key"/> tells
    /// them apart, in the order they came; returns how many batches (<see cref="BatchPackets"/>, <see cref="BatchLayers"/>,
    /// the first packet's position <c>_batchFirst[b]</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Group<TKey>(TKey key, ReadOnlySpan<byte> rest, ReadOnlySpan<int> pkts, ReadOnlySpan<PacketLayers> layers)
        where TKey : struct, IBatchKey
    {
        int batches = 0;
        foreach (int i in rest)
        {
            int b = key.BatchOf(i, batches);
            if (b == batches)
            {
                batches++;
                _batchFirst[b] = (byte)i;
                _batchCount[b] = 0;
            }
            int at = b * Burst.Size + _batchCount[b]++;
            _batchPkts[at] = pkts[i];
            _batchLayers[at] = layers[i];
        }
        return batches;
    }

    /// <summary>Batch <paramref name="b"/>'s packets.</summary>
    private Span<int> BatchPackets(int b) => _batchPkts.AsSpan(b * Burst.Size, _batchCount[b]);

    /// <summary>Batch <paramref name="b"/>'s packets' layers.</summary>
    private Span<PacketLayers> BatchLayers(int b) => _batchLayers.AsSpan(b * Burst.Size, _batchCount[b]);

    // Batching by runs (see BatchByRuns): whether the last grouped bursts found almost one flow per packet, and a
    // count of bursts that makes every 16th one group anyway, to see whether that still holds.
    private bool _batchByRuns;
    private int _batchProbe;
    /// <summary>Bursts this thread batched by runs of consecutive packets of one flow rather than by flow (<see cref="BatchByRuns"/>).</summary>
    public long BurstsBatchedByRuns { get; private set; }

    /// <summary>
    /// Whether this burst's packets that need a flow-batch are batched by runs: each run of consecutive packets of
    /// one flow is one batch, run as soon as it ends, with no grouping index and no copy of the packets. That is what
    /// grouping by flow gives when flows do not repeat within a burst (a large working set: each batch holds one
    /// packet), for less; when they do (a few flows interleaved), grouping gives fewer, larger batches. So: by runs
    /// while the last grouped burst with 8 or more such packets had a batch for at least 3 of every 4 of them (as
    /// <see cref="Batched"/> records), and every 16th burst grouped anyway to look again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool BatchByRuns()
    {
        if (!_batchByRuns || (++_batchProbe & 15) == 0) return false;
        BurstsBatchedByRuns++;
        return true;
    }

    /// <summary>A grouped burst had <paramref name="batches"/> flow-batches for <paramref name="packets"/> packets (see <see cref="BatchByRuns"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Batched(int packets, int batches)
    {
        if (packets >= 8) _batchByRuns = batches * 4 >= packets * 3;
    }
}
