using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Classifier;

/// <summary>One stage of a traced pipeline run (ofproto/trace).</summary>
/// <param name="TableId">The stage.</param>
/// <param name="Lookup">What the stage's lookup found (rule, classifier stage, mask).</param>
/// <param name="Key">The key the stage looked up (metadata and rewritten headers of earlier stages included).</param>
/// <param name="Miss">The stage's miss mode, meaningful when it found nothing.</param>
/// <param name="Depth">The resubmits the lookup is in (0: the table's own turn in the pipeline).</param>
/// <param name="Registers">The register file the stage looked up with (the register actions of earlier stages applied).</param>
public readonly record struct PipelineTraceStep(int TableId, LookupTrace Lookup, FlowKey Key, TableMissMode Miss, int Depth = 0, Registers Registers = default);

/// <summary>
/// A pipeline run, table by table (the uncached classification, and the model every cached verdict must equal): what
/// a multi-stage <see cref="Pipeline"/> does with one packet key. Reused scratch (one per forwarding thread): nothing is
/// allocated per run.
/// </summary>
/// <remarks>
/// <para>Semantics (OpenFlow 1.3.5 sections 5.1 to 5.10): the run starts in stage 0 with an empty action set and
/// metadata 0 (the parser's key). In each stage, the highest-priority rule matching the current key wins; its
/// apply-actions are appended to the composed list, then clear-actions empties the action set, write-actions merges
/// into it, write-metadata rewrites the key's metadata word (masked; the key's extension map kept right), and
/// goto-table continues in that (strictly later) stage; a rule without goto ends the run and the action set is
/// appended in its fixed order. A stage with no match follows its <see cref="TableMissMode"/>; a miss that ends the
/// run discards the action set (the earlier stages' apply-actions still run).</para>
/// <para>Later stages see the packet as the earlier apply-actions left it (OpenFlow 1.3): the lookup key is rewritten
/// for each header-setting action as the executor rewrites the frame: MACs always; IPv4 addresses and TOS when the
/// key is IPv4 (dl_type 0x0800); L4 ports (ICMP type and code) when it is TCP, UDP or SCTP (ICMP) and not a later
/// fragment (<see cref="FlowKey.IsLaterFragment"/>: no L4 header, which the executor leaves alone too); the VLAN setters
/// push a tag on an untagged packet (vlan becomes OFPVID_PRESENT | vid, pcp 0 unless set) and strip-VLAN leaves the key
/// untagged; push-MPLS hides the network fields; set-tunnel sets tun_id. Outputs and enqueues do not touch the key. Where the key cannot
/// follow (<see cref="Reparses"/>: pops of MPLS and PBB, a second tag pushed or uncovered, set eth_type...), a stage
/// whose goto continues ends the run in <see cref="PipelineEnd.Recirculate"/>: the forwarder parses the rewritten
/// packet anew and runs the rest from <see cref="Next"/> (<see cref="Run"/>'s start).</para>
/// <para>A resubmit in a hit's apply-actions (<see cref="ActionKind.Resubmit"/>) looks the key up in another stage and
/// composes what it finds in its place, each lookup recorded as a visit (<see cref="Resubmit"/>); past
/// <see cref="MaxResubmitDepth"/> or <see cref="MaxResubmits"/> the run ends in <see cref="PipelineEnd.ResubmitDrop"/>
/// (docs/datapath.md, "Resubmit"). An exit (<see cref="ActionKind.Exit"/>) ends the composition there, at every level;
/// the action set is still appended.</para>
/// <para>Registers (docs/datapath.md, "Registers"): the run keeps a register file (<see cref="Registers"/>) beside its
/// key, zeroed at the start (or the continuation's, after a re-parse point), and every lookup reads it (only subtables
/// whose mask tests registers pay). Register actions never reach the composed list: a load or move into a register
/// writes the file; into a packet field it becomes the set-field action that rewrites the packet (and the key); an
/// output to a field's value becomes the output to that port. What the composed result read from the key to do so (a
/// move or output from a packet field, a partial write of one) is recorded (<see cref="KeyReads"/>): runs of one chain
/// of rules compose the same result exactly when they read the same values, so the verdict interner shares a verdict
/// only between them. A learn (<see cref="ActionKind.Learn"/>) reads its fields the same way and composes a
/// <see cref="ActionKind.LearnRequest"/> with their values (docs/datapath.md, "Learn").</para>
/// <para>Not thread-safe; lookups take no counters (the caller credits the stages from the verdict).</para>
/// </remarks>
public sealed class PipelineWalk
{
    /// <summary>Open vSwitch's limits (ofproto-dpif-xlate.c MAX_DEPTH, MAX_RESUBMITS): resubmits nested at most this deep...</summary>
    public const int MaxResubmitDepth = 64;
    /// <summary>...and at most this many a run; past either the packet is dropped (<see cref="PipelineEnd.ResubmitDrop"/>).</summary>
    public const int MaxResubmits = MaxResubmitDepth * MaxResubmitDepth;
    /// <summary>The most lookups one run makes: a goto chain through every stage and every resubmit it may take.</summary>
    private const int MaxVisits = Pipeline.MaxStages + MaxResubmits;

    /// <summary>The visits' arrays start this long and double as a run needs more, up to <see cref="MaxVisits"/>: a
    /// walk per forwarder per bridge, so arrays sized for the most a run may take (4,351 visits, 243 KB a walk) cost a
    /// hundred-bridge daemon tens of megabytes that pipelines of a few tables never touch.</summary>
    private const int InitialVisits = 16;

    private FlowTable[] _tables = new FlowTable[InitialVisits];
    private ShadowClass[] _classes = new ShadowClass[InitialVisits];
    private long[] _versions = new long[InitialVisits];
    private long[] _removals = new long[InitialVisits];
    private FlowEntry?[] _hits = new FlowEntry?[InitialVisits];
    private FlowActions?[] _hitActions = new FlowActions?[InitialVisits];
    private FlowInstructions?[] _hitInstructions = new FlowInstructions?[InitialVisits];
    // The run in progress: stages visited, resubmits taken, whether a limit (or a resubmit after a re-parse point)
    // ended it, whether an apply-action changed which headers the packet has, the metadata packet-ins carry so far.
    private int _n;
    // The visit whose rule's apply-actions are being composed (a fin_timeout names that rule by it).
    private int _visit;
    private bool _dropped, _reparse, _exit;
    private Registers _regs;
    // The packet's words (Registers.TunnelWord, Registers.PacketWord): as the run started, and the packet word as the
    // composed TTL actions left it; which bits the tables looked up test (the verdict checks them per packet).
    private ulong _tun0, _pkt0, _pkt, _usedTun, _usedPkt;
    private readonly List<ulong> _reads = new();
    // The learned tables a limited learn read (their published counters and version before the count): the verdict holds
    // while none of them changed.
    private readonly List<LearnGuard> _guards = new();
    private ulong _pinMetadata;
    private ActionSet _set = new();
    /// <summary>What the action set's register actions composed (<see cref="ComposeSetRegisters"/>).</summary>
    private readonly List<FlowAction> _setRegisters = new();
    // The action sets of the clones being composed, one per nesting level (a clone's starts empty: Open vSwitch's).
    private readonly List<ActionSet> _cloneSets = new();
    private int _cloneDepth;
    // The action sets of the composed group buckets, one per nesting level, and how deep such buckets nest now.
    private readonly List<ActionSet> _bucketSets = new();
    private int _groupDepth;
    // Composing what the action set runs (its actions, its resubmit's rules, its group's buckets): a plain output to the
    // controller there is the action set's (Pipeline.InActionSetTag).
    private bool _inActionSet;
    private readonly List<List<FlowAction>> _setGroupItems = new();
    private int _setGroupDepth;
    private readonly List<FlowAction> _composed = new();
    private readonly List<FlowAction> _describe = new();
    // The other actions of an action set whose final action is a resubmit (RunSetResubmit), and the run's own set so
    // run, its resubmit last (ActionSetRun).
    private readonly List<FlowAction> _setItems = new();
    private readonly List<FlowAction> _setRun = new();
    private readonly ContinuationInterner _continuations = new();

    /// <summary>Stages visited by the last run (a stage a resubmit looked up again counts again).</summary>
    public int Count { get; private set; }
    /// <summary>Resubmits the last run took.</summary>
    public int Resubmits { get; private set; }
    /// <summary>How the last run ended.</summary>
    public PipelineEnd End { get; private set; }
    /// <summary>The key after the last run (metadata and rewritten headers).</summary>
    public FlowKey FinalKey { get; private set; }
    /// <summary>The register file after the last run.</summary>
    public Registers FinalRegisters => _regs;
    /// <summary>The last run ran a register action (load, move or output of a field), a learn (which reads fields) or a clone (whose rewrites stay its own): a repair, which replays the stages' header rewrites only, cannot rebuild it.</summary>
    public bool UsedRegisterActions { get; private set; }
    /// <summary>The last run looked a table with clauses of conjunctive matches up (<see cref="FlowTable.IsConjunctive"/>): its verdict is walked anew, not repaired.</summary>
    public bool UsedConjunctions { get; private set; }
    /// <summary>
    /// The bits of the packet's tunnel endpoints and TTL/TCP-flags words (<see cref="Registers.TunnelWord"/>,
    /// <see cref="Registers.PacketWord"/>) that the tables the last run looked up test (0 and 0: the result depends on
    /// the key alone); <see cref="PacketTunnelValue"/> and <see cref="PacketFieldsValue"/>, the packet's values under them.
    /// </summary>
    public ulong PacketTunnelMask => _usedTun;
    public ulong PacketFieldsMask => _usedPkt;
    public ulong PacketTunnelValue => _tun0 & _usedTun;
    public ulong PacketFieldsValue => _pkt0 & _usedPkt;

