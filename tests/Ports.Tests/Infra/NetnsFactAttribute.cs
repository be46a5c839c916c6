using System.Runtime.InteropServices;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Softswitch.Ports.Tests.Infra;

/// <summary>
/// A fact that needs root and `ip netns` (and libpcap when its class is marked <see cref="RequiresLibraryAttribute"/>,
/// and programs named by <see cref="RequiresToolAttribute"/>). When a requirement is missing the test is reported as
/// skipped with the reason, and the reason is also printed once to stderr so a CI log shows why.
/// </summary>
[XunitTestCaseDiscoverer("Softswitch.Ports.Tests.Infra.NetnsFactDiscoverer", "Softswitch.Ports.Tests")]
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
/// The test (on a class: each of its namespace tests) runs a program, e.g. tshark or ovs-vswitchd. Without it the test
/// is skipped with the reason, except in CI (CI=true), which installs every tool (scripts/install-deps.sh): there the
/// test runs and fails where it calls the program.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true)]
public sealed class RequiresToolAttribute(string tool) : Attribute
{
    public string Tool { get; } = tool;
}

/// <summary>
/// A namespace fact that needs the kernel to create devices of <paramref name="linkType"/> (gretap comes from the ip_gre
/// module, ipip from ipip). Discovery probes <c>ip link add ... type LINKTYPE</c> in a throwaway namespace; a kernel
/// without the type reports the test as skipped with the reason, a kernel with it runs the test.
/// </summary>
[XunitTestCaseDiscoverer("Softswitch.Ports.Tests.Infra.KernelTunnelFactDiscoverer", "Softswitch.Ports.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelTunnelFactAttribute(string linkType) : FactAttribute
{
    public string LinkType { get; } = linkType;
}

public class NetnsFactDiscoverer(IMessageSink sink) : IXunitTestCaseDiscoverer
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
        if (reason is null && Environment.GetEnvironmentVariable("CI") != "true")
        {
            var tools = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresToolAttribute))
                .Concat(testMethod.Method.GetCustomAttributes(typeof(RequiresToolAttribute)));
            foreach (var tool in tools)
            {
                string name = tool.GetConstructorArguments().First() as string ?? "";
                if (!Sh.Exists(name))
                {
                    reason = $"{name} is not installed (run scripts/install-deps.sh as root)";
                    break;
                }
            }
        }
        reason ??= ExtraReason(factAttribute);
        var display = options.MethodDisplayOrDefault();
        var displayOptions = options.MethodDisplayOptionsOrDefault();
        if (reason is not null)
        {
            if (TestEnv.Report(reason)) sink.OnMessage(new DiagnosticMessage($"[Ports.Tests] namespace tests skipped: {reason}"));
            return [new XunitSkippedDataRowTestCase(sink, display, displayOptions, testMethod, "SKIPPED: " + reason)];
        }
        return [new XunitTestCase(sink, display, displayOptions, testMethod)];
    }

    /// <summary>A further requirement of a derived fact attribute; null when it is met.</summary>
    protected virtual string? ExtraReason(IAttributeInfo factAttribute) => null;
}

/// <summary>Skips a <see cref="KernelTunnelFactAttribute"/> test when the kernel cannot create its link type.</summary>
public sealed class KernelTunnelFactDiscoverer(IMessageSink sink) : NetnsFactDiscoverer(sink)
{
    protected override string? ExtraReason(IAttributeInfo factAttribute)
        => KernelLinkTypes.Missing(factAttribute.GetConstructorArguments().First() as string ?? "");
}

/// <summary>Which link types the running kernel can create (probed once per type, in a throwaway namespace).</summary>
public static class KernelLinkTypes
{
    private static readonly Dictionary<string, string?> s_missing = new(StringComparer.Ordinal);

    /// <summary>Null when <c>ip link add X type <paramref name="linkType"/></c> works here; otherwise why not.</summary>
    public static string? Missing(string linkType)
    {
        lock (s_missing)
        {
            if (!s_missing.TryGetValue(linkType, out var reason)) s_missing[linkType] = reason = Probe(linkType);
            return reason;
        }
    }

    private static string? Probe(string linkType)
    {
        string ns = "ssw-kp" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var add = Sh.Run("ip", "netns", "add", ns);
        if (!add.Ok) return $"cannot create a namespace to probe for {linkType} devices: {add.Stderr.Trim()}";
        try
        {
            // The least each type accepts: vxlan needs its VNI, the others need nothing.
            string[] args = linkType == "vxlan" ? ["id", "1", "dstport", "4789"] : [];
            var r = Sh.Run("ip", ["-n", ns, "link", "add", "probe0", "type", linkType, .. args]);
            if (r.Ok) return null;
            string module = linkType switch { "gretap" or "gre" => "ip_gre", "vxlan" => "vxlan", _ => linkType };
            return $"the kernel cannot create {linkType} devices ({r.Stderr.Trim()}; it needs the {module} module, e.g. modprobe {module})";
        }
        finally
        {
            Sh.Run("ip", "netns", "del", ns);
        }
    }
}

internal static class TestEnv
{
    private static readonly Lazy<string?> s_reason = new(Probe);
    private static readonly HashSet<string> s_reported = [];

    public static string? Reason => s_reason.Value;

    public static bool HasLibrary(string name)
    {
        if (!NativeLibrary.TryLoad(name, out var h)) return false;
        NativeLibrary.Free(h);
        return true;
    }

    /// <summary>Prints the reason to stderr the first time; true then.</summary>
    public static bool Report(string reason)
    {
        lock (s_reported)
        {
            if (!s_reported.Add(reason)) return false;
        }
        Console.Error.WriteLine($"[Ports.Tests] namespace tests skipped: {reason}");
        return true;
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
