using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl against a rig's listener, under one OpenFlow version: the rig it talks to (<see cref="Rig"/>), run,
/// run and expect success (its output), run and expect a refusal (what it printed), and re-add a dump
/// (<see cref="ReAdd"/>, <see cref="ReAddsTheSame"/>); and ovs-ofctl's own parse of a flow or group text
/// (<see cref="Parsed"/>, <see cref="ParsedActions"/>), the encoding Open vSwitch writes back in that version, to
/// compare a dump against.
/// </summary>
internal static class OvsOfctl
{
    /// <summary>A rig of <paramref name="ports"/> memory ports whose agent speaks every version ovs-ofctl may ask for (<see cref="AgentOptions.AllVersions"/>).</summary>
    public static AgentRig Rig(int ports = 4) => new(ports, new AgentOptions { Versions = AgentOptions.AllVersions });

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

    /// <summary>Deletes every flow and re-adds <paramref name="dump"/>'s flow lines through add-flows (<see cref="ReAdd"/>); the table then dumps the same flows.</summary>
    public static void ReAddsTheSame(AgentRig rig, string version, string dump)
        => Assert.Equal(Flows(dump), Flows(ReAdd(rig, version, Flows(dump))));

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

    /// <summary>
    /// What ovs-ofctl's <paramref name="cmd"/> (parse-flow, parse-group) prints for <paramref name="text"/> under
    /// <paramref name="version"/>: the one line that holds <paramref name="from"/>, from there on.
    /// </summary>
    public static string Parsed(string version, string cmd, string text, string from)
    {
        string line = ParsedLine(version, cmd, text, from);
        return line[line.IndexOf(from, StringComparison.Ordinal)..].Trim();
    }

    /// <summary>What ovs-ofctl's parse-flow prints after <c>actions=</c> for <paramref name="flow"/> under <paramref name="version"/>.</summary>
    public static string ParsedActions(string version, string flow) => ActionsOf(ParsedLine(version, "parse-flow", flow, " actions="));

    /// <summary>Whether ovs-ofctl's parse-flow takes <paramref name="flow"/> (e.g. a dumped line) under <paramref name="version"/>.</summary>
    public static bool Parses(string version, string flow) => ExternalTool.Run("ovs-ofctl", "-O", version, "parse-flow", flow).code == 0;

    /// <summary>A flow line's actions: what follows its <c>actions=</c>.</summary>
    public static string ActionsOf(string line) => line[(line.IndexOf(" actions=", StringComparison.Ordinal) + " actions=".Length)..].Trim();

    private static string ParsedLine(string version, string cmd, string text, string from)
    {
        var (code, so, se) = ExternalTool.Run("ovs-ofctl", "-O", version, cmd, text);
        Assert.True(code == 0, $"ovs-ofctl -O {version} {cmd} {text} failed ({code}): {se}{so}");
        return so.Split('\n').Single(l => l.Contains(from, StringComparison.Ordinal));
    }
}
