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

    /// <summary>
    /// Packets a TTL decrement would have brought to 0, taken out of the batch: the sink sends them to the controllers of
    /// id <paramref name="controllerId"/> with reason invalid-TTL (a plain dec_ttl's: 0; a dec_ttl(ids) calls once per id).
    /// Called only when <see cref="ActionExecutor.InvalidTtlToController"/> is set (otherwise the executor drops and counts
    /// them). The buffers stay the caller's.
    /// </summary>
    void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId);

    /// <summary>
    /// An output to the controller (<see cref="FlowAction.OutputToController"/>): as <see cref="Output"/> to the
    /// controller port, with the action's opaque <paramref name="userData"/> and <paramref name="userTag"/> for the
    /// upcall. A sink that does not tell them apart treats it as that output.
    /// </summary>
    void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts);

    /// <summary>
    /// A learn request (<see cref="ActionKind.LearnRequest"/>) of template <paramref name="templateId"/> with
    /// <paramref name="values"/> (<see cref="ActionKind.LearnValue"/> items), once per batch; <paramref name="state"/> is
    /// the composed list's memory of it. A sink that installs no flows ignores it.
    /// </summary>
    void Learn(int templateId, ReadOnlySpan<FlowAction> values, LearnState state) { }

    /// <summary>
    /// A composed fin_timeout (<see cref="ActionKind.FinTimeout"/>) met a batch in which some TCP packet carries FIN or
    /// RST: the rule of visit <paramref name="visit"/> of the verdict being run is to have its timeouts lowered to
    /// <paramref name="idle"/> and <paramref name="hard"/> (0: untouched). A sink that runs no verdicts ignores it.
    /// </summary>
    void FinTimeout(int visit, ushort idle, ushort hard) { }

    /// <summary>
    /// A sample action (<see cref="ActionKind.Sample"/>) met the batch: the sink chooses packets with its probability and
    /// hands them on (their buffers stay the caller's, unchanged). A sink that exports nothing ignores it.
    /// </summary>
    void Sample(in FlowAction sample, PacketPool pool, ReadOnlySpan<int> pkts) { }
}

/// <summary>
/// Runs a <see cref="FlowActions"/> list over a flow-batch: packets that matched the same flow.
/// </summary>
/// <remarks>
/// Design: action by action, each applied to every packet of the batch before the next (ovs
/// <c>packet_batch_per_flow_execute</c>), so each action's arguments are decoded once per batch and its loop
/// stays tight. Rewrites go through <see cref="PacketRewriter"/>; VLAN push/strip update the caller's
/// <see cref="PacketLayers"/> (parallel to the packet indices) so later actions see the new offsets. Output
/// and enqueue call the sink once per batch; set-queue makes the outputs after it use that queue. The one way a packet
/// leaves the batch is a TTL decrement that would reach 0 (dec_nw_ttl, dec_mpls_ttl): the packet is taken out (the
/// survivors stay in order; their layers are compacted in the caller's span, which the caller must not read
/// afterwards as parallel to its own packet list) and handed to <see cref="IActionSink.InvalidTtl"/> when
/// <see cref="InvalidTtlToController"/> is set, else counted on <c>action-invalid-ttl-drop</c>; the caller releases
/// every buffer as before. A group action runs the group's buckets from <see cref="Groups"/> (see
/// <see cref="ExecuteGroup"/>): on copies of the packets unless the group is the list's last action. What runs is the
/// list's <see cref="FlowActions.Plan"/>: its items with the common tag rewrites fused, one step per run (<see cref="ActionPlan"/>).
/// <para>
/// Thread safety: one executor per poll thread (it counts into its thread's <see cref="CounterSet"/>, summed when
/// read). Zero allocation per batch.
/// </para>
/// </remarks>
public sealed partial class ActionExecutor
{
    /// <summary>The queue id passed to <see cref="IActionSink.Output"/> for a plain output action.</summary>
    public const uint NoQueue = uint.MaxValue;

    private readonly CounterSet _counters;
    // The tunnel id the list's set_tunnel actions last gave the sink (0 at the start of a list): restored after a group bucket.
    private ulong _tunnel;

