using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// What the OpenFlow layer keeps about a flow beyond what the datapath classifies with. The cookie is the rule's
/// <see cref="FlowEntry.Tag"/>; its flags, its OpenFlow table (<see cref="OfFlowTables.Tables"/>) and its importance
/// (OpenFlow 1.4) are this descriptor, the rule's <see cref="FlowEntry.Owner"/>, one shared instance per combination
/// (no allocation per flow: the combinations of importance 0 sit in arrays, the others in a dictionary that grows by
/// one instance per combination a controller uses).
/// </summary>
/// <remarks>Thread safety: immutable; the instances are created once.</remarks>
public sealed class OfFlowRule
{
    // Every flag a flow keeps (RESET_COUNTS too: it acts on the flow-mod, and the flow keeps and reports it, as Open
    // vSwitch's OFPUTIL_FF_STATE): six bits.
    private const int FlagCombinations = 64;
    private static readonly OfFlowRule[] s_rules = Build();
    private static readonly OfFlowRule?[] s_tableRules = new OfFlowRule?[256 * FlagCombinations];
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, OfFlowRule> s_important = new();

    private OfFlowRule(FlowModFlags flags, byte tableId, ushort importance = 0)
    {
        Flags = flags;
        TableId = tableId;
        Importance = importance;
    }

    /// <summary>
    /// The flow's importance (OpenFlow 1.4's flow-mod field; 0 for earlier versions): a table that evicts takes flows of
    /// lower importance first (<see cref="OfFlowTables"/>).
    /// </summary>
    public ushort Importance { get; }

    public FlowModFlags Flags { get; }
    /// <summary>The OpenFlow table the flow is in (<see cref="OfFlowTables.MainTableId"/>: OpenFlow 1.0 has one).</summary>
    public byte TableId { get; }
    public bool IsEmergency => (Flags & FlowModFlags.Emergency) != 0;
    public bool SendFlowRemoved => (Flags & FlowModFlags.SendFlowRemoved) != 0;

    private static OfFlowRule[] Build()
    {
        var rules = new OfFlowRule[FlagCombinations];
        for (int f = 0; f < FlagCombinations; f++) rules[f] = new OfFlowRule((FlowModFlags)f, OfFlowTables.MainTableId);
        return rules;
    }

    /// <summary>The shared descriptor of flows with these flags (in the one table).</summary>
    public static OfFlowRule For(FlowModFlags flags) => s_rules[Kept(flags)];

    private static int Kept(FlowModFlags flags) => (int)flags & (FlagCombinations - 1);

    /// <summary>The shared descriptor of flows with these flags in table <paramref name="tableId"/> (created once per combination).</summary>
    public static OfFlowRule For(FlowModFlags flags, byte tableId)
    {
        if (tableId == OfFlowTables.MainTableId) return For(flags);
        int i = tableId * FlagCombinations + Kept(flags);
        var r = Volatile.Read(ref s_tableRules[i]);
        if (r is not null) return r;
        Interlocked.CompareExchange(ref s_tableRules[i], new OfFlowRule((FlowModFlags)Kept(flags), tableId), null);
        return s_tableRules[i]!;
    }

    /// <summary>The shared descriptor of flows with these flags and importance in table <paramref name="tableId"/>.</summary>
    public static OfFlowRule For(FlowModFlags flags, byte tableId, ushort importance)
    {
        if (importance == 0) return For(flags, tableId);
        int key = (importance << 14) | (tableId << 6) | Kept(flags);
        return s_important.GetOrAdd(key, static (_, a) => new OfFlowRule((FlowModFlags)Kept(a.flags), a.tableId, a.importance), (flags, tableId, importance));
    }

    /// <summary>
    /// A datapath rule for a flow of an OpenFlow table set whose match is taken as given: an exact match's priority is
    /// normalised to <see cref="OfFlowTables.ExactPriority"/> (the requested one is kept for reporting); the rule
    /// carries its cookie, flags and table.
    /// </summary>
    public static FlowEntry NewEntry(in FlowMatch match, ushort priority, FlowActions actions, ulong cookie, ushort idleTimeout,
                                     ushort hardTimeout, FlowModFlags flags, long createdNanos)
    {
        bool exact = match.IsExact;
        return new FlowEntry(match, OfFlowTables.RankOf(exact, priority), actions, idleTimeout, hardTimeout, createdNanos,
                             For(flags), cookie, priority, IsTableMiss(match, priority));
    }

    /// <summary>
    /// A datapath rule from the table's write scope <paramref name="w"/> (a recycled entry when the table recycles; see
    /// <see cref="FlowTable.RecycleEntries"/>); insert it within that scope. <paramref name="exact"/> is decided on the
    /// match as received (<see cref="OfMatchRules.IsExact"/>), <paramref name="match"/> is the one the flow keeps.
    /// </summary>
    internal static FlowEntry NewEntry(FlowTable.WriteScope w, in FlowMatch match, bool exact, ushort priority, FlowActions actions,
                                       ulong cookie, ushort idleTimeout, ushort hardTimeout, FlowModFlags flags, long createdNanos,
                                       byte tableId = OfFlowTables.MainTableId, ushort importance = 0)
    {
        return w.NewEntry(match, OfFlowTables.RankOf(exact, priority), actions, idleTimeout, hardTimeout, createdNanos, For(flags, tableId, importance), cookie, priority,
                          IsTableMiss(match, priority));
    }

    /// <summary>
    /// OpenFlow 1.3's table-miss flow entry (section 5.4): priority 0 with every field wildcarded. Its rule is marked so
    /// (<see cref="FlowEntry.IsTableMiss"/>): in a table whose misses a rule decides, the packets it takes count as the
    /// table's misses, not its matches.
    /// </summary>
    public static bool IsTableMiss(in FlowMatch match, ushort priority) => priority == 0 && match.Mask == default(FlowKey);

    /// <summary>The OpenFlow descriptor of a datapath rule, or null for a rule this layer did not install.</summary>
    public static OfFlowRule? Of(FlowEntry e) => e.Owner as OfFlowRule;

    /// <summary>The rule's cookie.</summary>
    public static ulong CookieOf(FlowEntry e) => e.Tag;
}
