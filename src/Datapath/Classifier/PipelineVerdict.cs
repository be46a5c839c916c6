using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>How a pipeline run ended.</summary>
public enum PipelineEnd : byte
{
    /// <summary>A rule without goto-table ended it: the composed actions are the whole result.</summary>
    Actions,
    /// <summary>A stage missed in <see cref="TableMissMode.Controller"/>: after the composed actions (the earlier stages' apply-actions), the datapath's miss behaviour.</summary>
    MissController,
    /// <summary>A stage missed in <see cref="TableMissMode.Drop"/> (or continued past the last stage): after the composed actions, dropped.</summary>
    MissDrop,
    /// <summary>
    /// A stage's apply-actions changed which headers the packet has and its goto-table continues the run: after the
    /// composed actions, the packet is parsed anew and the rest of the pipeline looked up from <see cref="PipelineVerdict.Next"/>.
    /// </summary>
    Recirculate,
    /// <summary>
    /// The run went past the resubmit limits (<see cref="PipelineWalk.MaxResubmitDepth"/>, <see cref="PipelineWalk.MaxResubmits"/>)
    /// or resubmitted after a re-parse point: the packet is dropped whole (no action runs) and counted
    /// (<see cref="Counters.DropReason.Resubmit"/>), as Open vSwitch drops a packet whose translation failed.
    /// </summary>
    ResubmitDrop,
}

/// <summary>A learned table a limited learn counted (its published counters) and its version then (<see cref="PipelineWalk.LearnGuards"/>).</summary>
public readonly record struct LearnGuard(TableVersions Table, long Version);

/// <summary>
/// The composed result of a packet's whole run through a multi-stage <see cref="Pipeline"/>: the stages it visited,
/// the rule it hit in each (null: a miss that continued or ended the run) with the <see cref="ShadowClass"/> it
/// depends on there and that class's version, the composed action list (each hit rule's apply-actions in visiting
/// order, then the action set in the order of OpenFlow 1.3.5 section 5.10), and how the run ended.
/// </summary>
/// <remarks>
/// Valid (<see cref="IsCurrent"/>, checked on every use) while every rule hit is the incarnation the run found,
/// every visited stage's class keeps its recorded version and, when a bundle read which ports are live, no port's
/// state moved (<see cref="LivenessAt"/>); then a fresh run would compute the same result. The check
/// is one load while <see cref="Pipeline.Changes"/> has not moved. Owned by one forwarding thread: immutable while a
/// cache slot holds it, except for its pending credits and an in-place repair by its owner (<see cref="FindRepair"/>,
/// <see cref="CommitRepair"/>); reused through <see cref="VerdictInterner.Recycle"/> once no slot holds it.
/// Design: docs/datapath.md, "Validity under churn" and "Repairing a stale verdict".
/// </remarks>
public sealed class PipelineVerdict
{
    private static int s_ids;

    /// <summary>A number unique among verdicts (wraps after 2^32), by which forwarders group packets.</summary>
    public readonly int Id = Interlocked.Increment(ref s_ids);
    /// <summary>The stages visited, in order.</summary>
    public readonly FlowTable[] Tables;
    /// <summary>
    /// What <see cref="IsCurrent"/> reads per stage, together in one array: the class the stage's result depends on (the
    /// hit rule's, or the table's miss class) and its version when the run read it (-1: it moved during the run), the
    /// table's published counters (<see cref="FlowTable.Published"/>, a line of their own, so the check does not read
    /// the table's object) and its <see cref="FlowTable.Removals"/> when the hit was last known to be in it, the hit
    /// and its serial.
    /// </summary>
    private readonly StageCheck[] _checks;
    /// <summary>The pipeline's <see cref="Pipeline.Changes"/>, and its value when this verdict was last known current (-1: never).</summary>
    private ShadowClass _changes;
    private long _validatedAt;
    /// <summary>
    /// The run resubmitted, ran a register action or looked up a table with clauses of conjunctive matches: a stage's key
    /// then depends on where in another stage's list the resubmit stood, or on registers, which a repair (rebuilding each
    /// stage's key from the header rewrites of the stages before it) does not know, and what clauses combine to depends
    /// on more rules than the one a stage found; so such a verdict is walked anew.
    /// </summary>
    private bool _resubmits;
    private static readonly ulong[] s_noReads = [];
    // The bits of the packet's tunnel and TTL/TCP-flags words the run's tables tested, and the values it saw under them.
    private ulong _tunnelMask, _fieldsMask, _tunnelValue, _fieldsValue;

