using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Logging;
using Softswitch.Metrics;
using Softswitch.OfAgent;
using Softswitch.OfAgent.Session;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.Ports.NetFpga;
using Softswitch.Ports.Pcap;
using Softswitch.Tunnels;
using Spectre.Console;

namespace Softswitch;

/// <summary>
/// `softswitch run`: opens the ports, starts the datapath and the OpenFlow agent, logs, and stops cleanly on
/// Ctrl-C or SIGTERM. A user mistake (a bad spec, a missing interface, a port in use) is one clear line and
/// exit code 2, never a stack trace.
/// </summary>
internal static class RunCommand
{
    /// <summary>What the Mininet class and scripts read: the first line a log consumer sees when the switch is up.</summary>
    public const string RunningMessage = "softswitch running";

    /// <summary>The settings checked and parsed: what the later steps read beyond <see cref="RunSettings"/>.</summary>
    private sealed record RunPlan(FailMode FailMode, uint Versions, IReadOnlyList<PortSpecEntry> Specs, string MetricsHost, int MetricsPort,
                                  ulong ConfiguredDpid, System.Net.IPEndPoint? SflowCollector, int[]? ForwardingCpus, Vswitchd.RxqSchedulingConfig Rxq);

    /// <summary>
    /// Owns the offload attachment (if any) for the run: the stop sequence disposes it in its turn, and an early return
    /// disposes it on leaving. Disposing twice disposes it once.
    /// </summary>
    private sealed class OffloadScope(IOffloadAttachment? attachment) : IDisposable
    {
        private IOffloadAttachment? _offload = attachment;

        public IOffloadAttachment? Attachment => _offload;

        /// <summary>Takes <paramref name="attachment"/> (attached after the scope began).</summary>
        public void Set(IOffloadAttachment? attachment) => _offload = attachment;

        public void Dispose()
        {
            var offload = _offload;
            _offload = null;
            offload?.Dispose();
        }
    }

