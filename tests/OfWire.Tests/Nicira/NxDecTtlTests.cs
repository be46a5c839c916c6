using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// NXAST_DEC_TTL_CNT_IDS in the shared Nicira codec: Open vSwitch's bytes (tests/ofp-actions.at) decode to the ids in
/// order and re-encode byte for byte under OpenFlow 1.0 and 1.3; refusals as Open vSwitch's
/// decode_NXAST_RAW_DEC_TTL_CNT_IDS answers them.
/// </summary>
public sealed class NxDecTtlTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // ofp-actions.at (OpenFlow 1.0 and 1.1 lists): "actions=dec_ttl(32768,12345,90,765,1024)".
    private const string OvsVector = "ffff 0020 00002320 0015 000500000000 80003039005A02fd 0400000000000000";

    [Fact]
    public void OpenVswitchBytes_DecodeAndReEncode_InBothVersions()
    {
        ushort[] ids = [32768, 12345, 90, 765, 1024];

        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex(OvsVector), list, out var error13), error13.ToString());
        var nx13 = Assert.Single(list).Nx;
        Assert.Equal(NxActionSubtype.DecTtlCntIds, nx13.Subtype);
        Assert.Equal(ids, nx13.ControllerIds);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.Nicira(NxAction.DecTtlIds(ids))]);
        Assert.Equal(Convert.ToHexString(Hex(OvsVector)), Convert.ToHexString(w.ToArray()));

        Assert.True(OfpAction.TryDecode(Hex(OvsVector), out var a10, out int size, out var error10), error10.ToString());
        Assert.Equal(32, size);
        Assert.True(NxAction.TryDecode(a10, out var nx10, out error10), error10.ToString());
        Assert.Equal(ids, nx10.ControllerIds);
        byte[] body = new byte[nx10.BodySize];
        nx10.WriteBody(body);
        Assert.Equal(Convert.ToHexString(Hex(OvsVector)[8..]), Convert.ToHexString(body));
    }

    [Theory]
    [InlineData(new ushort[] { 0 }, "ffff 0018 00002320 0015 000100000000 0000000000000000")]
    [InlineData(new ushort[] { 1, 2, 3, 4 }, "ffff 0018 00002320 0015 000400000000 0001000200030004")]
    [InlineData(new ushort[] { }, "ffff 0010 00002320 0015 000000000000")]
    public void Ids_PadToEightBytes_AsOpenVswitchEncodes(ushort[] ids, string wire)
    {
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.Nicira(NxAction.DecTtlIds(ids))]);
        Assert.Equal(Convert.ToHexString(Hex(wire)), Convert.ToHexString(w.ToArray()));
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex(wire), list, out var error), error.ToString());
        Assert.Equal(ids, Assert.Single(list).Nx.ControllerIds);
    }

    /// <summary>Bytes past the ids are not read (Open vSwitch reads n_controllers ids and no more).</summary>
    [Fact]
    public void RoomPastTheIds_IsNotRead()
    {
        Assert.True(NxAction.TryDecodeBody(Hex("0015 0001 00000000 0007 0000 00000000 0000000000000000"), out var nx, out var e), e.ToString());
        Assert.Equal(new ushort[] { 7 }, nx.ControllerIds);
    }

    /// <summary>
    /// More ids than the action has room for: BAD_LEN. Zeros that are not zero: NXBRC_MUST_BE_ZERO (OpenFlow 1.0: NX1.0(1,515)
    /// inside NXET_VENDOR, as Open vSwitch sends it there; this codec's 1.3 path answers BAD_ARGUMENT for it, as for output_reg2).
    /// </summary>
    [Theory]
    [InlineData("ffff 0018 00002320 0015 0005 00000000 0001000200030004", NxActionError.BadLen, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadLen)]
    [InlineData("ffff 0010 00002320 0015 0001 00000000", NxActionError.BadLen, OfpErrorType.BadAction, (ushort)OfpBadActionCode.BadLen)]
    [InlineData("ffff 0018 00002320 0015 0001 00000100 0001000000000000", NxActionError.MustBeZero, OfpErrorType.BadRequest, (ushort)515)]
    public void BadBodies_AreRefused_AsOpenVswitchRefusesThem(string wire, NxActionError expected, OfpErrorType type10, ushort code10)
    {
        Assert.False(NxAction.TryDecodeBody(Hex(wire)[8..], out _, out var e));
        Assert.Equal(expected, e);
        Assert.True(OfpAction.TryDecode(Hex(wire), out var a10, out _, out var decodeError), decodeError.ToString());
        Assert.False(NxAction.TryDecode(a10, out _, out var error10));
        Assert.Equal(new OfpError(type10, code10, Nicira: expected == NxActionError.MustBeZero), error10);
        var list = new List<Ofp13Action>();
        Assert.False(Ofp13Actions.TryDecode(Hex(wire), list, out var error13));
        Assert.Equal(Ofp13Error.BadAction(expected == NxActionError.BadLen ? Ofp13Codes.ActionBadLen : Ofp13Codes.ActionBadArgument), error13);
    }

    /// <summary>ofp-actions.at's "NXAST_DEC_TTL_CNT_IDS length 17 is not a multiple of 8": BAD_LEN, in OpenFlow 1.0.</summary>
    [Fact]
    public void LengthNotAMultipleOfEight_IsBadLen()
    {
        Assert.False(OfpAction.TryDecode(Hex("ffff 0011 00002320 0015 0001 00000000 0000000000000000"), out _, out _, out var error));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), error);
    }
}
