using System.Diagnostics;
using Softswitch.TestKit;

namespace Softswitch.Tests.Vswitchd;

/// <summary>
/// scripts/install-vswitchd.sh: the drop-in that makes Open vSwitch's ovs-vswitchd.service run `softswitch vswitchd`
/// (by its link ovs-vswitchd, and ovs-ctl restart with that link's directory as OVS_SBINDIR on a reload),
/// installed into a staging root (DESTDIR) and checked by systemd itself (systemd-analyze verify: every key known,
/// the command executable); --uninstall takes it away; a missing binary is refused.
/// </summary>
public sealed class VswitchdServiceTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-vsunit-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "scripts", "install-vswitchd.sh"))) return d.FullName;
        throw new InvalidOperationException("no scripts/install-vswitchd.sh above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{file} {string.Join(' ', args)} did not finish");
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    private string Script => Path.Combine(RepoRoot(), "scripts", "install-vswitchd.sh");

    private Dictionary<string, string> Staging => new() { ["DESTDIR"] = Path.Combine(_dir.FullName, "root") };

    private string DropIn => Path.Combine(_dir.FullName, "root", "etc", "systemd", "system", "ovs-vswitchd.service.d", "softswitch.conf");

    [ToolFact]
    [RequiresTool("systemd-analyze")]
    public void DropIn_IsInstalled_AndVerifiedBySystemd()
    {
        string bin = Path.Combine(_dir.FullName, "root", "usr", "bin");
        Directory.CreateDirectory(bin);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "softswitch"), Path.Combine(bin, "softswitch"));
        string sbin = Directory.CreateDirectory(Path.Combine(_dir.FullName, "root", "usr", "lib", "softswitch", "sbin")).FullName;
        File.CreateSymbolicLink(Path.Combine(sbin, "ovs-vswitchd"), "../../../bin/softswitch");
        var install = Run("bash", [Script, "/usr"], Staging);
        Assert.True(install.Code == 0, install.Err + install.Out);
        string unit = File.ReadAllText(DropIn);
        Assert.Contains("\nExecStart=\nExecStart=/usr/lib/softswitch/sbin/ovs-vswitchd unix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovs-vswitchd.pid", unit);
        Assert.Contains("\nType=notify\n", unit);
        // The reload is ovs-ctl's restart with the link's directory as its sbindir: the flows are saved and restored.
        Assert.Contains("\nEnvironment=OVS_SBINDIR=/usr/lib/softswitch/sbin\n", unit);
        Assert.Contains("\nExecReload=\nExecReload=/usr/share/openvswitch/scripts/ovs-ctl --no-ovsdb-server --no-monitor --system-id=random --no-record-hostname restart $OVS_CTL_OPTS\n", unit);
        Assert.DoesNotContain("@PREFIX@", unit);

        // systemd reads it as the drop-in of ovs-vswitchd.service (Debian's unit when installed, else a stand-in), the
        // command pointing at the staged binary so it can check that it is executable.
        string units = Directory.CreateDirectory(Path.Combine(_dir.FullName, "units")).FullName;
        const string Installed = "/lib/systemd/system/ovs-vswitchd.service";
        if (File.Exists(Installed)) File.Copy(Installed, Path.Combine(units, "ovs-vswitchd.service"));
        else File.WriteAllText(Path.Combine(units, "ovs-vswitchd.service"), "[Unit]\nDescription=Open vSwitch Forwarding Unit\n[Service]\nType=forking\nExecStart=/bin/true\n");
        string dropDir = Directory.CreateDirectory(Path.Combine(units, "ovs-vswitchd.service.d")).FullName;
        File.WriteAllText(Path.Combine(dropDir, "softswitch.conf"), unit.Replace("/usr/lib/softswitch/sbin", sbin));
        var verify = Run("systemd-analyze", ["verify", Path.Combine(units, "ovs-vswitchd.service")], new Dictionary<string, string> { ["SYSTEMD_UNIT_PATH"] = units + ":" });
        Assert.True(verify.Code == 0, verify.Err + verify.Out);
        Assert.DoesNotContain("softswitch.conf", verify.Err);   // an unknown key or a bad value is named by its file

        // A drop-in whose command is not there fails the same check (the verification can fail).
        File.WriteAllText(Path.Combine(dropDir, "softswitch.conf"), unit.Replace("/usr/lib/softswitch/sbin", Path.Combine(_dir.FullName, "missing")));
        Assert.NotEqual(0, Run("systemd-analyze", ["verify", Path.Combine(units, "ovs-vswitchd.service")], new Dictionary<string, string> { ["SYSTEMD_UNIT_PATH"] = units + ":" }).Code);

        var uninstall = Run("bash", [Script, "--uninstall", "/usr"], Staging);
        Assert.True(uninstall.Code == 0, uninstall.Err);
        Assert.False(File.Exists(DropIn));
    }

    [Fact]
    public void WithoutTheBinary_TheScriptSaysToInstallItFirst()
    {
        var r = Run("bash", [Script, "/usr"], Staging);
        Assert.Equal(2, r.Code);
        Assert.Contains("run scripts/install.sh /usr first", r.Err);
        Assert.False(File.Exists(DropIn));
    }
}
