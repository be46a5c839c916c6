using System.Runtime.CompilerServices;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

// The rest of a multi-stage pipeline after a re-parse point (a verdict that ended in PipelineEnd.Recirculate): the
// packets it left are parsed anew and looked up from its continuation, in passes over the burst.
public sealed partial class Forwarder
{
    /// <summary>A pass of <see cref="ClassifyPass"/>: from table 0 with the parser's keys, or after a re-parse point.</summary>
    private interface IClassifyPass
    {
        static abstract bool Reparsed { get; }
    }

    private struct FromTableZero : IClassifyPass
    {
        public static bool Reparsed => false;
    }

    private struct AfterReparse : IClassifyPass
    {
        public static bool Reparsed => true;
    }

    // Packets queued by the running pass for the next (at most one entry per packet of a burst), and the next pass's
    // own arrays (a pass queues into the first while it reads the second).
    private readonly int[] _recircPkts = new int[Burst.Size];
    private readonly PipelineContinuation?[] _recircNext = new PipelineContinuation?[Burst.Size];
    private int _recircCount;
    private readonly int[] _passPkts = new int[Burst.Size];
    private readonly PipelineContinuation[] _passStarts = new PipelineContinuation[Burst.Size];
    private readonly FlowKey[] _passKeys = new FlowKey[Burst.Size];
    private readonly uint[] _passHashes = new uint[Burst.Size];
    private readonly PacketLayers[] _passLayers = new PacketLayers[Burst.Size];

    /// <summary>Packets parsed anew after a verdict's re-parse point and looked up from its continuation.</summary>
    public long Recirculations { get; private set; }

    /// <summary>Tests' reference: every goto-table re-parses the packet (<see cref="PipelineWalk.ReparseAtEveryGoto"/>).</summary>
    internal bool ReparseAtEveryGoto
    {
        get => _walk.ReparseAtEveryGoto;
        set => _walk.ReparseAtEveryGoto = value;
    }

    /// <summary>Queues <paramref name="pkts"/> (what a verdict's actions left) to go on from <paramref name="next"/>.</summary>
    private void Reparse(ReadOnlySpan<int> pkts, PipelineContinuation next)
    {
        foreach (int p in pkts)
        {
            _recircPkts[_recircCount] = p;
            _recircNext[_recircCount++] = next;
        }
    }

    /// <summary>
    /// Passes over the packets the last pass queued until none is: each packet's frame, as the actions left it, parsed
    /// into a new key (its in_port, its tunnel id or the one the actions set, the continuation's metadata), hashed with
    /// the continuation's mix, and classified from the continuation's table. Each pass starts at a later table than the
    /// one before (a goto only goes forward), so this ends. The packets stay the caller's to release.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Recirculate(Pipeline pipeline, PortSlot inSlot)
    {
        while (_recircCount != 0)
        {
            int n = _recircCount;
            _recircCount = 0;
            var pkts = _passPkts.AsSpan(0, n);
            var starts = _passStarts.AsSpan(0, n);
            var keys = _passKeys.AsSpan(0, n);
            var hashes = _passHashes.AsSpan(0, n);
            var layers = _passLayers.AsSpan(0, n);
            bool hash = EmcActive;
            for (int i = 0; i < n; i++)
            {
                int p = _recircPkts[i];
                var next = _recircNext[i]!;
                _recircNext[i] = null;
                pkts[i] = p;
                starts[i] = next;
                var err = PacketParser.Parse(Pool.Frame(p), Pool.InPort[p], out var parsed, out layers[i], TunnelRx ? Pool.TunId[p] : 0);
                if (err != ParseError.None) ParseErrors.Count(err);
                keys[i] = next.Apply(parsed);
                if (hash) hashes[i] = keys[i].Hash() ^ next.HashMix;
            }
            Recirculations += n;
            ClassifyPass<AfterReparse>(pipeline, pkts, keys, hashes, layers, inSlot, starts);
            starts.Clear();
        }
    }
}
