using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A packet arena given to a datapath that already runs (a daemon's first AF_XDP port, after its bridges): each
/// forwarding thread carves its pool from it from its next poll, frames still forward byte-exact, the control path keeps
/// its own pool, the pool's forwarding allocates nothing, and a datapath disposed gives its pools' cached slots back.
/// </summary>
public sealed class ArenaAtRunTimeTests
{
    [Fact]
    public void UseArena_CarvesTheForwardersPoolFromTheNextPoll_AndFramesForwardByteExact()
    {
        var arena = new PacketArena(4 * PacketArena.Batch);
        using (var r = new DatapathRig(2))
        {
            r.Insert(0, Any, 10, [FlowAction.Output(2)]);
            var frame = Frame(MacA, MacB);
            r.Send(1, frame);
            Assert.Equal(frame, Assert.Single(r.Sent(2)));
            Assert.Null(r.Fwd.Pool.Arena);

            r.Dp.UseArena(arena);
            Assert.Null(r.Fwd.Pool.Arena);   // the thread takes it itself, at its next poll
            r.Send(1, frame);
            Assert.Same(arena, r.Fwd.Pool.Arena);
            Assert.Equal(frame, Assert.Single(r.Sent(2)));
            Assert.Null(r.Dp.Control.Pool.Arena);
            var pool = r.Fwd.Pool;
            r.Dp.UseArena(new PacketArena(PacketArena.Batch));   // already over one: kept
            r.Send(1, frame);
            Assert.Same(pool, r.Fwd.Pool);
            Assert.True(arena.SharedFreeCount < arena.SlotCount);   // the pool's cache holds a batch
        }
        // Disposed: the slots its pool cached are the arena's again.
        Assert.Equal(arena.SlotCount, arena.SharedFreeCount);
    }

    [Fact]
    public void APoolTakenAtRunTime_ForwardsWithoutAllocating()
    {
        using var r = new DatapathRig(2);
        r.Insert(0, Any, 10, [FlowAction.Output(2)]);
        r.Port(2).CaptureSent = false;
        r.Port(1).SetGenerator([Frame(MacA, MacB), Frame(MacA, MacC)], 0);
        r.Port(1).SetGeneratorCount(4);
        r.Dp.PollUntilIdle();
        var arena = new PacketArena(4 * PacketArena.Batch);
        r.Dp.UseArena(arena);
        long allocated = long.MaxValue, group = 0;
        for (int round = 0; round < 40; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(4);
            r.Dp.PollUntilIdle();
            if (round < 8) continue;
            group += GC.GetAllocatedBytesForCurrentThread() - before;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Same(arena, r.Fwd.Pool.Arena);
        Assert.Equal(0, allocated);
        Assert.True(r.Port(2).Counters.TxPackets >= 100, $"{r.Port(2).Counters.TxPackets}");
    }
}
