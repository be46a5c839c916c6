using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Classifier;

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

/// <summary>How a pipeline run ended.</summary>
public enum PipelineEnd : byte
{
    /// <summary>A rule without goto-table ended it: the composed actions are the whole result.</summary>
    Actions,
    /// <summary>A stage missed in <see cref="TableMissMode.Controller"/>: after the composed actions (the earlier stages' apply-actions), the datapath's miss behaviour.</summary>
    MissController,
    /// <summary>A stage missed in <see cref="TableMissMode.Drop"/> (or continued past the last stage): after the composed actions, dropped.</summary>
    MissDrop,
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

/// <summary>
/// The composed result of a packet's whole run through a multi-stage <see cref="Pipeline"/>: the stages it visited,
/// the rule it hit in each (null: a miss that continued or ended the run) with the <see cref="ShadowClass"/> it
/// depends on there and that class's version, the composed action list (each hit rule's apply-actions in visiting
/// order, then the action set in the order of OpenFlow 1.3.5 section 5.10), and how the run ended.
/// </summary>
/// <remarks>
/// <para>Validity (<see cref="IsCurrent"/>, checked on every use): every rule hit is still in its table as the
/// incarnation the run found (not <see cref="FlowEntry.IsRemoved"/>, same <see cref="FlowEntry.Serial"/>), and every
/// visited stage's class keeps the version recorded: the hit rule's class (mask and priority), or the table's
/// <see cref="FlowTable.MissClass"/> where the run missed; a run that went past a stage that does not exist also
/// records the pipeline's <see cref="Pipeline.StageCreations"/>. A class moves with exactly the flow-mods that could
/// change what its stage returns for some key the verdict covers (see <see cref="ShadowClass"/>: a rule that could
/// outrank the hit, a swap of the hit's actions or instructions, a new rule or miss mode where the run missed, a
/// change of the tie order), so such a flow-mod makes the verdict stale at once, and the rest of a table's churn
/// (other rules of the same mask and priority coming and going, rules below the hit) leaves it valid. By induction
/// over the stages, each stage then sees the same key and returns the same rule, so the composed result is the
/// one a fresh run would compute. A class version is read after the stage's lookup but compared with the table's
/// <see cref="FlowTable.Version"/> read before it: a class that moved meanwhile is recorded as stale (-1).</para>
/// <para>Cost: while nothing was published in the pipeline since the verdict was last found current
/// (<see cref="Pipeline.Changes"/>), the check is one load; after a change, each stage's class version, and the hit
/// rule itself only when its table published a removal (<see cref="FlowTable.Removals"/>).</para>
/// <para>Owned by one forwarding thread (its cache and its <see cref="VerdictInterner"/>), which adds the packets it
/// runs through the verdict to <see cref="PendingPackets"/> and credits them to the rules in batches (see
/// <c>Forwarder</c>).</para>
/// <para>Immutable while any cache slot holds it, but for those counters (a thread's <see cref="VerdictInterner"/> hands
/// the same one back for every later packet key with the same chain), and but for a repair: once stale, a verdict only
/// one slot holds may be brought current in place by its owner (<see cref="FindRepair"/>, <see cref="CommitRepair"/>). The interner counts the slots that hold it
/// (its own and the thread's cache's) and, once none does and its credits are paid, reuses the object and its arrays
/// for a later chain of the same shape (<see cref="VerdictInterner.Recycle"/>), so churn that keeps making new chains
/// allocates nothing once the pool is warm.</para>
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
    /// <summary>The rule hit in each visited stage (null: the stage missed).</summary>
    public readonly FlowEntry?[] Hits;
    /// <summary>The rules hit, in order (the non-null <see cref="Hits"/>): each is credited for every packet.</summary>
    public readonly FlowEntry[] Entries;
    /// <summary>Apply-actions of each visited stage in order, then the action set (empty when the run missed).</summary>
    public FlowActions Actions { get; private set; }
    /// <summary>How the run ended.</summary>
    public PipelineEnd End { get; private set; }
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
            };
        }
        Absent = walk.Absent;
        AbsentVersion = walk.AbsentVersion;
        Actions = actions;
        End = walk.End;
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
        return changes == _validatedAt || CheckStages(changes);
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
        var (repaired, classes, versions, removalsRead) = scratch.RepairScratch;
        changes = _changes.Version; // before any stage is read, as a run's
        if (Absent is not null && Absent.Version != AbsentVersion) return false;
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
                long tableVersion = table.Version;
                var e = table.Lookup(b.KeyRef);
                if (e is null) return false;
                var cls = e.Shadow ?? table.MissClass;
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
        return any;
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

