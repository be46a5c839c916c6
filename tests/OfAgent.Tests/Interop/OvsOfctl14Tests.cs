using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl -O OpenFlow14 against a switch that offers 1.4 (<see cref="AgentOptions.AllVersions"/>): its printed
/// output of the 1.4 layouts, flows that forward, a port-mod, the table-mod it refuses, and a 1.0 and a 1.5 peer beside.
/// </summary>
public sealed class OvsOfctl14Tests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static string Ok(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Ok(rig, "OpenFlow14", cmd, rest);

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ShowPortsTablesQueues_InTheir14Layouts()
    {
        await using var rig = OvsOfctl.Rig();
        var show = Ok(rig, "show");
        Assert.Contains("OFPT_FEATURES_REPLY (OF1.4)", show);
        Assert.Contains("OFPST_PORT_DESC reply (OF1.4)", show);
        Assert.Contains("1(mem1): addr:02:00:00:00:00:01", show);
        Assert.Contains("current:    1GB-FD COPPER", show); // the Ethernet property's features
        Assert.Contains("speed: 1000 Mbps now", show);
        var desc = Ok(rig, "dump-ports-desc");
        Assert.Contains("4(mem4): addr:02:00:00:00:00:04", desc);
        rig.Clock.Advance(TimeSpan.FromSeconds(2.5));
        var ports = Ok(rig, "dump-ports");
        Assert.Contains("OFPST_PORT reply (OF1.4)", ports);
        Assert.Contains("4 ports", ports);
        Assert.Contains("duration=2.5", ports);
        Assert.Contains("OFPST_QUEUE reply (OF1.4)", Ok(rig, "queue-stats", "1", "0"));
        var queues = Ok(rig, "queue-get-config", "1");
        Assert.Contains("OFPST_QUEUE_DESC reply (OF1.4) (xid=0x2): port=1", queues);
        Assert.Contains("queue 0:", queues);
        Assert.Contains("OFPST_TABLE reply (OF1.4)", Ok(rig, "dump-tables"));
        var tables = Ok(rig, "dump-table-desc");
        Assert.Contains("OFPST_TABLE_DESC reply (OF1.4)", tables);
        Assert.Contains("table 253:", tables);
        Assert.Contains("eviction=off", tables);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task FlowsForward_PortModAndEvictionTaken_A10And15PeerBeside()
    {
        await using var rig = OvsOfctl.Rig();
        Ok(rig, "add-flow", "table=0,priority=10,in_port=1,actions=write_metadata:0x7/0xff,goto_table:3");
        Ok(rig, "add-flow", "table=3,priority=5,metadata=0x7/0xff,actions=output:2");
        var flows = Ok(rig, "dump-flows");
        Assert.Contains("OFPST_FLOW reply (OF1.4)", flows);
        Assert.Contains("table=0, n_packets=0, n_bytes=0, priority=10,in_port=1 actions=write_metadata:0x7/0xff,goto_table:3", flows);
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Contains("n_packets=1", Ok(rig, "dump-flows", "table=3"));
        // The same flows read by a 1.0 tool at the same time (a 1.0 connection beside the 1.4 ones).
        Assert.Contains("priority=10,in_port=1 actions=write_metadata:0x7/0xff,goto_table:3", Ok(rig, "dump-flows"));
        Assert.Contains("NXST_FLOW reply (xid=0x", OvsOfctl.Ok(rig, "OpenFlow10", "dump-flows"));   // 1.0 dumps in the NXM flow format

        Ok(rig, "mod-port", "3", "down");
        Assert.Contains("config:     PORT_DOWN", Ok(rig, "dump-ports-desc").Split(" 3(mem3)")[1].Split(" 4(mem4)")[0]);
        Ok(rig, "mod-port", "3", "up");
        Ok(rig, "mod-table", "0", "evict");
        Assert.Contains("eviction=on", Ok(rig, "dump-table-desc"));
        Assert.Contains("OFPT_FEATURES_REPLY (OF1.5)", OvsOfctl.Ok(rig, "OpenFlow15", "show"));
    }
}
