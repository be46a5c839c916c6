using Softswitch.Datapath;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;

namespace Softswitch.OfAgent.Handlers;

/// <summary>
/// The switch's description and settings: FEATURES_REQUEST, GET_CONFIG / SET_CONFIG, PORT_MOD and
/// QUEUE_GET_CONFIG_REQUEST (ovs ofproto/ofproto.c handle_features_request, handle_set_config, handle_port_mod).
/// </summary>
/// <remarks>
/// Design: owns the switch-wide OFPC_FRAG_* setting as a controller last set it (<see cref="_configFlags"/>, volatile:
/// one word, last writer wins, as concurrent SET_CONFIGs from two controllers would anyway); miss_send_len is the
/// connection's own (<see cref="OfConnection.MissSendLen"/>). Writes go to the datapath's thread-safe setters
/// (<see cref="SwitchDatapath.FragmentMode"/>, <see cref="SwitchDatapath.SetPortConfig"/>). Runs on any connection's
/// receive loop; takes no lock of its own. May not touch flows or other connections.
/// </remarks>
internal sealed class SwitchConfigHandler(OfRequestContext ctx)
{
    /// <summary>The ofp_action_type bits of the features reply: OUTPUT .. ENQUEUE, every OF1.0 action.</summary>
    private const uint SupportedActions = (1u << ((int)OfpActionType.Enqueue + 1)) - 1;

    private volatile OfpConfigFlags _configFlags = OfpConfigFlags.FragNormal;

    public OfpFeaturesReply Features(uint xid)
    {
        var dp = ctx.Dp;
        var reply = new OfpFeaturesReply
        {
            Xid = xid,
            DatapathId = ctx.Options.DatapathId,
            NBuffers = (uint)ctx.Buffers.Count,
            NTables = (byte)ctx.Flows.TableCount,
            Capabilities = OfpCapabilities.FlowStats | OfpCapabilities.TableStats | OfpCapabilities.PortStats
                         | OfpCapabilities.QueueStats | OfpCapabilities.ArpMatchIp,
            Actions = SupportedActions,
        };
        var ports = dp.Ports;
        foreach (var p in ports.List) reply.Ports.Add(ReportTranslator.PhyPort(p));
        if (ports.Local is { } local) reply.Ports.Add(ReportTranslator.PhyPort(local));
        return reply;
    }

    public OfpGetConfigReply GetConfig(OfConnection c, uint xid)
        => new() { Xid = xid, Flags = _configFlags, MissSendLen = c.MissSendLen };

    public void SetConfig(OfConnection c, OfpSetConfig sc, byte[] msg)
    {
        var frag = sc.Flags & OfpConfigFlags.FragMask;
        if (frag == OfpConfigFlags.FragReasm || frag == OfpConfigFlags.FragMask)
        {
            // We do not reassemble fragments (OFPC_IP_REASM is not in our capabilities).
            ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.Eperm), msg);
            c.MissSendLen = sc.MissSendLen;
            return;
        }
        _configFlags = frag;
        c.MissSendLen = sc.MissSendLen;
        ctx.Dp.FragmentMode = frag == OfpConfigFlags.FragDrop ? FragmentMode.Drop : FragmentMode.Normal;
    }

    public void PortMod(OfConnection c, OfpPortMod pm, byte[] msg)
    {
        var slot = ctx.Dp.Ports.Get(WireMap.ToDatapathPort(pm.PortNo));
        if (slot is null)
        {
            ctx.SendError(c, OfpError.PortModFailed(OfpPortModFailedCode.BadPort), msg);
            return;
        }
        if (pm.HwAddr.Value != slot.Port.Info.HwAddr.Value)
        {
            ctx.SendError(c, OfpError.PortModFailed(OfpPortModFailedCode.BadHwAddr), msg);
            return;
        }
        ctx.Dp.SetPortConfig(slot.No, WireMap.ToDatapath(pm.Config), WireMap.ToDatapath(pm.Mask));
    }

    public void QueueGetConfig(OfConnection c, OfpQueueGetConfigRequest qc, byte[] msg)
    {
        var slot = ctx.Dp.Ports.Get(WireMap.ToDatapathPort(qc.Port));
        if (slot is null)
        {
            ctx.SendError(c, OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadPort), msg);
            return;
        }
        var reply = new OfpQueueGetConfigReply { Xid = qc.Xid, Port = qc.Port };
        for (uint q = 0; q < (uint)slot.Queues.Length; q++) reply.Queues.Add(new OfpPacketQueue { QueueId = q });
        c.Send(reply);
    }
}