/// <summary>
/// The action set of a pipeline run (OpenFlow 1.3.5 section 5.10): at most one action per kind, a write replacing
/// the kind's earlier action, run at the end of the pipeline in the spec's order: copy TTL inwards, pop, push-MPLS,
/// push-PBB, push-VLAN, copy TTL outwards, decrement TTL, set, qos (set_queue), group, output. The datapath's kinds fall
/// into these as: the pops are strip-VLAN, pop-MPLS and pop-PBB (in that order: innermost tag first); the decrements
/// are dec-MPLS-TTL then dec-IP-TTL; "set" is every set-field kind (one per field, in the order of
/// <see cref="ActionKind"/>) and set-MPLS-TTL and set-IP-TTL; output and enqueue (an output through a queue, set_queue
/// and output in one) are the output, the last. A kind not listed here cannot be written into an action set
/// (<see cref="CanHold"/>; the layer above refuses such a write-actions).
/// </summary>
public sealed class ActionSet
{
    /// <summary>The kinds an action set holds, in execution order (an output and an enqueue share the last slot).</summary>
    private static readonly ActionKind[] s_order =
    [
        ActionKind.CopyTtlIn,
        ActionKind.StripVlan, ActionKind.PopMpls, ActionKind.PopPbb,
        ActionKind.PushMpls, ActionKind.PushPbb, ActionKind.PushVlan,
        ActionKind.CopyTtlOut,
        ActionKind.DecMplsTtl, ActionKind.DecNwTtl,
        ActionKind.SetVlanVid, ActionKind.SetVlanPcp, ActionKind.SetDlSrc, ActionKind.SetDlDst, ActionKind.SetNwSrc,
        ActionKind.SetNwDst, ActionKind.SetNwTos, ActionKind.SetTpSrc, ActionKind.SetTpDst, ActionKind.SetTunnel,
        ActionKind.SetIpEcn, ActionKind.SetIpv6Src, ActionKind.SetIpv6Dst, ActionKind.SetIpv6Flabel, ActionKind.SetIcmpType,
        ActionKind.SetIcmpCode, ActionKind.SetArpOp, ActionKind.SetArpSpa, ActionKind.SetArpTpa, ActionKind.SetArpSha,
        ActionKind.SetArpTha, ActionKind.SetNdTarget, ActionKind.SetNdSll, ActionKind.SetNdTll, ActionKind.SetMplsLabel,
        ActionKind.SetMplsTc, ActionKind.SetMplsBos, ActionKind.SetPbbIsid, ActionKind.SetMplsTtl, ActionKind.SetNwTtl,
        ActionKind.SetQueue,
        ActionKind.Group,
        ActionKind.Output,
    ];

    private static readonly sbyte[] s_slot = BuildSlots();
    private readonly FlowAction[] _actions = new FlowAction[s_order.Length];
    private ulong _present;

    private static sbyte[] BuildSlots()
    {
        var slots = new sbyte[256];
        Array.Fill(slots, (sbyte)-1);
        for (int i = 0; i < s_order.Length; i++) slots[(int)s_order[i]] = (sbyte)i;
        slots[(int)ActionKind.Enqueue] = (sbyte)(s_order.Length - 1);
        return slots;
    }

    /// <summary>Whether an action of <paramref name="kind"/> may be written into an action set.</summary>
    public static bool CanHold(ActionKind kind) => SlotOf(kind) >= 0;

    private static int SlotOf(ActionKind kind) => s_slot[(int)kind];

    public bool IsEmpty => _present == 0;

    public void Clear() => _present = 0;

    /// <summary>Merges a write-actions list (each action replaces the set's action of its kind; an unknown kind is ignored).</summary>
    public void Write(FlowActions actions)
    {
        foreach (var a in actions.Items)
        {
            int s = SlotOf(a.Kind);
            if (s < 0) continue;
            _actions[s] = a;
            _present |= 1UL << s;
        }
    }

