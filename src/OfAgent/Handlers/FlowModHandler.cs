using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Handlers;

/// <summary>
/// FLOW_MOD and PACKET_OUT: the requests that change the flow table or send packets, and the buffered packets they
/// release (ovs ofproto/ofproto.c handle_flow_mod, handle_packet_out).
/// </summary>
/// <remarks>
/// Design: decodes nothing itself; the wire request goes through the translators into the version-independent
/// <see cref="FlowMod"/> and <see cref="FlowActions"/>, which the table set (<see cref="OfFlowTables"/>) and the
/// datapath apply. A flow-mod's removed flows come back from <see cref="OfFlowTables.Apply(in FlowMod, List{FlowRemoved}, out FlowEntry)"/>
/// as its result and leave as FLOW_REMOVED through the connection manager's fan-out (droppable asynchronous
/// messages); only expiry arrives through the datapath's events. A request has taken effect when its handler
/// returns (the table set and the datapath's packet-out are synchronous), which is what makes BARRIER_REPLY truthful.
/// Stateless; runs on any connection's receive loop, concurrently with the others; takes no lock of its own (the
/// table set serialises its writers, the buffer pool has its lock). May not touch connection state beyond answering
/// the requesting connection, and asks the manager to recompute the fail mode only when emergency flows appear.
/// </remarks>
internal sealed class FlowModHandler(OfRequestContext ctx, OfConnectionManager connections)
{
    // Per-thread scratch of the flow-mod path (connections have their own threads): the decoded actions and the flows a
    // flow-mod removed, cleared before each use, so a flow-mod allocates only what the table keeps.
    [ThreadStatic] private static List<OfpAction>? s_actions;
    [ThreadStatic] private static List<FlowRemoved>? s_removed;

    /// <summary>A FLOW_MOD, decoded from the connection's receive buffer (valid for the call only) into fields.</summary>
    public void FlowMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var dp = ctx.Dp;
        var wireActions = s_actions ??= new List<OfpAction>(16);
        wireActions.Clear();
        if (!OfpFlowMod.TryDecode(msg, wireActions, out var fm, out var decodeError))
        {
            ctx.SendError(c, decodeError, msg);
            return;
        }
        var match = MatchTranslator.ToFlowMatch(fm.Match);
        FlowActions actions = FlowActions.Drop;
        bool addOrModify = fm.Command is OfpFlowModCommand.Add or OfpFlowModCommand.Modify or OfpFlowModCommand.ModifyStrict;
        if (addOrModify && !ActionTranslator.TryTranslate(wireActions, dp.Ports, ActionContext.FlowMod, dp.Options.QueuesPerPort, out actions, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        if (addOrModify && !OfpStatsReplies.FlowEntryFits(wireActions))
        {
            // Its flow-stats entry could not be encoded in any reply: refuse it rather than break every dump-flows.
            ctx.SendError(c, OfpError.BadAction(OfpBadActionCode.TooMany), msg);
            return;
        }
        if (!FlowModTranslator.TryCommand(fm.Command, out var command))
        {
            ctx.SendError(c, OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand), msg);
            return;
        }
        var mod = new FlowMod(command, match, fm.Priority, actions, fm.Cookie, fm.IdleTimeout,
                              fm.HardTimeout, FlowModTranslator.ToFlags(fm.Flags), WireMap.ToDatapathPort(fm.OutPort), MatchRules.OpenFlow10);
        var removed = s_removed ??= new List<FlowRemoved>();
        removed.Clear();
        var st = ctx.Flows.Apply(mod, removed, out var flow);
        Interlocked.Increment(ref ctx.FlowModsApplied);
        foreach (var r in removed)
            if (ReportTranslator.FlowRemoved(r) is { } message) connections.SendAsync(message);
        removed.Clear();
        if (st != FlowModStatus.Ok)
        {
            ctx.SendError(c, OfpError.FlowModFailed(st switch
            {
                FlowModStatus.TableFull => OfpFlowModFailedCode.AllTablesFull,
                FlowModStatus.Overlap => OfpFlowModFailedCode.Overlap,
                FlowModStatus.BadEmergencyTimeout => OfpFlowModFailedCode.BadEmergTimeout,
                FlowModStatus.BadCommand => OfpFlowModFailedCode.BadCommand,
                _ => OfpFlowModFailedCode.Unsupported,
            }), msg);
            return;
        }
        if ((mod.Flags & FlowModFlags.Emergency) != 0) connections.EmergencyFlowsChanged();
        if (addOrModify && fm.BufferId != OfpConstants.NoBuffer)
        {
            // The buffered packet is processed by this flow's actions (as the reference switch and Open vSwitch do),
            // not resubmitted to the table: a packet the new flow does not match must not come back as a new
            // PACKET_IN (with a mis-built match that loops thousands of times a second).
            if (!TryTakeBuffer(c, fm.BufferId, msg, out var frame, out var inPort)) return;
            dp.PacketOut(frame, inPort, actions);
            // The packet was processed by the flow's actions, so it counts in that flow's statistics (the reference
            // switch's add_flow does the same): the flow with exactly the request's match and priority.
            flow?.Hit(1, frame.Length, dp.Clock.NowNanos);
        }
    }

    public void PacketOut(OfConnection c, OfpPacketOut po, byte[] msg)
    {
        var dp = ctx.Dp;
        if (!ActionTranslator.TryTranslate(po.Actions, dp.Ports, ActionContext.PacketOut, dp.Options.QueuesPerPort, out var actions, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        ushort inPort = WireMap.ToDatapathPort(po.InPort);
        if (po.BufferId != OfpConstants.NoBuffer)
        {
            if (!TryTakeBuffer(c, po.BufferId, msg, out var frame, out _)) return;
            dp.PacketOut(frame, inPort, actions);
            return;
        }
        if (po.Data.Length == 0 || po.Data.Length > dp.MaxFrameSize)
        {
            // OF1.0 has no code for "too big to carry"; BAD_LEN (as for missing data) tells the controller the
            // frame was not sent rather than dropping it silently.
            ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadLen), msg);
            return;
        }
        dp.PacketOut(po.Data.Span, inPort, actions);
    }

    /// <summary>
    /// Takes a buffered packet for PACKET_OUT or FLOW_MOD; answers BAD_REQUEST BUFFER_EMPTY (already used or expired)
    /// or BUFFER_UNKNOWN (never handed out) and returns false when it cannot.
    /// </summary>
    private bool TryTakeBuffer(OfConnection c, uint bufferId, ReadOnlySpan<byte> msg, out byte[] frame, out ushort inPort)
    {
        var r = ctx.Buffers.Take(bufferId, out frame, out inPort);
        if (r == PacketBufferPool.TakeResult.Ok) return true;
        ctx.SendError(c, OfpError.BadRequest(r == PacketBufferPool.TakeResult.Empty ? OfpBadRequestCode.BufferEmpty : OfpBadRequestCode.BufferUnknown), msg);
        return false;
    }
}