    /// <summary>The metadata of the packet-ins the list sends now (<see cref="ActionKind.PacketInMetadata"/>; 0 at its start).</summary>
    internal ulong PacketInMetadata;

    /// <summary>Packets dropped because a TTL decrement would have reached 0 and the controller did not ask for them.</summary>
    public static readonly Counter InvalidTtlDrop = Coverage.Define("action-invalid-ttl-drop", "packets dropped by dec_ttl/dec_mpls_ttl: the TTL would have reached 0 (invalid-TTL packet-ins off)");
    /// <summary>Packets left unchanged by a push_vlan/push_mpls/push_pbb that found no headroom.</summary>
    public static readonly Counter PushFailed = Coverage.Define("action-push-failed", "push_vlan/push_mpls/push_pbb left a packet unchanged: no headroom, or a runt");

    /// <summary>Invalid-TTL packets go to the sink (the controller) rather than being dropped. Written by the layer above
    /// (switch config), read by this executor's forwarding thread once per batch that has such packets: a volatile field.</summary>
    public bool InvalidTtlToController { get => _invalidTtlToController; set => _invalidTtlToController = value; }
    private volatile bool _invalidTtlToController;

    /// <summary>An executor counting into <paramref name="counters"/> (its thread's set), or into a set of its own.</summary>
    public ActionExecutor(CounterSet? counters = null) => _counters = counters ?? new CounterSet();

    /// <summary>Packets left untagged because a VLAN push found no headroom (or a frame shorter than 14 bytes): <c>vlan-push-failed</c>.</summary>
    public long VlanPushFailed => _counters[DatapathCounters.VlanPushFailed];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountVlanPushFailed(int n)
    {
        if (n != 0) _counters.Add(DatapathCounters.VlanPushFailed, n);
    }

    /// <summary>Whether some TCP packet of the batch (not a later fragment) has FIN or RST set (Open vSwitch's xlate_fin_timeout test).</summary>
    private static bool AnyFinOrRst(PacketPool pool, ReadOnlySpan<int> pkts, ReadOnlySpan<PacketLayers> layers)
    {
        for (int i = 0; i < pkts.Length; i++)
        {
            ref readonly var l = ref layers[i];
            if (!l.Has(LayerFlags.Tcp) || l.L4 == PacketLayers.Absent) continue;
            var f = pool.Frame(pkts[i]);
            if (l.L4 + 13 < f.Length && (f[l.L4 + 13] & 0x05) != 0) return true; // TCP_FIN 0x01, TCP_RST 0x04
        }
        return false;
    }

    /// <summary>
    /// Applies <paramref name="actions"/> to the buffers <paramref name="pkts"/> of <paramref name="pool"/>.
    /// <paramref name="layers"/>[i] describes pkts[i] and is updated by VLAN push/strip.
    /// </summary>
    public void Execute<TSink>(FlowActions actions, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, ref TSink sink)
        where TSink : struct, IActionSink
    {
        if ((uint)layers.Length < (uint)pkts.Length) ThrowHelper.Argument(nameof(layers));
        _tunnel = 0; // the sink's tunnel id at the start of a list (a batch starts with none)
        PacketInMetadata = 0;
        CutCount = 0;
        CutDropped = false;
        _bucketRunsLeft = MaxBucketRuns;
        _groupVisit = 0;
        Execute(actions, pool, pkts, layers, NoQueue, 0, ref sink);
    }

    /// <summary>
    /// <see cref="Execute{TSink}(FlowActions, PacketPool, ReadOnlySpan{int}, Span{PacketLayers}, ref TSink)"/> at group
    /// depth <paramref name="depth"/> (0: a flow's or packet-out's list; a group's bucket runs one deeper), with the
    /// queue a set-queue before the group chose.
    /// </summary>
    private void Execute<TSink>(FlowActions actions, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint queue, int depth, ref TSink sink)
        where TSink : struct, IActionSink
        => Execute(actions, 0, actions.Plan.Length, pool, pkts, layers, queue, depth, ref sink);

