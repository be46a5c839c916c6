using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// FLOW_MOD and PACKET_OUT in OpenFlow 1.0 (a flow-mod's table in its command's high byte once the peer enabled Open
/// vSwitch's flow_mod_table_id): decode, one call to the switch (<see cref="OfSwitch.FlowMod"/>,
/// <see cref="OfSwitch.PacketOut"/>), answer its refusal with the OpenFlow 1.0 error (ovs ofproto/ofproto.c
/// handle_flow_mod, handle_packet_out).
/// </summary>
/// <remarks>
/// Design: the wire request goes through the translators into the version-independent <see cref="FlowModRequest"/>
/// and <see cref="PacketOutRequest"/>; everything they mean (validation, buffers, the flows a delete removes and their
/// FLOW_REMOVED) is the switch's. A request has taken effect when its handler returns, which is what makes
/// BARRIER_REPLY truthful. Stateless; runs on any connection's receive loop, concurrently with the others; takes no lock.
/// </remarks>
internal sealed class FlowModHandler(OfRequestContext ctx)
{
    // Per-thread scratch of the flow-mod path (connections have their own threads): the decoded wire actions, cleared
    // before each use, so a flow-mod allocates only what the table keeps.
    [ThreadStatic] private static List<OfpAction>? s_actions;

    /// <summary>A FLOW_MOD, decoded from the connection's receive buffer (valid for the call only) into fields.</summary>
    public void FlowMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var wireActions = s_actions ??= new List<OfpAction>(16);
        wireActions.Clear();
        if (!OfpFlowMod.TryDecode(msg, wireActions, c.FlowModTableId, out var fm, out var decodeError))
        {
            ctx.SendError(c, decodeError, msg);
            return;
        }
        // A delete's actions mean nothing (OF1.0 5.3.3): only an add's or a modify's are decoded.
        bool addOrModify = fm.Command is OfpFlowModCommand.Add or OfpFlowModCommand.Modify or OfpFlowModCommand.ModifyStrict;
        var actions = ReadOnlyMemory<OfAction>.Empty;
        byte? gotoTable = null;
        if (addOrModify && !ActionTranslator.TryDecode(wireActions, FlowModTranslator.TransportOf(fm.Match), out actions, out gotoTable, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        if (!FlowModTranslator.TryCommand(fm.Command, out var command))
        {
            ctx.SendError(c, OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand), msg);
            return;
        }
        if (fm.TableId != FlowModRequest.AllTables && fm.TableId >= OfTables.Count)
        {
            // Open vSwitch's OFPBRC_BAD_TABLE_ID, a Nicira error in OpenFlow 1.0.
            ctx.SendError(c, Nx10Error.BadTableId, msg);
            return;
        }
        var request = FlowModTranslator.ToRequest(fm, command, actions, gotoTable);
        if (addOrModify && !ReadBackLimits.FlowFits(request))
        {
            // Its flow-stats entry could not be encoded in a reply of either version: refuse it rather than break every dump.
            ctx.SendError(c, OfpError.BadAction(OfpBadActionCode.TooMany), msg);
            return;
        }
        // The flows it changes are its own for the connection's flow monitors (ABBREV with its xid).
        using var source = OfFlowMonitors.From(c.Controller, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(msg[4..]));
        ctx.Check(c, ctx.Switch.FlowMod(request, c.Controller), msg);
    }

    public void PacketOut(OfConnection c, OfpPacketOut po, byte[] msg)
    {
        if (!ActionTranslator.TryDecodePacketOut(po.Actions, out var actions, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        ctx.Check(c, ctx.Switch.PacketOut(new PacketOutRequest(po.BufferId, WireMap.ToOfPort(po.InPort), actions, po.Data), c.Controller), msg);
    }
}