    /// <summary>
    /// The run looked up a table whose rules test the packet's words the key does not hold (tunnel endpoints, TTL, TCP
    /// flags): the verdict stands for packets of its key only when <see cref="PacketMatches"/> says so, and is walked anew
    /// rather than repaired. False for every verdict of a pipeline without such a rule.
    /// </summary>
    public bool PacketDependent { get; private set; }

    /// <summary>Whether a packet with the words <paramref name="tunnel"/> and <paramref name="fields"/> has the values this run saw (<see cref="PacketDependent"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PacketMatches(ulong tunnel, ulong fields)
        => (((tunnel & _tunnelMask) ^ _tunnelValue) | ((fields & _fieldsMask) ^ _fieldsValue)) == 0;

    /// <summary>What the run's composed result read from the key (<see cref="PipelineWalk.KeyReads"/>): runs of the same chain share this verdict only when they read the same.</summary>
    internal ulong[] KeyReads { get; private set; } = s_noReads;

    internal struct StageCheck
    {
        public ShadowClass Class;
        public TableVersions Table;
        public FlowEntry? Hit;
        /// <summary>The hit's apply-actions and instructions as the run read them (what the composed list was made of; a repair compares a new hit's with them).</summary>
        public FlowActions? HitActions;
        public FlowInstructions? HitInstructions;
        public long Version;
        public long Removals;
        public int Serial;
        /// <summary>The stage's <see cref="FlowTable.StageId"/> (a forwarder counts its batches per stage from the checks, reading no table).</summary>
        public int StageId;
        /// <summary>The stage counts the packets as matched: a hit, not on its table-miss rule (<see cref="CountsAsMatch"/>).</summary>
        public bool Matched;

        /// <summary>
        /// Whether the stage still returns what the run found, given its table's <see cref="FlowTable.Removals"/> read
        /// just before (so before the hit is read: a removal after that read moves it again): its class kept its
        /// version, and after a removal in the table the hit is still the incarnation the run found (IsRemoved first,
        /// then the serial: the order a recycled entry's new incarnation is written in reverse).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly bool Holds(long removals)
            => Class.Version == Version && (removals == Removals || Hit is not { } e || (!e.IsRemoved && e.Serial == Serial));
    }

    /// <summary>The pipeline's change counter this verdict was built against.</summary>
    internal ShadowClass ChangesClass => _changes;

    /// <summary>Stage <paramref name="i"/>'s check (the interner compares runs with it).</summary>
    internal ref readonly StageCheck Check(int i) => ref _checks[i];
    /// <summary>Every stage's check, in visiting order (a forwarder counts lookups and matches per stage from them).</summary>
    internal ReadOnlySpan<StageCheck> Checks => _checks;
    /// <summary>The pipeline's <see cref="Pipeline.StageCreations"/> when the run ended at a stage that did not exist, else null.</summary>
    public ShadowClass? Absent { get; private set; }
    /// <summary><see cref="Absent"/>'s version when the run read it.</summary>
    public long AbsentVersion { get; private set; }
    /// <summary>The learned tables a learn with a limit counted, each with its version then (none: empty): the verdict holds while each keeps it.</summary>
    public LearnGuard[] LearnGuards { get; private set; } = [];
    /// <summary>
    /// The ports' state version (<see cref="Ports.PortSlot.StateVersion"/>) when the run first read a port's liveness (a
    /// bundle's pick), else 0: the verdict holds while no port's state moved since (docs/datapath.md, "Bundle").
    /// </summary>
    public long LivenessAt { get; private set; }
    /// <summary>The rule hit in each visited stage (null: the stage missed).</summary>
    public readonly FlowEntry?[] Hits;
    /// <summary>The rules hit, in order (the non-null <see cref="Hits"/>): each is credited for every packet.</summary>
    public readonly FlowEntry[] Entries;
    /// <summary>Apply-actions of each visited stage in order, then the action set (empty when the run missed).</summary>
    public FlowActions Actions { get; private set; }
    /// <summary>How the run ended.</summary>
    public PipelineEnd End { get; private set; }
    /// <summary>Where the run started: null from table 0 with the parser's key, else the continuation of an earlier verdict.</summary>
    public PipelineContinuation? Start { get; private set; }
    /// <summary>Where the pipeline goes on when <see cref="End"/> is <see cref="PipelineEnd.Recirculate"/>, else null.</summary>
    public PipelineContinuation? Next { get; private set; }
    /// <summary>Packets and bytes the owning forwarder ran through this verdict and has not yet credited to its rules.</summary>
    internal long PendingPackets, PendingBytes;
    /// <summary>The owning forwarder's burst in which this verdict last got a flow-batch, and that batch's number (its grouping, with no index).</summary>
    internal long BatchBurst;
    internal int Batch;
    /// <summary>The interner that reuses this verdict once nothing holds it (null: never reused).</summary>
    internal readonly VerdictInterner? Owner;
    /// <summary>Cache slots holding this verdict (its owner's thread only; the owner's own slot is not counted).</summary>
    internal int Refs;
    /// <summary>In its owner's list of verdicts to reuse.</summary>
    internal bool Retired;
    /// <summary>The owner's slot this verdict was put in (it may have been replaced there since).</summary>
    internal int InternSlot = -1;
    /// <summary>The chain's hash its owner placed it by (its slot again when the owner's slots grow).</summary>
    internal uint InternHash;

