using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

/// <summary>Parser edge cases, each with the complete expected FlowKey, ParseError and layers.</summary>
public class ParserEdgeTests
{
    private const string Dst = "1a2b3c4d5e6f", Src = "020000000001";
    private static readonly MacAddress DstMac = MacAddress.Parse("1a:2b:3c:4d:5e:6f"), SrcMac = MacAddress.Parse("02:00:00:00:00:01");

    /// <summary>The key of an Ethernet frame from <see cref="Src"/> to <see cref="Dst"/> on port 1, nothing else set.</summary>
    private static FlowKeyBuilder EthKey(ushort dlType) => new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlSrc(SrcMac).DlDst(DstMac).DlType(dlType);

    private static void Expect(string hex, ParseError error, FlowKeyBuilder key, ushort vlan = PacketLayers.Absent,
        ushort l3 = PacketLayers.Absent, ushort l4 = PacketLayers.Absent, LayerFlags flags = LayerFlags.None)
        => Expect(Frames.Hex(hex), error, key, vlan, l3, l4, flags);

    private static void Expect(byte[] frame, ParseError error, FlowKeyBuilder key, ushort vlan = PacketLayers.Absent,
        ushort l3 = PacketLayers.Absent, ushort l4 = PacketLayers.Absent, LayerFlags flags = LayerFlags.None)
    {
        var e = PacketParser.Parse(frame, 1, out var k, out var l);
        Assert.Equal(error, e);
        Assert.Equal(key.Key.ToString(), k.ToString());
        Assert.True(key.Key == k, "key bytes (padding included) differ");
        Assert.Equal((vlan, l3, l4, flags), (l.Vlan, l.L3, l.L4, l.Flags));
    }

    // IPv4 10.0.0.1 -> 10.0.0.2 header pieces (checksums are not the parser's business: zeros are fine).
    private const string Ip = "0a000001 0a000002";

    public static TheoryData<int> RuntLengths() { var d = new TheoryData<int>(); for (int n = 0; n < 14; n++) d.Add(n); return d; }

    [Theory]
    [MemberData(nameof(RuntLengths))]
    public void EveryRuntLengthIsRunt(int n)
    {
        byte[] f = Frames.Hex(Dst + Src + "0800 4500").AsSpan(0, n).ToArray();
        var e = PacketParser.Parse(f, 9, out var k, out var l, tunId: 5);
        Assert.Equal(ParseError.Runt, e);
        Assert.Equal(new FlowKeyBuilder().InPort(9).DlVlan(0xFFFF).TunId(5).Key, k);
        Assert.Equal((PacketLayers.Absent, PacketLayers.Absent, PacketLayers.Absent, LayerFlags.None), (l.Vlan, l.L3, l.L4, l.Flags));
    }

    [Fact]
    public void BareEthernetHeader()
    {
        Expect(Dst + Src + "0800", ParseError.IpTruncated, EthKey(0x0800));
        Expect(Dst + Src + "0806", ParseError.ArpTruncated, EthKey(0x0806));
        Expect(Dst + Src + "86dd", ParseError.Ipv6Truncated, EthKey(0x86DD));
    }

