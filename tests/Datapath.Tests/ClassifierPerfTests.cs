using System.Diagnostics;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Xunit.Abstractions;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// Throwaway timings (no assertions on time): run with <c>SOFTSWITCH_PERF=1 dotnet test -c Release --filter
/// Category=Perf --logger "console;verbosity=detailed"</c>. Without the variable the test returns at once.
/// </summary>
[Trait("Category", "Perf")]
public class ClassifierPerfTests(ITestOutputHelper output)
{
    private static bool Enabled => Environment.GetEnvironmentVariable("SOFTSWITCH_PERF") == "1";

    [Fact]
    public void Measure()
    {
        if (!Enabled) return;
        var actions = new FlowActions([FlowAction.Output(1)]);

        // Exact hits, 100k flows, no EMC.
        {
            var table = new FlowTable(new ManualClock());
            const int n = 100_000;
            var keys = new FlowKey[n];
            var mods = new FlowMod[n];
            for (int i = 0; i < n; i++)
            {
                keys[i] = ExactKey(i);
                mods[i] = new FlowMod(FlowModCommand.Add, FlowMatch.Exact(keys[i]), 0, actions);
            }
            table.ApplyBatch(mods, new FlowModStatus[n], null);
            var rng = new Random(1);
            var sample = Enumerable.Range(0, 4096).Select(_ => keys[rng.Next(n)]).ToArray();
            var hashes = sample.Select(k => k.Hash()).ToArray();
            var results = new FlowEntry?[32];
            Report("exact hit, 100k flows, single Lookup", () =>
            {
                for (int i = 0; i < sample.Length; i++) table.Lookup(sample[i], hashes[i]);
            }, sample.Length);
            Report("exact hit, 100k flows, burst, no EMC", () =>
            {
                for (int off = 0; off < sample.Length; off += 32)
                    table.LookupBurst(sample.AsSpan(off, 32), hashes.AsSpan(off, 32), results, null);
            }, sample.Length);
            var emc = new ExactMatchCache(8192);
            var hot = sample.AsSpan(0, 1024).ToArray();
            var hotHashes = hashes.AsSpan(0, 1024).ToArray();
            for (int off = 0; off < hot.Length; off += 32)
                table.LookupBurst(hot.AsSpan(off, 32), hotHashes.AsSpan(off, 32), results, emc);
            Report("EMC hit (1024 flows hot), burst", () =>
            {
                for (int off = 0; off < hot.Length; off += 32)
                    table.LookupBurst(hot.AsSpan(off, 32), hotHashes.AsSpan(off, 32), results, emc);
            }, hot.Length);
            output.WriteLine($"  emc hits {emc.Hits} misses {emc.Misses}");

            // Flow-mods: ADD + DELETE_STRICT pairs of exact flows through ApplyBatch.
            var churn = new FlowMod[2000];
            int next = n;
            var statuses = new FlowModStatus[churn.Length];
            var removed = new List<FlowRemoved>(2000);
            Report("ApplyBatch of 1000 ADD+DELETE_STRICT exact pairs (per flow-mod)", () =>
            {
                for (int i = 0; i < churn.Length; i += 2)
                {
                    var m = FlowMatch.Exact(ExactKey(next++));
                    churn[i] = new FlowMod(FlowModCommand.Add, m, 0, actions, IdleTimeout: 10);
                    churn[i + 1] = new FlowMod(FlowModCommand.DeleteStrict, m, 0, actions);
                }
                removed.Clear();
                table.ApplyBatch(churn, statuses, removed);
            }, churn.Length);
        }

        // Bulk load: 1M new exact flows (idle timeout 60 s) into an empty table, ApplyBatch of 10k at a time.
        {
            const int n = 1_000_000;
            var matches = new FlowMatch[n];
            for (int i = 0; i < n; i++) matches[i] = FlowMatch.Exact(ExactKey(i));
            var batch = new FlowMod[10_000];
            var statuses = new FlowModStatus[batch.Length];
            for (int round = 0; round < 2; round++)
            {
                var table = new FlowTable(new ManualClock());
                var proc = Process.GetCurrentProcess();
                var cpu0 = proc.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                for (int done = 0; done < n; done += batch.Length)
                {
                    for (int i = 0; i < batch.Length; i++)
                        batch[i] = new FlowMod(FlowModCommand.Add, matches[done + i], 0, actions, IdleTimeout: 60);
                    table.ApplyBatch(batch, statuses, null);
                }
                proc.Refresh();
                double ns = sw.Elapsed.TotalNanoseconds / n, cpu = (proc.TotalProcessorTime - cpu0).TotalNanoseconds / n;
                output.WriteLine($"bulk load of 1M exact flows via ApplyBatch(10k), round {round}: {ns:F0} ns/flow-mod wall ({1000 / ns:F2} M/s), {cpu:F0} ns cpu (all threads, GC included)");
            }
        }

        // Tuple space: 16 masks, 1000 rules, no EMC, no exact rules.
        foreach (bool banded in new[] { false, true })
        {
            var (table, keys) = TupleWorkload(masks: 16, rules: 1000, banded, seed: 3);
            var hashes = keys.Select(k => k.Hash()).ToArray();
            var results = new FlowEntry?[32];
            int matched = 0;
            for (int off = 0; off < keys.Length; off += 32)
            {
                table.LookupBurst(keys.AsSpan(off, 32), hashes.AsSpan(off, 32), results, null);
                matched += results.Count(r => r is not null);
            }
            Report($"tuple-space burst, 16 masks/1000 rules, {(banded ? "priority bands per mask" : "random priorities")} ({matched * 100 / keys.Length}% match, {table.WildcardSubtableCount} subtables)", () =>
            {
                for (int off = 0; off < keys.Length; off += 32)
                    table.LookupBurst(keys.AsSpan(off, 32), hashes.AsSpan(off, 32), results, null);
            }, keys.Length);
            Report($"tuple-space single Lookup, same", () =>
            {
                for (int i = 0; i < keys.Length; i++) table.Lookup(keys[i], hashes[i]);
            }, keys.Length);
        }
        foreach (int masks in new[] { 1, 8, 32 })
        {
            var (table, keys) = TupleWorkload(masks, rules: 1000, banded: false, seed: 4);
            var hashes = keys.Select(k => k.Hash()).ToArray();
            var results = new FlowEntry?[32];
            Report($"tuple-space burst, {masks} masks/1000 rules", () =>
            {
                for (int off = 0; off < keys.Length; off += 32)
                    table.LookupBurst(keys.AsSpan(off, 32), hashes.AsSpan(off, 32), results, null);
            }, keys.Length);
        }
    }

