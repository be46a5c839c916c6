using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// Open vSwitch's Nicira messages on an OpenFlow 1.0 connection, the NXM flow format's: NXT_SET_FLOW_FORMAT,
/// NXT_FLOW_MOD_TABLE_ID and NXT_SET_PACKET_IN_FORMAT (the connection's state), NXT_FLOW_MOD, and the NXST_FLOW and
/// NXST_AGGREGATE statistics (ovs ofproto/ofproto.c handle_nxt_set_flow_format, handle_nxt_flow_mod_table_id,
/// handle_nxt_set_packet_in_format, handle_flow_mod, handle_flow_stats_request, handle_aggregate_stats_request);
/// NXT_SET_ASYNC_CONFIG and NXT_SET_ASYNC_CONFIG2, the connection's asynchronous configuration (handle_nxt_set_async_config);
/// NXT_RESUME is NXR_NOT_SUPPORTED (no continuations); the flow monitors (NXST_FLOW_MONITOR, NXT_FLOW_MONITOR_CANCEL)
/// go to <see cref="NxFlowMonitorHandler"/>. Any other Nicira subtype is OFPBRC_BAD_SUBTYPE, another vendor
/// OFPBRC_BAD_VENDOR.
/// </summary>
/// <remarks>
/// Design: the NXM match goes through <see cref="NxmMatchTranslator"/> (OpenFlow 1.3's OXM translator under it), the
/// actions through OpenFlow 1.0's <see cref="ActionTranslator"/>, the request to the switch as the 1.0 flow-mod's does
/// (<see cref="FlowModTranslator"/>); errors are Open vSwitch's in OpenFlow 1.0 (<see cref="Nx10Error"/>: the OFPBMC_*
/// codes as Nicira errors). The flow format changes only what this connection receives (FLOW_REMOVED's form): both
/// request forms are served in either format, as Open vSwitch serves them. Stateless beyond per-thread scratch; runs on
/// any connection's receive loop (inside the request's hold of the tables), takes no lock of its own.
/// </remarks>
internal sealed class NiciraHandler(OfRequestContext ctx)
{
    /// <summary>NXR_NOT_SUPPORTED, NX1.0(1,533): the answer to NXT_RESUME.</summary>
    internal static readonly Nx10Error ResumeNotSupported10 = Nx10Error.Nx(1, 533);

    [ThreadStatic] private static List<OfpAction>? s_actions;
    [ThreadStatic] private static NxFlowStatsReplyWriter? s_writer;
    [ThreadStatic] private static OfpAction[]? s_wireActions;

    private readonly NxFlowMonitorHandler _monitors = new(ctx);

