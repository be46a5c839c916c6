using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// The one place where OpenFlow 1.0 wire values meet the OpenFlow layer's own: port numbers, port config, port state,
/// port features, the packet-in, flow-removed and port-status reasons, and the layer's refusals as OpenFlow 1.0 errors.
/// Every mapping is a table of named pairs or a switch, never a cast, so the layer's values may change (or a second
/// protocol version map to them) without touching the wire.
/// </summary>
/// <remarks>
/// Design: stateless, pure functions; bits the other side has no name for are dropped (a wire port-config bit the
/// switch does not know is ignored, as OF1.0 asks of port-mod). Thread safe.
/// </remarks>
public static class WireMap
{
    /// <summary>
    /// ofp_port (16 bits) → the OpenFlow layer's 32-bit number: below OFPP_MAX unchanged, from 0xff00 up moved to the top
    /// of the 32-bit space (OFPP_NONE becomes OFPP_ANY), as Open vSwitch's ofputil_port_from_ofp11 maps them.
    /// </summary>
    public static uint ToOfPort(ushort wire) => wire < (ushort)OfpPort.Max ? wire : 0xffff0000u | wire;

    /// <summary>The OpenFlow layer's number → ofp_port; numbers OpenFlow 1.0 cannot carry become OFPP_NONE.</summary>
    public static ushort ToWirePort(uint port)
        => port < (ushort)OfpPort.Max ? (ushort)port : port >= OfPort.Max ? (ushort)port : (ushort)OfpPort.None;

    private static readonly (OfpPortConfig Wire, OfPortConfig Of)[] s_portConfig =
    [
        (OfpPortConfig.PortDown, OfPortConfig.PortDown),
        (OfpPortConfig.NoStp, OfPortConfig.NoStp),
        (OfpPortConfig.NoRecv, OfPortConfig.NoRecv),
        (OfpPortConfig.NoRecvStp, OfPortConfig.NoRecvStp),
        (OfpPortConfig.NoFlood, OfPortConfig.NoFlood),
        (OfpPortConfig.NoFwd, OfPortConfig.NoFwd),
        (OfpPortConfig.NoPacketIn, OfPortConfig.NoPacketIn),
    ];

    private static readonly (OfpPortFeatures Wire, OfPortFeatures Of)[] s_portFeatures =
    [
        (OfpPortFeatures.Rate10MbHd, OfPortFeatures.Rate10MbHd),
        (OfpPortFeatures.Rate10MbFd, OfPortFeatures.Rate10MbFd),
        (OfpPortFeatures.Rate100MbHd, OfPortFeatures.Rate100MbHd),
        (OfpPortFeatures.Rate100MbFd, OfPortFeatures.Rate100MbFd),
        (OfpPortFeatures.Rate1GbHd, OfPortFeatures.Rate1GbHd),
        (OfpPortFeatures.Rate1GbFd, OfPortFeatures.Rate1GbFd),
        (OfpPortFeatures.Rate10GbFd, OfPortFeatures.Rate10GbFd),
        (OfpPortFeatures.Copper, OfPortFeatures.Copper),
        (OfpPortFeatures.Fiber, OfPortFeatures.Fiber),
        (OfpPortFeatures.Autoneg, OfPortFeatures.Autoneg),
        (OfpPortFeatures.Pause, OfPortFeatures.Pause),
        (OfpPortFeatures.PauseAsym, OfPortFeatures.PauseAsym),
    ];

    /// <summary>ofp_port_config → the layer's port config; bits OF1.0 does not define are dropped.</summary>
    public static OfPortConfig ToOf(OfpPortConfig wire)
    {
        var c = OfPortConfig.None;
        foreach (var (w, of) in s_portConfig)
            if ((wire & w) != 0) c |= of;
        return c;
    }

    public static OfpPortConfig ToWire(OfPortConfig c)
    {
        var wire = OfpPortConfig.None;
        foreach (var (w, of) in s_portConfig)
            if ((c & of) != 0) wire |= w;
        return wire;
    }

    /// <summary>The port state → ofp_port_state: the link bit, and the spanning tree state in its 2-bit field (listen, 0,
    /// also when no spanning tree runs on the port, as Open vSwitch reports it).</summary>
    public static OfpPortState ToWire(OfPortState s)
        => ((s & OfPortState.LinkDown) != 0 ? OfpPortState.LinkDown : OfpPortState.None)
           | ((s & OfPortState.StpLearn) != 0 ? OfpPortState.StpLearn
              : (s & OfPortState.StpForward) != 0 ? OfpPortState.StpForward
              : (s & OfPortState.StpBlock) != 0 ? OfpPortState.StpBlock
              : OfpPortState.StpListen);

    public static OfpPortFeatures ToWire(OfPortFeatures f)
    {
        var wire = OfpPortFeatures.None;
        foreach (var (w, of) in s_portFeatures)
            if ((f & of) != 0) wire |= w;
        return wire;
    }

