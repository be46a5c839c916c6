using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

// Each table's configuration beyond its miss (OpenFlow 1.4's TABLE_MOD): eviction, and vacancy events with their
// thresholds, as Open vSwitch's oftable keeps them (ofproto/ofproto.c: table_mod__, choose_rule_to_evict,
// rule_eviction_priority, send_table_status).
public sealed partial class OfFlowTables
{
    /// <summary>A table's settings (immutable; replaced whole under the tables lock, read with one load).</summary>
    private sealed record TableSettings(bool Eviction, bool VacancyEvents, byte VacancyDown, byte VacancyUp);

    private static readonly TableSettings s_defaultSettings = new(false, false, 0, 0);

    /// <summary>By table id (0 .. <see cref="MaxTables"/> - 1); null: the defaults (no eviction, no vacancy events).</summary>
    private readonly TableSettings?[] _settings = new TableSettings?[MaxTables];

    /// <summary>
    /// The vacancy event each table with vacancy events on is armed for (Open vSwitch's vacancy_event): the next crossing
    /// that is told. Guarded by <see cref="_vacancyLock"/>; 0 is off.
    /// </summary>
    private readonly byte[] _vacancyArmed = new byte[MaxTables];
    private const byte ArmedDown = 1, ArmedUp = 2;
    private readonly Lock _vacancyLock = new();
    /// <summary>How many tables have vacancy events on (when 0, <see cref="CollectVacancyEvents"/> does nothing).</summary>
    private volatile int _vacancyTables;

    [ThreadStatic] private static List<FlowEntry>? s_evictScratch;

    private TableSettings SettingsOf(byte tableId)
        => tableId < MaxTables ? Volatile.Read(ref _settings[tableId]) ?? s_defaultSettings : s_defaultSettings;

    /// <summary>Whether table <paramref name="tableId"/> evicts when full (<see cref="SetEviction"/>).</summary>
    public bool Evicts(byte tableId) => SettingsOf(tableId).Eviction;

