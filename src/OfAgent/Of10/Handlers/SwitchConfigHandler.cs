using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// The switch's description and settings in OpenFlow 1.0: FEATURES_REQUEST, GET_CONFIG / SET_CONFIG, PORT_MOD and
/// QUEUE_GET_CONFIG_REQUEST (ovs ofproto/ofproto.c handle_features_request, handle_set_config, handle_port_mod).
/// </summary>
/// <remarks>
/// Design: decode, one call to the switch, encode. miss_send_len is the connection's own
/// (<see cref="OfConnection.MissSendLen"/>); the fragment setting is the switch's. Runs on any connection's receive loop;
/// takes no lock of its own.
/// </remarks>
internal sealed class SwitchConfigHandler(OfRequestContext ctx)
{
    public OfpFeaturesReply Features(uint xid)
    {
        var sw = ctx.Switch;
        var reply = new OfpFeaturesReply
        {
            Xid = xid,
            DatapathId = sw.DatapathId,
            NBuffers = (uint)sw.Buffers.Count,
            NTables = (byte)sw.Tables.Length,
            Capabilities = Of10Capabilities.Features,
            Actions = Of10Capabilities.Actions,
        };
        foreach (var p in sw.PortDescriptions()) reply.Ports.Add(ReportTranslator.PhyPort(p));
        return reply;
    }

    public OfpGetConfigReply GetConfig(OfConnection c, uint xid)
        => new() { Xid = xid, Flags = ctx.Switch.Fragments == FragmentHandling.Drop ? OfpConfigFlags.FragDrop : OfpConfigFlags.FragNormal, MissSendLen = c.MissSendLen };

    /// <summary>
    /// SET_CONFIG, as Open vSwitch's handle_set_config: miss_send_len is the connection's own, stored whatever its role;
    /// the fragment handling is the switch's, which ignores a slave's without an error (<see cref="OfSwitch.SetFragments"/>).
    /// </summary>
    public void SetConfig(OfConnection c, OfpSetConfig sc, byte[] msg)
    {
        c.MissSendLen = sc.MissSendLen;
        var frag = (sc.Flags & OfpConfigFlags.FragMask) switch
        {
            OfpConfigFlags.FragNormal => FragmentHandling.Normal,
            OfpConfigFlags.FragDrop => FragmentHandling.Drop,
            _ => FragmentHandling.Reassemble,
        };
        ctx.Check(c, ctx.Switch.SetFragments(frag, c.Controller), msg);
    }

    public void PortMod(OfConnection c, OfpPortMod pm, byte[] msg)
        => ctx.Check(c, ctx.Switch.PortMod(new PortModRequest(WireMap.ToOfPort(pm.PortNo), pm.HwAddr.Value, WireMap.ToOf(pm.Config), WireMap.ToOf(pm.Mask)), c.Controller), msg);

    public void QueueGetConfig(OfConnection c, OfpQueueGetConfigRequest qc, byte[] msg)
    {
        var queues = new List<OfQueueConfig>();
        if (!ctx.Check(c, ctx.Switch.QueueConfig(WireMap.ToOfPort(qc.Port), queues), msg)) return;
        var reply = new OfpQueueGetConfigReply { Xid = qc.Xid, Port = qc.Port };
        foreach (var q in queues)
        {
            var pq = new OfpPacketQueue { QueueId = q.QueueId };
            // OpenFlow 1.0 has OFPQT_MIN_RATE only.
            if (q.MinPermille is { } min) pq.Properties.Add(OfpQueueProperty.MinRate(min));
            reply.Queues.Add(pq);
        }
        c.Send(reply);
    }
}
