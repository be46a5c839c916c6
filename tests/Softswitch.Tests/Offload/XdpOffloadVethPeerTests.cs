using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using Xunit.Abstractions;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Tests.Offload;

/// <summary>
/// <c>--offload xdp</c> and a veth whose peer would drop what the program redirects into it: the kernel queues such
/// frames to the peer's NAPI, which exists only while the peer runs an XDP program or has GRO on. Flows to such a port
/// stay in software (<c>veth-peer-drops-redirect</c>) and their frames arrive; with GRO on the peer they are placed.
/// </summary>
public sealed class XdpOffloadVethPeerTests : IDisposable
{
    private const int N = 200;
    private readonly ITestOutputHelper _output;
    private readonly Netns _in;
    private readonly VethPair _out;
    private readonly AfXdpPort _p1, _p2;
    private readonly AfPacketPort _sink;
    private readonly SwitchDatapath _dp;
    private readonly OfSwitchAgent _agent;
    private IOffloadAttachment? _offload;

    /// <summary>Port 1: frames from a namespace (its peer there has no XDP program); port 2: a veth whose peer, here, is read by a packet socket (no XDP program, GRO off).</summary>
    public XdpOffloadVethPeerTests(ITestOutputHelper output)
    {
        _output = output;
        _in = Netns.Create();
        _out = VethPair.Create();
        _p1 = new AfXdpPort(_in.HostIf);
        _p2 = new AfXdpPort(_out.A);
        _sink = new AfPacketPort(_out.B);
        _dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }) { MissBehavior = MissBehavior.Drop };
        _dp.AddPort(_p1, 1);
        _dp.AddPort(_p2, 2);
        _agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x43 }), new AgentOptions());
    }

    private void Attach()
    {
        Assert.True(OffloadSetup.TryAttach("xdp", _dp, [], NullLogger.Instance, out var attached, out var error), error);
        _offload = attached!;
        _output.WriteLine(_offload.Describe());
        _dp.Start();
    }

    public void Dispose()
    {
        _offload?.Dispose();
        _dp.Dispose();
        _sink.Dispose();
        _out.Dispose();
        _in.Dispose();
    }

    private static byte[] Frame(ushort dport) => FrameBuilder.Udp(Mac("02:00:00:00:00:01"), Mac("02:00:00:00:00:02"), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, dport);

    private FlowEntry Add(FlowMatch m, params FlowAction[] actions)
    {
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 100, new FlowActions(actions)), null, out var e));
        return e!;
    }

    private FlowPlacement Placement(FlowEntry e)
    {
        Assert.True(_offload!.Manager.TryGetPlacement(e, out var p));
        return p;
    }

    /// <summary>Frames of UDP destination port <paramref name="dport"/> the sink receives within a few seconds.</summary>
    private int Sunk(ushort dport, int count)
    {
        var pool = new PacketPool(256);
        var pkts = new int[32];
        int got = 0;
        var sw = Stopwatch.StartNew();
        while (got < count && sw.Elapsed.TotalSeconds < 5)
        {
            int n = _sink.Receive(pool, pkts);
            for (int i = 0; i < n; i++)
            {
                var f = pool.Frame(pkts[i]);
                if (f.Length >= 38 && ((f[36] << 8) | f[37]) == dport) got++;
            }
            pool.Release(pkts.AsSpan(0, n));
            if (n == 0) Thread.Sleep(10);
        }
        return got;
    }

    [NetnsFact]
    public void AFlowToAVethWhosePeerHasNoXdpProgramAndGroOff_StaysInSoftware_AndItsFramesArrive()
    {
        Attach();
        var frame = Frame(3000);
        var flow = Add(MatchOf(frame, 1, 0), FlowAction.Output(2));
        // Port 1's peer is in the namespace, without an XDP program: its GRO cannot be read from here, and it is taken to receive.
        var back = Add(MatchOf(frame, 2, 0), FlowAction.Output(1));
        var hairpin = Add(MatchOf(Frame(3001), 2, 0), FlowAction.Output(PortNumber.InPort));
        _agent.Switch.Barrier();

        var p = Placement(flow);
        Assert.False(p.InHardware);
        Assert.Same(XdpReasons.VethPeerDropsRedirect, p.Reason);
        _output.WriteLine(p.Detail.Note);
        Assert.Contains("GRO off", p.Detail.Note);
        Assert.Contains(_out.B, p.Detail.Note);
        Assert.True(Placement(back).InHardware, _offload!.Describe());
        Assert.Same(XdpReasons.VethPeerDropsRedirect, Placement(hairpin).Reason);
        Assert.Contains("no redirect into port 2 (", _offload!.Describe());
        Assert.DoesNotContain("no redirect into port 1 (", _offload.Describe());

        _in.SendFrames(Enumerable.Repeat(frame, N));
        Assert.Equal(N, Sunk(3000, N));
        Assert.Equal(0, _offload.Manager.Stats.HardwarePackets);
    }

    [NetnsFact]
    public void WithGroOnThePeer_TheFlowIsPlaced_AndTheKernelsFramesArrive()
    {
        Sh.Check("ethtool", "-K", _out.B, "gro", "on");
        Attach();
        var frame = Frame(3002);
        var flow = Add(MatchOf(frame, 1, 0), FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(Placement(flow).InHardware, _offload!.Describe());

        _in.SendFrames(Enumerable.Repeat(frame, N));
        Assert.Equal(N, Sunk(3002, N));
        _agent.Switch.Totals(new FlowStatsRequest(OfMatch.Any));
        Assert.Equal(N, _offload.Manager.Stats.HardwarePackets);
    }

    /// <summary>
    /// A port of the program's that leaves the datapath (its interface went away) is forgotten: flows to it go back to
    /// software (<c>port-reopened</c>), and stay there once a port of that number is opened again over the interface
    /// (the program is not on it), so their frames arrive through the switch.
    /// </summary>
    [NetnsFact]
    public void APortThatLeavesTheDatapath_IsForgotten_AndFlowsToItStayInSoftwareOnceItIsBack()
    {
        Sh.Check("ethtool", "-K", _out.B, "gro", "on");
        Attach();
        var frame = Frame(3004);
        var flow = Add(MatchOf(frame, 1, 0), FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(Placement(flow).InHardware);

        _dp.RemovePort(2);
        var p = Placement(flow);
        Assert.Same(XdpReasons.PortReopened, p.Reason);
        // The removed port's socket and program go once the forwarding threads pass a quiescent point: open again until then.
        AfXdpPort? again = null;
        var sw = Stopwatch.StartNew();
        while (again is null)
        {
            try
            {
                again = new AfXdpPort(_out.A);
            }
            catch (Softswitch.Ports.Linux.PortOpenException) when (sw.Elapsed.TotalSeconds < 10)
            {
                Thread.Sleep(50);
            }
        }
        _dp.AddPort(again, 2);
        _offload!.Manager.Poll();
        p = Placement(flow);
        Assert.False(p.InHardware);
        Assert.Same(XdpReasons.PortReopened, p.Reason);
        _output.WriteLine(p.Detail.Note);

        _in.SendFrames(Enumerable.Repeat(frame, N));
        Assert.Equal(N, Sunk(3004, N));
    }
}
