using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// Open vSwitch's dp_hash (NXM_NX_DP_HASH: class NXM_1, field 35, 4 bytes, maskable) in an nx_match and in OpenFlow
/// 1.3's OXM match, where Open vSwitch writes it under the same class 1 header (it has no OXM of its own): decoded to
/// the field, encoded back to the same bytes.
/// </summary>
public sealed class DpHashCodecTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    [Theory]
    [InlineData("00 01 46 04 00 00 00 05", false, 5u, 0xffffffffu)]
    [InlineData("00 01 47 08 00 00 00 01 00 00 00 0f", true, 1u, 0xfu)]
    public void NxMatch_DpHash_RoundTrips(string hex, bool masked, uint value, uint mask)
    {
        byte[] wire = Hex(hex);
        var entries = new List<Ofp13Oxm>();
        Assert.True(NxMatch.TryDecode(wire, entries, out var error), error.ToString());
        Assert.Equal([new Ofp13Oxm(Ofp13Match.NxDpHash, masked, value, mask)], entries);
        var back = new byte[NxMatch.Size(entries.ToArray())];
        Assert.Equal(wire.Length, NxMatch.Write(back, entries.ToArray()));
        Assert.Equal(wire, back);
    }

    [Fact]
    public void NxMatch_DpHash_ValueOutsideItsMask_IsBadWildcards()
    {
        Assert.False(NxMatch.TryDecode(Hex("00 01 47 08 00 00 00 11 00 00 00 0f"), [], out var error));
        Assert.Equal(NxmError.BadWildcards, error);
    }

    [Fact]
    public void OxmMatch_DpHash_UnderClassNxm1_RoundTrips()
    {
        // ofp_match: type OXM (1), length 4 + 12, the masked TLV (a multiple of 8: no padding).
        byte[] wire = Hex("00 01 00 10 00 01 47 08 00 00 00 01 00 00 00 0f");
        var fields = new List<Ofp13Oxm>();
        Assert.True(Ofp13Match.TryDecode(wire, fields, out int size, out var error), error.ToString());
        Assert.Equal(wire.Length, size);
        Assert.Equal([new Ofp13Oxm(Ofp13Match.NxDpHash, true, 1, 0xf)], fields);
        Assert.Equal((Ofp13Match.ClassNxm1, (byte)35), Ofp13Match.WireOf(Ofp13Match.NxDpHash));
        Assert.True(Ofp13Match.Maskable(Ofp13Match.NxDpHash));
        var back = new byte[Ofp13Match.EncodedSize(fields.ToArray())];
        Assert.Equal(wire.Length, Ofp13Match.Encode(back, fields.ToArray()));
        Assert.Equal(wire, back);
    }
}
