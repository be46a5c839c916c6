using Softswitch.Datapath;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Ofproto;

/// <summary>
/// The OpenFlow 1.0 table set over the datapath's generic classifiers: what a flow-mod, a flow stats request and a
/// table stats request mean. Its own layer (the Softswitch.Ofproto assembly), between the wire codecs and the datapath.
/// </summary>
/// <remarks>
/// <para><b>Layer</b>: owns what a controller of any OpenFlow version sees of the flows: the table model
/// (<see cref="Tables"/>), the flow-mod rules below, each version's match rules (<see cref="OfMatchRules"/>:
/// normalisation, and exactness decided on the match as received), and which flows a stats request lists (normal or
/// emergency). It may use the datapath's mechanism (the <see cref="Pipeline"/>'s <see cref="FlowTable"/>s, rules,
/// actions, matches) and must not touch any wire format, connection or controller: codecs (OpenFlow 1.0 in
/// Softswitch.OfWire, 1.3 later beside it) decode into its version-independent model (<see cref="FlowMod"/>,
/// <see cref="MatchRules"/>, <see cref="FlowModStatus"/>, <see cref="OfTable"/>, <see cref="FlowTableStats"/>,
/// <see cref="OfFlowRule"/>), map its results onto their codes explicitly, and encode them. A project of its own
/// rather than a folder of the agent, so that the compiler keeps the direction one-way (Wire → Ofproto → Datapath):
/// this assembly cannot see the codec, the datapath cannot see it. The rest of what a controller observes (packet
/// buffers and their release, port validation of actions, the flow-removed decision, packet-out, fail mode, roles) is
/// <see cref="OfSwitch"/>'s, over this table set. It may not touch what is the agent's (connections, sockets, wire
/// formats) nor the datapath's insides: it ranks flows only through the priorities it gives rules and the
/// classifier's documented tie rule, never through which stage of a <see cref="FlowTable"/> holds a rule, and it
/// reaches forwarding only through the tables it writes. Its tests (Ofproto.Tests) check it against an OpenFlow 1.0
/// reference; the classifier's own rules are checked in Datapath.Tests.</para>
/// <para><b>Tables</b>: the OpenFlow table model is <see cref="Tables"/>, the one answer every reader gives (features'
/// n_tables, table stats, flow stats' table ids, the host's dp/show, dump-flows and trace, the metrics): for OpenFlow
/// 1.0 one table, id 0 ("classifier"), whose miss goes to the controller. Its flows live in datapath table 0 (where
/// packets are classified); emergency flows (<see cref="FlowModFlags.Emergency"/>, which need idle = hard = 0) in a
/// second datapath table that serves lookups instead while <see cref="UseEmergencyTable"/> is set, and that is not an
/// OpenFlow table of the model (OF1.0 lists it as 0xfe). The classifier's two stages, the hash stage (all-ones
/// masks) and the tuple space, each have their own counters (<see cref="GetStageStats"/>): detail of table 0, not
/// tables; either may hold up to the table's <see cref="FlowTableOptions.MaxFlows"/>, which bounds them together. An
/// exact flow ranks
/// above every wildcard flow because its priority is normalised to 0xFFFF (as Open vSwitch does for OF1.0), in
/// entries and in strict requests, and the classifier lets the more specific rule win ties. Exactness is decided on
/// the match as received (<see cref="OfMatchRules.IsExact"/>); the flow keeps the match its
/// <see cref="FlowMod.Rules"/> normalise it to (<see cref="OfMatchRules.Normalize"/>), so an OF1.0 exact flow for ARP
/// keeps nw_tos and the ports wildcarded and lives in the tuple space, still at 0xFFFF.</para>
/// <para><b>Flow-mods</b>: ADD replaces a flow with identical match and priority (a new entry, counters and duration
/// reset, no flow-removed), honours CheckOverlap (a flow of the same priority that some packet could match too,
/// including an identical one, fails with Overlap). MODIFY changes the actions (and, per
/// <see cref="FlowTableOptions.ModifyUpdatesCookie"/>, the cookie) of every flow whose match is a subset of the
/// request, keeping counters, timeouts and flags; MODIFY_STRICT of the flow with identical match and priority; either
/// acts as ADD when nothing matches. DELETE removes every flow whose match is a subset of the request; DELETE_STRICT
/// the identical one; both filtered by out_port unless it is OFPP_NONE, and returned to the caller (reason Delete;
/// the caller decides about SendFlowRemoved). The Emergency flag of any command selects the emergency table.
/// Capacity is enforced per table, <see cref="FlowTableOptions.MaxFlows"/> flows of any kind in each (TableFull,
/// never silent).</para>
/// <para><b>OpenFlow 1.3</b> (<see cref="MatchRules.OpenFlow13"/>): a flow-mod may name tables 1..254, each a stage of
/// the datapath's <see cref="Pipeline"/> created on first use (and then in <see cref="Tables"/>), and carry
/// instructions (<see cref="FlowMod.Instructions"/>: write/clear-actions, write-metadata, a goto-table that must go
/// forward, a meter carried but not executed); its matches are kept as given and exact ones are not ranked above the
/// others. A table created under these rules drops what it does not match (<see cref="TableMiss.Drop"/>: the
/// table-miss flow, priority 0 with every field wildcarded, is an ordinary flow that decides otherwise); the codec
/// sets table 0's miss the same way (<see cref="SetTableMiss"/>). A DELETE with <see cref="FlowModRequest.AllTables"/>
/// deletes in every table; MODIFY replaces the instructions too. OpenFlow 1.0's flow-mods stay as above: table 0 only,
/// apply-actions only.</para>
/// <para><b>Concurrency</b>: each flow-mod is one write scope of one datapath table (published whole when it ends,
/// see <see cref="FlowTable"/>); a batch takes each table's scope once, one table at a time, and publishes each once.
/// A run (<see cref="BeginRun"/>) keeps every table its flow-mods wrote held, unpublished, until it ends; runs take
/// one lock first, so only a run ever holds two tables. Expiry runs on the datapath's maintenance thread through the
/// same scopes.</para>
/// </remarks>
public sealed class OfFlowTables
{
    /// <summary>The one OpenFlow table (OpenFlow 1.0).</summary>
    public const byte MainTableId = 0;
    /// <summary>The classifier stages of table 0 (<see cref="GetStageStats"/>): the hash stage, the tuple space.</summary>
    public const int StageCount = 2;
    /// <summary>The priority of every exact flow.</summary>
    public const ushort ExactPriority = FlowTable.MaxPriority;

