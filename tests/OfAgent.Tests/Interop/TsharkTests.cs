using System.Diagnostics;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>tshark's OpenFlow 1.0 dissector decodes a capture of our sessions without a malformed packet.</summary>
public sealed class TsharkTests
{
    [ToolFact]
    [RequiresTool("tshark")]
    [RequiresTool("ovs-ofctl")]
    [RequiresRoot("capturing on loopback")]
    public async Task CapturedSessionsDissectCleanly()
    {
        await using var rig = new AgentRig();
        var dir = Directory.CreateTempSubdirectory("ssw-tshark");
        var pcap = Path.Combine(dir.FullName, "of.pcapng");
        var cap = Process.Start(new ProcessStartInfo("tshark")
        {
            ArgumentList = { "-i", "lo", "-f", $"tcp port {rig.ListenPort}", "-w", pcap, "-q" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            // Wait until tshark is capturing (it says so on stderr).
            var started = new TaskCompletionSource();
            cap.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("Capturing on") == true) started.TrySetResult(); };
            cap.BeginErrorReadLine();
            // On a loaded machine tshark can take a while to start capturing: the messages must not go out before.
            await Task.WhenAny(started.Task, Task.Delay(60_000));
            Assert.True(started.Task.IsCompleted, "tshark did not start capturing within 60 s");
            string ep = $"tcp:127.0.0.1:{rig.ListenPort}";
            ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "show", ep);
            ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "add-flow", ep, "priority=10,ip,nw_dst=10.0.0.0/8,actions=mod_nw_tos:16,output:2");
            ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "add-flow", ep, "in_port=1,actions=output:99");
            ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "dump-flows", ep);
            ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "dump-ports", ep);
            ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "dump-tables", ep);
            await Task.Delay(1500);
        }
        finally
        {
            // Stopped as a user stops it (SIGINT): it writes out what it captured; killed only if it does not stop.
            ExternalTool.Run("kill", "-INT", cap.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // On a loaded machine writing the capture out can take a while; a kill would leave it empty or cut.
            if (!cap.WaitForExit(90_000)) cap.Kill();
        }
        try
        {
            var (_, all, _) = ExternalTool.Run("tshark", "-r", pcap, "-d", $"tcp.port=={rig.ListenPort},openflow", "-Y", "openflow_v1", "-T", "fields", "-e", "openflow_1_0.type");
            // One line per frame; a frame carrying several messages lists their types comma-separated.
            var types = all.Split(['\n', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.True(types.Length >= 10, $"only {types.Length} OpenFlow 1.0 messages dissected (tshark exited: {cap.HasExited}, capture {new FileInfo(pcap).Length} bytes)");
            Assert.Contains("1", types);  // OFPT_ERROR for the bad output port
            Assert.Contains("17", types); // OFPT_STATS_REPLY
            var (_, bad, _) = ExternalTool.Run("tshark", "-r", pcap, "-d", $"tcp.port=={rig.ListenPort},openflow", "-Y", "_ws.malformed || _ws.expert.severity == error");
            Assert.True(bad.Trim().Length == 0, "malformed in the dissection:\n" + bad);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
