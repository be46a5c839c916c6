using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>Real ovs-ofctl against a rig's listener, under one OpenFlow version: run, run and expect success (its
/// output), run and expect a refusal (what it printed), and re-add a dump (<see cref="ReAdd"/>).</summary>
internal static class OvsOfctl
{
    public static (int Code, string Out, string Err) Run(AgentRig rig, string version, string cmd, params string[] rest)
        => ExternalTool.Run("ovs-ofctl", ["-O", version, cmd, $"tcp:127.0.0.1:{rig.ListenPort}", .. rest]);

    /// <summary>A dump's flow lines, trimmed and in ordinal order (the order ovs-ofctl prints them in is the table's).</summary>
    public static string[] Flows(string dump)
        => [.. dump.Split('\n').Where(l => l.Contains("actions=", StringComparison.Ordinal)).Select(l => l.Trim()).Order(StringComparer.Ordinal)];

    /// <summary>A dump's flow lines, trimmed, in the order ovs-ofctl printed them.</summary>
    public static IEnumerable<string> FlowLines(string dump)
        => dump.Split('\n').Where(l => l.Contains("actions=", StringComparison.Ordinal)).Select(l => l.Trim());

    /// <summary>
    /// The round trip of a dump through ovs-ofctl: writes <paramref name="flows"/> (flow lines as dump-flows printed
    /// them) to a file, deletes every flow, runs <paramref name="afterDelete"/> (checks on the empty table), adds the
    /// file back with add-flows, and returns what dump-flows --no-stats prints then, for the caller to compare.
    /// </summary>
    public static string ReAdd(AgentRig rig, string version, IEnumerable<string> flows, Action? afterDelete = null)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, flows);
            Ok(rig, version, "del-flows");
            afterDelete?.Invoke();
            Ok(rig, version, "add-flows", file);
            return Ok(rig, version, "dump-flows", "--no-stats");
        }
        finally
        {
            File.Delete(file);
        }
    }

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
