using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Nicira;

/// <summary>
/// multipath(...) (NXAST_MULTIPATH) in OpenFlow 1.0 and 1.3: Open vSwitch's bytes (tests/ofp-actions.at) read as the
/// model's multipath and written back byte for byte; refused as Open vSwitch refuses it: too few destination bits for
/// the links or an unknown field set BAD_ARGUMENT, an unknown destination BAD_FIELD, a destination it cannot write
/// BAD_SET_ARGUMENT, outside a flow's apply-actions BAD_ARGUMENT, in write-actions BAD_TYPE.
/// </summary>
public sealed class MultipathTranslationTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // ofp-actions.at (1.0 and 1.1+ alike): actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])
    private const string Vector = "ffff 0020 00002320 000a 0000 0032 0000 0000 0000 0000 0000 0000 001f 00010004";

    private static readonly OfAction Expected = OfAction.Multipath(0, 50, 0, 0, 0, new OfSubfield(OfField.Reg0, 0, 32));

    private static bool Decode10(string hex, out OfAction[] actions, out OfpError error)
    {
        actions = [];
        if (!OfpActions.TryDecode(Hex(hex), out List<OfpAction> list, out error)) return false;
        if (!Of10Actions.TryDecode(list, out var r, out error)) return false;
        actions = r.ToArray();
        return true;
    }

    private static bool Decode13(string hex, bool flowApply, out OfAction[] actions, out Ofp13Error error)
    {
        actions = [];
        var list = new List<Ofp13Action>();
        return Ofp13Actions.TryDecode(Hex(hex), list, out error) && Of13Actions.TryToOf(list.ToArray(), flowApply, out actions, out error);
    }

    [Fact]
    public void BothVersions_ReadTheVector_AndWriteItBackByteForByte()
    {
        Assert.True(Decode10(Vector, out var a10, out var e10), e10.ToString());
        Assert.Equal(Expected, Assert.Single(a10));
        var back10 = Of10Actions.ToOfp([Expected]);
        var bytes = new byte[OfpActions.GetEncodedSize(back10)];
        OfpActions.Encode(back10, bytes);
        Assert.Equal(Convert.ToHexString(Hex(Vector)), Convert.ToHexString(bytes));

        Assert.True(Decode13(Vector, true, out var a13, out var e13), e13.ToString());
        Assert.Equal(Expected, Assert.Single(a13));
        var back13 = new List<Ofp13Action>();
        Of13Actions.ToWire([Expected], false, back13);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, back13.ToArray());
        Assert.Equal(Convert.ToHexString(Hex(Vector)), Convert.ToHexString(w.ToArray()));
        Assert.True(Of13Actions.NotInActionSet([Expected]));
    }

    [Fact]
    public void BadArguments_AreRefusedAsOpenVswitchRefusesThem()
    {
        // 1024 links into NXM_NX_REG0[0..7]: too few bits.
        const string tooFewBits = "ffff 0020 00002320 000a 0000 0032 0000 0000 03ff 0000 0000 0000 0007 00010004";
        Assert.False(Decode10(tooFewBits, out _, out var e));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), e);
        Assert.False(Decode13(tooFewBits, true, out _, out var e13));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), e13);
        // Field set 7 (symmetric_l2, which multipath does not take): BAD_ARGUMENT.
        Assert.False(Decode13("ffff 0020 00002320 000a 0007 0032 0000 0000 0000 0000 0000 0000 001f 00010004", true, out _, out e13));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), e13);
        // An NXM header the switch does not know (class 1 field 120): BAD_FIELD.
        Assert.False(Decode13("ffff 0020 00002320 000a 0000 0032 0000 0000 0000 0000 0000 0000 001f 0001f004", true, out _, out e13));
        Assert.Equal(Ofp13Error.BadMatch(Ofp13Codes.MatchBadField), e13);
        // Into in_port (NXM_OF_IN_PORT), which an action does not write: BAD_SET_ARGUMENT.
        Assert.False(Decode13("ffff 0020 00002320 000a 0000 0032 0000 0000 0000 0000 0000 0000 000f 00000002", true, out _, out e13));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), e13);
        // In a packet-out (not a flow's apply-actions): BAD_ARGUMENT.
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex(Vector), list, out _));
        Assert.False(Of13Actions.TryPacketOutToOf(list.ToArray(), out _, out e13));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), e13);
        // In write-actions: not an action set's (the flow-mod answers BAD_TYPE).
        Assert.True(Decode13(Vector, false, out var written, out _));
        Assert.True(Of13Actions.NotInActionSet(written));
    }
}
