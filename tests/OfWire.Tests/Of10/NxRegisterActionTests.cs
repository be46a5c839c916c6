using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// Open vSwitch's register actions in the Nicira codec: NXAST_REG_MOVE, NXAST_OUTPUT_REG and OUTPUT_REG2 read from the
/// bytes ovs-ofctl sends and written back to the same bytes; hostile lengths, padding and headers refused with Open
/// vSwitch's errors, never an exception.
/// </summary>
public class NxRegisterActionTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static TheoryData<string, string, NxAction> Golden => new()
    {
        // n_bits 16, src_ofs 0, dst_ofs 0, NXM_OF_IN_PORT, NXM_NX_REG0.
        { "move:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]", "ffff0018 00002320 0006 0010 0000 0000 00000002 00010004",
          new(NxActionSubtype.RegMove, FieldHeader: 0x00010004, SrcHeader: 0x00000002, Bits: 16) },
        { "move:NXM_NX_REG1[8..15]->NXM_OF_IP_DST[24..31]", "ffff0018 00002320 0006 0008 0008 0018 00010204 00001004",
          new(NxActionSubtype.RegMove, FieldHeader: 0x00001004, SrcHeader: 0x00010204, Bits: 8, SrcOfs: 8, DstOfs: 24) },
        // ofs_nbits 0x000f (ofs 0, 16 bits), NXM_NX_REG0, max_len 65535.
        { "output:NXM_NX_REG0[0..15]", "ffff0018 00002320 000f 000f 00010004 ffff 000000000000",
          new(NxActionSubtype.OutputReg, SrcHeader: 0x00010004, Bits: 16, MaxLen: 0xffff) },
        { "output(port=NXM_NX_REG3[4..11],max_len=128) as OUTPUT_REG2", "ffff0018 00002320 0020 0107 0080 00010604 000000000000",
          new(NxActionSubtype.OutputReg2, SrcHeader: 0x00010604, Bits: 8, SrcOfs: 4, MaxLen: 128) },
    };

    [Theory]
    [MemberData(nameof(Golden))]
    public void TheBytesOvsOfctlSends_ReadIntoTheFields_AndWriteBackTheSame(string text, string hex, NxAction expected)
    {
        byte[] wire = Hex(hex);
        Assert.True(OfpAction.TryDecode(wire, out var action, out int size, out var error), $"{text}: {error}");
        Assert.Equal(wire.Length, size);
        Assert.True(NxAction.TryDecode(action, out var nx, out error), $"{text}: {error}");
        Assert.Equal(expected, nx);
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.Equal(wire[8..], body);
    }

    [Fact]
    public void BadLengthsPaddingAndHeaders_AreRefusedWithOpenVswitchsErrors()
    {
        // A move 8 bytes short.
        Assert.False(NxAction.TryDecodeBody(Hex("0006 0010 0000 0000 00000002"), out _, out var e));
        Assert.Equal(NxActionError.BadLen, e);
        // OUTPUT_REG's zero bytes not zero: BAD_ARGUMENT; OUTPUT_REG2's padding: NXBRC_MUST_BE_ZERO.
        Assert.False(NxAction.TryDecodeBody(Hex("000f 000f 00010004 ffff 000000000001"), out _, out e));
        Assert.Equal(NxActionError.BadArgument, e);
        Assert.False(NxAction.TryDecodeBody(Hex("0020 000f ffff 00010004 000000000100"), out _, out e));
        Assert.Equal(NxActionError.MustBeZero, e);
        // A masked header (hasmask set) or an experimenter class (its header is 8 bytes) is no field of a move.
        Assert.False(NxAction.TryDecodeBody(Hex("0006 0010 0000 0000 00000102 00010004"), out _, out e));
        Assert.Equal(NxActionError.BadArgument, e);
        Assert.False(NxAction.TryDecodeBody(Hex("0006 0010 0000 0000 ffff0004 00010004"), out _, out e));
        Assert.Equal(NxActionError.BadArgument, e);
        // OpenFlow 1.0 names NXBRC_MUST_BE_ZERO as Open vSwitch does: NX1.0(1,515), inside NXET_VENDOR.
        Assert.True(OfpAction.TryDecode(Hex("ffff0018 00002320 0020 000f ffff 00010004 000000000100"), out var action, out _, out var error), error.ToString());
        Assert.False(NxAction.TryDecode(action, out _, out error));
        Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, 515), error);
    }
}