    /// <summary>
    /// Appends the set's actions in execution order; an output is dropped when the set holds a group (OpenFlow 1.3.5
    /// section 5.10: "the output action is ignored and the group action takes precedence").
    /// </summary>
    public void AppendTo(List<FlowAction> into)
    {
        ulong present = _present;
        int group = SlotOf(ActionKind.Group), output = SlotOf(ActionKind.Output);
        if ((present & (1UL << group)) != 0) present &= ~(1UL << output);
        for (; present != 0; present &= present - 1) into.Add(_actions[System.Numerics.BitOperations.TrailingZeroCount(present)]);
    }
}

/// <summary>One stage of a traced pipeline run (ofproto/trace).</summary>
/// <param name="TableId">The stage.</param>
/// <param name="Lookup">What the stage's lookup found (rule, classifier stage, mask).</param>
/// <param name="Key">The key the stage looked up (metadata and rewritten headers of earlier stages included).</param>
/// <param name="Miss">The stage's miss mode, meaningful when it found nothing.</param>
public readonly record struct PipelineTraceStep(int TableId, LookupTrace Lookup, FlowKey Key, TableMissMode Miss);

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
/// key is IPv4 (dl_type 0x0800); L4 ports when it is IPv4 TCP or UDP; the VLAN setters push a tag on an untagged
/// packet (vlan becomes OFPVID_PRESENT | vid, pcp 0 unless set) and strip-VLAN leaves the key untagged (a second,
/// inner tag it uncovers is not re-parsed); set-tunnel sets tun_id. Outputs and enqueues do not touch the key.</para>
/// <para>Not thread-safe; lookups take no counters (the caller credits the stages from the verdict).</para>
/// </remarks>
public sealed class PipelineWalk
{
    private readonly FlowTable[] _tables = new FlowTable[Pipeline.MaxStages];
    private readonly ShadowClass[] _classes = new ShadowClass[Pipeline.MaxStages];
    private readonly long[] _versions = new long[Pipeline.MaxStages];
    private readonly long[] _removals = new long[Pipeline.MaxStages];
    private readonly FlowEntry?[] _hits = new FlowEntry?[Pipeline.MaxStages];
    private readonly FlowActions?[] _hitActions = new FlowActions?[Pipeline.MaxStages];
    private readonly FlowInstructions?[] _hitInstructions = new FlowInstructions?[Pipeline.MaxStages];
    private readonly ActionSet _set = new();
    private readonly List<FlowAction> _composed = new();