    /// <param name="commandLine">The command line as given, to start the daemon again for --detach.</param>
    public static int Run(RunSettings s, IReadOnlyList<string> commandLine)
    {
        if (s.Detach && !Daemon.IsDetachedChild)
            return Daemon.Detach(commandLine.Where(a => a != "--detach").ToList(), TimeSpan.FromSeconds(60));
        if (Daemon.IsDetachedChild) Daemon.EnterOwnSession();

        Vlog vlog;
        try
        {
            vlog = new Vlog(file: s.LogFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return UserError($"--log-file {s.LogFile}: {e.Message}");
        }
        if (!vlog.TrySet(s.LogLevel, out var levelError)) return UserError($"--log-level: {levelError}");
        using var loggers = LoggerFactory.Create(b => b.AddProvider(vlog).SetMinimumLevel(LogLevel.Trace));
        var log = loggers.CreateLogger("softswitch");

        if (!TryPlan(s, out var plan, out var planError)) return UserError(planError);
        using var claim = InterfaceLock.TryClaim(plan.Specs.Where(e => e.Kind != PortKind.Memory).Select(e => e.Name), out var claimError);
        if (claim is null) return UserError(claimError!);
        var arena = ArenaFor(s.Threads, plan.Specs);
        if (!TryOpenPorts(s, plan.Specs, loggers, arena, out var opened, out var portFactory, out var openError)) return UserError(openError);

        // Packet buffers hold the largest frame any port may carry: its MTU, the Ethernet header and two VLAN tags.
        int largestFrame = opened.Count == 0 ? 0 : opened.Max(p => p.Port.Info.Mtu) + 14 + 8;
        int frameSize = Math.Max(PacketPool.DefaultDataSize, largestFrame);
        // The pools are carved from the arena only while every port's frame fits a slot received in place.
        if (arena is not null && largestFrame > PacketArena.SlotSize - PacketArena.KernelHeadroom) arena = null;
        if (arena is not null) log.LogInformation("packet pools carved from a {Mb} MiB arena, the AF_XDP ports' UMEM: frames received in place", arena.Length >> 20);
        using var dp = new SwitchDatapath(new DatapathOptions
        {
            Threads = s.Threads, ForwardingCpus = plan.ForwardingCpus, EmcEntries = s.EmcEntries, PacketInRate = s.PacketInRate, BusyPollMicros = s.BusyPollUs, LingerMicros = s.LingerUs, FrameSize = frameSize,
            SamplingRate = plan.SflowCollector is null ? 0 : s.SflowSampling, Arena = arena,
        });
        // Before any port: their queues are placed as asked from the first.
        plan.Rxq.ApplyTo(dp.Balancer);
        // A board's ports become OpenFlow ports 1..n (it takes them before the datapath has any); other targets attach
        // to the datapath's ports. Flows that fit go to the target's tables, the rest stay in software.
        bool takesPorts = OffloadSetup.TakesPorts(s.Offload);
        IOffloadAttachment? offload = null;
        if (takesPorts && !TryAttachOffload(s, dp, opened, loggers, out offload, out var boardError)) return UserError(boardError);
        using var offloadScope = new OffloadScope(offload);
        if (!TryAddPorts(s, plan, dp, opened, !takesPorts, log, loggers, out ulong dpid, out var qos, out var portError)) return UserError(portError);
        if (!takesPorts)
        {
            if (!TryAttachOffload(s, dp, opened, loggers, out offload, out var offloadError)) return UserError(offloadError);
            offloadScope.Set(offload);
        }
        return Serve(s, plan, vlog, loggers, log, dp, opened, portFactory, offloadScope, dpid, qos);
    }

    private static bool TryAttachOffload(RunSettings s, SwitchDatapath dp, IReadOnlyList<OpenedPort> opened, ILoggerFactory loggers,
                                         out IOffloadAttachment? offload, out string error)
    {
        offload = null;
        try
        {
            if (!OffloadSetup.TryAttach(s.Offload, dp, opened.Select(p => p.Port).ToList(), loggers.CreateLogger("offload"), out offload, out var offloadError))
                return Fail(offloadError!, out error);
        }
        catch (Exception e) when (e is NetFpgaUnavailableException or DatapathConfigurationException or PortOpenException or IOException)
        {
            return Fail($"--offload {s.Offload}: {e.Message}", out error);
        }
        error = "";
        return true;
    }

    /// <summary>Checks the settings a run needs before it opens anything; false with the user error.</summary>
    private static bool TryPlan(RunSettings s, out RunPlan plan, out string error)
    {
        plan = null!;
        FailMode failMode;
        switch (s.FailMode.ToLowerInvariant())
        {
            case "secure": failMode = FailMode.Secure; break;
            case "standalone": failMode = FailMode.Standalone; break;
            default: return Fail($"--fail-mode must be standalone or secure, not '{s.FailMode}'", out error);
        }
        uint versions = AgentOptions.DefaultVersions;
        if (s.Protocols is { } protocolList && !AgentOptions.TryParseVersions(protocolList, out versions, out var protocolError))
            return Fail($"--protocols: {protocolError}", out error);
        if (s.FlowLimit is < 1 or > Ofproto.FlowTableOptions.MaxFlowLimit)
            return Fail($"--flow-limit must be from 1 to {Ofproto.FlowTableOptions.MaxFlowLimit} (the most flows a table holds, as OVS's flow_limit), not {s.FlowLimit}", out error);
        if (s.MaxBackoff < 1000) return Fail($"--max-backoff must be at least 1000 (milliseconds, as OVS's max_backoff), not {s.MaxBackoff}", out error);
        foreach (var c in s.Controllers)
        {
            if (!OfEndpoint.TryParse(c, out _, out var why)) return Fail(EndpointError(c, why), out error);
        }
        foreach (var l in s.Listen)
        {
            if (!OfEndpoint.TryParse(l, out var ep, out var why)) return Fail(EndpointError(l, why), out error);
            if (!ep!.Passive) return Fail(EndpointError(l, "--listen waits for connections: ptcp:[PORT][:IP], pssl:[PORT][:IP] or punix:FILE (tcp:, ssl: and unix: belong to --controller)"), out error);
        }
        if (string.IsNullOrWhiteSpace(s.Ports))
            return Fail("no ports: give --ports, e.g. --ports afpacket:eth1,afpacket:eth2 (`ip -br link` lists the interfaces; mem:4 makes in-memory ports; `softswitch demo` runs without any)", out error);
        if (!PortSpec.TryParse(s.Ports, out var specs, out var specError)) return Fail(specError, out error);
        if (s.Threads is < 1 or > 64) return Fail($"--threads must be 1 to 64, not {s.Threads}", out error);
        if (s.EmcEntries is < 0 or > 1 << 24) return Fail($"--emc-entries must be 0 to {1 << 24}, not {s.EmcEntries}", out error);
        if (!(s.PacketInRate > 0)) return Fail($"--packet-in-rate must be above 0, not {s.PacketInRate}", out error);
        string metricsHost = "";
        int metricsPort = 0;
        if (s.Metrics is { } metricsText && !MetricsEndpoint.TryParse(metricsText, out metricsHost, out metricsPort, out var metricsError)) return Fail(metricsError, out error);
        ulong configuredDpid = 0;
        if (s.Dpid is { } dpidText && !ConfigFile.TryParseDpid(dpidText, out configuredDpid))
            return Fail($"--dpid '{dpidText}': want up to 16 hex digits (0x1, 1, or 00:00:00:00:00:00:00:01)", out error);
        if (s.BusyPollUs is < 0 or > 1_000_000) return Fail($"--busy-poll-us must be 0 to 1000000, not {s.BusyPollUs}", out error);
        if (s.LingerUs is < 0 or > 1_000_000) return Fail($"--linger-us must be 0 to 1000000, not {s.LingerUs}", out error);
        if (!RxqBalancer.TryParse(s.PmdRxqAssign, out var rxqAssign))
            return Fail($"--pmd-rxq-assign must be cycles, roundrobin or group, not '{s.PmdRxqAssign}'", out error);
        if (s.PmdAutoLbLoadThreshold is < 0 or > 100)
            return Fail($"--pmd-auto-lb-load-threshold must be a percentage from 0 to 100, not {s.PmdAutoLbLoadThreshold}", out error);
        if (s.PmdAutoLbImprovementThreshold is < 0 or > 100)
            return Fail($"--pmd-auto-lb-improvement-threshold must be a percentage from 0 to 100, not {s.PmdAutoLbImprovementThreshold}", out error);
        if (s.PmdAutoLbRebalInterval < 0 || (ulong)s.PmdAutoLbRebalInterval > Vswitchd.VswitchConfig.MaxRebalanceIntervalMinutes)
            return Fail($"--pmd-auto-lb-rebal-interval must be 0 to {Vswitchd.VswitchConfig.MaxRebalanceIntervalMinutes} minutes, not {s.PmdAutoLbRebalInterval}", out error);
        // As Open vSwitch reads other_config: an interval of 0 is the default, one minute.
        var rxq = new Vswitchd.RxqSchedulingConfig(rxqAssign, s.PmdAutoLb, s.PmdAutoLbLoadThreshold, s.PmdAutoLbImprovementThreshold,
                                          s.PmdAutoLbRebalInterval == 0 ? 1 : s.PmdAutoLbRebalInterval);
        System.Net.IPEndPoint? sflowCollector = null;
        if (s.Sflow is { } sflowText && !Sflow.SflowExporter.TryParseCollector(sflowText, out sflowCollector, out var sflowError)) return Fail(sflowError, out error);
        if (s.SflowSampling < 1) return Fail($"--sflow-sampling must be 1 or more (1 in N packets), not {s.SflowSampling}", out error);
        if (s.SflowPolling is < 0 or > 86_400) return Fail($"--sflow-polling must be 0 to 86400 seconds, not {s.SflowPolling}", out error);
        int[]? fwdCpus = null;
        if (s.ForwardingCpus is { } cpuText)
        {
            if (!CpuPlacement.IsSupported) return Fail("--forwarding-cpus needs Linux", out error);
            if (!CpuPlacement.TryParseList(cpuText, out var list, out var cpuError)) return Fail($"--forwarding-cpus {cpuError}", out error);
            var allowed = CpuPlacement.Allowed();
            if (list.FirstOrDefault(c => !allowed.Contains(c), -1) is int outside and >= 0)
                return Fail($"--forwarding-cpus {cpuText}: CPU {outside} is not one this process may use ({CpuPlacement.Format(allowed)})", out error);
            fwdCpus = list;
        }
        plan = new RunPlan(failMode, versions, specs, metricsHost, metricsPort, configuredDpid, sflowCollector, fwdCpus, rxq);
        error = "";
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    /// <summary>Opens the ports the settings name; false with the user error.</summary>
    /// <summary>
    /// The packet arena of a run with AF_XDP ports (docs/ports.md, "The packet pool as the UMEM"): room for every queue's
    /// fill and TX frames (whole batches each), each forwarding thread's pool and a quarter more for ports added later;
    /// null without afxdp ports, when an afxdp interface's frame would not fit a slot received in place, or past 1 GiB
    /// (the ports then keep UMEMs of their own, and frames are copied).
    /// </summary>
    internal static PacketArena? ArenaFor(int threads, IReadOnlyList<PortSpecEntry> specs)
    {
        const int Batch = PacketArena.Batch;
        var defaults = new AfXdpOptions();
        var dpDefaults = new DatapathOptions();
        long slots = 0;
        foreach (var e in specs)
        {
            if (e.Kind != PortKind.AfXdp) continue;
            NetInterface nif;
            try
            {
                nif = NetInterface.Open(e.Name);
            }
            catch (PortOpenException)
            {
                return null;   // the port's own open says what is wrong
            }
            if (nif.Mtu + 14 + 8 > PacketArena.SlotSize - PacketArena.KernelHeadroom) return null;
            int queues = e.Queue is null ? nif.RxQueueCount : 1;
            slots += queues * (((long)(e.RxFrames ?? defaults.RxFrames) + defaults.TxFrames + Batch - 1) / Batch * Batch);
        }
        if (slots == 0) return null;
        slots += (long)Math.Max(1, threads) * (dpDefaults.PoolSize + 2 * Batch);
        slots += slots / 4;
        if (slots * PacketArena.SlotSize > (1L << 30) - (1L << 20)) return null;
        return new PacketArena((int)slots, (Math.Max(1, threads) + 1) * dpDefaults.LargeBuffers);
    }

    private static bool TryOpenPorts(RunSettings s, IReadOnlyList<PortSpecEntry> specs, ILoggerFactory loggers, PacketArena? arena,
                                     out IReadOnlyList<OpenedPort> opened, out PortFactoryOptions portFactory, out string error)
    {
        portFactory = new PortFactoryOptions
        {
            Memory = (no, name) => new MemoryPort(name, new MacAddress(0x02_00_00_00_00_00UL | no)),
            PcapDir = s.PcapDir,
            LoggerFactory = loggers,
            AfPacket = new AfPacketOptions { Logger = loggers.CreateLogger("afpacket") },
            AfXdp = new AfXdpOptions { Logger = loggers.CreateLogger("afxdp"), Arena = arena },
            Pcap = new PcapOptions(),
        };
        try
        {
            opened = PortSpec.Open(specs, portFactory);
        }
        catch (PortOpenException e)
        {
            opened = [];
            return Fail(e.Message, out error);
        }
        error = "";
        return true;
    }

    /// <summary>
    /// Gives the datapath its ports (unless an offload target took them), the tunnel ports, the LOCAL port and the
    /// queues; picks the datapath id. False with the user error.
    /// </summary>
    private static bool TryAddPorts(RunSettings s, RunPlan plan, SwitchDatapath dp, IReadOnlyList<OpenedPort> opened, bool addOpened, ILogger log,
                                    ILoggerFactory loggers, out ulong dpid, out QosConfig qos, out string error)
    {
        dpid = 0;
        qos = null!;
        if (addOpened)
        {
            foreach (var p in opened) dp.AddPort(p.Port, p.PortNo);
        }
        foreach (var t in s.Tunnels)
        {
            try
            {
                var tp = dp.Tunnels.Add(TunnelSpec.Parse(t));
                log.LogInformation("tunnel port {Spec}", TunnelSpec.Format(tp.Config));
            }
            catch (Exception e) when (e is FormatException or DatapathConfigurationException)
            {
                return Fail($"--tunnel '{t}': {e.Message}", out error);
            }
        }

        dpid = s.Dpid is not null ? plan.ConfiguredDpid : opened.Count > 0 ? opened[0].Port.Info.HwAddr.Value : 1;

        if (!string.Equals(s.LocalPort, "none", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var local = Softswitch.Ports.LocalPort.Open(s.LocalPort ?? Softswitch.Ports.LocalPort.DefaultName(dpid), dpid, s.LocalPort is not null, loggers.CreateLogger("ports"));
                dp.AddPort(local, Softswitch.Datapath.Ports.PortNumber.Local);
            }
            catch (PortOpenException e)
            {
                return Fail($"--local-port: {e.Message}", out error);
            }
        }

        qos = new QosConfig(dp);
        if (s.Queues is { } queueSpec && !qos.TryApply(queueSpec, out var queueError))
            return Fail($"--queues {queueError}", out error);
        error = "";
        return true;
    }

    /// <summary>Starts the OpenFlow layer, the agent, the control socket and the forwarding threads, runs until told to stop, and stops.</summary>
    private static int Serve(RunSettings s, RunPlan plan, Vlog vlog, ILoggerFactory loggers, ILogger log, SwitchDatapath dp, IReadOnlyList<OpenedPort> opened,
                             PortFactoryOptions portFactory, OffloadScope offloadScope, ulong dpid, QosConfig qos)
    {
        var offload = offloadScope.Attachment;
        // Flow churn allocates nothing when removed entries are reused; every thread here that keeps flows is a
        // forwarder (a reader) or holds them in a hold (requests, expiry, control commands, the stats view). An
        // offload target keeps flows beyond any hold, so the tables do not recycle with one.
        var agent = SwitchStack.CreateAgent(dp, SwitchStack.CreateTables(dp, s.FlowLimit, recycle: offload is null), dpid, plan.FailMode, new AgentOptions
        {
            Controllers = s.Controllers,
            Versions = plan.Versions,
            MaxBackoff = TimeSpan.FromMilliseconds(s.MaxBackoff),
            // --listen endpoints and the default RUNDIR/DPID.mgmt are service connections (tools), like OVS's br0.mgmt.
            Listeners = ManagementSocket(dpid, log) is { } mgmt ? [.. s.Listen, "punix:" + mgmt] : s.Listen,
            Tls = new OfTlsOptions { PrivateKeyFile = s.PrivateKey, CertificateFile = s.Certificate, CaCertFile = s.CaCert, BootstrapCaCertFile = s.BootstrapCaCert },
        }, loggers);

        using var done = new ManualResetEventSlim(false);
        // SIGHUP ends the daemon as it ends ovs-vswitchd (Mininet's teardown sends it), like SIGTERM and Ctrl-C. Handled
        // from here on, before the pid file and the running message tell anyone the daemon is there: a signal sent the
        // moment either appears ends the daemon cleanly once it is up, never by the default action or not at all.
        string? signal = null;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; signal = "SIGTERM"; done.Set(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; signal = "SIGINT"; done.Set(); });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; signal = "SIGHUP"; done.Set(); });
        // What ofproto/trace accepts as this switch's name: its datapath id in any form, its control socket's or LOCAL port's name.
        string? controlName = null;
        bool IsThisSwitch(string word)
            => (ConfigFile.TryParseDpid(word, out ulong d) && d == dpid) || word == controlName
               || dp.Ports.Get(Softswitch.Datapath.Ports.PortNumber.Local)?.Port.Info.Name == word;
        var commands = new ControlCommands(loggers.CreateLogger("control"));
        DaemonCommands.Register(commands, dp, agent, offload?.Manager, offload is null ? null : offload.Describe);
        dp.Balancer.Log = line => log.LogInformation("{Line}", line);
        if (plan.Rxq.AutoLoadBalance)
        {
            log.LogInformation("rx queues placed by {Algorithm}; PMD auto load balance is enabled (load threshold {Load}%, improvement threshold {Improvement}%, interval {Minutes} min)",
                RxqBalancer.Name(plan.Rxq.Assignment), plan.Rxq.LoadThreshold, plan.Rxq.ImprovementThreshold, plan.Rxq.RebalanceIntervalMinutes);
        }
        else
        {
            log.LogInformation("rx queues placed by {Algorithm}; PMD auto load balance is disabled", RxqBalancer.Name(plan.Rxq.Assignment));
        }
        HostCommands.Register(commands, new HostCommands.Context(dp, agent, vlog, () =>
        {
            log.LogInformation("exit requested over the control socket");
            done.Set();
        }) { PortFactory = portFactory, IsThisSwitch = IsThisSwitch, Qos = qos });
        using var taps = new LiveTaps(dp, loggers.CreateLogger("pcap"));
        LiveCommands.Register(commands, taps, agent.Switch.Flows, s.PcapDir);
        // Pauses are measured from the start (a collection during start-up counts too). Started before the control
        // socket's and the OpenFlow listeners' threads: the runtime event listener it creates is then made while no
        // connection thread is creating event sources of its own (sockets, array pools) at the same time.
        Metrics.GcPauseMonitor.Start();
        // SOFTSWITCH_JIT_WARMUP=0 leaves the compiling to the first packets (for comparison, or to spare the start-up CPU).
        if (Environment.GetEnvironmentVariable("SOFTSWITCH_JIT_WARMUP") != "0")
        {
            JitWarmup.Start((n, t) => log.LogDebug("jit warm-up: {Methods} methods of the forwarding path compiled in {Ms} ms", n, (long)t.TotalMilliseconds),
                typeof(SwitchDatapath).Assembly, typeof(Ports.PortSpec).Assembly);
        }
        if (!TryStartControl(s, dpid, commands, loggers, log, out var control, out var controlError)) return UserError(controlError);
        if (control is not null) controlName = Path.GetFileNameWithoutExtension(control.Path);
        try
        {
            agent.Start();
        }
        catch (Exception e) when (e is IOException or SocketException or OfTlsException)
        {
            control?.Dispose();
            return UserError(e.Message);
        }
        MetricsEndpoint? metrics = null;
        if (s.Metrics is not null)
        {
            try
            {
                metrics = MetricsEndpoint.Start(plan.MetricsHost, plan.MetricsPort, dp, agent, offload?.Manager);
                log.LogInformation("metrics at {Url}", metrics.Url);
            }
            catch (UserErrorException e)
            {
                control?.Dispose();
                agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return UserError($"--metrics {s.Metrics}: {e.Message}");
            }
        }
        if (s.Pidfile is { } pidfile && !Daemon.TryWritePidFile(pidfile, out var pidError))
        {
            metrics?.Dispose();
            control?.Dispose();
            agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return UserError(pidError);
        }
        var sflow = StartForwarding(s, plan, dp, loggers, log);
        // Ports whose interface disappears and comes back are re-opened, as without offload under --offload xdp (the XDP
        // offload forgets a port that leaves, so flows from or to it stay in software, reason port-reopened), but not
        // under a board: the board wraps the ports it was given and forwards between them itself.
        using var reopener = offload is null || !OffloadSetup.TakesPorts(s.Offload)
            ? new PortReopener(dp, opened, portFactory, loggers.CreateLogger("ports"), TimeSpan.FromSeconds(1))
            : null;
        log.LogInformation(RunningMessage + ": dpid {Dpid:x16}, {Ports} port(s) [{Names}], fail mode {FailMode}, {Threads} forwarding thread(s)",
            dpid, opened.Count, string.Join(", ", opened.Select(p => $"{p.PortNo}:{p.Spec.Kind.ToString().ToLowerInvariant()}:{p.Port.Info.Name}")), plan.FailMode.ToString().ToLowerInvariant(), s.Threads);

