using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// What a packet reads of its flow entry (the flags and serial, the match's base words a lookup compares) sits in the
/// entry's first 96 bytes of fields, so a lookup and its flow-batch touch two or three cache lines, not four: the
/// runtime's automatic layout would put the match after every other field.
/// </summary>
public sealed class FlowEntryLayoutTests
{
    private sealed class RawObject
    {
        public byte Data = 0;
    }

    private static long OffsetOf<T>(FlowEntry e, ref readonly T field)
        => (long)Unsafe.ByteOffset(ref Unsafe.As<RawObject>(e).Data, ref Unsafe.As<T, byte>(ref Unsafe.AsRef(in field)));

    [Fact]
    public void TheFieldsAPacketReadsComeFirstAndTogether()
    {
        var key = new FlowKeyBuilder().InPort(3).Key;
        var e = new FlowEntry(FlowMatch.Exact(key), 100, FlowActions.Drop, 0, 0, 0, owner: "policy", tag: 7);
        Assert.InRange(OffsetOf(e, in e.InExactStage), 0, 63);
        Assert.InRange(OffsetOf(e, in e.Match.ValueBase.W0), 0, 96 - 48);
        Assert.Equal(40, OffsetOf(e, in e.Match.ValueBase.W5) - OffsetOf(e, in e.Match.ValueBase.W0));
        // The writer's fields follow the hot ones.
        Assert.True(OffsetOf(e, in e.CreatedNanos) >= 96);
        Assert.True(OffsetOf(e, in e.Priority) >= 96);
        // And the explicit layout keeps every field its own (no overlap changed a value).
        Assert.Equal(key, e.Match.Value);
        Assert.Equal((ushort)100, e.Priority);
        Assert.Equal("policy", e.Owner);
        Assert.Equal(7UL, e.Tag);
        Assert.Same(FlowActions.Drop, e.Actions);
        e.Forwarded(2, 128, 5 * FlowEntry.LastUsedStepNanos, FlowEntry.SoleWriter);
        Assert.Equal(2, e.Packets);
        Assert.Equal(128, e.Bytes);
        Assert.Equal(5 * FlowEntry.LastUsedStepNanos, e.LastUsedNanos);
        Assert.Equal(key, e.Match.Value);
    }
}