    /// <summary>Stages visited by the last run.</summary>
    public int Count { get; private set; }
    /// <summary>How the last run ended.</summary>
    public PipelineEnd End { get; private set; }
    /// <summary>The key after the last run (metadata and rewritten headers).</summary>
    public FlowKey FinalKey { get; private set; }
    /// <summary>The action set at the end of the last run (empty after a miss).</summary>
    public ActionSet ActionSet => _set;
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
        Absent = v.Absent;
        AbsentVersion = v.AbsentVersion;
        Changes = v.ChangesClass;
        ChangesAtStart = changes;
        _composed.Clear();
        _composed.AddRange(v.Actions.Items);
        // The action set is not rebuilt (the composed list holds its actions; only a trace reads it, after a run).
        _set.Clear();
    }

    /// <summary>Runs <paramref name="key"/> through <paramref name="pipeline"/>'s stages; <paramref name="trace"/> (diagnostics) receives each stage.</summary>
    public void Run(Pipeline pipeline, in FlowKey key, List<PipelineTraceStep>? trace = null)
    {
        var b = new FlowKeyBuilder(key);
        _set.Clear();
        _composed.Clear();
        int n = 0;
        int t = 0;
        ulong pinMetadata = 0; // the metadata the composed list's packet-ins carry so far
        PipelineEnd end = PipelineEnd.Actions;
        Absent = null;
        AbsentVersion = 0;
        Changes = pipeline.Changes;
        ChangesAtStart = Changes.Version; // before any stage is read
        var creations = pipeline.StageCreations;
        while (true)
        {
            long created = creations.Version; // before the stage is read: a stage created after it moves the class
            var table = pipeline.Stage(t);
            if (table is null)
            {
                Absent = creations;
                AbsentVersion = created;
                end = PipelineEnd.MissDrop;
                break;
            }
            _tables[n] = table;
            _removals[n] = table.Removals;
            long tableVersion = table.Version; // before the lookup (see PipelineVerdict's remarks)
            FlowEntry? e;
            if (trace is null)
            {
                e = table.Lookup(b.KeyRef);
            }
            else
            {
                var lt = table.Trace(b.Key);
                e = lt.Entry;
                trace.Add(new PipelineTraceStep(t, lt, b.Key, table.MissMode));
            }
            var cls = e?.Shadow ?? table.MissClass;
            long cv = cls.Version;
            _classes[n] = cls;
            _versions[n] = cv > tableVersion ? -1 : cv;
            _hits[n] = e;
            if (e is null)
            {
                _hitActions[n] = null;
                _hitInstructions[n++] = null;
                var mode = table.MissMode;
                if (mode == TableMissMode.Continue && t < Pipeline.MaxStages - 1)
                {
                    t++;
                    continue;
                }
                end = mode == TableMissMode.Controller ? PipelineEnd.MissController : PipelineEnd.MissDrop;
                break;
            }
            var ins = e.Instructions;
            var hitActions = e.Actions;
            _hitActions[n] = hitActions;
            _hitInstructions[n++] = ins;
            // The meter instruction runs first (OpenFlow 1.3.5 section 5.9): before the rule's apply-actions.
            if (ins is { Meter: not 0 }) _composed.Add(FlowAction.Meter(ins.Meter));
            foreach (ref readonly var a in hitActions.Items.AsSpan())
            {
                if (SendsPacketIns(a) && b.KeyRef.Metadata != pinMetadata)
                {
                    pinMetadata = b.Key.Metadata;
                    _composed.Add(FlowAction.PacketInMetadata(pinMetadata));
                }
                _composed.Add(a);
                Rewrite(ref b, a);
            }
            if (ins is null) break;
            if (ins.ClearActions) _set.Clear();
            if (ins.WriteActions is { } w) _set.Write(w);
            if (ins.MetadataMask != 0) b.Metadata(ins.ApplyMetadata(b.KeyRef.Metadata));
            if (ins.GotoTable > t)
            {
                t = ins.GotoTable;
                continue;
            }
            break;
        }
        Count = n;
        End = end;
        FinalKey = b.Key;
        if (end == PipelineEnd.Actions)
        {
            int start = _composed.Count;
            _set.AppendTo(_composed);
            if (b.Key.Metadata != pinMetadata)
            {
                for (int i = start; i < _composed.Count; i++)
                {
                    if (!SendsPacketIns(_composed[i])) continue;
                    _composed.Insert(start, FlowAction.PacketInMetadata(b.Key.Metadata));
                    break;
                }
            }
        }
        else
        {
            _set.Clear();
        }
    }

    /// <summary>
    /// Whether <paramref name="a"/> can send packet-ins, which carry the pipeline's metadata at that point (OpenFlow
    /// 1.3.5 section 7.4.1): an output to the controller, a group (its buckets may output there), a TTL decrement
    /// (invalid-TTL packet-ins).
    /// </summary>
    private static bool SendsPacketIns(in FlowAction a)
        => a.Kind is ActionKind.Group or ActionKind.DecNwTtl or ActionKind.DecMplsTtl
           || (a.Kind == ActionKind.Output && a.Port == Forwarding.PortNumber.Controller);

    /// <summary>The lookup key after <paramref name="a"/> ran on the packet (see the type remarks).</summary>
    internal static void Rewrite(ref FlowKeyBuilder b, in FlowAction a)
    {
        ref readonly var k = ref b.KeyRef; // read before any setter below (each case sets after it has decided)
        bool ip4 = k.DlType == PacketParser.EthTypeIpv4, ip6 = k.DlType == PacketParser.EthTypeIpv6;
        bool ports = (ip4 || ip6) && k.NwProto is PacketParser.ProtoTcp or PacketParser.ProtoUdp or PacketParser.ProtoSctp;
        bool icmp = (ip4 && k.NwProto == PacketParser.ProtoIcmp) || (ip6 && k.NwProto == PacketParser.ProtoIcmpv6);
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
                // The key holds only the top entry: after a pop the next one (or the network header) is not known to
                // the walk, so later tables see the new ethertype with the MPLS and network fields zero (Open vSwitch
                // recirculates here to parse the payload; a later table matching those fields sees them empty).
                b.MplsLabel(0); b.MplsTc(0); b.MplsBos(0);
                b.DlType((ushort)a.Value);
                break;
            case ActionKind.PushPbb:
                ClearNetwork(ref b);
                b.DlType(PacketParser.EthTypePbb);
                break;
            case ActionKind.PopPbb:
                // As for pop-MPLS: the customer frame's fields are not in the key (the parser keeps only the I-SID).
                b.PbbIsid(0);
                break;
            case ActionKind.SetTunnel: b.TunId(a.Value); break;
        }
    }

    /// <summary>Zeroes the key's network and transport fields (a push that hides them from later lookups).</summary>
    private static void ClearNetwork(ref FlowKeyBuilder b)
    {
        // One statement a field: the builder's setters return a copy (for chains on a fresh builder), not a reference.
        b.NwTos(0); b.IpEcn(0); b.NwProto(0); b.NwSrc(0); b.NwDst(0); b.TpSrc(0); b.TpDst(0); b.Ipv6Flabel(0);
        b.Ipv6Src(0); b.Ipv6Dst(0); b.NdTarget(0); b.ArpSha(default); b.ArpTha(default); b.Ipv6ExtHdr(0);
    }
}

