using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

// Multi-stage classification through cached pipeline verdicts, and the crediting of their packets to the rules. Its
// fields are declared with the rest of the thread's state in Forwarder.cs.
public sealed partial class Forwarder
{
    /// <summary>
    /// Longest a rule's counters and idle time lag behind the packets a busy thread runs through it (10 ms: a
    /// controller reads flow stats every second or so and idle timeouts count whole seconds; Open vSwitch's
    /// revalidators push datapath counts to its rules every half second or more).
    /// </summary>
    internal const long CreditFlushNanos = 10_000_000;

    /// <summary>Pipeline verdicts this thread built (chains it had not seen; each is an allocation unless <see cref="VerdictsReused"/> counts it).</summary>
    public long VerdictsBuilt => _verdicts.Built;

    /// <summary>Of <see cref="VerdictsBuilt"/>, those that reused a pooled verdict instead of allocating one.</summary>
    public long VerdictsReused => _verdicts.Reused;

    /// <summary>
    /// Steps 3 and 4 of a multi-stage pipeline (<see cref="Pipeline.IsMultiStage"/>): per packet, the verdict cached
    /// under its key when it is current (one cache lookup however many tables the packet goes through), else a
    /// table-by-table run (<see cref="PipelineWalk"/>) whose verdict the thread's <see cref="VerdictInterner"/> shares
    /// among every key with the same chain (built, and allocated, once per new chain) and the cache is offered; then
    /// packets are grouped by verdict and each group runs once (<see cref="RunVerdictBatch"/>). Without a cache (or
    /// while the governor bypasses it) every packet runs the tables. Packets whose verdict ends at a re-parse point
    /// then go on through the rest of the pipeline (<see cref="Recirculate"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ClassifyStages(Pipeline pipeline, Span<int> pkts, Span<FlowKey> keys, Span<uint> hashes, Span<PacketLayers> layers, PortSlot inSlot)
    {
        ClassifyPass<FromTableZero>(pipeline, pkts, keys, hashes, layers, inSlot, default);
        if (_recircCount != 0) Recirculate(pipeline, inSlot);
    }

