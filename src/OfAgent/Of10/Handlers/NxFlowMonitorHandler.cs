using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// Flow monitors on an OpenFlow 1.0 connection (Open vSwitch's handle_flow_monitor_request and
/// handle_flow_monitor_cancel under 1.0): NXST_FLOW_MONITOR, decoded with <see cref="NxFlowMonitor"/>, its NXM matches
/// through <see cref="NxmMatchTranslator"/>, applied to the switch's <see cref="OfFlowMonitors"/> (the model 1.3's ONF
/// form and 1.4's OFPMP_FLOW_MONITOR share) and answered with the INITIAL updates; NXT_FLOW_MONITOR_CANCEL; and the
/// encoding of the updates the monitors send later (<see cref="Encode"/>: NXST_FLOW_MONITOR replies, and
/// NXT_FLOW_MONITOR_PAUSED and _RESUMED for the flow control).
/// </summary>
/// <remarks>
/// Whatever the connection's flow format, the updates are Nicira's (NXM matches, OpenFlow 1.0 actions), as Open
/// vSwitch sends them to any OpenFlow 1.0 connection. Errors are Open vSwitch's in OpenFlow 1.0 (<see cref="Nx10Error"/>).
/// Stateless; the monitors are the switch's, keyed by the connection's controller. Runs on the requesting connection's
/// receive loop; <see cref="Encode"/> on whatever thread changed a flow.
/// </remarks>
internal sealed class NxFlowMonitorHandler(OfRequestContext ctx)
{
    /// <summary>An NXST_FLOW_MONITOR request (its NXST head already read), from the receive buffer (valid for the call only).</summary>
    public void Request(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var wire = new List<NxFlowMonitorRequestFields>();
        if (!NxFlowMonitor.TryDecodeRequests(msg, wire, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        var requests = new OfFlowMonitorRequest[wire.Count];
        for (int i = 0; i < wire.Count; i++)
        {
            var w = wire[i];
            // Open vSwitch reads the monitor's match with no cookie (nx_pull_match without one): NXM_NX_COOKIE is BAD_FIELD.
            var problem = NxmMatchTranslator.TryToOf(msg.Slice(w.MatchOffset, w.MatchLength), allowCookie: false, out var match, out _, out _);
            if (problem != NxmError.None)
            {
                ctx.SendError(c, Nx10Error.Of(problem), msg);
                return;
            }
            requests[i] = new OfFlowMonitorRequest(w.Id, OfFlowMonitorCommand.Add, (OfFlowMonitorFlags)Ofp14FlowMonitorRequest.FromNicira(w.Flags),
                                                   w.TableId, WireMap.ToOfPort(w.OutPort), FlowModRequest.AnyGroup, match);
        }
        var initial = new List<OfFlowUpdate>();
        var refused = ctx.Switch.FlowMonitors.Apply(c.Controller, requests, initial, out _);
        if (refused != OfFlowMonitorError.None)
        {
            ctx.SendError(c, ToWire(refused), msg);
            return;
        }
        uint xid = OfpHeader.TryRead(msg, out var header) ? header.Xid : 0;
        var entries = new List<NxFlowUpdate>(initial.Count);
        foreach (var u in initial) entries.Add(ToWire(u));
        foreach (var part in NxFlowMonitor.EncodeReplies(xid, entries))
        {
            c.WaitForRoom();
            c.SendRaw(part);
        }
    }

    /// <summary>NXT_FLOW_MONITOR_CANCEL: the monitor goes, or OFPMOFC_UNKNOWN_MONITOR.</summary>
    public void Cancel(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!NxFlowMonitor.TryDecodeCancel(msg, out uint id, out var err))
        {
            ctx.SendError(c, err, msg);
            return;
        }
        var refused = ctx.Switch.FlowMonitors.Apply(c.Controller, [new OfFlowMonitorRequest(id, OfFlowMonitorCommand.Delete, 0, 0, 0, 0, OfMatch.Any)],
                                                    [], out _);
        if (refused != OfFlowMonitorError.None) ctx.SendError(c, ToWire(refused), msg);
    }

    /// <summary>
    /// A refusal as Open vSwitch answers it in OpenFlow 1.0: a table past the switch's OFPBRC_BAD_TABLE_ID, a match it
    /// cannot express OFPBMC_BAD_FIELD, an existing or unknown id OFPMOFC_MONITOR_EXISTS or _UNKNOWN_MONITOR; the
    /// codes OpenFlow 1.0 has none for (OFPMOFC_BAD_OUT) NXBRC_UNENCODABLE_ERROR.
    /// </summary>
    internal static Nx10Error ToWire(OfFlowMonitorError e) => e switch
    {
        OfFlowMonitorError.BadTableId => Nx10Error.BadTableId,
        OfFlowMonitorError.BadMatch => Nx10Error.Of(NxmError.BadField),
        OfFlowMonitorError.Exists => NxFlowMonitor.MonitorExists,
        OfFlowMonitorError.Unknown => NxFlowMonitor.UnknownMonitor,
        _ => Nx10Error.Unencodable,
    };

    /// <summary>
    /// The messages that carry <paramref name="updates"/> unasked (xid 0), in order: NXST_FLOW_MONITOR replies for the
    /// flow updates, NXT_FLOW_MONITOR_PAUSED or _RESUMED messages of their own.
    /// </summary>
    public static List<byte[]> Encode(IReadOnlyList<OfFlowUpdate> updates)
    {
        var messages = new List<byte[]>();
        var run = new List<NxFlowUpdate>();
        foreach (var u in updates)
        {
            if (u.Event is not (OfFlowUpdateEvent.Paused or OfFlowUpdateEvent.Resumed))
            {
                run.Add(ToWire(u));
                continue;
            }
            if (run.Count > 0) messages.AddRange(NxFlowMonitor.EncodeReplies(0, run));
            run.Clear();
            messages.Add(NxFlowMonitor.FlowControl(paused: u.Event == OfFlowUpdateEvent.Paused));
        }
        if (run.Count > 0) messages.AddRange(NxFlowMonitor.EncodeReplies(0, run));
        return messages;
    }

    /// <summary>
    /// An update as Nicira's entry: INITIAL and ADDED are NXFME_ADDED, REMOVED NXFME_DELETED (its reason as Open vSwitch
    /// numbers OFPRR_*), MODIFIED NXFME_MODIFIED; the match in NXM, the actions (a goto-table as a resubmit) in OpenFlow
    /// 1.0's form when the monitors asked for them.
    /// </summary>
    internal static NxFlowUpdate ToWire(OfFlowUpdate u)
    {
        if (u.Event == OfFlowUpdateEvent.Abbrev) return NxFlowUpdate.Abbrev(u.Xid);
        ushort ev = u.Event switch
        {
            OfFlowUpdateEvent.Removed => NxFlowMonitor.EventDeleted,
            OfFlowUpdateEvent.Modified => NxFlowMonitor.EventModified,
            _ => NxFlowMonitor.EventAdded,
        };
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[NxmMatchTranslator.MaxEntries];
        int n = NxmMatchTranslator.ToNxm(u.Match, match);
        var actions = u.Actions is { } a ? ReportTranslator.ActionsOf(a, u.Instructions) : [];
        // The model's reasons are numbered as Open vSwitch's OFPRR_* (idle 0 ... eviction 5), which Nicira's entry carries.
        return new NxFlowUpdate(ev, u.Event == OfFlowUpdateEvent.Removed ? (ushort)u.Reason : (ushort)0, u.Priority, u.IdleTimeout, u.HardTimeout,
                                u.TableId, u.Cookie, match[..n].ToArray(), actions);
    }
}