    /// <summary>Steps <paramref name="from"/> to <paramref name="to"/> (exclusive) of <paramref name="actions"/>' plan: a
    /// list, or the actions of a clone in it.</summary>
    [SkipLocalsInit]
    private void Execute<TSink>(FlowActions actions, int from, int to, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers,
                                uint queue, int depth, ref TSink sink)
        where TSink : struct, IActionSink
    {
        if (pkts.IsEmpty) return;
        layers = layers[..pkts.Length];
        FlowAction[] plan = actions.Plan;
        bool[] modifiedAfter = actions.PlanModifiedAfter;
        for (int i = from; i < to; i++)
        {
            ref readonly FlowAction a = ref plan[i];
            switch (a.Kind)
            {
                case ActionKind.Output:
                    if (a.Port == Ports.PortNumber.Controller) sink.ToController(a.MaxLen, queue, modifiedAfter[i], a.Value, (uint)a.Value2, pkts);
                    else sink.Output(a.Port, a.MaxLen, queue, modifiedAfter[i], pkts);
                    break;
                case ActionKind.Enqueue:
                    sink.Output(a.Port, 0, a.QueueId, modifiedAfter[i], pkts);
                    break;
                case ActionKind.SetQueue:
                    queue = a.QueueId;
                    break;
                case ActionKind.Group:
                    // The buckets work on copies unless nothing after the group in this list can see the packet.
                    ExecuteGroup(a.QueueId, a.GroupVisit, pool, pkts, layers, queue, depth, i < to - 1, ref sink);
                    break;
                case ActionKind.ComposedGroup:
                {
                    // Its buckets the walk composed (they resubmit), run as the group picks them; on copies unless
                    // nothing after the group in this list can see the packets.
                    int end = Math.Min(to, i + 1 + (int)a.Value);
                    ExecuteGroup(a.QueueId, a.GroupVisit, pool, pkts, layers, queue, depth, end < to, ref sink, new ComposedBuckets(actions, i, end));
                    i = end - 1;
                    break;
                }
                case ActionKind.Bucket: // read by its composed group, never met in turn
                    break;
                case ActionKind.Clone:
                {
                    // Its items run on copies unless nothing after them in this list can see the packets: then they
                    // simply run next, on the packets themselves.
                    int end = Math.Min(to, i + 1 + (int)a.QueueId);
                    if (end == to) break;
                    ExecuteClone(actions, i + 1, end, pool, pkts, layers, queue, depth, ref sink);
                    i = end - 1;
                    break;
                }
                case ActionKind.Meter:
                {
                    var scratch = Scratch(depth, pkts.Length);
                    int n = RunMeter(a.QueueId, pool, pkts, layers, scratch);
                    if (depth == 0) LogCut(pool, scratch.Live, n, pkts.Length);
                    if (n == pkts.Length) break;
                    pkts = scratch.Live.AsSpan(0, n);
                    layers = layers[..n];
                    if (n == 0) return;
                    break;
                }
                case ActionKind.PacketInMetadata:
                    PacketInMetadata = a.Value;
                    break;
                case ActionKind.LearnRequest:
                    // Once per batch: every packet of it composed the same values (the verdict's key reads).
                    if (actions.LearnStates is { } states && a.Port < states.Length)
                        sink.Learn((int)a.QueueId, plan.AsSpan(i + 1, a.MaxLen), states[a.Port]);
                    i += a.MaxLen;
                    break;
                case ActionKind.FinTimeout:
                {
                    // A rule's own (composed with its visit), else a group bucket's: the rule that applied the group.
                    // A packet-out's has no rule to lower, as in Open vSwitch.
                    int visit = a.FinVisit != 0 ? a.FinVisit : _groupVisit;
                    if (visit != 0 && AnyFinOrRst(pool, pkts, layers)) sink.FinTimeout(visit - 1, a.FinIdle, a.FinHard);
                    break;
                }
                case ActionKind.Sample:
                    sink.Sample(a, pool, pkts);
                    break;
                case ActionKind.Bundle:
                    // A packet-out's or a group bucket's (a rule's is composed away by the pipeline walk).
                    ExecuteBundle(a, pool, pkts, layers, queue, depth, modifiedAfter[i], ref sink);
                    break;
                case ActionKind.LearnValue:
                case ActionKind.Learn:
                case ActionKind.Recirculate:
                case ActionKind.Resubmit: // composed away by the pipeline walk; a list that holds one never runs here
                case ActionKind.Exit:
                case ActionKind.Note:
                case ActionKind.FieldLoad:
                case ActionKind.FieldMove:
                case ActionKind.OutputField:
                case ActionKind.Multipath:
                case ActionKind.Conjunction: // a clause of a conjunctive match: a table's lookup reads it, no packet runs it
                    break;
                case ActionKind.SetTunnel:
                    _tunnel = a.Value;
                    sink.SetTunnel(a.Value);
                    break;
                case ActionKind.DecNwTtl:
                case ActionKind.DecMplsTtl:
                {
                    var scratch = Scratch(depth, pkts.Length);
                    int n = DecTtl(pool, pkts, layers, a, scratch, ref sink);
                    if (depth == 0) LogCut(pool, scratch.Live, n, pkts.Length);
                    if (n == pkts.Length) break;
                    pkts = scratch.Live.AsSpan(0, n);
                    layers = layers[..n];
                    if (n == 0) return;
                    break;
                }
                default:
                    Rewrite(actions.Items, a, pool, pkts, layers);
                    break;
            }
        }
    }

