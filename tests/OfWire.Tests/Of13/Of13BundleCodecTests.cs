using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// Bundle messages in both framings (<see cref="Ofp13Bundle"/>): OpenFlow 1.4's types 33 and 34, checked against the
/// byte vectors Open vSwitch's ofp-print tests decode, and the ONF extension under 1.3; the refusals of a bad ADD; the
/// error in each version's form.
/// </summary>
public sealed class Of13BundleCodecTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    [Fact]
    public void A14OpenRequest_IsTheVectorOpenVswitchDecodes_AndDecodesBack()
    {
        var vector = Hex("05 21 00 10 00 00 00 00 00 00 00 01 00 00 00 01");
        Assert.Equal(vector, Ofp13Bundle.ControlRequest(5, 0, 1, Ofp13BundleCtrlType.OpenRequest, Ofp13Bundle.FlagAtomic));
        Assert.Equal(Ofp13Bundle.Of14BundleControl, Ofp13Bundle.Kind(vector));
        Assert.True(Ofp13Bundle.TryDecodeControl(vector, out uint id, out var type, out ushort flags, out _));
        Assert.Equal((1u, Ofp13BundleCtrlType.OpenRequest, Ofp13Bundle.FlagAtomic), (id, type, flags));
    }

    [Fact]
    public void The13Extension_CarriesTheSameBody_BehindTheOnfExperimenterHeader()
    {
        var m = Ofp13Bundle.ControlRequest(4, 0x11, 0x22, Ofp13BundleCtrlType.CommitRequest, 3);
        Assert.Equal(Hex("04 04 00 18 00 00 00 11 4f 4e 46 00 00 00 08 fc 00 00 00 22 00 04 00 03"), m);
        Assert.Equal(Ofp13Bundle.Of14BundleControl, Ofp13Bundle.Kind(m));
        Assert.True(Ofp13Bundle.TryDecodeControl(m, out uint id, out var type, out ushort flags, out _));
        Assert.Equal((0x22u, Ofp13BundleCtrlType.CommitRequest, (ushort)3), (id, type, flags));
        // Another experimenter, or the ONF's other types, are no bundle message; nor is type 33 under 1.3.
        var other = (byte[])m.Clone();
        other[11] = 1;
        Assert.Equal(0, Ofp13Bundle.Kind(other));
        other = (byte[])m.Clone();
        other[15] = 0xfe;
        Assert.Equal(0, Ofp13Bundle.Kind(other));
        Assert.Equal(0, Ofp13Bundle.Kind(Hex("04 21 00 10 00 00 00 00 00 00 00 01 00 00 00 01")));
        // A body cut short.
        Assert.False(Ofp13Bundle.TryDecodeControl(m.AsSpan(0, 20), out _, out _, out _, out var error));
        Assert.Equal(Ofp13Error.BadLength, error);
    }

    [Theory]
    [InlineData("05 21 00 14 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00")]
    [InlineData("04 04 00 1c 00 00 00 00 4f 4e 46 00 00 00 08 fc 00 00 00 01 00 00 00 01 ff ff 00 04")]
    public void AControlWhosePropertiesAreNotWhole8ByteUnits_IsABadLength(string hex)
    {
        // Open vSwitch's ofpraw layer reads the properties as uint8_t[8][]: 4 bytes after the body are OFPBRC_BAD_LEN.
        Assert.False(Ofp13Bundle.TryDecodeControl(Hex(hex), out _, out _, out _, out var error));
        Assert.Equal(Ofp13Error.BadLength, error);
        // Whole units are properties, skipped.
        var whole = Hex("05 21 00 18 00 00 00 00 00 00 00 01 00 00 00 01 ff ff 00 08 00 00 00 00");
        Assert.True(Ofp13Bundle.TryDecodeControl(whole, out uint id, out _, out _, out _));
        Assert.Equal(1u, id);
    }

    [Fact]
    public void A14AddOfAFlowMod_DecodesItsBundleAndItsMessage()
    {
        var vector = Hex("""
            05 22 00 a0 00 00 00 02 00 00 00 01 00 00 00 01
            05 0e 00 90 00 00 00 02 00 00 00 00 00 00 00 00
            00 00 00 00 00 00 00 00 01 00 00 00 00 00 ff ff
            ff ff ff ff ff ff ff ff ff ff ff ff 00 00 00 00
            00 01 00 42 80 00 00 04 00 00 00 01 80 00 08 06
            50 54 00 00 00 06 80 00 06 06 50 54 00 00 00 05
            80 00 0a 02 08 06 80 00 0c 02 00 00 80 00 2a 02
            00 02 80 00 2c 04 c0 a8 00 02 80 00 2e 04 c0 a8
            00 01 00 00 00 00 00 00 00 04 00 18 00 00 00 00
            00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00
            """.Replace("\n", " ", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal));
        Assert.Equal(Ofp13Bundle.Of14BundleAddMessage, Ofp13Bundle.Kind(vector));
        Assert.True(Ofp13Bundle.TryDecodeAdd(vector, out uint id, out ushort flags, out var inner, out var err));
        Assert.Equal(default, err);
        Assert.Equal((1u, Ofp13Bundle.FlagAtomic, 0x90, (byte)Ofp13Type.FlowMod), (id, flags, inner.Length, inner[1]));
        // Our encoding of the same ADD, as 1.4 and as the 1.3 extension.
        Assert.Equal(vector, Ofp13Bundle.AddMessage(5, 1, Ofp13Bundle.FlagAtomic, inner));
        var v13 = Ofp13Bundle.AddMessage(4, 1, Ofp13Bundle.FlagAtomic, inner);
        Assert.Equal(Ofp13Bundle.Of14BundleAddMessage, Ofp13Bundle.Kind(v13));
    }

    [Theory]
    [InlineData("05 22 00 20 00 00 00 00 00 00 00 01 00 00 00 01 05 00 00 08 00 00 00 01 00 00 00 00 00 00 00 00", Ofp13BundleError.MsgBadXid)]
    [InlineData("05 22 00 20 00 00 00 00 00 00 00 01 00 00 00 01 05 00 00 18 00 00 00 00 00 00 00 00 00 00 00 00", Ofp13BundleError.MsgBadLen)]
    [InlineData("05 22 00 20 00 00 00 00 00 00 00 01 00 00 00 01 05 00 00 04 00 00 00 00 00 00 00 00 00 00 00 00", Ofp13BundleError.MsgBadLen)]
    [InlineData("05 22 00 14 00 00 00 00 00 00 00 01 00 00 00 01 05 00 00 08", Ofp13BundleError.MsgBadLen)]
    [InlineData("05 22 00 20 00 00 00 00 00 00 00 01 00 00 00 01 04 00 00 08 00 00 00 00 00 00 00 00 00 00 00 00", Ofp13BundleError.MsgUnsup)]
    // Open vSwitch checks the inner version before the inner length: another version that is also too long is refused
    // for its version.
    [InlineData("05 22 00 20 00 00 00 00 00 00 00 01 00 00 00 01 04 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00", Ofp13BundleError.MsgUnsup)]
    [InlineData("05 22 00 20 00 00 00 00 00 00 00 01 00 00 00 01 06 00 00 04 00 00 00 00 00 00 00 00 00 00 00 00", Ofp13BundleError.MsgUnsup)]
    public void ABadAdd_IsRefusedWithItsBundleError(string hex, Ofp13BundleError expected)
    {
        Assert.False(Ofp13Bundle.TryDecodeAdd(Hex(hex), out _, out _, out _, out var err));
        Assert.Equal(Ofp13Bundle.Failed(expected), err);
    }

    [Fact]
    public void AnAddWithoutItsBundleHeader_IsABadLength()
    {
        Assert.False(Ofp13Bundle.TryDecodeAdd(Hex("05 22 00 0c 00 00 00 00 00 00 00 01"), out _, out _, out _, out var err));
        Assert.Equal(Ofp13Error.BadLength, err);
    }

    [Fact]
    public void TheBundleError_Is17UnderOneFour_AndTheOnfExperimenterErrorUnderOneThree()
    {
        var request = Hex("05 21 00 10 00 00 00 07 00 00 00 01 00 00 00 01");
        Assert.Equal(Hex("05 01 00 1c 00 00 00 07 00 11 00 03").Concat(request).ToArray(),
                     Ofp13Bundle.Error(5, Ofp13BundleError.BundleExist, request));
        Assert.Equal(Hex("04 01 00 20 00 00 00 07 ff ff 08 ff 4f 4e 46 00").Concat(request).ToArray(),
                     Ofp13Bundle.Error(4, Ofp13BundleError.BundleExist, request));
        // The codec's error writer writes a bundle error in the same forms.
        Assert.Equal(Ofp13Bundle.Error(5, Ofp13BundleError.BundleExist, request), Ofp13Messages.Error(5, Ofp13Bundle.Failed(Ofp13BundleError.BundleExist), request));
        Assert.Equal(Ofp13Bundle.Error(4, Ofp13BundleError.BundleExist, request), Ofp13Messages.Error(4, Ofp13Bundle.Failed(Ofp13BundleError.BundleExist), request));
    }
}
