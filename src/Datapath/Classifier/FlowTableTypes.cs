using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>Limits and policy knobs of a <see cref="FlowTable"/>.</summary>
public sealed record FlowTableOptions
{
    /// <summary>Most exact flows (table 0); an ADD beyond it fails with <see cref="FlowModStatus.TableFull"/>.</summary>
    public int MaxExactFlows { get; init; } = 2_000_000;

    /// <summary>Most wildcard flows (table 1); an ADD beyond it fails with <see cref="FlowModStatus.TableFull"/>.</summary>
    public int MaxWildcardFlows { get; init; } = 200_000;

    /// <summary>Most emergency flows (exact and wildcard together).</summary>
    public int MaxEmergencyFlows { get; init; } = 200_000;

    /// <summary>
    /// Whether MODIFY / MODIFY_STRICT of existing flows also sets their cookie to the request's. The OF1.0.0 text
    /// only says the actions change ("its counters and idle time fields are left unchanged"); Open vSwitch's OF1.0
    /// behaviour (Documentation/topics/design.rst, "updates flow_cookie: yes") updates it. Default: the OVS behaviour.
    /// </summary>
    public bool ModifyUpdatesCookie { get; init; } = true;
}

/// <summary>
/// Told about every change to a <see cref="FlowTable"/> (hardware offload keeps its copy in step). Called under
/// the table's writer lock, after the change is visible to lookups, in the order the changes happened. An ADD that
/// replaces an identical rule reports <see cref="OnRemoved"/> (reason Delete) for the old entry, then
/// <see cref="OnAdded"/> for the new one. Must not call back into the table's writer methods.
/// </summary>
public interface IFlowTableObserver
{
    void OnAdded(FlowEntry e);
    void OnModified(FlowEntry e);
    void OnRemoved(FlowEntry e, FlowRemovedReason reason);
}

/// <summary>One OpenFlow table's statistics (ofp_table_stats).</summary>
public readonly record struct FlowTableStats(byte TableId, string Name, Wildcards Wildcards, int MaxEntries,
                                             int ActiveCount, long LookupCount, long MatchedCount);

/// <summary>
/// Lookup counters owned by one forwarding thread (no sharing, no atomics); <see cref="FlowTable"/> sums every
/// registered instance when stats are read.
/// </summary>
/// <remarks>
/// OF1.0 table stats semantics: every packet is looked up in table 0 (exact); a packet not matched there is
/// looked up in table 1 (wildcard). EMC hits are counted as the tables would have counted them.
/// Create with <see cref="FlowTable.CreateThreadStats"/>; hand back with <see cref="FlowTable.ReleaseThreadStats"/>.
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
