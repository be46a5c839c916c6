using System.Runtime.InteropServices;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// FLOW_MOD, GROUP_MOD, METER_MOD and PACKET_OUT in OpenFlow 1.3: decode, translate, one call to the switch
/// (<see cref="OfSwitch.FlowMod"/>, <see cref="OfSwitch.GroupMod"/>, <see cref="OfSwitch.MeterMod"/>,
/// <see cref="OfSwitch.PacketOut"/>), answer its refusal with the 1.3 error (ovs ofproto/ofproto.c handle_flow_mod,
/// handle_group_mod, handle_meter_mod, handle_packet_out).
/// </summary>
/// <remarks>
/// Design: as <see cref="Of10.Handlers.FlowModHandler"/>: the wire request goes through the translators
/// (<see cref="MatchTranslator"/>, <see cref="FlowModTranslator"/>, <see cref="ActionTranslator"/>) into the
/// version-independent request; what it means (tables, goto-tables, groups, meters, buffers) is the switch's. Stateless
/// but for per-thread scratch decoders (connections have their own threads); takes no lock.
/// </remarks>
internal sealed class FlowModHandler(OfRequestContext ctx)
{
    /// <summary>A flow or group whose statistics entry would not fit a multipart reply (<see cref="ReadBackLimits"/>).</summary>
    private static readonly Ofp13Error s_tooLongToReadBack = Ofp13Error.BadAction(Ofp13Codes.ActionTooMany);

    [ThreadStatic] private static Ofp13FlowMod? s_flowMod;
    [ThreadStatic] private static Ofp13PacketOut? s_packetOut;
    [ThreadStatic] private static Ofp15PacketOut? s_packetOut15;

    private void Error(OfConnection c, Ofp13Error e, ReadOnlySpan<byte> msg) => ctx.SendError(c, e, msg);

    private void Check(OfConnection c, OfError e, ReadOnlySpan<byte> msg, RefusedRequest request = RefusedRequest.Other)
    {
        if (e != OfError.None) Error(c, WireMap.ToWire(e, request), msg);
    }

