using System.Text.Json;
using Microsoft.Extensions.Logging;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Logging;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Tests.Control;

/// <summary>dump-flows, fdb/show, memory/show, vlog/*, --format json against a real datapath; the --stats lines; link up/down logs.</summary>
public sealed class HostCommandsTests : IDisposable
{
    private readonly ManualClock _clock = new();
    private readonly SwitchDatapath _dp;
    private readonly MemoryPort[] _ports;
    private readonly ControlCommands _commands = new();
    private readonly OfSwitchAgent _agent;
    private readonly StringWriter _log = new();
    private readonly Vlog _vlog;
    private int _exits;

    public HostCommandsTests()
    {
        _dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, _clock);
        _ports = Enumerable.Range(1, 3).Select(i => new MemoryPort($"p{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i))).ToArray();
        foreach (var p in _ports) _dp.AddPort(p);
        _agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x42 }), new AgentOptions());
        _vlog = new Vlog(console: _log);
        HostCommands.Register(_commands, new HostCommands.Context(_dp, _agent, _vlog, () => _exits++));
    }

    public void Dispose() => _dp.Dispose();

    private ControlReply Run(string line) => _commands.Execute(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    private static readonly MacAddress s_a = MacAddress.Parse("00:00:00:00:00:0a"), s_b = MacAddress.Parse("00:00:00:00:00:0b");

    private void Send(int port, MacAddress src, MacAddress dst)
    {
        _ports[port - 1].Inject(FrameBuilder.Udp(src, dst, 0x0A000001, 0x0A000002, 1000, 2000));
        _dp.PollUntilIdle();
    }

    [Fact]
    public void DumpFlows_OvsOfctlSyntax_WithCountsAndDurations_TextAndJson()
    {
        var m = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 100, new FlowActions([FlowAction.Output(2)]), 0x1f, 60, 0)));
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1, new FlowActions([]))));
        _clock.Advance(TimeSpan.FromMilliseconds(2500));
        Send(1, s_a, s_b);
        Send(1, s_a, s_b);
        var text = Run("dump-flows");
        Assert.True(text.Ok, text.Text);
        var lines = text.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^ cookie=0x1f, duration=2\.500s, table=0, n_packets=2, n_bytes=\d+, idle_timeout=60, idle_age=0, priority=100,in_port=1 actions=output:2$", lines[0]);
        Assert.Matches(@"^ cookie=0x0, duration=2\.500s, table=0, n_packets=0, n_bytes=0, priority=1 actions=drop$", lines[1]);

        using var json = JsonDocument.Parse(Run("dump-flows --format json").Text);
        var first = json.RootElement[0];
        Assert.Equal(2, json.RootElement.GetArrayLength());
        Assert.Equal("0x1f", first.GetProperty("cookie").GetString());
        Assert.Equal(2, first.GetProperty("n_packets").GetInt64());
        Assert.Equal(2.5, first.GetProperty("duration").GetDouble());
        Assert.Equal("in_port=1", first.GetProperty("match").GetString());
        Assert.Equal("output:2", first.GetProperty("actions").GetString());
    }

    [Fact]
    public void FdbShow_ListsLearnedAddresses_FlushForgetsThem()
    {
        _dp.MissBehavior = MissBehavior.Normal;
        Send(1, s_a, s_b);
        _clock.Advance(TimeSpan.FromSeconds(3));
        Send(2, s_b, s_a);
        Assert.Equal(" port  VLAN  MAC                Age\n" +
                     "    1     0  00:00:00:00:00:0a    3\n" +
                     "    2     0  00:00:00:00:00:0b    0\n", Run("fdb/show").Text);
        using (var json = JsonDocument.Parse(Run("fdb/show --format=json").Text))
        {
            Assert.Equal(2, json.RootElement.GetArrayLength());
            Assert.Equal("00:00:00:00:00:0b", json.RootElement[1].GetProperty("mac").GetString());
            Assert.Equal(2, json.RootElement[1].GetProperty("port").GetInt32());
        }
        Assert.True(Run("fdb/flush").Ok);
        Assert.Equal(" port  VLAN  MAC                Age\n", Run("fdb/show").Text);
    }

    [Fact]
    public void MemoryShow_VlogCommands_Version_Exit()
    {
        Assert.Matches(@"^flows:0 exact-flows:0 wildcard-flows:0 ports:3 mac-entries:0 managed-heap-bytes:\d+ gc-committed-bytes:\d+ rss-bytes:\d+ gc-allocated-bytes:\d+ gc-collections:\d+ gc-gen2-collections:\d+ gc-pause-total-us:\d+ gc-last-pause-us:\d+ gc-pauses:\d+ gc-pause-max-us:\d+ gc-pause-p50-us:\d+ gc-pause-p99-us:\d+ gc-pause-sum-us:\d+ gc-suspend-max-us:\d+ gc-suspend-sum-us:\d+ runtime-suspensions:\d+ other-suspension-max-us:\d+ (gc-pauses-le-\d+us:\d+ ){9}gc-pauses-over:\d+ forwarding-stall-max-us:\d+ forwarding-stalls-over-1ms:\d+ forwarding-stalls-over-10ms:\d+ (gc-phase-[a-z-]+-(sum|of-max)-us:\d+ ){16}(gc-marked-[a-z]+-bytes:\d+ ){5}(gc-pauses-gen\d:\d+ ){3}gc-pause-source:(events|sampled)\n$", Run("memory/show").Text);
        Assert.True(Run("vlog/set ofagent:dbg afpacket:warn").Ok);
        using (var json = JsonDocument.Parse(Run("vlog/list --format json").Text))
        {
            Assert.Equal("dbg", json.RootElement.GetProperty("ofagent").GetString());
            Assert.Equal("warn", json.RootElement.GetProperty("afpacket").GetString());
        }
        var bad = Run("vlog/set ofagent:chatty");
        Assert.False(bad.Ok);
        Assert.Contains("bad log level 'ofagent:chatty'", bad.Text);
        Assert.False(Run("vlog/reopen").Ok);   // stderr: nothing to reopen
        Assert.StartsWith("softswitch ", Run("version").Text);
        Assert.Contains("  dump-flows", Run("list-commands").Text);
        Assert.True(Run("exit").Ok);
        Assert.Equal(1, _exits);
        Assert.Contains("takes only --format text|json", Run("memory/show --format yaml").Text);
    }

    [Fact]
    public void PortDel_UnknownPort_SaysSo()
    {
        var r = Run("port/del p9");
        Assert.False(r.Ok);
        Assert.Equal("no port 'p9' (dp/show lists the ports)", r.Text);
        Assert.Equal("this switch cannot open ports at run time", Run("port/add afpacket:eth9").Text);
    }

    [Fact]
    public void StatsLines_ArePlainRatesPerPortAndBusiestFlows()
    {
        var m = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(1).Key);
        _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, m, 100, new FlowActions([FlowAction.Output(2)])));
        var rates = new StatsView.Rates();
        StatsView.Compute(_dp, ref rates);
        for (int i = 0; i < 5; i++) Send(1, s_a, s_b);
        var rows = StatsView.Compute(_dp, ref rates);
        var lines = StatsView.Lines(_dp, _agent, rows).ToList();
        Assert.All(lines, l => Assert.DoesNotContain('\u001b', l));
        Assert.All(lines, l => Assert.True(l.Length <= 100, l));
        Assert.Matches(@"^\d\d:\d\d:\d\d flows=1 macs=0 controller=none$", lines[0]);
        Assert.Matches(@"^  port 1 p1: rx 5 pps 0\.\d Mbit/s, tx 0 pps 0\.0 Mbit/s, drops 0/s, link up$", lines[1]);
        Assert.StartsWith("  port 2 p2: rx 0 pps 0.0 Mbit/s, tx 5 pps", lines[2]);
        Assert.Equal("  flow 5 pps priority=100,in_port=1", lines[^1]);
    }

    [Fact]
    public void LinkWatcher_LogsDownAsWarningAndUpAsInfo()
    {
        using var f = LoggerFactory.Create(b => b.AddProvider(_vlog).SetMinimumLevel(LogLevel.Trace));
        using var w = new LinkWatcher(_dp, f.CreateLogger("link"), TimeSpan.FromHours(1));
        _ports[1].SetLink(false);
        w.Check();
        _ports[1].SetLink(true);
        w.Check();
        w.Check();
        var lines = _log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join('|', l.Split('|')[2..])).ToArray();
        Assert.Equal(["link|WARN|port 2 (p2): link down", "link|INFO|port 2 (p2): link up"], lines);
    }

    [Fact]
    public void LinkWatcher_AChangelessCheckAllocatesNothing_ARemovedPortIsLogged()
    {
        using var f = LoggerFactory.Create(b => b.AddProvider(_vlog).SetMinimumLevel(LogLevel.Trace));
        using var w = new LinkWatcher(_dp, f.CreateLogger("link"), TimeSpan.FromHours(1));
        w.Check();
        Assert.Equal(0, AllocationMeter.SteadyState(() => { for (int i = 0; i < 100; i++) w.Check(); }));
        _dp.RemovePort(3);
        w.Check();
        w.Check();
        var lines = _log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join('|', l.Split('|')[2..])).ToArray();
        Assert.Equal(["link|INFO|port 3 (p3): removed"], lines);
    }

    [Fact]
    public void LinkWatcher_QuickDelThenAdd_LogsRemovedBeforeAdded()
    {
        using var f = LoggerFactory.Create(b => b.AddProvider(_vlog).SetMinimumLevel(LogLevel.Trace));
        using var w = new LinkWatcher(_dp, f.CreateLogger("link"), TimeSpan.FromHours(1));
        // Both happen between two checks (a check runs once a second), as `ctl port/del p3` then `port/add`.
        Assert.True(_dp.RemovePort(3));
        _dp.AddPort(new MemoryPort("p3b", new MacAddress(0x0200_0000_0033UL)), 3);
        w.Check();
        w.Check();
        var lines = _log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join('|', l.Split('|')[2..])).ToArray();
        Assert.Equal(["link|INFO|port 3 (p3): removed", "link|INFO|port 3 (p3b): added, link up"], lines);
    }

    [Fact]
    public void MemoryCollect_ShowsThePausePhaseByPhase()
    {
        Softswitch.Metrics.GcPauseMonitor.Start();
        var text = Run("memory/collect 0");
        Assert.True(text.Ok, text.Text);
        Assert.Matches(@"^generation:[012] pause-us:\d+ suspend-us:\d+ mark-stack-us:\d+ mark-finalize-us:\d+ mark-handles-us:\d+ mark-older-us:\d+ mark-other-us:\d+ plan-us:\d+ restart-us:\d+ marked-stack-bytes:\d+ marked-finalize-bytes:\d+ marked-handles-bytes:\d+ marked-older-bytes:\d+ marked-other-bytes:\d+\n$", text.Text);
        var json = Run("memory/collect 1 --format json");
        Assert.True(json.Ok, json.Text);
        using var doc = JsonDocument.Parse(json.Text);
        var root = doc.RootElement;
        long phases = 0;
        foreach (var name in Softswitch.Metrics.GcPauseMonitor.PhaseNames) phases += root.GetProperty($"{name}-us").GetInt64();
        // Each phase is rounded down: the phases add up to the pause, less up to a microsecond each.
        Assert.InRange(phases, root.GetProperty("pause-us").GetInt64() - Softswitch.Metrics.GcPauseMonitor.PhaseNames.Length, root.GetProperty("pause-us").GetInt64());
        Assert.False(Run("memory/collect 7").Ok);
    }
}
