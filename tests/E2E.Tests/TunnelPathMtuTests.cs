using System.Diagnostics;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Path MTU discovery through a tunnel, end to end: the real daemon with a GRE tunnel to Open vSwitch's user-space
/// native tunneling (a second implementation; this kernel has no gretap), and hosts on both sides with ordinary
/// 1500-byte MTUs. Host A's full-size TCP segments do not fit the tunnel; only our ICMP fragmentation-needed answers
/// let its stack shrink them, so a TCP stream from A to B gets through only if they are right (without them it
/// carries nothing). Ping and interop in general are covered by Ports.Tests OvsTunnelInteropTests.
/// </summary>
public sealed class TunnelPathMtuTests
{
    [E2EFact]
    public void FullSizeTcpThroughGre_AdaptsByPathMtuDiscovery() => Run("gre", "key=5", "options:key=5");

    private static void Run(string kind, string ours, string theirs)
    {
        string t = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string nsOvs = "ssw-ovs" + t, nsA = "ssw-oa" + t, nsB = "ssw-ob" + t;
        string under = "sswu" + t, underOvs = "sswuo" + t, hostA = "sswha" + t, hostB = "sswhb" + t;
        string brPhy = "sswbp" + t, brInt = "sswbi" + t, tun = "sswt" + t;
        string run = Directory.CreateTempSubdirectory("ssw-ovs-tnl").FullName;
        SwitchProcess? sw = null;
        Process? iperf = null;
        try
        {
            foreach (var ns in new[] { nsOvs, nsA, nsB }) Sh.Check("ip", "netns", "add", ns);
            Sh.Check("ip", "link", "add", under, "type", "veth", "peer", "name", underOvs);
            Sh.Check("ip", "link", "set", underOvs, "netns", nsOvs);
            Sh.Check("ip", "link", "add", hostA, "type", "veth", "peer", "name", "eth0", "netns", nsA);
            Sh.Check("ip", "link", "add", hostB, "type", "veth", "peer", "name", "eth0", "netns", nsB);
            Sh.Check("ip", "link", "set", hostB, "netns", nsOvs);
            foreach (var i in new[] { under, hostA }) Up(null, i);
            foreach (var i in new[] { underOvs, hostB, "lo" }) Up(nsOvs, i);
            // Both hosts keep 1500-byte MTUs: host A's full-size TCP segments do not fit the tunnel, and it learns the
            // tunnel's MTU from our ICMP fragmentation-needed answers (path MTU discovery). The stream runs from A to B,
            // so host B (behind OVS, which sends no such answers) only sends small segments.
            Sh.Check("ip", "-n", nsA, "addr", "add", "192.168.55.1/24", "dev", "eth0");
            Sh.Check("ip", "-n", nsB, "addr", "add", "192.168.55.2/24", "dev", "eth0");
            foreach (var ns in new[] { nsA, nsB })
            {
                Up(ns, "eth0");
                Up(ns, "lo");
            }

            // Open vSwitch in user space inside its namespace: br-phy holds the underlay port and the endpoint IP,
            // br-int the host and the tunnel interface.
            var env = new Dictionary<string, string> { ["OVS_RUNDIR"] = run, ["OVS_LOGDIR"] = run, ["OVS_DBDIR"] = run };
            Ovs(env, "ovsdb-tool", "create", $"{run}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema");
            Ovs(env, "ip", "netns", "exec", nsOvs, "ovsdb-server", $"{run}/conf.db", $"--remote=punix:{run}/db.sock", $"--pidfile={run}/ovsdb-server.pid",
                $"--log-file={run}/ovsdb-server.log", $"--unixctl={run}/ovsdb-server.ctl", "--detach", "--no-chdir");
            Ovs(env, "ovs-vsctl", $"--db=unix:{run}/db.sock", "--no-wait", "init");
            Ovs(env, "ip", "netns", "exec", nsOvs, "ovs-vswitchd", $"unix:{run}/db.sock", $"--pidfile={run}/ovs-vswitchd.pid",
                $"--log-file={run}/ovs-vswitchd.log", $"--unixctl={run}/ovs-vswitchd.ctl", "--detach", "--no-chdir");
            Ovs(env, "ovs-vsctl", $"--db=unix:{run}/db.sock", "add-br", brPhy, "--", "set", "bridge", brPhy, "datapath_type=netdev", "--", "add-port", brPhy, underOvs);
            Ovs(env, "ovs-vsctl", $"--db=unix:{run}/db.sock", "add-br", brInt, "--", "set", "bridge", brInt, "datapath_type=netdev",
                "--", "add-port", brInt, hostB, "--", "add-port", brInt, tun, "--", "set", "interface", tun, $"type={kind}",
                "options:remote_ip=10.97.0.1", "options:local_ip=10.97.0.2", theirs);
            Sh.Check("ip", "-n", nsOvs, "addr", "add", "10.97.0.2/24", "dev", brPhy);
            Up(nsOvs, brPhy);

            sw = new SwitchProcess($"afpacket:{under},afpacket:{hostA}", "--unixctl", "none",
                "--tunnel", $"t:{kind},local=10.97.0.1,remote=10.97.0.2,{ours},port=10,underlay=1");
            sw.Ofctl("add-flow", "in_port=2,actions=output:10");
            sw.Ofctl("add-flow", "in_port=10,actions=output:2");

            string Diag() => $"\nSoftswitch:\n{sw.Ofctl("dump-ports")}{sw.Output}\nOVS log:\n{Tail($"{run}/ovs-vswitchd.log")}";
            var ping = Sh.Run("ip", "netns", "exec", nsA, "ping", "-c", "3", "-i", "0.3", "-W", "3", "192.168.55.2");
            Assert.True(ping.Ok, $"Softswitch side -> OVS side over {kind} failed: {ping.Stdout}{Diag()}");
            ping = Sh.Run("ip", "netns", "exec", nsB, "ping", "-c", "3", "-i", "0.3", "-W", "3", "192.168.55.1");
            Assert.True(ping.Ok, $"OVS side -> Softswitch side over {kind} failed: {ping.Stdout}{Diag()}");

            // TCP for 2 s from the Softswitch side to the OVS side: works only once host A has shrunk its segments.
            var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "netns", "exec", nsB, "iperf3", "-s", "-1", "-B", "192.168.55.2", "-p", "15201" }) psi.ArgumentList.Add(a);
            iperf = Process.Start(psi)!;
            Thread.Sleep(500);
            var tcp = Sh.Run("ip", ["netns", "exec", nsA, "iperf3", "-c", "192.168.55.2", "-p", "15201", "-t", "2", "-J"], 30_000);
            Assert.True(tcp.Ok, $"iperf3 over {kind} failed: {tcp.Stdout}{tcp.Stderr}{Diag()}");
            long received = System.Text.Json.JsonDocument.Parse(tcp.Stdout).RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bytes").GetInt64();
            Assert.True(received >= 1 << 20, $"TCP bytes received in 2 s: {received}");

