using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;

namespace Softswitch.OfWire.Tests.Of15;

/// <summary>
/// ofp_controller_status (<see cref="Ofp15ControllerStatus"/>) against bytes written by hand to OpenFlow 1.5.1's layout
/// (section 7.3.5.16: length, short_id, role, reason, channel_status, 6 pad bytes, then OFPCSPT_URI padded to 8; Open
/// vSwitch has no controller status to take vectors from), as an OFPMP_CONTROLLER_STATUS entry and inside
/// OFPT_CONTROLLER_STATUS; and the entries a reader refuses.
/// </summary>
public sealed class Of15ControllerStatusTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    // length 40, short_id 0, role MASTER (2), reason ROLE (2), channel UP (0); URI "tcp:10.0.0.1:6653" (17 bytes, length 21, 3 pad).
    private const string Entry = "00 28 00 00 00 00 00 02 02 00 00 00 00 00 00 00 " +
                                 "00 00 00 15 74 63 70 3a 31 30 2e 30 2e 30 2e 31 3a 36 36 35 33 00 00 00";

    [Fact]
    public void AnEntryWithItsUri_ReadAndWrittenBack_AndAsTheAsyncMessage()
    {
        byte[] e = Hex(Entry);
        Assert.True(Ofp15ControllerStatus.TryRead(e, out var s, out int size));
        Assert.Equal(40, size);
        Assert.Equal(new Ofp15ControllerStatus(0, 2, Ofp15ControllerStatus.ReasonRole, Ofp15ControllerStatus.ChannelUp, "tcp:10.0.0.1:6653"), s);
        var w = new Ofp13Writer();
        s.Write(w);
        Assert.Equal(e, w.ToArray());
        byte[] msg = s.Message(Ofp15.Version);
        Assert.Equal(Hex("06 23 00 30 00 00 00 00"), msg[..8]);
        Assert.Equal(e, msg[8..]);
        Assert.True(Ofp15ControllerStatus.TryDecodeMessage(msg, out var again));
        Assert.Equal(s, again);
        // Without a URI: 16 bytes.
        var bare = new Ofp15ControllerStatus(7, 1, Ofp15ControllerStatus.ReasonRequest, Ofp15ControllerStatus.ChannelDown, null);
        w = new Ofp13Writer();
        bare.Write(w);
        Assert.Equal(Hex("00 10 00 07 00 00 00 01 00 01 00 00 00 00 00 00"), w.ToArray());
    }

    [Fact]
    public void Refused_AShortLengthAPropertyPastItsEndAnUnknownPropertyTwoUris()
    {
        byte[] e = Hex(Entry);
        byte[] m = (byte[])e.Clone();
        m[1] = 0x0c;
        Assert.False(Ofp15ControllerStatus.TryRead(m, out _, out _));
        m = (byte[])e.Clone();
        m[19] = 0x30;
        Assert.False(Ofp15ControllerStatus.TryRead(m, out _, out _));
        m = (byte[])e.Clone();
        m[17] = 0x05;
        Assert.False(Ofp15ControllerStatus.TryRead(m, out _, out _));
        byte[] two = [.. Hex("00 30 00 00 00 00 00 01 00 00 00 00 00 00 00 00"), .. Hex("00 00 00 08 61 62 63 64"), .. Hex("00 00 00 08 61 62 63 64"), .. new byte[8]];
        two[1] = 0x20;
        Assert.False(Ofp15ControllerStatus.TryRead(two, out _, out _));
    }
}
