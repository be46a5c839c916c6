using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>End to end through the real pipeline with in-memory ports (ovs tests/ofproto-dpif.at in spirit).</summary>
public sealed class ForwardingTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01");
    private static readonly MacAddress H2 = MacAddress.Parse("00:00:00:00:00:02");
    private static readonly MacAddress H3 = MacAddress.Parse("00:00:00:00:00:03");

    private sealed class Rig : DatapathRig
    {
        public readonly OfFlowTables Flows;

        public Rig(int ports = 4, int emc = 1024) : base(ports, new DatapathOptions { EmcEntries = emc, PacketInRate = 0 })
            => Flows = new OfFlowTables(Dp);

        public FlowModStatus Add(FlowMatch m, ushort prio, params FlowAction[] actions)
            => Flows.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions)));
    }

    private static byte[] Udp(MacAddress s, MacAddress d, string ips, string ipd, ushort sp = 1000, ushort dpt = 2000, ushort? vlan = null)
        => FrameBuilder.Udp(s, d, Ipv4.Parse(ips), Ipv4.Parse(ipd), sp, dpt, 64, vlan);

    private static FlowMatch MatchOf(byte[] frame, ushort inPort, OfWildcards w)
    {
        PacketParser.Parse(frame, inPort, out var key, out _);
        return FlowMatch.FromOpenFlow(w | OfWildcards.TunIdExt, key);
    }

    [Fact]
    public void ExactFlowForwardsToItsPortAndCounts()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        Assert.Equal(FlowModStatus.Ok, r.Add(MatchOf(f, 1, OfWildcards.None), 100, FlowAction.Output(2)));
        r.Send(1, f);
        r.Send(1, f);
        var sent = r.Sent(2);
        Assert.Equal(2, sent.Count);
        Assert.Equal(f, sent[0]);
        Assert.Empty(r.Sent(3));
        var entries = new List<FlowEntry>();
        r.Flows.Collect(FlowMatch.All, PortNumber.None, false, entries);
        Assert.Single(entries);
        Assert.Equal(2, entries[0].Packets);
        Assert.Equal(2 * f.Length, entries[0].Bytes);
    }

    [Fact]
    public void ExactBeatsHigherPriorityWildcard()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.All & ~OfWildcards.DlType), 65000, FlowAction.Output(3));
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(2));
        r.Send(1, f);
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void MissGoesToControllerWithNoMatchReason()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Send(1, f);
        var ups = r.Upcalls();
        Assert.Single(ups);
        Assert.Equal((ushort)1, ups[0].InPort);
        Assert.Equal(UpcallReason.Miss, ups[0].Reason);
        Assert.Equal(f, ups[0].Frame);
    }

    [Fact]
    public void MissInSecureModeDropsAndCounts()
    {
        using var r = new Rig();
        r.Dp.MissBehavior = MissBehavior.Drop;
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Empty(r.Upcalls());
        Assert.Equal(1, r.Dp.DropCount(DropReason.MissSecure));
    }

    [Fact]
    public void StandaloneLearnsAndStopsFlooding()
    {
        using var r = new Rig();
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
        Assert.Single(r.Sent(4));
        Assert.Empty(r.Sent(1));
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Single(r.Sent(1));
        Assert.Empty(r.Sent(3));
        r.Send(1, Udp(H1, H2, "10.0.0.1", "10.0.0.2"));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void OutputRewriteOutputSendsBothVersions()
    {
        using var r = new Rig();
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
        using var r = new Rig();
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
        using var r = new Rig();
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
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Controller, 32));
        r.Send(1, f);
        var ups = r.Upcalls();
        Assert.Equal(UpcallReason.Action, ups.Single().Reason);
    }

    [Fact]
    public void PortConfigNoRecvAndNoFwdDrop()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(2));
        r.Dp.SetPortConfig(2, PortConfig.NoFwd, PortConfig.NoFwd);
        r.Send(1, f);
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoFwd));
        r.Dp.SetPortConfig(2, PortConfig.None, PortConfig.NoFwd);
        r.Dp.SetPortConfig(1, PortConfig.NoRecv, PortConfig.NoRecv);
        r.Send(1, f);
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoRecv));
        Assert.Contains((PortStatusReason.Modify, (ushort)2), r.PortEvents);
    }

    [Fact]
    public void NoRecvKeepsBpdus_NoRecvStpDropsThem()
    {
        using var r = new Rig();
        r.Dp.MissBehavior = MissBehavior.Controller;
        var bpdu = new byte[60];
        MacAddress.Parse("01:80:c2:00:00:00").Write(bpdu);
        H1.Write(bpdu.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(bpdu.AsSpan(12), 38); // 802.3 length, LLC 42 42 03
        bpdu[14] = 0x42; bpdu[15] = 0x42; bpdu[16] = 0x03;
        var data = Udp(H1, H2, "10.0.0.1", "10.0.0.2");

        r.Dp.SetPortConfig(1, PortConfig.NoRecv, PortConfig.NoRecv);
        r.Send(1, data);
        r.Send(1, bpdu);
        var ups = r.Upcalls();
        Assert.Equal(bpdu, ups.Single().Frame);          // the BPDU still reaches the controller
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoRecv));

        r.Dp.SetPortConfig(1, PortConfig.NoRecvStp, PortConfig.NoRecv | PortConfig.NoRecvStp);
        r.Send(1, bpdu);
        r.Send(1, data);
        ups = r.Upcalls();
        Assert.Equal(data, ups.Single().Frame);
        Assert.Equal(1, r.Dp.DropCount(DropReason.NoRecvStp));
    }

    [Fact]
    public void NormalThenRewriteLeavesNormalsCopiesAsReceived()
    {
        using var r = new Rig();
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

    [Fact]
    public void NormalLearnsNothingOnPseudoPorts()
    {
        using var r = new Rig();
        var fromH1 = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        var normal = new FlowActions([FlowAction.Output(PortNumber.Normal)]);
        r.Dp.PacketOut(fromH1, PortNumber.Controller, normal);
        r.Dp.PacketOut(fromH1, PortNumber.None, normal);
        r.Dp.PacketOut(fromH1, PortNumber.Local, normal); // this rig has no LOCAL port
        Assert.Equal(0, r.Dp.MacTable.Count);
        for (int p = 1; p <= 4; p++) Assert.Equal(3, r.Sent(p).Count); // each packet-out flooded to every port
        // A reply to H1 is still flooded: H1 was not learned on a pseudo-port.
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Send(2, Udp(H2, H1, "10.0.0.2", "10.0.0.1"));
        Assert.Single(r.Sent(1));
        Assert.Single(r.Sent(3));
        Assert.Single(r.Sent(4));
        Assert.Equal(0, r.Dp.DropCount(DropReason.NoSuchPort));
    }

    [Fact]
    public void LocalPortCarriesFlowsBothWaysAndItsLinkIsMonitored()
    {
        using var r = new Rig();
        var local = new MemoryPort("ss-1", new MacAddress(0x0200_0000_00FEUL)) { CaptureSent = true };
        local.SetLink(false); // a LOCAL tap starts administratively down
        r.Dp.AddPort(local, PortNumber.Local);
        Assert.Contains((PortStatusReason.Add, PortNumber.Local), r.PortEvents);
        var toLocal = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        var fromLocal = Udp(H2, H1, "10.0.0.2", "10.0.0.1");
        r.Add(MatchOf(toLocal, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Local));
        r.Add(MatchOf(fromLocal, PortNumber.Local, OfWildcards.None), 1, FlowAction.Output(1));
        r.Send(1, toLocal);
        Assert.Empty(local.TakeSent());
        Assert.Equal(1, r.Dp.DropCount(DropReason.LinkDown));

        local.SetLink(true); // the host brings the interface up
        r.Dp.RunMaintenance();
        Assert.Contains((PortStatusReason.Modify, PortNumber.Local), r.PortEvents);
        r.Send(1, toLocal);
        Assert.Equal(toLocal, local.TakeSent().Single());
        local.Inject(fromLocal);   // what the host sends on the tap enters with in_port LOCAL
        r.Dp.PollUntilIdle();
        Assert.Equal(fromLocal, r.Sent(1).Single());
    }

    private static MemoryPort AddLocal(Rig r)
    {
        var local = new MemoryPort("ss-1", new MacAddress(0x0200_0000_00FEUL)) { CaptureSent = true };
        r.Dp.AddPort(local, PortNumber.Local);
        return local;
    }

    private static readonly MacAddress Broadcast = MacAddress.Parse("ff:ff:ff:ff:ff:ff");

    [Theory]
    [InlineData(PortNumber.Flood)]
    [InlineData(PortNumber.All)]
    [InlineData(PortNumber.Normal)]
    public void FloodAllAndNormalReachTheLocalPort_NeverTheInputPort(ushort action)
    {
        using var r = new Rig();
        var local = AddLocal(r);
        var arp = Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255");
        r.Add(MatchOf(arp, 1, OfWildcards.All & ~OfWildcards.InPort), 1, FlowAction.Output(action));
        r.Send(1, arp);
        Assert.Equal(arp, local.TakeSent().Single());
        Assert.Empty(r.Sent(1));
        for (int p = 2; p <= 4; p++) Assert.Equal(arp, r.Sent(p).Single());
    }

    [Theory]
    [InlineData(PortNumber.Flood)]
    [InlineData(PortNumber.All)]
    [InlineData(PortNumber.Normal)]
    public void LocalAsInputPortFloodsToEveryOtherPort(ushort action)
    {
        using var r = new Rig();
        var local = AddLocal(r);
        var dhcp = Udp(H3, Broadcast, "0.0.0.0", "255.255.255.255", 68, 67);
        r.Add(MatchOf(dhcp, PortNumber.Local, OfWildcards.All & ~OfWildcards.InPort), 1, FlowAction.Output(action));
        local.Inject(dhcp);
        r.Dp.PollUntilIdle();
        Assert.Empty(local.TakeSent());
        for (int p = 1; p <= 4; p++) Assert.Equal(dhcp, r.Sent(p).Single());
        Assert.Equal(0, r.Dp.DropCount(DropReason.OutputToInPort));
    }

    [Fact]
    public void StandaloneLearningFloodsBroadcastsToTheLocalPort_AndLearnsHostsBehindIt()
    {
        using var r = new Rig();
        var local = AddLocal(r);
        r.Dp.MissBehavior = MissBehavior.Normal;
        var request = Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255");
        r.Send(1, request);
        Assert.Equal(request, local.TakeSent().Single());
        Assert.Empty(r.Sent(1));
        for (int p = 2; p <= 4; p++) Assert.Single(r.Sent(p));
        // The host behind LOCAL answers: learned on LOCAL, the reply goes to port 1 alone.
        local.Inject(Udp(H3, H1, "10.0.0.3", "10.0.0.1"));
        r.Dp.PollUntilIdle();
        Assert.Single(r.Sent(1));
        for (int p = 2; p <= 4; p++) Assert.Empty(r.Sent(p));
        // Unicast to the host behind LOCAL goes to LOCAL alone.
        r.Send(2, Udp(H2, H3, "10.0.0.2", "10.0.0.3"));
        Assert.Single(local.TakeSent());
        Assert.Empty(r.Sent(3));
        Assert.Empty(r.Sent(4));
    }

    [Fact]
    public void FloodSkipsALocalPortConfiguredNotToFlood_AllDoesNot()
    {
        using var r = new Rig();
        var local = AddLocal(r);
        r.Dp.SetPortConfig(PortNumber.Local, PortConfig.NoFlood, PortConfig.NoFlood);
        var f = Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.Flood));
        r.Send(1, f);
        Assert.Empty(local.TakeSent());
        Assert.Single(r.Sent(2));
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(PortNumber.All));
        r.Send(1, f);
        Assert.Single(local.TakeSent());
    }

    [Fact]
    public void FragmentsOfOneDatagramTakeTheSameFlow()
    {
        using var r = new Rig();
        var first = Udp(H1, H2, "10.0.0.1", "10.0.0.2", 1000, 2000);
        first[14 + 6] = 0x20; // MF, offset 0
        first[14 + 10] = 0; first[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(14 + 10), Checksum.Compute(first.AsSpan(14, 20)));
        var later = (byte[])first.Clone();
        later[14 + 6] = 0x00; later[14 + 7] = 0x05; // offset 40 bytes, last fragment
        later[14 + 10] = 0; later[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(later.AsSpan(14 + 10), Checksum.Compute(later.AsSpan(14, 20)));
        // An exact flow for fragments: tp_src = tp_dst = 0.
        PacketParser.Parse(first, 1, out var key, out _);
        Assert.Equal(0, key.TpSrc);
        Assert.Equal(0, key.TpDst);
        r.Add(FlowMatch.FromOpenFlow(OfWildcards.TunIdExt, key), 1, FlowAction.Output(2));
        r.Send(1, first);
        r.Send(1, later);
        Assert.Equal(2, r.Sent(2).Count);
        Assert.Empty(r.Upcalls());
    }

    [Fact]
    public void FragmentDropModeDropsFragments()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        // Set MF on the frame and fix the IPv4 header checksum.
        f[14 + 6] = 0x20;
        f[14 + 10] = 0; f[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 10), Checksum.Compute(f.AsSpan(14, 20)));
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Dp.FragmentMode = FragmentMode.Drop;
        r.Send(1, f);
        Assert.Equal(1, r.Dp.DropCount(DropReason.Fragment));
        Assert.Empty(r.Sent(2));
    }

    [Fact]
    public void RuntIsCountedAndDoesNotCrash()
    {
        using var r = new Rig();
        r.Dp.MissBehavior = MissBehavior.Drop;
        r.Send(1, new byte[5]);
        Assert.Equal(1, r.Dp.ParseErrorCount(ParseError.Runt));
    }

    [Fact]
    public void PacketOutWithTableUsesFlowTable()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Add(MatchOf(f, 1, OfWildcards.None), 1, FlowAction.Output(4));
        r.Dp.PacketOut(f, 1, new FlowActions([FlowAction.Output(PortNumber.Table)]));
        Assert.Single(r.Sent(4));
        r.Dp.PacketOut(f, PortNumber.None, new FlowActions([FlowAction.Output(2), FlowAction.Output(3)]));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
    }

    [Fact]
    public void EveryListenerHearsMaintenanceStartBeforeExpiry_AndUnsubscribedOnesNothing()
    {
        using var r = new Rig();
        var log = new List<string>();
        var a = new OrderLog("a", log);
        var b = new OrderLog("b", log);
        r.Dp.Subscribe(a);
        r.Dp.Subscribe(b);
        var m = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(FlowModStatus.Ok, r.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 5, new FlowActions([FlowAction.Output(2)]), IdleTimeout: 1)));
        r.Clock.Advance(TimeSpan.FromSeconds(2));
        r.Dp.RunMaintenance();
        Assert.Equal(new[] { "a start", "b start", "a expired", "b expired" }, log);
        Assert.Single(r.Removed);

        r.Dp.Unsubscribe(a);
        log.Clear();
        r.Dp.RunMaintenance();
        Assert.Equal(new[] { "b start" }, log);
    }

    private sealed class OrderLog(string name, List<string> log) : IDatapathEvents
    {
        public void OnMaintenanceStarting() => log.Add(name + " start");
        public void OnFlowExpired(in FlowRemoved expired) => log.Add(name + " expired");
    }

    [Fact]
    public void AFailingMaintenanceStepIsCountedKeptAndReported_AndTheTimerGoesOn()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, MaintenanceInterval = TimeSpan.FromMilliseconds(5) });
        var failing = new FailsOnce();
        dp.Subscribe(failing);
        dp.Start();
        Assert.True(failing.Reported.Wait(TimeSpan.FromSeconds(10)), "the failure never reached the listener");
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref failing.Starts) >= 3, TimeSpan.FromSeconds(10)), "the timer stopped after the failure");
        dp.Stop();
        Assert.Equal(1, dp.MaintenanceErrorCount);
        Assert.Equal(1, dp.Counters.Read(Softswitch.Datapath.Counters.DatapathCounters.MaintenanceError));
        Assert.Same(failing.Thrown, dp.LastMaintenanceError);
        Assert.Same(failing.Thrown, failing.Received);
    }

    private sealed class FailsOnce : IDatapathEvents
    {
        public readonly InvalidOperationException Thrown = new("maintenance step failed");
        public readonly ManualResetEventSlim Reported = new();
        public Exception? Received;
        public int Starts;

        public void OnMaintenanceStarting()
        {
            if (Interlocked.Increment(ref Starts) == 1) throw Thrown;
        }

        public void OnMaintenanceError(Exception error)
        {
            Received = error;
            Reported.Set();
        }
    }

    [Fact]
    public void IdleTimeoutExpiresThroughMaintenanceAndReports()
    {
        using var r = new Rig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Flows.Apply(new FlowMod(FlowModCommand.Add, MatchOf(f, 1, OfWildcards.None), 1,
            new FlowActions([FlowAction.Output(2)]), IdleTimeout: 5, Flags: FlowModFlags.SendFlowRemoved));
        r.Clock.Advance(TimeSpan.FromSeconds(3));
        r.Send(1, f);
        r.Clock.Advance(TimeSpan.FromSeconds(3));
        r.Dp.RunMaintenance();
        Assert.Empty(r.Removed);
        r.Clock.Advance(TimeSpan.FromSeconds(6));
        r.Dp.RunMaintenance();
        var rem = Assert.Single(r.Removed);
        Assert.Equal(FlowRemovedReason.IdleTimeout, rem.Reason);
        Assert.Equal(1, rem.Packets);
    }

    [Fact]
    public void InPortOnlyTable_OneLookupPerBurst_GivesPerPacketResults_AndFallsBackWhenTheShapeChanges()
    {
        using var r = new Rig(emc: 1024);
        var allButInPort = (OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt;
        var frames = new byte[64][];
        for (int i = 0; i < frames.Length; i++) frames[i] = Udp(H1, H2, "10.0.0.1", $"10.0.1.{i}", (ushort)(1000 + i));
        r.Add(MatchOf(frames[0], 1, allButInPort), 10, FlowAction.Output(2));
        r.Add(FlowMatch.FromOpenFlow(OfWildcards.All | OfWildcards.TunIdExt, default), 0, FlowAction.Output(4));
        Assert.Equal(Softswitch.Datapath.Classifier.LookupShape.InPortOnly, r.Dp.Pipeline.LookupTable.Shape);

        foreach (var p in r.Ports) p.CaptureSent = false;
        var before = r.Dp.Pipeline.GetLookupTotals();
        r.Ports[0].SetGenerator(frames, 6400);
        Assert.Equal(6400, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(6400, r.Ports[1].Counters.TxPackets);
        var byPort = r.Dp.Pipeline.LookupTable.Lookup(new FlowKeyBuilder().InPort(1).Key)!;
        Assert.Equal(6400, byPort.Packets);
        Assert.Equal(6400L * frames[0].Length, byPort.Bytes);
        var after = r.Dp.Pipeline.GetLookupTotals();
        Assert.Equal(6400, after.WildcardLookups - before.WildcardLookups);
        Assert.Equal(6400, after.WildcardMatched - before.WildcardMatched);

        // Port 3 has no rule of its own: the match-all rule takes its packets.
        r.Ports[2].SetGenerator(frames, 640);
        Assert.Equal(640, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(640, r.Ports[3].Counters.TxPackets);

        // One rule that looks at nw_dst: per-packet lookups again, and only its packet changes its way.
        var one = MatchOf(frames[5], 1, OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask));
        r.Add(one, 20, FlowAction.Output(3));
        Assert.Equal(Softswitch.Datapath.Classifier.LookupShape.General, r.Dp.Pipeline.LookupTable.Shape);
        r.Ports[0].SetGenerator(frames, 6400);
        Assert.Equal(6400, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(100, r.Ports[2].Counters.TxPackets);
        Assert.Equal(6400 + 6300, r.Ports[1].Counters.TxPackets);

        // Deleted again: back to one lookup per burst, with no allocation per packet.
        Assert.Equal(FlowModStatus.Ok, r.Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, one, 20, FlowActions.Drop)));
        Assert.Equal(Softswitch.Datapath.Classifier.LookupShape.InPortOnly, r.Dp.Pipeline.LookupTable.Shape);
        AssertSteadyForwardingAllocatesNothing(r);
        Assert.Equal(100, r.Ports[2].Counters.TxPackets);
    }

    /// <summary>Rounds of 10,000 generated frames on port 1 until allocation is steady: all forwarded, 0 bytes. Returns the rounds.</summary>
    private static int AssertSteadyForwardingAllocatesNothing(Rig r)
    {
        int got = 0, rounds = 0;
        long allocated = AllocationMeter.SteadyState(() =>
        {
            r.Ports[0].SetGeneratorCount(10_000);
            got += r.Dp.PollUntilIdle(100_000);
            rounds++;
        });
        Assert.Equal(10_000 * rounds, got);
        Assert.Equal(0, allocated);
        return rounds;
    }

    [Fact]
    public void ForwardingAllocatesNothingPerPacket()
    {
        using var r = new Rig(emc: 1024);
        var frames = new byte[64][];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = Udp(H1, H2, "10.0.0.1", $"10.0.1.{i}");
            r.Add(MatchOf(frames[i], 1, OfWildcards.None), 1, FlowAction.SetDlDst(H3), FlowAction.Output((ushort)(2 + i % 3)));
        }
        r.Add(MatchOf(frames[0], 1, OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwProto)), 5, FlowAction.Output(2));
        foreach (var p in r.Ports) p.CaptureSent = false;
        r.Ports[0].SetGenerator(frames, 1000);
        r.Dp.PollUntilIdle();
        int rounds = AssertSteadyForwardingAllocatesNothing(r);
        Assert.Equal(1000 + 10_000 * rounds, r.Ports[1].Counters.TxPackets + r.Ports[2].Counters.TxPackets + r.Ports[3].Counters.TxPackets);
    }

    [Fact]
    public void AddedPortGetsNumberAndStatusEvent_RemovedPortToo()
    {
        using var r = new Rig(ports: 2);
        var slot = r.Dp.AddPort(new MemoryPort("p9", new MacAddress(9)));
        Assert.Equal((ushort)3, slot.No);
        Assert.True(r.Dp.RemovePort(3));
        Assert.Equal([(PortStatusReason.Add, (ushort)3), (PortStatusReason.Delete, (ushort)3)], r.PortEvents);
    }
}