    [Theory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    public void VlanTagCutOff(int n)
    {
        byte[] f = Frames.Hex(Dst + Src + "8100 2005 0800").AsSpan(0, n).ToArray();
        Expect(f, ParseError.VlanTruncated, EthKey(0x8100));
    }

    [Fact]
    public void VlanTagWithNothingAfter()
    {
        Expect(Dst + Src + "8100 a07b 0800", ParseError.IpTruncated, EthKey(0x0800).DlVlan(0x07B).DlVlanPcp(5), vlan: 12);
        Expect(Dst + Src + "8100 f000 1234", ParseError.None, EthKey(0x1234).DlVlan(0).DlVlanPcp(7), vlan: 12);
    }

    [Fact]
    public void Llc8023()
    {
        // STP BPDU: 802.3 length, LLC 42 42 03.
        Expect(Dst + Src + "0026 424203 0000000000", ParseError.None, EthKey(0x05FF));
        // 0x05FF itself and 0x0000 are lengths too; 0x0600 is the first ethertype.
        Expect(Dst + Src + "05ff 424203", ParseError.None, EthKey(0x05FF));
        Expect(Dst + Src + "0000 424203", ParseError.None, EthKey(0x05FF));
        Expect(Dst + Src + "0600 424203", ParseError.None, EthKey(0x0600));
    }

    [Theory]
    [InlineData("")]
    [InlineData("42")]
    [InlineData("4242")]
    public void LlcCutOff(string llc) => Expect(Dst + Src + "0010" + llc, ParseError.LlcTruncated, EthKey(0x05FF));

    [Fact]
    public void Snap()
    {
        // SNAP, OUI 0: the SNAP type is dl_type and the network header follows it.
        Expect(Dst + Src + "0030 aaaa03 000000 0800 45100020 0000 0000 4011 0000" + Ip + "0035 0035 000c 0000 00000000",
            ParseError.None, EthKey(0x0800).NwTos(0x10).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(53).TpDst(53),
            l3: 22, l4: 42, flags: LayerFlags.Ipv4 | LayerFlags.Udp);
        // SNAP with a non-zero OUI, and SNAP carrying a length: not an ethertype.
        Expect(Dst + Src + "0030 aaaa03 00000c 2000 0000", ParseError.None, EthKey(0x05FF));
        Expect(Dst + Src + "0030 aaaa03 000000 05dc 0000", ParseError.None, EthKey(0x05FF));
        // SNAP cut inside the OUI/type.
        Expect(Dst + Src + "0030 aaaa03 0000", ParseError.LlcTruncated, EthKey(0x05FF));
        Expect(Dst + Src + "0030 aaaa03 000000 08", ParseError.LlcTruncated, EthKey(0x05FF));
        // VLAN, then SNAP, then ARP.
        Expect(Dst + Src + "8100 0064 0030 aaaa03 000000 0806 0001 0800 06 04 0002" + Src + "0a000001" + Dst + "0a000002",
            ParseError.None, EthKey(0x0806).DlVlan(100).NwProto(2).NwSrc(0x0A000001).NwDst(0x0A000002).ArpSha(SrcMac).ArpTha(DstMac),
            vlan: 12, l3: 26, flags: LayerFlags.Arp);
    }

    [Fact]
    public void Ipv4HeaderLengthBelowFive()
    {
        for (int ihl = 0; ihl < 5; ihl++)
        {
            Expect(Dst + Src + $"0800 4{ihl:x}000028 0000 0000 4006 0000" + Ip + "0001 0002 00000000 00000000 5000 0000 0000 0000",
                ParseError.IpBadHeader, EthKey(0x0800));
        }
    }

    [Fact]
    public void Ipv4VersionNotFour()
        => Expect(Dst + Src + "0800 65000028 0000 0000 4006 0000" + Ip + "0001 0002 00000000 00000000 5000 0000 0000 0000",
            ParseError.IpBadHeader, EthKey(0x0800));

    [Fact]
    public void Ipv4WithOptions()
    {
        // IHL 7: 8 bytes of options (NOP NOP, then a 6-byte option); UDP right after them.
        Expect(Dst + Src + "0800 47fe0024 0000 0000 4011 0000" + Ip + "0101 8806 00000000" + "1f90 0050 0008 0000",
            ParseError.None, EthKey(0x0800).NwTos(0xFC).IpEcn(2).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(8080).TpDst(80),
            l3: 14, l4: 42, flags: LayerFlags.Ipv4 | LayerFlags.Udp);
        // IHL 15 (60 bytes) with the frame ending inside the options.
        Expect(Dst + Src + "0800 4f000040 0000 0000 4011 0000" + Ip + "01010101",
            ParseError.IpTruncated, EthKey(0x0800));
    }

    [Fact]
    public void TotalLengthLies()
    {
        string hdr = "0000 0000 4006 0000" + Ip;
        string tcp = "0001 0002 00000000 00000000 5002 0000 0000 0000";
        var key = EthKey(0x0800).NwProto(6).NwSrc(0x0A000001).NwDst(0x0A000002);
        // Bigger than the frame (40 bytes available).
        Expect(Dst + Src + "0800 45000029" + hdr + tcp, ParseError.IpBadLength, key, l3: 14, flags: LayerFlags.Ipv4);
        Expect(Dst + Src + "0800 4500ffff" + hdr + tcp, ParseError.IpBadLength, key, l3: 14, flags: LayerFlags.Ipv4);
        // Smaller than the header.
        Expect(Dst + Src + "0800 45000013" + hdr + tcp, ParseError.IpBadLength, key, l3: 14, flags: LayerFlags.Ipv4);
        Expect(Dst + Src + "0800 45000000" + hdr + tcp, ParseError.IpBadLength, key, l3: 14, flags: LayerFlags.Ipv4);
        // Covers the header but not a whole TCP header: L4 cut by the total length.
        Expect(Dst + Src + "0800 45000027" + hdr + tcp, ParseError.L4Truncated, key, l3: 14, flags: LayerFlags.Ipv4);
        // Exactly right.
        Expect(Dst + Src + "0800 45000028" + hdr + tcp, ParseError.None, key.TpSrc(1).TpDst(2), l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Tcp);
    }

    [Fact]
    public void TrailingEthernetPadding()
    {
        // A 60-byte minimum frame: 28-byte UDP datagram plus 18 bytes of padding (which look like garbage).
        string f = Dst + Src + "0800 4500001c 0000 0000 4011 0000" + Ip + "0007 0009 0008 0000" + new string('e', 36);
        Assert.Equal(60, Frames.Hex(f).Length);
        Expect(f, ParseError.None, EthKey(0x0800).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(7).TpDst(9),
            l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Udp);
        // ICMP echo in a padded frame.
        Expect(Dst + Src + "0800 4500001c 0000 0000 4001 0000" + Ip + "0800 f7ff 0000 0000" + new string('0', 36),
            ParseError.None, EthKey(0x0800).NwProto(1).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(8).TpDst(0),
            l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Icmp);
    }

    [Theory]
    [InlineData("2000", false)]   // first: MF, offset 0
    [InlineData("2001", true)]    // middle
    [InlineData("0001", true)]    // last
    [InlineData("3fff", true)]
    [InlineData("1fff", true)]
    public void Fragments(string fragWord, bool later)
    {
        string f = Dst + Src + $"0800 45000030 0000 {fragWord} 4006 0000" + Ip + "0050 0051 00000000 00000000 5000 0000 0000 0000 0102030405060708";
        var key = EthKey(0x0800).NwProto(6).NwSrc(0x0A000001).NwDst(0x0A000002);
        var flags = LayerFlags.Ipv4 | LayerFlags.Fragment;
        if (later)
            Expect(f, ParseError.None, key.NwFrag(FlowKey.NwFragAny | FlowKey.NwFragLater), l3: 14, flags: flags | LayerFlags.LaterFragment);
        else
            Expect(f, ParseError.None, key.NwFrag(FlowKey.NwFragAny), l3: 14, l4: 34, flags: flags | LayerFlags.Tcp); // FRAG_NORMAL: ports 0
    }

    [Fact]
    public void FirstIcmpFragmentHasTypeAndCodeZero()
        => Expect(Dst + Src + "0800 45000030 0000 2000 4001 0000" + Ip + "0800 f7ff 0000 0000" + new string('0', 40),
            ParseError.None, EthKey(0x0800).NwProto(1).NwSrc(0x0A000001).NwDst(0x0A000002).NwFrag(FlowKey.NwFragAny),
            l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Fragment | LayerFlags.Icmp);

    [Fact]
    public void DontFragmentIsNotAFragment()
        => Expect(Dst + Src + "0800 4500001c 0000 4000 4011 0000" + Ip + "0007 0009 0008 0000",
            ParseError.None, EthKey(0x0800).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(7).TpDst(9),
            l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Udp);

    [Fact]
    public void LaterFragmentTooShortForAnyL4IsFine()
        => Expect(Dst + Src + "0800 45000015 0000 00b9 4011 0000" + Ip + "ff",
            ParseError.None, EthKey(0x0800).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).NwFrag(FlowKey.NwFragAny | FlowKey.NwFragLater),
            l3: 14, flags: LayerFlags.Ipv4 | LayerFlags.Fragment | LayerFlags.LaterFragment);

