using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Many bridges in one `softswitch vswitchd`, driven by Debian's ovsdb-server and ovs-vsctl: one set of forwarding
/// threads serves them all (other_config:n-pmd-threads), bridges made and deleted in one transaction are so (several at
/// once) before ovs-vsctl returns, and bridges joined by patch ports forward between namespaces.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
public sealed partial class VswitchdBridgesTests
{
    private static string Softswitch => Path.Combine(AppContext.BaseDirectory, "softswitch");

    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    [E2EFact]
    public void FifteenBridges_AreServedByTheForwardingThreadsConfigured()
    {
        using var db = OvsdbServer.Start("ssw-vsd15-");
        db.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:n-pmd-threads=2");
        int pid = StartDaemon(db);
        var bridges = Enumerable.Range(0, 15).Select(i => $"ovt{s_id}x{i}").ToArray();
        try
        {
            // One transaction makes them all (several at once), two of them joined by a patch (made one by one).
            string p1 = $"ovt{s_id}p1", p2 = $"ovt{s_id}p2";
            db.Vsctl([.. bridges.SelectMany(b => new[] { "--", "add-br", b }),
                "--", "add-port", bridges[0], p1, "--", "set", "Interface", p1, "type=patch", $"options:peer={p2}",
                "--", "add-port", bridges[1], p2, "--", "set", "Interface", p2, "type=patch", $"options:peer={p1}"]);
            foreach (var b in bridges) Assert.Equal("65534", db.Vsctl("get", "Interface", b, "ofport").Trim());
            Assert.Equal("1", db.Vsctl("get", "Interface", p1, "ofport").Trim());
            Assert.True(Wait.Until(() => db.Vsctl("get", "Interface", p2, "link_state").Trim() == "up", 10_000, everyMs: 100), "the patch's link never came up");
            Assert.Equal(2, Threads(pid, "fwd-"));
            Assert.Equal(1, Threads(pid, "link-monitor"));
            // One transaction deletes them all: by the time ovs-vsctl returns, every bridge's tap is gone.
            db.Vsctl([.. bridges.SelectMany(b => new[] { "--", "del-br", b })]);
            foreach (var b in bridges) Assert.False(Sh.Run("ip", "link", "show", b).Ok, $"{b}'s tap outlived its bridge\n" + Log(db));
            Assert.Equal(2, Threads(pid, "fwd-"));
            // And their names are free: the same bridges made again at once.
            db.Vsctl([.. bridges.SelectMany(b => new[] { "--", "add-br", b })]);
            foreach (var b in bridges) Assert.Equal("65534", db.Vsctl("get", "Interface", b, "ofport").Trim());
            db.Vsctl([.. bridges.SelectMany(b => new[] { "--", "del-br", b })]);
        }
        finally
        {
            StopDaemon(pid);
            foreach (var b in bridges) Sh.Run("ip", "link", "del", b);
        }
    }

