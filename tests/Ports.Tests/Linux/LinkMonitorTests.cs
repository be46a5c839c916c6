using System.Diagnostics;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Groups;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.Linux;

/// <summary>
/// The kernel's link notifications reach the datapath at once: with maintenance rounds an hour apart, only the link
/// monitor can make a port's link state, and a fast-failover group's live bucket, follow a veth peer going down and up.
/// </summary>
public sealed class LinkMonitorTests(ITestOutputHelper output)
{
    /// <summary>The owner's periodic check runs on the monitor's own thread (no thread of its own), repeatedly.</summary>
    [Fact]
    public void ATickRunsOnTheMonitorsThread()
    {
        using var ticked = new CountdownEvent(3);
        string? name = null;
        using var monitor = LinkMonitor.TryStart(() => { }, out var error, () =>
        {
            name = Thread.CurrentThread.Name;
            if (!ticked.IsSet) ticked.Signal();
        }, TimeSpan.FromMilliseconds(1));
        Assert.True(monitor is not null, error);
        Assert.True(ticked.Wait(TimeSpan.FromSeconds(30)), "the tick did not run three times");
        Assert.Equal("link-monitor", name);
    }

    [NetnsFact]
    public void ALinkChangeMovesAFastFailoverGroupWithoutWaitingForMaintenance()
    {
        using var ns = Netns.Create();
        using var dp = new SwitchDatapath(new DatapathOptions
        {
            MaintenanceInterval = TimeSpan.FromHours(1),
            IdleMaintenanceInterval = TimeSpan.FromHours(1),
        });
        var slot = dp.AddPort(new AfPacketPort(ns.HostIf), 1);
        dp.Start();
        using var monitor = LinkMonitor.TryStart(dp.NotifyLinkChange, out var error);
        Assert.True(monitor is not null, error);
        var ff = new Group(1, GroupType.FastFailover,
        [
            new GroupBucket(new FlowActions([FlowAction.Output(1)]), watchPort: 1),
            new GroupBucket(new FlowActions([FlowAction.Output(PortNumberOfNothing)]), watchGroup: 2),
        ], 0);
        dp.Groups.Set(ff);
        dp.Groups.Set(new Group(2, GroupType.All, [], 0));
        Assert.True(slot.LinkUp);
        Assert.Equal(0, dp.Groups.FirstLive(ff));

        foreach (var (state, up) in new[] { ("down", false), ("up", true), ("down", false) })
        {
            var sw = Stopwatch.StartNew();
            ns.Exec("ip", "link", "set", ns.NsIf, state);
            long issued = sw.ElapsedTicks;
            while (slot.LinkUp != up && sw.ElapsedMilliseconds < 5000) Thread.SpinWait(100);
            Assert.Equal(up, slot.LinkUp);
            Assert.Equal(up ? 0 : -1, dp.Groups.FirstLive(ff)); // group 2 has no bucket: not live either
            output.WriteLine($"link {state}: seen {(sw.ElapsedTicks - issued) * 1000.0 / Stopwatch.Frequency:F2} ms after `ip link set` returned");
        }
        Assert.True(monitor!.Events >= 3);
    }

    /// <summary>An output to a port that does not exist (never taken here: the bucket watches a dead group).</summary>
    private const ushort PortNumberOfNothing = 99;
}
