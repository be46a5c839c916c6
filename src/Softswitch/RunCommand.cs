using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Softswitch.Control;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath;
using Softswitch.Datapath.Forwarding;
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
    /// <summary>The control socket: a path, "none", or null for RUNDIR/DPID.ctl (see <see cref="ControlPaths"/>).</summary>
    public string? Unixctl { get; set; }
    /// <summary>The LOCAL port's tap name, "none" for no LOCAL port, or null for ss-DPID (see <see cref="Softswitch.Ports.LocalPort"/>).</summary>
    public string? LocalPort { get; set; }
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
            if (!OfEndpoint.TryParse(c, out _, out var why)) return UserError(why);
        foreach (var l in s.Listen)
            if (!OfEndpoint.TryParse(l, out var ep, out var why) || !ep!.Passive) return UserError(ep is { Passive: false } ? $"--listen wants ptcp:PORT[:IP], not '{l}'" : why);
        if (!PortSpec.TryParse(s.Ports, out var specs, out var specError)) return UserError(specError);
        if (s.Threads is < 1 or > 64) return UserError("--threads must be 1..64");
        using var claim = InterfaceLock.TryClaim(specs.Where(e => e.Kind != PortKind.Memory).Select(e => e.Name), out var claimError);
        if (claim is null) return UserError(claimError!);

        // A forwarding thread polls its ports in turn, so a port must not wait for traffic when the thread has
        // others to poll (the thread backs off by itself when every port is idle).
        int portsPerThread = (PortSpec.PortCount(specs) + s.Threads - 1) / s.Threads;
        int idleWait = portsPerThread > 1 ? 0 : 1;
        IReadOnlyList<OpenedPort> opened;
        PortFactoryOptions portOptions;
        try
        {
            opened = PortSpec.Open(specs, portOptions = new PortFactoryOptions
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

        using var dp = new SwitchDatapath(new DatapathOptions { Threads = s.Threads, EmcEntries = s.EmcEntries, PacketInRate = s.PacketInRate });
        NetFpgaOffload? offload = null;
        if (s.Offload is "netfpga" or "netfpga-emulated")
        {
            NetFpgaOffload.TryParseMode(s.Offload, out var mode);
            try
            {
                // The board's ports become OpenFlow ports 1..n; flows that fit go to its tables, the rest stay in software.
                offload = NetFpgaOffload.Attach(dp, opened.Select(p => p.Port).ToList(), mode,
                    new NetFpgaOffloadOptions { Logger = loggers.CreateLogger("offload") });
            }
            catch (Exception e) when (e is NetFpgaUnavailableException or ArgumentException or InvalidOperationException)
            {
                return UserError($"--offload {s.Offload}: {e.Message}");
            }
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

        if (!string.Equals(s.LocalPort, "none", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var local = Softswitch.Ports.LocalPort.Open(s.LocalPort ?? Softswitch.Ports.LocalPort.DefaultName(dpid), dpid, s.LocalPort is not null, loggers.CreateLogger("ports"));
                dp.AddPort(local, Softswitch.Datapath.Actions.OfPort.Local);
            }
            catch (PortOpenException e)
            {
                offload?.Dispose();
                return UserError($"--local-port: {e.Message}");
            }
        }

        var agent = new OfSwitchAgent(dp, new AgentOptions
        {
            DatapathId = dpid,
            FailMode = failMode,
            Controllers = s.Controllers,
            Listeners = s.Listen,
            ServiceSockets = ManagementSocket(dpid, log) is { } mgmt ? [mgmt] : [],
        }, loggers);

        // The control socket (softswitch ctl): an explicit --unixctl must work; the default is best effort.
        var commands = new ControlCommands(loggers.CreateLogger("control"));
        DaemonCommands.Register(commands, dp, agent, offload?.Manager, offload is null ? null : offload.DescribeBoard);
        ControlServer? control = null;
        if (!string.Equals(s.Unixctl, "none", StringComparison.OrdinalIgnoreCase))
        {
            string path = s.Unixctl ?? ControlPaths.DefaultFor(dpid);
            try
            {
                try
                {
                    control = ControlServer.Start(path, commands, loggers.CreateLogger("control"));
                }
                catch (ControlSocketException e) when (s.Unixctl is null && e.InUse)
                {
                    // Another daemon with the same datapath id has the default name: this one adds its pid.
                    control = ControlServer.Start(ControlPaths.DefaultFor(dpid, Environment.ProcessId), commands, loggers.CreateLogger("control"));
                }
                log.LogInformation("control socket {Path} (softswitch ctl --target {Path} help)", control.Path, control.Path);
            }
            catch (ControlSocketException e) when (s.Unixctl is null)
            {
                log.LogWarning("no control socket: {Error} (choose one with --unixctl PATH)", e.Message);
            }
            catch (ControlSocketException e)
            {
                offload?.Dispose();
                return UserError($"--unixctl: {e.Message}");
            }
        }
        try
        {
            agent.Start();
        }
        catch (ListenException e)
        {
            control?.Dispose();
            offload?.Dispose();
            return UserError(e.Message);
        }
        dp.Start();
        // Ports whose interface disappears and comes back are re-opened (not the board's ports under offload).
        using var reopener = offload is null ? new PortReopener(dp, opened, portOptions, loggers.CreateLogger("ports"), TimeSpan.FromSeconds(1)) : null;
        log.LogInformation("softswitch running: dpid {Dpid:x16}, {Ports} port(s) [{Names}], fail mode {FailMode}, {Threads} forwarding thread(s)",
            dpid, opened.Count, string.Join(", ", opened.Select(p => $"{p.PortNo}:{p.Spec.Kind.ToString().ToLowerInvariant()}:{p.Port.Info.Name}")), failMode, s.Threads);

        using var done = new ManualResetEventSlim(false);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.Set(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.Set(); });
        if (s.Stats) StatsView(dp, agent, offload?.Manager, done);
        else done.Wait();

        log.LogInformation("shutting down");
        control?.Dispose();
        agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
        dp.Stop();
        offload?.Dispose();
        return 0;
    }

    private static void StatsView(SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload, ManualResetEventSlim done)
    {
        AnsiConsole.Live(new Table()).Start(ctx =>
        {
            while (!done.Wait(1000))
            {
                var t = new Table().Title($"softswitch  flows: {dp.Flows.ActiveExact} exact, {dp.Flows.ActiveWildcard} wildcard{OffloadTitle(offload)}  " +
                                          $"controller: {(agent.ControllerConnected ? "connected" : "not connected")}  packet-ins: {agent.PacketInsSent} sent, {agent.PacketInsDropped} dropped");
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

    /// <summary>The live view's offload part: <c> (hw 3, sw 2: unsupported-action=2)</c>, or "" without offload.</summary>
    internal static string OffloadTitle(OffloadManager? offload)
    {
        if (offload is null) return "";
        var st = offload.Stats;
        var reasons = OffloadReport.SortedReasons(st);
        string why = reasons.Count == 0 ? "" : ": " + string.Join(", ", reasons.Select(r => $"{OffloadReport.ReasonName(r.Reason)}={r.Count}"));
        return Markup.Escape($" (hw {st.HardwareFlows}, sw {st.SoftwareFlows}{why})");
    }

    /// <summary>
    /// The default service socket RUNDIR/DPID.mgmt (like Open vSwitch's br0.mgmt, so `ovs-ofctl dump-flows
    /// unix:RUNDIR/DPID.mgmt` works), or RUNDIR/DPID.PID.mgmt when a live daemon with the same datapath id has the
    /// first; a stale file is removed. Null (with a warning) when the run directory cannot be used.
    /// </summary>
    private static string? ManagementSocket(ulong dpid, ILogger log)
    {
        string dir = ControlPaths.RunDir;
        try
        {
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, $"{dpid:x16}.mgmt");
            if (File.Exists(path))
            {
                using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                try
                {
                    probe.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
                    return Path.Combine(dir, $"{dpid:x16}.{Environment.ProcessId}.mgmt"); // another live daemon has it
                }
                catch (System.Net.Sockets.SocketException)
                {
                    File.Delete(path); // left behind by a daemon that did not exit cleanly
                }
            }
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogWarning("no management socket in {Dir}: {Error}", dir, e.Message);
            return null;
        }
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
