using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Handlers;

/// <summary>
/// What every OpenFlow request handler shares: the datapath and its table set, the agent's options, the packet
/// buffers, and the one way to answer a request with OFPT_ERROR (counted in <see cref="ErrorsSent"/>).
/// </summary>
/// <remarks>
/// Design: owns the request-side counters (<see cref="ErrorsSent"/>, <see cref="FlowModsApplied"/>, atomic adds) and
/// nothing else; the objects it carries are owned by the composition root (<see cref="OfSwitchAgent"/>). Handlers run
/// on every connection's receive loop at once, so everything reachable from here is thread safe on its own: the
/// datapath's control operations, <see cref="OfFlowTables"/> (it serialises its writers), the
/// <see cref="PacketBufferPool"/> (its own lock). No lock is taken here.
/// </remarks>
internal sealed class OfRequestContext(SwitchDatapath dp, OfFlowTables flows, AgentOptions options, PacketBufferPool buffers, ILogger log)
{
    public SwitchDatapath Dp { get; } = dp;
    public OfFlowTables Flows { get; } = flows;
    public AgentOptions Options { get; } = options;
    public PacketBufferPool Buffers { get; } = buffers;
    public ILogger Log { get; } = log;

    /// <summary>OFPT_ERROR messages sent in answer to requests.</summary>
    public long ErrorsSent;
    /// <summary>Flow-mods applied to the table set (whatever their outcome).</summary>
    public long FlowModsApplied;

    /// <summary>Answers <paramref name="request"/> with OFPT_ERROR, echoing its first bytes as OF1.0 asks.</summary>
    public void SendError(OfConnection c, OfpError error, ReadOnlySpan<byte> request)
    {
        Interlocked.Increment(ref ErrorsSent);
        Log.LogDebug("{Conn}: error {Type}/{Code} for a {Len}-byte request", c.Name, error.Type, error.Code, request.Length);
        c.SendRaw(OfpErrorMsg.ForRequest(error, request).ToArray());
    }
}
