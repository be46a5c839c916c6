using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// What the OpenFlow layer keeps about a flow beyond what the datapath classifies with. The cookie is the rule's
/// <see cref="FlowEntry.Tag"/>; its flags and the table it is reported in are this descriptor, the rule's
/// <see cref="FlowEntry.Owner"/>, one shared instance per combination (no allocation per flow).
/// </summary>
/// <remarks>Thread safety: immutable; the instances are created once.</remarks>
public sealed class OfFlowRule
{
    private const int FlagCombinations = 8;
    private static readonly OfFlowRule[] s_rules = Build();

    private OfFlowRule(FlowModFlags flags, byte tableId)
    {
        Flags = flags;
        TableId = tableId;
    }

    public FlowModFlags Flags { get; }
    /// <summary>The table the flow is reported in: 0 for exact flows, 1 for wildcard flows.</summary>
    public byte TableId { get; }
    public bool IsEmergency => (Flags & FlowModFlags.Emergency) != 0;
    public bool SendFlowRemoved => (Flags & FlowModFlags.SendFlowRemoved) != 0;

    private static OfFlowRule[] Build()
    {
        var rules = new OfFlowRule[2 * FlagCombinations];
        for (int t = 0; t < 2; t++)
        {
            for (int f = 0; f < FlagCombinations; f++)
                rules[t * FlagCombinations + f] = new OfFlowRule((FlowModFlags)f, (byte)t);
        }

        return rules;
    }

    /// <summary>The shared descriptor of flows with these flags in this table.</summary>
    public static OfFlowRule For(FlowModFlags flags, byte tableId)
        => s_rules[(tableId == OfFlowTables.ExactTableId ? 0 : FlagCombinations) + ((int)flags & (FlagCombinations - 1))];

    /// <summary>
    /// A datapath rule for a flow of an OpenFlow table set whose match is taken as given: an exact match's priority is
    /// normalised to <see cref="OfFlowTables.ExactPriority"/> (the requested one is kept for reporting); the rule
    /// carries its cookie, flags and reported table.
    /// </summary>
    public static FlowEntry NewEntry(in FlowMatch match, ushort priority, FlowActions actions, ulong cookie, ushort idleTimeout,
                                     ushort hardTimeout, FlowModFlags flags, long createdNanos)
    {
        bool exact = match.IsExact;
        return new FlowEntry(match, OfFlowTables.RankOf(exact, priority), actions, idleTimeout, hardTimeout, createdNanos,
                             For(flags, exact ? OfFlowTables.ExactTableId : OfFlowTables.WildcardTableId), cookie, priority);
    }

    /// <summary>
    /// A datapath rule from the table's write scope <paramref name="w"/> (a recycled entry when the table recycles; see
    /// <see cref="FlowTable.RecycleEntries"/>); insert it within that scope. <paramref name="exact"/> is decided on the
    /// match as received (<see cref="OfMatchRules.IsExact"/>), <paramref name="match"/> is the one the flow keeps.
    /// </summary>
    internal static FlowEntry NewEntry(FlowTable.WriteScope w, in FlowMatch match, bool exact, ushort priority, FlowActions actions,
                                       ulong cookie, ushort idleTimeout, ushort hardTimeout, FlowModFlags flags, long createdNanos)
    {
        var rule = For(flags, exact ? OfFlowTables.ExactTableId : OfFlowTables.WildcardTableId);
        return w.NewEntry(match, OfFlowTables.RankOf(exact, priority), actions, idleTimeout, hardTimeout, createdNanos, rule, cookie, priority);
    }

    /// <summary>The OpenFlow descriptor of a datapath rule, or null for a rule this layer did not install.</summary>
    public static OfFlowRule? Of(FlowEntry e) => e.Owner as OfFlowRule;

    /// <summary>The rule's cookie.</summary>
    public static ulong CookieOf(FlowEntry e) => e.Tag;
}
