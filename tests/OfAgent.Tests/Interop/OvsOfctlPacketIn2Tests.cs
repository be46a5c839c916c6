using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, -O OpenFlow10 and -O OpenFlow13, with Open vSwitch's extended packet-in: controller(...,userdata=...)
/// (NXAST_CONTROLLER2) kept and given back in dump-flows, the dump re-added; pause refused as an action the switch does
/// not support; and <c>ovs-ofctl -P FORMAT monitor</c> receiving the packet-in of a frame that hit such a flow in the
/// format it asked for (NXT_PACKET_IN2 with the userdata, NXT_PACKET_IN, or the version's own).
/// </summary>
public sealed class OvsOfctlPacketIn2Tests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    public async Task ControllerUserdata_IsKept_TheDumpReAdds_PauseIsRefused(string version)
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=1,actions=controller(userdata=01.02.03.04.05),output:2");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=2,actions=controller(reason=invalid_ttl,max_len=1234,id=5678,userdata=aa.bb.cc)");
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=3,actions=controller(reason=no_match,userdata=00)");
        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=controller(userdata=01.02.03.04.05),output:2", dump);
        Assert.Contains("priority=10,in_port=2 actions=controller(reason=invalid_ttl,max_len=1234,id=5678,userdata=aa.bb.cc)", dump);
        Assert.Contains("priority=10,in_port=3 actions=controller(reason=no_match,userdata=00)", dump);

        OvsOfctl.ReAddsTheSame(rig, version, dump);

        // The frame still goes on through the rest of the list.
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));

        // BAD_ACTION code 3 in both versions (1.3's BAD_EXP_TYPE), which Open vSwitch names OFPBAC_BAD_VENDOR_TYPE in every version.
        Assert.Contains("OFPBAC_BAD_VENDOR_TYPE", OvsOfctl.Refused(rig, version, "add-flow", "actions=controller(userdata=01,pause)"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// ovs-ofctl -P FORMAT monitor: the packet-in of a frame through controller(userdata=...) in the form it asked for,
    /// as Open vSwitch prints it; only NXT_PACKET_IN2 has the userdata.
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10", "nxt_packet_in2", "NXT_PACKET_IN2 (xid=0x0)")]
    [InlineData("OpenFlow13", "nxt_packet_in2", "NXT_PACKET_IN2 (OF1.3) (xid=0x0)")]
    [InlineData("OpenFlow10", "nxt_packet_in", "NXT_PACKET_IN (xid=0x0)")]
    [InlineData("OpenFlow13", "standard", "OFPT_PACKET_IN (OF1.3) (xid=0x0)")]
    public async Task Monitor_ReceivesThePacketIn_InItsFormat(string version, string format, string head)
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=1,cookie=0x5eed,actions=controller(userdata=01.02.03.04.05)");
        var expected = format switch
        {
            "nxt_packet_in2" => NxPacketInFormat.Nxt2,
            "nxt_packet_in" => NxPacketInFormat.Nxt,
            _ => NxPacketInFormat.Standard,
        };
        using var monitor = OvsOfctlMonitor.Start(rig, $"pin2-mon-{format}", ["-O", version, "-P", format], "65534");
        var lines = monitor.Lines;
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.MissSendLen == 65534 && c.PacketInFormat == expected), 10_000),
            "monitor did not connect: " + string.Join('\n', lines));
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.True(await Wait.UntilAsync(() => lines.Any(l => l.StartsWith(head, StringComparison.Ordinal)), 10_000),
            $"sent {rig.Agent.PacketInsSent}, dropped {rig.Agent.PacketInsDropped}: " + string.Join('\n', lines));
        string all = string.Join('\n', lines);
        var packetIn = lines.First(l => l.StartsWith(head, StringComparison.Ordinal));
        Assert.Contains("cookie=0x5eed total_len=" + frame.Length + " in_port=1 (via action) data_len=" + frame.Length + " (unbuffered)", packetIn);
        if (expected == NxPacketInFormat.Nxt2) Assert.Contains(" userdata=01.02.03.04.05", all);
        else Assert.DoesNotContain("userdata", all);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
