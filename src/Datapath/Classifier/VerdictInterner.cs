using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// A forwarding thread's table of verdicts by chain (the stages visited, the rules hit, the versions read, how the run
/// ended), so that every packet key with the same chain shares one <see cref="PipelineVerdict"/> and one composed
/// action list: a run whose chain is already here allocates nothing. Runs whose register actions read the key share a
/// verdict only when they read the same values (<see cref="PipelineWalk.KeyReads"/>, part of the chain here).
/// Direct-mapped (a new chain replaces the slot's);
/// composed lists are shared through an <see cref="ActionInterner"/>. Not thread-safe (one per thread).
/// </summary>
public sealed class VerdictInterner
{
    private const int MaxPooledStages = 16;
    private const int MaxPooled = 4096;

    // Made at the first verdict interned (a switch whose pipeline has one table never interns one), FirstSlots long,
    // and doubled while more than half its slots are held, up to _slotCount: the full 32 KiB on every forwarder of a
    // hundred bridges is a megabyte that bridges seeing a few chains each never use.
    private const int FirstSlots = 256;
    private PipelineVerdict?[] _slots = [];
    private readonly int _slotCount;
    private int _mask;
    private int _held; // slots not null
    private readonly ActionInterner _actions = new();
    private readonly List<PipelineVerdict> _limbo = new();
    private int _limboWaiting; // the first verdicts of _limbo, known to wait for their credits
    private readonly Stack<PipelineVerdict>?[] _pool = new Stack<PipelineVerdict>?[(MaxPooledStages + 1) * (MaxPooledStages + 1)];
    private int _pooled;
    private long _built, _reused;

