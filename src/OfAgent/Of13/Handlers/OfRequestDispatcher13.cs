using System.Buffers.Binary;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// Every OpenFlow 1.3, 1.4 or 1.5 request a connection receives after HELLO, routed by type to the handler of its area,
/// which decodes it with the 1.3 codec, or the 1.4 or 1.5 codec where that version changed the layout (ovs
/// ofproto/ofproto.c handle_openflow).
/// </summary>
/// <remarks>
/// Design: owns the routing and nothing else; echo, barrier and the request scope are the base's
/// (<see cref="OfRequestDispatcher"/>). The areas: <see cref="FlowModHandler"/> (flow-mod, group-mod, meter-mod,
/// packet-out), <see cref="StatsHandler"/> (multipart), <see cref="SwitchConfigHandler"/> (features, config, port-mod,
/// table-mod, queue config, role, async), <see cref="BundleHandler"/> (bundles). It serves <see cref="OfProtocol13"/>, as
/// <see cref="Of10.Handlers.OfRequestDispatcher10"/> serves OpenFlow 1.0.
/// </remarks>
internal sealed class OfRequestDispatcher13 : OfRequestDispatcher
{
    private readonly FlowModHandler _flowMods;
    private readonly StatsHandler _stats;
    private readonly SwitchConfigHandler _config;
    /// <summary>OpenFlow 1.4 or later: the Of14 codec's layouts where 1.4 changed 1.3's.</summary>
    private readonly bool _of14;
    private readonly BundleHandler _bundles;
    private readonly TlvTableHandler _tlvTable;
    private readonly FlowMonitorHandler _monitors;

    /// <summary>The dispatcher of a connection speaking <paramref name="version"/> (the header the base's echo and barrier answer).</summary>
    public OfRequestDispatcher13(OfRequestContext ctx, byte version)
        : base(ctx, version, (byte)Ofp13Type.EchoRequest, (byte)Ofp13Type.EchoReply, (byte)Ofp13Type.BarrierRequest, (byte)Ofp13Type.BarrierReply)
    {
        _flowMods = new FlowModHandler(ctx);
        _stats = new StatsHandler(ctx);
        _config = new SwitchConfigHandler(ctx);
        _of14 = version >= Ofp13.Version14;
        _bundles = new BundleHandler(ctx, this);
        _tlvTable = new TlvTableHandler(ctx);
        _monitors = new FlowMonitorHandler(ctx);
    }