    private readonly Pipeline _pipeline;
    private readonly FlowTable _main;
    private readonly FlowTable _emergency;
    private readonly FlowTableOptions _options;
    private volatile OfTable[] _tables;
    private readonly Lock _tablesLock = new();
    private readonly IClock _clock;
    private volatile bool _useEmergency;

    /// <summary>A run's lock (<see cref="BeginRun"/>): only its holder holds more than one table at a time.</summary>
    private readonly Lock _runLock = new();
    /// <summary>The tables the current run holds (<see cref="FlowTable.Hold"/>) and the flow-mods it applied; the run's holder's.</summary>
    private readonly List<FlowTable> _held = new();
    private int _runMods;
    /// <summary>Flow-mods after which a run publishes what it holds and goes on (other writers and readers wait no longer).</summary>
    public const int MaxRunFlowMods = 1024;

    // Writer-private scratch (used under the table's write scope only).
    [ThreadStatic] private static List<FlowEntry>? s_scratch;

    /// <summary>The table set of a datapath: its table 0 and an emergency table added to its pipeline.</summary>
    public OfFlowTables(SwitchDatapath dp, FlowTableOptions? options = null) : this(dp.Pipeline, dp.Clock, options) { }

    /// <summary>A table set over a pipeline of its own (no forwarders: tests, tools).</summary>
    public OfFlowTables(IClock? clock = null, FlowTableOptions? options = null)
        : this(new Pipeline(clock ?? MonotonicClock.Instance), clock ?? MonotonicClock.Instance, options) { }

