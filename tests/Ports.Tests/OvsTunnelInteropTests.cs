using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;
using Softswitch.Ports.AfPacket;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// Our GRE, VXLAN and Geneve tunnel ports against Open vSwitch's user-space native tunneling, a second implementation
/// written from the RFCs (and the only GRE and Geneve peer here: this kernel has no gretap and no geneve module).
/// </summary>
/// <remarks>
/// Topology, every link a veth pair:
/// <code>
///  host A ── [ our SwitchDatapath, NORMAL ] ══ underlay ══ [ OVS br-ul (10.98.0.2) ]   [ OVS br-ov, NORMAL ] ── host B
///  192.168.98.1   port 1   tunnel port 10   port 2      namespace "ovs", native tunnel port tun0 on br-ov   192.168.98.2
/// </code>
/// Open vSwitch runs in its own namespace with a private run directory (<see cref="OvsUserspace"/>). Its tunnel
/// traffic leaves through br-ul, the bridge that owns the underlay address: OVS routes to our endpoint with the
/// namespace's routing table (br-ul's address) and resolves our endpoint's MAC with its own ARP, which our underlay
/// binding answers; we resolve br-ul's MAC the same way. Host A pings host B, host B pings host A, and host A runs a
/// short TCP exchange with host B. A capture on OVS's end of the underlay (where the frames we send are visible: ours bypass the taps on our end)
/// goes through tshark, which must dissect our frames as the tunnel kind with the right key, a good outer IPv4
/// checksum and good inner checksums.
/// <para>
/// IP-in-IP is not here: Open vSwitch has no IP-in-IP tunnel port. Version 3.1 lists its interface types as afxdp,
/// afxdp-nonpmd, bareudp, erspan, geneve, gre, gtpu, internal, ip6erspan, ip6gre, lisp, patch, stt, system, tap and
/// vxlan (<c>ovs-vsctl get Open_vSwitch . iface_types</c>), and its gre with packet_type=legacy_l3 is GRE protocol
/// 0x0800, not IP protocol 4. Both ends of our IP-in-IP are ours in the two-switch end-to-end test
/// (E2E.Tests TwarenTunnelTests), which also checks our IP-in-IP frames with tshark.
/// </para>
/// </remarks>
[RequiresTool("ovs-vswitchd")]
[RequiresTool("tcpdump")]
[RequiresTool("tshark")]
public sealed class OvsTunnelInteropTests(ITestOutputHelper output)
{
    private const string UnderOurs = "10.98.0.1", UnderOvs = "10.98.0.2";
    private const string HostA = "192.168.98.1", HostB = "192.168.98.2";
    private static readonly MacAddress OurEndpointMac = MacAddress.Parse("02:98:00:00:00:01");
    private static readonly MacAddress OvsBridgeMac = MacAddress.Parse("02:98:00:00:00:02");

    [NetnsFact]
    public void OvsGreWithoutKeyCarriesPingAndTcp() => Run("gre", key: null);

    /// <summary>A key with the top bit set: all 32 bits go on the wire in network order.</summary>
    [NetnsFact]
    public void OvsGreWithKeyCarriesPingAndTcp() => Run("gre", key: 0xC0FFEE42);

    /// <summary>OVS sends outer UDP checksums (options:csum=true), so our receive path verifies real ones; we send zero.</summary>
    [NetnsFact]
    public void OvsVxlanWithUdpChecksumsCarriesPingAndTcp() => Run("vxlan", key: 5005, ovsOptions: ["options:csum=true"]);

    /// <summary>Geneve with a key both ways; OVS sends outer UDP checksums (csum=true), which our receive path
    /// verifies, and we send zero, its default.</summary>
    [NetnsFact]
    public void OvsGeneveWithKeyCarriesPingAndTcp() => Run("geneve", key: 0xC0FFEE, ovsOptions: ["options:csum=true"]);

