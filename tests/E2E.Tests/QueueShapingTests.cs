using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.Datapath.Qos;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Egress queues on a real veth port, driven by iperf3: OpenFlow 1.0 ENQUEUE into queues with max-rates shares a
/// shaped port as configured, and a min-rate queue keeps its guarantee against a UDP flood in the other queue. Rates
/// are what left each queue (its statistics, frame bytes) over a window that starts 1.5 s into the run.
/// </summary>
[RequiresTool("iperf3")]
[RequiresTool("ovs-ofctl")]
public sealed partial class QueueShapingTests
{
    [GeneratedRegex(@"port\s+3 queue (\d+): bytes=(\d+), pkts=\d+, errors=(\d+),.*?duration=([\d.]+)s")]
    private static partial Regex QueueLine();

    /// <summary>Bytes that left each queue of port 3, its tail drops (tx_errors) and the queue's age when the switch read
    /// them, by queue id (OpenFlow 1.3 queue statistics, whose duration is the switch's own clock: the window between two
    /// readings is exact, however long ovs-ofctl takes on a loaded machine).</summary>
    private static Dictionary<int, (long Bytes, long Drops, double Age)> QueueBytes(SwitchProcess sw)
    {
        var r = Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", "queue-stats", sw.Endpoint, "3"], 60_000);
        Assert.True(r.Ok, "ovs-ofctl queue-stats: " + r.Stderr + r.Stdout);
        return QueueLine().Matches(r.Stdout).ToDictionary(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            m => (long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture),
                  double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)));
    }

    /// <summary>iperf3 from h1 and h2 to h3 at once (client args each): each queue's rate in bit/s over the window, and
    /// the window's relative uncertainty, and each queue's tail drops in the window.</summary>
    private static (Dictionary<int, double> Rates, double U, Dictionary<int, long> Drops) Run(Hosts hosts, SwitchProcess sw, int seconds, string[] h1Args, string[] h2Args)
    {
        var procs = new List<Process>();
        try
        {
            foreach (int port in new[] { 5401, 5402 })
                procs.Add(Process.Start(new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", hosts.Ns[2].Name, "iperf3", "-s", "-1", "-B", hosts.Ips[2], "-p", port.ToString(CultureInfo.InvariantCulture) }, RedirectStandardOutput = true, RedirectStandardError = true })!);
            Thread.Sleep(500);
            for (int h = 0; h < 2; h++)
            {
                var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in new[] { "netns", "exec", hosts.Ns[h].Name, "iperf3", "-c", hosts.Ips[2], "-p", (5401 + h).ToString(CultureInfo.InvariantCulture), "-t", seconds.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
                foreach (var a in h == 0 ? h1Args : h2Args) psi.ArgumentList.Add(a);
                procs.Add(Process.Start(psi)!);
            }
            Thread.Sleep(1500);
            // Each queue's window is the difference of its ages in the two readings (the switch's clock, to the
            // nanosecond); U is what a millisecond of skew between the byte count and the age would make of a rate.
            var b0 = QueueBytes(sw);
            Thread.Sleep((seconds - 2) * 1000 - 500);
            var b1 = QueueBytes(sw);
            var rates = b1.ToDictionary(kv => kv.Key, kv =>
            {
                var (bytes0, _, age0) = b0.GetValueOrDefault(kv.Key);
                double dt = kv.Value.Age - age0;
                Assert.True(dt > 1, $"queue {kv.Key}: a window of {dt:F3} s between the readings");
                return (kv.Value.Bytes - bytes0) * 8 / dt;
            });
            double window = b1.Values.Min(v => v.Age) - b0.Values.Max(v => v.Age);
            foreach (var p in procs) p.WaitForExit(seconds * 1000 + 20_000);
            var drops = b1.ToDictionary(kv => kv.Key, kv => kv.Value.Drops - b0.GetValueOrDefault(kv.Key).Drops);
            return (rates, 0.001 / window, drops);
        }
        finally
        {
            foreach (var p in procs)
            {
                if (!p.HasExited) p.Kill(true);
                p.Dispose();
            }
        }
    }

    private static void Flows(SwitchProcess sw, Hosts hosts)
    {
        sw.Ofctl("add-flow", $"priority=10,ip,in_port=1,nw_dst={hosts.Ips[2]},actions=enqueue:3:0");
        sw.Ofctl("add-flow", $"priority=10,ip,in_port=2,nw_dst={hosts.Ips[2]},actions=enqueue:3:1");
        sw.Ofctl("add-flow", "priority=0,actions=NORMAL");
    }

    [E2EFact]
    public void TwoTcpFlowsThroughQueuesOf30And70Get30And70()
    {
        using var hosts = new Hosts(3, "10.79.0");
        string port3 = hosts.Ns[2].HostIf;
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure",
                                         "--queues", $"{port3} max-rate=100M; {port3}:0 max-rate=30M; {port3}:1 max-rate=70M");
        Flows(sw, hosts);
        Assert.True(hosts.Ping(0, 2) || hosts.Ping(0, 2, 2, 3), "h1 cannot reach h3");
        Assert.True(hosts.Ping(1, 2) || hosts.Ping(1, 2, 2, 3), "h2 cannot reach h3");
        var (r, u, _) = Run(hosts, sw, 6, [], []);
        Console.WriteLine($"port max-rate 100M, queues max-rate 30M and 70M, two TCP flows: queue 0 {r[0] / 1e6:F2} Mbit/s, queue 1 {r[1] / 1e6:F2} Mbit/s (window uncertain by {u:P2})");
        // On a quiet machine each is within 0.3% of its ceiling (docs/openflow.md). On a loaded one the flows may get less than
        // their ceilings (the CPU, not the shaper, is short), but never more, and the port stays shared 30:70.
        MeasuredRate.Within(r[0], 0.7 * 30e6, 31.5e6, u);
        MeasuredRate.Within(r[1], 0.7 * 70e6, 73.5e6, u);
        Assert.InRange(r[1] / r[0], 70.0 / 30 * 0.85, 70.0 / 30 * 1.15);
        var config = Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", "queue-get-config", sw.Endpoint, "3"]).Stdout;
        Assert.Contains("queue 0: max_rate:30.0%", config);
        Assert.Contains("queue 1: max_rate:70.0%", config);
    }

    [E2EFact]
    public void AMinRateQueueKeepsItsGuaranteeAgainstAUdpFlood()
    {
        using var hosts = new Hosts(3, "10.79.1");
        string port3 = hosts.Ns[2].HostIf;
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure",
                                         "--queues", $"{port3} max-rate=100M; {port3}:0 min-rate=60M; {port3}:1 max-rate=100M");
        Flows(sw, hosts);
        Assert.True(hosts.Ping(0, 2) || hosts.Ping(0, 2, 2, 3), "h1 cannot reach h3");
        Assert.True(hosts.Ping(1, 2) || hosts.Ping(1, 2, 2, 3), "h2 cannot reach h3");
        // TCP in queue 0 (min-rate 60M) against 200 Mbit/s of UDP in queue 1, into a 100 Mbit/s port.
        var (r, u, drops) = Run(hosts, sw, 6, [], ["-u", "-b", "200M", "-l", "1400"]);
        Console.WriteLine($"port max-rate 100M, queue 0 min-rate 60M (TCP) against a 200 Mbit/s UDP flood in queue 1: queue 0 {r[0] / 1e6:F2} Mbit/s, queue 1 {r[1] / 1e6:F2} Mbit/s (window uncertain by {u:P2})");
        Assert.True(r[0] >= 57e6 * (1 - u), $"queue 0 got {r[0] / 1e6:F2} Mbit/s, below its 60 Mbit/s guarantee");
        // The port's ceiling, used. A token bucket passes at most its rate over the window plus what it holds
        // (PortShaper.BucketNanos of the rate), which it refills while the scheduler waits for a CPU on a loaded
        // machine: over the 3.5 s window that is 1.4% more (101.16 Mbit/s was measured with two test runs beside it).
        // The floor holds while the flood keeps queue 1 backlogged (it drops at its tail); a sender starved of CPU may
        // not, and then the port is not the limit.
        double window = 0.001 / u;   // Run's uncertainty is a millisecond over the window
        double ceiling = 100e6 * (1 + (PortShaper.BucketNanos / 1e9 / window));
        Console.WriteLine($"queue 1 dropped {drops.GetValueOrDefault(1)} packets at its tail in the window");
        MeasuredRate.Within(r[0] + r[1], drops.GetValueOrDefault(1) > 0 ? 85e6 : 0, ceiling, u);
        Assert.Contains("queue 0: min_rate:60.0%", sw.Ofctl("queue-get-config", "3")); // OpenFlow 1.0: OFPQT_MIN_RATE only
    }

    [GeneratedRegex(@"port\s+2 queue 1: bytes=(\d+), pkts=(\d+), errors=(\d+)")]
    private static partial Regex Queue1Line();

    [E2EFact]
    public void JumboPingsCrossAShapedPortWholeAndItsQueueCountsThem()
    {
        using var hosts = new Hosts(2, "10.79.2");
        foreach (var ns in hosts.Ns)
        {
            Sh.Check("ip", "link", "set", ns.HostIf, "mtu", "9000");
            ns.Exec("ip", "link", "set", ns.NsIf, "mtu", "9000");
        }
        string port2 = hosts.Ns[1].HostIf;
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure", "--queues", $"{port2} max-rate=100M; {port2}:1 max-rate=50M");
        sw.Ofctl("add-flow", "priority=10,ip,in_port=1,actions=enqueue:2:1");
        sw.Ofctl("add-flow", "priority=0,actions=NORMAL");
        Assert.True(hosts.Ping(0, 1) || hosts.Ping(0, 1, 2, 3), "h1 cannot reach h2");
        var r = hosts.Ns[0].Exec("ping", "-c", "5", "-i", "0.2", "-W", "2", "-M", "do", "-s", "8000", hosts.Ips[1]);
        Assert.True(r.Ok, "8000-byte pings through the shaped port: " + r.Stdout + r.Stderr);
        Assert.Contains("5 received", r.Stdout);
        var m = Queue1Line().Match(sw.Ofctl("queue-stats", "2"));
        Assert.True(m.Success, "no queue 1 line in queue-stats");
        long bytes = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), pkts = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.True(pkts >= 5, $"queue 1 sent {pkts} packets");
        Assert.True(bytes >= 5L * (8000 + 8 + 20 + 14), $"queue 1 sent {bytes} bytes");
        Assert.Equal("0", m.Groups[3].Value);
    }
}
