using System.Security.Cryptography;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.AfPacket;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

public sealed class AfPacketPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    [Fact]
    public void Open_MissingInterface_ThrowsPortOpenException() => AssertAMissingInterfaceIsRefused();

    protected override IPort Open(string ifname) => new AfPacketPort(ifname);

    /// <summary>
    /// rx_errors is a counter AF_PACKET keeps: 0 from the start (not -1, which port stats report as all ones, "not
    /// kept"), in the port and in the receivers it splits into; the counters it does not keep stay -1.
    /// </summary>
    [NetnsFact]
    public void RxErrorsIsKeptFromZero_TheCountersItDoesNotKeepAreMarkedSo()
    {
        string tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string a = "pt" + tag + "a", b = "pt" + tag + "b";
        Sh.Check("ip", "link", "add", a, "type", "veth", "peer", "name", b);
        try
        {
            using var port = new AfPacketPort(a);
            var c = port.Counters.Snapshot();
            Assert.Equal(0, c.RxErrors);
            Assert.Equal(-1, c.RxFrameErrors);
            Assert.Equal(-1, c.RxOverErrors);
            Assert.Equal(-1, c.RxCrcErrors);
            Assert.Equal(-1, c.Collisions);
            var receivers = port.OpenReceivers(2);
            try
            {
                Assert.Equal(2, receivers.Length);
                Assert.Same(port.Counters, receivers[1].Counters);
                Assert.Equal(0, receivers[1].Counters.RxErrors);
            }
            finally
            {
                for (int i = 1; i < receivers.Length; i++) receivers[i].Dispose();
            }
        }
        finally
        {
            Sh.Run("ip", "link", "del", a);
        }
    }
}
