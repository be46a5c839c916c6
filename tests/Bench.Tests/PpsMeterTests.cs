using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.Bench.Pps;

namespace Softswitch.Bench.Tests;

/// <summary>bench pps --meter: every flow through one drop band; the rate passed is the band's, on one thread and on two.</summary>
public sealed partial class PpsMeterTests
{
    [GeneratedRegex(@"meter: ([0-9.]+) Mbit/s of frames passed against a drop band of ([0-9.]+) Mbit/s")]
    private static partial Regex MeterLine();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheMeterRowPassesTheBandsRate(int threads)
    {
        var o = PpsOptions.Parse(["--flows", "200", "--seconds", "1.5", "--meter", "20000", "--threads", threads.ToString(CultureInfo.InvariantCulture)]);
        // The offer is millions of packets per second against 20 Mbit/s (39 kpps of 64-byte frames), and on a loaded
        // machine still several times the band (0.45 Mpps with both cores busy, 0.16 at a load average of 40): the band
        // decides as long as the offer is well above it. A window in which the machine gave the forwarding threads too
        // little to offer twice the band (0.08 Mpps was seen in a loaded CI run) cannot tell, so it is measured again,
        // up to three windows.
        double passed = 0, band = 0, offeredMbps = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var progress = new StringWriter();
            var r = PpsHarness.Measure(o, progress);
            var m = MeterLine().Match(progress.ToString());
            Assert.True(m.Success, progress.ToString());
            passed = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            band = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            offeredMbps = r.Mpps * 64 * 8;
            if (offeredMbps >= 2 * band) break;
        }
        Assert.Equal(20.0, band);
        Assert.True(offeredMbps >= 2 * band, $"offered only {offeredMbps:F1} Mbit/s in three windows, too little to test a band of {band} Mbit/s");
        // Within 0.04% on a quiet machine (docs/openflow.md). This test only checks that the row is metered: the rate is
        // read over a wall-clock window, and on a loaded machine a stall of a forwarding thread moves tokens across its
        // edges (the bucket holds 300 ms; 25.6 was seen at a load of 20), while unmetered the row passes what it is
        // offered. The band's exactness is the meter tests' (MeterTests, MeterRemarkTests), on a clock they drive.
        Assert.InRange(passed, 10, 40);
        Assert.True(passed < 0.8 * offeredMbps, $"{passed} Mbit/s passed of {offeredMbps:F1} offered: the band held nothing back");
    }
}
