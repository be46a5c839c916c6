using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The wildcard stage of a <see cref="FlowTable"/>: one hashed <see cref="Subtable"/> per distinct mask, searched in
/// order of the subtables' highest rule priority, stopping as soon as nothing later can win (after ovs
/// <c>lib/classifier.c</c> and <c>lib/pvector.c</c>).
/// </summary>
/// <remarks>
/// Among equal-priority rules, the one whose subtable comes first in the search order wins: a function of the rule
/// set, not of insertion history. One writer at a time (the caller serialises); lock-free readers. A new rule is
/// visible once its slot is written, but a new subtable is searched (and a raised max priority honoured) only after the
/// next <see cref="Publish()"/>: a rule may be briefly invisible, never half visible. The rules of one match form a list
/// down by priority from the subtable's slot (<see cref="FlowEntry.NextLowerPriority"/>), which
/// <see cref="LookupVisible"/> follows past rules hidden at its version.
/// Design: docs/datapath.md, "One table".
/// </remarks>
[SkipLocalsInit]
public sealed class TupleSpace
{
    private static readonly SubtableRef[] s_empty = [];

    private readonly Dictionary<FlowMaskBits, Subtable> _byMask = new();
    private readonly Dictionary<ushort, HashSet<FlowEntry>> _byPriority = new();
    private SubtableRef[] _order = s_empty;
    private readonly WriterState _w = new(); // written with every flow-mod: off the lines lookups read (_order)

    /// <summary>
    /// The writer's counters, kept off the lines lookups read: the writer moves them with every flow-mod, and on a line
    /// a lookup reads they would cost every forwarding thread a cache miss per flow-mod. They start 64 bytes into
    /// their object, so the owner (allocated just before it) does not share their line.
    /// </summary>
    [StructLayout(LayoutKind.Explicit)]
    private sealed class WriterState
    {
        /// <summary>Rules in the table (readable by anyone with a volatile read).</summary>
        [FieldOffset(64)] public int Count;
        /// <summary>The published search order must be rebuilt.</summary>
        [FieldOffset(68)] public bool Dirty;
    }

    public TupleSpace() => RemovalOrder = CompareForRemoval;

    /// <summary>
    /// Writer: orders rules (of this table, or exact rules of the same flow table) the way a multi-rule delete
    /// removes them so each concurrent lookup sees the before- or the after-state: lowest priority first, exact
    /// rules after wildcard rules of equal priority, and equal-priority wildcard rules in reverse search order.
    /// Use before removing any of them.
    /// </summary>
    internal readonly Comparison<FlowEntry> RemovalOrder;

    /// <summary>Rules in the table (including rules shadowed by a higher-priority rule with the same match).</summary>
    public int Count => Volatile.Read(ref _w.Count);

    /// <summary>Distinct masks (subtables) currently holding rules.</summary>
    public int SubtableCount => _byMask.Count;

    /// <summary>Reader: the highest priority in the published search order (-1 when it is empty).</summary>
    internal int PublishedMaxPriority
    {
        get
        {
            var order = Volatile.Read(ref _order);
            return order.Length == 0 ? -1 : order[0].MaxPriority;
        }
    }

    /// <summary>Largest probe displacement over the subtables (diagnostics and tests).</summary>
    internal int MaxDisplacement
    {
        get
        {
            int max = 0;
            foreach (var sub in _byMask.Values) max = Math.Max(max, sub.Map.Current.MaxDisplacement);
            return max;
        }
    }

    /// <summary>Whether some subtable is large enough for the burst lookup's prefetching pass (diagnostics and tests).</summary>
    internal bool HasPrefetchedSubtable
    {
        get
        {
            foreach (var sub in _byMask.Values)
                if (!sub.Extended && sub.Map.Current.Tags.Length >= PrefetchSlots) return true;
            return false;
        }
    }

    /// <summary>Subtables in the published search order.</summary>
    public int PublishedSubtableCount => Volatile.Read(ref _order).Length;

    /// <summary>The masks of the published subtables, in search order.</summary>
    public IEnumerable<FlowKey> PublishedMasks()
    {
        foreach (var sr in Volatile.Read(ref _order)) yield return sr.Table.Mask;
    }

    /// <summary>Whether some published subtable tests registers.</summary>
    internal bool PublishedUsesRegisters()
    {
        foreach (var sr in Volatile.Read(ref _order))
            if (sr.Table.RegisterWords != 0) return true;
        return false;
    }

    private static readonly Registers s_noRegisters;

    private PacketWordUse? _packetWords;
    private volatile bool _actsetWords;

    /// <summary>
    /// The packet's words (<see cref="Registers.TunnelWord"/>, <see cref="Registers.PacketWord"/>) that the published
    /// subtables test, or null when none does (every table without such a rule): published with the search order,
    /// before it.
    /// </summary>
    internal PacketWordUse? PacketWords => Volatile.Read(ref _packetWords);

