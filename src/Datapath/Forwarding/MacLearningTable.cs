using System.Numerics;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// The L2 learning table behind OFPP_NORMAL and fail-standalone mode: (MAC, VLAN) → port, with aging.
/// </summary>
/// <remarks>
/// <para>Design: an open-addressing table of slots (key, port, last seen) probed linearly, read with no lock and no
/// allocation, so NORMAL's two lookups per packet (the source to learn, the destination to forward to) cost a line each,
/// not a concurrent dictionary's node and entry. Learning an address already known on the same port only refreshes its
/// time, at most once a second; a new address, or one that moved, takes the writers' lock (slow path, bounded by
/// <see cref="MaxEntries"/>). Removal (aging, a removed port) leaves a tombstone that a later insertion reuses; when
/// used and dead slots fill three quarters of the table, the writer rebuilds it into a new array, twice as large while
/// more than half of it is live (the only allocation, and only on new addresses). It starts at 64 slots: a switch that
/// learned a few hosts keeps a few lines, not the 16,384 slots (384 KiB) its <see cref="MaxEntries"/> may grow it to.</para>
/// <para>Readers (every forwarding thread) read a slot's key, its port and time, then its key again: a slot reused for
/// another address meanwhile (removal, then insertion) fails the second read and the lookup goes on. A writer fills
/// port and time before it publishes the key. An answer is always a port the address was learned on.</para>
/// </remarks>
public sealed class MacLearningTable
{
    private struct Slot
    {
        public ulong Key;
        public long SeenNanos;
        public ushort Port;
    }

    // A key is the address, its VLAN above it, and the occupied bit; 0 is an empty slot, Tombstone a removed one.
    private const ulong Occupied = 1UL << 63;
    private const ulong Tombstone = 1UL << 62;

    private Slot[] _slots = [];
    private const int InitialSlots = 64;
    private readonly Lock _writeLock = new();
    private int _count, _used;

    public int MaxEntries { get; init; } = 8192;
    public long AgingNanos { get; init; } = 300L * 1_000_000_000;

    public int Count => Volatile.Read(ref _count);

    private static ulong Key(ulong mac, ushort vlan) => (mac & 0xFFFF_FFFF_FFFFUL) | ((ulong)(vlan & 0x0FFF) << 48) | Occupied;

    private static int Home(ulong key, int mask) => (int)((key * 0x9E37_79B9_7F4A_7C15UL) >> 40) & mask;

    /// <summary>The index of <paramref name="key"/>'s slot in <paramref name="slots"/> with its port and time as read together, or -1.</summary>
    private static int Find(Slot[] slots, ulong key, out ushort port, out long seen)
    {
        int mask = slots.Length - 1;
        int i = Home(key, mask);
        for (int probes = 0; probes < slots.Length; probes++, i = (i + 1) & mask)
        {
            ref var s = ref slots[i];
            ulong k = Volatile.Read(ref s.Key);
            if (k == 0) break;
            if (k != key) continue;
            port = Volatile.Read(ref s.Port);
            seen = Volatile.Read(ref s.SeenNanos);
            if (Volatile.Read(ref s.Key) == key) return i;
            // Reused for another address while read: the address may sit further on (a later insertion), look on.
        }
        port = 0;
        seen = 0;
        return -1;
    }

    /// <summary>Learns (or refreshes) <paramref name="src"/> on <paramref name="port"/>; false when the table is full and it was not learned.</summary>
    public bool Learn(MacAddress src, ushort vlan, ushort port, long nowNanos)
    {
        if (src.IsMulticast) return true;
        ulong key = Key(src.Value, vlan);
        var slots = Volatile.Read(ref _slots);
        if (slots.Length != 0)
        {
            int i = Find(slots, key, out ushort known, out long seen);
            if (i >= 0 && known == port)
            {
                // A refresh, racing nothing that matters: were the slot reused for another address meanwhile, that
                // address would only look seen now.
                if (nowNanos - seen > 1_000_000_000) Volatile.Write(ref slots[i].SeenNanos, nowNanos);
                return true;
            }
        }
        // New, or moved (rare: a host on another port): under the lock, so the port goes to this address's slot.
        lock (_writeLock) return InsertLocked(key, port, nowNanos);
    }

