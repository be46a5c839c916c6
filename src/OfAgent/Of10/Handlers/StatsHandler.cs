using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Handlers;

/// <summary>
/// OFPT_STATS_REQUEST in OpenFlow 1.0: description, flow, aggregate, table, port, queue and port-description (Open
/// vSwitch's extension) statistics (ovs
/// ofproto/ofproto.c handle_desc_stats_request, handle_flow_stats_request, ...).
/// </summary>
/// <remarks>
/// Design: decode, ask the switch (<see cref="OfSwitch"/>: which flows a request selects, the counters), hand the
/// entries to the wire layer, which splits them into replies (<see cref="OfpStatsReplies"/>: the sizes are the
/// codec's). Long answers are streams: each reply is sent only once the replies queued to the connection have drained
/// below its reply limit (<see cref="OfConnection.WaitForRoom"/>, <see cref="AgentOptions.ReplyQueueLimit"/>), so a
/// million-flow dump is paced by the reader and never queued whole; the wait gives up when the connection closes (a
/// peer that stops reading is closed by the keepalive), which ends the dump and the request's hold of the reclamation
/// domain. Flow stats are written straight from the switch's per-flow view into pooled reply arrays (no object per
/// flow, no array per reply in steady state). Stateless otherwise; runs on any connection's receive loop (inside the
/// request's hold of the tables' reclamation domain), concurrently with the others; takes no lock of its own.
/// </remarks>
internal sealed class StatsHandler(OfRequestContext ctx)
{
    /// <summary>The statistics requests <see cref="Handle"/> answers (its switch's cases; a test holds each wire value to it).</summary>
    private static readonly OfpStatsType[] s_answered =
        [OfpStatsType.Desc, OfpStatsType.Flow, OfpStatsType.Aggregate, OfpStatsType.Table, OfpStatsType.Port, OfpStatsType.Queue, OfpStatsType.PortDesc];

    /// <summary>Whether a statistics request of type <paramref name="t"/> is answered (not refused).</summary>
    public static bool Answers(OfpStatsType t) => Array.IndexOf(s_answered, t) >= 0;

    [ThreadStatic] private static OfpFlowStatsReplyWriter? s_writer;
    [ThreadStatic] private static OfpAction[]? s_wireActions;
    [ThreadStatic] private static List<OfPortStats>? s_ports;

