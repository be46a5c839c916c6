using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;
using Softswitch.TestKit;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Tunnels;

/// <summary>
/// Two datapaths joined by a tunnel over linked in-memory underlays (the TWAREN setup: two domains, one tunnel):
/// host A — [switch A: port 1 host, port 2 underlay, port 10 tunnel] ≈ [switch B: same] — host B.
/// </summary>
internal sealed class TunnelRig : IDisposable
{
    public const ushort Host = 1, Under = 2, Tun = 10;
    public static readonly uint IpA = Ipv4.Parse("10.0.0.1"), IpB = Ipv4.Parse("10.0.0.2");

    public readonly ManualClock Clock = new();
    /// <summary>The two switches on one clock, each with its host port <see cref="Host"/> and underlay port <see cref="Under"/>.</summary>
    public readonly DatapathRig SideA, SideB;
    public TunnelPort? TunA, TunB;

    /// <param name="options">Both datapaths' options (default: <see cref="DatapathRig"/>'s).</param>
    public TunnelRig(int underlayMtu = 1500, bool link = true, bool capture = true, MissBehavior miss = MissBehavior.Drop, DatapathOptions? options = null)
    {
        var underA = new MemoryPort("ulA", TunnelGoldenTests.UnderA, underlayMtu) { CaptureSent = capture };
        var underB = new MemoryPort("ulB", TunnelGoldenTests.UnderB, underlayMtu) { CaptureSent = capture };
        if (link) MemoryPort.Link(underA, underB);
        SideA = new DatapathRig([new MemoryPort("hostA", MacAddress.Parse("0a:00:00:00:00:01")) { CaptureSent = capture }, underA], options, Clock);
        SideB = new DatapathRig([new MemoryPort("hostB", MacAddress.Parse("0a:00:00:00:00:02")) { CaptureSent = capture }, underB], options, Clock);
        A.MissBehavior = miss;
        B.MissBehavior = miss;
    }

    public SwitchDatapath A => SideA.Dp;
    public SwitchDatapath B => SideB.Dp;
    public MemoryPort HostA => SideA.Port(Host);
    public MemoryPort HostB => SideB.Port(Host);
    public MemoryPort UnderA => SideA.Port(Under);
    public MemoryPort UnderB => SideB.Port(Under);

    /// <summary>IP in IP synthesises the inner Ethernet header on receive: A's gets the addresses B's host frames carry.</summary>
    public static readonly Func<TunnelConfig, TunnelConfig> IpipInnerA
        = c => c with { InnerSrcMac = TunnelGoldenTests.HostB, InnerDstMac = TunnelGoldenTests.HostA };

    /// <summary>B's synthesised inner header: the addresses A's host frames carry.</summary>
    public static readonly Func<TunnelConfig, TunnelConfig> IpipInnerB
        = c => c with { InnerSrcMac = TunnelGoldenTests.HostA, InnerDstMac = TunnelGoldenTests.HostB };

    /// <summary>
    /// Adds mirror-image tunnels named t, port <see cref="Tun"/> over <see cref="Under"/>: <paramref name="kind"/> with
    /// <paramref name="key"/> (see <see cref="TestTunnels.Of"/>), A = 10.0.0.1, B = 10.0.0.2; with
    /// <paramref name="staticMacs"/> each knows the other's underlay MAC (no ARP). <paramref name="sideA"/> and
    /// <paramref name="sideB"/> change one side's config, <paramref name="both"/> both.
    /// </summary>
    public TunnelRig WithTunnels(TunnelKind kind, uint? key = null, bool staticMacs = true, Func<TunnelConfig, TunnelConfig>? both = null,
                                 Func<TunnelConfig, TunnelConfig>? sideA = null, Func<TunnelConfig, TunnelConfig>? sideB = null)
    {
        var a = TestTunnels.Of(kind, key, "t", IpA, IpB) with { PortNo = Tun, Underlay = Under, RemoteMac = staticMacs ? TunnelGoldenTests.UnderB : null };
        var b = TestTunnels.Of(kind, key, "t", IpB, IpA) with { PortNo = Tun, Underlay = Under, RemoteMac = staticMacs ? TunnelGoldenTests.UnderA : null };
        if (both is not null)
        {
            a = both(a);
            b = both(b);
        }
        TunA = A.Tunnels.Add(sideA is null ? a : sideA(a));
        TunB = B.Tunnels.Add(sideB is null ? b : sideB(b));
        return this;
    }

    /// <summary>in_port=<paramref name="inPort"/> (and tun_id when given), everything else wildcarded.</summary>
    public static FlowMatch InPort(ushort inPort, ulong? tunId = null)
    {
        PacketParser.Parse(TunnelGoldenTests.Inner(), inPort, out var key, out _, tunId ?? 0);
        var w = OfWildcards.All & ~OfWildcards.InPort;
        if (tunId is null) w |= OfWildcards.TunIdExt;
        return FlowMatch.FromOpenFlow(w, key);
    }

