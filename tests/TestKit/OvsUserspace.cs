using System.Diagnostics;
using System.Globalization;

namespace Softswitch.TestKit;

/// <summary>
/// Open vSwitch in user space (ovsdb-server and ovs-vswitchd; bridges with datapath_type=netdev) running inside a
/// namespace with a private run directory: its database, sockets, pid files and logs live there, its bridges'
/// internal ports are tap devices of that namespace, and its tunnel routing table is that namespace's. Ends only
/// the two processes it started, by the pids in their pid files.
/// </summary>
public sealed class OvsUserspace : IDisposable
{
    private bool _disposed;

    public string RunDir { get; }

    private OvsUserspace(string runDir) => RunDir = runDir;

    public static OvsUserspace Start(Netns ns)
    {
        var ovs = new OvsUserspace(Directory.CreateTempSubdirectory("ssw-ovs").FullName);
        try
        {
            string run = ovs.RunDir;
            string[] env = ["env", $"OVS_RUNDIR={run}", $"OVS_LOGDIR={run}", $"OVS_DBDIR={run}"];
            Check(Sh.Run("ovsdb-tool", "create", $"{run}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema"));
            Check(Sh.Run("ip", ["netns", "exec", ns.Name, .. env, "ovsdb-server", $"{run}/conf.db", $"--remote=punix:{run}/db.sock",
                $"--pidfile={run}/ovsdb-server.pid", $"--log-file={run}/ovsdb-server.log", $"--unixctl={run}/ovsdb-server.ctl", "--detach", "--no-chdir"]));
            ovs.Vsctl("--no-wait", "init");
            Check(Sh.Run("ip", ["netns", "exec", ns.Name, .. env, "ovs-vswitchd", $"unix:{run}/db.sock",
                $"--pidfile={run}/ovs-vswitchd.pid", $"--log-file={run}/ovs-vswitchd.log", $"--unixctl={run}/ovs-vswitchd.ctl", "--detach", "--no-chdir"], 30_000));
            return ovs;
        }
        catch
        {
            ovs.Dispose();
            throw;
        }
    }

    /// <summary>ovs-vsctl against this instance's database; throws with its stderr on failure.</summary>
    public string Vsctl(params string[] args) => Check(Sh.Run("ovs-vsctl", ["--timeout=20", $"--db=unix:{RunDir}/db.sock", .. args], 30_000));

    /// <summary>ovs-appctl to this instance's ovs-vswitchd.</summary>
    public string Appctl(params string[] args) => Check(Sh.Run("ovs-appctl", ["-t", $"{RunDir}/ovs-vswitchd.ctl", .. args]));

    /// <summary>ovs-ofctl CMD on <paramref name="bridge"/> through its management socket.</summary>
    public string Ofctl(string cmd, string bridge, params string[] args) => Check(Sh.Run("ovs-ofctl", [cmd, $"unix:{RunDir}/{bridge}.mgmt", .. args]));

    /// <summary>The tail of ovs-vswitchd's log (for failure messages).</summary>
    public string LogTail
    {
        get
        {
            try
            {
                var lines = File.ReadAllLines(Path.Combine(RunDir, "ovs-vswitchd.log"));
                return string.Join('\n', lines[Math.Max(0, lines.Length - 30)..]);
            }
            catch (IOException e)
            {
                return "(no ovs-vswitchd log: " + e.Message + ")";
            }
        }
    }

    private static string Check(Sh.Result r)
    {
        if (!r.Ok) throw new InvalidOperationException($"Open vSwitch command failed ({r.ExitCode}): {r.Stderr.Trim()} {r.Stdout.Trim()}");
        return r.Stdout;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var daemon in new[] { "ovs-vswitchd", "ovsdb-server" })
        {
            string pidFile = Path.Combine(RunDir, daemon + ".pid");
            if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            Sh.Run("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
            var sw = Stopwatch.StartNew();
            while (Alive(pid) && sw.ElapsedMilliseconds < 5000) Thread.Sleep(20);
            if (Alive(pid)) Sh.Run("kill", "-KILL", pid.ToString(CultureInfo.InvariantCulture));
        }
        try { Directory.Delete(RunDir, true); } catch (IOException) { }
    }

    /// <summary>The process exists and is not a zombie (a detached daemon is reaped by whoever adopted it).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