    /// <summary>
    /// Whether a plan step of kind <paramref name="kind"/> only rewrites each packet, on its own: a set-field, a tag's or
    /// an entry's push or pop, a TTL set or copy, a fused step (<see cref="ActionPlan"/>). Such a step never takes a packet
    /// out of the batch, sends nothing and leaves no state for the steps after it but the packet and its layers.
    /// </summary>
    internal static bool IsRewrite(ActionKind kind) => kind is ActionKind.StripVlan or ActionKind.SetVlanVid or ActionKind.SetVlanPcp
        or ActionKind.SetDlSrc or ActionKind.SetDlDst or ActionKind.SetNwSrc or ActionKind.SetNwDst or ActionKind.SetNwTos
        or ActionKind.SetTpSrc or ActionKind.SetTpDst or ActionKind.SetIpEcn or ActionKind.SetIpv6Src or ActionKind.SetIpv6Dst
        or ActionKind.SetIpv6Flabel or ActionKind.SetIcmpType or ActionKind.SetIcmpCode or ActionKind.SetArpOp or ActionKind.SetArpSpa
        or ActionKind.SetArpTpa or ActionKind.SetArpSha or ActionKind.SetArpTha or ActionKind.SetNdTarget or ActionKind.SetNdSll
        or ActionKind.SetNdTll or ActionKind.SetMplsLabel or ActionKind.SetMplsTc or ActionKind.SetMplsBos or ActionKind.SetPbbIsid
        or ActionKind.SetEthType or ActionKind.SetIpProto or ActionKind.PushVlan or ActionKind.PushMpls or ActionKind.PopMpls
        or ActionKind.PushPbb or ActionKind.PopPbb or ActionKind.SetMplsTtl or ActionKind.SetNwTtl or ActionKind.CopyTtlOut
        or ActionKind.CopyTtlIn or ActionPlan.VlanRetag or ActionPlan.VlanPushSet or ActionPlan.MplsPushSet;

    /// <summary>
    /// The rewrites of a list with a <see cref="FlowActions.RewriteOutput"/> (every step but its last, the output) on
    /// packet <paramref name="p"/> alone: what <see cref="Execute{TSink}(FlowActions, PacketPool, ReadOnlySpan{int}, Span{PacketLayers}, ref TSink)"/>
    /// does to it, with no flow-batch; the caller queues it for the output's port. Counts what the steps count (a push
    /// that found no headroom).
    /// </summary>
    internal void RewriteOne(FlowActions actions, PacketPool pool, int p, ref PacketLayers layers)
    {
        FlowAction[] plan = actions.Plan;
        var pkts = new ReadOnlySpan<int>(in p);
        var one = new Span<PacketLayers>(ref layers);
        for (int i = 0; i < plan.Length - 1; i++) Rewrite(actions.Items, plan[i], pool, pkts, one);
    }

