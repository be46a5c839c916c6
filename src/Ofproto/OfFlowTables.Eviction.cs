using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

// Each table's configuration beyond its miss: OpenFlow 1.4's TABLE_MOD (eviction, and vacancy events with their
// thresholds) and the switch's own (OfTableSettings: a Flow_Table row's name, flow limit, eviction and its groups), as
// Open vSwitch's oftable keeps them (ofproto/ofproto.c: table_mod__, ofproto_configure_table, choose_rule_to_evict,
// eviction_group_hash_rule, rule_eviction_priority, evict_rules_from_table, send_table_status).
public sealed partial class OfFlowTables
{
    /// <summary>
    /// A table's settings (immutable; replaced whole under the tables lock, read with one load). <see cref="Eviction"/>
    /// is the TABLE_MOD's (what OFPMP_TABLE_DESC shows); the table evicts while it or its <see cref="Config"/> asks.
    /// </summary>
    private sealed record TableSettings(bool Eviction, bool VacancyEvents, byte VacancyDown, byte VacancyUp)
    {
        public OfTableSettings Config { get; init; } = OfTableSettings.Default;
        public bool Evicts => Eviction || Config.Evict;
    }

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

    /// <summary>Whether table <paramref name="tableId"/> evicts when full: a TABLE_MOD (<see cref="SetEviction"/>) or its
    /// configuration (<see cref="Configure"/>) asks, as Open vSwitch's oftable eviction is on while either bit is.</summary>
    public bool Evicts(byte tableId) => SettingsOf(tableId).Evicts;

    /// <summary>Table <paramref name="tableId"/>'s configuration (<see cref="Configure"/>; <see cref="OfTableSettings.Default"/> unless set).</summary>
    public OfTableSettings ConfigOf(byte tableId) => SettingsOf(tableId).Config;

    /// <summary>
    /// The most flows table <paramref name="tableId"/> holds: its configured flow limit, at most
    /// <see cref="FlowTableOptions.MaxFlows"/>. What an add checks, vacancy is computed from, and statistics show.
    /// </summary>
    public int MaxFlowsOf(byte tableId) => SettingsOf(tableId).Config.FlowLimit is { } limit ? Math.Min(limit, _options.MaxFlows) : _options.MaxFlows;

