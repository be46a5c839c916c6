using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;

namespace Softswitch.Datapath.Flow;

/// <summary>Why a rule left its table.</summary>
public enum FlowRemovedReason : byte
{
    /// <summary>Not hit for its idle timeout.</summary>
    IdleTimeout,
    /// <summary>Its hard timeout passed.</summary>
    HardTimeout,
    /// <summary>Removed or replaced by the table's writer.</summary>
    Delete,
    /// <summary>Removed because the group it applies was deleted.</summary>
    GroupDelete,
    /// <summary>Removed because the meter it names was deleted.</summary>
    MeterDelete,
    /// <summary>Removed by the layer above to make room for a new rule in its full table.</summary>
    Eviction,
}

/// <summary>A rule that left its table, with its final counters.</summary>
public readonly record struct FlowRemoved(FlowEntry Entry, FlowRemovedReason Reason, long DurationNanos, long Packets, long Bytes);

/// <summary>
/// One installed flow.
/// </summary>
/// <remarks>
/// Design: identity (match, priority) and timeouts are immutable once published. <see cref="Actions"/> is
/// swapped whole by MODIFY (readers load it once per flow-batch). Counters are updated by forwarding
/// threads once per flow-batch with plain adds to words only that thread writes (the rule's own words while one thread
/// counts it, else each thread's own slot, a cache line apart; see <see cref="Forwarded"/>), by anything else
/// atomically in a side object; <see cref="LastUsedNanos"/> by a plain volatile write, into the rule's word or the
/// thread's slot as the counts, when it moves by <see cref="LastUsedStepNanos"/> or more. Readers sum the counts and
/// take the latest time.
/// <see cref="IsRemoved"/> becomes true when the writer unlinks the entry, so caches holding it treat it as
/// a miss. Timestamps are nanoseconds of the table's <see cref="IClock"/>. The datapath knows a rule as
/// (mask, value, priority, actions, timeouts); whatever a policy layer above keeps about it (a protocol's cookie,
/// flags, the table it reports) hangs off <see cref="Owner"/> and <see cref="Tag"/>, which the datapath never reads.
/// <para><b>Reuse</b>: a table that recycles its entries (<see cref="Classifier.FlowTable.RecycleEntries"/>) gives a
/// removed entry a new incarnation once every registered reader has passed a quiescent point since the removal
/// (see <see cref="Classifier.QuiescentDomain"/>). The writer re-initialises it in one place (<see cref="Reinitialize"/>):
/// a new <see cref="Serial"/> first, then every field, then <see cref="IsRemoved"/> cleared last (a release store),
/// so a holder of a stale reference (an exact-match cache slot) that reads <see cref="IsRemoved"/> false and then the
/// serial it stored knows it has the incarnation it cached. Between incarnations, the identity fields are as immutable
/// as ever.</para>
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
public sealed class FlowEntry
{
    // Layout (offsets from the first field, 8 bytes into the object): what a packet reads or writes comes first and
    // together: the actions, the counters and last-used time, the serial and flags, then the match with its base words
    // first (FlowMatch's own layout), 96 bytes in all, so a lookup and its flow-batch touch two cache lines (three when
    // the object starts in a line's second half) instead of four. The runtime's automatic layout puts every struct field
    // after all others, which left the key 104 bytes into the object, past the counters and the writer's fields.
    [FieldOffset(0)] private FlowActions _actions;
    // Counts of the forwarding thread that owns the rule (see Forwarded); counts from anywhere else, and each thread's
    // slot once several count the rule, in _elsewhere.
    [FieldOffset(8)] private long _packets;
    [FieldOffset(16)] private long _bytes;
    [FieldOffset(24)] private long _lastUsedNanos;
    [FieldOffset(32)] private volatile int _serial = Interlocked.Increment(ref s_serial);
    /// <summary>Whether the table holds it in its hash stage (all-ones masks); set by the writer before publication.</summary>
    [FieldOffset(36)] internal bool InExactStage;
    [FieldOffset(37)] private volatile bool _removed;
    /// <summary>
    /// No rule can ever take a packet from this one while it is in its table's hash stage (<see cref="InExactStage"/>):
    /// its mask is all ones (one key) and its priority the highest, and the hash stage wins ties, so a cache may keep it
    /// across table versions until it is removed. An all-ones rule kept in the tuple space (its match already in the
    /// hash stage at another priority) ties with other masks by subtable order and may be shadowed: caches check both.
    /// </summary>
    [FieldOffset(38)] public readonly bool IsUnshadowable;
    /// <summary>
    /// With several forwarding threads, the one whose counts go into <see cref="_packets"/> and <see cref="_bytes"/>
    /// with plain adds (its <see cref="Forwarded"/> id; 0 until the first thread counts the rule and claims it), or
    /// <see cref="Contended"/> once a second thread counted it: from then on every thread counts in its own slot.
    /// </summary>
    [FieldOffset(39)] private byte _countingOwner;
    [FieldOffset(40)] public readonly FlowMatch Match;

