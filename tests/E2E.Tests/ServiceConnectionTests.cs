using System.Diagnostics;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>Controller connections (--controller tcp:/ptcp:) against service connections (--listen, DPID.mgmt), as OVS.</summary>
public sealed class ServiceConnectionTests
{
    /// <summary>ovs-testcontroller connects in to `--controller ptcp:`, as to OVS's `set-controller br ptcp:`.</summary>
    [E2EFact]
    public void PassiveControllerConnectionIsTheController()
    {
        using var hosts = new Hosts(3, "10.79.0");
        int port = SwitchProcess.FreePort();
        using var sw = new SwitchProcess(hosts.PortSpec, "--controller", $"ptcp:{port}", "--local-port", "none");
        Assert.DoesNotContain("table misses go to the controller", sw.Output); // ovs-ofctl on --listen is no controller
        var dir = Directory.CreateTempSubdirectory("ssw-e2e-ptc");
        var tc = Process.Start(new ProcessStartInfo("ovs-testcontroller")
        {
            ArgumentList = { "-O", "OpenFlow10", $"tcp:127.0.0.1:{port}", "--no-chdir", $"--pidfile={dir}/tc.pid", $"--log-file={dir}/tc.log", $"--unixctl={dir}/tc.ctl" },
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        try
        {
            var deadline = Stopwatch.StartNew();
            while (!sw.Output.Contains("table misses go to the controller") && deadline.ElapsedMilliseconds < 15_000) Thread.Sleep(100);
            Assert.Contains("table misses go to the controller", sw.Output);
            hosts.AllPairsPing();
            Assert.Contains("idle_timeout=60", sw.Ofctl("dump-flows"));   // the controller's exact flows
        }
        finally
        {
            tc.Kill(true);
            tc.Dispose();
            dir.Delete(true);
        }
    }

    /// <summary>The default management socket RUNDIR/DPID.mgmt takes ovs-ofctl like OVS's br0.mgmt, and is removed on exit.</summary>
    [E2EFact]
    public void ManagementSocketServesOvsOfctl()
    {
        using var hosts = new Hosts(2, "10.79.1");
        string dpid = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
        string rundir = Directory.CreateTempSubdirectory("ssw-e2e-run").FullName;
        try
        {
            string mgmt = Path.Combine(rundir, $"{Convert.ToUInt64(dpid, 16):x16}.mgmt");
            using (var sw = new SwitchProcess(hosts.PortSpec, new Dictionary<string, string> { ["SOFTSWITCH_RUNDIR"] = rundir },
                       "--dpid", dpid, "--fail-mode", "standalone", "--local-port", "none"))
            {
                var show = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "show", "unix:" + mgmt], 30_000);
                Assert.True(show.Ok, show.Stderr);
                Assert.Contains($"dpid:0000{dpid}", show.Stdout);
                var add = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "add-flow", "unix:" + mgmt, "priority=5,arp,actions=NORMAL"], 30_000);
                Assert.True(add.Ok, add.Stderr);
                Assert.Contains("actions=NORMAL", Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "dump-flows", "unix:" + mgmt], 30_000).Stdout);
                hosts.AllPairsPing();                                    // standalone: a tool is no controller
                Assert.DoesNotContain("table misses go to the controller", sw.Output);
            }
            Assert.False(File.Exists(mgmt), "the management socket outlived the daemon");
        }
        finally
        {
            Directory.Delete(rundir, true);
        }
    }
}
