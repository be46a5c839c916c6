using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Bench.Micro;

/// <summary>
/// The one-level exact table gate: bursts of 32 random keys (all hits) over N random exact flows, looked up and
/// counted (packets, bytes, last used) and their action list read, through the hash stage's former index
/// (<see cref="MapExactTable"/>) and its <see cref="FlowEntry"/> objects against <see cref="ExactRecordTable"/> (4 KiB
/// pages, and with huge pages advised).
/// Results are per packet (OperationsPerInvoke = 32). <c>bench exact-gate</c> runs the same work interleaved.
/// </summary>
[MemoryDiagnoser]
public class ExactGateBenchmarks
{
    [Params(1_000, 100_000, 1_000_000)]
    public int Flows;

    private ExactGateWorkload _w = null!;

    [GlobalSetup]
    public void Setup() => _w = new ExactGateWorkload(Flows);

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = ExactGateWorkload.Burst)]
    public long MapAndEntries() => _w.TodayBurst();

    [Benchmark(OperationsPerInvoke = ExactGateWorkload.Burst)]
    public long RecordTable() => _w.RecordBurst(huge: false);

    [Benchmark(OperationsPerInvoke = ExactGateWorkload.Burst)]
    public long RecordTableHugePages() => _w.RecordBurst(huge: true);
}

/// <summary>The gate's tables, built over the same random keys, and one burst of work through each.</summary>
internal sealed class ExactGateWorkload : IDisposable
{
    public const int Burst = 32;
    private const int StreamKeys = 1 << 16;
    private const int FrameBytes = 64;

    private readonly MapExactTable _exact;
    private readonly ExactRecordTable _records, _recordsHuge;
    private readonly Softswitch.Datapath.Classifier.ExactRecordTable _built;
    private readonly FlowActions[] _actionLists;
    private readonly FlowKey[] _stream;
    private readonly FlowEntry?[] _results = new FlowEntry?[Burst];
    private readonly int[] _slots = new int[Burst];
    private int _next;
    private long _nowNanos = 1_000_000_000;

    public ExactGateWorkload(int flows, int seed = 1)
    {
        Keys = RandomExactKeys(flows, seed);
        // Interned per table: id 1 is the only list here (a real table has few distinct lists; they stay in L1).
        var actions = new FlowActions([FlowAction.Output(2)]);
        _actionLists = [FlowActions.Drop, actions];
        _exact = new MapExactTable(flows);
        foreach (var k in Keys)
        {
            var e = new FlowEntry(FlowMatch.Exact(k), ushort.MaxValue, actions, 0, 0, 0);
            if (_exact.FindForInsert(e.Match.Value, out int slot, out uint hash) is not null) throw new InvalidOperationException("duplicate key");
            _exact.InsertAt(slot, hash, e);
        }
        _records = new ExactRecordTable(flows);
        _recordsHuge = new ExactRecordTable(flows, hugePages: true);
        foreach (var k in Keys)
        {
            _records.Insert(k, 1);
            _recordsHuge.Insert(k, 1);
        }
        // The datapath's own record table (its generation 2 MiB aligned with huge pages advised from 2 MiB up).
        _built = new Softswitch.Datapath.Classifier.ExactRecordTable(new QuiescentDomain(), flows);
        foreach (var k in Keys)
        {
            if (!_built.Insert(new FlowEntry(FlowMatch.Exact(k), ushort.MaxValue, actions, 0, 0, 0), actions)) throw new InvalidOperationException("duplicate key");
        }
        var rng = new Random(seed + 1);
        _stream = new FlowKey[StreamKeys];
        for (int i = 0; i < _stream.Length; i++) _stream[i] = Keys[rng.Next(flows)];
    }

    /// <summary>The distinct exact keys installed in every table (masked by <see cref="FlowMatch.ExactMaskNoTun"/>).</summary>
    public FlowKey[] Keys { get; }

    public bool HugePagesAdvised => _recordsHuge.HugePagesAdvised;

    /// <summary>Today: the burst lookup of the map and its entries, then each entry counted and its actions read.</summary>
    public long TodayBurst()
    {
        var keys = NextBurst(out long now);
        ulong pending = (1UL << Burst) - 1;
        _exact.LookupBurst(keys, ref pending, _results);
        if (pending != 0) throw new InvalidOperationException("gate workload missed");
        long sum = 0;
        for (int i = 0; i < Burst; i++)
        {
            var e = _results[i]!;
            e.Forwarded(1, FrameBytes, now, FlowEntry.SoleWriter);
            sum += e.Actions.Items.Length;
        }
        return sum;
    }

