using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, -O OpenFlow10 and -O OpenFlow13, with Open vSwitch's Nicira actions beyond resubmit and the
/// registers (note, controller, exit, dec_ttl(ids)): what the switch keeps, forwards and gives back in dump-flows, and the dump re-added.
/// </summary>
public sealed class OvsOfctlNiciraMiscTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    /// <summary>
    /// note:HEX (NXAST_NOTE) is kept as Open vSwitch keeps it, padded with zeros to the action's 8-byte multiple, and
    /// given back in dump-flows; it does nothing to the packet (the frame goes out as the outputs around it say, through
    /// a resubmit in 1.3). In write-actions it is OFPBAC_BAD_TYPE, as Open vSwitch answers an action the action set
    /// does not take.
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task Note_IsKept_DoesNothing_TheDumpReAdds(string version)
    {
        await using var rig = OvsOfctl.Rig();
        bool of13 = version != "OpenFlow10"; // and 1.4, 1.5
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=1,actions=note:11.e9.9a.ad.67.f3,output:2,note:01.02,output:3");
        OvsOfctl.Ok(rig, version, "add-flow", of13 ? "priority=10,in_port=2,actions=note:aa,resubmit(,1),note:bb.cc.dd.ee.ff.00.11.22.33"
                                                   : "priority=10,in_port=2,actions=note:aa,output:1,note:bb.cc.dd.ee.ff.00.11.22.33");
        if (of13) OvsOfctl.Ok(rig, version, "add-flow", "table=1,priority=1,actions=note:cc,output:4");
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));
        Assert.Equal(frame, Assert.Single(rig.Ports[2].TakeSent()));
        rig.Ports[1].Inject(frame);
        rig.Poll();
        Assert.Equal(frame, Assert.Single(rig.Ports[of13 ? 3 : 0].TakeSent()));

        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=note:11.e9.9a.ad.67.f3,output:2,note:01.02.00.00.00.00,output:3", dump);
        Assert.Contains(of13 ? "priority=10,in_port=2 actions=note:aa.00.00.00.00.00,resubmit(,1),note:bb.cc.dd.ee.ff.00.11.22.33.00.00.00.00.00"
                             : "priority=10,in_port=2 actions=note:aa.00.00.00.00.00,output:1,note:bb.cc.dd.ee.ff.00.11.22.33.00.00.00.00.00", dump);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        if (of13) Assert.Contains("OFPBAC_BAD_TYPE", OvsOfctl.Refused(rig, version, "add-flow", "actions=write_actions(note:01,output:2)"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// exit in a packet-out ends its actions (the frame goes out of port 2, not port 3), and in a group bucket ends that
    /// bucket; in write-actions it is OFPBAC_BAD_TYPE, as Open vSwitch's action set refuses it.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task Exit_EndsAPacketOutOrABucket_AndIsRefusedInWriteActions()
    {
        await using var rig = OvsOfctl.Rig();
        const string v = "OpenFlow13";
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        OvsOfctl.Ok(rig, v, "packet-out", "in_port=1 packet=" + Convert.ToHexString(frame) + " actions=output:2,exit,output:3");
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Empty(rig.Ports[2].TakeSent());
        OvsOfctl.Ok(rig, v, "add-group", "group_id=1,type=all,bucket=output:2,exit,output:3,bucket=output:4");
        OvsOfctl.Ok(rig, v, "add-flow", "in_port=1,actions=group:1");
        Assert.Contains("bucket=actions=output:2,exit,output:3,bucket=actions=output:4", OvsOfctl.Ok(rig, v, "dump-groups"));
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        Assert.Empty(rig.Ports[2].TakeSent());
        Assert.Single(rig.Ports[3].TakeSent());
        Assert.Contains("OFPBAC_BAD_TYPE", OvsOfctl.Refused(rig, v, "add-flow", "actions=write_actions(exit)"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// controller(reason=...,max_len=...,id=...) (NXAST_CONTROLLER) is kept with its reason, max_len and controller id
    /// and given back as ovs-ofctl wrote it, 1.4's reasons (action_set, group, packet_out) too; in
    /// write-actions the action is OFPBAC_BAD_TYPE, as Open vSwitch's action set refuses it. (The packet-ins it makes:
    /// OfSwitchPipelineTests.)
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task Controller_KeepsReasonMaxLenAndId_TheDumpReAdds(string version)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=1,actions=controller(reason=invalid_ttl,max_len=1234,id=5678),output:2");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=2,actions=controller(reason=no_match),controller(max_len=64)");
        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=controller(reason=invalid_ttl,max_len=1234,id=5678),output:2", dump);
        Assert.Contains("priority=10,in_port=2 actions=controller(reason=no_match),CONTROLLER:64", dump);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        // 1.4's reasons too, as Open vSwitch takes them in every version (the packet-ins: PacketInReasonSessionTests).
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=3,actions=controller(reason=action_set),controller(reason=group,max_len=9),controller(reason=packet_out,id=3)");
        dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=3 actions=controller(reason=action_set),controller(reason=group,max_len=9),controller(reason=packet_out,id=3)", dump);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        if (version != "OpenFlow10")
            Assert.Contains("OFPBAC_BAD_TYPE", OvsOfctl.Refused(rig, version, "add-flow", "actions=write_actions(controller(reason=no_match))"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// dec_ttl(32768,12345,90) (NXAST_DEC_TTL_CNT_IDS) is kept with its ids and given back as ovs-ofctl wrote it, beside a
    /// plain dec_ttl; the packet goes on with its TTL decremented. More ids than the switch holds in one action (10) is
    /// OFPBAC_BAD_ARGUMENT.
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task DecTtlWithIds_IsKept_Decrements_TheDumpReAdds(string version)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,ip,in_port=1,actions=dec_ttl(32768,12345,90),output:2");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,ip,in_port=2,actions=dec_ttl(0),dec_ttl,output:1");
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        byte[] sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(frame[22] - 1, sent[22]);

        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,ip,in_port=1 actions=dec_ttl(32768,12345,90),output:2", dump);
        Assert.Contains("priority=10,ip,in_port=2 actions=dec_ttl(0),dec_ttl,output:1", dump);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        Assert.Contains("OFPBAC_BAD_ARGUMENT", OvsOfctl.Refused(rig, version, "add-flow", "ip,actions=dec_ttl(1,2,3,4,5,6,7,8,9,10,11)"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
