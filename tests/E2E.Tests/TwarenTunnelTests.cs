using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.Datapath.Flow;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.E2E.Tests;

/// <summary>
/// seeds/000 (TWAREN) across two daemons joined by a tunnel: domain 1's aggregation switch AgS1 and domain 2's AcS2
/// (with AgS2 folded in), each a `softswitch run` with namespace hosts on veth ports and an underlay port, the two
/// underlays one veth pair. VM-S has migrated from domain 1 into domain 2 and kept its IP and MAC address.
/// </summary>
/// <remarks>
/// <code>
///        domain 1                                                  domain 2
///  R 192.168.1.2 ── 1 ┐                                      ┌ 2 ── VM-T 10.27.82.101 (gateway CR2)
///                     AgS1 4 ═══ tunnel (underlay 3 ─ 1) ═══ 5 AcS2 3 ── VM-S 192.168.1.101 (gateway CR1)
///  CR1 .1.254 ─────── 2 ┘                                      └ 4 ── CR2 10.27.82.254
///   └──────────────── WAN 198.51.100.0/30 (routes to each other's domain) ──────────────┘
/// </code>
/// AgS1 keeps the paper's port numbers (1 towards domain 1's hosts, 2 CR1, 4 the tunnel). AcS2 keeps 2 (VM-T's side)
/// and 3 (VM-S); its port 1 towards domain 1 is our tunnel port 5 (--ports numbers from 1, and 1 is the underlay).
/// The flows are the paper's: on AgS1 controller 0's flow2011..2015 (figure 5); on AcS2 flow221/222 (figure 6) and
/// AgS2's flows for CR2 (flow2021, 2022, 2025), then table 2's flow1..flow4 when the migration is handled. Two kinds
/// of flow stand in for the paper's reactive Forwarding module: ARP floods at priority 1 (the underlays are NO_FLOOD)
/// and AcS2 delivers CR2's packets for VM-T. The paper leaves flow221/222 and AgS2's flows at the default priority,
/// which ties with flow1 and flow4 where they overlap; they get 20000 here, so flow1/flow4 win as the paper intends.
/// <list type="number">
/// <item>Before the migration flows VM-S reaches VM-T round the triangle: over the tunnel to CR1, across the WAN to
/// CR2, and back the same way (replies arrive with TTL 62). R in domain 1 reaches VM-S at layer 2 over the tunnel.</item>
/// <item>After flow1..flow4, VM-S and VM-T talk directly (TTL 64): AcS2's tunnel port and both WAN links count
/// nothing, flow1 and flow4 count every packet, and flow2 (to the controller) none.</item>
/// <item>R still reaches VM-S over the tunnel (ping and a TCP exchange), and the tunnel ports count it.</item>
/// </list>
/// Both underlay ends are captured and tshark must dissect every frame each daemon sent as the tunnel kind with the
/// key, a good outer IPv4 checksum with DF set and good inner checksums. Neighbour entries on the hosts do not expire during the
/// test, so every ARP on the wire is one the test caused.
/// <para>
/// IP-in-IP carries no Ethernet header and so no ARP: hosts across it have static neighbours, and the receiving switch
/// gives decapsulated packets the addresses they would have had (AcS2: from CR1 to VM-S; AgS1: from VM-S to CR1, and
/// one more flow, flow2015 with a MAC rewrite, re-addresses VM-S's packets for R). flow3 (VM-S's ARP for its gateway)
/// has nothing to carry then.
/// </para>
/// </remarks>
[RequiresTool("tcpdump")]
[RequiresTool("tshark")]
public sealed class TwarenTunnelTests(ITestOutputHelper output)
{
    private static readonly MacAddress R = MacAddress.Parse("08:00:27:94:9e:3d");
    private static readonly MacAddress VmS = SeedScenarioTests.VmS, VmT = SeedScenarioTests.VmT, Cr1 = SeedScenarioTests.Cr1, Cr2 = SeedScenarioTests.Cr2;
    private const string RIp = "192.168.1.2", Cr1Ip = "192.168.1.254", VmSIp = "192.168.1.101", VmTIp = "10.27.82.101", Cr2Ip = "10.27.82.254";
    private const string UnderA = "10.96.0.1", UnderB = "10.96.0.2";
    private const int ATunnel = 4, BTunnel = 5;