    /// <summary>
    /// A step that only rewrites the packets (<see cref="IsRewrite"/>; any other kind reaching here is one a flow-mod
    /// never passes, ignored), for every packet of the batch.
    /// </summary>
    private void Rewrite(FlowAction[] items, in FlowAction a, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        switch (a.Kind)
        {
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
            case ActionKind.PushVlan:
            case ActionKind.PushMpls:
            case ActionKind.PushPbb:
            case ActionKind.PopMpls:
            case ActionKind.PopPbb:
                Reshape(pool, pkts, layers, a.Kind, (ushort)a.Value);
                break;
            case ActionPlan.VlanRetag:
                RetagVlan(items, a, pool, pkts, layers);
                break;
            case ActionPlan.VlanPushSet:
            case ActionPlan.MplsPushSet:
                PushAndSet(items, a, pool, pkts, layers);
                break;
            default:
                SetField(pool, pkts, layers, a);
                break;
        }
    }

    /// <summary>
    /// What each filter (meter, dec_ttl) of the last top-level list left, in list order: the packets still live after it
    /// and their bytes (-1: none dropped, the bytes as before). A list that a filter empties ends there and logs no
    /// filter after it. A forwarder credits the stages of a multi-stage verdict from this (a stage after a filter saw
    /// only what it left). Groups' buckets log nothing: what they drop never reaches a later stage anyway.
    /// </summary>
    internal int CutCount;
    internal int[] CutLive = new int[8];
    internal long[] CutBytes = new long[8];
    /// <summary>Whether a filter of the last top-level list dropped a packet (the survivors: <see cref="TopLive"/>).</summary>
    internal bool CutDropped;
    /// <summary>The packets a filter of the last top-level list left, when <see cref="CutDropped"/> (its last entry's count of them).</summary>
    internal Span<int> TopLive => CutCount == 0 ? default : _scratch[0].Live.AsSpan(0, CutLive[CutCount - 1]);

    private void LogCut(PacketPool pool, int[] live, int kept, int had)
    {
        if (CutCount == CutLive.Length)
        {
            Array.Resize(ref CutLive, CutCount * 2);
            Array.Resize(ref CutBytes, CutCount * 2);
        }
        long bytes = -1;
        if (kept < had)
        {
            CutDropped = true;
            bytes = 0;
            for (int i = 0; i < kept; i++) bytes += pool.Length[live[i]];
        }
        CutLive[CutCount] = kept;
        CutBytes[CutCount++] = bytes;
    }

    /// <summary>The length-changing OpenFlow 1.1+ actions, packet by packet (offsets updated in <paramref name="layers"/>).</summary>
    private void Reshape(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, ActionKind kind, ushort arg)
    {
        int failed = 0;
        for (int i = 0; i < pkts.Length; i++)
        {
            int p = pkts[i];
            switch (kind)
            {
                case ActionKind.PushVlan: if (!PacketRewriter.PushVlan(pool, p, ref layers[i], arg)) failed++; break;
                case ActionKind.PushMpls: if (!PacketRewriter.PushMpls(pool, p, ref layers[i], arg)) failed++; break;
                case ActionKind.PushPbb: if (!PacketRewriter.PushPbb(pool, p, ref layers[i])) failed++; break;
                case ActionKind.PopMpls: PacketRewriter.PopMpls(pool, p, ref layers[i], arg); break;
                case ActionKind.PopPbb: PacketRewriter.PopPbb(pool, p, ref layers[i]); break;
            }
        }
        if (failed != 0) _counters.Add(PushFailed, failed);
    }

