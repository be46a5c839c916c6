using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// An OpenFlow 1.0 FLOW_MOD as the OpenFlow layer's version-independent <see cref="FlowModRequest"/>: commands and
/// flags value by value (the enums share no numbering), the match through <see cref="MatchTranslator"/>, the action list
/// as apply-actions in table 0 (and a trailing Nicira resubmit as its goto-table); a modify or delete in every table. Stateless and thread-safe.
/// </summary>
public static class FlowModTranslator
{
    /// <summary>The command, or false for a value OpenFlow 1.0 does not define.</summary>
    public static bool TryCommand(OfpFlowModCommand wire, out FlowModCommand command)
    {
        switch (wire)
        {
            case OfpFlowModCommand.Add: command = FlowModCommand.Add; return true;
            case OfpFlowModCommand.Modify: command = FlowModCommand.Modify; return true;
            case OfpFlowModCommand.ModifyStrict: command = FlowModCommand.ModifyStrict; return true;
            case OfpFlowModCommand.Delete: command = FlowModCommand.Delete; return true;
            case OfpFlowModCommand.DeleteStrict: command = FlowModCommand.DeleteStrict; return true;
            default: command = default; return false;
        }
    }

    /// <summary>The flags OpenFlow 1.0 defines; other bits are ignored.</summary>
    public static FlowModFlags ToFlags(OfpFlowModFlags wire)
    {
        var flags = FlowModFlags.None;
        if ((wire & OfpFlowModFlags.SendFlowRem) != 0) flags |= FlowModFlags.SendFlowRemoved;
        if ((wire & OfpFlowModFlags.CheckOverlap) != 0) flags |= FlowModFlags.CheckOverlap;
        if ((wire & OfpFlowModFlags.Emerg) != 0) flags |= FlowModFlags.Emergency;
        return flags;
    }

    /// <summary>
    /// The flags of a flow-mod with <paramref name="command"/>: <see cref="ToFlags"/>, and RESET_COUNTS on an ADD (OpenFlow
    /// 1.0's add always starts its flow's counters afresh, and Open vSwitch's ofputil_decode_flow_mod_flags marks it so: the
    /// flow keeps the flag, and 1.3's flow statistics show it).
    /// </summary>
    public static FlowModFlags FlagsOf(OfpFlowModFlags wire, FlowModCommand command)
        => command == FlowModCommand.Add ? ToFlags(wire) | FlowModFlags.ResetCounts : ToFlags(wire);

    /// <summary>The transport (TCP 6, UDP 17, SCTP 132) <paramref name="m"/> pins with an exact IPv4 ethertype and IP protocol; 0 otherwise.</summary>
    public static byte TransportOf(OfpMatch m)
    {
        const OfpFlowWildcards typed = OfpFlowWildcards.DlType | OfpFlowWildcards.NwProto;
        if ((m.Wildcards & typed) != 0 || m.DlType != 0x0800) return 0;
        return m.NwProto is 6 or 17 or 132 ? m.NwProto : (byte)0;
    }

    /// <summary>
    /// The request for <paramref name="fm"/> with its decoded <paramref name="actions"/> (OpenFlow 1.0: apply-actions)
    /// and the goto-table its actions ended with, if any. An OpenFlow 1.0 flow-mod names no table unless the peer enabled
    /// Open vSwitch's flow_mod_table_id (<see cref="OfpFlowModFields.TableId"/>): without one an add goes to table 0, a
    /// modify or delete to every table (as Open vSwitch takes it), so flows a 1.0 peer sees in its flow statistics, every
    /// table's, are flows it can modify and delete.
    /// </summary>
    public static FlowModRequest ToRequest(in OfpFlowModFields fm, FlowModCommand command, ReadOnlyMemory<OfAction> actions, byte? gotoTable = null)
    {
        byte table = TableOf(command, fm.TableId);
        return new(command, MatchTranslator.ToOfMatch(fm.Match), fm.Priority, new OfInstructions(actions, GotoTable: gotoTable),
                   TableId: table, BufferId: fm.BufferId, Cookie: fm.Cookie, IdleTimeout: fm.IdleTimeout, HardTimeout: fm.HardTimeout,
                   Flags: FlagsOf(fm.Flags, command), OutPort: WireMap.ToOfPort(fm.OutPort), Rules: RulesFor(MatchRules.OpenFlow10, table));
    }

    /// <summary>
    /// The request for an NXT_FLOW_MOD: its NXM <paramref name="match"/> (prerequisites checked, so kept as given and
    /// ranked by priority alone, as Open vSwitch ranks every flow), the table as <see cref="TableOf"/> says, the cookie
    /// filter of a modify or delete (<paramref name="cookieMask"/> non-zero: the flows whose cookie is
    /// <paramref name="cookie"/> under it) or else the flow's new cookie.
    /// </summary>
    public static FlowModRequest ToRequest(in NxFlowModFields fm, FlowModCommand command, byte tableId, in OfMatch match, ulong cookie, ulong cookieMask,
                                           ReadOnlyMemory<OfAction> actions, byte? gotoTable)
    {
        byte table = TableOf(command, tableId);
        return new(command, match, fm.Priority, new OfInstructions(actions, GotoTable: gotoTable), TableId: table, BufferId: fm.BufferId,
                   Cookie: cookieMask != 0 ? cookie : fm.Cookie, CookieMask: cookieMask, IdleTimeout: fm.IdleTimeout, HardTimeout: fm.HardTimeout,
                   Flags: FlagsOf(fm.Flags, command), OutPort: WireMap.ToOfPort(fm.OutPort), Rules: RulesFor(NxmRules, table));
    }

    /// <summary>
    /// OpenFlow 1.0 with NXM matches: the match is kept as given (the codec checked its prerequisites; nothing is
    /// normalised by dl_type), a flow is ranked by its priority alone, a trailing resubmit is the flow's goto-table.
    /// </summary>
    public const MatchRules NxmRules = MatchRules.PriorityOnly | MatchRules.GotoTable;

    /// <summary>
    /// The table a 1.0 flow-mod names: <paramref name="tableId"/> from the flow_mod_table_id extension, or with 0xff (the
    /// extension off, or 0xff through it) table 0 for an add and every table for a modify or delete (Open vSwitch's
    /// OFPTT_ALL in such a flow-mod).
    /// </summary>
    public static byte TableOf(FlowModCommand command, byte tableId)
        => tableId != FlowModRequest.AllTables ? tableId : command == FlowModCommand.Add ? (byte)0 : FlowModRequest.AllTables;

    /// <summary><paramref name="rules"/> for a flow-mod of <paramref name="table"/>: a table after 0 is a pipeline stage (<see cref="MatchRules.MultiTable"/>).</summary>
    public static MatchRules RulesFor(MatchRules rules, byte table)
        => table is 0 or FlowModRequest.AllTables ? rules : rules | MatchRules.MultiTable;

    /// <summary>The transport (TCP 6, UDP 17, SCTP 132) <paramref name="m"/> pins with an exact IPv4 or IPv6 ethertype and IP protocol; 0 otherwise.</summary>
    public static byte TransportOf(in OfMatch m)
    {
        if (m.Mask.EthType != ushort.MaxValue || m.Value.EthType is not (0x0800 or 0x86dd) || m.Mask.NwProto != byte.MaxValue) return 0;
        return m.Value.NwProto is 6 or 17 or 132 ? m.Value.NwProto : (byte)0;
    }
}
