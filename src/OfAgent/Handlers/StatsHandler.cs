using Softswitch.Datapath.Flow;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Handlers;

/// <summary>
/// OFPT_STATS_REQUEST: description, flow, aggregate, table, port and queue statistics (ovs ofproto/ofproto.c
/// handle_desc_stats_request, handle_flow_stats_request, ...).
/// </summary>
/// <remarks>
/// Design: reads the table set and the datapath's counters and hands the entries to the wire layer, which splits them
/// into replies (<see cref="OfpStatsReplies"/>: the sizes are the codec's, none is known here). Long answers are
/// streams: each reply is built only once the replies queued to the connection have drained below its reply limit
/// (<see cref="OfConnection.WaitForRoom"/>, <see cref="AgentOptions.ReplyQueueLimit"/>), so a million-flow dump is
/// paced by the reader and never queued whole; the wait gives up when the connection closes (a peer that stops
/// reading is closed by the keepalive), which ends the dump and the request's hold of the reclamation domain.
/// Flow stats are written straight from the flows into pooled reply arrays (no object per flow, no array per reply in
/// steady state), and the flows are collected into a spare list the connections share: a periodic dump of a large
/// table allocates little.
/// Stateless otherwise; runs on any connection's receive loop (inside the request's hold of the tables' reclamation
/// domain, so the flows it reads stay what they are), concurrently with the others; takes no lock of its own.
/// May not change the table set, the datapath or a connection's settings.
/// </remarks>
internal sealed class StatsHandler(OfRequestContext ctx)
{
    /// <summary>A spare flow list shared by the connections (tools connect per command, so a list per thread would not last).</summary>
    private static List<FlowEntry>? s_spareFlows;
    [ThreadStatic] private static OfpFlowStatsReplyWriter? s_writer;
    [ThreadStatic] private static OfpAction[]? s_wireActions;

