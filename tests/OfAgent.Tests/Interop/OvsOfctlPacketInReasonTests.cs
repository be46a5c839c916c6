using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real <c>ovs-ofctl monitor</c> (as Open vSwitch's "asynchronous message control (OpenFlow 1.4)" test watches them):
/// a frame through write_actions(output(CONTROLLER)), one through a group whose bucket outputs to the controller, and a
/// packet-out to the controller print as <c>(via action_set)</c>, <c>(via group)</c> and <c>(via packet_out)</c> under
/// 1.4, and as <c>(via action)</c> under 1.3.
/// </summary>
public sealed class OvsOfctlPacketInReasonTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:10:20:30:40:50"), H2 = MacAddress.Parse("00:01:02:03:04:05");

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow14", "OF1.4", "action_set", "group", "packet_out")]
    [InlineData("OpenFlow13", "OF1.3", "action", "action", "action")]
    public async Task Monitor_ShowsWhereTheOutputToTheControllerWas(string version, string tag, string actionSet, string group, string packetOut)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-group", "group_id=5,type=all,bucket=output:CONTROLLER");
        OvsOfctl.Ok(rig, version, "add-flow", "in_port=1,cookie=0x33,actions=write_actions(output(CONTROLLER))");
        OvsOfctl.Ok(rig, version, "add-flow", "in_port=2,cookie=0x44,actions=group:5");
        using (var monitor = OvsOfctlMonitor.Start(rig, $"asy-mon-{tag}", ["-O", version, "-P", "standard"], "65534"))
        {
            var lines = monitor.Lines;
            Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(c => c.MissSendLen == 65534), 10_000),
                "monitor did not connect: " + string.Join('\n', lines));
            var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
            string head = $"OFPT_PACKET_IN ({tag}) (xid=0x0): ";
            async Task Expect(string text)
            {
                Assert.True(await Wait.UntilAsync(() => lines.Any(l => l.StartsWith(head, StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal)), 10_000),
                    $"no packet-in with \"{text}\": " + string.Join('\n', lines));
            }

            rig.Ports[0].Inject(frame);
            rig.Poll();
            await Expect($"cookie=0x33 total_len={frame.Length} in_port=1 (via {actionSet}) data_len={frame.Length} (unbuffered)");
            int seen = lines.Count(l => l.StartsWith(head, StringComparison.Ordinal));
            rig.Ports[1].Inject(frame);
            rig.Poll();
            await Expect($"in_port=2 (via {group})");
            OvsOfctl.Ok(rig, version, "packet-out", "CONTROLLER", "output:CONTROLLER", Convert.ToHexString(frame));
            await Expect($"in_port=CONTROLLER (via {packetOut})");
            Assert.Equal(seen + 2, lines.Count(l => l.StartsWith(head, StringComparison.Ordinal)));
        }
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
