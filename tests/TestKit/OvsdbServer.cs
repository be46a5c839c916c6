using System.Diagnostics;
using System.Globalization;

namespace Softswitch.TestKit;

/// <summary>
/// A private Open vSwitch database: Debian's ovsdb-server on a fresh database (the installed vswitch schema) in a
/// temporary run directory, with its socket, pid file and log there. Ends only the server it started, by its pid.
/// </summary>
public sealed class OvsdbServer : IDisposable
{
    public const string SchemaPath = "/usr/share/openvswitch/vswitch.ovsschema";

    private bool _disposed;

    public string RunDir { get; }

    /// <summary>The database remote: <c>unix:RUNDIR/db.sock</c>.</summary>
    public string Remote => $"unix:{RunDir}/db.sock";

    private OvsdbServer(string runDir) => RunDir = runDir;

    /// <summary>Creates the database, starts the server and initialises the Open_vSwitch row (ovs-vsctl --no-wait init).</summary>
    public static OvsdbServer Start(string prefix = "ssw-ovsdb-")
    {
        var db = new OvsdbServer(Directory.CreateTempSubdirectory(prefix).FullName);
        try
        {
            string run = db.RunDir;
            Check(Sh.Run("ovsdb-tool", "create", $"{run}/conf.db", SchemaPath));
            Check(Sh.Run("ovsdb-server", $"{run}/conf.db", $"--remote=punix:{run}/db.sock", $"--pidfile={run}/ovsdb-server.pid",
                $"--log-file={run}/ovsdb-server.log", $"--unixctl={run}/ovsdb-server.ctl", "--detach", "--no-chdir"));
            db.Vsctl("--no-wait", "init");
            return db;
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>The environment every Open vSwitch tool uses to find this database and the daemon's sockets.</summary>
    public string[] Env => ["env", $"OVS_RUNDIR={RunDir}", $"OVS_LOGDIR={RunDir}", $"OVS_DBDIR={RunDir}"];

    /// <summary>ovs-vsctl against this database (waits at most 20 s for the daemon); throws with its stderr on failure.</summary>
    public string Vsctl(params string[] args) => Check(Sh.Run("ovs-vsctl", ["--timeout=20", $"--db={Remote}", .. args], 30_000));

    /// <summary>ovs-vsctl as above, its result unchecked.</summary>
    public Sh.Result TryVsctl(params string[] args) => Sh.Run("ovs-vsctl", ["--timeout=20", $"--db={Remote}", .. args], 30_000);

    /// <summary>An Open vSwitch tool with OVS_RUNDIR set to this run directory (so ovs-ofctl BRIDGE and ovs-appctl find our sockets).</summary>
    public Sh.Result Tool(string tool, params string[] args) => Sh.Run("env", [$"OVS_RUNDIR={RunDir}", tool, .. args], 30_000);

    public static string Check(Sh.Result r)
    {
        if (!r.Ok) throw new InvalidOperationException($"command failed ({r.ExitCode}): {r.Stderr.Trim()} {r.Stdout.Trim()}");
        return r.Stdout;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        string pidFile = Path.Combine(RunDir, "ovsdb-server.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            Sh.Run("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
            var sw = Stopwatch.StartNew();
            while (File.Exists($"/proc/{pid}/stat") && sw.ElapsedMilliseconds < 5000) Thread.Sleep(20);
            if (File.Exists($"/proc/{pid}/stat")) Sh.Run("kill", "-KILL", pid.ToString(CultureInfo.InvariantCulture));
        }
        try { Directory.Delete(RunDir, true); } catch (IOException) { }
    }
}
