using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// A run of flow-mods applied as one change to the table set (docs/ofproto.md, "Flow-mods"; docs/datapath.md, "Runs
/// of flow-mods" and "Atomic batches"): opened by <see cref="OfFlowTables.BeginBatch"/>, it holds every table a
/// flow-mod of it writes (<see cref="FlowTable.Hold"/>) and publishes them all at once when it ends
/// (<see cref="FlowTable.UnholdTogether"/>: each table's versions, then the pipeline's change count once).
/// </summary>
/// <remarks>
/// <para>A plain batch (a connection's run of flow-mods) applies each flow-mod on its own terms: each gets its status,
/// a failed one changes nothing and the others stand, and it publishes what it holds every
/// <see cref="OfFlowTables.MaxRunFlowMods"/> flow-mods.</para>
/// <para>An atomic batch (a bundle's commit, Open vSwitch's do_bundle_commit) is all or nothing: it keeps an undo log
/// (a flow added, with the flow it replaced; a flow modified, with its actions, instructions, cookie and counts before),
/// never publishes before it ends, and <see cref="Revert"/> restores every table as it was: adds removed, replaced flows
/// re-inserted with their counters and timeouts, modifies restored. Its deletes take effect at the end: a deleted flow
/// is marked (later flow-mods of the batch no longer see it) and stays in its table until <see cref="Commit"/>, which
/// publishes every add first (a new subtable too) and only then removes the marked flows, so that a batch replacing
/// flows by others that forward alike never leaves a packet without a flow.</para>
/// <para>One batch per table set at a time (the table set's run lock), on the thread that opened it, which must end it
/// (<see cref="Commit"/> or <see cref="Revert"/>). While it is open its thread holds the tables' reclamation domain,
/// so the entries the batch removed or replaced are not reused before it ends.</para>
/// </remarks>
public sealed class FlowModBatch
{
    private readonly OfFlowTables _owner;
    private readonly List<FlowTable> _held = new();
    private readonly List<Undo> _undo = new();
    private readonly Dictionary<FlowEntry, FlowTable> _doomed = new(ReferenceEqualityComparer.Instance);
    // The marked flows an add evicted (removed with reason Eviction, the others with Delete).
    private HashSet<FlowEntry>? _evicted;
    // An atomic batch's flow changes, told to the flow monitors when it commits.
    private List<(FlowEntry Entry, OfFlowUpdateEvent Event, FlowRemovedReason Reason, FlowEntry? Replaced)>? _changes;
    private readonly QuiescentDomain.Hold _reclaimHold;
    private bool _ended;

    internal FlowModBatch(OfFlowTables owner, bool atomic, QuiescentDomain.Hold reclaimHold)
    {
        _owner = owner;
        IsAtomic = atomic;
        _reclaimHold = reclaimHold;
    }

    /// <summary>Whether the batch is all or nothing (see the type remarks).</summary>
    public bool IsAtomic { get; }

    /// <summary>Flow-mods applied through the batch since it last published.</summary>
    internal int Mods { get; set; }

    /// <summary>Whether the batch has ended (committed or reverted).</summary>
    public bool IsEnded => _ended;

    /// <summary>Applies one flow-mod in this batch (<see cref="OfFlowTables.Apply(in FlowMod, List{FlowRemoved}?, out FlowEntry?)"/>).</summary>
    /// <param name="removed">
    /// Receives the flows a DELETE removed (reason Delete), or null to discard them; an atomic batch reports them from
    /// <see cref="Commit"/> instead, when they leave their tables.
    /// </param>
    public FlowModStatus Apply(in FlowMod mod, List<FlowRemoved>? removed, out FlowEntry? flow)
    {
        CheckOpen();
        return _owner.Apply(mod, removed, out flow);
    }