    /// <summary>Table <paramref name="tableId"/>'s name: its configured one, else table 0's <c>classifier</c> and <c>tableN</c>.</summary>
    public string NameOf(byte tableId) => SettingsOf(tableId).Config.Name is { Length: > 0 } name ? name
        : tableId == MainTableId ? "classifier" : "table" + tableId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Sets table <paramref name="tableId"/>'s configuration (0 .. 253; the table need not exist yet): its name and
    /// limit (shown in <see cref="Tables"/> at once), its own eviction and eviction groups, and its prefixes (recorded).
    /// A TABLE_MOD's eviction stays as it was. Flows beyond a lowered limit stay until
    /// <see cref="EvictExcess"/> (Open vSwitch's evict_rules_from_table) removes them.
    /// </summary>
    public void Configure(byte tableId, OfTableSettings config)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tableId, MaxTables);
        ArgumentNullException.ThrowIfNull(config);
        lock (_tablesLock)
        {
            var s = SettingsOf(tableId);
            string? name = config.Name is { Length: > OfTableSettings.MaxNameLength } n ? n[..OfTableSettings.MaxNameLength] : config.Name;
            Volatile.Write(ref _settings[tableId], s with { Config = config with { Name = name } });
            DropEvictionHeap(tableId);
            if (FindTable(tableId) is null) return;
            var list = _tables.ToList();
            int i = list.FindIndex(t => t.Id == tableId);
            list[i] = list[i] with { Name = NameOf(tableId), MaxEntries = MaxFlowsOf(tableId) };
            _tables = [.. list];
        }
    }

    /// <summary>
    /// Evicts flows of table <paramref name="tableId"/> until it holds no more than its limit, while it evicts and has
    /// flows it may evict (Open vSwitch's evict_rules_from_table, after a configuration change), each reported with
    /// reason Eviction into <paramref name="removed"/>: the flows <see cref="TryEvict"/> would take one add at a time, in
    /// that order, chosen in one pass (each group's flows sorted, the groups in a heap by size: O(n log n) for any
    /// excess, where one scan per flow would be quadratic). Not in a batch of this thread's.
    /// </summary>
    public int EvictExcess(byte tableId, List<FlowRemoved> removed)
    {
        if (tableId >= MaxTables || _pipeline.Stage(tableId) is not { } stage) return 0;
        var s = SettingsOf(tableId);
        if (!s.Evicts) return 0;
        long now = _clock.NowNanos;
        using var w = stage.Write();
        int excess = w.Table.Count - MaxFlowsOf(tableId);
        if (excess <= 0) return 0;
        var all = new List<FlowEntry>();
        w.CollectSubsets(FlowMatch.All, all);
        var groups = new Dictionary<ulong, List<(FlowEntry Flow, ushort Importance, long Expiry)>>();
        foreach (var e in all)
        {
            if ((e.IdleTimeout | e.HardTimeout) == 0) continue;
            ulong g = s.Config.EvictionGroups.Count == 0 ? 0 : GroupOf(e.Match, s.Config.EvictionGroups);
            if (!groups.TryGetValue(g, out var list)) groups[g] = list = [];
            var (importance, expiry) = EvictionOrder(e);
            list.Add((e, importance, expiry));
        }
        // The heap's least: the largest group, then the one whose next flow goes first.
        var heap = new PriorityQueue<(List<(FlowEntry Flow, ushort Importance, long Expiry)> Flows, int Next), (int NegSize, ushort Importance, long Expiry)>();
        foreach (var list in groups.Values)
        {
            list.Sort((a, b) => a.Importance != b.Importance ? a.Importance.CompareTo(b.Importance) : a.Expiry.CompareTo(b.Expiry));
            heap.Enqueue((list, 0), (-list.Count, list[0].Importance, list[0].Expiry));
        }
        int n = 0;
        while (n < excess && heap.TryDequeue(out var g, out _))
        {
            var victim = g.Flows[g.Next].Flow;
            w.Remove(victim);
            Notify(null, victim, OfFlowUpdateEvent.Removed, FlowRemovedReason.Eviction);
            removed.Add(new FlowRemoved(victim, FlowRemovedReason.Eviction, now - victim.CreatedNanos, victim.Packets, victim.Bytes));
            n++;
            int next = g.Next + 1;
            if (next < g.Flows.Count) heap.Enqueue((g.Flows, next), (-(g.Flows.Count - next), g.Flows[next].Importance, g.Flows[next].Expiry));
        }
        return n;
    }

    /// <summary>A flow's place in eviction order: its importance (lowest first), then when it expires (its hard timeout
    /// from its last modification (creation or a learn's refresh), its idle timeout from its last use, whichever comes first; soonest first).</summary>
    private static (ushort Importance, long Expiry) EvictionOrder(FlowEntry e)
    {
        ushort importance = OfFlowRule.Of(e)?.Importance ?? 0;
        long expiry = long.MaxValue;
        if (e.HardTimeout != 0) expiry = e.ModifiedNanos + e.HardTimeout * 1_000_000_000L;
        if (e.IdleTimeout != 0) expiry = Math.Min(expiry, e.LastUsedNanos + e.IdleTimeout * 1_000_000_000L);
        return (importance, expiry);
    }

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
            DropEvictionHeap(tableId);
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
        // Open vSwitch's query_table_desc__: the eviction an OpenFlow controller turned on, not the configuration's.
        return new OfTableDesc(tableId, s.Eviction, s.VacancyEvents, s.VacancyDown, s.VacancyUp, VacancyOf(tableId));
    }

    /// <summary>
    /// The vacancy of table <paramref name="tableId"/>: the share of its flow limit that is free, in whole percent
    /// rounded down (100 for an empty table, one not created yet or one of limit 0, 0 for a full one; Open vSwitch's
    /// oftable_vacancy).
    /// </summary>
    public byte VacancyOf(byte tableId)
    {
        int n = _pipeline.Stage(tableId)?.Count ?? 0, max = MaxFlowsOf(tableId);
        if (max == 0) return 100;
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
    /// eviction is on: removes the flow Open vSwitch's eviction would (vswitch.xml, Flow_Table, "Eviction Policy").
    /// Only flows with a timeout are evictable (Open vSwitch's eviction_group_add_rule); a table of permanent flows
    /// stays full. They are divided into groups by the values of the configuration's eviction group fields (a field the
    /// flow does not match is 0; one whose prerequisites it does not match is a value of its own), all one group
    /// without any; the flows of the largest groups (every group of the largest size) are considered, and of those the
    /// one of lowest importance and, among those, closest to expiry (its hard timeout from its last modification, its idle
    /// timeout from its last use, whichever comes first) goes. The evicted flow is reported with reason Eviction (in an
    /// atomic batch, when it commits). Without eviction groups the victim comes from the table's eviction heap
    /// (<see cref="HeapVictim"/>: O(log flows) an eviction); with them, from a scan of the table (O(flows)).
    /// </summary>
    private bool TryEvict(FlowModBatch? b, FlowTable.WriteScope w, byte tableId, List<FlowRemoved>? removed, long now)
    {
        var s = SettingsOf(tableId);
        if (!s.Evicts) return false;
        var victim = s.Config.EvictionGroups.Count == 0 ? HeapVictim(b, w, tableId) : ScanVictim(w, s.Config.EvictionGroups);
        if (victim is null) return false;
        if (b is { IsAtomic: true })
        {
            b.DoomEvicted(w, victim);
            // A revert shows it again: it stays in the heap (once the commit removes it, it is dropped when met).
            NoteEvictable(w, tableId, victim);
            return true;
        }
        w.Remove(victim);
        Notify(b, victim, OfFlowUpdateEvent.Removed, FlowRemovedReason.Eviction);
        removed?.Add(new FlowRemoved(victim, FlowRemovedReason.Eviction, now - victim.CreatedNanos, victim.Packets, victim.Bytes));
        return true;
    }

    /// <summary>
    /// A table's evictable flows (those with a timeout) in eviction order, as Open vSwitch's eviction groups keep theirs
    /// in a heap (ofproto.c, eviction_group_add_rule, choose_rule_to_evict). Built from the table when an eviction
    /// first needs it, then kept by the writer: every flow added to the table while it exists is pushed
    /// (<see cref="NoteEvictable"/>); a flow that left is dropped when it reaches the top (its entry removed, or
    /// recycled: its serial moved). A flow's place can only move later (its importance is fixed, its hard timeout counts
    /// from a last modification that only grows, its idle timeout from a last use that only grows), so a top whose place moved since its push
    /// is pushed again at its place now, and a top whose place has not moved is the flow every scan would have chosen.
    /// Guarded by the table's write scope; replaced whole (a volatile reference) when it must be built again.
    /// </summary>
    private sealed class EvictionHeap
    {
        public readonly PriorityQueue<(FlowEntry Flow, int Serial), (ushort Importance, long Expiry)> Queue = new();
        /// <summary>The atomic batch it was built in (its flows hidden then are left out: a revert shows them), or null.</summary>
        public FlowModBatch? BuiltIn;
    }

    /// <summary>By table id; null: none built (or given up: eviction turned off, groups configured, too many dropped flows).</summary>
    private readonly EvictionHeap?[] _evictionHeaps = new EvictionHeap?[MaxTables];

    [ThreadStatic] private static List<(FlowEntry Flow, int Serial)>? s_evictSkipped;

    /// <summary>
    /// Writer, after <paramref name="e"/> was linked into table <paramref name="tableId"/>: pushes it into the table's
    /// eviction heap when there is one and it has a timeout. A heap holding more than twice the table's flows (flows that
    /// left and were not met) is let go, to be built again by the next eviction.
    /// </summary>
    private void NoteEvictable(FlowTable.WriteScope w, byte tableId, FlowEntry e)
    {
        if (tableId >= MaxTables || Volatile.Read(ref _evictionHeaps[tableId]) is not { } h) return;
        if (h.Queue.Count > 2 * w.Table.Count + 64)
        {
            Volatile.Write(ref _evictionHeaps[tableId], null);
            return;
        }
        if ((e.IdleTimeout | e.HardTimeout) != 0) h.Queue.Enqueue((e, e.Serial), EvictionOrder(e));
    }

    /// <summary>Forgets table <paramref name="tableId"/>'s eviction heap (its settings changed).</summary>
    private void DropEvictionHeap(byte tableId) => Volatile.Write(ref _evictionHeaps[tableId], null);

    /// <summary>
    /// The flow to evict from table <paramref name="tableId"/> (no eviction groups): the top of its eviction heap that is
    /// still linked and seen by this writer (within an atomic batch: not one it deleted or replaced; those are pushed
    /// again, for a revert shows them), with its place unchanged. Null when no flow has a timeout.
    /// </summary>
    private FlowEntry? HeapVictim(FlowModBatch? b, FlowTable.WriteScope w, byte tableId)
    {
        var atomic = b is { IsAtomic: true } ? b : null;
        var h = Volatile.Read(ref _evictionHeaps[tableId]);
        if (h is null || (h.BuiltIn is not null && !ReferenceEquals(h.BuiltIn, atomic)) || h.Queue.Count > 2 * w.Table.Count + 64)
        {
            h = new EvictionHeap { BuiltIn = atomic };
            var all = s_evictScratch ??= new List<FlowEntry>();
            all.Clear();
            w.CollectSubsets(FlowMatch.All, all);
            foreach (var e in all)
                if ((e.IdleTimeout | e.HardTimeout) != 0) h.Queue.Enqueue((e, e.Serial), EvictionOrder(e));
            all.Clear();
            Volatile.Write(ref _evictionHeaps[tableId], h);
        }
        var skipped = s_evictSkipped ??= [];
        skipped.Clear();
        FlowEntry? victim = null;
        while (h.Queue.TryDequeue(out var item, out var place))
        {
            var e = item.Flow;
            if (e.Serial != item.Serial || e.IsRemoved) continue;
            if (!ReferenceEquals(w.Find(e.Match, e.Priority), e))
            {
                skipped.Add(item);
                continue;
            }
            var now = EvictionOrder(e);
            if (now != place)
            {
                h.Queue.Enqueue(item, now);
                continue;
            }
            victim = e;
            break;
        }
        foreach (var item in skipped) h.Queue.Enqueue(item, EvictionOrder(item.Flow));
        skipped.Clear();
        return victim;
    }

    /// <summary>
    /// The flow to evict by a scan of the table, with eviction groups <paramref name="groups"/>: of the flows with a
    /// timeout in the largest groups, the one of lowest importance, then closest to expiry. O(flows).
    /// </summary>
    private static FlowEntry? ScanVictim(FlowTable.WriteScope w, IReadOnlyList<OfSubfield> groups)
    {
        var all = s_evictScratch ??= new List<FlowEntry>();
        all.Clear();
        w.CollectSubsets(FlowMatch.All, all);
        int n = 0;
        for (int i = 0; i < all.Count; i++)
        {
            var e = all[i];
            if ((e.IdleTimeout | e.HardTimeout) == 0) continue; // (an atomic batch's deleted flows are not collected)
            all[n++] = e;
        }
        all.RemoveRange(n, all.Count - n);
        var sizes = new Dictionary<ulong, int>();
        int largest = 0;
        foreach (var e in all)
        {
            ulong g = GroupOf(e.Match, groups);
            int size = sizes[g] = sizes.GetValueOrDefault(g) + 1;
            largest = Math.Max(largest, size);
        }
        FlowEntry? victim = null;
        ushort victimImportance = 0;
        long victimExpiry = 0;
        foreach (var e in all)
        {
            if (sizes[GroupOf(e.Match, groups)] != largest) continue;
            var (importance, expiry) = EvictionOrder(e);
            if (victim is null || importance < victimImportance || (importance == victimImportance && expiry < victimExpiry))
                (victim, victimImportance, victimExpiry) = (e, importance, expiry);
        }
        all.Clear();
        return victim;
    }

    /// <summary>
    /// The eviction group of a flow with match <paramref name="m"/>: a 64-bit hash of its values of
    /// <paramref name="fields"/> (what its match leaves wildcarded is 0), a field whose prerequisites the match does not
    /// pin hashed as a mark of its own (Open vSwitch's eviction_group_hash_rule, which hashes 32 bits).
    /// </summary>
    private static ulong GroupOf(in FlowMatch m, IReadOnlyList<OfSubfield> fields)
    {
        var value = m.Value;
        var mask = m.Mask;
        var regs = m.RegisterValue;
        var regMask = m.RegisterMask;
        ulong h = 0xcbf29ce484222325UL;
        foreach (var f in fields)
        {
            var r = f.ToDatapath();
            UInt128 v;
            if (!PrerequisitesMet(r.Field, value, mask))
            {
                v = UInt128.MaxValue;
            }
            else
            {
                var whole = FieldRef.ReadWhole(r.Field, value, regs) & FieldRef.ReadWhole(r.Field, mask, regMask);
                v = (whole >> r.Ofs) & r.ValueMask;
            }
            h = Mix(Mix(h, (ulong)(v >> 64)), (ulong)v);
        }
        return h;

        static ulong Mix(ulong h, ulong x) => (h ^ x) * 0x100000001b3UL ^ ((h ^ x) >> 29);
    }

    /// <summary>Whether a match of <paramref name="value"/>/<paramref name="mask"/> pins what field <paramref name="f"/> requires (its ethertype, and for ports its IP protocol).</summary>
    private static bool PrerequisitesMet(PipelineField f, in FlowKey value, in FlowKey mask)
    {
        int type = mask.DlType == 0xffff ? value.DlType : -1;
        bool ip = type is 0x0800 or 0x86dd;
        int proto = ip && mask.NwProto == 0xff ? value.NwProto : -1;
        return f switch
        {
            PipelineField.Ipv4Src or PipelineField.Ipv4Dst => type == 0x0800,
            PipelineField.Ipv6Src or PipelineField.Ipv6Dst => type == 0x86dd,
            PipelineField.ArpSpa or PipelineField.ArpTpa or PipelineField.ArpSha or PipelineField.ArpTha => type == 0x0806,
            PipelineField.IpProto => ip,
            PipelineField.TcpSrc or PipelineField.TcpDst => proto == 6,
            PipelineField.UdpSrc or PipelineField.UdpDst => proto == 17,
            PipelineField.SctpSrc or PipelineField.SctpDst => proto == 132,
            _ => true,
        };
    }
}
