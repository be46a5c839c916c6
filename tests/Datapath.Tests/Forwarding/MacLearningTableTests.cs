using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// NORMAL's learning table (<see cref="MacLearningTable"/>): learning, moves, VLANs, aging, a removed port, the size
/// limit, clearing, and an open-addressing table's own hazards (tombstones reused, rebuilds, probes past removed
/// slots) against a dictionary model; readers racing learners and agers only ever see a port the address was learned on.
/// </summary>
public sealed class MacLearningTableTests
{
    private const long S = 1_000_000_000;

    private static MacAddress Mac(int i) => new(0x0200_0000_0000UL + (ulong)i);

    [Fact]
    public void Learns_Moves_KeepsVlansApart_AndIgnoresMulticast()
    {
        var t = new MacLearningTable();
        Assert.Equal(PortNumber.None, t.Lookup(Mac(1), 0, 0));
        Assert.True(t.Learn(Mac(1), 0, 3, 0));
        Assert.True(t.Learn(Mac(1), 10, 4, 0));
        Assert.Equal(((ushort)3, (ushort)4), (t.Lookup(Mac(1), 0, S), t.Lookup(Mac(1), 10, S)));
        Assert.True(t.Learn(Mac(1), 0, 5, S)); // the host moved
        Assert.Equal((ushort)5, t.Lookup(Mac(1), 0, S));
        Assert.True(t.Learn(MacAddress.Parse("01:00:5e:00:00:01"), 0, 2, 0));
        Assert.Equal(PortNumber.None, t.Lookup(MacAddress.Parse("01:00:5e:00:00:01"), 0, 0));
        Assert.Equal(2, t.Count);
        var snap = t.Snapshot().OrderBy(l => l.Vlan).ToList();
        // A move is a sighting (the time moves with it); a refresh on the same port moves the time at most once a second.
        Assert.Equal(new List<MacLearningTable.Learned> { new(Mac(1), 0, 5, S), new(Mac(1), 10, 4, 0) }, snap);
        t.Learn(Mac(1), 10, 4, S);
        Assert.Equal(0, t.Snapshot().Single(l => l.Vlan == 10).SeenNanos);
        t.Learn(Mac(1), 10, 4, S + 1);
        Assert.Equal(S + 1, t.Snapshot().Single(l => l.Vlan == 10).SeenNanos);
    }

    [Fact]
    public void Ages_RefreshesAtMostOnceASecond_AndForgetsARemovedPort()
    {
        var t = new MacLearningTable { AgingNanos = 10 * S };
        t.Learn(Mac(1), 0, 1, 0);
        t.Learn(Mac(2), 0, 2, 0);
        t.Learn(Mac(1), 0, 1, 5 * S); // refreshed
        Assert.Equal(PortNumber.None, t.Lookup(Mac(2), 0, 10 * S)); // aged for lookups before the sweep
        t.Age(10 * S);
        Assert.Equal((1, 1), (t.Count, (int)t.Lookup(Mac(1), 0, 10 * S)));
        t.Learn(Mac(3), 0, 2, 10 * S);
        t.Age(11 * S, removedPort: 1);
        Assert.Equal((PortNumber.None, (ushort)2, 1), (t.Lookup(Mac(1), 0, 11 * S), t.Lookup(Mac(3), 0, 11 * S), t.Count));
        t.Clear();
        Assert.Equal((0, PortNumber.None), (t.Count, t.Lookup(Mac(3), 0, 11 * S)));
        Assert.True(t.Learn(Mac(3), 0, 2, 12 * S));
        Assert.Equal((ushort)2, t.Lookup(Mac(3), 0, 12 * S));
    }

    [Fact]
    public void AFullTable_RefusesNewAddresses_ButRefreshesKnownOnes()
    {
        var t = new MacLearningTable { MaxEntries = 4 };
        for (int i = 0; i < 4; i++) Assert.True(t.Learn(Mac(i), 0, 1, 0));
        Assert.False(t.Learn(Mac(9), 0, 1, 0));
        Assert.True(t.Learn(Mac(2), 0, 3, 0));
        Assert.Equal((4, (ushort)3, PortNumber.None), (t.Count, t.Lookup(Mac(2), 0, 0), t.Lookup(Mac(9), 0, 0)));
    }