    /// <summary>
    /// Ends the batch: an atomic one whose deletes marked flows publishes its tables with its adds in and the marked flows
    /// still there, then removes those (appending them to <paramref name="removed"/>, reason Delete); then every table it
    /// holds is published as one change and the run lock is released.
    /// </summary>
    public void Commit(List<FlowRemoved>? removed = null)
    {
        CheckOpen();
        try
        {
            if (_doomed.Count > 0)
            {
                // The adds first: every table published (a subtable the batch created among them) while the flows its
                // deletes marked are still in, then those tables held again for the deletes, published at the end.
                var tables = _held.ToArray();
                Publish();
                foreach (var t in tables) Hold(t);
                RemoveDoomed(removed);
            }
        }
        finally
        {
            End();
        }
        TellChanges();
    }

    /// <summary>The flow changes of a committed atomic batch, in the order they were made, told to the flow monitors.</summary>
    private void TellChanges()
    {
        var changes = _changes;
        _changes = null;
        if (changes is null || _owner.Changes is not { } c) return;
        foreach (var (e, ev, reason, replaced) in changes) c.Changed(e, ev, reason, replaced);
    }

    /// <summary>
    /// Ends an atomic batch with nothing it did in effect: the undo log is played backwards (adds removed, replaced
    /// flows re-inserted with their counters and timeouts, modifies restored, marked deletes forgotten), then the
    /// tables are published (no packet saw any of it but a new flow's first walk through a table it held) and the run
    /// lock is released.
    /// </summary>
    public void Revert()
    {
        CheckOpen();
        if (!IsAtomic) throw new InvalidOperationException("only an atomic batch can be reverted");
        try
        {
            var incarnation = new Dictionary<FlowEntry, FlowEntry>(ReferenceEqualityComparer.Instance);
            for (int i = _undo.Count - 1; i >= 0; i--)
            {
                var u = _undo[i];
                using var w = u.Table.Write(); // under the batch's hold: publishes nothing
                switch (u.Kind)
                {
                    case UndoKind.Added:
                    {
                        var added = incarnation.GetValueOrDefault(u.Entry, u.Entry);
                        if (u.Replaced is { } old) incarnation[old] = Reinsert(w, old);
                        else if (!added.IsRemoved) w.Remove(added);
                        break;
                    }
                    case UndoKind.Modified:
                    {
                        var e = incarnation.GetValueOrDefault(u.Entry, u.Entry);
                        if (e.IsRemoved) break;
                        w.SetActions(e, u.Actions!);
                        w.SetInstructions(e, u.Instructions);
                        w.SetTag(e, u.Tag);
                        if (u.CountsReset) e.AddCounts(u.Packets, u.Bytes);
                        break;
                    }
                    case UndoKind.Doomed:
                        _doomed.Remove(u.Entry);
                        break;
                }
            }
        }
        finally
        {
            _doomed.Clear();
            _evicted = null;
            _changes = null;
            End();
        }
    }

    /// <summary>A flow like <paramref name="e"/> (a removed one), inserted where it was: its counts, last use, timeouts and instructions.</summary>
    private static FlowEntry Reinsert(FlowTable.WriteScope w, FlowEntry e)
    {
        var c = w.NewEntry(e.Match, e.Priority, e.Actions, e.IdleTimeout, e.HardTimeout, e.CreatedNanos, e.Owner, e.Tag,
                           e.RequestedPriority, e.IsTableMiss);
        if (e.Instructions is { } ins) w.SetInstructions(c, ins);
        c.AddCounts(e.Packets, e.Bytes);
        c.Touch(e.LastUsedNanos);
        w.Insert(c);
        return c;
    }

    private void RemoveDoomed(List<FlowRemoved>? removed)
    {
        long now = _owner.Clock.NowNanos;
        var list = new List<FlowEntry>();
        foreach (var table in _held)
        {
            list.Clear();
            foreach (var (e, t) in _doomed)
            {
                if (!ReferenceEquals(t, table)) continue;
                // A later add of the same match and priority replaced it in place: out of the table already.
                if (!e.IsRemoved) list.Add(e);
                var reason = _evicted is not null && _evicted.Contains(e) ? FlowRemovedReason.Eviction : FlowRemovedReason.Delete;
                if (_owner.Changes is not null) NoteChange(e, OfFlowUpdateEvent.Removed, reason, null);
                removed?.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
            }
            if (list.Count == 0) continue;
            using var w = table.Write();
            w.Remove(list);
        }
        _doomed.Clear();
        _evicted = null;
    }

