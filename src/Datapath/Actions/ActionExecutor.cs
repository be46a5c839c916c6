using System.Runtime.CompilerServices;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// Where an <see cref="ActionExecutor"/> sends a batch. Implement it on a struct and pass it by ref, so each call
/// is a direct (inlinable) call specialized per sink type, not an interface dispatch.
/// </summary>
public interface IActionSink
{
    /// <summary>
    /// Output or enqueue of the whole batch, called once per output action. <paramref name="queueId"/> is
    /// <see cref="ActionExecutor.NoQueue"/> for a plain output. When <paramref name="modifiedAfter"/> is true a
    /// later action rewrites these buffers, so the sink must send copies; otherwise it may share them (add a
    /// reference). The buffers still belong to the caller after the call. Reserved ports (in_port, flood, all,
    /// controller with <paramref name="maxLen"/>, table, normal, local) are resolved by the sink.
    /// </summary>
    void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts);

    /// <summary>A set-tunnel action: outputs after this call use <paramref name="tunnelId"/> when they encapsulate.</summary>
    void SetTunnel(ulong tunnelId);
}

/// <summary>
/// Runs a <see cref="FlowActions"/> list over a flow-batch: packets that matched the same flow.
/// </summary>
/// <remarks>
/// Design: action by action, each applied to every packet of the batch before the next (ovs
/// <c>packet_batch_per_flow_execute</c>), so each action's arguments are decoded once per batch and its loop
/// stays tight. Rewrites go through <see cref="PacketRewriter"/>; VLAN push/strip update the caller's
/// <see cref="PacketLayers"/> (parallel to the packet indices) so later actions see the new offsets. Output
/// and enqueue call the sink once per batch. Packets are never dropped or reordered here.
/// <para>
/// Thread safety: one executor per poll thread (it counts into its thread's <see cref="CounterSet"/>, summed when
/// read). Zero allocation per batch.
/// </para>
/// </remarks>
public sealed class ActionExecutor
{
    /// <summary>The queue id passed to <see cref="IActionSink.Output"/> for a plain output action.</summary>
    public const uint NoQueue = uint.MaxValue;

    private readonly CounterSet _counters;

    /// <summary>An executor counting into <paramref name="counters"/> (its thread's set), or into a set of its own.</summary>
    public ActionExecutor(CounterSet? counters = null) => _counters = counters ?? new CounterSet();

    /// <summary>Packets left untagged because a VLAN push found no headroom (or a frame shorter than 14 bytes): <c>vlan-push-failed</c>.</summary>
    public long VlanPushFailed => _counters[DatapathCounters.VlanPushFailed];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountVlanPushFailed(int n)
    {
        if (n != 0) _counters.Add(DatapathCounters.VlanPushFailed, n);
    }

    /// <summary>
    /// Applies <paramref name="actions"/> to the buffers <paramref name="pkts"/> of <paramref name="pool"/>.
    /// <paramref name="layers"/>[i] describes pkts[i] and is updated by VLAN push/strip.
    /// </summary>
    [SkipLocalsInit]
    public void Execute<TSink>(FlowActions actions, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, ref TSink sink)
        where TSink : struct, IActionSink
    {
        if ((uint)layers.Length < (uint)pkts.Length) ThrowHelper.Argument(nameof(layers));
        if (pkts.IsEmpty) return;
        layers = layers[..pkts.Length];
        FlowAction[] items = actions.Items;
        bool[] modifiedAfter = actions.ModifiedAfter;
        for (int i = 0; i < items.Length; i++)
        {
            ref readonly FlowAction a = ref items[i];
            switch (a.Kind)
            {
                case ActionKind.Output:
                    sink.Output(a.Port, a.MaxLen, NoQueue, modifiedAfter[i], pkts);
                    break;
                case ActionKind.Enqueue:
                    sink.Output(a.Port, 0, a.QueueId, modifiedAfter[i], pkts);
                    break;
                case ActionKind.SetTunnel:
                    sink.SetTunnel(a.Value);
                    break;
                case ActionKind.SetDlSrc:
                    SetDlSrc(pool, pkts, a.Value);
                    break;
                case ActionKind.SetDlDst:
                    SetDlDst(pool, pkts, a.Value);
                    break;
                case ActionKind.SetNwSrc:
                    SetNwSrc(pool, pkts, layers, (uint)a.Value);
                    break;
                case ActionKind.SetNwDst:
                    SetNwDst(pool, pkts, layers, (uint)a.Value);
                    break;
                case ActionKind.SetNwTos:
                    SetNwTos(pool, pkts, layers, (byte)a.Value);
                    break;
                case ActionKind.SetTpSrc:
                    SetTpSrc(pool, pkts, layers, (ushort)a.Value);
                    break;
                case ActionKind.SetTpDst:
                    SetTpDst(pool, pkts, layers, (ushort)a.Value);
                    break;
                case ActionKind.SetVlanVid:
                    CountVlanPushFailed(SetVlanVid(pool, pkts, layers, (ushort)a.Value));
                    break;
                case ActionKind.SetVlanPcp:
                    CountVlanPushFailed(SetVlanPcp(pool, pkts, layers, (byte)a.Value));
                    break;
                case ActionKind.StripVlan:
                    StripVlan(pool, pkts, layers);
                    break;
                default:
                    // Unknown kinds never get past flow-mod validation; ignore rather than throw per packet.
                    break;
            }
        }
    }

    private static void SetDlSrc(PacketPool pool, ReadOnlySpan<int> pkts, ulong mac)
    {
        foreach (int p in pkts) PacketRewriter.SetDlSrc(pool.Frame(p), mac);
    }

    private static void SetDlDst(PacketPool pool, ReadOnlySpan<int> pkts, ulong mac)
    {
        foreach (int p in pkts) PacketRewriter.SetDlDst(pool.Frame(p), mac);
    }

    private static void SetNwSrc(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint ip)
    {
        for (int i = 0; i < pkts.Length; i++) PacketRewriter.SetNwSrc(pool.Frame(pkts[i]), layers[i], ip);
    }

    private static void SetNwDst(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint ip)
    {
        for (int i = 0; i < pkts.Length; i++) PacketRewriter.SetNwDst(pool.Frame(pkts[i]), layers[i], ip);
    }

    private static void SetNwTos(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, byte tos)
    {
        for (int i = 0; i < pkts.Length; i++) PacketRewriter.SetNwTos(pool.Frame(pkts[i]), layers[i], tos);
    }

    private static void SetTpSrc(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, ushort port)
    {
        for (int i = 0; i < pkts.Length; i++) PacketRewriter.SetTpSrc(pool.Frame(pkts[i]), layers[i], port);
    }

    private static void SetTpDst(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, ushort port)
    {
        for (int i = 0; i < pkts.Length; i++) PacketRewriter.SetTpDst(pool.Frame(pkts[i]), layers[i], port);
    }

    private static int SetVlanVid(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, ushort vid)
    {
        int failed = 0;
        for (int i = 0; i < pkts.Length; i++)
            if (!PacketRewriter.PushOrSetVlanVid(pool, pkts[i], ref layers[i], vid)) failed++;
        return failed;
    }

    private static int SetVlanPcp(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, byte pcp)
    {
        int failed = 0;
        for (int i = 0; i < pkts.Length; i++)
            if (!PacketRewriter.PushOrSetVlanPcp(pool, pkts[i], ref layers[i], pcp)) failed++;
        return failed;
    }

    private static void StripVlan(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        for (int i = 0; i < pkts.Length; i++) PacketRewriter.StripVlan(pool, pkts[i], ref layers[i]);
    }
}
