using System.Buffers.Binary;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// Every OpenFlow 1.0 request a connection receives after HELLO: decoded once, answered with the spec's error when it
/// cannot be, and routed to the handler of its area (ovs ofproto/ofproto.c handle_openflow). Echo and barrier are
/// answered here.
/// </summary>
/// <remarks>
/// Design: owns the routing and nothing else. The areas: <see cref="FlowModHandler"/> (flow-mod, packet-out),
/// <see cref="StatsHandler"/> (stats), <see cref="SwitchConfigHandler"/> (features, config, port-mod, queue config).
/// A connection's receive loop calls <see cref="Handle(OfConnection, ReadOnlySpan{byte})"/> for its messages in arrival order, so a BARRIER_REPLY is
/// queued only after every earlier request took effect; different connections call it concurrently (every handler is
/// thread safe and takes no lock of its own). It serves <see cref="OfProtocol10"/>; OpenFlow 1.3 is
/// <see cref="Of13.OfProtocol13"/>, over its own codec and the same switch. Each request is handled inside the switch's request scope (<see cref="Ofproto.OfSwitch.BeginRequest"/>),
/// so the flows it reads stay what they were until it is answered.
/// </remarks>
internal sealed class OfRequestDispatcher
{
    private readonly OfRequestContext _ctx;
    private readonly FlowModHandler _flowMods;
    private readonly StatsHandler _stats;
    private readonly SwitchConfigHandler _config;

    public OfRequestDispatcher(OfRequestContext ctx)
    {
        _ctx = ctx;
        _flowMods = new FlowModHandler(ctx);
        _stats = new StatsHandler(ctx);
        _config = new SwitchConfigHandler(ctx);
    }

    public void Handle(OfConnection c, ReadOnlySpan<byte> msg)
    {
        // Every request may keep flows of the tables until it is answered (a flow-mod's removed flows, a stats dump,
        // a packet-out's lookup): a hold keeps them from being recycled meanwhile.
        using var scope = _ctx.Switch.BeginRequest();
        // Flow-mods, the bulk of a controller's traffic under churn, are decoded from the receive buffer without a
        // copy or a message object.
        if (msg.Length >= OfpHeader.Size && msg[1] == (byte)OfpType.FlowMod)
        {
            _flowMods.FlowMod(c, msg);
            return;
        }
        // Barriers (one per batch of flow-mods) and echoes are answered from the receive buffer: the reply is the
        // request with its type changed (same xid, same data), in a pooled array, with no message object.
        if (msg.Length >= OfpHeader.Size && msg[0] == OfpConstants.Version && BinaryPrimitives.ReadUInt16BigEndian(msg[2..]) == msg.Length &&
            (msg[1] == (byte)OfpType.EchoRequest || (msg[1] == (byte)OfpType.BarrierRequest && msg.Length == OfpHeader.Size)))
        {
            if (msg[1] == (byte)OfpType.BarrierRequest) _ctx.Switch.Barrier();
            var reply = OfConnection.MessagePool.Rent(msg.Length);
            msg.CopyTo(reply);
            reply[1] = (byte)(msg[1] == (byte)OfpType.EchoRequest ? OfpType.EchoReply : OfpType.BarrierReply);
            c.SendPooled(reply, msg.Length);
            return;
        }
        Handle(c, msg.ToArray());
    }

    private void Handle(OfConnection c, byte[] msg)
    {
        if (!OfpMessage.TryDecode(msg, out var m, out var err))
        {
            _ctx.SendError(c, err, msg);
            return;
        }
        switch (m)
        {
            case OfpEchoRequest echo:
                c.Send(new OfpEchoReply { Xid = echo.Xid, Data = echo.Data });
                break;
            case OfpEchoReply:
                break;
            case OfpFeaturesRequest fr:
                c.Send(_config.Features(fr.Xid));
                break;
            case OfpGetConfigRequest gc:
                c.Send(_config.GetConfig(c, gc.Xid));
                break;
            case OfpSetConfig sc:
                _config.SetConfig(c, sc, msg);
                break;
            case OfpPacketOut po:
                _flowMods.PacketOut(c, po, msg);
                break;
            case OfpPortMod pm:
                _config.PortMod(c, pm, msg);
                break;
            case OfpStatsRequest sr:
                _stats.Handle(c, sr, msg);
                break;
            case OfpBarrierRequest br:
                _ctx.Switch.Barrier();
                c.Send(new OfpBarrierReply { Xid = br.Xid });
                break;
            case OfpQueueGetConfigRequest qc:
                _config.QueueGetConfig(c, qc, msg);
                break;
            case OfpVendor:
                _ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadVendor), msg);
                break;
            default:
                // Messages only a switch sends (FEATURES_REPLY, PACKET_IN, ...) are not requests.
                _ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadType), msg);
                break;
        }
    }
}
