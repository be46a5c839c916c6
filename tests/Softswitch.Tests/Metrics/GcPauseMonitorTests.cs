using Softswitch.Metrics;

namespace Softswitch.Tests.Metrics;

/// <summary>The GC pause monitor: every collection's pause from the runtime's events, in a histogram that adds up.</summary>
public class GcPauseMonitorTests
{
    [Fact]
    public void ForcedCollectionsAreMeasuredOneByOne()
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

    [Fact]
    public void APauseIsSplitIntoTheCollectorsPhases()
    {
        var m = GcPauseMonitor.Start();
        // Wait for the listener to be live (it may be the first test of the monitor).
        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (m.GcPauses == 0 && DateTime.UtcNow < deadline) Thread.Sleep(50);
        // The generations first: a pause recorded between the readings (another test's collection) is then in the
        // pauses' baseline and not the generations', which the check below allows (one more), never the reverse.
        long gens0 = m.GcPausesOfGen(0) + m.GcPausesOfGen(1) + m.GcPausesOfGen(2);
        long pauses0 = m.GcPauses, total0 = m.TotalMicros, stack0 = m.MarkedBytes(GcPauseMonitor.RootKind.Stack);
        long[] phases0 = Phases(m);
        for (int i = 0; i < 5; i++)
        {
            // A young array (small-object heap) alive on this stack across the collection: marked through the stack roots.
            var young = new byte[50_000];
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            GC.KeepAlive(young);
            Thread.Sleep(20);
        }
        deadline = DateTime.UtcNow.AddSeconds(20);
        while (m.GcPauses - pauses0 < 5 && DateTime.UtcNow < deadline) Thread.Sleep(50);
        long pauses = m.GcPauses - pauses0, total = m.TotalMicros - total0;
        Assert.True(pauses >= 5, $"{pauses} of 5 forced collections measured");
        long[] phases1 = Phases(m);
        long sum = 0;
        for (int i = 0; i < phases1.Length; i++)
        {
            Assert.True(phases1[i] >= phases0[i], $"phase {GcPauseMonitor.PhaseNames[i]} went back");
            sum += phases1[i] - phases0[i];
        }
        // Every microsecond of a pause belongs to one phase (each phase is rounded down, so up to one per phase less).
        // Pauses counted between the two readings of the totals may shift the figures by one pause at most.
        Assert.InRange(sum, total - (pauses + 1) * GcPauseMonitor.PhaseNames.Length - m.MaxMicros, total + m.MaxMicros);
        Assert.True(sum > 0);
        Assert.InRange(m.GcPausesOfGen(0) + m.GcPausesOfGen(1) + m.GcPausesOfGen(2) - gens0, pauses, pauses + 1);
        Assert.True(m.MarkedBytes(GcPauseMonitor.RootKind.Stack) - stack0 >= 50_000, "the young arrays were marked through the stack");
        long ofMax = 0;
        foreach (GcPauseMonitor.Phase p in Enum.GetValues<GcPauseMonitor.Phase>()) ofMax += m.PhaseOfMaxMicros(p);
        Assert.InRange(ofMax, 0, m.MaxMicros);
    }

    private static long[] Phases(GcPauseMonitor m)
    {
        var a = new long[GcPauseMonitor.PhaseNames.Length];
        for (int i = 0; i < a.Length; i++) a[i] = m.PhaseMicros((GcPauseMonitor.Phase)i);
        return a;
    }
}
