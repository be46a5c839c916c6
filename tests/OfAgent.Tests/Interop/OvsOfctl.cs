using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>Real ovs-ofctl against a rig's listener, under one OpenFlow version: run, run and expect success (its
/// output), run and expect a refusal (what it printed).</summary>
internal static class OvsOfctl
{
    public static (int Code, string Out, string Err) Run(AgentRig rig, string version, string cmd, params string[] rest)
        => ExternalTool.Run("ovs-ofctl", ["-O", version, cmd, $"tcp:127.0.0.1:{rig.ListenPort}", .. rest]);

    /// <summary>A dump's flow lines, trimmed and in ordinal order (the order ovs-ofctl prints them in is the table's).</summary>
    public static string[] Flows(string dump)
        => [.. dump.Split('\n').Where(l => l.Contains("actions=", StringComparison.Ordinal)).Select(l => l.Trim()).Order(StringComparer.Ordinal)];

    public static string Ok(AgentRig rig, string version, string cmd, params string[] rest)
    {
        var (code, so, se) = Run(rig, version, cmd, rest);
        Assert.True(code == 0, $"ovs-ofctl -O {version} {cmd} {string.Join(' ', rest)} failed ({code}): {se}{so}");
        return so;
    }

    public static string Refused(AgentRig rig, string version, string cmd, params string[] rest)
    {
        var (code, so, se) = Run(rig, version, cmd, rest);
        Assert.True(code != 0, $"ovs-ofctl -O {version} {cmd} {string.Join(' ', rest)} was accepted: {so}");
        return se + so;
    }
}
