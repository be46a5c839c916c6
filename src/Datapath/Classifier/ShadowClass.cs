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
/// <para>Why this is exact, not a guess: a lookup returns the highest-priority rule matching the key, and the table's
/// ties are fixed (a hash-stage rule beats an equal-priority wildcard rule; among equal-priority wildcard rules, the
/// subtable first in the search order wins). So the winner W (mask M, priority P) of a key changes only when
/// (1) W itself is removed or replaced (caught by the entry: <see cref="FlowEntry.IsRemoved"/> and
/// <see cref="FlowEntry.Serial"/>), (2) a rule is added that matches the key and beats W: its priority is above P, or
/// equal to P with another mask (a rule of the same mask and priority that matched the key would have W's value, so
/// it would be W's replacement, case 1), or (3) the tie order among equal-priority wildcard rules moves (a removal
/// that lowers a subtable's top priority). Removing a rule other than W never changes W. A table therefore bumps the
/// class of (M, P) on case 2 for any key (adds it does not test against keys), on case 3 (every class), and when W's
/// actions or instructions are swapped (the verdict composed them). A key that missed changes only when a rule is
/// added (any rule: it may match) or the table's miss mode changes: that is the miss class.</para>
/// <para>The version is the table's <see cref="FlowTable.Version"/> of the change that moved it, written before the
/// table's version is published, so a class version is never above the table version that follows it. A reader
/// reads the table version before its lookup and the class version after it; a class version above the table
/// version it read means a change raced the lookup, and the reader records nothing it could later take as valid.</para>
/// <para>The writer keeps at most <see cref="FlowTable.MaxShadowClasses"/> classes per table (classes with no rule
/// left are dropped when the cap is reached); rules beyond it share the miss class, which every add bumps:
/// correct, only invalidated more often.</para>
/// <para>Layout: the version (read with every cached packet) sits 64 bytes into the object, after padding that keeps
/// the object header and whatever precedes the object off its line, and the writer's bookkeeping (written with every
/// flow-mod of the class) more than a line after it, so a writer's flow-mods do not take the version's line from the
/// forwarding threads' caches.</para>
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

    /// <summary>The table version of the last change that could take a key away from this class's rules (see the remarks).</summary>
    public long Version => Volatile.Read(ref _version);

    internal void Bump(long version) => Volatile.Write(ref _version, version);

    /// <summary>Moves the version by one, atomically (a counter several writers move, <see cref="Pipeline.Changes"/>).</summary>
    internal void Increment() => Interlocked.Increment(ref _version);
}
