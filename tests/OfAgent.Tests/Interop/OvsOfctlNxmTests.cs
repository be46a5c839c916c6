using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using Softswitch.OfAgent.Tests.Session;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl under -O OpenFlow10 with Open vSwitch's NXM flow format: the fields an ofp_match cannot say (registers,
/// tunnel id, conj_id, IPv6, metadata, masked ports) add, dump as Open vSwitch prints them, delete, and re-add from the
/// dump; flows in later tables through flow_mod_table_id; frames forwarded by register matches; the fields this switch
/// does not match refused with Open vSwitch's error.
/// </summary>
public sealed class OvsOfctlNxmTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static (int Code, string Out, string Err) Ofctl(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Run(rig, "OpenFlow10", cmd, rest);

    private static string Ok(AgentRig rig, string cmd, params string[] rest) => OvsOfctl.Ok(rig, "OpenFlow10", cmd, rest);

    // Each flow as added, and as Open vSwitch's dump-flows --no-stats prints it back (xreg2 is reg4 high, reg5 low, as
    // Open vSwitch's flow_get_xreg; the registers go out as reg0-15 under OpenFlow 1.0 and 1.3).
    private static readonly (string Add, string Dumped)[] Flows =
    [
        ("priority=10,reg0=5,actions=resubmit(,1)", "priority=10,reg0=0x5 actions=resubmit(,1)"),
        ("priority=11,reg1=0x10/0xf0,reg15=7,actions=drop", "priority=11,reg1=0x10/0xf0,reg15=0x7 actions=drop"),
        ("priority=12,xreg2=0x1234567890,actions=drop", "priority=12,reg4=0x12,reg5=0x34567890 actions=drop"),
        ("priority=13,tun_id=0x1c8,actions=output:2", "priority=13,tun_id=0x1c8 actions=output:2"),
        ("priority=14,tun_id=0x100/0xf00,actions=output:2", "priority=14,tun_id=0x100/0xf00 actions=output:2"),
        ("priority=15,ipv6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::/32,actions=output:3", "priority=15,ipv6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::/32 actions=output:3"),
        ("priority=16,icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=00:00:00:00:00:01,actions=output:4",
         "priority=16,icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=00:00:00:00:00:01 actions=output:4"),
        ("priority=17,ipv6,ipv6_label=0x12345,actions=drop", "priority=17,ipv6,ipv6_label=0x12345 actions=drop"),
        ("priority=18,tcp6,tp_dst=443,actions=drop", "priority=18,tcp6,tp_dst=443 actions=drop"),
        ("priority=19,tcp,tp_src=0x400/0xff00,actions=drop", "priority=19,tcp,tp_src=0x400/0xff00 actions=drop"),
        ("priority=20,metadata=0x5,actions=drop", "priority=20,metadata=0x5 actions=drop"),
        ("priority=21,dl_vlan=5,dl_vlan_pcp=3,actions=drop", "priority=21,dl_vlan=5,dl_vlan_pcp=3 actions=drop"),
        ("priority=22,ip,in_port=1,dl_src=00:00:00:00:00:01,nw_tos=8,nw_ecn=1,nw_dst=10.0.0.0/8,actions=drop",
         "priority=22,ip,in_port=1,dl_src=00:00:00:00:00:01,nw_dst=10.0.0.0/8,nw_tos=8,nw_ecn=1 actions=drop"),
        ("priority=23,dl_src=00:00:00:00:00:00/01:00:00:00:00:00,actions=drop", "priority=23,dl_src=00:00:00:00:00:00/01:00:00:00:00:00 actions=drop"),
        ("priority=100,ip,nw_src=10.0.0.1,actions=conjunction(7,1/2)", "priority=100,ip,nw_src=10.0.0.1 actions=conjunction(7,1/2)"),
        ("priority=100,udp,tp_dst=80,actions=conjunction(7,2/2)", "priority=100,udp,tp_dst=80 actions=conjunction(7,2/2)"),
        ("priority=100,conj_id=7,actions=output:2", "priority=100,conj_id=7 actions=output:2"),
        ("table=1,priority=5,reg0=5,actions=output:2", "table=1, priority=5,reg0=0x5 actions=output:2"),
    ];

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task NxmFields_AddDumpDeleteAndReAddFromTheDump()
    {
        await using var rig = new AgentRig();
        foreach (var (add, _) in Flows) Ok(rig, "add-flow", add);
        string first = Ok(rig, "dump-flows", "--no-stats");
        var lines = OvsOfctl.Flows(first);
        foreach (var (_, dumped) in Flows) Assert.True(lines.Contains(dumped), $"{dumped} not in the dump:\n{first}");
        Assert.Equal(Flows.Length, lines.Length);
        Assert.Contains($"flow_count={Flows.Length}", Ok(rig, "dump-aggregate"));
        // A dump filtered by an NXM match (NXST_FLOW with a register) and a strict delete of one flow.
        Assert.Equal(["priority=10,reg0=0x5 actions=resubmit(,1)", "table=1, priority=5,reg0=0x5 actions=output:2"],
                     OvsOfctl.Flows(Ok(rig, "dump-flows", "--no-stats", "reg0=5")));
        var strict = ExternalTool.Run("ovs-ofctl", "-O", "OpenFlow10", "--strict", "del-flows", $"tcp:127.0.0.1:{rig.ListenPort}", "priority=11,reg1=0x10/0xf0,reg15=7");
        Assert.True(strict.Item1 == 0, strict.Item3);
        Assert.DoesNotContain("reg15", Ok(rig, "dump-flows"));
        Ok(rig, "add-flow", Flows[1].Add);

        Assert.Equal(lines, OvsOfctl.Flows(OvsOfctl.ReAdd(rig, "OpenFlow10", lines, () => Assert.Contains("flow_count=0", Ok(rig, "dump-aggregate")))));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task RegisterPipeline_FromOpenFlow10_ForwardsByTheRegister()
    {
        await using var rig = new AgentRig();
        Ok(rig, "add-flow", "in_port=1,actions=load:5->NXM_NX_REG0[],resubmit(,1)");
        Ok(rig, "add-flow", "table=1,priority=10,reg0=5,actions=output:2");
        Ok(rig, "add-flow", "table=1,priority=10,reg0=6,actions=output:3");
        Assert.Equal(2, Egress(rig));
        Ok(rig, "mod-flows", "in_port=1,actions=load:6->NXM_NX_REG0[],resubmit(,1)");
        Assert.Equal(3, Egress(rig));
        string dump = Ok(rig, "dump-flows");
        Assert.Contains("n_packets=1, n_bytes=", dump.Split('\n').Single(l => l.Contains("reg0=0x6", StringComparison.Ordinal)));
        Ok(rig, "del-flows", "table=1,reg0=6");
        Assert.DoesNotContain("reg0=0x6", Ok(rig, "dump-flows"));
    }

    private static int Egress(AgentRig rig)
    {
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000));
        rig.Poll();
        var ports = Enumerable.Range(1, rig.Ports.Length - 1).Where(i => rig.Ports[i].TakeSent().Count > 0).Select(i => i + 1).ToArray();
        return Assert.Single(ports);
    }

    /// <summary>ct_state and ct_mark (NXM_NX_CT_STATE, NXM_NX_CT_MARK) are not matched here: Open vSwitch's OFPBMC_BAD_FIELD, as under 1.3.</summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task FieldsNotMatched_AreRefusedWithBadField()
    {
        await using var rig = new AgentRig();
        foreach (var flow in new[] { "ct_mark=5,actions=drop", "ct_state=+trk,actions=drop" })
        {
            var (code, so, se) = Ofctl(rig, "add-flow", flow);
            Assert.True(code != 0, so);
            Assert.Contains("OFPBMC_BAD_FIELD", se);
        }
        Assert.Contains("flow_count=0", Ok(rig, "dump-aggregate"));
    }

    /// <summary>
    /// A move from a field Open vSwitch knows and this switch does not (tun_src, NXM_NX_TUN_IPV4_SRC) is OFPBMC_BAD_FIELD,
    /// which OpenFlow 1.0 carries, as Open vSwitch sends it, as NX1.0(0,263) inside NXET_VENDOR: ovs-ofctl names it.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task AMoveOfAFieldNotKnownHere_IsBadFieldAsOvsSendsItInOneZero()
    {
        await using var rig = new AgentRig();
        var (code, so, se) = Ofctl(rig, "add-flow", "priority=5,actions=move:NXM_NX_TUN_IPV4_SRC[]->NXM_NX_REG0[]");
        Assert.True(code != 0, so);
        Assert.Contains("OFPBMC_BAD_FIELD", se);
        Assert.Contains("flow_count=0", Ok(rig, "dump-aggregate"));
    }
}