    internal PipelineVerdict(PipelineWalk walk, FlowActions actions, VerdictInterner? owner)
    {
        int stages = walk.Count;
        Tables = new FlowTable[stages];
        _checks = new StageCheck[stages];
        Hits = new FlowEntry?[stages];
        int n = EntryCount(walk);
        Entries = new FlowEntry[n];
        Owner = owner;
        Actions = actions;
        _changes = walk.Changes!;
        Reinitialize(walk, actions);
    }

    /// <summary>Rules hit by <paramref name="walk"/>'s last run.</summary>
    internal static int EntryCount(PipelineWalk walk)
    {
        int n = 0;
        foreach (var h in walk.Hits) if (h is not null) n++;
        return n;
    }

    /// <summary>Makes this verdict <paramref name="walk"/>'s last run (arrays of its shape; nothing may hold it).</summary>
    internal void Reinitialize(PipelineWalk walk, FlowActions actions)
    {
        walk.Tables.CopyTo(Tables);
        walk.Hits.CopyTo(Hits);
        int n = 0;
        foreach (var h in Hits) if (h is not null) Entries[n++] = h;
        var classes = walk.Classes;
        var versions = walk.Versions;
        var removals = walk.Removals;
        var hitActions = walk.HitActions;
        var hitInstructions = walk.HitInstructions;
        _changes = walk.Changes!;
        // The run read the pipeline's change count before anything else: current at that count unless a class moved
        // during the run.
        _validatedAt = walk.ChangesAtStart;
        for (int i = 0; i < _checks.Length; i++)
        {
            var hit = Hits[i];
            if (versions[i] < 0) _validatedAt = -1;
            _checks[i] = new StageCheck
            {
                Class = classes[i], Table = Tables[i].Published, Hit = hit, HitActions = hitActions[i], HitInstructions = hitInstructions[i],
                Version = versions[i], Removals = removals[i], Serial = hit?.Serial ?? 0, StageId = Tables[i].StageId,
                Matched = CountsAsMatch(Tables[i], hit),
            };
        }
        Absent = walk.Absent;
        AbsentVersion = walk.AbsentVersion;
        var guards = walk.LearnGuards;
        LearnGuards = guards.IsEmpty ? [] : guards.ToArray();
        _tunnelMask = walk.PacketTunnelMask;
        _fieldsMask = walk.PacketFieldsMask;
        _tunnelValue = walk.PacketTunnelValue;
        _fieldsValue = walk.PacketFieldsValue;
        PacketDependent = (_tunnelMask | _fieldsMask) != 0;
        LivenessAt = walk.LivenessAt;
        _resubmits = walk.Resubmits != 0 || walk.UsedRegisterActions || walk.UsedConjunctions || PacketDependent
                     || (walk.Start is { } start && !start.Head.Registers.IsZero);
        var reads = walk.KeyReads;
        if (reads.Length == 0) KeyReads = s_noReads;
        else if (KeyReads.Length == reads.Length) reads.CopyTo(KeyReads);
        else KeyReads = reads.ToArray();
        Actions = actions;
        End = walk.End;
        Start = walk.Start;
        Next = walk.Next;
        PendingPackets = 0;
        PendingBytes = 0;
    }

    /// <summary>Prefetches what paying this verdict's credits reads first: its rule array and its stage checks.</summary>
    internal void PrefetchCredits()
    {
        Prefetch.Object(Entries, 1);
        Prefetch.Object(_checks, Math.Min(_checks.Length + 1, 9));
    }

