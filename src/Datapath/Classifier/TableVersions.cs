using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// A table's published counters that cached pipeline results read (<see cref="FlowTable.Version"/> and
/// <see cref="FlowTable.Removals"/>), on a cache line of their own: the writer moves them once per published change,
/// while the table's other state changes with every flow-mod. Readers that check a verdict after each change would
/// otherwise take a cache miss per flow-mod on the table's object.
/// </summary>
/// <remarks>
/// The two counters sit 64 bytes into the object with 64 bytes of padding after them, so neither the object header
/// nor a neighbouring object shares their line. Written only by the table's writer (under its lock), read by any
/// thread.
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
public sealed class TableVersions
{
    [FieldOffset(64)] private long _version;
    [FieldOffset(72)] private long _removals;
    [FieldOffset(144)] private readonly long _tail; // keeps the next object off the counters' line

    internal TableVersions() => _tail = 0;

    /// <summary>See <see cref="FlowTable.Version"/>.</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>See <see cref="FlowTable.Removals"/>.</summary>
    public long Removals => Volatile.Read(ref _removals);

    internal void PublishVersion(long version) => Volatile.Write(ref _version, version);

    internal void PublishRemovals(long removals) => Volatile.Write(ref _removals, removals);
}

/// <summary>
/// How many rules of a <see cref="FlowTable"/> carry one <see cref="Flow.FlowEntry.Tag"/> (the layer above's, e.g. a
/// learn's cookie, whose limit reads it): kept by the table's writer as it links and unlinks rules, read lock-free.
/// </summary>
public sealed class TagCount
{
    private int _count;

    internal TagCount(ulong tag, int count)
    {
        Tag = tag;
        _count = count;
    }

    public ulong Tag { get; }

    /// <summary>The rules counted now (the writer's last store).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Writer only.</summary>
    internal void Add(int delta) => Volatile.Write(ref _count, Math.Max(0, _count + delta));
}
