using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
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

    private FlowEntry Add(FlowMatch m, ushort prio, params FlowAction[] actions) => Add(MatchRules.AsGiven, m, prio, actions);

    private FlowEntry Add(MatchRules rules, FlowMatch m, ushort prio, params FlowAction[] actions)
    {
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions), Rules: rules), null, out var e));
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

        // A statistics request reads the map first (no maintenance step needed).
        var agg = _agent.Switch.Totals(new FlowStatsRequest(OfMatch.Any));
        Assert.Equal((ulong)N, agg.PacketCount);
        Assert.Equal((ulong)(N * frame.Length), agg.ByteCount);
        // All of them by the kernel: the switch's own path saw none.
        Assert.Equal(N, _offload.Manager.Stats.HardwarePackets);

        var show = Run("offload/show");
        _output.WriteLine(show.Text);
        Assert.Contains("hardware flows: 1", show.Text);
        Assert.Contains("xdp-flows", show.Text);
    }

    [NetnsFact]
    public void AMillionFramesForwardedByTheKernel_AreAMillionInTheFlowsStatistics()
    {
        const int N = 1_000_000;
        var frame = Frame(2001);
        var flow = Add(MatchOf(frame, 1, 0), 100, FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(flow), Run("offload/dump-flows").Text);

        // The far end is not read: what the flow counts is what the program forwarded, whatever the sink keeps.
        long refused = _in.RepeatFrame(frame, N);
        _output.WriteLine($"{N} frames sent, {refused} sends refused and tried again");

        var agg = _agent.Switch.Totals(new FlowStatsRequest(OfMatch.Any));
        Assert.Equal((ulong)N, agg.PacketCount);
        Assert.Equal((ulong)N * (ulong)frame.Length, agg.ByteCount);
        Assert.Equal(N, _offload.Manager.Stats.HardwarePackets);
        var dump = Run("offload/dump-flows").Text;
        _output.WriteLine(dump);
        Assert.Contains($"n_packets={N}, n_bytes={N * frame.Length},", dump);
    }

    [NetnsFact]
    public void WhatTheProgramCannotRun_StaysInSoftware_WithItsReason()
    {
        var toController = Add(MatchOf(Frame(1), 1, 0), 100, FlowAction.OutputToController(128, 0, 0));
        var flood = Add(MatchOf(Frame(2), 1, 0), 100, FlowAction.Output(PortNumber.Flood));
        var twoOutputs = Add(MatchOf(Frame(3), 1, 0), 100, FlowAction.Output(2), FlowAction.Output(PortNumber.InPort));
        var wildcard = Add(MatchOf(Frame(4), 1, OfWildcards.TpDst), 100, FlowAction.Output(2));
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

    private sealed class Reports : IOfReports
    {
        public readonly List<OfFlowRemoved> Removed = new();
        public void PacketIn(in OfPacketIn packet) { }
        public void FlowRemoved(in OfFlowRemoved removed) { lock (Removed) Removed.Add(removed); }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    /// <summary>No statistics request, no maintenance step between the frames and the delete: the FLOW_REMOVED still counts every one.</summary>
    [NetnsFact]
    public void TheFlowRemovedOfADeletedOffloadedFlow_CountsWhatTheKernelForwarded()
    {
        const int N = 200;
        var reports = new Reports();
        _agent.Switch.Start(reports);
        var frame = Frame(4000);
        var match = OfMatchCompiler.ToOfMatch(MatchOf(frame, 1, 0));
        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, match, 100, OfInstructions.Apply(new[] { OfAction.Output(2) }),
                                                                            Flags: FlowModFlags.SendFlowRemoved, Rules: MatchRules.AsGiven)));
        _agent.Switch.Barrier();
        Assert.Equal(1, _offload.Manager.Stats.HardwareFlows);
        _in.SendFrames(Enumerable.Repeat(frame, N));
        Assert.Equal(N, Sunk(N).Count);

        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.DeleteStrict, match, 100, default)));
        OfFlowRemoved r;
        lock (reports.Removed) r = Assert.Single(reports.Removed);
        Assert.Equal(((ulong)N, (ulong)(N * frame.Length)), (r.PacketCount, r.ByteCount));
    }

    /// <summary>Port statistics count what crossed the wire, whether the kernel or the switch forwarded it.</summary>
    [NetnsFact]
    public void PortStatistics_IncludeWhatTheKernelForwarded()
    {
        const int N = 150, M = 20;
        var frame = Frame(5000);
        var other = Frame(5001);
        var flow = Add(MatchOf(frame, 1, 0), 100, FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid(7), FlowAction.Output(2));
        var sw = Add(MatchOf(other, 1, OfWildcards.TpSrc), 100, FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(flow), Run("offload/dump-flows").Text);
        Assert.False(InHardware(sw));
        var before = Ports();

        _in.SendFrames(Enumerable.Repeat(frame, N));
        _in.SendFrames(Enumerable.Repeat(other, M));   // by software
        Assert.Equal(N + M, Sunk(N + M).Count);

        var after = Ports();
        Assert.Equal((ulong)(N + M), after[1].RxPackets - before[1].RxPackets);
        Assert.Equal((ulong)((N + M) * frame.Length), after[1].RxBytes - before[1].RxBytes);
        Assert.Equal((ulong)(N + M), after[2].TxPackets - before[2].TxPackets);
        Assert.Equal((ulong)(N * (frame.Length + 4) + M * other.Length), after[2].TxBytes - before[2].TxBytes);
        Assert.Equal(N, _offload.Manager.Stats.HardwarePackets);
    }

    private Dictionary<uint, OfPortStats> Ports()
    {
        var list = new List<OfPortStats>();
        _agent.Switch.PortStats(OfPort.Any, list);
        return list.ToDictionary(p => p.PortNo);
    }

    /// <summary>IPv6 frames as IPv4 ones: the kernel's rewrite is the executor's byte for byte.</summary>
    [NetnsFact]
    public void TheKernelsRewriteOfIpv6_IsByteForByteTheSoftwares()
    {
        (byte[] Frame, FlowAction[] Actions)[] cases =
        [
            (Ipv6Frame(17, 1000, 1, tc: 0xB9), [FlowAction.SetDlSrc(Mac("0a:00:00:00:00:0a")), FlowAction.SetDlDst(Mac("0a:00:00:00:00:0b")), FlowAction.Output(2)]),
            (Ipv6Frame(6, 1000, 2, vlan: 10), [FlowAction.StripVlan(), FlowAction.Output(2)]),
            (Ipv6Frame(6, 1000, 3, vlan: 11), [FlowAction.SetVlanVid(99), FlowAction.SetVlanPcp(5), FlowAction.Output(2)]),
            (Ipv6Frame(58, 128, 0), [FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid(42), FlowAction.Output(2)]),
            (Ipv6Frame(17, 1000, 4), [FlowAction.SetIpv6Src(Ip6("fd00::7")), FlowAction.SetIpv6Dst(Ip6("2001:db8:ffff::1:2")), FlowAction.SetNwTtl(9),
                                      FlowAction.SetTpSrc(7777), FlowAction.SetTpDst(53), FlowAction.Output(2)]),
            (Ipv6Frame(6, 1000, 5, vlan: 12), [FlowAction.SetIpv6Dst(Ip6("fe80::1234:5678:9abc:def0")), FlowAction.SetTpDst(8080), FlowAction.StripVlan(), FlowAction.Output(2)]),
            (Ipv6Frame(58, 129, 0), [FlowAction.SetIpv6Src(Ip6("2001:db8::99")), FlowAction.SetNwTtl(1), FlowAction.Output(2)]),
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
        _dp.RefreshCounters();
        Assert.Equal(cases.Length, _offload.Manager.Stats.HardwarePackets);
    }

    /// <summary>
    /// A flow that also matches both IPv6 addresses is held (the program's second lookup): its frames are forwarded
    /// by the kernel and counted, frames of other addresses go to software; an exact flow above it answers first, and
    /// one below it stays out while it is there.
    /// </summary>
    [NetnsFact]
    public void Ipv6FlowsOnAddresses_AreForwardedByTheKernel_InTheClassifiersOrder()
    {
        const int N = 50, M = 10;
        var frame = Ipv6Frame(17, 1000, 6000);
        var other = Ipv6Frame(17, 1000, 6000, dst: "2001:db8::3");
        var byAddress = Add(MatchWithIpv6Addresses(frame, 1), 100, FlowAction.SetDlDst(Mac("0a:00:00:00:00:0b")), FlowAction.Output(2));
        var sw = Add(MatchOf(other, 1, OfWildcards.TpSrc), 50, FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(byAddress), Run("offload/dump-flows").Text);
        Assert.False(InHardware(sw));
        // Without the PCP, as OpenFlow 1.3 says an untagged frame's flow: the same flow; a tagged frame's is not exact.
        var noPcp = Add(WithoutPcp(Ipv6Frame(17, 1000, 6001)), 100, FlowAction.Output(2));
        var taggedNoPcp = Add(WithoutPcp(Ipv6Frame(17, 1000, 6002, vlan: 5)), 100, FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(noPcp), Run("offload/dump-flows").Text);
        Assert.Equal(XdpReasons.NonExactMatch, Reason(taggedNoPcp));

        _in.SendFrames([.. Enumerable.Repeat(frame, N), .. Enumerable.Repeat(other, M)]);
        var got = Sunk(N + M).Select(f => Convert.ToHexString(f)).ToList();
        byte[] rewritten = [0x0a, 0, 0, 0, 0, 0x0b, .. frame.AsSpan(6)];
        Assert.Equal(N, got.Count(f => f == Convert.ToHexString(rewritten)));
        Assert.Equal(M, got.Count(f => f == Convert.ToHexString(other)));
        _dp.RefreshCounters();
        Assert.Equal(N, _offload.Manager.Stats.HardwarePackets);
        Assert.Equal((N, N * frame.Length), (byAddress.Packets, byAddress.Bytes));
        Assert.Equal(M, sw.Packets);

        // An exact flow (no addresses) above it: the program looks it up first. (OpenFlow 1.3: ranked by priority alone.)
        var above = Add(MatchRules.PriorityOnly, MatchOf(frame, 1, 0), 200, FlowAction.SetDlDst(Mac("0a:00:00:00:00:0c")), FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(above) && InHardware(byAddress), Run("offload/dump-flows").Text);
        _in.SendFrames([frame]);
        Assert.Equal([0x0a, 0, 0, 0, 0, 0x0c, .. frame.AsSpan(6)], Assert.Single(Sunk(1)));

        // Below it, the exact flow would answer the address flow's frames first: it stays in software.
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, above.Match, 200, FlowActions.Drop, Rules: MatchRules.PriorityOnly), null, out _));
        var below = Add(MatchRules.PriorityOnly, MatchOf(frame, 1, 0), 20, FlowAction.SetDlDst(Mac("0a:00:00:00:00:0d")), FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.False(InHardware(below), Run("offload/dump-flows").Text);
        _in.SendFrames([frame]);
        Assert.Equal([0x0a, 0, 0, 0, 0, 0x0b, .. frame.AsSpan(6)], Assert.Single(Sunk(1)));
        _dp.RefreshCounters();
        Assert.Equal(N + 1, byAddress.Packets);
    }

    private static FlowMatch WithoutPcp(byte[] frame)
    {
        var m = MatchWithIpv6Addresses(frame, 1);
        return new FlowMatch(new FlowKeyBuilder(m.Mask).DlVlanPcp(0).Key, m.Value);
    }

    /// <summary>
    /// A frame with an extension header is the software's (its flow forwards it there), as is neighbour discovery
    /// (refused); an IPv6 flow that rewrites the traffic class stays in software.
    /// </summary>
    [NetnsFact]
    public void Ipv6ExtensionHeaders_AndWhatTheProgramCannotRewrite_StayInSoftware()
    {
        var plain = Ipv6Frame(17, 1000, 7);
        var flow = Add(MatchOf(plain, 1, 0), 100, FlowAction.Output(2));
        var nd = Add(MatchOf(Ipv6Frame(58, 135, 0), 1, 0), 100, FlowAction.Output(2));
        var setPort = Add(MatchOf(Ipv6Frame(17, 1000, 8), 1, 0), 100, FlowAction.SetNwTos(0x28), FlowAction.Output(2));
        _agent.Switch.Barrier();
        Assert.True(InHardware(flow));
        Assert.Equal(XdpReasons.NotParsed, Reason(nd));
        Assert.Equal(OffloadReason.UnsupportedAction, Reason(setPort));

        var withHop = Ipv6Frame(17, 1000, 7, hopByHop: true);
        Assert.Equal(MatchOf(plain, 1, 0), MatchOf(withHop, 1, 0));   // one flow for both in software
        _in.SendFrames([plain, withHop]);
        Assert.Equal(2, Sunk(2).Count);
        _dp.RefreshCounters();
        Assert.Equal(1, _offload.Manager.Stats.HardwarePackets);
        Assert.Equal(2, flow.Packets);
    }
}
