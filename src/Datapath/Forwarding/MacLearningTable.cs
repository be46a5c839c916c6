using System.Collections.Concurrent;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// The L2 learning table behind OFPP_NORMAL and fail-standalone mode: (MAC, VLAN) → port, with aging.
/// </summary>
/// <remarks>
/// Design: a concurrent dictionary of small mutable entries. Learning an address that is already known on
/// the same port only refreshes a timestamp (no allocation); a new address allocates one entry (slow path,
/// bounded by <see cref="MaxEntries"/>). Lookups never allocate. Safe for many forwarding threads.
/// </remarks>
public sealed class MacLearningTable
{
    private sealed class Entry
    {
        public volatile ushort Port;
        public long SeenNanos;
    }

    private readonly ConcurrentDictionary<ulong, Entry> _table = new();
    public int MaxEntries { get; init; } = 8192;
    public long AgingNanos { get; init; } = 300L * 1_000_000_000;

    public int Count => _table.Count;

    private static ulong Key(ulong mac, ushort vlan) => (mac & 0xFFFF_FFFF_FFFFUL) | ((ulong)vlan << 48);

    /// <summary>Learns (or refreshes) <paramref name="src"/> on <paramref name="port"/>; false when the table is full and it was not learned.</summary>
    public bool Learn(MacAddress src, ushort vlan, ushort port, long nowNanos)
    {
        if (src.IsMulticast) return true;
        ulong k = Key(src.Value, vlan);
        if (_table.TryGetValue(k, out var e))
        {
            if (e.Port != port) e.Port = port;
            if (nowNanos - Volatile.Read(ref e.SeenNanos) > 1_000_000_000) Volatile.Write(ref e.SeenNanos, nowNanos);
            return true;
        }
        if (_table.Count >= MaxEntries) return false;
        _table.TryAdd(k, new Entry { Port = port, SeenNanos = nowNanos });
        return true;
    }

    /// <summary>The port <paramref name="dst"/> was learned on, or <see cref="PortNumber.None"/>.</summary>
    public ushort Lookup(MacAddress dst, ushort vlan, long nowNanos)
    {
        if (dst.IsMulticast) return PortNumber.None;
        if (_table.TryGetValue(Key(dst.Value, vlan), out var e) && nowNanos - Volatile.Read(ref e.SeenNanos) < AgingNanos)
            return e.Port;
        return PortNumber.None;
    }

    /// <summary>Drops aged entries and those learned on <paramref name="removedPort"/> (when given).</summary>
    public void Age(long nowNanos, ushort removedPort = 0)
    {
        foreach (var kv in _table)
        {
            if (nowNanos - Volatile.Read(ref kv.Value.SeenNanos) >= AgingNanos || (removedPort != 0 && kv.Value.Port == removedPort))
                _table.TryRemove(kv);
        }
    }

    public void Clear() => _table.Clear();

    /// <summary>A learned address as <see cref="Snapshot"/> lists it.</summary>
    public readonly record struct Learned(MacAddress Mac, ushort Vlan, ushort Port, long SeenNanos);

    /// <summary>The entries at the time of the call, for management (allocates; safe while forwarding threads learn).</summary>
    public List<Learned> Snapshot()
    {
        var list = new List<Learned>(_table.Count);
        foreach (var kv in _table)
            list.Add(new Learned(new MacAddress(kv.Key & 0xFFFF_FFFF_FFFFUL), (ushort)(kv.Key >> 48), kv.Value.Port, Volatile.Read(ref kv.Value.SeenNanos)));
        return list;
    }
}
