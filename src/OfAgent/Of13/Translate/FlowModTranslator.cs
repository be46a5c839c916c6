using System.Runtime.InteropServices;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>
/// An OpenFlow 1.3 FLOW_MOD as the OpenFlow layer's <see cref="FlowModRequest"/>: its instructions, its flags and the
/// request itself (the 1.3 side of <see cref="Of10.Translate.FlowModTranslator"/>).
/// </summary>
/// <remarks>
/// Stateless. Only the wire is judged here (an instruction 1.3 does not define, a clear-actions with actions); whether
/// a goto-table, a meter or a group may be used is the switch's to say.
/// </remarks>
internal static class FlowModTranslator
{
    /// <summary>The request of a decoded flow-mod, its match, instructions and command already translated.</summary>
    public static FlowModRequest ToRequest(Ofp13FlowMod fm, FlowModCommand command, in OfMatch match, in OfInstructions instructions)
        => new(command, match, fm.Priority, instructions, fm.TableId, fm.BufferId, fm.Cookie, fm.CookieMask, fm.IdleTimeout,
               fm.HardTimeout, FlowModFlagsMap.ToModel(fm.Flags), fm.OutPort, fm.OutGroup, MatchRules.OpenFlow13, fm.Importance);

    /// <summary>The instructions of <paramref name="fm"/> as the model's; false with the 1.3 error of the first one that cannot be.</summary>
    public static bool TryInstructions(Ofp13FlowMod fm, out OfInstructions instructions, out Ofp13Error error)
    {
        instructions = default;
        error = default;
        var apply = ReadOnlyMemory<OfAction>.Empty;
        ReadOnlyMemory<OfAction>? write = null;
        bool clear = false;
        byte? gotoTable = null;
        ulong metadata = 0, metadataMask = 0;
        uint meter = 0;
        bool of15 = fm.Version >= OfWire.Of15.Ofp15.Version;
        foreach (var ins in fm.Instructions)
        {
            switch (ins.Type)
            {
                case Ofp13InstructionType.ApplyActions:
                case Ofp13InstructionType.WriteActions:
                {
                    bool isApply = ins.Type == Ofp13InstructionType.ApplyActions;
                    var wire = CollectionsMarshal.AsSpan(ins.Actions);
                    if (isApply && of15 && !TryMeterAction(ref wire, ref meter, out error)) return false;
                    if (!of15 && HasCopyField(wire))
                    {
                        // OFPAT_COPY_FIELD is 1.5's: an action type earlier versions do not define.
                        error = Ofp13Error.BadAction(Ofp13Codes.ActionBadType);
                        return false;
                    }
                    if (!ActionTranslator.TryToOf(wire, isApply, out var actions, out error, maskedSetField: of15)) return false;
                    if (!isApply && ActionTranslator.NotInActionSet(actions))
                    {
                        error = Ofp13Error.BadAction(Ofp13Codes.ActionBadType);
                        return false;
                    }
                    if (isApply) apply = actions;
                    else write = actions;
                    break;
                }
                case Ofp13InstructionType.ClearActions:
                    if (ins.Actions is { Count: > 0 }) { error = Ofp13Error.BadInstruction(Ofp13Codes.InstBadLen); return false; }
                    clear = true;
                    break;
                case Ofp13InstructionType.GotoTable:
                    gotoTable = ins.TableId; // a table the switch has, and forward: the switch's to say (BAD_TABLE_ID)
                    break;
                case Ofp13InstructionType.WriteMetadata:
                    metadata = ins.Metadata;
                    metadataMask = ins.MetadataMask;
                    break;
                case Ofp13InstructionType.Meter when of15:
                    // "meter" is an action in OpenFlow 1.5 (Open vSwitch: OFPBIC_UNKNOWN_INST).
                    error = Ofp13Error.BadInstruction(Ofp13Codes.InstUnknown);
                    return false;
                case Ofp13InstructionType.Meter:
                    // Whether the meter exists is the switch's to say (UNKNOWN_METER), with the flow-mod under its lock.
                    meter = ins.MeterId;
                    break;
                default:
                    error = Ofp13Error.BadInstruction(Ofp13Codes.InstUnknown);
                    return false;
            }
        }
        instructions = new OfInstructions(apply, write, clear, gotoTable, metadata & metadataMask, metadataMask, meter);
        return true;
    }

    private static bool HasCopyField(ReadOnlySpan<Ofp13Action> wire)
    {
        foreach (var a in wire)
            if (a.Type == Ofp13ActionType.CopyField) return true;
        return false;
    }

    /// <summary>
    /// OpenFlow 1.5's meter action (OFPAT_METER) at the head of apply-actions: taken off the list as the flow's meter. As
    /// Open vSwitch's ofpacts_verify, the meter runs before every other action: one anywhere else, or a second one, is
    /// BAD_ACTION/UNSUPPORTED_ORDER. (In write-actions, a bucket or a packet-out it is BAD_TYPE, as any action the list
    /// does not take.)
    /// </summary>
    private static bool TryMeterAction(ref Span<Ofp13Action> wire, ref uint meter, out Ofp13Error error)
    {
        error = default;
        if (wire.Length > 0 && wire[0].Type == Ofp13ActionType.Meter)
        {
            meter = wire[0].Arg;
            wire = wire[1..];
        }
        foreach (var a in wire)
        {
            if (a.Type != Ofp13ActionType.Meter) continue;
            error = Ofp13Error.BadAction(Ofp13Codes.ActionUnsupportedOrder);
            return false;
        }
        return true;
    }
}
