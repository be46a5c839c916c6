using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>The exact-match cache's governor, fed packet counts (no time): sampling, exponential backoff, resets.</summary>
public class EmcGovernorTests
{
    private const int Burst = 32;

    /// <summary>A cache that hits <paramref name="hitRate"/> of its lookups, exact rules winning every packet.</summary>
    private sealed class Feed(EmcGovernor g, object table, double hitRate)
    {
        public long Hits, Lookups;
        public long Rules = 100_000;
        public object Table = table;
        public double HitRate = hitRate;
        public bool ExactAlone;
        public long WildcardWinsPerBurst;

        /// <summary>Runs bursts until <paramref name="packets"/> were classified; returns the packets that consulted the cache.</summary>
        public long Run(long packets)
        {
            long consulted = 0;
            for (long p = 0; p < packets; p += Burst)
            {
                if (g.Active)
                {
                    long before = (long)(Lookups * HitRate);
                    Lookups += Burst;
                    Hits += (long)(Lookups * HitRate) - before;
                    g.Consulted(Burst, Hits, Lookups, WildcardWinsPerBurst, Table, Rules, ExactAlone);
                    consulted += Burst;
                }
                else
                {
                    g.Bypassed(Burst, Hits, Lookups, Table, Rules);
                }
            }
            return consulted;
        }
    }

    [Fact]
    public void AHighHitRate_KeepsTheCacheOn()
    {
        var g = new EmcGovernor();
        var feed = new Feed(g, new object(), 0.95);
        Assert.Equal(10_000_000, feed.Run(10_000_000));
        Assert.Equal(0, g.Bypasses);
        Assert.Equal(10_000_000, g.ConsultedPackets);
        Assert.Equal(0, g.BypassedPackets);
    }

    [Fact]
    public void ALowHitRate_BacksOffExponentially_UpToTheCap()
    {
        var g = new EmcGovernor();
        var feed = new Feed(g, new object(), 0.57);
        // First window: sampled, low, bypass for the base length.
        Assert.Equal(EmcGovernor.WindowPackets, feed.Run(EmcGovernor.WindowPackets));
        Assert.Equal(1, g.Bypasses);
        Assert.Equal(EmcGovernor.BaseBypassPackets, g.BypassRemaining);
        for (int k = 1; k <= EmcGovernor.MaxBackoffShift + 3; k++)
        {
            long bypass = g.BypassRemaining;
            Assert.Equal(0, feed.Run(bypass));                                         // the whole bypass goes without the cache
            Assert.True(g.Active);
            Assert.Equal(EmcGovernor.WindowPackets, feed.Run(EmcGovernor.WindowPackets)); // then one window is sampled
            Assert.Equal(EmcGovernor.BaseBypassPackets << Math.Min(k, EmcGovernor.MaxBackoffShift), g.BypassRemaining);
        }
        // At the cap, the cache is consulted for about 0.1% of the packets (it was 6% without the backoff).
        long consulted0 = g.ConsultedPackets, bypassed0 = g.BypassedPackets;
        feed.Run(20 * (EmcGovernor.BaseBypassPackets << EmcGovernor.MaxBackoffShift));
        double share = (double)(g.ConsultedPackets - consulted0) / (g.ConsultedPackets - consulted0 + g.BypassedPackets - bypassed0);
        Assert.InRange(share, 0.0005, 0.002);
    }

    [Fact]
    public void AGoodWindow_ResetsTheBackoff()
    {
        var g = new EmcGovernor();
        var feed = new Feed(g, new object(), 0.3);
        feed.Run(EmcGovernor.WindowPackets);
        for (int k = 0; k < 3; k++) feed.Run(g.BypassRemaining + EmcGovernor.WindowPackets);
        Assert.Equal(EmcGovernor.BaseBypassPackets << 3, g.BypassRemaining);
        feed.Run(g.BypassRemaining);
        feed.HitRate = 0.99; // the working set now fits
        feed.Run(EmcGovernor.WindowPackets);
        Assert.True(g.Active);
        Assert.Equal(0, g.BackoffShift);
        feed.HitRate = 0.3; // and no longer: the next bypass is the base one again
        feed.Run(EmcGovernor.WindowPackets);
        Assert.Equal(EmcGovernor.BaseBypassPackets, g.BypassRemaining);
    }

