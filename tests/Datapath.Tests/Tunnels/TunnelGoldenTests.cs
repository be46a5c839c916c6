using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Tunnels;

/// <summary>
/// Encapsulation byte for byte against hand-computed headers, and decapsulation of the same frames back to the inner
/// frame with the right tunnel port and tun_id.
/// </summary>
/// <remarks>
/// The inner frame is FrameBuilder's 64-byte UDP frame 00:..:01 → 00:..:02, 192.168.1.1:1000 → 192.168.1.2:2000.
/// Outer IPv4 checksums were summed by hand from the header words (version/IHL/TOS, total length, id 0, DF, TTL 64 and
/// protocol, 10.0.0.1, 10.0.0.2): VXLAN 4500+0064+0000+4000+4011+0a00+0001+0a00+0002 = d978 → 2687; GRE with key
/// (length 0x5c, protocol 0x2f) d98e → 2671; GRE without key (0x58) d98a → 2675; IP-in-IP (length 0x46, protocol 4)
/// d94d → 26b2.
/// </remarks>
public sealed class TunnelGoldenTests
{
    internal static readonly MacAddress HostA = MacAddress.Parse("00:00:00:00:00:01");
    internal static readonly MacAddress HostB = MacAddress.Parse("00:00:00:00:00:02");
    internal static readonly MacAddress UnderA = MacAddress.Parse("02:00:00:00:00:01");
    internal static readonly MacAddress UnderB = MacAddress.Parse("02:00:00:00:00:02");

    internal static byte[] Inner(int size = 64, ushort sport = 1000)
        => FrameBuilder.Udp(HostA, HostB, Ipv4.Parse("192.168.1.1"), Ipv4.Parse("192.168.1.2"), sport, 2000, size);

    private const string Macs = "020000000002 020000000001 0800";

    internal static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    private static (TunnelPort port, MemoryPort underlay) Make(TunnelConfig config)
    {
        var u = new MemoryPort("u", UnderA) { CaptureSent = true };
        return (new TunnelPort(config, u), u);
    }

    private static byte[] EncapOne(TunnelPort t, byte[] inner, ulong tunId = 0)
    {
        var pool = new PacketPool(4);
        int p = pool.Alloc();
        Assert.True(pool.Write(p, inner));
        t.Send(pool, [p], tunId);
        pool.Release(p);
        Assert.Equal(pool.Capacity, pool.FreeCount);
        var sent = ((MemoryPort)t.Underlay).TakeSent();
        Assert.Single(sent);
        return sent[0];
    }

