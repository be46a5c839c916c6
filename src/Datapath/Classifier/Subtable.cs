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
    /// <summary>The register bits the mask tests (all 0 for most subtables: only those pay for registers).</summary>
    public readonly Registers RegisterMask;
    /// <summary>The register words the mask covers (bit i: word i), hashed and compared after the key's.</summary>
    public readonly ushort RegisterWords;
    /// <summary>The mask tests conj_id (a conjunctive match's flows): hashed and compared after the registers.</summary>
    public readonly bool ConjId;
    /// <summary>The mask covers extension words, registers or conj_id: lookups take <see cref="ProbeExtended"/>, not the base-word probe.</summary>
    public readonly bool Extended;
    /// <summary>The mask's key and register bits (the table's key for this subtable).</summary>
    public FlowMaskBits Bits => new(Mask, RegisterMask, ConjId);
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

    public Subtable(FlowMask mask)
    {
        Mask = mask.Bits;
        ExtWords = mask.ExtWords;
        RegisterMask = mask.RegisterBits;
        RegisterWords = mask.RegisterWords;
        ConjId = mask.MatchesConjId;
        Extended = ExtWords != 0 || RegisterWords != 0 || ConjId;
        Specificity = FlowHash.PopCount(Mask) + RegisterMask.PopCount();
    }

    /// <summary>
    /// Reader: the top rule for a packet key and register file in a subtable whose mask covers extension words or
    /// registers or conj_id (<see cref="Extended"/>); <paramref name="conjId"/>: the lookup's conj_id (0 but within a
    /// conjunctive match's lookup).
    /// </summary>
    public FlowEntry? ProbeExtended(in FlowKey key, in Registers regs, uint conjId = 0)
    {
        ref readonly FlowKey m = ref Mask;
        uint h = FlowHash.Of(key.W0 & m.W0, key.W1 & m.W1, key.W2 & m.W2, key.W3 & m.W3, key.W4 & m.W4, key.W5 & m.W5);
        h = FlowHash.Extend(h, key, m, ExtWords);
        if (RegisterWords != 0) h = FlowHash.ExtendRegisters(h, regs, RegisterMask, RegisterWords);
        if (ConjId) h = System.Numerics.BitOperations.Crc32C(h, conjId);
        return FlowHashMap.ProbeExtended(Map.Current, h, key, m, regs, conjId);
    }

    public int RuleCount => _w.RuleCount;
    public int MaxPriority => _w.MaxPriority;

    /// <summary>Writer: the top rule with <paramref name="match"/>'s value (its mask this subtable's).</summary>
    public FlowEntry? FindTop(in FlowMatch match)
    {
        int slot = Map.FindSlot(match, FlowHash.OfRule(match));
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
