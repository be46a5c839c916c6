namespace Softswitch.Ofproto;

// The tables as requests see them: TABLE_MOD, table statistics, whether a table exists. Which table ids a request may
// name is OfTables' rule.
public sealed partial class OfSwitch
{
    /// <summary>
    /// TABLE_MOD (Open vSwitch's handle_table_mod): a writer's request for a table a controller may use, or every table.
    /// A table's miss is its table-miss flow entry's here (OpenFlow 1.3.5 deprecates every config bit of 1.1's), so an
    /// accepted request changes nothing; a config bit the switch does not know is refused.
    /// </summary>
    public OfError TableMod(in TableModRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        var err = OfTables.CheckTableMod(req.TableId);
        if (err != OfError.None) return err;
        return (req.Config & OfTableConfig.Unrecognised) != 0 ? OfError.BadTableConfig : OfError.None;
    }

    /// <summary>
    /// Statistics of table <paramref name="tableId"/>: one of <see cref="Tables"/>, or a table a controller may use that
    /// no flow-mod has created yet (no flow, nothing looked up: zeros).
    /// </summary>
    public FlowTableStats TableStats(int tableId)
    {
        if ((uint)tableId <= byte.MaxValue && Flows.HasTable((byte)tableId)) return Flows.GetTableStats(tableId);
        if ((uint)tableId >= OfTables.Count) throw new ArgumentOutOfRangeException(nameof(tableId));
        return new FlowTableStats((byte)tableId, "table" + tableId, true, Flows.Tables[0].MaxEntries, 0, 0, 0);
    }

    /// <summary>Whether OpenFlow table <paramref name="id"/> exists (table 0 always; others once a flow-mod created them).</summary>
    public bool HasTable(byte id) => Flows.HasTable(id);
}
