using System.Runtime.InteropServices;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The rules of one <see cref="FlowTable"/> that share a mask and a priority, as cached pipeline results
/// (<see cref="PipelineVerdict"/>) see them: <see cref="Version"/> moves only with a change that could take a packet
/// key away from a rule of this class, so a verdict that hit such a rule stays valid through every other flow-mod of
/// the table. A table also has one class for its misses (<see cref="IsMissClass"/>).
/// </summary>
/// <remarks>
/// A class moves when a rule is added that could outrank its rules, when a rule's actions or instructions are swapped,
/// and (every class) when the tie order may have moved; the miss class moves with every add and miss-mode change. The
/// version is the <see cref="FlowTable.Version"/> of that change, written before the table's: a class version above the
/// table version read before a lookup means a change raced it. At most <see cref="FlowTable.MaxShadowClasses"/> per
/// table; rules past that share the miss class. Design: docs/datapath.md, "Validity under churn".
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
public sealed class ShadowClass
{
    [FieldOffset(64)] private long _version;
    /// <summary>The rules' priority; -1 for the miss class.</summary>
    [FieldOffset(72)] internal readonly int Priority;
    /// <summary>The rules' mask (default for the miss class).</summary>
    [FieldOffset(80)] internal readonly FlowKey Mask;
    /// <summary>Writer-private: rules of the table in this class.</summary>
    [FieldOffset(256)] internal int Rules;
    /// <summary>Writer-private: a rule of this class was added in the current write scope.</summary>
    [FieldOffset(260)] internal bool AddedInScope;
    /// <summary>Writer-private: the class is to be bumped when the current write scope publishes.</summary>
    [FieldOffset(261)] internal bool BumpInScope;

    internal ShadowClass(in FlowKey mask, int priority, long version)
    {
        Mask = mask;
        Priority = priority;
        _version = version;
    }

    public bool IsMissClass => Priority < 0;

    /// <summary>The table version of the last change that could take a key away from this class's rules.</summary>
    public long Version => Volatile.Read(ref _version);

    internal void Bump(long version) => Volatile.Write(ref _version, version);

    /// <summary>Moves the version by one, atomically (a counter several writers move, <see cref="Pipeline.Changes"/>).</summary>
    internal void Increment() => Interlocked.Increment(ref _version);
}
