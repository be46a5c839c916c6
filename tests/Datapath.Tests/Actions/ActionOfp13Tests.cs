using System.Buffers.Binary;
using System.Diagnostics;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The OpenFlow 1.1-1.3 actions on hand-built frames: golden bytes (the expected frame is the input with the field
/// changed and every checksum recomputed from scratch by <see cref="RefFrame"/>, which shares no code with the
/// datapath), push/pop round trips, layer offsets after length changes, TTL expiry, and tshark's verdict.
/// </summary>
public class ActionOfp13Tests
{
    private const string Macs = "020000000002 020000000001";
    private const string V6Src = "20010db8000000000000000000000001", V6Dst = "20010db8000000000000000000000002";
    private static readonly UInt128 NewV6 = UInt128.Parse("20010db8ffff00000000000000000abc", System.Globalization.NumberStyles.HexNumber);

    internal static readonly byte[] Ipv4Tcp = RefFrame.Fixed(Macs + "0800 45000028 00010000 4006 0000 0a000001 0a000002 04d20050 00000001 00000000 50022000 0000 0000");
    internal static readonly byte[] Ipv4Udp = RefFrame.Fixed(Macs + "0800 45000020 00010000 4011 0000 0a000001 0a000002 04d204d3 000c 0000 deadbeef");
    internal static readonly byte[] Ipv4Icmp = RefFrame.Fixed(Macs + "0800 4500001c 00010000 4001 0000 0a000001 0a000002 0800 0000 00010001");
    internal static readonly byte[] Ipv6Tcp = RefFrame.Fixed(Macs + "86dd 60000000 0014 06 40" + V6Src + V6Dst + "04d20050 00000001 00000000 50022000 0000 0000");
    internal static readonly byte[] Ipv6Udp = RefFrame.Fixed(Macs + "86dd 60000000 000c 11 40" + V6Src + V6Dst + "04d204d3 000c 0000 deadbeef");
    internal static readonly byte[] Ipv6Ns = RefFrame.Fixed(Macs + "86dd 60000000 0020 3a ff" + V6Src + V6Dst + "8700 0000 00000000" + V6Dst + "0101 020000000001");
    internal static readonly byte[] Sctp = RefFrame.Fixed(Macs + "0800 45000024 00010000 4084 0000 0a000001 0a000002 04d20050 00000000 00000000 06000004");
    internal static readonly byte[] Arp = Frames.Hex("ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002");

    private static readonly List<byte[]> s_outputs = [];

    internal static PacketLayers LayersOf(byte[] f)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12));
        if (type != 0x86DD)
        {
            PacketParser.Parse(f, 1, out _, out var l);
            if (f[14 + 9] == 0x84) { l.L4 = 34; l.Flags |= LayerFlags.Sctp; }
            return l;
        }
        var flags = LayerFlags.Ipv6 | (f[20] switch { 6 => LayerFlags.Tcp, 17 => LayerFlags.Udp, _ => LayerFlags.Icmpv6 });
        return new PacketLayers { Vlan = PacketLayers.Absent, Pbb = PacketLayers.Absent, EthType = 12, Mpls = PacketLayers.Absent, L3 = 14, L4 = 54, Flags = flags };
    }

    private static (PacketPool Pool, int P, PacketLayers L) Load(byte[] f)
    {
        var pool = new PacketPool(2);
        int p = pool.Alloc();
        pool.Write(p, f);
        return (pool, p, LayersOf(f));
    }

    /// <summary>Runs one action through the executor on <paramref name="input"/> and returns the frame and layers after.</summary>
    internal static (byte[] Frame, PacketLayers Layers) Run(byte[] input, params FlowAction[] actions)
    {
        var result = RunUnchecked(input, actions);
        lock (s_outputs) s_outputs.Add(result.Frame);
        return result;
    }

    /// <summary>As <see cref="Run"/>, for outputs tshark is not asked about (a type rewritten under headers that stay).</summary>
    internal static (byte[] Frame, PacketLayers Layers) RunUnchecked(byte[] input, params FlowAction[] actions)
    {
        var (pool, p, l) = Load(input);
        var layers = new[] { l };
        var sink = new RecordingSink();
        new ActionExecutor().Execute(new FlowActions(actions), pool, [p], layers, ref sink);
        return (pool.Frame(p).ToArray(), layers[0]);
    }

    /// <summary>The input with <paramref name="hex"/> written at <paramref name="offset"/> and checksums recomputed.</summary>
    internal static byte[] Expect(byte[] input, int offset, string hex)
    {
        var e = (byte[])input.Clone();
        Frames.Hex(hex).CopyTo(e, offset);
        RefFrame.FixChecksums(e);
        return e;
    }

    internal static void AssertGolden(byte[] expected, byte[] actual)
    {
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        RefFrame.AssertValid(actual);
    }

    public static TheoryData<string, int> V6Frames => new() { { "tcp", 0 }, { "udp", 1 }, { "ns", 2 } };

    private static byte[] V6(int i) => i switch { 0 => Ipv6Tcp, 1 => Ipv6Udp, _ => Ipv6Ns };

    [Theory]
    [MemberData(nameof(V6Frames))]
    public void SetIpv6SrcAndDstFixTheL4ChecksumOverThePseudoHeader(string name, int i)
    {
        _ = name;
        byte[] input = V6(i);
        RefFrame.AssertValid(input);
        AssertGolden(Expect(input, 22, NewV6.ToString("x32")), Run(input, FlowAction.SetIpv6Src(NewV6)).Frame);
        AssertGolden(Expect(input, 38, NewV6.ToString("x32")), Run(input, FlowAction.SetIpv6Dst(NewV6)).Frame);
    }

    [Fact]
    public void Ipv6TrafficClassAndFlowLabel()
    {
        AssertGolden(Expect(Ipv6Tcp, 14, "6b80"), Run(Ipv6Tcp, FlowAction.SetNwTos(0xB8)).Frame);
        AssertGolden(Expect(Ipv6Tcp, 14, "60300000"), Run(Ipv6Tcp, FlowAction.SetIpEcn(3)).Frame);
        AssertGolden(Expect(Ipv6Tcp, 14, "600abcde"), Run(Ipv6Tcp, FlowAction.SetIpv6Flabel(0xABCDE)).Frame);
    }

    [Fact]
    public void Ipv4EcnKeepsDscpAndFixesTheHeaderChecksum()
    {
        var (f, _) = Run(Ipv4Tcp, FlowAction.SetNwTos(0xB8), FlowAction.SetIpEcn(2));
        AssertGolden(Expect(Ipv4Tcp, 15, "ba"), f);
    }

    [Fact]
    public void NdTargetAndLinkLayerOption()
    {
        AssertGolden(Expect(Ipv6Ns, 62, NewV6.ToString("x32")), Run(Ipv6Ns, FlowAction.SetNdTarget(NewV6)).Frame);
        AssertGolden(Expect(Ipv6Ns, 80, "0a0b0c0d0e0f"), Run(Ipv6Ns, FlowAction.SetNdSll(new MacAddress(0x0A0B0C0D0E0F))).Frame);
        // A solicitation carries no target link-layer option: nothing to rewrite.
        AssertGolden(Ipv6Ns, Run(Ipv6Ns, FlowAction.SetNdTll(new MacAddress(0x0A0B0C0D0E0F))).Frame);
    }

    [Fact]
    public void IcmpTypeAndCodeOnBothVersions()
    {
        AssertGolden(Expect(Ipv4Icmp, 34, "00"), Run(Ipv4Icmp, FlowAction.SetIcmpType(0), FlowAction.SetIcmpCode(0)).Frame);
        AssertGolden(Expect(Ipv6Ns, 54, "88"), Run(Ipv6Ns, FlowAction.SetIcmpType(136)).Frame);
        // Codes through the rewriter directly (a code these messages do not define is kept out of the tshark capture).
        var f = (byte[])Ipv4Icmp.Clone();
        PacketRewriter.SetIcmpField(f, LayersOf(f), true, 3);
        AssertGolden(Expect(Ipv4Icmp, 35, "03"), f);
        var g = (byte[])Ipv6Ns.Clone();
        PacketRewriter.SetIcmpField(g, LayersOf(g), true, 1);
        AssertGolden(Expect(Ipv6Ns, 55, "01"), g);
    }

    [Fact]
    public void NwTtlOnIpv4AndIpv6()
    {
        AssertGolden(Expect(Ipv4Udp, 22, "3f"), Run(Ipv4Udp, FlowAction.DecNwTtl()).Frame);
        AssertGolden(Expect(Ipv4Udp, 22, "07"), Run(Ipv4Udp, FlowAction.SetNwTtl(7)).Frame);
        AssertGolden(Expect(Ipv6Udp, 21, "3f"), Run(Ipv6Udp, FlowAction.DecNwTtl()).Frame);
        AssertGolden(Expect(Ipv6Udp, 21, "09"), Run(Ipv6Udp, FlowAction.SetNwTtl(9)).Frame);
    }

    [Fact]
    public void UdpChecksumZeroOverIpv4StaysZero()
    {
        var noCsum = (byte[])Ipv4Udp.Clone();
        noCsum[40] = noCsum[41] = 0;
        var (f, _) = Run(noCsum, FlowAction.SetNwSrc(0xC0A80001), FlowAction.SetTpDst(99));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(40)));
        Assert.True(RefFrame.Ipv4HeaderValid(f, 14));
    }

    [Fact]
    public void LaterFragmentLeavesL4Alone()
    {
        var frag = (byte[])Ipv4Udp.Clone();
        frag[20] = 0x00; frag[21] = 0x10;   // fragment offset 16 (x8 bytes): no L4 header
        RefFrame.FixChecksums(frag);        // the IP header only
        byte[] before = frag.AsSpan(34).ToArray();
        var (f, _) = Run(frag, FlowAction.SetIpv6Src(NewV6), FlowAction.SetNwDst(0x0B000001), FlowAction.SetTpSrc(7));
        Assert.Equal(before, f.AsSpan(34).ToArray());
        Assert.True(RefFrame.Ipv4HeaderValid(f, 14));
    }

    [Fact]
    public void SctpPort_OnAValidPacket_KeepsItValid()
    {
        Assert.True(RefFrame.SctpValid(Sctp, 34));
        var (f, _) = Run(Sctp, FlowAction.SetTpSrc(9999), FlowAction.SetTpDst(7));
        Assert.Equal((ushort)9999, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(34)));
        Assert.Equal((ushort)7, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(36)));
        Assert.True(RefFrame.SctpValid(f, 34));
    }

    [Fact]
    public void SctpPort_UpdatesTheCrc32cByTheChange_Golden()
    {
        // A DATA chunk of 1000 bytes after the ports: the change is carried over the whole packet.
        string data = "0000 03e8 00000001 0000 0000 00000000" + string.Concat(Enumerable.Repeat("a5", 984));
        var input = RefFrame.Fixed(Macs + "0800 45000408 00010000 4084 0000 0a000001 0a000002 04d20050 00000000 00000000" + data);
        var expected = RefFrame.Fixed(Macs + "0800 45000408 00010000 4084 0000 0a000001 0a000002 270f0007 00000000 00000000" + data);
        Assert.True(RefFrame.SctpValid(input, 34));
        var (f, _) = Run(input, FlowAction.SetTpSrc(9999), FlowAction.SetTpDst(7));
        Assert.Equal(expected, f);
    }

    [Fact]
    public void SctpPort_OnACorruptPacket_LeavesItCorrupt()
    {
        var bad = (byte[])Sctp.Clone();
        bad[34 + 8] ^= 0x5a;   // a wrong CRC32c
        Assert.False(RefFrame.SctpValid(bad, 34));
        var (f, _) = Run(bad, FlowAction.SetTpSrc(9999));
        Assert.Equal((ushort)9999, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(34)));
        Assert.False(RefFrame.SctpValid(f, 34));
        // Off by exactly what it was off by before.
        var good = Run(Sctp, FlowAction.SetTpSrc(9999)).Frame;
        Assert.Equal(0x5a, f[34 + 8] ^ good[34 + 8]);
    }

    [Fact]
    public void SctpPort_InAFirstFragment_IsSetAndTheCrcIsLeftAsItCame()
    {
        // A datagram of a 1000-byte DATA chunk, its CRC32c valid, cut in two: the first fragment holds the common header
        // and 24 bytes. How the CRC changes depends on the whole datagram's length, which the first fragment does not
        // tell: the port is set and the CRC kept; worked out over the fragment alone it would be right for nothing.
        string chunk = "0000 03e8 00000001 0000 0000 00000000" + string.Concat(Enumerable.Repeat("a5", 984));
        var whole = RefFrame.Fixed(Macs + "0800 45000408 00010000 4084 0000 0a000001 0a000002 04d20050 00000000 00000000" + chunk);
        Assert.True(RefFrame.SctpValid(whole, 34));
        byte[] first = [.. whole.AsSpan(0, 34 + 40)];
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(14 + 2), 20 + 40);
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(14 + 6), 0x2000); // MF, offset 0
        first[14 + 10] = first[14 + 11] = 0; // the IP header's checksum again (RefFrame.Fixed would also write a CRC)
        uint sum = 0;
        for (int i = 14; i < 34; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(first.AsSpan(i));
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(14 + 10), (ushort)~sum);
        Assert.True(RefFrame.Ipv4HeaderValid(first, 14));
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(first.AsSpan(34 + 8));

        var (f, _) = Run(first, FlowAction.SetTpSrc(9999), FlowAction.SetTpDst(7));
        Assert.Equal((ushort)9999, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(34)));
        Assert.Equal((ushort)7, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(36)));
        Assert.Equal(crc, BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(34 + 8)));
        Assert.Equal(first.AsSpan(38).ToArray(), f.AsSpan(38).ToArray());
        Assert.True(RefFrame.Ipv4HeaderValid(f, 14));
    }

    [Fact]
    public void SctpPort_InALaterFragment_ChangesNothing()
    {
        // A later fragment carries no SCTP header: its first bytes are the datagram's data, not ports.
        var later = RefFrame.Fixed(Macs + "0800 45000024 00010003 4084 0000 0a000001 0a000002 04d20050 00000000 00000000 06000004");
        Assert.Equal(ParseError.None, PacketParser.Parse(later, 1, out _, out var l));
        var f = (byte[])later.Clone();
        PacketRewriter.SetTpSrc(f, l, 9999);
        PacketRewriter.SetTpDst(f, l, 7);
        Assert.Equal(later, f);
    }

    [Fact]
    public void ArpFields()
    {
        var (f, _) = Run(Arp, FlowAction.SetArpOp(2), FlowAction.SetArpSha(new MacAddress(0x0200000000AA)), FlowAction.SetArpSpa(0x0A0000FE),
            FlowAction.SetArpTha(new MacAddress(0x0200000000BB)), FlowAction.SetArpTpa(0x0A0000FD));
        Assert.Equal(Frames.Hex("ffffffffffff 020000000001 0806 0001 0800 06 04 0002 0200000000aa 0a0000fe 0200000000bb 0a0000fd"), f);
    }

    // ---- tags

    [Fact]
    public void PushVlanCopiesTheOuterTagAndPopRestores()
    {
        var tagged = RefFrame.Fixed(Macs + "8100 b123 0800 45000020 00010000 4011 0000 0a000001 0a000002 04d204d3 000c 0000 deadbeef");
        var (f, l) = Run(tagged, FlowAction.PushVlan(0x88A8));
        AssertGolden(Frames.Hex(Macs + "88a8 b123 8100 b123") .Concat(tagged.AsSpan(16).ToArray()).ToArray(), f);
        Assert.Equal((ushort)12, l.Vlan);
        Assert.True(l.Has(LayerFlags.ServiceTag));
        Assert.Equal((ushort)20, l.EthType);
        Assert.Equal((ushort)22, l.L3);
        Assert.Equal((ushort)42, l.L4);

        var (g, l2) = Run(Ipv4Udp, FlowAction.PushVlan(0x8100), FlowAction.SetTpDst(4000), FlowAction.StripVlan());
        AssertGolden(Expect(Ipv4Udp, 36, "0fa0"), g);
        Assert.Equal(LayersOf(Ipv4Udp), l2);
        var (h, _) = Run(Ipv4Udp, FlowAction.PushVlan(0x8100));
        AssertGolden(Frames.Hex(Macs + "8100 0000").Concat(Ipv4Udp.AsSpan(12).ToArray()).ToArray(), h);
    }

    [Fact]
    public void PopVlanOfADoubleTagLeavesTheInnerTagOuter()
    {
        var (f, l) = Run(Ipv4Udp, FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid(5), FlowAction.PushVlan(0x88A8), FlowAction.StripVlan());
        Assert.Equal(Frames.Hex(Macs + "8100 0005 0800"), f[..18]);
        Assert.Equal((ushort)12, l.Vlan);
        Assert.False(l.Has(LayerFlags.ServiceTag));
        Assert.Equal((ushort)16, l.EthType);
        Assert.Equal((ushort)18, l.L3);
    }

    [Fact]
    public void PushMplsTakesTheIpTtlAndPopRestores()
    {
        var (f, l) = Run(Ipv4Tcp, FlowAction.PushMpls(0x8847));
        AssertGolden(Frames.Hex(Macs + "8847 00000140").Concat(Ipv4Tcp.AsSpan(14).ToArray()).ToArray(), f);
        Assert.Equal((ushort)14, l.Mpls);
        Assert.Equal(1, l.MplsDepth);
        Assert.True(l.Has(LayerFlags.Mpls));
        Assert.Equal((ushort)18, l.L3);

        // A second entry copies label, TC and TTL from the first and is not bottom of stack.
        var (g, l2) = Run(Ipv4Tcp, FlowAction.PushMpls(0x8847), FlowAction.SetMplsLabel(0xABCDE), FlowAction.SetMplsTc(5),
            FlowAction.PushMpls(0x8848), FlowAction.DecMplsTtl());
        Assert.Equal(Frames.Hex(Macs + "8848 abcdea3f abcdeb40"), g[..22]);
        Assert.Equal(2, l2.MplsDepth);

        // The pops take the pushed frame (62 bytes) back below Ethernet's 60, so it comes back padded to them.
        var (h, l3) = Run(Ipv4Tcp, FlowAction.PushMpls(0x8847), FlowAction.PushMpls(0x8847), FlowAction.PopMpls(0x8847), FlowAction.PopMpls(0x0800));
        AssertGolden(RefFrame.EthernetMinimum(Ipv4Tcp), h);
        Assert.Equal(LayersOf(Ipv4Tcp), l3);
    }

    [Fact]
    public void PushMplsOnATaggedFrameGoesAfterTheTag()
    {
        var (f, l) = Run(Ipv4Udp, FlowAction.PushVlan(0x8100), FlowAction.PushMpls(0x8847), FlowAction.SetMplsBos(1), FlowAction.SetMplsTtl(9));
        Assert.Equal(Frames.Hex(Macs + "8100 0000 8847 00000109 45"), f[..23]);
        Assert.Equal((ushort)16, l.EthType);
        Assert.Equal((ushort)18, l.Mpls);
        Assert.Equal((ushort)22, l.L3);
    }

    [Fact]
    public void MplsTtlCopies()
    {
        var (f, _) = Run(Ipv4Tcp, FlowAction.PushMpls(0x8847), FlowAction.SetMplsTtl(9), FlowAction.CopyTtlIn());
        Assert.Equal(9, f[18 + 8]);
        RefFrame.AssertValid(f);
        var (g, _) = Run(Ipv4Tcp, FlowAction.PushMpls(0x8847), FlowAction.SetMplsTtl(9), FlowAction.CopyTtlOut());
        Assert.Equal(0x40, g[17]);
        var (h, _) = Run(Ipv4Tcp, FlowAction.PushMpls(0x8847), FlowAction.PushMpls(0x8847), FlowAction.SetMplsTtl(3), FlowAction.CopyTtlIn());
        Assert.Equal(3, h[17]);
        Assert.Equal(3, h[21]);
    }

    [Fact]
    public void PushPbbCopiesAddressesAndPcpAndPopRestores()
    {
        var tagged = RefFrame.Fixed(Macs + "8100 a123 0800 45000020 00010000 4011 0000 0a000001 0a000002 04d204d3 000c 0000 deadbeef");
        var (f, l) = Run(tagged, FlowAction.PushPbb(), FlowAction.SetPbbIsid(0x123456));
        Assert.Equal(Frames.Hex(Macs + "88e7 a0123456" + Macs + "8100 a123 0800"), f[..36]);
        Assert.Equal((ushort)12, l.Pbb);
        Assert.Equal((ushort)30, l.Vlan);
        Assert.Equal((ushort)36, l.L3);
        var (g, l2) = Run(tagged, FlowAction.PushPbb(), FlowAction.PopPbb());
        AssertGolden(RefFrame.EthernetMinimum(tagged), g);
        Assert.Equal(LayersOf(tagged), l2);
    }

    [Fact]
    public void PushWithoutHeadroomIsCountedAndLeavesTheFrame()
    {
        var pool = new PacketPool(2);
        int p = pool.Alloc();
        pool.Write(p, Ipv4Udp);
        pool.Head[p] = 2;   // two bytes of headroom: too few for any push
        Ipv4Udp.CopyTo(pool.Frame(p));
        var layers = new[] { LayersOf(Ipv4Udp) };
        var counters = new Counters.CounterSet();
        var exec = new ActionExecutor(counters);
        var sink = new RecordingSink();
        exec.Execute(new FlowActions([FlowAction.PushMpls(0x8847), FlowAction.PushVlan(0x8100), FlowAction.PushPbb()]), pool, [p], layers, ref sink);
        Assert.Equal(Ipv4Udp, pool.Frame(p).ToArray());
        Assert.Equal(LayersOf(Ipv4Udp), layers[0]);
        Assert.Equal(3, counters[ActionExecutor.PushFailed]);
    }

    // ---- executor: TTL expiry, queue, group

    [Fact]
    public void TtlExpiryTakesThePacketOutOfTheBatch()
    {
        var ttl1 = (byte[])Ipv4Udp.Clone();
        ttl1[22] = 1;
        RefFrame.FixChecksums(ttl1);
        var pool = new PacketPool(4);
        int[] pkts = new int[3];
        byte[][] frames = [Ipv4Udp, ttl1, Ipv4Udp];
        var layers = new PacketLayers[3];
        for (int i = 0; i < 3; i++)
        {
            pkts[i] = pool.Alloc();
            pool.Write(pkts[i], frames[i]);
            layers[i] = LayersOf(frames[i]);
        }
        var counters = new Counters.CounterSet();
        var exec = new ActionExecutor(counters) { InvalidTtlToController = true };
        var sink = new RecordingSink();
        exec.Execute(new FlowActions([FlowAction.DecNwTtl(), FlowAction.SetQueue(2), FlowAction.Output(1)]), pool, pkts, layers, ref sink);
        Assert.Equal(new[] { pkts[1] }, Assert.Single(sink.InvalidTtls));
        var o = Assert.Single(sink.Outputs);
        Assert.Equal(new[] { pkts[0], pkts[2] }, o.Pkts);
        Assert.Equal(2u, o.Queue);
        Assert.Equal(1, pool.Frame(pkts[1])[22]);   // the expired packet is left as it came
        Assert.Equal(0x3F, pool.Frame(pkts[0])[22]);

        // Without the controller asking: a counted drop, and an all-expired batch stops there.
        exec.InvalidTtlToController = false;
        var sink2 = new RecordingSink();

        for (int i = 0; i < 3; i++) layers[i] = LayersOf(frames[i]);
        exec.Execute(new FlowActions([FlowAction.DecNwTtl(), FlowAction.Output(1)]), pool, pkts[1..2], layers, ref sink2);
        Assert.Empty(sink2.Outputs);
        Assert.Empty(sink2.InvalidTtls);
        Assert.Equal(1, counters[ActionExecutor.InvalidTtlDrop]);

        // dec_ttl(ids): the expired packets go to the sink once per id, in order; the others go on decremented.
        exec.InvalidTtlToController = true;
        var sink3 = new RecordingSink();
        for (int i = 0; i < 3; i++)
        {
            pool.Write(pkts[i], frames[i]);
            layers[i] = LayersOf(frames[i]);
        }
        ushort[] ids = [7, 0, 65535, 1, 2, 3, 4, 5, 6, 9];
        var withIds = FlowAction.DecNwTtl(ids);
        Assert.True(withIds.HasTtlControllerIds);
        Assert.False(FlowAction.DecNwTtl().HasTtlControllerIds);
        Assert.Equal(ids, Enumerable.Range(0, withIds.TtlControllerIdCount).Select(withIds.TtlControllerId));
        exec.Execute(new FlowActions([withIds, FlowAction.Output(1)]), pool, pkts, layers, ref sink3);
        Assert.Equal(ids, sink3.InvalidTtlIds);
        Assert.All(sink3.InvalidTtls, p => Assert.Equal(new[] { pkts[1] }, p));
        Assert.Equal(new[] { pkts[0], pkts[2] }, Assert.Single(sink3.Outputs).Pkts);
        Assert.Equal(0x3F, pool.Frame(pkts[2])[22]);
        Assert.Throws<ArgumentException>(() => FlowAction.DecNwTtl(new ushort[FlowAction.MaxTtlControllerIds + 1]));
    }

    /// <summary>dec_ttl(ids) sending every packet of the batch up, once per id: nothing allocated.</summary>
    [Fact]
    public void DecTtlWithIds_AllocatesNothing()
    {
        byte[] ttl1 = (byte[])Ipv4Udp.Clone();
        ttl1[22] = 1;
        RefFrame.FixChecksums(ttl1);
        var exec = new ActionExecutor { InvalidTtlToController = true };
        var sink = new CountingSink();
        var list = new FlowActions([FlowAction.SetNwTtl(1), FlowAction.DecNwTtl([7, 0, 9]), FlowAction.Output(1)]);
        var pool = new PacketPool(33);
        int[] pkts = new int[32];
        var layers = new PacketLayers[32];
        for (int i = 0; i < 32; i++)
        {
            pkts[i] = pool.Alloc();
            pool.Write(pkts[i], ttl1);
            layers[i] = LayersOf(ttl1);
        }
        for (int i = 0; i < 100; i++) exec.Execute(list, pool, pkts, layers, ref sink);
        long allocated = AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 10_000; i++) exec.Execute(list, pool, pkts, layers, ref sink);
        });
        Assert.True(allocated == 0, $"{allocated} bytes");
        Assert.Equal(0, sink.InvalidTtls % (3 * 32)); // every packet up once per id
        Assert.True(sink.InvalidTtls >= 3 * 32 * 10_100L);
        Assert.Equal(0, sink.Outputs);
    }

    [Fact]
    public void FlowActionStaysSmall()
    {
        Assert.Equal(32, System.Runtime.CompilerServices.Unsafe.SizeOf<FlowAction>());
        Assert.Equal(NewV6, FlowAction.SetIpv6Src(NewV6).Wide);
    }

    [Fact]
    public void NewActionsAllocateNothing()
    {
        byte[][] all = [Ipv4Tcp, Ipv4Udp, Ipv6Tcp, Ipv6Udp, Ipv6Ns, Ipv4Icmp, Sctp, Arp], ipv4 = [Ipv4Tcp, Ipv4Udp, Ipv4Icmp, Sctp];
        var exec = new ActionExecutor();
        var sink = new CountingSink();
        (FlowActions, byte[][])[] lists =
        [
            (new([FlowAction.SetIpv6Src(NewV6), FlowAction.SetIpv6Src(UInt128.One), FlowAction.SetIpv6Dst(NewV6), FlowAction.Output(1)]), all),
            (new([FlowAction.PushVlan(0x8100), FlowAction.PushMpls(0x8847), FlowAction.SetMplsLabel(5), FlowAction.DecMplsTtl(),
                 FlowAction.Output(1), FlowAction.PopMpls(0x0800), FlowAction.StripVlan(), FlowAction.Output(2)]), ipv4),
            (new([FlowAction.PushPbb(), FlowAction.SetPbbIsid(9), FlowAction.PopPbb(), FlowAction.SetQueue(1), FlowAction.Output(1)]), all),
            (new([FlowAction.SetNwTtl(64), FlowAction.DecNwTtl(), FlowAction.SetIpEcn(1), FlowAction.SetNwTos(0x20), FlowAction.SetIcmpType(3),
                 FlowAction.SetNdTarget(NewV6), FlowAction.SetNdSll(new MacAddress(5)), FlowAction.SetTpSrc(77), FlowAction.SetArpOp(2),
                 FlowAction.SetIpv6Flabel(3), FlowAction.Group(1), FlowAction.Output(1)]), all),
        ];
        foreach (var (list, kinds) in lists)
        {
            var pool = new PacketPool(33);
            int[] pkts = new int[32];
            var layers = new PacketLayers[32];
            for (int i = 0; i < 32; i++)
            {
                pkts[i] = pool.Alloc();
                pool.Write(pkts[i], kinds[i % kinds.Length]);
                layers[i] = LayersOf(kinds[i % kinds.Length]);
            }
            for (int i = 0; i < 100; i++) exec.Execute(list, pool, pkts, layers, ref sink);
            long allocated = AllocationMeter.SteadyState(() =>
            {
                for (int i = 0; i < 10_000; i++) exec.Execute(list, pool, pkts, layers, ref sink);
            });
            Assert.True(allocated == 0, $"{string.Join(",", list.Items)}: {allocated} bytes");
            for (int i = 0; i < 32; i++) RefFrame.AssertValid(pool.Frame(pkts[i]).ToArray());
        }
        Assert.True(sink.Packets > 0);
    }

    [ToolFact]
    [RequiresTool("tshark")]
    public void TsharkFindsNothingWrongInTheOutputs()
    {
        // Produce every golden output of this class (the order of xunit's tests is not known here).
        var t = new ActionOfp13Tests();
        t.SetIpv6SrcAndDstFixTheL4ChecksumOverThePseudoHeader("", 0);
        t.SetIpv6SrcAndDstFixTheL4ChecksumOverThePseudoHeader("", 1);
        t.SetIpv6SrcAndDstFixTheL4ChecksumOverThePseudoHeader("", 2);
        t.NdTargetAndLinkLayerOption();
        t.IcmpTypeAndCodeOnBothVersions();
        t.NwTtlOnIpv4AndIpv6();
        t.Ipv4EcnKeepsDscpAndFixesTheHeaderChecksum();
        t.Ipv6TrafficClassAndFlowLabel();
        t.PushVlanCopiesTheOuterTagAndPopRestores();
        t.PushMplsTakesTheIpTtlAndPopRestores();
        t.PushPbbCopiesAddressesAndPcpAndPopRestores();
        t.SctpPort_OnAValidPacket_KeepsItValid();
        byte[][] frames;
        lock (s_outputs) frames = [.. s_outputs];
        string dir = Path.Combine(Path.GetTempPath(), "act13-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string pcap = Path.Combine(dir, "f.pcap");
        try
        {
            using (var w = new BinaryWriter(File.Create(pcap)))
            {
                w.Write(0xA1B2C3D4u); w.Write((ushort)2); w.Write((ushort)4); w.Write(0); w.Write(0u); w.Write(65535u); w.Write(1u);
                foreach (var f in frames)
                {
                    w.Write(0u); w.Write(0u); w.Write((uint)f.Length); w.Write((uint)f.Length); w.Write(f);
                }
            }
            var psi = new ProcessStartInfo("tshark", ["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                "-o", "udp.check_checksum:TRUE", "-Y", "_ws.expert.severity >= warning"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var proc = Process.Start(psi)!;
            string stdout = proc.StandardOutput.ReadToEnd();
            proc.StandardError.ReadToEnd();
            Assert.True(proc.WaitForExit(60_000));
            Assert.Equal(0, proc.ExitCode);
            Assert.True(frames.Length > 10);
            Assert.True(stdout.Trim().Length == 0, stdout);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>
/// A reference walk over a frame (VLAN/S-tags, PBB, MPLS, IPv4, IPv6 without extension headers) that recomputes every
/// checksum from scratch with the textbook byte-pair loop and a bitwise CRC32c: it shares no code with the datapath.
/// </summary>
internal static class RefFrame
{
    public static byte[] Fixed(string hex)
    {
        var f = Frames.Hex(hex);
        FixChecksums(f);
        return f;
    }

    public static void FixChecksums(byte[] f) => Walk(f, fix: true);

    public static void AssertValid(byte[] f) => Assert.True(Walk(f, fix: false), Convert.ToHexString(f));

    public static bool Ipv4HeaderValid(byte[] f, int l3) => Sum(f.AsSpan(l3, (f[l3] & 0xF) * 4)) == 0xFFFF;

    /// <summary>Recomputes the checksum of the TCP header at <paramref name="l4"/> over the pseudo-header of the IP header
    /// at <paramref name="l3"/> as it reads now, whatever protocol that header names (a packet library's re-serialisation
    /// of a TCP header under a changed protocol).</summary>
    public static void FixTcpUnderItsIpHeader(byte[] f, int l3, int l4)
    {
        uint pseudo;
        int len;
        if (f[l3] >> 4 == 4)
        {
            len = Be16(f, l3 + 2) - (l4 - l3);
            pseudo = Pair(f, l3 + 12) + Pair(f, l3 + 14) + Pair(f, l3 + 16) + Pair(f, l3 + 18) + f[l3 + 9] + (uint)len;
        }
        else
        {
            len = Be16(f, l3 + 4) - (l4 - l3 - 40);
            pseudo = (uint)len;
            int nh = l3 + 6;
            for (int o = l3 + 40; o < l4; o += (f[o + 1] + 1) * 8) nh = o;
            pseudo += f[nh];
            for (int i = 8; i < 40; i += 2) pseudo += Pair(f, l3 + i);
        }
        Field(f, l4, len, l4 + 16, pseudo, fix: true, udp: false);
    }

    private static bool Walk(byte[] f, bool fix)
    {
        int off = 12;
        ushort type = Be16(f, off);
        while (true)
        {
            if (type is 0x8100 or 0x88A8) { off += 4; type = Be16(f, off); continue; }
            if (type == 0x88E7) { off += 6 + 12; type = Be16(f, off); continue; }
            break;
        }
        int l3 = off + 2;
        if (type is 0x8847 or 0x8848)
        {
            while ((f[l3 + 2] & 1) == 0) l3 += 4;
            l3 += 4;
            type = (f[l3] >> 4) switch { 4 => (ushort)0x0800, 6 => (ushort)0x86DD, _ => (ushort)0 };
        }
        bool ok = true;
        if (type == 0x0800)
        {
            int ihl = (f[l3] & 0xF) * 4, total = Be16(f, l3 + 2);
            ok &= Field(f, l3, ihl, l3 + 10, 0, fix, false);
            bool later = (Be16(f, l3 + 6) & 0x1FFF) != 0;
            if (later) return ok;
            uint pseudo = Pair(f, l3 + 12) + Pair(f, l3 + 14) + Pair(f, l3 + 16) + Pair(f, l3 + 18) + f[l3 + 9] + (uint)(total - ihl);
            ok &= L4(f, l3 + ihl, total - ihl, f[l3 + 9], pseudo, fix);
        }
        else if (type == 0x86DD)
        {
            int len = Be16(f, l3 + 4);
            uint pseudo = (uint)len + f[l3 + 6];
            for (int i = 8; i < 40; i += 2) pseudo += Pair(f, l3 + i);
            ok &= L4(f, l3 + 40, len, f[l3 + 6], pseudo, fix);
        }
        return ok;
    }

    private static bool L4(byte[] f, int l4, int len, byte proto, uint pseudo, bool fix) => proto switch
    {
        6 => Field(f, l4, len, l4 + 16, pseudo, fix, false),
        17 => (Be16(f, l4 + 6) == 0 && !fix) || Field(f, l4, len, l4 + 6, pseudo, fix, true),
        1 => Field(f, l4, len, l4 + 2, 0, fix, false),
        58 => Field(f, l4, len, l4 + 2, pseudo, fix, false),
        0x84 => fix ? FixSctp(f, l4, len) : SctpValid(f, l4),
        _ => true,
    };

    private static bool Field(byte[] f, int start, int len, int csum, uint extra, bool fix, bool udp)
    {
        if (fix)
        {
            f[csum] = f[csum + 1] = 0;
            ushort c = (ushort)~Fold(extra + Raw(f.AsSpan(start, len)));
            if (udp && c == 0) c = 0xFFFF;
            f[csum] = (byte)(c >> 8);
            f[csum + 1] = (byte)c;
            return true;
        }
        return Fold(extra + Raw(f.AsSpan(start, len))) == 0xFFFF;
    }

    private static bool FixSctp(byte[] f, int l4, int len)
    {
        for (int i = 8; i < 12; i++) f[l4 + i] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(l4 + 8), Crc32c(f.AsSpan(l4, len)));
        return true;
    }

    public static bool SctpValid(byte[] f, int l4)
    {
        int len = Be16(f, 14 + 2) - 20;
        var copy = f.AsSpan(l4, len).ToArray();
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(8));
        copy[8] = copy[9] = copy[10] = copy[11] = 0;
        return Crc32c(copy) == stored;
    }

    /// <summary>Bitwise CRC32c (reflected polynomial 0x82F63B78), initial all ones, final complement.</summary>
    private static uint Crc32c(ReadOnlySpan<byte> d)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in d)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }

    private static ushort Be16(byte[] f, int o) => (ushort)((f[o] << 8) | f[o + 1]);
    private static uint Pair(byte[] f, int o) => Be16(f, o);

    private static uint Raw(ReadOnlySpan<byte> d)
    {
        uint s = 0;
        for (int i = 0; i + 1 < d.Length; i += 2) s += (uint)((d[i] << 8) | d[i + 1]);
        if ((d.Length & 1) != 0) s += (uint)(d[^1] << 8);
        return s;
    }

    private static ushort Fold(uint s)
    {
        while (s > 0xFFFF) s = (s & 0xFFFF) + (s >> 16);
        return (ushort)s;
    }

    private static ushort Sum(ReadOnlySpan<byte> d) => Fold(Raw(d));

    /// <summary><paramref name="f"/> as a pop that took it below Ethernet's 60 bytes leaves it: zero-padded to them.</summary>
    public static byte[] EthernetMinimum(byte[] f) => f.Length >= 60 ? f : [.. f, .. new byte[60 - f.Length]];
}