    [E2EFact]
    public void TwarenAcrossTwoSwitchesOverVxlan() => Run("vxlan", 1001);

    [E2EFact]
    public void TwarenAcrossTwoSwitchesOverGreWithKey() => Run("gre", 1002);

    [E2EFact]
    public void TwarenAcrossTwoSwitchesOverIpip() => Run("ipip", null);

    private void Run(string kind, uint? key)
    {
        bool ipip = kind == "ipip";
        var total = Stopwatch.StartNew();
        var ns = SeedScenarioTests.Namespaces(5);
        var dir = Directory.CreateTempSubdirectory("ssw-twaren");
        try
        {
            var (r, cr1, vmS, vmT, cr2) = (ns[0], ns[1], ns[2], ns[3], ns[4]);
            Host(r, R, RIp, Cr1Ip);
            Host(cr1, Cr1, Cr1Ip, null);
            Host(vmS, VmS, VmSIp, Cr1Ip);
            Host(vmT, VmT, VmTIp, Cr2Ip);
            Host(cr2, Cr2, Cr2Ip, null);
            using var wan = VethPair.Create();
            cr1.Adopt(wan.A);
            cr2.Adopt(wan.B);
            Router(cr1, wan.A, "198.51.100.1/30", "10.27.82.0/24", "198.51.100.2");
            Router(cr2, wan.B, "198.51.100.2/30", "192.168.1.0/24", "198.51.100.1");
            if (ipip)
            {
                Neigh(r, VmSIp, VmS);
                Neigh(cr1, VmSIp, VmS);
                Neigh(vmS, Cr1Ip, Cr1);
                Neigh(vmS, RIp, R);
            }

            using var cable = VethPair.Create();
            // Each capture shows what the far daemon sent (our own sends bypass the taps, see Tcpdump).
            using var sentByB = Tcpdump.Start(cable.A, Path.Combine(dir.FullName, "sent-by-acs2.pcap"));
            using var sentByA = Tcpdump.Start(cable.B, Path.Combine(dir.FullName, "sent-by-ags1.pcap"));
            string keyOption = key is null ? "" : kind == "vxlan" ? $",vni={key}" : $",key={key}";
            string tunA = $"to-domain2:{kind},local={UnderA},remote={UnderB}{keyOption},port={ATunnel},underlay=3,local_mac=02:96:00:00:00:01"
                          + (ipip ? $",inner_src_mac={VmS},inner_dst_mac={Cr1}" : "");
            string tunB = $"to-domain1:{kind},local={UnderB},remote={UnderA}{keyOption},port={BTunnel},underlay=1,local_mac=02:96:00:00:00:02"
                          + (ipip ? $",inner_src_mac={Cr1},inner_dst_mac={VmS}" : "");
            var startA = Task.Run(() => new SwitchProcess($"afpacket:{r.HostIf},afpacket:{cr1.HostIf},afpacket:{cable.A}", "--tunnel", tunA, "--dpid", "0000111111111111", "--unixctl", "none"));
            var startB = Task.Run(() => new SwitchProcess($"afpacket:{cable.B},afpacket:{vmT.HostIf},afpacket:{vmS.HostIf},afpacket:{cr2.HostIf}", "--tunnel", tunB, "--dpid", "000000049652213d", "--unixctl", "none"));
            try
            {
                Task.WaitAll(startA, startB);
            }
            catch
            {
                foreach (var t in new[] { startA, startB })
                    if (t.IsCompletedSuccessfully) t.Result.Dispose();
                throw;
            }
            using var ags1 = startA.Result;
            using var acs2 = startB.Result;
            string Describe() => $"AgS1 flows:\n{ags1.Ofctl("dump-flows")}\nAgS1 ports:\n{ags1.Ofctl("dump-ports")}\nAcS2 flows:\n{acs2.Ofctl("dump-flows")}\n" +
                                 $"AcS2 ports:\n{acs2.Ofctl("dump-ports")}\nAgS1 log:\n{ags1.Output}\nAcS2 log:\n{acs2.Output}";
            ags1.Ofctl("mod-port", "3", "no-flood");
            acs2.Ofctl("mod-port", "1", "no-flood");
            ags1.Ofctl("add-flows", FlowFile(dir, "ags1", AgS1Flows(ipip)));
            acs2.Ofctl("add-flows", FlowFile(dir, "acs2", AcS2BaseFlows));
            var setup = total.Elapsed;

            // 1. Round the triangle, and R to VM-S over the tunnel.
            var b0 = PortPackets(acs2, BTunnel);
            long wan0 = RxPackets(cr2, wan.B);
            AssertTtl(62, Ping(vmS, VmTIp, 3, Describe));
            var b1 = PortPackets(acs2, BTunnel);
            Assert.True(b1.Tx - b0.Tx >= 3 && b1.Rx - b0.Rx >= 3, $"the triangle did not cross the tunnel: AcS2 tunnel {b0} -> {b1}\n{Describe()}");
            Assert.True(RxPackets(cr2, wan.B) - wan0 >= 3, "the triangle did not cross the WAN");
            AssertTtl(64, Ping(r, VmSIp, 3, Describe));

            // 2. The migration flows: VM-S and VM-T directly.
            acs2.Ofctl("add-flows", FlowFile(dir, "acs2-migration", AcS2MigrationFlows));
            if (!ipip) Check(vmS.Exec("ip", "neigh", "flush", "dev", vmS.NsIf));   // VM-S asks for its gateway again: flow3
            Ping(vmS, VmTIp, 1, Describe);
            var (a0, c0, wanIn0) = (PortPackets(ags1, ATunnel), PortPackets(acs2, BTunnel), RxPackets(cr1, wan.A) + RxPackets(cr2, wan.B));
            string flows0 = acs2.Ofctl("dump-flows");
            AssertTtl(64, Ping(vmS, VmTIp, 5, Describe));
            AssertTtl(64, Ping(vmT, VmSIp, 3, Describe));
            var (a1, c1, wanIn1) = (PortPackets(ags1, ATunnel), PortPackets(acs2, BTunnel), RxPackets(cr1, wan.A) + RxPackets(cr2, wan.B));
            string flows1 = acs2.Ofctl("dump-flows");
            Assert.True(a1 == a0 && c1 == c0, $"VM-S and VM-T traffic crossed the tunnel: AgS1 {a0} -> {a1}, AcS2 {c0} -> {c1}\n{Describe()}");
            Assert.Equal(wanIn0, wanIn1);
            Assert.Equal(8, FlowPackets(flows1, 4) - FlowPackets(flows0, 4));   // VM-S's 5 requests and 3 replies
            Assert.Equal(8, FlowPackets(flows1, 1) - FlowPackets(flows0, 1));   // VM-T's 3 requests and 5 replies
            Assert.Equal(0, FlowPackets(flows1, 2));
            if (!ipip) Assert.True(FlowPackets(flows1, 3) >= 1, "VM-S's ARP for its gateway did not take flow3\n" + flows1);
            Assert.Equal(VmSIp, TcpEcho.Run(vmT, VmTIp, vmS, 15003, 16 * 1024, Describe));

            // 3. Domain 1 still reaches VM-S over the tunnel.
            var d0 = PortPackets(ags1, ATunnel);
            string f0 = ags1.Ofctl("dump-flows");
            AssertTtl(64, Ping(r, VmSIp, 5, Describe));
            Assert.Equal(RIp, TcpEcho.Run(vmS, VmSIp, r, 15002, 32 * 1024, Describe));
            var d1 = PortPackets(ags1, ATunnel);
            string f1 = ags1.Ofctl("dump-flows");
            // 32 KiB in segments of at most 1348 bytes is 25 or more each way.
            Assert.True(d1.Tx - d0.Tx >= 30 && d1.Rx - d0.Rx >= 30, $"R's traffic did not cross the tunnel: AgS1 tunnel {d0} -> {d1}\n{Describe()}");
            Assert.True(FlowPackets(f1, 0x2014) - FlowPackets(f0, 0x2014) >= 30, f1);
            Assert.True(FlowPackets(f1, ipip ? 0x2016 : 0x2015) - FlowPackets(f0, ipip ? 0x2016 : 0x2015) >= 30, f1);
            var traffic = total.Elapsed - setup;

            sentByA.Stop();
            sentByB.Stop();
            foreach (var (pcap, src) in new[] { (sentByA.Path, UnderA), (sentByB.Path, UnderB) })
            {
                var ours = TunnelFrameCheck.AssertOurFrames(Tshark.Dissect(pcap), kind, src, key, 36);
                Assert.True(ours.Count(f => f.TcpChecksumStatus.Length > 0) >= 25, $"too few TCP segments from {src} in the capture");
            }
            output.WriteLine($"{kind}: setup {setup.TotalSeconds:F1} s, traffic {traffic.TotalSeconds:F1} s, total {total.Elapsed.TotalSeconds:F1} s; " +
                             $"AgS1 tunnel rx/tx {d1.Rx}/{d1.Tx}, AcS2 tunnel rx/tx {PortPackets(acs2, BTunnel)}");
        }
        finally
        {
            foreach (var n in ns) n.Dispose();
            dir.Delete(true);
        }
    }

