using System.Collections.Concurrent;
using System.Diagnostics;
using Softswitch.OfAgent.Tests.Session;
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
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        var psi = new ProcessStartInfo("stdbuf") { RedirectStandardOutput = true, RedirectStandardError = true };
        string ctl = Path.Combine(Path.GetTempPath(), $"asy-rf-{Environment.ProcessId}.ctl");
        foreach (var a in new[] { "-oL", "ovs-ofctl", "-O", "OpenFlow13", "monitor", $"tcp:127.0.0.1:{rig.ListenPort}", $"--unixctl={ctl}" })
            psi.ArgumentList.Add(a);
        using var monitor = Process.Start(psi)!;
        var lines = new ConcurrentQueue<string>();
        try
        {
            monitor.OutputDataReceived += (_, e) => { if (e.Data is { } l) lines.Enqueue(l); };
            monitor.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lines.Enqueue(l); };
            monitor.BeginOutputReadLine();
            monitor.BeginErrorReadLine();
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.Negotiated && c.Version == 4) && File.Exists(ctl), 10_000),
                "monitor did not connect: " + string.Join('\n', lines));
            var props = new Ofp14AsyncConfig();
            props.Set(Ofp14AsyncProp.RequestForwardMaster, 3);
            var (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/send", Convert.ToHexString(NxAsyncConfig.EncodeSetAsyncConfig2(4, 0, props)));
            Assert.True(code == 0, $"ofctl/send failed: {se}{so}");
            (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/barrier");
            Assert.True(code == 0, $"ofctl/barrier failed: {se}{so}");

            OvsOfctl.Ok(rig, "OpenFlow13", "add-group", "group_id=5,type=all,bucket=output:1");
            OvsOfctl.Ok(rig, "OpenFlow13", "add-meter", "meter=1,kbps,band=type=drop,rate=1000");
            Assert.True(await Wait.UntilAsync(() => lines.Count(l => l.StartsWith("ONFT_REQUESTFORWARD (OF1.3) (xid=0x0): reason=", StringComparison.Ordinal)) == 2, 10_000),
                "no forwarded requests: " + string.Join('\n', lines));
            string all = string.Join('\n', lines);
            Assert.Contains("ONFT_REQUESTFORWARD (OF1.3) (xid=0x0): reason=group_mod\n ADD group_id=5,type=all,bucket=actions=output:1", all);
            Assert.Contains("ONFT_REQUESTFORWARD (OF1.3) (xid=0x0): reason=meter_mod ADD meter=1 kbps bands=\ntype=drop rate=1000", all);
            Assert.DoesNotContain("OFPT_ERROR", all);
        }
        finally
        {
            monitor.Kill(true);
            monitor.WaitForExit(5000);
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    [RequiresTool("ovs-appctl")]
    public async Task A10Monitor_AskingWithSetAsyncConfig2_PrintsTheForwardedGroupMod_AsNxtGroupMod_AndNoMeterMod()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        var psi = new ProcessStartInfo("stdbuf") { RedirectStandardOutput = true, RedirectStandardError = true };
        string ctl = Path.Combine(Path.GetTempPath(), $"ctl-rf10-{Environment.ProcessId}.ctl");
        foreach (var a in new[] { "-oL", "ovs-ofctl", "-O", "OpenFlow10", "monitor", $"tcp:127.0.0.1:{rig.ListenPort}", $"--unixctl={ctl}" })
            psi.ArgumentList.Add(a);
        using var monitor = Process.Start(psi)!;
        var lines = new ConcurrentQueue<string>();
        try
        {
            monitor.OutputDataReceived += (_, e) => { if (e.Data is { } l) lines.Enqueue(l); };
            monitor.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lines.Enqueue(l); };
            monitor.BeginOutputReadLine();
            monitor.BeginErrorReadLine();
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.Negotiated && c.Version == 1) && File.Exists(ctl), 10_000),
                "monitor did not connect: " + string.Join('\n', lines));
            var props = new Ofp14AsyncConfig();
            props.Set(Ofp14AsyncProp.RequestForwardMaster, 3);
            var (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/send", Convert.ToHexString(NxAsyncConfig.EncodeSetAsyncConfig2(1, 0, props)));
            Assert.True(code == 0, $"ofctl/send failed: {se}{so}");
            (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/barrier");
            Assert.True(code == 0, $"ofctl/barrier failed: {se}{so}");

            OvsOfctl.Ok(rig, "OpenFlow13", "add-meter", "meter=1,kbps,band=type=drop,rate=1000");
            OvsOfctl.Ok(rig, "OpenFlow13", "add-group", "group_id=5,type=select,bucket=weight:3,watch_port:2,actions=output:1,mod_dl_dst:00:00:00:00:00:07");
            OvsOfctl.Ok(rig, "OpenFlow15", "insert-buckets", "group_id=5,command_bucket_id=last,bucket=bucket_id:9,actions=output:3");
            Assert.True(await Wait.UntilAsync(() => lines.Count(l => l.StartsWith("NXT_REQUESTFORWARD (xid=0x0): reason=", StringComparison.Ordinal)) == 2, 10_000),
                "no forwarded requests: " + string.Join('\n', lines));
            (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/barrier");
            Assert.True(code == 0, $"ofctl/barrier failed: {se}{so}");
            string all = string.Join('\n', lines);
            Assert.Contains("NXT_REQUESTFORWARD (xid=0x0): reason=group_mod\n ADD group_id=5,type=select,bucket=bucket_id:0,weight:3,watch_port:2,actions=output:1,mod_dl_dst:00:00:00:00:00:07", all);
            Assert.Contains("NXT_REQUESTFORWARD (xid=0x0): reason=group_mod\n INSERT_BUCKET command_bucket_id:last,group_id=5,bucket=bucket_id:9,actions=output:3", all);
            Assert.DoesNotContain("reason=meter_mod", all);
            Assert.DoesNotContain("OFPT_ERROR", all);
        }
        finally
        {
            monitor.Kill(true);
            monitor.WaitForExit(5000);
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
