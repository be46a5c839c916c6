using System.Runtime.InteropServices;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// Flow monitors (Open vSwitch's handle_flow_monitor_request and handle_flow_monitor_cancel): OFPMP_FLOW_MONITOR under
/// 1.4 and later, the ONF extension under 1.3 (ONFST_FLOW_MONITOR, an OFPMP_EXPERIMENTER multipart, and
/// ONFT_FLOW_MONITOR_CANCEL), decoded with <see cref="Ofp14FlowMonitor"/>, applied to the switch's
/// <see cref="OfFlowMonitors"/> and answered with the INITIAL updates; and the encoding of the updates the monitors send
/// later (<see cref="Encode"/>).
/// </summary>
/// <remarks>
/// Stateless; the monitors are the switch's, keyed by the connection's controller. Runs on the requesting connection's
/// receive loop; <see cref="Encode"/> on whatever thread changed a flow.
/// </remarks>
internal sealed class FlowMonitorHandler(OfRequestContext ctx)
{
    /// <summary>An OFPMP_FLOW_MONITOR request (1.4+), or with <paramref name="onf"/> the ONF form's body after its experimenter header (1.3).</summary>
    public void Request(OfConnection c, ReadOnlySpan<byte> msg, ReadOnlySpan<byte> body, uint xid, bool onf)
    {
        var wire = new List<Ofp14FlowMonitorRequest>();
        if (!Ofp14FlowMonitor.TryDecodeRequests(body, onf, wire, out var err)) { Error(c, err, msg); return; }
        var requests = new OfFlowMonitorRequest[wire.Count];
        for (int i = 0; i < wire.Count; i++)
        {
            var w = wire[i];
            var problem = MatchTranslator.TryToOf(CollectionsMarshal.AsSpan(w.Match), out var match, out _);
            if (problem != OxmProblem.None) { ctx.SendError(c, WireMap.ToWire(problem), msg); return; }
            requests[i] = new OfFlowMonitorRequest(w.MonitorId, (OfFlowMonitorCommand)w.Command, (OfFlowMonitorFlags)w.Flags, w.TableId,
                                                   w.OutPort, w.OutGroup, match);
        }
        var initial = new List<OfFlowUpdate>();
        var refused = ctx.Switch.FlowMonitors.Apply(c.Controller, requests, initial, out _);
        if (refused != OfFlowMonitorError.None) { Error(c, ToWire(refused), msg); return; }
        if (onf)
        {
            SendOnfReply(c.Version, xid, initial, Sender(c));
        }
        else
        {
            var reply = new Ofp13ReplyWriter(c.Version, Ofp14FlowMonitor.MultipartType, xid, Sender(c));
            var entry = new Ofp14FlowUpdate();
            foreach (var u in initial) reply.Add(Fill(entry, u, c.Version, onf: false));
            reply.Finish();
        }
    }

