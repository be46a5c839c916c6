using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Open vSwitch's conjunctive matches through real ovs-ofctl: conjunction(id,k/n) clauses and a conj_id flow added,
/// frames forwarded by the ACL they make (in-memory ports), and the dump that shows them as they came and re-adds to
/// the same table.
/// </summary>
public sealed class OvsOfctlConjunctionTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    // (nw_src in {10.0.0.1, 10.0.0.3}) and (tp_dst in {80, 443}): port 2; any other packet: port 3 (ovs-fields(7)'s example).
    private static readonly string[] Acl =
    [
        "priority=100,ip,nw_src=10.0.0.1,actions=conjunction(7,1/2)",
        "priority=100,ip,nw_src=10.0.0.3,actions=conjunction(7,1/2)",
        "priority=100,udp,tp_dst=80,actions=conjunction(7,2/2)",
        "priority=100,udp,tp_dst=443,actions=conjunction(7,2/2),conjunction(8,1/2)",
        "priority=100,conj_id=7,actions=output:2",
        "priority=1,actions=output:3",
    ];

    private static int Egress(AgentRig rig, uint src, ushort dport)
    {
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, src, 0x0a000002, 1000, dport));
        rig.Poll();
        var ports = Enumerable.Range(1, rig.Ports.Length - 1).Where(i => rig.Ports[i].TakeSent().Count > 0).Select(i => i + 1).ToArray();
        return Assert.Single(ports);
    }

    private static void AddForwardDumpReAdd(string version)
    {
        using var rig = new AgentRig();
        foreach (var f in Acl) OvsOfctl.Ok(rig, version, "add-flow", f);
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(2, Egress(rig, 0x0a000001, 80));
            Assert.Equal(2, Egress(rig, 0x0a000003, 443));
            Assert.Equal(3, Egress(rig, 0x0a000001, 22));
            Assert.Equal(3, Egress(rig, 0x0a000004, 80));
        }
        string dump = OvsOfctl.Ok(rig, version, "dump-flows");
        Assert.Contains("n_packets=4, n_bytes=", dump.Split('\n').Single(l => l.Contains("conj_id=7", StringComparison.Ordinal)));
        string first = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains(" priority=100,ip,nw_src=10.0.0.1 actions=conjunction(7,1/2)", first);
        Assert.Contains(" priority=100,udp,tp_dst=443 actions=conjunction(7,2/2),conjunction(8,1/2)", first);
        Assert.Contains(" priority=100,conj_id=7 actions=output:2", first);
        static string[] Lines(string dump) => [.. dump.Split('\n').Order(StringComparer.Ordinal)];
        Assert.Equal(Lines(first), Lines(OvsOfctl.ReAdd(rig, version, OvsOfctl.FlowLines(first))));
        Assert.Equal(2, Egress(rig, 0x0a000003, 80));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public void OpenFlow13_ConjunctiveAcl_ForwardsFrames_TheDumpShowsItAsItCame_AndReAdds() => AddForwardDumpReAdd("OpenFlow13");

    /// <summary>
    /// Clauses over OpenFlow 1.0 (a plain 1.0 match with Nicira's conjunction action), the conj_id flow over 1.3 (its
    /// match needs Open vSwitch's NXM flow format under 1.0): the ACL forwards, and a 1.0 dump shows the clauses.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public void OpenFlow10_ClausesAdd_AndForwardWithAConjIdFlowFromOneThree()
    {
        using var rig = new AgentRig();
        foreach (var f in Acl.Where(f => !f.Contains("conj_id", StringComparison.Ordinal))) OvsOfctl.Ok(rig, "OpenFlow10", "add-flow", f);
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "priority=100,conj_id=7,actions=output:2");
        Assert.Equal(2, Egress(rig, 0x0a000001, 443));
        Assert.Equal(3, Egress(rig, 0x0a000001, 22));
        string dump = OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows", "--no-stats");
        Assert.Contains(" priority=100,ip,nw_src=10.0.0.3 actions=conjunction(7,1/2)", dump);
        Assert.Contains(" priority=100,udp,tp_dst=443 actions=conjunction(7,2/2),conjunction(8,1/2)", dump);
    }
}
