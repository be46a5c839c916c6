using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of15;

/// <summary>
/// OpenFlow 1.5's OFPAT_COPY_FIELD and the ONF extension's copy-field under 1.3 (experimenter 0x4f4e4600, type 3200):
/// Open vSwitch's bytes (tests/ofp-actions.at, "OpenFlow 1.5 action translation" and "OpenFlow 1.3 action
/// translation", both <c>move:NXM_OF_IN_PORT[]->NXM_OF_VLAN_TCI[]</c>) decode into the NXAST_REG_MOVE they mean and
/// re-encode byte for byte; malformed ones are refused with BAD_ACTION's codes.
/// </summary>
public sealed class CopyFieldCodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static readonly NxAction InPortToVlanTci =
        new(NxActionSubtype.RegMove, FieldHeader: 0x00000802, SrcHeader: 0x00000002, Bits: 16, SrcOfs: 0, DstOfs: 0);

    [Theory]
    [InlineData("001c 0018 0010 0000 0000 0000 00000002 00000802 00000000", (ushort)Ofp13ActionType.CopyField, 0u)]
    [InlineData("ffff 0020 4f4e4600 0c80 0000 0010 0000 0000 0000 00000002 00000802 00000000", (ushort)Ofp13ActionType.Experimenter, Ofp13Bundle.OnfExperimenter)]
    public void OpenVswitchBytes_AreTheMove_AndReEncodeByteForByte(string hex, ushort type, uint experimenter)
    {
        byte[] wire = Hex(hex);
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(wire, list, out var error), error.ToString());
        var a = Assert.Single(list);
        Assert.Equal((Ofp13ActionType)type, a.Type);
        Assert.Equal(experimenter, a.Arg);
        Assert.Equal(InPortToVlanTci, a.Nx);
        Assert.Equal(wire.Length, a.Size);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, list.ToArray());
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w.ToArray()));
        // The same move built from its fields writes the same bytes.
        var built = type == (ushort)Ofp13ActionType.CopyField ? Ofp13Action.CopyField(InPortToVlanTci) : Ofp13Action.OnfCopyField(InPortToVlanTci);
        var w2 = new Ofp13Writer();
        Ofp13Actions.Encode(w2, [built]);
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w2.ToArray()));
    }

    [Theory]
    [InlineData("001c 0010 0010 0000 0000 0000 00000002", Ofp13Codes.ActionBadLen)]                                   // no room for the headers
    [InlineData("001c 0020 0010 0000 0000 0000 00000002 00000802 00000000 00000000", Ofp13Codes.ActionBadLen)]        // longer than two headers
    [InlineData("001c 0018 0010 0000 0000 0000 00000002 00000802 00000001", Ofp13Codes.ActionBadArgument)]            // padding not zero
    [InlineData("001c 0018 0010 0000 0000 0100 00000002 00000802 00000000", Ofp13Codes.ActionBadArgument)]            // pad not zero
    [InlineData("001c 0018 0010 0000 0000 0000 00000104 00000802 00000000", Ofp13Codes.ActionBadArgument)]            // a masked header
    [InlineData("001c 0018 0010 0000 0000 0000 ffff0008 00000802 00000000", Ofp13Codes.ActionBadArgument)]            // an experimenter header
    [InlineData("ffff 0020 4f4e4600 0c81 0000 0010 0000 0000 0000 00000002 00000802 00000000", Ofp13Codes.ActionBadExpType)]
    [InlineData("ffff 0018 4f4e4600 0c80 0000 0010 0000 0000 0000 00000002", Ofp13Codes.ActionBadLen)]
    [InlineData("ffff 0010 12345678 0c80 0000 00000000", Ofp13Codes.ActionBadExperimenter)]
    public void Malformed_IsRefusedWithItsCode(string hex, ushort code)
    {
        Assert.False(Ofp13Actions.TryDecode(Hex(hex), new List<Ofp13Action>(), out var error));
        Assert.Equal(Ofp13Error.BadAction(code), error);
    }
}