    /// <summary>Higher wins; see <see cref="Classifier.FlowTable"/> for ties.</summary>
    [FieldOffset(104)] public readonly ushort Priority;
    /// <summary>The priority the layer above reports for this rule (the one it was requested with); it may rank rules
    /// differently (an OpenFlow 1.0 table set ranks all-ones rules above every other), so this may differ from
    /// <see cref="Priority"/>, the rank the rule is looked up with.</summary>
    [FieldOffset(106)] public readonly ushort RequestedPriority;
    /// <summary>Seconds without a hit before the rule expires (0: never).</summary>
    [FieldOffset(108)] public readonly ushort IdleTimeout;
    /// <summary>Seconds after <see cref="ModifiedNanos"/> (its creation or last refresh) when the rule expires (0: never).</summary>
    [FieldOffset(110)] public readonly ushort HardTimeout;
    [FieldOffset(112)] public readonly long CreatedNanos;
    /// <summary>The policy layer's description of this rule (opaque to the datapath; may be shared by many rules), or null.</summary>
    [FieldOffset(120)] public readonly object? Owner;
    [FieldOffset(128)] private FlowInstructions? _instructions;
    [FieldOffset(136)] private ulong _tag;
    [FieldOffset(144)] private ElsewhereCounts? _elsewhere;
    /// <summary>
    /// The tuple space's link to the next lower-priority rule of the same match (written by the table's writer; followed
    /// by lookups that look past a hidden rule or a conjunctive clause, and kept after the rule is unlinked).
    /// </summary>
    [FieldOffset(152)] internal FlowEntry? NextLowerPriority;
    /// <summary>Writer-private: the reclamation epoch in which the owning table retired this entry.</summary>
    [FieldOffset(160)] internal long RetiredEpoch;
    /// <summary>
    /// The class of rules (this rule's mask and priority in its table) whose version cached pipeline results check
    /// (see <see cref="Classifier.ShadowClass"/>); set by the table before the rule becomes visible to lookups.
    /// </summary>
    [FieldOffset(168)] internal Classifier.ShadowClass? Shadow;
    /// <summary>
    /// The layer above says this rule stands for its table's misses (OpenFlow 1.3's table-miss flow entry): a table
    /// whose misses a rule decides counts the packets this rule takes as lookups without a match (see
    /// <c>PipelineVerdict.CountsAsMatch</c>). The datapath classifies with it like any rule.
    /// </summary>
    [FieldOffset(176)] public readonly bool IsTableMiss;
    // At which tables versions lookups see the rule (docs/datapath.md, "Atomic batches"): always, from _visibleVersion
    // on (an atomic batch's add, until its commit has settled), until it (a rule the batch hides), or never (added and
    // hidden by one batch). The version is the low 32 bits of a Classifier.TablesVersion, compared with wrap-around
    // (versions a reader can hold are never 2^31 commits apart); written before the kind, which readers read first.
    // In the bytes the fields above leave before the object's end, so a rule takes no more room.
    [FieldOffset(177)] private volatile byte _visibility;
    [FieldOffset(180)] private uint _visibleVersion;
    // When the hard timeout counts from: the creation, or the last refresh (Open vSwitch's rule->modified).
    [FieldOffset(184)] private long _modifiedNanos;
    // The record table that holds the rule in its hash stage (set by the table's writer before the record is published):
    // the single-table forwarding path counts a hit in the record, so the totals below add its live record's counts.
    [FieldOffset(192)] private Classifier.ExactRecordTable? _records;

