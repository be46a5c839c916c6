using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The single-table forwarding path answers a hash-stage hit from its record: it counts there, not in the entry, and the
/// rule's counts, last-used time and removal report read the record's.
/// </summary>
public sealed class ExactRecordForwardingTests
{
    private static byte[][] Frames(int n)
    {
        var frames = new byte[n][];
        for (int i = 0; i < n; i++) frames[i] = Udp(H1, H2, "10.0.0.1", $"10.0.2.{i}", (ushort)(2000 + i));
        return frames;
    }

    [Fact]
    public void HashStageHits_CountInTheirRecords_AndTheRulesReadThem()
    {
        using var r = new DatapathRig(options: new DatapathOptions { EmcEntries = 0 });
        var frames = Frames(16);
        var rules = new FlowEntry[frames.Length];
        for (int i = 0; i < frames.Length; i++)
            rules[i] = r.Insert(0, MatchOf(frames[i], 1, OfWildcards.None), ushort.MaxValue, [FlowAction.Output(2)]);
        r.Clock.AdvanceNanos(5_000_000_000);
        foreach (var p in r.Ports) p.CaptureSent = false;
        r.Ports[0].SetGenerator(frames, 1600);
        Assert.Equal(1600, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(1600, r.Ports[1].Counters.TxPackets);
        for (int i = 0; i < rules.Length; i++)
        {
            var records = rules[i].RecordTable;
            Assert.NotNull(records);
            Assert.True(records!.ReadCounts(rules[i], out long p, out long b, out uint ms));
            Assert.Equal(100, p);
            Assert.Equal(100L * frames[i].Length, b);
            Assert.Equal(100, rules[i].Packets);
            Assert.Equal(100L * frames[i].Length, rules[i].Bytes);
            Assert.Equal(r.Clock.NowNanos / 1_000_000 * 1_000_000, rules[i].LastUsedNanos);
        }
    }

    [Fact]
    public void ARemovedRule_KeepsEveryPacketItsRecordCounted()
    {
        using var r = new DatapathRig(options: new DatapathOptions { EmcEntries = 0 });
        var frames = Frames(4);
        var rules = new FlowEntry[frames.Length];
        for (int i = 0; i < frames.Length; i++)
            rules[i] = r.Insert(0, MatchOf(frames[i], 1, OfWildcards.None), ushort.MaxValue, [FlowAction.Output(2)]);
        foreach (var p in r.Ports) p.CaptureSent = false;
        r.Ports[0].SetGenerator(frames, 400);
        Assert.Equal(400, r.Dp.PollUntilIdle(100_000));
        var table = r.Dp.Pipeline.Table(0);
        var records = rules[0].RecordTable!;
        using (var w = table.Write()) Assert.True(w.Remove(rules[0]));
        r.Dp.FlowsRemoving([new FlowRemoved(rules[0], FlowRemovedReason.Delete, 0, 0, 0)]);
        Assert.False(records.ReadCounts(rules[0], out _, out _, out _));
        Assert.Equal(100, rules[0].Packets);
        Assert.Equal(100L * frames[0].Length, rules[0].Bytes);
        // The others still count in their records; a replacement starts from zero and the old rule keeps its own.
        var replacement = r.Insert(0, MatchOf(frames[1], 1, OfWildcards.None), ushort.MaxValue, [FlowAction.Output(3)]);
        Assert.True(rules[1].IsRemoved);
        Assert.Equal(100, rules[1].Packets);
        r.Ports[0].SetGenerator(frames, 400);
        Assert.Equal(400, r.Dp.PollUntilIdle(100_000));
        Assert.Equal(100, replacement.Packets);
        Assert.Equal(100, r.Ports[2].Counters.TxPackets);
        Assert.Equal(100, rules[1].Packets);
        Assert.Equal(200, rules[2].Packets);
        Assert.Equal(200, rules[3].Packets);
    }
}