    /// <summary>Some published subtable tests actset_output (<see cref="Registers.ActsetOutputCode"/>).</summary>
    internal bool TestsActset => _actsetWords;

    // ---------------------------------------------------------------- readers

    /// <summary>Reader: the winning wildcard rule for one packet key (every register 0), or null.</summary>
    public FlowEntry? Lookup(in FlowKey key) => Lookup(key, s_noRegisters);

    /// <summary>Reader: the winning wildcard rule for one packet key and register file, or null.</summary>
    public FlowEntry? Lookup(in FlowKey key, in Registers regs)
    {
        var order = Volatile.Read(ref _order);
        FlowEntry? best = null;
        int bestPriority = -1;
        for (int s = 0; s < order.Length; s++)
        {
            ref readonly SubtableRef sr = ref order[s];
            if (bestPriority >= sr.MaxPriority) break;
            var sub = sr.Table;
            FlowEntry? e;
            if (!sub.Extended)
            {
                ref readonly FlowKey m = ref sub.Mask;
                ulong k0 = key.W0 & m.W0, k1 = key.W1 & m.W1, k2 = key.W2 & m.W2;
                ulong k3 = key.W3 & m.W3, k4 = key.W4 & m.W4, k5 = key.W5 & m.W5;
                uint h = FlowHash.Of(k0, k1, k2, k3, k4, k5);
                e = FlowHashMap.Probe(sub.Map.Current, h, k0, k1, k2, k3, k4, k5);
            }
            else
            {
                e = sub.ProbeExtended(key, regs);
            }
            if (e is not null && e.Priority > bestPriority)
            {
                best = e;
                bestPriority = e.Priority;
            }
        }
        return best;
    }

    /// <summary>
    /// Reader: the winning wildcard rule among those visible at tables version <paramref name="version"/>
    /// (<see cref="FlowEntry.VisibleAt"/>): in each subtable the first visible rule of the key's match, following the
    /// match's rules down by priority past the hidden ones (a rule an atomic batch adds or deletes is hidden at one side
    /// of its commit, and must not hide a lower rule of its match that is visible). The lookup a table with rules
    /// pending takes when the plain one found a hidden rule.
    /// </summary>
    public FlowEntry? LookupVisible(in FlowKey key, in Registers regs, long version)
    {
        var order = Volatile.Read(ref _order);
        FlowEntry? best = null;
        int bestPriority = -1;
        for (int s = 0; s < order.Length; s++)
        {
            ref readonly SubtableRef sr = ref order[s];
            if (bestPriority >= sr.MaxPriority) break;
            var e = FirstVisible(Probe(sr.Table, key, regs, 0), version);
            if (e is not null && e.Priority > bestPriority)
            {
                best = e;
                bestPriority = e.Priority;
            }
        }
        return best;
    }

    /// <summary>
    /// <paramref name="e"/> (a subtable's top rule for a key) or the first rule below it of the same match that is visible
    /// at <paramref name="version"/>, or null. A rule keeps its link down after its removal, so a reader standing on one
    /// the writer just unlinked still reaches the rules under it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static FlowEntry? FirstVisible(FlowEntry? e, long version)
    {
        while (e is not null && !e.VisibleAt(version)) e = Volatile.Read(ref e.NextLowerPriority);
        return e;
    }

    /// <summary>
    /// Reader, for diagnostics: what <see cref="Lookup(in FlowKey, in Registers)"/> returns, plus the mask of the subtable that holds it and how
    /// many subtables were probed (the search stops at the first subtable whose rules cannot beat the best so far).
    /// No side effect.
    /// </summary>
    public FlowEntry? Trace(in FlowKey key, out FlowKey mask, out int probed) => Trace(key, s_noRegisters, out mask, out probed);

    /// <summary>As <see cref="Trace(in FlowKey, out FlowKey, out int)"/>, with the register file <paramref name="regs"/>.</summary>
    public FlowEntry? Trace(in FlowKey key, in Registers regs, out FlowKey mask, out int probed)
    {
        var order = Volatile.Read(ref _order);
        FlowEntry? best = null;
        int bestPriority = -1;
        mask = default;
        probed = 0;
        for (int s = 0; s < order.Length; s++)
        {
            ref readonly SubtableRef sr = ref order[s];
            if (bestPriority >= sr.MaxPriority) break;
            probed++;
            var sub = sr.Table;
            var masked = key.And(sub.Mask);
            var e = sub.Extended
                ? sub.ProbeExtended(key, regs)
                : FlowHashMap.Probe(sub.Map.Current, FlowHash.Of(masked.W0, masked.W1, masked.W2, masked.W3, masked.W4, masked.W5),
                                    masked.W0, masked.W1, masked.W2, masked.W3, masked.W4, masked.W5);
            if (e is not null && e.Priority > bestPriority)
            {
                best = e;
                bestPriority = e.Priority;
                mask = sub.Mask;
            }
        }
        return best;
    }

