using System.Diagnostics;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>Real controllers driving the switch over an active connection: ovs-testcontroller and os-ken.</summary>
public sealed class ControllerInteropTests
{
    /// <summary>
    /// How long os-ken (a Python program) may take to start and complete the handshake: a deadline for a loaded
    /// machine, where it took over 20 s at a load average of 30, not a measure.
    /// </summary>
    internal const int OsKenStartMs = 120_000;

    internal static SimulatedHost[] Hosts(AgentRig rig)
    {
        var hosts = new SimulatedHost[rig.Ports.Length];
        for (int i = 0; i < hosts.Length; i++)
        {
            rig.Ports[i].CaptureSent = false;
            hosts[i] = new SimulatedHost($"h{i + 1}", rig.Ports[i], new MacAddress(0x0000_0000_0A01UL + (ulong)i), 0x0A000001u + (uint)i);
        }
        return hosts;
    }

    internal static async Task AllPairsPing(SimulatedHost[] hosts)
    {
        // A controller may drop packet-ins that arrive while it is still finishing its own handshake, and the
        // simulated hosts do not retransmit ARP by themselves: ping again every 2 s, like a real host would.
        ushort seq = 0;
        int expected = hosts.Length * (hosts.Length - 1);
        bool ok = false;
        for (int round = 0; round < 8 && !ok; round++)
        {
            foreach (var a in hosts)
            {
                foreach (var b in hosts)
                    if (a != b) a.Ping(b.Ip, 7, ++seq);
            }

            ok = await Wait.UntilAsync(() => hosts.All(h => h.EchoRepliesReceived >= hosts.Length - 1), 2000);
        }
        Assert.True(ok, $"echo replies: {string.Join(", ", hosts.Select(h => $"{h.Name}={h.EchoRepliesReceived}"))}, wanted {hosts.Length - 1} each ({expected} in all)");
    }

    [ToolFact]
    [RequiresTool("ovs-testcontroller")]
    public async Task OvsTestcontrollerLearnsAndAllPairsPing()
    {
        int port = FreePorts.Tcp();
        var dir = Directory.CreateTempSubdirectory("ssw-tc");
        var psi = new ProcessStartInfo("ovs-testcontroller")
        {
            ArgumentList = { "-O", "OpenFlow10", $"ptcp:{port}:127.0.0.1", "--no-chdir", $"--pidfile={dir}/tc.pid", $"--log-file={dir}/tc.log", $"--unixctl={dir}/tc.ctl" },
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
            var hosts = Hosts(rig);
            await AllPairsPing(hosts);
            // The controller's learning-switch flows are in our table: exact 12-tuple matches at priority 65535.
            var flows = new List<FlowEntry>();
            rig.Agent.Switch.Flows.Collect(FlowMatch.All, PortNumber.None, false, flows);
            Assert.Contains(flows, f => f.Match.IsExact && f.Priority == 0xFFFF && f.IdleTimeout > 0);
            Assert.True(flows.Sum(f => f.Packets) > 0, "traffic went through the controller's flows");
        }
        finally
        {
            tc.Kill(true);
            tc.WaitForExit(5000);
            dir.Delete(true);
        }
    }

    [ToolFact]
    [RequiresTool("osken-manager")]
    public async Task OsKenAppReceivesFeaturesAndPacketInsAndInstallsFlows()
    {
        int port = FreePorts.Tcp();
        var dir = Directory.CreateTempSubdirectory("ssw-osken");
        var app = Path.Combine(AppContext.BaseDirectory, "Interop", "osken_l2_of10.py");
        var log = Path.Combine(dir.FullName, "app.log");
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { "/usr/bin/osken-manager", "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", port.ToString(), app },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            Environment = { ["SSW_OSKEN_LOG"] = log },
        };
        using var osken = Process.Start(psi)!;
        try
        {
            // A back-off of a second at most: the switch connects soon after os-ken listens, however late that is.
            await using var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" }, MaxBackoff = TimeSpan.FromSeconds(1) });
            rig.Dp.Start();
            Assert.True(await Wait.UntilAsync(() => rig.Agent.ControllerConnected, OsKenStartMs), "os-ken did not complete the handshake");
            var hosts = Hosts(rig);
            await AllPairsPing(hosts);
            Assert.True(await Wait.UntilAsync(() => File.Exists(log) && File.ReadAllText(log).Contains("features dpid=0000000000001234"), 30_000),
                "the app saw no FEATURES_REPLY: " + (File.Exists(log) ? File.ReadAllText(log) : "(no log)"));
            var text = File.ReadAllText(log);
            Assert.Contains("packet_in", text);
            Assert.True(rig.Agent.Switch.Flows.ActiveWildcard + rig.Agent.Switch.Flows.ActiveExact > 0, "the app installed flows");
        }
        finally
        {
            osken.Kill(true);
            osken.WaitForExit(5000);
            dir.Delete(true);
        }
    }
}