    /// <summary><see cref="_visibility"/>: seen at every version.</summary>
    internal const byte VisibleAlways = 0;
    /// <summary><see cref="_visibility"/>: seen from the version on.</summary>
    internal const byte VisibleFrom = 1;
    /// <summary><see cref="_visibility"/>: seen before the version only.</summary>
    internal const byte VisibleUntil = 2;
    /// <summary><see cref="_visibility"/>: seen at no version.</summary>
    internal const byte VisibleNever = 3;

    private static int s_serial;

    /// <summary>
    /// A number unique among live entries and incarnations (wraps after 2^32 creations); forwarders group packets by
    /// it, caches tell a recycled entry's incarnations apart by it.
    /// </summary>
    public int Serial => _serial;

    public FlowEntry(in FlowMatch match, ushort priority, FlowActions actions, ushort idleTimeout, ushort hardTimeout,
                     long createdNanos, object? owner = null, ulong tag = 0, ushort? requestedPriority = null, bool isTableMiss = false)
    {
        _tag = tag;
        IsTableMiss = isTableMiss;
        Match = match;
        Priority = priority;
        RequestedPriority = requestedPriority ?? priority;
        _actions = actions;
        IdleTimeout = idleTimeout;
        HardTimeout = hardTimeout;
        CreatedNanos = createdNanos;
        _modifiedNanos = createdNanos;
        _lastUsedNanos = createdNanos;
        Owner = owner;
        IsUnshadowable = match.IsExact && priority == ushort.MaxValue;
    }

    public FlowActions Actions => Volatile.Read(ref _actions);
    /// <summary>
    /// What the rule does besides <see cref="Actions"/> (its apply-actions) in a pipeline of several tables: the action
    /// set, metadata, goto-table (see <see cref="FlowInstructions"/>); null for a rule that only applies actions and ends
    /// the pipeline (every OpenFlow 1.0 rule). Swapped whole by its table's writer, as the actions are.
    /// </summary>
    public FlowInstructions? Instructions => Volatile.Read(ref _instructions);
    /// <summary>A 64-bit word the policy layer keeps with the rule (opaque to the datapath; its writer may replace it).</summary>
    public ulong Tag => Volatile.Read(ref _tag);
    public long Packets => OwnPackets + (Volatile.Read(ref _records) is { } t && t.ReadCounts(this, out long p, out _, out _) ? p : 0);
    public long Bytes => OwnBytes + (Volatile.Read(ref _records) is { } t && t.ReadCounts(this, out _, out long b, out _) ? b : 0);
    private long OwnPackets => Volatile.Read(ref _packets) + (Volatile.Read(ref _elsewhere) is { } e ? Volatile.Read(ref e.Packets) + e.SumThreads(0) : 0);
    private long OwnBytes => Volatile.Read(ref _bytes) + (Volatile.Read(ref _elsewhere) is { } e ? Volatile.Read(ref e.Bytes) + e.SumThreads(1) : 0);

    /// <summary>The record table holding the rule in its hash stage (its live record's counts are part of the totals), or null.</summary>
    internal Classifier.ExactRecordTable? RecordTable
    {
        get => Volatile.Read(ref _records);
        set => Volatile.Write(ref _records, value);
    }
    /// <summary>When a forwarding thread last counted the rule (to <see cref="LastUsedStepNanos"/>), or its creation or
    /// last <see cref="Touch"/>: the latest of the rule's own word and the per-thread slots of a rule several count.</summary>
    public long LastUsedNanos
    {
        get
        {
            long t = Volatile.Read(ref _lastUsedNanos);
            if (Volatile.Read(ref _elsewhere) is { } e) t = Math.Max(t, e.LatestThread(ElsewhereCounts.LastUsedWord));
            if (Volatile.Read(ref _records) is { } r && r.ReadCounts(this, out _, out _, out uint ms) && ms != 0)
            {
                // The record keeps the clock's milliseconds in 32 bits: taken as the first such time at or after the
                // rule's creation (exact for 49 days after it).
                long created = CreatedNanos / 1_000_000;
                t = Math.Max(t, (created + (uint)(ms - (uint)created)) * 1_000_000);
            }
            return t;
        }
    }
    public bool IsRemoved => _removed;

