using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;
using static Softswitch.Datapath.Packets.PacketParser;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The OpenFlow 1.3 fields of the parser: 802.1ad/QinQ, PBB, MPLS, IPv6 with its extension headers, ICMPv6 and
/// neighbour discovery, IPv4 ECN and SCTP, ARP hardware addresses. Golden parses with the whole expected key and
/// layers; every cut of every header gives its reason; the OFPIEH_* flags for the orders RFC 2460 prefers and for
/// repeats and misorders; random bytes never throw nor report layers outside the frame.
/// </summary>
public class ParserOf13Tests
{
    private const string Dst = "1a2b3c4d5e6f", Src = "020000000001";
    private static readonly MacAddress DstMac = MacAddress.Parse("1a:2b:3c:4d:5e:6f"), SrcMac = MacAddress.Parse("02:00:00:00:00:01");
    private const string Ip = "0a000001 0a000002";
    private const string Ip6Src = "20010db8000000000000000000000001", Ip6Dst = "20010db8000000000000000000000002";
    private static readonly UInt128 Ip6SrcVal = new(0x20010db800000000, 1), Ip6DstVal = new(0x20010db800000000, 2);
    private const string MacA = "0a0b0c0d0e0f", MacB = "0e0d0c0b0a09";
    private static readonly MacAddress MacAVal = MacAddress.Parse("0a:0b:0c:0d:0e:0f"), MacBVal = MacAddress.Parse("0e:0d:0c:0b:0a:09");

    private static FlowKeyBuilder EthKey(ushort dlType) => new FlowKeyBuilder().InPort(1).DlSrc(SrcMac).DlDst(DstMac).DlType(dlType);
    private static FlowKeyBuilder Ip6Key(byte proto) => EthKey(0x86DD).NwProto(proto).Ipv6Src(Ip6SrcVal).Ipv6Dst(Ip6DstVal);

    private static PacketLayers L(ushort vlan = PacketLayers.Absent, ushort pbb = PacketLayers.Absent, ushort ethType = 12,
        ushort mpls = PacketLayers.Absent, ushort l3 = PacketLayers.Absent, ushort l4 = PacketLayers.Absent,
        LayerFlags flags = LayerFlags.None, byte depth = 0)
        => new() { Vlan = vlan, Pbb = pbb, EthType = ethType, Mpls = mpls, L3 = l3, L4 = l4, Flags = flags, MplsDepth = depth };

    private static void Expect(string hex, ParseError error, FlowKeyBuilder key, PacketLayers layers)
    {
        byte[] f = Frames.Hex(hex);
        var e = PacketParser.Parse(f, 1, out var k, out var l);
        Assert.Equal(error, e);
        Assert.Equal(key.Key.ToString(), k.ToString());
        var want = key.Key;
        Assert.Equal(Convert.ToHexString(want.Bytes), Convert.ToHexString(k.Bytes));
        Assert.Equal(layers, l);
        ParserFuzzTests.CheckLayers(f, e, k, l);
    }

    /// <summary>An IPv6 header from <see cref="Ip6Src"/> to <see cref="Ip6Dst"/> (traffic class 0, flow label 0).</summary>
    private static string Ip6(int payloadLen, byte next, string vcf = "60000000") => $"86dd {vcf} {payloadLen:x4} {next:x2} 40 {Ip6Src} {Ip6Dst}";

    // ---- Golden parses --------------------------------------------------------------------------------------

    [Fact]
    public void Ipv4EcnAndSctpPorts()
        => Expect(Dst + Src + "0800 4507 0020 0000 0000 4084 0000" + Ip + "0b59 0b5a 00000000 00000000",
            ParseError.None, EthKey(0x0800).NwTos(0x04).IpEcn(3).NwProto(132).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(2905).TpDst(2906),
            L(l3: 14, l4: 34, flags: LayerFlags.Ipv4 | LayerFlags.Sctp));

    [Fact]
    public void Ipv4SctpCutBelowItsCommonHeader()
        => Expect(Dst + Src + "0800 4500 001f 0000 0000 4084 0000" + Ip + "0b59 0b5a 00000000 000000",
            ParseError.L4Truncated, EthKey(0x0800).NwProto(132).NwSrc(0x0A000001).NwDst(0x0A000002), L(l3: 14, flags: LayerFlags.Ipv4));