    public void Handle(OfConnection c, OfpStatsRequest sr, byte[] msg)
    {
        switch (sr)
        {
            case OfpDescStatsRequest:
            {
                var d = ctx.Switch.Description;
                c.Send(new OfpDescStatsReply
                {
                    Xid = sr.Xid,
                    MfrDesc = d.Manufacturer,
                    HwDesc = d.Hardware,
                    SwDesc = d.Software,
                    SerialNum = d.SerialNumber,
                    DpDesc = d.Datapath,
                });
                break;
            }
            case OfpFlowStatsRequest fr:
                FlowStats(c, fr, msg);
                break;
            case OfpAggregateStatsRequest ar:
            {
                if (!ctx.Check(c, ctx.Switch.Aggregate(Request(ar), out var a), msg)) break;
                c.Send(new OfpAggregateStatsReply { Xid = sr.Xid, PacketCount = a.PacketCount, ByteCount = a.ByteCount, FlowCount = a.FlowCount });
                break;
            }
            case OfpTableStatsRequest:
                c.Send(TableStats(sr.Xid));
                break;
            case OfpPortStatsRequest pr:
                PortStats(c, pr);
                break;
            case OfpQueueStatsRequest qr:
                QueueStats(c, qr, msg);
                break;
            case OfpPortDescStatsRequest pd:
            {
                // Open vSwitch's OpenFlow 1.0 extension (ovs-ofctl dump-ports-desc): the features reply's ports.
                var ports = new List<OfpPhyPort>();
                foreach (var p in ctx.Switch.PortDescriptions())
                    if (pd.PortNo == (ushort)OfpPort.None || WireMap.ToOfPort(pd.PortNo) == p.PortNo) ports.Add(ReportTranslator.PhyPort(p));
                foreach (var reply in OfpStatsReplies.PortDescs(pd.Xid, ports)) c.Send(reply);
                break;
            }
            default:
                // OFPST_VENDOR: no vendor statistics are supported.
                ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadVendor), msg);
                break;
        }
    }

    /// <summary>A flow or aggregate request as the switch's: OpenFlow 1.0's match rules, table 0xff every table, 0xfe the emergency flows.</summary>
    private static FlowStatsRequest Request(OfpFlowStatsRequestBase req)
        => new(MatchTranslator.ToOfMatch(req.Match), req.TableId, WireMap.ToOfPort(req.OutPort), Rules: MatchRules.OpenFlow10);

    private void FlowStats(OfConnection c, OfpFlowStatsRequest req, byte[] msg)
    {
        var writer = s_writer ??= new OfpFlowStatsReplyWriter(OfConnection.MessagePool);
        var actions = s_wireActions ??= new OfpAction[16];
        Func<byte[], int, bool> send = c.SendPooledWhenRoom;
        bool open = true;
        writer.Begin(req.Xid);
        try
        {
            var refused = ctx.Switch.VisitFlows(Request(req), (in OfFlowStats f) => open = ReportTranslator.AddFlowStats(req.Xid, f, writer, ref actions, send));
            if (!ctx.Check(c, refused, msg)) OfConnection.MessagePool.Return(writer.Finish(more: false, out _));
            else if (open) send(writer.Finish(more: false, out int last), last);
        }
        finally
        {
            s_wireActions = actions;
        }
    }

    /// <summary>OFPST_TABLE: one entry per table of the switch's model, every OF1.0 field wildcardable.</summary>
    private OfpTableStatsReply TableStats(uint xid)
    {
        var reply = new OfpTableStatsReply { Xid = xid };
        foreach (var table in ctx.Switch.Tables)
        {
            var st = ctx.Switch.TableStats(table.Id);
            reply.Tables.Add(new OfpTableStats
            {
                TableId = st.TableId,
                Name = st.Name,
                Wildcards = OfpFlowWildcards.All,
                MaxEntries = (uint)st.MaxEntries,
                ActiveCount = (uint)st.ActiveCount,
                LookupCount = (ulong)st.LookupCount,
                MatchedCount = (ulong)st.MatchedCount,
            });
        }
        return reply;
    }

    /// <summary>
    /// OFPST_PORT, written straight into pooled replies (a monitoring poll asks every few seconds): no message object. The
    /// split is <see cref="OfpStatsReplies.Ports"/>'s: entries while they fit, OFPSF_REPLY_MORE on all but the last, one
    /// empty reply when nothing matches.
    /// </summary>
    private void PortStats(OfConnection c, OfpPortStatsRequest pr)
    {
        const int perReply = OfpStatsReplies.MaxEntriesSize / OfpPortStats.Size;
        var ports = s_ports ??= new List<OfPortStats>();
        ports.Clear();
        ctx.Switch.PortStats(WireMap.ToOfPort(pr.PortNo), ports);
        byte[]? reply = null;
        int entries = 0;
        foreach (var p in ports)
        {
            if (entries == perReply) Send(more: true);
            reply ??= OfConnection.MessagePool.Rent(OfpStatsReply.HeaderSize + perReply * OfpPortStats.Size);
            ReportTranslator.PortStats(p).Write(reply.AsSpan(OfpStatsReply.HeaderSize + entries * OfpPortStats.Size));
            entries++;
        }
        ports.Clear();
        Send(more: false);

        void Send(bool more)
        {
            reply ??= OfConnection.MessagePool.Rent(OfpStatsReply.HeaderSize);
            int length = OfpStatsReply.HeaderSize + entries * OfpPortStats.Size;
            OfpStatsReply.WriteHeader(reply, OfpStatsType.Port, more, length, pr.Xid);
            c.SendPooled(reply, length);
            reply = null;
            entries = 0;
        }
    }

    private void QueueStats(OfConnection c, OfpQueueStatsRequest qr, byte[] msg)
    {
        var list = new List<OfQueueStats>();
        // OpenFlow 1.0 names every port OFPP_ALL here.
        uint port = qr.PortNo == (ushort)OfpPort.All ? OfPort.Any : WireMap.ToOfPort(qr.PortNo);
        if (!ctx.Check(c, ctx.Switch.QueueStats(port, qr.QueueId, list), msg)) return;
        var wire = new List<OfpQueueStats>(list.Count);
        foreach (var q in list)
            wire.Add(new OfpQueueStats { PortNo = WireMap.ToWirePort(q.PortNo), QueueId = q.QueueId, TxPackets = q.TxPackets, TxBytes = q.TxBytes, TxErrors = q.TxErrors });
        foreach (var reply in OfpStatsReplies.Queues(qr.Xid, wire)) c.Send(reply);
    }
}
