using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>A packet-in written without a message object is byte for byte the message object's encoding.</summary>
public class PacketInWriteTests
{
    [Theory]
    [InlineData(0u, 60, 0, OfpPacketInReason.NoMatch)]
    [InlineData(0x0102_0304u, 1514, 128, OfpPacketInReason.NoMatch)]
    [InlineData(OfpConstants.NoBuffer, 64, 64, OfpPacketInReason.Action)]
    public void WriteEqualsTheMessageEncoding(uint bufferId, int frameLength, int dataLength, OfpPacketInReason reason)
    {
        var frame = new byte[frameLength];
        new Random(frameLength).NextBytes(frame);
        var expected = new OfpPacketIn
        {
            BufferId = bufferId, TotalLen = (ushort)frameLength, InPort = 3, Reason = reason, Data = frame.AsMemory(0, dataLength),
        }.ToArray();
        var buf = new byte[OfpPacketIn.MinSize + dataLength + 7];
        Array.Fill(buf, (byte)0xEE); // the pad byte must be written, not left as found
        int size = OfpPacketIn.Write(buf, bufferId, (ushort)frameLength, 3, reason, frame.AsSpan(0, dataLength));
        Assert.Equal(expected.Length, size);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(buf, 0, size));
        Assert.True(OfpMessage.TryDecode(buf.AsSpan(0, size), out OfpPacketIn? back, out _));
        Assert.Equal(bufferId, back!.BufferId);
        Assert.Equal(dataLength, back.Data.Length);
    }

    [Fact]
    public void ADestinationTooSmallIsRefused()
        => Assert.ThrowsAny<Exception>(() => OfpPacketIn.Write(new byte[20], 0, 60, 1, OfpPacketInReason.NoMatch, new byte[60]));
}
