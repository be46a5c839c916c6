using System.Diagnostics;
using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// OpenFlow 1.3 meters on real veth ports, driven by iperf3: the rate that leaves the switch, measured by the receiving
/// kernel (its interface's frame counters, over a window that starts after the meter's initial bucket is spent), holds
/// to the meter's rate for UDP floods and TCP, in bits and in packets, with one forwarding thread and with two.
/// </summary>
[RequiresTool("iperf3")]
[RequiresTool("ovs-ofctl")]
public sealed class MeterRateTests
{
    private static string Ofctl13(SwitchProcess sw, string cmd, params string[] args)
    {
        var r = Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", cmd, sw.Endpoint, .. args], 60_000);
        Assert.True(r.Ok, $"ovs-ofctl {cmd} {string.Join(' ', args)}: {r.Stderr}{r.Stdout}");
        return r.Stdout;
    }

    /// <summary>h1 (and h3, when there are three hosts) to h2 through meter 1; everything else NORMAL.</summary>
    private static void Install(SwitchProcess sw, Hosts hosts, string meter) => Install((cmd, arg) => Ofctl13(sw, cmd, arg), hosts, meter);

    private static void Install(Action<string, string> ofctl13, Hosts hosts, string meter)
    {
        ofctl13("add-meter", meter);
        for (int h = 0; h < hosts.Ns.Count; h++)
        {
            if (h == 1) continue;
            ofctl13("add-flow", $"priority=10,ip,in_port={h + 1},nw_dst={hosts.Ips[1]},actions=meter:1,output:2");
        }
        ofctl13("add-flow", "priority=0,actions=NORMAL");
    }

    private static long Counter(Hosts hosts, int host, string name)
        => long.Parse(hosts.Ns[host].Exec("cat", $"/sys/class/net/{hosts.Ns[host].NsIf}/statistics/{name}").Stdout.Trim(), CultureInfo.InvariantCulture);