    [Fact]
    public void IpV4KeyHasNoExtensionWords()
    {
        PacketParser.Parse(Frames.Build(new FrameSpec { VlanTci = 7 }), 1, out var k, out _);
        Assert.Equal(0, k.ExtMap);
        for (int i = FlowKey.BaseWords; i < FlowKey.Words; i++) Assert.Equal(0UL, k.AllWords[i]);
    }

    [Fact]
    public void ArpHardwareAddresses()
    {
        // A request (THA zero: only the SHA word is non-zero) and a reply.
        Expect(Dst + Src + "0806 0001 0800 06 04 0001" + MacA + "c0a80001" + "000000000000" + "c0a800fe",
            ParseError.None, EthKey(0x0806).NwProto(1).NwSrc(0xC0A80001).NwDst(0xC0A800FE).ArpSha(MacAVal),
            L(l3: 14, flags: LayerFlags.Arp));
        Expect(Dst + Src + "0806 0001 0800 06 04 0002" + MacA + "c0a80001" + MacB + "c0a800fe",
            ParseError.None, EthKey(0x0806).NwProto(2).NwSrc(0xC0A80001).NwDst(0xC0A800FE).ArpSha(MacAVal).ArpTha(MacBVal),
            L(l3: 14, flags: LayerFlags.Arp));
    }

    [Fact]
    public void ServiceTagThenCustomerTagMatchesTheCustomerTpid()
        // One tag is matched (OpenFlow 1.0 and 1.3, Open vSwitch's vlan-limit 1): the S-tag's fields, dl_type 0x8100.
        => Expect(Dst + Src + "88a8 a064 8100 00c8 0800 4500001c 0000 0000 4011 0000" + Ip + "0007 0009 0008 0000",
            ParseError.None, EthKey(0x8100).DlVlan(100).DlVlanPcp(5), L(vlan: 12, ethType: 16, flags: LayerFlags.ServiceTag));

    [Fact]
    public void ServiceTagThenIpv4()
        => Expect(Dst + Src + "88a8 a064 0800 4500001c 0000 0000 4011 0000" + Ip + "0007 0009 0008 0000",
            ParseError.None, EthKey(0x0800).DlVlan(100).DlVlanPcp(5).NwProto(17).NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(7).TpDst(9),
            L(vlan: 12, ethType: 16, l3: 18, l4: 38, flags: LayerFlags.ServiceTag | LayerFlags.Ipv4 | LayerFlags.Udp));

    [Fact]
    public void ServiceTagAlone()
        => Expect(Dst + Src + "88a8 2005 1234 0000",
            ParseError.None, EthKey(0x1234).DlVlan(5).DlVlanPcp(1), L(vlan: 12, ethType: 16, flags: LayerFlags.ServiceTag));

    [Fact]
    public void QinQThreeTagsKeyHoldsTheOuterAndTheSecondTpid()
        => Expect(Dst + Src + "8100 0064 88a8 00c8 8100 012c 0806 0001 0800 06 04 0002" + MacA + "0a000001" + MacB + "0a000002",
            ParseError.None, EthKey(0x88A8).DlVlan(100), L(vlan: 12, ethType: 16));

    [Fact]
    public void PbbIsidAndOuterView()
        => Expect(Dst + Src + "88a8 0064 88e7 60abcdef" + MacA + MacB + "0800 45000014 0000 0000 4000 0000" + Ip,
            ParseError.None, EthKey(0x88E7).DlVlan(100).PbbIsid(0xABCDEF),
            L(vlan: 12, pbb: 16, ethType: 34, flags: LayerFlags.ServiceTag | LayerFlags.Pbb));

    [Fact]
    public void MplsTopLabelAndDepth()
    {
        // Label 1000, TC 5, not bottom; label 16, bottom; then IPv4 (not parsed).
        Expect(Dst + Src + "8847 003e8a40 00010140 45000014 0000 0000 4000 0000" + Ip,
            ParseError.None, EthKey(0x8847).MplsLabel(1000).MplsTc(5), L(mpls: 14, flags: LayerFlags.Mpls, depth: 2));
        // Multicast MPLS, a single entry with label 0: only the bottom-of-stack bit is non-zero.
        Expect(Dst + Src + "8100 0003 8848 000001ff",
            ParseError.None, EthKey(0x8848).DlVlan(3).MplsBos(1), L(vlan: 12, ethType: 16, mpls: 18, flags: LayerFlags.Mpls, depth: 1));
    }

