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

    /// <summary>The transport (TCP 6, UDP 17, SCTP 132) <paramref name="m"/> pins with an exact IPv4 ethertype and IP protocol; 0 otherwise.</summary>
    public static byte TransportOf(OfpMatch m)
    {
        const OfpFlowWildcards typed = OfpFlowWildcards.DlType | OfpFlowWildcards.NwProto;
        if ((m.Wildcards & typed) != 0 || m.DlType != 0x0800) return 0;
        return m.NwProto is 6 or 17 or 132 ? m.NwProto : (byte)0;
    }

    /// <summary>
    /// The request for <paramref name="fm"/> with its decoded <paramref name="actions"/> (OpenFlow 1.0: apply-actions)
    /// and the goto-table its actions ended with, if any. An OpenFlow 1.0 flow-mod names no table: an add goes to table
    /// 0, a modify or delete to every table (as Open vSwitch takes one without its table-id extension), so flows a 1.0
    /// peer sees in its flow statistics, every table's, are flows it can modify and delete.
    /// </summary>
    public static FlowModRequest ToRequest(in OfpFlowModFields fm, FlowModCommand command, ReadOnlyMemory<OfAction> actions, byte? gotoTable = null)
        => new(command, MatchTranslator.ToOfMatch(fm.Match), fm.Priority, new OfInstructions(actions, GotoTable: gotoTable),
               TableId: command == FlowModCommand.Add ? (byte)0 : FlowModRequest.AllTables, BufferId: fm.BufferId, Cookie: fm.Cookie, IdleTimeout: fm.IdleTimeout, HardTimeout: fm.HardTimeout,
               Flags: ToFlags(fm.Flags), OutPort: WireMap.ToOfPort(fm.OutPort), Rules: MatchRules.OpenFlow10);
}
