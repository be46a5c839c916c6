using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// The flags a flow keeps, as ovs-ofctl reads them back (Open vSwitch 3.1's rules): every flag of the ADD that made the
/// flow, reset_counts among them, which OpenFlow 1.0's add always carries (Open vSwitch's ofputil_decode_flow_mod_flags);
/// a modify leaves them as they are; 1.3 and 1.5 flow statistics report them, 1.0's have no flags.
/// </summary>
public sealed class OvsOfctlFlowFlagsTests
{
    /// <summary>The flow line of <paramref name="dump"/> that contains <paramref name="part"/>: exactly one.</summary>
    private static string Line(string dump, string part) => Assert.Single(OvsOfctl.FlowLines(dump), l => l.Contains(part, StringComparison.Ordinal));

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AnAddOverOneZero_IsReportedResetCounts_AModifyOverOneZeroThatAdds_IsNot()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        OvsOfctl.Ok(rig, "OpenFlow10", "add-flow", "priority=10,in_port=1,actions=output:2");
        OvsOfctl.Ok(rig, "OpenFlow10", "add-flow", "priority=11,in_port=2,send_flow_rem,check_overlap,actions=output:1");
        // An NXM flow-mod (a match 1.0's cannot say) is an add over 1.0 too.
        OvsOfctl.Ok(rig, "OpenFlow10", "add-flow", "priority=12,udp6,in_port=3,actions=output:1");
        // OpenFlow 1.0's modify that matches nothing adds its flow, with the modify's flags: no reset_counts.
        OvsOfctl.Ok(rig, "OpenFlow10", "mod-flows", "--strict", "priority=13,in_port=4,actions=output:1");

        string dump13 = OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats");
        Assert.Equal("reset_counts priority=10,in_port=1 actions=output:2", Line(dump13, "priority=10,"));
        Assert.Equal("send_flow_rem check_overlap reset_counts priority=11,in_port=2 actions=output:1", Line(dump13, "priority=11,"));
        Assert.Equal("reset_counts priority=12,udp6,in_port=3 actions=output:1", Line(dump13, "priority=12,"));
        Assert.Equal("priority=13,in_port=4 actions=output:1", Line(dump13, "priority=13,"));
        Assert.Contains("send_flow_rem check_overlap reset_counts priority=11,", OvsOfctl.Ok(rig, "OpenFlow15", "dump-flows", "--no-stats"));
        // OpenFlow 1.0's flow statistics (and NXST_FLOW's) have no flags.
        Assert.DoesNotContain("reset_counts", OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows", "--no-stats"));
        Assert.DoesNotContain("send_flow_rem", OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows", "--no-stats"));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AFlowKeepsItsAddsFlags_ModifiesLeaveThem_AnAddReplacesThem()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "priority=10,in_port=1,reset_counts,no_packet_counts,actions=output:2");
        string Flow() => Line(OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows", "--no-stats"), "priority=10,");
        Assert.Equal("reset_counts no_packet_counts priority=10,in_port=1 actions=output:2", Flow());
        // A modify, with its own flags or none, in either version, changes the actions and leaves the flags.
        OvsOfctl.Ok(rig, "OpenFlow13", "mod-flows", "in_port=1,actions=output:3");
        Assert.Equal("reset_counts no_packet_counts priority=10,in_port=1 actions=output:3", Flow());
        OvsOfctl.Ok(rig, "OpenFlow13", "mod-flows", "--strict", "priority=10,in_port=1,send_flow_rem,no_byte_counts,actions=output:4");
        Assert.Equal("reset_counts no_packet_counts priority=10,in_port=1 actions=output:4", Flow());
        OvsOfctl.Ok(rig, "OpenFlow10", "mod-flows", "in_port=1,actions=output:2");
        Assert.Equal("reset_counts no_packet_counts priority=10,in_port=1 actions=output:2", Flow());
        // An add of the same match and priority replaces the flow and its flags.
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "priority=10,in_port=1,send_flow_rem,no_byte_counts,actions=output:2");
        Assert.Equal("send_flow_rem no_byte_counts priority=10,in_port=1 actions=output:2", Flow());
        OvsOfctl.Ok(rig, "OpenFlow10", "add-flow", "priority=10,in_port=1,actions=output:2");
        Assert.Equal("reset_counts priority=10,in_port=1 actions=output:2", Flow());
    }
}
