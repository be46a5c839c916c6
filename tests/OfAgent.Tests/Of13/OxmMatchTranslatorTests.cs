using FsCheck;
using FsCheck.Fluent;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>OXM matches to the OpenFlow layer's match and back: prerequisites, bad values, duplicates, and the round trip.</summary>
public sealed class OxmMatchTranslatorTests
{
    private static Ofp13Oxm X(byte field, UInt128 value) => new(field, false, value, AllOnes(field));
    private static Ofp13Oxm M(byte field, UInt128 value, UInt128 mask) => new(field, true, value, mask);

    private static UInt128 AllOnes(byte field) => field switch
    {
        InPort or InPhyPort or Ipv4Src or Ipv4Dst or ArpSpa or ArpTpa => uint.MaxValue,
        Metadata or TunnelId => ulong.MaxValue,
        EthDst or EthSrc or ArpSha or ArpTha or Ipv6NdSll or Ipv6NdTll => 0xffff_ffff_ffffUL,
        EthType or TcpSrc or TcpDst or UdpSrc or UdpDst or SctpSrc or SctpDst or ArpOp => ushort.MaxValue,
        VlanVid => 0x1fff,
        VlanPcp => 7,
        IpDscp => 0x3f,
        IpEcn => 3,
        IpProto or Icmpv4Type or Icmpv4Code or Icmpv6Type or Icmpv6Code => byte.MaxValue,
        Ipv6Src or Ipv6Dst or Ipv6NdTarget => UInt128.MaxValue,
        Ipv6Flabel or MplsLabel => 0xfffff,
        MplsTc => 7,
        MplsBos => 1,
        PbbIsid => 0xffffff,
        Ipv6Exthdr => 0x1ff,
        _ => 0,
    };

    private static readonly (Ofp13Oxm[] Entries, byte Culprit)[] s_missing =
    [
        ([X(TcpSrc, 80)], TcpSrc),
        ([X(EthType, 0x0800), X(TcpSrc, 80)], TcpSrc),
        ([X(EthType, 0x0800), X(IpProto, 17), X(TcpSrc, 80)], TcpSrc),
        ([X(EthType, 0x86dd), X(IpProto, 1), X(Icmpv4Type, 8)], Icmpv4Type),
        ([X(EthType, 0x0800), X(Ipv6Src, 1)], Ipv6Src),
        ([X(EthType, 0x0800), X(ArpOp, 1)], ArpOp),
        ([X(VlanPcp, 3)], VlanPcp),
        ([X(VlanVid, 0), X(VlanPcp, 3)], VlanPcp),
        ([X(InPhyPort, 1)], InPhyPort),
        ([X(EthType, 0x86dd), X(IpProto, 58), X(Icmpv6Type, 128), X(Ipv6NdTarget, 5)], Ipv6NdTarget),
        ([X(EthType, 0x86dd), X(IpProto, 58), X(Icmpv6Type, 136), X(Ipv6NdSll, 5)], Ipv6NdSll),
        ([X(EthType, 0x0800), X(MplsLabel, 5)], MplsLabel),
        ([X(EthType, 0x0800), X(PbbIsid, 5)], PbbIsid),
        ([X(EthType, 0x0800), X(Ipv6Exthdr, 1)], Ipv6Exthdr),
        // A masked ethertype is no prerequisite.
        ([M(EthType, 0x0800, 0xff00), X(IpProto, 6)], IpProto),
    ];

    public static TheoryData<int> MissingPrerequisites => [.. Enumerable.Range(0, s_missing.Length)];

    [Theory]
    [MemberData(nameof(MissingPrerequisites))]
    public void AFieldWithoutItsPrerequisiteIsBadPrereq(int i)
    {
        Assert.Equal(OxmProblem.BadPrereq, TryToOf(s_missing[i].Entries, out _, out byte field));
        Assert.Equal(s_missing[i].Culprit, field);
    }

    [Fact]
    public void PrerequisitesMayComeAfterTheFieldTheyAllow()
    {
        Assert.Equal(OxmProblem.None, TryToOf([X(TcpDst, 443), X(IpProto, 6), X(EthType, 0x86dd)], out var m, out _));
        Assert.Equal(OfMatch.Any.EthType(0x86dd).NwProto(6).TpDst(443), m);
        Assert.Equal(OxmProblem.None, TryToOf([M(VlanVid, 0x1000, 0x1000), X(VlanPcp, 5)], out m, out _));
        Assert.Equal(OfMatch.Any.VlanVid(0x1000, 0x1000).VlanPcp(5), m);
    }

    [Theory]
    [InlineData(VlanVid, 0x2000)]
    [InlineData(IpDscp, 64)]
    [InlineData(IpEcn, 4)]
    [InlineData(MplsTc, 8)]
    [InlineData(MplsBos, 2)]
    [InlineData(MplsLabel, 0x100000)]
    [InlineData(Ipv6Flabel, 0x100000)]
    public void AValueWiderThanItsFieldIsBadValue(byte field, int value)
    {
        var entries = new List<Ofp13Oxm>();
        if (field is IpDscp or IpEcn) entries.Add(X(EthType, 0x0800));
        if (field is MplsTc or MplsBos or MplsLabel) entries.Add(X(EthType, 0x8847));
        if (field is Ipv6Flabel) entries.Add(X(EthType, 0x86dd));
        entries.Add(X(field, (UInt128)value));
        Assert.Equal(OxmProblem.BadValue, TryToOf([.. entries], out _, out byte f));
        Assert.Equal(field, f);
    }