    [Theory]
    [InlineData(6, 19)]
    [InlineData(17, 7)]
    [InlineData(1, 3)]
    [InlineData(6, 0)]
    public void L4Truncated(byte proto, int l4Bytes)
    {
        byte[] f = Frames.Hex(Dst + Src + $"0800 4500{20 + l4Bytes:x4} 0000 0000 40{proto:x2} 0000" + Ip + new string('1', 2 * l4Bytes));
        Expect(f, ParseError.L4Truncated, EthKey(0x0800).NwProto(proto).NwSrc(0x0A000001).NwDst(0x0A000002), l3: 14, flags: LayerFlags.Ipv4);
    }

    [Fact]
    public void FirstFragmentWithCutL4()
        => Expect(Dst + Src + "0800 45000018 0000 2000 4006 0000" + Ip + "00500051",
            ParseError.L4Truncated, EthKey(0x0800).NwProto(6).NwSrc(0x0A000001).NwDst(0x0A000002).NwFrag(FlowKey.NwFragAny),
            l3: 14, flags: LayerFlags.Ipv4 | LayerFlags.Fragment);

    [Fact]
    public void MinimalL4Headers()
    {
        // ICMP needs only type, code and checksum (4 bytes), as the OF1.0 reference switch.
        Expect(Dst + Src + "0800 45000018 0000 0000 4001 0000" + Ip + "0303 fcfc",
            ParseError.None, EthKey(0x0800).NwProto(1).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(3).TpDst(3),
            l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Icmp);
        Expect(Dst + Src + "0800 4500001c 0000 0000 4011 0000" + Ip + "ffff fffe 0008 0000",
            ParseError.None, EthKey(0x0800).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(65535).TpDst(65534),
            l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Udp);
    }

