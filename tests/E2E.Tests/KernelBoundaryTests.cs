using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The daemon as a user runs it on veths with the kernel's default offloads (tx checksum offload, TSO and GSO on, no
/// ethtool): TCP works, `softswitch ctl dp/show` shows per port the checksums completed and the super-frames received
/// whole or segmented, `ctl coverage/show` the same in the counter registry with the super-frames handed on whole, and
/// the forwarding thread sleeps in the kernel when idle.
/// </summary>
public sealed partial class KernelBoundaryTests
{
    [E2EFact]
    public void Tcp_WithDefaultVethOffloads_Works_AndDpShowCountsTheOffloads()
    {
        using var hosts = new Hosts(2, "10.78.0", kernelOffloads: true);
        string socket = Path.Combine(Path.GetTempPath(), $"ssw-kernel-{Environment.ProcessId:x}-{Random.Shared.Next():x}.ctl");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "standalone", "--unixctl", socket);
        Assert.True(hosts.Ping(0, 1, 3), "ping failed\n" + sw.Output);

        double bps = hosts.Iperf3(0, 1);
        Console.WriteLine($"iperf3 TCP through softswitch, veth offloads on: {bps / 1e6:F0} Mbit/s");
        Assert.True(bps > 10e6, $"TCP with offloads on: {bps / 1e6:F1} Mbit/s");
        Assert.Equal(hosts.Ips[0], TcpEcho.Run(hosts.Ns[1], hosts.Ips[1], hosts.Ns[0], 15201, 1 << 20));

        var show = SwitchProcess.Ctl("--target", socket, "dp/show");
        Assert.True(show.Ok, show.Stderr + show.Stdout);
        Console.WriteLine(show.Stdout);
        long csum = 0, gso = 0;
        foreach (Match m in OffloadLine().Matches(show.Stdout))
        {
            csum += long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            gso += long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) + long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        }
        Assert.True(csum > 0, "no checksum completed:\n" + show.Stdout);
        Assert.True(gso > 0, "no super-frame received:\n" + show.Stdout);

        var coverage = SwitchProcess.Ctl("--target", socket, "coverage/show");
        Assert.True(coverage.Ok, coverage.Stderr + coverage.Stdout);
        Assert.True(SwitchProcess.CoverageCounter(coverage.Stdout, "kernel-csum-completed") > 0, coverage.Stdout);
        Assert.True(SwitchProcess.CoverageCounter(coverage.Stdout, "gso-handed-on") > 0, "no super-frame handed on whole:\n" + coverage.Stdout);
        Assert.Equal(0, SwitchProcess.CoverageCounter(coverage.Stdout, "gso-refused"));
        var sleeps = SleepLine().Match(show.Stdout);
        Assert.True(sleeps.Success && long.Parse(sleeps.Groups[1].Value, CultureInfo.InvariantCulture) > 0, "the thread never slept:\n" + show.Stdout);
    }

    [GeneratedRegex(@"csum-completed (\d+), gso-whole (\d+), gso-segmented (\d+)")]
    private static partial Regex OffloadLine();

    [GeneratedRegex(@"thread 0: \d+ packets, (\d+) sleeps in the kernel")]
    private static partial Regex SleepLine();
}
