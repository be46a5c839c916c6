using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfWire;

namespace Softswitch.OfAgent.Translate;

/// <summary>
/// The one place where OpenFlow 1.0 wire enums meet the datapath's own: port numbers (the reserved ones by name),
/// wildcards, port config, port state, port features, and the packet-in, flow-removed and port-status reasons. Every mapping is a table of named pairs, never a
/// cast, so the datapath's values may change (or a second protocol version map to them) without touching the wire.
/// </summary>
/// <remarks>
/// Design: stateless, pure functions; bits the other side has no name for are dropped (a wire port-config bit the
/// switch does not know is ignored, as OF1.0 asks of port-mod). Thread safe.
/// </remarks>
public static class WireMap
{
    /// <summary>ofp_port's reserved numbers and the datapath's names for the same ports and output targets.</summary>
    private static readonly (OfpPort Wire, ushort Datapath)[] s_reservedPorts =
    [
        (OfpPort.InPort, PortNumber.InPort),
        (OfpPort.Table, PortNumber.Table),
        (OfpPort.Normal, PortNumber.Normal),
        (OfpPort.Flood, PortNumber.Flood),
        (OfpPort.All, PortNumber.All),
        (OfpPort.Controller, PortNumber.Controller),
        (OfpPort.Local, PortNumber.Local),
        (OfpPort.None, PortNumber.None),
    ];

    /// <summary>
    /// ofp_port → the datapath's port number: 1..OFPP_MAX-1 unchanged, the reserved numbers by name. The map is one to
    /// one over all 16-bit values: a wire number without an OF1.0 name that happens to be one of the datapath's names
    /// takes the place of the wire name it stands for, so a match on any in_port reads back as the controller wrote it
    /// and no unnamed wire number reaches a reserved target.
    /// </summary>
    public static ushort ToDatapathPort(ushort wire)
    {
        foreach (var (ofp, dp) in s_reservedPorts)
        {
            if (wire == (ushort)ofp) return dp;
            if (wire == dp) return (ushort)ofp;
        }
        return wire;
    }

    /// <summary>The datapath's port number → ofp_port (the inverse of <see cref="ToDatapathPort"/>).</summary>
    public static ushort ToWirePort(ushort datapath)
    {
        foreach (var (ofp, dp) in s_reservedPorts)
        {
            if (datapath == dp) return (ushort)ofp;
            if (datapath == (ushort)ofp) return dp;
        }
        return datapath;
    }

    private static readonly (OfpFlowWildcards Wire, Wildcards Datapath)[] s_wildcardFields =
    [
        (OfpFlowWildcards.InPort, Wildcards.InPort),
        (OfpFlowWildcards.DlVlan, Wildcards.DlVlan),
        (OfpFlowWildcards.DlSrc, Wildcards.DlSrc),
        (OfpFlowWildcards.DlDst, Wildcards.DlDst),
        (OfpFlowWildcards.DlType, Wildcards.DlType),
        (OfpFlowWildcards.NwProto, Wildcards.NwProto),
        (OfpFlowWildcards.TpSrc, Wildcards.TpSrc),
        (OfpFlowWildcards.TpDst, Wildcards.TpDst),
        (OfpFlowWildcards.DlVlanPcp, Wildcards.DlVlanPcp),
        (OfpFlowWildcards.NwTos, Wildcards.NwTos),
    ];

    private static readonly (OfpPortConfig Wire, PortConfig Datapath)[] s_portConfig =
    [
        (OfpPortConfig.PortDown, PortConfig.PortDown),
        (OfpPortConfig.NoStp, PortConfig.NoStp),
        (OfpPortConfig.NoRecv, PortConfig.NoRecv),
        (OfpPortConfig.NoRecvStp, PortConfig.NoRecvStp),
        (OfpPortConfig.NoFlood, PortConfig.NoFlood),
        (OfpPortConfig.NoFwd, PortConfig.NoFwd),
        (OfpPortConfig.NoPacketIn, PortConfig.NoPacketIn),
    ];