    [Fact]
    public void MplsStackDeeperThanCountedStopsAtTheLimit()
    {
        var sb = new System.Text.StringBuilder(Dst + Src + "8847");
        for (int i = 0; i < MaxMplsDepth + 3; i++) sb.Append("00001040");
        Expect(sb.ToString(), ParseError.None, EthKey(0x8847).MplsLabel(1), L(mpls: 14, flags: LayerFlags.Mpls, depth: MaxMplsDepth));
    }

    [Fact]
    public void Ipv6TcpWithTrafficClassAndFlowLabel()
        => Expect(Dst + Src + Ip6(20, 6, "6b912345") + "04d2 0050 00000000 00000000 5002 0000 0000 0000",
            ParseError.None, Ip6Key(6).NwTos(0xB8).IpEcn(1).Ipv6Flabel(0x12345).TpSrc(1234).TpDst(80),
            L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Tcp));

    [Fact]
    public void Ipv6UdpAfterHopByHop_PaddingIgnored()
        => Expect(Dst + Src + Ip6(16, 0) + "11 00 0104 00000000" + "0222 0223 0008 0000" + "eeeeeeee",
            ParseError.None, Ip6Key(17).TpSrc(546).TpDst(547).Ipv6ExtHdr(IehHop),
            L(l3: 14, l4: 62, flags: LayerFlags.Ipv6 | LayerFlags.Udp));

    [Fact]
    public void Ipv6SctpAndIcmpv6Echo()
    {
        Expect(Dst + Src + Ip6(12, 132) + "0b59 0b5a 00000000 00000000",
            ParseError.None, Ip6Key(132).TpSrc(2905).TpDst(2906), L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Sctp));
        Expect(Dst + Src + Ip6(8, 58) + "8000 0000 0001 0002",
            ParseError.None, Ip6Key(58).TpSrc(128), L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Icmpv6));
    }

    [Fact]
    public void NeighbourSolicitationTakesTheSourceLinkLayerOption()
        // SLL then a TLL option (not a solicitation's field: skipped).
        => Expect(Dst + Src + Ip6(40, 58) + "8700 0000 00000000" + Ip6Dst + "0101" + MacA + "0201" + MacB,
            ParseError.None, Ip6Key(58).TpSrc(135).NdTarget(Ip6DstVal).ArpSha(MacAVal),
            L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Icmpv6));

    [Fact]
    public void NeighbourAdvertisementTakesTheTargetLinkLayerOption()
        => Expect(Dst + Src + Ip6(32, 58) + "8800 0000 e0000000" + Ip6Src + "0201" + MacB,
            ParseError.None, Ip6Key(58).TpSrc(136).NdTarget(Ip6SrcVal).ArpTha(MacBVal),
            L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Icmpv6));

    [Theory]
    [InlineData("0100 0000 00000000", false)]     // zero-length option
    [InlineData("0102" + MacA, false)]            // claims 16 bytes, 8 left
    [InlineData("01", false)]                     // a lone byte
    [InlineData("0101" + MacA + "0101" + MacB, true)] // the source link-layer address twice
    public void NeighbourDiscoveryBadOptions(string options, bool firstKept)
    {
        int len = 24 + Frames.Hex(options).Length;
        var key = Ip6Key(58).TpSrc(135).NdTarget(Ip6DstVal);
        if (firstKept) key = key.ArpSha(MacAVal);
        Expect(Dst + Src + Ip6(len, 58) + "8700 0000 00000000" + Ip6Dst + options, ParseError.NdBadOption, key,
            L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Icmpv6));
    }

    [Fact]
    public void NeighbourDiscoveryWithNonZeroCodeIsPlainIcmpv6()
        => Expect(Dst + Src + Ip6(24, 58) + "8701 0000 00000000" + Ip6Dst,
            ParseError.None, Ip6Key(58).TpSrc(135).TpDst(1), L(l3: 14, l4: 54, flags: LayerFlags.Ipv6 | LayerFlags.Icmpv6));

    [Fact]
    public void Ipv6Fragments()
    {
        // First fragment (offset 0, M set): L4 kept for the actions, ports 0 as IPv4 fragments.
        Expect(Dst + Src + Ip6(20, 44) + "11 00 0001 12345678" + "0222 0223 0010 0000 abababab",
            ParseError.None, Ip6Key(17).Ipv6ExtHdr(IehFrag).NwFrag(FlowKey.NwFragAny), L(l3: 14, l4: 62, flags: LayerFlags.Ipv6 | LayerFlags.Fragment | LayerFlags.Udp));
        // A later fragment: no L4, nw_proto from the fragment header.
        Expect(Dst + Src + Ip6(12, 44) + "11 00 00b8 12345678" + "abababab",
            ParseError.None, Ip6Key(17).Ipv6ExtHdr(IehFrag).NwFrag(FlowKey.NwFragAny | FlowKey.NwFragLater),
            L(l3: 14, flags: LayerFlags.Ipv6 | LayerFlags.Fragment | LayerFlags.LaterFragment));
        // An ICMPv6 first fragment: type and code 0 (ND is never fragmented, so nothing is taken from it).
        Expect(Dst + Src + Ip6(32, 44) + "3a 00 0001 12345678" + "8700 0000 00000000" + Ip6Dst,
            ParseError.None, Ip6Key(58).Ipv6ExtHdr(IehFrag).NwFrag(FlowKey.NwFragAny), L(l3: 14, l4: 62, flags: LayerFlags.Ipv6 | LayerFlags.Fragment | LayerFlags.Icmpv6));
    }

    [Fact]
    public void Ipv6BadVersionAndLength()
    {
        Expect(Dst + Src + Ip6(0, 59, "40000000"), ParseError.Ipv6BadHeader, EthKey(0x86DD), L());
        Expect(Dst + Src + Ip6(9, 17) + "0222 0223 0008 0000", ParseError.Ipv6BadLength, Ip6Key(17), L(l3: 14, flags: LayerFlags.Ipv6));
        // Ethernet padding after the payload is not the payload.
        Expect(Dst + Src + Ip6(0, 59) + "000000000000", ParseError.None, Ip6Key(59).Ipv6ExtHdr(IehNoNext), L(l3: 14, flags: LayerFlags.Ipv6));
    }

    // ---- The extension header flags ------------------------------------------------------------------------

    private static readonly Dictionary<string, (byte Next, string Body)> ExtHeaders = new()
    {
        ["hop"] = (NextHop, "00 0104 00000000"),              // 8 bytes (next header written by the builder)
        ["dest"] = (NextDest, "00 0104 00000000"),
        ["route"] = (NextRouting, "00 0000 00000000"),
        ["frag"] = (NextFragment, "00 0000 00000001"),         // offset 0, M clear: an atomic fragment
        ["auth"] = (NextAuth, "01 0000 00000001 00000001"),    // AH length 1: (1 + 2) * 4 = 12 bytes
    };

    /// <summary>An IPv6 frame with the named extension headers in order, then UDP (or ESP / no next header when named last).</summary>
    internal static byte[] WithExtHeaders(params string[] names)
    {
        var parts = new List<byte[]>();
        byte first = 17;
        byte[]? prev = null;
        foreach (var n in names)
        {
            byte next = n switch { "esp" => NextEsp, "none" => NextNone, _ => ExtHeaders[n].Next };
            if (prev is null) first = next; else prev[0] = next;
            if (n == "esp") { parts.Add(Frames.Hex("00000001 00000001 abcdabcd")); prev = null; break; }
            if (n == "none") { prev = null; break; }
            prev = Frames.Hex("11" + ExtHeaders[n].Body);
            parts.Add(prev);
        }
        if (names.Length == 0 || (names[^1] != "esp" && names[^1] != "none")) parts.Add(Frames.Hex("0222 0223 0008 0000"));
        byte[] payload = parts.SelectMany(p => p).ToArray();
        return Frames.Hex(Dst + Src + Ip6(payload.Length, first)).Concat(payload).ToArray();
    }

    [Theory]
    [InlineData("", 0, 17)]
    [InlineData("hop", IehHop, 17)]
    [InlineData("hop dest route frag auth esp", IehHop | IehDest | IehRouter | IehFrag | IehAuth | IehEsp, 50)]
    [InlineData("hop dest route frag auth dest", IehHop | IehDest | IehRouter | IehFrag | IehAuth, 17)]
    [InlineData("dest route dest", IehDest | IehRouter, 17)]
    [InlineData("frag dest", IehFrag | IehDest, 17)]           // the final destination options header
    [InlineData("dest dest", IehDest, 17)]                     // two are expected
    [InlineData("auth none", IehAuth | IehNoNext, 59)]
    [InlineData("none", IehNoNext, 59)]
    [InlineData("esp", IehEsp, 50)]
    [InlineData("dest dest dest", IehDest | IehUnrep, 17)]      // a third one
    [InlineData("route route", IehRouter | IehUnrep, 17)]
    [InlineData("auth auth", IehAuth | IehUnrep, 17)]
    [InlineData("frag frag", IehFrag | IehUnrep, 17)]
    [InlineData("hop hop", IehHop | IehUnrep | IehUnseq, 17)]   // hop-by-hop only first
    [InlineData("route hop", IehRouter | IehHop | IehUnseq, 17)]
    [InlineData("frag route", IehFrag | IehRouter | IehUnseq, 17)]
    [InlineData("auth frag", IehAuth | IehFrag | IehUnseq, 17)]
    [InlineData("frag dest route", IehFrag | IehDest | IehRouter | IehUnseq, 17)] // routing after the final dest
    [InlineData("dest dest route", IehDest | IehRouter | IehUnseq, 17)]
    [InlineData("dest dest dest route", IehDest | IehRouter | IehUnrep | IehUnseq, 17)]
    public void ExtensionHeaderFlags(string order, int flags, byte proto)
    {
        string[] names = order.Length == 0 ? [] : order.Split(' ');
        byte[] f = WithExtHeaders(names);
        var e = PacketParser.Parse(f, 1, out var k, out var l);
        Assert.Equal(ParseError.None, e);
        Assert.Equal((ushort)flags, k.Ipv6ExtHdr);
        Assert.Equal(proto, k.NwProto);
        Assert.Equal(proto == 17, l.Has(LayerFlags.Udp));
        Assert.Equal(names.Contains("frag"), l.Has(LayerFlags.Fragment));
        if (proto == 17 && !names.Contains("frag")) Assert.Equal((546, 547), (k.TpSrc, k.TpDst));
        if (proto == 17) Assert.Equal(f.Length - 8, (int)l.L4);
        ParserFuzzTests.CheckLayers(f, e, k, l);
    }

    // ---- Every cut of every header -------------------------------------------------------------------------

    /// <summary>A run of bytes and the reason a frame cut inside it gives (and when cut right before it).</summary>
    private sealed record Seg(string Hex, ParseError Inside, ParseError AtStart);

    private static Seg S(string hex, ParseError e) => new(hex, e, e);
    private static Seg Opt(string hex, ParseError inside) => new(hex, inside, ParseError.None);
    private static Seg Data(string hex) => new(hex, ParseError.None, ParseError.None);

    /// <summary>Frames as runs of bytes; <c>LenField</c>/<c>LenBase</c>: the IPv4/IPv6 length field rewritten to the cut (a header cut by its own length, not the frame's).</summary>
    private static readonly Dictionary<string, (Seg[] Segs, int LenField, int LenBase)> CutFrames = new()
    {
        ["stag-ipv4-udp"] = ([S(Dst + Src + "88a8", ParseError.Runt), S("a064 0800", ParseError.ServiceTagTruncated),
            S("4500001c 0000 0000 4011 0000" + Ip, ParseError.IpTruncated), S("0007 0009 0008 0000", ParseError.L4Truncated),
            Data("01020304")], 20, 18),
        // The inner tag ends the parse: nothing after its TPID can be cut short.
        ["qinq"] = ([S(Dst + Src + "8100", ParseError.Runt), S("0064 8100", ParseError.VlanTruncated),
            Data("00c8 88a8 0001 1234 00000000")], -1, 0),
        ["ipv4-sctp"] = ([S(Dst + Src + "0800", ParseError.Runt), S("45000020 0000 0000 4084 0000" + Ip, ParseError.IpTruncated),
            S("0b59 0b5a 00000000 00000000", ParseError.L4Truncated), Data("0000")], 16, 14),
        ["pbb"] = ([S(Dst + Src + "88e7", ParseError.Runt), S("00abcdef" + MacA + MacB + "0800", ParseError.PbbTruncated),
            Data("45000014 0000 0000 4000 0000" + Ip)], -1, 0),
        ["mpls"] = ([S(Dst + Src + "8847", ParseError.Runt), S("003e8a40", ParseError.MplsTruncated), S("00000040", ParseError.MplsTruncated),
            S("00010140", ParseError.MplsTruncated), Data("45000014 0000 0000 4000 0000" + Ip)], -1, 0),
        ["ipv6-exts-tcp"] = ([S(Dst + Src + "86dd", ParseError.Runt), S(Ip6(0, 0)[4..], ParseError.Ipv6Truncated),
            S("3c 00 0104 00000000", ParseError.Ipv6ExtTruncated), S("2b 00 0104 00000000", ParseError.Ipv6ExtTruncated),
            S("2c 00 0000 00000000", ParseError.Ipv6ExtTruncated), S("33 00 0000 00000001", ParseError.Ipv6ExtTruncated),
            S("3c 01 0000 00000001 00000001", ParseError.Ipv6ExtTruncated), S("06 01 0000 00000000 00000000 00000000", ParseError.Ipv6ExtTruncated),
            S("04d2 0050 00000000 00000000 5002 0000 0000 0000", ParseError.L4Truncated), Data("abcd")], 18, 54),
        ["ipv6-udp"] = ([S(Dst + Src + "86dd", ParseError.Runt), S(Ip6(0, 17)[4..], ParseError.Ipv6Truncated),
            S("0222 0223 0008 0000", ParseError.L4Truncated), Data("abcdef")], 18, 54),
        ["ipv6-sctp"] = ([S(Dst + Src + "86dd", ParseError.Runt), S(Ip6(0, 132)[4..], ParseError.Ipv6Truncated),
            S("0b59 0b5a 00000000 00000000", ParseError.L4Truncated)], 18, 54),
        ["ipv6-ns"] = ([S(Dst + Src + "86dd", ParseError.Runt), S(Ip6(0, 58)[4..], ParseError.Ipv6Truncated),
            S("8700 0000", ParseError.Icmpv6Truncated), S("00000000" + Ip6Dst, ParseError.NdTruncated),
            Opt("0101" + MacA, ParseError.NdBadOption), Opt("0201" + MacB, ParseError.NdBadOption)], 18, 54),
        ["ipv6-na"] = ([S(Dst + Src + "86dd", ParseError.Runt), S(Ip6(0, 58)[4..], ParseError.Ipv6Truncated),
            S("8800 0000", ParseError.Icmpv6Truncated), S("e0000000" + Ip6Dst, ParseError.NdTruncated),
            Opt("0202" + MacA + "0000 0000 0000 0000", ParseError.NdBadOption)], 18, 54),
    };

    public static TheoryData<string> CutFrameNames() => new(CutFrames.Keys);

    [Theory]
    [MemberData(nameof(CutFrameNames))]
    public void EveryCutGivesItsReason(string name)
    {
        var (segs, lenField, lenBase) = CutFrames[name];
        byte[] full = Frames.Hex(string.Concat(segs.Select(s => s.Hex)));
        for (int n = 0; n <= full.Length; n++)
        {
            ParseError expected = ParseError.None;
            int start = 0;
            foreach (var s in segs)
            {
                int len = Frames.Hex(s.Hex).Length;
                if (n >= start && n < start + len) { expected = n == start ? s.AtStart : s.Inside; break; }
                start += len;
            }
            byte[] f = full.AsSpan(0, n).ToArray();
            // The IPv4 total length / IPv6 payload length follows the cut once the fixed header is whole, so the
            // header cut is the one the reason names (a frame shorter than its length field says is checked below).
            int fixedEnd = lenField < 0 ? 0 : lenBase + (name.StartsWith("ipv6") ? 0 : 20);
            if (lenField >= 0 && n >= fixedEnd) BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(lenField), (ushort)(n - lenBase));
            var e = PacketParser.Parse(f, 1, out var k, out var l);
            Assert.True(expected == e, $"{name} cut at {n}: expected {expected}, got {e}");
            ParserFuzzTests.CheckLayers(f, e, k, l);
        }
    }

    [Theory]
    [InlineData("ipv6-exts-tcp")]
    [InlineData("ipv6-ns")]
    public void Ipv6CutByTheFrameIsBadLength(string name)
    {
        byte[] full = Frames.Hex(string.Concat(CutFrames[name].Segs.Select(s => s.Hex)));
        BinaryPrimitives.WriteUInt16BigEndian(full.AsSpan(18), (ushort)(full.Length - 54));
        Assert.Equal(ParseError.None, PacketParser.Parse(full, 1, out _, out _));
        for (int n = 54; n < full.Length; n++)
        {
            var e = PacketParser.Parse(full.AsSpan(0, n), 1, out var k, out var l);
            Assert.Equal(ParseError.Ipv6BadLength, e);
            Assert.Equal((ushort)0, k.Ipv6ExtHdr);
            ParserFuzzTests.CheckLayers(full.AsSpan(0, n), e, k, l);
        }
    }

    // ---- Random bytes --------------------------------------------------------------------------------------

    private static readonly ushort[] Types = [0x8100, 0x88A8, 0x88E7, 0x8847, 0x8848, 0x86DD, 0x0800, 0x0806];
    private static readonly byte[] Nexts = [0, 6, 17, 43, 44, 50, 51, 58, 59, 60, 132];

    [Fact]
    public void RandomBytesNeverThrowNorReadOutOfRange()
    {
        // Random frames, biased towards the new headers: an interesting ethertype (twice, for tags), and for IPv6
        // version 6 with an interesting next header. Parsing a prefix of a bigger buffer must equal parsing a copy.
        var gen = from len in Gen.Choose(0, 160)
                  from seed in Gen.Choose(int.MinValue, int.MaxValue)
                  from t1 in Gen.Elements(Types)
                  from t2 in Gen.Elements(Types)
                  from next in Gen.Elements(Nexts)
                  from extra in Gen.Choose(0, 16)
                  select (len, seed, t1, t2, next, extra);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var r = new Random(t.seed);
            byte[] big = new byte[t.len + t.extra];
            r.NextBytes(big);
            if (t.len >= 14) BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(12), t.t1);
            if (t.len >= 18 && (t.t1 == 0x8100 || t.t1 == 0x88A8)) BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(16), t.t2);
            int l3 = t.t1 is 0x8100 or 0x88A8 ? 18 : 14;
            if (t.len >= l3 + 7 && (t.t1 == 0x86DD || t.t2 == 0x86DD))
            {
                big[l3] = (byte)(0x60 | (big[l3] & 0x0F));
                big[l3 + 6] = t.next;
                if (r.Next(2) == 0) BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(l3 + 4), (ushort)Math.Max(0, t.len - l3 - 40));
            }
            var e = PacketParser.Parse(big.AsSpan(0, t.len), 1, out var k, out var l);
            ParserFuzzTests.CheckLayers(big.AsSpan(0, t.len), e, k, l);
            var e2 = PacketParser.Parse(big.AsSpan(0, t.len).ToArray(), 1, out var k2, out var l2);
            return e == e2 && k == k2 && l.Equals(l2);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(20000));
    }

    [Fact]
    public void NewKindsAllocateNothing()
    {
        byte[][] frames = [.. CutFrames.Values.Select(v => Frames.Hex(string.Concat(v.Segs.Select(s => s.Hex)))), WithExtHeaders("hop", "dest", "frag")];
        long sink = 0;
        for (int i = 0; i < 1000; i++) foreach (var f in frames) sink += (long)PacketParser.Parse(f, 1, out _, out _);
        long allocated = AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 5_000; i++)
                foreach (var f in frames) sink += (long)PacketParser.Parse(f, 1, out var k, out _) + k.ExtMap;
        });
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);
    }

    /// <summary>The golden frames of this class, as seeds for the fuzzer.</summary>
    internal static IEnumerable<byte[]> SeedFrames()
    {
        foreach (var v in CutFrames.Values) yield return Frames.Hex(string.Concat(v.Segs.Select(s => s.Hex)));
        yield return WithExtHeaders("hop", "dest", "route", "frag", "auth", "dest");
        yield return WithExtHeaders("frag", "esp");
        // Neighbour discovery cut by its payload length, and with a bad option (the frame cuts give neither).
        yield return Frames.Hex(Dst + Src + Ip6(20, 58) + "8700 0000 00000000" + Ip6Dst[..24]);
        yield return Frames.Hex(Dst + Src + Ip6(32, 58) + "8800 0000 00000000" + Ip6Dst + "0200 0000 00000000");
    }
}