    private bool InsertLocked(ulong key, ushort port, long nowNanos)
    {
        var slots = _slots;
        if (slots.Length == 0)
        {
            slots = new Slot[Math.Min(InitialSlots, MaxSlots)];
            Volatile.Write(ref _slots, slots);
        }
        int at = Find(slots, key, out _, out _);
        if (at >= 0)
        {
            // Known (moved, or learned by another thread meanwhile).
            Volatile.Write(ref slots[at].Port, port);
            Volatile.Write(ref slots[at].SeenNanos, nowNanos);
            return true;
        }
        if (_count >= MaxEntries) return false;
        int mask = slots.Length - 1;
        int i = Home(key, mask);
        while (true)
        {
            ulong k = slots[i].Key;
            if (k == 0 || k == Tombstone) break;
            i = (i + 1) & mask;
        }
        if (slots[i].Key == 0) _used++;
        ref var s = ref slots[i];
        s.Port = port;
        s.SeenNanos = nowNanos;
        Volatile.Write(ref s.Key, key); // after its port and time: a reader that sees the key sees them
        Volatile.Write(ref _count, _count + 1);
        if (_used * 4 > slots.Length * 3) Rebuild();
        return true;
    }

    /// <summary>The most slots the table grows to: twice <see cref="MaxEntries"/>, so it is at most half full.</summary>
    private int MaxSlots => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, MaxEntries * 2));

    /// <summary>Writer: the live slots into a new array (tombstones dropped; twice as large while more than half of the
    /// old one is live), published whole.</summary>
    private void Rebuild()
    {
        var old = _slots;
        var slots = new Slot[_count * 2 > old.Length ? Math.Min(old.Length * 2, MaxSlots) : old.Length];
        int mask = slots.Length - 1, live = 0;
        foreach (ref readonly var o in old.AsSpan())
        {
            if ((o.Key & Occupied) == 0) continue;
            int i = Home(o.Key, mask);
            while (slots[i].Key != 0) i = (i + 1) & mask;
            slots[i] = o;
            live++;
        }
        _used = live;
        Volatile.Write(ref _slots, slots);
    }

    /// <summary>The port <paramref name="dst"/> was learned on, or <see cref="PortNumber.None"/>.</summary>
    public ushort Lookup(MacAddress dst, ushort vlan, long nowNanos)
    {
        if (dst.IsMulticast) return PortNumber.None;
        var slots = Volatile.Read(ref _slots);
        if (slots.Length != 0 && Find(slots, Key(dst.Value, vlan), out ushort port, out long seen) >= 0 && nowNanos - seen < AgingNanos)
            return port;
        return PortNumber.None;
    }

    /// <summary>Drops aged entries and those learned on <paramref name="removedPort"/> (when given).</summary>
    public void Age(long nowNanos, ushort removedPort = 0)
    {
        lock (_writeLock)
        {
            var slots = _slots;
            for (int i = 0; i < slots.Length; i++)
            {
                ref var s = ref slots[i];
                if ((s.Key & Occupied) == 0) continue;
                if (nowNanos - Volatile.Read(ref s.SeenNanos) >= AgingNanos || (removedPort != 0 && Volatile.Read(ref s.Port) == removedPort))
                {
                    Volatile.Write(ref s.Key, Tombstone);
                    Volatile.Write(ref _count, _count - 1);
                }
            }
        }
    }

    public void Clear()
    {
        lock (_writeLock)
        {
            // A new array, not a cleared one: a reader of the old one sees it whole.
            Volatile.Write(ref _slots, _slots.Length == 0 ? _slots : new Slot[Math.Min(InitialSlots, MaxSlots)]);
            _used = 0;
            Volatile.Write(ref _count, 0);
        }
    }

    /// <summary>A learned address as <see cref="Snapshot"/> lists it.</summary>
    public readonly record struct Learned(MacAddress Mac, ushort Vlan, ushort Port, long SeenNanos);

    /// <summary>The entries at the time of the call, for management (allocates; safe while forwarding threads learn).</summary>
    public List<Learned> Snapshot()
    {
        var slots = Volatile.Read(ref _slots);
        var list = new List<Learned>(Count);
        foreach (ref var s in slots.AsSpan())
        {
            ulong k = Volatile.Read(ref s.Key);
            if ((k & Occupied) == 0) continue;
            list.Add(new Learned(new MacAddress(k & 0xFFFF_FFFF_FFFFUL), (ushort)((k >> 48) & 0x0FFF), Volatile.Read(ref s.Port), Volatile.Read(ref s.SeenNanos)));
        }
        return list;
    }
}