    private void Report(string what, Action body, int opsPerCall, int maxMillis = 700)
    {
        // Warm up long enough for tiered compilation to settle (call-counting delay, then tier-1 code).
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 400) body();
        long calls = 0;
        // Process CPU time as well as wall time: on a shared machine the CPU time is the steadier figure.
        var proc = Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < maxMillis)
        {
            body();
            calls++;
        }
        double ops = calls * (double)opsPerCall;
        double ns = sw.Elapsed.TotalNanoseconds / ops;
        proc.Refresh();
        double cpu = (proc.TotalProcessorTime - cpu0).TotalNanoseconds / ops;
        output.WriteLine($"{what}: {ns:F1} ns/op wall ({1000 / ns:F2} M/s), {cpu:F1} ns/op cpu ({1000 / cpu:F2} M/s)");
    }

    internal static FlowKey ExactKey(int id)
        => new FlowKeyBuilder().InPort((ushort)(1 + (id & 7))).DlVlan(0xFFFF).DlType(0x0800).NwProto(6)
            .NwSrc(0x0A000000u + (uint)id).NwDst(0xC0A80000u + (uint)(id >> 8)).TpSrc((ushort)id).TpDst(80).Key;

    /// <summary>Rules over <paramref name="masks"/> OF1.0 wildcard patterns; keys 90% aimed at a rule.</summary>
    internal static (FlowTable Table, FlowKey[] Keys) TupleWorkload(int masks, int rules, bool banded, int seed)
    {
        var rng = new Random(seed);
        var pool = new HashSet<Wildcards>();
        Wildcards[] singles = [Wildcards.InPort, Wildcards.DlVlan, Wildcards.DlSrc, Wildcards.DlDst, Wildcards.DlType,
                               Wildcards.NwProto, Wildcards.TpSrc, Wildcards.TpDst, Wildcards.DlVlanPcp, Wildcards.NwTos];
        while (pool.Count < masks)
        {
            var w = Wildcards.TunIdExt;
            foreach (var s in singles) if (rng.Next(2) == 0) w |= s;
            w |= (Wildcards)((uint)(8 * rng.Next(5)) << (int)Wildcards.NwSrcShift);
            w |= (Wildcards)((uint)(8 * rng.Next(5)) << (int)Wildcards.NwDstShift);
            if (w != Wildcards.TunIdExt) pool.Add(w);
        }
        var maskList = pool.ToArray();
        var table = new FlowTable(new ManualClock());
        var actions = new FlowActions([FlowAction.Output(2)]);
        var mods = new FlowMod[rules];
        for (int i = 0; i < rules; i++)
        {
            int mi = i % maskList.Length;
            ushort prio = banded ? (ushort)(60000 - mi * 1000 + rng.Next(1000)) : (ushort)rng.Next(65536);
            mods[i] = new FlowMod(FlowModCommand.Add, FlowMatch.FromOpenFlow(maskList[mi], RandomKey(rng)), prio, actions);
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
