using Softswitch.OfWire;
using Softswitch.OfWire.Of14;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real <c>ovs-ofctl -O OpenFlow13 monitor</c> that asks for request forwarding the way Open vSwitch's own tests do
/// (<c>ovs-appctl ofctl/send</c> of an NXT_SET_ASYNC_CONFIG2 with the request-forward master mask): another ovs-ofctl's
/// add-group and add-meter reach it as ONFT13_REQUESTFORWARD, which it prints as Open vSwitch's. Under
/// <c>-O OpenFlow10</c> the add-group reaches it as NXT_REQUESTFORWARD around NXT_GROUP_MOD, and the add-meter not at all,
/// as Open vSwitch forwards them to a 1.0 connection.
/// </summary>
public sealed class OvsOfctlRequestForwardTests
{
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    [RequiresTool("ovs-appctl")]
    public async Task A13Monitor_AskingWithSetAsyncConfig2_PrintsTheForwardedGroupAndMeterMods()
    {
        await using var rig = OvsOfctl.Rig();
        using (var monitor = OvsOfctlMonitor.Start(rig, "asy-rf", ["-O", "OpenFlow13"]))
        {
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.Negotiated && c.Version == 4) && File.Exists(monitor.Ctl), 10_000),
                "monitor did not connect: " + monitor.Text);
            monitor.SendAndBarrier(ForwardRequests(4));

            OvsOfctl.Ok(rig, "OpenFlow13", "add-group", "group_id=5,type=all,bucket=output:1");
            OvsOfctl.Ok(rig, "OpenFlow13", "add-meter", "meter=1,kbps,band=type=drop,rate=1000");
            Assert.True(await Wait.UntilAsync(() => monitor.Lines.Count(l => l.StartsWith("ONFT_REQUESTFORWARD (OF1.3) (xid=0x0): reason=", StringComparison.Ordinal)) == 2, 10_000),
                "no forwarded requests: " + monitor.Text);
            string all = monitor.Text;
            Assert.Contains("ONFT_REQUESTFORWARD (OF1.3) (xid=0x0): reason=group_mod\n ADD group_id=5,type=all,bucket=actions=output:1", all);
            Assert.Contains("ONFT_REQUESTFORWARD (OF1.3) (xid=0x0): reason=meter_mod ADD meter=1 kbps bands=\ntype=drop rate=1000", all);
            Assert.DoesNotContain("OFPT_ERROR", all);
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    [RequiresTool("ovs-appctl")]
    public async Task A10Monitor_AskingWithSetAsyncConfig2_PrintsTheForwardedGroupMod_AsNxtGroupMod_AndNoMeterMod()
    {
        await using var rig = OvsOfctl.Rig();
        using (var monitor = OvsOfctlMonitor.Start(rig, "ctl-rf10", ["-O", "OpenFlow10"]))
        {
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.Negotiated && c.Version == 1) && File.Exists(monitor.Ctl), 10_000),
                "monitor did not connect: " + monitor.Text);
            monitor.SendAndBarrier(ForwardRequests(1));

            OvsOfctl.Ok(rig, "OpenFlow13", "add-meter", "meter=1,kbps,band=type=drop,rate=1000");
            OvsOfctl.Ok(rig, "OpenFlow13", "add-group", "group_id=5,type=select,bucket=weight:3,watch_port:2,actions=output:1,mod_dl_dst:00:00:00:00:00:07");
            OvsOfctl.Ok(rig, "OpenFlow15", "insert-buckets", "group_id=5,command_bucket_id=last,bucket=bucket_id:9,actions=output:3");
            Assert.True(await Wait.UntilAsync(() => monitor.Lines.Count(l => l.StartsWith("NXT_REQUESTFORWARD (xid=0x0): reason=", StringComparison.Ordinal)) == 2, 10_000),
                "no forwarded requests: " + monitor.Text);
            monitor.Barrier();
            string all = monitor.Text;
            Assert.Contains("NXT_REQUESTFORWARD (xid=0x0): reason=group_mod\n ADD group_id=5,type=select,bucket=bucket_id:0,weight:3,watch_port:2,actions=output:1,mod_dl_dst:00:00:00:00:00:07", all);
            Assert.Contains("NXT_REQUESTFORWARD (xid=0x0): reason=group_mod\n INSERT_BUCKET command_bucket_id:last,group_id=5,bucket=bucket_id:9,actions=output:3", all);
            Assert.DoesNotContain("reason=meter_mod", all);
            Assert.DoesNotContain("OFPT_ERROR", all);
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>An NXT_SET_ASYNC_CONFIG2 of <paramref name="version"/> asking for forwarded group-mods and meter-mods (the request-forward master mask).</summary>
    private static byte[] ForwardRequests(byte version)
    {
        var props = new Ofp14AsyncConfig();
        props.Set(Ofp14AsyncProp.RequestForwardMaster, 3);
        return NxAsyncConfig.EncodeSetAsyncConfig2(version, 0, props);
    }
}
