using System.Buffers.Binary;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Common;

/// <summary>
/// What every version's request dispatcher does alike (ovs ofproto/ofproto.c handle_openflow): each request is handled
/// inside the switch's request scope (<see cref="OfSwitch.BeginRequest"/>), so the flows it reads stay what they were
/// until it is answered; ECHO_REQUEST and a bodiless BARRIER_REQUEST are answered from the receive buffer. The rest is
/// the version's <see cref="Dispatch"/>: decode, route to the handler of the request's area.
/// </summary>
/// <remarks>
/// A connection's receive loop calls <see cref="Handle"/> for its messages in arrival order, so a BARRIER_REPLY is
/// queued only after every earlier request took effect; different connections call it concurrently (every handler is
/// thread safe and takes no lock of its own). Stateless.
/// </remarks>
internal abstract class OfRequestDispatcher(OfRequestContext ctx, byte version, byte echoRequest, byte echoReply, byte barrierRequest, byte barrierReply)
{
    protected OfRequestContext Ctx { get; } = ctx;

    /// <summary>OFPT_FLOW_MOD, the same in every version served.</summary>
    private const byte FlowModType = 14;

    public void Handle(OfConnection c, ReadOnlySpan<byte> msg)
    {
        // A flow-mod joins this thread's run of flow-mods (OfSwitch.BeginFlowModRun: the flow-mods a connection read
        // together take effect together); any other request ends it first, so it sees every flow-mod before it in
        // effect. OFPT_FLOW_MOD is 14 in 1.0 and 1.3 alike. The connection ends the run before it waits.
        if (IsFlowMod(msg)) Ctx.Switch.BeginFlowModRun();
        else Ctx.Switch.EndFlowModRun();
        // Every request may keep flows of the tables until it is answered (a flow-mod's removed flows, a stats dump,
        // a packet-out's lookup): a hold keeps them from being recycled meanwhile.
        using var scope = Ctx.Switch.BeginRequest();
        // Barriers (one per batch of flow-mods) and echoes are answered from the receive buffer: the reply is the
        // request with its type changed (same xid, same data), in a pooled array, with no message object.
        if (msg.Length >= OfpHeader.Size && msg[0] == version && BinaryPrimitives.ReadUInt16BigEndian(msg[2..]) == msg.Length &&
            (msg[1] == echoRequest || (msg[1] == barrierRequest && msg.Length == OfpHeader.Size)))
        {
            if (msg[1] == barrierRequest) Ctx.Switch.Barrier();
            var reply = OfConnection.MessagePool.Rent(msg.Length);
            msg.CopyTo(reply);
            reply[1] = msg[1] == echoRequest ? echoReply : barrierReply;
            c.SendPooled(reply, msg.Length);
            return;
        }
        Dispatch(c, msg);
    }

    /// <summary>Whether <paramref name="msg"/> is a flow-mod (it joins the run): OFPT_FLOW_MOD, the same in every version served.</summary>
    protected virtual bool IsFlowMod(ReadOnlySpan<byte> msg) => msg.Length >= OfpHeader.Size && msg[1] == FlowModType;

    /// <summary>Any other request, inside the request scope: the message lies in the receive buffer, valid for the call only.</summary>
    protected abstract void Dispatch(OfConnection c, ReadOnlySpan<byte> msg);
}