    /// <summary>The record table: the burst lookup, then each record counted and its interned action list read.</summary>
    public long RecordBurst(bool huge)
    {
        var table = huge ? _recordsHuge : _records;
        var keys = NextBurst(out long now);
        uint nowMillis = (uint)(now / 1_000_000);
        ulong pending = (1UL << Burst) - 1;
        table.LookupBurst(keys, ref pending, _slots);
        if (pending != 0) throw new InvalidOperationException("gate workload missed");
        long sum = 0;
        for (int i = 0; i < Burst; i++)
        {
            ref var r = ref table.Record(_slots[i]);
            r.Packets++;
            r.Bytes += FrameBytes;
            if (r.LastUsedMillis != nowMillis) r.LastUsedMillis = nowMillis;
            sum += _actionLists[r.ActionId].Items.Length;
        }
        return sum;
    }

    /// <summary>The datapath's record table (<c>Softswitch.Datapath.Classifier.ExactRecordTable</c>): the same work
    /// through its generation's burst lookup, <c>Forwarded</c> (the sole forwarding thread) and <c>ActionsOf</c>.</summary>
    public long BuiltBurst()
    {
        var g = _built.Current;
        var keys = NextBurst(out long now);
        uint nowMillis = (uint)(now / 1_000_000);
        ulong pending = (1UL << Burst) - 1;
        g.LookupBurst(keys, ref pending, _slots);
        if (pending != 0) throw new InvalidOperationException("gate workload missed");
        long sum = 0;
        for (int i = 0; i < Burst; i++)
        {
            ref var r = ref g.Record(_slots[i]);
            Softswitch.Datapath.Classifier.ExactRecordTable.Forwarded(ref r, 1, FrameBytes, nowMillis, Softswitch.Datapath.Classifier.ExactRecordTable.SoleWriter);
            sum += _built.ActionsOf(r.Word)!.Items.Length;
        }
        return sum;
    }

    /// <summary>Packets counted in one record table, over every key (slow; for tests).</summary>
    public long RecordPackets(bool huge)
    {
        var table = huge ? _recordsHuge : _records;
        long n = 0;
        foreach (var k in Keys) n += table.Record(table.Find(k)).Packets;
        return n;
    }

    /// <summary>Packets counted in the datapath's record table, over every key (slow; for tests).</summary>
    public long BuiltPackets()
    {
        long n = 0;
        foreach (var k in Keys)
        {
            var e = _built.Find(k)!;
            _built.ReadCounts(e, out long p, out _, out _);
            n += e.Packets + p;
        }
        return n;
    }

    /// <summary>Packets counted in today's entries, over every key (slow; for tests).</summary>
    public long EntryPackets()
    {
        long n = 0;
        foreach (var k in Keys) n += _exact.Find(k)!.Packets;
        return n;
    }

    private ReadOnlySpan<FlowKey> NextBurst(out long now)
    {
        int off = _next;
        _next = (off + Burst) & (StreamKeys - 1);
        now = _nowNanos += 1000;
        return _stream.AsSpan(off, Burst);
    }

    /// <summary><paramref name="count"/> distinct random exact keys: random ports, addresses, MACs, VLAN and TOS.</summary>
    public static FlowKey[] RandomExactKeys(int count, int seed)
    {
        var rng = new Random(seed);
        var seen = new HashSet<FlowKey>(count);
        var keys = new FlowKey[count];
        int n = 0;
        while (n < count)
        {
            var k = new FlowKeyBuilder().InPort((ushort)rng.Next(1, 65)).DlVlan(rng.Next(2) == 0 ? (ushort)0xFFFF : (ushort)rng.Next(1, 4095))
                .DlSrc(new MacAddress((ulong)rng.NextInt64(1L << 48))).DlDst(new MacAddress((ulong)rng.NextInt64(1L << 48)))
                .DlType(0x0800).NwTos((byte)(rng.Next(64) << 2)).NwProto(rng.Next(2) == 0 ? (byte)6 : (byte)17)
                .NwSrc((uint)rng.Next()).NwDst((uint)rng.Next()).TpSrc((ushort)rng.Next(65536)).TpDst((ushort)rng.Next(65536)).Key
                .And(FlowMatch.ExactMaskNoTun);
            if (seen.Add(k)) keys[n++] = k;
        }
        return keys;
    }

    public void Dispose()
    {
        _records.Dispose();
        _recordsHuge.Dispose();
        _built.Dispose();
    }
}