        Daemon.SignalReady(() => vlog.RedirectConsole(TextWriter.Null));
        using var links = new LinkWatcher(dp, loggers.CreateLogger("link"));
        // The kernel's link notifications: port status and group liveness follow a link change within a millisecond.
        using var linkMonitor = LinkMonitor.TryStart(dp.NotifyLinkChange, out var linkMonitorError);
        if (linkMonitor is null) log.LogWarning("no kernel link notifications ({Error}): link changes are seen at the next maintenance round (up to 1 s)", linkMonitorError);
        if (s.Stats) StatsView.Run(dp, agent, offload?.Manager, vlog, done);
        else done.Wait();

        log.LogInformation("shutting down{Why}", signal is null ? "" : $" ({signal})");
        Stop(s, log, metrics, control, agent, dp, sflow, offloadScope, links, reopener);
        return 0;
    }

    /// <summary>
    /// Starts the control socket (softswitch ctl) unless --unixctl is none: an explicit path must work (false with the
    /// user error); the default is best effort (no socket, a warning).
    /// </summary>
    private static bool TryStartControl(RunSettings s, ulong dpid, ControlCommands commands, ILoggerFactory loggers, ILogger log,
                                        out ControlServer? control, out string error)
    {
        control = null;
        error = "";
        if (string.Equals(s.Unixctl, "none", StringComparison.OrdinalIgnoreCase)) return true;
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
            return Fail($"--unixctl: {e.Message}", out error);
        }
        return true;
    }

    /// <summary>Places the threads on their CPUs, starts the forwarding threads and the sFlow export (null without one).</summary>
    private static Sflow.SflowExporter? StartForwarding(RunSettings s, RunPlan plan, SwitchDatapath dp, ILoggerFactory loggers, ILogger log)
    {
        if (plan.ForwardingCpus is { } fwdCpus)
        {
            // Every thread so far (the runtime's too) moves off the forwarding CPUs, and threads made later inherit that.
            var rest = CpuPlacement.KeepEveryThreadOff(fwdCpus);
            if (rest.Length == 0)
                log.LogWarning("--forwarding-cpus {Cpus} names every CPU this process may use: the other threads share them", s.ForwardingCpus);
            else
                log.LogInformation("forwarding threads on CPU(s) {Cpus}, the other threads on {Rest}", CpuPlacement.Format(fwdCpus), CpuPlacement.Format(rest));
            if (fwdCpus.Length > s.Threads)
                log.LogInformation("--forwarding-cpus names {Cpus} CPU(s) for {Threads} forwarding thread(s): the rest stay free", fwdCpus.Length, s.Threads);
        }
        dp.Start();
        for (int i = 0; i < dp.PlacementErrors.Count; i++)
            if (dp.PlacementErrors[i] is { } placementError) log.LogWarning("forwarding thread fwd-{Thread} is not placed on {Error}", i, placementError);
        Sflow.SflowExporter? sflow = null;
        if (plan.SflowCollector is { } sflowCollector)
        {
            try
            {
                sflow = Sflow.SflowExporter.Start(dp, sflowCollector, s.SflowPolling, loggers.CreateLogger("sflow"));
                log.LogInformation("sFlow to {Collector} from agent {Agent}: 1 in {Rate} packets, counters every {Polling} s", sflow.Collector, sflow.Agent, s.SflowSampling, s.SflowPolling);
            }
            catch (SocketException e)
            {
                log.LogWarning("no sFlow export to {Collector}: {Error}", sflowCollector, e.Message);
            }
        }
        return sflow;
    }

    /// <summary>Stops everything in order, each stage timed; a stop that takes long says where it is.</summary>
    private static void Stop(RunSettings s, ILogger log, MetricsEndpoint? metrics, ControlServer? control, OfSwitchAgent agent, SwitchDatapath dp,
                             Sflow.SflowExporter? sflow, OffloadScope offload, LinkWatcher links, PortReopener? reopener)
    {
        Daemon.Notify("STOPPING=1");
        // Each stage's time is logged (dbg): `softswitch ctl exit` waits for the process, so a slow stage is seen there.
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        long Lap()
        {
            long ms = stopping.ElapsedMilliseconds;
            stopping.Restart();
            return ms;
        }
        // A stop that takes long says where it is (every 5 s, from a thread of its own: not the pool, which a stuck
        // stage may be holding up).
        string stage = "control socket";
        var stopped = new ManualResetEventSlim(false); // set when the stop ends; not disposed under the watchdog's wait
        var total = System.Diagnostics.Stopwatch.StartNew();
        var watchdog = new Thread(() =>
        {
            while (!stopped.Wait(5000))
                log.LogWarning("still stopping after {Seconds:F0} s, at: {Stage}", total.Elapsed.TotalSeconds, Volatile.Read(ref stage));
        }) { IsBackground = true, Name = "stop-watchdog" };
        watchdog.Start();
        try
        {
            metrics?.Dispose();
            control?.Dispose();
            long controlMs = Lap();
            Volatile.Write(ref stage, "OpenFlow agent");
            agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
            long agentMs = Lap();
            Volatile.Write(ref stage, "datapath");
            dp.Stop();
            sflow?.Dispose();
            long datapathMs = Lap();
            Volatile.Write(ref stage, "offload, link watcher and port reopener");
            offload.Dispose();
            links.Dispose();
            reopener?.Dispose();
            long restMs = Lap();
            Volatile.Write(ref stage, "the pid file");
            log.LogDebug("stopped: control socket {Control} ms, OpenFlow agent {Agent} ms, datapath {Datapath} ms, the rest {Rest} ms", controlMs, agentMs, datapathMs, restMs);
            if (s.Pidfile is not null) Daemon.RemovePidFile(s.Pidfile);
        }
        finally
        {
            stopped.Set(); // also when a stage throws: the watchdog stops with the stop
        }
    }

    /// <summary>One wording for every bad endpoint: <c>bad OpenFlow endpoint 'X': why</c>.</summary>
    internal static string EndpointError(string text, string why)
    {
        const string Prefix = "bad OpenFlow endpoint";
        if (why.StartsWith(Prefix, StringComparison.Ordinal)) return why;
        int cut = why.IndexOf("': ", StringComparison.Ordinal);
        return $"{Prefix} '{text}': {(cut >= 0 ? why[(cut + 3)..] : why)}";
    }

    /// <summary>The live view's offload part: <c> (hw 3, sw 2: unsupported-action=2)</c>, or "" without offload.</summary>
    internal static string OffloadTitle(OffloadManager? offload)
    {
        if (offload is null) return "";
        var st = offload.Stats;
        var reasons = OffloadReport.SortedReasons(st);
        string why = reasons.Count == 0 ? "" : ": " + string.Join(", ", reasons.Select(r => $"{r.Reason.Name}={r.Count}"));
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

    internal static int UserError(string message)
    {
        Console.Error.WriteLine($"softswitch: {message}");
        return 2;
    }
}