    /// <summary>
    /// <see cref="Ports.PortSlot.StateVersion"/> as the last run read it before it first read a port's liveness (a
    /// bundle's pick), else 0 (<see cref="PipelineVerdict.LivenessAt"/>).
    /// </summary>
    public long LivenessAt { get; private set; }
    /// <summary>
    /// The tables whose flows a learn with a limit counted in the last run (docs/datapath.md, "Learn"), each with its
    /// version before the count: a verdict of the run holds while each keeps it.
    /// </summary>
    public ReadOnlySpan<LearnGuard> LearnGuards => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_guards);
    /// <summary>What the last run's composed result read from the key (see the type remarks), in the order it read them.</summary>
    public ReadOnlySpan<ulong> KeyReads => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_reads);
    /// <summary>
    /// Tests' reference: every goto-table is a re-parse point, so each table sees the packet parsed anew (the key
    /// rewriting of <see cref="Rewrite"/> then never serves a lookup).
    /// </summary>
    internal bool ReparseAtEveryGoto { get; set; }
    /// <summary>Where the last run started: null at table 0 with the parser's key, else after a re-parse point.</summary>
    public PipelineContinuation? Start { get; private set; }
    /// <summary>Where the last run goes on when it ended in <see cref="PipelineEnd.Recirculate"/>, else null.</summary>
    public PipelineContinuation? Next { get; private set; }
    /// <summary>The action set at the end of the last run (empty after a miss, and after it ran a resubmit).</summary>
    public ActionSet ActionSet => _set;
    /// <summary>The action set the last run ran when its final action was a resubmit (its actions in order, the resubmit
    /// last; what the resubmit composed follows them in <see cref="Composed"/>), else empty.</summary>
    public ReadOnlySpan<FlowAction> ActionSetRun => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_setRun);
    /// <summary>The composed actions of the last run (valid until the next).</summary>
    public List<FlowAction> Composed => _composed;
    public ReadOnlySpan<FlowTable> Tables => _tables.AsSpan(0, Count);
    /// <summary>The class each visited stage's result depends on: the hit rule's, or the table's miss class.</summary>
    public ReadOnlySpan<ShadowClass> Classes => _classes.AsSpan(0, Count);
    /// <summary>Their versions as the run read them (-1: moved during the run).</summary>
    public ReadOnlySpan<long> Versions => _versions.AsSpan(0, Count);
    /// <summary>Each visited table's <see cref="FlowTable.Removals"/> as the run read it, before its lookup.</summary>
    public ReadOnlySpan<long> Removals => _removals.AsSpan(0, Count);
    /// <summary>The pipeline's stage-creation class when the last run ended at a stage that did not exist, else null.</summary>
    public ShadowClass? Absent { get; private set; }
    /// <summary><see cref="Absent"/>'s version as the run read it.</summary>
    public long AbsentVersion { get; private set; }
    /// <summary>The pipeline's <see cref="Pipeline.Changes"/> of the last run.</summary>
    public ShadowClass? Changes { get; private set; }
    /// <summary>Its value when the last run started (before any stage was read).</summary>
    public long ChangesAtStart { get; private set; }
    public ReadOnlySpan<FlowEntry?> Hits => _hits.AsSpan(0, Count);
    /// <summary>The apply-actions each visited stage's hit ran with (null where the stage missed): the run read them once, after the class version.</summary>
    internal ReadOnlySpan<FlowActions?> HitActions => _hitActions.AsSpan(0, Count);
    /// <summary>The instructions each visited stage's hit ran with (null where it missed or the rule has none).</summary>
    internal ReadOnlySpan<FlowInstructions?> HitInstructions => _hitInstructions.AsSpan(0, Count);

    /// <summary>
    /// Arrays a verdict's repair (<see cref="PipelineVerdict.FindRepair"/>) writes what it reads into, one slot per stage:
    /// the rule found where a stage was repaired (else null), its class and version, and every stage's removal count.
    /// They no longer hold the last run until <see cref="LoadRepaired"/> makes them a run again.
    /// </summary>
    internal (FlowEntry?[] Hits, ShadowClass[] Classes, long[] Versions, long[] Removals) RepairScratch => (_hits, _classes, _versions, _removals);

    /// <summary>
    /// Makes the visits' arrays hold at least <paramref name="n"/> visits (doubling, at most <see cref="MaxVisits"/>,
    /// which the resubmit limits keep a run within): once per walk for each new depth its pipelines reach, never per
    /// packet. The visits recorded so far are kept.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    internal void EnsureVisits(int n)
    {
        if (n <= _tables.Length) return;
        int size = Math.Min(MaxVisits, Math.Max(n, _tables.Length * 2));
        Array.Resize(ref _tables, size);
        Array.Resize(ref _classes, size);
        Array.Resize(ref _versions, size);
        Array.Resize(ref _removals, size);
        Array.Resize(ref _hits, size);
        Array.Resize(ref _hitActions, size);
        Array.Resize(ref _hitInstructions, size);
    }

    /// <summary>The key after the last stage of the verdict <see cref="PipelineVerdict.FindRepair"/> last looked at.</summary>
    internal FlowKey RepairFinalKey;

    /// <summary>
    /// Makes this walk the run that <paramref name="v"/>, repaired as <see cref="PipelineVerdict.FindRepair"/> just found
    /// (its results in <see cref="RepairScratch"/>), stands for: its stages with the rules found where they were
    /// repaired and the recorded hits elsewhere, the classes and versions to check, the composed actions and the end
    /// unchanged, current as of <paramref name="changes"/>. The thread's <see cref="VerdictInterner"/> then shares or
    /// builds the verdict of that chain for the key, as after a run, when <paramref name="v"/> itself is shared.
    /// </summary>
    internal void LoadRepaired(PipelineVerdict v, long changes)
    {
        int n = v.Tables.Length;
        EnsureVisits(n);
        for (int i = 0; i < n; i++)
        {
            ref readonly var c = ref v.Check(i);
            _tables[i] = v.Tables[i];
            if (_hits[i] is null)
            {
                _hits[i] = c.Hit;
                _classes[i] = c.Class;
                _versions[i] = c.Version;
            }
            _hitActions[i] = c.HitActions;
            _hitInstructions[i] = c.HitInstructions;
        }
        Count = n;
        End = v.End;
        FinalKey = RepairFinalKey;
        Start = v.Start;
        Next = v.Next;
        Absent = v.Absent;
        AbsentVersion = v.AbsentVersion;
        Changes = v.ChangesClass;
        ChangesAtStart = changes;
        _regs = default; // a repaired verdict ran no register action (PipelineVerdict.FindRepair)
        _usedTun = _usedPkt = 0; // nor looked a table up whose rules test the packet's words
        _reads.Clear();
        LivenessAt = 0; // nor a bundle
        _guards.Clear(); // nor a learn (a register action)
        UsedRegisterActions = false;
        UsedConjunctions = false; // nor looked a conjunctive table up
        _composed.Clear();
        _composed.AddRange(v.Actions.Items);
        // The action set is not rebuilt (the composed list holds its actions; only a trace reads it, after a run).
        _set.Clear();
        _setRun.Clear();
    }

    /// <summary>
    /// Runs <paramref name="key"/> through <paramref name="pipeline"/>'s stages, from table 0, or from where
    /// <paramref name="start"/> says with <paramref name="key"/> the re-parsed packet's (<see cref="PipelineContinuation.Apply"/>);
    /// <paramref name="trace"/> (diagnostics) receives each stage. <paramref name="tunnel"/> and <paramref name="packet"/>
    /// are the packet's words the key has no room for (<see cref="Registers.TunnelEndpointsOf"/>,
    /// <see cref="Registers.PacketFieldsOf"/>): a table whose rules test them looks them up with the key.
    /// </summary>
    /// <remarks>
    /// The run reads the pipeline's tables version once, after its change count, and looks every stage up at it, so it
    /// sees an atomic batch whole or not at all; when the version moved while it ran (a commit published, and may have
    /// unlinked a rule it passed), it runs again at the new one (at most <see cref="FlowTable.MaxVersionRetries"/> times;
    /// a traced run is not run again).
    /// </remarks>
    /// <param name="dpHash">The dp_hash the run starts with (<see cref="Registers.DpHash"/>): 0, as every packet's, but
    /// for a trace that starts from a flow holding one (Open vSwitch's ofproto/trace <c>dp_hash=N</c>), whose dp_hash
    /// groups then pick by it.</param>
    public void Run(Pipeline pipeline, in FlowKey key, List<PipelineTraceStep>? trace = null, PipelineContinuation? start = null,
                    ulong tunnel = 0, ulong packet = 0, uint dpHash = 0)
    {
        for (int tries = 0; ; tries++)
        {
            RunAtOneVersion(pipeline, key, trace, start, null, tunnel, packet, dpHash);
            if (trace is not null || pipeline.Versions.Current == Version || tries == FlowTable.MaxVersionRetries) return;
        }
    }

    /// <summary>
    /// A packet-out's list through the pipeline (Open vSwitch's xlate_actions with the packet-out's ofpacts): composed as
    /// a rule's apply-actions in table 0 would be (a resubmit's lookups are this run's visits; a <c>resubmit:PORT</c>
    /// looks table 0 up), with no rule of its own (a fin_timeout in it, or in a group it applies, lowers nothing), then
    /// the action set the resubmitted rules wrote, as at the end of a pipeline. <see cref="End"/> is
    /// <see cref="PipelineEnd.Actions"/>, or <see cref="PipelineEnd.ResubmitDrop"/> past the resubmit limits.
    /// </summary>
    public void RunPacketOut(Pipeline pipeline, in FlowKey key, FlowActions actions, List<PipelineTraceStep>? trace = null,
                             ulong tunnel = 0, ulong packet = 0)
    {
        for (int tries = 0; ; tries++)
        {
            RunAtOneVersion(pipeline, key, trace, null, actions, tunnel, packet, 0);
            if (trace is not null || pipeline.Versions.Current == Version || tries == FlowTable.MaxVersionRetries) return;
        }
    }

    /// <summary>The tables version the last run looked every stage up at.</summary>
    public long Version { get; private set; }

    private void RunAtOneVersion(Pipeline pipeline, in FlowKey key, List<PipelineTraceStep>? trace, PipelineContinuation? start,
                                 FlowActions? packetOut, ulong tunnel, ulong packet, uint dpHash)
    {
        var b = new FlowKeyBuilder(key);
        _set.Clear();
        _setRun.Clear();
        _composed.Clear();
        _n = 0;
        Resubmits = 0;
        _dropped = false;
        _exit = false;
        _reparse = false; // an apply-action changed which headers the packet has: the key no longer tells
        _pinMetadata = 0; // the metadata the composed list's packet-ins carry so far
        _regs = default;
        _regs.DpHash = dpHash;
        _tun0 = tunnel;
        _pkt0 = _pkt = packet;
        _usedTun = _usedPkt = 0;
        _reads.Clear();
        LivenessAt = 0;
        _guards.Clear();
        UsedRegisterActions = false;
        UsedConjunctions = false;
        _cloneDepth = 0;
        _groupDepth = 0;
        _setGroupDepth = 0;
        _inActionSet = false;
        int t = 0;
        PipelineEnd end = PipelineEnd.Actions;
        Start = start;
        Next = null;
        if (start is not null)
        {
            t = start.Table;
            _regs = start.Head.Registers;
            _set.Load(start.ActionSet);
            _regs.ActsetOutputCode = _set.OutputCode;
            _composed.AddRange(start.Preamble);
        }
        Absent = null;
        AbsentVersion = 0;
        Changes = pipeline.Changes;
        ChangesAtStart = Changes.Version; // before any stage is read
        Version = pipeline.Versions.Current; // after it: a commit moves the count after the version
        var creations = pipeline.StageCreations;
        if (packetOut is not null)
        {
            _visit = -1; // no rule: a fin_timeout composed from it names none
            Compose(pipeline, packetOut, ref b, 0, trace, 0);
        }
        while (packetOut is null)
        {
            long created = creations.Version; // before the stage is read: a stage created after it moves the class
            var table = pipeline.Stage(t);
            if (table is null)
            {
                if (Absent is null) // a resubmit may have read the class earlier: the earliest reading is kept
                {
                    Absent = creations;
                    AbsentVersion = created;
                }
                end = PipelineEnd.MissDrop;
                break;
            }
            int at = _n;
            var e = Visit(table, ref b, t, trace, 0);
            if (e is null)
            {
                var mode = table.MissMode;
                if (mode == TableMissMode.Continue && t < Pipeline.MaxStages - 1)
                {
                    t++;
                    continue;
                }
                end = mode == TableMissMode.Controller ? PipelineEnd.MissController : PipelineEnd.MissDrop;
                break;
            }
            var ins = _hitInstructions[at];
            // The meter instruction runs first (OpenFlow 1.3.5 section 5.9): before the rule's apply-actions.
            if (ins is { Meter: not 0 }) _composed.Add(FlowAction.Meter(ins.Meter));
            _visit = at;
            Compose(pipeline, _hitActions[at]!, ref b, t, trace, 0);
            if (_dropped || _exit || ins is null) break; // an exit: nothing after it, the action set still runs
            WriteSet(ins);
            if (ins.MetadataMask != 0) b.Metadata(ins.ApplyMetadata(b.KeyRef.Metadata));
            if (ins.GotoTable > t)
            {
                t = ins.GotoTable;
                if (!_reparse && !ReparseAtEveryGoto) continue;
                // The rest of the pipeline sees the packet parsed anew: this run ends here (see Recirculate's remarks).
                _describe.Clear();
                _set.CopyTo(_describe);
                Next = _continuations.Intern(ContinuationHead.Of(t, b.KeyRef.Metadata, _regs, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_composed)), _describe);
                _composed.Add(FlowAction.Recirculate(t));
                end = PipelineEnd.Recirculate;
            }
            break;
        }
        // The action set's resubmit runs here, where the set runs: its lookups are visits of this run.
        if (end == PipelineEnd.Actions && !_dropped) RunSetResubmit(pipeline, ref b, t, trace, 0);
        FinalKey = b.Key;
        // The action set's group, when its buckets resubmit, is composed where the set runs: their lookups are visits too.
        bool setComposed = end == PipelineEnd.Actions && !_dropped && ComposeSetGroup(pipeline, ref b, t, trace);
        if (end == PipelineEnd.Actions && !_dropped && !setComposed) ComposeSetRegisters(ref b);
        Count = _n;
        if ((_usedTun | _usedPkt) != 0)
        {
            // The packet's words the result depends on: verdicts are shared only between runs that saw the same.
            _reads.Add(_usedTun);
            _reads.Add(_usedPkt);
            _reads.Add(PacketTunnelValue);
            _reads.Add(PacketFieldsValue);
        }
        if (_dropped)
        {
            // Open vSwitch drops a packet whose translation failed whole: nothing composed runs.
            end = PipelineEnd.ResubmitDrop;
            _composed.Clear();
            Next = null;
        }
        End = end;
        if (end == PipelineEnd.Actions && !setComposed)
        {
            int setStart = _composed.Count;
            _set.AppendTo(_composed, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_setRegisters));
            if (b.Key.Metadata != _pinMetadata)
            {
                for (int i = setStart; i < _composed.Count; i++)
                {
                    if (!SendsPacketIns(_composed[i])) continue;
                    _composed.Insert(setStart, FlowAction.PacketInMetadata(b.Key.Metadata));
                    break;
                }
            }
        }
        else if (end != PipelineEnd.Recirculate)
        {
            _set.Clear();
        }
    }

    /// <summary>
    /// Looks <paramref name="b"/> up in <paramref name="table"/> (stage <paramref name="t"/>) and records the visit: the
    /// table's removal count and version before the lookup, the class the result depends on and its version after,
    /// the hit with its apply-actions and instructions read once. <paramref name="depth"/>: the resubmits it is in.
    /// </summary>
    private FlowEntry? Visit(FlowTable table, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
    {
        int n = _n++;
        if (n == _tables.Length) EnsureVisits(n + 1);
        _tables[n] = table;
        _removals[n] = table.Removals;
        long tableVersion = table.Version; // before the lookup (see ShadowClass's remarks)
        // A table whose rules test the packet's words looks them up in the register file; every other lookup sees them
        // 0 (a rule testing them added meanwhile moves the class read below, so this verdict is stale at once).
        var words = table.PacketWords;
        if (words is not null)
        {
            _regs.TunnelEndpoints = _tun0;
            _regs.PacketFields = _pkt;
            _usedTun |= words.Tunnel;
            _usedPkt |= words.Fields;
        }
        FlowEntry? e;
        if (trace is null)
        {
            e = table.Lookup(b.KeyRef, _regs, Version);
        }
        else
        {
            var lt = table.Trace(b.Key, _regs);
            e = lt.Entry;
            trace.Add(new PipelineTraceStep(t, lt, b.Key, table.MissMode, depth, _regs));
        }
        if (words is not null)
        {
            _regs.TunnelEndpoints = 0;
            _regs.PacketFields = 0;
        }
        // A table with clauses: its one conjunctive class (what clauses combine to depends on more than the rule found).
        var cls = table.ClassOf(e);
        if (table.IsConjunctive) UsedConjunctions = true;
        long cv = cls.Version;
        _classes[n] = cls;
        _versions[n] = cv > tableVersion ? -1 : cv;
        _hits[n] = e;
        _hitActions[n] = e?.Actions;
        _hitInstructions[n] = e?.Instructions;
        return e;
    }

    /// <summary>
    /// Appends <paramref name="actions"/> (the apply-actions of a rule in stage <paramref name="t"/>) to the composed
    /// list, rewriting the key as each runs; a resubmit composes what its lookup finds in its place.
    /// </summary>
    private void Compose(Pipeline pipeline, FlowActions actions, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
        => Compose(pipeline, actions.Items, ref b, t, trace, depth);

    private void Compose(Pipeline pipeline, ReadOnlySpan<FlowAction> items, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
    {
        for (int i = 0; i < items.Length; i++)
        {
            if (_dropped || _exit) return;
            var a = items[i];
            switch (a.Kind)
            {
                case ActionKind.Exit:
                    _exit = true;
                    return;
                case ActionKind.Conjunction:
                    // A clause found by a lookup that raced the writer (a conjunctive table's lookup never returns
                    // one): nothing to run, as Open vSwitch's "no-op conjunction action".
                    continue;
                case ActionKind.Resubmit:
                    Resubmit(pipeline, a, ref b, t, trace, depth);
                    continue;
                case ActionKind.Note: // does nothing to the packet
                    continue;
                case ActionKind.FieldLoad or ActionKind.FieldMove or ActionKind.OutputField or ActionKind.Multipath:
                    // A register action composes nothing, or the set-field or output it stands for.
                    if (!RegisterAction(ref b, ref a)) continue;
                    break;
                case ActionKind.Learn:
                    // Nothing more to compose, or the set-field that writes its result into a packet field.
                    if (!ComposeLearn(pipeline, ref b, ref a)) continue;
                    break;
                case ActionKind.Bundle:
                    if (!ComposeBundle(pipeline, ref b, ref a)) continue;
                    break;
                case ActionKind.FinTimeout:
                    // Composed with the visit of the rule that holds it: the executor signals that rule.
                    a = FlowAction.FinTimeout(a.FinIdle, a.FinHard, _visit + 1);
                    break;
                case ActionKind.Group:
                    // Its buckets' fin_timeouts lower the rule that applied the group (Open vSwitch's ctx->rule).
                    a = FlowAction.Group(a.QueueId, _visit + 1);
                    if (ComposeGroup(pipeline, a, ref b, t, trace, depth)) continue;
                    break;
                case ActionKind.Output when _inActionSet && a.Port == Ports.PortNumber.Controller && pipeline.InActionSetTag is { } tag:
                    a = FlowAction.OutputToController(a.MaxLen, a.Value, tag((uint)a.Value2));
                    break;
                case ActionKind.Clone:
                {
                    int end = Math.Min(items.Length, i + 1 + (int)a.QueueId);
                    ComposeClone(pipeline, items[(i + 1)..end], ref b, t, trace, depth);
                    i = end - 1;
                    continue;
                }
            }
            if (SendsPacketIns(a) && b.KeyRef.Metadata != _pinMetadata)
            {
                _pinMetadata = b.Key.Metadata;
                _composed.Add(FlowAction.PacketInMetadata(_pinMetadata));
            }
            _composed.Add(a);
            if (a.Kind is ActionKind.SetNwTtl or ActionKind.DecNwTtl) Ttl(a);
            if (_reparse) continue;
            if (Reparses(b.KeyRef, a)) _reparse = true;
            else Rewrite(ref b, a);
        }
    }

    /// <summary>
    /// Open vSwitch's resubmit (ofproto-dpif-xlate.c xlate_table_action): the key looked up in the action's table (255:
    /// <paramref name="t"/>, the table of the rule that holds it), with the action's in_port for that lookup only; a
    /// hit's meter, apply-actions and instructions are composed here (a goto-table in them is one more resubmit, as
    /// Open vSwitch runs it), a miss does nothing (no table-miss behaviour, no packet-in). Past
    /// <see cref="MaxResubmitDepth"/> nested or <see cref="MaxResubmits"/> taken, or after a re-parse point (the key no
    /// longer tells what the packet is; Open vSwitch would recirculate), the run drops the packet.
    /// </summary>
    /// <remarks>
    /// A resubmit after which the hit's rule has nothing left to run (the last action of its list,
    /// <see cref="FlowActions.EndsInResubmit"/>, with no instruction after it; or its goto-table, its instructions' last
    /// step) is the next turn of this loop, one level deeper, as a goto-table is of the pipeline's: no call nests and no
    /// state is kept for it, since its level has nothing to resume. The visits, the composed actions, the depths and the
    /// limits are those of the nested lookups it stands for; any other resubmit (actions after it in the list, or
    /// instructions) nests through Compose.
    /// </remarks>
    private void Resubmit(Pipeline pipeline, FlowAction a, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
    {
        int visit = _visit;
        while (true)
        {
            if (depth >= MaxResubmitDepth || Resubmits >= MaxResubmits || _reparse)
            {
                _dropped = true;
                break;
            }
            Resubmits++;
            int target = a.QueueId == 0xff ? t : (int)a.QueueId;
            var creations = pipeline.StageCreations;
            long created = creations.Version;
            var table = pipeline.Stage(target);
            if (table is null)
            {
                // Nothing to find; the verdict goes stale when a stage is created (the earliest reading is kept).
                if (Absent is null)
                {
                    Absent = creations;
                    AbsentVersion = created;
                }
                break;
            }
            int at = _n;
            FlowEntry? e;
            if (a.Port == Ports.PortNumber.InPort)
            {
                e = Visit(table, ref b, target, trace, depth + 1);
            }
            else
            {
                ushort inPort = b.KeyRef.InPort;
                b.InPort(a.Port);
                e = Visit(table, ref b, target, trace, depth + 1);
                b.InPort(inPort);
            }
            if (e is null) break;
            var ins = _hitInstructions[at];
            if (ins is { Meter: not 0 }) _composed.Add(FlowAction.Meter(ins.Meter));
            _visit = at;
            depth++;
            t = target;
            var actions = _hitActions[at]!;
            var items = actions.Items;
            if (actions.EndsInResubmit && (ins is null || NothingAfterActions(ins, t)))
            {
                // A tail resubmit: the list's other actions, then the next turn.
                if (items.Length > 1) Compose(pipeline, items.AsSpan(0, items.Length - 1), ref b, t, trace, depth);
                if (_dropped || _exit) break;
                a = items[^1];
                continue;
            }
            if (items.Length != 0) Compose(pipeline, items, ref b, t, trace, depth);
            if (_dropped || _exit || ins is null) break;
            WriteSet(ins);
            if (ins.MetadataMask != 0) b.Metadata(ins.ApplyMetadata(b.KeyRef.Metadata));
            if (ins.GotoTable <= t) break;
            a = FlowAction.Resubmit((byte)ins.GotoTable); // Open vSwitch runs a goto-table in a resubmitted rule as one
        }
        _visit = visit;
    }

    /// <summary>Whether <paramref name="ins"/>, a hit's in stage <paramref name="t"/>, does nothing once its apply-actions ran (no clear, write, metadata or goto).</summary>
    private static bool NothingAfterActions(FlowInstructions ins, int t)
        => !ins.ClearActions && ins.WriteActions is null && ins.MetadataMask == 0 && ins.GotoTable <= t;

    /// <summary>
    /// Open vSwitch's clone (ofproto-dpif-xlate.c clone_xlate_actions): <paramref name="body"/> composed after a
    /// <see cref="ActionKind.Clone"/> marker that counts what it composed, with an action set of its own, empty at its start
    /// and appended at its end; then the key, the register file and the action set are what they were before it, so the
    /// actions after it see the packet as it was. An exit in it ends the whole composition, as Open vSwitch's does. Past
    /// <see cref="MaxResubmitDepth"/> clones nested the packet is dropped. A verdict holding one is walked anew, never
    /// repaired (<see cref="UsedRegisterActions"/>): a repair replays the stages' rewrites, which a clone's must not reach.
    /// </summary>
    private void ComposeClone(Pipeline pipeline, ReadOnlySpan<FlowAction> body, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
    {
        if (_cloneDepth >= MaxResubmitDepth)
        {
            _dropped = true;
            return;
        }
        UsedRegisterActions = true;
        var key = b.Key;
        var regs = _regs;
        ulong pkt = _pkt;
        bool reparse = _reparse;
        var outer = _set;
        if (_cloneSets.Count == _cloneDepth) _cloneSets.Add(new ActionSet());
        _set = _cloneSets[_cloneDepth++];
        _set.Clear();
        _regs.ActsetOutputCode = 0;
        int at = _composed.Count;
        _composed.Add(FlowAction.CloneOf(0));
        try
        {
            Compose(pipeline, body, ref b, t, trace, depth);
            if (!_dropped) RunSetResubmit(pipeline, ref b, t, trace, depth);
            if (!_dropped && !ComposeSetGroup(pipeline, ref b, t, trace))
            {
                ComposeSetRegisters(ref b);
                if (!_dropped) _set.AppendTo(_composed, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_setRegisters));
            }
        }
        finally
        {
            _set = outer;
            _cloneDepth--;
        }
        if (_composed.Count == at + 1) _composed.RemoveAt(at); // nothing to run
        else _composed[at] = FlowAction.CloneOf(_composed.Count - at - 1);
        b = new FlowKeyBuilder(key);
        _regs = regs;
        _pkt = pkt;
        _reparse = reparse;
    }

    /// <summary>
    /// Open vSwitch's xlate_action_set for a set whose final action is a resubmit (<see cref="ActionSet.TryTakeResubmit"/>):
    /// the set is emptied, its other actions composed in their order (rewriting the key), then the resubmit looks the
    /// key up in its table (255: <paramref name="t"/>, the last rule's) as one in apply-actions does, with its limits.
    /// What the rules it reaches write into the action set is dropped: Open vSwitch runs the action set once. After an
    /// exit the resubmit runs nothing (the set's other actions are still appended). Otherwise nothing happens here and
    /// the caller appends the set.
    /// </summary>
    private void RunSetResubmit(Pipeline pipeline, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
    {
        if (_exit || !_set.TryTakeResubmit(out var resubmit)) return;
        // The set's other actions hold no resubmit or clone, so composing them never comes back here while they are read.
        var items = _setItems;
        items.Clear();
        _set.AppendTo(items);
        _set.Clear();
        _regs.ActsetOutputCode = 0;
        if (_cloneDepth == 0)
        {
            _setRun.AddRange(items);
            _setRun.Add(resubmit);
        }
        bool inSet = _inActionSet;
        _inActionSet = true;
        Compose(pipeline, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(items), ref b, t, trace, depth);
        if (!_dropped && !_exit) Resubmit(pipeline, resubmit, ref b, t, trace, depth);
        _inActionSet = inSet;
        _set.Clear();
        _regs.ActsetOutputCode = 0;
    }

    /// <summary>
    /// The action set's register loads and moves, run where the set runs (after its set-fields, before its set_queue,
    /// group and output; <see cref="ActionSet"/>'s remarks) on the run's key and register file: <see cref="_setRegisters"/>
    /// is what they compose (the set-fields of the packet fields they write), for <see cref="ActionSet.AppendTo(List{FlowAction}, ReadOnlySpan{FlowAction})"/>.
    /// </summary>
    private void ComposeSetRegisters(ref FlowKeyBuilder b)
    {
        _setRegisters.Clear();
        foreach (var r in _set.RegisterActions)
        {
            var a = r;
            if (RegisterAction(ref b, ref a)) _setRegisters.Add(a);
            if (_dropped) return;
        }
    }

    /// <summary>
    /// A group action (<paramref name="a"/>, its visit composed) whose group's buckets resubmit (Open vSwitch's
    /// xlate_group_bucket): each bucket's list is composed after a <see cref="ActionKind.Bucket"/> marker, on the key,
    /// register file and packet words as they were at the group (each bucket works on its own copy of the packet), one
    /// resubmit depth deeper, under a <see cref="ActionKind.ComposedGroup"/> head; the executor picks the buckets. An exit
    /// ends its bucket only; what the rules a bucket reaches write into the action set is dropped with the bucket's copy.
    /// The run reads <see cref="Pipeline.StageCreations"/> before the group (a change to a group that resubmits moves it),
    /// whatever the group. False: not composed here (no such group, or its buckets hold no resubmit: the executor runs it).
    /// Past <see cref="MaxResubmitDepth"/> or <see cref="MaxResubmits"/>, or groups composed
    /// <see cref="Groups.GroupTable.MaxDepth"/> deep (a group that applies itself through a resubmit), the packet is dropped.
    /// </summary>
    private bool ComposeGroup(Pipeline pipeline, in FlowAction a, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace, int depth)
    {
        var creations = pipeline.StageCreations;
        long created = creations.Version; // before the group is read
        if (pipeline.Groups is not { } groups) return false;
        if (Absent is null)
        {
            Absent = creations;
            AbsentVersion = created;
        }
        if (!groups.AnyResubmit || !groups.TryGet(a.QueueId, out var g) || !groups.ReachesResubmit(g)) return false;
        if (depth >= MaxResubmitDepth || Resubmits >= MaxResubmits || _groupDepth >= Groups.GroupTable.MaxDepth)
        {
            _dropped = true;
            return true;
        }
        UsedRegisterActions = true; // a repair replays the stages' rewrites, which a bucket's must not reach
        if (b.KeyRef.Metadata != _pinMetadata)
        {
            _pinMetadata = b.Key.Metadata;
            _composed.Add(FlowAction.PacketInMetadata(_pinMetadata));
        }
        var key = b.Key;
        var regs = _regs;
        ulong pkt = _pkt, pin = _pinMetadata;
        bool reparse = _reparse;
        var outer = _set;
        if (_bucketSets.Count == _groupDepth) _bucketSets.Add(new ActionSet());
        var set = _bucketSets[_groupDepth++];
        // A fast-failover group runs its first live bucket: only that one is composed (its rules alone are visited and
        // credited), after the run noted the ports' state version, as a bundle's pick (the earliest reading kept).
        int only = -1, pick = FlowAction.NotPicked;
        uint dpHash = regs.DpHash;
        if (g.Type == Groups.GroupType.FastFailover)
        {
            if (LivenessAt == 0) LivenessAt = Ports.PortSlot.StateVersion; // before any port's state is read
            only = groups.FirstLive(g);
        }
        else if (g.Type == Groups.GroupType.Select && !_reparse)
        {
            // A select group runs one bucket a packet: the walk picks it as the executor would pick it for the frame (the
            // key's hash, its weighted slot, a live bucket), so only its rules are visited and credited and only its
            // learns compose (Open vSwitch's xlate_select_group, the hash's fields in its megaflow). A verdict stands for
            // one pick. After a re-parse point the key no longer tells the packet's fields: every bucket is composed,
            // and the executor picks by the frame.
            only = pick = PickSelectBucket(groups, g, b.KeyRef, dpHash, out uint hash);
            NoteRead((uint)(pick + 2));
            // A dp_hash group's hash is the packet's dp_hash from here on (Open vSwitch's hash action, then the
            // recirculation that resumes at the group): the bucket's rules see it, and so does all that follows the group
            // (the actions after it, the tables its goto and resubmits reach, the action set). A packet that has one
            // already keeps it, and the group picks by it (pick_dp_hash_select_group). Not known after a re-parse point
            // (no pick there): the value from before the group stays.
            if (g.Method == Groups.SelectMethod.DpHash) dpHash = hash;
        }
        int head = _composed.Count;
        _composed.Add(FlowAction.ComposedGroupOf(g.Id, a.GroupVisit, 0, pick));
        try
        {
            var buckets = g.Buckets;
            bool one = g.Type == Groups.GroupType.FastFailover || pick != FlowAction.NotPicked;
            for (int i = 0; i < buckets.Length; i++)
            {
                var bucket = buckets[i];
                int at = _composed.Count;
                _composed.Add(FlowAction.BucketOf(0));
                if (one && i != only) continue;
                _set = set;
                _set.Clear();
                _regs.ActsetOutputCode = 0;
                _regs.DpHash = dpHash;
                Compose(pipeline, bucket.Actions.Items, ref b, t, trace, depth + 1);
                _exit = false; // Open vSwitch: a bucket's exit does not end the actions after the group
                _composed[at] = FlowAction.BucketOf(_composed.Count - at - 1);
                b = new FlowKeyBuilder(key);
                _regs = regs;
                _pkt = pkt;
                _reparse = reparse;
                _pinMetadata = pin; // the executor starts each bucket, and the actions after the group, with it
                if (_dropped) break;
            }
        }
        finally
        {
            set.Clear();
            _set = outer;
            _groupDepth--;
        }
        _composed[head] = FlowAction.ComposedGroupOf(g.Id, a.GroupVisit, _composed.Count - head - 1, pick);
        _regs.DpHash = dpHash; // the buckets' copies are gone; a dp_hash group's hash stays
        return true;
    }

    /// <summary>Liveness scratch of <see cref="PickSelectBucket"/>.</summary>
    private bool[] _selectLive = [];

    /// <summary>
    /// The bucket select group <paramref name="g"/> runs for a packet of key <paramref name="key"/>, as the executor
    /// picks it for a frame (<see cref="Actions.ActionExecutor.FlowHashOf(in FlowKey)"/> into its weighted slots, a dead
    /// bucket's packets to a live one by weight), or <see cref="FlowAction.NoBucketPicked"/> when none is live. A group
    /// whose buckets watch a port or group notes the ports' state version first (<see cref="LivenessAt"/>).
    /// <paramref name="h"/>: the group's hash of the key; a dp_hash group's is the packet's dp_hash,
    /// <paramref name="dpHash"/> when the packet has one already (not 0), else the group's hash of the key.
    /// </summary>
    private int PickSelectBucket(Groups.GroupTable groups, Groups.Group g, in FlowKey key, uint dpHash, out uint h)
    {
        h = g.Method == Groups.SelectMethod.DpHash && dpHash != 0 ? dpHash : Actions.ActionExecutor.SelectHashOf(g, key);
        if (g.SlotCount == 0) return FlowAction.NoBucketPicked;
        if (!g.AnyLiveness) return g.Pick(h, null, 0);
        if (LivenessAt == 0) LivenessAt = Ports.PortSlot.StateVersion; // before any port's state is read
        var buckets = g.Buckets;
        if (_selectLive.Length < buckets.Length) _selectLive = new bool[buckets.Length];
        long liveWeight = groups.MarkLive(g, _selectLive);
        int b = g.Pick(h, _selectLive, liveWeight);
        return b < 0 ? FlowAction.NoBucketPicked : b;
    }

    /// <summary>
    /// When the action set's group resubmits in its buckets: the set is emptied and its actions composed in their order
    /// (the group last, its buckets composed by <see cref="ComposeGroup"/>), as the action set's (true); else false
    /// (nothing done: the caller appends the set).
    /// </summary>
    private bool ComposeSetGroup(Pipeline pipeline, ref FlowKeyBuilder b, int t, List<PipelineTraceStep>? trace)
    {
        if (_set.IsEmpty || pipeline.Groups is not { } groups) return false;
        // A list per nesting level: a clone in a rule the group's buckets reach ends here again while this one is read.
        if (_setGroupItems.Count == _setGroupDepth) _setGroupItems.Add(new List<FlowAction>());
        var items = _setGroupItems[_setGroupDepth];
        items.Clear();
        _set.AppendTo(items);
        bool any = false;
        foreach (var a in items)
        {
            if (a.Kind != ActionKind.Group) continue;
            // Read before the group, as ComposeGroup does: the set's group may come to resubmit.
            var creations = pipeline.StageCreations;
            if (Absent is null)
            {
                Absent = creations;
                AbsentVersion = creations.Version;
            }
            any |= groups.AnyResubmit && groups.TryGet(a.QueueId, out var g) && groups.ReachesResubmit(g);
        }
        if (!any) return false;
        _set.Clear();
        _regs.ActsetOutputCode = 0;
        bool inSet = _inActionSet, exit = _exit;
        _inActionSet = true;
        _exit = false; // the action set runs after an exit
        _setGroupDepth++;
        try
        {
            Compose(pipeline, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(items), ref b, t, trace, 0);
        }
        finally
        {
            _setGroupDepth--;
            _inActionSet = inSet;
            _exit = exit;
        }
        return true;
    }

    /// <summary>
    /// A hit's clear-actions and write-actions on the action set, and actset_output (the register file's
    /// <see cref="Registers.ActsetOutputCode"/>) kept the set's output: a function of the rules hit, so a cached
    /// verdict stays right for it.
    /// </summary>
    private void WriteSet(FlowInstructions ins)
    {
        if (ins.ClearActions) _set.Clear();
        if (ins.WriteActions is { } w) _set.Write(w);
        if (ins.ClearActions || ins.WriteActions is not null) _regs.ActsetOutputCode = _set.OutputCode;
    }

    /// <summary>
    /// The packet's TTL (IPv4) or hop limit (IPv6) as the actions composed so far left it, which the key does not hold: the
    /// packet's words, which the result then depends on (<see cref="PacketFieldsMask"/>: a verdict serves that TTL only).
    /// </summary>
    private byte Ttl()
    {
        _usedPkt |= 0xFFUL << Registers.TtlShift;
        return (byte)(_pkt >> Registers.TtlShift);
    }

    /// <summary>A composed set_nw_ttl or dec_ttl on the packet's TTL as later lookups see it (dec_ttl stops at 0).</summary>
    private void Ttl(in FlowAction a)
    {
        ulong ttl = (_pkt >> Registers.TtlShift) & 0xFF;
        ttl = a.Kind == ActionKind.SetNwTtl ? a.Value & 0xFF : ttl == 0 ? 0 : ttl - 1;
        _pkt = (_pkt & ~(0xFFUL << Registers.TtlShift)) | ttl << Registers.TtlShift;
    }

    /// <summary>
    /// Runs register action <paramref name="a"/> (<see cref="ActionKind.FieldLoad"/>, <see cref="ActionKind.FieldMove"/>,
    /// <see cref="ActionKind.OutputField"/>, <see cref="ActionKind.Multipath"/>) on the run's key and register file. Returns true with <paramref name="a"/>
    /// the action to compose in its place (a write to a packet field becomes the set-field that rewrites it; an output
    /// of a field's value, the output to that port), false when there is none (a register written, a port that names
    /// nothing, or the packet dropped: a packet field read after a re-parse point, which the key no longer tells).
    /// </summary>
    private bool RegisterAction(ref FlowKeyBuilder b, ref FlowAction a)
    {
        UsedRegisterActions = true;
        switch (a.Kind)
        {
            case ActionKind.FieldLoad:
                return WriteField(ref b, a.LoadDst, a.Wide, ref a);
            case ActionKind.FieldMove:
            {
                if (!ReadField(b.KeyRef, a.MoveSrc, out var bits)) return false;
                return WriteField(ref b, a.MoveDst, bits, ref a);
            }
            case ActionKind.Multipath:
            {
                // The link a hash of key fields picks: recorded as a read (a verdict stands for one link), and after a
                // re-parse point, which the key no longer tells, the packet is dropped.
                if (_reparse)
                {
                    _dropped = true;
                    return false;
                }
                ushort link = Actions.Multipath.Link(b.KeyRef, a.MultipathFields, a.MultipathBasis, a.MultipathAlgorithm, a.MultipathMaxLink + 1, a.MultipathArg);
                NoteRead(link);
                return WriteField(ref b, a.MultipathDst, link, ref a);
            }
            default:
            {
                if (!ReadField(b.KeyRef, a.OutputSrc, out var v)) return false;
                ushort port = OutputPort(v);
                if (port == 0) return false;
                a = FlowAction.Output(port, a.MaxLen);
                return true;
            }
        }
    }

    /// <summary>
    /// Open vSwitch's bundle and bundle_load (ofproto-dpif-xlate.c xlate_bundle_action; docs/datapath.md, "Bundle"): the
    /// member <see cref="Actions.Bundle.Pick"/> takes among the live ones, after the run noted the ports' state version
    /// (<see cref="LivenessAt"/>, the earliest reading kept) and recorded the pick as a key read (a verdict stands for one
    /// pick); bundle outputs to it (nothing when none is live), bundle_load writes its 16-bit number (0xffff: none) as a
    /// load. An hrw pick after a re-parse point, which the key no longer tells, drops the packet, as for a multipath.
    /// </summary>
    private bool ComposeBundle(Pipeline pipeline, ref FlowKeyBuilder b, ref FlowAction a)
    {
        UsedRegisterActions = true;
        if (_reparse && a.BundleAlgorithm == Actions.Bundle.Hrw)
        {
            _dropped = true;
            return false;
        }
        if (LivenessAt == 0) LivenessAt = Ports.PortSlot.StateVersion; // before any port's state is read
        ushort pick = Actions.Bundle.Pick(b.KeyRef, a.BundleFields, a.BundleBasis, a.BundleAlgorithm, BundleMembers.Get(a.BundleMembersId),
                                          pipeline.PortLiveness);
        NoteRead(pick);
        if (a.BundleHasDst) return WriteField(ref b, a.BundleDst, pick, ref a);
        ushort port = OutputPort(pick);
        if (port == 0) return false;
        a = FlowAction.Output(port);
        return true;
    }

    /// <summary>
    /// Open vSwitch's learn (docs/datapath.md, "Learn"): the template's fields read now, from the key as the actions
    /// before it left it and the register file, and composed as a <see cref="ActionKind.LearnRequest"/> followed by
    /// their values, which the executor posts for every batch the verdict serves. A packet field read is recorded
    /// (<see cref="KeyReads"/>): a verdict stands for one learned flow. After a re-parse point the packet is dropped,
    /// as for a move. A template id the registry does not know composes nothing.
    /// With a limit (<see cref="ILearnTemplate.Limit"/>), the learn learns only when its flow is in the learned table
    /// already (a refresh) or the table holds fewer rules of the learn's tag than the limit; otherwise no request is
    /// composed. Its result (1 learned, 0 not) goes into <see cref="ILearnTemplate.ResultDst"/> when it has one, before
    /// the actions after it run: true when that makes a set-field of a packet field, returned in <paramref name="a"/>.
    /// </summary>
    private bool ComposeLearn(Pipeline pipeline, ref FlowKeyBuilder b, ref FlowAction a)
    {
        if (LearnTemplates.Get((int)a.QueueId) is not { } template) return false;
        UsedRegisterActions = true;
        int state = 0;
        foreach (var c in _composed)
            if (c.Kind == ActionKind.LearnRequest) state++;
        var sources = template.Sources;
        int at = _composed.Count;
        _composed.Add(FlowAction.LearnRequest((int)a.QueueId, sources.Length, state));
        foreach (var src in sources)
        {
            if (!ReadField(b.KeyRef, src, out var v))
            {
                _composed.RemoveRange(at, _composed.Count - at);
                return false;
            }
            _composed.Add(FlowAction.LearnValue(v));
        }
        bool learns = true;
        if (template.Limit != 0)
        {
            learns = MayLearn(pipeline, template, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_composed).Slice(at + 1, sources.Length));
            NoteRead(learns ? 1u : 0u); // runs that differ by it compose different results
            if (!learns) _composed.RemoveRange(at, _composed.Count - at);
        }
        if (template.ResultDst is not { } dst) return false;
        return WriteField(ref b, dst, learns ? 1u : 0u, ref a);
    }

    /// <summary>
    /// Open vSwitch's ofproto_flow_mod_learn limit check, as the datapath can make it without a lock: true when
    /// <paramref name="template"/>'s flow for <paramref name="values"/> is in its table (a refresh, not counted), or the
    /// table holds fewer rules of the template's tag than its limit (<see cref="FlowTable.TaggedCount"/>; a tag the
    /// table does not count yet: none). The table's version is read first and kept (<see cref="LearnGuards"/>).
    /// </summary>
    private bool MayLearn(Pipeline pipeline, ILearnTemplate template, ReadOnlySpan<FlowAction> values)
    {
        if (pipeline.Stage(template.Table) is not { } table) return true;
        var published = table.Published;
        bool seen = false;
        foreach (var g in _guards) seen |= ReferenceEquals(g.Table, published);
        if (!seen) _guards.Add(new LearnGuard(published, published.Version)); // the earliest reading is kept
        if (!table.TaggedCount(template.Tag, out int count) || (uint)count < template.Limit) return true;
        return LearnedFlowThere(table, template, values);
    }

    /// <summary>
    /// Whether <paramref name="template"/>'s flow for <paramref name="values"/> is in <paramref name="table"/>: a rule of
    /// the template's tag and priority matches a key holding the values where the learned flow matches them (every other
    /// field 0), found among all the rules that match that key, so a higher-priority rule over it does not hide it.
    /// </summary>
    private bool LearnedFlowThere(FlowTable table, ILearnTemplate template, ReadOnlySpan<FlowAction> values)
    {
        var probe = new FlowKeyBuilder();
        Registers regs = default;
        foreach (var m in template.Matches)
        {
            UInt128 v = m.Source < 0 ? m.Value : (uint)m.Source < (uint)values.Length ? values[m.Source].Wide : 0;
            var whole = FieldRef.ReadWhole(m.Dst.Field, probe.KeyRef, regs);
            FieldRef.WriteWhole(m.Dst.Field, ref probe, ref regs, m.Dst.Insert(whole, v));
        }
        return table.FindMatching(probe.KeyRef, regs, template.Tag, template.Priority, Version) is not null;
    }

    /// <summary>
    /// The bits of <paramref name="src"/>; a packet field's are recorded in <see cref="KeyReads"/> (false, the packet
    /// dropped: a packet field after a re-parse point).
    /// </summary>
    private bool ReadField(in FlowKey key, FieldRef src, out UInt128 bits)
    {
        if (FieldRef.IsRegister(src.Field))
        {
            bits = src.Read(key, _regs);
            // dp_hash is the key's hash, not a value the rules hit wrote: runs of one chain that read different ones
            // compose different results.
            if (src.Field == PipelineField.DpHash) NoteRead(bits);
            return true;
        }
        if (src.Field == PipelineField.NwTtl)
        {
            bits = ((UInt128)Ttl() >> src.Ofs) & src.ValueMask;
            return true;
        }
        bits = 0;
        if (_reparse)
        {
            _dropped = true;
            return false;
        }
        bits = src.Read(key, _regs);
        NoteRead(bits);
        return true;
    }

    private void NoteRead(UInt128 v)
    {
        _reads.Add((ulong)v);
        if ((v >> 64) != 0) _reads.Add((ulong)(v >> 64));
    }

    /// <summary>
    /// Writes <paramref name="bits"/> into <paramref name="dst"/>: a register in the file (false: nothing to compose),
    /// the metadata in the key (false), another packet field as the set-field action of its whole new value, returned
    /// in <paramref name="a"/> (a partial write reads the rest of the field from the key: recorded, and after a re-parse
    /// point the packet is dropped).
    /// </summary>
    private bool WriteField(ref FlowKeyBuilder b, FieldRef dst, UInt128 bits, ref FlowAction a)
    {
        if (FieldRef.IsRegister(dst.Field))
        {
            FieldRef.WriteRegister(dst.Field, ref _regs, dst.Insert(FieldRef.ReadWhole(dst.Field, default, _regs), bits));
            return false;
        }
        UInt128 whole;
        if (dst.IsWhole)
        {
            whole = bits & dst.ValueMask;
        }
        else if (dst.Field == PipelineField.NwTtl)
        {
            whole = dst.Insert(Ttl(), bits);
        }
        else
        {
            if (_reparse)
            {
                _dropped = true;
                return false;
            }
            var old = FieldRef.ReadWhole(dst.Field, b.KeyRef, _regs);
            NoteRead(old);
            whole = dst.Insert(old, bits);
        }
        switch (dst.Field)
        {
            case PipelineField.Metadata: b.Metadata((ulong)whole); return false;
            case PipelineField.TunId: a = FlowAction.SetTunnel((ulong)whole); return true;
            case PipelineField.VlanTci or PipelineField.VlanVid: return WriteVlan(ref b, dst.Field, (ushort)whole, ref a);
            default:
                if (!PacketFieldSet(dst.Field, whole, out var set)) return false;
                a = set;
                return true;
        }
    }

    /// <summary>
    /// A write of the packet's 802.1Q tag as Open vSwitch's vlan_tci and vlan_vid take it: with the tag-present bit the
    /// packet is tagged (an untagged one gets a tag, PCP 0) with the VID and, for vlan_tci, the PCP (a set-VID composed
    /// here, the set-PCP returned when the PCP changes); without it the tag is stripped (nothing on an untagged packet).
    /// </summary>
    private bool WriteVlan(ref FlowKeyBuilder b, PipelineField field, ushort whole, ref FlowAction a)
    {
        ref readonly var k = ref b.KeyRef;
        bool tagged = (k.VlanVid & FlowKey.VlanPresent) != 0;
        if ((whole & FlowKey.VlanPresent) == 0)
        {
            if (!tagged) return false;
            a = FlowAction.StripVlan();
            return true;
        }
        var vid = FlowAction.SetVlanVid((ushort)(whole & 0x0FFF));
        byte pcp = (byte)(whole >> 13);
        if (field == PipelineField.VlanVid || pcp == (tagged ? k.DlVlanPcp & 7 : 0))
        {
            a = vid;
            return true;
        }
        _composed.Add(vid);
        if (Reparses(b.KeyRef, vid)) _reparse = true;
        else Rewrite(ref b, vid);
        a = FlowAction.SetVlanPcp(pcp);
        return true;
    }

    /// <summary>
    /// The set-field action that writes <paramref name="whole"/> into packet field <paramref name="field"/> (a header
    /// field of the frame: Ethernet, IPv4, transport, IPv6 or ARP); false for any other field (a register, metadata, the
    /// tunnel id, or one the switch does not write).
    /// </summary>
    internal static bool PacketFieldSet(PipelineField field, UInt128 whole, out FlowAction a)
    {
        a = default;
        switch (field)
        {
            case PipelineField.EthSrc: a = FlowAction.SetDlSrc(new MacAddress((ulong)whole)); return true;
            case PipelineField.EthDst: a = FlowAction.SetDlDst(new MacAddress((ulong)whole)); return true;
            case PipelineField.Ipv4Src: a = FlowAction.SetNwSrc((uint)whole); return true;
            case PipelineField.Ipv4Dst: a = FlowAction.SetNwDst((uint)whole); return true;
            case PipelineField.IpTos: a = FlowAction.SetNwTos((byte)whole); return true;
            case PipelineField.IpEcn: a = FlowAction.SetIpEcn((byte)whole); return true;
            case PipelineField.NwTtl: a = FlowAction.SetNwTtl((byte)whole); return true;
            case PipelineField.Ipv6Label: a = FlowAction.SetIpv6Flabel((uint)whole); return true;
            case PipelineField.TcpSrc: a = FlowAction.SetTpSrc((ushort)whole, 6); return true;
            case PipelineField.TcpDst: a = FlowAction.SetTpDst((ushort)whole, 6); return true;
            case PipelineField.UdpSrc: a = FlowAction.SetTpSrc((ushort)whole, 17); return true;
            case PipelineField.UdpDst: a = FlowAction.SetTpDst((ushort)whole, 17); return true;
            case PipelineField.SctpSrc: a = FlowAction.SetTpSrc((ushort)whole, 132); return true;
            case PipelineField.SctpDst: a = FlowAction.SetTpDst((ushort)whole, 132); return true;
            case PipelineField.Ipv6Src: a = FlowAction.SetIpv6Src(whole); return true;
            case PipelineField.Ipv6Dst: a = FlowAction.SetIpv6Dst(whole); return true;
            case PipelineField.ArpSpa: a = FlowAction.SetArpSpa((uint)whole); return true;
            case PipelineField.ArpTpa: a = FlowAction.SetArpTpa((uint)whole); return true;
            case PipelineField.ArpSha: a = FlowAction.SetArpSha(new MacAddress((ulong)whole)); return true;
            case PipelineField.ArpTha: a = FlowAction.SetArpTha(new MacAddress((ulong)whole)); return true;
            default: return false; // read-only fields (in_port, eth_type, ip_proto): the layer above refuses such a write
        }
    }

    /// <summary>
    /// The port a 16-bit field value names for an output (Open vSwitch's output_reg, u16_to_ofp): a port number below
    /// the reserved range as it is, and the reserved ports by OpenFlow 1.0's numbers, the 16-bit form every field that
    /// holds a port has (0xfff8 in_port, 0xfffa normal, 0xfffb flood, 0xfffc all, 0xfffd controller, 0xfffe local);
    /// 0 (no output) for any other value, a value past 16 bits included.
    /// </summary>
    internal static ushort OutputPort(UInt128 v)
    {
        if (v == 0 || v > 0xFFFF) return 0;
        ushort p = (ushort)v;
        if (p < Ports.PortNumber.Highest) return p;
        return p switch
        {
            0xFFF8 => Ports.PortNumber.InPort,
            0xFFFA => Ports.PortNumber.Normal,
            0xFFFB => Ports.PortNumber.Flood,
            0xFFFC => Ports.PortNumber.All,
            0xFFFD => Ports.PortNumber.Controller,
            0xFFFE => Ports.PortNumber.Local,
            _ => 0,
        };
    }

    /// <summary>
    /// Whether <paramref name="a"/>, run on a packet whose key is <paramref name="k"/>, changes which headers the packet
    /// has in a way the key cannot follow, so that a later table must see the packet parsed anew: a pop of MPLS or
    /// PBB (what is under them is not in the key), a push of PBB, a push of a second VLAN tag or a pop that uncovers
    /// one (the parser matches one tag: its ethertype becomes the tag's, or the inner tag the outer), a push of MPLS
    /// on a PBB frame (it goes into the customer's frame, which the key does not hold), a set of eth_type or ip_proto
    /// (they say how the rest of the packet is read). Any other push of MPLS, a push of a first VLAN tag, and every
    /// other rewrite, the key follows exactly (<see cref="Rewrite"/>).
    /// </summary>
    internal static bool Reparses(in FlowKey k, in FlowAction a) => a.Kind switch
    {
        ActionKind.PopMpls or ActionKind.PopPbb or ActionKind.PushPbb or ActionKind.SetEthType or ActionKind.SetIpProto => true,
        ActionKind.PushVlan => (k.VlanVid & FlowKey.VlanPresent) != 0,
        ActionKind.PushMpls => k.DlType == PacketParser.EthTypePbb, // pushed inside the customer's frame
        ActionKind.StripVlan => k.DlType is PacketParser.EthTypeVlan or PacketParser.EthTypeServiceVlan,
        _ => false,
    };

    /// <summary>
    /// Whether <paramref name="a"/> can send packet-ins, which carry the pipeline's metadata at that point (OpenFlow
    /// 1.3.5 section 7.4.1): an output to the controller, a group (its buckets may output there), a TTL decrement
    /// (invalid-TTL packet-ins).
    /// </summary>
    private static bool SendsPacketIns(in FlowAction a)
        => a.Kind is ActionKind.Group or ActionKind.DecNwTtl or ActionKind.DecMplsTtl
           || (a.Kind == ActionKind.Output && a.Port == Ports.PortNumber.Controller);

    /// <summary>The lookup key after <paramref name="a"/> ran on the packet (see the type remarks).</summary>
    internal static void Rewrite(ref FlowKeyBuilder b, in FlowAction a)
    {
        ref readonly var k = ref b.KeyRef; // read before any setter below (each case sets after it has decided)
        bool ip4 = k.DlType == PacketParser.EthTypeIpv4, ip6 = k.DlType == PacketParser.EthTypeIpv6;
        // A later fragment has no L4 header: the executor leaves its payload alone, so its ports and ICMP type stay 0.
        bool l4 = (ip4 || ip6) && !k.IsLaterFragment;
        bool ports = l4 && k.NwProto is PacketParser.ProtoTcp or PacketParser.ProtoUdp or PacketParser.ProtoSctp;
        bool icmp = l4 && ((ip4 && k.NwProto == PacketParser.ProtoIcmp) || (ip6 && k.NwProto == PacketParser.ProtoIcmpv6));
        bool arp = k.DlType == PacketParser.EthTypeArp;
        bool mpls = k.DlType is PacketParser.EthTypeMpls or PacketParser.EthTypeMplsMulticast;
        bool nd = ip6 && k.NwProto == PacketParser.ProtoIcmpv6 && k.TpSrc is 135 or 136;
        switch (a.Kind)
        {
            case ActionKind.SetDlSrc: b.DlSrc(new MacAddress(a.Value)); break;
            case ActionKind.SetDlDst: b.DlDst(new MacAddress(a.Value)); break;
            case ActionKind.SetNwSrc: if (ip4) b.NwSrc((uint)a.Value); break;
            case ActionKind.SetNwDst: if (ip4) b.NwDst((uint)a.Value); break;
            case ActionKind.SetNwTos: if (ip4 || ip6) b.NwTos((byte)(a.Value & 0xFC)); break;
            case ActionKind.SetIpEcn: if (ip4 || ip6) b.IpEcn((byte)(a.Value & 3)); break;
            case ActionKind.SetTpSrc: if (ports) b.TpSrc((ushort)a.Value); break;
            case ActionKind.SetTpDst: if (ports) b.TpDst((ushort)a.Value); break;
            case ActionKind.SetIcmpType: if (icmp) b.TpSrc((byte)a.Value); break;
            case ActionKind.SetIcmpCode: if (icmp) b.TpDst((byte)a.Value); break;
            case ActionKind.SetIpv6Src: if (ip6) b.Ipv6Src(a.Wide); break;
            case ActionKind.SetIpv6Dst: if (ip6) b.Ipv6Dst(a.Wide); break;
            case ActionKind.SetIpv6Flabel: if (ip6) b.Ipv6Flabel((uint)a.Value & 0xFFFFF); break;
            case ActionKind.SetArpOp: if (arp && a.Value <= 0xFF) b.NwProto((byte)a.Value); break;
            case ActionKind.SetArpSpa: if (arp) b.NwSrc((uint)a.Value); break;
            case ActionKind.SetArpTpa: if (arp) b.NwDst((uint)a.Value); break;
            case ActionKind.SetArpSha: if (arp) b.ArpSha(new MacAddress(a.Value)); break;
            case ActionKind.SetArpTha: if (arp) b.ArpTha(new MacAddress(a.Value)); break;
            case ActionKind.SetNdTarget: if (nd) b.NdTarget(a.Wide); break;
            case ActionKind.SetNdSll: if (nd && k.TpSrc == 135) b.ArpSha(new MacAddress(a.Value)); break;
            case ActionKind.SetNdTll: if (nd && k.TpSrc == 136) b.ArpTha(new MacAddress(a.Value)); break;
            case ActionKind.SetMplsLabel: if (mpls) b.MplsLabel((uint)a.Value & 0xFFFFF); break;
            case ActionKind.SetMplsTc: if (mpls) b.MplsTc((byte)(a.Value & 7)); break;
            case ActionKind.SetMplsBos: if (mpls) b.MplsBos((byte)(a.Value & 1)); break;
            case ActionKind.SetPbbIsid: if (k.DlType == PacketParser.EthTypePbb) b.PbbIsid((uint)a.Value & 0xFFFFFF); break;
            case ActionKind.SetEthType: b.DlType((ushort)a.Value); break;
            case ActionKind.SetIpProto: if (ip4 || ip6) b.NwProto((byte)a.Value); break;
            case ActionKind.SetVlanVid:
                if ((k.VlanVid & FlowKey.VlanPresent) == 0) b.DlVlanPcp(0);
                b.VlanVid((ushort)(FlowKey.VlanPresent | (a.Value & 0x0FFF)));
                break;
            case ActionKind.SetVlanPcp:
                if ((k.VlanVid & FlowKey.VlanPresent) == 0) b.VlanVid(FlowKey.VlanPresent);
                b.DlVlanPcp((byte)(a.Value & 7));
                break;
            case ActionKind.PushVlan:
                // The new outer tag copies the old outer tag's VID and PCP (1.3.5 section 5.12.1), else 0: the key's
                // (outer) vlan fields are unchanged on a tagged packet and become a tag of VID 0 on an untagged one.
                if ((k.VlanVid & FlowKey.VlanPresent) == 0) { b.VlanVid(FlowKey.VlanPresent); b.DlVlanPcp(0); }
                break;
            case ActionKind.StripVlan: b.VlanVid(0); b.DlVlanPcp(0); break;
            case ActionKind.PushMpls:
                if (!mpls)
                {
                    // The packet is MPLS now: its network fields are no longer visible to a lookup (as the parser,
                    // which stops at the label stack). The new entry is the bottom of the stack, label and TC 0.
                    ClearNetwork(ref b);
                    b.MplsLabel(0); b.MplsTc(0); b.MplsBos(1);
                }
                else
                {
                    b.MplsBos(0); // a copy of the outer entry's label and TC on top of it
                }
                b.DlType((ushort)a.Value);
                break;
            case ActionKind.PopMpls:
                // A re-parse point (no later table of the run looks this key up): the new ethertype, what was under
                // the entry unknown.
                b.MplsLabel(0); b.MplsTc(0); b.MplsBos(0);
                b.DlType((ushort)a.Value);
                break;
            case ActionKind.PushPbb:
                ClearNetwork(ref b);
                b.DlType(PacketParser.EthTypePbb);
                break;
            case ActionKind.PopPbb:
                // As for pop-MPLS: a re-parse point.
                b.PbbIsid(0);
                break;
            case ActionKind.SetTunnel: b.TunId(a.Value); break;
        }
    }

    /// <summary>Zeroes the key's network and transport fields (a push that hides them from later lookups).</summary>
    private static void ClearNetwork(ref FlowKeyBuilder b)
    {
        // One statement a field: the builder's setters return a copy (for chains on a fresh builder), not a reference.
        b.NwTos(0); b.IpEcn(0); b.NwProto(0); b.NwSrc(0); b.NwDst(0); b.TpSrc(0); b.TpDst(0); b.Ipv6Flabel(0); b.NwFrag(0);
        b.Ipv6Src(0); b.Ipv6Dst(0); b.NdTarget(0); b.ArpSha(default); b.ArpTha(default); b.Ipv6ExtHdr(0);
    }
}
