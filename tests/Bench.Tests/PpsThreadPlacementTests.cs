using System.Diagnostics;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.Bench.Tests;

/// <summary>
/// bench pps --pin-cpu with several forwarding threads: thread t owns CPU N+t, also in a --scale-to run, where the
/// one-thread run before has kept every other thread (the main thread too) off its CPU. Run as a process of its own:
/// placing threads changes the whole process's CPU masks, which a test host shared with other tests must not have.
/// </summary>
public sealed partial class PpsThreadPlacementTests
{
    [GeneratedRegex(@"^2\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+x\s+([0-9.]+) ([0-9.]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex TwoThreadRow();

    [TwoCpuFact]
    public void AScaleToRunPinsEachForwardingThreadToACpuOfItsOwn()
    {
        // Each pinned thread must forward in the two-thread run. Pinning keeps this process's other threads off a
        // forwarding thread's CPU, not other processes: on a loaded machine one may take that CPU for the whole short
        // window (seen once: 0.00 and 4.45 Mpps), so a run where a thread forwarded nothing is run again, up to three
        // times; a placement that is wrong leaves a thread idle in every run.
        var outputs = new List<string>();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            string stdout = RunScaleTo();
            outputs.Add(stdout);
            var row = TwoThreadRow().Match(stdout);
            Assert.True(row.Success, stdout);
            if (Rate(row.Groups[1].Value) > 0 && Rate(row.Groups[2].Value) > 0) return;
        }
        Assert.Fail("a forwarding thread forwarded nothing in three runs:\n" + string.Join("\n----\n", outputs));
    }

    private static double Rate(string s) => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    private static string RunScaleTo()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Softswitch.Bench.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "pps", "--flows", "200", "--scale-to", "2", "--seconds", "1", "--pin-cpu", "0" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "bench pps did not finish in 120 s");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
