using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// An observer of the packets the forwarders move, for run-time capture and tracing (<c>pcap/start</c>,
/// <c>trace/watch</c>): set on <see cref="SwitchDatapath.Tap"/>, null when nobody watches.
/// </summary>
/// <remarks>
/// <para><b>Cost</b>: with no tap the forwarder pays one load of <see cref="SwitchDatapath.Tap"/> and a null test per
/// burst at each of three places; with one, a virtual call per burst there. A tap runs on the forwarding thread that
/// calls it: it must not block for long, allocate, or keep the packet indexes (they are the pool's and are released
/// after the call); it copies what it keeps.</para>
/// <para><b>Where</b>: <see cref="Received"/>, the burst a port's receive produced, before anything else looks at it
/// (a real port's receive only: decapsulated tunnel sub-bursts and packet-outs are not port receptions);
/// <see cref="Parsed"/>, every burst about to be classified, with its flow keys (packets dropped before
/// classification, for port config or fragments, are not in it); <see cref="Sent"/>, each burst handed to a port's
/// send (not the ones dropped because its link is down).</para>
/// <para><b>Thread safety</b>: called from every forwarding thread at once; the owner replaces the tap with one
/// release store, so a thread may call the previous tap for the rest of its burst.</para>
/// </remarks>
public abstract class PacketTap
{
    /// <summary>A burst received from <paramref name="slot"/>'s port.</summary>
    public abstract void Received(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts);

    /// <summary>A burst that arrived on <paramref name="slot"/>, parsed: <paramref name="keys"/>[i] is pkts[i]'s flow key.</summary>
    public abstract void Parsed(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts, ReadOnlySpan<FlowKey> keys);

    /// <summary>A burst about to be sent on <paramref name="slot"/>'s port.</summary>
    public abstract void Sent(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts);
}
