using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// A thread's scratch for the lookups of tables with conjunctive matches (<see cref="TupleSpace.LookupConjunctive"/>):
/// the soft matches found, and for each conjunction id seen at one priority the clauses found so far (Open vSwitch's
/// <c>struct conjunctive_match</c>, a bit per clause). Grown by doubling when a lookup needs more (a table with more
/// subtables of clauses than ever before), so the steady state allocates nothing.
/// </summary>
internal sealed class ConjunctionScratch
{
    [ThreadStatic] private static ConjunctionScratch? s_scratch;

    public FlowEntry?[] Soft = new FlowEntry?[32];
    private uint[] _ids = new uint[16];
    private ulong[] _clauses = new ulong[16];
    /// <summary>Conjunction ids tracked at the priority being combined.</summary>
    public int Matches;

    /// <summary>The calling thread's scratch (made at its first conjunctive lookup).</summary>
    public static ConjunctionScratch ForThread => s_scratch ??= new ConjunctionScratch();

    public void AddSoft(ref int n, FlowEntry e)
    {
        if (n == Soft.Length) Array.Resize(ref Soft, n * 2);
        Soft[n++] = e;
    }

    /// <summary>Drops the references the first <paramref name="n"/> slots hold (a removed rule is not kept alive by a lookup).</summary>
    public void Clear(int n) => Array.Clear(Soft, 0, n);

    /// <summary>
    /// Open vSwitch's find_conjunctive_match: records the clauses of <paramref name="actions"/> (a soft match's) among
    /// <paramref name="maxClauses"/> soft matches of one priority; true with the <paramref name="id"/> of a conjunction
    /// all of whose clauses are now recorded. A conjunction of more clauses than there are soft matches cannot complete
    /// and is skipped.
    /// </summary>
    public bool Complete(FlowActions actions, int maxClauses, out uint id)
    {
        id = 0;
        if (maxClauses < actions.MinConjClauses) return false;
        foreach (ref readonly var a in actions.Items.AsSpan())
        {
            int n = a.ConjClauses;
            if (a.Kind != ActionKind.Conjunction || n > maxClauses) continue;
            int k = 0;
            while (k < Matches && _ids[k] != a.ConjId) k++;
            if (k == Matches)
            {
                if (k == _ids.Length)
                {
                    Array.Resize(ref _ids, k * 2);
                    Array.Resize(ref _clauses, k * 2);
                }
                _ids[k] = a.ConjId;
                _clauses[k] = n >= 64 ? 0 : ulong.MaxValue << n; // the bits past n start set
                Matches++;
            }
            _clauses[k] |= 1UL << a.ConjClause;
            if (_clauses[k] == ulong.MaxValue)
            {
                id = a.ConjId;
                return true;
            }
        }
        return false;
    }
}
