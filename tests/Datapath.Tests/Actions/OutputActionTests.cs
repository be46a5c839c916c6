using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// Output actions through the pipeline: a rewrite between two outputs, FLOOD and ALL, IN_PORT, CONTROLLER, and NORMAL
/// before a rewrite.
/// </summary>
public sealed class OutputActionTests
{
    [Fact]
    public void OutputRewriteOutputSendsBothVersions()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(2), FlowAction.SetDlDst(H3), FlowAction.Output(3));
        r.Send(1, f);
        var a = r.Sent(2);
        var b = r.Sent(3);
        Assert.Equal(f, a.Single());
        Assert.Equal(H3, MacAddress.Read(b.Single()));
        Assert.Equal(f.AsSpan(6).ToArray(), b.Single().AsSpan(6).ToArray());
    }

    [Fact]
    public void FloodSkipsInPortAndNoFloodPorts_AllDoesNot()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Dp.SetPortConfig(3, PortConfig.NoFlood, PortConfig.NoFlood);
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Flood));
        r.Send(1, f);
        Assert.Empty(r.Sent(1));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
        Assert.Single(r.Sent(4));
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.All));
        r.Send(1, f);
        Assert.Empty(r.Sent(1));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
        Assert.Single(r.Sent(4));
    }

    [Fact]
    public void OutputToOwnInPortNeedsInPortAction()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(1));
        r.Send(1, f);
        Assert.Empty(r.Sent(1));
        Assert.Equal(1, r.Dp.DropCount(DropReason.OutputToInPort));
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.InPort));
        r.Send(1, f);
        Assert.Single(r.Sent(1));
    }

    [Fact]
    public void ControllerActionTruncationIsTheAgentsButReasonIsAction()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Controller, 32));
        r.Send(1, f);
        var ups = r.Upcalls();
        Assert.Equal(UpcallReason.Action, ups.Single().Reason);
    }

    [Fact]
    public void NormalThenRewriteLeavesNormalsCopiesAsReceived()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Normal), FlowAction.SetDlDst(H3), FlowAction.Output(3));
        r.Send(1, f);
        // NORMAL floods the unknown destination as received; then port 3 also gets the rewritten copy.
        Assert.Equal(f, r.Sent(2).Single());
        Assert.Equal(f, r.Sent(4).Single());
        var three = r.Sent(3);
        Assert.Equal(2, three.Count);
        Assert.Equal(f, three[0]);
        Assert.Equal(H3, MacAddress.Read(three[1]));
    }
}
