using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Bench.Micro;

/// <summary>
/// Classifier lookups, one benchmark per path (EMC hit, exact hit, tuple-space bursts, miss). Each invocation is one
/// burst of 32 packets; results are per packet (OperationsPerInvoke = 32).
/// </summary>
[MemoryDiagnoser]
public class ClassifierLookupBenchmarks
{
    private const int Burst = 32;
    private const int SampleKeys = 4096;

    private OfFlowTables _exactTable = null!;
    private FlowKey[] _exactKeys = null!;
    private uint[] _exactHashes = null!;

    private OfFlowTables _emcTable = null!;
    private ExactMatchCache _emc = null!;
    private FlowKey[] _emcKeys = null!;
    private uint[] _emcHashes = null!;

    private OfFlowTables _missTable = null!;
    private FlowKey[] _missKeys = null!;
    private uint[] _missHashes = null!;

    private readonly FlowEntry?[] _results = new FlowEntry?[Burst];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        // 100k exact flows; lookups spread over 4096 of them, no EMC.
        (_exactTable, var all) = ClassifierWorkloads.ExactTable(100_000);
        var rng = new Random(1);
        _exactKeys = Enumerable.Range(0, SampleKeys).Select(_ => all[rng.Next(all.Length)]).ToArray();
        _exactHashes = _exactKeys.Select(k => k.Hash()).ToArray();

        // EMC hits: 32 hot flows (wildcard rules, which the EMC has to validate by version).
        var (tuple, keys) = ClassifierWorkloads.TupleTable(masks: 16, rules: 1000, seed: 3);
        _emcTable = tuple;
        _emc = new ExactMatchCache(8192);
        _emcKeys = keys.Where(k => tuple.Lookup(k, 0) is not null).Take(Burst).ToArray();
        _emcHashes = _emcKeys.Select(k => k.Hash()).ToArray();
        for (int i = 0; i < 4; i++) _emcTable.LookupBurst(_emcKeys, _emcHashes, _results, _emc);

        // Misses: 16 masks / 1000 rules that all match in_port, packets from an in_port no rule mentions, no EMC.
        (_missTable, var missBase) = ClassifierWorkloads.TupleTable(masks: 16, rules: 1000, seed: 5, pinInPort: true);
        _missKeys = missBase.Select(k => new FlowKeyBuilder(k).InPort(999).Key).ToArray();
        _missHashes = _missKeys.Select(k => k.Hash()).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public void EmcHit() => _emcTable.LookupBurst(_emcKeys, _emcHashes, _results, _emc);

    [Benchmark(OperationsPerInvoke = Burst)]
    public void ExactHit100k()
    {
        int off = _next;
        _next = (off + Burst) & (SampleKeys - 1);
        _exactTable.LookupBurst(_exactKeys.AsSpan(off, Burst), _exactHashes.AsSpan(off, Burst), _results, null);
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public void Miss16Subtables()
    {
        int off = _next;
        _next = (off + Burst) & (SampleKeys - 1);
        _missTable.LookupBurst(_missKeys.AsSpan(off, Burst), _missHashes.AsSpan(off, Burst), _results, null);
    }
}

/// <summary>Tuple-space burst lookups (no EMC, no exact rules) over 1000 wildcard rules in N subtables.</summary>
[MemoryDiagnoser]
public class ClassifierTupleSpaceBenchmarks
{
    private const int Burst = 32;

    [Params(1, 8, 16, 32)]
    public int Subtables;

    private OfFlowTables _table = null!;
    private FlowKey[] _keys = null!;
    private uint[] _hashes = null!;
    private readonly FlowEntry?[] _results = new FlowEntry?[Burst];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        (_table, _keys) = ClassifierWorkloads.TupleTable(Subtables, rules: 1000, seed: 4);
        _hashes = _keys.Select(k => k.Hash()).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public void WildcardBurst()
    {
        int off = _next;
        _next = (off + Burst) & (_keys.Length - 1);
        _table.LookupBurst(_keys.AsSpan(off, Burst), _hashes.AsSpan(off, Burst), _results, null);
    }
}

/// <summary>Flow-mod throughput on a table of 100k exact flows: ADD+DELETE_STRICT pairs, one by one and batched.</summary>
[MemoryDiagnoser]
public class ClassifierFlowModBenchmarks
{
    private const int BatchPairs = 500;

    private OfFlowTables _table = null!;
    private FlowActions _actions = null!;
    private FlowMatch[] _matches = null!;
    private FlowMod[] _batch = null!;
    private FlowModStatus[] _statuses = null!;
    private readonly List<FlowRemoved> _removed = new(2 * BatchPairs);
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        (_table, _) = ClassifierWorkloads.ExactTable(100_000);
        _actions = new FlowActions([FlowAction.Output(3)]);
        _matches = Enumerable.Range(0, 1 << 16).Select(i => FlowMatch.Exact(ClassifierWorkloads.ExactKey(1_000_000 + i))).ToArray();
        _batch = new FlowMod[2 * BatchPairs];
        _statuses = new FlowModStatus[_batch.Length];
    }

