using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The hash stage (<see cref="ExactTable"/>): every held key is found one by one and in bursts, keys not held (one
/// field away) miss, removed keys' slots are reused and the arrays rebuilt without losing a key, and readers racing a
/// writer that reuses slots never get a rule for a key they do not have.
/// </summary>
public sealed class ExactTableTests
{
    private static readonly FlowActions s_out = new([FlowAction.Output(2)]);

    private static FlowKey Key(int i) => new FlowKeyBuilder().InPort(1).DlType(0x0800).NwProto(17)
        .NwSrc(0x0A000000u + (uint)(i >> 16)).NwDst(0xC0A80000u + (uint)(i & 0xFFFF)).TpSrc(1000).TpDst(2000).Key;

    private static FlowEntry Entry(int i) => new(FlowMatch.Exact(Key(i)), ushort.MaxValue, s_out, 0, 0, 0);

    private static void Insert(ExactTable t, FlowEntry e)
    {
        Assert.Null(t.FindForInsert(e.Match.Value, out int slot, out uint hash));
        t.InsertAt(slot, hash, e);
    }

    private static FlowEntry?[] Burst(ExactTable t, int from, int n, out ulong pending)
    {
        var keys = new FlowKey[n];
        for (int i = 0; i < n; i++) keys[i] = Key(from + i);
        var results = new FlowEntry?[n];
        pending = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
        t.LookupBurst(keys, ref pending, results);
        return results;
    }

    [Fact]
    public void FindsHeldKeys_MissesOthers_ReusesRemovedSlots_AndStaysAtMostThreeQuartersFull()
    {
        var t = new ExactTable();
        const int n = 5000;
        var entries = new FlowEntry[2 * n];
        for (int i = 0; i < n; i++) Insert(t, entries[i] = Entry(i));
        Assert.Equal(n, t.Count);
        Assert.True(t.SlotCount * 3 >= t.Count * 4, "load factor at most 3/4");
        for (int i = 0; i < n; i++) Assert.Same(entries[i], t.Lookup(Key(i)));
        for (int i = n; i < 2 * n; i++) Assert.Null(t.Lookup(Key(i)));
        // One field away (the tunnel id is not part of an exact key: a packet with one still hits).
        var tunnelled = new FlowKeyBuilder(Key(7)).TunId(99).Key;
        Assert.Same(entries[7], t.Lookup(tunnelled));
        Assert.Null(t.Lookup(new FlowKeyBuilder(Key(7)).TpDst(2001).Key));

        var hits = Burst(t, n - 32, 64, out ulong pending);
        Assert.Equal(ulong.MaxValue << 32, pending);
        for (int i = 0; i < 64; i++) Assert.Same(i < 32 ? entries[n - 32 + i] : null, hits[i]);

        // Remove every other key, then add new ones: the tombstones are reused or rebuilt away, nothing is lost.
        for (int i = 0; i < n; i += 2) Assert.True(t.Remove(entries[i]));
        Assert.False(t.Remove(entries[0]));
        for (int i = n; i < 2 * n; i++) Insert(t, entries[i] = Entry(i));
        Assert.Equal(n / 2 + n, t.Count);
        Assert.True(t.SlotCount * 3 >= t.Count * 4, "load factor at most 3/4");
        for (int i = 0; i < 2 * n; i++) Assert.Same(i < n && i % 2 == 0 ? null : entries[i], t.Lookup(Key(i)));

        // Replacement in place: same key, another rule.
        var again = Entry(1);
        Assert.Same(entries[1], t.FindForInsert(again.Match.Value, out int slot, out uint hash));
        t.InsertAt(slot, hash, again);
        Assert.Same(again, t.Lookup(Key(1)));
        Assert.Equal(n / 2 + n, t.Count);

        var all = new List<FlowEntry>();
        t.CollectSubsets(FlowMatch.All, all);
        Assert.Equal(t.Count, all.Count);
        Assert.Equal(t.Count, all.Distinct().Count());

        // Shrinks once mostly empty.
        int before = t.SlotCount;
        foreach (var e in all) Assert.True(t.Remove(e));
        Assert.Equal(0, t.Count);
        Assert.True(t.SlotCount < before);
        Assert.Null(t.Lookup(Key(1)));
    }

    [Fact]
    public async Task ReadersRacingSlotReuse_NeverGetAnotherKeysRule()
    {
        // A writer removes keys and adds other keys whose probes reuse the removed slots, rewriting a slot's key words
        // while readers may be comparing them; a reader must get the rule of the key it looked up, or none.
        var t = new ExactTable();
        const int live = 2000, keys = 6000, rounds = 40_000;
        var current = new FlowEntry?[keys];
        for (int i = 0; i < live; i++) Insert(t, current[i] = Entry(i));
        using var stop = new CancellationTokenSource();
        string? failure = null;
        long lookups = 0, found = 0;
        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            var rng = new Random(r);
            var batch = new FlowKey[32];
            var results = new FlowEntry?[32];
            while (!stop.IsCancellationRequested && failure is null)
            {
                for (int i = 0; i < batch.Length; i++) batch[i] = Key(rng.Next(keys));
                Array.Clear(results);
                ulong pending = uint.MaxValue;
                t.LookupBurst(batch, ref pending, results);
                for (int i = 0; i < batch.Length; i++)
                {
                    var e = results[i] ?? t.Lookup(batch[i]);
                    Interlocked.Increment(ref lookups);
                    if (e is null) continue;
                    Interlocked.Increment(ref found);
                    if (!e.Match.Value.Equals(batch[i].And(FlowMatch.ExactMaskNoTun)))
                        failure = $"looked up {batch[i]}, got the rule of {e.Match.Value}";
                }
            }
        })).ToArray();
        var rngW = new Random(99);
        for (int r = 0; r < rounds && failure is null; r++)
        {
            int i = rngW.Next(keys);
            if (current[i] is { } e)
            {
                Assert.True(t.Remove(e));
                current[i] = null;
            }
            else
            {
                Insert(t, current[i] = Entry(i));
            }
        }
        while (Interlocked.Read(ref lookups) < 100_000 && failure is null) await Task.Yield();
        await stop.CancelAsync();
        await Task.WhenAll(readers);
        Assert.Null(failure);
        Assert.True(Interlocked.Read(ref found) > 0, "the readers found some rules");
        for (int i = 0; i < keys; i++) Assert.Same(current[i], t.Lookup(Key(i)));
    }
}
