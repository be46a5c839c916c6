using System.Text.RegularExpressions;
using Softswitch.Datapath.Flow;
using Softswitch.Ports.Tests.Infra;

namespace Softswitch.E2E.Tests;

/// <summary>
/// seeds/000 (TWAREN) across two switches: two Softswitch daemons, AcS1 in domain 1 and AcS2 in domain 2, joined by a
/// tunnel over their own underlay veth pair, so that the two domains share one L2 segment. VM-S has migrated into
/// domain 2 with its IP and MAC. Hosts in domain 1 still reach it through the tunnel; with the paper's flow1/flow4 at
/// AcS2 it talks to VM-T (in domain 2, another subnet) directly instead of around the triangle through domain 1's
/// gateway. Both ends are ours, so GRE is proven here end to end as well as VXLAN.
/// </summary>
/// <remarks>
/// Port numbers: AcS1 has 1 = underlay, 2 = the domain-1 host, 10 = the tunnel. AcS2 has 1 = underlay, 2 = VM-T,
/// 3 = VM-S, 10 = the tunnel (the paper's port 1, towards domain 1). Every encapsulated frame AcS2 sent on its
/// underlay is then dissected by tshark: the tunnel layers are recognised and every IPv4 header checksum is good.
/// </remarks>
public sealed class TunnelScenarioTests
{
    private static readonly MacAddress VmS = MacAddress.Parse("00:15:17:8f:ca:37");
    private static readonly MacAddress VmT = MacAddress.Parse("08:00:27:9b:b3:12");
    private static readonly MacAddress Cr1 = MacAddress.Parse("00:15:fa:fe:34:41");
    private static readonly MacAddress Cr2 = MacAddress.Parse("00:15:fa:fe:34:42");

    [E2EFact]
    public void Twaren_TwoSwitchesOverVxlan() => Twaren("vxlan", "vni=100", ":ip:udp:vxlan:eth:ethertype:");

    [E2EFact]
    public void Twaren_TwoSwitchesOverGreWithKey() => Twaren("gre", "key=77", ":ip:gre:eth:ethertype:");

    private static void Twaren(string kind, string idOption, string expectedLayers)
    {
        string tag = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        string ua = "sswua" + tag, ub = "sswub" + tag;
        string pcapA = Directory.CreateTempSubdirectory("ssw-twaren-a").FullName;
        string pcapB = Directory.CreateTempSubdirectory("ssw-twaren-b").FullName;
        var h1 = Netns.Create();
        var vmT = Netns.Create();
        var vmS = Netns.Create();
        SwitchProcess? acs1 = null, acs2 = null;
        try
        {
            // The underlay: one veth pair between the two switches, no addresses in the root namespace.
            Sh.Check("ip", "link", "add", ua, "type", "veth", "peer", "name", ub);
            foreach (var i in new[] { ua, ub })
            {
                Sh.Run("sysctl", "-qw", $"net.ipv6.conf.{i}.disable_ipv6=1");
                Sh.Run("ethtool", "-K", i, "tx", "off", "tso", "off", "gso", "off", "gro", "off");
                Sh.Check("ip", "link", "set", i, "up");
            }
            Host(h1, "192.168.1.10/24", null, null, null);
            Host(vmS, "192.168.1.101/24", VmS, "192.168.1.254", Cr1);
            Host(vmT, "10.27.82.101/24", VmT, "10.27.82.254", Cr2);

            acs1 = new SwitchProcess($"afpacket:{ua},afpacket:{h1.HostIf}", "--pcap-dir", pcapA, "--unixctl", "none",
                "--tunnel", $"t1:{kind},local=10.98.0.1,remote=10.98.0.2,{idOption},port=10,underlay=1");
            acs2 = new SwitchProcess($"afpacket:{ub},afpacket:{vmT.HostIf},afpacket:{vmS.HostIf}", "--pcap-dir", pcapB, "--unixctl", "none",
                "--tunnel", $"t2:{kind},local=10.98.0.2,remote=10.98.0.1,{idOption},port=10,underlay=1");

            // One L2 segment across the tunnel: AcS1 joins its host to the tunnel; AcS2 joins VM-S (its default path,
            // including its ARP for the domain-1 gateway, flow3) to the tunnel.
            acs1.Ofctl("add-flow", "in_port=2,actions=output:10");
            acs1.Ofctl("add-flow", "in_port=10,actions=output:2");
            acs2.Ofctl("add-flow", "priority=10,in_port=10,actions=output:3");
            acs2.Ofctl("add-flow", "priority=10,in_port=3,actions=output:10");
            acs2.Ofctl("add-flow", "priority=100,arp,dl_dst=ff:ff:ff:ff:ff:ff,nw_dst=192.168.1.254,actions=output:10");

            // Domain 1 reaches the migrated VM-S through the tunnel (ARP included: the kernels resolve each other).
            var ping = h1.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "192.168.1.101");
            Assert.True(ping.Ok, $"domain 1 -> VM-S through the {kind} tunnel failed: {ping.Stdout}{ping.Stderr}\nAcS2:\n{acs2.Ofctl("dump-ports")}\n{acs2.Output}");
            var (rx0, tx0) = TunnelPackets(acs2);
            Assert.True(rx0 >= 3 && tx0 >= 3, $"AcS2 tunnel port: rx {rx0}, tx {tx0}");

            // Without flow1/flow4, VM-T's traffic for VM-S (sent to its gateway CR2) has no path at AcS2.
            Assert.False(vmT.Exec("ping", "-c", "1", "-W", "1", "192.168.1.101").Ok, "VM-T reached VM-S before flow1/flow4");

            // flow1 and flow4 of table 2: VM-T <-> VM-S directly at AcS2, destination MACs rewritten.
            acs2.Ofctl("add-flow", $"priority=32768,ip,nw_src=10.27.82.0/24,dl_dst={Cr2},nw_dst=192.168.1.101,actions=mod_dl_dst:{VmS},output:3");
            acs2.Ofctl("add-flow", $"priority=32768,ip,nw_src=192.168.1.101,dl_src={VmS},dl_dst={Cr1},nw_dst=10.27.82.101,actions=mod_dl_dst:{VmT},output:2");
            var (rx1, tx1) = TunnelPackets(acs2);
            ping = vmT.Exec("ping", "-c", "5", "-i", "0.2", "-W", "2", "192.168.1.101");
            Assert.True(ping.Ok, $"VM-T -> VM-S with flow1/flow4 failed: {ping.Stdout}{ping.Stderr}\n{acs2.Ofctl("dump-flows")}");
            var (rx2, tx2) = TunnelPackets(acs2);
            Assert.True(rx2 == rx1 && tx2 == tx1, $"VM-T <-> VM-S crossed the tunnel: rx {rx1}->{rx2}, tx {tx1}->{tx2}");
            string flows = acs2.Ofctl("dump-flows");
            Assert.Matches(@"n_packets=([5-9]|[1-9]\d+),.*nw_src=10\.27\.82\.0/24", flows);
            Assert.Matches(@"n_packets=[1-9]\d*,.*nw_src=192\.168\.1\.101", flows);   // VM-S's replies (a lost one is not our point)

            // Domain 1 still reaches VM-S after the direct path is in place.
            Assert.True(h1.Exec("ping", "-c", "2", "-i", "0.2", "-W", "2", "192.168.1.101").Ok, "domain 1 lost VM-S after flow1/flow4");
        }
        finally
        {
            acs1?.Dispose();
            acs2?.Dispose();
            foreach (var ns in new[] { h1, vmT, vmS }) ns.Dispose();
            Sh.Run("ip", "link", "del", ua);
        }