    private void End()
    {
        _ended = true;
        try
        {
            Publish();
        }
        finally
        {
            _undo.Clear();
            _reclaimHold.Dispose();
            _owner.EndBatch(this);
        }
    }

    /// <summary>Publishes and lets go of every table the batch holds (a plain batch goes on afterwards).</summary>
    internal void Publish()
    {
        Mods = 0;
        if (_held.Count == 0) return;
        try
        {
            FlowTable.UnholdTogether(_held);
        }
        finally
        {
            _held.Clear();
        }
    }

    private void CheckOpen()
    {
        if (_ended) throw new InvalidOperationException("the batch has ended");
    }

    // ------------------------------------------------------------ for OfFlowTables's writers

    /// <summary>Holds <paramref name="table"/> (once) for a flow-mod of the batch about to write it.</summary>
    internal void Hold(FlowTable table)
    {
        foreach (var t in CollectionsMarshal.AsSpan(_held))
            if (ReferenceEquals(t, table)) return;
        table.Hold();
        _held.Add(table);
    }

    /// <summary>Whether a delete of this atomic batch marked <paramref name="e"/> (it is gone for the batch's later flow-mods).</summary>
    internal bool IsDoomed(FlowEntry e) => _doomed.Count != 0 && _doomed.ContainsKey(e);

    /// <summary>Flows of <paramref name="table"/> marked for deletion.</summary>
    internal int DoomedIn(FlowTable table)
    {
        if (_doomed.Count == 0) return 0;
        int n = 0;
        foreach (var t in _doomed.Values)
            if (ReferenceEquals(t, table)) n++;
        return n;
    }

    /// <summary>Drops the marked flows from <paramref name="list"/>.</summary>
    internal void SkipDoomed(List<FlowEntry> list)
    {
        if (_doomed.Count == 0) return;
        list.RemoveAll(IsDoomed);
    }

    /// <summary>Marks <paramref name="e"/> of <paramref name="table"/> for deletion at the commit.</summary>
    internal void Doom(FlowTable table, FlowEntry e)
    {
        if (!_doomed.TryAdd(e, table)) return;
        _undo.Add(new Undo(UndoKind.Doomed, table, e, null, null, null, 0, 0, 0, false));
    }

    /// <summary>Marks <paramref name="e"/> of <paramref name="table"/> as evicted by an add: removed at the commit with reason Eviction.</summary>
    internal void DoomEvicted(FlowTable table, FlowEntry e)
    {
        Doom(table, e);
        (_evicted ??= new(ReferenceEqualityComparer.Instance)).Add(e);
    }

    internal void NoteAdded(FlowTable table, FlowEntry added, FlowEntry? replaced)
    {
        if (IsAtomic) _undo.Add(new Undo(UndoKind.Added, table, added, replaced, null, null, 0, 0, 0, false));
    }

    /// <summary>A flow change of an atomic batch, told when it commits.</summary>
    internal void NoteChange(FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason, FlowEntry? replaced)
        => (_changes ??= new()).Add((e, ev, reason, replaced));

    /// <summary>Before a modify changes <paramref name="e"/>: what it was.</summary>
    internal void NoteModifying(FlowTable table, FlowEntry e, bool resetCounts)
    {
        if (!IsAtomic) return;
        _undo.Add(new Undo(UndoKind.Modified, table, e, null, e.Actions, e.Instructions, e.Tag,
                           resetCounts ? e.Packets : 0, resetCounts ? e.Bytes : 0, resetCounts));
    }

    private enum UndoKind : byte { Added, Modified, Doomed }

    private readonly record struct Undo(UndoKind Kind, FlowTable Table, FlowEntry Entry, FlowEntry? Replaced, FlowActions? Actions,
                                        FlowInstructions? Instructions, ulong Tag, long Packets, long Bytes, bool CountsReset);
}
