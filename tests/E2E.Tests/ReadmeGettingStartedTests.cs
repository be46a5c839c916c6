using System.Text;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The README's getting-started commands, run as a user types them (from the section itself, so the test follows the
/// README), on a machine where another switch already runs: its control and management sockets sit in
/// /run/softswitch beside the new one's. Only names are made private (the namespaces' and veths' prefix, the
/// controller's and the listener's TCP ports, the datapath id, the files in /tmp), so that parallel runs on a shared
/// machine cannot collide; the install step is left out (the package tests build and install the binary).
/// </summary>
[RequiresTool("ovs-testcontroller")]
[RequiresTool("ovs-ofctl")]
public sealed class ReadmeGettingStartedTests
{
    private static string RepoFile(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, name)) && Directory.Exists(Path.Combine(d.FullName, "src"))) return Path.Combine(d.FullName, name);
        throw new FileNotFoundException($"{name} above {AppContext.BaseDirectory}");
    }

    /// <summary>The indented command blocks of the README's getting-started section, up to the Mininet paragraph.</summary>
    internal static List<string> GettingStartedBlocks(string readme)
    {
        int start = readme.IndexOf("## Getting started", StringComparison.Ordinal);
        int end = readme.IndexOf("The same in Mininet", start, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "the README's getting-started section moved");
        var blocks = new List<string>();
        var current = new StringBuilder();
        foreach (var line in readme[start..end].Split('\n'))
        {
            if (line.StartsWith("    ", StringComparison.Ordinal))
            {
                current.Append(line[4..]).Append('\n');
            }
            else if (line.Length > 0 && current.Length > 0)
            {
                blocks.Add(current.ToString());
                current.Clear();
            }
        }
        if (current.Length > 0) blocks.Add(current.ToString());
        return blocks;
    }

    [E2EFact]
    public void TheCommandsRunAsWritten_WithAnotherSwitchRunning()
    {
        var blocks = GettingStartedBlocks(File.ReadAllText(RepoFile("README.md")));
        var commands = blocks.Where(b => !b.Contains("scripts/install", StringComparison.Ordinal)).ToList();
        Assert.True(commands.Count >= 4, $"expected the namespaces, the switch, ctl and stop blocks; found {commands.Count}");
        Assert.Contains(commands, b => b.Contains("softswitch run", StringComparison.Ordinal));
        Assert.Contains(commands, b => b.Contains("exit &&", StringComparison.Ordinal));

        var tmp = Directory.CreateTempSubdirectory("ssw-readme-");
        string prefix = "r" + Random.Shared.Next(10, 99).ToString(System.Globalization.CultureInfo.InvariantCulture) + "-";
        int controllerPort = FreePorts.Tcp(), listenPort = FreePorts.Tcp();
        while (listenPort == controllerPort) listenPort = FreePorts.Tcp();
        var bin = Directory.CreateDirectory(Path.Combine(tmp.FullName, "bin")).FullName;
        File.CreateSymbolicLink(Path.Combine(bin, "softswitch"), Path.Combine(AppContext.BaseDirectory, "softswitch"));
        string dpid = "0x" + Random.Shared.NextInt64(0x10000, 0xfffffff).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        string Private(string s) => Regex.Replace(s, @"\bgs-", prefix)
            .Replace("--dpid 0x1 ", $"--dpid {dpid} ", StringComparison.Ordinal)
            .Replace("/tmp/", tmp.FullName + "/", StringComparison.Ordinal)
            .Replace("6653", controllerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("6634", listenPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        string other = Path.Combine(tmp.FullName, "other.pid");
        var script = new StringBuilder();
        script.Append("set -e -o pipefail\n");
        script.Append($"export PATH={bin}:$PATH\n");
        // Another switch, already running: its sockets are in /run/softswitch beside the new one's.
        script.Append($"softswitch run --ports mem:1 --dpid 0x7e57{Random.Shared.Next(100, 999)} --pidfile {other} --log-file {tmp.FullName}/other.log --detach\n");
        foreach (var b in commands) script.Append(Private(b));
        script.Append($"softswitch ctl --pidfile {other} exit\n");
        File.WriteAllText(Path.Combine(tmp.FullName, "readme.sh"), script.ToString());
        try
        {
            var r = Sh.Run("bash", [Path.Combine(tmp.FullName, "readme.sh")], timeoutMs: 180_000);
            string all = r.Stdout + r.Stderr;
            Assert.True(r.ExitCode == 0, $"the README's commands failed ({r.ExitCode}):\n{script}\n---\n{all}");
            Assert.True(Regex.IsMatch(all, @"\b\d+ packets transmitted, 3 received"),
                $"the ping did not get its three replies:\n{all}\n--- the switch's log:\n{Tail(Path.Combine(tmp.FullName, "gs.log"))}\n--- the controller's log:\n{Tail(Path.Combine(tmp.FullName, prefix + "tc.log"))}");
            Assert.Contains("NXST_FLOW reply", all);   // ovs-ofctl dumps in Open vSwitch's NXM flow format under 1.0, as against ovs-vswitchd
            Assert.Contains("OFPST_PORT_DESC reply", all);
            Assert.Contains($"1({prefix}p1)", all);
            Assert.Contains("n_packets=", all);
            Assert.DoesNotContain("several control sockets", all);
            Assert.False(Directory.Exists($"/run/netns/{prefix}h1"), "the stop line left the namespaces");
        }
        finally
        {
            // Whatever a failed run left: every process started here wrote its pid file into the test's directory.
            foreach (var f in Directory.GetFiles(tmp.FullName, "*.pid")) StopByPidFile(f);
            Sh.Run("ip", "netns", "del", prefix + "h1");
            Sh.Run("ip", "netns", "del", prefix + "h2");
            try { tmp.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static string Tail(string file) => File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(60)) : $"({file} was not written)";

    private static void StopByPidFile(string file)
    {
        if (!File.Exists(file) || !int.TryParse(File.ReadAllText(file).Trim(), out int pid)) return;
        try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
    }
}