    private void Run(string kind, uint? key, string[]? ovsOptions = null)
    {
        using var underlay = Netns.Create();   // the namespace Open vSwitch runs in; its veth is the underlay
        using var hostA = Netns.Create();
        using var hostB = Netns.Create();
        Sh.Check("ip", "link", "set", hostB.HostIf, "netns", underlay.Name);
        Sh.Check("ip", "-n", underlay.Name, "link", "set", hostB.HostIf, "up");
        // 1400 leaves room for the outer headers on a 1500-byte underlay, as on any VXLAN or GRE deployment.
        foreach (var (h, ip) in new[] { (hostA, HostA), (hostB, HostB) })
        {
            Sh.Check("ip", "-n", h.Name, "addr", "add", ip + "/24", "dev", h.NsIf);
            Sh.Check("ip", "-n", h.Name, "link", "set", h.NsIf, "mtu", "1400");
        }

        using var ovs = OvsUserspace.Start(underlay);
        ovs.Vsctl("add-br", "br-ul", "--", "set", "bridge", "br-ul", "datapath_type=netdev", $"other_config:hwaddr={OvsBridgeMac}");
        ovs.Vsctl("add-port", "br-ul", underlay.NsIf);
        ovs.Vsctl("add-br", "br-ov", "--", "set", "bridge", "br-ov", "datapath_type=netdev");
        ovs.Vsctl("add-port", "br-ov", hostB.HostIf);
        string[] tun = ["add-port", "br-ov", "tun0", "--", "set", "interface", "tun0", $"type={kind}", $"options:remote_ip={UnderOurs}", $"options:local_ip={UnderOvs}"];
        if (key is { } k) tun = [.. tun, $"options:key={k}"];
        ovs.Vsctl([.. tun, .. ovsOptions ?? []]);
        Sh.Check("ip", "-n", underlay.Name, "addr", "add", UnderOvs + "/24", "dev", "br-ul");
        Sh.Check("ip", "-n", underlay.Name, "link", "set", "br-ul", "up");

        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }) { MissBehavior = MissBehavior.Normal };
        dp.AddPort(new AfPacketPort(hostA.HostIf), 1);
        dp.AddPort(new AfPacketPort(underlay.HostIf), 2);
        dp.SetPortConfig(2, PortConfig.NoFlood, PortConfig.NoFlood);
        var tk = kind switch { "vxlan" => TunnelKind.Vxlan, "geneve" => TunnelKind.Geneve, _ => TunnelKind.Gre };
        var t = dp.Tunnels.Add(TestTunnels.Of(tk, key, "t", Ipv4.Parse(UnderOurs), Ipv4.Parse(UnderOvs)) with
        {
            PortNo = 10, Underlay = 2, LocalMac = OurEndpointMac,
        });

        string pcap = Path.Combine(ovs.RunDir, "underlay.pcap");
        using var cap = Tcpdump.Start(underlay.NsIf, pcap, underlay.Name);
        dp.Start();
        try
        {
            string Describe() => $"{Counters(dp, t)}\nOVS tnl/arp: {ovs.Appctl("tnl/arp/show")}\nOVS route: {ovs.Appctl("ovs/route/show")}\n{ovs.LogTail}";
            var ping = hostA.Exec("ping", "-c", "3", "-i", "0.2", "-w", "8", HostB);
            output.WriteLine(ping.Stdout);
            Assert.True(ping.Ok && ping.Stdout.Contains(" 0% packet loss"), $"ping through OVS {kind} failed: {ping.Stdout}{ping.Stderr}\n{Describe()}");
            ping = hostB.Exec("ping", "-c", "3", "-i", "0.2", "-w", "8", HostA);
            Assert.True(ping.Ok && ping.Stdout.Contains(" 0% packet loss"), $"ping from the OVS side over {kind} failed: {ping.Stdout}{ping.Stderr}\n{Describe()}");
            Assert.Equal(HostA, TcpEcho.Run(hostB, HostB, hostA, 15001, 64 * 1024, Describe));

            // Both ends resolved the other's endpoint with ARP on the underlay.
            Assert.Equal(OvsBridgeMac, t.NextHopMac);
            Assert.Contains(OurEndpointMac.ToString(), ovs.Appctl("tnl/arp/show"));
            Assert.True(t.Counters.TxPackets >= 6 + 49 && t.Counters.RxPackets >= 6 + 49, Counters(dp, t));
            Assert.Equal(0, dp.Tunnels.ReceiveDrops.Total);
            Assert.Equal(0, t.Drops.Total);
        }
        finally
        {
            dp.Stop();
            cap.Stop();
        }
        // 3 echo requests, 3 replies and the 64 KiB in segments of at most 1348 bytes (49 or more) went out through our tunnel.
        var ours = TunnelFrameCheck.AssertOurFrames(Tshark.Dissect(pcap), kind, UnderOurs, key, 6 + 49);
        Assert.True(ours.Count(f => f.Protocols.EndsWith(":tcp", StringComparison.Ordinal) || f.Protocols.Contains(":tcp:", StringComparison.Ordinal)) >= 49,
            "the TCP segments are not in the capture");
        output.WriteLine($"{kind}: tshark dissected {ours.Count} frames we sent; tunnel tx={t.Counters.TxPackets} rx={t.Counters.RxPackets}");
    }

    private static string Counters(SwitchDatapath dp, TunnelPort t)
    {
        var drops = Enum.GetValues<TunnelDropReason>().Where(r => r != TunnelDropReason.Count && dp.Tunnels.DropCount(r) != 0)
            .Select(r => $"{r}={dp.Tunnels.DropCount(r)}");
        return $"tunnel tx={t.Counters.TxPackets} rx={t.Counters.RxPackets} arp-requests={t.ArpRequestsSent} next-hop={t.NextHopMac?.ToString() ?? "unresolved"} " +
               $"held={t.HeldCount} drops: {string.Join(' ', drops)}";
    }
}
