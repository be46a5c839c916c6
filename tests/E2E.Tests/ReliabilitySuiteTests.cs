using System.Diagnostics;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The short version of bench/reliability/run.sh against the real daemon: listener storm, connection flood, wire
/// fuzz, controller flaps, restart safety, a controller reading slowly while its flows expire, and (as root) frame
/// fuzz through real ports and a stalled controller, each row PASS.
/// </summary>
public sealed class ReliabilitySuiteTests
{
    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Softswitch.sln"))) return d.FullName;
        throw new InvalidOperationException("Softswitch.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// Runs bench/reliability/run.sh with <paramref name="args"/> (and --no-build when the daemon and
    /// <paramref name="alsoBuilt"/> are built), at most 5 minutes; prints and returns its table.
    /// </summary>
    private static async Task<(int Code, string Table, string Errors)> RunSuiteAsync(string what, Dictionary<string, string> env,
                                                                                    string[] args, params string[] alsoBuilt)
    {
        string root = RepoRoot();
        var psi = new ProcessStartInfo("bash", ["bench/reliability/run.sh", .. args])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        if (alsoBuilt.Append("src/Softswitch/bin/Release/net10.0/softswitch.dll").All(f => File.Exists(Path.Combine(root, f))))
            psi.ArgumentList.Add("--no-build");
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        // A guard against a hang, not a rate: the quick suite takes 2-3 minutes quiet and more than 5 on a loaded machine.
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(12)))
        {
            try
            {
                await p.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill(true);
                Assert.Fail($"{what} did not finish in 12 minutes:\n" + await se + await so);
            }
        }
        string table = await so;
        Console.WriteLine(table);
        return (p.ExitCode, table, await se);
    }

    /// <summary>
    /// A 45-second soak (run.sh --soak with SOAK_SECONDS): four ports with paced and line-rate traffic, flow churn by
    /// the C# client at 10,000 flow-mods/s, controller restarts; packets must add up over the four ports, no
    /// permanent flow may be lost, and the row must report the switch's applied flow-mod rate and the GC pauses.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovs-ofctl")]
    [RequiresTool("ovs-testcontroller")]
    [RequiresTool("iperf3")]
    public async Task ShortSoakPasses()
    {
        // The soak runs the daemon and bench this test run built; run.sh builds them if this is another configuration.
        var (code, table, errors) = await RunSuiteAsync("the short soak", new() { ["SOAK_SECONDS"] = "45" },
            ["--soak", "1"], "bench/bin/Release/net10.0/Softswitch.Bench.dll");
        Assert.True(code == 0, $"soak failed ({code}):\n{table}\n{errors}");
        Assert.Matches("(?m)^soak +PASS ", table);
        Assert.Matches(@"traffic over 4 ports: .* = \d+ forwarded \+ \d+ tx drops \+ \d+ dropped by reason", table);
        Assert.Matches(@"churn: switch applied \d+ flow-mods/s", table);
        Assert.Matches(@"GC after warm-up: \d+ collections, \d+ pauses", table);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    [RequiresTool("ovs-testcontroller")]
    [RequiresTool("python3")]
    public async Task QuickReliabilitySuitePasses()
    {
        // The suite runs the daemon this test run built (src/Softswitch/bin/Release); build it if this is another configuration.
        var (code, table, errors) = await RunSuiteAsync("the quick reliability suite", new(), ["--quick"], "bench/bin/Release/net10.0/Softswitch.Bench.dll");
        Assert.True(code == 0, $"reliability suite failed ({code}):\n{table}\n{errors}");
        foreach (var scenario in new[] { "listener-storm", "connect-flood", "wire-fuzz", "codec-fuzz13", "controller-flaps", "restart-safety", "slow-flow-removed" })
            Assert.Matches($"(?m)^{scenario} +PASS ", table);
        // Real ports on veth need root (CI is root); elsewhere the suite says SKIP and why, loudly.
        bool isRoot = Environment.UserName == "root";
        foreach (var scenario in new[] { "frame-fuzz", "slow-reader", "tunnel-fuzz", "flaps-secure", "flaps-standalone" })
            Assert.Matches(isRoot ? $"(?m)^{scenario} +PASS " : $"(?m)^{scenario} +SKIP ", table);
    }
}
