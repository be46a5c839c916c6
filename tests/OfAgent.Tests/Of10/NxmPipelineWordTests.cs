using Softswitch.Datapath.Flow;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using MatchTranslator = Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// nw_ttl (NXM_NX_IP_TTL), tcp_flags (NXM_NX_TCP_FLAGS; ONFOXM_ET_TCP_FLAGS in OpenFlow 1.3 and 1.4; OXM_OF_TCP_FLAGS
/// in 1.5), pkt_mark (NXM_NX_PKT_MARK), tun_src/tun_dst (NXM_NX_TUN_IPV4_SRC/DST) and actset_output
/// (ONFOXM_ET_ACTSET_OUTPUT before 1.5, OXM_OF_ACTSET_OUTPUT from it; ONF's in an nx_match) through the NXM and OXM
/// translators: Open vSwitch's vectors (tests/ovs-ofctl.at "parse-nx-match" and "parse-oxm": each input and what Open
/// vSwitch writes back, or its error), prerequisites, duplicates, and the datapath match each compiles to.
/// </summary>
public sealed class NxmPipelineWordTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    private const string Ip4 = "0000 0602 0800 ", Ip6 = "0000 0602 86dd ", Tcp4 = "0000 0602 0800 0000 0c01 06 ", Udp4 = "0000 0602 0800 0000 0c01 11 ";

    // An nx_match, and what Open vSwitch writes back (null: its error).
    public static TheoryData<string, string?, string?> NxmVectors() => new()
    {
        // IP TTL (ovs-ofctl.at), no mask.
        { Ip4 + "0001 3a01 80", Ip4 + "0001 3a01 80", null },
        { Ip6 + "0001 3a01 ff", Ip6 + "0001 3a01 ff", null },
        { "0001 3a01 80", null, "BadPrereq" },
        { Ip4 + "0001 3b02 80 f0", null, "BadMask" },
        // TCP flags (ovs-ofctl.at): a mask of all 16 bits is no mask.
        { Tcp4 + "0001 4402 0131", Tcp4 + "0001 4402 0131", null },
        { Tcp4 + "0001 4504 00f0 0ff0", Tcp4 + "0001 4504 00f0 0ff0", null },
        { Tcp4 + "0001 4504 01e2 ffff", Tcp4 + "0001 4402 01e2", null },
        { Udp4 + "0001 4402 0fff", null, "BadPrereq" },
        { Tcp4 + "0001 4402 1000", null, "BadValue" },
        // ONF's OXM form read in an nx_match, written back as NXM's.
        { Tcp4 + "ffff 5406 4f4e4600 0012", Tcp4 + "0001 4402 0012", null },
        // pkt_mark and the tunnel endpoints: any mask, no prerequisite.
        { "0001 4204 000000bb", "0001 4204 000000bb", null },
        { "0001 4308 00000005 000000ff", "0001 4308 00000005 000000ff", null },
        { "0001 4308 00000105 000000ff", null, "BadWildcards" },
        { "0001 3e04 01020304 0001 4108 05060700 ffffff00", "0001 3e04 01020304 0001 4108 05060700 ffffff00", null },
        // actset_output has no NXM header: ONF's OXM one, its port 32 bits.
        { "ffff 5608 4f4e4600 00000003", "ffff 5608 4f4e4600 00000003", null },
        { "ffff 5608 4f4e4600 fffffff7", "ffff 5608 4f4e4600 fffffff7", null },
        { "ffff 5608 4f4e4600 00010000", null, "BadValue" },
        { "ffff 5608 4f4e4601 00000003", null, "BadField" },
        { "0001 4204 000000bb 0001 4204 000000bb", null, "DupField" },
        // dp_hash (NXM_NX_DP_HASH, field 35): any mask, no prerequisite.
        { "0001 4604 00000005", "0001 4604 00000005", null },
        { "0001 4708 00000001 0000000f", "0001 4708 00000001 0000000f", null },
        { "0001 4708 00000011 0000000f", null, "BadWildcards" },
        { "0001 4604 00000005 0001 4708 00000001 0000000f", null, "DupField" },
    };

    [Theory]
    [MemberData(nameof(NxmVectors))]
    public void ParseNxMatch_AsOpenVswitch(string input, string? back, string? error)
    {
        var err = NxmMatchTranslator.TryToOf(Hex(input), allowCookie: false, out var m, out _, out _);
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
        Assert.Equal(Convert.ToHexString(Hex(back!)), Convert.ToHexString(bytes));
        // And the datapath match round-trips to the same OpenFlow match.
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        Assert.Equal(m, OfMatchCompiler.ToOfMatch(dp));
    }

    private const string OxmTcp4 = "8000 0a02 0800 8000 1401 06 ";

    // OXM TLVs, the version, and what Open vSwitch writes back in that version (null: its error).
    public static TheoryData<string, byte, string?, string?> OxmVectors() => new()
    {
        // tcp_flags: ONF's form in 1.3 and 1.4, OpenFlow 1.5's from 1.5 (ovs-ofctl.at "parse-oxm" of OXM_OF_TCP_FLAGS).
        { OxmTcp4 + "8000 5402 0fff", 4, OxmTcp4 + "ffff 5406 4f4e4600 0fff", null },
        { OxmTcp4 + "8000 5402 0fff", 5, OxmTcp4 + "ffff 5406 4f4e4600 0fff", null },
        { OxmTcp4 + "ffff 5406 4f4e4600 0fff", 6, OxmTcp4 + "8000 5402 0fff", null },
        { OxmTcp4 + "0001 4402 0fff", 4, OxmTcp4 + "ffff 5406 4f4e4600 0fff", null },
        { OxmTcp4 + "ffff 5508 4f4e4600 0002 0012", 4, OxmTcp4 + "ffff 5508 4f4e4600 0002 0012", null },
        { "8000 0a02 0800 8000 1401 11 8000 5402 0fff", 6, null, "BadPrereq" },
        { OxmTcp4 + "8000 5402 0012 0001 4402 0012", 4, null, "DupField" },
        // actset_output (ovs-ofctl.at "parse-oxm (OpenFlow 1.3)" and 1.5).
        { "ffff 5608 4f4e4600 00000000", 4, "ffff 5608 4f4e4600 00000000", null },
        { "ffff 5608 4f4e4600 fffffffe", 4, "ffff 5608 4f4e4600 fffffffe", null },
        { "8000 5604 fffffff7", 4, "ffff 5608 4f4e4600 fffffff7", null },
        { "ffff 5608 4f4e4600 fffffff7", 6, "8000 5604 fffffff7", null },
        { "8000 5708 00000003 ffffffff", 6, null, "BadMask" },
        // nw_ttl, pkt_mark and the tunnel endpoints keep their NXM_1 headers in OXM.
        { "8000 0a02 86dd 0001 3a01 40 0001 4308 00000005 000000ff 0001 3e04 0a000001", 4,
          "8000 0a02 86dd 0001 3a01 40 0001 3e04 0a000001 0001 4308 00000005 000000ff", null },
        // So does dp_hash, after pkt_mark, in every version.
        { "0001 4708 00000001 0000000f 0001 4204 00000007", 4, "0001 4204 00000007 0001 4708 00000001 0000000f", null },
        { "0001 4708 00000001 0000000f", 6, "0001 4708 00000001 0000000f", null },
        { "0001 4604 00000005 0001 4604 00000005", 4, null, "DupField" },
    };

    [Theory]
    [MemberData(nameof(OxmVectors))]
    public void ParseOxm_AsOpenVswitch(string input, byte version, string? back, string? error)
    {
        var tlvs = Hex(input).AsSpan();
        var list = new List<Ofp13Oxm>();
        while (!tlvs.IsEmpty)
        {
            if (!Ofp13Match.TryReadTlv(tlvs, out var f, out int size, out var e))
            {
                Assert.Equal(error, e.Code switch
                {
                    Ofp13Codes.MatchBadMask => "BadMask",
                    Ofp13Codes.MatchBadField => "BadField",
                    _ => e.Code.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
                return;
            }
            list.Add(f);
            tlvs = tlvs[size..];
        }
        var problem = MatchTranslator.TryToOf(list.ToArray(), out var m, out _);
        if (error is not null)
        {
            Assert.Equal(error, problem.ToString());
            return;
        }
        Assert.Equal(OxmProblem.None, problem);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        var entries = new Ofp13Oxm[MatchTranslator.MaxEntries];
        int n = MatchTranslator.ToOxm(OfMatchCompiler.ToOfMatch(dp), entries, version);
        var bytes = new List<byte>();
        var tmp = new byte[64];
        foreach (var e in entries.AsSpan(0, n)) bytes.AddRange(tmp.AsSpan(0, Ofp13Match.WriteTlv(tmp, e)).ToArray());
        Assert.Equal(Convert.ToHexString(Hex(back!)), Convert.ToHexString(bytes.ToArray()));
    }

    [Fact]
    public void DpHash_CompilesOntoItsPipelineWord_AndBack()
    {
        var m = OfMatch.Any.DpHash(1, 0xf);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        Assert.Equal(1u, dp.RegisterValue.DpHash);
        Assert.Equal(0xfu, dp.RegisterMask.DpHash);
        Assert.Equal((ushort)(1 << Registers.HashWord), dp.RegisterMask.NonZeroWords);
        Assert.Equal(m, OfMatchCompiler.ToOfMatch(dp));
    }

    [Fact]
    public void TheFieldsCompile_OntoThePipelineWords()
    {
        var m = OfMatch.Any.EthType(0x0800).NwProto(6).NwTtl(64).TcpFlags(0x002, 0x012).PktMark(5, 0xff)
            .TunSrc(0x0a000001).TunDst(0x0a000000, 0xffffff00).ActsetOutput(OfMatch.ActsetUnset);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(m, out var dp));
        var regs = dp.RegisterValue;
        var mask = dp.RegisterMask;
        Assert.Equal(Registers.PacketFieldsOf(64, 0x002), regs.PacketFields);
        Assert.Equal(Registers.PacketFieldsOf(0xff, 0x012), mask.PacketFields);
        Assert.Equal(Registers.TunnelEndpointsOf(0x0a000001, 0x0a000000), regs.TunnelEndpoints);
        Assert.Equal(5u, regs.PktMark);
        Assert.Equal(0u, regs.ActsetOutputCode); // unset: what a run's zeroed file says
        Assert.Equal(uint.MaxValue, mask.ActsetOutputCode);
        Assert.Equal(m, OfMatchCompiler.ToOfMatch(dp));
        // nw_ttl and actset_output take no partial mask.
        var bad = OfMatch.Any;
        bad.Mask.NwTtl = 0xf0;
        Assert.Equal(OfError.UnsupportedMask, OfMatchCompiler.TryCompile(bad, out _));
    }
}
