namespace Softswitch.Datapath.Actions;

/// <summary>
/// The list an <see cref="ActionExecutor"/> runs for a <see cref="FlowActions"/>: its items with the common tag-rewrite
/// runs fused into one step each, decided once when the list is built.
/// </summary>
/// <remarks>
/// <para>Why: a flow-batch is often one packet (a burst spread over many flows), so each action's dispatch, frame lookup
/// and length checks cost about as much as its bytes. A retag (pop_vlan, push_vlan, set vlan_vid) moves the MAC addresses
/// forward and back and leaves the frame's length as it was; a push_mpls then set mpls_label inserts an entry and then
/// rewrites it. Fused, each is one step: the retag rewrites the outer tag in place, the MPLS push inserts the entry with
/// its fields already set.</para>
/// <para>The fused steps (kinds outside <see cref="ActionKind"/>'s named values, so nothing that prints or translates a
/// list can meet them; they exist only in <see cref="FlowActions.Plan"/>):</para>
/// <list type="bullet">
/// <item><see cref="VlanRetag"/>: pop_vlan, push_vlan, then any set vlan_vid / vlan_pcp.</item>
/// <item><see cref="VlanPushSet"/>: push_vlan, then at least one set vlan_vid / vlan_pcp.</item>
/// <item><see cref="MplsPushSet"/>: push_mpls, then at least one set mpls_label / mpls_tc / mpls_bos / mpls_ttl.</item>
/// </list>
/// <para>Each fused step keeps where its actions sit in <see cref="FlowActions.Items"/> (<see cref="FlowAction.QueueId"/>:
/// the first; <see cref="FlowAction.Port"/>: how many). The executor takes the fused path only for a packet whose outcome
/// it can tell without running the actions (a tag right after the addresses, room for the push, a small buffer); any
/// other packet runs those actions one by one, so the result is the unfused list's in every case, byte for byte, counters
/// included. The sets after a push always find the tag or entry the push made, so they reduce to one mask and one value
/// (<see cref="FlowAction.Value2"/>: bits kept, high half; bits set, low half).</para>
/// </remarks>
internal static class ActionPlan
{
    /// <summary>Fused pop_vlan, push_vlan (Value: TPID) and sets of the new tag's TCI (Value2: kept bits &lt;&lt; 16 | set bits).</summary>
    public const ActionKind VlanRetag = (ActionKind)0xF0;
    /// <summary>Fused push_vlan (Value: TPID) and sets of the new tag's TCI (Value2 as for <see cref="VlanRetag"/>).</summary>
    public const ActionKind VlanPushSet = (ActionKind)0xF1;
    /// <summary>Fused push_mpls (Value: ethertype) and sets of the new entry (Value2: kept bits &lt;&lt; 32 | set bits).</summary>
    public const ActionKind MplsPushSet = (ActionKind)0xF2;

    /// <summary>
    /// The plan for <paramref name="items"/>: <paramref name="items"/> itself (and <paramref name="modifiedAfter"/>) when
    /// nothing fuses, else a shorter list with its own modified-after facts.
    /// </summary>
    public static (FlowAction[] Plan, bool[] ModifiedAfter) Compile(FlowAction[] items, bool[] modifiedAfter)
    {
        List<FlowAction>? plan = null;
        // A clone and a composed group count the items after them: nothing fuses in a list that holds one (its steps
        // stay its items).
        foreach (var a in items)
            if (a.Kind is ActionKind.Clone or ActionKind.ComposedGroup) return (items, modifiedAfter);
        for (int i = 0; i < items.Length;)
        {
            int used = TryFuse(items, i, out FlowAction fused);
            if (used == 0)
            {
                plan?.Add(items[i]);
                i++;
                continue;
            }
            plan ??= new List<FlowAction>(items.AsSpan(0, i).ToArray());
            plan.Add(fused);
            i += used;
        }
        if (plan is null) return (items, modifiedAfter);
        var steps = plan.ToArray();
        var after = new bool[steps.Length];
        bool modified = false;
        for (int i = steps.Length - 1; i >= 0; i--)
        {
            after[i] = modified;
            if (steps[i].ModifiesPacket) modified = true;
        }
        return (steps, after);
    }

    /// <summary>How many items from <paramref name="at"/> fuse into <paramref name="fused"/> (0: none).</summary>
    private static int TryFuse(FlowAction[] items, int at, out FlowAction fused)
    {
        fused = default;
        int n = items.Length - at;
        ActionKind k = items[at].Kind;
        if (k == ActionKind.StripVlan && n >= 2 && items[at + 1].Kind == ActionKind.PushVlan)
        {
            int end = VlanSets(items, at + 2, out ushort keep, out ushort set);
            fused = Step(VlanRetag, at, end - at, items[at + 1].Value, ((ulong)keep << 16) | set);
            return end - at;
        }
        if (k == ActionKind.PushVlan)
        {
            int end = VlanSets(items, at + 1, out ushort keep, out ushort set);
            if (end == at + 1) return 0;
            fused = Step(VlanPushSet, at, end - at, items[at].Value, ((ulong)keep << 16) | set);
            return end - at;
        }
        if (k == ActionKind.PushMpls)
        {
            uint keep = uint.MaxValue, set = 0;
            int end = at + 1;
            for (; end < items.Length; end++)
            {
                ulong v = items[end].Value;
                (uint mask, uint bits) = items[end].Kind switch
                {
                    ActionKind.SetMplsLabel => (0xFFFFF000u, (uint)v << 12),
                    ActionKind.SetMplsTc => (0xE00u, (uint)v << 9),
                    ActionKind.SetMplsBos => (0x100u, (uint)v << 8),
                    ActionKind.SetMplsTtl => (0xFFu, (uint)v),
                    _ => (0u, 0u),
                };
                if (mask == 0) break;
                // As PacketRewriter.SetMplsBits: the field's bits replaced, the rest kept.
                keep &= ~mask;
                set = (set & ~mask) | (bits & mask);
            }
            if (end == at + 1) return 0;
            fused = Step(MplsPushSet, at, end - at, items[at].Value, ((ulong)keep << 32) | set);
            return end - at;
        }
        return 0;
    }

    /// <summary>
    /// The run of set vlan_vid / vlan_pcp from <paramref name="from"/> on a tag that is present, as the TCI bits kept and
    /// the bits set (as <see cref="PacketRewriter.PushOrSetVlanVid"/> and <see cref="PacketRewriter.PushOrSetVlanPcp"/> do
    /// to a tagged frame); returns the index after the run.
    /// </summary>
    private static int VlanSets(FlowAction[] items, int from, out ushort keep, out ushort set)
    {
        keep = 0xFFFF;
        set = 0;
        int i = from;
        for (; i < items.Length; i++)
        {
            ushort mask, bits;
            if (items[i].Kind == ActionKind.SetVlanVid)
            {
                mask = 0x0FFF;
                bits = (ushort)(items[i].Value & 0x0FFF);
            }
            else if (items[i].Kind == ActionKind.SetVlanPcp)
            {
                mask = 0xE000;
                bits = (ushort)((items[i].Value & 0x7) << 13);
            }
            else
            {
                break;
            }
            keep &= (ushort)~mask;
            set = (ushort)((set & ~mask) | bits);
        }
        return i;
    }

    private static FlowAction Step(ActionKind kind, int first, int count, ulong value, ulong value2)
        => new(kind, (ushort)count, 0, (uint)first, value, value2);
}
