using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// Table ids with a meaning of their own, and the one rule for the table ids a request may name: a flow-mod and its
/// goto-table, a TABLE_MOD, a flow or aggregate statistics request. <see cref="OfSwitch"/> checks every request with
/// it (the agent checks no table id); the table model (<see cref="OfFlowTables"/>) guards its own entry points with the
/// same rule.
/// </summary>
/// <remarks>
/// Under <see cref="MatchRules.MultiTable"/> (OpenFlow 1.3) a request may name tables 0 .. <see cref="Count"/> - 1, and
/// <see cref="All"/> where it means every table (a delete, statistics, TABLE_MOD); 254 is no table. Without it
/// (OpenFlow 1.0) a flow-mod names table 0 (a modify or delete also every table), with a goto-table its one
/// instruction under <see cref="MatchRules.GotoTable"/>, and statistics may name any table (one the model does not have selects nothing)
/// or <see cref="EmergencyTableId"/>. Stateless.
/// </remarks>
public static class OfTables
{
    /// <summary>How many tables a multi-table controller may use (features' n_tables; ids 0 .. Count - 1).</summary>
    public const byte Count = OfFlowTables.MaxTables;

    /// <summary>OpenFlow 1.0's emergency flows in flow statistics (0xfe).</summary>
    public const byte EmergencyTableId = 0xfe;

    /// <summary>Every table (OFPTT_ALL).</summary>
    public const byte All = FlowModRequest.AllTables;

    /// <summary>
    /// Whether a flow-mod with <paramref name="command"/> may name table <paramref name="tableId"/> and goto-table
    /// <paramref name="gotoTable"/> (<see cref="FlowInstructions.NoGoto"/>: none), and carry instructions beyond
    /// apply-actions and the goto-table (<paramref name="instructions"/>), under <paramref name="rules"/>. Only an add or
    /// modify adds flows: a delete may name every table, and its instructions mean nothing. Under OpenFlow 1.0 a modify
    /// may name every table too: its goto is checked here against table 0, where it adds when nothing matches, and
    /// against each flow's own table where it changes one (<see cref="OfFlowTables"/>).
    /// </summary>
    public static FlowModStatus CheckFlowMod(FlowModCommand command, byte tableId, int gotoTable, bool instructions, MatchRules rules)
    {
        bool addOrModify = command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        if ((rules & MatchRules.MultiTable) == 0)
        {
            bool gotoAllowed = (rules & MatchRules.GotoTable) != 0;
            if (addOrModify && (instructions || (gotoTable != FlowInstructions.NoGoto && !gotoAllowed))) return FlowModStatus.UnsupportedInstruction;
            if (tableId != OfFlowTables.MainTableId && !(command != FlowModCommand.Add && tableId == All)) return FlowModStatus.BadTableId;
        }
        else
        {
            if (tableId == All) return addOrModify ? FlowModStatus.BadTableId : FlowModStatus.Ok;
            if (tableId >= Count) return FlowModStatus.BadTableId;
        }
        int own = tableId == All ? OfFlowTables.MainTableId : tableId;
        if (addOrModify && gotoTable != FlowInstructions.NoGoto && (gotoTable <= own || gotoTable >= Count)) return FlowModStatus.BadGotoTable;
        return FlowModStatus.Ok;
    }

    /// <summary>Whether a TABLE_MOD may name table <paramref name="tableId"/> (a table a controller may use, or every table).</summary>
    public static OfError CheckTableMod(byte tableId) => tableId == All || tableId < Count ? OfError.None : OfError.BadTableId;

    /// <summary>
    /// Whether a flow or aggregate statistics request may name table <paramref name="tableId"/> under
    /// <paramref name="rules"/> (multi-table: a table a controller may use, or every table; OpenFlow 1.0: any).
    /// </summary>
    public static OfError CheckStats(byte tableId, MatchRules rules)
        => (rules & MatchRules.MultiTable) == 0 || tableId == All || tableId < Count ? OfError.None : OfError.BadTableId;
}
