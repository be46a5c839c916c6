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
/// "Resubmit"). A kind not listed here cannot be written into an action set (<see cref="CanHold"/>; the layer above
/// refuses such a write-actions).
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
    private readonly FlowAction[] _actions = new FlowAction[s_order.Length];
    private ulong _present;

    private static sbyte[] BuildSlots()
    {
        var slots = new sbyte[256];
        Array.Fill(slots, (sbyte)-1);
        for (int i = 0; i < s_order.Length; i++) slots[(int)s_order[i]] = (sbyte)i;
        slots[(int)ActionKind.Enqueue] = (sbyte)(s_order.Length - 1);
        return slots;
    }

    /// <summary>Whether an action of <paramref name="kind"/> may be written into an action set.</summary>
    public static bool CanHold(ActionKind kind) => SlotOf(kind) >= 0;

    private static int SlotOf(ActionKind kind) => s_slot[(int)kind];

    public bool IsEmpty => _present == 0;

    public void Clear() => _present = 0;

    /// <summary>Merges a write-actions list (each action replaces the set's action of its kind; an unknown kind is ignored).</summary>
    public void Write(FlowActions actions)
    {
        foreach (var a in actions.Items)
        {
            int s = SlotOf(a.Kind);
            if (s < 0) continue;
            _actions[s] = a;
            _present |= 1UL << s;
        }
    }

    /// <summary>Appends every action the set holds, in its order (an output beside a group too): <see cref="Load"/> makes the set again.</summary>
    public void CopyTo(List<FlowAction> into)
    {
        for (ulong present = _present; present != 0; present &= present - 1)
            into.Add(_actions[System.Numerics.BitOperations.TrailingZeroCount(present)]);
    }

    /// <summary>Makes the set hold exactly <paramref name="actions"/> (a <see cref="CopyTo"/>'s list).</summary>
    public void Load(ReadOnlySpan<FlowAction> actions)
    {
        _present = 0;
        foreach (ref readonly var a in actions)
        {
            int s = SlotOf(a.Kind);
            if (s < 0) continue;
            _actions[s] = a;
            _present |= 1UL << s;
        }
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
    /// ofpacts_execute_action_set would run instead), for the walk to run after <see cref="AppendTo"/>'s actions.
    /// </summary>
    public bool TryTakeResubmit(out FlowAction resubmit)
    {
        int r = SlotOf(ActionKind.Resubmit), group = SlotOf(ActionKind.Group), output = SlotOf(ActionKind.Output);
        resubmit = _actions[r];
        return (_present & (1UL << r)) != 0 && (_present & ((1UL << group) | (1UL << output))) == 0;
    }

    /// <summary>
    /// Appends the set's actions in execution order; an output is dropped when the set holds a group (OpenFlow 1.3.5
    /// section 5.10: "the output action is ignored and the group action takes precedence"), and a resubmit always
    /// (a group or output beside it wins; alone, the walk runs it: <see cref="TryTakeResubmit"/>).
    /// </summary>
    public void AppendTo(List<FlowAction> into)
    {
        ulong present = _present & ~(1UL << SlotOf(ActionKind.Resubmit));
        int group = SlotOf(ActionKind.Group), output = SlotOf(ActionKind.Output);
        if ((present & (1UL << group)) != 0) present &= ~(1UL << output);
        for (; present != 0; present &= present - 1) into.Add(_actions[System.Numerics.BitOperations.TrailingZeroCount(present)]);
    }
}