    /// <summary>Whether a lookup at tables version <paramref name="version"/> sees this rule (see the visibility fields).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool VisibleAt(long version)
    {
        byte kind = _visibility;
        if (kind == VisibleAlways) return true;
        int d = (int)((uint)version - Volatile.Read(ref _visibleVersion));
        return kind == VisibleFrom ? d >= 0 : kind == VisibleUntil && d < 0;
    }

    /// <summary>The visibility as it is (kind, version): what <see cref="SetVisibility"/> restores.</summary>
    internal (byte Kind, uint Version) Visibility => (_visibility, Volatile.Read(ref _visibleVersion));

    /// <summary>Writer: sets the visibility (the version first, then the kind, which readers read first).</summary>
    internal void SetVisibility(byte kind, uint version)
    {
        Volatile.Write(ref _visibleVersion, version);
        _visibility = kind;
    }

    /// <summary>Writer: seen from <paramref name="version"/> on (before the rule is linked).</summary>
    internal void ShowFrom(long version) => SetVisibility(VisibleFrom, (uint)version);

    /// <summary>Writer: hidden from <paramref name="version"/> on; a rule seen only from that version on is never seen.</summary>
    internal void HideFrom(long version)
    {
        if (_visibility == VisibleFrom && Volatile.Read(ref _visibleVersion) == (uint)version) _visibility = VisibleNever;
        else SetVisibility(VisibleUntil, (uint)version);
    }

    /// <summary>Whether the rule is hidden from some version on (or never seen).</summary>
    internal bool IsHidden => _visibility is VisibleUntil or VisibleNever;

    /// <summary>Writer: a rule seen from a version every reader has reached is seen always (no reader compares versions a wrap apart).</summary>
    internal void Settle()
    {
        if (_visibility == VisibleFrom) _visibility = VisibleAlways;
    }


    /// <summary>
    /// Prefetches the lines a hash-stage lookup and the forwarder's flow-batch read: the actions, counters, serial,
    /// flags and the match's base words, the first 88 bytes of its fields (96 of the object; two lines, three when the
    /// object starts in a line's second half).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PrefetchLookupLines()
    {
        Prefetch.Line(ref Unsafe.As<FlowActions, byte>(ref _actions));
        Prefetch.Line(ref Unsafe.AsRef(in Match.ValueBase.W0));
        Prefetch.Line(ref Unsafe.AsRef(in Match.ValueBase.W5));
    }

    /// <summary>
    /// <see cref="PrefetchLookupLines"/> for the hash stage, whose rules never set the match's sixth base word (the
    /// exact mask clears it, so the stage neither compares nor prefetches it): the lines from the actions to the fifth
    /// base word, the first 80 bytes of its fields (88 of the object).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PrefetchExactLookupLines()
    {
        Prefetch.Line(ref Unsafe.As<FlowActions, byte>(ref _actions));
        Prefetch.Line(ref Unsafe.AsRef(in Match.ValueBase.W0));
        Prefetch.Line(ref Unsafe.AsRef(in Match.ValueBase.W4));
    }

    /// <summary>Prefetches the line of the serial and flags (what a cache validates an entry by).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PrefetchStateLine() => Prefetch.Line(ref InExactStage);

    /// <summary>
    /// Hot path: a forwarding thread accounts one flow-batch. The rule's two counter words have one writer, so they
    /// take plain adds (no lock prefix; readers see each aligned 64-bit word whole): the datapath's only forwarding
    /// thread (<paramref name="owner"/> <see cref="SoleWriter"/>), or, with several, the first thread that counts the
    /// rule, which claims it (<paramref name="owner"/> is that thread's id, 1-254): a rule whose packets all come
    /// through one thread (a port's traffic is one thread's) is counted in its own line. When a second thread counts the
    /// rule (a catch-all, a wildcard rule or NORMAL that every port's packets hit), the rule becomes
    /// <see cref="Contended"/> and every thread, the first too, counts it in a slot of its own in the side object
    /// (<paramref name="threads"/> slots, 128 bytes apart, made on first use): no thread then writes a line another
    /// writes, nor the line of the actions and match they all read. Readers sum the words. An <paramref name="owner"/>
    /// of 0 (a thread past the 254th), or one past <paramref name="threads"/>, adds atomically to the side object.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Forwarded(int packets, long bytes, long nowNanos, byte owner, int threads = 0)
    {
        if (owner == SoleWriter || OwnsCounts(owner))
        {
            _packets += packets;
            _bytes += bytes;
            // Stored only when it moves by a millisecond or more: timeouts count in seconds and statistics show
            // milliseconds.
            if (nowNanos - Volatile.Read(ref _lastUsedNanos) >= LastUsedStepNanos) Volatile.Write(ref _lastUsedNanos, nowNanos);
        }
        else
        {
            CountInSlot(packets, bytes, nowNanos, owner, threads);
        }
    }