    /// <summary>Prefetches the rules this verdict credits (after <see cref="PrefetchCredits"/> brought their array in).</summary>
    internal void PrefetchRules()
    {
        foreach (var e in Entries) Prefetch.Object(e, 1);
    }

    /// <summary>A cache slot now holds this verdict.</summary>
    internal void AddRef() => Refs++;

    /// <summary>A cache slot let go of this verdict; with none left, its owner may reuse it (after the burst, see <see cref="VerdictInterner.Recycle"/>).</summary>
    internal void Release()
    {
        if (--Refs == 0) Owner?.Retire(this);
    }

    /// <summary>Whether no change since the verdict was built could alter it (see the remarks).</summary>
    /// <remarks>
    /// Per stage, the class's version, then the table's <see cref="FlowTable.Removals"/>: while no removal was published
    /// in the table since the hit was last seen in it, the hit is still there and its entry is not read (a table and its
    /// classes are few and hot; a verdict's rules are many). After one, the hit's incarnation is checked once and the
    /// count it was seen at moves on (only the owning thread reads or writes a verdict's checks).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCurrent()
    {
        // Nothing published in the pipeline since this verdict was last found current: still current.
        long changes = _changes.Version;
        return (changes == _validatedAt && (LivenessAt == 0 || LivenessAt == Ports.PortSlot.StateVersion)) || CheckStages(changes);
    }

    /// <summary>The full check (see <see cref="IsCurrent"/>): every stage's class and hit; when they hold, current as of <paramref name="changes"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CheckStages(long changes)
    {
        var checks = _checks;
        for (int i = 0; i < checks.Length; i++)
        {
            ref var c = ref checks[i];
            long removals = c.Table.Removals;
            if (!c.Holds(removals)) return false;
            if (removals != c.Removals) c.Removals = removals; // the hit is still there as of this count
        }
        if (Absent is not null && Absent.Version != AbsentVersion) return false;
        foreach (var g in LearnGuards)
            if (g.Table.Version != g.Version) return false; // a limited learn's count or flow may have moved
        if (LivenessAt != 0 && LivenessAt != Ports.PortSlot.StateVersion) return false; // a bundle's pick may move
        // The count was read before the checks: a change published since moves it again.
        _validatedAt = changes;
        return true;
    }

    /// <summary>
    /// Finds how this stale verdict (<see cref="IsCurrent"/> failed) would be current for <paramref name="key"/> without
    /// a run of the whole pipeline: every stage whose check fails must find, on a lookup of its own, a rule that does
    /// what the hit did there (the same apply-actions and instructions, <see cref="SameBehaviour"/>): the rule deleted
    /// and added back, replaced by an equal one, or a change elsewhere in its class. A stage that missed, or whose new
    /// rule behaves otherwise, ends it (false: the caller runs the pipeline). Writes nothing but
    /// <paramref name="scratch"/> (the rules found, their classes and versions, each stage's removal count), which
    /// <see cref="CommitRepair"/> or <see cref="PipelineWalk.LoadRepaired"/> then reads; <paramref name="changes"/> is
    /// the pipeline's change count read before any stage.
    /// </summary>
    /// <remarks>
    /// <para>Why the result is a run's: stages are checked in visiting order, so a stage's key is the packet's key after
    /// the apply-actions and write-metadata of the stages before it, which the verdict records and which held or were
    /// repaired to rules that do the same; a repaired stage's lookup reads the table's removals and version before it
    /// and the class version after, as a run does (a class that moved meanwhile ends the repair). Each stage then
    /// returns a rule that does what the recorded hit did, so the stages visited, the composed actions and the end are
    /// unchanged: only the rules credited and the checks move.</para>
    /// <para>Only the owning thread calls it.</para>
    /// </remarks>
    internal bool FindRepair(in FlowKey key, PipelineWalk scratch, out long changes)
    {
        scratch.EnsureVisits(_checks.Length);
        var (repaired, classes, versions, removalsRead) = scratch.RepairScratch;
        changes = _changes.Version; // before any stage is read, as a run's
        long at = Tables.Length == 0 ? 0 : Tables[0].Versions.Current; // after it, as a run's: every stage is looked up at it
        if (_resubmits || (Absent is not null && Absent.Version != AbsentVersion)) return false;
        var checks = _checks;
        var b = new FlowKeyBuilder(key);
        bool any = false;
        for (int i = 0; i < checks.Length; i++)
        {
            ref var c = ref checks[i];
            var hit = c.Hit;
            long removals = c.Table.Removals; // before the hit and any lookup, as CheckStages and a run read it
            repaired[i] = null;
            removalsRead[i] = removals;
            if (!c.Holds(removals))
            {
                if (hit is null) return false; // a stage that missed: a rule may match now, or its miss mode moved
                var table = Tables[i];
                if (table.IsConjunctive) return false; // clauses now: the verdict is walked anew
                if (table.TestsPipelineWords) return false; // rules on the packet's words or actset_output: walked anew
                long tableVersion = table.Version;
                var e = table.Lookup(b.KeyRef, at);
                if (e is null) return false;
                var cls = table.ClassOf(e);
                long version = cls.Version;
                if (version > tableVersion || !SameBehaviour(c.HitActions, c.HitInstructions, e)) return false;
                repaired[i] = e;
                classes[i] = cls;
                versions[i] = version;
                any = true;
            }
            // The next stage's key: this stage's apply-actions and write-metadata, as the run applied them (a stage
            // that missed and continued changed nothing).
            if (c.HitActions is null) continue;
            foreach (ref readonly var a in c.HitActions.Items.AsSpan()) PipelineWalk.Rewrite(ref b, a);
            if (c.HitInstructions is { MetadataMask: not 0 } ins) b.Metadata(ins.ApplyMetadata(b.KeyRef.Metadata));
        }
        scratch.RepairFinalKey = b.Key;
        // A commit published while the repair looked (it may have unlinked a rule a lookup passed): walked anew.
        return any && (Tables.Length == 0 || Tables[0].Versions.Current == at);
    }