    private static readonly (OfpPortFeatures Wire, PortFeatures Datapath)[] s_portFeatures =
    [
        (OfpPortFeatures.Rate10MbHd, PortFeatures.Rate10MbHd),
        (OfpPortFeatures.Rate10MbFd, PortFeatures.Rate10MbFd),
        (OfpPortFeatures.Rate100MbHd, PortFeatures.Rate100MbHd),
        (OfpPortFeatures.Rate100MbFd, PortFeatures.Rate100MbFd),
        (OfpPortFeatures.Rate1GbHd, PortFeatures.Rate1GbHd),
        (OfpPortFeatures.Rate1GbFd, PortFeatures.Rate1GbFd),
        (OfpPortFeatures.Rate10GbFd, PortFeatures.Rate10GbFd),
        (OfpPortFeatures.Copper, PortFeatures.Copper),
        (OfpPortFeatures.Fiber, PortFeatures.Fiber),
        (OfpPortFeatures.Autoneg, PortFeatures.Autoneg),
        (OfpPortFeatures.Pause, PortFeatures.Pause),
        (OfpPortFeatures.PauseAsym, PortFeatures.PauseAsym),
    ];

    /// <summary>
    /// ofp_match.wildcards → the datapath's wildcards: each field bit by name, the nw_src/nw_dst counts carried over
    /// (clamped to 32 by <see cref="FlowMatch"/>). The tunnel id is not an OF1.0 field: the caller decides about it.
    /// </summary>
    public static Wildcards ToDatapath(OfpFlowWildcards wire)
    {
        var w = Wildcards.None;
        foreach (var (ofp, dp) in s_wildcardFields)
            if ((wire & ofp) != 0) w |= dp;
        uint src = ((uint)wire & (uint)OfpFlowWildcards.NwSrcMask) >> (int)OfpFlowWildcards.NwSrcShift;
        uint dst = ((uint)wire & (uint)OfpFlowWildcards.NwDstMask) >> (int)OfpFlowWildcards.NwDstShift;
        return w | (Wildcards)(src << (int)Wildcards.NwSrcShift) | (Wildcards)(dst << (int)Wildcards.NwDstShift);
    }

    /// <summary>The datapath's wildcards → ofp_match.wildcards (the tunnel id bit has no OF1.0 bit and is dropped).</summary>
    public static OfpFlowWildcards ToWire(Wildcards w)
    {
        var wire = OfpFlowWildcards.None;
        foreach (var (ofp, dp) in s_wildcardFields)
            if ((w & dp) != 0) wire |= ofp;
        uint src = ((uint)w & (uint)Wildcards.NwSrcMask) >> (int)Wildcards.NwSrcShift;
        uint dst = ((uint)w & (uint)Wildcards.NwDstMask) >> (int)Wildcards.NwDstShift;
        return wire | (OfpFlowWildcards)(src << (int)OfpFlowWildcards.NwSrcShift) | (OfpFlowWildcards)(dst << (int)OfpFlowWildcards.NwDstShift);
    }

    /// <summary>ofp_port_config → the datapath's port config; bits OF1.0 does not define are dropped.</summary>
    public static PortConfig ToDatapath(OfpPortConfig wire)
    {
        var c = PortConfig.None;
        foreach (var (ofp, dp) in s_portConfig)
            if ((wire & ofp) != 0) c |= dp;
        return c;
    }

    public static OfpPortConfig ToWire(PortConfig c)
    {
        var wire = OfpPortConfig.None;
        foreach (var (ofp, dp) in s_portConfig)
            if ((c & dp) != 0) wire |= ofp;
        return wire;
    }

    /// <summary>The datapath's port state → ofp_port_state (the STP state bits stay listen, 0: no STP runs here).</summary>
    public static OfpPortState ToWire(PortState s)
        => (s & PortState.LinkDown) != 0 ? OfpPortState.LinkDown : OfpPortState.None;

    public static OfpPortFeatures ToWire(PortFeatures f)
    {
        var wire = OfpPortFeatures.None;
        foreach (var (ofp, dp) in s_portFeatures)
            if ((f & dp) != 0) wire |= ofp;
        return wire;
    }

    public static OfpPacketInReason ToWire(PacketInReason r) => r switch
    {
        PacketInReason.NoMatch => OfpPacketInReason.NoMatch,
        _ => OfpPacketInReason.Action,
    };

    public static OfpFlowRemovedReason ToWire(FlowRemovedReason r) => r switch
    {
        FlowRemovedReason.IdleTimeout => OfpFlowRemovedReason.IdleTimeout,
        FlowRemovedReason.HardTimeout => OfpFlowRemovedReason.HardTimeout,
        _ => OfpFlowRemovedReason.Delete,
    };

    public static OfpPortReason ToWire(PortStatusReason r) => r switch
    {
        PortStatusReason.Add => OfpPortReason.Add,
        PortStatusReason.Delete => OfpPortReason.Delete,
        _ => OfpPortReason.Modify,
    };
}