    /// <summary>
    /// A rule several forwarding threads count, each in its own slot (see <see cref="Forwarded"/>): its packets, its
    /// bytes and its last-used time, so no thread stores into the line of the actions and match the others read (a
    /// last-used store there, once a millisecond on each of a thousand wildcard rules that two threads share, takes
    /// the line from the other core a million times a second). <see cref="LastUsedNanos"/> reads the latest.
    /// </summary>
    private void CountInSlot(int packets, long bytes, long nowNanos, byte owner, int threads)
    {
        var e = Elsewhere();
        var slots = Volatile.Read(ref e.PerThread) ?? e.MakeSlots(threads);
        int i = ThreadSlotIndex(owner);
        if (owner != 0 && (uint)(i + ElsewhereCounts.LastUsedWord) < (uint)slots.Length)
        {
            // This thread's slot: it alone writes it.
            Volatile.Write(ref slots[i], slots[i] + packets);
            Volatile.Write(ref slots[i + 1], slots[i + 1] + bytes);
            ref long used = ref slots[i + ElsewhereCounts.LastUsedWord];
            if (nowNanos - used >= LastUsedStepNanos) Volatile.Write(ref used, nowNanos);
        }
        else
        {
            Interlocked.Add(ref e.Packets, packets);
            Interlocked.Add(ref e.Bytes, bytes);
            if (nowNanos - Volatile.Read(ref _lastUsedNanos) >= LastUsedStepNanos) Volatile.Write(ref _lastUsedNanos, nowNanos);
        }
        // Once: the first owner leaves the rule's own words too (they stay as counted, written no more).
        if (Volatile.Read(ref _countingOwner) != Contended) Volatile.Write(ref _countingOwner, Contended);
    }

    /// <summary>Where thread id <paramref name="owner"/>'s slot begins in a rule's per-thread counts: a stride per
    /// thread after a first stride that holds none (it shares its line with the array's length, read at every count).</summary>
    internal static int ThreadSlotIndex(byte owner) => owner * ElsewhereCounts.Stride;

    /// <summary>The length of a rule's per-thread counts for <paramref name="threads"/> forwarding threads.</summary>
    internal static int ThreadSlotsLength(int threads) => (Math.Max(1, threads) + 1) * ElsewhereCounts.Stride;

    /// <summary>Longs from one thread's slot to the next (128 bytes).</summary>
    internal const int ThreadSlotStride = ElsewhereCounts.Stride;

    /// <summary><see cref="_countingOwner"/> of a rule every thread counts in its own slot (no thread's id).</summary>
    internal const byte Contended = byte.MaxValue;

    /// <summary>How far the forwarding threads let <see cref="LastUsedNanos"/> lag behind a rule's last packet.</summary>
    public const long LastUsedStepNanos = 1_000_000;

    /// <summary>The forwarding thread that owns the counter words (0: none yet; diagnostics and tests).</summary>
    internal byte CountingOwner => Volatile.Read(ref _countingOwner);

    /// <summary><see cref="Forwarded"/>'s owner id for the datapath's only forwarding thread.</summary>
    internal const byte SoleWriter = byte.MaxValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool OwnsCounts(byte owner)
    {
        byte o = Volatile.Read(ref _countingOwner);
        return owner != 0 && (o == owner || (o == 0 && Interlocked.CompareExchange(ref _countingOwner, owner, 0) == 0));
    }

    /// <summary>Accounts packets that did not come through a forwarding thread (a packet-out, the control path).</summary>
    public void Hit(int packets, long bytes, long nowNanos)
    {
        AddCounts(packets, bytes);
        Touch(nowNanos);
    }

