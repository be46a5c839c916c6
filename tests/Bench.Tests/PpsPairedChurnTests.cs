using Softswitch.Bench.Pps;
using Xunit.Abstractions;

namespace Softswitch.Bench.Tests;

/// <summary>
/// bench pps --churn R --paired: both kinds of window are measured on one datapath, the churn windows apply the
/// flow-mods asked for, and under the pipeline's churn stale verdicts are repaired, and those rebuilt come from the pool (no timing is asserted:
/// the figures are the benchmark's to report).
/// </summary>
public sealed class PpsPairedChurnTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(null)]
    [InlineData("faucet")]
    public void BothKindsOfWindowAreMeasured_AndTheChurnIsApplied(string? pipeline)
    {
        string[] args = ["--flows", "200", "--seconds", "1", "--churn", "20000", "--paired"];
        if (pipeline is not null) args = [.. args, "--pipeline", pipeline];
        var r = PpsHarness.MeasurePairedChurn(PpsOptions.Parse(args));
        output.WriteLine(r.ToString());
        Assert.True(r.NoChurnMpps > 0 && r.ChurnMpps > 0, $"{r}");
        Assert.Equal(r.ChurnMpps / r.NoChurnMpps, r.Ratio, 6);
        // Paced at 20,000 a second over the churn windows; a loaded machine may fall behind, never run ahead by much.
        Assert.InRange(r.ChurnPerS, 2_000, 24_000);
        if (pipeline is not null)
        {
            Assert.True(r.VerdictsBuilt > 0, $"{r}");
            // Stale verdicts are repaired (a rule deleted and added back) or walked again (a packet between the delete
            // and the add) in the churn windows; a quiet window meets only the keys the churn window before it left stale.
            Assert.True(r.RepairsPerS > 0, $"{r}");
            Assert.True(r.QuietWalksPerS + r.QuietRepairsPerS < r.WalksPerS + r.RepairsPerS, $"{r}");
            // A walk builds a verdict only for a chain not interned yet, and only a packet between a delete and its add
            // makes one: on a busy machine, where the churn thread and the forwarding thread take turns on one CPU,
            // there may be none (walks then find chains already built). Verdicts built in the measured windows, after
            // the warm-up's retired ones reached the pool, come from it.
            if (r.VerdictsBuiltMeasured >= 100) Assert.True(r.VerdictsReused > 0, $"{r}");
        }
    }
}
