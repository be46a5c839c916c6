using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// The adaptive linger's decision (<see cref="PollWindow"/>), driven by a clock of the test's own (1 tick = 1 us): a
/// thread polls for the short window after a frame; after a frame whose earlier spell of traffic ended less than a
/// second before, for the linger; a lone frame after a quiet second, a linger of 0 and a busy-poll window of 0 keep
/// the short window.
/// </summary>
public sealed class PollWindowTests
{
    private const long Short = 50, Linger = 1000, Recent = 1_000_000;   // microseconds as ticks
    private const long T0 = 10_000_000;

    [Fact]
    public void FirstSpell_KeepsTheShortWindow()
    {
        var w = new PollWindow(Short, Linger, Recent, T0);
        Assert.False(w.KeepPolling(T0));   // nothing yet: the thread may block at once
        w.Work(T0 + 100);
        Assert.False(w.Lingering);
        Assert.True(w.KeepPolling(T0 + 100 + Short - 1));
        Assert.False(w.KeepPolling(T0 + 100 + Short));
    }

    [Fact]
    public void ASpellWithinASecondOfTheLast_Lingers_ThenTheThreadBlocks()
    {
        var w = new PollWindow(Short, Linger, Recent, T0);
        w.Work(T0);
        w.Blocking();
        // A ping every 10 ms: each request finds the thread asleep, its reply finds it lingering.
        long request = T0 + 10_000;
        w.Work(request);
        Assert.True(w.Lingering);
        Assert.True(w.KeepPolling(request + Short));
        Assert.True(w.KeepPolling(request + 600));   // the reply, after the short window
        w.Work(request + 600);
        Assert.True(w.KeepPolling(request + 600 + Linger - 1));
        Assert.False(w.KeepPolling(request + 600 + Linger));
        w.Blocking();
        long next = request + 10_000;
        w.Work(next);
        Assert.True(w.KeepPolling(next + Linger - 1));
        Assert.False(w.KeepPolling(next + Linger));
    }

    [Fact]
    public void ALoneFrameAfterAQuietSecond_KeepsTheShortWindow()
    {
        var w = new PollWindow(Short, Linger, Recent, T0);
        w.Work(T0);
        w.Blocking();
        long lone = T0 + Recent + 1;
        w.Work(lone);
        Assert.False(w.Lingering);
        Assert.True(w.KeepPolling(lone + Short - 1));
        Assert.False(w.KeepPolling(lone + Short));
        // Exactly a second after the last spell still counts as recent.
        w.Blocking();
        w.Work(lone + Recent);
        Assert.True(w.Lingering);
    }

    [Fact]
    public void WakeUpsThatFindNothing_DoNotOpenAWindow_NorMakeTrafficRecent()
    {
        var w = new PollWindow(Short, Linger, Recent, T0);
        w.Work(T0);
        w.Blocking();
        // Woken with nothing (a timeout, a stray readiness): one round, then blocks again; the spell stays the old one.
        Assert.False(w.KeepPolling(T0 + 500_000));
        w.Blocking();
        Assert.False(w.KeepPolling(T0 + 1_500_000));
        w.Blocking();
        w.Work(T0 + 1_500_001);   // more than a second after the last frame: no linger
        Assert.False(w.Lingering);
        Assert.False(w.KeepPolling(T0 + 1_500_001 + Short));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Short)]
    [InlineData(Short - 10)]
    public void ALingerNoLongerThanTheShortWindow_IsNone(long linger)
    {
        var w = new PollWindow(Short, linger, Recent, T0);
        w.Work(T0);
        w.Blocking();
        w.Work(T0 + 1000);
        Assert.False(w.Lingering);
        Assert.True(w.KeepPolling(T0 + 1000 + Short - 1));
        Assert.False(w.KeepPolling(T0 + 1000 + Short));
    }

    [Fact]
    public void FromMicros_ScalesToTheClock_AndABusyPollOfZeroHasNoLinger()
    {
        const long Hz = 1_000_000_000;   // a nanosecond clock
        var w = PollWindow.FromMicros(50, 1000, Hz, T0);
        w.Work(T0);
        w.Blocking();
        w.Work(T0 + 5_000_000);
        Assert.True(w.KeepPolling(T0 + 5_000_000 + 999_999));
        Assert.False(w.KeepPolling(T0 + 5_000_000 + 1_000_000));

        var none = PollWindow.FromMicros(0, 1000, Hz, T0);
        none.Work(T0);
        none.Blocking();
        none.Work(T0 + 5_000_000);
        Assert.False(none.Lingering);
        Assert.False(none.KeepPolling(T0 + 5_000_000));
    }
}
