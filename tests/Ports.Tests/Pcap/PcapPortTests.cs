using Softswitch.Datapath.Ports;
using Softswitch.Ports.Pcap;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.Pcap;

[TestKit.RequiresLibrary("libpcap.so.0.8", "apt-get install libpcap0.8")]
public sealed class PcapPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    [Fact]
    public void Open_MissingInterface_ThrowsPortOpenException() => AssertAMissingInterfaceIsRefused();

    protected override IPort Open(string ifname) => new PcapPort(ifname);
}
