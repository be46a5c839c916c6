using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

// Port messages: the ofp_phy_port description, OFPT_PORT_STATUS and OFPT_PORT_MOD.

/// <summary>
/// struct ofp_phy_port (48 bytes). The name is decoded up to its NUL (Latin-1, so any byte survives)
/// and re-encoded zero-padded; bytes after a NUL are not kept.
/// </summary>
public record struct OfpPhyPort : IOfpStatsEntry<OfpPhyPort>
{
    public const int Size = 48;

    static int IOfpStatsEntry<OfpPhyPort>.EntrySize => Size;

    public ushort PortNo { get; set; }
    public OfpMac HwAddr { get; set; }

    /// <summary>Port name, at most 16 bytes on the wire (15 plus NUL to be spec-clean).</summary>
    public string Name { get; set; }

    public OfpPortConfig Config { get; set; }
    public OfpPortState State { get; set; }
    public OfpPortFeatures Curr { get; set; }
    public OfpPortFeatures Advertised { get; set; }
    public OfpPortFeatures Supported { get; set; }
    public OfpPortFeatures Peer { get; set; }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |           port_no             |                               |  0
    // +-------------------------------+         hw_addr (6)           +
    // |                                                               |  4
    // +---------------------------------------------------------------+
    // |                    name (16, NUL-terminated)                  |  8
    // +---------------------------------------------------------------+
    // |                          config                               | 24
    // |                          state                                | 28
    // |                          curr                                 | 32
    // |                          advertised                           | 36
    // |                          supported                            | 40
    // |                          peer                                 | 44
    // +---------------------------------------------------------------+
    /// <summary>Reads the 48-byte port; false if the span is shorter.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out OfpPhyPort port)
    {
        if ((uint)source.Length < Size)
        {
            port = default;
            return false;
        }
        port = new OfpPhyPort
        {
            PortNo = BinaryPrimitives.ReadUInt16BigEndian(source),
            HwAddr = OfpMac.Read(source.Slice(2)),
            Name = OfpWire.ReadString(source.Slice(8, OfpConstants.MaxPortNameSize)),
            Config = (OfpPortConfig)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(24)),
            State = (OfpPortState)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(28)),
            Curr = (OfpPortFeatures)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(32)),
            Advertised = (OfpPortFeatures)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(36)),
            Supported = (OfpPortFeatures)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(40)),
            Peer = (OfpPortFeatures)BinaryPrimitives.ReadUInt32BigEndian(source.Slice(44)),
        };
        return true;
    }

    /// <summary>Writes the 48 bytes.</summary>
    public readonly void Write(Span<byte> destination)
    {
        if ((uint)destination.Length < Size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        BinaryPrimitives.WriteUInt16BigEndian(destination, PortNo);
        HwAddr.Write(destination.Slice(2));
        OfpWire.WriteString(Name, destination.Slice(8, OfpConstants.MaxPortNameSize));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(24), (uint)Config);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(28), (uint)State);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(32), (uint)Curr);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(36), (uint)Advertised);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(40), (uint)Supported);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(44), (uint)Peer);
    }
}

/// <summary>OFPT_PORT_STATUS: a port was added, removed or changed.</summary>
public sealed class OfpPortStatus : OfpMessage
{
    public const int Size = 64;

    public override OfpType Type => OfpType.PortStatus;

    public OfpPortReason Reason { get; set; }

    public OfpPhyPort Desc { get; set; }

    private protected override int BodySize => Size - OfpHeader.Size;

    private protected override void EncodeBody(Span<byte> body)
    {
        body[0] = (byte)Reason;
        Desc.Write(body.Slice(8));
    }

    // +---------------------------------------------+
    // | ofp_header (8)                              |
    // +-----------+---------------------------------+
    // | reason (1)| pad (7)                         |
    // +-----------+---------------------------------+
    // | ofp_phy_port desc (48)                      |
    // +---------------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if (body.Length != Size - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        OfpPhyPort.TryRead(body.Slice(8), out OfpPhyPort desc);
        return Success(new OfpPortStatus { Reason = (OfpPortReason)body[0], Desc = desc }, out message, out error);
    }
}

/// <summary>OFPT_PORT_MOD. Checking the port exists and hw_addr matches (OFPET_PORT_MOD_FAILED) is the session's.</summary>
public sealed class OfpPortMod : OfpMessage
{
    public const int Size = 32;

    public override OfpType Type => OfpType.PortMod;

    public ushort PortNo { get; set; }

    /// <summary>Must equal the port's address; a sanity check, not configurable.</summary>
    public OfpMac HwAddr { get; set; }

    /// <summary>New values of the config bits selected by <see cref="Mask"/>.</summary>
    public OfpPortConfig Config { get; set; }

    /// <summary>Config bits to change.</summary>
    public OfpPortConfig Mask { get; set; }

    /// <summary>Features to advertise; 0 leaves advertisement unchanged.</summary>
    public OfpPortFeatures Advertise { get; set; }

    private protected override int BodySize => Size - OfpHeader.Size;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, PortNo);
        HwAddr.Write(body.Slice(2));
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(8), (uint)Config);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(12), (uint)Mask);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(16), (uint)Advertise);
    }

    // +---------------------------------------------------------------+
    // | ofp_header (8)                                                |  0
    // +-------------------------------+-------------------------------+
    // |           port_no             |        hw_addr (6) ...        |  8
    // |                    ... hw_addr                                | 12
    // +---------------------------------------------------------------+
    // |                           config                              | 16
    // |                           mask                                | 20
    // |                           advertise                           | 24
    // |                           pad (4)                             | 28
    // +---------------------------------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if (body.Length != Size - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        return Success(new OfpPortMod
        {
            PortNo = BinaryPrimitives.ReadUInt16BigEndian(body),
            HwAddr = OfpMac.Read(body.Slice(2)),
            Config = (OfpPortConfig)BinaryPrimitives.ReadUInt32BigEndian(body.Slice(8)),
            Mask = (OfpPortConfig)BinaryPrimitives.ReadUInt32BigEndian(body.Slice(12)),
            Advertise = (OfpPortFeatures)BinaryPrimitives.ReadUInt32BigEndian(body.Slice(16)),
        }, out message, out error);
    }
}
