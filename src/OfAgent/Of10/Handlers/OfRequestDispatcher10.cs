using System.Buffers.Binary;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// Every OpenFlow 1.0 request a connection receives after HELLO: decoded once, answered with the spec's error when it
/// cannot be, and routed to the handler of its area (ovs ofproto/ofproto.c handle_openflow).
/// </summary>
/// <remarks>
/// Design: owns the routing and nothing else; echo, barrier and the request scope are the base's
/// (<see cref="OfRequestDispatcher"/>). The areas: <see cref="FlowModHandler"/> (flow-mod, packet-out),
/// <see cref="StatsHandler"/> (stats), <see cref="SwitchConfigHandler"/> (features, config, port-mod, queue config),
/// <see cref="NiciraHandler"/> (Open vSwitch's Nicira messages and statistics: the NXM flow format).
/// It serves <see cref="OfProtocol10"/>; OpenFlow 1.3 has the same shape (<see cref="Of13.Handlers.OfRequestDispatcher13"/>).
/// </remarks>
internal sealed class OfRequestDispatcher10 : OfRequestDispatcher
{
    private readonly FlowModHandler _flowMods;
    private readonly StatsHandler _stats;
    private readonly SwitchConfigHandler _config;
    private readonly NiciraHandler _nicira;

    public OfRequestDispatcher10(OfRequestContext ctx)
        : base(ctx, OfpConstants.Version, (byte)OfpType.EchoRequest, (byte)OfpType.EchoReply, (byte)OfpType.BarrierRequest, (byte)OfpType.BarrierReply)
    {
        _flowMods = new FlowModHandler(ctx);
        _stats = new StatsHandler(ctx);
        _config = new SwitchConfigHandler(ctx);
        _nicira = new NiciraHandler(ctx);
    }

    /// <summary>OFPT_FLOW_MOD, and Open vSwitch's NXT_FLOW_MOD (an OFPT_VENDOR of Nicira's, subtype 13): both join the flow-mod run.</summary>
    protected override bool IsFlowMod(ReadOnlySpan<byte> msg)
        => base.IsFlowMod(msg) || (msg.Length >= Nx10.HeaderSize && msg[1] == (byte)OfpType.Vendor
                                   && BinaryPrimitives.ReadUInt32BigEndian(msg[8..]) == OfpConstants.NiciraVendorId
                                   && BinaryPrimitives.ReadUInt32BigEndian(msg[12..]) == Nx10.FlowMod);

    protected override void Dispatch(OfConnection c, ReadOnlySpan<byte> msg)
    {
        // Flow-mods, the bulk of a controller's traffic under churn, are decoded from the receive buffer without a
        // copy or a message object.
        if (msg.Length >= OfpHeader.Size && msg[1] == (byte)OfpType.FlowMod)
        {
            _flowMods.FlowMod(c, msg);
            return;
        }
        // Nicira's messages (NXT_*) and statistics (OFPST_VENDOR: NXST_*), from the receive buffer too.
        if (msg.Length >= OfpHeader.Size && msg[1] == (byte)OfpType.Vendor)
        {
            _nicira.Vendor(c, msg);
            return;
        }
        if (msg.Length >= OfpStatsRequest.HeaderSize && msg[1] == (byte)OfpType.StatsRequest
            && BinaryPrimitives.ReadUInt16BigEndian(msg[8..]) == (ushort)OfpStatsType.Vendor)
        {
            _nicira.Stats(c, msg);
            return;
        }
        Dispatch(c, msg.ToArray());
    }

    private void Dispatch(OfConnection c, byte[] msg)
    {
        if (!OfpMessage.TryDecode(msg, out var m, out var err))
        {
            Ctx.SendError(c, err, msg);
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
                Ctx.Switch.Barrier();
                c.Send(new OfpBarrierReply { Xid = br.Xid });
                break;
            case OfpQueueGetConfigRequest qc:
                _config.QueueGetConfig(c, qc, msg);
                break;
            case OfpVendor:
                Ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadVendor), msg);
                break;
            default:
                // Messages only a switch sends (FEATURES_REPLY, PACKET_IN, ...) are not requests.
                Ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadType), msg);
                break;
        }
    }
}
