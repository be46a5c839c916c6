using System.Net;
using System.Net.Sockets;
using Softswitch.Datapath;
using Softswitch.Metrics;
using Softswitch.OfAgent;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Metrics;

/// <summary>The metrics endpoint tells a user's mistake (an address in use) by <see cref="UserErrorException"/>, never by a bug's type.</summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task AnAddressInUse_IsAUserError_NamingTheAddress()
    {
        using var dp = new SwitchDatapath(new DatapathOptions());
        await using var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions());
        var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        try
        {
            int port = ((IPEndPoint)busy.LocalEndpoint).Port;
            var e = Assert.Throws<UserErrorException>(() => MetricsEndpoint.Start("127.0.0.1", port, dp, agent, offload: null));
            Assert.StartsWith($"cannot listen on http://127.0.0.1:{port}/metrics/: ", e.Message);
            Assert.NotNull(e.InnerException);
        }
        finally
        {
            busy.Stop();
        }
    }
}
