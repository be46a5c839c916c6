using Xunit.Abstractions;
using Xunit.Sdk;

namespace Softswitch.TestKit;

/// <summary>
/// A fact that runs programs (<see cref="RequiresToolAttribute"/> on the method or its class) and, with
/// <see cref="RequiresRootAttribute"/>, needs root, but no network namespace. A missing program makes the test skipped
/// with the reason (printed once to stderr too) outside CI, and failed, saying which, in CI (CI=true).
/// </summary>
[XunitTestCaseDiscoverer("Softswitch.TestKit.ToolFactDiscoverer", "Softswitch.TestKit")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolFactAttribute : FactAttribute;

/// <summary>A theory with the requirements of <see cref="ToolFactAttribute"/>: all its rows run, or one skip says why.</summary>
[XunitTestCaseDiscoverer("Softswitch.TestKit.ToolTheoryDiscoverer", "Softswitch.TestKit")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolTheoryAttribute : TheoryAttribute;

/// <summary>The test needs root (the reason says for what); elsewhere it is skipped with that reason, in CI too.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
public sealed class RequiresRootAttribute(string forWhat) : Attribute
{
    public string ForWhat { get; } = forWhat;
}

/// <summary>A fact skipped, with the reason, where the process may not use two CPUs (and on other than Linux).</summary>
public sealed class TwoCpuFactAttribute : FactAttribute
{
    public TwoCpuFactAttribute()
    {
        int cpus = Datapath.Forwarding.CpuPlacement.IsSupported ? Datapath.Forwarding.CpuPlacement.Allowed().Length : 0;
        if (cpus < 2) Skip = $"needs Linux and two CPUs this process may use (it may use {cpus})";
    }
}

/// <summary>A fact skipped, with the reason, where threads cannot be pinned to CPUs (other than Linux).</summary>
public sealed class CpuPlacementFactAttribute : FactAttribute
{
    public CpuPlacementFactAttribute()
    {
        if (!Datapath.Forwarding.CpuPlacement.IsSupported) Skip = "needs Linux, where a thread is pinned with sched_setaffinity (CpuPlacement.IsSupported is false)";
    }
}

public sealed class ToolFactDiscoverer(IMessageSink sink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo factAttribute)
        => Requirements.Unrunnable(sink, options, testMethod, Requirements.MissingRoot(testMethod), "tests")
           ?? [new XunitTestCase(sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod)];
}

public sealed class ToolTheoryDiscoverer(IMessageSink sink) : TheoryDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo theoryAttribute)
        => Requirements.Unrunnable(DiagnosticMessageSink, options, testMethod, Requirements.MissingRoot(testMethod), "tests")
           ?? base.Discover(options, testMethod, theoryAttribute);
}

/// <summary>What a test needs beyond the build, checked once when tests are discovered.</summary>
public static class Requirements
{
    private const string InCi = "CI (CI=true) installs every tool";

    /// <summary>
    /// Null when <paramref name="testMethod"/> can run; else its one test case: skipped when <paramref name="reason"/> (a
    /// missing capability) says so, failed when a required program is missing in CI, skipped when it is missing elsewhere.
    /// </summary>
    public static IXunitTestCase[]? Unrunnable(IMessageSink sink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod,
                                                    string? reason, string what)
    {
        var display = options.MethodDisplayOrDefault();
        var displayOptions = options.MethodDisplayOptionsOrDefault();
        if (reason is null && MissingTool(testMethod) is { } tool)
        {
            string why = $"{tool} is not installed (run scripts/install-deps.sh as root)";
            if (Environment.GetEnvironmentVariable("CI") == "true")
                return [new ExecutionErrorTestCase(sink, display, displayOptions, testMethod, $"{why}; {InCi}, so a missing one is a failure")];
            reason = why;
        }
        if (reason is not null)
        {
            if (TestEnv.Report(reason, what)) sink.OnMessage(new DiagnosticMessage($"[{what}] skipped: {reason}"));
            return [new XunitSkippedDataRowTestCase(sink, display, displayOptions, testMethod, "SKIPPED: " + reason)];
        }
        return null;
    }

    /// <summary>The first program the method or its class requires that is not on PATH (nor in /usr/sbin, /sbin, /usr/bin, /bin).</summary>
    public static string? MissingTool(ITestMethod testMethod)
    {
        var tools = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresToolAttribute))
            .Concat(testMethod.Method.GetCustomAttributes(typeof(RequiresToolAttribute)));
        foreach (var tool in tools)
        {
            string name = tool.GetConstructorArguments().First() as string ?? "";
            if (!Sh.Exists(name)) return name;
        }
        return null;
    }

    /// <summary>Why the test cannot run when it requires root and this process is not root; else null.</summary>
    public static string? MissingRoot(ITestMethod testMethod)
    {
        var root = testMethod.Method.GetCustomAttributes(typeof(RequiresRootAttribute))
            .Concat(testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresRootAttribute))).FirstOrDefault();
        if (root is null || Environment.IsPrivilegedProcess) return null;
        return $"not running as root, which {root.GetConstructorArguments().First()} needs";
    }
}
