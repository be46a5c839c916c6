using Softswitch.Metrics;

namespace Softswitch.Tests;

/// <summary>The GC pause monitor: every collection's pause from the runtime's events, in a histogram that adds up.</summary>
public class GcPauseMonitorTests
{
    [Fact]
    public void Forced_collections_are_measured_one_by_one()
    {
        var m = GcPauseMonitor.Start();
        Assert.Same(m, GcPauseMonitor.Start());
        long before = m.GcPauses;
        for (int i = 0; i < 5; i++)
        {
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            Thread.Sleep(20);
        }
        // Events reach the listener on the runtime's dispatch thread, a little after the fact.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (m.GcPauses - before < 5 && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.True(m.GcPauses - before >= 5, $"{m.GcPauses - before} of 5 forced collections measured (source {m.Source})");
        Assert.Equal("events", m.Source);
        Assert.True(m.MaxMicros > 0);
        Assert.True(m.TotalMicros >= m.MaxMicros);
        Assert.True(m.SuspendTotalMicros <= m.TotalMicros);
        Assert.True(m.MaxSuspendMicros <= m.MaxMicros);
        // One writer counts a pause, then its bucket: the buckets trail the count by at most the pause being recorded.
        long c0 = m.GcPauses;
        var h = m.Histogram();
        long c1 = m.GcPauses;
        Assert.Equal(GcPauseMonitor.BucketUpperMicros.Length + 1, h.Length);
        Assert.InRange(h.Sum(), c0 - 1, c1);
        Assert.True(m.Quantile(0.5) <= m.Quantile(0.99));
        Assert.True(m.Quantile(0.99) <= m.MaxMicros);
        Assert.True(m.Quantile(0.99) > 0);
    }
}
