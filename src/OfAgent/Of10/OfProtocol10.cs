using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10.Handlers;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10;

/// <summary>OpenFlow 1.0 (ofp_header version 1): its request dispatcher and its encoding of the switch's reports.</summary>
/// <remarks>Stateless beyond the dispatcher, which is thread safe; the reports are encoded with the 1.0 codec.</remarks>
internal sealed class OfProtocol10(OfRequestContext ctx) : OfProtocol
{
    private readonly OfRequestDispatcher10 _requests = new(ctx);

    public override byte Version => OfpConstants.Version;

    public override void Handle(OfConnection c, ReadOnlySpan<byte> msg) => _requests.Handle(c, msg);

    public override int PacketInOverhead => OfpPacketIn.MinSize;

    /// <summary>OpenFlow 1.0: a miss sends miss_send_len bytes (per connection), an output or controller action its max_len.</summary>
    public override int PacketInDataLength(OfConnection c, in OfPacketIn packet, bool buffered)
        => packet.Reason == OfPacketInReason.NoMatch && !packet.ByAction ? c.MissSendLen : packet.MaxLen;

    public override int WritePacketIn(Span<byte> destination, uint bufferId, in OfPacketIn packet, int dataLen)
        => OfpPacketIn.Write(destination, bufferId, (ushort)Math.Min(packet.Frame.Length, ushort.MaxValue), WireMap.ToWirePort(packet.InPort),
                             WireMap.ToWire(packet.Reason), packet.Frame[..dataLen]);

    /// <summary>
    /// The reason as Open vSwitch's encode_packet_in_reason gives it to an OpenFlow 1.0 connection's NXT_PACKET_IN(2):
    /// no_match 0, action 1, invalid_ttl 2; a table-miss flow entry's (explicit miss) and 1.4's action_set, group and packet_out action.
    /// </summary>
    public override byte PacketInReason(OfPacketInReason reason) => reason switch
    {
        OfPacketInReason.NoMatch => 0,
        OfPacketInReason.InvalidTtl => 2,
        _ => 1,
    };

    public override byte[] FlowRemoved(in OfFlowRemoved removed) => ReportTranslator.FlowRemoved(removed).ToArray();

    /// <summary>OFPT_FLOW_REMOVED, or NXT_FLOW_REMOVED on a connection in the NXM flow format (Open vSwitch's NXT_SET_FLOW_FORMAT).</summary>
    public override byte[] FlowRemoved(OfConnection c, in OfFlowRemoved removed)
        => c.NxmFlowFormat ? ReportTranslator.NxFlowRemoved(removed) : FlowRemoved(removed);

    /// <summary>The version, told apart by the flow format (FLOW_REMOVED's form).</summary>
    public override int AsyncFormat(OfConnection c) => c.NxmFlowFormat ? 0x100 | Version : Version;

    /// <summary>NXST_FLOW_MONITOR replies, NXT_FLOW_MONITOR_PAUSED and _RESUMED (Open vSwitch's flow monitors of OpenFlow 1.0).</summary>
    public override List<byte[]>? FlowUpdates(IReadOnlyList<OfFlowUpdate> updates) => NxFlowMonitorHandler.Encode(updates);

    /// <summary>
    /// The connection's request-forward mask for its role, as Open vSwitch's NXT_SET_ASYNC_CONFIG2 left it (none by
    /// default); a meter-mod is never forwarded to 1.0 (its request has no 1.0 form: <see cref="Of13.Handlers.RequestForwarder"/>).
    /// </summary>
    public override bool WantsRequestForward(OfConnection c, byte reason) => Async14Wants(c, OfWire.Of14.Ofp14AsyncProp.RequestForwardSlave, reason);

    /// <summary>Open vSwitch's NXT_REQUESTFORWARD around <paramref name="request"/> (an NXT_GROUP_MOD; ofputil_encode_requestforward).</summary>
    public override byte[]? RequestForward(byte[] request) => OfWire.NxAsyncConfig.EncodeRequestForward(Version, request);

    public override byte[] PortStatus(OfPortReason reason, OfPortDesc port)
        => new OfpPortStatus { Reason = WireMap.ToWire(reason), Desc = ReportTranslator.PhyPort(port) }.ToArray();
}
