using System.Diagnostics;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

// The writer's side: write scopes and holds, expiry, observers, and the inserts, removals and publication made
// under the writer lock.
public sealed partial class FlowTable
{
    /// <summary>Starts a write: takes the writer lock; disposing the scope publishes everything it did and releases the lock.</summary>
    public WriteScope Write()
    {
        _writeLock.Enter();
        return new WriteScope(this);
    }

    /// <summary>
    /// Takes the writer lock and keeps it, with everything written meanwhile unpublished, until <see cref="Unhold"/>:
    /// write scopes this thread starts in between publish nothing when they end, so a run of changes (a controller's
    /// flow-mods read together) moves the table's versions, and cached pipeline results, once. The caller holds no
    /// other table's lock unless it keeps an order that no other writer breaks (see <c>OfFlowTables.BeginRun</c>).
    /// </summary>
    public void Hold()
    {
        _writeLock.Enter();
        _holds++;
    }

    /// <summary>
    /// A <see cref="Hold()"/> of an atomic batch whose commit publishes tables version <paramref name="version"/> (the
    /// next: <see cref="Versions"/>' current plus one): the rules inserted meanwhile are seen by lookups from that version
    /// on, and those <see cref="WriteScope.Hide"/> hides, or an insert replaces (linked beside the new rule until the
    /// commit), are seen until it. Ended by <see cref="UnholdTogether(IReadOnlyList{FlowTable}, long)"/>
    /// (the commit), or by <see cref="DropHoldVersion"/> and <see cref="Unhold"/> (a revert). Design: docs/datapath.md,
    /// "Atomic batches".
    /// </summary>
    public void Hold(long version)
    {
        if (version <= Versions.Current) throw new ArgumentOutOfRangeException(nameof(version), "a batch's version is after the current one");
        Hold();
        if (_holds != 1)
        {
            Unhold();
            throw new InvalidOperationException("a versioned hold must be the table's only one");
        }
        // Before any rule of the batch is linked or hidden: lookups check versions from now on.
        _versionsPending = true;
        _holdVersion = version;
    }

    /// <summary>
    /// Ends the versioning of this thread's <see cref="Hold(long)"/> without publishing its version (a revert): the rules
    /// it hid are shown again, and rules inserted from now on are seen at once. The rules it inserted stay hidden until
    /// removed (a revert removes them).
    /// </summary>
    public void DropHoldVersion()
    {
        if (!_writeLock.IsHeldByCurrentThread || _holds == 0) throw new InvalidOperationException("the table is not held by this thread");
        foreach (var (e, kind, version) in _hidden) e.SetVisibility(kind, version);
        _hidden.Clear();
        _holdVersion = 0;
    }

    /// <summary>
    /// The commit of an atomic batch that holds every table in <paramref name="tables"/> with
    /// <see cref="Hold(long)"/> at <paramref name="version"/>: every table's search order is published (a subtable the
    /// batch created among them, its rules still hidden), then the version, in one store: from it on every lookup sees
    /// every rule the batch inserted and none it hid, in every table at once; then each table unlinks the rules it hid
    /// and publishes as <see cref="UnholdTogether(IReadOnlyList{FlowTable})"/> does (versions and classes, then the
    /// pipeline's change count once), the version is stored again as <see cref="TablesVersion.Committed"/>, and the
    /// locks are released. A lookup still at the old version sees none of it
    /// (a walk or burst whose version moved while it ran looks again). <see cref="Settle"/> after it lets lookups stop
    /// checking versions.
    /// </summary>
    public static void UnholdTogether(IReadOnlyList<FlowTable> tables, long version)
    {
        foreach (var t in tables)
        {
            if (!t._writeLock.IsHeldByCurrentThread || t._holds != 1) throw new InvalidOperationException("a table is not held once by this thread");
            if (t._holdVersion != version) throw new InvalidOperationException("a table is not held at this version");
            if (!ReferenceEquals(t.Versions, tables[0].Versions)) throw new InvalidOperationException("the tables have different versions");
        }
        Exception? first = null;
        var changes = new List<ShadowClass>(2);
        bool published = false;
        try
        {
            foreach (var t in tables)
            {
                try
                {
                    t.PublishStructureLocked();
                }
                catch (Exception e)
                {
                    first ??= e;
                }
            }
            if (tables.Count != 0)
            {
                published = true;
                tables[0].Versions.Publish(version);
            }
            foreach (var t in tables)
            {
                try
                {
                    t._holds = 0;
                    t._holdVersion = 0;
                    t.UnlinkHidden();
                    if (t.PublishLocked(moveChanges: false) && t.PipelineChanges is { } c && !changes.Contains(c)) changes.Add(c);
                }
                catch (Exception e)
                {
                    first ??= e;
                }
            }
            foreach (var c in changes) c.Increment();
        }
        finally
        {
            // Last: every cached result's word has moved, so a burst that reads this before its checks and the same
            // version after its lookups met the rules of this version alone (a burst inside the commit looks again).
            if (published) tables[0].Versions.PublishCommitted(version);
            foreach (var t in tables) t._writeLock.Exit();
        }
        if (first is not null) throw first;
    }

