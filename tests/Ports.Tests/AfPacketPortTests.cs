using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.AfPacket;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

public sealed class AfPacketPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    protected override IPort Open(string ifname) => new AfPacketPort(ifname);
}