    /// <summary>AgS1, controller 0's flows (figure 5), and the ARP stand-in.</summary>
    private static string[] AgS1Flows(bool ipip) =>
    [
        $"cookie=0x2011,arp,dl_dst=ff:ff:ff:ff:ff:ff,nw_dst={Cr1Ip},actions=output:2",
        $"cookie=0x2012,arp,dl_src={Cr1},nw_src={Cr1Ip},actions=output:1,output:{ATunnel}",
        $"cookie=0x2013,ip,nw_src=192.168.1.0/24,dl_dst={Cr1},actions=output:2",
        $"cookie=0x2014,ip,dl_dst={VmS},actions=output:{ATunnel}",
        $"cookie=0x2015,ip,dl_src={VmS},nw_dst=192.168.1.0/24,actions=output:1",
        "cookie=0xf1,priority=1,arp,actions=FLOOD",
        .. ipip ? new[] { $"cookie=0x2016,priority=40000,in_port={ATunnel},ip,nw_dst={RIp},actions=mod_dl_dst:{R},output:1" } : [],
    ];

    /// <summary>AcS2 before the migration is handled: flow221/222 (figure 6), AgS2's flows for CR2, the stand-ins.</summary>
    private static readonly string[] AcS2BaseFlows =
    [
        $"cookie=0x221,priority=20000,ip,dl_dst={VmS},actions=output:3",
        $"cookie=0x222,priority=20000,ip,dl_src={VmS},actions=output:{BTunnel}",
        $"cookie=0x2021,priority=20000,arp,dl_dst=ff:ff:ff:ff:ff:ff,nw_dst={Cr2Ip},actions=output:4",
        $"cookie=0x2022,priority=20000,arp,dl_src={Cr2},actions=output:2",
        $"cookie=0x2025,priority=20000,ip,nw_src=10.27.82.0/24,dl_dst={Cr2},actions=output:4",
        $"cookie=0xf2,priority=20000,ip,dl_dst={VmT},actions=output:2",
        "cookie=0xf1,priority=1,arp,actions=FLOOD",
    ];

