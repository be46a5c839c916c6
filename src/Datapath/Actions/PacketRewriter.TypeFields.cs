using System.Buffers.Binary;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// The set-fields that rewrite a type field: eth_type and ip_proto (OpenFlow 1.3 sets every field whose prerequisites
/// hold, these two included).
/// </summary>
/// <remarks>
/// <para>eth_type is the ethertype the key holds: the one after the VLAN tags (before an MPLS stack), or a PBB frame's
/// I-tag TPID. An 802.3 length field is not a type and is left alone. ip_proto is IPv4's protocol (header checksum
/// fixed) or IPv6's last next-header value, the one that names what follows the extension headers. The transport header
/// the parser found stays where it is, and its checksum (TCP, UDP unless zero, ICMPv6) is moved by the protocol's
/// change, since its pseudo-header holds the protocol: the frame is then what a packet library builds from the new IP
/// header over the same transport header (the OpenFlow 1.3 switch test suites compare those bytes). Neither re-reads
/// the layers: the actions after see the headers the parser found.</para>
/// </remarks>
public static partial class PacketRewriter
{
    private const int IpProtoAt = 9, Ip6NextHeader = 6;

    /// <summary>Sets the ethertype after the VLAN tags (a PBB frame's I-tag TPID).</summary>
    public static void SetEthType(Span<byte> f, in PacketLayers l, ushort ethType)
    {
        int at = l.Pbb != PacketLayers.Absent ? l.Pbb : l.EthType;
        if ((uint)f.Length < (uint)(at + 2) || BinaryPrimitives.ReadUInt16BigEndian(f[at..]) < 0x0600) return;
        BinaryPrimitives.WriteUInt16BigEndian(f[at..], ethType);
    }

    /// <summary>Sets IPv4's protocol (header checksum fixed) or IPv6's last next header, and moves the transport
    /// checksum by the pseudo-header's change; no-op without IP.</summary>
    public static void SetIpProto(Span<byte> f, in PacketLayers l, byte proto)
    {
        int l3 = l.L3;
        byte old;
        if ((l.Flags & LayerFlags.Ipv4) != 0)
        {
            if ((uint)f.Length < (uint)(l3 + IpMinHeader)) return;
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + IpTtl)..]);
            ushort newWord = (ushort)((oldWord & 0xFF00) | proto);
            if (oldWord == newWord) return;
            old = (byte)oldWord;
            ushort c = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + IpCsum)..]);
            BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + IpCsum)..], Checksum.Update16(c, oldWord, newWord));
            f[l3 + IpProtoAt] = proto;
        }
        else if ((l.Flags & LayerFlags.Ipv6) != 0 && (uint)f.Length >= (uint)(l3 + Ip6Header))
        {
            int at = LastNextHeader(f, l3);
            old = f[at];
            if (old == proto) return;
            f[at] = proto;
        }
        else
        {
            return;
        }
        // The pseudo-header's protocol word is (0, protocol), in both IPv4's and IPv6's.
        FixPseudoHeaderChecksum(f, l, old, proto);
    }

    /// <summary>
    /// The offset of the next-header field that names the upper layer: the fixed header's, or that of the last extension
    /// header (hop-by-hop, routing, fragment, destination options, AH) inside the payload length and the frame.
    /// </summary>
    private static int LastNextHeader(ReadOnlySpan<byte> f, int l3)
    {
        int field = l3 + Ip6NextHeader, o = l3 + Ip6Header;
        int end = Math.Min(o + BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 4)..]), f.Length);
        while (o + 8 <= end)
        {
            int len = f[field] switch
            {
                PacketParser.NextHop or PacketParser.NextRouting or PacketParser.NextDest => (f[o + 1] + 1) * 8,
                PacketParser.NextFragment => 8,
                PacketParser.NextAuth => (f[o + 1] + 2) * 4,
                _ => 0,
            };
            if (len == 0) break;
            field = o;
            o += len;
        }
        return field;
    }
}
