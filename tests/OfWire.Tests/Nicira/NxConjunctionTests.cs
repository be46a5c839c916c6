using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// NXAST_CONJUNCTION in the shared Nicira codec: Open vSwitch's bytes (tests/ofp-actions.at) decode to the clause, n and
/// id and re-encode byte for byte under OpenFlow 1.0 and 1.3; an n outside 2..64 or a clause not below n is refused with
/// NXBAC_BAD_CONJUNCTION as each version encodes it (1.0: BAD_ACTION 526; 1.3: an experimenter error, exp_code 15).
/// </summary>
public sealed class NxConjunctionTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // ofp-actions.at: "conjunction(0x12345678, 3/4)" (clause 2, 0-based, of 4).
    private const string OvsVector = "ffff 0010 00002320 0022 02 04 12345678";

    [Fact]
    public void OpenVswitchBytes_DecodeAndReEncode_InBothVersions()
    {
        var expected = NxAction.Conjunction(0x12345678, 2, 4);
        Assert.Equal(0x12345678u, expected.ConjId);
        Assert.Equal(2, expected.ConjClause);
        Assert.Equal(4, expected.ConjClauses);

        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex(OvsVector), list, out var error13), error13.ToString());
        Assert.Equal(expected, Assert.Single(list).Nx);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, list.ToArray());
        Assert.Equal(Convert.ToHexString(Hex(OvsVector)), Convert.ToHexString(w.ToArray()));

        Assert.True(OfpAction.TryDecode(Hex(OvsVector), out var a10, out int size, out var error10), error10.ToString());
        Assert.Equal(16, size);
        Assert.True(NxAction.TryDecode(a10, out var nx, out error10), error10.ToString());
        Assert.Equal(expected, nx);
        byte[] body = new byte[expected.BodySize];
        expected.WriteBody(body);
        Assert.Equal("0022020412345678", Convert.ToHexString(body));
    }

    [Theory]
    [InlineData("0022 00 01 00000001", "n = 1")]
    [InlineData("0022 00 41 00000001", "n = 65")]
    [InlineData("0022 02 02 00000001", "clause 3 of 2")]
    [InlineData("0022 00 00 00000001", "n = 0")]
    public void ClausesOpenVswitchRefuses_AreBadConjunction_InEachVersionsEncoding(string body, string what)
    {
        Assert.False(NxAction.TryDecodeBody(Hex(body), out _, out var e), what);
        Assert.Equal(NxActionError.BadConjunction, e);

        var list = new List<Ofp13Action>();
        Assert.False(Ofp13Actions.TryDecode(Hex("ffff 0010 00002320" + body), list, out var error13), what);
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.Experimenter, 15), error13);
        // The error message itself: type 0xffff, exp_code 15, experimenter NX_VENDOR_ID, then the request.
        byte[] request = Hex("04 0e 0010 0000002a 0000000000000000");
        byte[] msg = Ofp13Messages.Error(4, error13, request);
        Assert.Equal("04010020" + "0000002A" + "FFFF000F" + "00002320" + Convert.ToHexString(request), Convert.ToHexString(msg));

        Assert.True(OfpAction.TryDecode(Hex("ffff 0010 00002320" + body), out var a10, out _, out var decodeError), decodeError.ToString());
        Assert.False(NxAction.TryDecode(a10, out _, out var error10), what);
        Assert.Equal(OfpError.Nx(OfpErrorType.BadAction, 526), error10);
    }

    [Theory]
    [InlineData(0, 2, true)]
    [InlineData(1, 2, true)]
    [InlineData(63, 64, true)]
    [InlineData(2, 2, false)]
    [InlineData(0, 1, false)]
    [InlineData(0, 65, false)]
    public void IsValidConjunction_IsOpenVswitchsRule(int clause, int clauses, bool valid)
        => Assert.Equal(valid, NxAction.IsValidConjunction(clause, clauses));
}
