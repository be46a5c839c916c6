using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// A run of flow-mods applied as one change to the table set (docs/ofproto.md, "Flow-mods"; docs/datapath.md, "Runs
/// of flow-mods" and "Atomic batches"): opened by <see cref="OfFlowTables.BeginBatch"/>, it holds every table a
/// flow-mod of it writes (<see cref="FlowTable.Hold()"/>) and publishes them all at once when it ends
/// (<see cref="FlowTable.UnholdTogether(IReadOnlyList{FlowTable})"/>: each table's versions, then the pipeline's change
/// count once).
/// </summary>
/// <remarks>
/// <para>A plain batch (a connection's run of flow-mods) applies each flow-mod on its own terms: each gets its status,
/// a failed one changes nothing and the others stand, and it publishes what it holds every
/// <see cref="OfFlowTables.MaxRunFlowMods"/> flow-mods.</para>
/// <para>An atomic batch (a bundle's commit, Open vSwitch's do_bundle_commit) is all or nothing, and its commit is one
/// step for every lookup: it holds its tables at the next tables version (<see cref="FlowTable.Hold(long)"/>,
/// <see cref="Pipeline.Versions"/>), so the flows it adds are seen from that version on and the flows its deletes mark
/// (<see cref="FlowTable.WriteScope.Hide"/>; later flow-mods of the batch no longer see them) until it, and
/// <see cref="Commit"/> publishes the version in one store before the tables unlink the marked flows
/// (<see cref="FlowTable.UnholdTogether(IReadOnlyList{FlowTable}, long)"/>). It keeps an undo log (a flow added, with
/// the flow it replaced; a flow modified, with its actions, instructions, cookie and counts before), and
/// <see cref="Revert"/> drops the version and restores every table as it was: adds removed, replaced flows re-inserted
/// with their counters and timeouts, modifies restored. A flow that takes the place of one of the same match and priority,
/// and a modify, change a flow in place: those are seen at once, not at the commit.</para>
/// <para>One batch per table set at a time (the table set's run lock), on the thread that opened it, which must end it
/// (<see cref="Commit"/> or <see cref="Revert"/>). While it is open its thread holds the tables' reclamation domain,
/// so the entries the batch removed or replaced are not reused before it ends. An atomic batch's end settles its
/// tables (<see cref="FlowTable.Settle"/>) before it releases the run lock.</para>
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
    // An atomic batch: the tables version its commit publishes (its adds seen from it on, its deletes until it).
    private readonly long _version;
    // The tables an atomic batch held, settled when it ends (their lookups stop checking versions).
    private FlowTable[]? _settle;

    internal FlowModBatch(OfFlowTables owner, bool atomic, QuiescentDomain.Hold reclaimHold, long version)
    {
        _owner = owner;
        IsAtomic = atomic;
        _reclaimHold = reclaimHold;
        _version = version;
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
    /// Ends the batch. An atomic one publishes the tables version its flows were written at
    /// (<see cref="FlowTable.UnholdTogether(IReadOnlyList{FlowTable}, long)"/>): from that one store on, every lookup sees
    /// all of its adds and none of the flows its deletes marked, in every table; the tables then unlink those flows and
    /// publish, and they are reported (appended to <paramref name="removed"/>, reason Delete or Eviction). A plain one
    /// publishes every table it holds as one change. Then the run lock is released.
    /// </summary>
    public void Commit(List<FlowRemoved>? removed = null)
    {
        CheckOpen();
        try
        {
            if (IsAtomic && _held.Count > 0)
            {
                _settle = _held.ToArray();
                try
                {
                    FlowTable.UnholdTogether(_held, _version);
                }
                finally
                {
                    _held.Clear();
                }
            }
            if (_doomed.Count > 0) ReportDoomed(removed);
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
    /// Ends an atomic batch with nothing it did in effect: its version is dropped (the flows its deletes marked are seen
    /// again, as they were all along at the current version), the undo log is played backwards (adds removed before any
    /// lookup saw them, replaced flows re-inserted with their counters and timeouts, modifies restored), then the tables
    /// are published and the run lock is released. No packet saw any of it but a flow replaced or modified in place.
    /// </summary>
    public void Revert()
    {
        CheckOpen();
        if (!IsAtomic) throw new InvalidOperationException("only an atomic batch can be reverted");
        try
        {
            _settle = _held.ToArray();
            foreach (var t in _held) t.DropHoldVersion();
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

    /// <summary>The flows the batch's deletes marked, out of their tables since the commit: reported, in the order of the tables the batch held.</summary>
    private void ReportDoomed(List<FlowRemoved>? removed)
    {
        long now = _owner.Clock.NowNanos;
        foreach (var table in _settle ?? [])
        {
            foreach (var (e, t) in _doomed)
            {
                if (!ReferenceEquals(t, table)) continue;
                var reason = _evicted is not null && _evicted.Contains(e) ? FlowRemovedReason.Eviction : FlowRemovedReason.Delete;
                if (_owner.Changes is not null) NoteChange(e, OfFlowUpdateEvent.Removed, reason, null);
                removed?.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
            }
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
            try
            {
                // Under the run lock (no other batch holds the tables at a version of its own meanwhile).
                if (_settle is not null) FlowTable.Settle(_settle);
            }
            finally
            {
                _settle = null;
                _reclaimHold.Dispose();
                _owner.EndBatch(this);
            }
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
        if (IsAtomic) table.Hold(_version); // its adds and deletes seen at the commit's version
        else table.Hold();
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

    /// <summary>
    /// Marks <paramref name="e"/> of the table <paramref name="w"/> writes for deletion at the commit: hidden from the
    /// commit's version on (lookups see it until then), unlinked by the commit.
    /// </summary>
    internal void Doom(FlowTable.WriteScope w, FlowEntry e)
    {
        if (!_doomed.TryAdd(e, w.Table)) return;
        w.Hide(e);
        _undo.Add(new Undo(UndoKind.Doomed, w.Table, e, null, null, null, 0, 0, 0, false));
    }

    /// <summary>Marks <paramref name="e"/> of the table <paramref name="w"/> writes as evicted by an add: removed at the commit with reason Eviction.</summary>
    internal void DoomEvicted(FlowTable.WriteScope w, FlowEntry e)
    {
        Doom(w, e);
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
