namespace Softswitch.Datapath.Packets;

/// <summary>
/// What a large packet buffer's frame still owes the "hardware" (the kernel's virtio-net offload request): a GSO
/// super-frame to be cut into <see cref="GsoSize"/>-byte payloads, and its L4 checksum left partial (the field at
/// <see cref="CsumStart"/> + <see cref="CsumOffset"/> holds the pseudo-header sum; the checksum covers everything from
/// <see cref="CsumStart"/> to the end).
/// </summary>
/// <remarks>
/// Offsets count from the frame's first byte, so <see cref="PacketPool.Push"/> and <see cref="PacketPool.Pull"/> move
/// <see cref="CsumStart"/> with the frame start (VLAN push/pop). The GSO type values are virtio-net's
/// (include/uapi/linux/virtio_net.h), so a port speaking virtio-net copies them as they are.
/// Kept only for large buffers (<see cref="PacketPool.IsLarge"/>); a frame in a small buffer owes nothing.
/// </remarks>
public struct OffloadInfo
{
    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;     // UFO: IP fragmentation, which the kernel no longer produces
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;   // USO: one UDP datagram per segment
    public const byte GsoEcn = 0x80;

    public byte GsoType;
    public ushort GsoSize;
    /// <summary>Bytes of headers (Ethernet to the end of TCP/UDP) each segment repeats; set when the frame is handed on.</summary>
    public ushort HdrLen;
    /// <summary>Start of the partially summed L4 header (0: no partial checksum).</summary>
    public ushort CsumStart;
    public ushort CsumOffset;

    public readonly bool IsGso => (GsoType & ~GsoEcn) != GsoNone;
    public readonly bool NeedsChecksum => CsumStart != 0;
    /// <summary>Whether the frame owes anything (a large buffer without offload work is a plain frame).</summary>
    public readonly bool Pending => IsGso || NeedsChecksum;
}