    /// <summary>
    /// h2's receive counters (bytes, packets), read in its namespace through a process that runs there
    /// (<c>/proc/PID/net/dev</c>): a file read, where a process per reading took a third of a second on a loaded machine
    /// and made the measuring window that uncertain. Falls back to reading them through a process.
    /// </summary>
    private static (long Bytes, long Packets) Rx(Hosts hosts, Process inH2)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{inH2.Id}/net/dev"))
            {
                int colon = line.IndexOf(':');
                if (colon < 0 || line.AsSpan(0, colon).Trim().ToString() != hosts.Ns[1].NsIf) continue;
                var f = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return (long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture));
            }
        }
        catch (IOException)
        {
        }
        return (Counter(hosts, 1, "rx_bytes"), Counter(hosts, 1, "rx_packets"));
    }

    /// <summary>
    /// Runs iperf3 clients (<paramref name="clientArgs"/> each) from <paramref name="senders"/> to h2 for
    /// <paramref name="seconds"/> s and measures what h2 receives from second 1.5 to 1 s before the end: (bit/s,
    /// packets/s) of frames, the frames' bit/s over the whole run (from before the clients start to after they end,
    /// divided by the clients' time), the iperf3 receivers' own rate (bit/s of payload), and U, the window's relative
    /// uncertainty (see <see cref="MeasuredRate.Within"/>).
    /// </summary>
    private static (double Bps, double Pps, double WholeBps, double Iperf, double U) Measure(Hosts hosts, int[] senders, int seconds, params string[] clientArgs)
    {
        var servers = new List<Process>();
        var clients = new List<Process>();
        try
        {
            foreach (int s in senders)
            {
                int port = 5301 + s;
                servers.Add(Process.Start(new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", hosts.Ns[1].Name, "iperf3", "-s", "-1", "-B", hosts.Ips[1], "-p", port.ToString(CultureInfo.InvariantCulture), "-J" }, RedirectStandardOutput = true, RedirectStandardError = true })!);
            }
            Thread.Sleep(500);
            long start = Rx(hosts, servers[0]).Bytes;
            foreach (int s in senders)
            {
                var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in new[] { "netns", "exec", hosts.Ns[s].Name, "iperf3", "-c", hosts.Ips[1], "-p", (5301 + s).ToString(CultureInfo.InvariantCulture), "-t", seconds.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
                foreach (var a in clientArgs) psi.ArgumentList.Add(a);
                clients.Add(Process.Start(psi)!);
            }
            Thread.Sleep(1500);
            // Each pair of counters is read at some moment between the clock readings around it: the window runs from
            // midpoint to midpoint, and U is how far off that can make a rate (half of both readings' spans over it),
            // which a loaded machine makes larger; the assertions allow for it.
            var sw = Stopwatch.StartNew();
            var (b0, p0) = Rx(hosts, servers[0]);
            double r0 = sw.Elapsed.TotalSeconds;
            Thread.Sleep((seconds - 2) * 1000 - 500);
            double s1 = sw.Elapsed.TotalSeconds;
            var (b1, p1) = Rx(hosts, servers[0]);
            double r1 = sw.Elapsed.TotalSeconds;
            double dt = (s1 + r1) / 2 - r0 / 2;
            double u = (r0 + (r1 - s1)) / 2 / dt;
            double iperf = 0;
            foreach (var c in clients) Assert.True(c.WaitForExit(seconds * 1000 + 20_000), "iperf3 client did not finish");
            double whole = (Rx(hosts, servers[0]).Bytes - start) * 8.0 / seconds;
            foreach (var s in servers)
            {
                Assert.True(s.WaitForExit(20_000), "iperf3 server did not finish");
                using var doc = System.Text.Json.JsonDocument.Parse(s.StandardOutput.ReadToEnd());
                var end = doc.RootElement.GetProperty("end");
                iperf += (end.TryGetProperty("sum_received", out var r) ? r : end.GetProperty("sum")).GetProperty("bits_per_second").GetDouble();
            }
            return ((b1 - b0) * 8 / dt, (p1 - p0) / dt, whole, iperf, u);
        }
        finally
        {
            foreach (var p in clients.Concat(servers))
            {
                if (!p.HasExited) p.Kill(true);
                p.Dispose();
            }
        }
    }

    [E2EFact]
    public void A10MbitMeterHoldsAUdpFloodAndTcpToItsRate()
    {
        using var hosts = new Hosts(2, "10.78.0");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure");
        Install(sw, hosts, "meter=1,kbps,band=type=drop,rate=10000");
        Assert.True(hosts.Ping(0, 1) || hosts.Ping(0, 1, 2, 3), "h1 cannot reach h2");

        var udp = Measure(hosts, [0], 6, "-u", "-b", "40M", "-l", "1400");
        Console.WriteLine($"meter 10 Mbit/s, UDP flood of 40 Mbit/s: {udp.Bps / 1e6:F3} Mbit/s of frames ({udp.Bps / 1e7 - 1:+0.00%;-0.00%}); "
                          + $"whole run {udp.WholeBps / 1e6:F3} Mbit/s of frames, iperf3 payload {udp.Iperf / 1e6:F2} Mbit/s; window uncertain by {udp.U:P2}");
        MeasuredRate.Within(udp.Bps, 9.8e6, 10.2e6, udp.U);
        // Over the whole run: the rate, plus at most the default bucket (1 s) that filled while the meter idled before it.
        Assert.InRange(udp.WholeBps, 9.0e6, 10e6 * (6 + 1.0) / 6 * 1.01);

        var tcp = Measure(hosts, [0], 6);
        Console.WriteLine($"meter 10 Mbit/s, iperf3 TCP: {tcp.Bps / 1e6:F3} Mbit/s of frames ({tcp.Bps / 1e7 - 1:+0.00%;-0.00%}); "
                          + $"whole run {tcp.WholeBps / 1e6:F3} Mbit/s of frames, iperf3 goodput {tcp.Iperf / 1e6:F2} Mbit/s; window uncertain by {tcp.U:P2}");
        // Within 5% on a quiet machine (docs/openflow.md); on a loaded one TCP's retransmission timeouts grow with its delays, so
        // the bounds here are what tells a working band from a collapsing one (a 100 ms bucket gives half the rate) or
        // from no policing at all (hundreds of Mbit/s). A band passes at most its bucket (1 s of the rate) plus the rate
        // over a window: a TCP stall lets the bucket fill again (10.53 Mbit/s over 6 s with both cores busy).
        MeasuredRate.Within(tcp.Bps, 8.0e6, 10e6 * (6 + 1.0) / 6, tcp.U);
        // iperf3's goodput is over its whole run, so it may carry the bucket that filled while the meter idled after the
        // UDP run (up to 1 s of the rate), as the UDP run's whole-run figure above may.
        Assert.InRange(tcp.Iperf, 7.5e6, 10e6 * (6 + 1.0) / 6 * 1.01);
        Assert.Contains("meter:1 flow_count:1", Ofctl13(sw, "meter-stats"));
    }

    /// <summary>
    /// Open vSwitch 3.1's user-space datapath with the same meter, flows and traffic, in the same run: its figures are
    /// printed beside ours (the comparison in docs/openflow.md); what is asserted is that it was measured.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovs-vswitchd")]
    public void OpenVSwitchWithTheSameMeterAndTraffic()
    {
        using var ovsNs = Netns.Create();
        using var hosts = new Hosts(2, "10.78.3");
        for (int h = 0; h < 2; h++)
        {
            Sh.Check("ip", "link", "set", hosts.Ns[h].HostIf, "netns", ovsNs.Name);
            Sh.Check("ip", "-n", ovsNs.Name, "link", "set", hosts.Ns[h].HostIf, "up");
        }
        using var ovs = OvsUserspace.Start(ovsNs);
        ovs.Vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "protocols=OpenFlow13", "fail_mode=secure");
        for (int h = 0; h < 2; h++) ovs.Vsctl("add-port", "br0", hosts.Ns[h].HostIf, "--", "set", "interface", hosts.Ns[h].HostIf, $"ofport_request={h + 1}");
        void OvsOfctl(string cmd, string arg)
        {
            var r = Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", cmd, $"unix:{ovs.RunDir}/br0.mgmt", arg], 30_000);
            Assert.True(r.Ok, $"ovs-ofctl {cmd} {arg}: {r.Stderr}{r.Stdout}\n{ovs.LogTail}");
        }
        Install(OvsOfctl, hosts, "meter=1,kbps,band=type=drop,rate=10000");
        Assert.True(hosts.Ping(0, 1) || hosts.Ping(0, 1, 2, 3), "h1 cannot reach h2 through Open vSwitch");
        var udp = Measure(hosts, [0], 6, "-u", "-b", "40M", "-l", "1400");
        var tcp = Measure(hosts, [0], 6);
        Console.WriteLine($"Open vSwitch (user space) meter 10 Mbit/s, UDP flood of 40 Mbit/s: {udp.Bps / 1e6:F3} Mbit/s of frames ({udp.Bps / 1e7 - 1:+0.00%;-0.00%}); "
                          + $"whole run {udp.WholeBps / 1e6:F3} Mbit/s, iperf3 payload {udp.Iperf / 1e6:F2} Mbit/s; window uncertain by {udp.U:P2}");
        Console.WriteLine($"Open vSwitch (user space) meter 10 Mbit/s, iperf3 TCP: {tcp.Bps / 1e6:F3} Mbit/s of frames ({tcp.Bps / 1e7 - 1:+0.00%;-0.00%}); "
                          + $"whole run {tcp.WholeBps / 1e6:F3} Mbit/s, iperf3 goodput {tcp.Iperf / 1e6:F2} Mbit/s");
        Assert.True(udp.Bps > 0 && tcp.Bps > 0, "Open vSwitch forwarded nothing");
    }

    [E2EFact]
    public void A1000PacketPerSecondMeterPasses1000Within1PercentAtAHundredTimesTheOffer()
    {
        using var hosts = new Hosts(2, "10.78.1");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure");
        Install(sw, hosts, "meter=1,pktps,band=type=drop,rate=1000");
        Assert.True(hosts.Ping(0, 1) || hosts.Ping(0, 1, 2, 3), "h1 cannot reach h2");
        // 100,000 packets/s of 64-byte datagrams offered (106-byte frames).
        var r = Measure(hosts, [0], 6, "-u", "-b", "51.2M", "-l", "64");
        var stats = Ofctl13(sw, "meter-stats");
        Console.WriteLine($"meter 1,000 pkt/s, UDP offer of 100 kpps: {r.Pps:F1} pkt/s ({r.Pps / 1000 - 1:+0.00%;-0.00%}); {stats.Trim()}");
        MeasuredRate.Within(r.Pps, 990, 1010, r.U);
    }

    /// <summary>
    /// TCP segments a receiver got per second, from its frame counters over the window: frames handed on whole as GSO
    /// super-frames reach it as one frame each, so segments are counted by their payload (each segment carries one
    /// MSS; every frame, whole or not, one set of headers).
    /// </summary>
    private static double SegmentsPerSecond(Hosts hosts, double bps, double pps)
    {
        bool timestamps = hosts.Ns[0].Exec("sysctl", "-n", "net.ipv4.tcp_timestamps").Stdout.Trim() != "0";
        int header = 14 + 20 + (timestamps ? 32 : 20), mss = 1500 - 20 - (timestamps ? 32 : 20);
        return (bps / 8 - header * pps) / mss;
    }

    [E2EFact]
    public void TcpSuperFramesMeetMetersAsTheirSegments()
    {
        // The veths keep the kernel's offloads: the switch receives TCP as GSO super-frames of up to 64 KiB.
        using var hosts = new Hosts(2, "10.78.4", kernelOffloads: true);
        string socket = Path.Combine(Path.GetTempPath(), $"ssw-meter-gso-{Environment.ProcessId:x}-{Random.Shared.Next():x}.ctl");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure", "--unixctl", socket);
        // Eight streams and a burst of 250 packets: one stream's recovery leaves the tokens to the others, and the
        // bucket's level, which a window cannot see, is at most 250 packets of the 7,500 the window counts.
        Install(sw, hosts, "meter=1,pktps,burst,band=type=drop,rate=1000,burst_size=250");
        Assert.True(hosts.Ping(0, 1) || hosts.Ping(0, 1, 2, 3), "h1 cannot reach h2");

        var r = Measure(hosts, [0], 10, "-P", "8");
        double segments = SegmentsPerSecond(hosts, r.Bps, r.Pps);
        var coverage = SwitchProcess.Ctl("--target", socket, "coverage/show");
        Assert.True(coverage.Ok, coverage.Stderr + coverage.Stdout);
        long whole = SwitchProcess.CoverageCounter(coverage.Stdout, "gso-received-whole");
        Console.WriteLine($"meter 1,000 pkt/s, iperf3 TCP as GSO super-frames: {segments:F1} segments/s ({segments / 1000 - 1:+0.00%;-0.00%}) in {r.Pps:F1} frames/s; "
                          + $"{whole} super-frames received whole; window uncertain by {r.U:P2}");
        Assert.True(whole > 0, "no super-frame reached the meter:\n" + coverage.Stdout);
        // A token bucket passes at most its rate over the window plus what it holds: 250 packets over the 7.5 s window
        // (Measure's, for 10 s runs), 3.3% (1,021.6 was measured with another test run and two busy loops beside it).
        MeasuredRate.Within(segments, 980, 1000 + (250 / 7.5), r.U);
        Assert.True(SwitchProcess.CoverageCounter(coverage.Stdout, "meter-cut") > 0, "no super-frame was cut:\n" + coverage.Stdout);

        // A 10 Mbit/s band whose 100 kbit burst is smaller than one super-frame: TCP still flows, within the rate.
        Ofctl13(sw, "del-flows");
        Ofctl13(sw, "del-meters");
        Install(sw, hosts, "meter=1,kbps,burst,band=type=drop,rate=10000,burst_size=100");
        var k = Measure(hosts, [0], 6);
        Console.WriteLine($"meter 10 Mbit/s with a 100 kbit burst, iperf3 TCP as GSO super-frames: {k.Bps / 1e6:F3} Mbit/s of frames, iperf3 goodput {k.Iperf / 1e6:F3} Mbit/s");
        Assert.True(k.Iperf > 100e3, $"TCP through the meter: {k.Iperf / 1e3:F1} kbit/s");
        Assert.True(k.WholeBps < 10e6 * 1.05 + 100e3 / 6, $"{k.WholeBps / 1e6:F3} Mbit/s of frames through a 10 Mbit/s meter");
    }

    [E2EFact]
    public void WithTwoForwardingThreadsTheAggregateIsTheMetersRate()
    {
        using var hosts = new Hosts(3, "10.78.2");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure", "--threads", "2");
        Install(sw, hosts, "meter=1,kbps,band=type=drop,rate=10000");
        Assert.True(hosts.Ping(0, 1) || hosts.Ping(0, 1, 2, 3), "h1 cannot reach h2");
        Assert.True(hosts.Ping(2, 1) || hosts.Ping(2, 1, 2, 3), "h3 cannot reach h2");
        // Two senders, four streams each: the flows spread over both threads, one meter for all.
        var r = Measure(hosts, [0, 2], 6, "-u", "-b", "10M", "-l", "1400", "-P", "4");
        Console.WriteLine($"meter 10 Mbit/s, 2 forwarding threads, 2 x 40 Mbit/s of UDP: {r.Bps / 1e6:F3} Mbit/s of frames ({r.Bps / 1e7 - 1:+0.00%;-0.00%}); whole run {r.WholeBps / 1e6:F3}");
        MeasuredRate.Within(r.Bps, 9.8e6, 10.2e6, r.U);
    }
}
