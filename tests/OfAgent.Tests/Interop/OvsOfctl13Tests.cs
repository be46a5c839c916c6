using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Of13;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>Real ovs-ofctl -O OpenFlow13 against the switch: its printed output, and the packets the flows it adds forward.</summary>
public sealed class OvsOfctl13Tests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static string Ok(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Ok(rig, "OpenFlow13", cmd, rest);

    private static string Refused(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Refused(rig, "OpenFlow13", cmd, rest);

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ShowTablesFeaturesPorts()
    {
        await using var rig = new AgentRig();
        var show = Ok(rig, "show");
        Assert.Contains("OFPT_FEATURES_REPLY (OF1.3)", show);
        Assert.Contains("dpid:0000000000001234", show);
        Assert.Contains("n_tables:254, n_buffers:256", show);
        Assert.Contains("capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS", show);
        Assert.Contains("1(mem1): addr:02:00:00:00:00:01", show);
        Assert.Contains("state:      LIVE", show);
        Assert.Contains("Manufacturer: Softswitch project", Ok(rig, "dump-desc"));
        var tables = Ok(rig, "dump-tables");
        Assert.Contains("OFPST_TABLE reply (OF1.3)", tables);
        Assert.Contains("tables 1...253: ditto", tables);
        var features = Ok(rig, "dump-table-features");
        Assert.Contains("next tables: 1-253", features);
        Assert.Contains("instructions: meter apply_actions clear_actions write_actions write_metadata goto_table", features);
        Assert.Contains("arbitrary mask: tun_id metadata eth_{src,dst} vlan_vid ip_{src,dst} ipv6_{src,dst,label} arp_{spa,tpa,sha,tha}", features);
        Assert.Contains("table 253 (\"table253\")", features);
        Assert.Contains("4(mem4): addr:02:00:00:00:00:04", Ok(rig, "dump-ports-desc"));
        rig.Clock.Advance(TimeSpan.FromSeconds(2.5));
        var ports = Ok(rig, "dump-ports");
        Assert.Contains("4 ports", ports);
        Assert.Contains("duration=2.5", ports); // each port's age, from when it was added
        Assert.Contains("duration=2.5", Ok(rig, "queue-stats", "1", "0")); // and its queues'
        var groupFeatures = Ok(rig, "dump-group-features");
        Assert.Contains("Group table:", groupFeatures);
        Assert.Contains("Types:  0xf", groupFeatures);
        Assert.Contains("Capabilities:  0xf", groupFeatures);
        Assert.Contains("all group:\n       max_groups=0x10000", groupFeatures);
        var meterFeatures = Ok(rig, "meter-features");
        Assert.Contains("max_meter:65536 max_bands:8 max_color:0", meterFeatures);
        Assert.Contains("band_types: drop dscp_remark", meterFeatures);
        Assert.Contains("capabilities: kbps pktps burst stats", meterFeatures);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AnUntaggedFlowAddedUnder10DumpsUnder13()
    {
        // ovs-ofctl writes 1.0's dl_vlan=0xffff with dl_vlan_pcp exact (its vlan_tci=0x0000 mask covers the PCP). Under
        // 1.3 the flow is VLAN_VID=OFPVID_NONE with no VLAN_PCP: a PCP there fails the reader's prerequisite check, and
        // ovs-ofctl then prints the whole reply as "decode error: OFPBMC_BAD_PREREQ".
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow10", "add-flow", "priority=300,in_port=1,dl_vlan=0xffff,actions=output:2");
        var flows = Ok(rig, "dump-flows");
        Assert.DoesNotContain("decode error", flows);
        Assert.Contains("priority=300,in_port=1,vlan_tci=0x0000/0x1fff actions=output:2", flows);
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task MultiTableFlowsForwardAndDumpPerTable_CookieMasksSelect()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "table=0,priority=10,cookie=0x11,in_port=1,actions=write_metadata:0x7/0xff,goto_table:3");
        Ok(rig, "add-flow", "table=3,priority=5,cookie=0x21,ip,metadata=0x7/0xff,nw_dst=10.0.0.0/8,actions=set_field:00:00:00:00:00:09->eth_dst,output:2");
        Ok(rig, "add-flow", "table=3,priority=1,cookie=0x22,actions=clear_actions,write_actions(output:3)");
        var flows = Ok(rig, "dump-flows");
        Assert.Contains("cookie=0x11, duration=", flows);
        Assert.Contains("table=0, n_packets=0, n_bytes=0, priority=10,in_port=1 actions=write_metadata:0x7/0xff,goto_table:3", flows);
        Assert.Contains("table=3, n_packets=0, n_bytes=0, priority=5,ip,metadata=0x7/0xff,nw_dst=10.0.0.0/8 actions=set_field:00:00:00:00:00:09->eth_dst,output:2", flows);
        Assert.Contains("priority=1 actions=clear_actions,write_actions(output:3)", flows);
        Assert.DoesNotContain("table=0", Ok(rig, "dump-flows", "table=3"));

        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0b000001, 0x0b000002, 1, 2, 10));
        rig.Poll();
        var out2 = rig.Ports[1].TakeSent();
        Assert.Single(out2);
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:09"), MacAddress.Read(out2[0]));
        Assert.Single(rig.Ports[2].TakeSent()); // 11.0.0.2 fell to table 3's priority-1 flow: its write-actions
        Assert.Contains("n_packets=2", Ok(rig, "dump-flows", "table=0"));
        // A modify keeps the counters (1.3.5 section 6.4) unless it has RESET_COUNTS.
        Ok(rig, "mod-flows", "table=0,in_port=1,actions=write_metadata:0x7/0xff,goto_table:3");
        Assert.Contains("n_packets=2", Ok(rig, "dump-flows", "table=0"));
        Ok(rig, "mod-flows", "table=0,in_port=1,reset_counts,actions=write_metadata:0x7/0xff,goto_table:3");
        Assert.Contains("n_packets=0", Ok(rig, "dump-flows", "table=0"));

        // Cookie masks: modify and delete select by cookie; the others stay.
        Ok(rig, "mod-flows", "table=3,cookie=0x20/0xf0,actions=output:4");
        Assert.Equal(2, Ok(rig, "dump-flows", "cookie=0x20/0xf0").Split("actions=output:4").Length - 1);
        Ok(rig, "del-flows", "cookie=0x21/0xff");
        var left = Ok(rig, "dump-flows");
        Assert.DoesNotContain("cookie=0x21", left);
        Assert.Contains("cookie=0x22", left);
        Assert.Contains("cookie=0x11", left);
        Ok(rig, "del-flows");
        Assert.DoesNotContain("cookie=", Ok(rig, "dump-flows"));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task RefusalsCarryTheirOpenFlow13Errors()
    {
        await using var rig = new AgentRig();
        Assert.Contains("OFPBIC_BAD_TABLE_ID", Refused(rig, "add-flow", "table=2,actions=goto_table:1"));
        Assert.Contains("OFPFMFC_BAD_TABLE_ID", Refused(rig, "add-flow", "table=254,actions=drop"));
        Assert.Contains("OFPBAC_BAD_OUT_GROUP", Refused(rig, "add-flow", "actions=group:1"));
        Assert.Contains("OFPBAC_BAD_OUT_PORT", Refused(rig, "add-flow", "actions=output:99"));
        Assert.Contains("OFPBAC_BAD_OUT_PORT", Refused(rig, "add-group", "group_id=1,type=all,bucket=output:99"));
        Assert.Contains("OFPGMFC_UNKNOWN_GROUP", Refused(rig, "mod-group", "group_id=1,type=all,bucket=output:1"));
        Assert.Contains("OFPGMFC_INVALID_GROUP", Refused(rig, "add-group", "group_id=1,type=select,bucket=weight:0,output:1"));
        Assert.Contains("OFPGMFC_BAD_WATCH", Refused(rig, "add-group", "group_id=1,type=ff,bucket=watch_port:77,output:1"));
        Assert.Contains("OFPGMFC_WATCH_UNSUPPORTED", Refused(rig, "add-group", "group_id=1,type=all,bucket=watch_port:1,output:1"));
        Assert.Contains("OFPBAC_BAD_OUT_GROUP", Refused(rig, "add-group", "group_id=1,type=all,bucket=group:2"));
        Ok(rig, "add-group", "group_id=1,type=all,bucket=output:1");
        Assert.Contains("OFPGMFC_GROUP_EXISTS", Refused(rig, "add-group", "group_id=1,type=all,bucket=output:2"));
        Ok(rig, "add-group", "group_id=2,type=all,bucket=group:1");
        Assert.Contains("OFPGMFC_LOOP", Refused(rig, "mod-group", "group_id=1,type=all,bucket=group:2"));
        Assert.Contains("OFPMMFC_UNKNOWN_METER", Refused(rig, "add-flow", "actions=meter:1,output:1"));
        Assert.Contains("OFPMMFC_UNKNOWN_METER", Refused(rig, "mod-meter", "meter=1,kbps,band=type=drop,rate=1000"));
        Ok(rig, "add-meter", "meter=1,kbps,band=type=drop,rate=1000");
        Assert.Contains("OFPMMFC_METER_EXISTS", Refused(rig, "add-meter", "meter=1,kbps,band=type=drop,rate=1000"));
        Assert.Contains("OFPMMFC_INVALID_METER", Refused(rig, "add-meter", "meter=slowpath,kbps,band=type=drop,rate=10"));
        Assert.Contains("OFPMMFC_UNKNOWN_METER", Ok(rig, "meter-stats", "meter=5")); // ovs-ofctl prints the error and exits 0
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task GroupsForwardDumpCountAndTheirDeletionRemovesTheirFlows()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-group", "group_id=1,type=all,bucket=set_field:00:00:00:00:00:09->eth_dst,output:2,bucket=output:3");
        Ok(rig, "add-group", "group_id=2,type=select,bucket=weight:1,output:2,bucket=weight:1,output:3,bucket=weight:1,output:4");
        Ok(rig, "add-group", "group_id=3,type=ff,bucket=watch_port:4,output:4,bucket=watch_port:3,output:3");
        Ok(rig, "add-flow", "priority=10,udp,tp_dst=1,actions=group:1");
        Ok(rig, "add-flow", "priority=10,udp,tp_dst=2,actions=group:2");
        Ok(rig, "add-flow", "priority=10,udp,tp_dst=3,actions=write_actions(group:3,output:2)");
        var groups = Ok(rig, "dump-groups");
        // As given (ovs-ofctl leaves out a select bucket's weight of 1).
        Assert.Contains("group_id=1,type=all,bucket=actions=set_field:00:00:00:00:00:09->eth_dst,output:2,bucket=actions=output:3", groups);
        Assert.Contains("group_id=2,type=select,bucket=actions=output:2,bucket=actions=output:3,bucket=actions=output:4", groups);
        Assert.Contains("group_id=3,type=ff,bucket=watch_port:4,actions=output:4,bucket=watch_port:3,actions=output:3", groups);

        // ALL: a copy per bucket, each with its own rewrite.
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 9, 1, 10));
        rig.Poll();
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:09"), MacAddress.Read(Assert.Single(rig.Ports[1].TakeSent())));
        Assert.Equal(H2, MacAddress.Read(Assert.Single(rig.Ports[2].TakeSent())));
        // SELECT: 300 flows over three buckets, each flow on one.
        for (int i = 0; i < 300; i++) rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, (ushort)(1000 + i), 2, 10));
        rig.Poll();
        int[] counts = [rig.Ports[1].TakeSent().Count, rig.Ports[2].TakeSent().Count, rig.Ports[3].TakeSent().Count];
        Assert.Equal(300, counts.Sum());
        Assert.All(counts, n => Assert.InRange(n, 60, 140));
        // FAST_FAILOVER in an action set: the group takes precedence over the set's output; port 4 is live.
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 9, 3, 10));
        rig.Poll();
        Assert.Single(rig.Ports[3].TakeSent());
        Assert.Empty(rig.Ports[1].TakeSent());

        var stats = Ok(rig, "dump-group-stats");
        Assert.Contains("group_id=1,duration=", stats);
        Assert.Contains("ref_count=1,packet_count=1,byte_count=", stats);
        Assert.Contains("group_id=2,duration=", stats);
        Assert.Contains("packet_count=300", stats);
        Assert.Contains("group_id=3,", stats);
        Assert.Contains("flow_count=1", Ok(rig, "dump-aggregate", "out_group=2"));
        Assert.Contains("udp,tp_dst=2", Ok(rig, "dump-flows", "out_group=2"));
        Assert.DoesNotContain("tp_dst=1", Ok(rig, "dump-flows", "out_group=2"));

        // Deleting a group deletes the flows that apply it.
        Ok(rig, "del-groups", "group_id=1");
        var flows = Ok(rig, "dump-flows");
        Assert.DoesNotContain("group:1", flows);
        Assert.Contains("group:2", flows);
        Assert.DoesNotContain("group_id=1,", Ok(rig, "dump-groups"));
        Ok(rig, "del-groups");
        Assert.DoesNotContain("group", Ok(rig, "dump-flows"));

        // A bucket's set-field reads back as given: ICMPv6's field stays ICMPv6's (a group has no match to tell).
        Ok(rig, "add-group", "group_id=9,type=indirect,bucket=set_field:135->icmpv6_type,set_field:3->icmp_code,output:2");
        var desc = Ok(rig, "dump-groups");
        Assert.Contains("set_field:135->icmpv6_type", desc);
        Assert.Contains("set_field:3->icmp_code", desc);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task MetersLimitRemarkDumpCountAndTheirDeletionRemovesTheirFlows()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-meter", "meter=1,pktps,burst,stats,band=type=drop,rate=10,burst_size=5");
        Ok(rig, "add-meter", "meter=2,pktps,burst,band=type=dscp_remark,rate=100,burst_size=2,prec_level=1");
        Ok(rig, "add-flow", "priority=10,udp,tp_dst=1,actions=meter:1,output:2");
        Ok(rig, "add-flow", "priority=10,udp,tp_dst=2,actions=meter:2,output:3");
        var meters = Ok(rig, "dump-meters");
        Assert.Contains("meter=1 pktps burst stats bands=\ntype=drop rate=10 burst_size=5", meters);
        Assert.Contains("meter=2 pktps burst bands=\ntype=dscp_remark rate=100 burst_size=2 prec_level=1", meters);
        Assert.Contains("meter:1", Ok(rig, "dump-flows", "udp,tp_dst=1"));

        // The clock stands still: the drop band passes its burst, 5 packets of 20.
        for (int i = 0; i < 20; i++) rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 9, 1, 10));
        rig.Poll();
        Assert.Equal(5, rig.Ports[1].TakeSent().Count);
        rig.Clock.Advance(TimeSpan.FromMilliseconds(200)); // 2 packets' worth at 10 pkt/s
        for (int i = 0; i < 5; i++) rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 9, 1, 10));
        rig.Poll();
        Assert.Equal(2, rig.Ports[1].TakeSent().Count);
        // The remark band: 2 packets within it, the third AF11 -> AF12 with a valid header checksum.
        for (int i = 0; i < 3; i++) rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 9, 2, 10, tos: 10 << 2));
        rig.Poll();
        var remarked = rig.Ports[2].TakeSent();
        Assert.Equal([10, 10, 12], remarked.Select(f => f[15] >> 2));
        Assert.True(Softswitch.Datapath.Packets.Checksum.IsValid(remarked[2].AsSpan(14, 20)));

        var stats = Ok(rig, "meter-stats");
        Assert.Contains("meter:1 flow_count:1 packet_in_count:25 byte_in_count:", stats);
        Assert.Contains("0: packet_count:18 byte_count:", stats);
        Assert.Contains("meter:2 flow_count:1 packet_in_count:3", stats);

        // Deleting a meter deletes the flows that name it.
        Ok(rig, "del-meter", "meter=1");
        var flows = Ok(rig, "dump-flows");
        Assert.DoesNotContain("meter:1", flows);
        Assert.Contains("meter:2", flows);
        Assert.DoesNotContain("meter=1 ", Ok(rig, "dump-meters"));
        Ok(rig, "del-meters");
        Assert.DoesNotContain("meter", Ok(rig, "dump-flows"));
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task TheControllerMeterLimitsPacketIns()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-meter", "meter=controller,pktps,burst,band=type=drop,rate=10,burst_size=3");
        Assert.Contains("meter=controller pktps burst", Ok(rig, "dump-meters"));
        Ok(rig, "add-flow", "priority=0,actions=CONTROLLER:65535");
        for (int i = 0; i < 10; i++) rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, (ushort)(100 + i), 1, 10));
        rig.Poll();
        Assert.Equal(7L, rig.Dp.DropCount(Softswitch.Datapath.Counters.DropReason.ControllerMeter));
        Assert.Contains("meter:controller flow_count:0 packet_in_count:10", Ok(rig, "meter-stats", "meter=controller"));
    }

    /// <summary><paramref name="inner"/> with one MPLS entry (bottom of stack, TTL 64) after its addresses.</summary>
    private static byte[] Mpls(byte[] inner, uint label)
    {
        var f = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(f);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeMpls);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), (label << 12) | 0x100 | 64);
        inner.AsSpan(14).CopyTo(f.AsSpan(18));
        return f;
    }

    /// <summary>MPLS termination across tables as ovs-ofctl writes it (OpenFlow 1.3.5 section 5.1: each table matches
    /// the packet as the previous tables' apply-actions left it): after pop_mpls in table 0, table 1 matches the inner
    /// IPv4 (DSCP, address, TCP port) or ARP packet, and its counters and the frame that comes out say so.</summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task PopMplsThenGotoTable_TheNextTableMatchesTheInnerPacket()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "table=0,priority=10,in_port=1,mpls,mpls_label=100,actions=pop_mpls:0x0800,goto_table:1");
        Ok(rig, "add-flow", "table=0,priority=10,in_port=1,mpls,mpls_label=200,actions=pop_mpls:0x0806,goto_table:1");
        Ok(rig, "add-flow", "table=1,priority=10,tcp,ip_dscp=10,nw_src=10.0.0.1,tp_dst=80,actions=output:2");
        Ok(rig, "add-flow", "table=1,priority=10,arp,arp_op=1,actions=output:3");
        Ok(rig, "add-flow", "table=1,priority=0,actions=output:4");

        var tcp = FrameBuilder.Tcp(H1, H2, 0x0a000001, 0x0a000002, 1234, 80, tos: 10 << 2);
        var arp = FrameBuilder.Arp(1, H1, 0x0a000001, default, 0x0a000002);
        rig.Ports[0].Inject(Mpls(tcp, 100));
        rig.Ports[0].Inject(Mpls(arp, 200));
        rig.Poll();
        Assert.Equal(tcp, Assert.Single(rig.Ports[1].TakeSent()));
        Assert.Equal(arp, Assert.Single(rig.Ports[2].TakeSent()));
        Assert.Empty(rig.Ports[3].TakeSent());
        var flows = Ok(rig, "dump-flows", "table=1");
        // Table 1 counts the packet it matched, the MPLS entry popped (as Open vSwitch's flow after recirculation);
        // ovs-ofctl prints ip_dscp=10 as nw_tos=40.
        Assert.Contains("n_packets=1, n_bytes=" + tcp.Length + ", priority=10,tcp,nw_src=10.0.0.1,nw_tos=40,tp_dst=80 actions=output:2", flows);
        Assert.Contains("n_packets=1, n_bytes=" + arp.Length + ", priority=10,arp,arp_op=1 actions=output:3", flows);
        var table0 = Ok(rig, "dump-flows", "table=0");
        Assert.Contains("n_packets=1, n_bytes=" + (tcp.Length + 4) + ", priority=10,mpls,in_port=1,mpls_label=100", table0);
        Assert.Contains("n_packets=1, n_bytes=" + (arp.Length + 4) + ", priority=10,mpls,in_port=1,mpls_label=200", table0);
        Assert.Contains("n_packets=0, n_bytes=0, priority=0", flows);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task PacketOutAndPacketInsOfATableMissEntry()
    {
        await using var rig = new AgentRig();
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        Ok(rig, "packet-out", "in_port=controller packet=" + Convert.ToHexString(frame) + " actions=output:3");
        Assert.Equal(frame, Assert.Single(rig.Ports[2].TakeSent()));

        Ok(rig, "add-flow", "table=0,priority=0,actions=goto_table:1");
        Ok(rig, "add-flow", "table=1,priority=0,cookie=0x5eed,actions=CONTROLLER:65535");
        // ovs-ofctl monitor asks for the whole packet (miss_send_len) and prints every asynchronous message.
        // -P standard: unless told, ovs-ofctl monitor asks for NXT_PACKET_IN2, which the switch serves (OvsOfctlPacketIn2Tests).
        using var monitor = OvsOfctlMonitor.Start(rig, "ss13-mon", ["-O", "OpenFlow13", "-P", "standard"], "65534");
        var lines = monitor.Lines;
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.MissSendLen == 65534), 10_000), "monitor did not connect");
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.True(await Wait.UntilAsync(() => lines.Any(l => l.Contains("OFPT_PACKET_IN (OF1.3)")), 10_000),
            $"sent {rig.Agent.PacketInsSent}, dropped {rig.Agent.PacketInsDropped}: " + string.Join('\n', lines));
        var packetIn = lines.First(l => l.Contains("OFPT_PACKET_IN"));
        // A table-miss flow entry's packet-in is a miss in 1.3, from its table, with its cookie, unbuffered (max_len 65535).
        Assert.Contains("cookie=0x5eed total_len=" + frame.Length + " in_port=1 (via no_match) data_len=" + frame.Length + " (unbuffered)", packetIn);
        Assert.Contains("table_id=1", packetIn);
        Assert.DoesNotContain("metadata=", packetIn);

        // Metadata written by table 0 is the packet-in's context (OpenFlow 1.3.5 section 7.4.1), in its match.
        Ok(rig, "mod-flows", "table=0,priority=0,actions=write_metadata:0xab/0xff,goto_table:1");
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.True(await Wait.UntilAsync(() => lines.Count(l => l.Contains("OFPT_PACKET_IN (OF1.3)")) == 2, 10_000), string.Join('\n', lines));
        var second = lines.Last(l => l.Contains("OFPT_PACKET_IN"));
        Assert.Contains("metadata=0xab", second);
        Assert.Contains("in_port=1", second);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task BothVersionsAtOnce_OneZeroAndOneThreeToolsOnOneSwitch()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "table=0,priority=9,ip,actions=output:2");
        var (code, f10, se) = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "dump-flows", $"tcp:127.0.0.1:{rig.ListenPort}");
        Assert.True(code == 0, se);
        Assert.Contains("priority=9,ip actions=output:2", f10);
        (code, _, se) = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "add-flow", $"tcp:127.0.0.1:{rig.ListenPort}", "priority=8,arp,actions=output:3");
        Assert.True(code == 0, se);
        Assert.Contains("priority=8,arp actions=output:3", Ok(rig, "dump-flows"));
    }

    /// <summary>
    /// A flow per field the switch may set (OFPXMT_OFB_* number, the flow as ovs-ofctl writes it, added with OpenFlow 1.0's
    /// actions where the row says so), each with a match its set-field's prerequisites hold for.
    /// </summary>
    public static TheoryData<byte, string, string> SetFieldFlows => new()
    {
        { 3, "OpenFlow13", "priority=3,actions=set_field:00:00:00:00:00:09->eth_dst,output:2" },
        { 4, "OpenFlow13", "priority=4,actions=set_field:02:00:00:00:00:01->eth_src,output:2" },
        { 6, "OpenFlow13", "priority=6,dl_vlan=10,actions=set_field:4116->vlan_vid,output:2" },
        { 7, "OpenFlow13", "priority=7,dl_vlan=10,actions=set_field:5->vlan_pcp,output:2" },
        { 8, "OpenFlow13", "priority=8,ip,actions=set_field:46->ip_dscp,output:2" },
        { 9, "OpenFlow13", "priority=9,ip,actions=set_field:2->ip_ecn,output:2" },
        { 11, "OpenFlow13", "priority=11,ip,actions=set_field:10.0.0.1->ip_src,output:2" },
        { 12, "OpenFlow13", "priority=12,ip,actions=set_field:10.0.0.2->ip_dst,output:2" },
        { 13, "OpenFlow13", "priority=13,tcp,actions=set_field:1234->tcp_src,output:2" },
        { 14, "OpenFlow13", "priority=14,tcp,actions=set_field:80->tcp_dst,output:2" },
        { 15, "OpenFlow13", "priority=15,udp,actions=set_field:5353->udp_src,output:2" },
        { 16, "OpenFlow13", "priority=16,udp,actions=set_field:53->udp_dst,output:2" },
        { 17, "OpenFlow13", "priority=17,sctp,actions=set_field:2905->sctp_src,output:2" },
        { 18, "OpenFlow13", "priority=18,sctp,actions=set_field:3868->sctp_dst,output:2" },
        { 19, "OpenFlow13", "priority=19,icmp,actions=set_field:8->icmp_type,output:2" },
        { 20, "OpenFlow13", "priority=20,icmp,actions=set_field:1->icmp_code,output:2" },
        { 21, "OpenFlow13", "priority=21,arp,actions=set_field:2->arp_op,output:2" },
        { 22, "OpenFlow13", "priority=22,arp,actions=set_field:10.0.0.3->arp_spa,output:2" },
        { 23, "OpenFlow13", "priority=23,arp,actions=set_field:10.0.0.4->arp_tpa,output:2" },
        { 24, "OpenFlow13", "priority=24,arp,actions=set_field:02:00:00:00:00:05->arp_sha,output:2" },
        { 25, "OpenFlow13", "priority=25,arp,actions=set_field:02:00:00:00:00:06->arp_tha,output:2" },
        { 26, "OpenFlow13", "priority=26,ipv6,actions=set_field:2001:db8::1->ipv6_src,output:2" },
        { 27, "OpenFlow13", "priority=27,ipv6,actions=set_field:2001:db8::2->ipv6_dst,output:2" },
        { 28, "OpenFlow13", "priority=28,ipv6,actions=set_field:0x12345->ipv6_label,output:2" },
        { 29, "OpenFlow13", "priority=29,icmp6,actions=set_field:135->icmpv6_type,output:2" },
        { 30, "OpenFlow13", "priority=30,icmp6,actions=set_field:2->icmpv6_code,output:2" },
        { 31, "OpenFlow13", "priority=31,icmp6,icmp_type=135,actions=set_field:2001:db8::3->nd_target,output:2" },
        { 32, "OpenFlow13", "priority=32,icmp6,icmp_type=135,actions=set_field:02:00:00:00:00:07->nd_sll,output:2" },
        { 33, "OpenFlow13", "priority=33,icmp6,icmp_type=136,actions=set_field:02:00:00:00:00:08->nd_tll,output:2" },
        { 34, "OpenFlow13", "priority=34,mpls,actions=set_field:1000->mpls_label,output:2" },
        { 35, "OpenFlow13", "priority=35,mpls,actions=set_field:3->mpls_tc,output:2" },
        { 38, "OpenFlow13", "priority=38,actions=set_field:0x99->tun_id,output:2" },
        // OpenFlow 1.0's mod_tp_src/dst name no transport: the flow's match does.
        { 15, "OpenFlow10", "priority=115,udp,actions=mod_tp_src:5353,output:2" },
        { 16, "OpenFlow10", "priority=116,udp,actions=mod_tp_dst:53,output:2" },
        { 17, "OpenFlow10", "priority=117,sctp,actions=mod_tp_src:2905,output:2" },
        { 18, "OpenFlow10", "priority=118,sctp,actions=mod_tp_dst:3868,output:2" },
        { 13, "OpenFlow10", "priority=113,tcp,actions=mod_tp_src:1234,output:2" },
        { 14, "OpenFlow10", "priority=114,tcp,actions=mod_tp_dst:80,output:2" },
    };

    /// <summary>Fields the switch sets that ovs-ofctl cannot write in a set_field (it calls them read-only, or has no name for PBB's).</summary>
    private static readonly byte[] s_notWritableByOvsOfctl = [5 /* eth_type */, 10 /* ip_proto */, 36 /* mpls_bos */, 37 /* pbb_isid */];

    [Fact]
    public void SetFieldFlows_CoverEveryFieldTheSwitchSets()
    {
        var covered = SetFieldFlows.Select(r => (byte)r[0]).Concat(s_notWritableByOvsOfctl).Distinct().Order();
        Assert.Equal(Of13Capabilities.SettableFields, covered);
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [MemberData(nameof(SetFieldFlows))]
    public async Task ASetField_DumpedFlowReAddsToAnIdenticalTable(byte field, string addedWith, string flow)
    {
        Assert.Contains(field, Of13Capabilities.SettableFields);
        await using var rig = new AgentRig();
        var (code, _, se) = ExternalTool.Run("ovs-ofctl", "-O", addedWith, "add-flow", $"tcp:127.0.0.1:{rig.ListenPort}", flow);
        Assert.True(code == 0, se);
        string first = Ok(rig, "dump-flows", "--no-stats");
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, first.Split('\n').Where(l => l.Contains("actions=", StringComparison.Ordinal)).Select(l => l.Trim()));
            Assert.Equal("", Ok(rig, "diff-flows", file).Trim());
            Ok(rig, "del-flows");
            Ok(rig, "add-flows", file);
            Assert.Equal(first, Ok(rig, "dump-flows", "--no-stats"));
            Assert.Equal("", Ok(rig, "diff-flows", file).Trim());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task OneThreeOnlyActions_ReadBackOverOneZero_AsOpenVswitchWritesThem()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-group", "group_id=2,type=all,bucket=output:3");
        string[] flows =
        [
            "priority=1,ip,actions=dec_ttl,set_queue:1,group:2",
            "priority=2,mpls,actions=set_mpls_ttl(9),dec_mpls_ttl,set_field:7->mpls_label,set_field:3->mpls_tc,pop_mpls:0x0800,output:2",
            "priority=3,ip,actions=set_field:2->ip_ecn,mod_nw_ttl:5,push_mpls:0x8847,output:2",
            "priority=4,ipv6,actions=set_field:2001:db8::1->ipv6_src,push_vlan:0x8100,set_field:4100->vlan_vid,output:2",
        ];
        foreach (var f in flows) Ok(rig, "add-flow", f);
        var (code, dump, se) = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "dump-flows", $"tcp:127.0.0.1:{rig.ListenPort}");
        Assert.True(code == 0, se + dump);
        Assert.True(dump.Contains("priority=1,ip actions=dec_ttl,set_queue:1,group:2", StringComparison.Ordinal), dump);
        // The MPLS set-fields as Open vSwitch's set_field goes to 1.0 (set_mpls_ttl is an action of its own).
        Assert.Contains("actions=set_mpls_ttl(9),dec_mpls_ttl,load:0x7->OXM_OF_MPLS_LABEL[],load:0x3->OXM_OF_MPLS_TC[],pop_mpls:0x0800,output:2", dump);
        Assert.Contains("actions=load:0x2->NXM_NX_IP_ECN[],load:0x5->NXM_NX_IP_TTL[],push_mpls:0x8847,output:2", dump);
        Assert.Contains("actions=load:0x1->NXM_NX_IPV6_SRC[0..63],load:0x20010db800000000->NXM_NX_IPV6_SRC[64..127],mod_vlan_vid:4,output:2", dump);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    // ovs-ofctl -O OpenFlow10 dump-flows --no-stats of ovs-vswitchd 3.1 with the flows below added over OpenFlow 1.3 (table 0).
    private static readonly string[] s_ovsDump10 =
    [
        "priority=5,tcp actions=load:0x99->NXM_NX_TUN_ID[],mod_tp_dst:80,resubmit(,1)",
        "priority=1,ip actions=dec_ttl,load:0x2->NXM_NX_IP_ECN[],load:0x9->NXM_NX_IP_TTL[],set_queue:1,resubmit(,1)",
        "priority=2,mpls actions=set_mpls_ttl(9),dec_mpls_ttl,load:0x7->OXM_OF_MPLS_LABEL[],load:0x3->OXM_OF_MPLS_TC[],pop_mpls:0x0800,group:2",
        "priority=3,ipv6 actions=load:0x1->NXM_NX_IPV6_SRC[0..63],load:0x20010db800000000->NXM_NX_IPV6_SRC[64..127],load:0x12345->NXM_NX_IPV6_LABEL[],resubmit(,1)",
        "priority=4,arp actions=load:0x20000000005->NXM_NX_ARP_SHA[],push_mpls:0x8847,output:2",
    ];

    /// <summary>
    /// Flows added over OpenFlow 1.3 with actions 1.0 has only Nicira's extensions for (dec_ttl, set_queue, group, the MPLS
    /// actions, set_field of 1.3-only fields and nw_ttl, a 128-bit field, tun_id) and a goto-table: dumped over 1.0 as Open
    /// vSwitch 3.1 dumps them (<see cref="s_ovsDump10"/>), deleted over 1.0 and that dump re-added with ovs-ofctl -O
    /// OpenFlow10 add-flows, 1.3 reads back the same flows, the set-fields 1.0 carried as loads as those loads.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task OneThreeFlows_DumpedOverOneZero_ReAddOverOneZeroAsTheSameFlows()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-group", "group_id=2,type=all,bucket=output:3");
        Ok(rig, "add-flow", "table=1,priority=1,actions=output:2");
        string[] flows =
        [
            "priority=1,ip,actions=dec_ttl,set_field:2->ip_ecn,mod_nw_ttl:9,set_queue:1,goto_table:1",
            "priority=2,mpls,actions=set_mpls_ttl(9),dec_mpls_ttl,set_field:7->mpls_label,set_field:3->mpls_tc,pop_mpls:0x0800,group:2",
            "priority=3,ipv6,actions=set_field:2001:db8::1->ipv6_src,set_field:0x12345->ipv6_label,goto_table:1",
            "priority=4,arp,actions=set_field:02:00:00:00:00:05->arp_sha,push_mpls:0x8847,output:2",
            "priority=5,tcp,actions=set_field:0x99->tun_id,set_field:80->tcp_dst,goto_table:1",
        ];
        foreach (var f in flows) Ok(rig, "add-flow", f);
        static string[] Lines(string dump) => [.. dump.Split('\n').Where(l => l.Contains("actions=", StringComparison.Ordinal)).Select(l => l.Trim()).Order()];
        string[] before = Lines(Ok(rig, "dump-flows", "--no-stats"));
        Assert.Equal(flows.Length + 1, before.Length);

        string Of10(string cmd, params string[] rest)
        {
            var (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", cmd, $"tcp:127.0.0.1:{rig.ListenPort}", .. rest]);
            Assert.True(code == 0, $"ovs-ofctl -O OpenFlow10 {cmd} {string.Join(' ', rest)} failed ({code}): {se}{so}");
            return so;
        }
        string[] dump10 = Lines(Of10("dump-flows", "--no-stats"));
        const string Ip = "priority=1,ip actions=dec_ttl,load:0x2->NXM_NX_IP_ECN[],load:0x9->NXM_NX_IP_TTL[],set_queue:1,resubmit(,1)";
        Assert.True(dump10.Contains(Ip), string.Join('\n', dump10));
        string[] table0 = [.. dump10.Where(l => !l.StartsWith("table=", StringComparison.Ordinal))];
        // Open vSwitch 3.1's own 1.0 dump, line for line (tun_id and the MPLS set-fields as the loads it writes for a set_field).
        Assert.Equal([.. s_ovsDump10.Order()], table0);
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, table0);
            Of10("del-flows"); // an OpenFlow 1.0 delete names every table, as Open vSwitch takes it: table 1's flow goes too
            Assert.Empty(Lines(Ok(rig, "dump-flows", "--no-stats")));
            Ok(rig, "add-flow", "table=1,priority=1,actions=output:2");
            Of10("add-flows", file);
            // The set-fields 1.0 carried as NXAST_REG_LOADs are now loads, and 1.3 reads them back as those loads (as Open
            // vSwitch keeps the raw action); the others as before. Added over 1.0, each is reset_counts.
            string[] after = Lines(Ok(rig, "dump-flows", "--no-stats"));
            Assert.Equal(before.Length, after.Length);
            Assert.Contains("reset_counts priority=1,ip actions=dec_ttl,load:0x2->NXM_NX_IP_ECN[],load:0x9->NXM_NX_IP_TTL[],set_queue:1,goto_table:1", after);
            Assert.Contains("reset_counts priority=4,arp actions=load:0x20000000005->NXM_NX_ARP_SHA[],push_mpls:0x8847,output:2", after);
            Assert.Contains("reset_counts priority=2,mpls actions=set_mpls_ttl(9),dec_mpls_ttl,load:0x7->OXM_OF_MPLS_LABEL[],load:0x3->OXM_OF_MPLS_TC[],pop_mpls:0x0800,group:2", after);
            Assert.Contains("reset_counts priority=5,tcp actions=load:0x99->NXM_NX_TUN_ID[],set_field:80->tcp_dst,goto_table:1", after);
            Assert.Contains("table=1, priority=1 actions=output:2", after);
            Assert.Equal(dump10, Lines(Of10("dump-flows", "--no-stats")));

            // A strict delete over 1.0 finds its flow in any table: table 1's match-all, priority 1, not table 0's ip one.
            Of10("del-flows", "--strict", "priority=1");
            string[] left = Lines(Ok(rig, "dump-flows", "--no-stats"));
            Assert.Equal(flows.Length, left.Length);
            Assert.DoesNotContain(left, l => l.StartsWith("table=1", StringComparison.Ordinal));

            // A modify over 1.0 finds its flows in any table too: loose, then strict, table 1's udp flow alone.
            Ok(rig, "add-flow", "table=1,priority=7,udp,actions=output:2");
            Of10("mod-flows", "udp,actions=output:3");
            Assert.Contains("table=1, priority=7,udp actions=output:3", Lines(Ok(rig, "dump-flows", "--no-stats")));
            Of10("mod-flows", "--strict", "priority=7,udp,actions=output:1");
            string[] modified = Lines(Ok(rig, "dump-flows", "--no-stats"));
            Assert.Contains("table=1, priority=7,udp actions=output:1", modified);
            Assert.Equal(flows.Length + 1, modified.Length);
            // A resubmit back to table 1 for table 1's flow is refused (the 1.0 code of a goto that does not go forward), and
            // changes nothing.
            var (code, _, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", "mod-flows", $"tcp:127.0.0.1:{rig.ListenPort}", "udp,actions=output:2,resubmit(,1)"]);
            Assert.True(code != 0 && se.Contains("OFPT_ERROR", StringComparison.Ordinal) && se.Contains("OFPFMFC_UNSUPPORTED", StringComparison.Ordinal), se);
            Assert.Equal(modified, Lines(Ok(rig, "dump-flows", "--no-stats")));
        }
        finally
        {
            File.Delete(file);
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// ovs-ofctl -O OpenFlow13 sends Nicira experimenter actions for what 1.3 has no action of its own: resubmit(,N) looks
    /// the packet, as the actions before it left it, up in table N and then the list goes on (the frame goes through
    /// table 1's output and the output after the resubmit), NXAST_REG_LOADs of a field the switch sets are set-fields
    /// (load of nw_ttl; two halves of an IPv6 address), and the dump re-adds to the same table; a resubmit loop is
    /// dropped and counted; an exit ends the list (notes: OvsOfctlNiciraMiscTests).
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task NiciraActions_ResubmitForwardsThroughTheNextTable_LoadsSetFields_TheDumpReAdds()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "table=0,priority=10,in_port=1,ip,actions=load:0x3f->NXM_NX_IP_TTL[],resubmit(,1),output:3");
        Ok(rig, "add-flow", "table=0,priority=10,in_port=2,actions=resubmit(,4)");
        Ok(rig, "add-flow", "table=4,priority=10,actions=output:1,resubmit:2");
        Ok(rig, "add-flow", "table=1,priority=5,udp,tp_dst=3,actions=output:4,exit,output:2");
        Ok(rig, "add-flow", "table=0,priority=5,ipv6,actions=load:0x20010db8000000000000000000000001->NXM_NX_IPV6_DST[],output:3");
        Ok(rig, "add-flow", "table=1,priority=10,udp,tp_dst=2,actions=output:2");
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        var sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(0x3f, sent[14 + 8]); // the IPv4 TTL the load set, before table 1 forwarded it
        Assert.Single(rig.Ports[2].TakeSent()); // and the output after the resubmit
        // To tp_dst 3, table 1 outputs to port 4 and exits: neither its output:2 nor table 0's output:3 after the resubmit runs.
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 3, 10));
        rig.Poll();
        Assert.Single(rig.Ports[3].TakeSent());
        Assert.Empty(rig.Ports[1].TakeSent());
        Assert.Empty(rig.Ports[2].TakeSent());
        // Table 4 resubmits to its own table as if from port 2, again and again: cut at 64 levels, dropped, counted.
        rig.Ports[1].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Empty(rig.Ports[0].TakeSent());
        Assert.Equal(1, rig.Dp.DropCount(Softswitch.Datapath.Counters.DropReason.Resubmit));
        string first = Ok(rig, "dump-flows", "--no-stats");
        // Whole-field loads read back as the loads they were, as Open vSwitch prints them.
        Assert.Contains("priority=10,ip,in_port=1 actions=load:0x3f->NXM_NX_IP_TTL[],resubmit(,1),output:3", first);
        Assert.Contains("table=4, priority=10 actions=output:1,resubmit:2", first);
        Assert.Contains("priority=5,udp,tp_dst=3 actions=output:4,exit,output:2", first);
        Assert.Contains("load:0x1->NXM_NX_IPV6_DST[0..63],load:0x20010db800000000->NXM_NX_IPV6_DST[64..127],output:3", first);
        Assert.Equal(first, OvsOfctl.ReAdd(rig, "OpenFlow13", OvsOfctl.FlowLines(first)));

        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// Open vSwitch's registers over OpenFlow 1.3: ovs-ofctl's load, set_field, move (packet field to register and back)
    /// and output:REG, register matches (reg, masked, and an xreg, which ovs-ofctl sends as its two regs), a pipeline
    /// that forwards frames by them, and the dump that re-adds to the same table.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task NiciraActions_Registers_LoadMoveOutputAndMatch_ForwardFrames_TheDumpReAdds()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "table=0,priority=10,in_port=1,actions=load:0x2->NXM_NX_REG0[0..15],move:NXM_OF_ETH_SRC[]->NXM_NX_XXREG1[0..47],resubmit(,1)");
        Ok(rig, "add-flow", "table=0,priority=10,in_port=2,actions=set_field:0x3->reg0,resubmit(,1)");
        Ok(rig, "add-flow", "table=1,priority=10,reg0=0x2,actions=move:NXM_NX_XXREG1[0..47]->NXM_OF_ETH_DST[],output:NXM_NX_REG0[0..15]");
        Ok(rig, "add-flow", "table=1,priority=10,reg0=0x3/0xff,actions=output:NXM_NX_REG0[]");
        Ok(rig, "add-flow", "table=1,priority=20,xreg3=0x500000000/0xf00000000,actions=drop");
        // Port 1: reg0 = 2, the source MAC through xxreg1 into the destination, out of port 2.
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Equal(H1, MacAddress.Read(Assert.Single(rig.Ports[1].TakeSent())));
        // Port 2: reg0 = 3, out of the port it names.
        rig.Ports[1].Inject(FrameBuilder.Udp(H2, H1, 0x0a000002, 0x0a000001, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[2].TakeSent());
        string first = Ok(rig, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=load:0x2->NXM_NX_REG0[0..15],move:NXM_OF_ETH_SRC[]->NXM_NX_XXREG1[0..47],resubmit(,1)", first);
        Assert.Contains("priority=10,in_port=2 actions=set_field:0x3->reg0,resubmit(,1)", first);
        Assert.Contains("priority=10,reg0=0x2 actions=move:NXM_NX_XXREG1[0..47]->NXM_OF_ETH_DST[],output:NXM_NX_REG0[0..15]", first);
        Assert.Contains("priority=10,reg0=0x3/0xff actions=output:NXM_NX_REG0[]", first);
        Assert.Contains("priority=20,reg6=0x5/0xf actions=drop", first);
        // The same flows (rules of one priority in one table may list in another order).
        static string[] Lines(string dump) => [.. dump.Split('\n').Order(StringComparer.Ordinal)];
        Assert.Equal(Lines(first), Lines(OvsOfctl.ReAdd(rig, "OpenFlow13", OvsOfctl.FlowLines(first))));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// Register loads and moves in write-actions, as Open vSwitch's action set takes them: they run where the set runs,
    /// at the pipeline's end (a move reads what a later table loaded), after the set's set-fields and before its output,
    /// and a resubmit in the set sees what they wrote. dump-flows gives them back as written, and the dump re-adds.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task NiciraActions_RegistersInWriteActions_RunWithTheActionSet_TheDumpReAdds()
    {
        await using var rig = new AgentRig();
        // Port 1: the set moves reg1 into the IP destination; reg1 is loaded by table 1, after the write.
        Ok(rig, "add-flow", "table=0,priority=10,ip,in_port=1,actions=write_actions(move:NXM_NX_REG1[]->NXM_OF_IP_DST[],output:2),goto_table:1");
        Ok(rig, "add-flow", "table=1,priority=10,actions=load:0xa000063->NXM_NX_REG1[]");
        // Port 2: the set loads reg2, and its resubmit finds table 2's rule by it.
        Ok(rig, "add-flow", "table=0,priority=10,in_port=2,actions=write_actions(load:0x5->NXM_NX_REG2[],resubmit(,2))");
        Ok(rig, "add-flow", "table=2,priority=10,reg2=0x5,actions=output:3");
        Ok(rig, "add-flow", "table=2,priority=5,actions=output:4");

        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        var sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000063, 1, 2, 10), sent); // checksums moved with it
        rig.Ports[1].Inject(FrameBuilder.Udp(H2, H1, 0x0a000002, 0x0a000001, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[2].TakeSent());
        Assert.Empty(rig.Ports[3].TakeSent());

        string first = Ok(rig, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,ip,in_port=1 actions=write_actions(move:NXM_NX_REG1[]->NXM_OF_IP_DST[],output:2),goto_table:1", first);
        Assert.Contains("priority=10,in_port=2 actions=write_actions(load:0x5->NXM_NX_REG2[],resubmit(,2))", first);
        static string[] Lines(string dump) => [.. dump.Split('\n').Order(StringComparer.Ordinal)];
        Assert.Equal(Lines(first), Lines(OvsOfctl.ReAdd(rig, "OpenFlow13", OvsOfctl.FlowLines(first))));
        // A register action Open vSwitch's action set does not take is still refused.
        Assert.Contains("OFPBAC_BAD_TYPE", Refused(rig, "add-flow", "actions=write_actions(output:NXM_NX_REG0[0..15])"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
