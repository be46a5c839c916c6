using Softswitch.Datapath.Pipeline;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Tests.Infra;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>AF_XDP with the default mode choice (native on veth when the kernel allows it).</summary>
public sealed class AfXdpPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    protected override IPort Open(string ifname)
    {
        var port = new AfXdpPort(ifname);
        Output.WriteLine($"afxdp:{ifname} attached in {port.AttachedMode} mode");
        return port;
    }

    [NetnsFact]
    public void Dispose_DetachesXdpProgram()
    {
        using var ns = Netns.Create();
        var port = new AfXdpPort(ns.HostIf);
        Assert.Contains("xdp", Sh.Check("ip", "link", "show", ns.HostIf));
        port.Dispose();
        Assert.DoesNotContain("xdp", Sh.Check("ip", "link", "show", ns.HostIf));
    }
}

/// <summary>AF_XDP forced into generic (skb) XDP mode, the fallback for drivers without native XDP.</summary>
public sealed class AfXdpGenericPortTests(ITestOutputHelper output) : PortBackendTests(output)
{
    protected override IPort Open(string ifname)
    {
        var port = new AfXdpPort(ifname, new AfXdpOptions { Mode = XdpAttachMode.Generic });
        Assert.Equal(XdpAttachMode.Generic, port.AttachedMode);
        return port;
    }
}