/// <summary>
/// A forwarding thread's table of verdicts by chain (the stages visited, the rules hit, the versions read, how the run
/// ended), so that every packet key with the same chain shares one <see cref="PipelineVerdict"/> and one composed
/// action list: a run whose chain is already here allocates nothing. Direct-mapped (a new chain replaces the slot's);
/// composed lists are shared through an <see cref="ActionInterner"/>. Not thread-safe (one per thread).
/// </summary>
public sealed class VerdictInterner
{
    private const int MaxPooledStages = 16;
    private const int MaxPooled = 4096;

    private readonly PipelineVerdict?[] _slots;
    private readonly int _mask;
    private readonly ActionInterner _actions = new();
    private readonly List<PipelineVerdict> _limbo = new();
    private int _limboWaiting; // the first verdicts of _limbo, known to wait for their credits
    private readonly Stack<PipelineVerdict>?[] _pool = new Stack<PipelineVerdict>?[(MaxPooledStages + 1) * (MaxPooledStages + 1)];
    private int _pooled;
    private long _built, _reused;

    public VerdictInterner(int slots = 4096)
    {
        int n = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, slots));
        _slots = new PipelineVerdict?[n];
        _mask = n - 1;
    }

    /// <summary>Verdicts built (chains not found here).</summary>
    public long Built => _built;

    /// <summary>The verdict of <paramref name="walk"/>'s last run: the one already held for its chain, or a new one.</summary>
    public PipelineVerdict Intern(PipelineWalk walk) => Intern(walk, null);

    /// <summary>
    /// As <see cref="Intern(PipelineWalk)"/>, with the composed actions already interned here when
    /// <paramref name="composed"/> is not null (a repaired verdict's, which equal the walk's).
    /// </summary>
    internal PipelineVerdict Intern(PipelineWalk walk, FlowActions? composed)
    {
        var tables = walk.Tables;
        var versions = walk.Versions;
        var hits = walk.Hits;
        uint h = (uint)walk.End * 0x9E3779B1u;
        for (int i = 0; i < tables.Length; i++)
        {
            h = System.Numerics.BitOperations.Crc32C(h, (uint)tables[i].StageId);
            h = System.Numerics.BitOperations.Crc32C(h, (ulong)versions[i]);
            h = System.Numerics.BitOperations.Crc32C(h, hits[i] is { } e ? (uint)e.Serial : 0u);
        }
        ref var slot = ref _slots[h & (uint)_mask];
        if (slot is { } v && Same(v, walk)) return v;
        _built++;
        composed ??= _actions.Intern(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(walk.Composed));
        int entries = PipelineVerdict.EntryCount(walk);
        if (Shape(walk.Count, entries) is int shape && _pool[shape] is { Count: > 0 } pool)
        {
            v = pool.Pop();
            _pooled--;
            _reused++;
            v.Reinitialize(walk, composed);
        }
        else
        {
            v = new PipelineVerdict(walk, composed, this);
        }
        var old = slot;
        slot = v;
        v.InternSlot = (int)(h & (uint)_mask);
        // A verdict no cache slot holds is reachable only from here: it goes with its slot.
        if (old is { Refs: 0 }) Retire(old);
        return v;
    }

    /// <summary>A new verdict of <paramref name="walk"/>'s last run, shared with nothing and never reused (a reference for tests).</summary>
    public static PipelineVerdict Build(PipelineWalk walk) => new(walk, new FlowActions([.. walk.Composed]), null);

    /// <summary>Verdicts taken from the pool instead of allocated.</summary>
    public long Reused => _reused;

    /// <summary>The pool index of verdicts of this many stages and rules hit, or null for shapes not pooled.</summary>
    private static int? Shape(int stages, int entries) => stages <= MaxPooledStages ? stages * (MaxPooledStages + 1) + entries : null;

    /// <summary>
    /// A verdict no cache slot holds: it leaves this interner's slot (so no later run is handed it) and waits to be
    /// reused after the burst.
    /// </summary>
    internal void Retire(PipelineVerdict v)
    {
        if (v.Retired) return;
        v.Retired = true;
        if (v.InternSlot >= 0 && ReferenceEquals(_slots[v.InternSlot], v)) _slots[v.InternSlot] = null;
        _limbo.Add(v);
    }

    /// <summary>
    /// Moves the verdicts no slot holds any more to the pool, except those with credits not yet paid to their rules
    /// (they wait for the next credit flush, <see cref="CreditsPaid"/>). The owning forwarder calls it between bursts,
    /// when no packet of the burst still refers to a verdict; each call looks only at the verdicts retired since the
    /// last, or at all of them after a flush, so a thousand verdicts waiting for their credits cost nothing per burst.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Recycle()
    {
        if (_limboWaiting != _limbo.Count) RecycleRetired();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecycleRetired()
    {
        int keep = _limboWaiting;
        for (int i = keep; i < _limbo.Count; i++)
        {
            var v = _limbo[i];
            if (v.Refs != 0)
            {
                v.Retired = false; // held again (not by design; kept out of the pool)
                continue;
            }
            if (v.PendingPackets != 0)
            {
                _limbo[keep++] = v;
                continue;
            }
            v.Retired = false;
            if (_pooled < MaxPooled && Shape(v.Tables.Length, v.Entries.Length) is int shape)
            {
                (_pool[shape] ??= new Stack<PipelineVerdict>()).Push(v);
                _pooled++;
            }
        }
        _limbo.RemoveRange(keep, _limbo.Count - keep);
        _limboWaiting = keep;
    }

    /// <summary>The owner paid every verdict's pending credits: the next <see cref="Recycle"/> looks at every retired verdict again.</summary>
    public void CreditsPaid() => _limboWaiting = 0;

    /// <summary>Verdicts waiting to be reused (tests).</summary>
    internal int PooledCount => _pooled;

    private static bool Same(PipelineVerdict v, PipelineWalk walk)
    {
        if (v.End != walk.End || v.Tables.Length != walk.Count || !ReferenceEquals(v.Absent, walk.Absent) || v.AbsentVersion != walk.AbsentVersion)
            return false;
        var tables = walk.Tables;
        var classes = walk.Classes;
        var versions = walk.Versions;
        var hits = walk.Hits;
        for (int i = 0; i < tables.Length; i++)
        {
            ref readonly var c = ref v.Check(i);
            // A class that moved during a run (-1) says nothing about the rule's actions then: never shared.
            if (!ReferenceEquals(c.Table, tables[i].Published) || !ReferenceEquals(c.Class, classes[i]) || c.Version != versions[i]
                || versions[i] < 0 || !ReferenceEquals(c.Hit, hits[i]))
            {
                return false;
            }
            // The same entry object may be a recycled incarnation (another rule): the serial tells.
            if (hits[i] is { } e && c.Serial != e.Serial) return false;
        }
        // Same incarnations of the same rules and same class versions: same actions and instructions (a swap moves
        // the class).
        return true;
    }

    /// <summary>Drops every held verdict.</summary>
    public void Clear()
    {
        foreach (var v in _slots)
            if (v is { Refs: 0 }) Retire(v);
        Array.Clear(_slots);
    }
}