    /// <summary>
    /// A fused pop_vlan, push_vlan and TCI sets (<see cref="ActionPlan.VlanRetag"/>): an in-place tag rewrite for each packet
    /// it fits, the actions one by one for the others.
    /// </summary>
    private void RetagVlan(FlowAction[] items, in FlowAction step, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        ushort tpid = (ushort)step.Value, keep = (ushort)(step.Value2 >> 16), set = (ushort)step.Value2;
        for (int i = 0; i < pkts.Length; i++)
        {
            if (!PacketRewriter.TryRetagVlan(pool, pkts[i], ref layers[i], tpid, keep, set))
                RunUnfused(items, step, pool, pkts.Slice(i, 1), layers.Slice(i, 1));
        }
    }

    /// <summary>
    /// A fused push and sets of the pushed header (<see cref="ActionPlan.VlanPushSet"/>, <see cref="ActionPlan.MplsPushSet"/>):
    /// the header goes in with its fields set; a packet the push refuses (left unchanged) runs the actions one by one, so
    /// it is counted and the sets act on it as they would have.
    /// </summary>
    private void PushAndSet(FlowAction[] items, in FlowAction step, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        ushort type = (ushort)step.Value;
        ulong masks = step.Value2;
        bool vlan = step.Kind == ActionPlan.VlanPushSet;
        for (int i = 0; i < pkts.Length; i++)
        {
            bool done = vlan
                ? PacketRewriter.PushVlan(pool, pkts[i], ref layers[i], type, (ushort)(masks >> 16), (ushort)masks)
                : PacketRewriter.TryPushFirstMpls(pool, pkts[i], ref layers[i], type, (uint)(masks >> 32), (uint)masks)
                  || PacketRewriter.PushMpls(pool, pkts[i], ref layers[i], type, (uint)(masks >> 32), (uint)masks);
            if (!done) RunUnfused(items, step, pool, pkts.Slice(i, 1), layers.Slice(i, 1));
        }
    }

