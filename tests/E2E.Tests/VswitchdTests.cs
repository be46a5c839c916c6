using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch vswitchd` in place of ovs-vswitchd, driven by Debian's ovsdb-server and the real ovs-vsctl, ovs-ofctl,
/// ovs-appctl and ovs-testcontroller, as their users type them: no --db, no socket paths, OVS_RUNDIR only. Every
/// ovs-vsctl call waits for cur_cfg (no --no-wait) with --timeout=20, so a daemon that does not answer fails the test
/// instead of hanging it.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-testcontroller")]
public sealed class VswitchdTests
{
    private static string Softswitch => Path.Combine(AppContext.BaseDirectory, "softswitch");

    [E2EFact]
    public void OvsVsctlOfctlAndAppctlDriveBridgesLikeOvsVswitchd()
    {
        string id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
        string nsA = $"vsA{id}", nsB = $"vsB{id}", hA = $"vsa{id}", hB = $"vsb{id}", internalPort = $"vsi{id}", bridge = $"vsbr{id}";
        using var db = OvsdbServer.Start("ssw-vsd-");
        string run = db.RunDir;
        int daemonPid = 0;
        try
        {
            foreach (var (ns, host, peer, ip) in new[] { (nsA, hA, "eth0", "10.77.0.1/24"), (nsB, hB, "eth0", "10.77.0.2/24") })
            {
                Sh.Check("ip", "netns", "add", ns);
                Sh.Check("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns);
                Sh.Check("ip", "link", "set", host, "up");
                Sh.Check("ip", "-n", ns, "addr", "add", ip, "dev", peer);
                Sh.Check("ip", "-n", ns, "link", "set", peer, "up");
            }

            // The daemon as a service starts it: detached, its pid file where ovs-appctl looks.
            var start = Sh.Run("env", [$"OVS_RUNDIR={run}", Softswitch, "vswitchd", "--pidfile", "--detach", $"--log-file={run}/vswitchd.log"], 60_000);
            Assert.True(start.Ok, $"vswitchd did not start ({start.ExitCode}): {start.Stderr}{start.Stdout}");
            daemonPid = int.Parse(File.ReadAllText(Path.Combine(run, "ovs-vswitchd.pid")).Trim(), CultureInfo.InvariantCulture);
            Assert.True(File.Exists(Path.Combine(run, $"ovs-vswitchd.{daemonPid}.ctl")), "no control socket where ovs-appctl looks");

            // A second daemon on the same database is refused, with the reason.
            var second = Sh.Run("env", [$"OVS_RUNDIR={run}", Softswitch, "vswitchd", "--unixctl=none"], 30_000);
            Assert.NotEqual(0, second.ExitCode);
            Assert.Contains("holds the lock 'ovs_vswitchd'", second.Stderr);

            db.Vsctl("add-br", bridge, "--", "set", "bridge", bridge, "other-config:datapath-id=00000000000000a1",
                "protocols=OpenFlow10,OpenFlow13", "fail_mode=secure");
            Assert.Equal("\"00000000000000a1\"", db.Vsctl("get", "Bridge", bridge, "datapath_id").Trim());
            Assert.Equal("65534", db.Vsctl("get", "Interface", bridge, "ofport").Trim());
            Assert.True(Sh.Run("ip", "link", "show", bridge).Ok, "the bridge's LOCAL port is no tap named like the bridge");
            var show = db.Tool("ovs-ofctl", "-O", "OpenFlow13", "show", bridge);
            Assert.True(show.Ok, show.Stderr);
            Assert.Contains("dpid:00000000000000a1", show.Stdout);

            db.Vsctl("add-port", bridge, hA, "--", "set", "Interface", hA, "ofport_request=1",
                "--", "add-port", bridge, hB, "--", "set", "Interface", hB, "ofport_request=2",
                "--", "add-port", bridge, internalPort, "--", "set", "Interface", internalPort, "type=internal",
                "--", "add-port", bridge, "vsnone" + id);
            Assert.Equal("1", db.Vsctl("get", "Interface", hA, "ofport").Trim());
            Assert.Equal("2", db.Vsctl("get", "Interface", hB, "ofport").Trim());
            Assert.Equal("3", db.Vsctl("get", "Interface", internalPort, "ofport").Trim());
            Assert.True(Sh.Run("ip", "link", "show", internalPort).Ok, "no tap for the internal port");
            Assert.Equal("-1", db.Vsctl("get", "Interface", "vsnone" + id, "ofport").Trim());
            Assert.Contains("vsnone" + id, db.Vsctl("get", "Interface", "vsnone" + id, "error"));
            Assert.Equal("up", db.Vsctl("get", "Interface", hA, "link_state").Trim());
            string mac = File.ReadAllText($"/sys/class/net/{hA}/address").Trim();
            Assert.Equal($"\"{mac}\"", db.Vsctl("get", "Interface", hA, "mac_in_use").Trim());
            Assert.Equal(File.ReadAllText($"/sys/class/net/{hA}/ifindex").Trim(), db.Vsctl("get", "Interface", hA, "ifindex").Trim());

            // A real controller: is_connected turns true, as Mininet's OVSSwitch waits for it.
            int port = FreePorts.Tcp();
            var tc = Sh.Run("ovs-testcontroller", ["-O", "OpenFlow13", $"ptcp:{port}:127.0.0.1", "--detach", "--no-chdir",
                $"--pidfile={run}/tc.pid", $"--log-file={run}/tc.log", $"--unixctl={run}/tc.ctl"]);
            Assert.True(tc.Ok, tc.Stderr);
            try
            {
                db.Vsctl("set-controller", bridge, $"tcp:127.0.0.1:{port}");
                Assert.True(Wait.Until(() => db.Vsctl("get", "Controller", bridge, "is_connected").Trim() == "true", 15_000, everyMs: 100),
                    "the controller never showed as connected: " + db.Vsctl("list", "Controller"));
                Assert.NotEqual("[]", db.Vsctl("get", "Controller", bridge, "role").Trim());
            }
            finally
            {
                Kill(File.ReadAllText(Path.Combine(run, "tc.pid")).Trim());
            }
            db.Vsctl("del-controller", bridge);
            Assert.True(db.Tool("ovs-ofctl", "-O", "OpenFlow13", "del-flows", bridge).Ok); // what the controller may have installed

            // Secure and no controller: nothing passes until a flow says so. Static neighbours: no ARP retries of the
            // first ping (which the bridge drops) race the flows that follow it.
            string MacIn(string ns) => Sh.Run("ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/address").Stdout.Trim();
            Sh.Check("ip", "-n", nsA, "neigh", "replace", "10.77.0.2", "lladdr", MacIn(nsB), "dev", "eth0", "nud", "permanent");
            Sh.Check("ip", "-n", nsB, "neigh", "replace", "10.77.0.1", "lladdr", MacIn(nsA), "dev", "eth0", "nud", "permanent");
            Assert.False(Ping(nsA, "10.77.0.2", 1), "a secure bridge with no flows forwarded");
            foreach (var flow in new[] { "in_port=1,actions=output:2", "in_port=2,actions=output:1" })
            {
                var add = db.Tool("ovs-ofctl", "-O", "OpenFlow13", "add-flow", bridge, flow);
                Assert.True(add.Ok, add.Stderr);
            }
            Assert.True(Ping(nsA, "10.77.0.2", 3), "no ping across the bridge after add-flow\n" + db.Tool("ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge).Stdout
                + db.Tool("ovs-ofctl", "-O", "OpenFlow13", "dump-ports", bridge).Stdout + Sh.Run("ip", "-n", nsA, "-s", "link", "show", "eth0").Stdout + Sh.Run("ip", "-n", nsA, "neigh").Stdout
                + Sh.Run("ip", "-s", "link", "show", hA).Stdout + Log(run));
            var dump = db.Tool("ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge);
            Assert.Contains("in_port=1", dump.Stdout);

            // ovs-appctl with its defaults: the pid file names the control socket.
            foreach (var (args, expect) in new (string[], string)[]
            {
                (["ofproto/list"], bridge),
                (["bridge/dump-flows", bridge], "actions=output:2"),
                (["fdb/show", bridge], "port"),
                (["coverage/show"], $"bridge {bridge}:"),
                (["memory/show"], $"bridge {bridge}:"),
                (["vlog/list"], "info"),
                (["dpif/show"], $"{hA} 1: (system)"),
                (["ofproto/trace", bridge, "in_port=1,dl_dst=00:00:00:00:00:02"], "output:2"),
            })
            {
                var r = db.Tool("ovs-appctl", args);
                Assert.True(r.Ok, $"ovs-appctl {string.Join(' ', args)}: {r.Stderr}");
                Assert.Contains(expect, r.Stdout);
            }
            Assert.True(db.Tool("ovs-appctl", "vlog/set", "dbg").Ok);

            // del-port: the interface released (the internal port's tap deleted); del-br: the bridge gone with its sockets.
            db.Vsctl("del-port", bridge, internalPort);
            Assert.False(Sh.Run("ip", "link", "show", internalPort).Ok, "the internal port's tap outlived del-port");
            db.Vsctl("del-port", bridge, hB);
            Assert.DoesNotContain(hB, db.Tool("ovs-ofctl", "-O", "OpenFlow13", "show", bridge).Stdout);
            db.Vsctl("del-br", bridge);
            Assert.False(Sh.Run("ip", "link", "show", bridge).Ok, "the bridge's LOCAL tap outlived del-br");
            Assert.False(File.Exists(Path.Combine(run, bridge + ".mgmt")), "BRIDGE.mgmt outlived del-br");

            // exit: the process ends, its control socket and pid file with it.
            var exit = db.Tool("ovs-appctl", "exit");
            Assert.True(exit.Ok, exit.Stderr);
            Assert.True(Wait.Until(() => !File.Exists($"/proc/{daemonPid}/stat"), 15_000, everyMs: 100), "vswitchd still runs after exit");
            daemonPid = 0;
            Assert.Empty(Directory.GetFiles(run, "ovs-vswitchd*"));
        }
        finally
        {
            if (daemonPid != 0)
            {
                Kill(daemonPid.ToString(CultureInfo.InvariantCulture));
                Wait.Until(() => !File.Exists($"/proc/{daemonPid}/stat"), 10_000, everyMs: 100);
            }
            foreach (var link in new[] { hA, hB, internalPort, bridge }) Sh.Run("ip", "link", "del", link);
            foreach (var ns in new[] { nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
        }
    }

    private static bool Ping(string ns, string ip, int count)
        => Sh.Run("ip", ["netns", "exec", ns, "ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-W", "2", "-i", "0.3", ip], 30_000).Ok;


    private static void Kill(string pid) => Sh.Run("kill", "-TERM", pid);

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
