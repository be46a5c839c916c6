using Xunit.Sdk;

namespace Softswitch.E2E.Tests;

/// <summary>
/// A fact that needs root, `ip netns` and python3 (the namespace harness); without them it is reported as
/// skipped with the reason, printed loudly once. CI runs as root, so there these tests always run.
/// </summary>
[XunitTestCaseDiscoverer("Softswitch.TestKit.NetnsFactDiscoverer", "Softswitch.TestKit")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class E2EFactAttribute : FactAttribute;