    /// <summary>
    /// Reader, burst form (ovs dpcls style): subtable-major over the keys whose bit is set in
    /// <paramref name="pending"/> (at most 64 keys). Writes each winner to <paramref name="results"/> (entries of
    /// keys without a match are left untouched) and returns the bitmap of keys that matched.
    /// </summary>
    public ulong LookupBurst(ReadOnlySpan<FlowKey> keys, ulong pending, Span<FlowEntry?> results)
    {
        var order = Volatile.Read(ref _order);
        if (pending == 0 || order.Length == 0) return 0;
        if (keys.Length > 64 || results.Length < keys.Length || (keys.Length < 64 && pending >> keys.Length != 0))
            ThrowHelper.Argument(nameof(pending));

        var scratch = BurstScratch.ForThread;
        Span<int> best = scratch.TupleBest;
        Span<uint> hashes = scratch.TupleHashes;
        for (ulong b = pending; b != 0; b &= b - 1) best[BitOperations.TrailingZeroCount(b)] = -1;
        ref int best0 = ref MemoryMarshal.GetReference(best);
        ref uint hash0 = ref MemoryMarshal.GetReference(hashes);
        ref FlowKey key0 = ref MemoryMarshal.GetReference(keys);
        ref FlowEntry? res0 = ref MemoryMarshal.GetReference(results);

        ulong remaining = pending;
        if (!Vector128.IsHardwareAccelerated) return LookupBurstScalar(order, ref key0, ref best0, ref res0, remaining);
        for (int s = 0; s < order.Length; s++)
        {
            var sub = order[s].Table;
            int nextMax = s + 1 < order.Length ? order[s + 1].MaxPriority : -1;
            if (sub.Extended)
            {
                // A mask over extension words or registers: hash and compare those too, key by key (the rare kind of
                // subtable; a burst lookup's registers are all 0).
                remaining = VisitExtended(sub, nextMax, ref key0, ref best0, ref res0, remaining);
                if (remaining == 0) break;
                continue;
            }
            var table = sub.Map.Current;
            int maxDisplacement = Volatile.Read(ref table.MaxDisplacement);
            ref uint tags = ref MemoryMarshal.GetArrayDataReference(table.Tags);
            ref FlowEntry? entries = ref MemoryMarshal.GetArrayDataReference(table.Entries);
            uint bucketMask = table.BucketMask;
            ref readonly FlowKey m = ref sub.Mask;

            // Phase 1, branch-free per packet: hash, look at the home bucket, keep packets with a tag hit there (and,
            // if some key of this table sits past its home bucket, packets whose home bucket is full) as candidates.
            // A subtable past the caches' size first hashes every key and prefetches its home bucket (see
            // PrefetchHomeBuckets), so the misses of the burst overlap instead of queueing.
            bool large = table.Tags.Length >= PrefetchSlots;
            if (large) PrefetchHomeBuckets(ref key0, ref hash0, ref tags, ref entries, bucketMask, m, remaining);
            ulong candidates = (maxDisplacement == 0, large) switch
            {
                (true, false) => Candidates<HomeOnly, Hash>(ref key0, ref best0, ref hash0, ref tags, ref entries, bucketMask, m, nextMax, ref remaining),
                (false, false) => Candidates<MayOverflow, Hash>(ref key0, ref best0, ref hash0, ref tags, ref entries, bucketMask, m, nextMax, ref remaining),
                (true, true) => Candidates<HomeOnly, Hashed>(ref key0, ref best0, ref hash0, ref tags, ref entries, bucketMask, m, nextMax, ref remaining),
                (false, true) => Candidates<MayOverflow, Hashed>(ref key0, ref best0, ref hash0, ref tags, ref entries, bucketMask, m, nextMax, ref remaining),
            };

            // Phase 2: the few candidates get the full probe and compare.
            for (; candidates != 0; candidates &= candidates - 1)
            {
                int i = BitOperations.TrailingZeroCount(candidates);
                ref FlowKey key = ref Unsafe.Add(ref key0, i);
                var e = FlowHashMap.ProbeMasked(ref tags, ref entries, bucketMask, maxDisplacement, Unsafe.Add(ref hash0, i), key, m);
                ref int bp = ref Unsafe.Add(ref best0, i);
                if (e is not null && e.Priority > bp)
                {
                    bp = e.Priority;
                    Unsafe.Add(ref res0, i) = e;
                    if (bp >= nextMax) remaining &= ~(1UL << i);
                }
            }

            if (remaining == 0) break;
        }
        ulong found = 0;
        for (ulong b = pending; b != 0; b &= b - 1)
        {
            int i = BitOperations.TrailingZeroCount(b);
            if (Unsafe.Add(ref best0, i) >= 0) found |= 1UL << i;
        }
        return found;
    }

