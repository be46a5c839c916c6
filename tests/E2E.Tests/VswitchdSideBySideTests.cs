using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch vswitchd` beside Open vSwitch 3.1's ovs-vswitchd (user space, in a namespace of its own with its own
/// ovsdb-server): one script of ovs-vsctl and ovs-ofctl calls, applied to both, leaves the same database contents in
/// the columns the daemon writes (cur_cfg, datapath_types, datapath_id, status, ofport, link and admin state, link speed and duplex, the
/// start of an error, a controller's is_connected and role) and gets the same OpenFlow answers (dump-flows, and
/// show's ports: number, name, config, state, link modes and speeds). Each side has veths of its own namespace (one
/// up, one administratively down, one whose peer is down; then two of them change) beside internal and patch ports.
/// Addresses and ifindexes differ by nature and are not compared. The flows (standard ones, and Open vSwitch's extensions
/// as its users write them: registers, resubmit, learn, conjunction, clone, multipath, bundle, note, dec_ttl(ids),
/// output:REG, fin_timeout, controller(...), exit, registers in write-actions) are dumped in OpenFlow 1.3 and 1.0
/// (goto-table there as Open vSwitch's resubmit extension).
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-vswitchd")]
[RequiresTool("ovs-testcontroller")]
public sealed class VswitchdSideBySideTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    /// <summary>One daemon under the script: its ovs-vsctl, an OpenFlow tool call on one of its bridges, and `ip` in its namespace.</summary>
    private sealed record Side(string Name, Func<string[], Sh.Result> Vsctl, Func<string, string, string[], Sh.Result> OfctlIn, Func<string> Log, string[] Ip)
    {
        /// <summary>ovs-ofctl -O OpenFlow13 COMMAND BRIDGE ARGS...</summary>
        public Sh.Result Ofctl(string bridge, string[] args) => OfctlIn("OpenFlow13", bridge, args);
    }

    [E2EFact]
    public void OneScript_GivesTheDatabaseAndOpenFlowAnswersOvsVswitchdGives()
    {
        using var ovsNs = Netns.Create();
        Sh.Check("ip", "-n", ovsNs.Name, "link", "set", "lo", "up");
        using var ovs = OvsUserspace.Start(ovsNs);
        using var db = OvsdbServer.Start("ssw-vsdside-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        var controllers = new List<string>();
        string br1 = $"ovs{s_id}x1", br2 = $"ovs{s_id}x2";
        try
        {
            var sides = new[]
            {
                new Side("ovs-vswitchd", a => Sh.Run("ovs-vsctl", ["--timeout=20", $"--db=unix:{ovs.RunDir}/db.sock", .. a], 30_000),
                    (v, br, a) => Sh.Run("ovs-ofctl", ["-O", v, a[0], $"unix:{ovs.RunDir}/{br}.mgmt", .. a[1..]], 30_000), () => ovs.LogTail,
                    ["ip", "-n", ovsNs.Name]),
                new Side("softswitch vswitchd", a => db.TryVsctl(a),
                    (v, br, a) => db.Tool("ovs-ofctl", ["-O", v, a[0], br, .. a[1..]]), () => VswitchdBridgesTests.Log(db), ["ip"]),
            };
            // Each side's controller, where its daemon reaches 127.0.0.1 (Open vSwitch's namespace, or this one).
            var ports = new[] { FreePorts.Tcp(), FreePorts.Tcp() };
            for (int s = 0; s < 2; s++)
            {
                string run = s == 0 ? ovs.RunDir : db.RunDir, name = $"tc{ports[s]}";
                string[] args = ["ovs-testcontroller", "-O", "OpenFlow13", $"ptcp:{ports[s]}:127.0.0.1", "--detach", "--no-chdir",
                    $"--pidfile={run}/{name}.pid", $"--log-file={run}/{name}.log", $"--unixctl={run}/{name}.ctl"];
                var tc = s == 0 ? Sh.Run("ip", ["netns", "exec", ovsNs.Name, .. args]) : Sh.Run(args[0], args[1..]);
                Assert.True(tc.Ok, tc.Stderr);
                controllers.Add($"{run}/{name}.pid");
            }

            var seen = new List<string>[2];
            for (int s = 0; s < 2; s++)
            {
                var side = sides[s];
                string Vsctl(params string[] a)
                {
                    var r = side.Vsctl(a);
                    Assert.True(r.Ok, $"{side.Name}: ovs-vsctl {string.Join(' ', a)}: {r.Stderr}\n{side.Log()}");
                    return r.Stdout.Trim();
                }
                Vsctl("add-br", br1, "--", "set", "bridge", br1, "datapath_type=netdev", "other-config:datapath-id=00000000000000b1",
                    "protocols=OpenFlow10,OpenFlow13", "fail_mode=secure",
                    "--", "add-port", br1, $"ovsp1{s_id}", "--", "set", "Interface", $"ovsp1{s_id}", "type=internal", "ofport_request=5",
                    "--", "add-port", br1, $"ovsp2{s_id}", "--", "set", "Interface", $"ovsp2{s_id}", "type=internal");
                // An interface that does not exist: ovs-vsctl says so (on stderr) and the rest stands.
                side.Vsctl(["add-port", br1, $"ovsnone{s_id}"]);
                Vsctl("add-br", br2, "--", "set", "bridge", br2, "datapath_type=netdev",
                    "--", "add-port", br1, $"ovspa{s_id}", "--", "set", "Interface", $"ovspa{s_id}", "type=patch", $"options:peer=ovspb{s_id}",
                    "--", "add-port", br2, $"ovspb{s_id}", "--", "set", "Interface", $"ovspb{s_id}", "type=patch", $"options:peer=ovspa{s_id}");
                Vsctl("set-controller", br2, $"tcp:127.0.0.1:{ports[s]}");
                Assert.True(Wait.Until(() => Vsctl("get", "Controller", br2, "is_connected") == "true", 20_000, everyMs: 100), $"{side.Name}: the controller never connected\n{side.Log()}");
                foreach (var flow in new[]
                {
                    "ip,nw_dst=10.1.0.0/16,actions=mod_nw_tos:16,output:5",
                    "priority=200,in_port=5,dl_vlan=7,actions=strip_vlan,output:1",
                    "cookie=0x42,priority=300,arp,actions=NORMAL",
                    "priority=1,actions=goto_table:1",
                    "table=1,priority=5,tcp,tp_dst=80,actions=drop",
                    "table=1,priority=4,udp,dl_vlan=3,actions=mod_vlan_vid:4,output:2",
                    // Open vSwitch's extensions, as its users write them.
                    "table=1,priority=3,reg0=0x5/0xff,actions=load:0x1->NXM_NX_REG1[],move:NXM_OF_ETH_SRC[]->NXM_NX_XXREG1[0..47],resubmit(,2)",
                    "table=1,priority=2,dl_vlan=99,actions=learn(table=10,idle_timeout=60,fin_idle_timeout=5,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]),resubmit(,2)",
                    "table=2,priority=10,ip,nw_src=10.0.0.1,actions=conjunction(7,1/2)",
                    "table=2,priority=10,tcp,tp_dst=22,actions=conjunction(7,2/2)",
                    "table=2,priority=10,conj_id=7,ip,actions=note:ab.cd,dec_ttl(1,2),output:NXM_NX_REG0[0..15]",
                    "table=2,priority=5,actions=clone(mod_dl_dst:00:00:00:00:00:03,output:2),multipath(eth_src,50,modulo_n,2,0,NXM_NX_REG0[0..1]),resubmit(,3)",
                    "table=3,priority=5,tcp,tcp_flags=+syn,pkt_mark=0x7,actions=fin_timeout(idle_timeout=10),controller(reason=invalid_ttl,max_len=128,id=3),exit",
                    "table=3,priority=4,actions=bundle(eth_src,0,hrw,ofport,members:1,2),write_actions(load:0x5->NXM_NX_REG2[],resubmit(,4))",
                })
                {
                    var r = side.Ofctl(br1, ["add-flow", flow]);
                    Assert.True(r.Ok, $"{side.Name}: add-flow {flow}: {r.Stderr}");
                }
                Assert.True(side.Ofctl(br1, ["del-flows", "--strict", "priority=200,in_port=5,dl_vlan=7"]).Ok);
                Vsctl("set", "Interface", $"ovsp2{s_id}", "ofport_request=7");

                // Veths of the side's namespace: v1 up with its peer up, v2 administratively down, v3 up with its peer down.
                void Ip(params string[] a) => Sh.Check(side.Ip[0], [.. side.Ip[1..], .. a]);
                for (int v = 1; v <= 3; v++)
                {
                    Ip("link", "add", $"ovsv{v}{s_id}", "type", "veth", "peer", "name", $"ovsw{v}{s_id}");
                    if (v != 2) Ip("link", "set", $"ovsv{v}{s_id}", "up");
                    if (v != 3) Ip("link", "set", $"ovsw{v}{s_id}", "up");
                    Vsctl("add-port", br1, $"ovsv{v}{s_id}", "--", "set", "Interface", $"ovsv{v}{s_id}", $"ofport_request={9 + v}");
                }

                var facts = new List<string>
                {
                    "applied " + (Vsctl("get", "Open_vSwitch", ".", "cur_cfg") == Vsctl("get", "Open_vSwitch", ".", "next_cfg")),
                    "datapath_types " + Vsctl("get", "Open_vSwitch", ".", "datapath_types"),
                    "controller is_connected " + Vsctl("get", "Controller", br2, "is_connected") + " role " + Vsctl("get", "Controller", br2, "role"),
                };
                foreach (var br in new[] { br1, br2 })
                {
                    facts.Add($"bridge {br} fail_mode {Vsctl("get", "Bridge", br, "fail_mode")} protocols {Vsctl("get", "Bridge", br, "protocols")} status {Vsctl("get", "Bridge", br, "status")}");
                }
                facts.Add("bridge datapath_id " + Vsctl("get", "Bridge", br1, "datapath_id"));
                foreach (var i in new[] { br1, br2, $"ovsp1{s_id}", $"ovsp2{s_id}", $"ovsnone{s_id}", $"ovspa{s_id}", $"ovspb{s_id}", $"ovsv1{s_id}", $"ovsv2{s_id}", $"ovsv3{s_id}" })
                {
                    string error = Vsctl("get", "Interface", i, "error");
                    var known = Regex.Match(error, "^\"?could not open network device [^ ]+");
                    facts.Add($"interface {i} ofport {Vsctl("get", "Interface", i, "ofport")} link_state {Vsctl("get", "Interface", i, "link_state")} "
                        + $"admin_state {Vsctl("get", "Interface", i, "admin_state")} link_speed {Vsctl("get", "Interface", i, "link_speed")} duplex {Vsctl("get", "Interface", i, "duplex")} "
                        + $"error {(error == "[]" ? "none" : known.Success ? known.Value.TrimStart('"') : "other: " + error)}");
                }
                var dump = side.Ofctl(br1, ["dump-flows", "--no-stats"]);
                Assert.True(dump.Ok, dump.Stderr);
                facts.AddRange(dump.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).Select(l => "flow " + l));
                // OpenFlow 1.0's view of the same flows (goto-table as Open vSwitch's resubmit extension).
                var dump10 = side.OfctlIn("OpenFlow10", br1, ["dump-flows", "--no-stats"]);
                Assert.True(dump10.Ok, dump10.Stderr);
                facts.AddRange(dump10.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).Select(l => "flow10 " + l));
                var show = side.Ofctl(br1, ["show"]);
                Assert.True(show.Ok, show.Stderr);
                facts.AddRange(Ports(show.Stdout));
                var desc = side.Ofctl(br1, ["dump-ports-desc"]);
                Assert.True(desc.Ok, desc.Stderr);
                facts.AddRange(Ports(desc.Stdout).Select(l => "desc13 " + l));

                // v1 taken down and v2 brought up: PORT_DOWN follows the device, and v1's link state with it.
                Ip("link", "set", $"ovsv1{s_id}", "down");
                Ip("link", "set", $"ovsv2{s_id}", "up");
                string Show10() => side.OfctlIn("OpenFlow10", br1, ["show"]).Stdout;
                Assert.True(Wait.Until(() => Ports(Show10()).Contains($"port 10(ovsv1{s_id}) config PORT_DOWN")
                    && Ports(Show10()).Contains($"port 11(ovsv2{s_id}) config 0"), 10_000, everyMs: 100), $"{side.Name}: show after the change:\n{Show10()}");
                facts.AddRange(Ports(Show10()).Where(l => l.Contains("ovsv", StringComparison.Ordinal)).Select(l => "after " + l));
                seen[s] = facts;
                Vsctl("del-br", br1, "--", "del-br", br2);
            }
            string Text(List<string> f) => string.Join('\n', f);
            Assert.True(Text(seen[0]) == Text(seen[1]), $"ovs-vswitchd:\n{Text(seen[0])}\n\nsoftswitch vswitchd:\n{Text(seen[1])}");
        }
        finally
        {
            foreach (var pidFile in controllers)
                if (File.Exists(pidFile)) Sh.Run("kill", "-TERM", File.ReadAllText(pidFile).Trim());
            VswitchdBridgesTests.StopDaemon(pid);
            foreach (var link in new[] { br1, br2, $"ovsp1{s_id}", $"ovsp2{s_id}", $"ovsv1{s_id}", $"ovsv2{s_id}", $"ovsv3{s_id}" }) Sh.Run("ip", "link", "del", link);
        }
    }

    /// <summary>show's ports: number and name, then each line of config, state, link modes and speeds, one fact each (addresses left out).</summary>
    private static List<string> Ports(string show)
    {
        var facts = new List<string>();
        string? port = null;
        foreach (var line in show.Split('\n'))
        {
            var head = Regex.Match(line, @"^ (\w+)\(([^)]+)\): addr:");
            if (head.Success)
            {
                port = $"port {head.Groups[1].Value}({head.Groups[2].Value})";
                continue;
            }
            var item = Regex.Match(line, @"^\s+(config|state|current|advertised|supported|peer|speed):\s+(.*)$");
            if (port is not null && item.Success) facts.Add($"{port} {item.Groups[1].Value} {item.Groups[2].Value.Trim()}");
        }
        return facts;
    }
}
