namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// NXAST_LEARN and NXAST_LEARN2 (Open vSwitch lib/ofp-actions.c, lib/learn.c): the bytes Open vSwitch writes for the
/// advanced tutorial's learn, read into its parameters and specs and written back the same; every parameter and spec
/// kind round-trips; malformed bodies are refused with the codec's errors.
/// </summary>
public sealed class NxLearnTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    // learn(table=10,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]):
    // the body after the vendor id, 72 bytes (the action 80).
    private static readonly byte[] s_tutorial = Hex(
        "0010 0000 0000 8000 0000000000000000 0000 0a 00 0000 0000"
        + "000c 00000802 0000 00000802 0000"
        + "0030 00000406 0000 00000206 0000"
        + "0810 00000002 0000 00010004 0000"
        + "000000000000");

    [Fact]
    public void TheTutorialsLearn_ReadsAndWritesBackTheSameBytes()
    {
        Assert.True(NxAction.TryDecodeBody(s_tutorial, out var nx, out var error), error.ToString());
        Assert.Equal(NxActionSubtype.Learn, nx.Subtype);
        var l = nx.Learn!;
        Assert.Equal((byte)10, l.Table);
        Assert.Equal((ushort)0x8000, l.Priority);
        Assert.Equal(new[]
        {
            new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Match, 12, 0x802, 0, 0, 0x802, 0),
            new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Match, 48, 0x406, 0, 0, 0x206, 0),
            new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Load, 16, 0x2, 0, 0, 0x10004, 0),
        }, l.Specs);
        Assert.Equal(s_tutorial.Length, nx.BodySize);
        var back = new byte[nx.BodySize];
        nx.WriteBody(back);
        Assert.Equal(s_tutorial, back);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryParameterAndSpecKind_RoundTrips(bool learn2)
    {
        var l = new NxLearn(10, 20, 7, 0xfedcba9876543210, NxLearn.SendFlowRem | NxLearn.DeleteLearned, 3, 5, 9,
        [
            new NxLearnSpec(NxLearnSrc.Immediate, NxLearnDst.Match, 16, Value: 99, DstHeader: 0x2),                 // in_port=99
            new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Match, 48, 0x406, 0, 0, 0x206, 0),                           // eth_dst=eth_src
            new NxLearnSpec(NxLearnSrc.Immediate, NxLearnDst.Load, 6, Value: 0xa, DstHeader: 0x10004, DstOfs: 5),     // load:0xa->reg0[5..10]
            new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Load, 16, 0x2, 0, 0, 0x10204, 16),                           // load:in_port->reg1[16..31]
            new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Output, 16, 0x2),                                            // output:in_port
            new NxLearnSpec(NxLearnSrc.Immediate, NxLearnDst.Match, 128, Value: UInt128.MaxValue - 5, DstHeader: 0x13210),
        ], learn2, learn2 ? 100u : 0);
        var nx = NxAction.OfLearn(l);
        Assert.Equal(0, (8 + nx.BodySize) % 8);
        var body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.True(NxAction.TryDecodeBody(body, out var back, out var error), error.ToString());
        Assert.Equal(learn2 ? NxActionSubtype.Learn2 : NxActionSubtype.Learn, back.Subtype);
        Assert.Equal(l, back.Learn);
        Assert.Equal(nx, back);
    }

    [Theory]
    [InlineData(19, 1, NxActionError.BadArgument)]  // the pad after table_id
    [InlineData(17, 0x08, NxActionError.BadArgument)] // a flag LEARN does not have (WRITE_RESULT is LEARN2's)
    [InlineData(24, 0x18, NxActionError.BadArgument)] // a spec of destination type 3
    [InlineData(71, 1, NxActionError.BadArgument)]  // non-zero after the specs
    public void MalformedBodies_AreRefused(int at, byte value, NxActionError expected)
    {
        var b = (byte[])s_tutorial.Clone();
        b[at] |= value;
        Assert.False(NxAction.TryDecodeBody(b, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void ATruncatedSpec_OrAnImmediateWiderThan128Bits_IsRefused()
    {
        Assert.False(NxAction.TryDecodeBody(s_tutorial.AsSpan(0, 24 + 10), out _, out var error));
        Assert.Equal(NxActionError.BadLen, error);
        Assert.False(NxAction.TryDecodeBody(s_tutorial.AsSpan(0, 20), out _, out error));
        Assert.Equal(NxActionError.BadLen, error);
        // An immediate match of 144 bits (9 16-bit words) then a destination: wider than any field.
        var wide = new byte[24 + 2 + 18 + 6 + 6];
        s_tutorial.AsSpan(0, 24).CopyTo(wide);
        wide[24] = 0x20;
        wide[25] = 144;
        Assert.False(NxAction.TryDecodeBody(wide, out _, out error));
        Assert.Equal(NxActionError.BadArgument, error);
    }
}
