using System.Runtime.InteropServices;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// One mask's rules in the tuple space: a <see cref="FlowHashMap"/> from masked value to the highest-priority rule
/// with that match, plus writer-side bookkeeping of the priorities present.
/// </summary>
internal sealed class Subtable
{
    public readonly FlowKey Mask;
    /// <summary>The extension words the mask covers (bit i: word 6 + i); 0 for every OpenFlow 1.0 mask, whose lookups
    /// hash and compare the six base words only.</summary>
    public readonly ushort ExtWords;
    public readonly FlowHashMap Map = new(slotsPerKey: 4);
    public readonly int Specificity;
    /// <summary>The max priority in the currently published order (writer only).</summary>
    public int PublishedMax
    {
        get => _w.PublishedMax;
        set => _w.PublishedMax = value;
    }

    private readonly Dictionary<ushort, int> _priorityCounts = new();
    private readonly SortedSet<ushort> _priorities = new();
    private readonly WriterState _w = new(); // off the lines lookups read (Mask, Map), as TupleSpace's

    /// <summary>The writer's bookkeeping, off the lookups' lines (see <see cref="TupleSpace"/>'s).</summary>
    [StructLayout(LayoutKind.Explicit)]
    private sealed class WriterState
    {
        [FieldOffset(64)] public int RuleCount;
        [FieldOffset(68)] public int MaxPriority = -1;
        [FieldOffset(72)] public int PublishedMax = -1;
    }

    public Subtable(in FlowKey mask)
    {
        Mask = mask;
        ExtWords = FlowMask.Intern(mask).ExtWords;
        Specificity = FlowHash.PopCount(mask);
    }

    /// <summary>Reader: the top rule for a packet key in a subtable whose mask covers extension words.</summary>
    public FlowEntry? ProbeExtended(in FlowKey key)
    {
        ref readonly FlowKey m = ref Mask;
        uint h = FlowHash.Of(key.W0 & m.W0, key.W1 & m.W1, key.W2 & m.W2, key.W3 & m.W3, key.W4 & m.W4, key.W5 & m.W5);
        h = FlowHash.Extend(h, key, m, ExtWords);
        return FlowHashMap.ProbeExtended(Map.Current, h, key, m);
    }

    public int RuleCount => _w.RuleCount;
    public int MaxPriority => _w.MaxPriority;

    public FlowEntry? FindTop(in FlowKey value)
    {
        int slot = Map.FindSlot(value, FlowHash.Of(value, ExtWords));
        return slot < 0 ? null : Map.SlotEntry(slot);
    }

    public void AddPriority(ushort p)
    {
        _priorityCounts.TryGetValue(p, out int c);
        _priorityCounts[p] = c + 1;
        if (c == 0) _priorities.Add(p);
        _w.RuleCount++;
        if (p > _w.MaxPriority) _w.MaxPriority = p;
    }

    public void RemovePriority(ushort p)
    {
        int c = _priorityCounts[p] - 1;
        _w.RuleCount--;
        if (c > 0)
        {
            _priorityCounts[p] = c;
            return;
        }
        _priorityCounts.Remove(p);
        _priorities.Remove(p);
        if (p == _w.MaxPriority) _w.MaxPriority = _priorities.Count == 0 ? -1 : _priorities.Max;
    }
}