    [Fact]
    public void ATableChange_ResetsTheBackoff_AndCutsTheBypass()
    {
        var g = new EmcGovernor();
        var feed = new Feed(g, new object(), 0.3);
        feed.Run(EmcGovernor.WindowPackets);
        for (int k = 0; k < 4; k++) feed.Run(g.BypassRemaining + EmcGovernor.WindowPackets);
        Assert.Equal(EmcGovernor.BaseBypassPackets << 4, g.BypassRemaining);

        // A few rules more or less: the same working set, the backoff stays.
        feed.Rules += 1000;
        feed.Run(Burst);
        Assert.Equal((EmcGovernor.BaseBypassPackets << 4) - Burst, g.BypassRemaining);

        // A quarter of the rules gone: sampled again after at most the base bypass, with the backoff forgotten.
        feed.Rules = 75_000;
        feed.Run(Burst);
        Assert.Equal(EmcGovernor.BaseBypassPackets - Burst, g.BypassRemaining);
        Assert.Equal(0, g.BackoffShift);
        feed.Run(g.BypassRemaining + EmcGovernor.WindowPackets);
        Assert.Equal(EmcGovernor.BaseBypassPackets, g.BypassRemaining);

        // Another lookup table: the same.
        feed.Run(g.BypassRemaining + EmcGovernor.WindowPackets);
        Assert.Equal(EmcGovernor.BaseBypassPackets << 1, g.BypassRemaining);
        feed.Table = new object();
        feed.Run(Burst);
        Assert.Equal(EmcGovernor.BaseBypassPackets - Burst, g.BypassRemaining);
        Assert.Equal(0, g.BackoffShift);
    }

    [Fact]
    public void WildcardWinners_LowerTheThreshold()
    {
        var g = new EmcGovernor();
        // 60%: below the 80% an exact-dominated window needs, above the 50% of a wildcard-won one.
        long hits = 0, lookups = 0;
        for (int p = 0; p < EmcGovernor.WindowPackets; p += Burst)
        {
            lookups += Burst;
            hits = lookups * 6 / 10;
            g.Consulted(Burst, hits, lookups, wildcardWins: Burst, new object(), 10);
        }
        Assert.True(g.Active);
        Assert.Equal(0, g.Bypasses);
    }

    [Fact]
    public void ExactWinners_OfATableWhoseHashStageAnswersAlone_BypassTheCache_WhateverItsHitRate()
    {
        var g = new EmcGovernor();
        var feed = new Feed(g, new object(), 1.0) { ExactAlone = true };
        // Every lookup hits, and still the first window starts a bypass: the records answer as cheaply.
        Assert.Equal(EmcGovernor.WindowPackets, feed.Run(EmcGovernor.WindowPackets));
        Assert.Equal(1, g.Bypasses);
        Assert.False(g.Active);
        // It backs off like a low hit rate: about 0.1% of the packets sample the cache at the cap.
        feed.Run(40 * (EmcGovernor.BaseBypassPackets << EmcGovernor.MaxBackoffShift));
        Assert.Equal(EmcGovernor.MaxBackoffShift, g.BackoffShift);
        double share = (double)g.ConsultedPackets / (g.ConsultedPackets + g.BypassedPackets);
        Assert.InRange(share, 0.0005, 0.003);
    }

    [Fact]
    public void WildcardWinners_KeepTheCache_EvenWhereTheHashStageAnswersAlone()
    {
        var g = new EmcGovernor();
        // A fifth of the packets won by wildcard rules (the cache saves their tuple-space search): a high hit rate keeps it.
        var feed = new Feed(g, new object(), 0.95) { ExactAlone = true, WildcardWinsPerBurst = Burst / 5 };
        Assert.Equal(1_000_000, feed.Run(1_000_000));
        Assert.Equal(0, g.Bypasses);
        // And the same table's exact-won traffic then bypasses it.
        feed.WildcardWinsPerBurst = 0;
        feed.Run(2 * EmcGovernor.WindowPackets);
        Assert.Equal(1, g.Bypasses);
    }
}
