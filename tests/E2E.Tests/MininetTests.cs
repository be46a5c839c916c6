using System.Diagnostics;
using System.Security.Cryptography;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Mininet (Debian's 2.3.0, run by Debian's /usr/bin/python3) with the switch class mininet/softswitch_mn.py:
/// `--topo tree,depth=2` (3 switches, 4 hosts), pingall and an iperf3 TCP stream from h1 to h4, under
/// ovs-testcontroller and standalone. The whole topology lives in a private network namespace, so its interface names,
/// its controller and listen ports are this test's alone; Mininet's net.stop() ends the switches (SIGHUP) and the
/// controller by pid, and deleting the namespace removes every interface the test made. Never `mn -c`.
/// </summary>
[RequiresTool("mnexec")]
[RequiresTool("ovs-testcontroller")]
[RequiresTool("iperf3")]
public sealed class MininetTests
{
    [E2EFact]
    public void TreeDepth2UnderOvsTestcontroller() => RunTree("controller");

    [E2EFact]
    public void TreeDepth2Standalone() => RunTree("standalone");

    /// <summary>Mininet's `protocols=` (as its OVS switch takes it): the switches offer OpenFlow 1.3 only, ovs-testcontroller speaks 1.3.</summary>
    [E2EFact]
    public void TreeDepth2UnderOvsTestcontroller_OpenFlow13() => RunTree("controller13");

    private static void RunTree(string mode)
    {
        string ns = "ssw-mn-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var runDir = Directory.CreateTempSubdirectory("ssw-mn-");
        Sh.Check("ip", "netns", "add", ns);
        try
        {
            Sh.Check("ip", "-n", ns, "link", "set", "lo", "up");
            string dir = AppContext.BaseDirectory;
            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "netns", "exec", ns, "/usr/bin/python3", Path.Combine(dir, "Mininet", "tree_test.py"), mode, runDir.FullName, Path.Combine(dir, "mininet") })
                psi.ArgumentList.Add(a);
            psi.Environment["SOFTSWITCH"] = $"dotnet {Path.Combine(dir, "softswitch.dll")}";
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(180_000))
            {
                p.Kill(true);
                Assert.Fail($"the Mininet test did not finish in 180 s:\n{stdout.Result}\n{stderr.Result}\n{Logs(runDir)}");
            }
            string output = stdout.Result;
            Console.WriteLine($"Mininet tree,depth=2 ({mode}):\n{output}");
            Assert.True(p.ExitCode == 0 && output.Contains("RESULT ok"), $"Mininet test failed ({p.ExitCode}):\n{output}\n{stderr.Result}\n{Logs(runDir)}");
            Assert.Contains("pingall loss 0.0%", output);
            Assert.Matches(@"iperf3 h1 -> h4: \d+ Mbit/s", output);
            if (mode == "controller13")
            {
                // ovs-testcontroller's 1.3 table-miss entry, and the switches' own word for the version.
                Assert.Contains("priority=0 actions=CONTROLLER:128", output);
                Assert.Contains("negotiated OpenFlow 1.3", File.ReadAllText(Path.Combine(runDir.FullName, "s1", "s1.log")));
            }
            // Each switch logged its start and its SIGHUP shutdown in OVS's log format, and removed its socket and pid file.
            foreach (var sw in new[] { "s1", "s2", "s3" })
            {
                string log = File.ReadAllText(Path.Combine(runDir.FullName, sw, sw + ".log"));
                Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|00001\|[a-z]+\|INFO\|", log);
                Assert.Contains("|softswitch|INFO|shutting down (SIGHUP)", log);
                Assert.False(File.Exists(Path.Combine(runDir.FullName, sw, sw + ".ctl")), $"{sw}.ctl left behind");
                Assert.False(File.Exists(Path.Combine(runDir.FullName, sw, sw + ".pid")), $"{sw}.pid left behind");
            }
        }
        finally
        {
            Sh.Run("ip", "netns", "del", ns);
            try { runDir.Delete(true); } catch (IOException) { }
        }
    }

    private static string Logs(DirectoryInfo runDir)
        => string.Join("\n", runDir.EnumerateFiles("*.log", SearchOption.AllDirectories).Select(f => $"== {f.Name}\n{File.ReadAllText(f.FullName)}"));
}
