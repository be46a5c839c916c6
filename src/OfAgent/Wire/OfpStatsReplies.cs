namespace Softswitch.OfAgent.Wire;

/// <summary>
/// Splits a statistics answer into OFPT_STATS_REPLY messages that each fit the 16-bit ofp_header length, with
/// OFPSF_REPLY_MORE on all but the last (OpenFlow 1.0 section 5.3.5).
/// </summary>
/// <remarks>
/// <code>
///   ofp_header (8) | type (2) | flags (2) | entries ... ≤ 65535 − 12 bytes
/// </code>
/// Design: the codec owns the sizes (the stats reply header, each entry's encoded size); the agent only supplies the
/// entries and sends what it gets. The sequences are lazy: a reply is built when the previous one has been taken, so a
/// sender that waits for room between replies never holds more than one reply's entries (a million-flow dump is paced
/// by the reader). An empty answer is one empty reply. Stateless; each sequence is for one thread.
/// </remarks>
public static class OfpStatsReplies
{
    /// <summary>Bytes of entries one stats reply can carry.</summary>
    public const int MaxEntriesSize = OfpConstants.MaxMessageSize - OfpStatsReply.HeaderSize;

    /// <summary>Whether a flow with these actions has a flow stats entry that fits in a reply at all.</summary>
    public static bool FlowEntryFits(List<OfpAction> actions)
        => OfpFlowStats.MinSize + OfpActions.GetEncodedSize(actions) <= MaxEntriesSize;

    public static IEnumerable<OfpFlowStatsReply> Flows(uint xid, IEnumerable<OfpFlowStats> flows)
        => Split(flows, static f => f.EncodedSize, chunk => new OfpFlowStatsReply { Xid = xid, Flows = chunk });

    public static IEnumerable<OfpPortStatsReply> Ports(uint xid, IEnumerable<OfpPortStats> ports)
        => Split(ports, static _ => OfpPortStats.Size, chunk => new OfpPortStatsReply { Xid = xid, Ports = chunk });

    public static IEnumerable<OfpQueueStatsReply> Queues(uint xid, IEnumerable<OfpQueueStats> queues)
        => Split(queues, static _ => OfpQueueStats.Size, chunk => new OfpQueueStatsReply { Xid = xid, Queues = chunk });

    private static IEnumerable<TReply> Split<TEntry, TReply>(IEnumerable<TEntry> entries, Func<TEntry, int> sizeOf,
                                                              Func<List<TEntry>, TReply> make)
        where TReply : OfpStatsReply
    {
        var chunk = new List<TEntry>();
        int size = 0;
        foreach (var entry in entries)
        {
            int entrySize = sizeOf(entry);
            if (size + entrySize > MaxEntriesSize && chunk.Count > 0)
            {
                var more = make(chunk);
                more.Flags |= OfpStatsReplyFlags.ReplyMore;
                yield return more;
                chunk = new List<TEntry>();
                size = 0;
            }
            chunk.Add(entry);
            size += entrySize;
        }
        yield return make(chunk);
    }
}