    public void Handle(OfConnection c, OfpStatsRequest sr, byte[] msg)
    {
        switch (sr)
        {
            case OfpDescStatsRequest:
                c.Send(new OfpDescStatsReply
                {
                    Xid = sr.Xid,
                    MfrDesc = "Softswitch project",
                    HwDesc = "Softswitch user-space datapath",
                    SwDesc = "Softswitch " + (typeof(OfSwitchAgent).Assembly.GetName().Version?.ToString(3) ?? "1.0.0"),
                    SerialNum = "None",
                    DpDesc = ctx.Options.DatapathDescription,
                });
                break;
            case OfpFlowStatsRequest fr:
                FlowStats(c, fr);
                break;
            case OfpAggregateStatsRequest ar:
            {
                var flows = CollectFlows(ar);
                ulong packets = 0, bytes = 0;
                foreach (var e in flows)
                {
                    packets += (ulong)e.Packets;
                    bytes += (ulong)e.Bytes;
                }
                c.Send(new OfpAggregateStatsReply { Xid = sr.Xid, PacketCount = packets, ByteCount = bytes, FlowCount = (uint)flows.Count });
                Release(flows);
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
            default:
                // OFPST_VENDOR: no vendor statistics are supported.
                ctx.SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadVendor), msg);
                break;
        }
    }

    /// <summary>
    /// The flows a request selects, in the spare list when it is free (given back with <see cref="Release"/>): a table of
    /// the model (<see cref="OfFlowTables.Tables"/>) or all of them (0xff) the normal flows, 0xfe (OF1.0's emergency
    /// table) the emergency flows, any other table none.
    /// </summary>
    private List<FlowEntry> CollectFlows(OfpFlowStatsRequestBase req)
    {
        var into = Interlocked.Exchange(ref s_spareFlows, null) ?? new List<FlowEntry>();
        bool emergency = req.TableId == OfpConstants.TableEmergency;
        if (!emergency && req.TableId != OfpConstants.TableAll && req.TableId >= ctx.Flows.TableCount) return into;
        var match = OfMatchRules.Normalize(MatchTranslator.ToFlowMatch(req.Match), MatchRules.OpenFlow10);
        ctx.Flows.Collect(match, WireMap.ToDatapathPort(req.OutPort), false, into, emergency);
        return into;
    }

    private void FlowStats(OfConnection c, OfpFlowStatsRequest req)
    {
        var flows = CollectFlows(req);
        var writer = s_writer ??= new OfpFlowStatsReplyWriter(OfConnection.MessagePool);
        var actions = s_wireActions ??= new OfpAction[16];
        try
        {
            byte tableId = req.TableId == OfpConstants.TableEmergency ? OfpConstants.TableEmergency : OfFlowTables.MainTableId;
            ReportTranslator.FlowStatsReplies(req.Xid, flows, tableId, ctx.Dp.Clock.NowNanos, writer, ref actions, (reply, count) =>
            {
                if (!c.WaitForRoom())
                {
                    OfConnection.MessagePool.Return(reply);
                    return false;
                }
                c.SendPooled(reply, count);
                return true;
            });
        }
        finally
        {
            s_wireActions = actions;
            Release(flows);
        }
    }

    private static void Release(List<FlowEntry> flows)
    {
        flows.Clear();
        Volatile.Write(ref s_spareFlows, flows);
    }

    /// <summary>OFPST_TABLE: one entry per table of the model (<see cref="OfFlowTables.Tables"/>), every OF1.0 field wildcardable.</summary>
    private OfpTableStatsReply TableStats(uint xid)
    {
        var reply = new OfpTableStatsReply { Xid = xid };
        foreach (var table in ctx.Flows.Tables)
        {
            var st = ctx.Flows.GetTableStats(table.Id);
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
    /// OFPST_PORT, written straight into pooled replies (a monitoring poll asks every few seconds): no entry list and no
    /// message object. The split is <see cref="OfpStatsReplies.Ports"/>'s: entries while they fit, OFPSF_REPLY_MORE on
    /// all but the last, one empty reply when nothing matches.
    /// </summary>
    private void PortStats(OfConnection c, OfpPortStatsRequest pr)
    {
        const int perReply = OfpStatsReplies.MaxEntriesSize / OfpPortStats.Size;
        var ports = ctx.Dp.Ports;
        byte[]? reply = null;
        int entries = 0;
        foreach (var p in ports.List)
            if (pr.PortNo == (ushort)OfpPort.None || pr.PortNo == WireMap.ToWirePort(p.No)) Add(ReportTranslator.PortStats(p));
        if (ports.Local is { } local && (pr.PortNo == (ushort)OfpPort.None || pr.PortNo == (ushort)OfpPort.Local)) Add(ReportTranslator.PortStats(local));
        Send(more: false);

        void Add(in OfpPortStats entry)
        {
            if (entries == perReply) Send(more: true);
            reply ??= OfConnection.MessagePool.Rent(OfpStatsReply.HeaderSize + perReply * OfpPortStats.Size);
            entry.Write(reply.AsSpan(OfpStatsReply.HeaderSize + entries * OfpPortStats.Size));
            entries++;
        }

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
        var list = new List<OfpQueueStats>();
        bool anyPort = qr.PortNo == (ushort)OfpPort.All;
        if (!anyPort && ctx.Dp.Ports.Get(WireMap.ToDatapathPort(qr.PortNo)) is null)
        {
            ctx.SendError(c, OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadPort), msg);
            return;
        }
        // Every port's queues, the local port's included (ENQUEUE reaches it like any port).
        foreach (var p in ctx.Dp.Ports.WithLocal)
        {
            if (!anyPort && WireMap.ToWirePort(p.No) != qr.PortNo) continue;
            if (qr.QueueId != OfpConstants.QueueAll && qr.QueueId >= (uint)p.Queues.Length)
            {
                ctx.SendError(c, OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadQueue), msg);
                return;
            }
            for (uint q = 0; q < (uint)p.Queues.Length; q++)
            {
                if (qr.QueueId != OfpConstants.QueueAll && q != qr.QueueId) continue;
                var qc = p.Queues[q];
                list.Add(new OfpQueueStats
                {
                    PortNo = WireMap.ToWirePort(p.No),
                    QueueId = q,
                    TxPackets = (ulong)Interlocked.Read(ref qc.TxPackets),
                    TxBytes = (ulong)Interlocked.Read(ref qc.TxBytes),
                    TxErrors = (ulong)Interlocked.Read(ref qc.TxErrors),
                });
            }
        }
        foreach (var reply in OfpStatsReplies.Queues(qr.Xid, list)) c.Send(reply);
    }
}
