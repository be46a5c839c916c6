using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The generic classifier <see cref="FlowTable"/> is tested against: its rules in a list scanned linearly, ranked by
/// nothing but what FlowTable documents (ovs tests/test-classifier.c "tcls"). Priority first, whatever the mask (an
/// all-ones rule may sit at any priority); at equal priority, the rule the hash stage holds beats a tuple-space rule;
/// between tuple-space rules, the subtable that comes first in the search order wins (its rules' highest priority
/// descending, mask bits descending, mask words ascending). No protocol policy: an OpenFlow table set ranks exact
/// flows first by giving them the top priority, which is its own business (Ofproto.Tests' reference).
/// </summary>
/// <remarks>
/// The hash stage holds one all-ones rule per key; which one is the documented placement: an all-ones rule goes to
/// the hash stage when no rule holds its key there (or it replaces the one there), else to the tuple space. Inserting
/// a rule replaces the rule with the same match and priority wherever it sits, in its place. The model keeps the very entries given
/// to the table, so results compare by reference.
/// </remarks>
internal sealed class ClassifierModel
{
    private readonly List<FlowEntry> _rules = new();
    private readonly Dictionary<FlowKey, FlowEntry> _hash = new();

    public IReadOnlyList<FlowEntry> Rules => _rules;
    public int Count => _rules.Count;

    /// <summary>Rules the hash stage holds.</summary>
    public int HashCount => _hash.Count;

    /// <summary>Inserts <paramref name="e"/>; returns the rule with the same match and priority it replaced, or null.</summary>
    public FlowEntry? Insert(FlowEntry e)
    {
        var replaced = _rules.Find(r => r.Match == e.Match && r.Priority == e.Priority);
        bool replacedInTuple = replaced is not null && !InHashStage(replaced);
        if (replaced is not null) Remove(replaced);
        _rules.Add(e);
        if (e.Match.IsExact && !replacedInTuple) _hash.TryAdd(e.Match.Value, e);
        return replaced;
    }

    public bool Remove(FlowEntry e)
    {
        if (!_rules.Remove(e)) return false;
        if (InHashStage(e)) _hash.Remove(e.Match.Value);
        return true;
    }

    public bool InHashStage(FlowEntry e) => e.Match.IsExact && _hash.TryGetValue(e.Match.Value, out var h) && ReferenceEquals(h, e);

    /// <summary>The winner for <paramref name="key"/>, or null.</summary>
    public FlowEntry? Lookup(in FlowKey key)
    {
        FlowEntry? best = null;
        foreach (var r in _rules)
            if (key.MatchesMaskedScalar(r.Match.Mask, r.Match.Value) && (best is null || Beats(r, best))) best = r;
        return best;
    }

    /// <summary>The stage FlowTable finds <paramref name="winner"/> in (see <see cref="FlowTable.Trace(in FlowKey)"/>).</summary>
    public LookupStage StageOf(FlowEntry? winner)
        => winner is null ? LookupStage.None : InHashStage(winner) ? LookupStage.Hash : LookupStage.TupleSpace;

    private bool Beats(FlowEntry a, FlowEntry b)
    {
        if (a.Priority != b.Priority) return a.Priority > b.Priority;
        bool ah = InHashStage(a), bh = InHashStage(b);
        if (ah != bh) return ah;
        return CompareSubtables(a.Match.Mask, b.Match.Mask) < 0;
    }

    /// <summary>The tuple space's search order of two masks' subtables (negative: <paramref name="a"/> first).</summary>
    private int CompareSubtables(in FlowKey a, in FlowKey b)
    {
        int maxA = SubtableMax(a), maxB = SubtableMax(b);
        if (maxA != maxB) return maxB.CompareTo(maxA);
        int pa = PopCount(a), pb = PopCount(b);
        if (pa != pb) return pb.CompareTo(pa);
        var wa = a.AllWords;
        var wb = b.AllWords;
        for (int i = 0; i < wa.Length; i++)
            if (wa[i] != wb[i]) return wa[i].CompareTo(wb[i]);
        return 0;
    }

    private int SubtableMax(in FlowKey mask)
    {
        int max = -1;
        foreach (var r in _rules)
            if (r.Match.Mask.Equals(mask) && !InHashStage(r)) max = Math.Max(max, r.Priority);
        return max;
    }

    private static int PopCount(in FlowKey k)
    {
        int n = 0;
        foreach (ulong w in k.AllWords) n += System.Numerics.BitOperations.PopCount(w);
        return n;
    }
}