    /// <summary>ONFT_FLOW_MONITOR_CANCEL (1.3): the monitor goes, or FLOW_MONITOR_FAILED/UNKNOWN_MONITOR's 1.3 form.</summary>
    public void Cancel(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Ofp14FlowMonitor.TryDecodeOnfCancel(msg, out uint id, out var err)) { Error(c, err, msg); return; }
        var refused = ctx.Switch.FlowMonitors.Apply(c.Controller, [new OfFlowMonitorRequest(id, OfFlowMonitorCommand.Delete, 0, 0, 0, 0, OfMatch.Any)],
                                                    [], out _);
        if (refused != OfFlowMonitorError.None) Error(c, ToWire(refused), msg);
    }

    /// <summary>An error in the connection's version (a flow monitor refusal under 1.3 as Open vSwitch's Nicira code).</summary>
    private void Error(OfConnection c, Ofp13Error e, ReadOnlySpan<byte> msg)
    {
        Interlocked.Increment(ref ctx.ErrorsSent);
        c.SendRaw(Ofp14FlowMonitor.Error(c.Version, e, msg));
    }

    /// <summary>
    /// The refusal as Open vSwitch answers it: a table past the switch's BAD_REQUEST/BAD_TABLE_ID, a match it cannot
    /// express BAD_MATCH/BAD_FIELD, the others FLOW_MONITOR_FAILED's codes (which <see cref="Ofp14FlowMonitor.Error"/>
    /// writes in the connection's version).
    /// </summary>
    internal static Ofp13Error ToWire(OfFlowMonitorError e)
    {
        if (e == OfFlowMonitorError.BadTableId) return Ofp13Error.BadRequest(Ofp13Codes.BadTableId);
        if (e == OfFlowMonitorError.BadMatch) return Ofp13Error.BadMatch(Ofp13Codes.MatchBadField);
        return Ofp14FlowMonitor.Failed(e switch
        {
            OfFlowMonitorError.Exists => Ofp14FlowMonitor.MonitorExists,
            OfFlowMonitorError.Unknown => Ofp14FlowMonitor.UnknownMonitor,
            OfFlowMonitorError.BadOut => Ofp14FlowMonitor.BadOut,
            _ => Ofp14FlowMonitor.Unknown,
        });
    }

    /// <summary>
    /// The messages that carry <paramref name="updates"/> unasked (xid 0) in <paramref name="version"/>: one
    /// OFPMP_FLOW_MONITOR reply (in parts when long) under 1.4 and later; under 1.3 an ONFST_FLOW_MONITOR reply for the
    /// flow updates and ONFT_FLOW_MONITOR_PAUSED or RESUMED messages of their own, in order.
    /// </summary>
    public static List<byte[]> Encode(byte version, IReadOnlyList<OfFlowUpdate> updates)
    {
        var messages = new List<byte[]>();
        Action<byte[]> add = messages.Add;
        if (version >= Ofp13.Version14)
        {
            var reply = new Ofp13ReplyWriter(version, Ofp14FlowMonitor.MultipartType, 0, add);
            var entry = new Ofp14FlowUpdate();
            foreach (var u in updates) reply.Add(Fill(entry, u, version, onf: false));
            reply.Finish();
            return messages;
        }
        var run = new List<OfFlowUpdate>();
        foreach (var u in updates)
        {
            if (u.Event is not (OfFlowUpdateEvent.Paused or OfFlowUpdateEvent.Resumed))
            {
                run.Add(u);
                continue;
            }
            if (run.Count > 0) SendOnfReply(version, 0, run, add);
            run.Clear();
            messages.Add(Ofp14FlowMonitor.OnfMessage(version, 0, u.Event == OfFlowUpdateEvent.Paused ? Ofp14FlowMonitor.OnfPaused : Ofp14FlowMonitor.OnfResumed));
        }
        if (run.Count > 0) SendOnfReply(version, 0, run, add);
        return messages;
    }

    /// <summary>
    /// An ONFST_FLOW_MONITOR reply: OFPMP_EXPERIMENTER with ONF's experimenter and type 1870, then the updates, in parts
    /// of at most 65535 bytes with REPLY_MORE on all but the last.
    /// </summary>
    private static void SendOnfReply(byte version, uint xid, List<OfFlowUpdate> updates, Action<byte[]> send)
    {
        const int Header = Ofp13Multipart.HeaderSize + 8;
        var w = new Ofp13Writer(1024);
        var entry = new Ofp14FlowUpdate();
        void Begin()
        {
            w.Reset();
            w.Begin(version, Ofp13Type.MultipartReply, xid);
            w.U16((ushort)Ofp13MultipartType.Experimenter); w.U16(0); w.Zeros(4);
            w.U32(Ofp13Bundle.OnfExperimenter); w.U32(Ofp14FlowMonitor.OnfFlowMonitor);
        }
        Begin();
        foreach (var u in updates)
        {
            int at = w.Position;
            Fill(entry, u, version, onf: true).Write(w);
            if (w.Position <= ushort.MaxValue || at == Header) continue;
            var rest = w.Written[at..].ToArray();
            w.Truncate(at);
            w.Finish(0);
            w.PatchU16(10, Ofp13Multipart.More);
            send(w.ToArray());
            Begin();
            w.Bytes(rest);
        }
        w.Finish(0);
        send(w.ToArray());
    }

    /// <summary>Writes update <paramref name="u"/> into <paramref name="entry"/> (its match and, when it has them, instructions as flow statistics show them).</summary>
    internal static Ofp14FlowUpdate Fill(Ofp14FlowUpdate entry, OfFlowUpdate u, byte version, bool onf)
    {
        entry.Onf = onf;
        entry.Event = (ushort)u.Event;
        entry.Xid = u.Xid;
        entry.Match.Clear();
        entry.Instructions.Clear();
        if (u.Event > OfFlowUpdateEvent.Modified) return entry;
        entry.TableId = u.TableId;
        entry.Reason = u.Event == OfFlowUpdateEvent.Removed ? WireMap.FlowUpdateReason(u.Reason, version) : (byte)0;
        entry.IdleTimeout = u.IdleTimeout;
        entry.HardTimeout = u.HardTimeout;
        entry.Priority = u.Priority;
        entry.Cookie = u.Cookie;
        var stats = new Ofp13FlowStats();
        var oxm = new Ofp13Oxm[MatchTranslator.MaxEntries];
        var f = new OfFlowStats(u.Match, u.TableId, 0, u.Priority, u.IdleTimeout, u.HardTimeout, u.Cookie, 0, 0, u.Actions ?? [])
        {
            Instructions = u.Instructions,
        };
        ReportTranslator.FlowStats(f, stats, oxm);
        entry.Match.AddRange(stats.Match);
        // Open vSwitch sends a removal's instructions only when asked, as any other event's; none without INSTRUCTIONS.
        if (u.HasInstructions) entry.Instructions.AddRange(stats.Instructions);
        return entry;
    }

    private static Action<byte[]> Sender(OfConnection c) => part =>
    {
        c.WaitForRoom();
        c.SendRaw(part);
    };
}
