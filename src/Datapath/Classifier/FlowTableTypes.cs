using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// Told about every change to a <see cref="FlowTable"/> (hardware offload keeps its copy in step). Called under
/// the table's writer lock, after the change is visible to lookups, in the order the changes happened. An insert that
/// replaces a rule with identical match and priority reports <see cref="OnRemoved"/> (reason Delete) for the old
/// rule, then <see cref="OnAdded"/> for the new one; an action swap reports <see cref="OnModified"/>. Each event
/// carries the rule itself: its match, priority and (current) actions. Must not call back into the table's writer
/// methods.
/// </summary>
public interface IFlowTableObserver
{
    void OnAdded(FlowEntry e);
    void OnModified(FlowEntry e);
    void OnRemoved(FlowEntry e, FlowRemovedReason reason);
}

/// <summary>
/// Lookup counters owned by one forwarding thread (no sharing, no atomics); <see cref="Pipeline"/> sums every
/// registered instance when they are read.
/// </summary>
/// <remarks>
/// Every looked-up packet counts one hash-stage lookup; a packet the hash stage did not match counts one wildcard
/// lookup. Cache hits are counted as the stages would have counted them. Create with
/// <see cref="Pipeline.CreateThreadStats"/>; hand back with <see cref="Pipeline.ReleaseThreadStats"/>.
/// </remarks>
public sealed class FlowTableThreadStats
{
    internal long ExactLookups;
    internal long ExactMatched;
    internal long WildcardLookups;
    internal long WildcardMatched;

    internal FlowTableThreadStats() { }

    public long ExactLookupCount => Volatile.Read(ref ExactLookups);
    public long ExactMatchedCount => Volatile.Read(ref ExactMatched);
    public long WildcardLookupCount => Volatile.Read(ref WildcardLookups);
    public long WildcardMatchedCount => Volatile.Read(ref WildcardMatched);
}

/// <summary>Lookup counters summed over every forwarding thread (see <see cref="FlowTableThreadStats"/>).</summary>
public readonly record struct LookupTotals(long ExactLookups, long ExactMatched, long WildcardLookups, long WildcardMatched);

/// <summary>
/// What a <see cref="FlowTable"/>'s rules look at, so a forwarder can take a lookup specialised to it (switched by
/// the table whenever a change alters it).
/// </summary>
public enum LookupShape : byte
{
    /// <summary>Any masks: per-packet lookups (cache, hash stage, tuple space).</summary>
    General,
    /// <summary>No rule looks at anything but the in_port: one lookup answers a whole burst from one port.</summary>
    InPortOnly,
}

/// <summary>Which stage of a <see cref="FlowTable"/> found a rule.</summary>
public enum LookupStage : byte
{
    /// <summary>No rule matched.</summary>
    None,
    /// <summary>The hash stage (all-ones masks, one probe).</summary>
    Hash,
    /// <summary>A tuple-space subtable.</summary>
    TupleSpace,
}

/// <summary>
/// The result of <see cref="FlowTable.Trace(in FlowKey, in Registers)"/>: the winning rule (or null), the stage that found it, the mask of its
/// subtable (all ones for the hash stage), how many tuple-space subtables were probed and, when a conjunctive match
/// won, the clauses that formed it (Open vSwitch's trace shows them as "conj." lines).
/// </summary>
public readonly record struct LookupTrace(FlowEntry? Entry, LookupStage Stage, FlowKey Mask, int SubtablesProbed,
                                          IReadOnlyList<FlowEntry>? Conjunctions = null);
