using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Open vSwitch's own <c>ovs-ctl restart</c> restarts `softswitch vswitchd` and keeps every flow and group, as it
/// does for ovs-vswitchd: with <c>OVS_SBINDIR</c> naming a directory whose <c>ovs-vswitchd</c> is a link to this
/// build's softswitch, ovs-ctl starts the daemon by that name (ovs-vswitchd's command line: -v specs, --mlockall,
/// --no-chdir, --log-file, --pidfile, --detach), finds it running (/proc/PID/comm is ovs-vswitchd), saves the
/// bridges with ovs-save, stops it, sets other_config:flow-restore-wait=true, starts it again, restores the groups
/// and flows with <c>--bundle</c> and removes flow-restore-wait. The database is a private ovsdb-server (OVS_RUNDIR,
/// OVS_DBDIR, OVS_LOGDIR point at its directory), so ovs-ctl runs with --no-ovsdb-server, as Debian's
/// ovs-vswitchd.service reload runs it.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
[RequiresTool("ovs-appctl")]
public sealed class VswitchdOvsCtlRestartTests
{
    private const string OvsCtl = "/usr/share/openvswitch/scripts/ovs-ctl";
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    private static string Softswitch => Path.Combine(AppContext.BaseDirectory, "softswitch");

    [E2EFact]
    public void OvsCtlRestart_RestartsTheDaemon_KeepingEveryFlowAndGroup()
    {
        string nsA = $"ocA{s_id}", nsB = $"ocB{s_id}", hA = $"oca{s_id}", hB = $"ocb{s_id}", bridge = $"ocbr{s_id}";
        using var db = OvsdbServer.Start("ssw-ovsctl-");
        string run = db.RunDir;
        string sbin = Directory.CreateDirectory(Path.Combine(run, "sbin")).FullName;
        File.CreateSymbolicLink(Path.Combine(sbin, "ovs-vswitchd"), Softswitch);
        // ovs-ofctl as ovs-save's restore script runs it (ovs-ctl puts OVS_SBINDIR first on PATH): each command line kept.
        string ofctlLog = Path.Combine(run, "ovs-ofctl.args");
        File.WriteAllText(Path.Combine(sbin, "ovs-ofctl"), $"#!/bin/sh\necho \"$*\" >> {ofctlLog}\nexec /usr/bin/ovs-ofctl \"$@\"\n");
        Sh.Check("chmod", "+x", Path.Combine(sbin, "ovs-ofctl"));
        // ovs-ctl enables ovsdb-server's managers at the end through ovsdb-server.PID.ctl; this server's socket is ovsdb-server.ctl.
        string dbPid = File.ReadAllText(Path.Combine(run, "ovsdb-server.pid")).Trim();
        File.CreateSymbolicLink(Path.Combine(run, $"ovsdb-server.{dbPid}.ctl"), Path.Combine(run, "ovsdb-server.ctl"));
        string pidFile = Path.Combine(run, "ovs-vswitchd.pid");
        string[] env = ["env", $"OVS_RUNDIR={run}", $"OVS_DBDIR={run}", $"OVS_LOGDIR={run}", $"OVS_SYSCONFDIR={run}", $"OVS_SBINDIR={sbin}", $"TMPDIR={run}"];
        Sh.Result Ctl(params string[] args) => Sh.Run(env[0], [.. env[1..], OvsCtl, "--no-ovsdb-server", "--no-monitor", "--system-id=random", "--no-record-hostname", .. args], 180_000);
        int Pid() => int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        string groups = Path.Combine(run, "groups.txt"), flows = Path.Combine(run, "flows.txt");
        int pid = 0;
        try
        {
            foreach (var (ns, host, ip) in new[] { (nsA, hA, "10.79.0.1/24"), (nsB, hB, "10.79.0.2/24") }) VswitchdBridgesTests.AddHost(ns, host, ip);

            // ovs-ctl start: the link started by ovs-vswitchd's command line, running under that name.
            var start = Ctl("start");
            Assert.True(start.Ok, $"ovs-ctl start: {start.Stdout}{start.Stderr}");
            pid = Pid();
            Assert.Equal("ovs-vswitchd", File.ReadAllText($"/proc/{pid}/comm").Trim());
            Assert.Equal(Path.GetFullPath(Softswitch), Path.GetFullPath(ResolveExe(pid)));
            string cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            // Run again by --detach with the -v specs spelled as --verbose (the parser's form).
            Assert.Contains("vswitchd unix:", cmdline, StringComparison.Ordinal);
            Assert.Contains("--verbose=console:emer --verbose=syslog:err --verbose=file:info --mlockall --no-chdir", cmdline, StringComparison.Ordinal);

            db.Vsctl("add-br", bridge, "--", "set", "Bridge", bridge, "protocols=OpenFlow10,OpenFlow13,OpenFlow14", "fail_mode=secure",
                "--", "add-port", bridge, hA, "--", "set", "Interface", hA, "ofport_request=1",
                "--", "add-port", bridge, hB, "--", "set", "Interface", hB, "ofport_request=2");
            File.WriteAllText(groups, VswitchdSaveRestoreTests.Groups);
            File.WriteAllText(flows, VswitchdSaveRestoreTests.Flows);
            foreach (var args in new[] { new[] { "add-groups", bridge, groups }, ["add-flows", bridge, flows] })
            {
                var r = db.Tool("ovs-ofctl", ["-O", "OpenFlow14", .. args]);
                Assert.True(r.Ok, $"ovs-ofctl {args[0]}: {r.Stderr}");
            }
            var flowsBefore = VswitchdSaveRestoreTests.Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "--no-stats", bridge), "OFPST_FLOW");
            var groupsBefore = VswitchdSaveRestoreTests.Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-groups", bridge), "OFPST_GROUP_DESC");
            Assert.Equal(9, flowsBefore.Count);
            Assert.Equal(3, groupsBefore.Count);
            Assert.True(VswitchdSaveRestoreTests.Ping(nsA, "10.79.0.2"), "no ping across the bridge before the restart");

