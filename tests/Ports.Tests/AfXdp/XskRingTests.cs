using System.Runtime.InteropServices;
using Softswitch.Ports.AfXdp;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>The AF_XDP ring arithmetic on plain memory standing in for the kernel's side: free-running u32 indices
/// (wrapping past 2^32 included), free room and waiting entries, the need_wakeup flag.</summary>
public sealed unsafe class XskRingTests : IDisposable
{
    private readonly uint* _words = (uint*)NativeMemory.AllocZeroed(3, sizeof(uint));   // producer, consumer, flags
    private readonly ulong* _slots = (ulong*)NativeMemory.AllocZeroed(8, sizeof(ulong));

    public void Dispose()
    {
        NativeMemory.Free(_words);
        NativeMemory.Free(_slots);
    }

    private XskRing Ring(uint start)
    {
        _words[0] = start;
        _words[1] = start;
        return new XskRing { Producer = &_words[0], Consumer = &_words[1], Flags = &_words[2], Ring = (byte*)_slots, Mask = 7, Size = 8, Local = start };
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(uint.MaxValue - 2)]   // the indices wrap while entries are in flight
    public void ProducerSide_FreeRoomFollowsWhatTheKernelConsumed(uint start)
    {
        var fill = Ring(start);
        Assert.Equal(8u, fill.Free);
        for (uint i = 0; i < 5; i++) fill.Addr(fill.Local + i) = 100 + i;
        fill.Submit(5);
        Assert.Equal(start + 5, _words[0]);
        Assert.Equal(3u, fill.Free);
        Assert.False(fill.Drained);
        _words[1] = start + 4;             // the kernel took four
        Assert.Equal(7u, fill.Free);
        _words[1] = start + 5;
        Assert.True(fill.Drained);
        Assert.Equal(104ul, _slots[(start + 4) & 7]);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(uint.MaxValue - 1)]
    public void ConsumerSide_SeesWhatTheKernelPublishedAndHandsItBack(uint start)
    {
        var comp = Ring(start);
        Assert.Equal(0u, comp.Available);
        _words[0] = start + 6;             // the kernel published six
        Assert.Equal(6u, comp.Available);
        comp.Release(4);
        Assert.Equal(start + 4, _words[1]);
        Assert.Equal(2u, comp.Available);
    }

    [Fact]
    public void NeedWakeup_IsTheKernelsFlag()
    {
        var tx = Ring(0);
        Assert.False(tx.NeedsWakeup);
        _words[2] = XskRing.XDP_RING_NEED_WAKEUP;
        Assert.True(tx.NeedsWakeup);
    }
}
