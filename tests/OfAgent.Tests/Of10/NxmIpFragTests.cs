using Softswitch.Datapath.Flow;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using MatchTranslator = Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// ip_frag (NXM_NX_IP_FRAG, class NXM_1 field 26) through the NXM and OXM translators: Open vSwitch's own vectors
/// (tests/ovs-ofctl.at "ovs-ofctl parse-nx-match", IPv4 and IPv6 fragments: each input and what Open vSwitch writes
/// back, or its error), the prerequisite, and the datapath match each compiles to.
/// </summary>
public sealed class NxmIpFragTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    private const string Ip4 = "0000 0602 0800", Ip6 = "0000 0602 86dd";

    // Input entry after NXM_OF_ETH_TYPE, and what ovs-ofctl parse-nx-match writes back (null: its error).
    public static TheoryData<string, string, string?, string?> Vectors()
    {
        var d = new TheoryData<string, string, string?, string?>();
        foreach (var eth in new[] { Ip4, Ip6 })
        {
            d.Add(eth, "0001 3401 00", "0001 3401 00", null);
            d.Add(eth, "0001 3401 01", "0001 3401 01", null);
            d.Add(eth, "0001 3401 02", "0001 3401 02", null);
            d.Add(eth, "0001 3401 03", "0001 3401 03", null);
            d.Add(eth, "0001 3502 00 03", "0001 3401 00", null);
            d.Add(eth, "0001 3502 00 fd", "0001 3502 00 01", null);
            d.Add(eth, "0001 3502 00 02", "0001 3502 00 02", null);
            d.Add(eth, "0001 3502 01 01", "0001 3502 01 01", null);
            d.Add(eth, "0001 3502 02 02", "0001 3502 02 02", null);
            d.Add(eth, "0001 3502 03 03", "0001 3401 03", null);
            d.Add(eth, "0001 3502 03 ff", "0001 3401 03", null);
            d.Add(eth, "0001 3502 03 00", null, "BadWildcards");
            d.Add(eth, "0001 3401 f3", null, "BadValue");
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void ParseNxMatch_AsOpenVswitch(string eth, string entry, string? back, string? error)
    {
        var err = NxmMatchTranslator.TryToOf(Hex(eth + entry), allowCookie: false, out var m, out _, out _);
        if (error is not null)
        {
            Assert.Equal(error, err.ToString());
            return;
        }
        Assert.Equal(NxmError.None, err);
        var entries = new Ofp13Oxm[NxmMatchTranslator.MaxEntries];
        int n = NxmMatchTranslator.ToNxm(m, entries);
        var bytes = new byte[NxMatch.Size(entries.AsSpan(0, n))];
        NxMatch.Write(bytes, entries.AsSpan(0, n));
        Assert.Equal(Convert.ToHexString(Hex(eth + back!)), Convert.ToHexString(bytes));
    }

    [Fact]
    public void WithoutIpOrIpv6_IsBadPrereq()
    {
        Assert.Equal(NxmError.BadPrereq, NxmMatchTranslator.TryToOf(Hex("0001 3401 01"), false, out _, out _, out _));
        Assert.Equal(NxmError.BadPrereq, NxmMatchTranslator.TryToOf(Hex("0000 0602 0806 0001 3401 01"), false, out _, out _, out _));
        // OXM (OpenFlow 1.3 and later): the same field under the NXM_1 class.
        Ofp13Oxm frag = Ofp13Oxm.Exact(Ofp13Match.NxIpFrag, 1);
        Assert.Equal(OxmProblem.BadPrereq, MatchTranslator.TryToOf([frag], out _, out _));
        Assert.Equal(OxmProblem.DupField, MatchTranslator.TryToOf([Ofp13Oxm.Exact(MatchTranslator.EthType, 0x0800), frag, frag], out _, out _));
        Assert.Equal(OxmProblem.BadValue, MatchTranslator.TryToOf([Ofp13Oxm.Exact(MatchTranslator.EthType, 0x0800), Ofp13Oxm.Exact(Ofp13Match.NxIpFrag, 4)], out _, out _));
    }

    [Fact]
    public void Oxm_ReadsAndWritesTheNxm1Header()
    {
        // OXM TLV NXM_NX_IP_FRAG_W(01/01) (ip_frag=yes), as Open vSwitch puts it in an OpenFlow 1.3 match.
        Assert.True(Ofp13Match.TryReadTlv(Hex("0001 3502 01 01"), out var f, out int size, out _));
        Assert.Equal(6, size);
        Assert.Equal(new Ofp13Oxm(Ofp13Match.NxIpFrag, true, 1, 1), f);
        Assert.Equal(OxmProblem.None, MatchTranslator.TryToOf([Ofp13Oxm.Exact(MatchTranslator.EthType, 0x86dd), f], out var m, out _));
        Assert.Equal((byte)1, m.Mask.IpFrag);
        var into = new Ofp13Oxm[MatchTranslator.MaxEntries];
        int n = MatchTranslator.ToOxm(m, into);
        Assert.Contains(f, into.AsSpan(0, n).ToArray());
        // ip_frag=later: both bits, written unmasked.
        m = OfMatch.Any.EthType(0x0800).IpFrag(3);
        n = MatchTranslator.ToOxm(m, into);
        var tlv = Assert.Single(into.AsSpan(0, n).ToArray(), e => e.Field == Ofp13Match.NxIpFrag);
        Span<byte> wire = stackalloc byte[8];
        Assert.Equal("0001340103", Convert.ToHexString(wire[..Ofp13Match.WriteTlv(wire, tlv)]));
    }

    [Theory]
    [InlineData(1, 3, FlowKey.NwFragAny)]                              // first
    [InlineData(3, 3, FlowKey.NwFragAny | FlowKey.NwFragLater)]        // later
    [InlineData(0, 1, 0)]                                              // no (not a fragment)
    public void CompilesOntoTheKeysNwFragByte(byte value, byte mask, byte keyValue)
    {
        var m = OfMatch.Any.EthType(0x0800).IpFrag(value, mask);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var fm));
        Assert.Equal(mask, fm.Mask.NwFrag);
        Assert.Equal(keyValue, fm.Value.NwFrag);
        Assert.Equal(0u, fm.Mask.Ipv6Flabel);
        var back = OfMatchCompiler.ToOfMatch(fm);
        Assert.Equal(m.Mask.IpFrag, back.Mask.IpFrag);
        Assert.Equal(m.Value.IpFrag, back.Value.IpFrag);
    }
}
