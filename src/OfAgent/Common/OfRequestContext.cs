using Microsoft.Extensions.Logging;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Common;

/// <summary>
/// What every OpenFlow request handler shares: the switch (<see cref="OfSwitch"/>, the OpenFlow layer every request is
/// one call to), the agent's options, and the one way to answer a request with OFPT_ERROR (counted in
/// <see cref="ErrorsSent"/>).
/// </summary>
/// <remarks>
/// Design: owns the request-side counter <see cref="ErrorsSent"/> (atomic adds) and nothing else; the objects it carries
/// are owned by the composition root (<see cref="OfSwitchAgent"/>). Handlers run on every connection's receive loop at
/// once, so everything reachable from here is thread safe on its own (<see cref="OfSwitch"/>'s requests are). No lock is
/// taken here.
/// </remarks>
internal sealed class OfRequestContext(OfSwitch ofproto, AgentOptions options, ILogger log)
{
    public OfSwitch Switch { get; } = ofproto;
    public AgentOptions Options { get; } = options;
    public ILogger Log { get; } = log;

    /// <summary>OFPT_ERROR messages sent in answer to requests.</summary>
    public long ErrorsSent;

    /// <summary>Answers <paramref name="request"/> with OFPT_ERROR, echoing its first bytes as OF1.0 asks.</summary>
    public void SendError(OfConnection c, OfpError error, ReadOnlySpan<byte> request)
    {
        if (error.Nicira)
        {
            SendError(c, (Nx10Error)error, request);
            return;
        }
        Interlocked.Increment(ref ErrorsSent);
        Log.LogDebug("{Conn}: error {Type}/{Code} for a {Len}-byte request", c.Name, error.Type, error.Code, request.Length);
        c.SendRaw(OfpErrorMsg.ForRequest(error, request).ToArray());
    }

    /// <summary>Answers <paramref name="request"/> with an OpenFlow 1.0 error as Open vSwitch sends it (a Nicira one inside NXET_VENDOR).</summary>
    public void SendError(OfConnection c, Nx10Error error, ReadOnlySpan<byte> request)
    {
        Interlocked.Increment(ref ErrorsSent);
        Log.LogDebug("{Conn}: error {Error} for a {Len}-byte request", c.Name, error, request.Length);
        c.SendRaw(error.ForRequest(request));
    }

    /// <summary>Answers <paramref name="request"/> with an OFPT_ERROR of the 1.3 codec in the connection's version (its xid, its first 64 bytes).</summary>
    public void SendError(OfConnection c, Softswitch.OfWire.Of13.Ofp13Error error, ReadOnlySpan<byte> request)
    {
        Interlocked.Increment(ref ErrorsSent);
        Log.LogDebug("{Conn}: error {Error} for a {Len}-byte request", c.Name, error, request.Length);
        c.SendRaw(Softswitch.OfWire.Of13.Ofp13Messages.Error(c.Version, error, request));
    }

    /// <summary>Sends <paramref name="reply"/>, an error reply written whole by a codec (<paramref name="error"/> names it in the log), counted as every error is.</summary>
    public void SendError(OfConnection c, byte[] reply, object error, ReadOnlySpan<byte> request)
    {
        Interlocked.Increment(ref ErrorsSent);
        Log.LogDebug("{Conn}: error {Error} for a {Len}-byte request", c.Name, error, request.Length);
        c.SendRaw(reply);
    }

    /// <summary>Answers <paramref name="request"/> with the OpenFlow 1.0 error for the switch's refusal <paramref name="error"/>; false when there was one.</summary>
    public bool Check(OfConnection c, OfError error, ReadOnlySpan<byte> request)
    {
        if (error == OfError.None) return true;
        SendError(c, WireMap.ToWire(error), request);
        return false;
    }
}
