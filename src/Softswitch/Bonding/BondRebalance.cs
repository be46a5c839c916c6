using Softswitch.Datapath.Ports;

namespace Softswitch.Bonding;

/// <summary>
/// Open vSwitch's load rebalancing of a balanced bond (ofproto/bond.c bond_rebalance and choose_entries_to_migrate):
/// each hash bucket's recent transmit bytes give each enabled member its load; while the most loaded member carries
/// more than the least loaded by at least 100,000 bytes and 1/32 of the least loaded's load, buckets move from the one to
/// the other (the heaviest that keep the move within the midpoint of the two, until it is within 10% of it; or the
/// lightest, if none is), unless that would not bring the lower load closer to the midpoint by 10% of the way: then
/// the most loaded member is left as it is. A member with one bucket of load keeps it. The loads then halve (an
/// exponentially weighted moving average: 1/2 a round).
/// </summary>
/// <remarks>Pure: the caller owns the arrays (no thread-safety of its own).</remarks>
public static class BondRebalance
{
    /// <summary>
    /// Rebalances <paramref name="buckets"/> (bucket → member, <see cref="PortNumber.None"/>: none) over the
    /// <paramref name="enabled"/> members by <paramref name="load"/> (bytes per bucket, halved on return); returns the
    /// buckets moved (0: none, the buckets as they were).
    /// </summary>
    public static int Run(ushort[] buckets, long[] load, IReadOnlyList<ushort> enabled)
    {
        int moved = 0;
        if (enabled.Count >= 2)
        {
            // Each member's load and its buckets with load, heaviest first (a stable sort: ties keep bucket order).
            var order = Enumerable.Range(0, buckets.Length).Where(i => load[i] > 0 && buckets[i] != PortNumber.None)
                .OrderByDescending(i => load[i]).ToList();
            var tx = new Dictionary<ushort, long>();
            var entries = new Dictionary<ushort, List<int>>();
            foreach (ushort m in enabled)
            {
                tx[m] = 0;
                entries[m] = [];
            }
            foreach (int i in order)
            {
                if (!tx.ContainsKey(buckets[i])) continue;
                tx[buckets[i]] += load[i];
                entries[buckets[i]].Add(i);
            }
            // The enabled members, most loaded first (a member of equal load goes after those already in).
            var bals = new List<ushort>();
            foreach (ushort m in enabled) Insert(bals, m, tx);
            while (bals.Count >= 2)
            {
                ushort from = bals[0], to = bals[^1];
                long overload = tx[from] - tx[to];
                // Less than ~3% or ~1 Mbit/s more than the least loaded: no point in moving anything.
                if (overload < tx[to] >> 5 || overload < 100_000) break;
                var migrate = Choose(entries[from], load, tx[from], tx[to]);
                if (migrate.Count == 0)
                {
                    bals.RemoveAt(0);
                    continue;
                }
                foreach (int e in migrate)
                {
                    tx[from] -= load[e];
                    tx[to] += load[e];
                    buckets[e] = to;
                    entries[from].Remove(e);
                    moved++;
                }
                bals.Remove(from);
                Insert(bals, from, tx);
                bals.Remove(to);
                Insert(bals, to, tx);
            }
        }
        for (int i = 0; i < load.Length; i++) load[i] /= 2;
        return moved;
    }

    private static void Insert(List<ushort> bals, ushort member, Dictionary<ushort, long> tx)
    {
        int at = bals.FindIndex(m => tx[member] > tx[m]);
        bals.Insert(at < 0 ? bals.Count : at, member);
    }

    /// <summary>The buckets to move from a member of load <paramref name="fromTx"/> (its <paramref name="entries"/>,
    /// heaviest first) to one of <paramref name="toTx"/>, or none.</summary>
    private static List<int> Choose(List<int> entries, long[] load, long fromTx, long toTx)
    {
        var migrate = new List<int>();
        // One bucket of load: moving it would only move the imbalance.
        if (entries.Count <= 1) return migrate;
        long ideal = (fromTx + toTx) / 2, idealDelta = ideal - toTx, threshold = idealDelta / 10, delta = 0;
        foreach (int e in entries)
        {
            if (delta + load[e] <= idealDelta)
            {
                migrate.Add(e);
                delta += load[e];
            }
            if (idealDelta - delta < threshold) break;
        }
        if (migrate.Count == 0)
        {
            migrate.Add(entries[^1]);
            delta = load[entries[^1]];
        }
        long newLow = Math.Min(fromTx - delta, toTx + delta);
        if (newLow > toTx && newLow - toTx >= threshold) return migrate;
        migrate.Clear();
        return migrate;
    }
}
