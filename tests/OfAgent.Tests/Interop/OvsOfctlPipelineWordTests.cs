using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl with nw_ttl, tcp_flags, pkt_mark, tun_src/tun_dst (OpenFlow 1.0's NXM, 1.3's and 1.5's OXM) and
/// actset_output (1.3's ONF experimenter field, 1.5's OXM): added, dumped as Open vSwitch prints them, re-added from the
/// dump; then frames of one flow key that differ in TTL or TCP flags each take their flow (twice: the second time from
/// the cache), a pkt_mark loaded in one table is matched in the next, and actset_output is matched after write_actions;
/// dp_hash (NXM_NX_DP_HASH) added, dumped and re-added, and matched in the table a dp_hash group's buckets resubmit to.
/// </summary>
public sealed class OvsOfctlPipelineWordTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static readonly (string Add, string Dumped)[] Flows =
    [
        ("priority=30,tcp,nw_ttl=64,actions=output:2", "priority=30,tcp,nw_ttl=64 actions=output:2"),
        ("priority=25,tcp,tcp_flags=fin|ack,actions=output:4", "priority=25,tcp,tcp_flags=fin|ack actions=output:4"),
        ("priority=20,tcp,tcp_flags=+syn-ack,actions=output:3", "priority=20,tcp,tcp_flags=+syn-ack actions=output:3"),
        ("priority=15,tun_src=1.2.3.4,tun_dst=5.6.7.0/24,actions=output:2", "priority=15,tun_src=1.2.3.4,tun_dst=5.6.7.0/24 actions=output:2"),
        ("priority=40,udp,actions=load:5->NXM_NX_PKT_MARK[],resubmit(,1)", "priority=40,udp actions=load:0x5->NXM_NX_PKT_MARK[],resubmit(,1)"),
        ("priority=1,actions=output:5", "priority=1 actions=output:5"),
        ("table=1,priority=10,pkt_mark=0x5/0xff,actions=output:3", "table=1, priority=10,pkt_mark=0x5/0xff actions=output:3"),
        ("table=1,priority=5,actions=output:4", "table=1, priority=5 actions=output:4"),
    ];

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow15")]
    public async Task TtlTcpFlagsPktMarkTunnel_AddDumpReAdd_AndFramesTakeTheirFlows(string version)
    {
        await using var rig = OvsOfctl.Rig(5);
        foreach (var (add, _) in Flows) OvsOfctl.Ok(rig, version, "add-flow", add);
        var lines = OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));
        // From 1.5 Open vSwitch writes a whole-field load as OFPAT_SET_FIELD, and prints it so.
        var dumped = Flows.Select(f => version == "OpenFlow15" ? f.Dumped.Replace("load:0x5->NXM_NX_PKT_MARK[]", "set_field:0x5->pkt_mark", StringComparison.Ordinal) : f.Dumped);
        Assert.Equal(dumped.Order(StringComparer.Ordinal), lines);

        Assert.Equal(lines, OvsOfctl.Flows(OvsOfctl.ReAdd(rig, version, lines)));

        for (int round = 0; round < 2; round++) // the second round from the cached verdicts
        {
            Assert.Equal(2, Egress(rig, Tcp(64, 0x10)));
            Assert.Equal(3, Egress(rig, Tcp(63, 0x02)));
            Assert.Equal(4, Egress(rig, Tcp(63, 0x11)));
            Assert.Equal(5, Egress(rig, Tcp(63, 0x10)));
            Assert.Equal(3, Egress(rig, FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000))); // pkt_mark 5 in table 1
        }
        var ttl = OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows", "tcp,nw_ttl=64"));
        Assert.Contains("n_packets=2,", Assert.Single(ttl));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow15")]
    public async Task ActsetOutput_AddDumpReAdd_AndMatchedAfterWriteActions(string version)
    {
        await using var rig = OvsOfctl.Rig(5);
        (string Add, string Dumped)[] flows =
        [
            ("priority=10,in_port=1,actions=write_actions(output:3),goto_table:1", "priority=10,in_port=1 actions=write_actions(output:3),goto_table:1"),
            ("priority=5,actions=goto_table:1", "priority=5 actions=goto_table:1"),
            ("table=1,priority=20,actset_output=3,actions=output:2", "table=1, priority=20,actset_output=3 actions=output:2"),
            ("table=1,priority=10,actset_output=unset,actions=output:4", "table=1, priority=10,actset_output=UNSET actions=output:4"),
        ];
        foreach (var (add, _) in flows) OvsOfctl.Ok(rig, version, "add-flow", add);
        var lines = OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));
        Assert.Equal(flows.Select(f => f.Dumped).Order(StringComparer.Ordinal), lines);
        Assert.Equal(lines, OvsOfctl.Flows(OvsOfctl.ReAdd(rig, version, lines)));
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000);
        for (int round = 0; round < 2; round++)
        {
            rig.Ports[0].Inject(frame);
            rig.Poll();
            Assert.Single(rig.Ports[1].TakeSent()); // actset_output=3 matched: output:2, then the set's output:3
            Assert.Single(rig.Ports[2].TakeSent());
            rig.Ports[1].Inject(frame);
            rig.Poll();
            Assert.Single(rig.Ports[3].TakeSent()); // from port 2 the set is empty: unset
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow15")]
    public async Task DpHash_AddDumpReAdd_AndTheTableADpHashGroupResubmitsToMatchesIt(string version)
    {
        await using var rig = OvsOfctl.Rig(5);
        (string Add, string Dumped)[] flows =
        [
            ("priority=10,in_port=4,actions=resubmit(,2)", "priority=10,in_port=4 actions=resubmit(,2)"),
            ("table=2,priority=30,dp_hash=0,actions=output:5", "table=2, priority=30,dp_hash=0 actions=output:5"),
            ("table=2,priority=20,dp_hash=0x1/0x1,actions=output:3", "table=2, priority=20,dp_hash=0x1/0x1 actions=output:3"),
            ("table=2,priority=10,dp_hash=0x0/0x1,actions=output:2", "table=2, priority=10,dp_hash=0/0x1 actions=output:2"),
            ("table=3,priority=10,dp_hash=0x1/0xf,actions=move:NXM_NX_DP_HASH[0..15]->NXM_NX_REG0[0..15]",
             "table=3, priority=10,dp_hash=0x1/0xf actions=move:NXM_NX_DP_HASH[0..15]->NXM_NX_REG0[0..15]"),
        ];
        foreach (var (add, _) in flows) OvsOfctl.Ok(rig, version, "add-flow", add);
        var lines = OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));
        Assert.Equal(flows.Select(f => f.Dumped).Order(StringComparer.Ordinal), lines);
        Assert.Equal(lines, OvsOfctl.Flows(OvsOfctl.ReAdd(rig, version, lines)));
        // A dp_hash group whose buckets resubmit to table 2 (Open vSwitch writes selection_method in 1.5's group-mod
        // only; OpenFlow 1.0 has no group action), applied to port 1's packets.
        OvsOfctl.Ok(rig, "OpenFlow15", "add-group",
            "group_id=1,type=select,selection_method=dp_hash,bucket=bucket_id:1,actions=resubmit(,2),bucket=bucket_id:2,actions=resubmit(,2)");
        OvsOfctl.Ok(rig, "OpenFlow15", "add-flow", "priority=10,in_port=1,actions=group:1");
        var byFlow = new Dictionary<int, int>();
        for (int round = 0; round < 2; round++) // the second round from the cached verdicts
        {
            for (int i = 0; i < 32; i++)
            {
                int port = Egress(rig, FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, (ushort)(1000 + i), 2000));
                Assert.Contains(port, new[] { 2, 3 }); // the hash is never 0; its low bit says where
                if (round == 0) byFlow[i] = port;
                else Assert.Equal(byFlow[i], port);
            }
            rig.Ports[3].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000));
            rig.Poll();
            Assert.Single(rig.Ports[4].TakeSent()); // from port 4 no group touched it: dp_hash 0
        }
        Assert.Equal(2, byFlow.Values.Distinct().Count());
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    private static byte[] Tcp(byte ttl, byte flags)
    {
        var f = FrameBuilder.Tcp(H1, H2, 0x0a000001, 0x0a000002, 1000, 80);
        f[14 + 8] = ttl;
        f[14 + 20 + 13] = flags;
        return f;
    }

    private static int Egress(AgentRig rig, byte[] frame)
    {
        rig.Ports[0].Inject(frame);
        rig.Poll();
        var ports = Enumerable.Range(1, rig.Ports.Length - 1).Where(i => rig.Ports[i].TakeSent().Count > 0).Select(i => i + 1).ToArray();
        return Assert.Single(ports);
    }
}