            var restart = Ctl("restart");
            Assert.True(restart.Ok, $"ovs-ctl restart: {restart.Stdout}{restart.Stderr}");
            Assert.Contains("Saving flows", restart.Stdout, StringComparison.Ordinal);
            Assert.Contains("Restoring saved flows", restart.Stdout, StringComparison.Ordinal);
            int restarted = Pid();
            Assert.NotEqual(pid, restarted);
            Assert.False(File.Exists($"/proc/{pid}/stat"), $"the daemon before the restart (pid {pid}) still runs");
            pid = restarted;
            Assert.Equal("ovs-vswitchd", File.ReadAllText($"/proc/{pid}/comm").Trim());

            // ovs-save's script restored the groups and the flows each in one bundle, the daemon waiting meanwhile.
            string ofctl = File.ReadAllText(ofctlLog);
            Assert.Matches($@"(?m)^-O OpenFlow14 add-groups {bridge} .* --bundle$", ofctl);
            Assert.Matches($@"(?m)^-O OpenFlow14 replace-flows {bridge} .* --bundle$", ofctl);
            // ovs-ctl removes the key with ovs-vsctl --no-wait: the daemon says so once it has read the change.
            string logFile = Path.Combine(run, "ovs-vswitchd.log");
            const string Removed = "other_config:flow-restore-wait removed: the bridges connect to their controllers";
            Wait.Until(() => File.ReadAllText(logFile).Contains(Removed, StringComparison.Ordinal), 10_000, 50);
            string log = File.ReadAllText(logFile);
            Assert.Contains("other_config:flow-restore-wait=true: no bridge connects to its controllers until it is removed", log);
            Assert.Contains(Removed, log);
            Assert.DoesNotContain("flow-restore-wait", db.Vsctl("get", "Open_vSwitch", ".", "other_config"));

            Assert.Equal(groupsBefore, VswitchdSaveRestoreTests.Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-groups", bridge), "OFPST_GROUP_DESC"));
            Assert.Equal(flowsBefore, VswitchdSaveRestoreTests.Lines(db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-flows", "--no-stats", bridge), "OFPST_FLOW"));
            Assert.True(VswitchdSaveRestoreTests.Ping(nsA, "10.79.0.2"), "no ping across the bridge after the restart\n" + log);
            var stats = db.Tool("ovs-ofctl", "-O", "OpenFlow14", "dump-group-stats", bridge);
            Assert.True(stats.Ok, stats.Stderr);
            Assert.Matches(@"group_id=3,.*packet_count=[1-9]", stats.Stdout);

            var stop = Ctl("stop");
            Assert.True(stop.Ok, $"ovs-ctl stop: {stop.Stdout}{stop.Stderr}");
            Assert.True(Wait.Until(() => !File.Exists($"/proc/{pid}/stat"), 15_000, everyMs: 50), "ovs-ctl stop left the daemon running");
            pid = 0;
        }
        finally
        {
            if (pid != 0) VswitchdBridgesTests.StopDaemon(pid);
            foreach (var link in new[] { hA, hB }) Sh.Run("ip", "link", "del", link);
            foreach (var ns in new[] { nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
        }
    }

    private static string ResolveExe(int pid) => new FileInfo($"/proc/{pid}/exe").ResolveLinkTarget(returnFinalTarget: false)?.FullName ?? "";
}
