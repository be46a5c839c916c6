using Softswitch.Datapath.Actions;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The action set of a pipeline run (OpenFlow 1.3.5 section 5.10): at most one action per kind, a write replacing
/// the kind's earlier action, run at the end of the pipeline in the spec's order: copy TTL inwards, pop, push-MPLS,
/// push-PBB, push-VLAN, copy TTL outwards, decrement TTL, set, qos (set_queue), group, output. The datapath's kinds fall
/// into these as: the pops are strip-VLAN, pop-MPLS and pop-PBB (in that order: innermost tag first); the decrements
/// are dec-MPLS-TTL then dec-IP-TTL; "set" is every set-field kind (one per field, in the order of
/// <see cref="ActionKind"/>) and set-MPLS-TTL and set-IP-TTL; output and enqueue (an output through a queue, set_queue
/// and output in one) are the output, the last. A resubmit (Open vSwitch's action set may hold one: ofp-actions.c's
/// ACTION_SET_FINAL_PRIORITY) is a final action beneath them: a group or an output in the set makes it ignored, and
/// otherwise the pipeline walk runs it after the set's other actions (<see cref="TryTakeResubmit"/>; docs/datapath.md,
/// "Resubmit"). Register loads and moves (Open vSwitch's OFPACT_SET_FIELD and OFPACT_REG_MOVE, which its action set
/// takes) are "set" actions too, but every one written is kept, in the order written, as Open vSwitch's
/// ofpacts_execute_action_set copies all its set actions: they run after the set-field kinds and before set_queue, and
/// the pipeline walk runs them on its key and register file (<see cref="RegisterActions"/>). A kind not listed here
/// cannot be written into an action set (<see cref="CanHold"/>; the layer above refuses such a write-actions).
/// </summary>
public sealed class ActionSet
{
    /// <summary>The kinds an action set holds, in execution order (an output and an enqueue share the last slot).</summary>
    private static readonly ActionKind[] s_order =
    [
        ActionKind.CopyTtlIn,
        ActionKind.StripVlan, ActionKind.PopMpls, ActionKind.PopPbb,
        ActionKind.PushMpls, ActionKind.PushPbb, ActionKind.PushVlan,
        ActionKind.CopyTtlOut,
        ActionKind.DecMplsTtl, ActionKind.DecNwTtl,
        ActionKind.SetVlanVid, ActionKind.SetVlanPcp, ActionKind.SetDlSrc, ActionKind.SetDlDst, ActionKind.SetNwSrc,
        ActionKind.SetNwDst, ActionKind.SetNwTos, ActionKind.SetTpSrc, ActionKind.SetTpDst, ActionKind.SetTunnel,
        ActionKind.SetIpEcn, ActionKind.SetIpv6Src, ActionKind.SetIpv6Dst, ActionKind.SetIpv6Flabel, ActionKind.SetIcmpType,
        ActionKind.SetIcmpCode, ActionKind.SetArpOp, ActionKind.SetArpSpa, ActionKind.SetArpTpa, ActionKind.SetArpSha,
        ActionKind.SetArpTha, ActionKind.SetNdTarget, ActionKind.SetNdSll, ActionKind.SetNdTll, ActionKind.SetMplsLabel,
        ActionKind.SetMplsTc, ActionKind.SetMplsBos, ActionKind.SetPbbIsid, ActionKind.SetEthType, ActionKind.SetIpProto,
        ActionKind.SetMplsTtl, ActionKind.SetNwTtl,
        ActionKind.SetQueue,
        ActionKind.Resubmit,
        ActionKind.Group,
        ActionKind.Output,
    ];

    private static readonly sbyte[] s_slot = BuildSlots();
    private static readonly int s_queueSlot = Array.IndexOf(s_order, ActionKind.SetQueue);
    private readonly FlowAction[] _actions = new FlowAction[s_order.Length];
    private ulong _present;
    /// <summary>The register loads and moves written since the set was last cleared, in order (grown on the slow path only).</summary>
    private FlowAction[] _regs = new FlowAction[8];
    private int _nRegs;

    private static sbyte[] BuildSlots()
    {
        var slots = new sbyte[256];
        Array.Fill(slots, (sbyte)-1);
        for (int i = 0; i < s_order.Length; i++) slots[(int)s_order[i]] = (sbyte)i;
        slots[(int)ActionKind.Enqueue] = (sbyte)(s_order.Length - 1);
        return slots;
    }

    /// <summary>Whether an action of <paramref name="kind"/> may be written into an action set.</summary>
    public static bool CanHold(ActionKind kind) => SlotOf(kind) >= 0 || IsRegisterAction(kind);

    /// <summary>A register load or move: kept in order, every one (<see cref="ActionSet"/>'s remarks).</summary>
    public static bool IsRegisterAction(ActionKind kind) => kind is ActionKind.FieldLoad or ActionKind.FieldMove;

    private static int SlotOf(ActionKind kind) => s_slot[(int)kind];

    public bool IsEmpty => _present == 0 && _nRegs == 0;

    /// <summary>The register loads and moves the set holds, in the order written.</summary>
    public ReadOnlySpan<FlowAction> RegisterActions => _regs.AsSpan(0, _nRegs);

    public void Clear()
    {
        _present = 0;
        _nRegs = 0;
    }

    private void Put(in FlowAction a)
    {
        int s = SlotOf(a.Kind);
        if (s >= 0)
        {
            _actions[s] = a;
            _present |= 1UL << s;
        }
        else if (IsRegisterAction(a.Kind))
        {
            if (_nRegs == _regs.Length) Array.Resize(ref _regs, _regs.Length * 2);
            _regs[_nRegs++] = a;
        }
    }

