using System.Diagnostics;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>The daemon on real veth ports between network namespaces: standalone, under ovs-testcontroller, port down/up.</summary>
public sealed class SwitchingTests
{
    [E2EFact]
    public void StandaloneAllPairsPingAndTcpStream()
    {
        using var hosts = new Hosts(4);
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "standalone");
        hosts.AllPairsPing();

        // iperf3 TCP for 2 s from h1 to h2.
        double bps = hosts.Iperf3(0, 1);
        Console.WriteLine($"iperf3 TCP through softswitch (AF_PACKET, standalone): {bps / 1e6:F0} Mbit/s");
        Assert.True(bps > 1e6, $"TCP stream too slow: {bps} bit/s");
    }

    [E2EFact]
    public void OvsTestcontrollerAllPairsPing()
    {
        using var hosts = new Hosts(3);
        int port = SwitchProcess.FreePort();
        var dir = Directory.CreateTempSubdirectory("ssw-e2e-tc");
        var tc = Process.Start(new ProcessStartInfo("ovs-testcontroller")
        {
            ArgumentList = { "-O", "OpenFlow10", $"ptcp:{port}:127.0.0.1", "--no-chdir", $"--pidfile={dir}/tc.pid", $"--log-file={dir}/tc.log", $"--unixctl={dir}/tc.ctl" },
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        try
        {
            Thread.Sleep(300);
            using var sw = new SwitchProcess(hosts.PortSpec, "--controller", $"tcp:127.0.0.1:{port}");
            var deadline = Stopwatch.StartNew();
            while (!sw.Output.Contains("table misses go to the controller") && deadline.ElapsedMilliseconds < 10_000) Thread.Sleep(100);
            hosts.AllPairsPing();
            var flows = sw.Ofctl("dump-flows");
            Assert.Contains("idle_timeout=60", flows); // ovs-testcontroller's exact flows (reported with the priority it set)
        }
        finally
        {
            tc.Kill(true);
            tc.Dispose();
            dir.Delete(true);
        }
    }

    [E2EFact]
    public void PortDownAndUpReportPortStatusAndForwardingContinues()
    {
        using var hosts = new Hosts(2);
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "standalone");
        // A monitor (a service connection) receives asynchronous messages once it sets a miss_send_len, as with OVS.
        var mon = Process.Start(new ProcessStartInfo("stdbuf") { ArgumentList = { "-oL", "ovs-ofctl", "-O", "OpenFlow10", "monitor", sw.Endpoint, "65535", $"--unixctl={Path.Combine(Path.GetTempPath(), $"ssw-mon-{Environment.ProcessId}.ctl")}" }, RedirectStandardOutput = true, RedirectStandardError = true })!;
        var seen = new System.Text.StringBuilder();
        mon.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (seen) seen.AppendLine(e.Data); };
        mon.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (seen) seen.AppendLine("stderr: " + e.Data); };
        mon.BeginOutputReadLine();
        mon.BeginErrorReadLine();
        try
        {
            Thread.Sleep(500);
            Sh.Check("ip", "link", "set", hosts.Ns[1].HostIf, "down");
            var t = Stopwatch.StartNew();
            while (!Text(seen).Contains("LINK_DOWN") && t.ElapsedMilliseconds < 5000) Thread.Sleep(50);
            Assert.True(Text(seen).Contains("OFPT_PORT_STATUS"), "monitor saw:\n" + Text(seen) + "\ndaemon:\n" + sw.Output);
            Assert.Contains("LINK_DOWN", Text(seen));
            Sh.Check("ip", "link", "set", hosts.Ns[1].HostIf, "up");
            t.Restart();
            while (Text(seen).Split("OFPT_PORT_STATUS").Length < 3 && t.ElapsedMilliseconds < 5000) Thread.Sleep(50);
            Assert.True(Text(seen).Split("OFPT_PORT_STATUS").Length >= 3, "no PORT_STATUS for link up:\n" + Text(seen));
            // The monitor is a tool, not a controller: the standalone switch forwards while it stays connected.
            Assert.True(hosts.Ping(0, 1, 1, 3) || hosts.Ping(0, 1, 2, 3), "no forwarding after the port came back\n" + sw.Output);
            Assert.False(mon.HasExited, "the monitor was disconnected");
            for (int i = 0; i < 5; i++) sw.Ofctl("dump-flows");   // tools coming and going change nothing either
            Assert.True(hosts.Ping(0, 1, 5, 3), "standalone forwarding stopped while ovs-ofctl ran\n" + sw.Output);
            Assert.DoesNotContain("table misses go to the controller", sw.Output);
        }
        finally
        {
            mon.Kill(true);
            mon.Dispose();
        }
    }

    private static string Text(System.Text.StringBuilder sb)
    {
        lock (sb) return sb.ToString();
    }
}