    /// <summary>An OFPT_VENDOR request, from the receive buffer (valid for the call only).</summary>
    public void Vendor(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Nx10.TryReadSubtype(msg, out uint subtype, out var error))
        {
            ctx.SendError(c, error, msg);
            return;
        }
        switch (subtype)
        {
            case Nx10.SetFlowFormat:
                if (!Nx10.TryDecodeSetFlowFormat(msg, out uint format, out error)) ctx.SendError(c, error, msg);
                // Open vSwitch: a format it does not know is OFPBRC_EPERM.
                else if (format is not (Nx10.FormatOpenFlow10 or Nx10.FormatNxm)) ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.Eperm), msg);
                else c.NxmFlowFormat = format == Nx10.FormatNxm;
                break;
            case Nx10.FlowModTableId:
                if (!Nx10.TryDecodeFlowModTableId(msg, out bool set, out error)) ctx.SendError(c, error, msg);
                else c.FlowModTableId = set;
                break;
            case Nx10.FlowMod:
                FlowMod(c, msg);
                break;
            case NxPacketIn.SetPacketInFormat:
                // Open vSwitch: any size but 20 bytes is BAD_LEN, a format other than 0-2 OFPBRC_EPERM.
                if (NxPacketIn.TryDecodeSetPacketInFormat(msg, out var pinFormat, out var pinError)) c.PacketInFormat = pinFormat;
                else ctx.SendError(c, Nx10Error.Of(pinError), msg);
                break;
            case NxPacketIn.Resume:
                // No controller action pauses here (pause is refused), so no continuation can come back: NXR_NOT_SUPPORTED.
                ctx.SendError(c, ResumeNotSupported10, msg);
                break;
            case NxAsyncConfig.SetAsyncConfig:
                SetAsyncConfig(c, msg);
                break;
            case NxAsyncConfig.SetAsyncConfig2:
                SetAsyncConfig2(c, msg);
                break;
            case NxFlowMonitor.Cancel:
                _monitors.Cancel(c, msg);
                break;
            case NxFlowMonitor.Paused or NxFlowMonitor.Resumed:
                // Messages only a switch sends (Open vSwitch: OFPBRC_BAD_TYPE).
                ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadType), msg);
                break;
            default:
                ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadSubtype), msg);
                break;
        }
    }

    [ThreadStatic] private static Ofp14AsyncConfig? s_async;

    /// <summary>
    /// NXT_SET_ASYNC_CONFIG: the packet-in, port-status and flow-removed masks (master or equal, then slave) in Open
    /// vSwitch's 1.0 reasons (<see cref="WireMap.AsyncMaskToOf"/>); as its decode_legacy_async_masks, the others start
    /// over from nothing (the request-forward masks cleared). A body other than 24 bytes is OFPBRC_BAD_LEN.
    /// </summary>
    private void SetAsyncConfig(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Span<uint> m = stackalloc uint[6];
        if (!NxAsyncConfig.TryDecodeSetAsyncConfig(msg, m, out var error))
        {
            ctx.SendError(c, Nx10Error.Of(error), msg);
            return;
        }
        c.Controller.Async = new OfAsyncConfig(
            WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, m[0]), WireMap.AsyncMaskToOf(OfAsyncKind.PortStatus, m[2]),
            WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, m[4]), WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, m[1]),
            WireMap.AsyncMaskToOf(OfAsyncKind.PortStatus, m[3]), WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, m[5]));
        Array.Clear(c.Async14Masks);
        c.AsyncConfigured();
    }

    /// <summary>
    /// NXT_SET_ASYNC_CONFIG2: 1.4's property list, the masks it names changed and the others kept (Open vSwitch's basis),
    /// the packet-in mask in 1.0's three reasons; the role-status, table-status and request-forward masks kept on the
    /// connection (nothing is sent by them to a 1.0 connection here: Open vSwitch forwards group-mods to 1.0 in
    /// NXT_GROUP_MOD, which this switch does not write). Refusals as Open vSwitch writes them under
    /// 1.0: OFPACFC_INVALID and _UNSUPPORTED, which 1.0 cannot say, NXBRC_UNENCODABLE_ERROR (NX1.0(1,521)); a property's
    /// bad length NX1.0(13,3); a list not in whole 8-byte units OFPBRC_BAD_LEN.
    /// </summary>
    private void SetAsyncConfig2(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var m = s_async ??= new Ofp14AsyncConfig();
        if (!NxAsyncConfig.TryDecodeSetAsyncConfig2(msg, m, out var err))
        {
            ctx.SendError(c, NxAsyncConfig.Error10(err), msg);
            return;
        }
        var a = c.Controller.Async;
        uint Model(Ofp14AsyncProp p, OfAsyncKind kind, uint current) => m.Has(p) ? WireMap.AsyncMaskToOf(kind, m[p]) : current;
        c.Controller.Async = new OfAsyncConfig(
            Model(Ofp14AsyncProp.PacketInMaster, OfAsyncKind.PacketIn, a.PacketInMaster), Model(Ofp14AsyncProp.PortStatusMaster, OfAsyncKind.PortStatus, a.PortStatusMaster),
            Model(Ofp14AsyncProp.FlowRemovedMaster, OfAsyncKind.FlowRemoved, a.FlowRemovedMaster), Model(Ofp14AsyncProp.PacketInSlave, OfAsyncKind.PacketIn, a.PacketInSlave),
            Model(Ofp14AsyncProp.PortStatusSlave, OfAsyncKind.PortStatus, a.PortStatusSlave), Model(Ofp14AsyncProp.FlowRemovedSlave, OfAsyncKind.FlowRemoved, a.FlowRemovedSlave));
        for (var p = Ofp14AsyncProp.RoleStatusSlave; p <= Ofp14AsyncProp.RequestForwardMaster; p++)
            if (m.Has(p)) c.Async14Masks[p - Ofp14AsyncProp.RoleStatusSlave] = m[p];
        c.AsyncConfigured();
    }

    /// <summary>NXT_FLOW_MOD: the 1.0 flow-mod with an NXM match, a cookie filter, and its table where flow_mod_table_id is on.</summary>
    private void FlowMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var wire = s_actions ??= new List<OfpAction>(16);
        wire.Clear();
        if (!Nx10.TryDecodeFlowMod(msg, wire, out var fm, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        var problem = NxmMatchTranslator.TryToOf(msg.Slice(Nx10.FlowModMatchOffset, fm.MatchLength), allowCookie: true, out var match, out ulong cookie, out ulong cookieMask);
        if (problem != NxmError.None)
        {
            ctx.SendError(c, Nx10Error.Of(problem), msg);
            return;
        }
        ushort raw = fm.Command;
        byte table = FlowModRequest.AllTables;
        if (c.FlowModTableId)
        {
            table = (byte)(raw >> 8);
            raw &= 0xff;
        }
        // Open vSwitch: a flow addition may set a cookie, never match one.
        if ((raw & 0xff) == (ushort)OfpFlowModCommand.Add && cookieMask != 0)
        {
            ctx.SendError(c, Nx10Error.NxmInvalid, msg);
            return;
        }
        if (!FlowModTranslator.TryCommand((OfpFlowModCommand)raw, out var command))
        {
            ctx.SendError(c, OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand), msg);
            return;
        }
        bool addOrModify = command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        var actions = ReadOnlyMemory<OfAction>.Empty;
        byte? gotoTable = null;
        if (addOrModify && !ActionTranslator.TryDecode(wire, FlowModTranslator.TransportOf(match), out actions, out gotoTable, out var actionError))
        {
            ctx.SendError(c, actionError, msg);
            return;
        }
        if (table != FlowModRequest.AllTables && table >= OfTables.Count)
        {
            ctx.SendError(c, Nx10Error.BadTableId, msg);
            return;
        }
        var request = FlowModTranslator.ToRequest(fm, command, table, match, cookie, cookieMask, actions, gotoTable);
        if (addOrModify && !ReadBackLimits.FlowFits(request))
        {
            ctx.SendError(c, OfpError.BadAction(OfpBadActionCode.TooMany), msg);
            return;
        }
        // The flows it changes are its own for the connection's flow monitors (ABBREV with its xid).
        using var source = OfFlowMonitors.From(c.Controller, OfpHeader.TryRead(msg, out var header) ? header.Xid : 0);
        ctx.Check(c, ctx.Switch.FlowMod(request, c.Controller), msg);
    }

    /// <summary>An OFPT_STATS_REQUEST of type OFPST_VENDOR: NXST_FLOW or NXST_AGGREGATE.</summary>
    public void Stats(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Nx10.TryDecodeStatsRequest(msg, out var f, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        if (f.Subtype == NxFlowMonitor.StatsFlowMonitor)
        {
            _monitors.Request(c, msg);
            return;
        }
        if (f.Subtype is not (Nx10.StatsFlow or Nx10.StatsAggregate))
        {
            ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadSubtype), msg);
            return;
        }
        var problem = NxmMatchTranslator.TryToOf(msg.Slice(Nx10.StatsMatchOffset, f.MatchLength), allowCookie: true, out var match, out ulong cookie, out ulong cookieMask);
        if (problem != NxmError.None)
        {
            ctx.SendError(c, Nx10Error.Of(problem), msg);
            return;
        }
        uint xid = OfpHeader.TryRead(msg, out var header) ? header.Xid : 0;
        var request = new FlowStatsRequest(match, f.TableId, WireMap.ToOfPort(f.OutPort), Cookie: cookie, CookieMask: cookieMask, Rules: FlowModTranslator.NxmRules);
        if (f.Subtype == Nx10.StatsAggregate)
        {
            if (!ctx.Check(c, ctx.Switch.Aggregate(request, out var a), msg)) return;
            c.SendRaw(Nx10.AggregateReply(xid, a.PacketCount, a.ByteCount, a.FlowCount));
            return;
        }
        FlowStats(c, xid, request, msg);
    }

    /// <summary>NXST_FLOW, written straight into pooled replies and paced by the reader, as OFPST_FLOW is (<see cref="StatsHandler"/>).</summary>
    private void FlowStats(OfConnection c, uint xid, in FlowStatsRequest request, ReadOnlySpan<byte> msg)
    {
        var writer = s_writer ??= new NxFlowStatsReplyWriter(OfConnection.MessagePool);
        var actions = s_wireActions ??= new OfpAction[16];
        Func<byte[], int, bool> send = c.SendPooledWhenRoom;
        bool open = true;
        writer.Begin(xid);
        try
        {
            var refused = ctx.Switch.VisitFlows(request, (in OfFlowStats f) => open = ReportTranslator.AddNxFlowStats(xid, f, writer, ref actions, send));
            if (!ctx.Check(c, refused, msg)) OfConnection.MessagePool.Return(writer.Finish(more: false, out _));
            else if (open) send(writer.Finish(more: false, out int last), last);
        }
        finally
        {
            s_wireActions = actions;
        }
    }
}
