using Softswitch.Datapath;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// The OpenFlow table set over the datapath's generic classifiers, for OpenFlow 1.0 and 1.3 alike: what a flow-mod, a
/// flow stats request and a table stats request mean. Its own layer (the Softswitch.Ofproto assembly), between the
/// wire codecs and the datapath.
/// </summary>
/// <remarks>
/// <see cref="Tables"/> is the one table model every reader reports. OpenFlow 1.0's table 0 is datapath table 0; its
/// emergency flows live in a second datapath table that is no OpenFlow table and serves lookups while
/// <see cref="UseEmergencyTable"/> is set. Under <see cref="MatchRules.MultiTable"/> tables 1..253 are pipeline stages
/// created on first use. An exact flow outranks wildcarded ones only through its priority
/// (<see cref="ExactPriority"/>), never through the classifier stage that holds it. Each flow-mod is one write scope of one table; only a batch
/// (<see cref="BeginBatch"/>, <see cref="FlowModBatch"/>) holds more than one table. Design: docs/ofproto.md, "The table set".
/// </remarks>
public sealed partial class OfFlowTables
{
    /// <summary>The one OpenFlow table (OpenFlow 1.0).</summary>
    public const byte MainTableId = 0;
    /// <summary>
    /// The table ids a flow-mod may name: 0..253, the one limit (254 is OpenFlow 1.0's emergency table in statistics,
    /// 255 OFPTT_ALL). The rule that uses it is <see cref="OfTables"/>.
    /// </summary>
    public const byte MaxTables = 254;
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

    /// <summary>The lock of a batch of flow-mods (<see cref="BeginBatch"/>): only its holder holds more than one table at a time.</summary>
    private readonly Lock _runLock = new();
    /// <summary>The open batch (the run lock's holder's).</summary>
    private FlowModBatch? _batch;
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
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_options.MaxFlows, FlowTableOptions.MaxFlowLimit, nameof(options));
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

    /// <summary>The OpenFlow tables, by id (docs/ofproto.md, "Tables"): what every controller and report is told.</summary>
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
            // A new stage takes table 0's RecycleEntries before it is published; setting it here would take the writer
            // lock of a stage another thread's run may hold (which then waits for this lock to create a goto's table).
            var stage = _pipeline.GetOrCreateStage(id, ToMissMode(miss));
            if (FindTable(id) is null)
            {
                var list = _tables.ToList();
                list.Add(new OfTable(id, NameOf(id), MaxFlowsOf(id), miss));
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
        int max = MaxFlowsOf(MainTableId);
        return stage switch
        {
            0 => new FlowTableStats(MainTableId, "hash", false, max, _main.ExactCount, t.ExactLookups, t.ExactMatched),
            1 => new FlowTableStats(MainTableId, "tuple-space", true, max, _main.WildcardCount, t.WildcardLookups, t.WildcardMatched),
            _ => throw new ArgumentOutOfRangeException(nameof(stage)),
        };
    }
}
