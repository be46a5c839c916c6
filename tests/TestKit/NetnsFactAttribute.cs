using System.Runtime.InteropServices;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Softswitch.TestKit;

/// <summary>
/// A fact that needs root and `ip netns` (and libpcap when its class is marked <see cref="RequiresLibraryAttribute"/>,
/// a kernel device type with <see cref="RequiresLinkTypeAttribute"/>, programs with <see cref="RequiresToolAttribute"/>).
/// When a requirement is missing the test is reported as skipped with the reason, and the reason is also printed
/// once to stderr so a CI log shows why.
/// </summary>
[XunitTestCaseDiscoverer("Softswitch.TestKit.NetnsFactDiscoverer", "Softswitch.TestKit")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class NetnsFactAttribute : FactAttribute;

/// <summary>The test class needs a native library (e.g. libpcap.so.0.8); its namespace tests skip without it.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresLibraryAttribute(string library, string installHint) : Attribute
{
    public string Library { get; } = library;
    public string InstallHint { get; } = installHint;
}

/// <summary>
/// The test needs a kernel network device type (`ip link add ... type TYPE`), e.g. gretap from the ip_gre module. A
/// kernel without it reports the test as skipped with the reason; where the type exists the test runs.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class RequiresLinkTypeAttribute(string type, string module) : Attribute
{
    public string Type { get; } = type;
    public string Module { get; } = module;
}

/// <summary>
/// The test (on a class: each of its tests) runs a program, e.g. tshark or ovs-vswitchd; read by <see cref="NetnsFactAttribute"/>,
/// <see cref="ToolFactAttribute"/> and <see cref="ToolTheoryAttribute"/>. Without it the test is skipped with the reason,
/// except in CI (CI=true), which installs every tool (scripts/install-deps.sh): there the test fails, saying which is missing.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true)]
public sealed class RequiresToolAttribute(string tool) : Attribute
{
    public string Tool { get; } = tool;
}

public sealed class NetnsFactDiscoverer(IMessageSink sink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        string? reason = TestEnv.Reason;
        if (reason is null)
        {
            foreach (var lib in testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresLibraryAttribute)))
            {
                string name = lib.GetConstructorArguments().First() as string ?? "";
                if (!TestEnv.HasLibrary(name))
                {
                    reason = $"{name} is not installed ({lib.GetConstructorArguments().Skip(1).First()})";
                    break;
                }
            }
        }
        if (reason is null)
        {
            foreach (var lt in testMethod.Method.GetCustomAttributes(typeof(RequiresLinkTypeAttribute)))
            {
                var args = lt.GetConstructorArguments().Cast<string>().ToArray();
                if (TestEnv.LinkTypeProblem(args[0]) is { } problem)
                {
                    reason = $"this kernel has no {args[0]} devices ({problem}); load the {args[1]} module to run this test";
                    break;
                }
            }
        }
        return Requirements.Unrunnable(sink, options, testMethod, reason, "namespace tests")
               ?? [new XunitTestCase(sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod)];
    }
}

public static class TestEnv
{
    private static readonly Lazy<string?> s_reason = new(Probe);
    private static readonly HashSet<string> s_reported = [];

    public static string? Reason => s_reason.Value;

    private static readonly Dictionary<string, string?> s_linkTypes = [];

    /// <summary>Null when `ip link add` can create a device of <paramref name="type"/> (tried in a throwaway namespace), else why not.</summary>
    public static string? LinkTypeProblem(string type)
    {
        lock (s_linkTypes)
        {
            if (s_linkTypes.TryGetValue(type, out var known)) return known;
            string ns = $"ssw-lt{Environment.ProcessId:x}";
            string[] args = type switch
            {
                "vxlan" => ["type", "vxlan", "id", "1", "dstport", "4789", "local", "10.99.99.1"],
                "gretap" or "gre" or "ipip" => ["type", type, "local", "10.99.99.1", "remote", "10.99.99.2"],
                _ => ["type", type],
            };
            Sh.Run("ip", "netns", "add", ns);
            try
            {
                // tap: a tun/tap device (`ip tuntap`, /dev/net/tun), as ssh -w tunnels and Mininet's cluster edition use.
                var r = type == "tap"
                    ? Sh.Run("ip", "-n", ns, "tuntap", "add", "dev", "probe0", "mode", "tap")
                    : Sh.Run("ip", ["-n", ns, "link", "add", "probe0", .. args]);
                return s_linkTypes[type] = r.Ok ? null : (r.Stderr.Trim() is { Length: > 0 } e ? e : $"exit code {r.ExitCode}");
            }
            finally
            {
                Sh.Run("ip", "netns", "del", ns);
            }
        }
    }

    public static bool HasLibrary(string name)
    {
        if (!NativeLibrary.TryLoad(name, out var h)) return false;
        NativeLibrary.Free(h);
        return true;
    }

    /// <summary>Prints the reason to stderr the first time; true then.</summary>
    public static bool Report(string reason, string what = "namespace tests")
    {
        lock (s_reported)
        {
            if (!s_reported.Add(reason)) return false;
        }
        Console.Error.WriteLine($"[{System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name ?? "tests"}] {what} skipped: {reason}");
        return true;
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (!Environment.IsPrivilegedProcess) return "not running as root (network namespaces and raw sockets need root)";
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
