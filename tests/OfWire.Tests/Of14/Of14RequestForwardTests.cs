using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire.Tests.Of14;

/// <summary>
/// OFPT_REQUESTFORWARD (<see cref="Ofp14RequestForward"/>) against Open vSwitch's four OF1.4 vectors
/// (openvswitch/ovs tests/ofp-print.at, commit d6a632a9, "OFP_REQUESTFORWARD - OF1.4"; the text ovs-ofctl prints is
/// quoted beside each): read (the reason, the inner request as its own codec reads it) and written back byte for byte;
/// and the refusals Open vSwitch's ofputil_decode_requestforward gives.
/// </summary>
public sealed class Of14RequestForwardTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    [Theory]
    // reason=group_mod ADD group_id=1,type=all
    [InlineData("05 20 00 18 00 00 00 02 05 0f 00 10 02 00 00 00 00 00 00 00 00 00 00 01", Ofp14RequestForward.ReasonGroupMod, 0, 0)]
    // reason=group_mod MOD group_id=1,type=select
    [InlineData("05 20 00 18 00 00 00 02 05 0f 00 10 02 00 00 00 00 01 01 00 00 00 00 01", Ofp14RequestForward.ReasonGroupMod, 1, 1)]
    // reason=meter_mod ADD meter=1 bands=
    [InlineData("05 20 00 18 00 00 00 02 05 1d 00 10 02 00 00 00 00 00 00 00 00 00 00 01", Ofp14RequestForward.ReasonMeterMod, 0, 0)]
    // reason=meter_mod MOD meter=1 flags:0x100 bands=
    [InlineData("05 20 00 18 00 00 00 02 05 1d 00 10 02 00 00 00 00 01 01 00 00 00 00 01", Ofp14RequestForward.ReasonMeterMod, 1, 0x100)]
    public void OvsVectors_ReadAndWrittenBack(string hex, byte reason, ushort command, int typeOrFlags)
    {
        byte[] msg = Hex(hex);
        Assert.True(Ofp14RequestForward.TryDecode(msg, out int at, out int len, out byte r, out var e), e.ToString());
        Assert.Equal((reason, 8, 16), (r, at, len));
        byte[] inner = msg[at..(at + len)];
        if (reason == Ofp14RequestForward.ReasonGroupMod)
        {
            var g = new Ofp13GroupMod();
            Assert.True(g.TryDecode(inner, out e), e.ToString());
            Assert.Equal((command, (byte)typeOrFlags, 1u, 0x02000000u), (g.Command, g.GroupType, g.GroupId, g.Xid));
            Assert.Empty(g.Buckets);
        }
        else
        {
            var m = new Ofp13MeterMod();
            Assert.True(m.TryDecode(inner, out e), e.ToString());
            Assert.Equal((command, (ushort)typeOrFlags, 1u), (m.Command, m.Flags, m.MeterId));
            Assert.Empty(m.Bands);
        }
        Assert.Equal(msg, Ofp14RequestForward.Encode(Ofp13.Version14, inner, xid: 2));
        // The switch's own: xid 0 outside, the request's inside.
        Assert.Equal(0u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(Ofp14RequestForward.Encode(Ofp13.Version14, inner).AsSpan(4)));
    }

    [Fact]
    public void Refusals_AsOpenVswitch()
    {
        byte[] ok = Hex("05 20 00 18 00 00 00 02 05 0f 00 10 02 00 00 00 00 00 00 00 00 00 00 01");
        // An inner length past the message: OFPBFC_MSG_BAD_LEN.
        byte[] m = (byte[])ok.Clone();
        m[11] = 0x20;
        Assert.False(Ofp14RequestForward.TryDecode(m, out _, out _, out _, out var e));
        Assert.Equal(new Ofp13Error((Ofp13ErrorType)Ofp13Bundle.Of14BundleFailed, (ushort)Ofp13BundleError.MsgBadLen), e);
        // An inner version other than the outer's: BAD_VERSION.
        m = (byte[])ok.Clone();
        m[8] = 4;
        Assert.False(Ofp14RequestForward.TryDecode(m, out _, out _, out _, out e));
        Assert.Equal(Ofp13Error.BadRequest(Ofp13Codes.BadVersion), e);
        // An inner request that is neither GROUP_MOD nor METER_MOD: BAD_TYPE.
        m = (byte[])ok.Clone();
        m[9] = (byte)Ofp13Type.FlowMod;
        Assert.False(Ofp14RequestForward.TryDecode(m, out _, out _, out _, out e));
        Assert.Equal(Ofp13Error.BadRequest(Ofp13Codes.BadType), e);
        // No inner header.
        Assert.False(Ofp14RequestForward.TryDecode(Hex("05 20 00 0c 00 00 00 02 05 0f 00 10"), out _, out _, out _, out _));
    }
}
