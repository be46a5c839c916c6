using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Handlers;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13;

/// <summary>
/// OpenFlow 1.3, 1.4 and 1.5 (ofp_header versions 4, 5 and 6): the request dispatcher and the encoding of the switch's
/// reports, in <paramref name="version"/>. 1.4 keeps most of 1.3's layouts; where it changed them (ports, port and queue
/// statistics, port-mod, table-mod, async configuration) the handlers use the Of14 codec, and it adds ROLE_STATUS. 1.5
/// keeps 1.4's and changes flow statistics, FLOW_REMOVED, PACKET_OUT and groups again (the Of15 codec).
/// </summary>
/// <remarks>
/// The 1.3 counterpart of <see cref="Of10.OfProtocol10"/> over the same switch, in the same shape: the dispatcher
/// (<see cref="OfRequestDispatcher13"/>) routes each request to its area's handler; what 1.3 means that 1.0 does not is
/// decided in the switch (tables and their misses, instructions, roles, async configuration). Stateless beyond the
/// dispatcher, which is thread safe.
/// </remarks>
internal sealed class OfProtocol13(OfRequestContext ctx, byte version) : OfProtocol
{
    private readonly OfRequestDispatcher13 _requests = new(ctx, version);

    public override byte Version { get; } = version;

    public override void Handle(OfConnection c, ReadOnlySpan<byte> msg) => _requests.Handle(c, msg);

    /// <summary>Fixed part, the largest match (in_port, metadata and tunnel_id: 4 + 8 + 12 + 12 bytes, padded: 40), the 2 pad bytes.</summary>
    public override int PacketInOverhead => 24 + 40 + 2;

    public override int PacketInDataLength(OfConnection c, in OfPacketIn packet, bool buffered)
        => packet.ByAction || packet.Reason is not (OfPacketInReason.NoMatch or OfPacketInReason.InvalidTtl) ? packet.MaxLen : c.MissSendLen;

    public override int WritePacketIn(Span<byte> destination, uint bufferId, in OfPacketIn packet, int dataLen)
    {
        // The match carries the packet's context: in_port always, metadata and tunnel_id when not zero (OpenFlow 1.3.5
        // section 7.4.1: "Fields whose values are all-bits-zero should be omitted"; in_phy_port equals in_port here).
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[3];
        int n = 0;
        match[n++] = Ofp13Oxm.Exact(MatchTranslator.InPort, packet.InPort);
        if (packet.Metadata != 0) match[n++] = Ofp13Oxm.Exact(MatchTranslator.Metadata, packet.Metadata);
        if (packet.TunnelId != 0) match[n++] = Ofp13Oxm.Exact(MatchTranslator.TunnelId, packet.TunnelId);
        return Ofp13Messages.WritePacketIn(Version, destination, 0, bufferId, (ushort)Math.Min(packet.Frame.Length, ushort.MaxValue),
            WireMap.ToWire(packet.Reason, Version), packet.TableId, packet.Cookie, match[..n], packet.Frame[..dataLen]);
    }

    public override byte PacketInReason(OfPacketInReason reason) => WireMap.ToWire(reason, Version);

    public override byte[] FlowRemoved(in OfFlowRemoved removed) => ReportTranslator.FlowRemoved(Version, removed);

    /// <summary>PORT_STATUS in 1.3's layout, or from 1.4 on with the port's Ethernet features in a property.</summary>
    public override byte[] PortStatus(OfPortReason reason, OfPortDesc port)
        => Version >= Ofp13.Version14
            ? Ofp14Messages.PortStatus(Version, 0, WireMap.ToWire(reason), ReportTranslator.Port(port))
            : Ofp13Messages.PortStatus(Version, 0, WireMap.ToWire(reason), ReportTranslator.Port(port));

    /// <summary>OFPMP_FLOW_MONITOR replies (1.4 and later), or the ONF extension's (1.3).</summary>
    public override List<byte[]>? FlowUpdates(IReadOnlyList<OfFlowUpdate> updates) => FlowMonitorHandler.Encode(Version, updates);

    /// <summary>OpenFlow 1.4's ROLE_STATUS, reason OFPCRR_MASTER_REQUEST (1.3 has none: null).</summary>
    /// <summary>TABLE_STATUS (1.4 and later).</summary>
    public override byte[]? TableStatus(OfTableStatusReason reason, in OfTableDesc table)
        => Version < Ofp13.Version14 ? null : Ofp14Messages.TableStatus(Version, 0, WireMap.ToWire(reason), ReportTranslator.TableDesc(table));

    /// <summary>The connection's table-status mask for its role (OFPACPT_TABLE_STATUS_MASTER or _SLAVE), as SET_ASYNC left it.</summary>
    public override bool WantsTableStatus(OfConnection c, OfTableStatusReason reason)
    {
        if (Version < Ofp13.Version14) return false;
        var p = c.Controller.Role == OfRole.Slave ? Ofp14AsyncProp.TableStatusSlave : Ofp14AsyncProp.TableStatusMaster;
        return (c.Async14Masks[p - Ofp14AsyncProp.RoleStatusSlave] & (1u << WireMap.ToWire(reason))) != 0;
    }

    /// <summary>
    /// The connection's request-forward mask for its role (OFPACPT_REQUESTFORWARD_MASTER or _SLAVE), as SET_ASYNC left it
    /// (1.4 and later) or Open vSwitch's NXT_SET_ASYNC_CONFIG2 (1.3); 0 by default.
    /// </summary>
    public override bool WantsRequestForward(OfConnection c, byte reason) => Async14Wants(c, Ofp14AsyncProp.RequestForwardSlave, reason);

    /// <summary>The connection's controller-status mask for its role (OFPACPT_CONT_STATUS_MASTER or _SLAVE), as SET_ASYNC left it (1.5).</summary>
    public override bool WantsControllerStatus(OfConnection c, OfControllerStatusReason reason)
        => Ofp15.Serves(Version) && (c.ContStatusMasks[c.Controller.Role == OfRole.Slave ? 0 : 1] & (1u << (int)reason)) != 0;

    /// <summary>OFPT_CONTROLLER_STATUS (1.5): <paramref name="about"/>'s entry as the multipart reply shows it, with the reason.</summary>
    public override byte[]? ControllerStatus(OfConnection about, OfControllerStatusReason reason)
        => Ofp15.Serves(Version) ? StatsHandler.ControllerStatusOf(about, (byte)reason).Message(Version) : null;

    /// <summary>OFPT_REQUESTFORWARD (1.4 and later); under 1.3 Open vSwitch's ONFT13_REQUESTFORWARD (ofputil_encode_requestforward).</summary>
    public override byte[]? RequestForward(byte[] request)
        => Version < Ofp13.Version14 ? NxAsyncConfig.EncodeRequestForward(Version, request) : Ofp14RequestForward.Encode(Version, request);

    public override byte[]? RoleStatus(OfRole role, ulong generationId)
        => Version < Ofp13.Version14 ? null : new Ofp14RoleStatus
        {
            Version = Version, Role = RoleMap.ToWire(role), Reason = Ofp14RoleStatus.ReasonMasterRequest, GenerationId = generationId,
        }.Encode();
}
