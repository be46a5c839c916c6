using Softswitch.Datapath.Counters;
using Softswitch.OfAgent;

namespace Softswitch;

/// <summary>
/// The OpenFlow agent's counters in the switch's counter registry (<c>softswitch ctl coverage/show</c>): what it sent
/// to controllers and what it dropped (only packet-ins are dropped for a connection that is behind). The values live in
/// the agent's parts (one atomic add where they happen); the registry reads them through <see cref="OfSwitchAgent"/>.
/// </summary>
internal static class AgentCounters
{
    public static readonly Counter PacketInSent = Coverage.Define("ofconn-packet-in-sent", "PACKET_IN messages queued to OpenFlow connections");
    public static readonly Counter PacketInDropped = Coverage.Define("ofconn-packet-in-dropped", "PACKET_IN messages dropped: no connection took them, or one's packet-in backlog was full (the only messages dropped for a peer that is behind)");
    public static readonly Counter AsyncDropped = Coverage.Define("ofconn-async-dropped", "FLOW_REMOVED and PORT_STATUS messages lost to a connection that closed, refused once it was closing or still queued when it closed (never dropped for a peer that is behind)");
    public static readonly Counter ErrorsSent = Coverage.Define("ofconn-error-sent", "OFPT_ERROR messages sent to OpenFlow peers");

    public static void Register(CounterGroup counters, OfSwitchAgent agent)
    {
        counters.AddSource(PacketInSent, () => agent.PacketInsSent, agent);
        counters.AddSource(PacketInDropped, () => agent.PacketInsDropped, agent);
        counters.AddSource(AsyncDropped, () => agent.AsyncMessagesDropped, agent);
        counters.AddSource(ErrorsSent, () => agent.ErrorsSent, agent);
    }
}
