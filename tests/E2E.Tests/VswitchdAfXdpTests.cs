using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch vswitchd` with Interfaces of type afxdp and Open_vSwitch other_config:hw-offload, driven by the real
/// ovs-vsctl, ovs-ofctl and ovs-appctl over a private ovsdb-server: two namespaces ping each other across AF_XDP ports,
/// a bad option is in the Interface's error column, and with hw-offload=true the exact flows are in the XDP program,
/// which forwards the ping.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
[RequiresTool("ethtool")]
public sealed class VswitchdAfXdpTests
{
    private static string Softswitch => Path.Combine(AppContext.BaseDirectory, "softswitch");

    /// <summary>Two namespaces, A (10.78.0.1) and B (10.78.0.2), each behind a veth whose host end is returned; the
    /// daemon started on <paramref name="db"/>. Returns the daemon's pid.</summary>
    private static int Start(OvsdbServer db, string id, out string hA, out string hB, out string nsA, out string nsB)
    {
        nsA = $"afxA{id}";
        nsB = $"afxB{id}";
        hA = $"afxa{id}";
        hB = $"afxb{id}";
        foreach (var (ns, host, ip) in new[] { (nsA, hA, "10.78.0.1/24"), (nsB, hB, "10.78.0.2/24") })
        {
            VswitchdBridgesTests.AddHost(ns, host, ip);
            // A veth takes XDP redirects (the offload's, from the other port) only with its NAPI on: GRO turns it on.
            Sh.Run("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "gro", "on");
        }
        // Static neighbours: the bridges here forward IPv4 only (no ARP flow), and no ARP retry races the first ping.
        string MacIn(string ns) => Sh.Run("ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/address").Stdout.Trim();
        Sh.Check("ip", "-n", nsA, "neigh", "replace", "10.78.0.2", "lladdr", MacIn(nsB), "dev", "eth0", "nud", "permanent");
        Sh.Check("ip", "-n", nsB, "neigh", "replace", "10.78.0.1", "lladdr", MacIn(nsA), "dev", "eth0", "nud", "permanent");
        var start = Sh.Run("env", [$"OVS_RUNDIR={db.RunDir}", Softswitch, "vswitchd", "--pidfile", "--detach", $"--log-file={db.RunDir}/vswitchd.log"], 60_000);
        Assert.True(start.Ok, $"vswitchd did not start ({start.ExitCode}): {start.Stderr}{start.Stdout}");
        return int.Parse(File.ReadAllText(Path.Combine(db.RunDir, "ovs-vswitchd.pid")).Trim(), CultureInfo.InvariantCulture);
    }

    private static void Stop(int pid, IEnumerable<string> links, IEnumerable<string> namespaces)
    {
        if (pid != 0)
        {
            Sh.Run("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
            Wait.Until(() => !File.Exists($"/proc/{pid}/stat"), 15_000, everyMs: 100);
        }
        foreach (var link in links) Sh.Run("ip", "link", "del", link);
        foreach (var ns in namespaces) Sh.Run("ip", "netns", "del", ns);
    }

    private static string Id => (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    [E2EFact]
    public void AfXdpInterfaces_ForwardAPing_AndABadXdpModeIsInTheErrorColumn()
    {
        string id = Id, bridge = $"afxbr{id}", bad = $"afxx{id}";
        using var db = OvsdbServer.Start("ssw-afx-");
        int pid = 0;
        string hA = "", hB = "", nsA = "", nsB = "";
        try
        {
            pid = Start(db, id, out hA, out hB, out nsA, out nsB);
            Sh.Check("ip", "link", "add", bad, "type", "veth", "peer", "name", bad + "p");
            Sh.Check("ip", "link", "set", bad, "up");
            Sh.Check("ip", "link", "set", bad + "p", "up");

            // One port with Open vSwitch's defaults, one with every option set.
            db.Vsctl("add-br", bridge, "--", "set", "bridge", bridge, "fail_mode=secure",
                "--", "add-port", bridge, hA, "--", "set", "Interface", hA, "type=afxdp", "ofport_request=1",
                "--", "add-port", bridge, hB, "--", "set", "Interface", hB, "type=afxdp", "ofport_request=2", "options:xdp-mode=native",
                "options:n_rxq=1", "options:use-need-wakeup=false", "options:rx-frames=4096");
            Assert.Equal("1", db.Vsctl("get", "Interface", hA, "ofport").Trim());
            Assert.Equal("2", db.Vsctl("get", "Interface", hB, "ofport").Trim());
            Assert.Equal("[]", db.Vsctl("get", "Interface", hA, "error").Trim());
            Assert.Equal("[]", db.Vsctl("get", "Interface", hB, "error").Trim());
            Assert.Contains("afxdp", db.Vsctl("get", "Open_vSwitch", ".", "iface_types"));
            var dpif = db.Tool("ovs-appctl", "dpif/show");
            Assert.Contains($"{hA} 1: (afxdp)", dpif.Stdout);
            Assert.Contains("prog/xdp", Sh.Run("ip", "-d", "link", "show", hA).Stdout);
            string log = Log(db.RunDir);
            Assert.Contains($"interface {hB}: AF_XDP, xdp-mode native, 1 rx queue(s), use-need-wakeup false, 4096 rx frames", log);

            foreach (var flow in new[] { "in_port=1,actions=output:2", "in_port=2,actions=output:1" })
                Assert.True(db.Tool("ovs-ofctl", "add-flow", bridge, flow).Ok);
            Assert.True(Ping(nsA, "10.78.0.2", 3), "no ping across the AF_XDP ports\n" + db.Tool("ovs-ofctl", "dump-flows", bridge).Stdout
                + db.Tool("ovs-ofctl", "dump-ports", bridge).Stdout + Log(db.RunDir));

            // A value Open vSwitch refuses too (netdev-afxdp's set_config answers EINVAL): not opened, the reason in
            // the error column and the log; once the value is good, the port opens.
            db.Vsctl("add-port", bridge, bad, "--", "set", "Interface", bad, "type=afxdp", "options:xdp-mode=turbo");
            Assert.Equal("-1", db.Vsctl("get", "Interface", bad, "ofport").Trim());
            string error = db.Vsctl("get", "Interface", bad, "error");
            Assert.Contains($"{bad}: could not set configuration (Invalid argument): options:xdp-mode 'turbo' is not best-effort, native-with-zerocopy, native or generic", error);
            Assert.Contains("options:xdp-mode 'turbo'", Log(db.RunDir));
            Assert.DoesNotContain("prog/xdp", Sh.Run("ip", "-d", "link", "show", bad).Stdout);
            db.Vsctl("set", "Interface", bad, "options:xdp-mode=generic", "options:colour=blue");
            Assert.Equal("3", db.Vsctl("get", "Interface", bad, "ofport").Trim());
            // An option not read here is said, not refused: the port is open, the error column names it.
            Assert.Contains("options 'colour' not read by softswitch vswitchd for type afxdp", db.Vsctl("get", "Interface", bad, "error"));
            Assert.Contains("xdpgeneric", Sh.Run("ip", "-d", "link", "show", bad).Stdout);
            Assert.True(Ping(nsA, "10.78.0.2", 1), "the ping stopped when a third port came");
        }
        finally
        {
            Stop(pid, [hA, hB, bad], [nsA, nsB]);
        }
    }

    [E2EFact]
    public void HwOffload_PlacesTheExactFlowsInTheXdpProgram_WhichForwardsThePing()
    {
        string id = Id, bridge = $"afxbr{id}", third = $"afxc{id}";
        using var db = OvsdbServer.Start("ssw-afxo-");
        int pid = 0;
        string hA = "", hB = "", nsA = "", nsB = "";
        try
        {
            pid = Start(db, id, out hA, out hB, out nsA, out nsB);
            db.Vsctl("set", "Open_vSwitch", ".", "other_config:hw-offload=true");
            db.Vsctl("add-br", bridge, "--", "set", "bridge", bridge, "fail_mode=secure",
                "--", "add-port", bridge, hA, "--", "set", "Interface", hA, "type=afxdp", "ofport_request=1",
                "--", "add-port", bridge, hB, "--", "set", "Interface", hB, "type=afxdp", "ofport_request=2");
            Assert.Equal("2", db.Vsctl("get", "Interface", hB, "ofport").Trim());
            Assert.True(Wait.Until(() => Sh.Run("ip", "-d", "link", "show", hB).Stdout.Contains("ssw_xdp_flows", StringComparison.Ordinal), 10_000, everyMs: 100),
                "the XDP flow program is not on the ports: " + Log(db.RunDir));

            // The ping's two directions as exact flows (OpenFlow 1.0's twelve fields; untagged, so no dl_vlan_pcp), the
            // only kind the XDP map takes.
            string macA = MacOf(nsA), macB = MacOf(nsB);
            string Exact(int inPort, string src, string dst, string ipSrc, string ipDst, int type)
                => $"in_port={inPort},dl_vlan=0xffff,dl_src={src},dl_dst={dst},dl_type=0x0800,nw_tos=0,nw_proto=1,nw_src={ipSrc},nw_dst={ipDst},tp_src={type},tp_dst=0";
            Assert.True(db.Tool("ovs-ofctl", "-O", "OpenFlow10", "add-flow", bridge, Exact(1, macA, macB, "10.78.0.1", "10.78.0.2", 8) + ",actions=output:2").Ok);
            Assert.True(db.Tool("ovs-ofctl", "-O", "OpenFlow10", "add-flow", bridge, Exact(2, macB, macA, "10.78.0.2", "10.78.0.1", 0) + ",actions=output:1").Ok);

            var dump = db.Tool("ovs-appctl", "offload/dump-flows", bridge, "hw");
            Assert.True(dump.Ok, dump.Stderr + Log(db.RunDir));
            var placed = dump.Stdout.TrimEnd('\n').Split('\n');
            Assert.Equal(2, placed.Length);
            Assert.All(placed, l => Assert.Contains("placement=hw(xdp-flows,slot=", l));
            // Open vSwitch's spelling: dpctl/dump-flows type=offloaded, each flow in its datapath syntax.
            var offloaded = db.Tool("ovs-appctl", "dpctl/dump-flows", "type=offloaded");
            Assert.True(offloaded.Ok, offloaded.Stderr);
            var dpLines = offloaded.Stdout.TrimEnd('\n').Split('\n');
            Assert.Equal(2, dpLines.Length);
            Assert.Contains($"in_port(1),eth(src={macA},dst={macB}),eth_type(0x0800),ipv4(src=10.78.0.1,dst=10.78.0.2,proto=1,tos=0/0xfc),icmp(type=8,code=0), packets:0, bytes:0, used:never, actions:2", dpLines);
            Assert.Contains($"in_port(2),eth(src={macB},dst={macA}),eth_type(0x0800),ipv4(src=10.78.0.2,dst=10.78.0.1,proto=1,tos=0/0xfc),icmp(type=0,code=0), packets:0, bytes:0, used:never, actions:1", dpLines);
            Assert.Equal("", db.Tool("ovs-appctl", "dpctl/dump-flows", "type=non-offloaded").Stdout);
            var badType = db.Tool("ovs-appctl", "dpctl/dump-flows", "type=turbo");
            Assert.False(badType.Ok);
            Assert.Contains("Failed to parse type (turbo)", badType.Stderr);

            Assert.True(Ping(nsA, "10.78.0.2", 5), "no ping through the XDP program\n" + db.Tool("ovs-appctl", "offload/show", bridge).Stdout + Log(db.RunDir));
            // The kernel forwarded them: the program's per-flow counts are the flows' (a statistics request reads the
            // map) and the offload's hardware packets.
            Assert.Contains("n_packets=5", db.Tool("ovs-ofctl", "-O", "OpenFlow10", "dump-flows", bridge, "in_port=1").Stdout);
            var show = db.Tool("ovs-appctl", "offload/show", bridge);
            Assert.True(show.Ok, show.Stderr);
            Assert.Contains("hardware flows: 2 ", show.Stdout);
            Assert.Contains("hardware packets: 10\n", show.Stdout);
            // -m: names for numbers, and where each flow runs.
            var verbose = db.Tool("ovs-appctl", "dpctl/dump-flows", "-m", $"userspace@{bridge}", "type=offloaded", "filter=in_port=1");
            Assert.True(verbose.Ok, verbose.Stderr);
            Assert.StartsWith($"in_port({hA}),eth(src={macA},dst={macB}),", verbose.Stdout);
            Assert.Contains(", packets:5, bytes:", verbose.Stdout);
            Assert.EndsWith($", offloaded:yes, dp:xdp, actions:{hB}\n", verbose.Stdout);

            // A third AF_XDP port: the offload is attached anew over the three, the flows placed again.
            Sh.Check("ip", "link", "add", third, "type", "veth", "peer", "name", third + "p");
            Sh.Check("ip", "link", "set", third, "up");
            db.Vsctl("add-port", bridge, third, "--", "set", "Interface", third, "type=afxdp", "ofport_request=3");
            Assert.True(Wait.Until(() => Log(db.RunDir).Contains("the XDP flow program runs on AF_XDP ports 1,2,3", StringComparison.Ordinal), 10_000, everyMs: 100), Log(db.RunDir));
            Assert.Contains("the XDP flow offload on ports 1,2 is detached (the AF_XDP ports are now 1,2,3)", Log(db.RunDir));
            Assert.Equal(2, db.Tool("ovs-appctl", "offload/dump-flows", bridge, "hw").Stdout.TrimEnd('\n').Split('\n').Length);
            Assert.True(Ping(nsA, "10.78.0.2", 2), "no ping after the offload was attached anew");

            // hw-offload=false is followed at once: the flows go back to software, which forwards the ping.
            db.Vsctl("set", "Open_vSwitch", ".", "other_config:hw-offload=false");
            Assert.True(Wait.Until(() => !Sh.Run("ip", "-d", "link", "show", hB).Stdout.Contains("ssw_xdp_flows", StringComparison.Ordinal), 10_000, everyMs: 100),
                "the flow program outlived hw-offload=false");
            var off = db.Tool("ovs-appctl", "offload/show", bridge);
            Assert.False(off.Ok);
            Assert.Contains("offload is not enabled on bridge", off.Stderr);
            Assert.True(Ping(nsA, "10.78.0.2", 2), "no ping in software after hw-offload=false");
            Assert.Contains("n_packets=9", db.Tool("ovs-ofctl", "-O", "OpenFlow10", "dump-flows", bridge, "in_port=1").Stdout);
            Assert.Contains("the XDP flow offload on ports 1,2,3 is detached (hw-offload is off)", Log(db.RunDir));
            // In software: none offloaded; the flows are Open vSwitch's dp:ovs ones.
            Assert.Equal("", db.Tool("ovs-appctl", "dpctl/dump-flows", "type=offloaded").Stdout);
            var software = db.Tool("ovs-appctl", "dpctl/dump-flows", "-m", bridge).Stdout.TrimEnd('\n').Split('\n');
            Assert.Equal(2, software.Length);
            Assert.All(software, l => Assert.Contains(", dp:ovs, actions:", l));
        }
        finally
        {
            Stop(pid, [hA, hB, third], [nsA, nsB]);
        }
    }

    private static string MacOf(string ns) => Sh.Run("ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/address").Stdout.Trim();

    private static bool Ping(string ns, string ip, int count)
        => Sh.Run("ip", ["netns", "exec", ns, "ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-W", "2", "-i", "0.3", ip], 30_000).Ok;


    private static string Log(string run)
    {
        try
        {
            return File.ReadAllText(Path.Combine(run, "vswitchd.log"));
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }
}
