using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Classifier;

/// <summary>
/// The datapath's trace follows re-parse points as the forwarder does: table 0 pops an MPLS label and goes to table 1,
/// which matches the IPv4 packet behind it. With the frame, the first pass's actions run on it and the rest is looked up
/// under the re-parsed key; without one, the trace stops at the re-parse point.
/// </summary>
public sealed class PipelineTraceTests
{
    private static readonly MacAddress A = new(0x020000000001UL), B = new(0x020000000002UL);

    private static byte[] MplsUdp() => FlowFrames.MplsLabelled(FrameBuilder.Udp(A, B, 0x0a000001, 0x0a000002, 1, 2));

    private static DatapathRig Rig()
    {
        var r = new DatapathRig(3);
        var mplsMask = new FlowKeyBuilder().DlType(0xFFFF).Key;
        r.Insert(0, new FlowMatch(mplsMask, new FlowKeyBuilder().DlType(PacketParser.EthTypeMpls).Key), 10,
                 [FlowAction.PopMpls(PacketParser.EthTypeIpv4)], new FlowInstructions(null, false, 0, 0, 1));
        r.Insert(1, new FlowMatch(mplsMask, new FlowKeyBuilder().DlType(PacketParser.EthTypeIpv4).Key), 10, [FlowAction.Output(2)]);
        return r;
    }

    /// <summary>Runs <paramref name="actions"/> on <paramref name="frame"/> as the executor does; the frame after.</summary>
    private static byte[] Run(FlowActions actions, byte[] frame)
    {
        var pool = new PacketPool(4);
        int p = pool.Alloc();
        pool.Write(p, frame);
        PacketParser.Parse(frame, 1, out _, out var l);
        var layers = new[] { l };
        var sink = new RecordingSink();
        new ActionExecutor().Execute(actions, pool, [p], layers, ref sink);
        return pool.Frame(p).ToArray();
    }

    [Fact]
    public void WithTheFrame_EachPassRunsOnIt_AndTheRestIsLookedUpUnderTheReparsedKey()
    {
        using var r = Rig();
        var frame = MplsUdp();
        PacketParser.Parse(frame, 1, out var key, out _);
        var ran = new List<byte[]>();
        var t = PipelineTrace.Follow(r.Dp.Pipeline, key, frame, (a, f) => { ran.Add(f); return Run(a, f); });
        Assert.Equal([frame], ran);
        Assert.Equal(2, t.Passes.Count);
        Assert.Equal([0, 1], t.Steps.Select(s => (int)s.TableId));
        Assert.Equal(PipelineEnd.Actions, t.Last.End);
        Assert.Equal(Convert.ToHexString(FrameBuilder.Udp(A, B, 0x0a000001, 0x0a000002, 1, 2)), Convert.ToHexString(t.Frame!));
        Assert.Contains(t.Passes[^1].Items, a => a.Kind == ActionKind.Output && a.Port == 2);
    }

    [Fact]
    public void WithoutAFrame_TheTraceStopsAtTheReparsePoint()
    {
        using var r = Rig();
        PacketParser.Parse(MplsUdp(), 1, out var key, out _);
        var t = PipelineTrace.Follow(r.Dp.Pipeline, key, null, (_, _) => throw new InvalidOperationException("no frame to run on"));
        Assert.Single(t.Passes);
        Assert.Equal(PipelineEnd.Recirculate, t.Last.End);
        Assert.Equal(1, t.Last.Next!.Table);
        Assert.Null(t.Frame);
    }
}
