using Softswitch.Datapath.Packets;

namespace Softswitch.Ports.Linux;

/// <summary>
/// struct virtio_net_hdr (10 bytes, host byte order) as the kernel puts it in front of frames on a packet socket
/// with PACKET_VNET_HDR: whether the L4 checksum is left for "hardware" (NEEDS_CSUM with csum_start/csum_offset)
/// and whether the frame is a GSO super-frame (gso_type, gso_size = MSS).
/// </summary>
/// <remarks>
/// Wire layout (include/uapi/linux/virtio_net.h):
/// <code>
///   0      1         2        4         6           8            10
///   | flags | gso_type | hdr_len | gso_size | csum_start | csum_offset |
/// </code>
/// </remarks>
public readonly struct VirtioNetHeader
{
    public const int Size = 10;
    public const byte FlagNeedsCsum = 1;
    public const byte FlagDataValid = 2;
    public const byte GsoNone = OffloadInfo.GsoNone;
    public const byte GsoTcpV4 = OffloadInfo.GsoTcpV4;
    public const byte GsoUdp = OffloadInfo.GsoUdp;
    public const byte GsoTcpV6 = OffloadInfo.GsoTcpV6;
    public const byte GsoUdpL4 = OffloadInfo.GsoUdpL4;
    public const byte GsoEcn = OffloadInfo.GsoEcn;

    public readonly byte Flags;
    public readonly byte GsoType;
    public readonly ushort HdrLen;
    public readonly ushort GsoSize;
    public readonly ushort CsumStart;
    public readonly ushort CsumOffset;

    public VirtioNetHeader(byte flags, byte gsoType, ushort hdrLen, ushort gsoSize, ushort csumStart, ushort csumOffset)
    {
        Flags = flags;
        GsoType = gsoType;
        HdrLen = hdrLen;
        GsoSize = gsoSize;
        CsumStart = csumStart;
        CsumOffset = csumOffset;
    }

    public static VirtioNetHeader Read(ReadOnlySpan<byte> b) => new(b[0], b[1],
        BitConverter.ToUInt16(b[2..]), BitConverter.ToUInt16(b[4..]), BitConverter.ToUInt16(b[6..]), BitConverter.ToUInt16(b[8..]));

    public void Write(Span<byte> b)
    {
        b[0] = Flags;
        b[1] = GsoType;
        BitConverter.TryWriteBytes(b[2..], HdrLen);
        BitConverter.TryWriteBytes(b[4..], GsoSize);
        BitConverter.TryWriteBytes(b[6..], CsumStart);
        BitConverter.TryWriteBytes(b[8..], CsumOffset);
    }

    public bool NeedsChecksum => (Flags & FlagNeedsCsum) != 0;
    public bool IsGso => (GsoType & ~GsoEcn) != GsoNone;
}