        // What AcS2 put on the underlay, as a dissector sees it.
        string sent = Path.Combine(pcapB, "p1-tx.pcap");
        var r = Sh.Run("tshark", ["-r", sent, "-o", "ip.check_checksum:TRUE", "-Y", "ip.src == 10.98.0.2", "-T", "fields",
                                  "-e", "frame.protocols", "-e", "ip.checksum.status", "-e", "ip.flags.df"], 60_000);
        Assert.True(r.Ok, $"tshark: {r.Stderr}");
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 3, $"only {lines.Length} encapsulated frames in {sent}");
        int icmp = 0;
        foreach (var line in lines)
        {
            var f = line.Split('\t');
            Assert.True(f[0].Contains(expectedLayers) && (f[0].EndsWith(":arp") || f[0].Contains(":ip:icmp")), $"unexpected layers: {line}");
            Assert.DoesNotContain("malformed", f[0]);
            if (f[0].Contains(":ip:icmp")) icmp++;
            Assert.All(f[1].Split(','), s => Assert.Equal("1", s));   // outer and inner IPv4 header checksums: good
            Assert.StartsWith("1", f[2]);                              // outer header: don't fragment
        }
        Assert.True(icmp >= 1, $"{icmp} encapsulated ICMP frames");
        Directory.Delete(pcapA, true);
        Directory.Delete(pcapB, true);
    }

    private static void Host(Netns ns, string cidr, MacAddress? mac, string? gateway, MacAddress? gatewayMac)
    {
        if (mac is { } m)
        {
            ns.Exec("ip", "link", "set", ns.NsIf, "down");
            Sh.Check("ip", "-n", ns.Name, "link", "set", ns.NsIf, "address", m.ToString());
            Sh.Check("ip", "-n", ns.Name, "link", "set", ns.NsIf, "up");
        }
        Sh.Check("ip", "-n", ns.Name, "addr", "add", cidr, "dev", ns.NsIf);
        if (gateway is not null)
        {
            Sh.Check("ip", "-n", ns.Name, "neigh", "replace", gateway, "lladdr", gatewayMac!.Value.ToString(), "dev", ns.NsIf);
            Sh.Check("ip", "-n", ns.Name, "route", "add", "default", "via", gateway);
        }
    }

    /// <summary>AcS2's tunnel port counters (port 10), from OFPST_PORT as ovs-ofctl prints them.</summary>
    private static (long Rx, long Tx) TunnelPackets(SwitchProcess sw)
    {
        string s = sw.Ofctl("dump-ports", "10");
        var rx = Regex.Match(s, @"rx pkts=(\d+)");
        var tx = Regex.Match(s, @"tx pkts=(\d+)");
        Assert.True(rx.Success && tx.Success, s);
        return (long.Parse(rx.Groups[1].Value), long.Parse(tx.Groups[1].Value));
    }
}
