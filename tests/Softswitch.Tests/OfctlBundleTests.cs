using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// Bundles with the real ovs-ofctl (<c>-O OpenFlow13 --bundle</c>, the ONF extension; <c>-O OpenFlow14 --bundle</c>,
/// OFPT_BUNDLE_CONTROL and OFPT_BUNDLE_ADD_MESSAGE): add-flows and replace-flows
/// commit a whole table set at once, and a bundle with one flow the switch refuses leaves every table as it was.
/// </summary>
public sealed class OfctlBundleTests
{
    private const string First = """
        table=0,priority=10,in_port=1,actions=goto_table:1
        table=0,priority=10,in_port=2,actions=output:1
        table=1,priority=20,ip,nw_dst=10.0.0.0/24,actions=output:2
        table=1,priority=0,actions=drop
        """;

    private const string Second = """
        table=0,priority=10,in_port=1,actions=goto_table:2
        table=0,priority=10,in_port=2,actions=output:1
        table=2,priority=30,ip,nw_dst=10.0.0.0/24,actions=output:2
        table=2,priority=0,actions=output:3
        """;

    /// <summary>ovs-ofctl -O OpenFlow13 [--bundle] COMMAND tcp:... ARGS.</summary>
    private static (int Code, string Out) Ofctl(int port, bool bundle, string command, params string[] args) =>
        Ofctl("OpenFlow13", port, bundle, command, args);

    /// <summary>ovs-ofctl -O VERSION [--bundle] COMMAND tcp:... ARGS.</summary>
    private static (int Code, string Out) Ofctl(string version, int port, bool bundle, string command, params string[] args)
    {
        string[] options = bundle ? ["-O", version, "--bundle"] : ["-O", version];
        var (code, stdout, stderr) = ExternalTool.Run("ovs-ofctl", [.. options, command, $"tcp:127.0.0.1:{port}", .. args]);
        return (code, stdout + stderr);
    }

