using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Tests.Packets;

/// <summary>The arena's slots start on a page boundary, tile pages, and map UMEM addresses back to slots.</summary>
public sealed unsafe class PacketArenaTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void SlotZero_IsPageAligned_AndEverySlotFitsThePinnedArray(int slots)
    {
        var a = new PacketArena(slots);
        int page = Environment.SystemPageSize;
        Assert.Equal(0, (long)a.Base % page);
        Assert.Equal(0, page % PacketArena.SlotSize);   // so no slot crosses a page
        fixed (byte* p = a.Slab) Assert.Equal((nint)(p + a.BaseOffset), (nint)a.Base);
        // The kernel pins whole pages: the last one lies inside the array too.
        long pagesEnd = a.BaseOffset + (a.Length + page - 1) / page * page;
        Assert.True(pagesEnd <= a.Slab.Length, $"pages end at {pagesEnd}, the array at {a.Slab.Length}");
        Assert.Equal((long)slots * PacketArena.SlotSize, a.Length);
    }

    [Fact]
    public void UmemAddresses_MapToSlots_AndOutsideIsMinusOne()
    {
        var a = new PacketArena(10);
        Assert.Equal(0UL, PacketArena.UmemAddress(0));
        Assert.Equal(9UL * 2048, PacketArena.UmemAddress(9));
        Assert.Equal(9, a.SlotOf(PacketArena.UmemAddress(9) + PacketArena.KernelHeadroom + 100));
        Assert.Equal(0, a.SlotOf(2047));
        Assert.Equal(-1, a.SlotOf(10UL * 2048));
        Assert.Equal(-1, a.SlotOf(ulong.MaxValue));
        Assert.Equal(a.BaseOffset + 3 * 2048, a.SlotOffset(3));
    }
}