    public VerdictInterner(int slots = 4096)
    {
        int n = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, slots));
        _slotCount = n;
    }

    /// <summary>Verdicts built (chains not found here).</summary>
    public long Built => _built;

    /// <summary>The verdict of <paramref name="walk"/>'s last run: the one already held for its chain, or a new one.</summary>
    public PipelineVerdict Intern(PipelineWalk walk) => Intern(walk, null);

    /// <summary>
    /// As <see cref="Intern(PipelineWalk)"/>, with the composed actions already interned here when
    /// <paramref name="composed"/> is not null (a repaired verdict's, which equal the walk's).
    /// </summary>
    internal PipelineVerdict Intern(PipelineWalk walk, FlowActions? composed)
    {
        var tables = walk.Tables;
        var versions = walk.Versions;
        var hits = walk.Hits;
        uint h = (uint)walk.End * 0x9E3779B1u ^ (walk.Start?.HashMix ?? 0);
        for (int i = 0; i < tables.Length; i++)
        {
            h = System.Numerics.BitOperations.Crc32C(h, (uint)tables[i].StageId);
            h = System.Numerics.BitOperations.Crc32C(h, (ulong)versions[i]);
            h = System.Numerics.BitOperations.Crc32C(h, hits[i] is { } e ? (uint)e.Serial : 0u);
        }
        foreach (ulong r in walk.KeyReads) h = System.Numerics.BitOperations.Crc32C(h, r);
        if (_slots.Length == 0) Resize(Math.Min(_slotCount, FirstSlots));
        else if (_held * 2 > _slots.Length && _slots.Length < _slotCount) Resize(_slots.Length * 2);
        ref var slot = ref _slots[h & (uint)_mask];
        if (slot is { } v && Same(v, walk)) return v;
        _built++;
        composed ??= _actions.Intern(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(walk.Composed));
        int entries = PipelineVerdict.EntryCount(walk);
        if (Shape(walk.Count, entries) is int shape && _pool[shape] is { Count: > 0 } pool)
        {
            v = pool.Pop();
            _pooled--;
            _reused++;
            v.Reinitialize(walk, composed);
        }
        else
        {
            v = new PipelineVerdict(walk, composed, this);
        }
        var old = slot;
        if (old is null) _held++;
        slot = v;
        v.InternHash = h;
        v.InternSlot = (int)(h & (uint)_mask);
        // A verdict no cache slot holds is reachable only from here: it goes with its slot.
        if (old is { Refs: 0 }) Retire(old);
        return v;
    }

    /// <summary>A new verdict of <paramref name="walk"/>'s last run, shared with nothing and never reused (a reference for tests).</summary>
    public static PipelineVerdict Build(PipelineWalk walk) => new(walk, new FlowActions([.. walk.Composed]), null);

    /// <summary>Verdicts taken from the pool instead of allocated.</summary>
    public long Reused => _reused;

    /// <summary>The pool index of verdicts of this many stages and rules hit, or null for shapes not pooled.</summary>
    private static int? Shape(int stages, int entries) => stages <= MaxPooledStages ? stages * (MaxPooledStages + 1) + entries : null;

    /// <summary>
    /// A verdict no cache slot holds: it leaves this interner's slot (so no later run is handed it) and waits to be
    /// reused after the burst.
    /// </summary>
    internal void Retire(PipelineVerdict v)
    {
        if (v.Retired) return;
        v.Retired = true;
        if (v.InternSlot >= 0 && ReferenceEquals(_slots[v.InternSlot], v))
        {
            _slots[v.InternSlot] = null;
            _held--;
        }
        _limbo.Add(v);
    }

    /// <summary>
    /// Moves the verdicts no slot holds any more to the pool, except those with credits not yet paid to their rules
    /// (they wait for the next credit flush, <see cref="CreditsPaid"/>). The owning forwarder calls it between bursts,
    /// when no packet of the burst still refers to a verdict; each call looks only at the verdicts retired since the
    /// last, or at all of them after a flush, so a thousand verdicts waiting for their credits cost nothing per burst.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Recycle()
    {
        if (_limboWaiting != _limbo.Count) RecycleRetired();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecycleRetired()
    {
        int keep = _limboWaiting;
        for (int i = keep; i < _limbo.Count; i++)
        {
            var v = _limbo[i];
            if (v.Refs != 0)
            {
                v.Retired = false; // held again (not by design; kept out of the pool)
                continue;
            }
            if (v.PendingPackets != 0)
            {
                _limbo[keep++] = v;
                continue;
            }
            v.Retired = false;
            if (_pooled < MaxPooled && Shape(v.Tables.Length, v.Entries.Length) is int shape)
            {
                (_pool[shape] ??= new Stack<PipelineVerdict>()).Push(v);
                _pooled++;
            }
        }
        _limbo.RemoveRange(keep, _limbo.Count - keep);
        _limboWaiting = keep;
    }

    /// <summary>The owner paid every verdict's pending credits: the next <see cref="Recycle"/> looks at every retired verdict again.</summary>
    public void CreditsPaid() => _limboWaiting = 0;

    /// <summary>Verdicts waiting to be reused (tests).</summary>
    internal int PooledCount => _pooled;

    private static bool Same(PipelineVerdict v, PipelineWalk walk)
    {
        if (v.End != walk.End || v.Tables.Length != walk.Count || !ReferenceEquals(v.Absent, walk.Absent) || v.AbsentVersion != walk.AbsentVersion
            || v.LivenessAt != walk.LivenessAt || !walk.LearnGuards.SequenceEqual(v.LearnGuards)
            || !ReferenceEquals(v.Start, walk.Start) || !ReferenceEquals(v.Next, walk.Next) || !walk.KeyReads.SequenceEqual(v.KeyReads))
        {
            return false;
        }
        var tables = walk.Tables;
        var classes = walk.Classes;
        var versions = walk.Versions;
        var hits = walk.Hits;
        for (int i = 0; i < tables.Length; i++)
        {
            ref readonly var c = ref v.Check(i);
            // A class that moved during a run (-1) says nothing about the rule's actions then: never shared.
            if (!ReferenceEquals(c.Table, tables[i].Published) || !ReferenceEquals(c.Class, classes[i]) || c.Version != versions[i]
                || versions[i] < 0 || !ReferenceEquals(c.Hit, hits[i]))
            {
                return false;
            }
            // The same entry object may be a recycled incarnation (another rule): the serial tells.
            if (hits[i] is { } e && c.Serial != e.Serial) return false;
        }
        // Same incarnations of the same rules and same class versions: same actions and instructions (a swap moves
        // the class).
        return true;
    }

    /// <summary>Drops every held verdict.</summary>
    public void Clear()
    {
        foreach (var v in _slots)
            if (v is { Refs: 0 }) Retire(v);
        Array.Clear(_slots);
        _held = 0;
    }

    /// <summary>
    /// Makes the slots <paramref name="size"/> long, each held verdict moved to its chain's slot there: a larger table's
    /// slot of a chain keeps the low bits of its slot here, so no two held verdicts meet (a slow path: a forwarder's
    /// first few chains, never per packet).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Resize(int size)
    {
        var slots = new PipelineVerdict?[size];
        _mask = size - 1;
        foreach (var v in _slots)
        {
            if (v is null) continue;
            v.InternSlot = (int)(v.InternHash & (uint)_mask);
            slots[v.InternSlot] = v;
        }
        _slots = slots;
    }
}
