namespace Softswitch.Ofproto;

/// <summary>
/// A table's configuration from outside OpenFlow: Open vSwitch's ofproto_table_settings, which its bridge fills from a
/// Flow_Table row of the database (vswitchd/bridge.c bridge_configure_tables). Immutable; <see cref="Default"/> is a
/// table without a row. Applied by <see cref="OfSwitch.ConfigureTable"/>.
/// </summary>
public sealed record OfTableSettings
{
    /// <summary>A table without a Flow_Table row: its default name, the switch's own limit, no eviction of its own.</summary>
    public static readonly OfTableSettings Default = new();

    /// <summary>The longest name a table is shown with (OFP_MAX_TABLE_NAME_LEN less its terminating zero).</summary>
    public const int MaxNameLength = 31;

    /// <summary>The table's name in table statistics and table features; null or empty: its default.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// Most flows the table holds (flow_limit), at most the switch's own limit (<see cref="FlowTableOptions.MaxFlows"/>,
    /// which also applies); null: that limit alone.
    /// </summary>
    public int? FlowLimit { get; init; }

    /// <summary>
    /// overflow_policy=evict: an add to the full table evicts a flow instead of failing. Eviction is on while this or an
    /// OpenFlow 1.4 TABLE_MOD asks for it (Open vSwitch's EVICTION_CLIENT and EVICTION_OPENFLOW).
    /// </summary>
    public bool Evict { get; init; }

    /// <summary>
    /// The eviction groups' fields (groups): the flows with equal values of them are one group, and a flow is evicted
    /// from the largest. Empty: the whole table is one group.
    /// </summary>
    public IReadOnlyList<OfSubfield> EvictionGroups { get; init; } = [];

    /// <summary>
    /// The classifier prefix fields (prefixes, by Open vSwitch's field names; empty with <see cref="PrefixesSet"/>:
    /// none), recorded only: the classifier keeps no prefix tries.
    /// </summary>
    public IReadOnlyList<string> Prefixes { get; init; } = [];

    /// <summary>Whether <see cref="Prefixes"/> replaces Open vSwitch's default (ip_dst, ip_src).</summary>
    public bool PrefixesSet { get; init; }

    /// <summary>Equal when every setting is (lists compared item by item).</summary>
    public bool Equals(OfTableSettings? other) => other is not null && Name == other.Name && FlowLimit == other.FlowLimit && Evict == other.Evict
        && EvictionGroups.SequenceEqual(other.EvictionGroups) && Prefixes.SequenceEqual(other.Prefixes) && PrefixesSet == other.PrefixesSet;

    public override int GetHashCode() => HashCode.Combine(Name, FlowLimit, Evict, EvictionGroups.Count, Prefixes.Count, PrefixesSet);
}
