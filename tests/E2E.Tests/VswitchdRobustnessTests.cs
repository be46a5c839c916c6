using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch vswitchd` survives any configuration, as ovs-vswitchd does: every column it reads is given hostile values
/// through the real ovs-vsctl (each waits for cur_cfg, so a daemon that stops answering fails the test), and after each
/// the daemon runs, the bridge stays, and another bridge keeps its flow. A change that remakes a bridge's OpenFlow
/// switch keeps what its controller installed.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
public sealed class VswitchdRobustnessTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    [E2EFact]
    public void HostileValuesInEveryColumnRead_LeaveTheDaemonAndItsOtherBridgesForwarding()
    {
        string a = $"vra{s_id}", b = $"vrb{s_id}", inner = $"vri{s_id}";
        using var db = OvsdbServer.Start("ssw-vsrobust-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            db.Vsctl("add-br", a, "--", "add-br", b, "--", "set-fail-mode", b, "secure", "--", "add-port", a, inner, "--", "set", "Interface", inner, "type=internal");
            var add = db.Tool("ovs-ofctl", "-O", "OpenFlow13", "add-flow", b, "priority=5,actions=drop");
            Assert.True(add.Ok, add.Stderr);
            void Survives(string what)
            {
                string log = VswitchdBridgesTests.Log(db);
                Assert.True(File.Exists($"/proc/{pid}/stat"), $"the daemon ended on {what}\n{log}");
                var flows = db.Tool("ovs-ofctl", "-O", "OpenFlow13", "dump-flows", b);
                Assert.True(flows.Ok && flows.Stdout.Contains("priority=5", StringComparison.Ordinal), $"{b} lost its flow on {what}: {flows.Stderr}\n{log}");
                Assert.Equal("65534", db.Vsctl("get", "Interface", a, "ofport").Trim());
                Assert.True(db.Tool("ovs-ofctl", "show", a).Ok, $"{a} cannot be reached on {what}\n{log}");
            }

            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            string[] longName = ["add-port", a, "vrlongname" + s_id + "xxxxxxxxxx", "--", "set", "Interface", "vrlongname" + s_id + "xxxxxxxxxx", "type=internal"];
            var steps = new (string What, string[] Args)[]
            {
                ("a passive controller on a port in use", ["set-controller", a, $"ptcp:{port}:127.0.0.1"]),
                ("controller settings", ["set", "Controller", a, "inactivity_probe=0", "max_backoff=1000", "connection_mode=in-band", "controller_rate_limit=100"]),
                ("controller targets that do not parse", ["set-controller", a, "tcp:999.1.1.1:70000", "garbage", "ssl:10.9.9.9", "tcp:127.0.0.1"]),
                ("fail mode and protocols", ["set", "Bridge", a, "fail_mode=secure", "protocols=OpenFlow12,OpenFlow11"]),
                ("other_config", ["set", "Bridge", a, "other_config:datapath-id=zz", "other_config:hwaddr=ff:ff:ff:ff:ff:ff", "other_config:dp-desc=" + new string('d', 400)]),
                ("datapath_type", ["set", "Bridge", a, "datapath_type=bogus"]),
                ("bridge features", ["set", "Bridge", a, "stp_enable=true", "rstp_enable=true", "mcast_snooping_enable=true",
                    "other_config:rstp-priority=zz", "other_config:rstp-max-age=-1", "other_config:rstp-address=nope"]),
                ("an interface of no type served", ["add-port", a, "vrbog" + s_id, "--", "set", "Interface", "vrbog" + s_id, "type=bogus"]),
                ("an interface name the kernel refuses", longName),
                ("a system interface that does not exist, with a bad ring", ["add-port", a, "vrnone" + s_id, "--", "set", "Interface", "vrnone" + s_id, "options:rx_ring_size=-5", "mtu_request=9000"]),
                ("a tunnel of garbage", ["add-port", a, "vrvx" + s_id, "--", "set", "Interface", "vrvx" + s_id, "type=vxlan", "options:remote_ip=nope", "options:local_ip=1.2.3.999", "options:key=abc", "options:dst_port=99999", "mtu_request=1400"]),
                ("a patch to itself", ["add-port", a, "vrpt" + s_id, "--", "set", "Interface", "vrpt" + s_id, "type=patch", "options:peer=vrpt" + s_id]),
                ("ofport_request taken", ["set", "Interface", inner, "ofport_request=1", "--", "add-port", a, "vrpq" + s_id, "--", "set", "Interface", "vrpq" + s_id, "type=internal", "ofport_request=1"]),
                ("device settings", ["set", "Interface", inner, "mtu_request=70000", "mac=zz", "ingress_policing_rate=1", "ingress_policing_burst=1"]),
                ("a MAC on the LOCAL port", ["set", "Interface", a, "mac=\"02:00:00:00:00:01\"", "mtu_request=1"]),
                ("VLANs", ["set", "Port", inner, "tag=4095", "trunks=0,4095", "vlan_mode=dot1q-tunnel"]),
                ("a bond of missing interfaces", ["add-bond", a, "vrbond" + s_id, "vrm1" + s_id, "vrm2" + s_id, "bond_mode=balance-slb"]),
                ("bond_mode without a bond", ["set", "Port", inner, "bond_mode=active-backup"]),
                ("QoS of garbage", ["set", "Port", inner, "qos=@q", "--", "--id=@q", "create", "QoS", "type=linux-htb", "other_config:max-rate=abc", "queues:99=@u", "--", "--id=@u", "create", "Queue", "other_config:min-rate=9", "other_config:max-rate=1"]),
                ("a Flow_Table row of garbage", ["--", "--id=@ft", "create", "Flow_Table", "flow_limit=10", "groups=\"bogus[]\"", "prefixes=frobnicate",
                    "--", "set", "Bridge", a, "flow_tables:0=@ft"]),
                ("mirrors of garbage", ["--", "--id=@m1", "create", "Mirror", "name=vrm1", "select_all=true", "--", "--id=@p", "get", "Port", inner,
                    "--", "--id=@m2", "create", "Mirror", "name=vrm2", "select_src_port=@p", "output_port=@p", "output_vlan=4095", "snaplen=14", "select_vlan=0,4095",
                    "--", "set", "Bridge", a, "mirrors=@m1,@m2"]),
                ("sflow, netflow, ipfix", ["--", "--id=@s", "create", "sFlow", "targets=\"127.0.0.1:6343\"", "--", "set", "Bridge", a, "sflow=@s"]),
                ("an IPFIX row of garbage, a collector set", ["--", "--id=@i", "create", "IPFIX", "targets=\"nope:99999\"", "other_config:enable-input-sampling=maybe",
                    $"other_config:virtual_obs_id={new string('v', 300)}", "--", "set", "Bridge", a, "ipfix=@i",
                    "--", "--id=@b", "get", "Bridge", a, "--", "create", "Flow_Sample_Collector_Set", "id=7", "bridge=@b", "ipfix=@i"]),
                ("forwarding threads", ["set", "Open_vSwitch", ".", "other_config:n-pmd-threads=0", "other_config:pmd-cpu-mask=zz"]),
                ("an SSL row of missing files", ["set-ssl", "/nonexistent/key.pem", "/nonexistent/cert.pem", "/nonexistent/ca.pem"]),
                ("a Manager row", ["set-manager", "ptcp:1:127.0.0.1"]),
            };
            foreach (var (what, args) in steps)
            {
                var r = db.TryVsctl(args);
                Assert.True(r.Ok, $"ovs-vsctl {string.Join(' ', args)} ({what}): {r.Stderr}\n{VswitchdBridgesTests.Log(db)}");
                Survives(what);
            }

            // What failed is said in its row.
            Assert.Contains("interface type 'bogus' is not supported", db.Vsctl("get", "Interface", "vrbog" + s_id, "error"));
            Assert.Contains("refused", db.Vsctl("get", "Port", inner, "status:bond_mode"));
            Assert.Contains("'prefixes' with unknown field: frobnicate", VswitchdBridgesTests.Log(db));
            Assert.Contains("refused", db.Vsctl("get", "Bridge", a, "status:ipfix"));
            Assert.Contains("refused", db.Vsctl("get", "Bridge", a, "status:flow_sample_collector_set"));
            Assert.Contains("refused", db.Vsctl("get", "Interface", inner, "status:mtu_request"));
            Assert.Contains("refused", db.Vsctl("get", "Interface", "vrvx" + s_id, "status:mtu_request"));

            // One Interface row referenced by a second Port row (one transaction makes it): served once, the daemon stays.
            string iface = db.Vsctl("get", "Interface", inner, "_uuid").Trim();
            var dup = db.TryVsctl("--", "--id=@p", "create", "Port", "name=vrdup" + s_id, $"interfaces={iface}", "--", "add", "Bridge", a, "ports", "@p");
            Assert.True(dup.Ok, dup.Stderr);
            Survives("an Interface row referenced by two Port rows");
            Assert.Contains($"also referenced by port", VswitchdBridgesTests.Log(db));

            // A passive controller on a port in use is said in its row; once the port is free it listens (tried again every second).
            db.Vsctl("set-controller", a, $"ptcp:{port}:127.0.0.1");
            Assert.True(Wait.Until(() => db.Vsctl("--columns=status", "list", "Controller").Contains("address already in use", StringComparison.Ordinal), 10_000, everyMs: 100),
                "a taken port is not said in the Controller row: " + db.Vsctl("list", "Controller"));
            Survives("a passive controller on a port in use, again");
            taken.Stop();
            Assert.True(Wait.Until(() => !db.Vsctl("--columns=status", "list", "Controller").Contains("address already in use", StringComparison.Ordinal), 10_000, everyMs: 100),
                "the freed port was never listened on\n" + VswitchdBridgesTests.Log(db));
            using var probe = new TcpClient();
            probe.Connect(IPAddress.Loopback, port);
            Survives("the controller's port freed");
            db.Vsctl("del-br", a, "--", "del-br", b);
        }
        finally
        {
            taken.Stop();
            VswitchdBridgesTests.StopDaemon(pid);
            foreach (var link in new[] { a, b, inner, "vrpq" + s_id }) Sh.Run("ip", "link", "del", link);
        }
    }

    /// <summary>
    /// A bridge with a controller configured: a group, a meter and a flow using both, then set-fail-mode secure (which
    /// remakes the bridge's OpenFlow switch): all three are kept and usable, as ovs-vswitchd keeps them.
    /// </summary>
    [E2EFact]
    public void FailModeChangeWithAController_KeepsGroupsMetersAndFlows()
    {
        string br = $"vrg{s_id}";
        using var db = OvsdbServer.Start("ssw-vsrobustg-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        try
        {
            db.Vsctl("add-br", br, "--", "set", "Bridge", br, "protocols=OpenFlow13", "--", "set-controller", br, "tcp:127.0.0.1:1");
            string Ofctl(params string[] args)
            {
                var r = db.Tool("ovs-ofctl", ["-O", "OpenFlow13", .. args]);
                Assert.True(r.Ok, $"ovs-ofctl {string.Join(' ', args)}: {r.Stderr}\n{VswitchdBridgesTests.Log(db)}");
                return r.Stdout;
            }
            Ofctl("add-group", br, "group_id=1,type=all,bucket=output:LOCAL");
            Ofctl("add-meter", br, "meter=1,kbps,band=type=drop,rate=1000");
            Ofctl("add-flow", br, "priority=10,in_port=LOCAL,actions=meter:1,group:1");
            Ofctl("set-frags", br, "drop");

            db.Vsctl("set-fail-mode", br, "secure");
            Assert.Contains("group_id=1", Ofctl("dump-groups", br));
            Assert.Contains("meter=1", Ofctl("dump-meters", br));
            Assert.Contains("meter:1", Ofctl("dump-flows", br));
            Assert.Contains("drop", Ofctl("get-frags", br));
            Ofctl("mod-group", br, "group_id=1,type=all,bucket=output:LOCAL,bucket=output:LOCAL");
            Ofctl("add-flow", br, "priority=11,in_port=LOCAL,actions=meter:1,output:LOCAL");

            // Without a controller, a fail mode change deletes them all (as Open vSwitch's connmgr).
            db.Vsctl("del-controller", br);
            db.Vsctl("set-fail-mode", br, "standalone");
            Assert.DoesNotContain("group_id=1", Ofctl("dump-groups", br));
            Assert.DoesNotContain("meter=1", Ofctl("dump-meters", br));
            Assert.DoesNotContain("meter:1", Ofctl("dump-flows", br));
            db.Vsctl("del-br", br);
        }
        finally
        {
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }
}
