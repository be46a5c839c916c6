using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Open vSwitch's controller action through the agent to a real connection: the reason and max_len it names reach the
/// controller's packet-in, and a packet-in for another controller id than the connection's (every connection has id 0)
/// is sent to none and counted as dropped.
/// </summary>
public sealed class ControllerActionTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static FlowModRequest Add(OfMatch match, params OfAction[] actions)
        => new(FlowModCommand.Add, match, 10, OfInstructions.Apply(actions), Rules: MatchRules.OpenFlow13);

    [Fact]
    public async Task TheActionsReasonAndMaxLenReachTheController_AnotherIdsPacketInReachesNone()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        await c.BarrierAsync(); // the switch has taken the connection in before the packet-ins are sent
        var udp = OfMatch.Any.EthType(0x0800).NwProto(17);
        Assert.Equal(OfError.None, rig.Switch.FlowMod(Add(udp, OfAction.Controller(5, 0, 77), OfAction.Controller(20, 0, 0))));
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0A000001, 0x0A000002, 1000, 2000, 100));
        rig.Poll();
        var pin = await c.ReceiveAsync<OfpPacketIn>();
        Assert.Equal(OfpPacketInReason.NoMatch, pin.Reason); // the action's reason, from a flow that is no table miss
        Assert.Equal(20, pin.Data.Length);                   // and its max_len, not miss_send_len
        Assert.Equal(1L, rig.Agent.PacketInsDropped);        // id 77's: no connection has it
        // Counted once the connection has taken it, which may be just after the controller has read it.
        Assert.True(Wait.Until(() => rig.Agent.PacketInsSent == 1), $"packet-ins sent: {rig.Agent.PacketInsSent}");
    }
}
