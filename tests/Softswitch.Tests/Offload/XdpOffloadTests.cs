using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using Xunit.Abstractions;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Tests.Offload;

/// <summary>
/// <c>--offload xdp</c> on a running datapath over veth in the kernel here: flows the manager places are forwarded by
/// the XDP program without reaching the switch, their counts show in the flows' statistics, what the program cannot
/// run stays in software with its reason, and a barrier after a flow-mod means the kernel forwards by the new table.
/// </summary>
public sealed class XdpOffloadTests : IDisposable
{
    private const string SrcMac = "02:00:00:00:00:01", DstMac = "02:00:00:00:00:02";
    private readonly ITestOutputHelper _output;
    private readonly Netns _in;
    private readonly VethPair _out;
    private readonly AfXdpPort _p1, _p2, _sink;
    private readonly SwitchDatapath _dp;
    private readonly OfSwitchAgent _agent;
    private readonly IOffloadAttachment _offload;
    private readonly ControlCommands _commands = new();

    /// <summary>Port 1: frames from a namespace; port 2: one end of a veth pair whose other end is <see cref="_sink"/>'s AF_XDP socket.</summary>
    public XdpOffloadTests(ITestOutputHelper output)
    {
        _output = output;
        _in = Netns.Create();
        _out = VethPair.Create();
        _p1 = new AfXdpPort(_in.HostIf);
        _p2 = new AfXdpPort(_out.A);
        _sink = new AfXdpPort(_out.B);
        _dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }) { MissBehavior = MissBehavior.Drop };
        _dp.AddPort(_p1, 1);
        _dp.AddPort(_p2, 2);
        _agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x42 }), new AgentOptions());
        Assert.True(OffloadSetup.TryAttach("xdp", _dp, [], NullLogger.Instance, out var attached, out var error), error);
        _offload = attached!;
        DaemonCommands.Register(_commands, _dp, _agent, _offload.Manager, _offload.Describe);
        _dp.Start();
    }

    public void Dispose()
    {
        _offload.Dispose();
        _dp.Dispose();
        _sink.Dispose();
        _out.Dispose();
        _in.Dispose();
    }

    private ControlReply Run(string line) => _commands.Execute(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    private static byte[] Frame(ushort dport) => FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, dport);

    private FlowEntry Add(FlowMatch m, ushort prio, params FlowAction[] actions)
    {
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions)), null, out var e));
        return e!;
    }

    private List<byte[]> Sunk(int count, double seconds = 5)
    {
        var pool = new PacketPool(256);
        var pkts = new int[32];
        var got = new List<byte[]>();
        var sw = Stopwatch.StartNew();
        while (got.Count < count && sw.Elapsed.TotalSeconds < seconds)
        {
            int n = _sink.Receive(pool, pkts);
            for (int i = 0; i < n; i++) got.Add(pool.Frame(pkts[i]).ToArray());
            pool.Release(pkts.AsSpan(0, n));
            if (n == 0) Thread.Sleep(10);
        }
        return got;
    }

    private bool InHardware(FlowEntry e) => _offload.Manager.TryGetPlacement(e, out var p) && p.InHardware;

    [NetnsFact]
    public void AnOffloadedFlow_IsForwardedByTheKernel_AndItsCountsAreTheFlowsOnTheNextStatsRequest()
    {
        const int N = 300;
        var frame = Frame(2000);
        var flow = Add(MatchOf(frame, 1, 0), 100, FlowAction.SetDlDst(Mac("0a:00:00:00:00:0b")), FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(flow), Run("offload/dump-flows").Text);

        _in.SendFrames(Enumerable.Repeat(frame, N));
        var got = Sunk(N);
        Assert.Equal(N, got.Count);
        Assert.All(got, f => Assert.Equal([0x0a, 0, 0, 0, 0, 0x0b, .. frame.AsSpan(6)], f));
        // The switch's own path saw none of them.
        Assert.Equal(0, _p1.Counters.Snapshot().RxPackets);

        // A statistics request reads the map first (no maintenance step needed).
        var agg = _agent.Switch.Aggregate(new FlowStatsRequest(OfMatch.Any));
        Assert.Equal((ulong)N, agg.PacketCount);
        Assert.Equal((ulong)(N * frame.Length), agg.ByteCount);

        var show = Run("offload/show");
        _output.WriteLine(show.Text);
        Assert.Contains("hardware flows: 1", show.Text);
        Assert.Contains("xdp-flows", show.Text);
    }

    [NetnsFact]
    public void WhatTheProgramCannotRun_StaysInSoftware_WithItsReason()
    {
        var toController = Add(MatchOf(Frame(1), 1, 0), 100, FlowAction.OutputToController(128, 0, 0, false));
        var flood = Add(MatchOf(Frame(2), 1, 0), 100, FlowAction.Output(PortNumber.Flood));
        var twoOutputs = Add(MatchOf(Frame(3), 1, 0), 100, FlowAction.Output(2), FlowAction.Output(PortNumber.InPort));
        var wildcard = Add(MatchOf(Frame(4), 1, Wildcards.TpDst), 100, FlowAction.Output(2));
        var queued = Add(MatchOf(Frame(5), 1, 0), 100, FlowAction.Enqueue(2, 1));
        _agent.Switch.Barrier();
        Assert.Equal(XdpReasons.ToController, Reason(toController));
        Assert.Equal(XdpReasons.Flood, Reason(flood));
        Assert.Equal(XdpReasons.MultiOutput, Reason(twoOutputs));
        Assert.Equal(XdpReasons.NonExactMatch, Reason(wildcard));
        Assert.Equal(XdpReasons.Queue, Reason(queued));
        // OpenFlow 1.0: an exact flow outranks every wildcard flow whatever its priority, so the map may answer for it
        // (the manager keeps an exact flow out only under a wildcard flow the classifier ranks above it).
        var exactUnderWildcard = Add(MatchOf(Frame(4), 1, 0), 50, FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(exactUnderWildcard));
        _output.WriteLine(Run("offload/show").Text);
    }

    /// <summary>
    /// The kernel's answer is the software's: each action list the program runs turns a frame into the bytes the
    /// datapath's own executor writes for the same actions (a packet-out through memory ports, offload off).
    /// </summary>
    [NetnsFact]
    public void TheKernelsRewrite_IsByteForByteTheSoftwares()
    {
        var a = Mac("0a:00:00:00:00:0a");
        var b = Mac("0a:00:00:00:00:0b");
        (byte[] Frame, FlowAction[] Actions)[] cases =
        [
            (FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 1, 90, tos: 0x21),
                [FlowAction.SetNwSrc(Ip("192.168.1.1")), FlowAction.SetNwDst(Ip("172.16.5.5")), FlowAction.SetTpSrc(7777), FlowAction.SetTpDst(53),
                 FlowAction.SetNwTos(0x28), FlowAction.SetNwTtl(7), FlowAction.SetDlSrc(a), FlowAction.SetDlDst(b), FlowAction.Output(2)]),
            (FrameBuilder.Tcp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2, 90, vlan: 10, pcp: 3),
                [FlowAction.SetVlanVid(99), FlowAction.SetVlanPcp(5), FlowAction.SetNwDst(Ip("10.9.9.9")), FlowAction.SetTpDst(8080), FlowAction.Output(2)]),
            (FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 3, 90, vlan: 20),
                [FlowAction.StripVlan(), FlowAction.SetDlDst(b), FlowAction.Output(2)]),
            (FrameBuilder.Tcp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 4, 90),
                [FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid(42), FlowAction.SetVlanPcp(6), FlowAction.SetNwSrc(Ip("1.2.3.4")), FlowAction.Output(2)]),
            (FrameBuilder.IcmpEcho(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), false, 5, 6),
                [FlowAction.SetNwSrc(Ip("10.1.1.1")), FlowAction.SetNwTtl(1), FlowAction.SetNwTos(0xB8), FlowAction.Output(2)]),
        ];

        using var memDp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        var m1 = new Datapath.Memory.MemoryPort("m1", Mac("02:00:00:00:01:01"));
        var m2 = new Datapath.Memory.MemoryPort("m2", Mac("02:00:00:00:01:02")) { CaptureSent = true };
        memDp.AddPort(m1, 1);
        memDp.AddPort(m2, 2);
        foreach (var (frame, actions) in cases)
        {
            var flow = Add(MatchOf(frame, 1, 0), 100, actions);
            _agent.Switch.Barrier();
            Assert.True(InHardware(flow), Run("offload/dump-flows").Text);
            _in.SendFrames([frame]);
            var kernel = Assert.Single(Sunk(1));
            memDp.PacketOut(frame, 1, new FlowActions(actions));
            var software = Assert.Single(m2.TakeSent());
            _output.WriteLine($"in  {Convert.ToHexString(frame)}\nxdp {Convert.ToHexString(kernel)}\nsw  {Convert.ToHexString(software)}");
            Assert.Equal(Convert.ToHexString(software), Convert.ToHexString(kernel));
        }
    }

    private OffloadReason Reason(FlowEntry e)
    {
        Assert.True(_offload.Manager.TryGetPlacement(e, out var p));
        return p.Reason;
    }

    [NetnsFact]
    public void AfterTheBarrier_ADeletedFlowForwardsNothing_AndAModifiedFlowForwardsByItsNewActions()
    {
        var frame = Frame(3000);
        var m = MatchOf(frame, 1, 0);
        var flow = Add(m, 100, FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(flow));
        _in.SendFrames([frame]);
        Assert.Equal(frame, Assert.Single(Sunk(1)));

        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(
            new FlowMod(FlowModCommand.ModifyStrict, m, 100, new FlowActions([FlowAction.SetDlSrc(Mac("0a:00:00:00:00:0c")), FlowAction.Output(2)])), null, out _));
        _agent.Switch.Barrier();
        _in.SendFrames([frame]);
        Assert.Equal([.. frame.AsSpan(0, 6), 0x0a, 0, 0, 0, 0, 0x0c, .. frame.AsSpan(12)], Assert.Single(Sunk(1)));

        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, 100, FlowActions.Drop), null, out _));
        _agent.Switch.Barrier();
        _in.SendFrames(Enumerable.Repeat(frame, 20));
        Assert.Empty(Sunk(1, seconds: 1));
        Assert.Equal(0, _offload.Manager.Stats.HardwareFlows);
    }
}
