using System.Runtime.InteropServices;

namespace Softswitch.Ports.Tests.Infra;

/// <summary>
/// A fact that needs root and `ip netns` (and optionally libpcap). When a requirement is missing the test is
/// reported as skipped with the reason, and the reason is also printed once to stderr so a CI log shows it.
/// </summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute(bool needsPcap = false)
    {
        string? reason = TestEnv.Reason;
        if (reason is null && needsPcap && !TestEnv.HasPcap)
            reason = "libpcap.so.0.8 is not installed (apt-get install libpcap0.8)";
        if (reason is not null)
        {
            Skip = "SKIPPED: " + reason;
            TestEnv.Report(reason);
        }
    }
}

internal static class TestEnv
{
    private static readonly Lazy<string?> s_reason = new(Probe);
    private static readonly Lazy<bool> s_pcap = new(() => NativeLibrary.TryLoad("libpcap.so.0.8", out _));
    private static readonly HashSet<string> s_reported = [];

    public static string? Reason => s_reason.Value;
    public static bool HasPcap => s_pcap.Value;

    public static void Report(string reason)
    {
        lock (s_reported)
            if (s_reported.Add(reason)) Console.Error.WriteLine($"[Ports.Tests] namespace tests skipped: {reason}");
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Softswitch.Ports.Linux.Privileges.EffectiveUid != 0) return "not running as root (network namespaces and raw sockets need root)";
        if (!Sh.Exists("ip")) return "the `ip` command (iproute2) is not installed";
        if (!Sh.Exists("/usr/bin/python3") && !Sh.Exists("python3")) return "python3 is not installed (used to send and capture frames inside the namespace)";
        try
        {
            var r = Sh.Run("ip", "netns", "list");
            if (!r.Ok) return $"`ip netns list` failed: {r.Stderr.Trim()}";
        }
        catch (Exception e) { return $"`ip netns` unavailable: {e.Message}"; }
        return null;
    }
}