            string ports = sw.Ofctl("dump-ports", "10");
            Assert.Matches(@"rx pkts=\d{3,}", ports);   // thousands of TCP segments and acks crossed the tunnel port
            Assert.Matches(@"tx pkts=\d{3,}", ports);
        }
        finally
        {
            sw?.Dispose();
            if (iperf is { HasExited: false }) iperf.Kill(true);
            iperf?.Dispose();
            foreach (var pid in new[] { "ovs-vswitchd.pid", "ovsdb-server.pid" })
                if (File.Exists(Path.Combine(run, pid))) Sh.Run("kill", File.ReadAllText(Path.Combine(run, pid)).Trim());
            Thread.Sleep(200);
            foreach (var ns in new[] { nsOvs, nsA, nsB }) Sh.Run("ip", "netns", "del", ns);
            Sh.Run("ip", "link", "del", under);
            Sh.Run("ip", "link", "del", hostA);
            try { Directory.Delete(run, true); } catch (IOException) { }
        }
    }

    private static void Up(string? ns, string ifname)
    {
        string[] pre = ns is null ? [] : ["-n", ns];
        if (ifname != "lo")
        {
            if (ns is null) Sh.Run("sysctl", "-qw", $"net.ipv6.conf.{ifname}.disable_ipv6=1");
            else Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", $"net.ipv6.conf.{ifname}.disable_ipv6=1");
            string[] ethtool = ["ethtool", "-K", ifname, "tx", "off", "tso", "off", "gso", "off", "gro", "off"];
            if (ns is null) Sh.Run(ethtool[0], ethtool[1..]);
            else Sh.Run("ip", ["netns", "exec", ns, .. ethtool]);
        }
        Sh.Check("ip", [.. pre, "link", "set", ifname, "up"]);
    }

    private static void Ovs(Dictionary<string, string> env, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(30_000)) p.Kill(true);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {err}");
    }

    private static string Tail(string path)
        => File.Exists(path) ? string.Join('\n', File.ReadAllLines(path).TakeLast(15)) : "(no log)";
}