    /// <summary>Writer: unlinks the rules this hold hid, deleted or replaced (those the hold's writer removed itself are out already).</summary>
    private void UnlinkHidden()
    {
        foreach (var (e, _, _) in _hidden)
            if (!e.IsRemoved) RemoveLocked(e);
        _hidden.Clear();
    }

    /// <summary>
    /// After the commit or revert of an atomic batch that held <paramref name="tables"/> (released since): waits until
    /// every forwarding thread has passed a quiescent point (at most <paramref name="limitMs"/>), so none still holds a
    /// version from before, or a rule the commit unlinked, and lookups of those tables stop checking versions. False
    /// when a thread stayed inside its round past the limit: the tables go on checking (correct, a little slower) until
    /// a later settle.
    /// </summary>
    public static bool Settle(IReadOnlyList<FlowTable> tables, int limitMs = SettleLimitMs)
    {
        bool any = false;
        foreach (var t in tables) any |= t._versionsPending;
        if (!any) return true;
        var domain = tables[0]._domain;
        if (!domain.WaitForReaders(domain.Advance(), limitMs)) return false;
        foreach (var t in tables)
        {
            lock (t._writeLock)
            {
                // Not while another batch holds it at a version of its own.
                if (t._holdVersion != 0) continue;
                foreach (var (e, serial) in t._shown)
                    if (e.Serial == serial && !e.IsRemoved) e.Settle(); // not one a revert removed (or its next incarnation)
                t._shown.Clear();
                if (t._hidden.Count == 0) t._versionsPending = false;
            }
        }
        return true;
    }

    /// <summary>The longest <see cref="Settle"/> waits by default for a forwarding thread to finish its round.</summary>
    public const int SettleLimitMs = 500;