    /// <summary>Adds counts kept elsewhere (e.g. hardware offload counters).</summary>
    public void AddCounts(long packets, long bytes)
    {
        if (packets == 0 && bytes == 0) return;
        var e = Elsewhere();
        Interlocked.Add(ref e.Packets, packets);
        Interlocked.Add(ref e.Bytes, bytes);
    }

    private ElsewhereCounts Elsewhere()
    {
        var e = Volatile.Read(ref _elsewhere);
        if (e is not null) return e;
        Interlocked.CompareExchange(ref _elsewhere, new ElsewhereCounts(), null);
        return _elsewhere!;
    }

    /// <summary>Counts that did not come from a forwarding thread, and the offsets of a reset, and the forwarding
    /// threads' slots of a rule several count; made on first use (a flow that only ever forwards through one thread
    /// never has one).</summary>
    private sealed class ElsewhereCounts
    {
        public long Packets, Bytes;
        /// <summary>Thread id t's packets at [t * <see cref="Stride"/>], its bytes next, then its last-used time;
        /// null until a second thread counts. The first stride holds no slot: it shares its line with the array's
        /// length, which every thread reads, so a slot there would take that line from the other cores at each
        /// count.</summary>
        public long[]? PerThread;

        /// <summary>Longs from one thread's slot to the next: 128 bytes, so two slots' words (16 bytes) never share a
        /// line, whatever the array's alignment (and the adjacent-line prefetcher pulls no other thread's).</summary>
        public const int Stride = 16;

        public long[] MakeSlots(int threads)
        {
            Interlocked.CompareExchange(ref PerThread, new long[ThreadSlotsLength(threads)], null);
            return PerThread!;
        }

        /// <summary>The word of a thread's slot holding when it last counted the rule (its packets are word 0, bytes 1).</summary>
        public const int LastUsedWord = 2;

        public long LatestThread(int word)
        {
            var slots = Volatile.Read(ref PerThread);
            if (slots is null) return 0;
            long n = 0;
            for (int i = word; i < slots.Length; i += Stride) n = Math.Max(n, Volatile.Read(ref slots[i]));
            return n;
        }

        public long SumThreads(int word)
        {
            var slots = Volatile.Read(ref PerThread);
            if (slots is null) return 0;
            long n = 0;
            for (int i = word; i < slots.Length; i += Stride) n += Volatile.Read(ref slots[i]);
            return n;
        }
    }

    /// <summary>Marks the flow used without counting a packet (e.g. a hardware counter moved).</summary>
    /// <summary>
    /// When the hard timeout counts from (Open vSwitch's rule->modified): <see cref="CreatedNanos"/>, or the last
    /// <see cref="Classifier.FlowTable.WriteScope.Refresh"/> (a learn's re-learn) or
    /// <see cref="Classifier.FlowTable.WriteScope.RestartHardTimeout"/> (a controller's modify). <see cref="CreatedNanos"/>,
    /// which flow statistics' duration counts from, never moves.
    /// </summary>
    public long ModifiedNanos => Volatile.Read(ref _modifiedNanos);

    /// <summary>Restarts both timers from <paramref name="nowNanos"/> (the writer's, under the table's writer lock).</summary>
    internal void Refresh(long nowNanos)
    {
        RestartHardTimeout(nowNanos);
        Touch(nowNanos);
    }

    /// <summary>Restarts the hard timer alone from <paramref name="nowNanos"/> (the writer's, before the entry is published
    /// or under the table's writer lock): the idle timer and the creation time stay.</summary>
    internal void RestartHardTimeout(long nowNanos)
    {
        if (Volatile.Read(ref _modifiedNanos) < nowNanos) Volatile.Write(ref _modifiedNanos, nowNanos);
    }

    public void Touch(long nowNanos) { if (Volatile.Read(ref _lastUsedNanos) < nowNanos) Volatile.Write(ref _lastUsedNanos, nowNanos); }