    /// <summary>Table 2: flow1..flow4 at AcS2 (cookies 1..4); flow4 is the one controller 2 inserts on demand.</summary>
    private static readonly string[] AcS2MigrationFlows =
    [
        $"cookie=0x1,priority=32768,ip,nw_src=10.27.82.0/24,dl_dst={Cr2},nw_dst={VmSIp},actions=mod_dl_dst:{VmS},output:3",
        $"cookie=0x2,priority=30000,ip,nw_src={VmSIp},dl_src={VmS},dl_dst={Cr1},nw_dst=10.27.82.0/24,actions=CONTROLLER:65535",
        $"cookie=0x3,priority=32768,arp,dl_dst=ff:ff:ff:ff:ff:ff,nw_dst={Cr1Ip},actions=output:{BTunnel}",
        $"cookie=0x4,priority=32768,ip,nw_src={VmSIp},dl_src={VmS},dl_dst={Cr1},nw_dst={VmTIp},actions=mod_dl_dst:{VmT},output:2",
    ];

    private static string FlowFile(DirectoryInfo dir, string name, string[] flows)
    {
        string path = Path.Combine(dir.FullName, name + ".flows");
        File.WriteAllLines(path, flows);
        return path;
    }

    /// <summary>A host with the paper's MAC, a /24 at MTU 1400 (room for the outer headers), an optional default route,
    /// and neighbour entries that stay reachable for the whole test.</summary>
    private static void Host(Netns ns, MacAddress mac, string ip, string? gateway)
    {
        Check(ns.Exec("ip", "link", "set", ns.NsIf, "address", mac.ToString()));
        Check(ns.Exec("ip", "link", "set", ns.NsIf, "mtu", "1400"));
        Check(ns.Exec("ip", "addr", "add", ip + "/24", "dev", ns.NsIf));
        if (gateway is not null) Check(ns.Exec("ip", "route", "add", "default", "via", gateway));
        StableNeighbours(ns, ns.NsIf);
    }

