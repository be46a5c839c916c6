using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Nicira;

/// <summary>
/// dp_hash (NXM_NX_DP_HASH) is read-only, as Open vSwitch's ovs-fields(7) says: a load, a move or a set-field into it
/// is refused as Open vSwitch refuses a field that is not writable (mf_check_dst, decode_ofpat_set_field:
/// OFPBAC_BAD_SET_ARGUMENT), and a move reads it.
/// </summary>
public sealed class DpHashActionTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // load:0x5->NXM_NX_DP_HASH[] (NXAST_REG_LOAD: ofs_nbits 0/32, header 0x00014604).
    private const string Load = "ffff 0018 00002320 0007 001f 00014604 0000000000000005";
    // move:NXM_NX_REG0[]->NXM_NX_DP_HASH[] and move:NXM_NX_DP_HASH[]->NXM_NX_REG0[] (NXAST_REG_MOVE, 32 bits).
    private const string MoveInto = "ffff 0018 00002320 0006 0020 0000 0000 00010004 00014604";
    private const string MoveFrom = "ffff 0018 00002320 0006 0020 0000 0000 00014604 00010004";

    private static bool Decode13(string hex, out OfAction[] actions, out Ofp13Error error)
    {
        actions = [];
        var list = new List<Ofp13Action>();
        return Ofp13Actions.TryDecode(Hex(hex), list, out error) && Of13Actions.TryToOf(list.ToArray(), true, out actions, out error);
    }

    [Theory]
    [InlineData(Load)]
    [InlineData(MoveInto)]
    public void ALoadOrAMoveIntoDpHash_IsBadSetArgument(string hex)
    {
        Assert.False(Decode13(hex, out _, out var e13));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), e13);
        // OpenFlow 1.0 names no set-argument error: Open vSwitch's NX1.0(1,525), as for every field the switch does not write.
        Assert.True(OfpActions.TryDecode(Hex(hex), out List<OfpAction> list, out _));
        Assert.False(Of10Actions.TryDecode(list, out _, out var e10));
        Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, 525), e10);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASetFieldOfDpHash_MaskedOrNot_IsBadSetArgument(bool masked)
    {
        var field = masked ? new Ofp13Oxm(Ofp13Match.NxDpHash, true, 1, 0xf) : Ofp13Oxm.Exact(Ofp13Match.NxDpHash, 5);
        Assert.False(Of13Actions.TryToOf([Ofp13Action.SetField(field)], true, out _, out var error, maskedSetField: true));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), error);
        // The codec reads it (a field it knows), so the refusal is the translation's.
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.SetField(field)]);
        var back = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(w.ToArray(), back, out var e), e.ToString());
        Assert.Equal(field, Assert.Single(back).Field);
    }

    [Fact]
    public void AMoveFromDpHash_IsTaken_InBothVersions()
    {
        var expected = OfAction.FieldMove(new OfSubfield(OfField.DpHash, 0, 32), new OfSubfield(OfField.Reg0, 0, 32));
        Assert.True(Decode13(MoveFrom, out var a13, out var e13), e13.ToString());
        Assert.Equal(expected, Assert.Single(a13));
        Assert.True(OfpActions.TryDecode(Hex(MoveFrom), out List<OfpAction> list, out _));
        Assert.True(Of10Actions.TryDecode(list, out var a10, out var e10), e10.ToString());
        Assert.Equal(expected, Assert.Single(a10.ToArray()));
    }
}