    /// <summary>host ↔ tunnel both ways on both switches.</summary>
    public TunnelRig WithCrossFlows()
    {
        SideA.Insert(0, InPort(Host), 100, [FlowAction.Output(Tun)]);
        SideA.Insert(0, InPort(Tun), 100, [FlowAction.Output(Host)]);
        SideB.Insert(0, InPort(Host), 100, [FlowAction.Output(Tun)]);
        SideB.Insert(0, InPort(Tun), 100, [FlowAction.Output(Host)]);
        return this;
    }

    /// <summary>Polls both switches until neither has anything left.</summary>
    public void Pump()
    {
        for (int i = 0; i < 1000; i++)
            if (A.PollUntilIdle() + B.PollUntilIdle() == 0) return;
        throw new InvalidOperationException("traffic did not settle");
    }

    public void Dispose()
    {
        SideA.Dispose();
        SideB.Dispose();
    }
}

public sealed class TunnelDatapathTests
{
    private static byte[] HostFrame(int size = 64, ushort sport = 1000) => TunnelGoldenTests.Inner(size, sport);

    [Theory]
    [InlineData(TunnelKind.Vxlan, 100u)]
    [InlineData(TunnelKind.Geneve, 100u)]
    [InlineData(TunnelKind.Gre, 5u)]
    [InlineData(TunnelKind.Gre, null)]
    [InlineData(TunnelKind.Ipip, null)]
    public void HostFrameCrossesTheTunnelUnchangedBothWays(TunnelKind kind, uint? key)
    {
        bool ipip = kind == TunnelKind.Ipip;
        using var r = new TunnelRig().WithTunnels(kind, key, sideA: ipip ? TunnelRig.IpipInnerA : null, sideB: ipip ? TunnelRig.IpipInnerB : null).WithCrossFlows();
        r.UnderA.TakeSent();
        r.UnderB.TakeSent();
        var f = HostFrame();
        r.HostA.Inject(f);
        r.Pump();
        var got = r.HostB.TakeSent();
        Assert.Single(got);
        Assert.Equal(f, got[0]);
        var wire = r.UnderA.TakeSent();
        Assert.Single(wire);
        Assert.Equal(r.TunA!.Header.Size + f.Length - (kind == TunnelKind.Ipip ? 14 : 0), wire[0].Length);
        TunnelGoldenTests.AssertIpv4Valid(wire[0], wire[0].Length - 14);

        // and back: B's host answers with the addresses swapped
        var back = FrameBuilder.Udp(TunnelGoldenTests.HostB, TunnelGoldenTests.HostA, Ipv4.Parse("192.168.1.2"), Ipv4.Parse("192.168.1.1"), 2000, 1000, 64);
        r.HostB.Inject(back);
        r.Pump();
        var gotBack = r.HostA.TakeSent();
        Assert.Single(gotBack);
        Assert.Equal(back, gotBack[0]);

        Assert.Equal(1, r.TunA.Counters.TxPackets);
        Assert.Equal(1, r.TunA.Counters.RxPackets);
        Assert.Equal(f.Length, r.TunA.Counters.TxBytes);
        Assert.Equal(1, r.TunB!.Counters.RxPackets);
        Assert.Equal(f.Length, r.TunB.Counters.RxBytes);
        Assert.Equal(0, r.A.Tunnels.ReceiveDrops.Total + r.B.Tunnels.ReceiveDrops.Total);
    }