    protected override void Dispatch(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var type = (Ofp13Type)msg[1];
        uint xid = BinaryPrimitives.ReadUInt32BigEndian(msg[4..]);
        switch (type)
        {
            case Ofp13Type.BarrierRequest:
                // One with a body (a bodiless one is the base's).
                Ctx.SendError(c, Ofp13Error.BadLength, msg);
                return;
            case Ofp13Type.EchoReply:
                return;
            case Ofp13Type.FeaturesRequest:
                _config.Features(c, msg, xid);
                return;
            case Ofp13Type.GetConfigRequest:
                _config.GetConfig(c, msg, xid);
                return;
            case Ofp13Type.SetConfig:
                _config.SetConfig(c, msg);
                return;
            case Ofp13Type.FlowMod:
                _flowMods.FlowMod(c, msg);
                return;
            case Ofp13Type.PacketOut:
                _flowMods.PacketOut(c, msg);
                return;
            case Ofp13Type.PortMod:
                if (_of14) _config.PortMod14(c, msg);
                else _config.PortMod(c, msg);
                return;
            case Ofp13Type.TableMod:
                if (_of14) _config.TableMod14(c, msg);
                else _config.TableMod(c, msg);
                return;
            case Ofp13Type.MultipartRequest:
                _stats.Handle(c, msg);
                return;
            case Ofp13Type.QueueGetConfigRequest when !_of14:
                // 1.4 asks OFPMP_QUEUE_DESC instead (Open vSwitch: OFPT_QUEUE_GET_CONFIG_REQUEST serves 1.1 to 1.3).
                _config.QueueGetConfig(c, msg, xid);
                return;
            case Ofp13Type.RoleRequest:
                _config.RoleRequest(c, msg, xid);
                return;
            case Ofp13Type.GetAsyncRequest:
                if (_of14) _config.GetAsync14(c, msg, xid);
                else _config.GetAsync(c, msg, xid);
                return;
            case Ofp13Type.SetAsync:
                if (_of14) _config.SetAsync14(c, msg);
                else _config.SetAsync(c, msg);
                return;
            case Ofp13Type.GroupMod:
                _flowMods.GroupMod(c, msg);
                return;
            case Ofp13Type.MeterMod:
                _flowMods.MeterMod(c, msg);
                return;
            case Ofp13Type.Experimenter:
                // The ONF's bundle extension and its flow monitor's cancel (ONFT_FLOW_MONITOR_CANCEL) under 1.3, and
                // Open vSwitch's TLV table messages; no other experimenter.
                if (Ofp13Bundle.Kind(msg) != 0) _bundles.Handle(c, msg);
                else if (c.Version == Ofp13.Version && Ofp14FlowMonitor.IsOnfMessage(msg, Ofp14FlowMonitor.OnfFlowMonitor)) _monitors.Cancel(c, msg);
                // Open vSwitch's TLV table (dump-tlv-map, add-tlv-map: ovs-save saves and restores it).
                else if (TlvTableHandler.Serves(msg)) _tlvTable.Handle(c, msg, xid);
                // Open vSwitch's packet-in format (NXT_SET_PACKET_IN_FORMAT) and NXT_RESUME.
                else if (NxPacketIn.TryReadSubtype(msg, out uint nxSubtype) && nxSubtype is NxPacketIn.SetPacketInFormat or NxPacketIn.Resume)
                    PacketInFormat(c, msg, nxSubtype);
                // Open vSwitch's NXT_SET_ASYNC_CONFIG (1.0 and later) and NXT_SET_ASYNC_CONFIG2 (1.0 to 1.3).
                else if (nxSubtype == NxAsyncConfig.SetAsyncConfig || (nxSubtype == NxAsyncConfig.SetAsyncConfig2 && !_of14))
                    _config.NxSetAsync(c, msg, nxSubtype);
                else Ctx.SendError(c, Ofp13Error.BadRequest(Ofp13Codes.BadExperimenter), msg);
                return;
            default:
                // OFPT_BUNDLE_CONTROL and OFPT_BUNDLE_ADD_MESSAGE under version 5 and later (1.4's types 33 and 34).
                if (Ofp13Bundle.Kind(msg) != 0) { _bundles.Handle(c, msg); return; }
                // Messages only a switch sends (FEATURES_REPLY, PACKET_IN, ROLE_STATUS, ...) and types the version does
                // not define.
                Ctx.SendError(c, Ofp13Error.BadRequest(Ofp13Codes.BadType), msg);
                return;
        }
    }

    /// <summary>NXR_NOT_SUPPORTED from 1.2 on (NX1.2+(34)): the answer to NXT_RESUME (no controller action pauses here).</summary>
    internal const ushort ResumeNotSupportedExpCode = 34;

    /// <summary>
    /// NXT_SET_PACKET_IN_FORMAT (BAD_LEN unless 20 bytes, EPERM for a format past 2, as Open vSwitch) and NXT_RESUME
    /// (NXR_NOT_SUPPORTED).
    /// </summary>
    private void PacketInFormat(OfConnection c, ReadOnlySpan<byte> msg, uint subtype)
    {
        if (subtype == NxPacketIn.Resume)
        {
            Ctx.SendError(c, new Ofp13Error(Ofp13ErrorType.Experimenter, ResumeNotSupportedExpCode), msg);
            return;
        }
        if (NxPacketIn.TryDecodeSetPacketInFormat(msg, out var format, out var error)) c.PacketInFormat = format;
        else Ctx.SendError(c, error, msg);
    }
}
