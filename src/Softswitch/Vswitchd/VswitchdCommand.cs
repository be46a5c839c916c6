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
    /// <summary>ovs-vswitchd's -v specs (<see cref="VswitchdCommand.TryApplyVerbose"/>), applied after <see cref="LogLevel"/>.</summary>
    public IReadOnlyList<string> Verbose { get; init; } = [];
    /// <summary>ovs-vswitchd options this daemon takes and does not act on (each said once in the log).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];
}

/// <summary>
/// `softswitch vswitchd [DATABASE]`: in place of ovs-vswitchd, the Open vSwitch database (ovs-vsctl, Mininet's
/// OVSSwitch) configures the switches. The run directory is $OVS_RUNDIR (default /run/openvswitch), as Open vSwitch's
/// tools look for it: the database socket, the pid file, BRIDGE.mgmt per bridge and ovs-vswitchd.PID.ctl live there.
/// </summary>
internal static partial class VswitchdCommand
{
    public const string RunningMessage = "softswitch vswitchd running";

    public static string RunDir => Environment.GetEnvironmentVariable("OVS_RUNDIR") is { Length: > 0 } d ? d : "/run/openvswitch";

    public static string LogDir => Environment.GetEnvironmentVariable("OVS_LOGDIR") is { Length: > 0 } d ? d : "/var/log/openvswitch";

    public static int Run(VswitchdSettings s, IReadOnlyList<string> commandLine)
    {
        // Run as ovs-vswitchd, the daemon is run again by that name (its process keeps the name ovs-ctl looks for).
        if (s.Detach && !Daemon.IsDetachedChild)
            return Daemon.Detach(commandLine.Where(a => a != "--detach").ToList(), TimeSpan.FromSeconds(60), OvsVswitchdName.Active ? OvsVswitchdName.ProgramPath() : null);
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
        var unserved = new List<string>();
        foreach (var spec in s.Verbose)
        {
            if (!TryApplyVerbose(vlog, logFile is not null, spec, out var verboseError, out var note)) return RunCommand.UserError($"-v{spec}: {verboseError}");
            if (note is not null) unserved.Add(note);
        }
        using var loggers = LoggerFactory.Create(b => b.AddProvider(vlog).SetMinimumLevel(LogLevel.Trace));
        var log = loggers.CreateLogger("vswitchd");
        foreach (var option in s.Ignored) log.LogInformation("{Option}: taken as ovs-vswitchd takes it, not acted on by softswitch vswitchd", option);
        foreach (var note in unserved) log.LogInformation("{Note}", note);

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
        // Ready once the first configuration is applied (the bridges made), as ovs-vswitchd detaches after its initial
        // configuration; a database that does not answer does not hold the daemon back (it keeps trying).
        if (!service.FirstConfigured.Wait(TimeSpan.FromSeconds(50))) log.LogWarning("the first configuration is not applied after 50 s: saying ready all the same");
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

    /// <summary>
    /// ovs-vswitchd's <c>-v</c> and <c>--verbose</c> as <c>--verbose=SPEC</c> (a bare one as <c>--verbose=ANY:dbg</c>, as
    /// Open vSwitch reads it), so the parser takes the value glued to <c>-v</c> (<c>-vconsole:emer</c>).
    /// </summary>
    public static string[] SpellVerbose(string[] args)
    {
        var spelled = new string[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            spelled[i] = a switch
            {
                "-v" or "--verbose" => "--verbose=ANY:dbg",
                _ when a.StartsWith("-v", StringComparison.Ordinal) => "--verbose=" + a[2..],
                _ => a,
            };
        }
        return spelled;
    }

    /// <summary>
    /// One ovs-vswitchd log spec (vlog(7)): words separated by ':', ',' or spaces, each a module, a destination
    /// (<c>console</c>, <c>syslog</c>, <c>file</c>), a level (<c>off emer err warn info dbg</c>; dbg when none) or
    /// <c>ANY</c>. This daemon writes one destination, the log file when it has one, else the console: a spec naming
    /// it or none sets the level (of the module, or of every module); one naming the other sets nothing, and syslog,
    /// which is not written, nor PATTERN: and FACILITY: (the line's shape is fixed) are said in
    /// <paramref name="unserved"/>. False with why for two destinations, levels or modules in one spec.
    /// </summary>
    public static bool TryApplyVerbose(Vlog vlog, bool toFile, string spec, out string error, out string? unserved)
    {
        error = "";
        unserved = null;
        var words = spec.Split([':', ',', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (words is [var first, ..] && (first.Equals("PATTERN", StringComparison.OrdinalIgnoreCase) || first.Equals("FACILITY", StringComparison.OrdinalIgnoreCase)))
        {
            unserved = $"-v{spec}: taken, not acted on (the log lines' shape is Open vSwitch's default, and nothing is written to syslog)";
            return true;
        }
        string? module = null, destination = null, levelWord = null;
        Vlog.Level? level = null;
        foreach (var word in words)
        {
            string w = word.ToLowerInvariant();
            if (w is "console" or "syslog" or "file")
            {
                if (destination is not null) return Fail($"two destinations ({destination}, {w})", out error);
                destination = w;
            }
            else if (w == "any") { }
            else if (Vlog.TryParseLevel(w, out var l))
            {
                if (level is not null) return Fail($"two levels ({levelWord}, {w})", out error);
                level = l;
                levelWord = w;
            }
            else
            {
                if (module is not null) return Fail($"two modules ({module}, {w}), or a level or destination misspelled", out error);
                module = w;
            }
        }
        if (destination == "syslog")
        {
            unserved = $"-v{spec}: taken, not acted on (nothing is written to syslog)";
            return true;
        }
        if (destination is not null && destination != (toFile ? "file" : "console")) return true;
        return vlog.TrySet($"{module ?? "ANY"}:{Vlog.LevelName(level ?? Vlog.Level.Dbg)}", out error);
    }

    private static bool Fail(string why, out string error)
    {
        error = why;
        return false;
    }

    /// <summary>
    /// ovs-vswitchd's <c>--user USER[:GROUP]</c> names the user (and group) it runs as after it starts: taken when they
    /// are the ones this process runs as already (a name or a number), since this daemon drops no privileges; else false
    /// with why.
    /// </summary>
    public static bool IsOwnUser(string spec, out string error)
    {
        error = "";
        int colon = spec.IndexOf(':');
        string user = colon < 0 ? spec : spec[..colon];
        string? group = colon < 0 ? null : spec[(colon + 1)..];
        uint uid = OperatingSystem.IsLinux() ? GetEuid() : 0, gid = OperatingSystem.IsLinux() ? GetEgid() : 0;
        bool userOk = user.Length == 0 || user == Environment.UserName || user == uid.ToString(System.Globalization.CultureInfo.InvariantCulture)
            || NameOf("/etc/passwd", uid) == user;
        bool groupOk = string.IsNullOrEmpty(group) || group == gid.ToString(System.Globalization.CultureInfo.InvariantCulture) || NameOf("/etc/group", gid) == group;
        if (userOk && groupOk) return true;
        error = $"--user {spec}: this daemon runs as the user that starts it and drops no privileges (it runs as uid {uid}, gid {gid}): leave out --user (OVS_USER) or start it as that user";
        return false;
    }

    /// <summary>The name of id <paramref name="id"/> in a passwd or group file (name:x:id:...), or null.</summary>
    private static string? NameOf(string file, uint id)
    {
        try
        {
            string text = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (var line in File.ReadLines(file))
            {
                var f = line.Split(':');
                if (f.Length > 2 && f[2] == text) return f[0];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial uint GetEgid();
}
