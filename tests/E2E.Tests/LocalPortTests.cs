using System.Security.Cryptography;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>The switch's LOCAL port: a tap on the host, administratively down until the host brings it up.</summary>
public sealed class LocalPortTests
{
    /// <summary>
    /// The host itself (no namespace on its side) pings a veth host through flows between LOCAL and port 1; the tap
    /// is created down, appears as LOCAL in FEATURES_REPLY and port stats, and counts the traffic.
    /// </summary>
    [E2EFact]
    public void HostPingsThroughTheLocalTapAndFlows()
    {
        string tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string tap = "ssl" + tag;                       // 9 characters, private to this run
        int net = RandomNumberGenerator.GetInt32(16, 240);
        string hostIp = $"10.213.{net}.1", nsIp = $"10.213.{net}.2";
        using var ns = Netns.Create();
        ns.Exec("ip", "addr", "add", nsIp + "/24", "dev", ns.NsIf);
        using var sw = new SwitchProcess("afpacket:" + ns.HostIf, "--local-port", tap);
        try
        {
            // Created administratively down: the switch does not bring it up.
            string link = Sh.Run("ip", "-o", "link", "show", tap).Stdout;
            Assert.Contains(tap, link);
            Assert.DoesNotContain(",UP", link);
            Assert.DoesNotContain("<UP", link);
            string mac = File.ReadAllText($"/sys/class/net/{tap}/address").Trim();
            string show = sw.Ofctl("show");
            Assert.Contains($"LOCAL({tap}): addr:{mac}", show);

            sw.Ofctl("add-flow", "in_port=LOCAL,actions=output:1");
            sw.Ofctl("add-flow", "in_port=1,actions=output:LOCAL");
            Sh.Run("sysctl", "-qw", $"net.ipv6.conf.{tap}.disable_ipv6=1");
            Sh.Check("ip", "addr", "add", hostIp + "/24", "dev", tap);
            Sh.Check("ip", "link", "set", tap, "up");
            var ping = Sh.Run("ping", ["-c", "3", "-i", "0.2", "-W", "2", "-I", tap, nsIp], 20_000);
            Assert.True(ping.Ok, $"ping from the host through LOCAL failed: {ping.Stdout}{ping.Stderr}\n{sw.Ofctl("dump-flows")}\n{sw.Output}");

            string ports = sw.Ofctl("dump-ports", "LOCAL");
            Assert.Contains("port LOCAL:", ports);
            Assert.DoesNotContain("rx pkts=0,", ports);
            Assert.DoesNotContain("tx pkts=0,", ports);
            Assert.Contains("n_packets=", sw.Ofctl("dump-flows", "in_port=LOCAL"));
            Assert.DoesNotContain("n_packets=0,", sw.Ofctl("dump-flows", "in_port=LOCAL"));
        }
        finally
        {
            sw.Dispose();
        }
        Assert.False(Directory.Exists($"/sys/class/net/{tap}"), "the LOCAL tap outlived the switch");
    }

    /// <summary>
    /// A standalone learning switch (actions=NORMAL) floods broadcasts to the LOCAL tap too: a host in a namespace
    /// resolves and pings the host's address on the tap (its ARP request reaches the tap only by flooding).
    /// </summary>
    [E2EFact]
    public void NormalFloodsBroadcastsToTheLocalTap()
    {
        string tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string tap = "ptl" + tag;                       // 9 characters, private to this run
        int net = RandomNumberGenerator.GetInt32(16, 240);
        string hostIp = $"10.214.{net}.1", nsIp = $"10.214.{net}.2";
        using var ns = Netns.Create();
        ns.Exec("ip", "addr", "add", nsIp + "/24", "dev", ns.NsIf);
        using var sw = new SwitchProcess("afpacket:" + ns.HostIf, "--local-port", tap);
        sw.Ofctl("add-flow", "actions=NORMAL");
        Sh.Run("sysctl", "-qw", $"net.ipv6.conf.{tap}.disable_ipv6=1");
        Sh.Check("ip", "addr", "add", hostIp + "/24", "dev", tap);
        Sh.Check("ip", "link", "set", tap, "up");
        var ping = ns.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", hostIp);
        Assert.True(ping.Ok, $"ping from the namespace to the host's LOCAL tap failed: {ping.Stdout}{ping.Stderr}\n{sw.Ofctl("dump-ports", "LOCAL")}\n{sw.Output}");
    }

    /// <summary>--local-port none: no LOCAL port, and output:LOCAL is refused as OF1.0 requires for a missing port.</summary>
    [E2EFact]
    public void LocalPortNoneHasNoLocalPort()
    {
        using var ns = Netns.Create();
        using var sw = new SwitchProcess("afpacket:" + ns.HostIf, "--local-port", "none");
        Assert.DoesNotContain("LOCAL(", sw.Ofctl("show"));
        var r = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "add-flow", sw.Endpoint, "actions=output:LOCAL"], 30_000);
        Assert.Contains("OFPBAC_BAD_OUT_PORT", r.Stderr + r.Stdout);
    }
}
