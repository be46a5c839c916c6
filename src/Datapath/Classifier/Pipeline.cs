namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The datapath's classifiers: the tables its maintenance expires, the one forwarders look packets up in, and the
/// forwarders' lookup counters.
/// </summary>
/// <remarks>
/// <para><b>Stages</b>: table 0 is created with the pipeline and is where packets are classified. Further stages, ids
/// 1..254 (<see cref="GetOrCreateStage"/>), are created on demand; a rule continues a packet in a later stage by its
/// <see cref="Flow.FlowInstructions.GotoTable"/>, carrying state in the key's metadata word and in the action set
/// (<see cref="PipelineWalk"/> has the semantics). While no stage but table 0 exists and no rule carries instructions
/// (<see cref="IsMultiStage"/> false, e.g. OpenFlow 1.0), forwarders classify in one table exactly as they always
/// did; once it is true they classify through the whole pipeline and cache its composed result per packet key
/// (<see cref="PipelineVerdict"/>).</para>
/// <para>A policy layer may also add tables outside the stages (<see cref="AddTable"/>) and have lookups of table 0
/// served by one of them for a while (<see cref="Redirect"/>, e.g. a standby rule set, consulted alone); the
/// maintenance expires every table's rules whether or not lookups use it.</para>
/// <para>Thread safety: <see cref="LookupTable"/> is one volatile reference, read once per burst by forwarders. A
/// forwarder that sees it change clears its own exact-match cache (results of another table); besides, cache
/// versions never repeat across tables (see <see cref="FlowTable.CacheVersion"/>). Table registration, stage creation
/// and redirection are serialised by a lock; the statistics registry by another. Stages are published by one
/// reference store into the stage array, never removed.</para>
/// <para>Reclamation: every table of the pipeline shares one <see cref="QuiescentDomain"/>
/// (<see cref="Reclamation"/>), in which each forwarding thread registers as a reader and announces its quiescent
/// points (see <see cref="FlowTable.RecycleEntries"/>).</para>
/// </remarks>
public sealed class Pipeline
{
    private readonly Lock _lock = new();
    private readonly Flow.IClock _clock;
    private readonly QuiescentDomain _reclamation = new();
    private volatile FlowTable[] _tables;
    private volatile FlowTable _lookup;
    private readonly FlowTable?[] _stages = new FlowTable?[MaxStages];
    private volatile bool _multiStage;
    private readonly ShadowClass _stageCreations = new(default, -1, 0);
    private readonly ShadowClass _changes = new(default, -1, 0);
    private readonly TablesVersion _versions = new();
    private PipelineStageStats[] _stageStats = [];
    private readonly long[] _retiredStageLookups = new long[MaxStages], _retiredStageMatched = new long[MaxStages];

    /// <summary>Stages a pipeline can have: table ids 0..254 (OFPTT_MAX).</summary>
    public const int MaxStages = Flow.FlowInstructions.MaxTableId + 1;

    private readonly Lock _statsLock = new();
    private FlowTableThreadStats[] _threadStats = [];
    private long _retiredExactLookups, _retiredExactMatched, _retiredWildcardLookups, _retiredWildcardMatched;

    public Pipeline(Flow.IClock clock)
    {
        _clock = clock;
        var main = new FlowTable(clock, _reclamation) { StageId = 0, PipelineChanges = _changes, Versions = _versions };
        _tables = [main];
        _lookup = main;
        _stages[0] = main;
    }

    /// <summary>
    /// Whether forwarders classify through the stages (a stage other than 0 exists, or <see cref="EnableStages"/> was
    /// called); false: table 0 alone, as OpenFlow 1.0 has it. Never turns back to false.
    /// </summary>
    public bool IsMultiStage => _multiStage;

    /// <summary>Has forwarders classify through the stages from now on (a layer installing rules with instructions in table 0 calls it first).</summary>
    public void EnableStages() => _multiStage = true;

    /// <summary>
    /// Bumped after every stage creation and every change to a group whose buckets resubmit (<see cref="GroupsChanged"/>):
    /// a cached pipeline result whose run went past a stage that did not exist (a <see cref="TableMissMode.Continue"/>
    /// miss) or met a group checks it, as results that missed in a table check its <see cref="FlowTable.MissClass"/>.
    /// </summary>
    public ShadowClass StageCreations => _stageCreations;

    /// <summary>
    /// Moved by every published change of any stage and every stage creation, after the change's class versions: a
    /// cached pipeline result validated at a value it still has is current without looking further
    /// (<see cref="PipelineVerdict.IsCurrent"/>), so a pipeline nobody changes costs one load per packet to check.
    /// </summary>
    public ShadowClass Changes => _changes;

    /// <summary>
    /// The version of the rule set every table of the pipeline shares (the stages and the tables of
    /// <see cref="AddTable"/>): a walk reads it once and looks every stage up at it; an atomic batch's commit moves it
    /// (docs/datapath.md, "Atomic batches").
    /// </summary>
    public TablesVersion Versions => _versions;