/// <summary>
/// <c>bench exact-gate</c>: the gate's three variants and the datapath's own record table ("built") interleaved in one process (short slices, alternating order),
/// per flow count, several rounds; per packet it reports the thread's CPU time (what preemption on a shared machine
/// does not inflate) and wall time, the best slice of each round, the ratios, the load average and bytes allocated.
/// </summary>
internal static partial class ExactGateCommand
{
    public static int Run(string[] args)
    {
        int[] flows = [1_000, 100_000, 1_000_000];
        int rounds = 3, slices = 5, sliceMs = 200;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? v = i + 1 < args.Length ? args[i + 1] : null;
            if (v is null) return Usage($"{a} needs a value");
            switch (a)
            {
                case "--flows": flows = v.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--rounds": rounds = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--slices": slices = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--slice-ms": sliceMs = int.Parse(v, CultureInfo.InvariantCulture); break;
                default: return Usage($"unknown option {a}");
            }
            i++;
        }
        if (rounds < 1 || slices < 1 || sliceMs < 10 || flows.Any(f => f < 1)) return Usage("counts must be positive (slice-ms at least 10)");
        Console.WriteLine($"exact-gate: bursts of {ExactGateWorkload.Burst}, random keys, all hits; rounds {rounds}, {slices} slices of {sliceMs} ms per variant per round");
        Console.WriteLine($"load average at start: {LoadAverage()}");
        Console.WriteLine("flows     round  today cpu ns/pkt  record cpu ns/pkt  record+huge cpu ns/pkt  built cpu ns/pkt  record/today  huge/today  built/today  (wall ns/pkt: today, record, huge, built)  bytes/pkt");
        foreach (int n in flows)
        {
            using var w = new ExactGateWorkload(n);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            var variants = new Func<long>[] { w.TodayBurst, () => w.RecordBurst(false), () => w.RecordBurst(true), w.BuiltBurst };
            foreach (var f in variants) Slice(f, 300); // warm-up: tiered compilation, caches, TLB
            var ratios = new List<(double Record, double Huge, double Built)>();
            for (int round = 1; round <= rounds; round++)
            {
                var bestCpu = new double[4];
                var bestWall = new double[4];
                Array.Fill(bestCpu, double.MaxValue);
                Array.Fill(bestWall, double.MaxValue);
                long allocated = 0, packets = 0;
                for (int s = 0; s < slices; s++)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        int v = (s + round + j) % 4; // rotate which variant goes first
                        var (cpu, wall, bytes, pkts) = Slice(variants[v], sliceMs);
                        bestCpu[v] = Math.Min(bestCpu[v], cpu);
                        bestWall[v] = Math.Min(bestWall[v], wall);
                        allocated += bytes;
                        packets += pkts;
                    }
                }
                double r1 = bestCpu[0] / bestCpu[1], r2 = bestCpu[0] / bestCpu[2], r3 = bestCpu[0] / bestCpu[3];
                ratios.Add((r1, r2, r3));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{n,-9} {round,5}  {bestCpu[0],16:F2}  {bestCpu[1],17:F2}  {bestCpu[2],22:F2}  {bestCpu[3],16:F2}  {r1,12:F2}x  {r2,9:F2}x  {r3,10:F2}x  ({bestWall[0]:F2}, {bestWall[1]:F2}, {bestWall[2]:F2}, {bestWall[3]:F2})  {(double)allocated / packets:F4}"));
            }
            var rec = ratios.Select(r => r.Record).Order().ToArray();
            var huge = ratios.Select(r => r.Huge).Order().ToArray();
            var built = ratios.Select(r => r.Built).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{n,-9} median record/today {rec[rec.Length / 2]:F2}x (range {rec[0]:F2}-{rec[^1]:F2}), huge/today {huge[huge.Length / 2]:F2}x (range {huge[0]:F2}-{huge[^1]:F2}), built/today {built[built.Length / 2]:F2}x (range {built[0]:F2}-{built[^1]:F2}); huge pages advised: {w.HugePagesAdvised}; load {LoadAverage()}"));
        }
        return 0;
    }

    private static int Usage(string why)
    {
        Console.Error.WriteLine($"exact-gate: {why}");
        Console.Error.WriteLine("usage: Softswitch.Bench exact-gate [--flows 1000,100000,1000000] [--rounds 3] [--slices 5] [--slice-ms 200]");
        return 2;
    }

    /// <summary>Runs bursts for about <paramref name="ms"/> milliseconds: CPU and wall ns per packet, bytes allocated, packets.</summary>
    private static (double Cpu, double Wall, long Bytes, long Packets) Slice(Func<long> burst, int ms)
    {
        long sink = 0, bursts = 0;
        long deadline = Stopwatch.GetTimestamp() + ms * Stopwatch.Frequency / 1000;
        long bytes0 = GC.GetAllocatedBytesForCurrentThread();
        long cpu0 = ThreadCpuNanos();
        long t0 = Stopwatch.GetTimestamp();
        long t1;
        do
        {
            for (int i = 0; i < 256; i++) sink += burst();
            bursts += 256;
            t1 = Stopwatch.GetTimestamp();
        }
        while (t1 < deadline);
        long cpu1 = ThreadCpuNanos();
        long bytes1 = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(sink);
        long packets = bursts * ExactGateWorkload.Burst;
        double wallNs = (t1 - t0) * 1e9 / Stopwatch.Frequency;
        return ((cpu1 - cpu0) / (double)packets, wallNs / packets, bytes1 - bytes0, packets);
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec, Nsec;
    }

    private const int ClockThreadCpuTime = 3;

    private static long ThreadCpuNanos()
    {
        if (!OperatingSystem.IsLinux() || clock_gettime(ClockThreadCpuTime, out var ts) != 0) return 0;
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int clock_gettime(int clock, out Timespec ts);
}
