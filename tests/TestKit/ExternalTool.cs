using System.Diagnostics;

namespace Softswitch.TestKit;

/// <summary>
/// Runs real programs (ovs-ofctl ...) for interop tests. A test says which it needs with <see cref="RequiresToolAttribute"/>
/// on a <see cref="ToolFactAttribute"/> (or a namespace fact), which skips it with the reason, or fails it in CI.
/// </summary>
public static class ExternalTool
{
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
