using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Packets;

/// <summary>
/// The arena's slots start on a page boundary, tile pages and map UMEM addresses back to slots; pools carved from it
/// share one index space, keep caches of their own that refill from and spill to the shared stack a batch at a time,
/// run dry without blocking, and allocate nothing per packet.
/// </summary>
public sealed unsafe class PacketArenaTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(300)]
    [InlineData(4096)]
    public void SlotZero_IsPageAligned_AndEverySlotFitsThePinnedArray(int slots)
    {
        var a = new PacketArena(slots, largeCount: 2);
        int page = Environment.SystemPageSize;
        Assert.Equal(0, (long)a.Base % page);
        Assert.Equal(0, page % PacketArena.SlotSize);   // so no slot crosses a page
        fixed (byte* p = a.Slab) Assert.Equal((nint)(p + a.BaseOffset), (nint)a.Base);
        // The kernel pins whole pages: the last one lies inside the array too, before the large buffers.
        long pagesEnd = a.BaseOffset + (a.Length + page - 1) / page * page;
        Assert.True(pagesEnd <= a.LargeStart, $"pages end at {pagesEnd}, the large buffers start at {a.LargeStart}");
        Assert.True(a.LargeStart + 2L * PacketPool.LargeSlotSize <= a.Slab.Length);
        // Whole batches, so every batch on the shared stack is full.
        Assert.Equal((slots + PacketArena.Batch - 1) / PacketArena.Batch * PacketArena.Batch, a.SlotCount);
        Assert.Equal((long)a.SlotCount * PacketArena.SlotSize, a.Length);
        Assert.Equal(a.SlotCount, a.SharedFreeCount);
    }

    [Fact]
    public void UmemAddresses_MapToSlots_AndOutsideIsMinusOne()
    {
        var a = new PacketArena(10);
        Assert.Equal(0UL, PacketArena.UmemAddress(0));
        Assert.Equal(9UL * 2048, PacketArena.UmemAddress(9));
        Assert.Equal(9, a.SlotOf(PacketArena.UmemAddress(9) + PacketArena.KernelHeadroom + 100));
        Assert.Equal(0, a.SlotOf(2047));
        Assert.Equal(-1, a.SlotOf((ulong)a.SlotCount * 2048));
        Assert.Equal(-1, a.SlotOf(ulong.MaxValue));
        Assert.Equal(a.BaseOffset + 3 * 2048, a.SlotOffset(3));
    }

    /// <summary>Buffer i of a pool over the arena is slot i: its frame lies in the slot, at the pool's headroom.</summary>
    [Fact]
    public void APoolsBuffers_AreArenaSlots()
    {
        var a = new PacketArena(512);
        var pool = new PacketPool(a, 512);
        Assert.Equal(a.SlotCount, pool.Capacity);
        Assert.Equal(PacketArena.SlotSize - PacketPool.Headroom, pool.MaxFrameSize);
        int p = pool.Alloc();
        Assert.InRange(p, 0, a.SlotCount - 1);
        Assert.Equal(a.SlotOffset(p), pool.SlotOffset(p));
        Assert.True(pool.Write(p, [1, 2, 3]));
        Assert.Equal(a.SlotOffset(p) + PacketPool.Headroom, pool.FrameOffset(p));
        Assert.Equal(new byte[] { 1, 2, 3 }, a.Slab.AsSpan(a.SlotOffset(p) + PacketPool.Headroom, 3).ToArray());
        Assert.False(pool.Write(p, new byte[pool.MaxFrameSize + 1]));
    }

    /// <summary>A buffer one pool allocated is released by another (a slot lent to a socket by one thread and received
    /// by another): it joins the second's cache, and the count of free buffers is kept whole across the pools and the
    /// shared stack.</summary>
    [Fact]
    public void BuffersCrossPools_AndNoneIsLostOrDoubled()
    {
        var a = new PacketArena(4 * PacketArena.Batch);
        var one = new PacketPool(a, 2 * PacketArena.Batch);
        var two = new PacketPool(a, 2 * PacketArena.Batch);
        var taken = new int[a.SlotCount];
        int n = 0;
        while (n < taken.Length && one.Alloc(taken.AsSpan(n, 1)) == 1) n++;
        // A pool's cache is bounded, not its share: the first took every slot, a batch at a time.
        Assert.Equal(a.SlotCount, n);
        Assert.Equal(a.SlotCount, taken.Distinct().Count());
        Assert.Equal(0, a.SharedFreeCount);
        Assert.Equal(0, one.Alloc(new int[1]));   // dry: nothing to give, and no wait
        Assert.Equal(0, two.Alloc(new int[1]));

        two.Release(taken);   // all of them, the first pool's too: the second's cache spills to the stack
        Assert.True(two.FreeCount <= 2 * PacketArena.Batch, $"cache of {two.FreeCount}");
        Assert.Equal(a.SlotCount, two.FreeCount + a.SharedFreeCount);
        var again = new int[a.SlotCount];
        int m = one.Alloc(again.AsSpan(0, 2 * PacketArena.Batch)) + two.Alloc(again.AsSpan(2 * PacketArena.Batch));
        Assert.Equal(a.SlotCount, m);
        Assert.Equal(a.SlotCount, again.Distinct().Count());
    }

    /// <summary>Two threads allocating and releasing through the shared stack at once (each its own pool, buffers
    /// crossing between them through a hand-off queue): every slot is accounted for once at the end.</summary>
    [Fact]
    public void TwoThreads_ThroughTheSharedStack_KeepEverySlotOnce()
    {
        var a = new PacketArena(16 * PacketArena.Batch);
        var handoff = new System.Collections.Concurrent.ConcurrentQueue<int[]>();
        var pools = new PacketPool[2];
        var threads = new Thread[2];
        for (int t = 0; t < 2; t++)
        {
            int id = t;
            threads[t] = new Thread(() =>
            {
                var pool = pools[id] = new PacketPool(a, 2 * PacketArena.Batch);
                var burst = new int[32];
                for (int round = 0; round < 20_000; round++)
                {
                    int got = pool.Alloc(burst);
                    if (id == 0 && round % 3 == 0) handoff.Enqueue(burst[..got]);   // lent on, released by the other thread
                    else pool.Release(burst.AsSpan(0, got));
                    if (id == 1 && handoff.TryDequeue(out var lent)) pool.Release(lent);
                }
            });
        }
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        while (handoff.TryDequeue(out var lent)) pools[1].Release(lent);
        pools[0].ReturnToArena();
        pools[1].ReturnToArena();
        var all = new int[a.SlotCount];
        int n = pools[0].Alloc(all.AsSpan(0, pools[0].FreeCount));
        n += pools[1].Alloc(all.AsSpan(n, pools[1].FreeCount));
        while (n < all.Length && pools[0].Alloc(all.AsSpan(n, Math.Min(PacketArena.Batch, all.Length - n))) is > 0 and var k) n += k;
        Assert.Equal(a.SlotCount, n);
        Assert.Equal(a.SlotCount, all.Distinct().Count());
    }

    /// <summary>Slots taken for a socket carry its tag and come back whole, as batches, when it closes.</summary>
    [Fact]
    public void SlotsHeldByASocket_ComeBackWhole()
    {
        var a = new PacketArena(8 * PacketArena.Batch);
        int tag = a.NewHolder();
        var held = new List<int>();
        Assert.Equal(3 * PacketArena.Batch, a.TakeHeld(2 * PacketArena.Batch + 1, tag, held));   // rounded up to batches
        Assert.Equal(5 * PacketArena.Batch, a.SharedFreeCount);
        Assert.All(held, s => Assert.Equal(tag, a.Holder[s]));
        Assert.Equal(0, a.TakeHeld(6 * PacketArena.Batch, a.NewHolder(), new List<int>()));   // too few: nothing taken
        Assert.Equal(5 * PacketArena.Batch, a.SharedFreeCount);
        Assert.Equal(3 * PacketArena.Batch, a.ReturnHeld(tag));
        Assert.Equal(a.SlotCount, a.SharedFreeCount);
        Assert.DoesNotContain(a.Holder, h => h != 0);
    }

    /// <summary>Each pool claims its own large buffers, after the arena's slots in the index space.</summary>
    [Fact]
    public void LargeBuffers_AreClaimedPerPool()
    {
        var a = new PacketArena(256, largeCount: 3);
        var one = new PacketPool(a, 256, largeCapacity: 2);
        var two = new PacketPool(a, 256, largeCapacity: 2);
        Assert.Equal(2, one.LargeCapacity);
        Assert.Equal(1, two.LargeCapacity);
        int l1 = one.AllocLarge(), l2 = one.AllocLarge(), l3 = two.AllocLarge();
        Assert.Equal(new[] { 256, 257, 258 }, new[] { l1, l2, l3 }.Order().ToArray());
        Assert.Equal(-1, two.AllocLarge());
        Assert.True(one.IsLarge(l1));
        Assert.Equal(a.LargeStart + (l3 - a.SlotCount) * PacketPool.LargeSlotSize, two.SlotOffset(l3));
        Assert.Equal(a.SlotCount + 3, one.IndexLimit);
    }

    /// <summary>A pool returned to the arena (its switch disposed) gives its free large buffers back, so a pool made
    /// later claims them; one still held stays out.</summary>
    [Fact]
    public void LargeBuffers_GoBackToTheArena_WhenTheirPoolIsReturned()
    {
        var a = new PacketArena(256, largeCount: 4);
        var one = new PacketPool(a, 256, largeCapacity: 4);
        Assert.Equal(0, new PacketPool(a, 256, largeCapacity: 4).LargeCapacity);
        int held = one.AllocLarge();
        one.ReturnToArena();
        Assert.Equal(3, a.LargeUnclaimed);
        Assert.Equal(-1, one.AllocLarge());
        var three = new PacketPool(a, 256, largeCapacity: 4);
        Assert.Equal(3, three.LargeCapacity);
        var got = new[] { three.AllocLarge(), three.AllocLarge(), three.AllocLarge() };
        Assert.DoesNotContain(held, got);
        Assert.All(got, p => Assert.True(three.IsLarge(p)));
        Assert.Equal(3, got.Distinct().Count());
        Assert.Equal(-1, three.AllocLarge());
    }

    /// <summary>Allocation and release, with the refills and spills they cause, allocate nothing.</summary>
    [Fact]
    public void AllocAndRelease_WithRefillsAndSpills_AllocateNothing()
    {
        var a = new PacketArena(8 * PacketArena.Batch);
        var one = new PacketPool(a, 2 * PacketArena.Batch);
        var two = new PacketPool(a, 2 * PacketArena.Batch);
        var burst = new int[32];
        void Round()
        {
            for (int i = 0; i < 1000; i++)
            {
                int n = one.Alloc(burst);
                two.Release(burst.AsSpan(0, n));   // one refills, two spills
            }
        }
        Round();
        Assert.Equal(0, AllocationMeter.SteadyState(Round));
    }
}