    /// <summary>dump-flows without the counters and durations (which move), one line a flow, sorted.</summary>
    private static List<string> Dump(int port)
    {
        var (code, text) = Ofctl(port, false, "dump-flows", "--no-stats");
        Assert.True(code == 0, text);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                   .Where(l => !l.StartsWith("OFPST_FLOW", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
    }

    private static async Task WithAgent(Func<int, OfSwitchAgent, Task> body)
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        for (int i = 0; i < 3; i++) dp.AddPort(new MemoryPort($"p{i + 1}", new MacAddress(0x0200_0000_0000UL + (ulong)i + 1)));
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }),
                                      new AgentOptions { Listeners = { "ptcp:0" }, Versions = AgentOptions.AllVersions });
        try
        {
            agent.Start();
            await body(agent.ListenEndpoints[0].Port, agent);
        }
        finally
        {
            await agent.DisposeAsync();
        }
    }

    private static string Temp(string text)
    {
        string file = Path.GetTempFileName();
        File.WriteAllText(file, text);
        return file;
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public Task BundleAddFlows_ThenReplaceFlows_CommitWholeTableSets(string version) => WithAgent((port, agent) =>
    {
        string first = Temp(First), second = Temp(Second);
        try
        {
            var (code, text) = Ofctl(version, port, true, "add-flows", first);
            Assert.True(code == 0, text);
            var dump = Dump(port);
            Assert.Equal(4, dump.Count);
            Assert.Contains(dump, l => l.Contains("table=1", StringComparison.Ordinal) && l.Contains("nw_dst=10.0.0.0/24", StringComparison.Ordinal));

            (code, text) = Ofctl(version, port, true, "replace-flows", second);
            Assert.True(code == 0, text);
            dump = Dump(port);
            Assert.Equal(4, dump.Count);
            Assert.DoesNotContain(dump, l => l.Contains("table=1", StringComparison.Ordinal));
            Assert.Contains(dump, l => l.Contains("goto_table:2", StringComparison.Ordinal));
            Assert.Contains(dump, l => l.Contains("table=2", StringComparison.Ordinal) && l.Contains("priority=30", StringComparison.Ordinal));
            // The replace is diffed by ovs-ofctl against what the switch dumped; a second one has nothing to do.
            (code, text) = Ofctl(version, port, true, "replace-flows", second);
            Assert.True(code == 0, text);
            Assert.Equal(dump, Dump(port));
        }
        finally
        {
            File.Delete(first);
            File.Delete(second);
        }
        return Task.CompletedTask;
    });

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public Task ABundleWithOneRefusedFlow_LeavesEveryTableAsItWas() => WithAgent((port, agent) =>
    {
        string first = Temp(First);
        // The third flow outputs to a port the switch does not have: refused when the bundle commits, after the
        // first two were applied, which the commit then reverts.
        string bad = Temp("""
            table=0,priority=10,in_port=1,actions=output:3
            table=1,priority=20,ip,nw_dst=10.0.0.0/24,actions=output:3
            table=2,priority=5,actions=output:77
            table=0,priority=5,actions=drop
            """);
        try
        {
            var (code, text) = Ofctl(port, true, "add-flows", first);
            Assert.True(code == 0, text);
            var before = Dump(port);
            var tablesBefore = agent.Switch.Tables.Length;

            (code, text) = Ofctl(port, true, "add-flows", bad);
            Assert.NotEqual(0, code);
            Assert.Contains("OFPBFC_MSG_FAILED", text, StringComparison.Ordinal);
            // The failing flow-mod's own error first, naming it (its xid is its ADD's), as Open vSwitch answers.
            Assert.Contains("OFPBAC_BAD_OUT_PORT for: OFPT_FLOW_MOD (OF1.3)", text, StringComparison.Ordinal);
            Assert.Contains("table:2 priority=5 actions=output:77", text, StringComparison.Ordinal);
            Assert.Equal(before, Dump(port));

            (code, text) = Ofctl(port, true, "replace-flows", bad);
            Assert.NotEqual(0, code);
            Assert.Equal(before, Dump(port));
            Assert.True(agent.Switch.Tables.Length >= tablesBefore);
        }
        finally
        {
            File.Delete(first);
            File.Delete(bad);
        }
        return Task.CompletedTask;
    });

    /// <summary>dump-groups, one line a group, sorted.</summary>
    private static List<string> Groups(string version, int port)
    {
        var (code, text) = Ofctl(version, port, false, "dump-groups");
        Assert.True(code == 0, text);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                   .Where(l => l.StartsWith("group_id=", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public Task BundleAddGroups_AddsEveryGroup_OrNoneWhenOneIsRefused(string version) => WithAgent((port, agent) =>
    {
        // ovs-save's restore: add-groups --bundle, a group that applies another among them.
        string groups = Temp("""
            group_id=1,type=all,bucket=actions=output:2
            group_id=2,type=indirect,bucket=actions=group:1
            group_id=3,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:3
            """);
        string clash = Temp("""
            group_id=9,type=all,bucket=actions=output:3
            group_id=1,type=all,bucket=actions=output:3
            """);
        try
        {
            var (code, text) = Ofctl(version, port, true, "add-groups", groups);
            Assert.True(code == 0, text);
            var before = Groups(version, port);
            Assert.Equal(3, before.Count);
            Assert.Contains(before, l => l.StartsWith("group_id=2,type=indirect", StringComparison.Ordinal) && l.Contains("group:1", StringComparison.Ordinal));

            // Group 1 exists: the bundle fails on it, and group 9, added before it in the bundle, is taken back.
            (code, text) = Ofctl(version, port, true, "add-groups", clash);
            Assert.NotEqual(0, code);
            Assert.Contains("OFPGMFC_GROUP_EXISTS", text, StringComparison.Ordinal);
            Assert.Contains("OFPBFC_MSG_FAILED", text, StringComparison.Ordinal);
            Assert.Equal(before, Groups(version, port));

            // A group DELETE rides in a bundle too (as Open vSwitch's): group 2 goes, the others stay.
            (code, text) = Ofctl(version, port, true, "del-groups", "group_id=2");
            Assert.True(code == 0, text);
            Assert.Equal(before.Where(l => !l.StartsWith("group_id=2,", StringComparison.Ordinal)), Groups(version, port));
        }
        finally
        {
            File.Delete(groups);
            File.Delete(clash);
        }
        return Task.CompletedTask;
    });
}
