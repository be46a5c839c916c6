using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tests.Ports;

/// <summary>
/// PORT_MOD's read-modify-write of a port's config bits is atomic: two writers with different masks never lose each
/// other's bits, and every change is reported once.
/// </summary>
public sealed class PortConfigTests
{
    private sealed class Counting : IDatapathEvents
    {
        public long Modified;
        public void OnPortStatus(PortStatusReason reason, PortSlot port)
        {
            if (reason == PortStatusReason.Modify) Interlocked.Increment(ref Modified);
        }
    }

    [Fact]
    public void ConcurrentPortModsWithDifferentMasksKeepEachOthersBits()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
        ushort no = dp.AddPort(new MemoryPort("m1", new MacAddress(0x0200_0000_0001UL))).No;
        var events = new Counting();
        dp.Subscribe(events);
        // More writers than cores, each toggling a bit of its own: one preempted between its read and its write loses the
        // others' changes made meanwhile unless the update is atomic.
        PortConfig[] bits = [PortConfig.NoRecv, PortConfig.NoRecvStp, PortConfig.NoFwd, PortConfig.NoFlood, PortConfig.NoPacketIn, PortConfig.NoStp];
        const int Rounds = 4_000_000;
        int lost = 0, done = 0;
        long changes = 0;
        using var start = new Barrier(bits.Length);
        var threads = new Thread[bits.Length];
        for (int t = 0; t < bits.Length; t++)
        {
            var bit = bits[t];
            threads[t] = new Thread(() =>
            {
                start.SignalAndWait();
                // Rounds, and on until every thread has done its own, so that they overlap throughout (a loss ends it).
                int i = 0;
                for (; (i < Rounds || Volatile.Read(ref done) < bits.Length) && Volatile.Read(ref lost) == 0; i++)
                {
                    if (i == Rounds) Interlocked.Increment(ref done);
                    dp.SetPortConfig(no, bit, bit);
                    if ((dp.Ports.Get(no)!.Config & bit) == 0) Interlocked.Increment(ref lost);
                    dp.SetPortConfig(no, PortConfig.None, bit);
                    if ((dp.Ports.Get(no)!.Config & bit) != 0) Interlocked.Increment(ref lost);
                }
                Interlocked.Add(ref changes, 2L * i);
            });
            threads[t].Start();
        }
        foreach (var t in threads) t.Join();

        Assert.Equal(0, lost);
        Assert.Equal(PortConfig.None, dp.Ports.Get(no)!.Config);
        // Each thread changed its bit twice a round, each change reported once.
        Assert.Equal(changes, events.Modified);
    }
}