    /// <summary>A subtable visit for a mask that covers extension words (see <see cref="LookupBurst"/>); returns the keys still unresolved.</summary>
    private static ulong VisitExtended(Subtable sub, int nextMax, ref FlowKey key0, ref int best0, ref FlowEntry? res0, ulong remaining)
    {
        for (ulong bits = remaining; bits != 0; bits &= bits - 1)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            ref int bp = ref Unsafe.Add(ref best0, i);
            var e = sub.ProbeExtended(Unsafe.Add(ref key0, i), s_noRegisters);
            if (e is not null && e.Priority > bp)
            {
                bp = e.Priority;
                Unsafe.Add(ref res0, i) = e;
            }
            if (bp >= nextMax) remaining &= ~(1UL << i);
        }
        return remaining;
    }

    private struct HomeOnly;
    private struct MayOverflow;
    // Phase 1 hashes each key itself (Hash) or finds the hashes PrefetchHomeBuckets wrote and prefetches candidates (Hashed).
    private struct Hash;
    private struct Hashed;

    /// <summary>Phase 1 of a subtable visit (see <see cref="LookupBurst"/>), specialised on whether keys may overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Candidates<TOverflow, THashed>(ref FlowKey key0, ref int best0, ref uint hash0, ref uint tags, ref FlowEntry? entries,
                                                        uint bucketMask, in FlowKey m, int nextMax, ref ulong remaining)
        where TOverflow : struct
        where THashed : struct
    {
        ulong candidates = 0;
        ulong bits = remaining;
        do
        {
            int i = BitOperations.TrailingZeroCount(bits);
            bits &= bits - 1;
            uint h;
            if (typeof(THashed) == typeof(Hashed))
            {
                h = Unsafe.Add(ref hash0, i);
            }
            else
            {
                ref FlowKey key = ref Unsafe.Add(ref key0, i);
                h = FlowHash.Of(key.W0 & m.W0, key.W1 & m.W1, key.W2 & m.W2, key.W3 & m.W3, key.W4 & m.W4, key.W5 & m.W5);
                Unsafe.Add(ref hash0, i) = h;
            }
            uint hits = FlowHashMap.HomeBucketHits(ref tags, bucketMask, h, out uint empties);
            // A large subtable: the first tag hit's entry lines are fetched now, for the compare of phase 2.
            if (typeof(THashed) == typeof(Hashed) && hits != 0)
                Volatile.Read(ref Unsafe.Add(ref entries, (nint)((h & bucketMask) * FlowHashMap.BucketSlots) + BitOperations.TrailingZeroCount(hits)))?.PrefetchLookupLines();
            ulong flag = (ulong)(uint)-(int)hits >> 31;                                 // any tag hit
            if (typeof(TOverflow) == typeof(MayOverflow)) flag |= (empties - 1) >> 31;  // home bucket full
            candidates |= flag << i;
            // Resolved once nothing later can beat it (bp >= nextMax <=> nextMax - bp - 1 < 0).
            remaining &= ~((ulong)((uint)(nextMax - Unsafe.Add(ref best0, i) - 1) >> 31) << i);
        }
        while (bits != 0);
        return candidates;
    }

    /// <summary>
    /// Tag slots from which a subtable is taken to be past the caches (16,384 slots: 64 KiB of tags, 128 KiB of entry
    /// references), and worth the extra pass of <see cref="PrefetchHomeBuckets"/>.
    /// </summary>
    private const int PrefetchSlots = 16384;

    /// <summary>
    /// Hashes every key of <paramref name="remaining"/> into <paramref name="hash0"/> and prefetches its home bucket's
    /// tags and entry references, as the exact table's first pass: phase 1 then reads them from the cache, and fetches
    /// the first candidate entry's lines for phase 2.
    /// </summary>
    private static void PrefetchHomeBuckets(ref FlowKey key0, ref uint hash0, ref uint tags, ref FlowEntry? entries, uint bucketMask,
                                            in FlowKey m, ulong remaining)
    {
        for (ulong bits = remaining; bits != 0; bits &= bits - 1)
        {
            int i = BitOperations.TrailingZeroCount(bits);
            ref FlowKey key = ref Unsafe.Add(ref key0, i);
            uint h = FlowHash.Of(key.W0 & m.W0, key.W1 & m.W1, key.W2 & m.W2, key.W3 & m.W3, key.W4 & m.W4, key.W5 & m.W5);
            Unsafe.Add(ref hash0, i) = h;
            nint b = (nint)((h & bucketMask) * FlowHashMap.BucketSlots);
            Prefetch.Line(ref Unsafe.Add(ref tags, b));
            Prefetch.Line(ref Unsafe.Add(ref entries, b));
        }
    }

    private static ulong LookupBurstScalar(SubtableRef[] order, ref FlowKey key0, ref int best0, ref FlowEntry? res0, ulong remaining)
    {
        ulong found = 0;
        for (int s = 0; s < order.Length && remaining != 0; s++)
        {
            var sub = order[s].Table;
            int nextMax = s + 1 < order.Length ? order[s + 1].MaxPriority : -1;
            var table = sub.Map.Current;
            for (ulong bits = remaining; bits != 0; bits &= bits - 1)
            {
                int i = BitOperations.TrailingZeroCount(bits);
                ref FlowKey key = ref Unsafe.Add(ref key0, i);
                var masked = key.And(sub.Mask);
                var e = sub.Extended
                    ? sub.ProbeExtended(key, s_noRegisters)
                    : FlowHashMap.ProbeScalar(table, FlowHash.Of(masked), masked.W0, masked.W1, masked.W2, masked.W3, masked.W4, masked.W5);
                ref int bp = ref Unsafe.Add(ref best0, i);
                if (e is not null && e.Priority > bp)
                {
                    bp = e.Priority;
                    Unsafe.Add(ref res0, i) = e;
                    found |= 1UL << i;
                }
                if (bp >= nextMax) remaining &= ~(1UL << i);
            }
        }
        return found;
    }

    /// <summary>
    /// Reader: a rule of tag <paramref name="tag"/> and requested priority <paramref name="priority"/> that matches the key
    /// and is visible at <paramref name="version"/>, whatever rules of higher priority match it too (each subtable's rules
    /// for the key, followed down by priority), or null: a learn's probe for the flow it learned.
    /// </summary>
    internal FlowEntry? FindMatching(in FlowKey key, in Registers regs, ulong tag, ushort priority, long version)
    {
        var order = Volatile.Read(ref _order);
        for (int s = 0; s < order.Length; s++)
        {
            for (var e = Probe(order[s].Table, key, regs, 0); e is not null; e = Volatile.Read(ref e.NextLowerPriority))
                if (e.Tag == tag && e.RequestedPriority == priority && !e.IsRemoved && e.VisibleAt(version)) return e;
        }
        return null;
    }

    // ---------------------------------------------------------------- conjunctive matches

    /// <summary>One subtable's top rule for a key, register file and conj_id.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FlowEntry? Probe(Subtable sub, in FlowKey key, in Registers regs, uint conjId)
    {
        if (sub.Extended) return sub.ProbeExtended(key, regs, conjId);
        ref readonly FlowKey m = ref sub.Mask;
        ulong k0 = key.W0 & m.W0, k1 = key.W1 & m.W1, k2 = key.W2 & m.W2;
        ulong k3 = key.W3 & m.W3, k4 = key.W4 & m.W4, k5 = key.W5 & m.W5;
        return FlowHashMap.Probe(sub.Map.Current, FlowHash.Of(k0, k1, k2, k3, k4, k5), k0, k1, k2, k3, k4, k5);
    }

    /// <summary>
    /// Reader: the lookup of a table that holds clauses of conjunctive matches (rules whose actions are only
    /// <c>conjunction(id,k/n)</c>: <see cref="Actions.FlowActions.IsConjunctive"/>), as Open vSwitch's
    /// <c>classifier_lookup__</c> does it. Every subtable's top rule for the key (and <paramref name="exactHit"/>, the
    /// hash stage's) is a hard match (any other rule) or a soft one (a clause); the search stops where no later subtable
    /// can beat the best hard match. When a soft match outranks it, the soft matches of the highest priority are
    /// combined: a conjunction id all of whose n clauses are among them is a match, and the key is looked up again with
    /// conj_id set to that id and clauses ignored (<see cref="LookupNested"/>); what that finds wins. When no id
    /// completes, each soft match of that priority gives way to the next lower rule of its own match (a clause, or a hard
    /// match), and the next priority down is tried. The clauses of the id that won are appended to
    /// <paramref name="clauses"/> when given (ofproto/trace's "conj." lines). Allocation-free: the thread's
    /// <see cref="ConjunctionScratch"/>.
    /// </summary>
    internal FlowEntry? LookupConjunctive(in FlowKey key, in Registers regs, FlowEntry? exactHit, List<FlowEntry>? clauses, out int probed,
                                          long version)
    {
        if (exactHit is not null && !exactHit.VisibleAt(version)) exactHit = null;
        var order = Volatile.Read(ref _order);
        var s = ConjunctionScratch.ForThread;
        FlowEntry? hard = null;
        int hardPri = -1, softPri = -1, nSoft = 0;
        probed = 0;
        if (exactHit is not null)
        {
            if (exactHit.Actions.IsConjunctive)
            {
                s.AddSoft(ref nSoft, exactHit);
                softPri = exactHit.Priority;
            }
            else
            {
                hard = exactHit;
                hardPri = exactHit.Priority;
            }
        }
        for (int i = 0; i < order.Length; i++)
        {
            ref readonly SubtableRef sr = ref order[i];
            if (hardPri >= sr.MaxPriority) break;
            probed++;
            var e = FirstVisible(Probe(sr.Table, key, regs, 0), version);
            if (e is null || e.Priority <= hardPri) continue;
            if (e.Actions.IsConjunctive)
            {
                s.AddSoft(ref nSoft, e);
                if (e.Priority > softPri) softPri = e.Priority;
            }
            else
            {
                hard = e;
                hardPri = e.Priority;
            }
        }
        if (hardPri >= softPri)
        {
            s.Clear(nSoft);
            return hard;
        }
        var soft = s.Soft;
        int used = nSoft;
        while (true)
        {
            // Soft matches that gave way to nothing, or no longer outrank the hard match, are dropped.
            for (int i = 0; i < nSoft;)
            {
                if (soft[i] is not { } f || f.Priority <= hardPri) soft[i] = soft[--nSoft];
                else i++;
            }
            if (nSoft == 0) break;
            softPri = -1;
            int nSoftPri = 0;
            for (int i = 0; i < nSoft; i++)
            {
                int p = soft[i]!.Priority;
                if (p > softPri)
                {
                    softPri = p;
                    nSoftPri = 1;
                }
                else if (p == softPri)
                {
                    nSoftPri++;
                }
            }
            s.Matches = 0;
            for (int i = 0; i < nSoft; i++)
            {
                var f = soft[i]!;
                if (f.Priority != softPri || !s.Complete(f.Actions, nSoftPri, out uint id)) continue;
                var rule = LookupNested(order, key, regs, id, exactHit, version);
                if (rule is null) continue;
                if (clauses is not null)
                {
                    for (int j = 0; j < nSoft; j++)
                    {
                        var c = soft[j]!;
                        if (c.Priority == softPri && HasConjunction(c.Actions, id)) clauses.Add(c);
                    }
                }
                s.Clear(used);
                return rule;
            }
            // No id completes at this priority: each of its soft matches gives way to the next rule of its match.
            for (int i = 0; i < nSoft; i++)
            {
                var f = soft[i]!;
                if (f.Priority != softPri) continue;
                var next = FirstVisible(Volatile.Read(ref f.NextLowerPriority), version);
                if (next is null || next.IsRemoved)
                {
                    soft[i] = null;
                }
                else if (next.Actions.IsConjunctive)
                {
                    soft[i] = next;
                }
                else
                {
                    soft[i] = null;
                    if (next.Priority > hardPri)
                    {
                        hard = next;
                        hardPri = next.Priority;
                    }
                }
            }
        }
        s.Clear(used);
        return hard;
    }

    /// <summary>
    /// The lookup with conj_id <paramref name="conjId"/> of a conjunctive match (Open vSwitch's recursive
    /// classifier_lookup__ without conjunctive matches): the best rule that is not a clause; a subtable whose top rule
    /// for the key is a clause gives nothing.
    /// </summary>
    private static FlowEntry? LookupNested(SubtableRef[] order, in FlowKey key, in Registers regs, uint conjId, FlowEntry? exactHit, long version)
    {
        FlowEntry? best = exactHit is not null && !exactHit.Actions.IsConjunctive ? exactHit : null;
        int bestPriority = best?.Priority ?? -1;
        for (int i = 0; i < order.Length; i++)
        {
            ref readonly SubtableRef sr = ref order[i];
            if (bestPriority >= sr.MaxPriority) break;
            var e = FirstVisible(Probe(sr.Table, key, regs, conjId), version);
            if (e is null || e.Priority <= bestPriority || e.Actions.IsConjunctive) continue;
            best = e;
            bestPriority = e.Priority;
        }
        return best;
    }

    private static bool HasConjunction(Actions.FlowActions actions, uint id)
    {
        foreach (ref readonly var a in actions.Items.AsSpan())
            if (a.Kind == Actions.ActionKind.Conjunction && a.ConjId == id) return true;
        return false;
    }

    // ---------------------------------------------------------------- writer side (caller serialises)

    /// <summary>
    /// Writer: the rule with exactly this match and priority, or null; with <paramref name="holdVersion"/> (not 0), the
    /// first such rule visible at it (an atomic batch's rules of one match and priority lie side by side, the newest
    /// first: see <see cref="Insert(FlowEntry, bool)"/>).
    /// </summary>
    public FlowEntry? Find(in FlowMatch match, ushort priority, long holdVersion = 0)
    {
        if (!_byMask.TryGetValue(match.MaskBits, out var sub)) return null;
        for (var e = sub.FindTop(match); e is not null; e = Next(e))
        {
            if (e.Priority == priority && (holdVersion == 0 || e.VisibleAt(holdVersion))) return e;
            if (e.Priority < priority) break;
        }
        return null;
    }

    /// <summary>
    /// Writer: inserts a fully built wildcard entry, replacing an entry with the same match and priority (returned;
    /// the caller marks it removed), or with <paramref name="beside"/> linking it above the rules of the same match and
    /// priority, which stay (an atomic batch's replacement: the caller hides them at its version; null is returned).
    /// Call <see cref="Publish()"/> afterwards (once per batch is enough).
    /// </summary>
    public FlowEntry? Insert(FlowEntry entry, bool beside = false)
    {
        ref readonly FlowMatch match = ref entry.Match;
        var bits = match.MaskBits;
        if (!_byMask.TryGetValue(bits, out var sub))
        {
            sub = new Subtable(match.Shape);
            _byMask.Add(bits, sub);
            _w.Dirty = true;
        }

        FlowEntry? replaced = null;
        uint h = FlowHash.OfRule(match);
        int slot = sub.Map.FindSlot(match, h);
        if (slot < 0)
        {
            entry.NextLowerPriority = null;
            sub.Map.Add(h, entry);
        }
        else
        {
            var top = sub.Map.SlotEntry(slot);
            if (entry.Priority > top.Priority || (beside && entry.Priority == top.Priority))
            {
                entry.NextLowerPriority = top;
                sub.Map.ReplaceAt(slot, entry);
            }
            else if (entry.Priority == top.Priority)
            {
                entry.NextLowerPriority = top.NextLowerPriority;
                sub.Map.ReplaceAt(slot, entry);
                replaced = top;
            }
            else
            {
                FlowEntry prev = top;
                FlowEntry? cur = Next(top);
                while (cur is not null && cur.Priority > entry.Priority)
                {
                    prev = cur;
                    cur = Next(cur);
                }
                if (!beside && cur is not null && cur.Priority == entry.Priority)
                {
                    entry.NextLowerPriority = cur.NextLowerPriority;
                    replaced = cur;
                }
                else
                {
                    entry.NextLowerPriority = cur;
                }
                Volatile.Write(ref prev.NextLowerPriority, entry); // after the entry's own link: readers follow the chain
            }
        }

        if (replaced is null)
        {
            sub.AddPriority(entry.Priority);
            Volatile.Write(ref _w.Count, _w.Count + 1);
        }
        else
        {
            // Its link down stays (see FirstVisible): a reader on it still reaches the rules under it.
            _byPriority[replaced.Priority].Remove(replaced);
        }
        if (!_byPriority.TryGetValue(entry.Priority, out var set))
            _byPriority.Add(entry.Priority, set = new HashSet<FlowEntry>(ReferenceEqualityComparer.Instance));
        set.Add(entry);
        if (sub.MaxPriority != sub.PublishedMax) _w.Dirty = true;
        return replaced;
    }

    /// <summary>Writer: removes this entry (by identity). Returns false when it is not in the table.</summary>
    public bool Remove(FlowEntry entry)
    {
        ref readonly FlowMatch match = ref entry.Match;
        if (!_byMask.TryGetValue(match.MaskBits, out var sub)) return false;
        int slot = sub.Map.FindSlot(match, FlowHash.OfRule(match));
        if (slot < 0) return false;
        var top = sub.Map.SlotEntry(slot);
        if (ReferenceEquals(top, entry))
        {
            var next = Next(entry);
            if (next is not null) sub.Map.ReplaceAt(slot, next);
            else sub.Map.RemoveAt(slot);
        }
        else
        {
            FlowEntry prev = top;
            FlowEntry? cur = Next(top);
            while (cur is not null && !ReferenceEquals(cur, entry))
            {
                prev = cur;
                cur = Next(cur);
            }
            if (cur is null) return false;
            Volatile.Write(ref prev.NextLowerPriority, entry.NextLowerPriority);
        }
        // Its link down stays (see FirstVisible): a reader on it still reaches the rules under it.
        sub.RemovePriority(entry.Priority);
        Volatile.Write(ref _w.Count, _w.Count - 1);
        var set = _byPriority[entry.Priority];
        set.Remove(entry);
        if (set.Count == 0) _byPriority.Remove(entry.Priority);
        if (sub.RuleCount == 0)
        {
            _byMask.Remove(match.MaskBits);
            _w.Dirty = true;
        }
        else if (sub.MaxPriority != sub.PublishedMax)
        {
            _w.Dirty = true;
        }
        return true;
    }

    /// <summary>
    /// Writer: republishes the subtable search order if membership or a max priority changed. Returns true when it
    /// published a new order.
    /// </summary>
    public bool Publish() => Publish(out _);

    /// <summary>
    /// As <see cref="Publish()"/>; <paramref name="maxLowered"/> tells whether a subtable that stays lost its highest
    /// priority (a removal), which can move it behind another and so change the winner of an equal-priority tie.
    /// </summary>
    public bool Publish(out bool maxLowered)
    {
        maxLowered = false;
        if (!_w.Dirty) return false;
        var arr = new SubtableRef[_byMask.Count];
        int n = 0;
        foreach (var sub in _byMask.Values)
        {
            Debug.Assert(sub.RuleCount > 0);
            if (sub.MaxPriority < sub.PublishedMax) maxLowered = true;
            sub.PublishedMax = sub.MaxPriority;
            arr[n++] = new SubtableRef(sub, sub.MaxPriority);
        }
        Array.Sort(arr, static (a, b) => CompareOrder(a.Table, a.MaxPriority, b.Table, b.MaxPriority));
        PublishPacketWords(arr);
        Volatile.Write(ref _order, arr);
        _w.Dirty = false;
        return true;
    }

    /// <summary>Writer: <see cref="PacketWords"/> and <see cref="TestsActset"/> for the order about to be published.</summary>
    private void PublishPacketWords(SubtableRef[] order)
    {
        ulong tunnel = 0, fields = 0, actset = 0;
        foreach (var sr in order)
        {
            if (sr.Table.RegisterWords < 1 << Registers.PipelineWord) continue;
            ref readonly var m = ref sr.Table.RegisterMask;
            tunnel |= m.Word(Registers.TunnelWord);
            fields |= m.Word(Registers.PacketWord);
            actset |= m.Word(Registers.PipelineWord) & 0xFFFF_FFFFUL;
        }
        var cur = _packetWords;
        if ((tunnel | fields) == 0) Volatile.Write(ref _packetWords, null);
        else if (cur is null || cur.Tunnel != tunnel || cur.Fields != fields) Volatile.Write(ref _packetWords, new PacketWordUse(tunnel, fields));
        _actsetWords = actset != 0;
    }

    private int CompareForRemoval(FlowEntry a, FlowEntry b)
    {
        if (a.Priority != b.Priority) return a.Priority.CompareTo(b.Priority);
        bool ax = a.Match.IsExact, bx = b.Match.IsExact;
        if (ax != bx) return ax ? 1 : -1;
        var ma = a.Match.MaskBits;
        var mb = b.Match.MaskBits;
        if (ax || ma.Equals(mb)) return 0;
        var sa = _byMask[ma];
        var sb = _byMask[mb];
        return -CompareOrder(sa, sa.PublishedMax, sb, sb.PublishedMax);
    }

    /// <summary>The search-order comparison (also the tie rule): max priority desc, specificity desc, mask words asc.</summary>
    internal static int CompareOrder(Subtable a, int aMax, Subtable b, int bMax)
    {
        if (aMax != bMax) return bMax.CompareTo(aMax);
        if (a.Specificity != b.Specificity) return b.Specificity.CompareTo(a.Specificity);
        int c = FlowHash.CompareWords(a.Mask, b.Mask);
        return c != 0 ? c : a.RegisterMask.CompareWords(b.RegisterMask);
    }

    /// <summary>Writer: true when some rule of this priority overlaps <paramref name="match"/> (OFPFF_CHECK_OVERLAP).</summary>
    public bool HasOverlap(in FlowMatch match, ushort priority)
    {
        if (!_byPriority.TryGetValue(priority, out var set)) return false;
        foreach (var e in set)
            if (e.Match.Overlaps(match)) return true;
        return false;
    }

    /// <summary>Writer: appends every rule whose match is a subset of <paramref name="request"/> (OF1.0 non-strict).</summary>
    public void CollectSubsets(in FlowMatch request, List<FlowEntry> into)
    {
        foreach (var sub in _byMask.Values)
        {
            // A rule can be a subset only if its mask has every bit of the request's mask.
            if (!FlowHash.Covers(sub.Mask, request.Mask) || !sub.RegisterMask.Covers(request.RegisterMask) || (request.UsesConjId && !sub.ConjId)) continue;
            if (sub.Bits.Equals(request.MaskBits))
            {
                for (var e = sub.FindTop(request); e is not null; e = Next(e)) into.Add(e);
                continue;
            }
            var entries = sub.Map.WriterTable.Entries;
            for (int i = 0; i < entries.Length; i++)
            {
                var top = entries[i];
                if (top is null || !top.Match.Value.MatchesMasked(request.Mask, request.Value)
                    || !top.Match.RegisterValue.MatchesMasked(request.RegisterMask, request.RegisterValue)
                    || (request.UsesConjId && top.Match.ConjIdValue != request.ConjIdValue))
                {
                    continue;
                }
                for (var e = top; e is not null; e = Next(e)) into.Add(e);
            }
        }
    }

    /// <summary>Writer: appends every rule with exactly this match, whatever its priority.</summary>
    public void CollectIdentical(in FlowMatch match, List<FlowEntry> into)
    {
        if (!_byMask.TryGetValue(match.MaskBits, out var sub)) return;
        for (var e = sub.FindTop(match); e is not null; e = Next(e)) into.Add(e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FlowEntry? Next(FlowEntry e) => e.NextLowerPriority;

    internal readonly struct SubtableRef(Subtable table, int maxPriority)
    {
        public readonly Subtable Table = table;
        public readonly int MaxPriority = maxPriority;
    }
}

/// <summary>The bits of the packet's tunnel and TTL/TCP-flags words some rule of a table tests (immutable; see <see cref="TupleSpace.PacketWords"/>).</summary>
internal sealed class PacketWordUse(ulong tunnel, ulong fields)
{
    public readonly ulong Tunnel = tunnel;
    public readonly ulong Fields = fields;
}
