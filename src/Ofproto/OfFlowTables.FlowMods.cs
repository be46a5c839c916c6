using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

// Flow-mods (docs/ofproto.md, "Flow-mods"): one, a batch, or a run of them, and the ADD, MODIFY and DELETE rules under a
// table's write scope.
public sealed partial class OfFlowTables
{
    /// <summary>Applies one flow-mod (docs/ofproto.md, "Flow-mods") and publishes it.</summary>
    /// <param name="removed">Receives the flows a DELETE removed (reason Delete) or an ADD evicted (reason Eviction), or null to discard them.</param>
    public FlowModStatus Apply(in FlowMod mod, List<FlowRemoved>? removed = null) => Apply(mod, removed, out _);

    /// <summary>Applies one flow-mod and publishes it, returning the flow it leaves in place.</summary>
    /// <param name="removed">Receives the flows a DELETE removed (reason Delete) or an ADD evicted (reason Eviction), or null to discard them.</param>
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
        var batch = Current;
        if (batch is { IsAtomic: false } && ++batch.Mods > MaxRunFlowMods) batch.Publish();
        if (!IsEmergency(mod) && mod.TableId == FlowModRequest.AllTables)
        {
            // OFPTT_ALL (a delete, or an OpenFlow 1.0 modify: Check says): every table, in a batch (this thread's, or
            // one of its own), so all of them change as one.
            var own = batch is null ? BeginBatch(atomic: false) : null;
            try
            {
                var b = batch ?? own!;
                if (!delete) return ModifyEveryTable(b, mod, removed, out flow);
                foreach (int id in _pipeline.StageIds())
                {
                    var table = _pipeline.Stage(id)!;
                    b.Hold(table);
                    using var all = table.Write();
                    ApplyLocked(b, all, mod, removed, _clock.NowNanos, out _);
                }
                return FlowModStatus.Ok;
            }
            finally
            {
                own?.Commit();
            }
        }
        if (delete && !IsEmergency(mod) && _pipeline.Stage(mod.TableId) is null) return FlowModStatus.Ok;
        // A resubmit runs only in the pipeline walk, never on the single-table path; so does a match on the packet's
        // words the key has no room for (tunnel endpoints, TTL, TCP flags: docs/datapath.md, "Pipeline words").
        if (mod.Actions is { NeedsWalk: true } || TestsPacketWords(mod.Match)) _pipeline.EnableStages();
        if (mod.Instructions is { } ins)
        {
            _pipeline.EnableStages();
            // The table a goto names exists from now on (empty, it drops: OpenFlow 1.3 without a table-miss flow).
            if (ins.GotoTable != FlowInstructions.NoGoto) StageFor((byte)ins.GotoTable, TableMiss.Drop);
        }
        var target = TableFor(mod);
        batch?.Hold(target);
        using var w = target.Write();
        return ApplyLocked(batch, w, mod, removed, _clock.NowNanos, out flow);
    }

    /// <summary>Whether <paramref name="match"/> tests the packet's tunnel endpoints, TTL or TCP flags, which only the pipeline walk looks up.</summary>
    private static bool TestsPacketWords(in FlowMatch match) => (match.Shape.RegisterWords & Registers.PacketWordsMask) != 0;

    /// <summary>
    /// Opens a batch of flow-mods on this thread (<see cref="FlowModBatch"/>): until it ends, every flow-mod this thread
    /// applies (through the batch or through <see cref="Apply(in FlowMod, List{FlowRemoved}?, out FlowEntry?)"/>) joins it, and
    /// every table it writes stays held, its changes published with the others' as one change when the batch ends. A
    /// plain batch is a run of independent flow-mods (a controller's, read together: the tables' versions and the
    /// forwarders' cached pipeline verdicts move once for all of them, as Open vSwitch's revalidators see a burst); an
    /// <paramref name="atomic"/> one is all or nothing (a bundle's commit).
    /// </summary>
    /// <remarks>
    /// <para>Only a batch holds more than one table: it takes the table set's run lock first (other threads' batches
    /// wait for it), and every other writer holds one table at a time, so no lock order can cross. The caller ends a
    /// plain batch before anything that must see its flow-mods in effect (a barrier, a packet-out, a statistics request:
    /// any other message), before anything that may block (waiting to read, or for a peer to take replies), and
    /// before taking a lock that a writer may hold while it waits for a table (group and meter locks:
    /// <see cref="OfSwitch"/> ends it for a flow-mod that uses groups or a meter, and for a group-mod or meter-mod).
    /// An atomic batch that needs those locks takes them after the run lock and before its first flow-mod (a bundle's
    /// commit: <see cref="OfSwitch.CommitBundle"/>).</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">This thread has a batch open already.</exception>
    public FlowModBatch BeginBatch(bool atomic)
    {
        if (_runLock.IsHeldByCurrentThread) throw new InvalidOperationException("this thread has a batch of flow-mods open");
        _runLock.Enter();
        // An atomic batch's rules are seen from the next tables version on, which its commit publishes.
        var b = new FlowModBatch(this, atomic, Reclamation.Enter(), atomic ? _pipeline.Versions.Current + 1 : 0);
        _batch = b;
        return b;
    }

    /// <summary>The batch this thread has open, or null.</summary>
    public FlowModBatch? Current => _runLock.IsHeldByCurrentThread ? _batch : null;

    /// <summary>Called by <paramref name="b"/> as it ends: the run lock is released.</summary>
    internal void EndBatch(FlowModBatch b)
    {
        if (!ReferenceEquals(_batch, b) || !_runLock.IsHeldByCurrentThread) return;
        _batch = null;
        _runLock.Exit();
    }

    /// <summary>Starts a run on this thread (nothing when one is on already): a plain <see cref="BeginBatch"/>.</summary>
    public void BeginRun()
    {
        if (!_runLock.IsHeldByCurrentThread) BeginBatch(atomic: false);
    }

    /// <summary>Ends this thread's run (nothing when none is on): commits its batch.</summary>
    public void EndRun() => Current?.Commit();

    /// <summary>Whether this thread has a batch open (a run, or an atomic batch).</summary>
    public bool InRun => Current is not null;

    /// <summary>What the flow-mod's rules allow (table ids, instructions, a forward goto): <see cref="OfTables.CheckFlowMod"/>, the one rule, guarding the model's own entry points.</summary>
    private static FlowModStatus Check(in FlowMod mod)
        => OfTables.CheckFlowMod(mod.Command, mod.TableId,
                                 mod.Instructions?.GotoTable ?? FlowInstructions.NoGoto, BeyondGoto(mod.Instructions), mod.Rules);

    /// <summary>Whether <paramref name="ins"/> has an instruction other than a goto-table.</summary>
    private static bool BeyondGoto(FlowInstructions? ins)
        => ins is not null && (ins.WriteActions is not null || ins.ClearActions || ins.MetadataMask != 0 || ins.Meter != 0);

    /// <summary>
    /// A modify's instructions for a flow that has <paramref name="old"/> (<see cref="MatchRules.GotoTable"/> without
    /// <see cref="MatchRules.MultiTable"/>): the modify's goto-table, the flow's other instructions as they were.
    /// </summary>
    private static FlowInstructions? WithGoto(FlowInstructions? old, FlowInstructions? mod)
    {
        int gotoTable = mod?.GotoTable ?? FlowInstructions.NoGoto;
        if (old is null) return mod;
        if (old.GotoTable == gotoTable) return old;
        if (!BeyondGoto(old) && gotoTable == FlowInstructions.NoGoto) return null;
        return new FlowInstructions(old.WriteActions, old.ClearActions, old.MetadataValue, old.MetadataMask, gotoTable, old.Meter);
    }

    /// <summary>
    /// Applies flow-mods in order, each table's under one acquisition of its writer scope, published once per table
    /// (so a run of flow-mods moves each table's versions, and the pipeline's change count, once, not once per
    /// flow-mod; cached pipeline verdicts are checked once per run instead of after each). Each flow-mod gets the
    /// status <see cref="Apply(in FlowMod, List{FlowRemoved}?)"/> would give it.
    /// </summary>
    /// <remarks>
    /// Every flow-mod touches one table (OFPTT_ALL flow-mods aside, which are applied on their own, in their place), and
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
            // A flow-mod of every table ends a run: the run before it is applied, then it on its own.
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
                if (mod.Actions is { NeedsWalk: true } || TestsPacketWords(mod.Match)) _pipeline.EnableStages();
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
            var batch = Current;
            batch?.Hold(table);
            using var w = table.Write();
            for (int j = i; j < mods.Length; j++)
            {
                if (statuses[j] != Pending || !ReferenceEquals(TableFor(mods[j]), table)) continue;
                statuses[j] = ApplyLocked(batch, w, mods[j], removed, now, out _);
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

    private FlowModStatus ApplyLocked(FlowModBatch? b, FlowTable.WriteScope w, in FlowMod mod, List<FlowRemoved>? removed, long now,
                                      out FlowEntry? flow)
    {
        flow = null;
        var t = new Target(mod);
        switch (mod.Command)
        {
            case FlowModCommand.Add:
                return AddLocked(b, w, mod, t, now, removed, out flow);
            case FlowModCommand.Modify:
                return ModifyLocked(b, w, mod, t, strict: false, now, removed, out flow);
            case FlowModCommand.ModifyStrict:
                return ModifyLocked(b, w, mod, t, strict: true, now, removed, out flow);
            case FlowModCommand.Delete:
                DeleteLocked(b, w, mod, t, strict: false, removed, now);
                return FlowModStatus.Ok;
            case FlowModCommand.DeleteStrict:
                DeleteLocked(b, w, mod, t, strict: true, removed, now);
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

    private FlowModStatus AddLocked(FlowModBatch? b, FlowTable.WriteScope w, in FlowMod mod, in Target t, long now, List<FlowRemoved>? removed,
                                    out FlowEntry? flow)
    {
        flow = null;
        bool emergency = IsEmergency(mod);
        if (emergency && (mod.IdleTimeout | mod.HardTimeout) != 0) return FlowModStatus.BadEmergencyTimeout;

        // An atomic batch's tables still hold the flows it deleted or replaced (hidden from its version on).
        int hidden = b is { IsAtomic: true } ? w.HiddenCount : 0;
        if ((mod.Flags & FlowModFlags.CheckOverlap) != 0 && (hidden == 0 ? w.HasOverlap(t.Match, t.Rank) : HasLiveOverlap(w, t)))
            return FlowModStatus.Overlap;

        // A flow an atomic batch's delete marked is gone for the batch (the add is then a new flow beside it).
        var replaced = w.Find(t.Match, t.Rank);
        if (replaced is null)
        {
            // Capacity is the table's (its configured limit, at most the switch's), whichever classifier stage the flow
            // lands in (all-ones masks in the hash stage).
            bool full = emergency ? _emergency.Count - hidden >= _options.MaxEmergencyFlows : w.Table.Count - hidden >= MaxFlowsOf(mod.TableId);
            // Open vSwitch's add_flow_start: a full table with eviction on makes room by evicting one flow, else it refuses.
            if (full && (emergency || !TryEvict(b, w, mod.TableId, removed, now))) return FlowModStatus.TableFull;
        }

        flow = OfFlowRule.NewEntry(w, t.Match, t.Exact, mod.Priority, mod.Actions, mod.Cookie, mod.IdleTimeout, mod.HardTimeout, mod.Flags, now,
                                   emergency ? MainTableId : mod.TableId, mod.Importance);
        if (mod.Instructions is not null) w.SetInstructions(flow, mod.Instructions);
        // OpenFlow 1.3.5 section 6.4: a replaced flow's counters carry over unless RESET_COUNTS (1.0 clears them).
        if (replaced is not null && (mod.Rules & MatchRules.ModifyKeepsFlows) != 0 && (mod.Flags & FlowModFlags.ResetCounts) == 0)
            CarryCounts(b, replaced, flow);
        // In an atomic batch the replaced flow stays, hidden from the batch's version, beside the new one until the commit.
        var displaced = w.Insert(flow);
        b?.NoteAdded(w.Table, flow);
        if (!emergency) NoteEvictable(w, mod.TableId, flow);
        // An add that replaced a flow of the same match and priority modified it, as Open vSwitch's monitors see it.
        Notify(b, flow, displaced is null ? OfFlowUpdateEvent.Added : OfFlowUpdateEvent.Modified, replaced: displaced);
        return FlowModStatus.Ok;
    }

    /// <summary>CHECK_OVERLAP within an atomic batch that hid flows of the table (deleted or replaced): the flows it has not hidden.</summary>
    private static bool HasLiveOverlap(FlowTable.WriteScope w, in Target t)
    {
        var all = new List<FlowEntry>();
        w.CollectSubsets(FlowMatch.All, all);
        foreach (var e in all)
            if (e.Priority == t.Rank && e.Match.Overlaps(t.Match)) return true;
        return false;
    }

    private FlowModStatus ModifyLocked(FlowModBatch? b, FlowTable.WriteScope w, in FlowMod mod, in Target t, bool strict, long now, List<FlowRemoved>? removed,
                                       out FlowEntry? flow)
    {
        var targets = Scratch();
        CollectModifyTargets(w, mod, t, strict, targets);
        // OpenFlow 1.0: a modify that matches nothing adds its flow, and sets the cookie of those it changes. OpenFlow
        // 1.1+ (1.3.5 section 6.4): neither; the flow's cookie, timeouts, flags and counters stay (Open vSwitch alike).
        flow = null;
        if (targets.Count == 0) return (mod.Rules & MatchRules.ModifyKeepsFlows) != 0 ? FlowModStatus.Ok : AddLocked(b, w, mod, t, now, removed, out flow);
        flow = ModifyTargetsLocked(b, w, mod, t, targets, now);
        targets.Clear();
        return FlowModStatus.Ok;
    }

    /// <summary>The flows a modify changes in one table: strict or not, filtered by the cookie under a non-zero mask (in an atomic batch, not those it deleted or replaced).</summary>
    private static void CollectModifyTargets(FlowTable.WriteScope w, in FlowMod mod, in Target t, bool strict, List<FlowEntry> into)
    {
        CollectTargets(w, t, strict, into);
        if (mod.CookieMask != 0) FilterCookie(into, mod.Cookie, mod.CookieMask);
    }

    /// <summary>
    /// Changes <paramref name="targets"/> (flows of the table <paramref name="w"/> writes) as the modify says; returns
    /// the one with exactly its match and rank, if any. Each one's hard timeout counts again from <paramref name="now"/>
    /// (Open vSwitch's modify makes a new rule, its modified time now, its creation time the old rule's).
    /// </summary>
    private FlowEntry? ModifyTargetsLocked(FlowModBatch? b, FlowTable.WriteScope w, in FlowMod mod, in Target t, List<FlowEntry> targets, long now)
    {
        bool of13 = (mod.Rules & MatchRules.ModifyKeepsFlows) != 0;
        bool cookie = _options.ModifyUpdatesCookie && !of13;
        // OpenFlow 1.3.5 section 6.4: a modify keeps the flows' counters unless it has RESET_COUNTS.
        bool reset = of13 && (mod.Flags & FlowModFlags.ResetCounts) != 0;
        FlowEntry? flow = null;
        foreach (var e in targets)
        {
            if (b is { IsAtomic: true })
            {
                var c = ModifiedBeside(b, w, mod, e, cookie, reset, now);
                if (c.Priority == t.Rank && c.Match == t.Match) flow = c;
                continue;
            }
            // Open vSwitch's modified rule starts its stats afresh under RESET_COUNTS, its last use (the idle timer) too.
            if (reset)
            {
                e.ResetCounters();
                w.Refresh(e, now);
            }
            else
            {
                w.RestartHardTimeout(e, now);
            }
            w.SetActions(e, mod.Actions);
            if ((mod.Rules & MatchRules.MultiTable) != 0) w.SetInstructions(e, mod.Instructions);
            else if ((mod.Rules & MatchRules.GotoTable) != 0) w.SetInstructions(e, WithGoto(e.Instructions, mod.Instructions));
            if (cookie) w.SetTag(e, mod.Cookie);
            Notify(b, e, OfFlowUpdateEvent.Modified);
            if (e.Priority == t.Rank && e.Match == t.Match) flow = e;
        }
        return flow;
    }

    /// <summary>
    /// A modify of <paramref name="e"/> in an atomic batch (Open vSwitch's modify_flows_start__ in a bundle): a new flow
    /// of its match, priority, timeouts, creation time, flags and cookie with the modify's actions and instructions,
    /// linked beside it and seen from the batch's version on, while <paramref name="e"/> is seen until it (the commit
    /// unlinks it, a revert removes the new one). It keeps the flow's counts and last use unless <paramref name="reset"/>
    /// (then its idle timer, as its hard timer always, counts from <paramref name="now"/>).
    /// </summary>
    private FlowEntry ModifiedBeside(FlowModBatch b, FlowTable.WriteScope w, in FlowMod mod, FlowEntry e, bool cookie, bool reset, long now)
    {
        var instructions = (mod.Rules & MatchRules.MultiTable) != 0 ? mod.Instructions
            : (mod.Rules & MatchRules.GotoTable) != 0 ? WithGoto(e.Instructions, mod.Instructions) : e.Instructions;
        var c = w.NewEntry(e.Match, e.Priority, mod.Actions, e.IdleTimeout, e.HardTimeout, e.CreatedNanos, e.Owner,
                           cookie ? mod.Cookie : e.Tag, e.RequestedPriority, e.IsTableMiss);
        if (instructions is not null) w.SetInstructions(c, instructions);
        c.Touch(reset ? now : e.LastUsedNanos);
        w.RestartHardTimeout(c, now);
        if (!reset) CarryCounts(b, e, c);
        var hidden = w.Insert(c);
        System.Diagnostics.Debug.Assert(ReferenceEquals(hidden, e) && !e.IsRemoved);
        b.NoteAdded(w.Table, c);
        NoteEvictable(w, OfFlowRule.Of(c)?.TableId ?? MainTableId, c);
        Notify(b, c, OfFlowUpdateEvent.Modified, replaced: e);
        return c;
    }

    /// <summary>
    /// <paramref name="to"/> (not yet inserted) takes the counts of <paramref name="from"/>, the flow it replaces; in an
    /// atomic batch also what <paramref name="from"/> counts until the batch has ended (its lookups see it until the commit).
    /// </summary>
    private static void CarryCounts(FlowModBatch? b, FlowEntry from, FlowEntry to)
    {
        long packets = from.Packets, bytes = from.Bytes;
        to.AddCounts(packets, bytes);
        if (b is { IsAtomic: true }) b.NoteCarried(from, to, packets, bytes);
    }

    /// <summary>
    /// An OpenFlow 1.0 MODIFY or MODIFY_STRICT of every table (Open vSwitch's 1.0 flow-mod, which names no table): the
    /// matching flows of each table change as a modify of that table changes them; when no table has one, it adds its
    /// flow to table 0. A goto must go forward from each flow it is set on: a flow in the goto's table or after it
    /// refuses the whole modify (<see cref="FlowModStatus.BadGotoTable"/>, Open vSwitch's OFPBIC_BAD_TABLE_ID), and
    /// nothing changes. Every table is held by the batch <paramref name="b"/> from the collection of its flows on,
    /// and published with the batch.
    /// </summary>
    private FlowModStatus ModifyEveryTable(FlowModBatch b, in FlowMod mod, List<FlowRemoved>? removed, out FlowEntry? flow)
    {
        flow = null;
        var t = new Target(mod);
        bool strict = mod.Command == FlowModCommand.ModifyStrict;
        int gotoTable = mod.Instructions?.GotoTable ?? FlowInstructions.NoGoto;
        var found = new List<(FlowTable Table, List<FlowEntry> Targets)>();
        foreach (int id in _pipeline.StageIds())
        {
            var table = _pipeline.Stage(id)!;
            b.Hold(table);
            var targets = new List<FlowEntry>();
            using (var w = table.Write()) CollectModifyTargets(w, mod, t, strict, targets);
            if (targets.Count == 0) continue;
            if (gotoTable != FlowInstructions.NoGoto && gotoTable <= id) return FlowModStatus.BadGotoTable;
            found.Add((table, targets));
        }
        if (gotoTable != FlowInstructions.NoGoto)
        {
            _pipeline.EnableStages();
            StageFor((byte)gotoTable, TableMiss.Drop);
        }
        if (found.Count == 0)
        {
            // Nothing matches: the add OpenFlow 1.0's modify is then, into table 0.
            b.Hold(_main);
            using var w = _main.Write();
            return AddLocked(b, w, mod with { TableId = MainTableId }, t, _clock.NowNanos, removed, out flow);
        }
        foreach (var (table, targets) in found)
        {
            using var w = table.Write();
            var exact = ModifyTargetsLocked(b, w, mod, t, targets, _clock.NowNanos);
            flow ??= exact;
        }
        return FlowModStatus.Ok;
    }

    private void DeleteLocked(FlowModBatch? b, FlowTable.WriteScope w, in FlowMod mod, in Target t, bool strict, List<FlowRemoved>? removed, long now)
    {
        var targets = Scratch();
        CollectTargets(w, t, strict, targets);
        if (mod.OutPort != PortNumber.None) FilterOutPort(targets, 0, mod.OutPort);
        if (mod.OutGroup != FlowModRequest.AnyGroup) FilterOutGroup(targets, 0, mod.OutGroup);
        if (mod.CookieMask != 0) FilterCookie(targets, mod.Cookie, mod.CookieMask);
        if (targets.Count == 0) return;
        if (b is { IsAtomic: true })
        {
            // Marked now, removed (and reported) when the batch commits, after its adds are in.
            foreach (var e in targets) b.Doom(w, e);
            targets.Clear();
            return;
        }
        w.Remove(targets);
        foreach (var e in targets) Notify(b, e, OfFlowUpdateEvent.Removed, FlowRemovedReason.Delete);
        if (removed is not null)
        {
            foreach (var e in targets)
                removed.Add(new FlowRemoved(e, FlowRemovedReason.Delete, now - e.CreatedNanos, e.Packets, e.Bytes));
        }

        targets.Clear();
    }

    /// <summary>
    /// Who hears of each flow added, modified or removed (<see cref="OfFlowMonitors"/>); called under the table's write
    /// scope, so it must be quick and must not write a table.
    /// </summary>
    public interface IFlowChanges
    {
        /// <summary><paramref name="e"/> was added, modified (in place, or as the entry that took <paramref name="replaced"/>'s place) or removed.</summary>
        void Changed(FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason, FlowEntry? replaced = null);
    }

    /// <summary>The flow monitors' hook (set once, by <see cref="OfFlowMonitors"/>).</summary>
    internal IFlowChanges? Changes { get; set; }

    /// <summary>
    /// A flow changed: told now, or, in an atomic batch, when it commits (a reverted batch changed nothing).
    /// </summary>
    private void Notify(FlowModBatch? b, FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason = FlowRemovedReason.Delete,
                        FlowEntry? replaced = null)
    {
        if (Changes is not { } c) return;
        if (b is { IsAtomic: true }) b.NoteChange(e, ev, reason, replaced);
        else c.Changed(e, ev, reason, replaced);
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
            foreach (var e in targets)
            {
                Changes?.Changed(e, OfFlowUpdateEvent.Removed, reason);
                removed.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
            }
        }
    }

    /// <summary>
    /// Within the atomic batch <paramref name="b"/>: marks every flow of every table that <paramref name="which"/> picks
    /// (of those the batch sees) for removal at the commit with <paramref name="reason"/>; a revert keeps them.
    /// </summary>
    internal void DoomWhere(FlowModBatch b, Func<FlowEntry, bool> which, FlowRemovedReason reason)
    {
        var targets = new List<FlowEntry>();
        foreach (int id in _pipeline.StageIds())
        {
            var table = _pipeline.Stage(id)!;
            b.Hold(table);
            using var w = table.Write();
            targets.Clear();
            w.CollectSubsets(FlowMatch.All, targets);
            foreach (var e in targets)
                if (which(e)) b.Doom(w, e, reason);
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
}
