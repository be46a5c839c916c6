using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

// The writer's shadow classes (see ShadowClass): a rule's class, what a write scope's changes note, and the classes
// bumped when the scope publishes.
public sealed partial class FlowTable
{
    /// <summary>Writer: the shadow class of rules of this mask and priority (created on first use; the miss class past the cap).</summary>
    private ShadowClass ClassFor(in FlowMatch match, ushort priority)
    {
        var key = (match.MaskBits, priority);
        if (_classes.TryGetValue(key, out var c)) return c;
        if (_classes.Count >= MaxShadowClasses)
        {
            // Classes with no rule left can go: a verdict that still holds one hit a rule that is removed.
            foreach (var (k, v) in _classes)
                if (v.Rules == 0 && !v.AddedInScope && !v.BumpInScope) _classes.Remove(k);
            if (_classes.Count >= MaxShadowClasses) return _missClass;
        }
        // Born at the version this scope publishes: a reader that finds a rule of it before then records it as stale.
        c = new ShadowClass(match.Mask, priority, _version + 1);
        _classes.Add(key, c);
        return c;
    }

    /// <summary>Writer: a new rule (not a replacement) of <paramref name="cls"/> at <paramref name="priority"/> (see <see cref="PublishClasses"/>).</summary>
    private void NoteAdd(int priority, ShadowClass cls)
    {
        _bumpMiss = true;
        if (priority > _addMaxPriority)
        {
            _addMaxPriority = priority;
            _addedAtMax = 0;
            _overflowAddAtMax = false;
        }
        if (cls.IsMissClass)
        {
            if (priority == _addMaxPriority) _overflowAddAtMax = true;
            return;
        }
        if (cls.AddedInScope) return;
        if (priority == _addMaxPriority) _addedAtMax++;
        if (!cls.BumpInScope) _scopeClasses.Add(cls);
        cls.AddedInScope = true;
    }

    /// <summary>Writer: <paramref name="e"/>'s actions or instructions change (verdicts that hit it composed the old ones).</summary>
    private void NoteSwap(FlowEntry e)
    {
        var c = e.Shadow;
        if (c is null || c.BumpInScope) return;
        if (c.IsMissClass)
        {
            _bumpMiss = true;
            return;
        }
        if (!c.AddedInScope) _scopeClasses.Add(c);
        c.BumpInScope = true;
    }

    /// <summary>
    /// Writer, when a scope publishes version <paramref name="version"/>: bumps every class the scope's changes could
    /// take a key from (see <see cref="ShadowClass"/>): below the highest priority added, at it when a rule of
    /// another class was added there, every class whose rule had its actions or instructions swapped, the miss class
    /// after an add or a miss-mode change, and all of them when the tie order may have moved.
    /// </summary>
    private void PublishClasses(long version)
    {
        // Every change may change what clauses of conjunctive matches combine to. Bumped whether or not the table holds
        // clauses now: a result recorded just before the last one left still checks it (ClassOf).
        _conjClass.Bump(version);
        if (_bumpAll)
        {
            foreach (var c in _classes.Values) c.Bump(version);
            _missClass.Bump(version);
        }
        else
        {
            if (_bumpMiss) _missClass.Bump(version);
            int max = _addMaxPriority;
            if (max >= 0)
            {
                foreach (var c in _classes.Values)
                {
                    if (c.Priority < max || (c.Priority == max && (_overflowAddAtMax || _addedAtMax > (c.AddedInScope ? 1 : 0))))
                        c.Bump(version);
                }
            }
            foreach (var c in _scopeClasses)
                if (c.BumpInScope) c.Bump(version);
        }
        foreach (var c in _scopeClasses) c.AddedInScope = c.BumpInScope = false;
        _scopeClasses.Clear();
        _addMaxPriority = -1;
        _addedAtMax = 0;
        _overflowAddAtMax = _bumpMiss = _bumpAll = false;
    }
}
