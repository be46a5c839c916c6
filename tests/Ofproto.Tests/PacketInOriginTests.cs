using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>A packet-in's origin goes down as the datapath's opaque user data and tag and comes back unchanged.</summary>
public sealed class PacketInOriginTests
{
    [Theory]
    [InlineData(0xc0ffeeUL, (byte)3, true)]
    [InlineData(0UL, (byte)0, false)]
    [InlineData(ulong.MaxValue, (byte)254, false)]
    [InlineData(0x8000_0000_0000_0001UL, (byte)255, true)]
    public void Origin_ThroughControllerAction_ComesBackUnchanged(ulong cookie, byte table, bool tableMiss)
    {
        var origin = new PacketInOrigin(cookie, table, tableMiss);
        var a = FlowAction.OutputToController(128, origin.Cookie, origin.UserTag);
        Assert.Equal(origin, PacketInOrigin.FromUpcall(a.Value, (uint)a.Value2));
    }

    [Fact]
    public void CookieZeroInTableZero_IsAPlainControllerOutput()
    {
        // What ovs-ofctl's flows and the host's parser both install: the same datapath action, cookie 0 and table 0 back.
        var plain = FlowAction.Output(PortNumber.Controller, 128);
        var origin = new PacketInOrigin(0, 0, false);
        Assert.Equal(plain, FlowAction.OutputToController(128, origin.Cookie, origin.UserTag));
        Assert.Equal(origin, PacketInOrigin.FromUpcall(plain.Value, (uint)plain.Value2));
        Assert.Equal(PacketInOrigin.None, PacketInOrigin.FromUpcall(PacketInOrigin.None.Cookie, PacketInOrigin.None.UserTag));
    }
}
