using System.Security.Cryptography;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>The TAP backend: the port creates a tap interface, which is then moved into the namespace as the peer.</summary>
public sealed class TapPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    protected override bool CreatesInterface => true;

    protected override IPort Open(string ifname) => new TapPort(ifname);

    protected override (IPort Port, string PeerIf) OpenFor(Netns ns)
    {
        string name = "ssw" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant() + "t";
        var port = new TapPort(name);
        try
        {
            ns.Adopt(name);   // the tap (and its fd) keeps working from inside the namespace
        }
        catch
        {
            port.Dispose();
            throw;
        }
        return (port, name);
    }

    [Fact]
    public void Open_InvalidName_Throws()
    {
        var e = Assert.Throws<PortOpenException>(() => new TapPort("bad/name"));
        Assert.Equal(PortOpenError.InvalidSpec, e.Error);
    }
}
