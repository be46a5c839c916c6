using System.Collections.Concurrent;
using System.Diagnostics;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// OpenFlow 1.4's and 1.5's table configuration with the real ovs-ofctl, as Open vSwitch's own tests drive it (ofproto.at "table
/// description (OpenFlow 1.4)" and the OFPTR_VACANCY part of "asynchronous message control"): <c>mod-table ... evict</c>
/// and <c>vacancy:20,80</c> shown by <c>dump-table-desc</c>; a full table evicting its least important flow, which an
/// <c>ovs-ofctl monitor</c> sees as FLOW_REMOVED reason=eviction, after the TABLE_STATUS its SET_ASYNC asked for.
/// </summary>
public sealed class OfctlTableTests
{
    private static (int Code, string Out) Ofctl(string version, int port, string command, params string[] args)
    {
        var (code, stdout, stderr) = ExternalTool.Run("ovs-ofctl", ["-O", version, command, $"tcp:127.0.0.1:{port}", .. args]);
        return (code, stdout + stderr);
    }

    private static void Ok(string version, int port, string command, params string[] args)
    {
        var (code, text) = Ofctl(version, port, command, args);
        Assert.True(code == 0, $"{command} {string.Join(' ', args)}: {text}");
    }

    /// <summary>dump-table-desc's lines of table <paramref name="id"/>, trimmed.</summary>
    private static List<string> TableDesc(string version, int port, int id)
    {
        var (code, text) = Ofctl(version, port, "dump-table-desc");
        Assert.True(code == 0, text);
        var lines = text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        int at = lines.IndexOf($"table {id}:");
        Assert.True(at >= 0, text);
        return lines.GetRange(at + 1, 2);
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [RequiresTool("ovs-appctl")]
    [InlineData("OpenFlow14", "OF1.4")]
    [InlineData("OpenFlow15", "OF1.5")]
    public async Task ModTableAndDumpTableDesc_ThenAFullTableEvicts_SeenByMonitor(string version, string shown)
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        dp.AddPort(new MemoryPort("p1", new MacAddress(0x0200_0000_0001UL)));
        var sw = new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }, new OfFlowTables(dp, new FlowTableOptions { MaxFlows = 4 }));
        var agent = new OfSwitchAgent(sw, new AgentOptions { Listeners = { "ptcp:0" }, Versions = AgentOptions.AllVersions });
        string ctl = Path.Combine(Path.GetTempPath(), $"ts-monitor-{version}-{Environment.ProcessId}.ctl");
        Process? monitor = null;
        try
        {
            agent.Start();
            int port = agent.ListenEndpoints[0].Port;
            Assert.Equal(["eviction=off eviction_flags=OTHER|IMPORTANCE|LIFETIME", "vacancy=off"], TableDesc(version, port, 0));
            Ok(version, port, "mod-table", "0", "evict");
            Assert.Equal(["eviction=on eviction_flags=OTHER|IMPORTANCE|LIFETIME", "vacancy=off"], TableDesc(version, port, 0));
            Ok(version, port, "mod-table", "0", "vacancy:20,80");
            Assert.Equal(["eviction=on eviction_flags=OTHER|IMPORTANCE|LIFETIME", "vacancy=on vacancy_down=20% vacancy_up=80% vacancy=100%"],
                         TableDesc(version, port, 0));
            Assert.Equal(["eviction=off eviction_flags=OTHER|IMPORTANCE|LIFETIME", "vacancy=off"], TableDesc(version, port, 1));

            // A monitor (a service connection: its miss_send_len, 128, turns asynchronous messages on) that asks for
            // TABLE_STATUS (OFPACPT_TABLE_STATUS_MASTER, VACANCY_DOWN and VACANCY_UP) as Open vSwitch's test does,
            // through ovs-ofctl's own control socket.
            var seen = new ConcurrentQueue<string>();
            monitor = Process.Start(new ProcessStartInfo("ovs-ofctl", ["-O", version, "monitor", $"tcp:127.0.0.1:{port}", "128", $"--unixctl={ctl}"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            })!;
            monitor.OutputDataReceived += (_, e) => { if (e.Data is { } l) seen.Enqueue(l); };
            monitor.ErrorDataReceived += (_, e) => { if (e.Data is { } l) seen.Enqueue("stderr: " + l); };
            monitor.BeginOutputReadLine();
            monitor.BeginErrorReadLine();
            await Until(() => File.Exists(ctl) && ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/send", (version == "OpenFlow15" ? "061c" : "051c") + "001000000000" + "0009000800000018").code == 0, seen);
            Assert.Equal(0, ExternalTool.Run("ovs-appctl", "-t", ctl, "ofctl/barrier").code);

            // Four flows fill the table (the fourth leaves 0% free: VACANCY_DOWN); priority 3 is the least important.
            for (int p = 1; p <= 4; p++) Ok(version, port, "add-flow", $"priority={p},hard_timeout={100 + p},importance={(p == 3 ? 1 : 5)},send_flow_rem,actions=drop");
            // A fifth evicts it, as Open vSwitch would.
            Ok(version, port, "add-flow", "priority=5,hard_timeout=100,importance=5,actions=drop");
            var (code, flows) = Ofctl(version, port, "dump-flows");
            Assert.True(code == 0, flows);
            Assert.DoesNotContain("priority=3", flows);
            Assert.Contains("importance=5", flows);
            Assert.Equal(4, flows.Split('\n').Count(l => l.Contains("priority=", StringComparison.Ordinal)));

            await Until(() => seen.Any(l => l.Contains("OFPT_FLOW_REMOVED", StringComparison.Ordinal)), seen);
            string text = string.Join('\n', seen);
            Assert.Contains($"OFPT_TABLE_STATUS ({shown})", text);
            Assert.Contains("reason=VACANCY_DOWN", text);
            Assert.Contains("vacancy=on vacancy_down=20% vacancy_up=80% vacancy=0%", text);
            Assert.Contains(seen, l => l.Contains($"OFPT_FLOW_REMOVED ({shown})", StringComparison.Ordinal) && l.Contains("priority=3", StringComparison.Ordinal)
                                       && l.Contains("reason=eviction", StringComparison.Ordinal));
        }
        finally
        {
            if (monitor is { HasExited: false }) monitor.Kill();
            monitor?.Dispose();
            File.Delete(ctl);
            await agent.DisposeAsync();
        }
    }

    /// <summary>Polls <paramref name="done"/> for up to 10 s (the external tools start in a few hundred milliseconds).</summary>
    private static async Task Until(Func<bool> done, IEnumerable<string> output)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("waited 10 s; the monitor said:\n" + string.Join('\n', output));
            await Task.Delay(50);
        }
    }
}