    /// <summary>
    /// One pass of <see cref="ClassifyStages"/> over <paramref name="pkts"/>: from table 0, or (<typeparamref name="TPass"/>
    /// <see cref="AfterReparse"/>) each packet from its continuation in <paramref name="starts"/>, its key the re-parsed
    /// packet's and its hash mixed with the continuation's.
    /// </summary>
    private void ClassifyPass<TPass>(Pipeline pipeline, Span<int> pkts, Span<FlowKey> keys, Span<uint> hashes, Span<PacketLayers> layers, PortSlot inSlot,
                                     ReadOnlySpan<PipelineContinuation> starts)
        where TPass : struct, IClassifyPass
    {
        int n = pkts.Length;
        var verdicts = _burstVerdicts.AsSpan(0, n);
        // Before any verdict is checked: the commits up to it have moved every verdict's words (see below).
        long committed = pipeline.Versions.Committed;
        var emc = Cache;
        bool consulted = emc is not null && EmcGovernor.Active;
        int walked = 0, grouped = 0;
        Span<byte> rest = _batchRest;
        for (int i = 0; i < n; i++)
        {
            PipelineVerdict? v;
            if (BypassVerdictCaches)
            {
                _walk.Run(pipeline, keys[i], null, TPass.Reparsed ? starts[i] : null, TunnelWordOf(pkts[i]), PacketWords.Fields(Pool.Frame(pkts[i]), layers[i]));
                v = VerdictInterner.Build(_walk);
                PipelineWalks++;
            }
            else
            {
                PipelineVerdict? stale = null;
                v = consulted ? emc!.LookupVerdict(keys[i], hashes[i], out stale) : null;
                // The hash's mix tells continuations apart; a continuation's id is unique, so this holds but after a wrap.
                if (TPass.Reparsed && (!ReferenceEquals((v ?? stale)?.Start, starts[i])))
                {
                    v = null;
                    stale = null;
                }
                // A verdict through a table whose rules test the packet's words stands for the values its run saw.
                if (v is { PacketDependent: true } && !v.PacketMatches(TunnelWordOf(pkts[i]), PacketWords.Fields(Pool.Frame(pkts[i]), layers[i])))
                    v = null;
                if (v is null && stale is not null && (v = Repair(stale, keys[i], verdicts[..i])) is not null)
                {
                    VerdictRepairs++;
                    if (!ReferenceEquals(v, stale)) emc!.InsertVerdict(keys[i], hashes[i], v);
                }
                else if (v is null)
                {
                    _walk.Run(pipeline, keys[i], null, TPass.Reparsed ? starts[i] : null, TunnelWordOf(pkts[i]), PacketWords.Fields(Pool.Frame(pkts[i]), layers[i]));
                    v = _verdicts.Intern(_walk);
                    walked++;
                    if (consulted) emc!.InsertVerdict(keys[i], hashes[i], v);
                }
            }
            verdicts[i] = v;
            // A verdict whose composed list is one output to a port, or rewrites then one, needs no batch (as a flow's,
            // in ClassifyAndExecute).
            var actions = v.Actions;
            if ((actions.SoleOutput | actions.RewriteOutput) != 0 && v.End == PipelineEnd.Actions)
            {
                int p = pkts[i];
                Pend(v, 1, Pool.Length[p]);
                QueueDirect(actions, p, ref layers[i]);
                continue;
            }
            rest[grouped++] = (byte)i;
        }
        PipelineWalks += walked;
        if (emc is not null)
        {
            if (!consulted) EmcGovernor.Bypassed(n, emc.Hits, emc.Hits + emc.Misses, _cachedTable, _cachedTable.Count);
            else if (EmcGovernor.Consulted(n, emc.Hits, emc.Hits + emc.Misses, walked, _cachedTable, _cachedTable.Count))
                Counters.Add(DatapathCounters.EmcBypass);
        }

        // The burst's groups are those of the tables version its verdicts were found at (GroupTable's versions). When
        // the version after its verdicts is the last commit done before them, every verdict is of that version: a
        // cached one was checked after that commit moved its words and before any later commit stored its version, a
        // walk or repair read that version itself. Otherwise a commit ran meanwhile, and a verdict checked before it
        // moved the words may be the rules before it: the rest are walked again, each with its groups at its walk's
        // version (verdicts run with no batch, one output or rewrites then one, apply no group and stand).
        long version = pipeline.Versions.Current;
        if (version != committed && grouped != 0)
        {
            RunWalkedAgain(pipeline, pkts, keys, layers, inSlot, starts, rest[..grouped], TPass.Reparsed);
        }
        else
        {
            Executor.GroupsVersion = version;
            int batches = Group(new ByVerdict(_burstVerdicts, ++_verdictBursts), rest[..grouped], pkts, layers);
            for (int b = 0; b < batches; b++)
            {
                RunVerdictBatch(verdicts[_batchFirst[b]]!, BatchPackets(b), BatchLayers(b), inSlot);
                TunnelId = 0;   // what the batch's list set is its own (and its miss's packet-in's)
            }
        }
        verdicts.Clear();
        if (_dirtyCount != 0 && _now - _lastCreditFlush >= CreditFlushNanos) FlushVerdictCredits();
        // No packet of the burst refers to a verdict now: those no cache slot holds can be reused.
        _verdicts.Recycle();
    }

