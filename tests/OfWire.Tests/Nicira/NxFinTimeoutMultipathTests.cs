using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// NXAST_FIN_TIMEOUT and NXAST_MULTIPATH in the shared Nicira codec: Open vSwitch's bytes (tests/ofp-actions.at) decode
/// to their arguments and re-encode byte for byte under OpenFlow 1.0 and 1.3; multipath arguments Open vSwitch's
/// decode_NXAST_RAW_MULTIPATH refuses are BAD_ARGUMENT.
/// </summary>
public sealed class NxFinTimeoutMultipathTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static TheoryData<string, string, NxAction> Vectors => new()
    {
        { "fin_timeout(idle_timeout=10,hard_timeout=20)", "ffff 0010 00002320 0013 000a 0014 0000", NxAction.FinTimeout(10, 20) },
        // multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[]): fields 0, basis 50, algorithm 0, max_link 0, arg 0, reg0[0..31].
        { "multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])", "ffff 0020 00002320 000a 0000 0032 0000 0000 0000 0000 0000 0000 001f 00010004",
          NxAction.Multipath(0, 50, 0, 0, 0, 0x00010004, 0, 32) },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void OpenVswitchBytes_DecodeAndReEncode_InBothVersions(string text, string wire, NxAction expected)
    {
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex(wire), list, out var error13), $"{text}: {error13}");
        Assert.Equal(expected, Assert.Single(list).Nx);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, list.ToArray());
        Assert.Equal(Convert.ToHexString(Hex(wire)), Convert.ToHexString(w.ToArray()));

        Assert.True(OfpAction.TryDecode(Hex(wire), out var a10, out _, out var error10), error10.ToString());
        Assert.True(NxAction.TryDecode(a10, out var nx, out error10), error10.ToString());
        Assert.Equal(expected, nx);
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.Equal(Convert.ToHexString(Hex(wire)[8..]), Convert.ToHexString(body));
    }

    [Fact]
    public void Arguments_ReadBack()
    {
        var f = NxAction.FinTimeout(10, 20);
        Assert.Equal((10, 20), (f.FinIdleTimeout, f.FinHardTimeout));
        var m = NxAction.Multipath(2, 7, 3, 5, 9, 0x00010204, 4, 3);
        Assert.Equal((2, 7, 3, 5, 9u), (m.MultipathFields, m.MultipathBasis, m.MultipathAlgorithm, m.MultipathMaxLink, (uint)m.Arg));
        byte[] body = new byte[m.BodySize];
        m.WriteBody(body);
        Assert.True(NxAction.TryDecodeBody(body, out var back, out var e), e.ToString());
        Assert.Equal(m, back);
    }

    /// <summary>
    /// As decode_NXAST_RAW_MULTIPATH: fields past symmetric_l3 (6), an algorithm past iter_hash (3), fewer dst bits than the
    /// links need (6 links in 2 bits), and (the codec's own) a masked dst header are BAD_ARGUMENT in both versions; a
    /// fin_timeout or multipath of another length BAD_LEN.
    /// </summary>
    [Theory]
    [InlineData("ffff 0020 00002320 000a 0007 0032 0000 0000 0000 0000 0000 0000 001f 00010004", (ushort)OfpBadActionCode.BadArgument)]
    [InlineData("ffff 0020 00002320 000a 0000 0032 0000 0004 0000 0000 0000 0000 001f 00010004", (ushort)OfpBadActionCode.BadArgument)]
    [InlineData("ffff 0020 00002320 000a 0000 0032 0000 0000 0005 0000 0000 0000 0001 00010004", (ushort)OfpBadActionCode.BadArgument)]
    [InlineData("ffff 0020 00002320 000a 0000 0032 0000 0000 0000 0000 0000 0000 001f 00010308", (ushort)OfpBadActionCode.BadArgument)]
    [InlineData("ffff 0018 00002320 0013 000a 0014 0000 0000000000000000", (ushort)OfpBadActionCode.BadLen)]
    [InlineData("ffff 0018 00002320 000a 0000 0032 0000 0000 0000 0000 0000 0000", (ushort)OfpBadActionCode.BadLen)]
    public void BadBodies_AreRefused(string wire, ushort code10)
    {
        Assert.True(OfpAction.TryDecode(Hex(wire), out var a10, out _, out var decodeError), decodeError.ToString());
        Assert.False(NxAction.TryDecode(a10, out _, out var error10));
        Assert.Equal(OfpError.BadAction((OfpBadActionCode)code10), error10);
        var list = new List<Ofp13Action>();
        Assert.False(Ofp13Actions.TryDecode(Hex(wire), list, out var error13));
        Assert.Equal(Ofp13Error.BadAction(code10 == (ushort)OfpBadActionCode.BadLen ? Ofp13Codes.ActionBadLen : Ofp13Codes.ActionBadArgument), error13);
    }

    /// <summary>6 links need 3 bits: a 3-bit dst is taken (log2_ceil(6) = 3); 1 link needs none.</summary>
    [Fact]
    public void LinksFitTheirBits()
    {
        Assert.True(NxAction.TryDecodeBody(Hex("000a 0000 0032 0000 0000 0005 00000000 0000 0002 00010004"), out _, out var e), e.ToString());
        Assert.True(NxAction.TryDecodeBody(Hex("000a 0000 0032 0000 0000 0000 00000000 0000 0000 00010004"), out _, out e), e.ToString());
    }
}