    /// <summary>
    /// Merges a write-actions list (each action replaces the set's action of its kind, a register load or move is added
    /// after those before it; an unknown kind is ignored).
    /// </summary>
    public void Write(FlowActions actions)
    {
        foreach (var a in actions.Items) Put(a);
    }

    /// <summary>Appends every action the set holds, in its order (an output beside a group too): <see cref="Load"/> makes the set again.</summary>
    public void CopyTo(List<FlowAction> into)
    {
        for (ulong present = _present; present != 0; present &= present - 1)
            into.Add(_actions[System.Numerics.BitOperations.TrailingZeroCount(present)]);
        into.AddRange(RegisterActions);
    }

    /// <summary>Makes the set hold exactly <paramref name="actions"/> (a <see cref="CopyTo"/>'s list).</summary>
    public void Load(ReadOnlySpan<FlowAction> actions)
    {
        Clear();
        foreach (ref readonly var a in actions) Put(a);
    }

    /// <summary>
    /// Open vSwitch's actset_output as the register file holds it (<see cref="Flow.Registers.ActsetCode"/>): the port of
    /// the set's output (or enqueue), unset (0) when the set holds none or holds a group, whose output it would ignore
    /// (ofproto-dpif-xlate.c xlate_write_actions__).
    /// </summary>
    public uint OutputCode
    {
        get
        {
            int group = SlotOf(ActionKind.Group), output = SlotOf(ActionKind.Output);
            if ((_present & (1UL << group)) != 0 || (_present & (1UL << output)) == 0) return 0;
            return Flow.Registers.ActsetCode(_actions[output].Port);
        }
    }

    /// <summary>
    /// The set's resubmit when it is the set's final action (no group or output beside it, which Open vSwitch's
    /// ofpacts_execute_action_set would run instead), for the walk to run after <see cref="AppendTo(List{FlowAction})"/>'s actions.
    /// </summary>
    public bool TryTakeResubmit(out FlowAction resubmit)
    {
        int r = SlotOf(ActionKind.Resubmit), group = SlotOf(ActionKind.Group), output = SlotOf(ActionKind.Output);
        resubmit = _actions[r];
        return (_present & (1UL << r)) != 0 && (_present & ((1UL << group) | (1UL << output))) == 0;
    }

    /// <summary>
    /// A group bucket's actions as the action set they are applied as (OpenFlow 1.3.5 section 5.6.1: a bucket holds "a
    /// set of actions", applied as an action set; Open vSwitch's xlate_group_bucket runs ofpacts_execute_action_set on
    /// them): written into an empty set in their order (a later action of a kind replaces an earlier one, every register
    /// action is kept), then listed in the set's order (<see cref="AppendTo(List{FlowAction})"/>: a group wins over an
    /// output), a resubmit last when no group or output is beside it; nothing at all when the set holds no group, output
    /// or resubmit (the packet would go nowhere). <paramref name="written"/> itself when that is the same list, and
    /// also when some action is of a kind an action set cannot hold (<see cref="CanHold"/>: a clone, a sample, a note, a
    /// fin_timeout, a bundle, a multipath, an output from a field): such a bucket runs its list as written. Made once,
    /// when the group is set, never per packet.
    /// </summary>
    public static FlowActions AsBucket(FlowActions written)
    {
        var set = new ActionSet();
        foreach (var a in written.Items)
        {
            if (!CanHold(a.Kind)) return written;
            set.Put(a);
        }
        var list = new List<FlowAction>(written.Items.Length);
        ulong leaves = (1UL << SlotOf(ActionKind.Group)) | (1UL << SlotOf(ActionKind.Output)) | (1UL << SlotOf(ActionKind.Resubmit));
        if ((set._present & leaves) != 0)
        {
            set.AppendTo(list);
            if (set.TryTakeResubmit(out var resubmit)) list.Add(resubmit);
        }
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list).SequenceEqual(written.Items.AsSpan()) ? written : new FlowActions([.. list]);
    }

    /// <summary>
    /// Appends the set's actions in execution order; an output is dropped when the set holds a group (OpenFlow 1.3.5
    /// section 5.10: "the output action is ignored and the group action takes precedence"), and a resubmit always
    /// (a group or output beside it wins; alone, the walk runs it: <see cref="TryTakeResubmit"/>).
    /// </summary>
    public void AppendTo(List<FlowAction> into) => AppendTo(into, RegisterActions);

    /// <summary>
    /// <see cref="AppendTo(List{FlowAction})"/> with <paramref name="registerActions"/> in the place of the set's register
    /// loads and moves: what the pipeline walk composed from them (the set-fields of the packet fields they write).
    /// </summary>
    public void AppendTo(List<FlowAction> into, ReadOnlySpan<FlowAction> registerActions)
    {
        ulong present = _present & ~(1UL << SlotOf(ActionKind.Resubmit));
        int group = SlotOf(ActionKind.Group), output = SlotOf(ActionKind.Output);
        if ((present & (1UL << group)) != 0) present &= ~(1UL << output);
        // The set's slots before set_queue, then its register actions, then the rest.
        ulong before = present & ((1UL << s_queueSlot) - 1);
        for (ulong p = before; p != 0; p &= p - 1) into.Add(_actions[System.Numerics.BitOperations.TrailingZeroCount(p)]);
        into.AddRange(registerActions);
        for (ulong p = present & ~before; p != 0; p &= p - 1) into.Add(_actions[System.Numerics.BitOperations.TrailingZeroCount(p)]);
    }
}
