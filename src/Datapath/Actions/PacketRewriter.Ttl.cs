using System.Buffers.Binary;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// The TTL copies (OpenFlow 1.3.5 section 5.12, OFPAT_COPY_TTL_OUT and OFPAT_COPY_TTL_IN).
/// </summary>
/// <remarks>
/// <para>The "outermost header with a TTL" is the top MPLS entry; the next-to-outermost is the second entry of a deeper
/// stack, or the IPv4/IPv6 header under a one-entry stack. The parser stops at a label stack, so a received MPLS packet
/// has no network-layer offset: under the bottom entry the header is recognised, as the stack does not say, by its
/// version nibble (4 with an IHL of at least 5, or 6) and its length in the frame. Copying into IPv4 fixes its header
/// checksum. Without MPLS both copies are no-ops (IP-in-IP is not parsed).</para>
/// </remarks>
public static partial class PacketRewriter
{
    /// <summary>Copies the TTL of the next-to-outermost header (the second MPLS entry, or IP under a single entry) to the
    /// top MPLS entry; no-op without MPLS.</summary>
    public static void CopyTtlOut(Span<byte> f, in PacketLayers l)
    {
        int m = l.Mpls;
        if (m == PacketLayers.Absent || (uint)f.Length < (uint)(m + MplsEntrySize)) return;
        if (l.MplsDepth > 1)
        {
            if ((uint)f.Length >= (uint)(m + 2 * MplsEntrySize)) f[m + 3] = f[m + 7];
            return;
        }
        int ttlAt = IpUnderMpls(f, l, out _);
        if (ttlAt >= 0) f[m + 3] = f[ttlAt];
    }

    /// <summary>Copies the top MPLS entry's TTL to the next-to-outermost header (the second entry, or IP under a single
    /// entry, IPv4's checksum fixed); no-op without MPLS.</summary>
    public static void CopyTtlIn(Span<byte> f, in PacketLayers l)
    {
        int m = l.Mpls;
        if (m == PacketLayers.Absent || (uint)f.Length < (uint)(m + MplsEntrySize)) return;
        if (l.MplsDepth > 1)
        {
            if ((uint)f.Length >= (uint)(m + 2 * MplsEntrySize)) f[m + 7] = f[m + 3];
            return;
        }
        int ttlAt = IpUnderMpls(f, l, out int ipv4);
        if (ttlAt < 0) return;
        if (ipv4 >= 0) WriteIpv4Ttl(f, ipv4, f[m + 3]);
        else f[ttlAt] = f[m + 3];
    }

    /// <summary>
    /// The offset of the TTL (hop limit) of the IP header under a one-entry MPLS stack, or -1; <paramref name="ipv4"/>
    /// is that header's offset when it is IPv4 (its TTL write fixes the checksum), else -1.
    /// </summary>
    private static int IpUnderMpls(ReadOnlySpan<byte> f, in PacketLayers l, out int ipv4)
    {
        ipv4 = -1;
        int ip = l.L3;
        if (ip != PacketLayers.Absent)
        {
            if ((l.Flags & LayerFlags.Ipv4) != 0 && (uint)f.Length >= (uint)(ip + IpMinHeader))
            {
                ipv4 = ip;
                return ip + IpTtl;
            }
            if ((l.Flags & LayerFlags.Ipv6) != 0 && (uint)f.Length >= (uint)(ip + Ip6Header)) return ip + Ip6HopLimit;
            return -1;
        }
        ip = l.Mpls + MplsEntrySize;
        if ((uint)f.Length <= (uint)ip) return -1;
        int version = f[ip] >> 4;
        if (version == 4 && (f[ip] & 0x0F) >= 5 && (uint)f.Length >= (uint)(ip + IpMinHeader))
        {
            ipv4 = ip;
            return ip + IpTtl;
        }
        if (version == 6 && (uint)f.Length >= (uint)(ip + Ip6Header)) return ip + Ip6HopLimit;
        return -1;
    }

    /// <summary>Writes the TTL of the IPv4 header at <paramref name="l3"/> (at least 20 bytes in the frame), checksum fixed.</summary>
    private static void WriteIpv4Ttl(Span<byte> f, int l3, byte ttl)
    {
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + IpTtl)..]);
        ushort newWord = (ushort)((ttl << 8) | (oldWord & 0xFF));
        if (oldWord == newWord) return;
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + IpCsum)..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + IpCsum)..], Checksum.Update16(c, oldWord, newWord));
        f[l3 + IpTtl] = ttl;
    }
}
