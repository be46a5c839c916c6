using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

public class ActionExecutorTests
{
    private static byte[][] ThirtyTwoFrames()
    {
        var frames = new byte[32][];
        string[] kinds = ["tcp", "udp", "vlan-tcp", "icmp", "udp-nocsum", "ipopts-udp", "arp-request", "later-frag-tcp"];
        for (int i = 0; i < frames.Length; i++) frames[i] = ActionRewriteTests.Frame(kinds[i % kinds.Length]);
        return frames;
    }

    [Fact]
    public void OutputsCallSinkOncePerBatchWithModifiedAfter()
    {
        var b = new Batch(ThirtyTwoFrames());
        var actions = new FlowActions(
        [
            FlowAction.Output(1),
            FlowAction.SetTunnel(0xABCD),
            FlowAction.Output(PortNumber.Controller, 128),
            FlowAction.SetNwSrc(0x01020304),
            FlowAction.Enqueue(3, 7),
            FlowAction.SetTunnel(0x1234),
            FlowAction.Output(4),
        ]);
        var sink = new RecordingSink();
        b.Run(actions, ref sink);
        Assert.Equal(4, sink.Outputs.Count);
        Assert.Equal((ushort)1, sink.Outputs[0].Port);
        Assert.Equal(ActionExecutor.NoQueue, sink.Outputs[0].Queue);
        Assert.True(sink.Outputs[0].ModifiedAfter);
        Assert.Equal(0UL, sink.Outputs[0].Tunnel);
        Assert.Equal((PortNumber.Controller, (ushort)128, true, 0xABCDUL), (sink.Outputs[1].Port, sink.Outputs[1].MaxLen, sink.Outputs[1].ModifiedAfter, sink.Outputs[1].Tunnel));
        Assert.Equal(((ushort)3, 7u, false), (sink.Outputs[2].Port, sink.Outputs[2].Queue, sink.Outputs[2].ModifiedAfter));
        Assert.Equal(((ushort)4, false, 0x1234UL), (sink.Outputs[3].Port, sink.Outputs[3].ModifiedAfter, sink.Outputs[3].Tunnel));
        foreach (var o in sink.Outputs) Assert.Equal(b.Pkts, o.Pkts);
    }

    /// <summary>A sink that snapshots the frames at output time, to prove each action ran on the whole batch first.</summary>
    private struct SnapshotSink : IActionSink
    {
        public PacketPool Pool;
        public List<byte[][]> Seen;

        public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            var s = new byte[pkts.Length][];
            for (int i = 0; i < pkts.Length; i++) s[i] = Pool.Frame(pkts[i]).ToArray();
            Seen.Add(s);
        }

        public void SetTunnel(ulong tunnelId) { }

        public void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) { }

        public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
            => Output(Softswitch.Datapath.Ports.PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
    }

    [Fact]
    public void OutputSeesRewritesOfEarlierActionsOnly()
    {
        var frames = ThirtyTwoFrames();
        var b = new Batch(frames);
        var sink = new SnapshotSink { Pool = b.Pool, Seen = [] };
        var actions = new FlowActions([FlowAction.Output(1), FlowAction.SetDlDst(new MacAddress(0x0200_0000_00FF)), FlowAction.Output(2)]);
        new ActionExecutor().Execute(actions, b.Pool, b.Pkts, b.Layers, ref sink);
        Assert.Equal(2, sink.Seen.Count);
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.Equal(frames[i], sink.Seen[0][i]);
            Assert.Equal(0xFF, sink.Seen[1][i][5]);
        }
    }

    [Fact]
    public void DropAndEmptyBatch()
    {
        var b = new Batch(ThirtyTwoFrames());
        var sink = new RecordingSink();
        b.Run(FlowActions.Drop, ref sink);
        Assert.Empty(sink.Outputs);
        new ActionExecutor().Execute(new FlowActions([FlowAction.Output(1), FlowAction.StripVlan()]), b.Pool, ReadOnlySpan<int>.Empty, Span<PacketLayers>.Empty, ref sink);
        Assert.Empty(sink.Outputs);
    }

    [Fact]
    public void LayersShorterThanBatchIsAnError()
    {
        var b = new Batch(ThirtyTwoFrames());
        var sink = new RecordingSink();
        Assert.Throws<ArgumentException>(() =>
            new ActionExecutor().Execute(FlowActions.Drop, b.Pool, b.Pkts, b.Layers.AsSpan(1), ref sink));
    }

    [Fact]
    public void EveryFrameOfABatchGetsEveryAction()
    {
        var frames = ThirtyTwoFrames();
        var b = new Batch(frames);
        FlowAction[] seq =
        [
            FlowAction.SetVlanVid(12), FlowAction.SetNwDst(0x0B0B0B0B), FlowAction.SetTpSrc(999), FlowAction.SetNwTos(0x20),
            FlowAction.SetDlSrc(new MacAddress(0x0000_5E00_0001)), FlowAction.Output(1),
        ];
        b.Run(seq);
        for (int i = 0; i < frames.Length; i++)
        {
            PacketParser.Parse(frames[i], 1, out var k0, out var l0);
            FlowKey expect = k0;
            foreach (var a in seq) expect = ActionModel.Apply(expect, l0, a);
            byte[] after = b.Frame(i);
            Ref.AssertChecksums(after, $"frame {i}");
            PacketParser.Parse(after, 1, out var k1, out var l1);
            Assert.Equal(expect.ToString(), k1.ToString());
            Assert.Equal(l1, b.Layers[i]);
        }
    }

    /// <summary>Each action, then all of them, over a 32-packet batch 10,000 times: zero bytes allocated.</summary>
    [Fact]
    public void ExecuteAllocatesNothing()
    {
        var b = new Batch(ThirtyTwoFrames());
        var exec = new ActionExecutor();
        var sink = new CountingSink();
        FlowAction[] all =
        [
            FlowAction.SetDlSrc(new MacAddress(1)), FlowAction.SetDlDst(new MacAddress(2)),
            FlowAction.SetNwSrc(0x01020304), FlowAction.SetNwDst(0x05060708), FlowAction.SetNwTos(0x28),
            FlowAction.SetTpSrc(1000), FlowAction.SetTpDst(2000), FlowAction.SetVlanVid(10), FlowAction.SetVlanPcp(3),
            FlowAction.StripVlan(), FlowAction.SetTunnel(42), FlowAction.Output(1), FlowAction.Enqueue(2, 1),
            FlowAction.Output(PortNumber.Controller, 64),
        ];
        var lists = new List<FlowActions>();
        foreach (var a in all) lists.Add(new FlowActions([a]));
        // Alternating values so rewrites really write, and a push/strip pair so headroom is reused.
        lists.Add(new FlowActions([.. all, FlowAction.SetNwSrc(0x0A000001), FlowAction.SetTpSrc(1234), FlowAction.SetVlanVid(5), FlowAction.StripVlan()]));

        foreach (var list in lists)
        {
            for (int i = 0; i < 100; i++) exec.Execute(list, b.Pool, b.Pkts, b.Layers, ref sink); // warm up (tiering)
            long allocated = AllocationMeter.SteadyState(() =>
            {
                for (int i = 0; i < 10_000; i++) exec.Execute(list, b.Pool, b.Pkts, b.Layers, ref sink);
            });
            Assert.True(allocated == 0, $"{list}: {allocated} bytes");
        }
        Assert.True(sink.Packets > 0);
        Assert.Equal(0, exec.VlanPushFailed);
        for (int i = 0; i < 32; i++) Ref.AssertChecksums(b.Frame(i));
    }
}
