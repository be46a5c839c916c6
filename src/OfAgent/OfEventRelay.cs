using Softswitch.OfAgent.Session;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent;

/// <summary>
/// The switch's reports (<see cref="IOfReports"/>: packet-ins, flow removals, port status), handed to the connection
/// manager's fan-out, which encodes each in the version of the connections that receive it (<see cref="OfProtocol"/>).
/// </summary>
/// <remarks>
/// Design: the one <see cref="IOfReports"/> of the agent. What is reported is the switch's decision (only flows that
/// asked for FLOW_REMOVED reach here); which connection receives what is the manager's (its controllers' async
/// config). Called on the switch's upcall pump, the datapath's maintenance thread and the threads that change flows or
/// ports; no lock is taken here. May not change flows, ports or connections.
/// </remarks>
internal sealed class OfEventRelay(OfConnectionManager connections) : IOfReports
{
    public void PacketIn(in OfPacketIn packet) => connections.SendPacketIn(packet);

    public void FlowRemoved(in OfFlowRemoved removed) => connections.SendFlowRemoved(removed);

    public void PortStatus(OfPortReason reason, OfPortDesc port) => connections.SendPortStatus(reason, port);

    public void PortStatus(OfPortReason reason, OfPortDesc port, OfController source) => connections.SendPortStatus(reason, port, source);

    public void TableStatus(OfTableStatusReason reason, in OfTableDesc table) => connections.SendTableStatus(reason, table);
}