    internal static void AssertIpv4Valid(byte[] f, int expectTotal)
    {
        Assert.Equal(0, Checksum.Compute(f.AsSpan(14, 20)));     // sums to 0xffff including the checksum
        var copy = f.AsSpan(14, 20).ToArray();
        copy[10] = copy[11] = 0;
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(24)), Checksum.Compute(copy)); // from scratch
        Assert.Equal(expectTotal, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)));
        Assert.Equal(f.Length - 14, expectTotal);
    }

    [Fact]
    public void AJumboFrameOverAJumboUnderlayIsEncapsulatedWhole()
    {
        var u = new MemoryPort("u", UnderA, mtu: 9000) { CaptureSent = true };
        var t = new TunnelPort(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB }, u);
        var inner = Inner(8000);
        var pool = new PacketPool(4, 9000 + 14 + 8);
        int p = pool.Alloc();
        Assert.True(pool.Write(p, inner));
        t.Send(pool, [p], 0);
        pool.Release(p);
        var sent = u.TakeSent();
        Assert.Single(sent);
        Assert.Equal(inner, sent[0][50..]);
        AssertIpv4Valid(sent[0], 8000 + 36);
        Assert.Equal(0, t.Drops[TunnelDropReason.TooBig]);
    }

    [Fact]
    public void VxlanEncapGolden()
    {
        var (t, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var inner = Inner();
        var f = EncapOne(t, inner);
        ushort sport = TunnelHeader.SourcePort(inner);
        Assert.InRange(sport, 49152, 65535);
        var expect = Hex(Macs + "4500 0064 0000 4000 4011 2687 0a000001 0a000002"
                         + $"{sport:x4} 12b5 0050 0000" + "08000000 00006400");
        Assert.Equal(expect, f[..50]);
        Assert.Equal(inner, f[50..]);
        AssertIpv4Valid(f, 100);
        Assert.Equal(1, t.Counters.TxPackets);
        Assert.Equal(inner.Length, t.Counters.TxBytes);
    }

    [Fact]
    public void VxlanEncapUsesSetTunnelIdAndMasksTo24Bits()
    {
        var (t, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var f = EncapOne(t, Inner(), 0x12_ABCDEF);
        Assert.Equal(Hex("08000000 abcdef00"), f[42..50]);
        AssertIpv4Valid(f, 100);
    }

    [Fact]
    public void VxlanSourcePortFollowsTheInnerFlow()
    {
        var a = TunnelHeader.SourcePort(Inner(64, 1000));
        Assert.Equal(a, TunnelHeader.SourcePort(Inner(64, 1000)));
        var ports = new HashSet<ushort>();
        for (ushort s = 1000; s < 1100; s++)
        {
            ushort sp = TunnelHeader.SourcePort(Inner(64, s));
            Assert.InRange(sp, 49152, 65535);
            ports.Add(sp);
        }
        Assert.True(ports.Count > 90, $"only {ports.Count} distinct source ports for 100 flows");
    }

    [Fact]
    public void GreWithKeyEncapGolden()
    {
        var (t, _) = Make(TestTunnels.Gre("gre1", TunnelRig.IpA, TunnelRig.IpB, 5) with { RemoteMac = UnderB });
        var inner = Inner();
        var f = EncapOne(t, inner);
        var expect = Hex(Macs + "4500 005c 0000 4000 402f 2671 0a000001 0a000002" + "2000 6558 00000005");
        Assert.Equal(expect, f[..42]);
        Assert.Equal(inner, f[42..]);
        AssertIpv4Valid(f, 92);
        // set_tunnel overrides the key
        var g = EncapOne(t, inner, 0xDEADBEEF);
        Assert.Equal(Hex("2000 6558 deadbeef"), g[34..42]);
        AssertIpv4Valid(g, 92);
    }

    [Fact]
    public void GreWithoutKeyEncapGolden()
    {
        var (t, _) = Make(TestTunnels.Gre("gre1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var inner = Inner();
        var f = EncapOne(t, inner);
        var expect = Hex(Macs + "4500 0058 0000 4000 402f 2675 0a000001 0a000002" + "0000 6558");
        Assert.Equal(expect, f[..38]);
        Assert.Equal(inner, f[38..]);
        AssertIpv4Valid(f, 88);
    }

    [Fact]
    public void IpipEncapGoldenStripsTheInnerEthernetHeader()
    {
        var (t, _) = Make(TestTunnels.Ipip("ip1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var inner = Inner();
        var f = EncapOne(t, inner);
        var expect = Hex(Macs + "4500 0046 0000 4000 4004 26b2 0a000001 0a000002");
        Assert.Equal(expect, f[..34]);
        Assert.Equal(inner[14..], f[34..]);
        AssertIpv4Valid(f, 70);
    }

    [Fact]
    public void IpipEncapOfVlanTaggedIpv4StripsTheTag()
    {
        var (t, _) = Make(TestTunnels.Ipip("ip1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var tagged = FrameBuilder.Udp(HostA, HostB, Ipv4.Parse("192.168.1.1"), Ipv4.Parse("192.168.1.2"), 1000, 2000, 68, vlan: 7);
        var f = EncapOne(t, tagged);
        Assert.Equal(tagged[18..], f[34..]);
        AssertIpv4Valid(f, 20 + tagged.Length - 18);
    }

    [Fact]
    public void IpipEncapDropsNonIpv4AndCounts()
    {
        var (t, u) = Make(TestTunnels.Ipip("ip1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var arp = FrameBuilder.Arp(1, HostA, Ipv4.Parse("192.168.1.1"), default, Ipv4.Parse("192.168.1.2"));
        var pool = new PacketPool(4);
        int p = pool.Alloc();
        pool.Write(p, arp);
        t.Send(pool, [p]);
        Assert.Empty(u.TakeSent());
        Assert.Equal(1, t.Drops[TunnelDropReason.NotIpv4]);
        Assert.Equal(1, t.Counters.TxDropped);
    }

    [Fact]
    public void TemplateChecksumIsPatchedIncrementallyForEveryLength()
    {
        var (t, _) = Make(TestTunnels.Vxlan("vx1", Ipv4.Parse("172.16.255.254"), Ipv4.Parse("203.0.113.77"), 1) with { Tos = 184, Ttl = 3, RemoteMac = UnderB });
        var pool = new PacketPool(2);
        int b = pool.Alloc();
        for (int len = 14; len <= 1450; len += 7)
        {
            var inner = new byte[len];
            new Random(len).NextBytes(inner);
            Assert.Equal(EncapStatus.Ok, t.Header.Encapsulate(inner, pool, b, 1));
            var f = pool.Frame(b).ToArray();
            AssertIpv4Valid(f, 50 - 14 + len);
            Assert.Equal(184, f[15]);
            Assert.Equal(3, f[22]);
            Assert.Equal(0x40, f[20]); // DF
            Assert.Equal(50 - 34 + len, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(38)));
            Assert.Equal(inner, f[50..]);
        }
        // 1500-byte underlay MTU: 1450 bytes of inner IP (the port's MTU) plus its 14-byte Ethernet header fit, one more does not.
        Assert.Equal(1450, t.Info.Mtu);
        Assert.Equal(EncapStatus.Ok, t.Header.Encapsulate(new byte[1464], pool, b, 1));
        Assert.Equal(EncapStatus.TooBig, t.Header.Encapsulate(new byte[1465], pool, b, 1));
    }

    // ---- decapsulation of the golden frames ----

    private static (RxVerdict verdict, TunnelPort? port, ulong tunId, byte[] frame) Decap(UnderlayBinding b, byte[] outer)
    {
        var pool = new PacketPool(2);
        int p = pool.Alloc();
        pool.Write(p, outer);
        var v = b.Classify(pool, p, out var port, out var id);
        return (v, port, id, pool.Frame(p).ToArray());
    }

    private static UnderlayBinding Bind(params TunnelPort[] ports) => new(null, ports, new TunnelDropCounters());

    /// <summary>The receiving side's view: local and remote swapped.</summary>
    private static TunnelPort Receiver(TunnelConfig config)
        => new(config, new MemoryPort("u", UnderB));

    [Fact]
    public void VxlanDecapGivesBackTheInnerFrameAndVni()
    {
        var (tx, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var inner = Inner();
        var outer = EncapOne(tx, inner);
        var rx = Receiver(TestTunnels.Vxlan("vx1", TunnelRig.IpB, TunnelRig.IpA, 100));
        var (v, port, id, frame) = Decap(Bind(rx), outer);
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(rx, port);
        Assert.Equal(100UL, id);
        Assert.Equal(inner, frame);
    }

    [Fact]
    public void GreDecapGivesBackTheInnerFrameAndKey()
    {
        var (tx, _) = Make(TestTunnels.Gre("gre1", TunnelRig.IpA, TunnelRig.IpB, 5) with { RemoteMac = UnderB });
        var inner = Inner();
        var rx = Receiver(TestTunnels.Gre("gre1", TunnelRig.IpB, TunnelRig.IpA, 5));
        var (v, port, id, frame) = Decap(Bind(rx), EncapOne(tx, inner));
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(rx, port);
        Assert.Equal(5UL, id);
        Assert.Equal(inner, frame);
    }

    [Fact]
    public void IpipDecapSynthesisesTheConfiguredEthernetHeader()
    {
        var (tx, _) = Make(TestTunnels.Ipip("ip1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var inner = Inner();
        var rx = Receiver(TestTunnels.Ipip("ip1", TunnelRig.IpB, TunnelRig.IpA) with { InnerSrcMac = MacAddress.Parse("00:00:00:00:00:01"), InnerDstMac = MacAddress.Parse("00:00:00:00:00:02") });
        var (v, port, id, frame) = Decap(Bind(rx), EncapOne(tx, inner));
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(rx, port);
        Assert.Equal(0UL, id);
        Assert.Equal(inner, frame);
    }

    [Fact]
    public void IpipDecapDefaultsAreThePortMacAndBroadcast()
    {
        var (tx, _) = Make(TestTunnels.Ipip("ip1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var inner = Inner();
        var rx = Receiver(TestTunnels.Ipip("ip1", TunnelRig.IpB, TunnelRig.IpA) with { Mac = MacAddress.Parse("0a:00:00:00:00:0a") });
        var (_, _, _, frame) = Decap(Bind(rx), EncapOne(tx, inner));
        Assert.Equal(Hex("ffffffffffff 0a000000000a 0800"), frame[..14]);
        Assert.Equal(inner[14..], frame[14..]);
    }

    [Fact]
    public void DecapTrimsEthernetPadding()
    {
        var (tx, _) = Make(TestTunnels.Ipip("ip1", TunnelRig.IpA, TunnelRig.IpB) with { RemoteMac = UnderB });
        var inner = Inner();
        var outer = EncapOne(tx, inner);
        var padded = new byte[outer.Length + 6];
        outer.CopyTo(padded, 0);
        var rx = Receiver(TestTunnels.Ipip("ip1", TunnelRig.IpB, TunnelRig.IpA) with { InnerSrcMac = MacAddress.Parse("00:00:00:00:00:01"), InnerDstMac = MacAddress.Parse("00:00:00:00:00:02") });
        var (v, _, _, frame) = Decap(Bind(rx), padded);
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Equal(inner, frame);
    }

    [Fact]
    public void DecapPicksTheTunnelByVniAndFlowKeyCatchesTheRest()
    {
        var (tx, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var inner = Inner();
        var r100 = Receiver(TestTunnels.Vxlan("a", TunnelRig.IpB, TunnelRig.IpA, 100));
        var r200 = Receiver(TestTunnels.Vxlan("b", TunnelRig.IpB, TunnelRig.IpA, 200));
        var any = Receiver(TestTunnels.FlowKeyed(TunnelKind.Vxlan, "c", TunnelRig.IpB, TunnelRig.IpA));
        var bind = Bind(r200, any, r100);
        Assert.Same(r100, Decap(bind, EncapOne(tx, inner, 100)).port);
        Assert.Same(r200, Decap(bind, EncapOne(tx, inner, 200)).port);
        var (v, port, id, _) = Decap(bind, EncapOne(tx, inner, 300));
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(any, port);
        Assert.Equal(300UL, id);
    }

    [Fact]
    public void ManyTunnelsUseTheHashLookup()
    {
        var (tx, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var ports = new List<TunnelPort>();
        for (int i = 0; i < 20; i++) ports.Add(Receiver(TestTunnels.Vxlan($"t{i}", TunnelRig.IpB, TunnelRig.IpA, (uint)(1000 + i))));
        var drops = new TunnelDropCounters();
        var bind = new UnderlayBinding(null, ports, drops);
        var (v, port, id, _) = Decap(bind, EncapOne(tx, Inner(), 1007));
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(ports[7], port);
        Assert.Equal(1007UL, id);
        Assert.Equal(RxVerdict.Dropped, Decap(bind, EncapOne(tx, Inner(), 5)).verdict);
        Assert.Equal(1, drops[TunnelDropReason.UnknownKey]);
    }

    [Fact]
    public void DecapDropsUnknownVniWrongRemoteBadChecksumFragmentsAndTruncation()
    {
        var (tx, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var outer = EncapOne(tx, Inner(), 101);
        var drops = new TunnelDropCounters();
        var bind = new UnderlayBinding(null, [Receiver(TestTunnels.Vxlan("vx1", TunnelRig.IpB, TunnelRig.IpA, 100))], drops);
        Assert.Equal(RxVerdict.Dropped, Decap(bind, outer).verdict);
        Assert.Equal(1, drops[TunnelDropReason.UnknownKey]);

        var good = EncapOne(tx, Inner(), 100);
        var badSum = (byte[])good.Clone();
        badSum[24] ^= 1;
        Assert.Equal(RxVerdict.Dropped, Decap(bind, badSum).verdict);
        Assert.Equal(1, drops[TunnelDropReason.BadChecksum]);

        var wrongRemote = (byte[])good.Clone();
        wrongRemote[29] = 9;   // from 10.0.0.9
        FixIpChecksum(wrongRemote);
        Assert.Equal(RxVerdict.Dropped, Decap(bind, wrongRemote).verdict);
        Assert.Equal(2, drops[TunnelDropReason.UnknownKey]);

        var frag = (byte[])good.Clone();
        frag[20] = 0x20;       // MF
        FixIpChecksum(frag);
        Assert.Equal(RxVerdict.Dropped, Decap(bind, frag).verdict);
        Assert.Equal(1, drops[TunnelDropReason.Fragment]);

        var noIFlag = (byte[])good.Clone();
        noIFlag[42] = 0;
        Assert.Equal(RxVerdict.Dropped, Decap(bind, noIFlag).verdict);
        Assert.Equal(1, drops[TunnelDropReason.Malformed]);

        Assert.Equal(RxVerdict.Dropped, Decap(bind, good[..60]).verdict);
        Assert.Equal(2, drops[TunnelDropReason.Malformed]);

        Assert.Equal(RxVerdict.Decapsulated, Decap(bind, good).verdict);
    }

    [Fact]
    public void VxlanDecapVerifiesANonZeroUdpChecksum()
    {
        var (tx, _) = Make(TestTunnels.Vxlan("vx1", TunnelRig.IpA, TunnelRig.IpB, 100) with { RemoteMac = UnderB });
        var withSum = EncapOne(tx, Inner());
        ushort sum = Checksum.ComputeL4(BinaryPrimitives.ReadUInt32BigEndian(withSum.AsSpan(26)), BinaryPrimitives.ReadUInt32BigEndian(withSum.AsSpan(30)), 17, withSum.AsSpan(34));
        BinaryPrimitives.WriteUInt16BigEndian(withSum.AsSpan(40), sum == 0 ? (ushort)0xFFFF : sum);
        var drops = new TunnelDropCounters();
        var bind = new UnderlayBinding(null, [Receiver(TestTunnels.Vxlan("vx1", TunnelRig.IpB, TunnelRig.IpA, 100))], drops);
        Assert.Equal(RxVerdict.Decapsulated, Decap(bind, withSum).verdict);
        withSum[60] ^= 0xFF;   // corrupt the inner frame
        Assert.Equal(RxVerdict.Dropped, Decap(bind, withSum).verdict);
        Assert.Equal(1, drops[TunnelDropReason.BadChecksum]);
    }

    [Fact]
    public void GreDecapHandlesChecksumAndSequenceFieldsAndRejectsOthers()
    {
        var inner = Inner();
        // GRE with C, K and S: flags b000, checksum, reserved, key 7, sequence 1.
        var gre = new byte[16 + inner.Length];
        BinaryPrimitives.WriteUInt16BigEndian(gre, 0xB000);
        BinaryPrimitives.WriteUInt16BigEndian(gre.AsSpan(2), 0x6558);
        BinaryPrimitives.WriteUInt32BigEndian(gre.AsSpan(8), 7);
        BinaryPrimitives.WriteUInt32BigEndian(gre.AsSpan(12), 1);
        inner.CopyTo(gre, 16);
        BinaryPrimitives.WriteUInt16BigEndian(gre.AsSpan(4), Checksum.Compute(gre));
        var outer = Outer(47, gre);
        var drops = new TunnelDropCounters();
        var rx = Receiver(TestTunnels.Gre("gre1", TunnelRig.IpB, TunnelRig.IpA, 7));
        var bind = new UnderlayBinding(null, [rx], drops);
        var (v, port, id, frame) = Decap(bind, outer);
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(rx, port);
        Assert.Equal(7UL, id);
        Assert.Equal(inner, frame);

        var bad = (byte[])outer.Clone();
        bad[^1] ^= 1;
        Assert.Equal(RxVerdict.Dropped, Decap(bind, bad).verdict);
        Assert.Equal(1, drops[TunnelDropReason.BadChecksum]);

        var routing = (byte[])outer.Clone();
        routing[34] |= 0x40;
        Assert.Equal(RxVerdict.Dropped, Decap(bind, routing).verdict);
        var l3gre = (byte[])outer.Clone();
        l3gre[36] = 0x08;
        l3gre[37] = 0x00;
        Assert.Equal(RxVerdict.Dropped, Decap(bind, l3gre).verdict);
        Assert.Equal(2, drops[TunnelDropReason.Malformed]);

        // A keyless packet does not match a keyed tunnel.
        var keyless = new byte[4 + inner.Length];
        BinaryPrimitives.WriteUInt16BigEndian(keyless.AsSpan(2), 0x6558);
        inner.CopyTo(keyless, 4);
        Assert.Equal(RxVerdict.Dropped, Decap(bind, Outer(47, keyless)).verdict);
        Assert.Equal(1, drops[TunnelDropReason.UnknownKey]);
    }

    [Fact]
    public void OrdinaryTrafficPassesUntouched()
    {
        var drops = new TunnelDropCounters();
        var bind = new UnderlayBinding(null, [Receiver(TestTunnels.Vxlan("vx1", TunnelRig.IpB, TunnelRig.IpA, 100))], drops);
        var frames = new[]
        {
            Inner(),                                                                                          // elsewhere
            FrameBuilder.Udp(HostA, HostB, Ipv4.Parse("10.0.0.1"), Ipv4.Parse("10.0.0.2"), 1000, 53, 64),    // UDP to us, other port
            FrameBuilder.IcmpEcho(HostA, HostB, Ipv4.Parse("10.0.0.1"), Ipv4.Parse("10.0.0.2"), false, 1, 1), // ping to us
            FrameBuilder.Tcp(HostA, HostB, Ipv4.Parse("10.0.0.1"), Ipv4.Parse("10.0.0.2"), 1000, 4789, 64),
            FrameBuilder.Arp(1, HostA, Ipv4.Parse("10.0.0.1"), default, Ipv4.Parse("10.0.0.3")),              // ARP for another address
            Outer(47, new byte[40]),                                                                          // GRE: no GRE tunnel here
            new byte[20],
        };
        foreach (var f in frames)
        {
            var (v, _, _, frame) = Decap(bind, f);
            Assert.Equal(RxVerdict.Pass, v);
            Assert.Equal(f, frame);
        }
        Assert.Equal(0, drops.Total);
    }

    [Fact]
    public void ArpRequestForTheLocalEndpointIsAnsweredInPlace()
    {
        var rx = Receiver(TestTunnels.Vxlan("vx1", TunnelRig.IpB, TunnelRig.IpA, 100));
        var bind = Bind(rx);
        var peer = MacAddress.Parse("aa:bb:cc:dd:ee:ff");
        var req = FrameBuilder.Arp(1, peer, Ipv4.Parse("10.0.0.1"), default, Ipv4.Parse("10.0.0.2"));
        var (v, _, _, reply) = Decap(bind, req);
        Assert.Equal(RxVerdict.ArpReply, v);
        var expect = FrameBuilder.Arp(2, UnderB, Ipv4.Parse("10.0.0.2"), peer, Ipv4.Parse("10.0.0.1"));
        Assert.Equal(expect, reply);
        // The request came from the tunnel's next hop: its MAC is learned too.
        Assert.Equal(peer, rx.NextHopMac);
        // A reply to us is consumed.
        var (v2, _, _, _) = Decap(bind, FrameBuilder.Arp(2, peer, Ipv4.Parse("10.0.0.1"), UnderB, Ipv4.Parse("10.0.0.2")));
        Assert.Equal(RxVerdict.Consumed, v2);
    }

    /// <summary>Ethernet + IPv4 10.0.0.1 → 10.0.0.2 with protocol <paramref name="proto"/> around <paramref name="payload"/>.</summary>
    internal static byte[] Outer(byte proto, byte[] payload)
    {
        var f = new byte[34 + payload.Length];
        UnderB.Write(f);
        UnderA.Write(f.AsSpan(6));
        f[12] = 8;
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(20 + payload.Length));
        f[20] = 0x40;
        f[22] = 64;
        f[23] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(26), Ipv4.Parse("10.0.0.1"));
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(30), Ipv4.Parse("10.0.0.2"));
        FixIpChecksum(f);
        payload.CopyTo(f, 34);
        return f;
    }

    internal static void FixIpChecksum(byte[] f)
    {
        f[24] = f[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
    }
}
