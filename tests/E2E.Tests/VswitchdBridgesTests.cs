using System.Diagnostics;
using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Many bridges in one `softswitch vswitchd`, driven by Debian's ovsdb-server and ovs-vsctl: one set of forwarding
/// threads serves them all (other_config:n-pmd-threads), and bridges joined by patch ports forward between namespaces.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
public sealed class VswitchdBridgesTests
{
    private static string Softswitch => Path.Combine(AppContext.BaseDirectory, "softswitch");

    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    [E2EFact]
    public void FifteenBridges_AreServedByTheForwardingThreadsConfigured()
    {
        using var db = OvsdbServer.Start("ssw-vsd15-");
        db.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:n-pmd-threads=2");
        int pid = StartDaemon(db);
        var bridges = Enumerable.Range(0, 15).Select(i => $"ovt{s_id}x{i}").ToArray();
        try
        {
            db.Vsctl([.. bridges.SelectMany(b => new[] { "--", "add-br", b })]);
            foreach (var b in bridges) Assert.Equal("65534", db.Vsctl("get", "Interface", b, "ofport").Trim());
            Assert.Equal(2, Threads(pid, "fwd-"));
            Assert.Equal(1, Threads(pid, "link-monitor"));
            db.Vsctl([.. bridges.SelectMany(b => new[] { "--", "del-br", b })]);
            Assert.Equal(2, Threads(pid, "fwd-"));
        }
        finally
        {
            StopDaemon(pid);
            foreach (var b in bridges) Sh.Run("ip", "link", "del", b);
        }
    }

    /// <summary>Starts the daemon detached on <paramref name="db"/>; returns its pid.</summary>
    internal static int StartDaemon(OvsdbServer db)
    {
        var start = Sh.Run("env", [$"OVS_RUNDIR={db.RunDir}", Softswitch, "vswitchd", "--pidfile", "--detach", $"--log-file={db.RunDir}/vswitchd.log"], 60_000);
        Assert.True(start.Ok, $"vswitchd did not start ({start.ExitCode}): {start.Stderr}{start.Stdout}");
        return int.Parse(File.ReadAllText(Path.Combine(db.RunDir, "ovs-vswitchd.pid")).Trim(), CultureInfo.InvariantCulture);
    }

    internal static void StopDaemon(int pid)
    {
        Sh.Run("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
        Poll(() => !File.Exists($"/proc/{pid}/stat"), 15);
    }

    /// <summary>Threads of process <paramref name="pid"/> whose name starts with <paramref name="prefix"/>.</summary>
    internal static int Threads(int pid, string prefix)
    {
        int n = 0;
        foreach (var dir in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).StartsWith(prefix, StringComparison.Ordinal)) n++;
            }
            catch (IOException) { }   // the thread ended meanwhile
        }
        return n;
    }

    internal static bool Poll(Func<bool> ready, double seconds)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            if (ready()) return true;
            Thread.Sleep(100);
        }
        return ready();
    }
}
