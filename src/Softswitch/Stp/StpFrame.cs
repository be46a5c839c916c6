using System.Buffers.Binary;

namespace Softswitch.Stp;

/// <summary>
/// The frame a BPDU travels in (802.1D clause 9 over 802.2 LLC):
/// <code>
/// 01:80:c2:00:00:00 | source MAC (6) | length (2, ≤ 1500) | DSAP 0x42 | SSAP 0x42 | control 0x03 | BPDU ...
/// </code>
/// Sent frames are padded with zeros to Ethernet's 60-byte minimum (the length field says what is the BPDU's).
/// </summary>
public static class StpFrame
{
    public const int HeaderSize = 17, MinFrameSize = 60;

    /// <summary>Whether <paramref name="frame"/> is addressed to the bridge group address 01:80:c2:00:00:00.</summary>
    public static bool IsToBridgeGroup(ReadOnlySpan<byte> frame) => frame.Length >= 6 && frame[0] == 0x01 && frame[1] == 0x80
        && frame[2] == 0xC2 && frame[3] == 0 && frame[4] == 0 && frame[5] == 0;

    /// <summary>The BPDU inside <paramref name="frame"/> (from the protocol identifier on); false when the frame is not
    /// an 802.2 LLC frame of the spanning tree SAPs to the bridge group address.</summary>
    public static bool TryGetBpdu(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> bpdu)
    {
        bpdu = default;
        if (frame.Length < HeaderSize || !IsToBridgeGroup(frame)) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (length > 1500 || length < 3 || frame[14] != 0x42 || frame[15] != 0x42 || frame[16] != 0x03) return false;
        int end = Math.Min(frame.Length, 14 + length);
        bpdu = frame[HeaderSize..end];
        return true;
    }

    /// <summary>Writes the frame carrying <paramref name="bpdu"/> from <paramref name="source"/> into
    /// <paramref name="frame"/> (at least <see cref="MinFrameSize"/> and the BPDU's size plus 17 bytes); returns its size.</summary>
    public static int Write(Span<byte> frame, ulong source, ReadOnlySpan<byte> bpdu)
    {
        int size = Math.Max(MinFrameSize, HeaderSize + bpdu.Length);
        frame = frame[..size];
        frame.Clear();
        frame[0] = 0x01;
        frame[1] = 0x80;
        frame[2] = 0xC2;
        for (int i = 0; i < 6; i++) frame[6 + i] = (byte)(source >> (40 - 8 * i));
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], (ushort)(3 + bpdu.Length));
        frame[14] = 0x42;
        frame[15] = 0x42;
        frame[16] = 0x03;
        bpdu.CopyTo(frame[HeaderSize..]);
        return size;
    }
}
