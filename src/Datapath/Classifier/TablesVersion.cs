using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The version of a <see cref="Pipeline"/>'s rule set (Open vSwitch's <c>tables_version</c>): every rule is visible
/// from the version it was added at until the version it was hidden at (<see cref="Flow.FlowEntry.VisibleAt"/>), and a
/// lookup sees the rules visible at the version its thread read once for the walk or burst. An atomic batch adds its
/// rules at the next version and hides the rules it deletes from it, and its commit publishes them all with one store
/// of <see cref="Current"/>, and stores it again as <see cref="Committed"/> once it has moved every word a cached
/// result is checked against (docs/datapath.md, "Atomic batches").
/// </summary>
/// <remarks>
/// The two counters sit 64 bytes into the object with padding after them, on a line of their own: forwarding threads
/// read them once per burst or walk, and they move only with an atomic batch's commit. One writer at a time (the
/// holder of every table an atomic batch writes).
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
public sealed class TablesVersion
{
    [FieldOffset(64)] private long _current;
    [FieldOffset(72)] private long _committed;
    [FieldOffset(144)] private readonly long _tail; // keeps the next object off the counters' line

    internal TablesVersion() => _tail = 0;

    /// <summary>The version lookups read now.</summary>
    public long Current => Volatile.Read(ref _current);

    /// <summary>
    /// The last version whose commit is done: stored after the commit moved the pipeline's change count and the
    /// tables' cache versions, so a cached result checked after this load was read is the rule set at this version
    /// or later. <see cref="Current"/> outside a commit; one behind it between a commit's two stores. A burst that
    /// reads it before its cache checks and finds <see cref="Current"/> equal to it after its lookups met rules of
    /// that one version.
    /// </summary>
    public long Committed => Volatile.Read(ref _committed);

    /// <summary>
    /// Called by a commit right after its store of <see cref="Current"/>, before it unlinks the rules it hid and moves
    /// the cached results' words (tests: a burst forwarded there runs inside the commit).
    /// </summary>
    [FieldOffset(0)] internal Action? AfterPublish; // off the counters' line

    /// <summary>Writer: makes <paramref name="version"/> (the next) the one lookups read.</summary>
    internal void Publish(long version)
    {
        Volatile.Write(ref _current, version);
        AfterPublish?.Invoke();
    }

    /// <summary>Writer: the commit of <paramref name="version"/> (published) is done (<see cref="Committed"/>).</summary>
    internal void PublishCommitted(long version) => Volatile.Write(ref _committed, version);
}