    /// <summary>
    /// A mask of Open vSwitch's NXT_SET_ASYNC_CONFIG or _CONFIG2 under 1.0 as the model's (decode_async_mask with
    /// OpenFlow 1.0's allowed bits): packet-in OFPR_NO_MATCH (a table-miss entry's output with it), OFPR_ACTION and
    /// OFPR_INVALID_TTL, never 1.4's refinements of OFPR_ACTION; port-status OFPPR_ADD, _DELETE, _MODIFY; flow-removed
    /// Open vSwitch's own numbering of its reasons, which OpenFlow 1.0 shares for the first three (idle, hard, delete,
    /// then group delete, meter delete, eviction). Bits of no reason are dropped.
    /// </summary>
    public static uint AsyncMaskToOf(OfAsyncKind kind, uint wire)
    {
        uint model = 0;
        switch (kind)
        {
            case OfAsyncKind.PacketIn:
                foreach (var (bit, r) in s_asyncPacketIn)
                    if ((wire & (1u << bit)) != 0) model |= OfAsyncConfig.Bit(r);
                break;
            case OfAsyncKind.PortStatus:
                foreach (var (bit, r) in s_asyncPortStatus)
                    if ((wire & (1u << bit)) != 0) model |= OfAsyncConfig.Bit(r);
                break;
            default:
                foreach (var (bit, r) in s_asyncFlowRemoved)
                    if ((wire & (1u << bit)) != 0) model |= OfAsyncConfig.Bit(r);
                break;
        }
        return model;
    }

    private static readonly (int Bit, OfPacketInReason Model)[] s_asyncPacketIn =
        [(0, OfPacketInReason.NoMatch), (0, OfPacketInReason.ExplicitMiss), (1, OfPacketInReason.Action), (2, OfPacketInReason.InvalidTtl)];

    private static readonly (int Bit, OfPortReason Model)[] s_asyncPortStatus =
        [(0, OfPortReason.Add), (1, OfPortReason.Delete), (2, OfPortReason.Modify)];

    private static readonly (int Bit, OfFlowRemovedReason Model)[] s_asyncFlowRemoved =
    [
        (0, OfFlowRemovedReason.IdleTimeout), (1, OfFlowRemovedReason.HardTimeout), (2, OfFlowRemovedReason.Delete),
        (3, OfFlowRemovedReason.GroupDelete), (4, OfFlowRemovedReason.MeterDelete), (5, OfFlowRemovedReason.Eviction),
    ];

    public static OfpPacketInReason ToWire(OfPacketInReason r) => r switch
    {
        OfPacketInReason.NoMatch => OfpPacketInReason.NoMatch,
        _ => OfpPacketInReason.Action,
    };

    public static OfpFlowRemovedReason ToWire(OfFlowRemovedReason r) => r switch
    {
        OfFlowRemovedReason.IdleTimeout => OfpFlowRemovedReason.IdleTimeout,
        OfFlowRemovedReason.HardTimeout => OfpFlowRemovedReason.HardTimeout,
        _ => OfpFlowRemovedReason.Delete,
    };

    public static OfpPortReason ToWire(OfPortReason r) => r switch
    {
        OfPortReason.Add => OfpPortReason.Add,
        OfPortReason.Delete => OfpPortReason.Delete,
        _ => OfpPortReason.Modify,
    };

    /// <summary>
    /// A refusal of the OpenFlow layer as the OpenFlow 1.0 error that says it (OF1.0 section 5.4.4); OpenFlow 1.0 has
    /// fewer codes than the layer has reasons, so some share one (an unsupported match field is BAD_REQUEST, as Open
    /// vSwitch answers OF1.0 peers for OFPERR_OFPBMC_*).
    /// </summary>
    public static OfpError ToWire(OfError e) => e switch
    {
        OfError.BufferEmpty => OfpError.BadRequest(OfpBadRequestCode.BufferEmpty),
        OfError.BufferUnknown => OfpError.BadRequest(OfpBadRequestCode.BufferUnknown),
        OfError.BadPacketLength => OfpError.BadRequest(OfpBadRequestCode.BadLen),
        OfError.BadTableId => OfpError.BadRequest(OfpBadRequestCode.BadStat),
        OfError.IsSlave => OfpError.BadRequest(OfpBadRequestCode.Eperm),
        OfError.BadPort => OfpError.BadAction(OfpBadActionCode.BadOutPort),
        OfError.UnsupportedField or OfError.UnsupportedMask or OfError.BadMatchPort => OfpError.FlowModFailed(OfpFlowModFailedCode.Unsupported),
        OfError.BadOutPort => OfpError.BadAction(OfpBadActionCode.BadOutPort),
        OfError.BadQueue => OfpError.BadAction(OfpBadActionCode.BadQueue),
        OfError.BadActionType => OfpError.BadAction(OfpBadActionCode.BadType),
        OfError.BadArgument => OfpError.BadAction(OfpBadActionCode.BadArgument),
        OfError.BadConjunction => NxAction.BadConjunction10,
        OfError.UnsupportedInstruction or OfError.BadGotoTable => OfpError.FlowModFailed(OfpFlowModFailedCode.Unsupported),
        OfError.TableFull => OfpError.FlowModFailed(OfpFlowModFailedCode.AllTablesFull),
        OfError.Overlap => OfpError.FlowModFailed(OfpFlowModFailedCode.Overlap),
        OfError.BadEmergencyTimeout => OfpError.FlowModFailed(OfpFlowModFailedCode.BadEmergTimeout),
        OfError.BadCommand => OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand),
        OfError.PortModBadPort => OfpError.PortModFailed(OfpPortModFailedCode.BadPort),
        OfError.PortModBadHwAddr => OfpError.PortModFailed(OfpPortModFailedCode.BadHwAddr),
        OfError.QueueBadPort => OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadPort),
        OfError.QueueBadQueue => OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadQueue),
        _ => OfpError.BadRequest(OfpBadRequestCode.Eperm),
    };
}