    [Fact]
    public void OtherIpProtocolsHaveNoL4()
        => Expect(Dst + Src + "0800 4500001c 0000 0000 402f 0000" + Ip + "00000800 00000000",
            ParseError.None, EthKey(0x0800).NwProto(47).NwSrc(0x0A000001).NwDst(0x0A000002), l3: 14, flags: LayerFlags.Ipv4);

    [Fact]
    public void TosKeepsOnlyDscp()
        => Expect(Dst + Src + "0800 45ff0014 0000 0000 4000 0000" + Ip,
            ParseError.None, EthKey(0x0800).NwTos(0xFC).IpEcn(3).NwSrc(0x0A000001).NwDst(0x0A000002), l3: 14, flags: LayerFlags.Ipv4);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(0xFF)]
    [InlineData(0x100)]
    [InlineData(0xFFFF)]
    public void Arp(int op)
    {
        string f = Dst + Src + $"0806 0001 0800 06 04 {op:x4}" + Src + "c0a80001" + "000000000000" + "c0a800fe" + new string('0', 36);
        Expect(f, ParseError.None, EthKey(0x0806).NwProto((byte)(op <= 0xFF ? op : 0)).NwSrc(0xC0A80001).NwDst(0xC0A800FE).ArpSha(SrcMac),
            l3: 14, flags: LayerFlags.Arp);
    }

    [Fact]
    public void ArpNotEthernetIpv4OrCut()
    {
        string body = "0001" + Src + "c0a80001" + "000000000000" + "c0a800fe";
        Expect(Dst + Src + "0806 0006 0800 06 04" + body, ParseError.ArpTruncated, EthKey(0x0806));      // htype 6
        Expect(Dst + Src + "0806 0001 86dd 06 04" + body, ParseError.ArpTruncated, EthKey(0x0806));      // ptype IPv6
        Expect(Dst + Src + "0806 0001 0800 08 04" + body, ParseError.ArpTruncated, EthKey(0x0806));      // hlen 8
        Expect(Dst + Src + "0806 0001 0800 06 10" + body, ParseError.ArpTruncated, EthKey(0x0806));      // plen 16
        Expect(Dst + Src + "0806 0001 0800 06 04" + body[..^2], ParseError.ArpTruncated, EthKey(0x0806)); // 27 bytes
    }

    [Theory]
    [InlineData(0x88CC)]
    [InlineData(0x0801)]
    [InlineData(0xFFFF)]
    public void NonIpEthertypes(int type)
        => Expect(Dst + Src + $"{type:x4}" + new string('4', 92), ParseError.None, EthKey((ushort)type));

    [Fact]
    public void VlanIpv4Tcp()
    {
        byte[] f = Frames.Build(new FrameSpec { VlanTci = 0x6ABC, Tos = 0x2E, NwSrc = 0xC0A80101, NwDst = 0x08080808, TpSrc = 443, TpDst = 51000, DlSrc = SrcMac.Value, DlDst = DstMac.Value });
        Expect(f, ParseError.None,
            EthKey(0x0800).DlVlan(0xABC).DlVlanPcp(3).NwTos(0x2C).IpEcn(2).NwProto(6).NwSrc(0xC0A80101).NwDst(0x08080808).TpSrc(443).TpDst(51000),
            vlan: 12, l3: 18, l4: 38, flags: LayerFlags.Ipv4 | LayerFlags.Tcp);
    }

    [Fact]
    public void DoubleTagKeyHasTheOuterTagAndTheInnerTpidAsType()
        => Expect(Dst + Src + "8100 0064 8100 00c8 0800 45000014 0000 0000 4000 0000" + Ip,
            ParseError.None, EthKey(0x8100).DlVlan(100), vlan: 12);

    [Fact]
    public void TunnelIdAndInPortAreCarried()
    {
        PacketParser.Parse(Frames.Build(new FrameSpec()), 0xFFFE, out var k, out _, tunId: 0x0102030405060708);
        Assert.Equal((ushort)0xFFFE, k.InPort);
        Assert.Equal(0x0102030405060708UL, k.TunId);
        PacketParser.Parse(Frames.Build(new FrameSpec()), 0, out k, out _);
        Assert.Equal(0UL, k.TunId);
    }

    [Fact]
    public void ParseDoesNotReadPastTheSpan()
    {
        // A valid frame inside a bigger buffer: parsing a prefix must behave exactly as parsing a copy of it.
        byte[] big = Frames.Build(new FrameSpec { PayloadSize = 100, VlanTci = 3 });
        for (int n = 0; n <= big.Length; n++)
        {
            var e1 = PacketParser.Parse(big.AsSpan(0, n), 1, out var k1, out var l1);
            var e2 = PacketParser.Parse(big.AsSpan(0, n).ToArray(), 1, out var k2, out var l2);
            Assert.Equal((e1, k1, l1), (e2, k2, l2));
        }
    }

    [Fact]
    public void ParseCountersCountEachError()
    {
        var c = new ParseCounters();
        c.Count(PacketParser.Parse(new byte[3], 0, out _, out _));
        c.Count(PacketParser.Parse(new byte[3], 0, out _, out _));
        c.Count(PacketParser.Parse(Frames.Build(new FrameSpec()), 0, out _, out _));
        Assert.Equal(2, c[ParseError.Runt]);
        Assert.Equal(1, c[ParseError.None]);
        var totals = new long[(int)ParseError.Count];
        c.AddTo(totals);
        Assert.Equal(3, totals.Sum());
    }

    [Fact]
    public void ParseAllocatesNothing()
    {
        byte[][] frames = [Frames.Build(new FrameSpec()), Frames.Build(new FrameSpec { Proto = 17, VlanTci = 5 }), Frames.Arp(1, 1, 2, 3, 4), new byte[5]];
        long sink = 0;
        for (int i = 0; i < 1000; i++) foreach (var f in frames) sink += (long)PacketParser.Parse(f, 1, out _, out _);
        long allocated = AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 10_000; i++)
                foreach (var f in frames) sink += (long)PacketParser.Parse(f, 1, out var k, out _) + k.TpSrc;
        });
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);
    }
}
