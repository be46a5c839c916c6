using Softswitch.Datapath.Flow;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests;

/// <summary>
/// The ports' one vocabulary: a request (kind, name, options) opens the backend it names with its options, as both
/// hosts ask (`run`'s --ports items through <see cref="PortSpec.Open"/>, vswitchd's Interface types directly).
/// </summary>
public sealed class PortFactoryTests
{
    [NetnsFact]
    public void ATapRequest_OpensATapWithItsDeviceSettings_DownWhenAskedSo()
    {
        string name = $"pft{Environment.ProcessId % 100000}";
        var mac = new MacAddress(0x02_00_00_00_00_6bUL);
        using var port = PortFactory.Open(new PortRequest(PortKind.Tap, name) { Tap = new TapOptions(AdminUp: false, mac, 1400) });
        Assert.IsType<TapPort>(port);
        Assert.Equal((mac, 1400), (port.Info.HwAddr, port.Info.Mtu));
        // Left down, as an internal port is made: IFF_UP (bit 0) clear.
        int flags = Convert.ToInt32(File.ReadAllText($"/sys/class/net/{name}/flags").Trim(), 16);
        Assert.Equal(0, flags & 1);
    }

    [Fact]
    public void AnAfPacketRequest_ForAMissingInterface_IsAnOpenErrorNamingIt()
    {
        var e = Assert.Throws<PortOpenException>(() => PortFactory.Open(new PortRequest(PortKind.AfPacket, "nosuch0pf")
        {
            AfPacket = new AfPacketOptions { RingSize = 1 << 20 },
        }));
        Assert.Contains("nosuch0pf", e.Message);
    }

    [Fact]
    public void AMemoryRequest_IsRefused_ItsHostMakesThem()
    {
        var e = Assert.Throws<PortOpenException>(() => PortFactory.Open(new PortRequest(PortKind.Memory, "mem1")));
        Assert.Equal(PortOpenError.Unsupported, e.Error);
    }
}
