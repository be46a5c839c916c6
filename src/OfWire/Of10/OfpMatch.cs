using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

/// <summary>
/// struct ofp_match, the 40-byte OpenFlow 1.0 flow match, field for field as on the wire.
/// IPv4 addresses are host-order uints; MACs are <see cref="OfpMac"/>. Nothing is normalised here:
/// the wildcards (including undefined high bits) and the values under wildcarded fields are kept as
/// received, so a decoded match re-encodes to the same bytes except for the two pad fields, which are
/// written as zero. Normalisation (OVS "ofp_match normalization") is the translator's job.
/// </summary>
public record struct OfpMatch
{
    public const int Size = 40;

    public OfpFlowWildcards Wildcards { get; set; }
    public ushort InPort { get; set; }
    public OfpMac DlSrc { get; set; }
    public OfpMac DlDst { get; set; }
    public ushort DlVlan { get; set; }
    public byte DlVlanPcp { get; set; }
    public ushort DlType { get; set; }
    public byte NwTos { get; set; }
    public byte NwProto { get; set; }
    public uint NwSrc { get; set; }
    public uint NwDst { get; set; }
    public ushort TpSrc { get; set; }
    public ushort TpDst { get; set; }

    /// <summary>A match with every field wildcarded (OFPFW_ALL), all values zero.</summary>
    public static OfpMatch All => new() { Wildcards = OfpFlowWildcards.All };

    /// <summary>Number of low-order nw_src bits ignored, 0..32 (wire values above 32 mean 32).</summary>
    public readonly int NwSrcWildcardBits =>
        Math.Min(32, (int)(((uint)Wildcards & (uint)OfpFlowWildcards.NwSrcMask) >> (int)OfpFlowWildcards.NwSrcShift));

    /// <summary>Number of low-order nw_dst bits ignored, 0..32 (wire values above 32 mean 32).</summary>
    public readonly int NwDstWildcardBits =>
        Math.Min(32, (int)(((uint)Wildcards & (uint)OfpFlowWildcards.NwDstMask) >> (int)OfpFlowWildcards.NwDstShift));

    /// <summary>nw_src prefix length, 32 - ignored bits.</summary>
    public readonly int NwSrcPrefixLength => 32 - NwSrcWildcardBits;

    /// <summary>nw_dst prefix length, 32 - ignored bits.</summary>
    public readonly int NwDstPrefixLength => 32 - NwDstWildcardBits;

    /// <summary>Returns wildcards with the nw_src ignored-bit count replaced by 32 - prefixLength.</summary>
    public static OfpFlowWildcards WithNwSrcPrefix(OfpFlowWildcards wildcards, int prefixLength)
    {
        uint bits = (uint)(32 - Math.Clamp(prefixLength, 0, 32));
        return (OfpFlowWildcards)(((uint)wildcards & ~(uint)OfpFlowWildcards.NwSrcMask) | (bits << (int)OfpFlowWildcards.NwSrcShift));
    }

    /// <summary>Returns wildcards with the nw_dst ignored-bit count replaced by 32 - prefixLength.</summary>
    public static OfpFlowWildcards WithNwDstPrefix(OfpFlowWildcards wildcards, int prefixLength)
    {
        uint bits = (uint)(32 - Math.Clamp(prefixLength, 0, 32));
        return (OfpFlowWildcards)(((uint)wildcards & ~(uint)OfpFlowWildcards.NwDstMask) | (bits << (int)OfpFlowWildcards.NwDstShift));
    }

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +---------------------------------------------------------------+
    // |                      wildcards (OFPFW_*)                      |  0
    // +-------------------------------+-------------------------------+
    // |            in_port            |                               |  4
    // +-------------------------------+         dl_src (6)            +
    // |                                                               |  8
    // +---------------------------------------------------------------+
    // |                           dl_dst (6)                          | 12
    // +                               +-------------------------------+
    // |                               |            dl_vlan            | 16
    // +---------------+---------------+-------------------------------+
    // |  dl_vlan_pcp  |    pad1 (1)   |            dl_type            | 20
    // +---------------+---------------+-------------------------------+
    // |     nw_tos    |   nw_proto    |           pad2 (2)            | 24
    // +---------------+---------------+-------------------------------+
    // |                             nw_src                            | 28
    // +---------------------------------------------------------------+
    // |                             nw_dst                            | 32
    // +-------------------------------+-------------------------------+
    // |            tp_src             |            tp_dst             | 36
    // +-------------------------------+-------------------------------+
    /// <summary>Reads the 40-byte match; false if the span is shorter.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out OfpMatch match)
    {
        if ((uint)source.Length < Size)
        {
            match = default;
            return false;
        }
        match = new OfpMatch
        {
            Wildcards = (OfpFlowWildcards)BinaryPrimitives.ReadUInt32BigEndian(source),
            InPort = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)),
            DlSrc = OfpMac.Read(source.Slice(6)),
            DlDst = OfpMac.Read(source.Slice(12)),
            DlVlan = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(18)),
            DlVlanPcp = source[20],
            DlType = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(22)),
            NwTos = source[24],
            NwProto = source[25],
            NwSrc = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(28)),
            NwDst = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(32)),
            TpSrc = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(36)),
            TpDst = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(38)),
        };
        return true;
    }

    /// <summary>Writes the 40 bytes, pads zero.</summary>
    public readonly void Write(Span<byte> destination)
    {
        if ((uint)destination.Length < Size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        destination = destination.Slice(0, Size);
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)Wildcards);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(4), InPort);
        DlSrc.Write(destination.Slice(6));
        DlDst.Write(destination.Slice(12));
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(18), DlVlan);
        destination[20] = DlVlanPcp;
        destination[21] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(22), DlType);
        destination[24] = NwTos;
        destination[25] = NwProto;
        destination[26] = 0;
        destination[27] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(28), NwSrc);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(32), NwDst);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(36), TpSrc);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(38), TpDst);
    }
}