    private OfFlowTables(Pipeline pipeline, IClock clock, FlowTableOptions? options)
    {
        _pipeline = pipeline;
        _clock = clock;
        _options = options ?? new FlowTableOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxFlows, 1, nameof(options));
        _tables = [new OfTable(MainTableId, "classifier", _options.MaxFlows, TableMiss.Controller)];
        _main = pipeline.Stage(0)!;
        _emergency = pipeline.AddTable();
        _main.RecycleEntries = _options.RecycleEntries;
        _emergency.RecycleEntries = _options.RecycleEntries;
    }

    public FlowTableOptions Options => _options;
    public IClock Clock => _clock;
    public Pipeline Pipeline => _pipeline;

    /// <summary>
    /// The reclamation domain of both tables (the pipeline's): a thread that keeps flows these tables hand out takes
    /// a hold of it first when <see cref="FlowTableOptions.RecycleEntries"/> is on.
    /// </summary>
    public QuiescentDomain Reclamation => _pipeline.Reclamation;

    /// <summary>The datapath table holding the normal flows (what hardware offload mirrors).</summary>
    public FlowTable Main => _main;

    /// <summary>The datapath table holding the emergency flows.</summary>
    public FlowTable EmergencyTable => _emergency;

    /// <summary>Bumped once per published change of the normal flows.</summary>
    public long Version => _main.Version;

    /// <summary>The cache version of the normal flows' table.</summary>
    public long CacheVersion => _main.CacheVersion;

    /// <summary>When true (controller connection lost, fail mode secure), lookups use only the emergency flows.</summary>
    public bool UseEmergencyTable
    {
        get => _useEmergency;
        set
        {
            _useEmergency = value;
            _pipeline.Redirect(value ? _emergency : null);
        }
    }

    public int ActiveExact => _main.ExactCount;
    public int ActiveWildcard => _main.WildcardCount;
    public int Emergency => _emergency.Count;

    /// <summary>Wildcard subtables (distinct masks) of the normal flows.</summary>
    public int WildcardSubtableCount => _main.WildcardSubtableCount;

    /// <summary>The OpenFlow tables, by id (see the type remarks): what every controller and report is told.</summary>
    public ReadOnlySpan<OfTable> Tables => _tables;

    /// <summary>How many OpenFlow tables there are (features' n_tables).</summary>
    public int TableCount => _tables.Length;

    /// <summary>Whether OpenFlow table <paramref name="id"/> exists (table 0 always; others once a flow-mod created them).</summary>
    public bool HasTable(byte id) => FindTable(id) is not null;

    private OfTable? FindTable(byte id)
    {
        foreach (var t in _tables)
            if (t.Id == id) return t;
        return null;
    }

    /// <summary>
    /// Sets what table <paramref name="tableId"/> does with a packet none of its flows matches, creating the table when
    /// it does not exist yet (the datapath applies it to the table's stage at once). OpenFlow 1.0's table 0 keeps
    /// <see cref="TableMiss.Controller"/>; an OpenFlow 1.3 codec sets <see cref="TableMiss.Drop"/>.
    /// </summary>
    public void SetTableMiss(byte tableId, TableMiss miss)
    {
        if (tableId > FlowInstructions.MaxTableId) throw new ArgumentOutOfRangeException(nameof(tableId));
        var stage = StageFor(tableId, miss);
        // Only the stages' classification knows per-table misses (table 0 alone misses as the datapath's fail mode says).
        if (miss != TableMiss.Controller) _pipeline.EnableStages();
        stage.MissMode = ToMissMode(miss);
        lock (_tablesLock)
        {
            var list = _tables.ToList();
            int i = list.FindIndex(t => t.Id == tableId);
            list[i] = list[i] with { Miss = miss };
            _tables = [.. list];
        }
    }

    private static TableMissMode ToMissMode(TableMiss miss) => miss switch
    {
        TableMiss.Drop => TableMissMode.Drop,
        TableMiss.Continue => TableMissMode.Continue,
        _ => TableMissMode.Controller,
    };

    /// <summary>The datapath stage of OpenFlow table <paramref name="id"/>, created (and listed in <see cref="Tables"/>) with <paramref name="miss"/> when new.</summary>
    private FlowTable StageFor(byte id, TableMiss miss)
    {
        if (_pipeline.Stage(id) is { } existing) return existing;
        lock (_tablesLock)
        {
            var stage = _pipeline.GetOrCreateStage(id, ToMissMode(miss));
            stage.RecycleEntries = _options.RecycleEntries;
            if (FindTable(id) is null)
            {
                var list = _tables.ToList();
                list.Add(new OfTable(id, "table" + id, _options.MaxFlows, miss));
                list.Sort((a, b) => a.Id.CompareTo(b.Id));
                _tables = [.. list];
            }
            return stage;
        }
    }

    /// <summary>Registers an observer of the normal flows' table (see <see cref="IFlowTableObserver"/>).</summary>
    public void AddObserver(IFlowTableObserver observer) => _main.AddObserver(observer);

    public void RemoveObserver(IFlowTableObserver observer) => _main.RemoveObserver(observer);

    // ================================================================ lookups (what the datapath does per packet)

    /// <summary>The winning flow for one packet, without cache and without stats.</summary>
    /// <param name="hash">The packet's hash (unused by the tables, which hash masked keys themselves).</param>
    public FlowEntry? Lookup(in FlowKey key, uint hash) => _pipeline.LookupTable.Lookup(key);

    /// <summary>The winning flow for one packet, counted in <paramref name="stats"/> when given.</summary>
    public FlowEntry? Lookup(in FlowKey key, uint hash, FlowTableThreadStats? stats) => _pipeline.LookupTable.Lookup(key, stats);

    /// <summary>
    /// For diagnostics: the winning flow in the table lookups use now (the emergency flows while they are in use) and
    /// the stage that found it, without cache, counters or any other side effect.
    /// </summary>
    public LookupTrace Trace(in FlowKey key) => _pipeline.LookupTable.Trace(key);

    /// <summary>The datapath's burst lookup on the table in use (the cache is bypassed while emergency flows are in use).</summary>
    public void LookupBurst(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<uint> hashes, Span<FlowEntry?> results,
                            ExactMatchCache? cache, FlowTableThreadStats? stats = null)
    {
        var table = _pipeline.LookupTable;
        table.LookupBurst(keys, hashes, results, ReferenceEquals(table, _main) ? cache : null, stats);
    }

    /// <summary>Lookup counters of a forwarding thread (summed into <see cref="GetTableStats"/>).</summary>
    public FlowTableThreadStats CreateThreadStats() => _pipeline.CreateThreadStats();

    public void ReleaseThreadStats(FlowTableThreadStats stats) => _pipeline.ReleaseThreadStats(stats);

    // ================================================================ flow-mods

    /// <summary>Applies one flow-mod (see the type remarks) and publishes it.</summary>
    /// <param name="removed">Receives the flows a DELETE removed (reason Delete), or null to discard them.</param>
    public FlowModStatus Apply(in FlowMod mod, List<FlowRemoved>? removed = null) => Apply(mod, removed, out _);

    /// <summary>Applies one flow-mod and publishes it, returning the flow it leaves in place.</summary>
    /// <param name="removed">Receives the flows a DELETE removed (reason Delete), or null to discard them.</param>
    /// <param name="flow">
    /// After a successful ADD, MODIFY or MODIFY_STRICT: the flow with exactly the request's match and (normalised)
    /// priority, the one that processes a buffered packet the request releases: the inserted entry, or the existing
    /// flow a modify changed. Null otherwise (a DELETE, a failure, a non-strict modify that changed only broader
    /// flows).
    /// </param>
    public FlowModStatus Apply(in FlowMod mod, List<FlowRemoved>? removed, out FlowEntry? flow)
    {
        flow = null;
        var st = Check(mod);
        if (st != FlowModStatus.Ok) return st;
        bool delete = mod.Command is FlowModCommand.Delete or FlowModCommand.DeleteStrict;
        bool run = _runLock.IsHeldByCurrentThread;
        // In a run, the emergency table and every-table deletes stand alone: what the run holds is published first.
        if (run && (IsEmergency(mod) || mod.TableId == FlowModRequest.AllTables)) PublishRun();
        if (!IsEmergency(mod) && mod.TableId == FlowModRequest.AllTables)
        {
            // OFPTT_ALL (deletes only, Check says): every table in turn, each published on its own.
            foreach (int id in _pipeline.StageIds())
            {
                using var all = _pipeline.Stage(id)!.Write();
                ApplyLocked(all, mod, removed, _clock.NowNanos, out _);
            }
            return FlowModStatus.Ok;
        }
        if (delete && !IsEmergency(mod) && _pipeline.Stage(mod.TableId) is null) return FlowModStatus.Ok;
        if (mod.Instructions is { } ins)
        {
            _pipeline.EnableStages();
            // The table a goto names exists from now on (empty, it drops: OpenFlow 1.3 without a table-miss flow).
            if (ins.GotoTable != FlowInstructions.NoGoto) StageFor((byte)ins.GotoTable, TableMiss.Drop);
        }
        var table = TableFor(mod);
        if (run && !IsEmergency(mod)) HoldForRun(table);
        using var w = table.Write();
        return ApplyLocked(w, mod, removed, _clock.NowNanos, out flow);
    }

    /// <summary>
    /// Starts a run on this thread (nothing when one is on already): until <see cref="EndRun"/>, every table a flow-mod
    /// applied by this thread writes stays held (<see cref="FlowTable.Hold"/>), its changes visible to lookups as one
    /// publication when the run ends, so a burst of flow-mods (a controller's, read together) moves the tables'
    /// versions, and checks the forwarders' cached pipeline verdicts, once per table instead of once per flow-mod.
    /// Open vSwitch's datapath sees a burst of flow-mods the same way: its revalidators bring the caches up to date
    /// once for all of them.
    /// </summary>
    /// <remarks>
    /// <para>The caller ends the run before anything that must see the flow-mods in effect (a barrier, a packet-out, a
    /// statistics request: any other message), before anything that may block (waiting to read, or for a peer to
    /// take replies), and before taking any other lock that a writer may hold while it waits for a table (group and
    /// meter locks: <see cref="OfSwitch"/> ends the run for a flow-mod that uses groups or a meter). A flow-mod for the
    /// emergency table or every table publishes what the run holds first and is applied on its own. Every
    /// <see cref="MaxRunFlowMods"/> flow-mods the run publishes and goes on.</para>
    /// <para>Only a run holds two tables: it takes <c>_runLock</c> first, and every other writer holds one table at a
    /// time, so no lock order can cross.</para>
    /// </remarks>
    public void BeginRun()
    {
        if (_runLock.IsHeldByCurrentThread) return;
        _runLock.Enter();
        _runMods = 0;
    }

    /// <summary>Ends this thread's run (nothing when none is on): publishes every table it holds and lets go of them.</summary>
    public void EndRun()
    {
        if (!_runLock.IsHeldByCurrentThread) return;
        try
        {
            PublishRun();
        }
        finally
        {
            _runLock.Exit();
        }
    }

    /// <summary>Whether this thread is in a run.</summary>
    public bool InRun => _runLock.IsHeldByCurrentThread;

    /// <summary>Publishes and lets go of every table the run holds (the run goes on).</summary>
    private void PublishRun()
    {
        Exception? first = null;
        foreach (var t in _held)
        {
            try { t.Unhold(); }
            catch (Exception e) { first ??= e; }
        }
        _held.Clear();
        _runMods = 0;
        if (first is not null) throw first;
    }

    /// <summary>In a run, holds <paramref name="table"/> (once) for the run's flow-mod about to write it.</summary>
    private void HoldForRun(FlowTable table)
    {
        if (++_runMods > MaxRunFlowMods) PublishRun();
        foreach (var t in _held)
            if (ReferenceEquals(t, table)) return;
        table.Hold();
        _held.Add(table);
    }

    /// <summary>What the flow-mod's rules allow: table ids, instructions, a forward goto.</summary>
    private static FlowModStatus Check(in FlowMod mod)
    {
        bool delete = mod.Command is FlowModCommand.Delete or FlowModCommand.DeleteStrict;
        if (mod.Rules != MatchRules.OpenFlow13)
        {
            if (mod.Instructions is not null && !delete) return FlowModStatus.UnsupportedInstruction;
            if (mod.TableId != MainTableId && !(delete && mod.TableId == FlowModRequest.AllTables)) return FlowModStatus.BadTableId;
            return FlowModStatus.Ok;
        }
        if (mod.TableId == FlowModRequest.AllTables) return delete ? FlowModStatus.Ok : FlowModStatus.BadTableId;
        if (mod.TableId > FlowInstructions.MaxTableId) return FlowModStatus.BadTableId;
        if (!delete && mod.Instructions is { GotoTable: not FlowInstructions.NoGoto } i && i.GotoTable <= mod.TableId)
            return FlowModStatus.BadGotoTable;
        return FlowModStatus.Ok;
    }

    /// <summary>
    /// Applies flow-mods in order, each table's under one acquisition of its writer scope, published once per table
    /// (so a run of flow-mods moves each table's versions, and the pipeline's change count, once, not once per
    /// flow-mod; cached pipeline verdicts are checked once per run instead of after each). Each flow-mod gets the
    /// status <see cref="Apply(in FlowMod, List{FlowRemoved}?)"/> would give it.
    /// </summary>
    /// <remarks>
    /// Every flow-mod touches one table (OFPTT_ALL deletes aside, which are applied on their own, in their place), and
    /// what it does depends on that table alone, so the flow-mods of each table are applied in their order, one table
    /// at a time: the result is the one of applying them one by one. Only one table's writer lock is held at a time
    /// (no lock order to keep with other writers). The tables a goto names are created first, as
    /// <see cref="Apply(in FlowMod, List{FlowRemoved}?)"/> creates them before its flow-mod.
    /// </remarks>
    public void ApplyBatch(ReadOnlySpan<FlowMod> mods, Span<FlowModStatus> statuses, List<FlowRemoved>? removed)
    {
        if (statuses.Length < mods.Length) throw new ArgumentException("fewer statuses than flow-mods", nameof(statuses));
        int start = 0;
        for (int i = 0; i <= mods.Length; i++)
        {
            // A delete from every table ends a run: the run before it is applied, then it on its own.
            if (i < mods.Length && !(mods[i].TableId == FlowModRequest.AllTables && !IsEmergency(mods[i]))) continue;
            ApplyRun(mods[start..i], statuses[start..i], removed);
            if (i < mods.Length) statuses[i] = Apply(mods[i], removed);
            start = i + 1;
        }
    }

    /// <summary><see cref="ApplyBatch"/> for flow-mods none of which names every table.</summary>
    private void ApplyRun(ReadOnlySpan<FlowMod> mods, Span<FlowModStatus> statuses, List<FlowRemoved>? removed)
    {
        if (mods.IsEmpty) return;
        // Checked first, and the tables gotos name and the flow-mods' own created, as Apply does before taking the
        // table's scope; a delete whose table does not exist is done. Pending marks the rest.
        const FlowModStatus Pending = (FlowModStatus)byte.MaxValue;
        for (int i = 0; i < mods.Length; i++)
        {
            ref readonly var mod = ref mods[i];
            var st = Check(mod);
            if (st == FlowModStatus.Ok)
            {
                bool delete = mod.Command is FlowModCommand.Delete or FlowModCommand.DeleteStrict;
                if (delete && !IsEmergency(mod) && _pipeline.Stage(mod.TableId) is null) { statuses[i] = FlowModStatus.Ok; continue; }
                if (mod.Instructions is { } ins)
                {
                    _pipeline.EnableStages();
                    if (ins.GotoTable != FlowInstructions.NoGoto) StageFor((byte)ins.GotoTable, TableMiss.Drop);
                }
                TableFor(mod); // created here, under no table's writer lock
                st = Pending;
            }
            statuses[i] = st;
        }
        long now = _clock.NowNanos;
        for (int i = 0; i < mods.Length; i++)
        {
            if (statuses[i] != Pending) continue;
            // The first pending flow-mod's table: every pending flow-mod of that table, in order, under one scope.
            var table = TableFor(mods[i]);
            using var w = table.Write();
            for (int j = i; j < mods.Length; j++)
            {
                if (statuses[j] != Pending || !ReferenceEquals(TableFor(mods[j]), table)) continue;
                statuses[j] = ApplyLocked(w, mods[j], removed, now, out _);
            }
        }
    }

    /// <summary>
    /// Removes every flow whose idle or hard timeout has passed, appending them to <paramref name="removed"/>
    /// (the datapath's maintenance does this on its own; tests and tools call it directly).
    /// </summary>
    public int Expire(List<FlowRemoved> removed)
    {
        int n = _emergency.Expire(removed);
        foreach (int id in _pipeline.StageIds()) n += _pipeline.Stage(id)!.Expire(removed);
        return n;
    }

    private static bool IsEmergency(in FlowMod mod) => (mod.Flags & FlowModFlags.Emergency) != 0;

    private FlowTable TableFor(in FlowMod mod)
        => IsEmergency(mod) ? _emergency : mod.TableId == MainTableId ? _main : StageFor(mod.TableId, TableMiss.Drop);

    private FlowModStatus ApplyLocked(FlowTable.WriteScope w, in FlowMod mod, List<FlowRemoved>? removed, long now,
                                      out FlowEntry? flow)
    {
        flow = null;
        var t = new Target(mod);
        switch (mod.Command)
        {
            case FlowModCommand.Add:
                return AddLocked(w, mod, t, now, out flow);
            case FlowModCommand.Modify:
                return ModifyLocked(w, mod, t, strict: false, now, out flow);
            case FlowModCommand.ModifyStrict:
                return ModifyLocked(w, mod, t, strict: true, now, out flow);
            case FlowModCommand.Delete:
                DeleteLocked(w, mod, t, strict: false, removed, now);
                return FlowModStatus.Ok;
            case FlowModCommand.DeleteStrict:
                DeleteLocked(w, mod, t, strict: true, removed, now);
                return FlowModStatus.Ok;
            default:
                return FlowModStatus.BadCommand;
        }
    }

    /// <summary>The priority a flow is looked up with: <see cref="ExactPriority"/> for an exact flow, else the requested one.</summary>
    internal static ushort RankOf(bool exact, ushort priority) => exact ? ExactPriority : priority;

    /// <summary>A flow-mod's match as its flows keep it, whether it is exact (decided on the match as received), and its rank.</summary>
    private readonly struct Target
    {
        public readonly FlowMatch Match;
        public readonly bool Exact;
        public readonly ushort Rank;

        public Target(in FlowMod mod)
        {
            Match = OfMatchRules.Normalize(mod.Match, mod.Rules);
            Exact = OfMatchRules.RanksExact(mod.Rules) && OfMatchRules.IsExact(mod.Match);
            Rank = RankOf(Exact, mod.Priority);
        }
    }

    private FlowModStatus AddLocked(FlowTable.WriteScope w, in FlowMod mod, in Target t, long now, out FlowEntry? flow)
    {
        flow = null;
        bool emergency = IsEmergency(mod);
        if (emergency && (mod.IdleTimeout | mod.HardTimeout) != 0) return FlowModStatus.BadEmergencyTimeout;

        if ((mod.Flags & FlowModFlags.CheckOverlap) != 0 && w.HasOverlap(t.Match, t.Rank)) return FlowModStatus.Overlap;

        var replaced = w.Find(t.Match, t.Rank);
        if (replaced is null)
        {
            // Capacity is the table's, whichever classifier stage the flow lands in (all-ones masks in the hash stage).
            bool full = emergency ? _emergency.Count >= _options.MaxEmergencyFlows : w.Table.Count >= _options.MaxFlows;
            if (full) return FlowModStatus.TableFull;
        }

        flow = OfFlowRule.NewEntry(w, t.Match, t.Exact, mod.Priority, mod.Actions, mod.Cookie, mod.IdleTimeout, mod.HardTimeout, mod.Flags, now,
                                   emergency ? MainTableId : mod.TableId);
        if (mod.Instructions is not null) w.SetInstructions(flow, mod.Instructions);
        // OpenFlow 1.3.5 section 6.4: a replaced flow's counters carry over unless RESET_COUNTS (1.0 clears them).
        if (replaced is not null && mod.Rules == MatchRules.OpenFlow13 && (mod.Flags & FlowModFlags.ResetCounts) == 0)
            flow.AddCounts(replaced.Packets, replaced.Bytes);
        w.Insert(flow);
        return FlowModStatus.Ok;
    }

    private FlowModStatus ModifyLocked(FlowTable.WriteScope w, in FlowMod mod, in Target t, bool strict, long now, out FlowEntry? flow)
    {
        var targets = Scratch();
        CollectTargets(w, t, strict, targets);
        if (mod.CookieMask != 0) FilterCookie(targets, mod.Cookie, mod.CookieMask);
        // OpenFlow 1.0: a modify that matches nothing adds its flow, and sets the cookie of those it changes. OpenFlow
        // 1.1+ (1.3.5 section 6.4): neither; the flow's cookie, timeouts, flags and counters stay (Open vSwitch alike).
        bool of13 = mod.Rules == MatchRules.OpenFlow13;
        flow = null;
        if (targets.Count == 0) return of13 ? FlowModStatus.Ok : AddLocked(w, mod, t, now, out flow);

        bool cookie = _options.ModifyUpdatesCookie && !of13;
        // OpenFlow 1.3.5 section 6.4: a modify keeps the flows' counters unless it has RESET_COUNTS.
        bool reset = of13 && (mod.Flags & FlowModFlags.ResetCounts) != 0;
        foreach (var e in targets)
        {
            if (reset) e.ResetCounters();
            w.SetActions(e, mod.Actions);
            if (mod.Rules == MatchRules.OpenFlow13) w.SetInstructions(e, mod.Instructions);
            if (cookie) w.SetTag(e, mod.Cookie);
            if (e.Priority == t.Rank && e.Match == t.Match) flow = e;
        }
        targets.Clear();
        return FlowModStatus.Ok;
    }

    private static void DeleteLocked(FlowTable.WriteScope w, in FlowMod mod, in Target t, bool strict, List<FlowRemoved>? removed, long now)
    {
        var targets = Scratch();
        CollectTargets(w, t, strict, targets);
        if (mod.OutPort != PortNumber.None) FilterOutPort(targets, 0, mod.OutPort);
        if (mod.OutGroup != FlowModRequest.AnyGroup) FilterOutGroup(targets, 0, mod.OutGroup);
        if (mod.CookieMask != 0) FilterCookie(targets, mod.Cookie, mod.CookieMask);
        if (targets.Count == 0) return;
        w.Remove(targets);
        if (removed is not null)
        {
            foreach (var e in targets)
                removed.Add(new FlowRemoved(e, FlowRemovedReason.Delete, now - e.CreatedNanos, e.Packets, e.Bytes));
        }

        targets.Clear();
    }

    /// <summary>Strict: the flow with identical match and rank. Non-strict: every subset.</summary>
    private static void CollectTargets(FlowTable.WriteScope w, in Target t, bool strict, List<FlowEntry> into)
    {
        if (strict)
        {
            if (w.Find(t.Match, t.Rank) is { } e) into.Add(e);
            return;
        }
        w.CollectSubsets(t.Match, into);
    }

    /// <summary>Keeps the flows that output to <paramref name="outPort"/> in their apply-actions or write-actions.</summary>
    private static void FilterOutPort(List<FlowEntry> list, int start, ushort outPort)
    {
        int w = start;
        for (int r = start; r < list.Count; r++)
        {
            var e = list[r];
            if (e.Actions.OutputsTo(outPort) || e.Instructions?.WriteActions?.OutputsTo(outPort) == true) list[w++] = e;
        }
        list.RemoveRange(w, list.Count - w);
    }

    /// <summary>Whether a flow applies group <paramref name="groupId"/> (in its apply-actions or write-actions).</summary>
    public static bool AppliesGroup(FlowEntry e, uint groupId)
        => e.Actions.AppliesGroup(groupId) || e.Instructions?.WriteActions?.AppliesGroup(groupId) == true;

    /// <summary>Keeps the flows that apply group <paramref name="groupId"/> (OpenFlow 1.3's out_group filter).</summary>
    internal static void FilterOutGroup(List<FlowEntry> list, int start, uint groupId)
    {
        int w = start;
        for (int r = start; r < list.Count; r++)
            if (AppliesGroup(list[r], groupId)) list[w++] = list[r];
        list.RemoveRange(w, list.Count - w);
    }

    /// <summary>
    /// Removes every flow of every table (not the emergency flows) that <paramref name="which"/> selects, each table
    /// published on its own, and reports them with <paramref name="reason"/> (a group's or meter's deletion).
    /// </summary>
    public void RemoveWhere(Func<FlowEntry, bool> which, FlowRemovedReason reason, List<FlowRemoved> removed)
    {
        var targets = new List<FlowEntry>();
        long now = _clock.NowNanos;
        foreach (int id in _pipeline.StageIds())
        {
            using var w = _pipeline.Stage(id)!.Write();
            targets.Clear();
            w.CollectSubsets(FlowMatch.All, targets);
            targets.RemoveAll(e => !which(e));
            if (targets.Count == 0) continue;
            w.Remove(targets);
            foreach (var e in targets) removed.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
        }
    }

    /// <summary>Keeps the flows whose cookie equals <paramref name="cookie"/> under <paramref name="mask"/>.</summary>
    internal static void FilterCookie(List<FlowEntry> list, ulong cookie, ulong mask)
    {
        int w = 0;
        for (int r = 0; r < list.Count; r++)
            if ((OfFlowRule.CookieOf(list[r]) & mask) == (cookie & mask)) list[w++] = list[r];
        list.RemoveRange(w, list.Count - w);
    }

    private static List<FlowEntry> Scratch()
    {
        var l = s_scratch ??= new List<FlowEntry>();
        l.Clear();
        return l;
    }

    // ================================================================ queries (off the hot path)

    /// <summary>
    /// Appends the flows a stats request selects: non-strict, every flow whose match is a subset of
    /// <paramref name="match"/>; strict, every flow with exactly that match (any priority); then filtered by
    /// <paramref name="outPort"/> unless it is OFPP_NONE. Normal or emergency flows. Order unspecified.
    /// </summary>
    public void Collect(in FlowMatch match, ushort outPort, bool strict, List<FlowEntry> into, bool emergency = false)
        => Collect(match, outPort, strict, into, emergency, FlowModRequest.AllTables);

    /// <summary>As <see cref="Collect(in FlowMatch, ushort, bool, List{FlowEntry}, bool)"/>, in table <paramref name="tableId"/> only (<see cref="FlowModRequest.AllTables"/>: every table, ascending).</summary>
    public void Collect(in FlowMatch match, ushort outPort, bool strict, List<FlowEntry> into, bool emergency, byte tableId)
    {
        if (emergency)
        {
            CollectFrom(_emergency, match, outPort, strict, into);
            return;
        }
        if (tableId != FlowModRequest.AllTables)
        {
            if (_pipeline.Stage(tableId) is { } one) CollectFrom(one, match, outPort, strict, into);
            return;
        }
        foreach (int id in _pipeline.StageIds()) CollectFrom(_pipeline.Stage(id)!, match, outPort, strict, into);
    }

    private static void CollectFrom(FlowTable table, in FlowMatch match, ushort outPort, bool strict, List<FlowEntry> into)
    {
        using var w = table.Write();
        int start = into.Count;
        if (strict) w.CollectIdentical(match, into);
        else w.CollectSubsets(match, into);
        if (outPort != PortNumber.None) FilterOutPort(into, start, outPort);
    }

    /// <summary>
    /// Stats of OpenFlow table <paramref name="tableId"/> (of <see cref="Tables"/>). Every lookup consults the hash
    /// stage first, so its lookup count is the table's (the tuple space's lookups are the same packets again); matches
    /// are the sum of the stages'.
    /// </summary>
    public FlowTableStats GetTableStats(int tableId)
    {
        if ((uint)tableId > byte.MaxValue || FindTable((byte)tableId) is not { } table) throw new ArgumentOutOfRangeException(nameof(tableId));
        var (lookups, matched) = _pipeline.GetStageTotals(table.Id);
        var stage = _pipeline.Stage(table.Id)!;
        if (table.Id == MainTableId)
        {
            // Table 0 is looked up by the single-table classification too (while the pipeline has one stage).
            var t = _pipeline.GetLookupTotals();
            lookups += t.ExactLookups;
            matched += t.ExactMatched + t.WildcardMatched;
        }
        return new FlowTableStats(table.Id, table.Name, true, table.MaxEntries, stage.Count, lookups, matched);
    }

    /// <summary>
    /// Stats of classifier stage <paramref name="stage"/> of table 0: 0 the hash stage ("hash"), 1 the tuple space
    /// ("tuple-space"). Each may hold up to the table's limit (they share it), so that is the max each reports.
    /// </summary>
    public FlowTableStats GetStageStats(int stage)
    {
        var t = _pipeline.GetLookupTotals();
        return stage switch
        {
            0 => new FlowTableStats(MainTableId, "hash", false, _options.MaxFlows, _main.ExactCount, t.ExactLookups, t.ExactMatched),
            1 => new FlowTableStats(MainTableId, "tuple-space", true, _options.MaxFlows, _main.WildcardCount, t.WildcardLookups, t.WildcardMatched),
            _ => throw new ArgumentOutOfRangeException(nameof(stage)),
        };
    }
}
