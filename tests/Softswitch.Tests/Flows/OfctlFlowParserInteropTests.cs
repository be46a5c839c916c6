using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Flows;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Tests.Flows;

/// <summary>
/// The parser against the real ovs-ofctl: the same add-flows file sent by ovs-ofctl over OpenFlow 1.0 to our agent
/// yields exactly the flows (match, priority, actions, cookie, timeouts) the parser reads from it.
/// </summary>
public sealed class OfctlFlowParserInteropTests
{
    private const string Flows = """
        # exact, as the side-by-side benchmark writes them
        udp,in_port=1,dl_vlan=0xffff,dl_src=02:00:00:00:10:00,dl_dst=02:00:00:00:20:00,nw_src=10.0.0.1,nw_dst=11.0.0.2,nw_tos=0,tp_src=1024,tp_dst=5001,actions=output:3
        tcp,in_port=2,dl_vlan=7,dl_vlan_pcp=3,dl_src=02:00:00:00:10:01,dl_dst=02:00:00:00:20:01,nw_src=10.0.0.2,nw_dst=11.0.0.3,nw_tos=32,tp_src=80,tp_dst=8080,actions=mod_dl_dst:02:00:00:00:30:01,mod_nw_dst:12.0.0.1,output:2
        priority=3422,ip,in_port=1,nw_dst=13.0.0.0/24,actions=output:2
        priority=23248,udp,in_port=1,nw_dst=13.158.0.0/16,tp_dst=5003,actions=output:3
        priority=10,ip,nw_src=10.1.0.0/255.255.0.0,actions=output:4
        priority=11,arp,arp_tpa=10.0.0.1,arp_op=1,actions=FLOOD
        priority=12,icmp,icmp_type=8,icmp_code=0,actions=CONTROLLER:128
        priority=13,dl_vlan=0xffff,actions=strip_vlan,mod_vlan_vid:5,mod_vlan_pcp:2,output:1
        priority=14,dl_src=02:00:00:00:00:01 dl_dst=02:00:00:00:00:02 actions=mod_dl_src:02:00:00:00:00:03,mod_nw_tos:64,mod_tp_src:7,mod_tp_dst:9,IN_PORT
        cookie=0x2a,idle_timeout=30,hard_timeout=60,priority=15,tcp,tp_src=22,actions=enqueue:2:0,ALL
        priority=0,actions=NORMAL
        """;

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task OvsOfctlAddFlows_InstallsWhatTheParserReads()
    {
        string file = Path.GetTempFileName();
        File.WriteAllText(file, Flows);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        for (int i = 0; i < 4; i++) dp.AddPort(new MemoryPort($"p{i + 1}", new MacAddress(0x0200_0000_0000UL + (ulong)i + 1)));
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions { Listeners = { "ptcp:0" } });
        try
        {
            agent.Start();
            int port = agent.ListenEndpoints[0].Port;
            var (code, stdout, stderr) = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "add-flows", $"tcp:127.0.0.1:{port}", file);
            Assert.True(code == 0, $"ovs-ofctl add-flows failed ({code}): {stderr}{stdout}");

            var parsed = OfctlFlowParser.ParseFile(file);
            var installed = new List<FlowEntry>();
            agent.Switch.Flows.Collect(FlowMatch.All, Datapath.Ports.PortNumber.None, strict: false, installed);
            Assert.Equal(parsed.Count, installed.Count);
            foreach (var m in parsed)
            {
                ushort priority = m.Match.IsExact ? (ushort)0xFFFF : m.Priority;
                var e = installed.SingleOrDefault(x => x.Match == m.Match && x.Priority == priority);
                Assert.True(e is not null, $"no installed flow with the parser's match {FlowFormat.Rule(priority, m.Match)}; installed: "
                    + string.Join(" | ", installed.Select(FlowFormat.Flow)));
                Assert.Equal(m.Actions.Items, e.Actions.Items);
                Assert.Equal((m.Cookie, m.IdleTimeout, m.HardTimeout), (OfFlowRule.CookieOf(e), e.IdleTimeout, e.HardTimeout));
            }
        }
        finally
        {
            await agent.DisposeAsync();
            File.Delete(file);
        }
    }
}
