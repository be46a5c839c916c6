using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// scripts/build-deb.sh: the package's control fields and files, read back with dpkg-deb --info, --contents and
/// --extract. The binary packaged is this build's program (SOFTSWITCH_BINARY), so the test does not wait for a
/// NativeAOT build; the layout is the same.
/// </summary>
public sealed class DebPackageTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-deb-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "scripts", "build-deb.sh"))) return d.FullName;
        throw new InvalidOperationException("no scripts/build-deb.sh above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), $"{file} {string.Join(' ', args)} did not finish");
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    [ToolFact]
    [RequiresTool("dpkg-deb")]
    public void BuildDeb_HoldsBinaryUnitManPage_WithControlFields()
    {
        string binary = Path.Combine(AppContext.BaseDirectory, "softswitch.dll");
        var build = Run("bash", [Path.Combine(RepoRoot(), "scripts", "build-deb.sh"), _dir.FullName], new Dictionary<string, string> { ["SOFTSWITCH_BINARY"] = binary });
        Assert.True(build.Code == 0, build.Err + build.Out);
        string deb = Assert.Single(Directory.GetFiles(_dir.FullName, "*.deb"));
        Assert.Contains($"build-deb.sh: {deb}", build.Out);
        Assert.Matches(@"/softswitch_\d+\.\d+\.\d+(\+g[0-9a-f]{7})?_[a-z0-9]+\.deb$", deb);

        var info = Run("dpkg-deb", ["--info", deb]);
        Assert.Equal(0, info.Code);
        Assert.Matches(@"(?m)^ Package: softswitch$", info.Out);
        Assert.Matches(@"(?m)^ Version: \d+\.\d+\.\d+(\+g[0-9a-f]{7})?$", info.Out);
        Assert.Matches(@"(?m)^ Architecture: \S+$", info.Out);
        Assert.Matches(@"(?m)^ Depends: libc6, libssl3 \| libssl3t64, libpcap0\.8 \| libpcap0\.8t64$", info.Out);
        Assert.Matches(@"(?m)^ Maintainer: [^<>]+ <[^@<> ]+@[^@<> ]+>$", info.Out);
        Assert.DoesNotContain("@localhost", info.Out);
        Assert.Matches(@"(?m)^ Installed-Size: [1-9]\d*$", info.Out);
        Assert.Contains(" Description: user-space OpenFlow 1.0 switch", info.Out);

        var contents = Run("dpkg-deb", ["--contents", deb]);
        Assert.Equal(0, contents.Code);
        Assert.Matches(@"(?m)^-rwxr-xr-x root/root .* \./usr/bin/softswitch$", contents.Out);
        // ovs-ctl's ovs-vswitchd (OVS_SBINDIR=/usr/lib/softswitch/sbin): a relative link to the binary.
        Assert.Matches(@"(?m)^lrwxrwxrwx root/root .* \./usr/lib/softswitch/sbin/ovs-vswitchd -> \.\./\.\./\.\./bin/softswitch$", contents.Out);
        foreach (var file in new[] { "usr/lib/systemd/system/softswitch@.service", "usr/share/man/man8/softswitch.8.gz",
                     "usr/share/softswitch/mininet/softswitch_mn.py", "usr/share/doc/softswitch/README.md.gz",
                     "usr/share/doc/softswitch/copyright", "usr/share/doc/softswitch/changelog.gz" })
        {
            Assert.Matches($@"(?m)^-rw-r--r-- root/root .* \./{Regex.Escape(file)}$", contents.Out);
        }

        string root = Path.Combine(_dir.FullName, "x");
        Assert.Equal(0, Run("dpkg-deb", ["--extract", deb, root]).Code);
        Assert.Equal(File.ReadAllBytes(binary), File.ReadAllBytes(Path.Combine(root, "usr/bin/softswitch")));
        string unit = File.ReadAllText(Path.Combine(root, "usr/lib/systemd/system/softswitch@.service"));
        Assert.Contains("ExecStart=/usr/bin/softswitch run --config /etc/softswitch/%i.json", unit);
        Assert.DoesNotContain("@BINDIR@", unit);
        // The Mininet class runs the packaged binary by its absolute path, whatever PATH a Mininet run has.
        Assert.Contains("\n_INSTALLED_BINDIR = '/usr/bin'\n", File.ReadAllText(Path.Combine(root, "usr/share/softswitch/mininet/softswitch_mn.py")));
        using var man = new GZipStream(File.OpenRead(Path.Combine(root, "usr/share/man/man8/softswitch.8.gz")), CompressionMode.Decompress);
        string page = new StreamReader(man).ReadToEnd();
        Assert.StartsWith(".TH SOFTSWITCH 8", page);
        // The man page lists every option of `softswitch run`.
        foreach (Match m in Regex.Matches(File.ReadAllText(Path.Combine(RepoRoot(), "src", "Softswitch", "Program.cs")), @"new Option<[^>]+>\(""(--[a-z-]+)"""))
            Assert.Contains(m.Groups[1].Value.Replace("-", @"\-"), page);
    }

    /// <summary>
    /// lintian finds no error in the package. The binary here is this build's program (not an ELF file), so the one
    /// tag allowed beyond errors' absence is lintian's warning that /usr/bin/softswitch is neither ELF nor a script; the
    /// NativeAOT build has no such warning. No overrides are shipped.
    /// </summary>
    [ToolFact]
    [RequiresTool("dpkg-deb")]
    [RequiresTool("lintian")]
    public void BuildDeb_Lintian_ReportsNoErrors()
    {
        string binary = Path.Combine(AppContext.BaseDirectory, "softswitch.dll");
        var build = Run("bash", [Path.Combine(RepoRoot(), "scripts", "build-deb.sh"), _dir.FullName], new Dictionary<string, string> { ["SOFTSWITCH_BINARY"] = binary });
        Assert.True(build.Code == 0, build.Err + build.Out);
        string deb = Assert.Single(Directory.GetFiles(_dir.FullName, "*.deb"));
        var lint = Run("lintian", ["--tag-display-limit", "0", "--fail-on", "error", deb]);
        var tags = lint.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Length > 2 && l[1] == ':' && l[0] is 'E' or 'W').ToList();
        Assert.True(lint.Code == 0, $"lintian exit {lint.Code}:\n{lint.Out}{lint.Err}");
        Assert.DoesNotContain(tags, t => t.StartsWith("E:", StringComparison.Ordinal));
        Assert.All(tags, t => Assert.Equal("W: softswitch: executable-not-elf-or-script [usr/bin/softswitch]", t));

        // The copyright file is in the machine-readable format, and the changelog names this version.
        string root = Path.Combine(_dir.FullName, "x");
        Assert.Equal(0, Run("dpkg-deb", ["--extract", deb, root]).Code);
        string copyright = File.ReadAllText(Path.Combine(root, "usr/share/doc/softswitch/copyright"));
        Assert.StartsWith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n", copyright);
        Assert.Matches(@"(?m)^Files: \*$", copyright);
    }
}
