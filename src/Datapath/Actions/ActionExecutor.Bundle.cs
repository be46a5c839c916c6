using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>bundle and bundle_load in a packet-out's or a group bucket's list (<see cref="ActionKind.Bundle"/>).</summary>
/// <remarks>
/// A rule's bundle is composed away by the pipeline walk (its pick becomes an output or a load there, cached with the
/// verdict). A packet-out's and a bucket's lists run here, uncomposed: each packet's pick is made as it reaches the
/// action, over the packet as the actions before it left it (its headers parsed again for hrw's hash, or for the rest
/// of a field a bundle_load writes part of) and the ports' liveness now, as Open vSwitch translates a packet-out or a
/// bucket for each packet. active_backup hashes nothing: one pick for the batch. A bundle outputs each packet to its
/// pick (none when no member is live), one sink call per distinct pick; a bundle_load writes the pick into the packet
/// field it names (the layer above refuses a register, metadata or tunnel id destination here). Allocates nothing.
/// </remarks>
public sealed partial class ActionExecutor
{
    /// <summary>The groups' port liveness (<see cref="Softswitch.Datapath.Groups.GroupTable.IsPortLive"/>), made once.</summary>
    private Func<ushort, bool>? _isPortLive;

    private void ExecuteBundle<TSink>(in FlowAction a, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint queue, int depth,
                                      bool modifiedAfter, ref TSink sink)
        where TSink : struct, IActionSink
    {
        if (_isPortLive is null && Groups is { } g) _isPortLive = g.IsPortLive;
        var isLive = _isPortLive;
        var members = BundleMembers.Get(a.BundleMembersId);
        bool hash = a.BundleAlgorithm != Bundle.ActiveBackup;
        var dst = a.BundleDst;
        bool readsKey = hash || (a.BundleHasDst && !dst.IsWhole);
        ushort pick = hash ? Bundle.None : Bundle.Pick(default, 0, 0, Bundle.ActiveBackup, members, isLive);
        if (!a.BundleHasDst && !hash)
        {
            ushort port = PipelineWalk.OutputPort(pick);
            if (port != 0) sink.Output(port, 0, queue, modifiedAfter, pkts);
            return;
        }
        var s = Scratch(depth, pkts.Length);
        for (int i = 0; i < pkts.Length; i++)
        {
            FlowKey key = default;
            if (readsKey) PacketParser.Parse(pool.Frame(pkts[i]), pool.InPort[pkts[i]], out key, out _);
            if (hash) pick = Bundle.Pick(key, a.BundleFields, a.BundleBasis, a.BundleAlgorithm, members, isLive);
            if (!a.BundleHasDst)
            {
                s.Choice[i] = (short)PipelineWalk.OutputPort(pick);
                continue;
            }
            UInt128 whole = dst.IsWhole ? pick & dst.ValueMask : dst.Insert(FieldRef.ReadWhole(dst.Field, key, default), pick);
            if (PipelineWalk.PacketFieldSet(dst.Field, whole, out var set)) ApplySet(set, pool, pkts.Slice(i, 1), layers.Slice(i, 1));
        }
        if (a.BundleHasDst) return;
        // The outputs, one per distinct pick (port 0: no live member, no output).
        for (int i = 0; i < pkts.Length; i++)
        {
            ushort port = (ushort)s.Choice[i];
            if (port == 0) continue;
            int k = 0;
            for (int j = i; j < pkts.Length; j++)
            {
                if ((ushort)s.Choice[j] != port) continue;
                s.Sub[k++] = pkts[j];
                s.Choice[j] = 0;
            }
            sink.Output(port, 0, queue, modifiedAfter, s.Sub.AsSpan(0, k));
        }
    }

    /// <summary>A set-field action (<see cref="PipelineWalk.PacketFieldSet"/>'s) on <paramref name="pkts"/>.</summary>
    private static void ApplySet(in FlowAction set, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        switch (set.Kind)
        {
            case ActionKind.SetDlSrc: SetDlSrc(pool, pkts, set.Value); break;
            case ActionKind.SetDlDst: SetDlDst(pool, pkts, set.Value); break;
            case ActionKind.SetNwSrc: SetNwSrc(pool, pkts, layers, (uint)set.Value); break;
            case ActionKind.SetNwDst: SetNwDst(pool, pkts, layers, (uint)set.Value); break;
            case ActionKind.SetTpSrc: SetTpSrc(pool, pkts, layers, (ushort)set.Value); break;
            case ActionKind.SetTpDst: SetTpDst(pool, pkts, layers, (ushort)set.Value); break;
            default: SetField(pool, pkts, layers, set); break;
        }
    }
}