    /// <summary>The actions a fused <paramref name="step"/> stands for, one by one, as the unfused list runs them.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunUnfused(FlowAction[] items, in FlowAction step, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        foreach (ref readonly FlowAction a in items.AsSpan((int)step.QueueId, step.Port))
        {
            switch (a.Kind)
            {
                case ActionKind.StripVlan:
                    StripVlan(pool, pkts, layers);
                    break;
                case ActionKind.SetVlanVid:
                    CountVlanPushFailed(SetVlanVid(pool, pkts, layers, (ushort)a.Value));
                    break;
                case ActionKind.SetVlanPcp:
                    CountVlanPushFailed(SetVlanPcp(pool, pkts, layers, (byte)a.Value));
                    break;
                case ActionKind.PushVlan:
                case ActionKind.PushMpls:
                    Reshape(pool, pkts, layers, a.Kind, (ushort)a.Value);
                    break;
                default:
                    SetField(pool, pkts, layers, a);
                    break;
            }
        }
    }

    /// <summary>The in-place OpenFlow 1.1+ rewrites (length unchanged), packet by packet.</summary>
    private static void SetField(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, in FlowAction a)
    {
        ulong v = a.Value;
        for (int i = 0; i < pkts.Length; i++)
        {
            Span<byte> f = pool.Frame(pkts[i]);
            ref readonly PacketLayers l = ref layers[i];
            switch (a.Kind)
            {
                case ActionKind.SetIpEcn: PacketRewriter.SetIpEcn(f, l, (byte)v); break;
                case ActionKind.SetIpv6Src: PacketRewriter.SetIpv6Src(f, l, a.Wide); break;
                case ActionKind.SetIpv6Dst: PacketRewriter.SetIpv6Dst(f, l, a.Wide); break;
                case ActionKind.SetIpv6Flabel: PacketRewriter.SetIpv6Flabel(f, l, (uint)v); break;
                case ActionKind.SetIcmpType: PacketRewriter.SetIcmpField(f, l, false, (byte)v); break;
                case ActionKind.SetIcmpCode: PacketRewriter.SetIcmpField(f, l, true, (byte)v); break;
                case ActionKind.SetArpOp: PacketRewriter.SetArpField(f, l, PacketRewriter.ArpOp, 2, v); break;
                case ActionKind.SetArpSpa: PacketRewriter.SetArpField(f, l, PacketRewriter.ArpSpa, 4, v); break;
                case ActionKind.SetArpTpa: PacketRewriter.SetArpField(f, l, PacketRewriter.ArpTpa, 4, v); break;
                case ActionKind.SetArpSha: PacketRewriter.SetArpField(f, l, PacketRewriter.ArpSha, 6, v); break;
                case ActionKind.SetArpTha: PacketRewriter.SetArpField(f, l, PacketRewriter.ArpTha, 6, v); break;
                case ActionKind.SetNdTarget: PacketRewriter.SetNdTarget(f, l, a.Wide); break;
                case ActionKind.SetNdSll: PacketRewriter.SetNdLinkLayer(f, l, 1, v); break;
                case ActionKind.SetNdTll: PacketRewriter.SetNdLinkLayer(f, l, 2, v); break;
                case ActionKind.SetMplsLabel: PacketRewriter.SetMplsLabel(f, l, (uint)v); break;
                case ActionKind.SetMplsTc: PacketRewriter.SetMplsTc(f, l, (byte)v); break;
                case ActionKind.SetMplsBos: PacketRewriter.SetMplsBos(f, l, (byte)v); break;
                case ActionKind.SetMplsTtl: PacketRewriter.SetMplsTtl(f, l, (byte)v); break;
                case ActionKind.SetPbbIsid: PacketRewriter.SetPbbIsid(f, l, (uint)v); break;
                case ActionKind.SetEthType: PacketRewriter.SetEthType(f, l, (ushort)v); break;
                case ActionKind.SetIpProto: PacketRewriter.SetIpProto(f, l, (byte)v); break;
                case ActionKind.SetNwTtl: PacketRewriter.SetNwTtl(f, l, (byte)v); break;
                case ActionKind.CopyTtlOut: PacketRewriter.CopyTtlOut(f, l); break;
                case ActionKind.CopyTtlIn: PacketRewriter.CopyTtlIn(f, l); break;
                default:
                    // Unknown kinds never get past flow-mod validation; ignore rather than throw per packet.
                    return;
            }
        }
    }

    /// <summary>
    /// Decrements each packet's IP or MPLS TTL; packets whose TTL would reach 0 leave the batch. Returns the survivors'
    /// count: when it is less than <paramref name="pkts"/>' length the survivors are in <paramref name="scratch"/>'s
    /// live list and their layers compacted to the front of <paramref name="layers"/>. The scratch is the list's group
    /// depth's (a bucket's list runs one deeper, so it never overwrites the survivors of the list that applied the group);
    /// a re-entry at depth 0 (a packet-out's output to TABLE runs the tables' actions on the same executor) never meets a
    /// compacted batch, since a packet-out carries one packet and a batch whose only packet expires ends there. A
    /// dec_ttl(ids) (<see cref="FlowAction.HasTtlControllerIds"/>) hands the expired packets to the sink once per id.
    /// </summary>
    private int DecTtl<TSink>(PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, in FlowAction a, DepthScratch scratch, ref TSink sink)
        where TSink : struct, IActionSink
    {
        bool mpls = a.Kind == ActionKind.DecMplsTtl;
        int kept = 0, dead = 0;
        int[] live = scratch.Live, deadList = scratch.Dead;
        for (int i = 0; i < pkts.Length; i++)
        {
            int p = pkts[i];
            Span<byte> f = pool.Frame(p);
            bool ok = mpls ? PacketRewriter.DecMplsTtl(f, layers[i]) : PacketRewriter.DecNwTtl(f, layers[i]);
            if (ok)
            {
                layers[kept] = layers[i];
                live[kept++] = p;
            }
            else
            {
                deadList[dead++] = p;
            }
        }
        if (dead == 0) return pkts.Length;
        if (!InvalidTtlToController)
        {
            _counters.Add(InvalidTtlDrop, dead);
        }
        else if (!a.HasTtlControllerIds)
        {
            sink.InvalidTtl(deadList.AsSpan(0, dead), 0);
        }
        else
        {
            for (int i = 0; i < a.TtlControllerIdCount; i++) sink.InvalidTtl(deadList.AsSpan(0, dead), a.TtlControllerId(i));
        }
        return kept;
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