    /// <summary>Ends a <see cref="Hold()"/>: publishes everything written since (the last hold ended) and releases the lock.</summary>
    public void Unhold()
    {
        if (!_writeLock.IsHeldByCurrentThread || _holds == 0) throw new InvalidOperationException("the table is not held by this thread");
        try
        {
            if (--_holds == 0) PublishLocked();
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    /// <summary>
    /// Ends this thread's <see cref="Hold()"/> of every table in <paramref name="tables"/> as one publication: each table
    /// publishes what was written since its hold began, with its locks all still held, and only then does the
    /// pipeline's change count (<see cref="Pipeline.Changes"/>) move, once, for all of them, before the locks are
    /// released. A cached pipeline result checked before that move is the one it was before any of the writes (its
    /// check is that one load while the count stands); one checked after it reads every table's new classes.
    /// </summary>
    /// <remarks>Every table must be held by this thread (once: a nested hold of one of them is a caller's bug).</remarks>
    public static void UnholdTogether(IReadOnlyList<FlowTable> tables)
    {
        foreach (var t in tables)
            if (!t._writeLock.IsHeldByCurrentThread || t._holds != 1) throw new InvalidOperationException("a table is not held once by this thread");
        Exception? first = null;
        var changes = new List<ShadowClass>(2);
        try
        {
            foreach (var t in tables)
            {
                try
                {
                    t._holds = 0;
                    if (t.PublishLocked(moveChanges: false) && t.PipelineChanges is { } c && !changes.Contains(c)) changes.Add(c);
                }
                catch (Exception e)
                {
                    first ??= e;
                }
            }
            foreach (var c in changes) c.Increment(); // last: a cached result validated at the old count looks again
        }
        finally
        {
            foreach (var t in tables) t._writeLock.Exit();
        }
        if (first is not null) throw first;
    }

    /// <summary>
    /// The writer's handle (see <see cref="Write"/>). Queries made through it see the writer's own changes at once;
    /// lookups see them when the scope ends (rules are visible earlier, never half-built).
    /// </summary>
    public readonly ref struct WriteScope
    {
        private readonly FlowTable _table;

        internal WriteScope(FlowTable table) => _table = table;

        public FlowTable Table => _table;

        /// <summary>
        /// A new rule, not yet inserted: a recycled entry past its grace period when the table recycles and has one,
        /// else a new one. Insert it (or drop it) within this scope.
        /// </summary>
        public FlowEntry NewEntry(in FlowMatch match, ushort priority, FlowActions actions, ushort idleTimeout, ushort hardTimeout,
                                  long createdNanos, object? owner = null, ulong tag = 0, ushort? requestedPriority = null,
                                  bool isTableMiss = false)
            => _table.NewEntryLocked(match, priority, actions, idleTimeout, hardTimeout, createdNanos, owner, tag,
                                     requestedPriority ?? priority, isTableMiss);

        /// <summary>
        /// Inserts a fully built rule; returns the rule with identical match and priority it replaced, or null. Within a
        /// <see cref="Hold(long)"/> the replaced rule is not removed but hidden from the hold's version, the new one
        /// linked beside it (<see cref="FlowEntry.IsRemoved"/> tells which: false for a rule hidden so); the commit
        /// unlinks it, a revert shows it again once the new one is removed.
        /// </summary>
        public FlowEntry? Insert(FlowEntry entry) => _table.InsertLocked(entry);

        /// <summary>
        /// Rules of the table hidden by this thread's <see cref="Hold(long)"/> and still linked (replaced or deleted at its
        /// version): <see cref="Count"/> includes them, the scope's queries do not.
        /// </summary>
        public int HiddenCount => _table.HiddenLinkedLocked();

        /// <summary>Removes one rule (reason Delete); false when it is not in the table.</summary>
        public bool Remove(FlowEntry entry) => _table.RemoveLocked(entry);

        /// <summary>
        /// Removes these rules, losers first, so a racing lookup returns what it returned before or after
        /// (docs/datapath.md, "One table"); the list is reordered.
        /// </summary>
        public void Remove(List<FlowEntry> entries) => _table.RemoveManyLocked(entries);

        /// <summary>
        /// Hides <paramref name="entry"/> (a rule of the table) from the version of this thread's <see cref="Hold(long)"/>
        /// on: lookups at an earlier version still see it; the commit unlinks it
        /// (<see cref="UnholdTogether(IReadOnlyList{FlowTable}, long)"/>).
        /// </summary>
        public void Hide(FlowEntry entry) => _table.HideLocked(entry);

        /// <summary>Undoes <see cref="Hide"/> (the rule is seen at every version again).</summary>
        public void Unhide(FlowEntry entry) => _table.UnhideLocked(entry);

        /// <summary>Swaps a rule's whole action list (readers see the old or the new list, never a mix).</summary>
        public void SetActions(FlowEntry entry, FlowActions actions) => _table.SetActionsLocked(entry, actions);

        /// <summary>
        /// Swaps a rule's whole instruction set (<see cref="FlowEntry.Instructions"/>; null: apply-actions only), before
        /// or after its insertion; a published change (cached pipeline results through this table are stale at once).
        /// </summary>
        public void SetInstructions(FlowEntry entry, FlowInstructions? instructions) => _table.SetInstructionsLocked(entry, instructions);

        /// <summary>
        /// Restarts rule <paramref name="entry"/>'s idle and hard timers from <paramref name="nowNanos"/> (Open vSwitch's
        /// learn refresh: rule->modified, which the hard timeout counts from); its creation time stays. Lazily re-armed:
        /// the timer wheel files it again when its old deadline comes.
        /// </summary>
        public void Refresh(FlowEntry entry, long nowNanos) => entry.Refresh(nowNanos);

        /// <summary>
        /// Restarts rule <paramref name="entry"/>'s hard timer from <paramref name="nowNanos"/> (Open vSwitch's modify: the
        /// rule that replaces the old one keeps its creation time and idle state, and its rule->modified is now); lazily
        /// re-armed as <see cref="Refresh"/>.
        /// </summary>
        public void RestartHardTimeout(FlowEntry entry, long nowNanos) => entry.RestartHardTimeout(nowNanos);

        /// <summary>
        /// Replaces a rule's <see cref="FlowEntry.Tag"/> (not an observed change: the datapath reads it only to count rules
        /// per tag, <see cref="WatchTag"/>).
        /// </summary>
        public void SetTag(FlowEntry entry, ulong tag) => _table.SetTagLocked(entry, tag);

        /// <summary>
        /// The count of this table's rules carrying tag <paramref name="tag"/>, kept from now on (created counting the rules
        /// in the table, else the one kept already): what a learn's limit reads (<see cref="TaggedCount"/>).
        /// </summary>
        public TagCount WatchTag(ulong tag) => _table.WatchTagLocked(tag);

        /// <summary>The rule with exactly this match and priority, or null (within a <see cref="Hold(long)"/>: one visible at its version).</summary>
        public FlowEntry? Find(in FlowMatch match, ushort priority) => _table.FindLocked(match, priority);

        /// <summary>
        /// Appends every rule whose match is a subset of <paramref name="request"/> (any priority); within a
        /// <see cref="Hold(long)"/>, those visible at its version (this query and the next alike).
        /// </summary>
        public void CollectSubsets(in FlowMatch request, List<FlowEntry> into) => _table.CollectSubsetsLocked(request, into);

        /// <summary>Appends every rule with exactly this match, whatever its priority (within a <see cref="Hold(long)"/>: visible at its version).</summary>
        public void CollectIdentical(in FlowMatch match, List<FlowEntry> into) => _table.CollectIdenticalLocked(match, into);

        /// <summary>True when a rule of this priority overlaps <paramref name="match"/> (some packet could match both).</summary>
        public bool HasOverlap(in FlowMatch match, ushort priority) => _table.HasOverlapLocked(match, priority);

        public void Dispose()
        {
            try
            {
                // Within a hold (Hold) the hold's end publishes.
                if (_table._holds == 0) _table.PublishLocked();
            }
            finally
            {
                _table._writeLock.Exit();
            }
        }
    }

    /// <summary>
    /// Removes every rule whose idle or hard timeout has passed at the clock's current time, appending them (reason
    /// IdleTimeout or HardTimeout; hard wins when both are due) to <paramref name="removed"/>. Returns how many.
    /// </summary>
    public int Expire(List<FlowRemoved> removed)
    {
        using var w = Write();
        long now = _clock.NowNanos;
        _due.Clear();
        _wheel.Advance(now, _due);
        int count = 0;
        foreach (var (e, reason) in _due)
        {
            // A lowered flow's two references both came due (TimerWheel.Reschedule): the second finds it removed (an
            // entry is reused only by a later insert, never within this loop).
            if (e.IsRemoved) continue;
            count++;
            bool ok = RemoveFromStage(e);
            Debug.Assert(ok, "a timed rule is in the table until it expires or is removed");
            e.MarkRemoved();
            removed.Add(new FlowRemoved(e, reason, now - e.CreatedNanos, e.Packets, e.Bytes));
            Notify(ObserverEventKind.Removed, e, reason);
            Retire(e);
        }
        _due.Clear();
        if (count > 0) _changed = true;
        return count;
    }

    /// <summary>
    /// Open vSwitch's ofproto_rule_reduce_timeouts (a fin_timeout met a FIN or RST): lowers rule <paramref name="e"/>'s
    /// idle timeout to <paramref name="idle"/> and its hard timeout (counted from <see cref="FlowEntry.ModifiedNanos"/>) to <paramref name="hard"/>
    /// where they are 0 (none) or longer; 0 leaves a timeout as it is. False when the rule is no longer the incarnation
    /// of <paramref name="serial"/> in this table, or nothing changed.
    /// </summary>
    public bool ReduceTimeouts(FlowEntry e, int serial, ushort idle, ushort hard)
    {
        using var w = Write();
        if (e.IsRemoved || e.Serial != serial) return false;
        ushort newIdle = Reduced(e.IdleTimeout, idle), newHard = Reduced(e.HardTimeout, hard);
        if (newIdle == e.IdleTimeout && newHard == e.HardTimeout) return false;
        bool tracked = TimerWheel.HasTimeout(e);
        e.SetTimeouts(newIdle, newHard);
        _wheel.Reschedule(e, tracked);
        return true;
    }

    /// <summary>Open vSwitch's reduce_timeout: <paramref name="max"/> when it is set and the timeout is none or longer.</summary>
    internal static ushort Reduced(ushort timeout, ushort max) => max != 0 && (timeout == 0 || timeout > max) ? max : timeout;

    /// <summary>Appends every rule (a consistent snapshot, taken under the writer lock).</summary>
    public void Snapshot(List<FlowEntry> into)
    {
        using var w = Write();
        CollectSubsetsLocked(FlowMatch.All, into);
    }

    /// <summary>Registers an observer: told, in order, about every published insert, action swap and removal.</summary>
    public void AddObserver(IFlowTableObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_writeLock) _observers = [.. _observers, observer];
    }

    public void RemoveObserver(IFlowTableObserver observer)
    {
        lock (_writeLock) _observers = Array.FindAll(_observers, o => !ReferenceEquals(o, observer));
    }

    private void HideLocked(FlowEntry entry)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        if (_holdVersion == 0) throw new InvalidOperationException("the table is not held at a version");
        if (entry.IsHidden) return;
        var (kind, version) = entry.Visibility;
        entry.HideFrom(_holdVersion);
        _hidden.Add((entry, kind, version));
    }