    [Fact]
    public void RandomLearningAndAging_MatchesADictionary()
    {
        for (int seed = 0; seed < 20; seed++)
        {
            var rng = new Random(seed);
            var t = new MacLearningTable { MaxEntries = 64, AgingNanos = 50 };
            var model = new Dictionary<(int, ushort), (ushort Port, long Seen)>();
            long now = 0;
            for (int step = 0; step < 5000; step++)
            {
                now += rng.Next(3);
                int mac = rng.Next(150);
                ushort vlan = (ushort)rng.Next(3);
                switch (rng.Next(10))
                {
                    case < 5:
                    {
                        ushort port = (ushort)rng.Next(1, 6);
                        bool known = model.TryGetValue((mac, vlan), out var m);
                        bool ok = t.Learn(Mac(mac), vlan, port, now);
                        if (known) model[(mac, vlan)] = (port, port != m.Port || now - m.Seen > 1_000_000_000 ? now : m.Seen); // a move is a sighting
                        else if (model.Count < 64) model[(mac, vlan)] = (port, now);
                        Assert.Equal(known || model.ContainsKey((mac, vlan)), ok);
                        break;
                    }
                    case < 9:
                    {
                        ushort want = model.TryGetValue((mac, vlan), out var m) && now - m.Seen < 50 ? m.Port : PortNumber.None;
                        Assert.Equal(want, t.Lookup(Mac(mac), vlan, now));
                        break;
                    }
                    default:
                    {
                        ushort removed = (ushort)(rng.Next(3) == 0 ? rng.Next(1, 6) : 0);
                        t.Age(now, removed);
                        foreach (var k in model.Where(kv => now - kv.Value.Seen >= 50 || (removed != 0 && kv.Value.Port == removed)).Select(kv => kv.Key).ToList())
                            model.Remove(k);
                        break;
                    }
                }
                if (model.Count != t.Count)
                {
                    var snap = t.Snapshot().Select(l => ((int)(l.Mac.Value & 0xffff), l.Vlan, l.Port, l.SeenNanos)).ToHashSet();
                    var mod = model.Select(kv => (kv.Key.Item1, kv.Key.Item2, kv.Value.Port, kv.Value.Seen)).ToHashSet();
                    Assert.Fail($"seed {seed} step {step} now {now}: only model {string.Join(" ", mod.Except(snap))}; only table {string.Join(" ", snap.Except(mod))}");
                }
            }
            Assert.Equal(model.Count, t.Snapshot().Count);
        }
    }

    [Fact]
    public void ReadersRacingLearnersAndAgers_SeeOnlyPortsTheAddressWasLearnedOn()
    {
        // Address i is only ever learned on ports i % 7 + 1 and i % 7 + 2: any other answer is a torn read.
        var t = new MacLearningTable { MaxEntries = 256, AgingNanos = long.MaxValue };
        const int macs = 400; // more than fit: insertions fail, aging frees room, tombstones get reused, rebuilds happen
        long stop = 0;
        int bad = 0;
        var writers = Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            var rng = new Random(w);
            while (Volatile.Read(ref stop) == 0)
            {
                int i = rng.Next(macs);
                t.Learn(Mac(i), 0, (ushort)(i % 7 + 1 + rng.Next(2)), 0);
                if (rng.Next(64) == 0) t.Age(0, (ushort)rng.Next(1, 9));
            }
        })).ToList();
        var reader = new Thread(() =>
        {
            var rng = new Random(9);
            while (Volatile.Read(ref stop) == 0)
            {
                int i = rng.Next(macs);
                ushort p = t.Lookup(Mac(i), 0, 0);
                if (p != PortNumber.None && p != i % 7 + 1 && p != i % 7 + 2) Interlocked.Increment(ref bad);
            }
        });
        writers.ForEach(w => w.Start());
        reader.Start();
        Thread.Sleep(500);
        Volatile.Write(ref stop, 1);
        writers.ForEach(w => w.Join());
        reader.Join();
        Assert.Equal(0, bad);
        Assert.InRange(t.Count, 0, 256);
        Assert.Equal(t.Count, t.Snapshot().Count);
    }
}
