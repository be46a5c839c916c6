using Softswitch.Bench.Pps;

namespace Softswitch.Bench.Tests;

/// <summary>
/// bench pps --churn R --paired: both kinds of window are measured on one datapath, the churn windows apply the
/// flow-mods asked for, and under the pipeline's churn stale verdicts are repaired, and those rebuilt come from the pool (no timing is asserted:
/// the figures are the benchmark's to report).
/// </summary>
public sealed class PpsPairedChurnTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("faucet")]
    public void BothKindsOfWindowAreMeasured_AndTheChurnIsApplied(string? pipeline)
    {
        string[] args = ["--flows", "200", "--seconds", "1", "--churn", "20000", "--paired"];
        if (pipeline is not null) args = [.. args, "--pipeline", pipeline];
        var r = PpsHarness.MeasurePairedChurn(PpsOptions.Parse(args));
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
            // A walk needs a packet to arrive between a delete and its add: on a busy machine, where the churn thread and
            // the forwarding thread take turns on one CPU, there may be none. Those that are made build their verdicts
            // from the pool the retired ones went to.
            if (r.WalksPerS >= 100) Assert.True(r.VerdictsReused > 0, $"{r}");
        }
    }
}
