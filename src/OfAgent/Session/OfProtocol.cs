using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// One OpenFlow version as the connections use it once negotiation agreed on it: the handler of its requests and the
/// encoding of the switch's asynchronous reports (PACKET_IN, FLOW_REMOVED, PORT_STATUS) in its wire format.
/// </summary>
/// <remarks>
/// Design: the session layer (connections, fan-out, negotiation) is the same for every version; what differs is
/// behind this class, one instance per version the switch speaks (<see cref="AgentOptions.Versions"/>), made by the
/// composition root (<see cref="OfSwitchAgent"/>) over the same <see cref="OfSwitch"/>. A connection keeps the one of
/// its version, so both versions work at once on one switch. Every member is called concurrently (each connection's
/// receive loop, the upcall pump, the maintenance thread): implementations are stateless or thread safe.
/// </remarks>
internal abstract class OfProtocol
{
    /// <summary>The ofp_header version this protocol speaks.</summary>
    public abstract byte Version { get; }

    /// <summary>
    /// Handles one whole request, on the connection's receive loop, in arrival order. The message lies in the
    /// connection's receive buffer and is valid for the call only: a handler that keeps it copies it. Its header
    /// version is <see cref="Version"/> (the connection answers any other with BAD_VERSION).
    /// </summary>
    public abstract void Handle(OfConnection c, ReadOnlySpan<byte> msg);

    /// <summary>The most bytes a PACKET_IN carries besides the frame (its fixed part and match).</summary>
    public abstract int PacketInOverhead { get; }

    /// <summary>
    /// Writes a PACKET_IN of <paramref name="packet"/> with its first <paramref name="dataLen"/> bytes into
    /// <paramref name="destination"/> (at least <see cref="PacketInOverhead"/> + <paramref name="dataLen"/> bytes) and
    /// returns its size. Allocation-free: called per packet-in per connection.
    /// </summary>
    public abstract int WritePacketIn(Span<byte> destination, uint bufferId, in OfPacketIn packet, int dataLen);

    /// <summary>
    /// How many bytes of a packet-in's frame go to connection <paramref name="c"/> when the switch does not buffer it
    /// (<paramref name="buffered"/> false: the whole frame) or does (the connection's miss_send_len or the action's max_len, as the version says).
    /// </summary>
    public abstract int PacketInDataLength(OfConnection c, in OfPacketIn packet, bool buffered);

    /// <summary>A packet-in reason's wire value in this version (OFPR_*), as its PACKET_IN and Open vSwitch's NXT_PACKET_IN(2) carry it.</summary>
    public abstract byte PacketInReason(OfPacketInReason reason);

    /// <summary>Whether the switch may buffer this packet-in for <paramref name="c"/> (OpenFlow 1.3's OFPCML_NO_BUFFER says not).</summary>
    public virtual bool MayBuffer(OfConnection c, in OfPacketIn packet) => true;

    /// <summary>A FLOW_REMOVED for <paramref name="removed"/>, whole.</summary>
    public abstract byte[] FlowRemoved(in OfFlowRemoved removed);

    /// <summary>A FLOW_REMOVED for <paramref name="removed"/> in the form connection <paramref name="c"/> asked for, whole.</summary>
    public virtual byte[] FlowRemoved(OfConnection c, in OfFlowRemoved removed) => FlowRemoved(removed);

    /// <summary>
    /// Which encoding of the asynchronous messages connection <paramref name="c"/> takes: connections of one format share
    /// one encoding of each report. The version, unless the version has per-connection forms (OpenFlow 1.0's NXM flow format).
    /// </summary>
    public virtual int AsyncFormat(OfConnection c) => Version;

    /// <summary>A PORT_STATUS for <paramref name="port"/>, whole.</summary>
    public abstract byte[] PortStatus(OfPortReason reason, OfPortDesc port);

    /// <summary>
    /// A ROLE_STATUS telling a controller that another's master request made it <paramref name="role"/>, whole; null in
    /// a version without one (OpenFlow 1.0 and 1.3).
    /// </summary>
    public virtual byte[]? RoleStatus(OfRole role, ulong generationId) => null;

    /// <summary>A TABLE_STATUS for <paramref name="table"/>, whole; null in a version without one (OpenFlow 1.0 and 1.3).</summary>
    public virtual byte[]? TableStatus(OfTableStatusReason reason, in OfTableDesc table) => null;

    /// <summary>
    /// The bit of <paramref name="reason"/> in the table-status mask <paramref name="c"/>'s SET_ASYNC left for its role
    /// (0 in a version without TABLE_STATUS): whether the connection takes it.
    /// </summary>
    public virtual bool WantsTableStatus(OfConnection c, OfTableStatusReason reason) => false;

    /// <summary>
    /// The bit of a request-forward <paramref name="reason"/> (OFPRFR_*) in the mask <paramref name="c"/>'s SET_ASYNC left
    /// for its role (false in a version without REQUESTFORWARD): whether the connection takes it.
    /// </summary>
    public virtual bool WantsRequestForward(OfConnection c, byte reason) => false;

    /// <summary>An OFPT_REQUESTFORWARD carrying <paramref name="request"/> (whole, in this version), whole; null in a version without one.</summary>
    public virtual byte[]? RequestForward(byte[] request) => null;

    /// <summary>
    /// Whether bit <paramref name="bit"/> is set in <paramref name="c"/>'s mask, for its role, of the 1.4 asynchronous
    /// property pair whose slave property is <paramref name="slave"/> (its master one is the next), as SET_ASYNC or Open
    /// vSwitch's NXT_SET_ASYNC_CONFIG2 left it.
    /// </summary>
    protected static bool Async14Wants(OfConnection c, Ofp14AsyncProp slave, int bit)
    {
        var p = c.Controller.Role == OfRole.Slave ? slave : slave + 1;
        return (uint)bit < 32 && (c.Async14Masks[p - Ofp14AsyncProp.RoleStatusSlave] & (1u << bit)) != 0;
    }

    /// <summary>
    /// The bit of <paramref name="reason"/> in the controller-status mask <paramref name="c"/>'s SET_ASYNC left for its
    /// role (false in a version without OFPT_CONTROLLER_STATUS): whether the connection is told of another's change.
    /// </summary>
    public virtual bool WantsControllerStatus(OfConnection c, OfControllerStatusReason reason) => false;

    /// <summary>An OFPT_CONTROLLER_STATUS telling of <paramref name="about"/>, whole; null in a version without one.</summary>
    public virtual byte[]? ControllerStatus(OfConnection about, OfControllerStatusReason reason) => null;

    /// <summary>
    /// The messages that carry flow monitor updates unasked, in order; null in a version whose flow monitors the switch
    /// does not serve.
    /// </summary>
    public virtual List<byte[]>? FlowUpdates(IReadOnlyList<OfFlowUpdate> updates) => null;
}

/// <summary>Why a connection's status is told to the others (OpenFlow 1.5's OFPCSR_CHANNEL_STATUS and OFPCSR_ROLE).</summary>
internal enum OfControllerStatusReason : byte { ChannelStatus = 1, Role = 2 }
