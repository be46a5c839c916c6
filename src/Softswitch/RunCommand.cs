using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Softswitch.Control;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Pipeline;
using Softswitch.OfAgent;
using Softswitch.OfAgent.Session;
using Softswitch.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.Ports.NetFpga;
using Softswitch.Ports.Pcap;
using Softswitch.Ports.Memory;
using Spectre.Console;

namespace Softswitch;

/// <summary>Settings of `softswitch run`; the same names are accepted in the JSON file given with --config.</summary>
public sealed class RunSettings
{
    public string Ports { get; set; } = "mem:4";
    public List<string> Controllers { get; set; } = new();
    public List<string> Listen { get; set; } = new();
    /// <summary>Tunnel ports, e.g. <c>vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100,port=5</c>.</summary>
    public List<string> Tunnels { get; set; } = new();
    /// <summary>none, netfpga (a real NetFPGA-1G board) or netfpga-emulated.</summary>
    public string Offload { get; set; } = "none";
    public string? Dpid { get; set; }
    public string FailMode { get; set; } = "secure";
    public int Threads { get; set; } = 1;
    public int EmcEntries { get; set; } = 8192;
    public double PacketInRate { get; set; } = 20_000;
    public string? PcapDir { get; set; }
    public bool Stats { get; set; }
    public string LogLevel { get; set; } = "Information";
    /// <summary>The control socket's path (default: DIR/DPID.ctl, DIR = /run/softswitch as root), or "none".</summary>
    public string? Unixctl { get; set; }
}

