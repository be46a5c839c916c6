using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

// The tables as requests see them: TABLE_MOD, table statistics and descriptions, whether a table exists, and the
// vacancy events their flows' coming and going raise. Which table ids a request may name is OfTables' rule.
public sealed partial class OfSwitch
{
    [ThreadStatic] private static List<(OfTableStatusReason, OfTableDesc)>? s_tableStatus;

    /// <summary>
    /// TABLE_MOD (Open vSwitch's handle_table_mod and table_mod): a writer's request for a table a controller may use,
    /// or every table. A table's miss is its table-miss flow entry's here (OpenFlow 1.3.5 deprecates every config bit of
    /// 1.1's); a config bit the switch does not know, or eviction flags other than the switch's own
    /// (<see cref="OfEvictionFlags.Switch"/>), are BAD_CONFIG and nothing changes. From OpenFlow 1.4 the request turns
    /// eviction and vacancy events on or off (<see cref="OfFlowTables.SetEviction"/>, <see cref="OfFlowTables.SetVacancy"/>).
    /// </summary>
    public OfError TableMod(in TableModRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        var err = OfTables.CheckTableMod(req.TableId);
        if (err != OfError.None) return err;
        if ((req.Config & OfTableConfig.Unrecognised) != 0) return OfError.BadTableConfig;
        if (req.EvictionFlags is { } flags && flags != OfEvictionFlags.Switch) return OfError.BadTableConfig;
        if (req.VacancyEvents == true && (req.VacancyDown > req.VacancyUp || req.VacancyUp > 100)) return OfError.BadTableConfig;
        for (int id = req.TableId == OfTables.All ? 0 : req.TableId; id < (req.TableId == OfTables.All ? OfTables.Count : req.TableId + 1); id++)
        {
            if (req.Eviction is { } on) Flows.SetEviction((byte)id, on);
            if (req.VacancyEvents is { } vacancy) Flows.SetVacancy((byte)id, vacancy, req.VacancyDown, req.VacancyUp);
        }
        return OfError.None;
    }

    /// <summary>Table <paramref name="tableId"/>'s eviction and vacancy configuration (OFPMP_TABLE_DESC), for any table a controller may use.</summary>
    public OfTableDesc TableDescription(byte tableId)
    {
        if (tableId >= OfTables.Count) throw new ArgumentOutOfRangeException(nameof(tableId));
        return Flows.Describe(tableId);
    }

    /// <summary>
    /// Tells the controllers of each table whose vacancy crossed an armed threshold (TABLE_STATUS): called after flows
    /// came or went (each flow-mod, in a run or not; the end of a run or a bundle; an expiry). Nothing to do, and
    /// nothing allocated, while no table has vacancy events on.
    /// </summary>
    private void ReportVacancy()
    {
        if (_reports is not { } reports) return;
        var events = s_tableStatus ??= new();
        events.Clear();
        Flows.CollectVacancyEvents(events);
        foreach (var (reason, table) in events) reports.TableStatus(reason, table);
        events.Clear();
    }

    /// <summary>
    /// Statistics of table <paramref name="tableId"/>: one of <see cref="Tables"/>, or a table a controller may use that
    /// no flow-mod has created yet (no flow, nothing looked up: zeros).
    /// </summary>
    public FlowTableStats TableStats(int tableId)
    {
        if ((uint)tableId <= byte.MaxValue && Flows.HasTable((byte)tableId)) return Flows.GetTableStats(tableId);
        if ((uint)tableId >= OfTables.Count) throw new ArgumentOutOfRangeException(nameof(tableId));
        return new FlowTableStats((byte)tableId, Flows.NameOf((byte)tableId), true, Flows.MaxFlowsOf((byte)tableId), 0, 0, 0);
    }

    /// <summary>
    /// Configures table <paramref name="tableId"/> from outside OpenFlow (Open vSwitch's ofproto_configure_table, which
    /// its bridge calls for each Flow_Table row, and with the defaults for a table without one): its name, flow limit,
    /// eviction and eviction groups, and prefixes (recorded). A table that evicts and holds more flows than its new limit
    /// evicts down to it at once (evict_rules_from_table), each flow reported as a flow-mod's eviction is (FLOW_REMOVED
    /// reason eviction to whoever asked, the flow monitors, delete_learned). Thread-safe; not from inside a run.
    /// </summary>
    public void ConfigureTable(byte tableId, OfTableSettings config)
    {
        if (tableId >= OfTables.Count) throw new ArgumentOutOfRangeException(nameof(tableId));
        Flows.Configure(tableId, config);
        var removed = new List<FlowRemoved>();
        List<(byte Table, ulong Cookie)>? learned = null;
        using (Flows.Reclamation.Enter())
        {
            if (Flows.EvictExcess(tableId, removed) == 0) return;
            learned = LearnedToDelete(removed);
            ReportFinal(removed);
        }
        if (learned is not null) DeleteLearned(learned);
        ReportVacancy();
    }

    /// <summary>Whether OpenFlow table <paramref name="id"/> exists (table 0 always; others once a flow-mod created them).</summary>
    public bool HasTable(byte id) => Flows.HasTable(id);
}
