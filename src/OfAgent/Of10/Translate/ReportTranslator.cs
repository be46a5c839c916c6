using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// What the switch reports, as OpenFlow 1.0 structures: a port's description (ofp_phy_port), a flow's statistics
/// entry, a removed flow, a port's counters. The requests' direction is <see cref="MatchTranslator"/>,
/// <see cref="ActionTranslator"/> and <see cref="FlowModTranslator"/>.
/// </summary>
/// <remarks>
/// Design: stateless, pure functions over the OpenFlow layer's reports; enums go through <see cref="WireMap"/>. Thread safe.
/// </remarks>
internal static class ReportTranslator
{
    private const long NanosPerSecond = 1_000_000_000;

    public static OfpPhyPort PhyPort(OfPortDesc p) => new()
    {
        PortNo = WireMap.ToWirePort(p.PortNo),
        HwAddr = new OfpMac(p.HwAddr),
        Name = p.Name.Length >= OfpConstants.MaxPortNameSize ? p.Name[..(OfpConstants.MaxPortNameSize - 1)] : p.Name,
        Config = WireMap.ToWire(p.Config),
        State = WireMap.ToWire(p.State),
        Curr = WireMap.ToWire(p.Current),
        Advertised = WireMap.ToWire(p.Advertised),
        Supported = WireMap.ToWire(p.Supported),
        Peer = WireMap.ToWire(p.Peer),
    };

    /// <summary>OFPT_FLOW_REMOVED for <paramref name="r"/>.</summary>
    public static OfpFlowRemoved FlowRemoved(in OfFlowRemoved r) => new()
    {
        Match = MatchTranslator.ToOfpMatch(r.Match),
        Cookie = r.Cookie,
        Priority = r.Priority,
        Reason = WireMap.ToWire(r.Reason),
        DurationSec = (uint)(r.DurationNanos / NanosPerSecond),
        DurationNsec = (uint)(r.DurationNanos % NanosPerSecond),
        IdleTimeout = r.IdleTimeout,
        PacketCount = r.PacketCount,
        ByteCount = r.ByteCount,
    };

    /// <summary>A flow's ofp_flow_stats entry.</summary>
    public static OfpFlowStats FlowStats(in OfFlowStats f) => new()
    {
        TableId = f.TableId,
        Match = MatchTranslator.ToOfpMatch(f.Match),
        DurationSec = (uint)(f.DurationNanos / NanosPerSecond),
        DurationNsec = (uint)(f.DurationNanos % NanosPerSecond),
        Priority = f.Priority,
        IdleTimeout = f.IdleTimeout,
        HardTimeout = f.HardTimeout,
        Cookie = f.Cookie,
        PacketCount = f.PacketCount,
        ByteCount = f.ByteCount,
        Actions = WithGoto(ActionTranslator.ToOfp(f.Actions), f.Instructions),
    };

    /// <summary>
    /// The bytes of the ofp_flow_stats entry a flow of <paramref name="ins"/> reads back as: its apply-actions, and a goto-table
    /// as a resubmit (actions OpenFlow 1.0 has no form for take none).
    /// </summary>
    public static int FlowStatsSize(in OfInstructions ins)
    {
        int size = OfpFlowStats.MinSize;
        var actions = ins.ApplyActions.Span;
        for (int i = 0; i < actions.Length; i++)
        {
            int k = ActionTranslator.ToOfp(actions, ref i, out var first, out var second);
            if (k > 0) size += first.EncodedSize;
            if (k > 1) size += second.EncodedSize;
        }
        return ins.GotoTable is { } table ? size + s_resubmit[table].EncodedSize : size;
    }

    // An OpenFlow 1.3 flow's goto-table, in OpenFlow 1.0: Nicira's resubmit to that table (as Open vSwitch shows it),
    // one prebuilt action per table so a dump makes no object per flow.
    private static readonly OfpAction[] s_resubmit = [.. Enumerable.Range(0, 256).Select(t => OfpAction.NxResubmitTable((byte)t))];

    /// <summary>A flow's actions as OpenFlow 1.0's (a flow monitor's update): its apply-actions, a goto-table as a resubmit.</summary>
    public static OfpAction[] ActionsOf(OfAction[] actions, OfFlowInstructions? instructions) => [.. WithGoto(ActionTranslator.ToOfp(actions), instructions)];

    private static List<OfpAction> WithGoto(List<OfpAction> actions, OfFlowInstructions? instructions)
    {
        if (instructions?.GotoTable is { } table) actions.Add(s_resubmit[table]);
        return actions;
    }