    /// <summary>
    /// other_config:pmd-rxq-assign set with the real ovs-vsctl places the receive queues again at once, as
    /// `ovs-appctl dpif-netdev/pmd-rxq-show` lists them: three AF_PACKET ports on two forwarding threads, each split in
    /// two fanout queues, idle (their veth peers are down, so nothing is measured). `cycles` (the default), asked by
    /// `dpif-netdev/pmd-rxq-rebalance`, deals them up and down in port order, so the second port's queue 0 is on
    /// core 1; `roundrobin` deals them in turn, every queue 0 on core 0 and queue 1 on core 1, and a rebalance keeps
    /// them so. A value Open vSwitch would not take is logged and read as cycles.
    /// </summary>
    [E2EFact]
    public void PmdRxqAssign_SetWithOvsVsctl_PlacesTheQueuesAsPmdRxqShowLists()
    {
        string br = $"ovq{s_id}";
        string[] links = [$"ovq{s_id}v1", $"ovq{s_id}v2", $"ovq{s_id}v3"];
        using var db = OvsdbServer.Start("ssw-vsdrxq-");
        db.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:n-pmd-threads=2");
        int pid = StartDaemon(db);
        try
        {
            foreach (var l in links)
            {
                Sh.Check("ip", "link", "add", l, "type", "veth", "peer", "name", l + "p");
                Sh.Check("ip", "link", "set", l, "up");
            }
            db.Vsctl(["add-br", br, "--", "set-fail-mode", br, "secure",
                .. links.SelectMany((l, i) => new[] { "--", "add-port", br, l, "--", "set", "Interface", l, $"ofport_request={i + 1}" })]);
            string Appctl(params string[] args) => OvsdbServer.Check(db.Tool("ovs-appctl", args));
            var placed = Placement(Appctl("dpif-netdev/pmd-rxq-show"));
            foreach (var l in links)
                Assert.True(placed.ContainsKey((l, 0)) && placed.ContainsKey((l, 1)), $"{l} is not split in two queues:\n{Appctl("dpif-netdev/pmd-rxq-show")}{Log(db)}");

            Assert.Equal("pmd rxq rebalance requested.\n", Appctl("dpif-netdev/pmd-rxq-rebalance"));
            placed = Placement(Appctl("dpif-netdev/pmd-rxq-show"));
            Assert.Equal((1, 0), (placed[(links[1], 0)], placed[(links[1], 1)]));

            db.Vsctl("set", "Open_vSwitch", ".", "other_config:pmd-rxq-assign=roundrobin");
            Assert.True(Wait.Until(() => Placement(Appctl("dpif-netdev/pmd-rxq-show"))[(links[1], 0)] == 0, 10_000, everyMs: 100),
                "roundrobin did not move the queues:\n" + Appctl("dpif-netdev/pmd-rxq-show"));
            Assert.Contains("Rxq to PMD assignment mode changed to: 'roundrobin'.", Log(db));
            Assert.Equal("pmd rxq rebalance requested.\n", Appctl("dpif-netdev/pmd-rxq-rebalance"));
            var show = Appctl("dpif-netdev/pmd-rxq-show");
            placed = Placement(show);
            foreach (var l in links) Assert.Equal((0, 1), (placed[(l, 0)], placed[(l, 1)]));
            var one = Appctl("dpif-netdev/pmd-rxq-show", "-pmd", "1");
            Assert.StartsWith("pmd thread numa_id 0 core_id 1:\n  isolated : false\n", one);
            Assert.DoesNotContain("core_id 0", one);
            Assert.Contains(one, show);

            db.Vsctl("set", "Open_vSwitch", ".", "other_config:pmd-rxq-assign=load");
            Assert.True(Wait.Until(() => Log(db).Contains("other_config:pmd-rxq-assign 'load' is not cycles, roundrobin or group: cycles is used", StringComparison.Ordinal), 10_000, everyMs: 100),
                "a bad pmd-rxq-assign was not logged:\n" + Log(db));
            db.Vsctl("del-br", br);
        }
        finally
        {
            StopDaemon(pid);
            foreach (var l in links) Sh.Run("ip", "link", "del", l);
            Sh.Run("ip", "link", "del", br);
        }
    }

    /// <summary>Each (port, queue id) of a pmd-rxq-show output with the core id of the thread that polls it.</summary>
    private static Dictionary<(string Port, int Queue), int> Placement(string show)
    {
        var placed = new Dictionary<(string, int), int>();
        int core = -1;
        foreach (var line in show.Split('\n'))
        {
            var m = ThreadLine().Match(line);
            if (m.Success)
            {
                core = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                continue;
            }
            m = QueueLine().Match(line);
            if (m.Success) placed[(m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))] = core;
        }
        return placed;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^pmd thread numa_id \d+ core_id (\d+):$")]
    private static partial System.Text.RegularExpressions.Regex ThreadLine();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s+port: (\S+)\s+queue-id:\s+(\d+) ")]
    private static partial System.Text.RegularExpressions.Regex QueueLine();