    /// <summary>One ADD and one DELETE_STRICT, each through <see cref="OfFlowTables.Apply(in FlowMod, List{FlowRemoved})"/> (two lock round trips).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void AddDeletePair()
    {
        var m = _matches[_next++ & 0xFFFF];
        _removed.Clear();
        _table.Apply(new FlowMod(FlowModCommand.Add, m, 0, _actions, IdleTimeout: 10), _removed);
        _table.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, 0, _actions), _removed);
    }

    /// <summary>500 ADD+DELETE_STRICT pairs in one <see cref="OfFlowTables.ApplyBatch"/> (one lock, one publish).</summary>
    [Benchmark(OperationsPerInvoke = 2 * BatchPairs)]
    public void ApplyBatchPairs()
    {
        for (int i = 0; i < _batch.Length; i += 2)
        {
            var m = _matches[_next++ & 0xFFFF];
            _batch[i] = new FlowMod(FlowModCommand.Add, m, 0, _actions, IdleTimeout: 10);
            _batch[i + 1] = new FlowMod(FlowModCommand.DeleteStrict, m, 0, _actions);
        }
        _removed.Clear();
        _table.ApplyBatch(_batch, _statuses, _removed);
    }
}

/// <summary>Deterministic rule sets and packets for the classifier benchmarks.</summary>
internal static class ClassifierWorkloads
{
    public static FlowKey ExactKey(int id)
        => new FlowKeyBuilder().InPort((ushort)(1 + (id & 7))).DlVlan(0xFFFF).DlType(0x0800).NwProto(6)
            .NwSrc(0x0A000000u + (uint)id).NwDst(0xC0A80000u + (uint)(id >> 8)).TpSrc((ushort)id).TpDst(80).Key;

    public static (OfFlowTables, FlowKey[]) ExactTable(int flows)
    {
        var table = new OfFlowTables(new ManualClock());
        var actions = new FlowActions([FlowAction.Output(1)]);
        var keys = new FlowKey[flows];
        var mods = new FlowMod[flows];
        for (int i = 0; i < flows; i++)
        {
            keys[i] = ExactKey(i);
            mods[i] = new FlowMod(FlowModCommand.Add, FlowMatch.Exact(keys[i]), 0, actions);
        }
        table.ApplyBatch(mods, new FlowModStatus[flows], null);
        return (table, keys);
    }

    /// <summary>
    /// <paramref name="rules"/> wildcard rules over <paramref name="masks"/> distinct OF1.0 wildcard patterns with
    /// random priorities, and 4096 packets, 90% built to match a random rule. <paramref name="pinInPort"/>: no
    /// pattern wildcards in_port (so a packet from an unknown port misses everything).
    /// </summary>
    public static (OfFlowTables, FlowKey[]) TupleTable(int masks, int rules, int seed, bool pinInPort = false)
    {
        var rng = new Random(seed);
        var pool = new HashSet<OfWildcards>();
        OfWildcards[] singles = [OfWildcards.InPort, OfWildcards.DlVlan, OfWildcards.DlSrc, OfWildcards.DlDst, OfWildcards.DlType,
                               OfWildcards.NwProto, OfWildcards.TpSrc, OfWildcards.TpDst, OfWildcards.DlVlanPcp, OfWildcards.NwTos];
        while (pool.Count < masks)
        {
            var w = OfWildcards.TunIdExt;
            foreach (var s in singles) if (rng.Next(2) == 0 && !(pinInPort && s == OfWildcards.InPort)) w |= s;
            w |= (OfWildcards)((uint)(8 * rng.Next(5)) << (int)OfWildcards.NwSrcShift);
            w |= (OfWildcards)((uint)(8 * rng.Next(5)) << (int)OfWildcards.NwDstShift);
            if (w != OfWildcards.TunIdExt) pool.Add(w);
        }
        var maskList = pool.ToArray();
        var table = new OfFlowTables(new ManualClock());
        var actions = new FlowActions([FlowAction.Output(2)]);
        var mods = new FlowMod[rules];
        for (int i = 0; i < rules; i++)
        {
            var m = FlowMatch.FromOpenFlow(maskList[i % maskList.Length], RandomKey(rng));
            mods[i] = new FlowMod(FlowModCommand.Add, m, (ushort)rng.Next(65536), actions);
        }
        table.ApplyBatch(mods, new FlowModStatus[rules], null);
        var keys = new FlowKey[4096];
        for (int i = 0; i < keys.Length; i++)
        {
            var r = RandomKey(rng);
            if (rng.Next(10) != 0)
            {
                var m = mods[rng.Next(rules)].Match;
                r = new FlowKey(m.Value.W0 | (r.W0 & ~m.Mask.W0), m.Value.W1 | (r.W1 & ~m.Mask.W1), m.Value.W2 | (r.W2 & ~m.Mask.W2),
                                m.Value.W3 | (r.W3 & ~m.Mask.W3), m.Value.W4 | (r.W4 & ~m.Mask.W4), m.Value.W5 | (r.W5 & ~m.Mask.W5));
            }
            keys[i] = r;
        }
        return (table, keys);
    }

    private static FlowKey RandomKey(Random rng)
        => new FlowKeyBuilder().InPort((ushort)rng.Next(1, 9)).DlVlan(rng.Next(2) == 0 ? (ushort)0xFFFF : (ushort)rng.Next(1, 4))
            .DlVlanPcp((byte)rng.Next(2)).DlSrc(new MacAddress((ulong)rng.NextInt64(1L << 48))).DlDst(new MacAddress((ulong)rng.NextInt64(1L << 48)))
            .DlType(0x0800).NwTos((byte)(rng.Next(4) * 4)).NwProto(rng.Next(2) == 0 ? (byte)6 : (byte)17)
            .NwSrc((uint)rng.Next()).NwDst((uint)rng.Next()).TpSrc((ushort)rng.Next(1024)).TpDst((ushort)rng.Next(1024)).Key;
}
