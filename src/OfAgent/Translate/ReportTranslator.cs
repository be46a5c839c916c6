using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfAgent.Wire;
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
