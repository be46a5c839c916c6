using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>Real ovs-ofctl (Open vSwitch 3.x) against our passive listener, checking its printed output.</summary>
public sealed class OvsOfctlTests
{
    private static (int, string, string) Ofctl(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Run(rig, "OpenFlow10", cmd, rest);

    private static string Ok(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Ok(rig, "OpenFlow10", cmd, rest);

    private static string OkF10(AgentRig rig, string cmd, params string[] rest)
    {
        var (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", "-F", "openflow10", "--no-names", cmd, $"tcp:127.0.0.1:{rig.ListenPort}", .. rest]);
        Assert.True(code == 0, $"ovs-ofctl -F openflow10 {cmd} failed ({code}): {se}{so}");
        return so;
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ShowDescTablesPorts()
    {
        await using var rig = new AgentRig();
        var show = Ok(rig, "show");
        Assert.Contains("dpid:0000000000001234", show);
        Assert.Contains("n_tables:1, n_buffers:256", show);
        Assert.Contains("1(mem1): addr:02:00:00:00:00:01", show);
        Assert.Contains("4(mem4)", show);
        Assert.Contains("frags=normal miss_send_len=128", show);
        Assert.Contains("Manufacturer: Softswitch project", Ok(rig, "dump-desc"));
        var tables = Ok(rig, "dump-tables");
        Assert.Contains("table 0 (\"classifier\")", tables);   // one logical table
        Assert.DoesNotContain("table 1", tables);
        var ports = Ok(rig, "dump-ports");
        Assert.Contains("OFPST_PORT reply", ports);
        Assert.Contains("4 ports", ports);

        // The same with the plain OF1.0 flow format and no port names (no table/feature look-ups first).
        Assert.Contains("dpid:0000000000001234", OkF10(rig, "show"));
        Assert.Contains("Manufacturer: Softswitch project", OkF10(rig, "dump-desc"));
        Assert.Contains("table 0 (\"classifier\")", OkF10(rig, "dump-tables"));
        Assert.Contains("4 ports", OkF10(rig, "dump-ports"));
        Assert.Contains("flow_count=0", OkF10(rig, "dump-aggregate"));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task DumpPortsDesc_InOpenFlow10_ListsEveryPort()
    {
        // ovs-ofctl asks OpenFlow 1.0 switches with Open vSwitch's OFPST_PORT_DESC (stats type 13), as OVS answers it.
        await using var rig = new AgentRig();
        var all = Ok(rig, "dump-ports-desc");
        Assert.Contains("OFPST_PORT_DESC reply", all);
        Assert.Contains("1(mem1): addr:02:00:00:00:00:01", all);
        Assert.Contains("4(mem4): addr:02:00:00:00:00:04", all);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AddModDelDumpFlows_BothFlowFormats()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "priority=3000,ip,nw_dst=192.168.1.101,actions=mod_dl_dst:00:15:17:8f:ca:37,output:3");
        Ok(rig, "add-flow", "priority=3000,ip,nw_src=192.168.1.101,actions=controller");
        Ok(rig, "add-flow", "priority=100,arp,actions=flood");
        var flows = Ok(rig, "dump-flows");
        Assert.Contains("priority=3000,ip,nw_dst=192.168.1.101 actions=mod_dl_dst:00:15:17:8f:ca:37,output:3", flows);
        Assert.Contains("ip,nw_src=192.168.1.101 actions=CONTROLLER", flows);
        Assert.Contains("arp actions=FLOOD", flows);
        var f10 = OkF10(rig, "dump-flows");
        Assert.Contains("nw_dst=192.168.1.101", f10);
        Assert.Equal(3, rig.Agent.Switch.Flows.ActiveWildcard);

        Ok(rig, "mod-flows", "ip,nw_dst=192.168.1.101,actions=output:4");
        Assert.Contains("nw_dst=192.168.1.101 actions=output:4", Ok(rig, "dump-flows"));
        OkF10(rig, "add-flow", "priority=7,udp,tp_dst=53,actions=output:2");
        OkF10(rig, "mod-flows", "udp,tp_dst=53,actions=output:1");
        Assert.Contains("tp_dst=53 actions=output:1", OkF10(rig, "dump-flows"));
        OkF10(rig, "del-flows", "udp,tp_dst=53");
        Assert.Contains("flow_count=3", Ok(rig, "dump-aggregate"));

        var (code, so, se) = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "--strict", "del-flows", $"tcp:127.0.0.1:{rig.ListenPort}", "priority=100,arp");
        Assert.True(code == 0, se + so);
        Assert.DoesNotContain("arp", Ok(rig, "dump-flows"));
        Ok(rig, "del-flows", "ip");
        Assert.Equal(0, rig.Agent.Switch.Flows.ActiveWildcard);
        Assert.Contains("flow_count=0", Ok(rig, "dump-aggregate"));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AddFlowsFromAFileOfTenThousand()
    {
        await using var rig = new AgentRig();
        var file = Path.GetTempFileName();
        try
        {
            using (var w = new StreamWriter(file))
            {
                for (int i = 0; i < 10_000; i++)
                    w.WriteLine($"priority={100 + i % 7},ip,nw_dst=10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255},actions=output:{2 + i % 3}");
            }

            Ok(rig, "add-flows", file);
            Assert.Equal(10_000, rig.Agent.Switch.Flows.ActiveWildcard);
            Assert.Contains("flow_count=10000", Ok(rig, "dump-aggregate"));
            var dump = OkF10(rig, "dump-flows");
            Assert.Equal(10_000, dump.Split('\n').Count(l => l.Contains("actions=output:")));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task PacketOutAndModPort()
    {
        await using var rig = new AgentRig();
        var frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 0x0A000001, 0x0A000002, 1, 2);
        Ok(rig, "packet-out", "none", "output:2", Convert.ToHexString(frame));
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));

        Ok(rig, "mod-port", "3", "down");
        Assert.Equal(PortConfig.PortDown, rig.Dp.Ports.Get(3)!.Config & PortConfig.PortDown);
        Assert.Contains("PORT_DOWN", Ok(rig, "show"));
        Ok(rig, "mod-port", "3", "up");
        Assert.Equal(PortConfig.None, rig.Dp.Ports.Get(3)!.Config & PortConfig.PortDown);
        Ok(rig, "mod-port", "2", "no-flood");
        Assert.Equal(PortConfig.NoFlood, rig.Dp.Ports.Get(2)!.Config & PortConfig.NoFlood);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ErrorsAreReportedToOvsOfctl()
    {
        await using var rig = new AgentRig();
        var (code, so, se) = Ofctl(rig, "add-flow", "in_port=1,actions=output:9");
        Assert.NotEqual(0, code);
        Assert.Contains("OFPBAC_BAD_OUT_PORT", se + so);
    }

    /// <summary>
    /// Open vSwitch's register actions over OpenFlow 1.0 (Nicira vendor actions in a plain flow-mod): a load, a move
    /// back into a packet field and an output to a register's port forward the frame, and the dump shows them as
    /// ovs-ofctl wrote them. A match on a register needs Open vSwitch's NXM flow format, which the switch does not
    /// offer over 1.0: ovs-ofctl cannot send it.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task RegisterActions_LoadMoveOutput_ForwardAndDump()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "in_port=1,ip,actions=load:0xa000009->NXM_NX_REG1[],move:NXM_NX_REG1[]->NXM_OF_IP_DST[],load:0x3->NXM_NX_REG2[0..15],output:NXM_NX_REG2[0..15]");
        rig.Ports[0].Inject(FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 0x0A000001, 0x0A000002, 1, 2));
        rig.Poll();
        var sent = Assert.Single(rig.Ports[2].TakeSent());
        Assert.Equal(0x0A000009u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(30)));
        Assert.Contains("ip,in_port=1 actions=load:0xa000009->NXM_NX_REG1[],move:NXM_NX_REG1[]->NXM_OF_IP_DST[],load:0x3->NXM_NX_REG2[0..15],output:NXM_NX_REG2[0..15]",
                        Ok(rig, "dump-flows"));
        // A register match needs Open vSwitch's NXM flow format under 1.0: ovs-ofctl switches to it, and the dump shows it.
        Ok(rig, "add-flow", "reg0=5,actions=output:2");
        Assert.Contains("reg0=0x5 actions=output:2", Ok(rig, "dump-flows"));
    }
}
