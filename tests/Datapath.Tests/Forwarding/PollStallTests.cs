using System.Diagnostics;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>A forwarding thread's stalls: the longest gap between two busy poll rounds, and the gaps over 1 and 10 ms.</summary>
public sealed class PollStallTests
{
    private static long Ticks(double ms) => (long)(ms * Stopwatch.Frequency / 1000);

    [Fact]
    public void GapsAreKeptAsAMaximumAndCountedOver1And10Ms()
    {
        var dp = new SwitchDatapath();
        var f = dp.Forwarders[0];
        Assert.Equal(0, f.MaxBusyGapMicros);
        f.RecordBusyGap(Ticks(0.2));
        f.RecordBusyGap(Ticks(2));
        f.RecordBusyGap(Ticks(0.5));
        f.RecordBusyGap(Ticks(25));
        f.RecordBusyGap(Ticks(3));
        Assert.InRange(f.MaxBusyGapMicros, 24_990, 25_010);
        Assert.Equal(3, f.BusyGapsOver1ms);
        Assert.Equal(1, f.BusyGapsOver10ms);
    }

    [Fact]
    public void ARunningThreadThatForwardsWithoutPausesReportsItsRounds()
    {
        // The poll loop records gaps only while packets keep coming; an idle switch records none.
        var dp = new SwitchDatapath();
        dp.Start();
        Thread.Sleep(200);
        dp.Stop();
        Assert.Equal(0, dp.Forwarders[0].MaxBusyGapMicros);
        Assert.Equal(0, dp.Forwarders[0].BusyGapsOver1ms);
    }
}
