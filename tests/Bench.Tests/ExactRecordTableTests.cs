using Softswitch.Bench.Micro;
using Softswitch.Datapath.Flow;

namespace Softswitch.Bench.Tests;

/// <summary>
/// The one-level exact table prototype the gate measures (bench/Micro/ExactRecordTable.cs): it finds every key it
/// holds, one by one and in bursts, and misses every other key, including keys one field away from a held one.
/// </summary>
public sealed class ExactRecordTableTests
{
    [Theory]
    [InlineData(1_000, false)]
    [InlineData(20_000, true)]
    public void FindsEveryInsertedKey_AndMissesOthers(int count, bool hugePages)
    {
        var keys = ExactGateWorkload.RandomExactKeys(2 * count, seed: 7);
        using var table = new ExactRecordTable(count, hugePages);
        Assert.True(table.SlotCount >= 2 * count, "load factor at most 1/2");
        var slots = new HashSet<int>();
        for (int i = 0; i < count; i++) Assert.True(slots.Add(table.Insert(keys[i], (uint)(1 + i % 5))));
        Assert.Equal(count, table.Count);

        for (int i = 0; i < count; i++)
        {
            int s = table.Find(keys[i]);
            Assert.True(s >= 0, $"key {i} not found");
            ref var r = ref table.Record(s);
            Assert.Equal((uint)(1 + i % 5), r.ActionId);
            Assert.Equal(keys[i].W0, r.W0);
            Assert.Equal(keys[i].W4, r.W4);
        }
        for (int i = count; i < 2 * count; i++) Assert.Equal(-1, table.Find(keys[i]));

        // Bursts of 32: half held, half not, interleaved.
        var burst = new FlowKey[32];
        var found = new int[32];
        for (int b = 0; b + 16 <= count; b += 16)
        {
            for (int j = 0; j < 16; j++)
            {
                burst[2 * j] = keys[b + j];
                burst[2 * j + 1] = keys[count + b + j];
            }
            ulong pending = uint.MaxValue;
            Assert.Equal(16, table.LookupBurst(burst, ref pending, found));
            Assert.Equal(0xAAAA_AAAAUL, pending);
            for (int j = 0; j < 16; j++) Assert.Equal(table.Find(keys[b + j]), found[2 * j]);
        }
    }

    [Fact]
    public void MissesAKeyOneFieldAway_AndIgnoresTheBitsTheExactMaskClears()
    {
        var held = new FlowKeyBuilder().InPort(3).DlVlan(0xFFFF).DlType(0x0800).NwProto(17).NwTos(0x28)
            .NwSrc(0x0A000001).NwDst(0x0A000002).TpSrc(1000).TpDst(2000).Key;
        using var table = new ExactRecordTable(4);
        int slot = table.Insert(held, 1);
        Assert.Equal(slot, table.Find(new FlowKeyBuilder(held).TunId(99).Key));          // tunnel id: not in the exact mask
        Assert.Equal(slot, table.Find(new FlowKeyBuilder(held).NwTos(0x2B).Key));        // ECN bits: not in the exact mask
        Assert.Equal(-1, table.Find(new FlowKeyBuilder(held).TpDst(2001).Key));
        Assert.Equal(-1, table.Find(new FlowKeyBuilder(held).InPort(4).Key));
        Assert.Equal(-1, table.Find(new FlowKeyBuilder(held).NwSrc(0x0A000003).Key));
        Assert.Equal(-1, table.Find(new FlowKeyBuilder(held).NwTos(0x2C).Key));
    }

    [Fact]
    public void RemovedKeysMiss_AndChurnPastTheTombstoneLimitKeepsEveryLiveKeyAndItsCounters()
    {
        const int Capacity = 64;
        var keys = ExactGateWorkload.RandomExactKeys(2000, seed: 11);
        using var table = new ExactRecordTable(Capacity);
        for (int i = 0; i < Capacity / 2; i++) table.Insert(keys[i], 1);
        table.Record(table.Find(keys[0])).Packets = 42;
        // Insert and remove far more keys than there are slots: tombstones must be cleared, probes must end.
        for (int i = Capacity / 2; i < keys.Length; i++)
        {
            table.Insert(keys[i], 2);
            Assert.True(table.Remove(keys[i]));
            Assert.Equal(-1, table.Find(keys[i]));
        }
        Assert.False(table.Remove(keys[^1]));
        Assert.Equal(Capacity / 2, table.Count);
        for (int i = 0; i < Capacity / 2; i++) Assert.True(table.Find(keys[i]) >= 0, $"key {i} lost");
        Assert.Equal(42, table.Record(table.Find(keys[0])).Packets);
    }

    [Fact]
    public void RefusesAnIdThatMeansEmptyOrDeleted_AndAKeyPastItsCapacity()
    {
        var keys = ExactGateWorkload.RandomExactKeys(3, seed: 3);
        using var table = new ExactRecordTable(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Insert(keys[0], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Insert(keys[0], ExactRecordTable.DeletedId));
        table.Insert(keys[0], 1);
        table.Insert(keys[1], 1);
        Assert.Equal(table.Find(keys[1]), table.Insert(keys[1], 3));                       // replaces the id in place
        Assert.Equal(3u, table.Record(table.Find(keys[1])).ActionId);
        Assert.Throws<InvalidOperationException>(() => table.Insert(keys[2], 1));
    }

    [Fact]
    public void GateWorkload_CountsEveryPacketOnEverySide()
    {
        using var w = new ExactGateWorkload(500, seed: 5);
        long a = 0, b = 0, c = 0;
        for (int i = 0; i < 100; i++)
        {
            a += w.TodayBurst();
            b += w.RecordBurst(huge: false);
            c += w.BuiltBurst();
        }
        Assert.Equal(a, b);
        Assert.Equal(a, c);
        Assert.Equal(100 * ExactGateWorkload.Burst, w.BuiltPackets());
        Assert.Equal(100 * ExactGateWorkload.Burst, w.RecordPackets(huge: false));
        Assert.Equal(100 * ExactGateWorkload.Burst, w.EntryPackets());
        Assert.Equal(0, w.RecordPackets(huge: true));
    }
}
