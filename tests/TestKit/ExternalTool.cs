using System.Diagnostics;

namespace Softswitch.TestKit;

/// <summary>Runs real programs (ovs-ofctl ...) for interop tests; decides loudly what happens when one is missing.</summary>
public static class ExternalTool
{
    /// <summary>
    /// True when <paramref name="tool"/> is on PATH. When it is not: in CI (CI=true) the test fails, since CI
    /// installs every tool; elsewhere the test prints a loud SKIPPED line and returns.
    /// </summary>
    public static bool Require(string tool)
    {
        if (Which(tool) is not null) return true;
        string msg = $"{tool} is not installed (run scripts/install-deps.sh as root)";
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(msg);
        Console.WriteLine($"SKIPPED: {msg}");
        return false;
    }

    public static string? Which(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var p = Path.Combine(dir, tool);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    public static (int code, string stdout, string stderr) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            Assert.Fail($"{tool} {string.Join(' ', args)} did not finish in 60 s");
        }
        return (p.ExitCode, so.Result, se.Result);
    }
}