    /// <summary>
    /// The packets at <paramref name="rest"/> of a burst a commit ran inside (see <see cref="ClassifyPass"/>): each is
    /// walked again and run on its own, its groups at the version its walk looked every stage up at.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunWalkedAgain(Pipeline pipeline, Span<int> pkts, Span<FlowKey> keys, Span<PacketLayers> layers, PortSlot inSlot,
                                ReadOnlySpan<PipelineContinuation> starts, ReadOnlySpan<byte> rest, bool reparsed)
    {
        foreach (byte i in rest)
        {
            _walk.Run(pipeline, keys[i], null, reparsed ? starts[i] : null, TunnelWordOf(pkts[i]), PacketWords.Fields(Pool.Frame(pkts[i]), layers[i]));
            var v = _verdicts.Intern(_walk);
            PipelineWalks++;
            Executor.GroupsVersion = _walk.Version;
            RunVerdictBatch(v, pkts.Slice(i, 1), layers.Slice(i, 1), inSlot);
            TunnelId = 0;
        }
    }

    /// <summary>The tunnel endpoints of packet <paramref name="p"/> (<see cref="PacketPool.TunIp"/> when it came through a tunnel, else 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong TunnelWordOf(int p) => TunnelRx ? Pool.TunIp[p] : 0;

    /// <summary>
    /// Credits every verdict's pending packets to its rules (packets, bytes, idle time), each distinct rule once, and
    /// only the incarnation the verdict was built with (a rule removed, or recycled as another, since then gets
    /// nothing: its removal already reported its counters). Runs at most <see cref="CreditFlushNanos"/> after a busy
    /// thread's packets, and as soon as the port that last had packets runs dry, so an idle switch's counters are exact;
    /// the verdicts belong to this thread, so between flushes a packet costs no write to its rules' lines.
    /// </summary>
    private void FlushVerdictCredits()
    {
        // A busy thread's verdicts and their rules are cold by now, and each payment is a chain of loads (the verdict,
        // its arrays, its rules): prefetched 8, 4 and 2 verdicts ahead, so the misses of several payments overlap.
        int count = _dirtyCount;
        for (int d = 0; d < count; d++)
        {
            if (d + 8 < count) Prefetch.Object(_dirty[d + 8], 2);
            if (d + 4 < count) _dirty[d + 4].PrefetchCredits();
            if (d + 2 < count) _dirty[d + 2].PrefetchRules();
            PayPending(_dirty[d]);
            _dirty[d] = null!;
            if (_creditCount >= CreditSlots / 2) FlushCredits();
        }
        _dirtyCount = 0;
        FlushCredits();
        _lastCreditFlush = _now;
        _verdicts.CreditsPaid();
    }

    /// <summary>
    /// Credits <paramref name="v"/>'s pending packets to the rules it was built with (those still there as the same
    /// incarnation). A verdict paid ahead of the flush (before a repair) may be listed again as dirty: it then has
    /// nothing pending.
    /// </summary>
    private void PayPending(PipelineVerdict v)
    {
        if (v.PendingPackets == 0) return;
        long pending = v.PendingPackets;
        int packets = (int)Math.Min(int.MaxValue, pending);
        long bytes = v.PendingBytes;
        v.PendingPackets = 0;
        v.PendingBytes = 0;
        var stats = StageStats;
        foreach (ref readonly var c in v.Checks)
        {
            stats.Lookups[c.StageId] += pending;
            if (c.Hit is not { } e) continue;
            if (c.Matched) stats.Matched[c.StageId] += pending;
            // The incarnation the verdict found, also removed while its table has not published the removal (a run of
            // flow-mods holds it, and the rule still forwards: its final counts include these packets); such a rule
            // gets no new incarnation before this thread's next quiescent point.
            if (e.Serial == c.Serial && (!e.IsRemoved || c.Table.Removals == c.Removals)) Credit(e, packets, bytes);
        }
    }

    /// <summary>
    /// The verdict for <paramref name="key"/> made from the stale verdict its cache slot holds, when every stage that
    /// changed now finds a rule that does the same (<see cref="PipelineVerdict.FindRepair"/>), or null (the caller runs
    /// the pipeline). When only this key's slot holds it and no earlier packet of the burst was given it, the stale
    /// verdict itself is repaired in place after its pending credits are paid to the rules it was built with (those
    /// packets went through them). Otherwise (another key shares it and may find other rules; a packet of the burst
    /// holds it) it is left as it is, and the repaired chain is interned as a run's would be, shared with every key of
    /// that chain, built or taken from the pool when new, with the stale verdict's composed actions; the caller puts it
    /// in the key's slot. Either way no table but the changed ones is looked up, and no composed list is interned.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal PipelineVerdict? Repair(PipelineVerdict v, in FlowKey key, ReadOnlySpan<PipelineVerdict?> earlier)
    {
        if (v.Retired || !v.FindRepair(key, _walk, out long changes)) return null;
        bool alone = v.Refs == 1;
        foreach (var x in earlier)
        {
            if (!alone) break;
            if (ReferenceEquals(x, v)) alone = false;
        }
        if (alone)
        {
            PayPending(v);
            v.CommitRepair(_walk, changes);
            return v;
        }
        _walk.LoadRepaired(v, changes);
        return _verdicts.Intern(_walk, v.Actions);
    }

    /// <summary>Adds a batch to a rule's credit for this burst (see <see cref="FlushCredits"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Credit(FlowEntry e, int packets, long bytes)
    {
        int h = e.Serial & (CreditSlots - 1);
        while (true)
        {
            var c = _creditEntry[h];
            if (c is null)
            {
                if (_creditCount >= CreditSlots / 2)
                {
                    // Never fuller than half (a burst visits at most 32 verdicts' rules; this is only a guard).
                    Count(e, packets, bytes);
                    return;
                }
                _creditEntry[h] = e;
                _creditPackets[h] = packets;
                _creditBytes[h] = bytes;
                _creditUsed[_creditCount++] = (byte)h;
                return;
            }
            if (ReferenceEquals(c, e))
            {
                _creditPackets[h] += packets;
                _creditBytes[h] += bytes;
                return;
            }
            h = (h + 1) & (CreditSlots - 1);
        }
    }

    /// <summary>Credits every rule the burst hit once (one pair of atomic adds per rule per burst, not per verdict).</summary>
    private void FlushCredits()
    {
        for (int i = 0; i < _creditCount; i++)
        {
            int h = _creditUsed[i];
            Count(_creditEntry[h]!, _creditPackets[h], _creditBytes[h]);
            _creditEntry[h] = null;
        }
        _creditCount = 0;
    }

    /// <summary>
    /// The list of verdicts with pending credits is full: made at its first use, doubled while under
    /// <see cref="DirtySlots"/> (a forwarder of a quiet bridge keeps a short list: a hundred bridges' forwarders with
    /// full-size lists held megabytes), flushed once at that size.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DirtyFull()
    {
        if (_dirty.Length == 0) _dirty = new PipelineVerdict[FirstDirtySlots];
        else if (_dirty.Length < DirtySlots) Array.Resize(ref _dirty, _dirty.Length * 2);
        else FlushVerdictCredits();
    }

    /// <summary>
    /// Adds packets to <paramref name="v"/>'s pending credits: every rule it hit gets them at the next
    /// <see cref="FlushVerdictCredits"/> (packets, bytes, idle time), and every stage it visited counts the lookups
    /// (and the match when it hit) then too, so a packet writes only the verdict's own line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Pend(PipelineVerdict v, int packets, long bytes)
    {
        if (v.PendingPackets == 0)
        {
            if (_dirtyCount == _dirty.Length) DirtyFull();
            _dirty[_dirtyCount++] = v;
        }
        v.PendingPackets += packets;
        v.PendingBytes += bytes;
    }

    /// <summary>
    /// Step 4 for the packets of one verdict: the composed actions run once over the batch, a miss ends as the missing
    /// stage's mode says (for the packets the actions left), a re-parse point queues them for the rest of the pipeline
    /// (<see cref="Reparse"/>), and the batch is added to the verdict's pending credits
    /// (<see cref="Pend"/>); when a meter or dec_ttl dropped some, each stage is credited at once with what reached it
    /// (<see cref="PayStaged"/>).
    /// </summary>
    private void RunVerdictBatch(PipelineVerdict v, Span<int> pkts, Span<PacketLayers> layers, PortSlot inSlot)
    {
        int n = pkts.Length;
        long bytes = 0;
        foreach (int p in pkts) bytes += Pool.Length[p];
        var actions = v.Actions;
        RunningVerdict = v; // a fin_timeout in its list names its rule by visit
        if (v.End != PipelineEnd.Actions)
        {
            Span<int> live = pkts;
            bool cut = false;
            if (actions.Items.Length != 0)
            {
                ExecuteComposed(actions, pkts, layers);
                cut = Executor.CutDropped;
                if (cut) live = Executor.TopLive;
            }
            if (cut) PayStaged(v, n, bytes);
            else Pend(v, n, bytes);
            if (live.IsEmpty) return;
            if (v.End == PipelineEnd.Recirculate)
            {
                Reparse(live, v.Next!);
            }
            else if (v.End == PipelineEnd.MissController)
            {
                Misses += live.Length;
                HandleMisses(live, layers[..live.Length], inSlot);
            }
            else if (v.End == PipelineEnd.ResubmitDrop)
            {
                Drops.Add(DropReason.Resubmit, live.Length);
            }
            else
            {
                if (Sampler.Skip(Pool, live)) Sampler.Take(Pool, live, null);
                Drops.Add(DropReason.FlowDrop, live.Length);
            }
            return;
        }
        if (Sampler.Skip(Pool, pkts)) Sampler.Take(Pool, pkts, actions);
        if (actions.Items.Length == 0)
        {
            Pend(v, n, bytes);
            Drops.Add(DropReason.FlowDrop, n);
            return;
        }
        ExecuteComposed(actions, pkts, layers);
        if (Executor.CutDropped) PayStaged(v, n, bytes);
        else Pend(v, n, bytes);
    }

    /// <summary>
    /// Credits one batch of <paramref name="v"/> in which a filter (meter, dec_ttl) dropped packets: each stage, and the
    /// rule it hit, with the packets that reached it, as the executor's log of filters says (the filters in each stage's
    /// part of the composed list: its meter instruction, then its apply-actions'); nothing to a rule no packet reached.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PayStaged(PipelineVerdict v, int packets, long bytes)
    {
        var log = Executor;
        var stats = StageStats;
        int cut = 0;
        foreach (ref readonly var c in v.Checks)
        {
            if (packets != 0)
            {
                stats.Lookups[c.StageId] += packets;
                if (c.Matched) stats.Matched[c.StageId] += packets;
            }
            if (c.Hit is not { } entry) continue;
            // The incarnation the verdict found, as PayPending credits it.
            if (packets != 0 && entry.Serial == c.Serial && (!entry.IsRemoved || c.Table.Removals == c.Removals)) Count(entry, packets, bytes);
            for (int k = FiltersOf(c); k > 0; k--, cut++)
            {
                if (cut >= log.CutCount)
                {
                    packets = 0;   // an earlier filter left nothing: the list ended there
                    bytes = 0;
                    continue;
                }
                packets = log.CutLive[cut];
                if (log.CutBytes[cut] >= 0) bytes = log.CutBytes[cut];
            }
        }
    }

    /// <summary>The filters a stage's hit put in the composed list: its meter instruction, and its apply-actions' meters and TTL decrements.</summary>
    private static int FiltersOf(in PipelineVerdict.StageCheck c)
    {
        int n = c.HitInstructions is { Meter: not 0 } ? 1 : 0;
        if (c.HitActions is { } actions)
        {
            foreach (ref readonly var a in actions.Items.AsSpan())
                if (a.Kind is ActionKind.Meter or ActionKind.DecNwTtl or ActionKind.DecMplsTtl) n++;
        }
        return n;
    }

    private void ExecuteComposed(FlowActions actions, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        var sink = new OutputStage.Sink(Output, false);
        Executor.Execute(actions, Pool, pkts, layers, ref sink);
    }
}
