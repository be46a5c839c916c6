using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent;

/// <summary>
/// The switch's reports (<see cref="IOfReports"/>: packet-ins, flow removals, port status), as OpenFlow 1.0 messages
/// handed to the connection manager's fan-out.
/// </summary>
/// <remarks>
/// Design: the one <see cref="IOfReports"/> of the agent. What is reported is the switch's decision (only flows that
/// asked for FLOW_REMOVED reach here); which connection receives what is the manager's (its controllers' async
/// config). Called on the switch's upcall pump, the datapath's maintenance thread and the threads that change flows or
/// ports; translating is stateless, so no lock is taken here. May not change flows, ports or connections.
/// </remarks>
internal sealed class OfEventRelay(OfConnectionManager connections) : IOfReports
{
    public void PacketIn(in OfPacketIn packet) => connections.SendPacketIn(packet);

    public void FlowRemoved(in OfFlowRemoved removed)
        => connections.SendAsync(ReportTranslator.FlowRemoved(removed), OfAsyncKind.FlowRemoved, (int)removed.Reason);

    public void PortStatus(OfPortReason reason, OfPortDesc port)
        => connections.SendAsync(new OfpPortStatus { Reason = WireMap.ToWire(reason), Desc = ReportTranslator.PhyPort(port) },
                                 OfAsyncKind.PortStatus, (int)reason);
}
