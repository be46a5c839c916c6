using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// Where a pipeline run goes on after a re-parse point (a recirculation, as Open vSwitch's recirc_id): the table, the
/// metadata, the action set so far and the list state later outputs depend on (the last set_tunnel and set_queue).
/// A verdict that ends in <see cref="PipelineEnd.Recirculate"/> holds one (<see cref="PipelineVerdict.Next"/>); the
/// forwarder parses the rewritten packet anew, gives the key this metadata (and this tunnel id, when the run set
/// one), and looks the rest of the pipeline up under that key and this continuation.
/// </summary>
/// <remarks>
/// Immutable. Equal continuations are one object per thread while its <see cref="ContinuationInterner"/> holds them,
/// so verdicts of one chain share it; <see cref="Id"/> is unique among continuations (never 0) and mixed into the
/// key's hash (<see cref="HashMix"/>): a cached verdict of the rest of a pipeline is found only under its own
/// continuation, never under the same key's lookup from table 0.
/// </remarks>
public sealed class PipelineContinuation
{
    private static int s_ids;

    /// <summary>The table the run goes on in.</summary>
    public readonly int Table;
    /// <summary>The metadata the run had (the re-parsed key's).</summary>
    public readonly ulong Metadata;
    /// <summary>Whether the run's actions set a tunnel id (<see cref="TunId"/>: the re-parsed key's and later outputs').</summary>
    public readonly bool SetsTunnel;
    public readonly ulong TunId;
    /// <summary>
    /// What the rest's composed list starts with: the last set_tunnel and set_queue of the actions so far (the executor
    /// starts every list without them).
    /// </summary>
    public readonly FlowAction[] Preamble;
    /// <summary>The action set so far, in the set's order (every kind it holds, an output beside a group too).</summary>
    public readonly FlowAction[] ActionSet;
    /// <summary>Unique among continuations, never 0.</summary>
    public readonly uint Id;
    /// <summary>XORed into the re-parsed key's hash for the exact-match cache (never 0).</summary>
    public readonly uint HashMix;

    /// <summary>The fields as one list (<see cref="ContinuationInterner"/> compares it).</summary>
    internal readonly FlowAction[] Items;

    private PipelineContinuation(FlowAction[] items)
    {
        Items = items;
        Table = (int)items[0].QueueId;
        Metadata = items[0].Value;
        int preamble = items[0].Port;
        Preamble = items[1..(1 + preamble)];
        ActionSet = items[(1 + preamble)..];
        foreach (var a in Preamble)
        {
            if (a.Kind != ActionKind.SetTunnel) continue;
            SetsTunnel = true;
            TunId = a.Value;
        }
        uint id;
        do id = (uint)Interlocked.Increment(ref s_ids); while (id == 0);
        Id = id;
        HashMix = id * 0x9E3779B1u; // odd multiplier: distinct ids give distinct, non-zero mixes
    }

    /// <summary>
    /// Writes the list a continuation is interned by: table and metadata, the preamble (from <paramref name="composed"/>,
    /// the run's list so far), then the action set.
    /// </summary>
    internal static void Describe(List<FlowAction> into, int table, ulong metadata, ReadOnlySpan<FlowAction> composed, ActionSet set)
    {
        into.Clear();
        FlowAction? tunnel = null, queue = null;
        foreach (ref readonly var a in composed)
        {
            if (a.Kind == ActionKind.SetTunnel) tunnel = a;
            else if (a.Kind == ActionKind.SetQueue) queue = a;
        }
        int preamble = (tunnel is null ? 0 : 1) + (queue is null ? 0 : 1);
        into.Add(new FlowAction(ActionKind.Recirculate, (ushort)preamble, 0, (uint)table, metadata));
        if (tunnel is { } t) into.Add(t);
        if (queue is { } q) into.Add(q);
        set.CopyTo(into);
    }

    internal static PipelineContinuation Create(ReadOnlySpan<FlowAction> items) => new(items.ToArray());

    /// <summary><paramref name="parsed"/> (the rewritten packet's key) with this continuation's metadata and tunnel id.</summary>
    public FlowKey Apply(in FlowKey parsed)
    {
        var b = new FlowKeyBuilder(parsed);
        if (Metadata != 0) b.Metadata(Metadata);
        if (SetsTunnel) b.TunId(TunId);
        return b.Key;
    }
}

/// <summary>
/// One object per distinct <see cref="PipelineContinuation"/> (a forwarding thread's, through its walk): found from a
/// run's description without allocating. Past <see cref="MaxHeld"/> it starts afresh (continuations already handed out
/// stay valid: each is its own description; only sharing is lost). Not thread-safe.
/// </summary>
public sealed class ContinuationInterner
{
    /// <summary>Continuations held before the interner starts afresh.</summary>
    public const int MaxHeld = 4096;

    private readonly Dictionary<FlowAction[], PipelineContinuation> _held = new(Comparer.Instance);

    /// <summary>Distinct continuations held now.</summary>
    public int Count => _held.Count;

    /// <summary>The continuation described by <paramref name="items"/> (see <see cref="PipelineContinuation.Describe"/>).</summary>
    public PipelineContinuation Intern(List<FlowAction> items)
    {
        var span = CollectionsMarshal.AsSpan(items);
        var lookup = _held.GetAlternateLookup<ReadOnlySpan<FlowAction>>();
        if (lookup.TryGetValue(span, out var c)) return c;
        if (_held.Count >= MaxHeld) _held.Clear();
        c = PipelineContinuation.Create(span);
        _held.Add(c.Items, c);
        return c;
    }

    private sealed class Comparer : IEqualityComparer<FlowAction[]>, IAlternateEqualityComparer<ReadOnlySpan<FlowAction>, FlowAction[]>
    {
        public static readonly Comparer Instance = new();

        public bool Equals(FlowAction[]? x, FlowAction[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(FlowAction[] items) => HashOf(items);
        public bool Equals(ReadOnlySpan<FlowAction> items, FlowAction[] k) => items.SequenceEqual(k);
        public int GetHashCode(ReadOnlySpan<FlowAction> items) => HashOf(items);
        public FlowAction[] Create(ReadOnlySpan<FlowAction> items) => items.ToArray();

        private static int HashOf(ReadOnlySpan<FlowAction> items)
        {
            var h = new HashCode();
            foreach (var a in items) h.Add(a);
            return h.ToHashCode();
        }
    }
}
