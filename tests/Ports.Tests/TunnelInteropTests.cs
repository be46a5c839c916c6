using System.Diagnostics;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;
using Softswitch.Ports.AfPacket;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// Our tunnel ports against the Linux kernel's: a namespace holds a Linux vxlan / gretap / ipip device over one end
/// of a veth pair; the other end is the switch's underlay (AF_PACKET). Behind the tunnel port the switch has a
/// simulated host on an in-memory port, and runs as a learning switch (NORMAL). Linux pings the host through its
/// tunnel device, and the host pings Linux back, so both encapsulation and decapsulation, and ARP on the underlay in
/// both directions (Linux resolving our endpoint, us resolving Linux's), are checked against the kernel.
/// </summary>
/// <remarks>
/// Needs root and `ip netns` (skipped with the reason otherwise, see <see cref="NetnsFactAttribute"/>). A device type
/// the kernel lacks (ip_gre, ipip modules) makes its test skipped, with the reason (<see cref="RequiresLinkTypeAttribute"/>).
/// </remarks>
public sealed class TunnelInteropTests(ITestOutputHelper output)
{
    private const string UnderLinux = "10.99.0.2", UnderOurs = "10.99.0.1";
    private const string OverLinux = "192.168.77.2", OverHost = "192.168.77.1";
    private static readonly MacAddress OurEndpointMac = MacAddress.Parse("02:99:00:00:00:01");
    private static readonly MacAddress HostMac = MacAddress.Parse("0e:00:00:00:77:01");
    private static readonly MacAddress LinuxDevMac = MacAddress.Parse("0e:00:00:00:77:02");

    [NetnsFact]
    public void LinuxVxlanDeviceTalksToTheTunnelPort()
        => Run("vxlan", $"type vxlan id 100 local {UnderLinux} remote {UnderOurs} dstport 4789", TunnelKind.Vxlan, 100, l2: true);

    /// <summary>Linux computes the outer UDP checksum (<c>udpcsum</c>): our receive path verifies it.</summary>
    [NetnsFact]
    public void LinuxVxlanDeviceWithUdpChecksumsTalksToTheTunnelPort()
        => Run("vxlan", $"type vxlan id 4000 local {UnderLinux} remote {UnderOurs} dstport 4789 udpcsum", TunnelKind.Vxlan, 4000, l2: true);

    [NetnsFact]
    [RequiresLinkType("gretap", "ip_gre")]
    public void LinuxGretapDeviceWithKeyTalksToTheTunnelPort()
        => Run("gretap", $"type gretap local {UnderLinux} remote {UnderOurs} key 5", TunnelKind.Gre, 5, l2: true);

    [NetnsFact]
    [RequiresLinkType("ipip", "ipip")]
    public void LinuxIpipDeviceTalksToTheTunnelPort()
        => Run("ipip", $"type ipip local {UnderLinux} remote {UnderOurs}", TunnelKind.Ipip, null, l2: false,
            ours: c => c with { InnerSrcMac = MacAddress.Parse("0e:00:00:00:77:fe"), InnerDstMac = HostMac });

    /// <param name="type">The Linux device type.</param>
    /// <param name="kind">Our tunnel port's kind, with <paramref name="key"/> its VNI or GRE key (none when null).</param>
    /// <param name="ours">Changes to our tunnel port's config beyond the kind, endpoints and key.</param>
    private void Run(string type, string linkArgs, TunnelKind kind, uint? key, bool l2, Func<TunnelConfig, TunnelConfig>? ours = null)
    {
        using var ns = Netns.Create();
        const string dev = "tun0";
        Check(ns.Exec("ip", "addr", "add", UnderLinux + "/24", "dev", ns.NsIf));
        Check(ns.Exec(["ip", "link", "add", dev, .. linkArgs.Split(' '), "dev", ns.NsIf]));
        if (l2) Check(ns.Exec("ip", "link", "set", dev, "address", LinuxDevMac.ToString()));
        ns.Exec("sysctl", "-qw", $"net.ipv6.conf.{dev}.disable_ipv6=1");
        Check(ns.Exec("ip", "addr", "add", OverLinux + "/24", "dev", dev));
        Check(ns.Exec("ip", "link", "set", dev, "up"));
        string linuxUnderMac = ns.NsMac;

        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }) { MissBehavior = MissBehavior.Normal };
        dp.AddPort(new AfPacketPort(ns.HostIf), 1);
        var hostPort = new MemoryPort("host", MacAddress.Parse("0e:00:00:00:00:02"));
        dp.AddPort(hostPort, 2);
        // The underlay is not part of the overlay's L2 domain: NORMAL must not flood onto it.
        dp.SetPortConfig(1, PortConfig.NoFlood, PortConfig.NoFlood);
        var host = new SimulatedHost("h", hostPort, HostMac, Ipv4.Parse(OverHost));
        // The endpoint MAC is not the veth's, so the root namespace's kernel ignores the tunnel traffic.
        var config = TestTunnels.Of(kind, key, "t", Ipv4.Parse(UnderOurs), Ipv4.Parse(UnderLinux)) with { PortNo = 10, Underlay = 1, LocalMac = OurEndpointMac };
        var tun = dp.Tunnels.Add(ours is null ? config : ours(config));
        dp.Start();
        try
        {
            // Linux → host (Linux resolves our endpoint with ARP; we decapsulate, the host answers, we encapsulate).
            var ping = ns.Exec("ping", "-c", "3", "-i", "0.2", "-w", "8", OverHost);
            output.WriteLine(ping.Stdout);
            Assert.True(ping.Ok, $"ping from Linux through {type} failed: {ping.Stdout}{ping.Stderr}\n{Describe(dp, tun)}");
            Assert.Contains(" 0% packet loss", ping.Stdout);
            Assert.True(host.EchoRequestsAnswered >= 3);
            Assert.Equal(MacAddress.Parse(linuxUnderMac), tun.NextHopMac);
            Assert.Contains(OurEndpointMac.ToString(), ns.Exec("ip", "neigh", "show", UnderOurs).Stdout);

            if (l2)
            {
                // host → Linux: the host resolves Linux's device MAC through the tunnel first.
                for (ushort seq = 1; seq <= 3; seq++) host.Ping(Ipv4.Parse(OverLinux), 0x77, seq);
                var sw = Stopwatch.StartNew();
                while (host.EchoRepliesReceived < 3 && sw.ElapsedMilliseconds < 10_000) Thread.Sleep(20);
                Assert.True(host.EchoRepliesReceived == 3, $"host got {host.EchoRepliesReceived}/3 replies from Linux\n{Describe(dp, tun)}");
            }
            Assert.True(tun.Counters.RxPackets >= 3 && tun.Counters.TxPackets >= 3, Describe(dp, tun));
            Assert.Equal(0, dp.Tunnels.ReceiveDrops.Total);
        }
        finally
        {
            dp.Stop();
        }
    }

    private static string Describe(SwitchDatapath dp, TunnelPort t)
    {
        var names = Enum.GetValues<TunnelDropReason>().Where(r => r != TunnelDropReason.Count && dp.Tunnels.DropCount(r) != 0)
            .Select(r => $"{r}={dp.Tunnels.DropCount(r)}");
        return $"tunnel tx={t.Counters.TxPackets} rx={t.Counters.RxPackets} arp-requests={t.ArpRequestsSent} next-hop={t.NextHopMac?.ToString() ?? "unresolved"} " +
               $"held={t.HeldCount} drops: {string.Join(' ', names)}";
    }

    private static void Check(Sh.Result r)
    {
        if (!r.Ok) throw new InvalidOperationException($"command failed: {r.Stderr}");
    }
}
