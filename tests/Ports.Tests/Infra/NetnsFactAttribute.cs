using System.Runtime.InteropServices;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Softswitch.Ports.Tests.Infra;

/// <summary>
/// A fact that needs root and `ip netns` (and libpcap when its class is marked <see cref="RequiresLibraryAttribute"/>).
/// When a requirement is missing the test is reported as skipped with the reason, and the reason is also printed
/// once to stderr so a CI log shows why.
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
        var display = options.MethodDisplayOrDefault();
        var displayOptions = options.MethodDisplayOptionsOrDefault();
        if (reason is not null)
        {
            if (TestEnv.Report(reason)) sink.OnMessage(new DiagnosticMessage($"[Ports.Tests] namespace tests skipped: {reason}"));
            return [new XunitSkippedDataRowTestCase(sink, display, displayOptions, testMethod, "SKIPPED: " + reason)];
        }
        return [new XunitTestCase(sink, display, displayOptions, testMethod)];
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