    /// <summary>
    /// Turns eviction on or off in table <paramref name="tableId"/> (0 .. 253; the table need not exist yet). With it on,
    /// an ADD of a new flow to the full table evicts one flow instead of failing (see <see cref="TryEvict"/>); turning it
    /// on evicts nothing by itself (Open vSwitch's table_mod__).
    /// </summary>
    public void SetEviction(byte tableId, bool on)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tableId, MaxTables);
        lock (_tablesLock)
        {
            var s = SettingsOf(tableId);
            Volatile.Write(ref _settings[tableId], s with { Eviction = on });
        }
    }

    /// <summary>
    /// Turns vacancy events on (with thresholds <paramref name="down"/> &lt;= <paramref name="up"/> &lt;= 100, percent)
    /// or off in table <paramref name="tableId"/>. Turned on, the events are armed as Open vSwitch arms them: for a
    /// rise above <paramref name="up"/> when the vacancy is below it now, else for a fall below <paramref name="down"/>;
    /// on already, they stay armed as they were.
    /// </summary>
    public void SetVacancy(byte tableId, bool on, byte down, byte up)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tableId, MaxTables);
        if (on && (down > up || up > 100)) throw new ArgumentOutOfRangeException(nameof(down), "vacancy thresholds: down <= up <= 100");
        lock (_tablesLock)
        {
            lock (_vacancyLock)
            {
                var s = SettingsOf(tableId);
                Volatile.Write(ref _settings[tableId], s with { VacancyEvents = on, VacancyDown = down, VacancyUp = up });
                byte was = _vacancyArmed[tableId];
                if (!on) _vacancyArmed[tableId] = 0;
                else if (was == 0) _vacancyArmed[tableId] = VacancyOf(tableId) < up ? ArmedUp : ArmedDown;
                if ((was == 0) != (_vacancyArmed[tableId] == 0)) _vacancyTables += was == 0 ? 1 : -1;
            }
        }
    }

    /// <summary>Table <paramref name="tableId"/>'s configuration and vacancy now, as OFPMP_TABLE_DESC shows it.</summary>
    public OfTableDesc Describe(byte tableId)
    {
        var s = SettingsOf(tableId);
        return new OfTableDesc(tableId, s.Eviction, s.VacancyEvents, s.VacancyDown, s.VacancyUp, VacancyOf(tableId));
    }

    /// <summary>
    /// The vacancy of table <paramref name="tableId"/>: the share of its flow limit that is free, in whole percent
    /// rounded down (100 for an empty table or one not created yet, 0 for a full one; Open vSwitch's oftable_vacancy).
    /// </summary>
    public byte VacancyOf(byte tableId)
    {
        int n = _pipeline.Stage(tableId)?.Count ?? 0, max = _options.MaxFlows;
        return n >= max ? (byte)0 : (byte)((long)(max - n) * 100 / max);
    }

    /// <summary>
    /// Appends a TABLE_STATUS for each table whose vacancy crossed the threshold its events are armed for, and arms the
    /// other (hysteresis, as Open vSwitch's send_table_status): below vacancy_down the down event is told once, and
    /// the next is told only once the vacancy rises above vacancy_up, and so on. Called after flows came and went.
    /// </summary>
    public void CollectVacancyEvents(List<(OfTableStatusReason Reason, OfTableDesc Table)> into)
    {
        if (_vacancyTables == 0) return;
        lock (_vacancyLock)
        {
            for (int id = 0; id < MaxTables; id++)
            {
                byte armed = _vacancyArmed[id];
                if (armed == 0) continue;
                var s = SettingsOf((byte)id);
                byte v = VacancyOf((byte)id);
                byte crossed = v < s.VacancyDown ? ArmedDown : v > s.VacancyUp ? ArmedUp : (byte)0;
                if (crossed != armed) continue;
                into.Add((armed == ArmedDown ? OfTableStatusReason.VacancyDown : OfTableStatusReason.VacancyUp,
                          new OfTableDesc((byte)id, s.Eviction, true, s.VacancyDown, s.VacancyUp, v)));
                _vacancyArmed[id] = armed == ArmedDown ? ArmedUp : ArmedDown;
            }
        }
    }

    /// <summary>
    /// Makes room in the full table <paramref name="w"/> writes (OpenFlow table <paramref name="tableId"/>) when its
    /// eviction is on: removes the flow Open vSwitch's choose_rule_to_evict would, the one of lowest importance and,
    /// among those, closest to expiry (its hard timeout from its creation, its idle timeout from its last use, whichever
    /// comes first). Only flows with a timeout are evictable (Open vSwitch's eviction_group_add_rule); a table of
    /// permanent flows stays full. The evicted flow is reported with reason Eviction (in an atomic batch, when it
    /// commits). Scans the table: O(flows) per eviction, paid only by an add to a full table.
    /// </summary>
    private bool TryEvict(FlowModBatch? b, FlowTable.WriteScope w, byte tableId, List<FlowRemoved>? removed, long now)
    {
        if (!SettingsOf(tableId).Eviction) return false;
        var all = s_evictScratch ??= new List<FlowEntry>();
        all.Clear();
        w.CollectSubsets(FlowMatch.All, all);
        FlowEntry? victim = null;
        ushort victimImportance = 0;
        long victimExpiry = 0;
        foreach (var e in all)
        {
            if ((e.IdleTimeout | e.HardTimeout) == 0 || (b is not null && b.IsDoomed(e))) continue;
            ushort importance = OfFlowRule.Of(e)?.Importance ?? 0;
            long expiry = long.MaxValue;
            if (e.HardTimeout != 0) expiry = e.CreatedNanos + e.HardTimeout * 1_000_000_000L;
            if (e.IdleTimeout != 0) expiry = Math.Min(expiry, e.LastUsedNanos + e.IdleTimeout * 1_000_000_000L);
            if (victim is null || importance < victimImportance || (importance == victimImportance && expiry < victimExpiry))
                (victim, victimImportance, victimExpiry) = (e, importance, expiry);
        }
        all.Clear();
        if (victim is null) return false;
        if (b is { IsAtomic: true })
        {
            b.DoomEvicted(w.Table, victim);
            return true;
        }
        w.Remove(victim);
        Notify(b, victim, OfFlowUpdateEvent.Removed, FlowRemovedReason.Eviction);
        removed?.Add(new FlowRemoved(victim, FlowRemovedReason.Eviction, now - victim.CreatedNanos, victim.Packets, victim.Bytes));
        return true;
    }
}
