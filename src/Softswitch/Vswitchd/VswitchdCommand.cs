using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Softswitch.Control;
using Softswitch.Logging;
using Softswitch.Ovsdb;

namespace Softswitch.Vswitchd;

/// <summary>Settings of `softswitch vswitchd`, spelled as ovs-vswitchd's options.</summary>
internal sealed record VswitchdSettings
{
    /// <summary>The database remote; null: unix:RUNDIR/db.sock.</summary>
    public string? Database { get; init; }
    /// <summary>The pid file: null for none, "" for RUNDIR/ovs-vswitchd.pid (a bare --pidfile).</summary>
    public string? Pidfile { get; init; }
    public bool Detach { get; init; }
    /// <summary>The log file: null for stderr, "" for LOGDIR/ovs-vswitchd.log (a bare --log-file).</summary>
    public string? LogFile { get; init; }
    /// <summary>The control socket: null for RUNDIR/ovs-vswitchd.PID.ctl, or "none".</summary>
    public string? Unixctl { get; init; }
    public string LogLevel { get; init; } = "info";
    /// <summary>Forwarding threads shared by every bridge, unless other_config:n-pmd-threads or pmd-cpu-mask says.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>ovs-vswitchd options this daemon takes and does not act on (each said once in the log).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];
}

/// <summary>
/// `softswitch vswitchd [DATABASE]`: in place of ovs-vswitchd, the Open vSwitch database (ovs-vsctl, Mininet's
/// OVSSwitch) configures the switches. The run directory is $OVS_RUNDIR (default /run/openvswitch), as Open vSwitch's
/// tools look for it: the database socket, the pid file, BRIDGE.mgmt per bridge and ovs-vswitchd.PID.ctl live there.
/// </summary>
internal static class VswitchdCommand
{
    public const string RunningMessage = "softswitch vswitchd running";

    public static string RunDir => Environment.GetEnvironmentVariable("OVS_RUNDIR") is { Length: > 0 } d ? d : "/run/openvswitch";

    public static string LogDir => Environment.GetEnvironmentVariable("OVS_LOGDIR") is { Length: > 0 } d ? d : "/var/log/openvswitch";

    public static int Run(VswitchdSettings s, IReadOnlyList<string> commandLine)
    {
        if (s.Detach && !Daemon.IsDetachedChild)
            return Daemon.Detach(commandLine.Where(a => a != "--detach").ToList(), TimeSpan.FromSeconds(60));
        if (Daemon.IsDetachedChild) Daemon.EnterOwnSession();
        if (s.Threads is < 1 or > 64) return RunCommand.UserError($"--threads must be 1 to 64, not {s.Threads}");

        string runDir = RunDir;
        string database = s.Database ?? $"unix:{Path.Combine(runDir, "db.sock")}";
        if (!OvsdbClient.TryParseRemote(database, out _, out var remoteError)) return RunCommand.UserError(remoteError);
        string? logFile = s.LogFile switch { null => null, "" => Path.Combine(LogDir, "ovs-vswitchd.log"), var f => f };
        string? pidfile = s.Pidfile switch { null => null, "" => Path.Combine(runDir, "ovs-vswitchd.pid"), var f => f };
        try
        {
            Directory.CreateDirectory(runDir);
            if (logFile is not null && Path.GetDirectoryName(Path.GetFullPath(logFile)) is { } logDir) Directory.CreateDirectory(logDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return RunCommand.UserError($"run directory {runDir}: {e.Message}");
        }
        Vlog vlog;
        try
        {
            vlog = new Vlog(file: logFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return RunCommand.UserError($"--log-file {logFile}: {e.Message}");
        }
        if (!vlog.TrySet(s.LogLevel, out var levelError)) return RunCommand.UserError($"--log-level: {levelError}");
        using var loggers = LoggerFactory.Create(b => b.AddProvider(vlog).SetMinimumLevel(LogLevel.Trace));
        var log = loggers.CreateLogger("vswitchd");
        foreach (var option in s.Ignored) log.LogInformation("{Option}: taken as ovs-vswitchd takes it, not acted on by softswitch vswitchd", option);

        OvsPidFile? pid = null;
        using var done = new ManualResetEventSlim(false);
        // Handled before the pid file and the running message tell anyone the daemon is there (see RunCommand).
        string? signal = null;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; signal = "SIGTERM"; done.Set(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; signal = "SIGINT"; done.Set(); });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; signal = "SIGHUP"; done.Set(); });
        if (pidfile is not null && (pid = OvsPidFile.TryCreate(pidfile, out var pidError)) is null) return RunCommand.UserError(pidError);
        string? fatal = null;
        using var service = new VswitchdService(database, new BridgeHost(loggers, runDir), s.Threads);
        service.Fatal += why =>
        {
            fatal = why;
            log.LogError("{Why}", why);
            done.Set();
        };

        ControlServer? control = null;
        if (!string.Equals(s.Unixctl, "none", StringComparison.OrdinalIgnoreCase))
        {
            string path = s.Unixctl ?? Path.Combine(runDir, $"ovs-vswitchd.{Environment.ProcessId}.ctl");
            var commands = new ControlCommands(loggers.CreateLogger("control"));
            VswitchdCommands.Register(commands, service, vlog, () =>
            {
                log.LogInformation("exit requested over the control socket");
                done.Set();
            });
            try
            {
                control = ControlServer.Start(path, commands, loggers.CreateLogger("control"));
                log.LogInformation("control socket {Path} (ovs-appctl list-commands)", control.Path);
            }
            catch (ControlSocketException e)
            {
                pid?.Dispose();
                return RunCommand.UserError($"--unixctl: {e.Message}");
            }
        }

        service.Start();
        // A second daemon on the same database is refused before it says it is ready (the lock is the first thing asked).
        service.FirstAttempt.Wait(TimeSpan.FromSeconds(5));
        if (fatal is not null)
        {
            control?.Dispose();
            pid?.Dispose();
            return RunCommand.UserError(fatal);
        }
        log.LogInformation(RunningMessage + ": database {Database}, run directory {RunDir}", database, runDir);
        Daemon.SignalReady(() => vlog.RedirectConsole(TextWriter.Null));
        done.Wait();

        log.LogInformation("shutting down{Why}", signal is null ? "" : $" ({signal})");
        Daemon.Notify("STOPPING=1");
        // The bridges first (ports released, BRIDGE.mgmt removed), then the control socket: `ovs-appctl exit` returns
        // when the socket closes, and by then nothing of the daemon is left.
        service.Dispose();
        control?.Dispose();
        pid?.Dispose();
        log.LogInformation("stopped");
        return fatal is null ? 0 : 1;
    }
}