    /// <summary>
    /// Adds <paramref name="f"/> to the OFPST_FLOW reply being written (no object per flow): when it does not fit, the
    /// reply so far (the first count bytes of an array rented from the shared pool, now the callee's) is handed to
    /// <paramref name="send"/> with the MORE flag and a new one begun. Returns false when <paramref name="send"/> did
    /// (the peer went away). <paramref name="actionScratch"/> holds the widest action list (grown when needed).
    /// </summary>
    public static bool AddFlowStats(uint xid, in OfFlowStats f, OfpFlowStatsReplyWriter writer, ref OfpAction[] actionScratch,
                                    Func<byte[], int, bool> send)
    {
        int widest = ActionTranslator.MaxWirePerAction * f.Actions.Length + 1;
        if (actionScratch.Length < widest) actionScratch = new OfpAction[Math.Max(widest, actionScratch.Length * 2)];
        int n = ActionTranslator.ToOfp(f.Actions, actionScratch);
        if (f.Instructions?.GotoTable is { } table) actionScratch[n++] = s_resubmit[table];
        var match = MatchTranslator.ToOfpMatch(f.Match);
        var wire = actionScratch.AsSpan(0, n);
        uint sec = (uint)(f.DurationNanos / NanosPerSecond), nsec = (uint)(f.DurationNanos % NanosPerSecond);
        if (writer.TryAdd(match, f.TableId, sec, nsec, f.Priority, f.IdleTimeout, f.HardTimeout, f.Cookie, f.PacketCount, f.ByteCount, wire))
            return true;
        if (!send(writer.Finish(more: true, out int count), count)) return false;
        writer.Begin(xid);
        writer.TryAdd(match, f.TableId, sec, nsec, f.Priority, f.IdleTimeout, f.HardTimeout, f.Cookie, f.PacketCount, f.ByteCount, wire);
        return true;
    }

    /// <summary>NXT_FLOW_REMOVED for <paramref name="r"/> (a connection in the NXM flow format), whole.</summary>
    public static byte[] NxFlowRemoved(in OfFlowRemoved r)
    {
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[NxmMatchTranslator.MaxEntries];
        int n = NxmMatchTranslator.ToNxm(r.Match, match);
        return Nx10.EncodeFlowRemoved(r.Cookie, r.Priority, (byte)WireMap.ToWire(r.Reason), r.TableId, (uint)(r.DurationNanos / NanosPerSecond),
                                      (uint)(r.DurationNanos % NanosPerSecond), r.IdleTimeout, r.PacketCount, r.ByteCount, match[..n]);
    }

    /// <summary>
    /// Adds <paramref name="f"/> to the NXST_FLOW reply being written, as <see cref="AddFlowStats"/> does to an
    /// OFPST_FLOW reply: the match in NXM, the actions (and a goto-table as a resubmit) in OpenFlow 1.0's form.
    /// </summary>
    public static bool AddNxFlowStats(uint xid, in OfFlowStats f, NxFlowStatsReplyWriter writer, ref OfpAction[] actionScratch,
                                      Func<byte[], int, bool> send)
    {
        int widest = ActionTranslator.MaxWirePerAction * f.Actions.Length + 1;
        if (actionScratch.Length < widest) actionScratch = new OfpAction[Math.Max(widest, actionScratch.Length * 2)];
        int n = ActionTranslator.ToOfp(f.Actions, actionScratch);
        if (f.Instructions?.GotoTable is { } table) actionScratch[n++] = s_resubmit[table];
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[NxmMatchTranslator.MaxEntries];
        int m = NxmMatchTranslator.ToNxm(f.Match, match);
        var wire = actionScratch.AsSpan(0, n);
        uint sec = (uint)(f.DurationNanos / NanosPerSecond), nsec = (uint)(f.DurationNanos % NanosPerSecond);
        if (writer.TryAdd(f.TableId, sec, nsec, f.Priority, f.IdleTimeout, f.HardTimeout, f.Cookie, f.PacketCount, f.ByteCount, match[..m], wire))
            return true;
        if (!send(writer.Finish(more: true, out int count), count)) return false;
        writer.Begin(xid);
        writer.TryAdd(f.TableId, sec, nsec, f.Priority, f.IdleTimeout, f.HardTimeout, f.Cookie, f.PacketCount, f.ByteCount, match[..m], wire);
        return true;
    }

    public static OfpPortStats PortStats(in OfPortStats s) => new()
    {
        PortNo = WireMap.ToWirePort(s.PortNo),
        RxPackets = s.RxPackets,
        TxPackets = s.TxPackets,
        RxBytes = s.RxBytes,
        TxBytes = s.TxBytes,
        RxDropped = s.RxDropped,
        TxDropped = s.TxDropped,
        RxErrors = s.RxErrors,
        TxErrors = s.TxErrors,
        RxFrameErr = s.RxFrameErrors,
        RxOverErr = s.RxOverErrors,
        RxCrcErr = s.RxCrcErrors,
        Collisions = s.Collisions,
    };
}
