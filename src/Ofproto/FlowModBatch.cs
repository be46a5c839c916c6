using System.Runtime.InteropServices;
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
/// (<see cref="FlowTable.WriteScope.Hide"/>; later flow-mods of the batch no longer see them) until it; a flow an add
/// replaces, or a modify changes, stays as it is until the version, with a new flow beside it seen from the version
/// (<see cref="FlowTable.WriteScope.Insert"/>), which takes its counts (those it counts until the commit too, added when
/// the batch has settled). <see cref="Commit"/> publishes the version in one store before the tables unlink the marked
/// and replaced flows (<see cref="FlowTable.UnholdTogether(IReadOnlyList{FlowTable}, long)"/>). It keeps an undo log of
/// the flows it linked, and <see cref="Revert"/> removes them (no lookup saw them) and drops the version: every table
/// is as it was.</para>
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
    // An atomic batch's flows that took the counts of a flow they replace (an add or a modify), with the counts taken:
    // what the replaced flow counts until the batch has ended is added to them then, in this order (a chain of
    // replacements within the batch carries through).
    private List<(FlowEntry From, FlowEntry To, long Packets, long Bytes)>? _carried;
    private bool _committed;
    private readonly Dictionary<FlowEntry, FlowTable> _doomed = new(ReferenceEqualityComparer.Instance);
    // The marked flows an add evicted (removed with reason Eviction, the others with Delete).
    /// <summary>The reason each marked flow is removed with, when not DELETE (an add's eviction, a bundled group DELETE's flows).</summary>
    private Dictionary<FlowEntry, FlowRemovedReason>? _reasons;
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

    /// <summary>An atomic batch's tables version (what its commit publishes); 0 for a plain one.</summary>
    internal long Version => _version;

    /// <summary>Whether the batch holds a table (an atomic one's commit then publishes its version).</summary>
    internal bool HoldsTables => _held.Count > 0;

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
            _committed = true;
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
    /// Ends an atomic batch with nothing it did in effect: the undo log is played backwards (the flows it added, and those
    /// it linked beside the flows it replaced or modified, removed before any lookup saw them), then its version is
    /// dropped (the flows its deletes marked and those it replaced or modified are seen again at every version, as they
    /// were all along at the current one), the tables are published and the run lock is released. No packet saw any of it.
    /// </summary>
    public void Revert()
    {
        CheckOpen();
        if (!IsAtomic) throw new InvalidOperationException("only an atomic batch can be reverted");
        try
        {
            _settle = _held.ToArray();
            for (int i = _undo.Count - 1; i >= 0; i--)
            {
                var u = _undo[i];
                using var w = u.Table.Write(); // under the batch's hold: publishes nothing
                if (u.Kind == UndoKind.Added)
                {
                    if (!u.Entry.IsRemoved) w.Remove(u.Entry);
                }
                else
                {
                    _doomed.Remove(u.Entry);
                }
            }
            foreach (var t in _held) t.DropHoldVersion();
        }
        finally
        {
            _doomed.Clear();
            _reasons = null;
            _changes = null;
            _carried = null;
            End();
        }
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
                var reason = _reasons is not null && _reasons.TryGetValue(e, out var r) ? r : FlowRemovedReason.Delete;
                removed?.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
            }
        }
        _doomed.Clear();
        _reasons = null;
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
                // After the settle: no lookup sees a flow the commit replaced any more (one that outstayed it counts
                // a few packets more on the old flow; the old flows are not reused before the reclamation hold ends).
                if (_committed) CarryOver();
            }
            finally
            {
                _settle = null;
                _reclaimHold.Dispose();
                _owner.EndBatch(this);
            }
        }
    }

    /// <summary>The counts the flows a committed batch replaced took since their replacements took their counts.</summary>
    private void CarryOver()
    {
        var carried = _carried;
        _carried = null;
        if (carried is null) return;
        foreach (var (from, to, packets, bytes) in carried) to.AddCounts(from.Packets - packets, from.Bytes - bytes);
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

    /// <summary>
    /// Marks <paramref name="e"/> of the table <paramref name="w"/> writes for deletion at the commit: hidden from the
    /// commit's version on (lookups see it until then), unlinked by the commit and reported with <paramref name="reason"/>
    /// (a flow already marked keeps its first reason).
    /// </summary>
    internal void Doom(FlowTable.WriteScope w, FlowEntry e, FlowRemovedReason reason = FlowRemovedReason.Delete)
    {
        if (!_doomed.TryAdd(e, w.Table)) return;
        w.Hide(e);
        _undo.Add(new Undo(UndoKind.Doomed, w.Table, e));
        if (reason != FlowRemovedReason.Delete) (_reasons ??= new(ReferenceEqualityComparer.Instance))[e] = reason;
        // The flow monitors hear of it at the commit in its place among the batch's changes (a delete before the add
        // that follows it), as Open vSwitch's bundle commit reports each message in turn.
        if (_owner.Changes is not null) NoteChange(e, OfFlowUpdateEvent.Removed, reason, null);
    }

    /// <summary>Marks <paramref name="e"/> of the table <paramref name="w"/> writes as evicted by an add: removed at the commit with reason Eviction.</summary>
    internal void DoomEvicted(FlowTable.WriteScope w, FlowEntry e) => Doom(w, e, FlowRemovedReason.Eviction);

    /// <summary>A flow the batch linked (an add's, or a replacement of a flow it hid: an add's of the same match and priority, a modify's).</summary>
    internal void NoteAdded(FlowTable table, FlowEntry added)
    {
        if (IsAtomic) _undo.Add(new Undo(UndoKind.Added, table, added));
    }

    /// <summary><paramref name="to"/> took <paramref name="from"/>'s counts (these): it takes what <paramref name="from"/> counts later when the batch commits.</summary>
    internal void NoteCarried(FlowEntry from, FlowEntry to, long packets, long bytes)
        => (_carried ??= new()).Add((from, to, packets, bytes));

    /// <summary>A flow change of an atomic batch, told when it commits.</summary>
    internal void NoteChange(FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason, FlowEntry? replaced)
        => (_changes ??= new()).Add((e, ev, reason, replaced));

    private enum UndoKind : byte { Added, Doomed }

    private readonly record struct Undo(UndoKind Kind, FlowTable Table, FlowEntry Entry);
}
