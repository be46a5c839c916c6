using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Flows;

/// <summary>Flows in ovs-ofctl's OpenFlow 1.0 syntax read the way ovs-ofctl puts them on the wire.</summary>
public sealed class OfctlFlowParserTests
{
    private static FlowMod Parse(string text, FlowModCommand command = FlowModCommand.Add)
    {
        Assert.True(OfctlFlowParser.TryParse(text, command, out var mod, out var error), error);
        return mod;
    }

    private static string Error(string text)
    {
        Assert.False(OfctlFlowParser.TryParse(text, FlowModCommand.Add, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
        return error;
    }

    /// <summary>
    /// The TTL actions, which ovs-ofctl writes over OpenFlow 1.0 too (NXAST_DEC_TTL, a load of NXM_NX_IP_TTL,
    /// NXAST_SET_MPLS_TTL, NXAST_DEC_MPLS_TTL), are read as the datapath's.
    /// </summary>
    [Theory]
    [InlineData("ip,actions=dec_ttl,output:2", "dec_ttl,output:2")]
    [InlineData("ip,actions=mod_nw_ttl:9,output:2", "mod_nw_ttl:9,output:2")]
    [InlineData("ip,actions=mod_nw_ttl(9)", "mod_nw_ttl:9")]
    [InlineData("ip,actions=dec_ttl(1,2),output:2", "dec_ttl(1,2),output:2")]
    [InlineData("dl_type=0x8847,actions=output:2,set_mpls_ttl(3),dec_mpls_ttl", "output:2,set_mpls_ttl(3),dec_mpls_ttl")]
    public void TtlAction_IsReadAsOvsOfctlWritesIt(string text, string printed)
        => Assert.Equal(printed, FlowFormat.Actions(Parse(text).Actions));

    [Fact]
    public void BadTtlAction_InAFlowFile_NamesTheLine()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["# flows", "in_port=1,actions=output:2", "ip,actions=mod_nw_ttl:300,output:1"]);
            var e = Assert.Throws<FormatException>(() => OfctlFlowParser.ParseFile(path));
            Assert.Equal($"{path}:3: bad action mod_nw_ttl:300", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ExactUdpFlow_IsAnOpenFlow10ExactMatch()
    {
        var m = Parse("udp,in_port=1,dl_vlan=0xffff,dl_src=02:00:00:00:10:00,dl_dst=02:00:00:00:20:00,nw_src=10.0.0.1,nw_dst=11.0.0.2,nw_tos=0,tp_src=1024,tp_dst=5001,actions=output:3");
        Assert.True(m.Match.IsExact);
        Assert.Equal(OfWildcards.TunIdExt, m.Match.Wildcards);
        var v = m.Match.Value;
        Assert.Equal(1, v.InPort);
        Assert.Equal(0xFFFF, v.DlVlan);
        Assert.Equal(0, v.DlVlanPcp);
        Assert.Equal(0x0800, v.DlType);
        Assert.Equal(17, v.NwProto);
        Assert.Equal(0x0A000001u, v.NwSrc);
        Assert.Equal(0x0B000002u, v.NwDst);
        Assert.Equal(1024, v.TpSrc);
        Assert.Equal(5001, v.TpDst);
        Assert.Equal(new MacAddress(0x0200_0000_1000UL), v.DlSrc);
        Assert.Equal(OfctlFlowParser.DefaultPriority, m.Priority);
        Assert.Equal([FlowAction.Output(3)], m.Actions.Items);
    }

    [Fact]
    public void ExactFlow_MatchesTheFrameItDescribes()
    {
        var m = Parse("udp,in_port=1,dl_vlan=0xffff,dl_src=02:00:00:00:10:00,dl_dst=02:00:00:00:20:00,nw_src=10.0.0.1,nw_dst=11.0.0.2,nw_tos=0,tp_src=1024,tp_dst=5001,actions=output:3");
        var frame = Datapath.Packets.FrameBuilder.Udp(new MacAddress(0x0200_0000_1000UL), new MacAddress(0x0200_0000_2000UL), 0x0A000001, 0x0B000002, 1024, 5001);
        Datapath.Packets.PacketParser.Parse(frame, 1, out var key, out _);
        Assert.True(m.Match.Matches(key));
        Datapath.Packets.PacketParser.Parse(frame, 2, out var other, out _);
        Assert.False(m.Match.Matches(other));
    }

    [Fact]
    public void Wildcards_PrefixesAndShorthands()
    {
        var m = Parse("priority=300,ip,in_port=1,nw_dst=13.1.2.3/16 actions=output:2");
        Assert.Equal(300, m.Priority);
        Assert.False(m.Match.IsExact);
        Assert.Equal(16, m.Match.NwDstPrefixBits);
        Assert.Equal(0, m.Match.NwSrcPrefixBits);
        Assert.Equal(0x0D010000u, m.Match.Value.NwDst);
        var w = m.Match.Wildcards;
        Assert.Equal(OfWildcards.None, w & (OfWildcards.InPort | OfWildcards.DlType));
        Assert.Equal(OfWildcards.NwProto | OfWildcards.TpSrc | OfWildcards.TpDst | OfWildcards.DlSrc | OfWildcards.DlDst | OfWildcards.DlVlan | OfWildcards.DlVlanPcp | OfWildcards.NwTos,
            w & (OfWildcards.NwProto | OfWildcards.TpSrc | OfWildcards.TpDst | OfWildcards.DlSrc | OfWildcards.DlDst | OfWildcards.DlVlan | OfWildcards.DlVlanPcp | OfWildcards.NwTos));
        Assert.Equal(24, Parse("ip,nw_src=10.0.0.0/255.255.255.0,actions=drop").Match.NwSrcPrefixBits);
        Assert.Equal(0, Parse("ip,nw_src=10.0.0.0/0,actions=drop").Match.NwSrcPrefixBits);
        Assert.Equal(FlowMatch.All, Parse("actions=NORMAL").Match);
    }

    [Fact]
    public void ProtocolShorthands_SetTypeAndProto()
    {
        Assert.Equal((ushort)0x0806, Parse("arp,arp_tpa=10.0.0.1,actions=FLOOD").Match.Value.DlType);
        var icmp = Parse("icmp,icmp_type=8,icmp_code=0,actions=drop").Match.Value;
        Assert.Equal((1, (ushort)8, (ushort)0), (icmp.NwProto, icmp.TpSrc, icmp.TpDst));
        Assert.Equal(6, Parse("tcp,tp_dst=80,actions=drop").Match.Value.NwProto);
        Assert.Equal(6, Parse("dl_type=0x0800,nw_proto=6,tp_dst=80,actions=drop").Match.Value.NwProto);
    }

    [Fact]
    public void Actions_EveryKind()
    {
        var a = Parse("in_port=1,actions=mod_vlan_vid:10,mod_vlan_pcp:3,strip_vlan,mod_dl_src:02:00:00:00:00:09,mod_dl_dst:02:00:00:00:00:0a,"
                      + "mod_nw_src:10.0.0.9,mod_nw_dst:10.0.0.10,mod_nw_tos:64,mod_tp_src:7,mod_tp_dst:8080,set_tunnel:0x2a,"
                      + "enqueue(2,5),enqueue:3:1,output:4,5,IN_PORT,NORMAL,FLOOD,ALL,LOCAL,CONTROLLER:128,controller").Actions.Items;
        FlowAction[] expected =
        [
            FlowAction.SetVlanVid(10), FlowAction.SetVlanPcp(3), FlowAction.StripVlan(), FlowAction.SetDlSrc(new MacAddress(0x0200_0000_0009UL)),
            FlowAction.SetDlDst(new MacAddress(0x0200_0000_000AUL)), FlowAction.SetNwSrc(0x0A000009), FlowAction.SetNwDst(0x0A00000A), FlowAction.SetNwTos(64),
            FlowAction.SetTpSrc(7), FlowAction.SetTpDst(8080), FlowAction.SetTunnel(0x2a), FlowAction.Enqueue(2, 5), FlowAction.Enqueue(3, 1),
            FlowAction.Output(4), FlowAction.Output(5), FlowAction.Output(PortNumber.InPort), FlowAction.Output(PortNumber.Normal),
            FlowAction.Output(PortNumber.Flood), FlowAction.Output(PortNumber.All), FlowAction.Output(PortNumber.Local),
            FlowAction.Output(PortNumber.Controller, 128), FlowAction.Output(PortNumber.Controller, 0xFFFF),
        ];
        Assert.Equal(expected, a);
        Assert.Empty(Parse("in_port=1,actions=drop").Actions.Items);
        Assert.Empty(Parse("in_port=1,actions=").Actions.Items);
    }

    /// <summary>
    /// Open vSwitch's controller action both ways, as ovs-ofctl writes and prints it (parse_CONTROLLER, format_CONTROLLER):
    /// reason action, id 0 and no userdata is an output to CONTROLLER; otherwise the fields that differ from their
    /// defaults, in Open vSwitch's order; pause and meter_id are refused.
    /// </summary>
    [Theory]
    [InlineData("controller(userdata=01.02.03.04.05)", "controller(userdata=01.02.03.04.05)")]
    [InlineData("controller(reason=invalid_ttl,max_len=1234,id=5678,userdata=01.02.03.04.05)", "controller(reason=invalid_ttl,max_len=1234,id=5678,userdata=01.02.03.04.05)")]
    [InlineData("controller(id=7,reason=no_match)", "controller(reason=no_match,id=7)")]
    [InlineData("controller(reason=group,max_len=9)", "controller(reason=group,max_len=9)")]
    [InlineData("controller(reason=packet_out)", "controller(reason=packet_out)")]
    [InlineData("controller(reason=action_set,id=2)", "controller(reason=action_set,id=2)")]
    [InlineData("controller(max_len=64,userdata=aabb)", "controller(max_len=64,userdata=aa.bb)")]
    [InlineData("controller(reason=action,max_len=99)", "CONTROLLER:99")]
    [InlineData("controller(128)", "CONTROLLER:128")]
    public void ControllerAction_BothWays(string text, string printed)
    {
        var a = Assert.Single(Parse("in_port=1,actions=" + text).Actions.Items);
        Assert.Equal(PortNumber.Controller, a.Port);
        Assert.Equal(printed, FlowFormat.Action(a));
        Assert.Equal(a, Assert.Single(Parse("in_port=1,actions=" + printed).Actions.Items));
    }

    [Theory]
    [InlineData("controller(pause)", "pause")]
    [InlineData("controller(meter_id=1)", "meter_id")]
    [InlineData("controller(reason=asdf)", "unknown reason \"asdf\"")]
    [InlineData("controller(foo=bar)", "unknown key \"foo\" parsing controller action")]
    [InlineData("controller(userdata=123x456)", "bad hex digit in `controller' action `userdata'")]
    public void ControllerAction_Refusals(string text, string why) => Assert.Contains(why, Error("in_port=1,actions=" + text));

    [Fact]
    public void FlowFields()
    {
        var m = Parse("cookie=0x10,idle_timeout=30,hard_timeout=60,table=0,priority=7,send_flow_rem,check_overlap,in_port=LOCAL,actions=output:1");
        Assert.Equal((0x10UL, (ushort)30, (ushort)60, (ushort)7), (m.Cookie, m.IdleTimeout, m.HardTimeout, m.Priority));
        Assert.Equal(FlowModFlags.SendFlowRemoved | FlowModFlags.CheckOverlap, m.Flags);
        Assert.Equal(PortNumber.Local, m.Match.Value.InPort);
        var d = Parse("in_port=2,out_port=3", FlowModCommand.Delete);
        Assert.Equal(FlowModCommand.Delete, d.Command);
        Assert.Equal(3, d.OutPort);
    }

    [Fact]
    public void TaggedVlanLeavesPcpWildcarded_UntaggedPinsIt()
    {
        var tagged = Parse("dl_vlan=5,actions=drop").Match.Wildcards;
        Assert.Equal(OfWildcards.DlVlanPcp, tagged & (OfWildcards.DlVlan | OfWildcards.DlVlanPcp));
        var untagged = Parse("dl_vlan=0xffff,actions=drop").Match.Wildcards;
        Assert.Equal(OfWildcards.None, untagged & (OfWildcards.DlVlan | OfWildcards.DlVlanPcp));
    }

    [Fact]
    public void VlanTci_AsOvsOfctlPrintsIt_ReadsAsDlVlan()
    {
        Assert.Equal(Parse("dl_vlan=0xffff,actions=drop").Match, Parse("vlan_tci=0x0000,actions=drop").Match);
        Assert.Equal(Parse("dl_vlan=5,dl_vlan_pcp=3,actions=drop").Match, Parse("vlan_tci=0x7005,actions=drop").Match);
        // What dump-flows prints reads back as the same flow.
        var m = Parse("priority=9,udp,in_port=1,dl_vlan=0xffff,nw_dst=10.0.0.2,actions=output:2");
        Assert.Equal("priority=9,udp,in_port=1,vlan_tci=0x0000,nw_dst=10.0.0.2", FlowFormat.Rule(m.Priority, m.Match));
        Assert.Equal(m.Match, Parse(FlowFormat.Rule(m.Priority, m.Match) + ",actions=output:2").Match);
    }

    [Theory]
    [InlineData("vlan_tci=0x0005,actions=drop", "vlan_tci")]
    [InlineData("vlan_tci=0x0000,dl_vlan=3,actions=drop", "vlan_tci")]
    [InlineData("in_port=1", "action")]
    [InlineData("in_port=1,frobnicate=2,actions=drop", "frobnicate")]
    [InlineData("nw_src=10.0.0.1,actions=drop", "prerequisites")]
    [InlineData("ip,tp_dst=80,actions=drop", "prerequisites")]
    [InlineData("tcp,icmp_type=3,actions=drop", "prerequisites")]
    [InlineData("ip,nw_tos=3,actions=drop", "nw_tos")]
    [InlineData("ip,nw_src=10.0.0.1/33,actions=drop", "nw_src")]
    [InlineData("ip,nw_src=10.0.0.1/255.0.255.0,actions=drop", "nw_src")]
    [InlineData("dl_vlan=5000,actions=drop", "dl_vlan")]
    [InlineData("dl_vlan=0xffff,dl_vlan_pcp=1,actions=drop", "dl_vlan_pcp")]
    [InlineData("dl_src=02:00:00:00:00:01/ff:ff:00:00:00:00,actions=drop", "dl_src")]
    [InlineData("in_port=1,in_port=2,actions=drop", "multiple")]
    [InlineData("table=1,actions=drop", "table")]
    [InlineData("udp,dl_type=0x0806,actions=drop", "dl_type")]
    [InlineData("in_port=1,actions=output:x", "output:x")]
    [InlineData("in_port=1,actions=output:1,drop", "drop")]
    [InlineData("in_port=1,actions=mod_nw_tos:3", "mod_nw_tos")]
    [InlineData("in_port=1,actions=bogus", "bogus")]
    [InlineData("priority=70000,actions=drop", "priority")]
    public void BadInput_IsAnErrorNamingTheField(string text, string named)
        => Assert.Contains(named, Error(text), StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void File_SkipsCommentsAndBlankLines_NamesTheBadLine()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "# flows\n\npriority=1,in_port=1,actions=output:2\n  in_port=2 actions=output:1  \n");
            var mods = OfctlFlowParser.ParseFile(path);
            Assert.Equal(2, mods.Count);
            Assert.Equal(2, mods[1].Match.Value.InPort);
            File.AppendAllText(path, "in_port=3,actions=nowhere\n");
            var e = Assert.Throws<FormatException>(() => OfctlFlowParser.ParseFile(path));
            Assert.Contains(":5:", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
