using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Open vSwitch's own ovs-save around a restart of `softswitch vswitchd`, as <c>ovs-ctl restart</c> runs it: with
/// the bridge's protocols listing OpenFlow14, <c>ovs-save save-flows BRIDGE</c> (ovs-appctl version, ovs-vsctl get
/// bridge protocols, ovs-ofctl dump-tlv-map, dump-groups and dump-flows --no-names --no-stats) writes a script; the
/// daemon is stopped as ovs-ctl stops it (ovs-appctl exit) and started again, empty; the script restores the groups
/// and the flows with <c>add-groups --bundle</c> and <c>replace-flows --bundle</c>. dump-flows and dump-groups are
/// then what they were, and frames cross the bridge again through the restored tables and group.
/// </summary>
/// <remarks>
/// ovs-ctl restart itself runs this round trip against Softswitch's ovs-vswitchd link: VswitchdOvsCtlRestartTests.
/// ovs-save saves no meters (nor does it for Open vSwitch), so none is set here.
/// </remarks>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
[RequiresTool("ovs-appctl")]
public sealed class VswitchdSaveRestoreTests
{
    private const string OvsSave = "/usr/share/openvswitch/scripts/ovs-save";
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    internal const string Groups = """
        group_id=1,type=all,bucket=actions=output:2
        group_id=2,type=select,selection_method=hash,bucket=weight:10,actions=output:2,bucket=weight:20,actions=output:2
        group_id=3,type=indirect,bucket=actions=group:1
        """;

    // Three tables: ARP and IPv4 from port 1 by table 1 (IPv4 through the chained group 3 -> 1), the way back by table 2.
    internal const string Flows = """
        table=0,priority=10,in_port=1,actions=goto_table:1
        table=0,priority=10,in_port=2,actions=goto_table:2
        table=0,priority=0,actions=drop
        table=1,cookie=0x11,priority=20,ip,nw_dst=10.79.0.2,actions=group:3
        table=1,cookie=0x12,priority=10,arp,actions=output:2
        table=1,priority=5,udp,tp_dst=9,actions=group:2
        table=2,cookie=0x21,priority=20,ip,nw_dst=10.79.0.1,actions=output:1
        table=2,priority=10,arp,actions=output:1
        table=2,priority=1,actions=drop
        """;

    internal static List<string> Lines(Sh.Result r, string header)
    {
        Assert.True(r.Ok, r.Stderr);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith(header, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
    }

    [E2EFact]
    public void OvsSaveRestoresEveryFlowAndGroupWithBundles_AcrossADaemonRestart()
    {
        string nsA = $"rpA{s_id}", nsB = $"rpB{s_id}", hA = $"rpa{s_id}", hB = $"rpb{s_id}", bridge = $"rpbr{s_id}";
        using var db = OvsdbServer.Start("ssw-rpsave-");
        string run = db.RunDir;
        int pid = 0;
        string groups = Path.Combine(run, "groups.txt"), flows = Path.Combine(run, "flows.txt"), script = Path.Combine(run, "restore.sh");
        try
        {
            foreach (var (ns, host, ip) in new[] { (nsA, hA, "10.79.0.1/24"), (nsB, hB, "10.79.0.2/24") })
            {
                VswitchdBridgesTests.AddHost(ns, host, ip);
            }
            pid = VswitchdBridgesTests.StartDaemon(db);
            db.Vsctl("add-br", bridge, "--", "set", "Bridge", bridge, "protocols=OpenFlow10,OpenFlow13,OpenFlow14", "fail_mode=secure",
                "--", "add-port", bridge, hA, "--", "set", "Interface", hA, "ofport_request=1",
                "--", "add-port", bridge, hB, "--", "set", "Interface", hB, "ofport_request=2");
            File.WriteAllText(groups, Groups);
            File.WriteAllText(flows, Flows);
            foreach (var args in new[] { new[] { "add-groups", bridge, groups }, ["add-flows", bridge, flows] })
            {
                var r = db.Tool("ovs-ofctl", ["-O", "OpenFlow14", .. args]);
                Assert.True(r.Ok, $"ovs-ofctl {args[0]}: {r.Stderr}");
            }
            var flowsBefore = Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "--no-stats", bridge), "OFPST_FLOW");
            var groupsBefore = Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-groups", bridge), "OFPST_GROUP_DESC");
            Assert.Equal(9, flowsBefore.Count);
            Assert.Equal(3, groupsBefore.Count);
            Assert.True(Ping(nsA, "10.79.0.2"), "no ping across the bridge before the restart");

            // ovs-save as ovs-ctl runs it: the script on stdout, its dumps in a directory of its own.
            var save = Sh.Run("env", [$"OVS_RUNDIR={run}", $"OVS_DBDIR={run}", $"TMPDIR={run}", OvsSave, "save-flows", bridge], 30_000);
            Assert.True(save.Ok, $"ovs-save: {save.Stderr}");
            Assert.Contains("--bundle", save.Stdout, StringComparison.Ordinal);
            Assert.Contains("-O OpenFlow14", save.Stdout, StringComparison.Ordinal);
            File.WriteAllText(script, save.Stdout);

            // The daemon stopped as ovs-ctl stops it, then started again: it comes back with no flow and no group.
            var exit = db.Tool("ovs-appctl", "-T", "5", "exit");
            Assert.True(exit.Ok, exit.Stderr);
            Assert.True(Wait.Until(() => !File.Exists($"/proc/{pid}/stat"), 15_000, everyMs: 50), "vswitchd still runs after exit");
            pid = VswitchdBridgesTests.StartDaemon(db);
            Assert.True(Wait.Until(() => db.Tool("ovs-ofctl", "-O", "OpenFlow14", "show", bridge).Ok, 20_000, everyMs: 100), "the bridge did not come back");
            Assert.Empty(Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "--no-stats", bridge), "OFPST_FLOW"));
            Assert.Empty(Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-groups", bridge), "OFPST_GROUP_DESC"));

            var restore = Sh.Run("env", [$"OVS_RUNDIR={run}", "sh", "-x", script], 60_000);
            Assert.True(restore.Ok, $"the restore script failed: {restore.Stderr}{restore.Stdout}");
            Assert.DoesNotContain("OFPT_ERROR", restore.Stderr + restore.Stdout, StringComparison.Ordinal);
            Assert.Equal(groupsBefore, Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-groups", bridge), "OFPST_GROUP_DESC"));
            Assert.Equal(flowsBefore, Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "--no-stats", bridge), "OFPST_FLOW"));

            // Forwarding resumes through what was restored: the ping's IPv4 takes table 1's flow to group 3, then 1.
            Assert.True(Ping(nsA, "10.79.0.2"), "no ping across the bridge after the restore\n" + VswitchdBridgesTests.Log(db));
            var stats = db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-group-stats", bridge);
            Assert.True(stats.Ok, stats.Stderr);
            Assert.Matches(@"group_id=3,.*packet_count=[1-9]", stats.Stdout);
        }
        finally
        {
            if (pid != 0) VswitchdBridgesTests.StopDaemon(pid);
            foreach (var link in new[] { hA, hB }) Sh.Run("ip", "link", "del", link);
            foreach (var ns in new[] { nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
        }
    }

    internal static bool Ping(string ns, string ip)
        => Sh.Run("ip", ["netns", "exec", ns, "ping", "-c", "3", "-W", "2", "-i", "0.3", ip], 30_000).Ok;
}