    public void FlowMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!TryFlowMod(msg, out var request, out var err)) { Error(c, err, msg); return; }
        // The flows it changes are its own for the connection's flow monitors (ABBREV with its xid).
        using var source = OfFlowMonitors.From(c.Controller, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(msg[4..]));
        Check(c, ctx.Switch.FlowMod(request, c.Controller), msg, RefusedRequest.FlowMod);
    }

    /// <summary>
    /// A FLOW_MOD decoded and translated into the switch's request (what <see cref="FlowMod"/> and a bundle's add do);
    /// false with the error that refuses it.
    /// </summary>
    public static bool TryFlowMod(ReadOnlySpan<byte> msg, out FlowModRequest request, out Ofp13Error err)
    {
        request = default;
        var fm = s_flowMod ??= new Ofp13FlowMod();
        if (!fm.TryDecode(msg, out err)) return false;
        if (!FlowModCommandMap.TryToModel(fm.Command, out var command)) { err = Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadCommand); return false; }
        bool addOrModify = command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        if ((fm.Flags & ~FlowModFlagsMap.Bits) != 0) { err = Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadFlags); return false; }
        var problem = MatchTranslator.TryToOf(CollectionsMarshal.AsSpan(fm.Match), out var match, out _);
        if (problem != OxmProblem.None) { err = WireMap.ToWire(problem); return false; }
        var instructions = new OfInstructions(ReadOnlyMemory<OfAction>.Empty);
        if (addOrModify && !FlowModTranslator.TryInstructions(fm, out instructions, out err)) return false;
        if (addOrModify && !ActionPrerequisites.Consistent(CollectionsMarshal.AsSpan(fm.Match), fm.Instructions))
        {
            err = Ofp13Error.BadAction(Ofp13Codes.ActionMatchInconsistent);
            return false;
        }
        request = FlowModTranslator.ToRequest(fm, command, match, instructions);
        if (addOrModify && !ReadBackLimits.FlowFits(request)) { err = s_tooLongToReadBack; return false; }
        return true;
    }

    public void PacketOut(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!TryPacketOut(msg, out var request, out var err)) { Error(c, err, msg); return; }
        if (request is not { } po)
        {
            // No packet and nothing to do with it: accepted as Open vSwitch does (OFTest's role checks send exactly this).
            if (!c.Controller.MayWrite) Error(c, Ofp13Error.BadRequest(Ofp13Codes.IsSlave), msg);
            return;
        }
        Check(c, ctx.Switch.PacketOut(po, c.Controller), msg);
    }

    /// <summary>
    /// A PACKET_OUT of any version from 1.3 on, decoded and its actions translated (its data copied out of
    /// <paramref name="msg"/>); null when it carries no packet and no action (nothing to do). False with the error to
    /// send when it does not decode or translate.
    /// </summary>
    internal static bool TryPacketOut(ReadOnlySpan<byte> msg, out PacketOutRequest? request, out Ofp13Error err)
    {
        request = null;
        if (Ofp15.Serves(msg[0])) return TryPacketOut15(msg, out request, out err);
        var po = s_packetOut ??= new Ofp13PacketOut();
        if (!po.TryDecode(msg, out err)) return false;
        if (po.BufferId == Ofp13.NoBuffer && po.Data.IsEmpty && po.Actions.Count == 0) return true;
        if (!ActionTranslator.TryPacketOutToOf(CollectionsMarshal.AsSpan(po.Actions), out var actions, out err)) return false;
        request = new PacketOutRequest(po.BufferId, po.InPort, actions, po.Data);
        return true;
    }

    /// <summary>
    /// OpenFlow 1.5's PACKET_OUT: the packet's pipeline fields come as a match. As Open vSwitch's
    /// ofputil_decode_packet_out, a field that is not a pipeline field is BAD_REQUEST/PIPELINE_FIELDS_ONLY and a match
    /// without in_port BAD_REQUEST/BAD_PORT; in_port is the packet's input port (through the pipeline with output:TABLE,
    /// as in 1.3). The other pipeline fields (metadata, tunnel_id) are not carried into a packet-out here: BAD_MATCH/BAD_FIELD.
    /// </summary>
    private static bool TryPacketOut15(ReadOnlySpan<byte> msg, out PacketOutRequest? request, out Ofp13Error err)
    {
        request = null;
        var po = s_packetOut15 ??= new Ofp15PacketOut();
        if (!po.TryDecode(msg, out err)) return false;
        uint? inPort = null;
        bool otherPipelineField = false;
        foreach (var f in po.Match)
        {
            switch (f.Field)
            {
                case MatchTranslator.InPort when !f.HasMask: inPort = (uint)f.Value; break;
                case MatchTranslator.Metadata or MatchTranslator.TunnelId: otherPipelineField = true; break;
                default:
                    if (Ofp13Match.IsRegister(f.Field)) { otherPipelineField = true; break; }
                    err = Ofp13Error.BadRequest(Ofp15.PipelineFieldsOnly);
                    return false;
            }
        }
        if (inPort is not { } port) { err = Ofp13Error.BadRequest(Ofp13Codes.BadPort); return false; }
        if (otherPipelineField) { err = Ofp13Error.BadMatch(Ofp13Codes.MatchBadField); return false; }
        if (!ActionTranslator.TryPacketOutToOf(CollectionsMarshal.AsSpan(po.Actions), out var actions, out err, maskedSetField: true)) return false;
        request = new PacketOutRequest(po.BufferId, port, actions, po.Data);
        return true;
    }

    /// <summary>
    /// GROUP_MOD: decoded, its buckets' actions translated as a flow's, and carried out by the switch, which checks the
    /// group rules (types, buckets, weights, watches, chains; see <see cref="OfSwitch.GroupMod"/>).
    /// </summary>
    public void GroupMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!TryGroupMod(msg, out var req, out var err)) { Error(c, err, msg); return; }
        var refused = ctx.Switch.GroupMod(req, c.Controller);
        Check(c, refused, msg);
        if (refused == OfError.None) RequestForwarder.GroupMod(ctx.Switch, c, msg, req.GroupId);
    }

    /// <summary>
    /// A GROUP_MOD of any version decoded into the switch's request (1.5's layout with bucket ids, INSERT_BUCKET and
    /// REMOVE_BUCKET; 1.1 to 1.4's), or the error to answer it with; a bundle's group-mods are decoded here too.
    /// </summary>
    public static bool TryGroupMod(ReadOnlySpan<byte> msg, out GroupModRequest request, out Ofp13Error err)
    {
        request = default;
        if (Ofp15.Serves(msg[0]))
        {
            var mod15 = new Ofp15GroupMod();
            if (!mod15.TryDecode(msg, out err) || !GroupTranslator.TryToModel(mod15, out request, out err)) return false;
            if (request.Command is GroupModCommand.Add or GroupModCommand.Modify or GroupModCommand.InsertBuckets
                && !ReadBackLimits.GroupFits([.. request.Buckets]))
            {
                err = s_tooLongToReadBack;
                return false;
            }
            return true;
        }
        var mod = new Ofp13GroupMod();
        if (!mod.TryDecode(msg, out err)) return false;
        if (!GroupModCommandMap.TryToModel(mod.Command, out var command)) { err = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadCommand); return false; }
        if (!GroupTypeMap.TryToModel(mod.GroupType, out var type)) { err = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadType); return false; }
        var buckets = new OfBucket[mod.Buckets.Count];
        for (int i = 0; i < buckets.Length; i++)
        {
            var b = mod.Buckets[i];
            if (!ActionTranslator.TryToOf(CollectionsMarshal.AsSpan(b.Actions), out var actions, out err)) return false;
            buckets[i] = new OfBucket(b.Weight, b.WatchPort, b.WatchGroup, actions);
        }
        if (command != GroupModCommand.Delete && !ReadBackLimits.GroupFits(buckets)) { err = s_tooLongToReadBack; return false; }
        request = new GroupModRequest(command, type, mod.GroupId, buckets);
        return true;
    }

    /// <summary>METER_MOD: decoded here, checked and carried out by the switch.</summary>
    public void MeterMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var mod = new Ofp13MeterMod();
        if (!mod.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        if (!MeterModCommandMap.TryToModel(mod.Command, out var command)) { Error(c, Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadCommand), msg); return; }
        var bands = new OfMeterBand[mod.Bands.Count];
        for (int i = 0; i < bands.Length; i++)
        {
            var b = mod.Bands[i];
            bands[i] = new OfMeterBand(MeterBandTypeMap.ToModel(b.Type), b.Rate, b.BurstSize, b.PrecLevel);
        }
        var refused = ctx.Switch.MeterMod(new MeterModRequest(command, MeterFlagsMap.ToModel(mod.Flags), mod.MeterId, bands), c.Controller);
        Check(c, refused, msg);
        if (refused == OfError.None) RequestForwarder.MeterMod(c, msg);
    }
}