    [Fact]
    public void DecapsulatedPacketsCarryTheTunnelPortAndVniForMatching()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100);
        r.SideA.Insert(0, TunnelRig.InPort(TunnelRig.Host), 100, [FlowAction.Output(TunnelRig.Tun)]);
        // B only forwards in_port=10 with tun_id=100; tun_id 100 on another in_port does not match.
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun, 100), 100, [FlowAction.Output(TunnelRig.Host)]);
        r.HostA.Inject(HostFrame());
        r.Pump();
        Assert.Single(r.HostB.TakeSent());

        // Packet-in of a miss carries in_port = the tunnel port.
        using var r2 = new TunnelRig(miss: MissBehavior.Controller).WithTunnels(TunnelKind.Vxlan, 100);
        r2.SideA.Insert(0, TunnelRig.InPort(TunnelRig.Host), 100, [FlowAction.Output(TunnelRig.Tun)]);
        r2.HostA.Inject(HostFrame());
        r2.Pump();
        var ups = new List<(ushort, byte[])>();
        r2.B.DrainUpcalls((in Upcall u) => ups.Add((u.InPort, u.Frame.ToArray())));
        Assert.Single(ups);
        Assert.Equal(TunnelRig.Tun, ups[0].Item1);
        Assert.Equal(HostFrame(), ups[0].Item2);
    }

    /// <summary>
    /// Decapsulated packets are admitted on their tunnel port like any port's burst, and each kept packet keeps its own
    /// tunnel id: a flow-keyed tunnel with NO_RECV drops the first packet of the sub-burst and keeps the second (a
    /// BPDU, which NO_RECV lets through), whose packet-in carries its own VNI, not the first one's.
    /// </summary>
    [Fact]
    public void ATunnelPortsReceiveGate_LeavesEachKeptPacketItsOwnTunnelId()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100, both: c => c with { FlowKey = true, HasKey = false, Key = 0 });
        var plain = HostFrame();
        var bpdu = HostFrame(64, 1001);
        MacAddress.Parse("01:80:c2:00:00:00").Write(bpdu);
        PacketParser.Parse(plain, TunnelRig.Host, out var kPlain, out _);
        PacketParser.Parse(bpdu, TunnelRig.Host, out var kBpdu, out _);
        r.SideA.Insert(0, FlowMatch.Exact(kPlain), 100, [FlowAction.SetTunnel(1), FlowAction.Output(TunnelRig.Tun)]);
        r.SideA.Insert(0, FlowMatch.Exact(kBpdu), 100, [FlowAction.SetTunnel(2), FlowAction.Output(TunnelRig.Tun)]);
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun), 100, [FlowAction.Output(PortNumber.Controller, 0xffff)]);
        Assert.True(r.B.SetPortConfig(TunnelRig.Tun, PortConfig.NoRecv, PortConfig.NoRecv));
        // One burst on A, one encapsulated burst on B's underlay: one sub-burst on B's tunnel port.
        r.HostA.Inject(plain);
        r.HostA.Inject(bpdu);
        r.Pump();
        var ups = new List<(ushort InPort, ulong Tunnel, byte Dst0)>();
        r.B.DrainUpcalls((in Upcall u) => ups.Add((u.InPort, u.TunnelId, u.Frame[0])));
        Assert.Equal([(TunnelRig.Tun, 2UL, (byte)0x01)], ups);
        Assert.Equal(1, r.B.DropCount(DropReason.NoRecv));
        Assert.Equal(2, r.TunB!.Counters.RxPackets);
    }

    [Fact]
    public void PacketInsCarryTheTunnelIdThePacketHas()
    {
        using var r = new TunnelRig(miss: MissBehavior.Controller).WithTunnels(TunnelKind.Vxlan, 100);
        r.SideA.Insert(0, TunnelRig.InPort(TunnelRig.Host), 100, [FlowAction.Output(TunnelRig.Tun)]);
        var ups = new List<(ushort InPort, ulong Tunnel, UpcallReason Reason)>();
        void Drain()
        {
            r.Pump();
            r.B.DrainUpcalls((in Upcall u) => ups.Add((u.InPort, u.TunnelId, u.Reason)));
        }

        // A miss: the VNI the packet came with.
        r.HostA.Inject(HostFrame());
        Drain();
        // A packet from a port that is no tunnel, next: no tunnel id (nothing left over from the tunnel's packets).
        r.HostB.Inject(HostFrame(64, 1001));
        Drain();
        Assert.Equal([(TunnelRig.Tun, 100UL, UpcallReason.Miss), (TunnelRig.Host, 0UL, UpcallReason.Miss)], ups);

        // A flow's output to the controller: the received VNI; after a set_tunnel, the id it set.
        ups.Clear();
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun), 100, [FlowAction.Output(PortNumber.Controller, 0xffff)]);
        r.HostA.Inject(HostFrame());
        Drain();
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun), 100, [FlowAction.SetTunnel(0x77), FlowAction.Output(PortNumber.Controller, 0xffff)]);
        r.HostA.Inject(HostFrame());
        Drain();
        Assert.Equal([(TunnelRig.Tun, 100UL, UpcallReason.Action), (TunnelRig.Tun, 0x77UL, UpcallReason.Action)], ups);
    }

    [Fact]
    public void SetTunnelPerFlowSelectsTheVni()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100);
        var vx200 = r.B.Tunnels.Add(TestTunnels.Vxlan("vx200", TunnelRig.IpB, TunnelRig.IpA, 200) with { PortNo = 11, Underlay = TunnelRig.Under, RemoteMac = TunnelGoldenTests.UnderA });
        Assert.Equal((ushort)11, vx200.Slot!.No);
        // Flow 1 (sport 1000): set_tunnel 200. Flow 2 (sport 1001): no set_tunnel, the configured VNI 100.
        PacketParser.Parse(HostFrame(64, 1000), TunnelRig.Host, out var k1, out _);
        PacketParser.Parse(HostFrame(64, 1001), TunnelRig.Host, out var k2, out _);
        r.SideA.Insert(0, FlowMatch.Exact(k1), 100, [FlowAction.SetTunnel(200), FlowAction.Output(TunnelRig.Tun)]);
        r.SideA.Insert(0, FlowMatch.Exact(k2), 100, [FlowAction.Output(TunnelRig.Tun)]);
        r.SideB.Insert(0, TunnelRig.InPort(11, 200), 100, [FlowAction.SetDlSrc(MacAddress.Parse("00:00:00:00:02:00")), FlowAction.Output(TunnelRig.Host)]);
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun, 100), 100, [FlowAction.SetDlSrc(MacAddress.Parse("00:00:00:00:01:00")), FlowAction.Output(TunnelRig.Host)]);
        r.UnderA.TakeSent();
        // Both flows in one burst: the tunnel id must follow each flow-batch.
        r.HostA.Inject(HostFrame(64, 1000));
        r.HostA.Inject(HostFrame(64, 1001));
        r.HostA.Inject(HostFrame(64, 1000));
        r.Pump();
        var wire = r.UnderA.TakeSent();
        Assert.Equal(3, wire.Count);
        var vnis = wire.Select(w => BinaryPrimitives.ReadUInt32BigEndian(w.AsSpan(46)) >> 8).OrderBy(v => v).ToArray();
        Assert.Equal([100u, 200u, 200u], vnis);
        var got = r.HostB.TakeSent();
        Assert.Equal(3, got.Count);
        Assert.Equal(2, got.Count(g => MacAddress.Read(g.AsSpan(6)) == MacAddress.Parse("00:00:00:00:02:00")));
        Assert.Equal(1, got.Count(g => MacAddress.Read(g.AsSpan(6)) == MacAddress.Parse("00:00:00:00:01:00")));
        Assert.Equal(2, vx200.Counters.RxPackets);
        Assert.Equal(1, r.TunB!.Counters.RxPackets);
    }

    [Fact]
    public void UnknownVniIsDroppedAndCounted()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100).WithCrossFlows();
        r.SideA.Insert(0, TunnelRig.InPort(TunnelRig.Host), 100, [FlowAction.SetTunnel(300), FlowAction.Output(TunnelRig.Tun)]);
        r.HostA.Inject(HostFrame());
        r.Pump();
        Assert.Empty(r.HostB.TakeSent());
        Assert.Equal(1, r.B.Tunnels.DropCount(TunnelDropReason.UnknownKey));
        Assert.Equal(0, r.TunB!.Counters.RxPackets);
        // Nothing leaked into B's pipeline as ordinary traffic from the underlay.
        Assert.Equal(0, r.B.DropCount(DropReason.MissSecure));
    }

    [Fact]
    public void GreKeyMismatchAndKeylessAreUnknown()
    {
        using var r = new TunnelRig();
        r.TunA = r.A.Tunnels.Add(TestTunnels.Gre("g", TunnelRig.IpA, TunnelRig.IpB) with { PortNo = TunnelRig.Tun, Underlay = TunnelRig.Under, RemoteMac = TunnelGoldenTests.UnderB });
        r.TunB = r.B.Tunnels.Add(TestTunnels.Gre("g", TunnelRig.IpB, TunnelRig.IpA, key: 9) with { PortNo = TunnelRig.Tun, Underlay = TunnelRig.Under, RemoteMac = TunnelGoldenTests.UnderA });
        r.WithCrossFlows();
        r.HostA.Inject(HostFrame());
        r.Pump();
        Assert.Empty(r.HostB.TakeSent());
        Assert.Equal(1, r.B.Tunnels.DropCount(TunnelDropReason.UnknownKey));
    }

    [Fact]
    public void FrameTooBigForTheUnderlayMtuIsDroppedAndCounted()
    {
        using var r = new TunnelRig(underlayMtu: 100).WithTunnels(TunnelKind.Vxlan, 100).WithCrossFlows();
        Assert.Equal(50, r.TunA!.Info.Mtu);
        r.HostA.Inject(HostFrame(64));     // 64 + 36 = 100: fits exactly
        r.HostA.Inject(HostFrame(65));     // 101: one byte too many
        r.Pump();
        var got = r.HostB.TakeSent();
        Assert.Single(got);
        Assert.Equal(64, got[0].Length);
        Assert.Equal(1, r.TunA.Counters.TxDropped);
        Assert.Equal(1, r.TunA.Drops[TunnelDropReason.TooBig]);
        Assert.Equal(1, r.A.Tunnels.DropCount(TunnelDropReason.TooBig));
        Assert.Equal(1, r.TunA.Counters.TxPackets);
    }

    /// <summary>An IPv4 frame with DF set, with <paramref name="ipLen"/> bytes of IPv4 packet (optionally 802.1Q-tagged).</summary>
    private static byte[] DfFrame(int ipLen, bool df = true, ushort? vlan = null)
    {
        var f = FrameBuilder.Udp(MacAddress.Parse("0a:00:00:00:00:01"), MacAddress.Parse("0a:00:00:00:00:02"), Ipv4.Parse("192.168.5.1"),
                                 Ipv4.Parse("192.168.5.2"), 1000, 2000, frameSize: ipLen + 14 + (vlan is null ? 0 : 4), vlan: vlan);
        int ip = vlan is null ? 14 : 18;
        f[ip + 6] = (byte)(df ? f[ip + 6] | 0x40 : f[ip + 6] & ~0x40);
        f[ip + 10] = 0; f[ip + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 10), (ushort)~Checksum.Sum(f.AsSpan(ip, 20)));
        return f;
    }

    /// <summary>
    /// A DF packet too big for the tunnel is answered with ICMP fragmentation-needed carrying the inner IPv4 MTU the
    /// tunnel takes, from the packet's destination to its source, out of the port it came in on; without DF it is only
    /// dropped. (Underlay MTU 200: VXLAN and Geneve take 200 - 20 - 8 - 8 - 14 = 150, GRE with a key 200 - 20 - 8 - 14 = 158,
    /// IP-in-IP 200 - 20 = 180.)
    /// </summary>
    [Theory]
    [InlineData(TunnelKind.Vxlan, 7u, 150)]
    [InlineData(TunnelKind.Geneve, 7u, 150)]
    [InlineData(TunnelKind.Gre, 7u, 158)]
    [InlineData(TunnelKind.Ipip, null, 180)]
    public void TooBigWithDontFragment_IsAnsweredWithFragmentationNeeded(TunnelKind kind, uint? key, int mtu)
    {
        using var r = new TunnelRig(underlayMtu: 200).WithTunnels(kind, key).WithCrossFlows();
        r.HostA.Inject(DfFrame(mtu));          // fits exactly
        r.HostA.Inject(DfFrame(mtu + 1));      // one byte too many, DF: answered
        r.HostA.Inject(DfFrame(mtu + 1, df: false));   // too big without DF: dropped silently
        r.Pump();
        Assert.Single(r.HostB.TakeSent());
        Assert.Equal(2, r.TunA!.Drops[TunnelDropReason.TooBig]);
        Assert.Equal(1, r.TunA.FragmentationNeededSent);

        var back = Assert.Single(r.HostA.TakeSent());
        var orig = DfFrame(mtu + 1);
        Assert.Equal(orig.AsSpan(6, 6).ToArray(), back.AsSpan(0, 6).ToArray());     // to the sender's MAC
        Assert.Equal(orig.AsSpan(0, 6).ToArray(), back.AsSpan(6, 6).ToArray());     // from the MAC it sent to
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(12)));
        var ip = back.AsSpan(14);
        Assert.True(Checksum.IsValid(ip[..20]), "IPv4 header checksum");
        Assert.Equal(1, ip[9]);
        Assert.Equal(orig.AsSpan(14 + 16, 4).ToArray(), ip.Slice(12, 4).ToArray());   // source: the packet's destination
        Assert.Equal(orig.AsSpan(14 + 12, 4).ToArray(), ip.Slice(16, 4).ToArray());   // destination: its source
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        Assert.Equal(back.Length - 14, total);
        var icmp = ip[20..total];
        Assert.Equal(3, icmp[0]);
        Assert.Equal(4, icmp[1]);
        Assert.True(Checksum.IsValid(icmp), "ICMP checksum");
        Assert.Equal(mtu, BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]));
        Assert.Equal(orig.AsSpan(14, Math.Min(mtu + 1, 548)).ToArray(), icmp[8..].ToArray());   // the original packet, quoted

        // The announced MTU is right: a packet of exactly that size crosses.
        r.HostA.Inject(DfFrame(mtu));
        r.Pump();
        Assert.Single(r.HostB.TakeSent());
    }

    [Fact]
    public void FragmentationNeeded_IsRateLimited_AndNeverAnswersIcmpErrors()
    {
        using var r = new TunnelRig(underlayMtu: 200).WithTunnels(TunnelKind.Vxlan, 7).WithCrossFlows();
        for (int i = 0; i < 300; i++) r.HostA.Inject(DfFrame(400));
        r.Pump();
        Assert.Equal(300, r.TunA!.Drops[TunnelDropReason.TooBig]);
        Assert.Equal(100, r.HostA.TakeSent().Count);   // the clock did not move: one window's worth
        r.Clock.Advance(TimeSpan.FromMilliseconds(150));
        r.HostA.Inject(DfFrame(400));
        r.Pump();
        Assert.Single(r.HostA.TakeSent());

        // An ICMP error that is too big is dropped without an answer.
        var err = DfFrame(400);
        err[14 + 9] = 1;      // protocol ICMP
        err[14 + 20] = 3;     // destination unreachable
        err[14 + 10] = 0; err[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(err.AsSpan(14 + 10), (ushort)~Checksum.Sum(err.AsSpan(14, 20)));
        r.HostA.Inject(err);
        r.Pump();
        Assert.Empty(r.HostA.TakeSent());
    }

    [Theory]
    [InlineData(TunnelKind.Vxlan)]
    [InlineData(TunnelKind.Gre)]
    public void ArpResolvesTheRemoteEndpointAndHeldFramesAreSent(TunnelKind kind)
    {
        using var r = new TunnelRig().WithTunnels(kind, 7, staticMacs: false).WithCrossFlows();
        Assert.Null(r.TunA!.NextHopMac);
        Assert.Equal(1, r.TunA.ArpRequestsSent);   // at registration
        // The host frame arrives before any reply: it is held.
        var hostSlot = r.A.Ports.Get(TunnelRig.Host)!;
        var f = HostFrame();
        r.HostA.Inject(f);
        r.A.Forwarders[0].Poll(hostSlot);
        Assert.Equal(1, r.TunA.HeldCount);
        Assert.Equal(1, r.TunA.ArpRequestsSent);   // within the retry interval: no second request
        r.Pump();
        Assert.Equal(TunnelGoldenTests.UnderB, r.TunA.NextHopMac);
        Assert.Equal(TunnelGoldenTests.UnderA, r.TunB!.NextHopMac);
        Assert.Equal(0, r.TunA.HeldCount);
        var got = r.HostB.TakeSent();
        Assert.Single(got);
        Assert.Equal(f, got[0]);
        Assert.Equal(1, r.TunA.Counters.TxPackets);
        // Everything A put on the wire: its ARP request, its ARP reply to B's request, the tunnelled frame.
        var wire = r.UnderA.TakeSent();
        Assert.Equal(3, wire.Count);
        Assert.Equal(FrameBuilder.Arp(1, TunnelGoldenTests.UnderA, TunnelRig.IpA, default, TunnelRig.IpB), wire[0]);
        Assert.Contains(FrameBuilder.Arp(2, TunnelGoldenTests.UnderA, TunnelRig.IpA, TunnelGoldenTests.UnderB, TunnelRig.IpB), wire);
        Assert.Contains(wire, w => w.Length > 60 && MacAddress.Read(w) == TunnelGoldenTests.UnderB);
        // Later frames go straight out.
        r.HostA.Inject(f);
        r.Pump();
        Assert.Single(r.HostB.TakeSent());
    }

    /// <summary>
    /// An underlay burst whose ARP request is answered and whose other packets are all dropped before classification
    /// (IP fragments in fragment mode DROP): the reply staged on the underlay is sent with that burst, not left queued.
    /// </summary>
    [Fact]
    public void ArpReplyIsSent_WhenTheRestOfTheBurstIsDroppedAsFragments()
    {
        using var r = new TunnelRig(link: false).WithTunnels(TunnelKind.Vxlan, 1, staticMacs: false);
        r.A.FragmentMode = FragmentMode.Drop;
        r.UnderA.TakeSent();
        var linuxMac = MacAddress.Parse("5e:00:00:00:00:99");
        var fragment = DfFrame(100, df: false);
        fragment[14 + 6] |= 0x20; // more fragments
        fragment[14 + 10] = 0; fragment[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(14 + 10), (ushort)~Checksum.Sum(fragment.AsSpan(14, 20)));
        r.UnderA.Inject(FrameBuilder.Arp(1, linuxMac, TunnelRig.IpB, default, TunnelRig.IpA));
        r.UnderA.Inject(fragment);
        r.A.PollUntilIdle();
        Assert.Equal(1, r.A.DropCount(DropReason.Fragment));
        var sent = r.UnderA.TakeSent();
        Assert.Single(sent);
        Assert.Equal(FrameBuilder.Arp(2, TunnelGoldenTests.UnderA, TunnelRig.IpA, linuxMac, TunnelRig.IpB), sent[0]);
    }

    [Fact]
    public void ArpForTheLocalEndpointIsAnsweredAndRepliesTeachTheNextHop()
    {
        using var r = new TunnelRig(link: false).WithTunnels(TunnelKind.Vxlan, 1, staticMacs: false);
        r.UnderA.TakeSent();
        var linuxMac = MacAddress.Parse("5e:00:00:00:00:99");
        // A Linux peer asks for our endpoint.
        r.UnderA.Inject(FrameBuilder.Arp(1, linuxMac, TunnelRig.IpB, default, TunnelRig.IpA));
        r.A.PollUntilIdle();
        var sent = r.UnderA.TakeSent();
        Assert.Single(sent);
        Assert.Equal(FrameBuilder.Arp(2, TunnelGoldenTests.UnderA, TunnelRig.IpA, linuxMac, TunnelRig.IpB), sent[0]);
        // The request came from the remote endpoint, so A learned its MAC as well.
        Assert.Equal(linuxMac, r.TunA!.NextHopMac);
        // A later reply with another MAC (the peer moved) updates it; the reply is consumed, not forwarded.
        var moved = MacAddress.Parse("5e:00:00:00:00:aa");
        r.UnderA.Inject(FrameBuilder.Arp(2, moved, TunnelRig.IpB, TunnelGoldenTests.UnderA, TunnelRig.IpA));
        r.A.PollUntilIdle();
        Assert.Equal(moved, r.TunA.NextHopMac);
        Assert.Equal(2, r.TunA.NextHopChanges);
        Assert.Empty(r.UnderA.TakeSent());
        Assert.Empty(r.HostA.TakeSent());
        // ARP for another address on the underlay is ordinary traffic (here: a miss, dropped by the fail mode).
        r.UnderA.Inject(FrameBuilder.Arp(1, linuxMac, TunnelRig.IpB, default, Ipv4.Parse("10.0.0.77")));
        r.A.PollUntilIdle();
        Assert.Empty(r.UnderA.TakeSent());
        Assert.Equal(1, r.A.DropCount(DropReason.MissSecure));
    }

    [Fact]
    public void UnansweredArpIsRetriedEverySecondAndTheHoldQueueIsBounded()
    {
        using var r = new TunnelRig(link: false).WithTunnels(TunnelKind.Vxlan, 1, staticMacs: false).WithCrossFlows();
        Assert.Equal(1, r.TunA!.ArpRequestsSent);
        for (int i = 0; i < TunnelPort.HoldCapacity + 4; i++) r.HostA.Inject(HostFrame(64, (ushort)(1000 + i)));
        r.A.PollUntilIdle();
        Assert.Equal(TunnelPort.HoldCapacity, r.TunA.HeldCount);
        Assert.Equal(4, r.TunA.Drops[TunnelDropReason.Unresolved]);
        Assert.Equal(4, r.TunA.Counters.TxDropped);
        Assert.Equal(1, r.TunA.ArpRequestsSent);
        r.Clock.Advance(TimeSpan.FromMilliseconds(1100));
        r.HostA.Inject(HostFrame());
        r.A.PollUntilIdle();
        Assert.Equal(2, r.TunA.ArpRequestsSent);
        var arps = r.UnderA.TakeSent();
        Assert.Equal(2, arps.Count);
        Assert.All(arps, a => Assert.Equal(0x0806, BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(12))));
        // The reply releases the held frames.
        r.UnderA.Inject(FrameBuilder.Arp(2, TunnelGoldenTests.UnderB, TunnelRig.IpB, TunnelGoldenTests.UnderA, TunnelRig.IpA));
        r.A.PollUntilIdle();
        var released = r.UnderA.TakeSent();
        Assert.Equal(TunnelPort.HoldCapacity, released.Count);
        Assert.All(released, w => Assert.Equal(TunnelGoldenTests.UnderB, MacAddress.Read(w)));
        Assert.Equal(TunnelPort.HoldCapacity, r.TunA.Counters.TxPackets);
        Assert.Equal(TunnelPort.HoldCapacity * 64, r.TunA.Counters.TxBytes);
    }

    [Theory]
    [InlineData(TunnelKind.Vxlan)]
    [InlineData(TunnelKind.Gre)]
    public void TwoDomainsBehaveAsOneL2SegmentWithNormal(TunnelKind kind)
    {
        // TWAREN: with no controller, each switch is a learning switch and the tunnel joins the two domains.
        using var r = new TunnelRig(miss: MissBehavior.Normal).WithTunnels(kind, 5000, staticMacs: false);
        // The underlays are not part of either L2 domain (a controller would say the same): no flooding onto them,
        // or a broadcast would loop between the plain underlay link and the tunnel.
        r.A.SetPortConfig(TunnelRig.Under, PortConfig.NoFlood, PortConfig.NoFlood);
        r.B.SetPortConfig(TunnelRig.Under, PortConfig.NoFlood, PortConfig.NoFlood);
        var hA = new SimulatedHost("R", r.HostA, MacAddress.Parse("08:00:27:94:9e:3d"), Ipv4.Parse("192.168.1.2"));
        var hB = new SimulatedHost("S", r.HostB, MacAddress.Parse("00:15:17:8f:ca:37"), Ipv4.Parse("192.168.1.101"));
        r.HostA.CaptureSent = r.HostB.CaptureSent = false;
        for (ushort seq = 1; seq <= 3; seq++)
        {
            hA.Ping(hB.Ip, 7, seq);
            r.Pump();
        }
        Assert.Equal(3, hA.EchoRepliesReceived);
        Assert.Equal(3, hB.EchoRequestsAnswered);
        // B learned host R behind its tunnel port.
        Assert.Equal(TunnelRig.Tun, r.B.MacTable.Lookup(hA.Mac, 0, r.Clock.NowNanos));
    }

    [Fact]
    public void TunnelPortsAppearInThePortTableAndFollowTheirUnderlay()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100, both: c => c with { Mac = MacAddress.Parse("0e:00:00:00:00:10") }).WithCrossFlows();
        var slot = r.A.Ports.Get(TunnelRig.Tun)!;
        Assert.Same(r.TunA, slot.Port);
        Assert.Equal("t", slot.Port.Info.Name);
        Assert.Equal(MacAddress.Parse("0e:00:00:00:00:10"), slot.Port.Info.HwAddr);
        Assert.Equal(1450, slot.Port.Info.Mtu);
        Assert.True(slot.Port.LinkUp);
        Assert.Contains(r.TunA, r.A.Tunnels.List);

        // Removing the tunnel port unbinds it: its traffic is no longer decapsulated.
        Assert.True(r.B.Tunnels.Remove(TunnelRig.Tun));
        Assert.Empty(r.B.Tunnels.List);
        r.HostA.Inject(HostFrame());
        r.Pump();
        Assert.Empty(r.HostB.TakeSent());
        Assert.Equal(0, r.B.Tunnels.ReceiveDrops.Total);   // ordinary traffic to B now (a miss)

        // Removing the underlay detaches the tunnel: link down, output dropped and counted.
        Assert.True(r.A.RemovePort(TunnelRig.Under));
        Assert.False(r.TunA!.LinkUp);
        r.HostA.Inject(HostFrame());
        r.A.PollUntilIdle();
        Assert.Equal(1, r.TunA.Drops[TunnelDropReason.NoUnderlay]);
    }

    [Fact]
    public void RegistrationErrorsNameTheProblem()
    {
        using var r = new TunnelRig();
        uint a = TunnelRig.IpA, b = TunnelRig.IpB, c = Ipv4.Parse("10.0.0.3");
        var e = Assert.Throws<DatapathConfigurationException>(() => r.A.Tunnels.Add(TestTunnels.Vxlan("t", a, b, 1)));
        Assert.Contains("give underlay=N", e.Message);
        e = Assert.Throws<DatapathConfigurationException>(() => r.A.Tunnels.Add(TestTunnels.Vxlan("t", a, b, 1) with { Underlay = 9 }));
        Assert.Contains("underlay port 9 does not exist", e.Message);
        e = Assert.Throws<DatapathConfigurationException>(() => r.A.Tunnels.Add(TestTunnels.Vxlan("t", a, b, 1) with { Underlay = 2, PortNo = 1 }));
        Assert.Contains("port number 1 is taken", e.Message);
        Assert.Empty(r.A.Tunnels.List);
        r.A.Tunnels.Add(TestTunnels.Vxlan("t", a, b, 1) with { Underlay = 2, PortNo = 10 });
        e = Assert.Throws<DatapathConfigurationException>(() => r.A.Tunnels.Add(TestTunnels.Vxlan("u", a, b, 1) with { Underlay = 2 }));
        Assert.Contains("already receives", e.Message);
        e = Assert.Throws<DatapathConfigurationException>(() => r.A.Tunnels.Add(TestTunnels.Vxlan("u", a, c, 1) with { Underlay = 10 }));
        Assert.Contains("is a tunnel", e.Message);
        e = Assert.Throws<DatapathConfigurationException>(() => r.A.Tunnels.Add(TestTunnels.Gre("u", a, c) with { Underlay = 2, LocalMac = MacAddress.Parse("02:00:00:00:00:99") }));
        Assert.Contains("two MACs", e.Message);
        // Another VNI to the same remote, and the only-non-tunnel-port default once unambiguous.
        r.A.Tunnels.Add(TestTunnels.Vxlan("u", a, b, 2) with { Underlay = 2 });
        Assert.Equal(2, r.A.Tunnels.List.Count);
        using var single = new SwitchDatapath();
        single.AddPort(new MemoryPort("u", TunnelGoldenTests.UnderA));
        var t = single.Tunnels.Add(TestTunnels.Ipip("t", a, b));
        Assert.Equal((ushort)1, t.UnderlaySlot!.No);
        Assert.Equal((ushort)2, t.Slot!.No);
    }

    [Fact]
    public void PacketOutToATunnelPortEncapsulates()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100).WithCrossFlows();
        r.UnderA.TakeSent();
        r.A.PacketOut(HostFrame(), PortNumber.None, new FlowActions([FlowAction.SetTunnel(200), FlowAction.Output(TunnelRig.Tun)]));
        // A second packet-out without set_tunnel must not inherit the first one's id.
        r.A.PacketOut(HostFrame(), PortNumber.None, new FlowActions([FlowAction.Output(TunnelRig.Tun)]));
        r.Pump();
        var wire = r.UnderA.TakeSent();
        Assert.Equal(2, wire.Count);
        Assert.Equal(200u, BinaryPrimitives.ReadUInt32BigEndian(wire[0].AsSpan(46)) >> 8);
        Assert.Equal(100u, BinaryPrimitives.ReadUInt32BigEndian(wire[1].AsSpan(46)) >> 8);
        Assert.Single(r.HostB.TakeSent());
        Assert.Equal(1, r.B.Tunnels.DropCount(TunnelDropReason.UnknownKey));
    }

    [Fact]
    public void FloodIncludesTunnelPortsAndSharedBuffersStayIntact()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100);
        var extra = new MemoryPort("h2", MacAddress.Parse("0a:00:00:00:00:03")) { CaptureSent = true };
        r.A.AddPort(extra, 3);
        r.SideA.Insert(0, TunnelRig.InPort(TunnelRig.Host), 100, [FlowAction.Output(PortNumber.Flood)]);
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun), 100, [FlowAction.Output(TunnelRig.Host)]);
        var f = HostFrame();
        r.HostA.Inject(f);
        r.Pump();
        Assert.Equal(f, Assert.Single(extra.TakeSent()));
        Assert.Equal(f, Assert.Single(r.HostB.TakeSent()));
        // The underlay got the tunnelled copy (and the flood's own copy of the frame, as a port).
        var wire = r.UnderA.TakeSent();
        Assert.Equal(2, wire.Count);
        Assert.Contains(f, wire);
    }

    [Fact]
    public void DecapsulatedAndOrdinaryPacketsInOneBurstBothGetThrough()
    {
        using var r = new TunnelRig().WithTunnels(TunnelKind.Vxlan, 100);
        r.SideA.Insert(0, TunnelRig.InPort(TunnelRig.Host), 100, [FlowAction.Output(TunnelRig.Tun)]);
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Tun), 100, [FlowAction.Output(TunnelRig.Host)]);
        r.SideB.Insert(0, TunnelRig.InPort(TunnelRig.Under), 100, [FlowAction.SetDlSrc(MacAddress.Parse("00:00:00:00:00:ee")), FlowAction.Output(TunnelRig.Host)]);
        for (int i = 0; i < 5; i++) r.HostA.Inject(HostFrame(64, (ushort)(2000 + i)));
        r.A.PollUntilIdle();
        // Interleave ordinary underlay traffic with the tunnelled frames in B's receive queue.
        var wire = r.UnderB;
        for (int i = 0; i < 3; i++) wire.Inject(HostFrame(64, (ushort)(3000 + i)));
        r.B.PollUntilIdle();
        var got = r.HostB.TakeSent();
        Assert.Equal(8, got.Count);
        Assert.Equal(3, got.Count(g => MacAddress.Read(g.AsSpan(6)) == MacAddress.Parse("00:00:00:00:00:ee")));
    }
}
