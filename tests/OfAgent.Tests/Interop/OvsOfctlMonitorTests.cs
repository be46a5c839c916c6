using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real <c>ovs-ofctl monitor SWITCH watch:</c>: OpenFlow 1.4's and 1.5's flow monitor (OFPMP_FLOW_MONITOR), under 1.3 the ONF
/// extension Open vSwitch sends there (ONFST_FLOW_MONITOR), and under 1.0 Nicira's (NXST_FLOW_MONITOR). The monitor is sent the flow already in place, then
/// sees the add-flow, mod-flows and del-flows another ovs-ofctl makes, and a flow's expiry, as Open vSwitch prints them.
/// </summary>
public sealed class OvsOfctlMonitorTests
{
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow15", "OFPST_FLOW_MONITOR reply (OF1.5)", "event=INITIAL", "0x42")]
    [InlineData("OpenFlow14", "OFPST_FLOW_MONITOR reply (OF1.4)", "event=INITIAL", "0x42")]
    [InlineData("OpenFlow13", "ONFST_FLOW_MONITOR reply (OF1.3)", "event=ADDED", "0x42")]
    // OpenFlow 1.0's modify sets the flow's cookie to its own (0 from mod-flows), as Open vSwitch does.
    [InlineData("OpenFlow10", "NXST_FLOW_MONITOR reply", "event=ADDED", "0")]
    public async Task Watch_SeesAnotherToolsAddModifyAndDelete(string version, string reply, string initial, string modifiedCookie)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-flow", "table=0,priority=3,in_port=3,actions=drop");
        using var monitor = OvsOfctlMonitor.Start(rig, $"mon-{version}", ["-O", version], "watch:");
        // The flow in place when the monitor came (a drop has no instruction, so nothing follows its match; Open
        // vSwitch prints no priority in a flow update).
        var first = await monitor.LineAsync(l => l.Contains(initial) && l.Contains("in_port=3"), "no initial update");
        Assert.EndsWith("table=0 cookie=0 in_port=3", first);
        Assert.Contains(reply, monitor.Text);

        OvsOfctl.Ok(rig, version, "add-flow", "table=0,priority=7,cookie=0x42,in_port=1,actions=output:2");
        var added = await monitor.LineAsync(l => l.Contains("event=ADDED") && l.Contains("in_port=1"), "no ADDED");
        // With its actions: watch: asks for them.
        Assert.EndsWith("table=0 cookie=0x42 in_port=1 actions=output:2", added);

        OvsOfctl.Ok(rig, version, "mod-flows", "in_port=1,actions=output:3");
        var modified = await monitor.LineAsync(l => l.Contains("event=MODIFIED"), "no MODIFIED");
        Assert.EndsWith($"table=0 cookie={modifiedCookie} in_port=1 actions=output:3", modified);

        OvsOfctl.Ok(rig, version, "del-flows", "in_port=1");
        var deleted = await monitor.LineAsync(l => l.Contains("event=DELETED"), "no DELETED");
        Assert.Contains($"event=DELETED reason=delete table=0 cookie={modifiedCookie} in_port=1", deleted);
        // An expired flow is reported too (the datapath's expiry, not a flow-mod).
        OvsOfctl.Ok(rig, version, "add-flow", "table=0,priority=8,hard_timeout=5,in_port=2,actions=output:1");
        var timed = await monitor.LineAsync(l => l.Contains("event=ADDED") && l.Contains("in_port=2"), "no ADDED of the timed flow");
        Assert.EndsWith("table=0 hard_timeout=5 cookie=0 in_port=2 actions=output:1", timed);
        rig.Clock.Advance(TimeSpan.FromSeconds(6));
        rig.Dp.RunMaintenance();
        var expired = await monitor.LineAsync(l => l.Contains("event=DELETED") && l.Contains("in_port=2"), "no DELETED of the expired flow");
        Assert.Contains("event=DELETED reason=hard table=0 hard_timeout=5 cookie=0 in_port=2", expired);
        // The flow that stayed was never reported again.
        Assert.Single(monitor.Lines, l => l.Contains("in_port=3"));
    }
}
