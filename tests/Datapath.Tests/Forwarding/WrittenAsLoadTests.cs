using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A field set's form (<see cref="FlowAction.SetFieldForm"/>: how the layer above was given it, a set-field or a
/// whole-field load) is presentation only: the marked list forwards every frame as the plain one does, fresh and from
/// the cached verdict.
/// </summary>
public sealed class WrittenAsLoadTests
{
    private static FlowAction[] Sets() =>
    [
        FlowAction.SetDlDst(new MacAddress(0x0200_0000_0009)), FlowAction.SetNwDst(0x0A00_0009), FlowAction.SetTpDst(8080, 6),
        FlowAction.SetNwTtl(9), FlowAction.SetNwTos(0x20), FlowAction.SetTunnel(5),
    ];

    [Fact]
    public void MarkedFieldSets_ForwardAsThePlainOnes()
    {
        var frame = Frames.Build(new FrameSpec { Tos = 0xA1 });
        byte[] Forward(FlowAction[] sets)
        {
            using var r = new DatapathRig(3);
            r.Insert(0, Any, 10, [.. sets, FlowAction.Output(2)]);
            r.Send(1, frame);
            var first = Assert.Single(r.Sent(2));
            r.Send(1, frame); // the cached verdict
            Assert.True(first.AsSpan().SequenceEqual(Assert.Single(r.Sent(2))));
            return first;
        }
        var plain = Forward(Sets());
        var marked = Sets().Select(a => a.WrittenAs(1)).ToArray();
        Assert.All(marked, a => Assert.Equal(1, a.SetFieldForm));
        Assert.True(plain.AsSpan().SequenceEqual(Forward(marked)));
        Assert.False(plain.AsSpan().SequenceEqual(frame));
    }
}
