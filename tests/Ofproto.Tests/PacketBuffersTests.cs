namespace Softswitch.Ofproto.Tests;

/// <summary>
/// The packet buffers behind PACKET_IN buffer_id: a packet taken once (then BUFFER_EMPTY), a stale id unknown, and a
/// controller that takes every packet as it comes leaves one data array in use, not one per slot of the ring.
/// </summary>
public sealed class PacketBuffersTests
{
    private static byte[] Frame(int n, int length = 60)
    {
        var f = new byte[length];
        f[0] = (byte)n;
        f[^1] = (byte)(n >> 8);
        return f;
    }

    [Fact]
    public void APacketIsTakenOnce_ThenItsIdIsEmpty()
    {
        var b = new PacketBuffers();
        uint id = b.Store(Frame(7), 3);
        Assert.NotEqual(PacketBuffers.NoBuffer, id);
        Assert.Equal(PacketBuffers.TakeResult.Ok, b.Take(id, out var frame, out ushort port));
        Assert.Equal(Frame(7), frame);
        Assert.Equal(3, port);
        Assert.Equal(PacketBuffers.TakeResult.Empty, b.Take(id, out _, out _));
        Assert.Equal(PacketBuffers.TakeResult.Unknown, b.Take(id ^ 0x100, out _, out _)); // another generation
    }

    [Fact]
    public void PacketsTakenAsTheyCome_HoldOneArray_NotOnePerSlot()
    {
        var b = new PacketBuffers();
        for (int n = 0; n < 4 * PacketBuffers.MaxCount; n++)
        {
            uint id = b.Store(Frame(n, 60 + n % 1400), (ushort)(n % 7));
            Assert.Equal(PacketBuffers.TakeResult.Ok, b.Take(id, out var frame, out _));
            Assert.Equal(Frame(n, 60 + n % 1400), frame);
        }
        Assert.Equal(1, b.ArraysHeld);
    }

    [Fact]
    public void WaitingPackets_KeepTheirOwnArrays_AndAreReturnedIntact()
    {
        var b = new PacketBuffers();
        var ids = new uint[40];
        for (int n = 0; n < ids.Length; n++) ids[n] = b.Store(Frame(n, 100 + n), 1);
        Assert.Equal(ids.Length, b.ArraysHeld);
        for (int n = ids.Length - 1; n >= 0; n--)
        {
            Assert.Equal(PacketBuffers.TakeResult.Ok, b.Take(ids[n], out var frame, out _));
            Assert.Equal(Frame(n, 100 + n), frame);
        }
        Assert.InRange(b.ArraysHeld, 1, 8); // the spares kept for the next stores
    }
}
