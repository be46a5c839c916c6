using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The version of a <see cref="Pipeline"/>'s rule set (Open vSwitch's <c>tables_version</c>): every rule is visible
/// from the version it was added at until the version it was hidden at (<see cref="Flow.FlowEntry.VisibleAt"/>), and a
/// lookup sees the rules visible at the version its thread read once for the walk or burst. An atomic batch adds its
/// rules at the next version and hides the rules it deletes from it, and its commit publishes them all with one store
/// of <see cref="Current"/> (docs/datapath.md, "Atomic batches").
/// </summary>
/// <remarks>
/// The counter sits 64 bytes into the object with padding after it, on a line of its own: forwarding threads read it
/// once per burst or walk, and it moves only with an atomic batch's commit. One writer at a time (the holder of every
/// table an atomic batch writes).
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
public sealed class TablesVersion
{
    [FieldOffset(64)] private long _current;
    [FieldOffset(136)] private readonly long _tail; // keeps the next object off the counter's line

    internal TablesVersion() => _tail = 0;

    /// <summary>The version lookups read now.</summary>
    public long Current => Volatile.Read(ref _current);

    /// <summary>Writer: makes <paramref name="version"/> (the next) the one lookups read.</summary>
    internal void Publish(long version) => Volatile.Write(ref _current, version);
}