    /// <summary>
    /// Makes this verdict what <see cref="FindRepair"/> found, in place: the repaired stages' checks, hits and credited
    /// rules, every stage's removal count as read there, current as of <paramref name="changes"/>. Only for a verdict
    /// no other key's cache slot holds (a repair is for the key at hand: a key sharing the chain might find another
    /// rule) and whose pending credits were paid to the rules it was built with.
    /// </summary>
    internal void CommitRepair(PipelineWalk scratch, long changes)
    {
        var (repaired, classes, versions, removalsRead) = scratch.RepairScratch;
        var checks = _checks;
        int entry = 0;
        for (int i = 0; i < checks.Length; i++)
        {
            ref var c = ref checks[i];
            if (repaired[i] is { } e)
            {
                c.Class = classes[i];
                c.Version = versions[i];
                c.Hit = e;
                c.Serial = e.Serial;
                c.Matched = CountsAsMatch(Tables[i], e);
                Hits[i] = e;
                Entries[entry] = e;
            }
            // Read before the stage's hit was checked or looked up: a removal since then moves it again.
            c.Removals = removalsRead[i];
            if (c.Hit is not null) entry++;
        }
        _validatedAt = changes;
    }

    /// <summary>
    /// Whether a hit on <paramref name="hit"/> counts in <paramref name="table"/>'s matched packets: any hit, except on a
    /// rule the layer above marked as standing for the table's misses (<see cref="FlowEntry.IsTableMiss"/>) in a table
    /// whose misses a rule decides (miss mode other than <see cref="TableMissMode.Controller"/>).
    /// </summary>
    internal static bool CountsAsMatch(FlowTable table, FlowEntry? hit)
        => hit is not null && (!hit.IsTableMiss || table.MissMode == TableMissMode.Controller);

    /// <summary>
    /// Whether rule <paramref name="e"/> does what a hit with <paramref name="actions"/> and <paramref name="instructions"/>
    /// did: the same apply-actions in the same order, and the same meter, clear-actions, write-actions, write-metadata and
    /// goto-table (the same objects, or equal ones: an OpenFlow agent decodes each flow-mod's anew).
    /// </summary>
    internal static bool SameBehaviour(FlowActions? actions, FlowInstructions? instructions, FlowEntry e)
    {
        var ins = e.Instructions;
        return SameActions(actions, e.Actions)
               && (ReferenceEquals(instructions, ins)
                   || (instructions is not null && ins is not null && instructions.GotoTable == ins.GotoTable && instructions.Meter == ins.Meter
                       && instructions.ClearActions == ins.ClearActions && instructions.MetadataMask == ins.MetadataMask
                       && instructions.MetadataValue == ins.MetadataValue && SameActions(instructions.WriteActions, ins.WriteActions)));
    }

    private static bool SameActions(FlowActions? a, FlowActions? b)
        => ReferenceEquals(a, b) || (a is not null && b is not null && a.Items.AsSpan().SequenceEqual(b.Items));
}
