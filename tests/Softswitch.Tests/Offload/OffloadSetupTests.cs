using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.Offload;

namespace Softswitch.Tests.Offload;

public sealed class OffloadSetupTests
{
    /// <summary>A board given more ports than it has is the user's mistake: an error that says so, not an exception.</summary>
    [Fact]
    public void NetFpga_WithTooManyPorts_IsAUserError()
    {
        using var dp = new SwitchDatapath();
        var ports = Enumerable.Range(1, 5).Select(i => (IPort)new MemoryPort($"nf{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i))).ToList();
        Assert.False(OffloadSetup.TryAttach("netfpga-emulated", dp, ports, NullLogger.Instance, out var attached, out var error));
        Assert.Null(attached);
        Assert.Equal("--offload netfpga-emulated: a NetFPGA-1G has 1 to 4 ports, not 5", error);
    }
}
