using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>Stats replies split by the codec: each message fits the 16-bit length, REPLY_MORE on all but the last.</summary>
public class StatsRepliesTests
{
    [Fact]
    public void AnEmptyAnswerIsOneEmptyReply()
    {
        var replies = OfpStatsReplies.Ports(7, []).ToList();
        var r = Assert.Single(replies);
        Assert.Empty(r.Ports);
        Assert.Equal(OfpStatsReplyFlags.None, r.Flags);
        Assert.Equal(7u, r.Xid);
    }

    [Theory]
    [InlineData(630, 1)]   // 630 × 104 = 65520 ≤ 65535 − 12
    [InlineData(631, 2)]
    [InlineData(2000, 4)]
    public void PortStatsFillEachReplyUpToTheLengthLimit(int ports, int expectedReplies)
    {
        var all = Enumerable.Range(1, ports).Select(i => new OfpPortStats { PortNo = (ushort)i }).ToList();
        var replies = OfpStatsReplies.Ports(1, all).ToList();
        Assert.Equal(expectedReplies, replies.Count);
        Assert.Equal(all.Select(p => p.PortNo), replies.SelectMany(r => r.Ports).Select(p => p.PortNo));
        for (int i = 0; i < replies.Count; i++)
        {
            Assert.Equal(i < replies.Count - 1 ? OfpStatsReplyFlags.ReplyMore : OfpStatsReplyFlags.None, replies[i].Flags);
            Assert.True(replies[i].ToArray().Length <= OfpConstants.MaxMessageSize);
            if (i < replies.Count - 1) Assert.Equal(630, replies[i].Ports.Count);
        }
    }

    [Fact]
    public void QueueStatsSplitAt2047Entries()
    {
        var all = Enumerable.Range(0, 2048).Select(i => new OfpQueueStats { PortNo = 1, QueueId = (uint)i }).ToList();
        var replies = OfpStatsReplies.Queues(1, all).ToList();
        Assert.Equal([2047, 1], replies.Select(r => r.Queues.Count));
        Assert.Equal(OfpStatsReplyFlags.ReplyMore, replies[0].Flags);
        Assert.Equal(OfpStatsReply.HeaderSize + 2047 * OfpQueueStats.Size, replies[0].ToArray().Length); // 65516
    }

    [Fact]
    public void FlowStatsOfMixedSizesNeverOverflowAReplyAndKeepTheirOrder()
    {
        var rng = new Random(11);
        var flows = Enumerable.Range(0, 5000).Select(i => new OfpFlowStats
        {
            Cookie = (ulong)i,
            Actions = Enumerable.Range(0, rng.Next(0, 40)).Select(_ => OfpAction.SetDlSrc(new OfpMac(0x0200_0000_0001UL))).ToList(),
        }).ToList();
        var replies = OfpStatsReplies.Flows(3, flows).ToList();
        Assert.True(replies.Count > 1);
        Assert.Equal(flows.Select(f => f.Cookie), replies.SelectMany(r => r.Flows).Select(f => f.Cookie));
        foreach (var r in replies)
        {
            int size = r.ToArray().Length;
            Assert.True(size <= OfpConstants.MaxMessageSize, $"reply of {size} bytes");
            Assert.Equal(3u, r.Xid);
        }
        // Full replies: the next flow would not have fit.
        for (int i = 0; i < replies.Count - 1; i++)
        {
            Assert.Equal(OfpStatsReplyFlags.ReplyMore, replies[i].Flags);
            int next = replies[i + 1].Flows[0].EncodedSize;
            Assert.True(replies[i].ToArray().Length + next > OfpConstants.MaxMessageSize);
        }
        Assert.Equal(OfpStatsReplyFlags.None, replies[^1].Flags);
    }

    [Fact]
    public void RepliesAreBuiltLazily()
    {
        int built = 0;
        var flows = Enumerable.Range(0, 100_000).Select(i => { built++; return new OfpFlowStats { Cookie = (ulong)i }; });
        using var e = OfpStatsReplies.Flows(1, flows).GetEnumerator();
        Assert.True(e.MoveNext());
        // 65523 / 88 = 744 entries fit; the 745th was read to learn that the first reply was full.
        Assert.Equal(744, e.Current.Flows.Count);
        Assert.Equal(745, built);
    }

    [Fact]
    public void AFlowEntryFitsWhileItsActionsLeaveRoomForTheHeaders()
    {
        // 65535 − 12 − 88 = 65435 bytes of actions at most; SET_DL_SRC is 16 bytes, OUTPUT 8.
        var actions = Enumerable.Range(0, 4089).Select(_ => OfpAction.SetDlSrc(default)).ToList();   // 65424
        actions.Add(OfpAction.Output(1));                                                           // 65432
        Assert.True(OfpStatsReplies.FlowEntryFits(actions));
        actions.Add(OfpAction.Output(1));                                                           // 65440
        Assert.False(OfpStatsReplies.FlowEntryFits(actions));
    }
}
