using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// Flow maintenance: every listener hears its start before the expiries, a failing step is counted and the timer goes on,
/// and an idle timeout expires a flow and reports it.
/// </summary>
public sealed class FlowMaintenanceTests
{
    [Fact]
    public void EveryListenerHearsMaintenanceStartBeforeExpiry_AndUnsubscribedOnesNothing()
    {
        using var r = new FlowTablesRig();
        var log = new List<string>();
        var a = new OrderLog("a", log);
        var b = new OrderLog("b", log);
        r.Dp.Subscribe(a);
        r.Dp.Subscribe(b);
        var m = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(FlowModStatus.Ok, r.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 5, new FlowActions([FlowAction.Output(2)]), IdleTimeout: 1)));
        r.Clock.Advance(TimeSpan.FromSeconds(2));
        r.Dp.RunMaintenance();
        Assert.Equal(new[] { "a start", "b start", "a expired", "b expired" }, log);
        Assert.Single(r.Removed);

        r.Dp.Unsubscribe(a);
        log.Clear();
        r.Dp.RunMaintenance();
        Assert.Equal(new[] { "b start" }, log);
    }

    private sealed class OrderLog(string name, List<string> log) : IDatapathEvents
    {
        public void OnMaintenanceStarting() => log.Add(name + " start");
        public void OnFlowExpired(in FlowRemoved expired) => log.Add(name + " expired");
    }

    [Fact]
    public void AFailingMaintenanceStepIsCountedKeptAndReported_AndTheTimerGoesOn()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, MaintenanceInterval = TimeSpan.FromMilliseconds(5) });
        var failing = new FailsOnce();
        dp.Subscribe(failing);
        dp.Start();
        Assert.True(failing.Reported.Wait(TimeSpan.FromSeconds(10)), "the failure never reached the listener");
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref failing.Starts) >= 3, TimeSpan.FromSeconds(10)), "the timer stopped after the failure");
        dp.Stop();
        Assert.Equal(1, dp.MaintenanceErrorCount);
        Assert.Equal(1, dp.Counters.Read(Softswitch.Datapath.Counters.DatapathCounters.MaintenanceError));
        Assert.Same(failing.Thrown, dp.LastMaintenanceError);
        Assert.Same(failing.Thrown, failing.Received);
    }

    private sealed class FailsOnce : IDatapathEvents
    {
        public readonly InvalidOperationException Thrown = new("maintenance step failed");
        public readonly ManualResetEventSlim Reported = new();
        public Exception? Received;
        public int Starts;

        public void OnMaintenanceStarting()
        {
            if (Interlocked.Increment(ref Starts) == 1) throw Thrown;
        }

        public void OnMaintenanceError(Exception error)
        {
            Received = error;
            Reported.Set();
        }
    }

    [Fact]
    public void IdleTimeoutExpiresThroughMaintenanceAndReports()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        r.Flows.Apply(new FlowMod(FlowModCommand.Add, MatchOf(f, 1, OfWildcards.None), 1,
            new FlowActions([FlowAction.Output(2)]), IdleTimeout: 5, Flags: FlowModFlags.SendFlowRemoved));
        r.Clock.Advance(TimeSpan.FromSeconds(3));
        r.Send(1, f);
        r.Clock.Advance(TimeSpan.FromSeconds(3));
        r.Dp.RunMaintenance();
        Assert.Empty(r.Removed);
        r.Clock.Advance(TimeSpan.FromSeconds(6));
        r.Dp.RunMaintenance();
        var rem = Assert.Single(r.Removed);
        Assert.Equal(FlowRemovedReason.IdleTimeout, rem.Reason);
        Assert.Equal(1, rem.Packets);
    }
}