    /// <summary>
    /// other_config:pmd-cpu-mask places the forwarding thread on its CPU and, as `run --forwarding-cpus` does, keeps
    /// every other thread of the daemon (the runtime's own among them) off it; the log says where each runs. With one
    /// usable CPU there is nowhere else: the log says the others share it.
    /// </summary>
    [E2EFact]
    public void PmdCpuMask_PlacesTheForwardingThread_AndKeepsEveryOtherThreadOffItsCpu()
    {
        var allowed = Expand(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim());
        int cpu = allowed.Where(c => c < 64).Max();
        string bridge = $"ovc{s_id}x0";
        using var db = OvsdbServer.Start("ssw-vsdcpu-");
        db.Vsctl("--no-wait", "set", "Open_vSwitch", ".", $"other_config:pmd-cpu-mask=0x{1UL << cpu:x}");
        int pid = StartDaemon(db);
        try
        {
            db.Vsctl("add-br", bridge);
            Assert.True(Wait.Until(() => Threads(pid, "fwd-") == 1, 10_000, everyMs: 100), "no forwarding thread\n" + Log(db));
            var threads = new List<(string Name, string Cpus)>();
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                    string cpus = File.ReadLines(Path.Combine(task, "status")).First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim();
                    threads.Add((name, cpus));
                }
                catch (IOException) { }   // the thread ended meanwhile
            }
            string one = cpu.ToString(CultureInfo.InvariantCulture);
            Assert.Equal(one, threads.Single(t => t.Name == "fwd-0").Cpus);
            if (allowed.Count > 1)
            {
                foreach (var (name, cpus) in threads.Where(t => t.Name != "fwd-0"))
                    Assert.False(Expand(cpus).Contains(cpu), $"thread {name} may run on the forwarding CPU {cpu} ({cpus})");
                Assert.Contains(threads, t => t.Name.Contains("Finalizer", StringComparison.Ordinal));
                Assert.Contains($"on CPUs {one}, the other threads on ", Log(db));
            }
            else
            {
                Assert.Contains("every CPU this process may use: the other threads share them", Log(db));
            }
            db.Vsctl("del-br", bridge);
        }
        finally
        {
            StopDaemon(pid);
            Sh.Run("ip", "link", "del", bridge);
        }

        static List<int> Expand(string list) => [.. list.Split(',').SelectMany(r =>
        {
            var ends = r.Split('-').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            return Enumerable.Range(ends[0], ends[^1] - ends[0] + 1);
        })];
    }

    [E2EFact]
    public void TwoBridgesJoinedByPatchPorts_ForwardAPing()
    {
        string nsA = $"ovpA{s_id}", nsB = $"ovpB{s_id}", hA = $"ovpa{s_id}", hB = $"ovpb{s_id}", br1 = $"ovp{s_id}x1", br2 = $"ovp{s_id}x2";
        using var db = OvsdbServer.Start("ssw-vsdpatch-");
        int pid = StartDaemon(db);
        try
        {
            foreach (var (ns, host, ip) in new[] { (nsA, hA, "10.78.0.1/24"), (nsB, hB, "10.78.0.2/24") })
            {
                AddHost(ns, host, ip);
            }
            // Standalone bridges with no controller forward as learning switches; the patch joins them. NetFlow asked of
            // one is refused in its status column; it forwards all the same (snooping multicast, which it serves).
            db.Vsctl("add-br", br1, "--", "set-fail-mode", br1, "standalone", "--", "add-br", br2, "--", "set-fail-mode", br2, "standalone",
                "--", "set", "bridge", br1, "mcast_snooping_enable=true", "netflow=@nf",
                "--", "--id=@nf", "create", "NetFlow", "targets=\"127.0.0.1:2055\"",
                "--", "add-port", br1, hA, "--", "add-port", br2, hB,
                "--", "add-port", br1, "ovpp1" + s_id, "--", "set", "Interface", "ovpp1" + s_id, "type=patch", $"options:peer=ovpp2{s_id}",
                "--", "add-port", br2, "ovpp2" + s_id, "--", "set", "Interface", "ovpp2" + s_id, "type=patch", $"options:peer=ovpp1{s_id}");
            Assert.Equal("2", db.Vsctl("get", "Interface", "ovpp1" + s_id, "ofport").Trim());
            Assert.Equal("2", db.Vsctl("get", "Interface", "ovpp2" + s_id, "ofport").Trim());
            Assert.True(Wait.Until(() => db.Vsctl("get", "Interface", "ovpp1" + s_id, "link_state").Trim() == "up", 10_000, everyMs: 100), "the patch's link never came up");
            Assert.True(Ping(nsA, "10.78.0.2"), "no ping across the patch\n" + Log(db));
            Assert.Equal("\"refused: not served by softswitch vswitchd yet\"", db.Vsctl("get", "Bridge", br1, "status:netflow").Trim());
            Assert.Contains($"bridge {br1}: not applied: netflow", Log(db));
            Assert.Contains($"bridge {br1}: multicast snooping started", Log(db));
            Assert.Equal("{}", db.Vsctl("get", "Bridge", br2, "status").Trim());
            db.Vsctl("clear", "bridge", br1, "netflow");
            Assert.Equal("{}", db.Vsctl("get", "Bridge", br1, "status").Trim());

            // A patch with its peer gone is down, and comes back with it.
            db.Vsctl("del-port", br2, "ovpp2" + s_id);
            Assert.True(Wait.Until(() => db.Vsctl("get", "Interface", "ovpp1" + s_id, "link_state").Trim() == "down", 10_000, everyMs: 100), "the patch stayed up without its peer");
            Assert.False(Ping(nsA, "10.78.0.2", 1), "a ping crossed a patch with no peer");
            db.Vsctl("add-port", br2, "ovpp2" + s_id, "--", "set", "Interface", "ovpp2" + s_id, "type=patch", $"options:peer=ovpp1{s_id}");
            Assert.True(Ping(nsA, "10.78.0.2"), "no ping after the patch's peer came back\n" + Log(db));
            db.Vsctl("del-br", br1, "--", "del-br", br2);
        }
        finally
        {
            StopDaemon(pid);
            foreach (var link in new[] { hA, hB, br1, br2 }) Sh.Run("ip", "link", "del", link);
            foreach (var ns in new[] { nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
        }
    }

    [E2EFact]
    public void DatabaseRestarted_DaemonReconnects_AndAppliesWhatChangedMeanwhile()
    {
        string br1 = $"ovr{s_id}x1", br2 = $"ovr{s_id}x2";
        using var db = OvsdbServer.Start("ssw-vsdre-");
        string run = db.RunDir;
        int pid = StartDaemon(db);
        try
        {
            db.Vsctl("add-br", br1, "--", "set", "bridge", br1, "fail_mode=secure", "protocols=OpenFlow13");
            Assert.True(db.Tool("ovs-ofctl", "-O", "OpenFlow13", "add-flow", br1, "cookie=0x77,priority=5,actions=drop").Ok);

            // The server goes away; it comes back on another socket only, and a bridge is added there while the
            // daemon cannot see it; then the server listens where the daemon looks again.
            int server = int.Parse(File.ReadAllText(Path.Combine(run, "ovsdb-server.pid")).Trim(), CultureInfo.InvariantCulture);
            Sh.Check("kill", "-TERM", server.ToString(CultureInfo.InvariantCulture));
            Assert.True(Wait.Until(() => !File.Exists($"/proc/{server}/stat"), 10_000, everyMs: 100), "ovsdb-server did not stop");
            Assert.True(Wait.Until(() => Log(db).Contains("connection lost", StringComparison.Ordinal), 10_000, everyMs: 100), "the daemon did not see the server go\n" + Log(db));
            Sh.Check("ovsdb-server", $"{run}/conf.db", $"--remote=punix:{run}/db2.sock", $"--pidfile={run}/ovsdb-server.pid",
                $"--log-file={run}/ovsdb-server.log", $"--unixctl={run}/ovsdb-server.ctl", "--detach", "--no-chdir");
            Thread.Sleep(3000);   // the daemon fails a few times meanwhile: its pause grows
            OvsdbServer.Check(Sh.Run("ovs-vsctl", "--timeout=20", $"--db=unix:{run}/db2.sock", "--no-wait", "add-br", br2));
            Sh.Check("ovs-appctl", "-t", $"{run}/ovsdb-server.ctl", "ovsdb-server/add-remote", $"punix:{run}/db.sock");

            Assert.True(Wait.Until(() => db.Vsctl("--no-wait", "get", "Interface", br2, "ofport").Trim() == "65534", 30_000, everyMs: 100),
                "the bridge added while the daemon was away was not applied\n" + Log(db));
            Assert.Contains("resynchronising", Log(db));
            Assert.Contains("retrying with backoff", Log(db));
            // cur_cfg follows again (ovs-vsctl waits for it), and the bridge that was there kept its flow.
            db.Vsctl("set", "bridge", br1, "other-config:dp-desc=back");
            Assert.Contains("cookie=0x77", db.Tool("ovs-ofctl", "-O", "OpenFlow13", "dump-flows", br1).Stdout);
            db.Vsctl("del-br", br1, "--", "del-br", br2);
            Assert.False(Sh.Run("ip", "link", "show", br2).Ok, "del-br after the reconnection left the bridge's tap");
        }
        finally
        {
            StopDaemon(pid);
            foreach (var link in new[] { br1, br2 }) Sh.Run("ip", "link", "del", link);
        }
    }

    /// <summary>Two bridges joined by VXLAN (ovs-vsctl's type=vxlan with options:remote_ip/local_ip/key) over a veth
    /// underlay: hosts on either side ping through the tunnel, by flows that send to and from the tunnel port.</summary>
    [E2EFact]
    public void TwoBridgesJoinedByVxlan_ForwardAPing()
    {
        string nsA = $"ovxA{s_id}", nsB = $"ovxB{s_id}", hA = $"ovxa{s_id}", hB = $"ovxb{s_id}", u1 = $"ovxu1{s_id}", u2 = $"ovxu2{s_id}";
        string br1 = $"ovx{s_id}x1", br2 = $"ovx{s_id}x2";
        using var db = OvsdbServer.Start("ssw-vsdvx-");
        int pid = StartDaemon(db);
        try
        {
            foreach (var (ns, host, ip) in new[] { (nsA, hA, "10.80.0.1/24"), (nsB, hB, "10.80.0.2/24") })
            {
                AddHost(ns, host, ip);
            }
            Sh.Check("ip", "link", "add", u1, "type", "veth", "peer", "name", u2);
            Sh.Check("ip", "link", "set", u1, "up");
            Sh.Check("ip", "link", "set", u2, "up");
            foreach (var (br, host, under, vx, local, remote) in new[] { (br1, hA, u1, $"ovxv1{s_id}", "192.168.80.1", "192.168.80.2"), (br2, hB, u2, $"ovxv2{s_id}", "192.168.80.2", "192.168.80.1") })
            {
                db.Vsctl("add-br", br, "--", "set-fail-mode", br, "secure",
                    "--", "add-port", br, host, "--", "set", "Interface", host, "ofport_request=1",
                    "--", "add-port", br, under, "--", "set", "Interface", under, "ofport_request=2",
                    "--", "add-port", br, vx, "--", "set", "Interface", vx, "type=vxlan", "ofport_request=3",
                    $"options:remote_ip={remote}", $"options:local_ip={local}", "options:key=77", "options:underlay=2");
                Assert.True(db.Vsctl("get", "Interface", vx, "ofport").Trim() == "3", db.Vsctl("get", "Interface", vx, "error") + Log(db));
                foreach (var flow in new[] { "in_port=1,actions=output:3", "in_port=3,actions=output:1" })
                    Assert.True(db.Tool("ovs-ofctl", "add-flow", br, flow).Ok);
            }
            Assert.True(Ping(nsA, "10.80.0.2"), "no ping through the VXLAN tunnel\n" + db.Tool("ovs-ofctl", "dump-ports", br1).Stdout
                + db.Tool("ovs-ofctl", "dump-ports", br2).Stdout + Log(db));
            Assert.Matches(@"rx pkts=[1-9]", db.Tool("ovs-ofctl", "dump-ports", br2, "3").Stdout);
            db.Vsctl("del-br", br1, "--", "del-br", br2);
        }
        finally
        {
            StopDaemon(pid);
            foreach (var link in new[] { hA, hB, u1, br1, br2 }) Sh.Run("ip", "link", "del", link);
            foreach (var ns in new[] { nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
        }
    }

    /// <summary>
    /// Port tag and trunks through ovs-vsctl, forwarded by NORMAL: two standalone bridges, each with an access port of
    /// VLAN 10 and one of VLAN 20, joined by a veth that is a trunk of both on either side. Hosts of one VLAN ping
    /// across the trunk (their frames cross it tagged: untagged, the far trunk would drop them as VLAN 0); hosts of
    /// different VLANs do not reach each other, on one bridge or across; a tag changed takes effect.
    /// </summary>
    [E2EFact]
    public void AccessPortsAndATrunk_KeepVlansApart()
    {
        string br1 = $"ovv{s_id}x1", br2 = $"ovv{s_id}x2", t1 = $"ovvt1{s_id}", t2 = $"ovvt2{s_id}";
        var hosts = new[] { ("ovvA", br1, 10, "10.81.0.1/24"), ("ovvB", br2, 10, "10.81.0.2/24"), ("ovvC", br1, 20, "10.81.0.3/24"), ("ovvD", br2, 20, "10.81.0.4/24") }
            .Select(h => (Ns: h.Item1 + s_id, Link: h.Item1.ToLowerInvariant() + s_id, Bridge: h.Item2, Vlan: h.Item3, Ip: h.Item4)).ToArray();
        using var db = OvsdbServer.Start("ssw-vsdvlan-");
        int pid = StartDaemon(db);
        try
        {
            foreach (var h in hosts)
            {
                Sh.Check("ip", "netns", "add", h.Ns);
                Sh.Check("ip", "link", "add", h.Link, "type", "veth", "peer", "name", "eth0", "netns", h.Ns);
                Sh.Check("ip", "link", "set", h.Link, "up");
                Sh.Check("ip", "-n", h.Ns, "addr", "add", h.Ip, "dev", "eth0");
                Sh.Check("ip", "-n", h.Ns, "link", "set", "eth0", "up");
            }
            Sh.Check("ip", "link", "add", t1, "type", "veth", "peer", "name", t2);
            Sh.Check("ip", "link", "set", t1, "up");
            Sh.Check("ip", "link", "set", t2, "up");
            var vsctl = new List<string> { "add-br", br1, "--", "set-fail-mode", br1, "standalone", "--", "add-br", br2, "--", "set-fail-mode", br2, "standalone",
                "--", "add-port", br1, t1, "trunks=10,20", "--", "add-port", br2, t2, "trunks=10,20" };
            foreach (var h in hosts) vsctl.AddRange(["--", "add-port", h.Bridge, h.Link, $"tag={h.Vlan}"]);
            db.Vsctl([.. vsctl]);
            foreach (var h in hosts) Assert.True(int.Parse(db.Vsctl("get", "Interface", h.Link, "ofport").Trim(), CultureInfo.InvariantCulture) > 0, Log(db));
            Assert.DoesNotContain("not applied", Log(db));

            Assert.True(Ping(hosts[0].Ns, "10.81.0.2"), "VLAN 10 did not cross the trunk\n" + db.Tool("ovs-ofctl", "dump-ports", br1).Stdout + Log(db));
            Assert.True(Ping(hosts[2].Ns, "10.81.0.4"), "VLAN 20 did not cross the trunk\n" + Log(db));
            Assert.False(Ping(hosts[0].Ns, "10.81.0.3", 1), "VLAN 10 reached VLAN 20 on one bridge");
            Assert.False(Ping(hosts[0].Ns, "10.81.0.4", 1), "VLAN 10 reached VLAN 20 across the trunk");
            Assert.Contains("access vlan 10 for NORMAL", Log(db));

            // C moves to VLAN 10: it reaches A and B, and no longer D.
            db.Vsctl("set", "port", hosts[2].Link, "tag=10");
            Assert.True(Ping(hosts[2].Ns, "10.81.0.1"), "a port moved to VLAN 10 did not reach its new VLAN\n" + Log(db));
            Assert.True(Ping(hosts[2].Ns, "10.81.0.2"), "a port moved to VLAN 10 did not reach across the trunk\n" + Log(db));
            Assert.False(Ping(hosts[2].Ns, "10.81.0.4", 1), "a port moved out of VLAN 20 still reached it");
            db.Vsctl("del-br", br1, "--", "del-br", br2);
        }
        finally
        {
            StopDaemon(pid);
            foreach (var link in new[] { t1, br1, br2 }.Concat(hosts.Select(h => h.Link))) Sh.Run("ip", "link", "del", link);
            foreach (var h in hosts) Sh.Run("ip", "netns", "del", h.Ns);
        }
    }

    /// <summary>
    /// QoS as Open vSwitch's documentation sets it (ovs-vsctl set port ... qos=@newqos -- --id=@newqos create qos
    /// type=linux-htb ... queues:0=@q0 ...): the port's queues then have those rates, as OpenFlow's queue-get-config
    /// reports them (the other queues of the port without rates); clearing qos takes them away.
    /// </summary>
    [E2EFact]
    public void LinuxHtbQos_GivesThePortItsQueues()
    {
        string br = $"ovq{s_id}", port = $"ovqp{s_id}";
        using var db = OvsdbServer.Start("ssw-vsdqos-");
        int pid = StartDaemon(db);
        try
        {
            db.Vsctl("add-br", br, "--", "add-port", br, port, "--", "set", "Interface", port, "type=internal", "ofport_request=1");
            db.Vsctl("set", "port", port, "qos=@newqos",
                "--", "--id=@newqos", "create", "qos", "type=linux-htb", "other-config:max-rate=100000000", "queues:0=@q0", "queues:1=@q1",
                "--", "--id=@q0", "create", "queue", "other-config:max-rate=30000000",
                "--", "--id=@q1", "create", "queue", "other-config:min-rate=10000000", "other-config:max-rate=70000000");
            var queues = db.Tool("ovs-ofctl", "-O", "OpenFlow13", "queue-get-config", br, "1");
            Assert.True(queues.Ok, queues.Stderr + Log(db));
            // Rates in tenths of a percent of the port's max-rate, as OpenFlow 1.3 reports them.
            Assert.Contains("queue 0: max_rate:30.0%\n", queues.Stdout);
            Assert.Contains("queue 1: min_rate:10.0% max_rate:70.0%\n", queues.Stdout);
            Assert.Contains("shaped, max-rate=100M, queue 0: min-rate=none max-rate=30M, queue 1: min-rate=10M max-rate=70M", Log(db));

            db.Vsctl("clear", "port", port, "qos");
            Assert.DoesNotContain("_rate:", db.Tool("ovs-ofctl", "-O", "OpenFlow13", "queue-get-config", br, "1").Stdout);
            db.Vsctl("del-br", br);
        }
        finally
        {
            StopDaemon(pid);
            foreach (var link in new[] { br, port }) Sh.Run("ip", "link", "del", link);
        }
    }

    /// <summary>Faucet's documented Open vSwitch set-up (datapath id, OpenFlow 1.3, secure, numbered ports, a controller
    /// out-of-band, in one transaction), ovs-testcontroller in faucet's place: it connects, the controller's settings
    /// reach the agent, and hosts ping through it.</summary>
    [E2EFact]
    [RequiresTool("ovs-testcontroller")]
    public void FaucetsSetUpLine_BringsTheBridgeToItsControllers()
    {
        string nsA = $"ovfA{s_id}", nsB = $"ovfB{s_id}", hA = $"ovfa{s_id}", hB = $"ovfb{s_id}", br = $"ovf{s_id}";
        using var db = OvsdbServer.Start("ssw-vsdfaucet-");
        string run = db.RunDir;
        int pid = StartDaemon(db);
        var controllers = new List<string>();
        try
        {
            foreach (var (ns, host, ip) in new[] { (nsA, hA, "10.79.0.1/24"), (nsB, hB, "10.79.0.2/24") })
            {
                AddHost(ns, host, ip);
            }
            int[] ports = [FreePorts.Tcp()];
            foreach (int port in ports)
            {
                string name = $"tc{port}";
                var tc = Sh.Run("ovs-testcontroller", ["-O", "OpenFlow13", $"ptcp:{port}:127.0.0.1", "--detach", "--no-chdir",
                    $"--pidfile={run}/{name}.pid", $"--log-file={run}/{name}.log", $"--unixctl={run}/{name}.ctl"]);
                Assert.True(tc.Ok, tc.Stderr);
                controllers.Add(Path.Combine(run, $"{name}.pid"));
            }
            db.Vsctl("add-br", br,
                "--", "set", "bridge", br, "other-config:datapath-id=0000000000000001",
                "--", "set", "bridge", br, "other-config:disable-in-band=true",
                "--", "set", "bridge", br, "fail_mode=secure",
                "--", "set", "bridge", br, "protocols=OpenFlow13",
                "--", "add-port", br, hA, "--", "set", "interface", hA, "ofport_request=1",
                "--", "add-port", br, hB, "--", "set", "interface", hB, "ofport_request=2",
                "--", "set-controller", br, $"tcp:127.0.0.1:{ports[0]}",
                "--", "set", "controller", br, "connection-mode=out-of-band", "inactivity_probe=3000", "max_backoff=2000");
            Assert.True(Wait.Until(() => db.Vsctl("get", "Controller", br, "is_connected").Trim() == "true", 20_000, everyMs: 100),
                "the controller never showed as connected: " + db.Vsctl("list", "Controller") + Log(db));
            Assert.Contains("inactivity probe 3 s, max backoff 2 s", Log(db));
            Assert.DoesNotContain("not applied", Log(db));
            Assert.Contains("dpid:0000000000000001", db.Tool("ovs-ofctl", "-O", "OpenFlow13", "show", br).Stdout);
            Assert.True(Ping(nsA, "10.79.0.2"), "no ping through the controllers' learning switch\n" + Log(db));
            db.Vsctl("del-br", br);
        }
        finally
        {
            foreach (var pidFile in controllers)
                if (File.Exists(pidFile)) Sh.Run("kill", "-TERM", File.ReadAllText(pidFile).Trim());
            StopDaemon(pid);
            foreach (var link in new[] { hA, hB, br }) Sh.Run("ip", "link", "del", link);
            foreach (var ns in new[] { nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
        }
    }

    private static bool Ping(string ns, string ip, int count = 3)
        => Sh.Run("ip", ["netns", "exec", ns, "ping", "-c", count.ToString(CultureInfo.InvariantCulture), "-W", "2", "-i", "0.3", ip], 30_000).Ok;

    internal static string Log(OvsdbServer db)
    {
        try
        {
            return File.ReadAllText(Path.Combine(db.RunDir, "vswitchd.log"));
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    /// <summary>Starts the daemon detached on <paramref name="db"/>; returns its pid.</summary>
    internal static int StartDaemon(OvsdbServer db)
    {
        var start = Sh.Run("env", [$"OVS_RUNDIR={db.RunDir}", Softswitch, "vswitchd", "--pidfile", "--detach", $"--log-file={db.RunDir}/vswitchd.log"], 60_000);
        Assert.True(start.Ok, $"vswitchd did not start ({start.ExitCode}): {start.Stderr}{start.Stdout}");
        return int.Parse(File.ReadAllText(Path.Combine(db.RunDir, "ovs-vswitchd.pid")).Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>Network namespace <paramref name="ns"/> with eth0 at <paramref name="ip"/> (a prefix), the other end of
    /// its veth <paramref name="host"/> up in this namespace.</summary>
    internal static void AddHost(string ns, string host, string ip)
    {
        Sh.Check("ip", "netns", "add", ns);
        Sh.Check("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns);
        Sh.Check("ip", "link", "set", host, "up");
        Sh.Check("ip", "-n", ns, "addr", "add", ip, "dev", "eth0");
        Sh.Check("ip", "-n", ns, "link", "set", "eth0", "up");
    }

    internal static void StopDaemon(int pid)
    {
        Sh.Run("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
        Wait.Until(() => !File.Exists($"/proc/{pid}/stat"), 15_000, everyMs: 100);
    }

    /// <summary>Threads of process <paramref name="pid"/> whose name starts with <paramref name="prefix"/>.</summary>
    internal static int Threads(int pid, string prefix)
    {
        int n = 0;
        foreach (var dir in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).StartsWith(prefix, StringComparison.Ordinal)) n++;
            }
            catch (IOException) { }   // the thread ended meanwhile
        }
        return n;
    }

}