/// <summary>
/// `softswitch run`: opens the ports, starts the datapath and the OpenFlow agent, logs, and stops cleanly on
/// Ctrl-C or SIGTERM. A user mistake (a bad spec, a missing interface, a port in use) is one clear line and
/// exit code 2, never a stack trace.
/// </summary>
internal static class RunCommand
{
    public static int Run(RunSettings s)
    {
        if (!Enum.TryParse<LogLevel>(s.LogLevel, true, out var level)) return UserError($"unknown log level '{s.LogLevel}'");
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }).SetMinimumLevel(level));
        var log = loggers.CreateLogger("softswitch");

        FailMode failMode;
        switch (s.FailMode.ToLowerInvariant())
        {
            case "secure": failMode = FailMode.Secure; break;
            case "standalone": failMode = FailMode.Standalone; break;
            default: return UserError($"--fail-mode must be secure or standalone, not '{s.FailMode}'");
        }
        foreach (var c in s.Controllers)
            if (!OfEndpoint.TryParse(c, out var ep, out var why) || ep!.Passive) return UserError(ep is { Passive: true } ? $"--controller wants tcp:HOST:PORT, not '{c}'" : why);
        foreach (var l in s.Listen)
            if (!OfEndpoint.TryParse(l, out var ep, out var why) || !ep!.Passive) return UserError(ep is { Passive: false } ? $"--listen wants ptcp:PORT[:IP], not '{l}'" : why);
        if (!PortSpec.TryParse(s.Ports, out var specs, out var specError)) return UserError(specError);
        if (s.Threads is < 1 or > 64) return UserError("--threads must be 1..64");

        // A forwarding thread polls its ports in turn, so a port must not wait for traffic when the thread has
        // others to poll (the thread backs off by itself when every port is idle).
        int portsPerThread = (PortSpec.PortCount(specs) + s.Threads - 1) / s.Threads;
        int idleWait = portsPerThread > 1 ? 0 : 1;
        IReadOnlyList<OpenedPort> opened;
        try
        {
            opened = PortSpec.Open(specs, new PortFactoryOptions
            {
                Memory = (no, name) => new MemoryPort(name, new MacAddress(0x02_00_00_00_00_00UL | no)),
                PcapDir = s.PcapDir,
                LoggerFactory = loggers,
                AfPacket = new AfPacketOptions { IdleWaitMs = idleWait, BlockCount = 64, Logger = loggers.CreateLogger("afpacket") },
                AfXdp = new AfXdpOptions { IdleWaitMs = idleWait, Logger = loggers.CreateLogger("afxdp") },
                Pcap = new PcapOptions { IdleWaitMs = idleWait },
            });
        }
        catch (PortOpenException e)
        {
            return UserError(e.Message);
        }

        using var dp = new Dataplane(new DataplaneOptions { Threads = s.Threads, EmcEntries = s.EmcEntries, PacketInRate = s.PacketInRate });
        NetFpgaOffload? offload = null;
        if (s.Offload is "netfpga" or "netfpga-emulated")
        {
            NetFpgaOffload.TryParseMode(s.Offload, out var mode);
            try
            {
                // The board's ports become OpenFlow ports 1..n; flows that fit go to its tables, the rest stay in software.
                offload = NetFpgaOffload.Attach(dp, opened.Select(p => p.Port).ToList(), mode);
            }
            catch (Exception e) when (e is NetFpgaUnavailableException or ArgumentException or InvalidOperationException)
            {
                return UserError($"--offload {s.Offload}: {e.Message}");
            }
            log.LogInformation("NetFPGA offload ({Mode}) over {Ports} port(s)", s.Offload, opened.Count);
        }
        else if (s.Offload != "none")
        {
            return UserError($"--offload must be none, netfpga or netfpga-emulated, not '{s.Offload}'");
        }
        else
        {
            foreach (var p in opened) dp.AddPort(p.Port, p.PortNo);
        }
        foreach (var t in s.Tunnels)
        {
            try
            {
                var tp = dp.Tunnels.Add(t);
                log.LogInformation("tunnel port {Spec}", tp);
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
            {
                return UserError($"--tunnel '{t}': {e.Message}");
            }
        }

        ulong dpid;
        if (s.Dpid is { } hex)
        {
            if (!ulong.TryParse(hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out dpid))
                return UserError($"--dpid wants up to 16 hex digits, not '{hex}'");
        }
        else
        {
            dpid = opened.Count > 0 ? opened[0].Port.Info.HwAddr.Value : 1;
        }

        var agent = new OfSwitchAgent(dp, new AgentOptions
        {
            DatapathId = dpid,
            FailMode = failMode,
            Controllers = s.Controllers,
            Listeners = s.Listen,
        }, loggers);
        ControlServer? control = null;
        if (!string.Equals(s.Unixctl, "none", StringComparison.OrdinalIgnoreCase))
        {
            var commands = BuildCommands(dp, agent, offload, dpid);
            string path = s.Unixctl ?? Path.Combine(ControlServer.DefaultDirectory, $"{dpid:x16}.ctl");
            try
            {
                try
                {
                    control = ControlServer.Start(path, commands, loggers.CreateLogger("unixctl"));
                }
                catch (IOException) when (s.Unixctl is null && ControlServer.IsLive(path))
                {
                    // Another daemon with the same datapath id has the default name: this one adds its pid.
                    control = ControlServer.Start(Path.Combine(ControlServer.DefaultDirectory, $"{dpid:x16}.{Environment.ProcessId}.ctl"), commands, loggers.CreateLogger("unixctl"));
                }
                log.LogInformation("control socket {Path} (softswitch ctl --target {Path} help)", control.Path, control.Path);
            }
            catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
            {
                if (s.Unixctl is not null) return UserError($"--unixctl {s.Unixctl}: {e.Message}");
                log.LogWarning("no control socket ({Path}: {Error}); softswitch ctl cannot reach this daemon", path, e.Message);
            }
        }
        using var controlLifetime = control;
        using var offloadReporter = offload is null ? null : StartOffloadReporting(offload, loggers);

        try
        {
            agent.Start();
        }
        catch (SocketException e)
        {
            return UserError($"cannot listen: {e.Message}");
        }
        dp.Start();
        log.LogInformation("softswitch running: dpid {Dpid:x16}, {Ports} port(s) [{Names}], fail mode {FailMode}, {Threads} forwarding thread(s)",
            dpid, opened.Count, string.Join(", ", opened.Select(p => $"{p.PortNo}:{p.Spec.Kind.ToString().ToLowerInvariant()}:{p.Port.Info.Name}")), failMode, s.Threads);

        using var done = new ManualResetEventSlim(false);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.Set(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.Set(); });
        if (s.Stats) StatsView(dp, agent, offload, done);
        else done.Wait();

        log.LogInformation("shutting down");
        agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
        dp.Stop();
        offload?.Dispose();
        return 0;
    }

    private static void StatsView(Dataplane dp, OfSwitchAgent agent, NetFpgaOffload? offload, ManualResetEventSlim done)
    {
        AnsiConsole.Live(new Table()).Start(ctx =>
        {
            while (!done.Wait(1000))
            {
                string hw = "";
                if (offload is not null)
                {
                    var st = offload.Manager.Stats;
                    hw = $"  offload: {st.HardwareFlows} in hardware, {st.SoftwareFlows} in software, {st.RegisterWritesPerFlowMod:0.0} writes/flow-mod";
                }
                var t = new Table().Title(Markup.Escape($"softswitch  flows: {dp.Flows.ActiveExact} exact, {dp.Flows.ActiveWildcard} wildcard{hw}  " +
                                          $"controller: {(agent.ControllerConnected ? "connected" : "not connected")}  packet-ins: {agent.PacketInsSent} sent, {agent.PacketInsDropped} dropped"));
                t.AddColumns("port", "name", "rx packets", "rx bytes", "tx packets", "tx bytes", "rx dropped", "tx dropped", "link");
                foreach (var p in dp.Ports.List)
                {
                    var c = p.Port.Counters.Snapshot();
                    t.AddRow(p.No.ToString(), p.Port.Info.Name, c.RxPackets.ToString("N0"), c.RxBytes.ToString("N0"), c.TxPackets.ToString("N0"),
                             c.TxBytes.ToString("N0"), c.RxDropped.ToString("N0"), c.TxDropped.ToString("N0"), p.Port.LinkUp ? "up" : "down");
                }
                var drops = string.Join("  ", Enum.GetValues<DropReason>().Where(r => r != DropReason.Count && dp.DropCount(r) > 0).Select(r => $"{r}={dp.DropCount(r):N0}"));
                t.Caption(drops.Length == 0 ? "no drops" : "drops: " + drops);
                ctx.UpdateTarget(t);
            }
        });
    }

    /// <summary>The control socket's commands (see <see cref="ControlCommands"/>).</summary>
    private static ControlCommands BuildCommands(Dataplane dp, OfSwitchAgent agent, NetFpgaOffload? offload, ulong dpid)
    {
        var c = new ControlCommands();
        c.Add("dp/show", "", "datapath id, flows, controller, ports with counters, drops", args =>
        {
            ControlCommands.NoArguments(args);
            var sb = new System.Text.StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"dpid: {dpid:x16}\n");
            sb.Append(CultureInfo.InvariantCulture, $"flows: {dp.Flows.ActiveExact} exact, {dp.Flows.ActiveWildcard} wildcard\n");
            sb.Append(CultureInfo.InvariantCulture, $"controller: {(agent.ControllerConnected ? "connected" : "not connected")}, {agent.PacketInsSent} packet-ins sent, {agent.PacketInsDropped} dropped, {agent.FlowModsApplied} flow-mods applied\n");
            sb.Append("ports:\n");
            foreach (var p in dp.Ports.List)
            {
                var k = p.Port.Counters.Snapshot();
                static string N(long v) => v < 0 ? "n/a" : v.ToString(CultureInfo.InvariantCulture);   // -1: not counted (as in OF1.0 port stats)
                sb.Append(CultureInfo.InvariantCulture,
                    $"  {p.No} {p.Port.Info.Name}: link {(p.Port.LinkUp ? "up" : "down")}, rx {N(k.RxPackets)} packets {N(k.RxBytes)} bytes {N(k.RxDropped)} dropped, tx {N(k.TxPackets)} packets {N(k.TxBytes)} bytes {N(k.TxDropped)} dropped\n");
            }
            var drops = Enum.GetValues<DropReason>().Where(r => r != DropReason.Count && dp.DropCount(r) > 0).Select(r => $"{r}={dp.DropCount(r)}").ToList();
            sb.Append(drops.Count == 0 ? "drops: none\n" : "drops: " + string.Join(", ", drops) + "\n");
            return sb.ToString();
        });
        c.Add("offload/show", "", "flows in hardware and software, software flows by reason, register writes, board tables", args =>
        {
            ControlCommands.NoArguments(args);
            var o = offload ?? throw new ControlCommandException("offload is off (start with --offload netfpga or netfpga-emulated)");
            return OffloadReport.Summary(o.Manager.Stats, o.Manager.Target.Name) + o.DescribeBoard();
        });
        c.Add("offload/dump-flows", "", "every flow with its placement: hardware rows, or the reason it stays in software", args =>
        {
            ControlCommands.NoArguments(args);
            var o = offload ?? throw new ControlCommandException("offload is off (start with --offload netfpga or netfpga-emulated)");
            return OffloadReport.DumpFlows(o.Manager.Placements());
        });
        return c;
    }

    /// <summary>
    /// Offload logging: each placement decision at Debug, and at Information a one-line summary when offload starts and
    /// then every 10 s while the placements change (never per flow-mod at Information, so churn cannot flood the log).
    /// </summary>
    private static IDisposable StartOffloadReporting(NetFpgaOffload offload, ILoggerFactory loggers)
    {
        var log = loggers.CreateLogger("offload");
        var m = offload.Manager;
        if (log.IsEnabled(LogLevel.Debug))
        {
            m.PlacementChanged += p =>
            {
                if (p.Entry.IsRemoved) log.LogDebug("removed {Flow}", FlowFormat.Flow(p.Entry));
                else log.LogDebug("{Flow} {Placement}", FlowFormat.Flow(p.Entry), OffloadReport.Placement(p));
            };
        }
        log.LogInformation("{Summary}", OffloadReport.OneLine(m.Stats));
        long lastChanges = m.Stats.FlowModEvents + m.Stats.Installs + m.Stats.Evictions;
        return new Timer(_ =>
        {
            var st = m.Stats;
            long changes = st.FlowModEvents + st.Installs + st.Evictions;
            if (changes == lastChanges) return;
            lastChanges = changes;
            log.LogInformation("{Summary}", OffloadReport.OneLine(st));
        }, null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    private static int UserError(string message)
    {
        Console.Error.WriteLine($"softswitch: {message}");
        return 2;
    }

    /// <summary>Reads a --config JSON file into settings (property names as in <see cref="RunSettings"/>, case-insensitive).</summary>
    public static RunSettings? LoadConfig(string path, out string? error)
    {
        error = null;
        try
        {
            var json = File.ReadAllText(path);
            return JsonSerializer.Deserialize<RunSettings>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                   ?? new RunSettings();
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            error = $"cannot read config '{path}': {e.Message}";
            return null;
        }
    }
}