    internal void SetActions(FlowActions actions) => Volatile.Write(ref _actions, actions);
    /// <summary>Sets the timeouts (its table's writer, which files the rule on its timer wheel again: a fin_timeout's reduction).</summary>
    internal void SetTimeouts(ushort idle, ushort hard)
    {
        System.Runtime.CompilerServices.Unsafe.AsRef(in IdleTimeout) = idle;
        System.Runtime.CompilerServices.Unsafe.AsRef(in HardTimeout) = hard;
    }
    internal void SetInstructions(FlowInstructions? instructions) => Volatile.Write(ref _instructions, instructions);
    internal void SetTag(ulong tag) => Volatile.Write(ref _tag, tag);
    /// <summary>Zeroes the packet and byte counts (a modification with OpenFlow 1.3's RESET_COUNTS).</summary>
    /// <remarks>The forwarding threads' words are theirs alone to write, so the reset subtracts what the counts are now
    /// through the side object; packets counted while it runs are kept.</remarks>
    public void ResetCounters()
    {
        long packets = Packets, bytes = Bytes;
        if (packets == 0 && bytes == 0) return;
        var e = Elsewhere();
        Interlocked.Add(ref e.Packets, -packets);
        Interlocked.Add(ref e.Bytes, -bytes);
    }
    internal void MarkRemoved() => _removed = true;

    /// <summary>
    /// Writer of a recycling table only: gives a removed entry, past its grace period, a new incarnation (see the
    /// remarks for the order of the stores). The identity fields are written through references because they are
    /// read-only to everyone else.
    /// </summary>
    internal void Reinitialize(in FlowMatch match, ushort priority, FlowActions actions, ushort idleTimeout, ushort hardTimeout,
                               long createdNanos, object? owner, ulong tag, ushort requestedPriority, bool isTableMiss)
    {
        System.Diagnostics.Debug.Assert(_removed, "only a removed entry is given a new incarnation");
        _serial = Interlocked.Increment(ref s_serial);
        System.Runtime.CompilerServices.Unsafe.AsRef(in Match) = match;
        System.Runtime.CompilerServices.Unsafe.AsRef(in Priority) = priority;
        System.Runtime.CompilerServices.Unsafe.AsRef(in RequestedPriority) = requestedPriority;
        System.Runtime.CompilerServices.Unsafe.AsRef(in IsTableMiss) = isTableMiss;
        System.Runtime.CompilerServices.Unsafe.AsRef(in IdleTimeout) = idleTimeout;
        System.Runtime.CompilerServices.Unsafe.AsRef(in HardTimeout) = hardTimeout;
        System.Runtime.CompilerServices.Unsafe.AsRef(in CreatedNanos) = createdNanos;
        System.Runtime.CompilerServices.Unsafe.AsRef(in Owner) = owner;
        System.Runtime.CompilerServices.Unsafe.AsRef(in IsUnshadowable) = match.IsExact && priority == ushort.MaxValue;
        InExactStage = false;
        NextLowerPriority = null;
        SetVisibility(VisibleAlways, 0);
        Shadow = null;
        Volatile.Write(ref _actions, actions);
        Volatile.Write(ref _instructions, null);
        Volatile.Write(ref _tag, tag);
        Volatile.Write(ref _packets, 0);
        Volatile.Write(ref _bytes, 0);
        Volatile.Write(ref _elsewhere, null);
        Volatile.Write(ref _records, null);
        Volatile.Write(ref _countingOwner, 0);
        Volatile.Write(ref _lastUsedNanos, createdNanos);
        Volatile.Write(ref _modifiedNanos, createdNanos);
        _removed = false;
    }

    public override string ToString()
        => Instructions is { } i ? $"priority={Priority},{Match},actions={Actions},{i}" : $"priority={Priority},{Match},actions={Actions}";
}

/// <summary>A monotonic clock in nanoseconds; tests substitute a controllable one.</summary>
public interface IClock
{
    long NowNanos { get; }
}

public sealed class MonotonicClock : IClock
{
    public static readonly MonotonicClock Instance = new();
    private static readonly double s_nanosPerTick = 1e9 / System.Diagnostics.Stopwatch.Frequency;
    public long NowNanos => (long)(System.Diagnostics.Stopwatch.GetTimestamp() * s_nanosPerTick);
}

/// <summary>A clock that moves only when told (tests).</summary>
public sealed class ManualClock : IClock
{
    private long _now;
    public ManualClock(long startNanos = 1_000_000_000) => _now = startNanos;
    public long NowNanos => Volatile.Read(ref _now);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _now, (long)(by.TotalMilliseconds * 1_000_000));
    public void AdvanceNanos(long nanos) => Interlocked.Add(ref _now, nanos);
}
