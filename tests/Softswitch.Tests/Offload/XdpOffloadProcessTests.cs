using System.Diagnostics;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Tests.Offload;

/// <summary>A switch run with <c>--offload xdp</c> and killed leaves no XDP program on its interfaces (BPF links go with their fds).</summary>
public sealed class XdpOffloadProcessTests(ITestOutputHelper output)
{
    private static string Dll => Path.Combine(AppContext.BaseDirectory, "softswitch.dll");

    private static string XdpOf(string ifname) => Sh.Run("ip", "-d", "link", "show", ifname).Stdout;

    [NetnsFact]
    public void AKilledSwitch_LeavesNoXdpProgramAttached()
    {
        using var a = VethPair.Create();
        using var b = VethPair.Create();
        var dir = Directory.CreateTempSubdirectory("ssw-xdpkill-");
        const string Dpid = "00000000000058d0";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Dll, "run", "--ports", $"afxdp:{a.A},afxdp:{b.A}", "--offload", "xdp", "--local-port", "none", "--dpid", Dpid,
                     "--unixctl", Path.Combine(dir.FullName, "sw.ctl") })
        {
            psi.ArgumentList.Add(arg);
        }
        using var p = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            var sw = Stopwatch.StartNew();
            // The ports open one after the other: wait for both programs.
            while (!(XdpOf(a.A).Contains("ssw_xdp_flows", StringComparison.Ordinal) && XdpOf(b.A).Contains("ssw_xdp_flows", StringComparison.Ordinal)) &&
                   sw.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited)
            {
                Thread.Sleep(100);
            }
            string before = XdpOf(a.A);
            output.WriteLine(before);
            Assert.True(before.Contains("ssw_xdp_flows", StringComparison.Ordinal), "the flow program was never attached: " + log);
            Assert.Contains("ssw_xdp_flows", XdpOf(b.A));

            p.Kill();   // SIGKILL: no cleanup runs
            Assert.True(p.WaitForExit(10_000));
            sw.Restart();
            while ((XdpOf(a.A).Contains("prog/xdp", StringComparison.Ordinal) || XdpOf(b.A).Contains("prog/xdp", StringComparison.Ordinal)) &&
                   sw.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(100);
            }
            Assert.DoesNotContain("prog/xdp", XdpOf(a.A));
            Assert.DoesNotContain("prog/xdp", XdpOf(b.A));
        }
        finally
        {
            if (!p.HasExited) p.Kill(true);
            dir.Delete(true);
            File.Delete($"/run/softswitch/{Dpid}.mgmt");
        }
    }
}
