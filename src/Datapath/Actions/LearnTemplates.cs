using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// What the datapath needs of a learn action (Open vSwitch's learn): the fields its specs read from the packet and
/// the registers when it runs, in order, and the table its flows go into. The layer above keeps the rest (the
/// flow-mod it makes of those values) in its implementation, which must be immutable and equal by value.
/// </summary>
public interface ILearnTemplate
{
    /// <summary>The fields read when the action runs, in the order their values travel in a learn request.</summary>
    ReadOnlySpan<FieldRef> Sources { get; }
    /// <summary>The table the learned flows go into.</summary>
    byte Table { get; }

    /// <summary>
    /// Open vSwitch's LEARN2 limit: at most this many rules carrying <see cref="Tag"/> in <see cref="Table"/> (0: no
    /// limit). A learn whose flow is not there already (<see cref="Matches"/>) learns nothing while the count is there.
    /// </summary>
    uint Limit => 0;
    /// <summary>The <see cref="FlowEntry.Tag"/> the learned flows carry (the limit counts the table's rules with it).</summary>
    ulong Tag => 0;
    /// <summary>The priority the learned flows are requested with (<see cref="FlowEntry.RequestedPriority"/>).</summary>
    ushort Priority => 0x8000;
    /// <summary>Where the learn writes whether it learned (1: learned or refreshed) or found the limit reached (0); null: nowhere.</summary>
    FieldRef? ResultDst => null;
    /// <summary>The learned flow's match: each range it matches and the value it takes (a <see cref="Sources"/> index, or a constant).</summary>
    ReadOnlySpan<LearnMatchSpec> Matches => default;
}

/// <summary>
/// One range a learned flow matches: <see cref="Dst"/>'s bits equal to the value of source <see cref="Source"/>
/// when it is 0 or more (the template's <see cref="ILearnTemplate.Sources"/>), else to <see cref="Value"/>.
/// </summary>
public readonly record struct LearnMatchSpec(FieldRef Dst, int Source, UInt128 Value);

/// <summary>
/// Every learn action the switch has been given, each once (equal templates share an id): a flat
/// <see cref="FlowAction"/> names its learn by id (<see cref="FlowAction.Learn"/>), the pipeline walk reads the
/// template's <see cref="ILearnTemplate.Sources"/>, and the layer above turns a learn request (the id and the values)
/// back into its flow-mod. Ids are never reused: the registry keeps at most <see cref="MaxTemplates"/> distinct learn
/// actions for the life of the process (a learn action beyond is refused by the layer above).
/// </summary>
/// <remarks>Thread safety: <see cref="Register"/> under a lock; <see cref="Get"/> lock-free (an array published whole).</remarks>
public static class LearnTemplates
{
    /// <summary>Most distinct learn actions the process keeps.</summary>
    public const int MaxTemplates = 1 << 16;
    /// <summary>Most fields one learn action reads (its request carries their values, 16 bytes each).</summary>
    public const int MaxSources = 16;

    private static readonly Lock s_lock = new();
    private static readonly Dictionary<ILearnTemplate, int> s_ids = new();
    private static volatile ILearnTemplate[] s_all = [];

    /// <summary>The id of <paramref name="template"/> (the one an equal template got, else a new one); -1 when the registry is full or it reads too many fields.</summary>
    public static int Register(ILearnTemplate template)
    {
        if (template.Sources.Length > MaxSources) return -1;
        lock (s_lock)
        {
            if (s_ids.TryGetValue(template, out int id)) return id;
            var all = s_all;
            if (all.Length >= MaxTemplates) return -1;
            id = all.Length;
            s_all = [.. all, template];
            s_ids.Add(template, id);
            return id;
        }
    }

    /// <summary>The template of <paramref name="id"/>, or null for an id never given.</summary>
    public static ILearnTemplate? Get(int id)
    {
        var all = s_all;
        return (uint)id < (uint)all.Length ? all[id] : null;
    }
}

/// <summary>
/// A composed list's memory of one learn request (<see cref="ActionKind.LearnRequest"/>): when its forwarder last
/// posted it and the learned table's removal count then, so that a burst of packets posts it once, a learned flow
/// that went (the table's removals moved) is asked for again at the next packet, and one that stays is refreshed
/// every <see cref="RefreshNanos"/>. Written by the forwarding threads that run the list (benign races: at worst one
/// request more).
/// </summary>
public sealed class LearnState
{
    /// <summary>How often a learn whose flow stays is posted again (its idle timer reset), as Open vSwitch's revalidators push a learn's stats.</summary>
    public const long RefreshNanos = 1_000_000_000;

    internal long PostedAt = long.MinValue / 2;
    internal long RemovalsSeen = -1;
}