    [Fact]
    public void TheSameFieldTwiceIsDupField()
        => Assert.Equal(OxmProblem.DupField, TryToOf([X(EthType, 0x0800), X(InPort, 1), X(EthType, 0x0800)], out _, out _));

    [Fact]
    public void SharedSlotsReadBackUnderTheNamesTheyWereWrittenWith()
    {
        Span<Ofp13Oxm> back = stackalloc Ofp13Oxm[FieldCount];
        Ofp13Oxm[][] matches =
        [
            [X(EthType, 0x0800), X(IpProto, 6), X(TcpSrc, 1), X(TcpDst, 2)],
            [X(EthType, 0x86dd), X(IpProto, 17), X(UdpSrc, 1), X(UdpDst, 2)],
            [X(EthType, 0x0800), X(IpProto, 132), X(SctpSrc, 1)],
            [X(EthType, 0x0800), X(IpProto, 1), X(Icmpv4Type, 8), X(Icmpv4Code, 0)],
            [X(EthType, 0x86dd), X(IpProto, 58), X(Icmpv6Type, 135), X(Ipv6NdTarget, 7), X(Ipv6NdSll, 0x0201)],
            [X(EthType, 0x0806), X(ArpOp, 2), M(ArpSpa, 0x0a000000, 0xff000000), X(ArpTpa, 0x0a000001), X(ArpSha, 0x0201)],
            [X(InPort, 3), M(Metadata, 0xf0, 0xff), M(EthDst, 0x010000000000, 0x010000000000), X(EthType, 0x0800), X(IpDscp, 46), X(IpEcn, 1), M(Ipv4Src, 0x0a000000, 0xffffff00)],
            [X(EthType, 0x8847), X(MplsLabel, 16), X(MplsTc, 3), X(MplsBos, 1)],
            [X(EthType, 0x88e7), M(PbbIsid, 0x100, 0xff00), M(TunnelId, 5, 0xff)],
            [X(EthType, 0x86dd), M(Ipv6Src, 1, 0xffff), X(Ipv6Flabel, 9), M(Ipv6Exthdr, 0x4, 0x4)],
            [X(VlanVid, 0)],
            [X(VlanVid, 0x1000 | 100), X(VlanPcp, 2)],
        ];
        foreach (var entries in matches)
        {
            Assert.Equal(OxmProblem.None, TryToOf(entries, out var m, out _));
            int n = ToOxm(m, back);
            Assert.Equal(entries.OrderBy(e => e.Field).ToArray(), back[..n].ToArray());
        }
    }

    [Fact]
    public void AnyMatchReadsBackAsItsEntries_AndAgainAsTheSameMatch()
    {
        // Property: whatever OXM list is accepted, the match it makes writes back to entries that make the same match.
        var field = Gen.Elements(Enumerable.Range(0, FieldCount).Select(i => (byte)i).ToArray());
        var entry = from f in field
                    from v in ArbMap.Default.GeneratorFor<ulong>()
                    from masked in ArbMap.Default.GeneratorFor<bool>()
                    from k in ArbMap.Default.GeneratorFor<ulong>()
                    select masked ? M(f, v & (ulong)AllOnes(f), k & (ulong)AllOnes(f)) : X(f, v & (ulong)AllOnes(f));
        Prop.ForAll(entry.ArrayOf().ToArbitrary(), entries =>
        {
            var withPrereqs = entries.Concat([X(EthType, 0x0800), X(IpProto, 6)]).DistinctBy(e => e.Field).ToArray();
            if (TryToOf(withPrereqs, out var m, out _) != OxmProblem.None) return;
            var back = new Ofp13Oxm[FieldCount];
            int n = ToOxm(m, back);
            Assert.Equal(OxmProblem.None, TryToOf(back.AsSpan(0, n), out var again, out _));
            Assert.Equal(m, again);
        }).QuickCheckThrowOnFailure();
    }
    [Fact]
    public void AnUntaggedMatchWithAnExactPcpIsWrittenWithoutThePcp()
    {
        // OpenFlow 1.0's dl_vlan=0xffff (no 802.1Q header) with dl_vlan_pcp exact: the match holds VLAN_VID = OFPVID_NONE
        // and a PCP. VLAN_PCP needs a VLAN_VID other than OFPVID_NONE, so the OXM list leaves it out (as Open vSwitch's
        // nx_put_raw does); written, a 1.3 reader refuses the whole match (ovs-ofctl: "OFPBMC_BAD_PREREQ").
        var m = new OfMatch().InPort(1);
        m.Value.VlanVid = 0; m.Mask.VlanVid = OfMatch.VlanVidMask;
        m.Value.VlanPcp = 0; m.Mask.VlanPcp = 7;
        var back = new Ofp13Oxm[FieldCount];
        int n = ToOxm(m, back);
        Assert.Equal([X(InPort, 1), X(VlanVid, 0)], back[..n]);
        Assert.Equal(OxmProblem.None, TryToOf(back.AsSpan(0, n), out _, out _));

        // A tagged match keeps its PCP.
        var tagged = new OfMatch().Vlan(5).VlanPcp(3);
        n = ToOxm(tagged, back);
        Assert.Equal([X(VlanVid, 0x1005), X(VlanPcp, 3)], back[..n]);
    }
}
