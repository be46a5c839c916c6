using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Of10.Handlers;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// What FEATURES_REPLY advertises to an OpenFlow 1.0 controller, value by value, against what the switch then does: an
/// action type's bit is set exactly when a flow-mod with that action is taken, a statistics bit exactly when its request
/// is answered, ARP_MATCH_IP exactly when an ARP flow's nw_src picks ARP packets by sender address.
/// </summary>
public sealed class Of10FeaturesTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static async Task<OfpFeaturesReply> FeaturesAsync(TestController c)
    {
        c.Send(new OfpFeaturesRequest());
        return await c.ReceiveAsync<OfpFeaturesReply>();
    }

    /// <summary>An action of each OFPAT_* (the vendor type aside: it is a family of its own).</summary>
    public static TheoryData<OfpActionType> ActionTypes => [.. Enum.GetValues<OfpActionType>().Where(t => t != OfpActionType.Vendor)];

    private static OfpAction Example(OfpActionType t) => t switch
    {
        OfpActionType.Output => OfpAction.Output(2),
        OfpActionType.SetVlanVid => OfpAction.SetVlanVid(5),
        OfpActionType.SetVlanPcp => OfpAction.SetVlanPcp(3),
        OfpActionType.StripVlan => OfpAction.StripVlan(),
        OfpActionType.SetDlSrc => OfpAction.SetDlSrc(new OfpMac(0x0200_0000_0001)),
        OfpActionType.SetDlDst => OfpAction.SetDlDst(new OfpMac(0x0200_0000_0002)),
        OfpActionType.SetNwSrc => OfpAction.SetNwSrc(0x0a000001),
        OfpActionType.SetNwDst => OfpAction.SetNwDst(0x0a000002),
        OfpActionType.SetNwTos => OfpAction.SetNwTos(8),
        OfpActionType.SetTpSrc => OfpAction.SetTpSrc(1),
        OfpActionType.SetTpDst => OfpAction.SetTpDst(2),
        OfpActionType.Enqueue => OfpAction.Enqueue(1, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "a type without an example"),
    };

    [Theory]
    [MemberData(nameof(ActionTypes))]
    public async Task AnActionTypesBit_IsSetExactlyWhenAFlowWithItIsTaken(OfpActionType type)
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        var fm = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 5, Match = OfpMatch.All };
        fm.Actions.Add(Example(type));
        c.Send(fm);
        bool taken = !(await c.BarrierAsync()).OfType<OfpErrorMsg>().Any();
        bool advertised = ((await FeaturesAsync(c)).Actions & (1u << (int)type)) != 0;
        Assert.True(taken, $"{type}: a flow with it was refused");
        Assert.Equal(taken, advertised);
    }

    public static TheoryData<OfpStatsType> StatsTypes => [.. Enum.GetValues<OfpStatsType>()];

    private static OfpStatsRequest Request(OfpStatsType t) => t switch
    {
        OfpStatsType.Desc => new OfpDescStatsRequest(),
        OfpStatsType.Flow => new OfpFlowStatsRequest(),
        OfpStatsType.Aggregate => new OfpAggregateStatsRequest(),
        OfpStatsType.Table => new OfpTableStatsRequest(),
        OfpStatsType.Port => new OfpPortStatsRequest(),
        OfpStatsType.Queue => new OfpQueueStatsRequest(),
        OfpStatsType.PortDesc => new OfpPortDescStatsRequest(),
        _ => new OfpVendorStatsRequest { Vendor = 0x2320 },
    };

    /// <summary>The statistics handler's list of what it answers, held to what it does for each request type.</summary>
    [Theory]
    [MemberData(nameof(StatsTypes))]
    public async Task AStatsType_IsAnsweredExactlyWhenTheHandlerSaysSo(OfpStatsType type)
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        c.Send(Request(type));
        var reply = await c.ReceiveAsync();
        Assert.Equal(StatsHandler.Answers(type), reply is OfpStatsReply);
    }

    public static TheoryData<OfpCapabilities> Capabilities => [.. Enum.GetValues<OfpCapabilities>().Where(b => b != OfpCapabilities.None)];

    [Theory]
    [MemberData(nameof(Capabilities))]
    public async Task ACapabilityBit_IsSetExactlyWhenTheSwitchDoesIt(OfpCapabilities bit)
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        bool advertised = ((await FeaturesAsync(c)).Capabilities & bit) != 0;
        bool does;
        switch (bit)
        {
            case OfpCapabilities.FlowStats or OfpCapabilities.TableStats or OfpCapabilities.PortStats or OfpCapabilities.QueueStats:
                c.Send(Request(bit switch
                {
                    OfpCapabilities.FlowStats => OfpStatsType.Flow,
                    OfpCapabilities.TableStats => OfpStatsType.Table,
                    OfpCapabilities.PortStats => OfpStatsType.Port,
                    _ => OfpStatsType.Queue,
                }));
                does = await c.ReceiveAsync() is OfpStatsReply;
                break;
            case OfpCapabilities.ArpMatchIp:
                var arp = OfpMatch.All;
                arp.Wildcards &= ~(OfpFlowWildcards.DlType | OfpFlowWildcards.NwSrcMask);
                arp.DlType = 0x0806;
                arp.NwSrc = 0x0a000001;
                var fm = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 5, Match = arp };
                fm.Actions.Add(OfpAction.Output(2));
                c.Send(fm);
                await c.BarrierAsync();
                var from1 = FrameBuilder.Arp(1, H1, 0x0a000001, default, 0x0a000002);
                rig.Ports[0].Inject(from1);
                rig.Ports[0].Inject(FrameBuilder.Arp(1, H2, 0x0a000009, default, 0x0a000002));
                rig.Poll();
                var sent = rig.Ports[1].TakeSent();
                does = sent.Count == 1 && sent[0].SequenceEqual(from1);
                break;
            default:
                // STP, IP_REASM, the reserved bit: nothing here runs spanning tree or reassembles fragments.
                does = false;
                break;
        }
        Assert.Equal(does, advertised);
    }
}