    private void UnhideLocked(FlowEntry entry)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        int i = _hidden.FindIndex(h => ReferenceEquals(h.Entry, entry));
        if (i < 0) return;
        var (_, kind, version) = _hidden[i];
        _hidden.RemoveAt(i);
        entry.SetVisibility(kind, version);
    }

    private FlowEntry? InsertLocked(FlowEntry entry)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        // In a versioned hold a new rule is seen from the hold's version on. One that takes the place of a rule of the
        // same match and priority is linked beside it, above it in the tuple space, and the rule it replaces is hidden
        // from the version (Open vSwitch's cls_match list of one match and priority): a lookup sees the old rule before
        // the commit and the new one from it, so the match never has neither, nor the new rule early. The commit
        // unlinks the old rule (UnlinkHidden); a revert removes the new one and shows the old one again.
        bool beside = false;
        FlowEntry? prior = null;
        if (_holdVersion != 0)
        {
            prior = FindLocked(entry.Match, entry.Priority);
            if (prior is not null) HideLocked(prior);
            // Also beside a rule this hold hid already (a delete's, or one replaced before): it stays until the commit.
            beside = prior is not null || HoldsLocked(entry.Match, entry.Priority);
            entry.ShowFrom(_holdVersion);
            _shown.Add((entry, entry.Serial));
        }
        // Not yet published: its action list may still be swapped for the shared equal one.
        entry.SetActions(_interner.Intern(entry.Actions));
        bool soft = entry.Actions.IsConjunctive;
        if (soft)
        {
            // Before it is visible: lookups combine clauses from now on.
            _softRules++;
            _conjunctive = true;
        }
        // Its class before it is visible: a lookup that finds it reads the class (see ShadowClass).
        var cls = ClassFor(entry.Match, entry.Priority);
        entry.Shadow = cls;
        cls.Rules++;
        FlowEntry? replaced;
        if (beside)
        {
            // In the tuple space (a rule of the hash stage, one per key, stays there until the commit unlinks it).
            replaced = _tuple.Insert(entry, beside: true);
            Debug.Assert(replaced is null);
        }
        else if (entry.Match.IsExact && !soft)
        {
            var existing = _records?.Find(entry.Match.Value);
            // A free hash slot does not mean a new rule: an identical rule may sit in the tuple space (it went there
            // while the slot held another priority); the new one replaces it there.
            if (existing is null ? _tuple.Find(entry.Match, entry.Priority) is null : existing.Priority == entry.Priority)
            {
                entry.InExactStage = true;
                RecordsInsert(entry, existing);
                if (entry.Priority != MaxPriority) _exactBelowMax++;
                if (existing is not null && existing.Priority != MaxPriority) _exactBelowMax--;
                replaced = existing;
            }
            else
            {
                replaced = _tuple.Insert(entry);
            }
        }
        else if (soft && entry.Match.IsExact && _records?.Find(entry.Match.Value) is { } held && held.Priority == entry.Priority)
        {
            // A clause replacing a rule of the hash stage: clauses live in the tuple space, where the lookup that
            // combines them follows each one's lower-priority rules of the same match.
            RecordsRemove(held);
            if (held.Priority != MaxPriority) _exactBelowMax--;
            held.InExactStage = false;
            _tuple.Insert(entry);
            replaced = held;
        }
        else
        {
            replaced = _tuple.Insert(entry);
        }
        if (replaced is not null)
        {
            if (replaced.Actions.IsConjunctive) _softRules--;
            // Same match and priority, so the new rule wins exactly where the old one did: no cache invalidation;
            // cache slots and verdicts holding the old rule fail its IsRemoved test.
            if (replaced.Shadow is { } old) old.Rules--;
            replaced.MarkRemoved();
            _removedInScope = true;
            if (TimerWheel.HasTimeout(replaced)) _wheel.NoteRemoved();
            Notify(ObserverEventKind.Removed, replaced, FlowRemovedReason.Delete);
            Retire(replaced);
        }
        else
        {
            _invalidateCaches = true;
            NoteAdd(entry.Priority, cls);
        }
        if (TimerWheel.HasTimeout(entry)) _wheel.Add(entry);
        Notify(ObserverEventKind.Added, entry, default);
        _changed = true;
        return replaced ?? prior;
    }

    /// <summary>Writer: whether some rule of exactly this match and priority is linked, hidden or not.</summary>
    private bool HoldsLocked(in FlowMatch match, ushort priority)
        => (match.IsExact && _records?.Find(match.Value) is { } e && e.Priority == priority) || _tuple.Find(match, priority) is not null;

    /// <summary>Writer: the rules this versioned hold hid that are still linked (a table's count includes them until the commit).</summary>
    private int HiddenLinkedLocked()
    {
        int n = 0;
        foreach (var (e, _, _) in _hidden)
            if (!e.IsRemoved) n++;
        return n;
    }

    /// <summary>Writer: drops from <paramref name="list"/> (from <paramref name="start"/>) the rules hidden at this hold's version.</summary>
    private void SkipHidden(List<FlowEntry> list, int start)
    {
        if (_holdVersion == 0 || _hidden.Count == 0) return;
        int w = start;
        for (int r = start; r < list.Count; r++)
            if (list[r].VisibleAt(_holdVersion)) list[w++] = list[r];
        list.RemoveRange(w, list.Count - w);
    }

    private bool RemoveLocked(FlowEntry entry)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        if (!RemoveFromStage(entry)) return false;
        entry.MarkRemoved();
        if (TimerWheel.HasTimeout(entry)) _wheel.NoteRemoved();
        Notify(ObserverEventKind.Removed, entry, FlowRemovedReason.Delete);
        Retire(entry);
        _changed = true;
        return true;
    }

    /// <summary>Writer: adds a rule entering the hash stage to the records (its record's store publishes it), in place of
    /// <paramref name="replacing"/> when it replaces one (the new record beside the old one, then the old one removed).</summary>
    private void RecordsInsert(FlowEntry entry, FlowEntry? replacing)
    {
        var records = _records;
        if (records is null) Volatile.Write(ref _records, records = new ExactRecordTable(_domain));
        entry.RecordTable = records;
        bool added = records.Insert(entry, entry.Actions, replacing);
        Debug.Assert(added);
    }

    /// <summary>Writer: takes a rule leaving the hash stage out of the records (its counts so far go to its entry).</summary>
    private void RecordsRemove(FlowEntry entry)
    {
        bool removed = _records!.Remove(entry);
        Debug.Assert(removed);
    }

    /// <summary>Writer: a removed entry enters the pool, tagged with the current epoch.</summary>
    private void Retire(FlowEntry e)
    {
        if (!_recycle || _observers.Length != 0 || _retired.Count + _free.Count >= MaxPooledEntries) return;
        e.RetiredEpoch = _domain.CurrentEpoch;
        _retired.Enqueue(e);
        _retiredInScope = true;
    }

    private FlowEntry NewEntryLocked(in FlowMatch match, ushort priority, FlowActions actions, ushort idleTimeout, ushort hardTimeout,
                                     long createdNanos, object? owner, ulong tag, ushort requestedPriority, bool isTableMiss)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        if (_recycle && (_free.Count != 0 || Reclaim()))
        {
            var e = _free.Pop();
            e.Reinitialize(match, priority, actions, idleTimeout, hardTimeout, createdNanos, owner, tag, requestedPriority, isTableMiss);
            _recycledCount++;
            return e;
        }
        return new FlowEntry(match, priority, actions, idleTimeout, hardTimeout, createdNanos, owner, tag, requestedPriority, isTableMiss);
    }

    /// <summary>Writer: moves the retired entries past their grace period to the free list; true when it has one.</summary>
    private bool Reclaim()
    {
        // The records first: a removed rule's last counts are in its entry before the entry is given a new incarnation.
        _records?.Reclaim();
        if (_retired.Count == 0) return false;
        // The domain is asked again only when the oldest retired entry is not known to be safe already.
        if (_retired.Peek().RetiredEpoch >= _safeEpoch) _safeEpoch = _domain.SafeEpoch();
        while (_retired.Count != 0 && _retired.Peek().RetiredEpoch < _safeEpoch) _free.Push(_retired.Dequeue());
        return _free.Count != 0;
    }

    private void RemoveManyLocked(List<FlowEntry> entries)
    {
        // Losers first: a concurrent lookup then sees either the pre- or the post-removal winner.
        if (entries.Count > 1) entries.Sort(_tuple.RemovalOrder);
        foreach (var e in entries)
        {
            bool ok = RemoveLocked(e);
            Debug.Assert(ok);
        }
    }

    private bool RemoveFromStage(FlowEntry e)
    {
        if (e.InExactStage)
        {
            if (_records is null || !_records.Remove(e)) return false;
            if (e.Priority != MaxPriority) _exactBelowMax--;
        }
        else if (!_tuple.Remove(e))
        {
            return false;
        }
        // Removing a rule takes no key from another (see ShadowClass): no class moves; verdicts that hit it see Removals move.
        // (But for the conjunctive class, which every change of a table with clauses moves.)
        if (e.Shadow is { } c) c.Rules--;
        if (e.Actions.IsConjunctive) _softRules--;
        _removedInScope = true;
        return true;
    }

    private void SetActionsLocked(FlowEntry entry, FlowActions actions)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        var interned = _interner.Intern(actions);
        bool wasSoft = entry.Actions.IsConjunctive, soft = interned.IsConjunctive;
        if (soft)
        {
            _conjunctive = true; // before the clause is visible
            if (!wasSoft) _softRules++;
        }
        else if (wasSoft)
        {
            _softRules--;
        }
        entry.SetActions(interned);
        if (entry.InExactStage) _records?.SetActions(entry, interned);
        NoteSwap(entry);
        Notify(ObserverEventKind.Modified, entry, default);
        _changed = true;
    }

    private void SetInstructionsLocked(FlowEntry entry, FlowInstructions? instructions)
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread);
        entry.SetInstructions(instructions);
        NoteSwap(entry);
        _changed = true;
    }

    /// <summary>Writer: the rule with exactly this match and priority; in a versioned hold, the one visible at its version.</summary>
    private FlowEntry? FindLocked(in FlowMatch match, ushort priority)
    {
        long v = _holdVersion;
        if (match.IsExact)
        {
            var e = _records?.Find(match.Value);
            if (e is not null && e.Priority == priority && (v == 0 || e.VisibleAt(v))) return e;
        }
        return _tuple.Find(match, priority, v);
    }

    private void CollectSubsetsLocked(in FlowMatch request, List<FlowEntry> into)
    {
        int start = into.Count;
        _records?.CollectSubsets(request, into);
        _tuple.CollectSubsets(request, into);
        SkipHidden(into, start);
    }

    private void CollectIdenticalLocked(in FlowMatch match, List<FlowEntry> into)
    {
        int start = into.Count;
        if (match.IsExact && _records?.Find(match.Value) is { } e) into.Add(e);
        _tuple.CollectIdentical(match, into);
        SkipHidden(into, start);
    }

    private bool HasOverlapLocked(in FlowMatch match, ushort priority)
    {
        if (_tuple.HasOverlap(match, priority)) return true;
        if (_records is not { Count: not 0 } records) return false;
        if (_exactBelowMax == 0)
            return priority == MaxPriority && records.HasOverlap(match);
        var scratch = new List<FlowEntry>();
        records.CopyTo(scratch);
        foreach (var e in scratch)
            if (e.Priority == priority && e.Match.Overlaps(match)) return true;
        return false;
    }

    /// <summary>
    /// Publishes what the writer did since the last publication. Returns whether it changed something the pipeline's
    /// change count stands for; with <paramref name="moveChanges"/> false the caller moves that count (once for
    /// several tables: <see cref="UnholdTogether(IReadOnlyList{FlowTable})"/>).
    /// </summary>
    private bool PublishLocked(bool moveChanges = true)
    {
        bool changed = false;
        PublishStructureLocked();
        // Whatever a table with clauses does may change what they combine to: its cached results go (the single-table
        // cache's by the cache version, verdicts by the conjunctive class, PublishClasses).
        if (_changed && _conjunctive) _invalidateCaches = true;
        if (_invalidateCaches)
        {
            Volatile.Write(ref _cacheVersion, Interlocked.Increment(ref s_cacheVersions));
            _invalidateCaches = false;
        }
        if (_changed)
        {
            // Classes first: a class version is never above the table version that follows it (see ShadowClass).
            PublishClasses(_version + 1);
            if (_removedInScope)
            {
                // After the removed entries were marked: a reader that sees the count move finds them removed.
                _published.PublishRemovals(++_removals);
                _removedInScope = false;
            }
            _published.PublishVersion(++_version);
            if (moveChanges) PipelineChanges?.Increment(); // last: a cached result validated at the old count looks again
            _changed = false;
            changed = true;
            // The last clause gone: plain lookups again (after the publication, which moved the conjunctive class).
            if (_softRules == 0 && _conjunctive) _conjunctive = false;
        }
        if (_retiredInScope)
        {
            // The entries retired in this scope are unlinked: their epoch ends (a full fence).
            _domain.Advance();
            _retiredInScope = false;
        }
        if (_events.Count > 0 && !_flushing) FlushEvents();
        return changed;
    }

    /// <summary>
    /// Publishes the tuple space's search order (a new subtable, a moved max priority) and the table's shape: what a
    /// lookup needs to find the rules linked so far. The first step of <see cref="PublishLocked"/>; a versioned commit
    /// takes it for every table before it publishes the version.
    /// </summary>
    private void PublishStructureLocked()
    {
        if (_tuple.Publish(out bool maxLowered))
        {
            // The search order is the tie rule among equal-priority wildcard rules, and a removal that lowers a
            // remaining subtable's max priority can move it behind another: a tie's cached winner may be stale then.
            // (Inserts invalidate anyway; a removal that empties a subtable leaves the others' order as it was.)
            if (maxLowered)
            {
                _invalidateCaches = true;
                _bumpAll = true;
            }
            bool within = true;
            foreach (var mask in _tuple.PublishedMasks()) within &= WithinInPort(mask);
            // A rule on registers is never answered per in_port: the walk looks it up with the registers.
            within &= !_tuple.PublishedUsesRegisters();
            _tupleInPortShaped = within;
        }
        bool shaped = _tupleInPortShaped && ExactCount == 0;
        if (shaped != _inPortShaped) _inPortShaped = shaped;
    }

    private void Notify(ObserverEventKind kind, FlowEntry e, FlowRemovedReason reason)
    {
        if (kind != ObserverEventKind.Modified && _tagWatches.Length != 0) CountTag(e.Tag, kind == ObserverEventKind.Added ? 1 : -1);
        if (_observers.Length != 0) _events.Add(new ObserverEvent(kind, e, reason));
    }

    /// <summary>Moves the count of <paramref name="tag"/>'s rules by <paramref name="delta"/> when it is watched (writer).</summary>
    private void CountTag(ulong tag, int delta)
    {
        foreach (var w in _tagWatches)
        {
            if (w.Tag != tag) continue;
            w.Add(delta);
            return;
        }
    }

    private void SetTagLocked(FlowEntry entry, ulong tag)
    {
        ulong old = entry.Tag;
        // Counted only while the rule is in the table: inserted (its class set) and not removed.
        if (old != tag && _tagWatches.Length != 0 && entry.Shadow is not null && !entry.IsRemoved)
        {
            CountTag(old, -1);
            CountTag(tag, 1);
        }
        entry.SetTag(tag);
    }

    private TagCount WatchTagLocked(ulong tag)
    {
        foreach (var w in _tagWatches)
            if (w.Tag == tag) return w;
        var scratch = new List<FlowEntry>();
        CollectSubsetsLocked(FlowMatch.All, scratch);
        int n = 0;
        foreach (var e in scratch)
            if (e.Tag == tag) n++;
        var watch = new TagCount(tag, n);
        _tagWatches = [.. _tagWatches, watch];
        // Cached results that read the count before it was kept (none was: TaggedCount said 0) are stale.
        _changed = true;
        return watch;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FlushEvents()
    {
        // Observers may query the table (the lock is reentrant; a nested scope must not flush the same events again).
        _flushing = true;
        try
        {
            FlushEventsCore();
        }
        finally
        {
            _flushing = false;
        }
    }

    private void FlushEventsCore()
    {
        var observers = _observers;
        foreach (var ev in _events)
        {
            foreach (var o in observers)
            {
                switch (ev.Kind)
                {
                    case ObserverEventKind.Added: o.OnAdded(ev.Entry); break;
                    case ObserverEventKind.Modified: o.OnModified(ev.Entry); break;
                    default: o.OnRemoved(ev.Entry, ev.Reason); break;
                }
            }
        }
        _events.Clear();
    }

    private enum ObserverEventKind : byte { Added, Modified, Removed }

    private readonly record struct ObserverEvent(ObserverEventKind Kind, FlowEntry Entry, FlowRemovedReason Reason);
}