    /// <summary>
    /// Whether a port (the datapath's number) is live for a bundle's pick: it exists, its link is up and it is not
    /// administratively down (the datapath sets it; null: no port is). A run that reads it records
    /// <see cref="Ports.PortSlot.StateVersion"/> first (<see cref="PipelineVerdict.LivenessAt"/>).
    /// </summary>
    public Func<ushort, bool>? PortLiveness { get; set; }

    /// <summary>
    /// The datapath's groups (the datapath sets it; null: none), which the walk reads where a list applies a group whose
    /// buckets resubmit (<see cref="Groups.Group.HasResubmit"/>): it composes their buckets, after reading
    /// <see cref="StageCreations"/> (<see cref="GroupsChanged"/> moves it).
    /// </summary>
    public Groups.GroupTable? Groups { get; set; }

    /// <summary>
    /// The user tag (<see cref="Actions.FlowAction.OutputToController"/>) an output to the controller takes where the
    /// action set runs it from a rule's list (a rule its resubmit reached, or a rule a resubmit in its group's buckets
    /// reached), given its tag as compiled; null: as compiled. The layer above sets it (what it tells its controllers
    /// about the output's place, Open vSwitch's in_action_set); the walk calls it as it composes, never per packet.
    /// </summary>
    public Func<uint, uint>? InActionSetTag { get; set; }

    /// <summary>
    /// A group whose buckets resubmit changed (<see cref="Groups.GroupTable.CompositionChanged"/>): every cached result
    /// whose run met a group goes stale, as after a stage creation (it read <see cref="StageCreations"/> first).
    /// </summary>
    public void GroupsChanged()
    {
        lock (_lock)
        {
            _stageCreations.Bump(_stageCreations.Version + 1);
            _changes.Increment();
        }
    }

    /// <summary>Stage <paramref name="id"/> (0..254), or null when it was never created. Readers: one load.</summary>
    public FlowTable? Stage(int id) => (uint)id < MaxStages ? Volatile.Read(ref _stages[id]) : null;

    /// <summary>
    /// Stage <paramref name="id"/> (1..254 created here on first use, with miss mode <paramref name="missMode"/>;
    /// expired by the maintenance like every table). Creating a stage makes the pipeline multi-stage.
    /// </summary>
    public FlowTable GetOrCreateStage(int id, TableMissMode missMode = TableMissMode.Controller)
    {
        if ((uint)id >= MaxStages) ThrowHelper.ArgumentOutOfRange(nameof(id));
        lock (_lock)
        {
            if (_stages[id] is { } existing) return existing;
            var t = new FlowTable(_clock, _reclamation) { StageId = id, PipelineChanges = _changes, Versions = _versions };
            t.MissMode = missMode;
            t.RecycleEntries = _tables[0].RecycleEntries;
            _tables = [.. _tables, t];
            Volatile.Write(ref _stages[id], t);
            // After the stage is visible: a run that found no stage here read the class before (see PipelineWalk).
            _stageCreations.Bump(_stageCreations.Version + 1);
            _changes.Increment();
            _multiStage = true;
            return t;
        }
    }

    /// <summary>Whether no stage but table 0 exists (a switch that never used a second table).</summary>
    public bool OnlyStageZero
    {
        get
        {
            if (!_multiStage) return true;
            for (int i = 1; i < MaxStages; i++)
                if (Volatile.Read(ref _stages[i]) is not null) return false;
            return true;
        }
    }

    /// <summary>The ids of the stages that exist, ascending.</summary>
    public List<int> StageIds()
    {
        var ids = new List<int>();
        for (int i = 0; i < MaxStages; i++)
            if (Volatile.Read(ref _stages[i]) is not null) ids.Add(i);
        return ids;
    }

    /// <summary>A forwarding thread's per-stage counters, summed into <see cref="GetStageTotals"/> while registered.</summary>
    public PipelineStageStats CreateStageStats()
    {
        var s = new PipelineStageStats();
        lock (_statsLock) _stageStats = [.. _stageStats, s];
        return s;
    }

    /// <summary>Retires a thread's per-stage counters (their totals are kept).</summary>
    public void ReleaseStageStats(PipelineStageStats stats)
    {
        lock (_statsLock)
        {
            int i = Array.IndexOf(_stageStats, stats);
            if (i < 0) return;
            for (int t = 0; t < MaxStages; t++)
            {
                _retiredStageLookups[t] += stats.Lookups[t];
                _retiredStageMatched[t] += stats.Matched[t];
            }
            _stageStats = Array.FindAll(_stageStats, x => !ReferenceEquals(x, stats));
        }
    }

