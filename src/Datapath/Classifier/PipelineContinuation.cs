using System.Runtime.InteropServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The head of a continuation: the table a run goes on in after a re-parse point, the metadata and registers it had,
/// and the list state later outputs depend on (the run's last set_tunnel and set_queue, <c>default</c> for none). With
/// the action set so far it is what a continuation is, and what <see cref="ContinuationInterner"/> finds one by.
/// </summary>
public readonly record struct ContinuationHead(int Table, ulong Metadata, FlowAction Tunnel, FlowAction Queue, Registers Registers = default)
{
    /// <summary>The head of a run stopped before <paramref name="table"/> with <paramref name="registers"/>, whose list so far is <paramref name="composed"/>.</summary>
    internal static ContinuationHead Of(int table, ulong metadata, in Registers registers, ReadOnlySpan<FlowAction> composed)
    {
        FlowAction tunnel = default, queue = default;
        foreach (ref readonly var a in composed)
        {
            if (a.Kind == ActionKind.SetTunnel) tunnel = a;
            else if (a.Kind == ActionKind.SetQueue) queue = a;
        }
        return new ContinuationHead(table, metadata, tunnel, queue, registers);
    }

    internal bool HasTunnel => Tunnel.Kind == ActionKind.SetTunnel;
    internal bool HasQueue => Queue.Kind == ActionKind.SetQueue;
}

/// <summary>
/// Where a pipeline run goes on after a re-parse point (a recirculation, as Open vSwitch's recirc_id): the table, the
/// metadata, the registers, the action set so far and the list state later outputs depend on (the last set_tunnel and
/// set_queue); the rest of the run starts with these registers (Open vSwitch's frozen state carries them too).
/// A verdict that ends in <see cref="PipelineEnd.Recirculate"/> holds one (<see cref="PipelineVerdict.Next"/>); the
/// forwarder parses the rewritten packet anew, gives the key this metadata (and this tunnel id, when the run set
/// one), and looks the rest of the pipeline up under that key and this continuation.
/// </summary>
/// <remarks>
/// Immutable: a <see cref="ContinuationHead"/> and the action set. Equal continuations are one object per thread while
/// its <see cref="ContinuationInterner"/> holds them, so verdicts of one chain share it; <see cref="Id"/> is unique
/// among continuations (never 0) and mixed into the key's hash (<see cref="HashMix"/>): a cached verdict of the rest
/// of a pipeline is found only under its own continuation, never under the same key's lookup from table 0.
/// </remarks>
public sealed class PipelineContinuation
{
    private static int s_ids;

    /// <summary>Where the run goes on, and the list state it carries (<see cref="ContinuationHead"/>).</summary>
    public readonly ContinuationHead Head;
    /// <summary>The table the run goes on in.</summary>
    public int Table => Head.Table;
    /// <summary>The metadata the run had (the re-parsed key's).</summary>
    public ulong Metadata => Head.Metadata;
    /// <summary>Whether the run's actions set a tunnel id (<see cref="TunId"/>: the re-parsed key's and later outputs').</summary>
    public bool SetsTunnel => Head.HasTunnel;
    public ulong TunId => Head.Tunnel.Value;
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

    internal PipelineContinuation(in ContinuationHead head, FlowAction[] actionSet)
    {
        Head = head;
        Preamble = (head.HasTunnel, head.HasQueue) switch
        {
            (true, true) => [head.Tunnel, head.Queue],
            (true, false) => [head.Tunnel],
            (false, true) => [head.Queue],
            _ => [],
        };
        ActionSet = actionSet;
        uint id;
        do id = (uint)Interlocked.Increment(ref s_ids); while (id == 0);
        Id = id;
        HashMix = id * 0x9E3779B1u; // odd multiplier: distinct ids give distinct, non-zero mixes
    }

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
/// run's head and action set without allocating. Past <see cref="MaxHeld"/> it starts afresh (continuations already
/// handed out stay valid: each is its own description; only sharing is lost). Not thread-safe.
/// </summary>
public sealed class ContinuationInterner
{
    /// <summary>Continuations held before the interner starts afresh.</summary>
    public const int MaxHeld = 4096;

    private readonly Dictionary<PipelineContinuation, PipelineContinuation> _held = new(Comparer.Instance);

    /// <summary>Distinct continuations held now.</summary>
    public int Count => _held.Count;

    /// <summary>The continuation of <paramref name="head"/> with the action set <paramref name="actionSet"/>.</summary>
    public PipelineContinuation Intern(in ContinuationHead head, List<FlowAction> actionSet)
    {
        var probe = new Probe(head, CollectionsMarshal.AsSpan(actionSet));
        var lookup = _held.GetAlternateLookup<Probe>();
        if (lookup.TryGetValue(probe, out var c)) return c;
        if (_held.Count >= MaxHeld) _held.Clear();
        c = new PipelineContinuation(head, probe.ActionSet.ToArray());
        _held.Add(c, c);
        return c;
    }

    /// <summary>A run's description, looked up without building a continuation.</summary>
    private readonly ref struct Probe(in ContinuationHead head, ReadOnlySpan<FlowAction> actionSet)
    {
        public readonly ContinuationHead Head = head;
        public readonly ReadOnlySpan<FlowAction> ActionSet = actionSet;
    }

    private sealed class Comparer : IEqualityComparer<PipelineContinuation>, IAlternateEqualityComparer<Probe, PipelineContinuation>
    {
        public static readonly Comparer Instance = new();

        public bool Equals(PipelineContinuation? x, PipelineContinuation? y)
            => ReferenceEquals(x, y) || (x is not null && y is not null && x.Head == y.Head && x.ActionSet.AsSpan().SequenceEqual(y.ActionSet));
        public int GetHashCode(PipelineContinuation c) => HashOf(c.Head, c.ActionSet);
        public bool Equals(Probe p, PipelineContinuation c) => p.Head == c.Head && p.ActionSet.SequenceEqual(c.ActionSet);
        public int GetHashCode(Probe p) => HashOf(p.Head, p.ActionSet);
        public PipelineContinuation Create(Probe p) => new(p.Head, p.ActionSet.ToArray());

        private static int HashOf(in ContinuationHead head, ReadOnlySpan<FlowAction> set)
        {
            var h = new HashCode();
            h.Add(head);
            foreach (var a in set) h.Add(a);
            return h.ToHashCode();
        }
    }
}