    private static void Router(Netns ns, string wanIf, string wanIp, string farDomain, string farGateway)
    {
        Check(ns.Exec("ip", "addr", "add", wanIp, "dev", wanIf));
        Check(ns.Exec("ip", "route", "add", farDomain, "via", farGateway));
        Check(ns.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1"));
        StableNeighbours(ns, wanIf);
    }

    private static void StableNeighbours(Netns ns, string ifname)
        => Check(ns.Exec("sysctl", "-qw", $"net.ipv4.neigh.{ifname}.base_reachable_time_ms=600000", $"net.ipv4.neigh.{ifname}.delay_first_probe_time=600"));

    private static void Neigh(Netns ns, string ip, MacAddress mac)
        => Check(ns.Exec("ip", "neigh", "replace", ip, "lladdr", mac.ToString(), "dev", ns.NsIf, "nud", "permanent"));

    /// <summary>Pings <paramref name="count"/> times (all must be answered) and returns the replies' TTLs.</summary>
    private int[] Ping(Netns from, string to, int count, Func<string> describe)
    {
        var r = from.Exec("ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.2", "-w", "6", to);
        output.WriteLine(r.Stdout);
        Assert.True(r.Ok && r.Stdout.Contains(" 0% packet loss"), $"ping {from.Name} -> {to} failed: {r.Stdout}{r.Stderr}\n{describe()}");
        return Regex.Matches(r.Stdout, @"ttl=(\d+)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
    }

    private static void AssertTtl(int expected, int[] ttls)
    {
        Assert.NotEmpty(ttls);
        Assert.True(ttls.All(t => t == expected), $"reply TTLs {string.Join(',', ttls)}, expected {expected} (64 less one per routed hop)");
    }

    private static (long Rx, long Tx) PortPackets(SwitchProcess sw, int port)
    {
        string dump = sw.Ofctl("dump-ports");
        var m = Regex.Match(dump, $@"port\s+{port}:\s*rx pkts=(\d+).*?tx pkts=(\d+)", RegexOptions.Singleline);
        Assert.True(m.Success, $"no port {port} in dump-ports:\n{dump}");
        return (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static long FlowPackets(string dump, int cookie)
    {
        var m = Regex.Match(dump, $@"cookie=0x{cookie:x},[^\n]*?n_packets=(\d+)");
        Assert.True(m.Success, $"no flow with cookie 0x{cookie:x}:\n{dump}");
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static long RxPackets(Netns ns, string ifname) => long.Parse(ns.Exec("cat", $"/sys/class/net/{ifname}/statistics/rx_packets").Stdout.Trim(), CultureInfo.InvariantCulture);

    private static void Check(Sh.Result r)
    {
        if (!r.Ok) throw new InvalidOperationException($"command failed: {r.Stderr}");
    }
}
