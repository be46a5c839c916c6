using Softswitch.OfAgent.Of13.Handlers;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfAgent.Of13;

/// <summary>
/// What the switch tells an OpenFlow 1.3 controller it supports, each list derived once from the code that handles the
/// wire values, never kept by hand: an action type (TABLE_FEATURES apply/write actions) when the action translator takes
/// it, a set-field when it takes that field, an instruction when a flow-mod carrying it decodes and translates, and a
/// FEATURES_REPLY capability bit when the statistics handler answers the multipart request the bit stands for, a
/// GROUP_FEATURES type when the group-mod translator takes it.
/// </summary>
internal static class Of13Capabilities
{
    /// <summary>OFPAT_* the flow-mod and packet-out translator takes, in wire order.</summary>
    public static readonly ushort[] ActionTypes = [.. Enum.GetValues<Ofp13ActionType>().Where(TakesAction).Select(t => (ushort)t)];

    /// <summary>OXM fields a set-field may write, in wire order.</summary>
    public static readonly byte[] SettableFields = [.. Enumerable.Range(0, Ofp13Match.FieldCount).Select(f => (byte)f).Where(TakesSetField)];

    /// <summary>OFPIT_* a flow-mod may carry, in wire order (goto-table only where a later table exists: the caller's to leave out).</summary>
    public static readonly ushort[] InstructionTypes = [.. Enum.GetValues<Ofp13InstructionType>().Where(TakesInstruction).Select(t => (ushort)t)];

    /// <summary>GROUP_FEATURES' actions_supported: the bit of each action type (a bucket's actions are translated as a flow's).</summary>
    public static readonly uint ActionBitmap = ActionTypes.Where(t => t < 32).Aggregate(0u, (bits, t) => bits | 1u << t);

    /// <summary>GROUP_FEATURES' types: the bit of each OFPGT_* a group-mod may name.</summary>
    public static readonly uint GroupTypes = Enumerable.Range(0, 32).Where(t => GroupTypeMap.TryToModel((byte)t, out _)).Aggregate(0u, (bits, t) => bits | 1u << t);

    /// <summary>Each OFPC_* bit with the multipart request whose answer it promises (OpenFlow 1.3.5 section 7.3.1).</summary>
    private static readonly (uint Bit, Ofp13MultipartType? Answered)[] s_capabilities =
    [
        (1 << 0, Ofp13MultipartType.Flow),        // OFPC_FLOW_STATS
        (1 << 1, Ofp13MultipartType.Table),       // OFPC_TABLE_STATS
        (1 << 2, Ofp13MultipartType.PortStats),   // OFPC_PORT_STATS
        (1 << 3, Ofp13MultipartType.Group),       // OFPC_GROUP_STATS
        (1 << 5, null),                           // OFPC_IP_REASM: fragments are never reassembled
        (1 << 6, Ofp13MultipartType.Queue),       // OFPC_QUEUE_STATS
        (1 << 8, null),                           // OFPC_PORT_BLOCKED: no loop-prevention protocol blocks ports
    ];

    /// <summary>FEATURES_REPLY's capabilities: the bits whose statistics the switch answers.</summary>
    public static readonly uint Features = s_capabilities.Where(c => c.Answered is { } t && StatsHandler.Answers(t)).Aggregate(0u, (a, c) => a | c.Bit);

    private static bool TakesAction(Ofp13ActionType t)
    {
        var a = t == Ofp13ActionType.SetField ? Ofp13Action.SetField(Ofp13Oxm.Exact(SettableProbe, 0)) : new Ofp13Action(t);
        return ActionTranslator.TryToOf([a], out _, out _);
    }

    /// <summary>A field every set-field translator takes, to probe the set-field action itself (eth_dst).</summary>
    private const byte SettableProbe = 3;

    private static bool TakesSetField(byte field) => ActionTranslator.TryToOf([Ofp13Action.SetField(Ofp13Oxm.Exact(field, 0))], out _, out _);

    private static bool TakesInstruction(Ofp13InstructionType t)
    {
        var fm = new Ofp13FlowMod { BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Instructions.Add(new Ofp13Instruction(t, TableId: 1, MeterId: 1, Actions: t is Ofp13InstructionType.ApplyActions or Ofp13InstructionType.WriteActions or Ofp13InstructionType.ClearActions ? [] : null));
        var decoded = new Ofp13FlowMod();
        return decoded.TryDecode(fm.Encode(), out _) && FlowModTranslator.TryInstructions(decoded, out _, out _);
    }
}
