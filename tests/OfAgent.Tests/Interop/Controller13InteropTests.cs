using System.Diagnostics;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;
using static Softswitch.OfAgent.Tests.Interop.ControllerInteropTests;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>Real OpenFlow 1.3 controllers driving the switch: ovs-testcontroller -O OpenFlow13 and os-ken apps written for 1.3.</summary>
public sealed class Controller13InteropTests
{
    [ToolFact]
    [RequiresTool("ovs-testcontroller")]
    public async Task OvsTestcontroller13_LearnsAndAllPairsPing()
    {
        int port = FreePorts.Tcp();
        var dir = Directory.CreateTempSubdirectory("ssw-tc13");
        var psi = new ProcessStartInfo("ovs-testcontroller")
        {
            ArgumentList = { "-O", "OpenFlow13", $"ptcp:{port}:127.0.0.1", "--no-chdir", $"--pidfile={dir}/tc.pid", $"--log-file={dir}/tc.log", $"--unixctl={dir}/tc.ctl" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var tc = Process.Start(psi)!;
        try
        {
            await Task.Delay(300);
            await using var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" } });
            rig.Dp.Start();
            Assert.True(await Wait.UntilAsync(() => rig.Agent.ControllerConnected, 10_000), "ovs-testcontroller did not complete the handshake");
            Assert.Equal(4, rig.Agent.Connections.Single(c => c.IsPrimary).Version);
            await AllPairsPing(Hosts(rig));
            var flows = new List<FlowEntry>();
            rig.Agent.Switch.Flows.Collect(FlowMatch.All, PortNumber.None, false, flows);
            Assert.True(flows.Sum(f => f.Packets) > 0, "traffic went through the controller's flows");
            Assert.True(rig.Log.Contains("negotiated OpenFlow 1.3"), rig.Log.Dump());
        }
        finally
        {
            tc.Kill(true);
            tc.WaitForExit(5000);
            dir.Delete(true);
        }
    }

    private static async Task<string> RunOsKen(string mode, Func<AgentRig, Task> drive)
    {
        int port = FreePorts.Tcp();
        var dir = Directory.CreateTempSubdirectory("ssw-osken13");
        var app = Path.Combine(AppContext.BaseDirectory, "Interop", "osken_l2_of13.py");
        var log = Path.Combine(dir.FullName, "app.log");
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { "/usr/bin/osken-manager", "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", port.ToString(), app },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            Environment = { ["SSW_OSKEN_LOG"] = log, ["SSW_OSKEN_APP"] = mode },
        };
        using var osken = Process.Start(psi)!;
        try
        {
            // A back-off of a second at most: the switch connects soon after os-ken listens, however late that is.
            await using var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" }, MaxBackoff = TimeSpan.FromSeconds(1) });
            rig.Dp.Start();
            Assert.True(await Wait.UntilAsync(() => rig.Agent.ControllerConnected, ControllerInteropTests.OsKenStartMs), "os-ken did not complete the handshake");
            Assert.True(await Wait.UntilAsync(() => File.Exists(log) && File.ReadAllText(log).Contains("port_desc"), 30_000),
                "the app saw no FEATURES_REPLY and PORT_DESC: " + (File.Exists(log) ? File.ReadAllText(log) : "(no log)"));
            await drive(rig);
            return File.ReadAllText(log);
        }
        finally
        {
            osken.Kill(true);
            osken.WaitForExit(5000);
            dir.Delete(true);
        }
    }

    [ToolFact]
    [RequiresTool("osken-manager")]
    public async Task OsKen13_LearningSwitchWithATableMissEntry()
    {
        var text = await RunOsKen("l2", async rig =>
        {
            await AllPairsPing(Hosts(rig));
            bool Learned()
            {
                var flows = new List<FlowEntry>();
                rig.Agent.Switch.Flows.Collect(FlowMatch.All, PortNumber.None, false, flows);
                return flows.Exists(f => f.RequestedPriority == 1);
            }
            // The app's flow-mods may still be on their way when the last ping has been answered.
            Assert.True(await Wait.UntilAsync(Learned, 30_000), "the app installed learned flows (priority 1)");
        });
        Assert.Contains("features dpid=0000000000001234 n_tables=254 auxiliary_id=0", text);
        Assert.Contains("port_desc ports=1,2,3,4", text);
        // The table-miss entry's packet-ins: reason OFPR_NO_MATCH (0), table 0, its cookie, unbuffered (OFPCML_NO_BUFFER).
        Assert.Contains("reason=0 table=0 cookie=5eed buffer=ffffffff", text);
    }

    [ToolFact]
    [RequiresTool("osken-manager")]
    public async Task OsKen13_TwoTableLearningSwitch()
    {
        var text = await RunOsKen("twotable", async rig =>
        {
            await AllPairsPing(Hosts(rig));
            Assert.True(rig.Agent.Switch.Flows.HasTable(1), "the app's table 1 exists");
            // The pings succeed by flooding while the app's flow-mods are still on their way: wait for them.
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Switch.TableStats(1).ActiveCount >= 4, 30_000),
                $"table 1 holds the learned destinations (it holds {rig.Agent.Switch.TableStats(1).ActiveCount})");
        });
        Assert.Contains("reason=0 table=0 cookie=5eed", text);
    }
}