    /// <summary>
    /// Lookups and matches of stage <paramref name="id"/> counted by the multi-stage classification (every table a
    /// packet visits, whether the cache answered or the tables did), over every forwarding thread. Table 0's lookups
    /// while the pipeline was single-stage are <see cref="GetLookupTotals"/>'.
    /// </summary>
    public (long Lookups, long Matched) GetStageTotals(int id)
    {
        if ((uint)id >= MaxStages) ThrowHelper.ArgumentOutOfRange(nameof(id));
        lock (_statsLock)
        {
            long l = _retiredStageLookups[id], m = _retiredStageMatched[id];
            foreach (var s in _stageStats)
            {
                l += Volatile.Read(ref s.Lookups[id]);
                m += Volatile.Read(ref s.Matched[id]);
            }
            return (l, m);
        }
    }

    /// <summary>The reclamation domain shared by every table of the pipeline and its forwarding threads.</summary>
    public QuiescentDomain Reclamation => _reclamation;

    /// <summary>Registered table <paramref name="id"/> in order of registration (0: the one packets are classified in,
    /// unless redirected; then the tables of <see cref="AddTable"/> and the stages, as they were added).</summary>
    public FlowTable Table(int id) => _tables[id];

    public int TableCount => _tables.Length;

    /// <summary>Every table, for maintenance (expiry).</summary>
    public IReadOnlyList<FlowTable> Tables => _tables;

    /// <summary>Reader: the table forwarders classify packets in now.</summary>
    public FlowTable LookupTable => _lookup;

    /// <summary>Whether lookups of table 0 are served by another table (<see cref="Redirect"/>).</summary>
    public bool IsRedirected => !ReferenceEquals(_lookup, _tables[0]);

    /// <summary>Adds a table outside the stages (expired by the datapath's maintenance like table 0); returns it.</summary>
    public FlowTable AddTable()
    {
        lock (_lock)
        {
            var t = new FlowTable(_clock, _reclamation) { Versions = _versions };
            _tables = [.. _tables, t];
            return t;
        }
    }

    /// <summary>Serves lookups of table 0 from <paramref name="table"/> (one of this pipeline's), or from table 0 itself when null.</summary>
    public void Redirect(FlowTable? table)
    {
        lock (_lock)
        {
            if (table is not null && Array.IndexOf(_tables, table) < 0) ThrowHelper.Argument(nameof(table));
            _lookup = table ?? _tables[0];
        }
    }

    /// <summary>A forwarding thread's counters, summed into <see cref="GetLookupTotals"/> while registered.</summary>
    public FlowTableThreadStats CreateThreadStats()
    {
        var s = new FlowTableThreadStats();
        lock (_statsLock) _threadStats = [.. _threadStats, s];
        return s;
    }

    /// <summary>Retires a thread's counters: their totals are kept, the object is no longer read.</summary>
    public void ReleaseThreadStats(FlowTableThreadStats stats)
    {
        lock (_statsLock)
        {
            int i = Array.IndexOf(_threadStats, stats);
            if (i < 0) return;
            _retiredExactLookups += stats.ExactLookupCount;
            _retiredExactMatched += stats.ExactMatchedCount;
            _retiredWildcardLookups += stats.WildcardLookupCount;
            _retiredWildcardMatched += stats.WildcardMatchedCount;
            _threadStats = Array.FindAll(_threadStats, x => !ReferenceEquals(x, stats));
        }
    }

    /// <summary>Lookup counters over every forwarding thread, past and present.</summary>
    public LookupTotals GetLookupTotals()
    {
        lock (_statsLock)
        {
            long el = _retiredExactLookups, em = _retiredExactMatched, wl = _retiredWildcardLookups, wm = _retiredWildcardMatched;
            foreach (var s in _threadStats)
            {
                el += s.ExactLookupCount;
                em += s.ExactMatchedCount;
                wl += s.WildcardLookupCount;
                wm += s.WildcardMatchedCount;
            }
            return new LookupTotals(el, em, wl, wm);
        }
    }
}

/// <summary>What a stage of a multi-stage <see cref="Pipeline"/> does with a packet none of its rules matches.</summary>
public enum TableMissMode : byte
{
    /// <summary>The datapath's miss behaviour: to the controller (OpenFlow 1.0's table 0), or what the fail mode says.</summary>
    Controller,
    /// <summary>Dropped (OpenFlow 1.3 with no table-miss rule).</summary>
    Drop,
    /// <summary>Continues in the next stage (id + 1; a stage that does not exist drops). OpenFlow 1.1's default.</summary>
    Continue,
}

/// <summary>
/// A forwarding thread's counters per stage (no sharing, no atomics); <see cref="Pipeline.GetStageTotals"/> sums
/// every registered instance. Every stage a packet visits counts a lookup, every stage whose rule it hit a match,
/// whether the cached verdict or the tables answered.
/// </summary>
public sealed class PipelineStageStats
{
    internal readonly long[] Lookups = new long[Pipeline.MaxStages];
    internal readonly long[] Matched = new long[Pipeline.MaxStages];

    internal PipelineStageStats() { }
}
