using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.Datapath.Packets;
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
/// (goto-table there as Open vSwitch's resubmit extension). Then the same flows forward the same crafted frames through
/// both, port for port and byte for byte, and leave the same flow counts (<see cref="TheScriptsFlows_ForwardTheTestFramesAsOvsVswitchdDoes"/>).
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-vswitchd")]
[RequiresTool("ovs-testcontroller")]
public sealed class VswitchdSideBySideTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    /// <summary>A switch the tests run ovs-vsctl on: its name, its ovs-vsctl, its log.</summary>
    private interface IVsctlSide
    {
        string Name { get; }
        Func<string[], Sh.Result> Vsctl { get; }
        Func<string> Log { get; }
    }

    /// <summary>ovs-vsctl ARGS on <paramref name="side"/>, asserted to succeed (the side's log in the message); its output, trimmed.</summary>
    private static string Vsctl(IVsctlSide side, params string[] a)
    {
        var r = side.Vsctl(a);
        Assert.True(r.Ok, $"{side.Name}: ovs-vsctl {string.Join(' ', a)}: {r.Stderr}\n{side.Log()}");
        return r.Stdout.Trim();
    }

    /// <summary>One daemon under the script: its ovs-vsctl, an OpenFlow tool call on one of its bridges, and `ip` in its namespace.</summary>
    private sealed record Side(string Name, Func<string[], Sh.Result> Vsctl, Func<string, string, string[], Sh.Result> OfctlIn, Func<string> Log, string[] Ip)
        : IVsctlSide
    {
        /// <summary>ovs-ofctl -O OpenFlow13 COMMAND BRIDGE ARGS...</summary>
        public Sh.Result Ofctl(string bridge, string[] args) => OfctlIn("OpenFlow13", bridge, args);
    }

    /// <summary>The flows the script adds to the first bridge (the one at priority 200 is deleted again): standard ones,
    /// then Open vSwitch's extensions as its users write them.</summary>
    private static readonly string[] s_flows =
    [
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
    ];

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
                Vsctl(side, "add-br", br1, "--", "set", "bridge", br1, "datapath_type=netdev", "other-config:datapath-id=00000000000000b1",
                    "protocols=OpenFlow10,OpenFlow13", "fail_mode=secure",
                    "--", "add-port", br1, $"ovsp1{s_id}", "--", "set", "Interface", $"ovsp1{s_id}", "type=internal", "ofport_request=5",
                    "--", "add-port", br1, $"ovsp2{s_id}", "--", "set", "Interface", $"ovsp2{s_id}", "type=internal");
                // An interface that does not exist: ovs-vsctl says so (on stderr) and the rest stands.
                side.Vsctl(["add-port", br1, $"ovsnone{s_id}"]);
                Vsctl(side, "add-br", br2, "--", "set", "bridge", br2, "datapath_type=netdev",
                    "--", "add-port", br1, $"ovspa{s_id}", "--", "set", "Interface", $"ovspa{s_id}", "type=patch", $"options:peer=ovspb{s_id}",
                    "--", "add-port", br2, $"ovspb{s_id}", "--", "set", "Interface", $"ovspb{s_id}", "type=patch", $"options:peer=ovspa{s_id}");
                Vsctl(side, "set-controller", br2, $"tcp:127.0.0.1:{ports[s]}");
                Assert.True(Wait.Until(() => Vsctl(side, "get", "Controller", br2, "is_connected") == "true", 20_000, everyMs: 100), $"{side.Name}: the controller never connected\n{side.Log()}");
                foreach (var flow in s_flows)
                {
                    var r = side.Ofctl(br1, ["add-flow", flow]);
                    Assert.True(r.Ok, $"{side.Name}: add-flow {flow}: {r.Stderr}");
                }
                Assert.True(side.Ofctl(br1, ["del-flows", "--strict", "priority=200,in_port=5,dl_vlan=7"]).Ok);
                Vsctl(side, "set", "Interface", $"ovsp2{s_id}", "ofport_request=7");

                // Veths of the side's namespace: v1 up with its peer up, v2 administratively down, v3 up with its peer down.
                void Ip(params string[] a) => Sh.Check(side.Ip[0], [.. side.Ip[1..], .. a]);
                for (int v = 1; v <= 3; v++)
                {
                    Ip("link", "add", $"ovsv{v}{s_id}", "type", "veth", "peer", "name", $"ovsw{v}{s_id}");
                    if (v != 2) Ip("link", "set", $"ovsv{v}{s_id}", "up");
                    if (v != 3) Ip("link", "set", $"ovsw{v}{s_id}", "up");
                    Vsctl(side, "add-port", br1, $"ovsv{v}{s_id}", "--", "set", "Interface", $"ovsv{v}{s_id}", $"ofport_request={9 + v}");
                }

                var facts = new List<string>
                {
                    "applied " + (Vsctl(side, "get", "Open_vSwitch", ".", "cur_cfg") == Vsctl(side, "get", "Open_vSwitch", ".", "next_cfg")),
                    "datapath_types " + Vsctl(side, "get", "Open_vSwitch", ".", "datapath_types"),
                    "controller is_connected " + Vsctl(side, "get", "Controller", br2, "is_connected") + " role " + Vsctl(side, "get", "Controller", br2, "role"),
                };
                foreach (var br in new[] { br1, br2 })
                {
                    facts.Add($"bridge {br} fail_mode {Vsctl(side, "get", "Bridge", br, "fail_mode")} protocols {Vsctl(side, "get", "Bridge", br, "protocols")} status {Vsctl(side, "get", "Bridge", br, "status")}");
                }
                facts.Add("bridge datapath_id " + Vsctl(side, "get", "Bridge", br1, "datapath_id"));
                foreach (var i in new[] { br1, br2, $"ovsp1{s_id}", $"ovsp2{s_id}", $"ovsnone{s_id}", $"ovspa{s_id}", $"ovspb{s_id}", $"ovsv1{s_id}", $"ovsv2{s_id}", $"ovsv3{s_id}" })
                {
                    string error = Vsctl(side, "get", "Interface", i, "error");
                    var known = Regex.Match(error, "^\"?could not open network device [^ ]+");
                    facts.Add($"interface {i} ofport {Vsctl(side, "get", "Interface", i, "ofport")} link_state {Vsctl(side, "get", "Interface", i, "link_state")} "
                        + $"admin_state {Vsctl(side, "get", "Interface", i, "admin_state")} link_speed {Vsctl(side, "get", "Interface", i, "link_speed")} duplex {Vsctl(side, "get", "Interface", i, "duplex")} "
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
                Vsctl(side, "del-br", br1, "--", "del-br", br2);
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

    /// <summary>Flows the frames test adds to <see cref="s_flows"/> (less the one at priority 200).</summary>
    private static readonly string[] s_frameFlows =
    [
        // Frames on port 4 enter table 1 with reg0=5 (table 1's register flow; the conjunction's output:REG names port 5)
        // and pkt_mark=7 (table 3's first flow).
        "priority=2,in_port=4,actions=load:0x5->NXM_NX_REG0[],load:0x7->NXM_NX_PKT_MARK[],goto_table:1",
        // The action set's load and resubmit, and multipath's pick, show on port 5.
        "table=4,priority=1,reg2=0x5,reg0=0x1/0x3,actions=output:5",
        // Loads into part of a packet field (a masked set_field; ovs-ofctl sends them as NXAST_REG_LOAD or REG_LOAD2).
        "priority=400,udp,nw_dst=10.9.0.1,actions=load:0x5->NXM_OF_ETH_DST[0..7],load:0x1->NXM_OF_IP_TOS[2..3],load:0x63->NXM_OF_IP_SRC[8..15],set_field:0x1/0x1->udp_src,output:2",
        "priority=400,tcp,nw_dst=10.9.0.2,actions=load:0x1->NXM_OF_TCP_SRC[0],load:0xa->NXM_OF_IP_DST[0..7],output:2",
        "priority=400,dl_vlan=5,actions=load:0x123->NXM_OF_VLAN_TCI[0..11],load:0x5->NXM_OF_VLAN_TCI[13..15],output:2",
        "priority=400,dl_vlan=6,actions=set_field:0x7/0xff->vlan_vid,output:2",
        // The sentinel that ends each frame's round: once on every port.
        "priority=65535,dl_type=0x88b5,actions=in_port,output:1,output:2,output:3,output:4,output:5",
    ];

    /// <summary>
    /// Flows the frames test adds in the version named, as users write them there: Open vSwitch's newer uses of its
    /// Nicira fields. Cookie 0x5a: loads into part of nw_ttl, ip_ecn, an IPv6 address and ipv6_label; whole-field loads
    /// (read back as loads up to 1.4 and as set_field in 1.5); partial and whole register loads, moves between registers
    /// and packet fields, output:REG. Cookie 0x5b: a dp_hash select group (<see cref="s_frameGroups"/>; Open vSwitch
    /// recirculates the packet there), then the table the rule's goto reaches, or a resubmit after the group. No flow
    /// matches dp_hash: Open vSwitch 3.1 refuses such a flow-mod from a controller (OFPBRC_EPERM, "only internal flows
    /// can set non-default values to hidden fields"); the tables after the group matching dp_hash are proved in
    /// PipelineWordTests. The 1.0-style loads are added over 1.0, as their users write them: both switches mark such a
    /// flow reset_counts in its 1.3 and 1.5 statistics (a 1.0 add always resets counts).
    /// </summary>
    private static readonly (string Version, string Flow)[] s_nxFlows =
    [
        ("OpenFlow10", "cookie=0x5a,priority=400,udp,nw_dst=10.9.0.3,actions=load:0x5->NXM_NX_IP_TTL[0..3],load:0x1->NXM_NX_IP_ECN[1],output:2"),
        ("OpenFlow10", "cookie=0x5a,priority=400,udp6,in_port=3,actions=load:0x1234->NXM_NX_IPV6_SRC[0..15],load:0xf->NXM_NX_IP_TTL[4..7],load:0x1->NXM_NX_IP_ECN[0],load:0xab->NXM_NX_IPV6_LABEL[0..7],output:2"),
        ("OpenFlow10", "cookie=0x5a,priority=400,udp,nw_dst=10.9.0.5,actions=load:0xa000001->NXM_OF_IP_DST[],load:0x20->NXM_OF_IP_TOS[],load:0xaa->NXM_OF_ETH_SRC[],output:2"),
        ("OpenFlow15", "cookie=0x5a,priority=401,udp6,in_port=3,tp_dst=2002,actions=load:0x20010db8000000000000000000000099->NXM_NX_IPV6_DST[],load:0x3->NXM_NX_IPV6_LABEL[],output:2"),
        ("OpenFlow15", "cookie=0x5a,priority=400,udp,nw_dst=10.9.0.6,actions=load:0x3->NXM_NX_REG5[4..7],load:0x2->NXM_NX_REG6[16..31],load:0x21->NXM_NX_REG4[],"
            + "move:NXM_NX_REG5[4..7]->NXM_OF_IP_TOS[2..5],move:NXM_NX_REG4[0..7]->NXM_NX_IP_TTL[],move:NXM_OF_UDP_DST[0..7]->NXM_NX_REG7[8..15],"
            + "move:NXM_NX_REG7[8..15]->NXM_OF_ETH_DST[0..7],output:NXM_NX_REG6[16..31]"),
        ("OpenFlow13", "cookie=0x5b,priority=400,udp,nw_dst=10.9.0.7,actions=group:5,goto_table:5"),
        ("OpenFlow13", "cookie=0x5b,priority=400,udp,nw_dst=10.9.0.8,actions=group:6,resubmit(,6)"),
        ("OpenFlow13", "cookie=0x5b,table=5,priority=5,actions=output:5"),
        ("OpenFlow15", "cookie=0x5b,table=6,priority=5,actions=output:5"),
    ];

    /// <summary>The groups the frames test adds in OpenFlow 1.5 (where ovs-ofctl writes a selection method): dp_hash
    /// select groups of one bucket (the pick does not depend on the hash's value, which is each switch's own).</summary>
    private static readonly string[] s_frameGroups =
    [
        "group_id=5,type=select,selection_method=dp_hash,bucket=actions=mod_dl_src:00:00:00:00:00:57,output:1",
        "group_id=6,type=select,selection_method=dp_hash,bucket=actions=resubmit(,6)",
    ];

    /// <summary>One switch under the frames test: where its bridge's ports and their far ends live, its tools, and what
    /// makes its flow statistics current (Open vSwitch pushes a datapath flow's counts to its OpenFlow flows when its
    /// revalidators pass).</summary>
    private sealed record FrameSide(string Name, string? BridgeNs, string FarNs, Func<string[], Sh.Result> Vsctl,
        Func<string, string, string[], Sh.Result> OfctlIn, Action Settle, Func<string> Log) : IVsctlSide;

    /// <summary>
    /// The same flows forward the same frames: <see cref="s_flows"/> (and three flows that bring frames to the register
    /// flow and make the action set's resubmit and multipath's pick show on a port) go into one bridge of each switch
    /// whose ports 1-5 are veths, numbered by ofport_request; crafted frames (ARP, UDP, TCP, tagged, IPv6, a TTL of 1)
    /// go in on port 3 or 4 one at a time, each followed from the same port by a sentinel frame that a flow sends once
    /// out of every port, so what arrives at each veth's far end before the sentinel is that frame's output, in order
    /// (a clone's copy before the bundle's). Between them they run every flow of the script but the one deleted: the
    /// standard ones and NORMAL (a flood, then a reply to the MAC it learned), registers, resubmit, learn (the learned
    /// flows are compared), conjunction, note, dec_ttl (a TTL of 1 ends there), output:REG (to port 5, and to port 0,
    /// which is no port), clone, multipath, bundle, controller(id=3) and exit (no controller: nothing leaves) and
    /// write_actions; then <see cref="s_nxFlows"/>, added in OpenFlow 1.0, 1.3 and 1.5 as users write them there, with
    /// <see cref="s_frameGroups"/>' dp_hash groups (loads into part of a field and of a whole one, register loads and
    /// moves, output:REG, dp_hash after its group). Compared: every frame's output on every port, byte for byte and in
    /// order, and the flow table after them with each flow's n_packets and n_bytes (durations and ages left out), the
    /// Nicira flows as 1.0 and 1.5 read them back, and the groups as 1.5 does. Not compared: what NORMAL
    /// floods to the bridge's own port (its tap is not captured) and when a learned flow appears (Open vSwitch adds it
    /// while translating the frame, Softswitch through its flow-mod path just after: the test waits for both flows).
    /// </summary>
    [E2EFact]
    public void TheScriptsFlows_ForwardTheTestFramesAsOvsVswitchdDoes()
    {
        using var ovsNs = Netns.Create(prefix: "sbs");
        Sh.Check("ip", "-n", ovsNs.Name, "link", "set", "lo", "up");
        using var ovs = OvsUserspace.Start(ovsNs);
        using var db = OvsdbServer.Start("ssw-vsdsbs-");
        string farNs = $"sbsf{s_id}", br = $"sbs{s_id}b";
        string P(int n) => $"sbs{s_id}p{n}";
        string Q(int n) => $"sbs{s_id}q{n}";
        Sh.Check("ip", "netns", "add", farNs);
        int pid = VswitchdBridgesTests.StartDaemon(db);
        try
        {
            var sides = new[]
            {
                new FrameSide("ovs-vswitchd", ovsNs.Name, ovsNs.Name, a => Sh.Run("ovs-vsctl", ["--timeout=20", $"--db=unix:{ovs.RunDir}/db.sock", .. a], 30_000),
                    (v, cmd, a) => Sh.Run("ovs-ofctl", ["-O", v, cmd, $"unix:{ovs.RunDir}/{br}.mgmt", .. a], 30_000),
                    () => ovs.Appctl("revalidator/wait"), () => ovs.LogTail),
                new FrameSide("softswitch vswitchd", null, farNs, a => db.TryVsctl(a),
                    (v, cmd, a) => db.Tool("ovs-ofctl", ["-O", v, cmd, br, .. a]), () => { }, () => VswitchdBridgesTests.Log(db)),
            };
            var frames = TestFrames();
            var seen = new List<string>[2];
            for (int s = 0; s < 2; s++)
            {
                var side = sides[s];
                string OfctlIn(string version, string cmd, params string[] a)
                {
                    var r = side.OfctlIn(version, cmd, a);
                    Assert.True(r.Ok, $"{side.Name}: ovs-ofctl -O {version} {cmd} {string.Join(' ', a)}: {r.Stderr}\n{side.Log()}");
                    return r.Stdout;
                }
                string Ofctl(string cmd, params string[] a) => OfctlIn("OpenFlow13", cmd, a);

                // Ports 1-5: veths whose far ends sit in the side's far namespace, IPv6 off so the kernel sends nothing.
                for (int n = 1; n <= 5; n++)
                {
                    if (side.BridgeNs == side.FarNs) Sh.Check("ip", "-n", side.FarNs, "link", "add", P(n), "type", "veth", "peer", "name", Q(n));
                    else Sh.Check("ip", "link", "add", P(n), "type", "veth", "peer", "name", Q(n), "netns", side.FarNs);
                    foreach (var (ns, link) in new[] { (side.BridgeNs, P(n)), (side.FarNs, Q(n)) })
                    {
                        string[] ip = ns is null ? ["ip"] : ["ip", "-n", ns];
                        string[] sysctl = ["sysctl", "-qw", $"net.ipv6.conf.{link}.disable_ipv6=1"];
                        Sh.Check(ns is null ? sysctl[0] : "ip", ns is null ? sysctl[1..] : ["netns", "exec", ns, .. sysctl]);
                        Sh.Check(ip[0], [.. ip[1..], "link", "set", link, "up"]);
                    }
                }
                Vsctl(side, ["add-br", br, "--", "set", "bridge", br, "datapath_type=netdev", "protocols=OpenFlow10,OpenFlow13,OpenFlow15", "fail_mode=secure",
                    .. Enumerable.Range(1, 5).SelectMany(n => new[] { "--", "add-port", br, P(n), "--", "set", "Interface", P(n), $"ofport_request={n}" })]);
                string[] ports = [.. Enumerable.Range(1, 5).Select(P)];
                Assert.Equal("1 2 3 4 5", string.Join(' ', Vsctl(side, ["--bare", "--columns=ofport", "list", "Interface", .. ports]).Split(new[] { '\n', ' ' }, StringSplitOptions.RemoveEmptyEntries)));
                Assert.True(Wait.Until(() => Vsctl(side, ["--bare", "--columns=link_state", "list", "Interface", .. ports]).Split(new[] { '\n', ' ' }, StringSplitOptions.RemoveEmptyEntries)
                    .Count(l => l == "up") == 5, 20_000, everyMs: 100), $"{side.Name}: the ports' links never came up\n{side.Log()}");
                foreach (var flow in s_flows.Where(f => !f.StartsWith("priority=200,", StringComparison.Ordinal)).Concat(s_frameFlows)) Ofctl("add-flow", flow);
                foreach (var group in s_frameGroups) OfctlIn("OpenFlow15", "add-group", group);
                foreach (var (version, flow) in s_nxFlows) OfctlIn(version, "add-flow", flow);

                using var io = NsPorts.Start(side.FarNs, [.. Enumerable.Range(1, 5).Select(Q)]);
                var facts = new List<string>();
                var cursor = new int[6];
                int sent = 0, rounds = 0;
                // One round: the frame (if any) and a sentinel from port inPort, then what each port got before the sentinel.
                void Round(string label, int inPort, byte[]? frame)
                {
                    var mark = Sentinel(rounds++);
                    if (frame is not null) io.Send(Q(inPort), frame);
                    io.Send(Q(inPort), mark);
                    sent += frame is null ? 1 : 2;
                    var got = new List<byte[]>[6];
                    var at = new int[6];
                    bool ended = Wait.Until(() =>
                    {
                        for (int p = 1; p <= 5; p++)
                        {
                            got[p] = io.Received(Q(p));
                            at[p] = got[p].FindIndex(cursor[p], f => f.AsSpan().SequenceEqual(mark));
                            if (at[p] < 0) return false;
                        }
                        return true;
                    }, 20_000, everyMs: 2);
                    Assert.True(ended, $"{side.Name}: {label}: the sentinel did not come out of every port\n"
                        + string.Join('\n', Enumerable.Range(1, 5).Select(p => $"port {p}: {got[p]?.Count - cursor[p]} frames since the last round"))
                        + $"\n{io.Errors}{side.Log()}");
                    int before = facts.Count;
                    for (int p = 1; p <= 5; p++)
                    {
                        for (int i = cursor[p]; i < at[p]; i++) facts.Add($"{label}: port {p} {Convert.ToHexString(got[p][i])}");
                        cursor[p] = at[p] + 1;
                    }
                    if (facts.Count == before) facts.Add($"{label}: nothing");
                }
                // Both ports' sentinel paths first, so no sentinel is a datapath miss after its frame.
                Round("first sentinel from port 3", 3, null);
                Round("first sentinel from port 4", 4, null);
                for (int f = 0; f < frames.Count; f++) Round($"frame {f + 1} ({frames[f].Label}) in port {frames[f].InPort}", frames[f].InPort, frames[f].Frame);

                // The flow table once every frame is counted and both learned flows are in.
                string Dump(params string[] a) => Ofctl("dump-flows", a);
                Assert.True(Wait.Until(() =>
                {
                    side.Settle();
                    return FlowLines(Dump()).Where(l => Table(l) == 0).Sum(Packets) == sent;
                }, 30_000, everyMs: 100), $"{side.Name}: table 0 never counted the {sent} frames sent:\n{Dump()}\n{side.Log()}");
                Assert.True(Wait.Until(() => FlowLines(Dump("table=10")).Count == 2, 30_000, everyMs: 100), $"{side.Name}: the learned flows:\n{Dump("table=10")}\n{side.Log()}");
                side.Settle();
                facts.AddRange(FlowLines(Dump()).Select(l => "flow " + Regex.Replace(l, @"(duration=[0-9.]+s|idle_age=\d+|hard_age=\d+), ", "")).Order(StringComparer.Ordinal));
                // The Nicira flows as ovs-ofctl reads them back in 1.0 (those without a group) and 1.5, and the groups.
                IEnumerable<string> Lines(string text, string label)
                    => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).Select(l => label + l);
                facts.AddRange(Lines(OfctlIn("OpenFlow10", "dump-flows", "--no-stats", "cookie=0x5a/-1"), "flow10 "));
                facts.AddRange(Lines(OfctlIn("OpenFlow15", "dump-flows", "--no-stats", "cookie=0x5a/0xfe"), "flow15 "));
                facts.AddRange(Lines(OfctlIn("OpenFlow15", "dump-groups"), "group15 "));
                seen[s] = facts;
                Vsctl(side, "del-br", br);
            }

            // Every flow of tables 0-4 saw a frame (a conjunction's clauses are not counted, as in Open vSwitch).
            foreach (var line in seen[0].Where(l => l.StartsWith("flow ", StringComparison.Ordinal) && Table(l) <= 4 && !l.Contains("conjunction(", StringComparison.Ordinal)))
                Assert.True(Packets(line) > 0, "no test frame reaches " + line);
            Console.WriteLine($"side by side: {frames.Count} frames in, {seen[0].Count(l => l.Contains(": port ", StringComparison.Ordinal))} out from ovs-vswitchd, "
                + $"{seen[1].Count(l => l.Contains(": port ", StringComparison.Ordinal))} from softswitch vswitchd");
            string Text(List<string> f) => string.Join('\n', f);
            Assert.True(Text(seen[0]) == Text(seen[1]), $"only ovs-vswitchd:\n{Text([.. seen[0].Except(seen[1])])}\n\nonly softswitch vswitchd:\n{Text([.. seen[1].Except(seen[0])])}"
                + $"\n\novs-vswitchd:\n{Text(seen[0])}\n\nsoftswitch vswitchd:\n{Text(seen[1])}");
        }
        finally
        {
            VswitchdBridgesTests.StopDaemon(pid);
            foreach (var link in Enumerable.Range(1, 5).Select(P).Append(br)) Sh.Run("ip", "link", "del", link);
            Sh.Run("ip", "netns", "del", farNs);
        }
    }

    /// <summary>The frames, each with the port it goes in on; between them they run every flow of the frames test.</summary>
    private static List<(string Label, int InPort, byte[] Frame)> TestFrames()
    {
        const string h1 = "00:00:00:00:00:01", h2 = "00:00:00:00:00:02";
        var frames = new List<(string, int, byte[])>
        {
            ("ARP request: NORMAL floods it", 3, FrameBuilder.Arp(1, FlowFrames.Mac(h1), FlowFrames.Ip("10.0.0.1"), FlowFrames.Mac("00:00:00:00:00:00"), FlowFrames.Ip("10.0.0.2"))),
            ("UDP to 10.1.2.3: mod_nw_tos, output:5", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.1.2.3")),
            ("TCP to port 80: dropped in table 1", 3, Tcp("00:00:00:00:00:01", "10.0.0.1", "10.2.0.1", 80, 0x10)),
            ("UDP in VLAN 3: mod_vlan_vid:4, output:2", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.2.0.1", vlan: 3)),
            ("UDP in VLAN 99: learn, clone, multipath, bundle, write_actions", 3, FlowFrames.Udp("00:00:00:00:00:0a", h2, "10.0.0.5", "10.2.0.1", vlan: 99)),
            ("TCP 10.0.0.1 to port 22 in VLAN 99: learn, conjunction, dec_ttl, output:REG with reg0 0", 3, Tcp("00:00:00:00:00:0b", "10.0.0.1", "10.2.0.1", 22, 0x02, vlan: 99)),
            ("UDP untagged: no flow of table 1", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.2.0.1")),
            ("TCP SYN 10.0.0.1 to port 22: registers, conjunction, note, dec_ttl, output:REG to 5", 4, Tcp("00:00:00:00:00:0c", "10.0.0.1", "10.2.0.2", 22, 0x02)),
            ("the same with TTL 1: dec_ttl ends it", 4, Tcp("00:00:00:00:00:0c", "10.0.0.1", "10.2.0.2", 22, 0x02, ttl: 1)),
            ("TCP SYN to port 23 with pkt_mark 7: clone, multipath, controller(id=3), exit", 4, Tcp("00:00:00:00:00:0d", "10.0.0.2", "10.2.0.2", 23, 0x02)),
            ("TCP ACK to port 23: clone, multipath, bundle, write_actions", 4, Tcp("00:00:00:00:00:0d", "10.0.0.2", "10.2.0.2", 23, 0x10)),
        };
        for (int i = 0x21; i <= 0x26; i++)
            frames.Add(($"UDP from 00:00:00:00:00:{i:x2}: clone, multipath, bundle, write_actions", 4, FlowFrames.Udp($"00:00:00:00:00:{i:x2}", h2, "10.3.0.1", "10.2.0.2")));
        frames.Add(("IPv6 UDP: clone, multipath, bundle, write_actions", 4, FlowFrames.Ipv6Frame(17, 1000, 2000)));
        frames.Add(("UDP to 10.9.0.1: loads into part of eth_dst, ip_tos, nw_src, udp_src", 3, Dscp(FlowFrames.Udp(h1, h2, "10.0.0.1", "10.9.0.1"), 0xA1)));
        frames.Add(("TCP to 10.9.0.2: loads into part of tcp_src and nw_dst", 3, Tcp("00:00:00:00:00:01", "10.0.0.1", "10.9.0.2", 22, 0x10)));
        frames.Add(("UDP in VLAN 5: loads into part of vlan_tci (VID, then PCP)", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.2.0.1", vlan: 5)));
        frames.Add(("UDP in VLAN 6: set_field into part of vlan_vid", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.2.0.1", vlan: 6)));
        frames.Add(("UDP to 10.9.0.3: loads into part of nw_ttl and ip_ecn", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.9.0.3")));
        frames.Add(("IPv6 UDP on port 3: loads into part of ipv6_src, nw_ttl, ip_ecn, ipv6_label", 3, FlowFrames.Ipv6Frame(17, 1000, 2000)));
        frames.Add(("IPv6 UDP to port 2002: whole loads of ipv6_dst and ipv6_label", 3, FlowFrames.Ipv6Frame(17, 1000, 2002)));
        frames.Add(("UDP to 10.9.0.5: whole loads of nw_dst, ip_tos and eth_src", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.9.0.5")));
        frames.Add(("UDP to 10.9.0.6: partial and whole register loads, moves, output:REG", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.9.0.6")));
        frames.Add(("UDP to 10.9.0.7: a dp_hash group, then dp_hash in the table of the goto", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.9.0.7")));
        frames.Add(("UDP to 10.9.0.8: a dp_hash group whose bucket resubmits, then a resubmit after it", 3, FlowFrames.Udp(h1, h2, "10.0.0.1", "10.9.0.8")));
        frames.Add(("ARP reply to the MAC NORMAL learned on port 3", 4, FrameBuilder.Arp(2, FlowFrames.Mac(h2), FlowFrames.Ip("10.0.0.2"), FlowFrames.Mac(h1), FlowFrames.Ip("10.0.0.1"))));
        return frames;
    }

    /// <summary>A 64-byte TCP frame to 00:00:00:00:00:02 with the given flags and TTL, checksums filled in.</summary>
    private static byte[] Tcp(string src, string ipSrc, string ipDst, ushort dport, byte flags, byte ttl = 64, ushort? vlan = null)
    {
        uint s = FlowFrames.Ip(ipSrc), d = FlowFrames.Ip(ipDst);
        var f = FrameBuilder.Tcp(FlowFrames.Mac(src), FlowFrames.H2, s, d, 40000, dport, 64, vlan);
        int ip = vlan is null ? 14 : 18, l4 = ip + 20, ipLen = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(ip + 2));
        f[ip + 8] = ttl;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 10), Checksum.Compute(f.AsSpan(ip, 20)));
        f[l4 + 13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 16), 0);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 16), Checksum.ComputeL4(s, d, 6, f.AsSpan(l4, ipLen - 20)));
        return f;
    }

    /// <summary><paramref name="frame"/> (untagged IPv4) with its TOS byte <paramref name="tos"/> and its IPv4 checksum fixed.</summary>
    private static byte[] Dscp(byte[] frame, byte tos)
    {
        frame[15] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), Checksum.Compute(frame.AsSpan(14, 20)));
        return frame;
    }

    /// <summary>Round <paramref name="k"/>'s sentinel: 02:00:00:00:00:fe to :ff, ethertype 0x88b5, k in its first 4 bytes.</summary>
    private static byte[] Sentinel(int k)
    {
        var f = new byte[60];
        Convert.FromHexString("0200000000FF0200000000FE88B5").CopyTo(f, 0);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), k);
        return f;
    }

    /// <summary>The flow lines of a dump-flows answer.</summary>
    private static List<string> FlowLines(string dump)
        => [.. dump.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains("n_packets=", StringComparison.Ordinal))];

    private static int Table(string line)
    {
        var m = Regex.Match(line, @"\btable=(\d+),");
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static long Packets(string line) => long.Parse(Regex.Match(line, @"n_packets=(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

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
