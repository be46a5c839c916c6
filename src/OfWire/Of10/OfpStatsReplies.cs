using System.Buffers;

namespace Softswitch.OfWire.Of10;

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

    public static IEnumerable<OfpPortDescStatsReply> PortDescs(uint xid, IEnumerable<OfpPhyPort> ports)
        => Split(ports, static _ => OfpPhyPort.Size, chunk => new OfpPortDescStatsReply { Xid = xid, Ports = chunk });

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

/// <summary>
/// Builds OFPT_STATS_REPLY (OFPST_FLOW) messages entry by entry from plain fields, each into an array rented from
/// its pool (<see cref="ArrayPool{T}.Shared"/> unless given one): no object per entry, no array per reply in steady state. The bytes are those <see cref="OfpStatsReplies.Flows"/> gives for the same entries (the same
/// split: a reply takes entries while they fit in <see cref="OfpStatsReplies.MaxEntriesSize"/>).
/// </summary>
/// <remarks>
/// Use: <see cref="Begin"/>, then <see cref="TryAdd"/> per entry; when it returns false the reply is full:
/// <see cref="Finish"/> it with <c>more: true</c>, send it, <see cref="Begin"/> again and add the entry there. End with
/// <see cref="Finish"/>(<c>more: false</c>), also for no entry at all (one empty reply). <see cref="Finish"/> hands the
/// rented array over (the caller sends it and returns it to the pool). Not thread safe: one per thread.
/// </remarks>
public sealed class OfpFlowStatsReplyWriter(ArrayPool<byte>? pool = null)
{
    private readonly ArrayPool<byte> _pool = pool ?? ArrayPool<byte>.Shared;
    private byte[]? _buffer;
    private int _used;
    private int _entries;
    private uint _xid;

    /// <summary>Entries in the reply being built.</summary>
    public int EntryCount => _entries;

    /// <summary>Starts a reply with this xid.</summary>
    public void Begin(uint xid)
    {
        _xid = xid;
        _used = OfpStatsReply.HeaderSize;
        _entries = 0;
        _buffer ??= _pool.Rent(OfpConstants.MaxMessageSize);
    }

    /// <summary>
    /// Appends one entry (see <see cref="OfpFlowStats"/> for the fields); false, with nothing written, when it does not
    /// fit in this reply and the reply has entries already. Throws when one entry alone cannot fit any reply.
    /// </summary>
    public bool TryAdd(in OfpMatch match, byte tableId, uint durationSec, uint durationNsec, ushort priority, ushort idleTimeout,
                       ushort hardTimeout, ulong cookie, ulong packetCount, ulong byteCount, ReadOnlySpan<OfpAction> actions)
    {
        int actionsSize = 0;
        foreach (var a in actions) actionsSize += a.EncodedSize;
        int size = OfpFlowStats.MinSize + actionsSize;
        if (_buffer is null) throw new InvalidOperationException("TryAdd before Begin");
        if (_used + size > OfpConstants.MaxMessageSize)
        {
            if (_entries > 0) return false;
            ThrowHelper.ThrowMessageTooLarge(OfpStatsReply.HeaderSize + size);
        }
        OfpFlowStats.Write(_buffer.AsSpan(_used, size), tableId, match, durationSec, durationNsec, priority, idleTimeout, hardTimeout,
            cookie, packetCount, byteCount, actions);
        _used += size;
        _entries++;
        return true;
    }

    /// <summary>
    /// The reply built since <see cref="Begin"/> (OFPSF_REPLY_MORE when <paramref name="more"/>): its first
    /// <paramref name="count"/> bytes of an array rented from the writer's pool, now the caller's.
    /// </summary>
    public byte[] Finish(bool more, out int count)
    {
        var b = _buffer ?? throw new InvalidOperationException("Finish before Begin");
        OfpStatsReply.WriteHeader(b, OfpStatsType.Flow, more, _used, _xid);
        _buffer = null;
        count = _used;
        return b;
    }
}
