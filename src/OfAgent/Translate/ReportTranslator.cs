using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Translate;

/// <summary>
/// What the switch reports, as OpenFlow 1.0 structures: a port's description (ofp_phy_port), a flow's statistics
/// entry, a removed flow, a port's counters. The requests' direction (wire → datapath) is
/// <see cref="MatchTranslator"/>, <see cref="ActionTranslator"/> and <see cref="FlowModTranslator"/>.
/// </summary>
/// <remarks>
/// Design: stateless, pure functions over the datapath's and the table set's objects, read as they are at the call
/// (counters are read once, not locked); enums go through <see cref="WireMap"/>. Thread safe.
/// </remarks>
internal static class ReportTranslator
{
    private const long NanosPerSecond = 1_000_000_000;

    public static OfpPhyPort PhyPort(PortSlot p)
    {
        var info = p.Port.Info;
        return new OfpPhyPort
        {
            PortNo = WireMap.ToWirePort(p.No),
            HwAddr = new OfpMac(info.HwAddr.Value),
            Name = info.Name.Length >= OfpConstants.MaxPortNameSize ? info.Name[..(OfpConstants.MaxPortNameSize - 1)] : info.Name,
            Config = WireMap.ToWire(p.Config),
            State = WireMap.ToWire(p.State),
            Curr = WireMap.ToWire(info.Current),
            Advertised = WireMap.ToWire(info.Advertised),
            Supported = WireMap.ToWire(info.Supported),
            Peer = WireMap.ToWire(info.Peer),
        };
    }

    /// <summary>OFPT_FLOW_REMOVED for <paramref name="r"/>, or null when its flow did not ask for one (OFPFF_SEND_FLOW_REM).</summary>
    public static OfpFlowRemoved? FlowRemoved(in FlowRemoved r)
    {
        var e = r.Entry;
        if (OfFlowRule.Of(e) is not { SendFlowRemoved: true }) return null;
        long dur = Math.Max(0, r.DurationNanos);
        return new OfpFlowRemoved
        {
            Match = MatchTranslator.ToOfpMatch(e.Match),
            Cookie = OfFlowRule.CookieOf(e),
            Priority = e.RequestedPriority,
            Reason = WireMap.ToWire(r.Reason),
            DurationSec = (uint)(dur / NanosPerSecond),
            DurationNsec = (uint)(dur % NanosPerSecond),
            IdleTimeout = e.IdleTimeout,
            PacketCount = (ulong)r.Packets,
            ByteCount = (ulong)r.Bytes,
        };
    }

    /// <summary>A flow's ofp_flow_stats entry (table 0: the one table the switch reports), its duration up to <paramref name="nowNanos"/>.</summary>
    public static OfpFlowStats FlowStats(FlowEntry e, long nowNanos)
    {
        long dur = Math.Max(0, nowNanos - e.CreatedNanos);
        return new OfpFlowStats
        {
            TableId = 0,
            Match = MatchTranslator.ToOfpMatch(e.Match),
            DurationSec = (uint)(dur / NanosPerSecond),
            DurationNsec = (uint)(dur % NanosPerSecond),
            // The controller's priority, also for an exact flow (which still beats every wildcard flow, OF1.0 3.4).
            Priority = e.RequestedPriority,
            IdleTimeout = e.IdleTimeout,
            HardTimeout = e.HardTimeout,
            Cookie = OfFlowRule.CookieOf(e),
            PacketCount = (ulong)e.Packets,
            ByteCount = (ulong)e.Bytes,
            Actions = ActionTranslator.ToOfp(e.Actions),
        };
    }

    /// <summary>
    /// The OFPST_FLOW replies for <paramref name="flows"/>, written straight from the entries into
    /// <paramref name="writer"/> (no object per flow): each reply (the first count bytes of an array rented from the
    /// shared pool, now the callee's) is handed to <paramref name="send"/>, which returns false to stop (the peer went
    /// away). The bytes are those of <see cref="OfpStatsReplies.Flows"/> over
    /// <see cref="FlowStats"/> of each flow, reported in table <paramref name="tableId"/>. <paramref name="actionScratch"/>
    /// holds the widest action list (grown when needed).
    /// </summary>
    public static void FlowStatsReplies(uint xid, List<FlowEntry> flows, byte tableId, long nowNanos, OfpFlowStatsReplyWriter writer,
                                        ref OfpAction[] actionScratch, Func<byte[], int, bool> send)
    {
        writer.Begin(xid);
        foreach (var e in flows)
        {
            var actions = e.Actions;
            if (actionScratch.Length < actions.Count) actionScratch = new OfpAction[Math.Max(actions.Count, actionScratch.Length * 2)];
            int n = ActionTranslator.ToOfp(actions, actionScratch);
            long dur = Math.Max(0, nowNanos - e.CreatedNanos);
            var match = MatchTranslator.ToOfpMatch(e.Match);
            ulong cookie = OfFlowRule.CookieOf(e), packets = (ulong)e.Packets, bytes = (ulong)e.Bytes;
            var wire = actionScratch.AsSpan(0, n);
            // The controller's priority, also for an exact flow (which still beats every wildcard flow, OF1.0 3.4).
            if (writer.TryAdd(match, tableId, (uint)(dur / NanosPerSecond), (uint)(dur % NanosPerSecond), e.RequestedPriority,
                              e.IdleTimeout, e.HardTimeout, cookie, packets, bytes, wire))
            {
                continue;
            }
            if (!send(writer.Finish(more: true, out int count), count)) return;
            writer.Begin(xid);
            writer.TryAdd(match, tableId, (uint)(dur / NanosPerSecond), (uint)(dur % NanosPerSecond), e.RequestedPriority,
                          e.IdleTimeout, e.HardTimeout, cookie, packets, bytes, wire);
        }
        send(writer.Finish(more: false, out int last), last);
    }

    public static OfpPortStats PortStats(PortSlot p)
    {
        var s = p.Port.Counters.Snapshot();
        return new OfpPortStats
        {
            PortNo = WireMap.ToWirePort(p.No),
            RxPackets = (ulong)s.RxPackets,
            TxPackets = (ulong)s.TxPackets,
            RxBytes = (ulong)s.RxBytes,
            TxBytes = (ulong)s.TxBytes,
            RxDropped = (ulong)s.RxDropped,
            TxDropped = (ulong)s.TxDropped,
            RxErrors = (ulong)s.RxErrors,
            TxErrors = (ulong)s.TxErrors,
            RxFrameErr = (ulong)s.RxFrameErrors,
            RxOverErr = (ulong)s.RxOverErrors,
            RxCrcErr = (ulong)s.RxCrcErrors,
            Collisions = (ulong)s.Collisions,
        };
    }
}
