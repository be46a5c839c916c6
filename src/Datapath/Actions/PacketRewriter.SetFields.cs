using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// The set-field rewrites beyond OpenFlow 1.0's: IP ECN, IPv6, ICMP/ICMPv6, neighbour discovery, ARP and SCTP ports.
/// </summary>
/// <remarks>
/// <para>Same rules as the OpenFlow 1.0 rewrites: an absent layer makes the action a no-op, the bytes touched are
/// checked against the frame, and checksums are updated incrementally (RFC 1624), never recomputed; SCTP's CRC32c too, by
/// the CRC of the change (it is linear), so a packet that arrived corrupt still fails its check. A first fragment's SCTP
/// port is set with its CRC left as it came (no fragment holds what the CRC covers).</para>
/// <list type="bullet">
/// <item>IPv6 addresses are covered by the TCP, UDP and ICMPv6 pseudo-header: changing one fixes that checksum (UDP's
/// 0 stays 0, a result of 0 is written 0xFFFF). The flow label and traffic class are covered by nothing.</item>
/// <item>ND target and link-layer options are inside the ICMPv6 message: its checksum is fixed. An SLL/TLL option the
/// message does not carry is not added (Open vSwitch's behaviour).</item>
/// </list>
/// </remarks>
public static partial class PacketRewriter
{
    // ---- IP DSCP/ECN, IPv6

    /// <summary>Sets the two ECN bits of IPv4's TOS (checksum fixed) or IPv6's traffic class.</summary>
    public static void SetIpEcn(Span<byte> f, in PacketLayers l, byte ecn)
    {
        ecn &= 3;
        int l3 = l.L3;
        if ((l.Flags & LayerFlags.Ipv4) != 0)
        {
            if ((uint)f.Length < (uint)(l3 + IpMinHeader)) return;
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(f[l3..]);
            ushort newWord = (ushort)((oldWord & ~3) | ecn);
            if (oldWord == newWord) return;
            ushort c = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + IpCsum)..]);
            BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + IpCsum)..], Checksum.Update16(c, oldWord, newWord));
            f[l3 + IpTos] = (byte)newWord;
        }
        else if ((l.Flags & LayerFlags.Ipv6) != 0 && (uint)f.Length >= (uint)(l3 + Ip6Header))
        {
            uint w = BinaryPrimitives.ReadUInt32BigEndian(f[l3..]);
            BinaryPrimitives.WriteUInt32BigEndian(f[l3..], (w & ~(3u << 20)) | ((uint)ecn << 20));
        }
    }

    /// <summary>IPv6 traffic class: DSCP bits from <paramref name="tos"/>, ECN kept.</summary>
    private static void SetIpv6Dscp(Span<byte> f, in PacketLayers l, byte tos)
    {
        int l3 = l.L3;
        if ((uint)f.Length < (uint)(l3 + Ip6Header)) return;
        uint w = BinaryPrimitives.ReadUInt32BigEndian(f[l3..]);
        BinaryPrimitives.WriteUInt32BigEndian(f[l3..], (w & ~(0xFCu << 20)) | ((uint)(tos & 0xFC) << 20));
    }

    /// <summary>The DSCP (6 bits) of an IPv4 or IPv6 packet, or -1 for other packets and truncated headers.</summary>
    public static int ReadDscp(ReadOnlySpan<byte> f, in PacketLayers l)
    {
        int l3 = l.L3;
        if ((l.Flags & LayerFlags.Ipv6) != 0)
        {
            if ((uint)f.Length < (uint)(l3 + Ip6Header)) return -1;
            return (int)((BinaryPrimitives.ReadUInt32BigEndian(f[l3..]) >> 22) & 0x3F);
        }
        if ((l.Flags & LayerFlags.Ipv4) == 0 || (uint)f.Length < (uint)(l3 + IpMinHeader)) return -1;
        return f[l3 + 1] >> 2;
    }

    /// <summary>Sets the IPv6 flow label (20 bits).</summary>
    public static void SetIpv6Flabel(Span<byte> f, in PacketLayers l, uint label)
    {
        int l3 = l.L3;
        if ((l.Flags & LayerFlags.Ipv6) == 0 || (uint)f.Length < (uint)(l3 + Ip6Header)) return;
        uint w = BinaryPrimitives.ReadUInt32BigEndian(f[l3..]);
        BinaryPrimitives.WriteUInt32BigEndian(f[l3..], (w & 0xFFF00000u) | (label & 0xFFFFF));
    }

    public static void SetIpv6Src(Span<byte> f, in PacketLayers l, UInt128 ip) => SetIpv6Addr(f, l, Ip6Src, ip);
    public static void SetIpv6Dst(Span<byte> f, in PacketLayers l, UInt128 ip) => SetIpv6Addr(f, l, Ip6Dst, ip);

    private static void SetIpv6Addr(Span<byte> f, in PacketLayers l, int field, UInt128 ip)
    {
        int l3 = l.L3;
        if ((l.Flags & LayerFlags.Ipv6) == 0 || (uint)f.Length < (uint)(l3 + Ip6Header)) return;
        Span<byte> addr = f.Slice(l3 + field, 16);
        ushort oldSum = Checksum.Sum(addr);
        BinaryPrimitives.WriteUInt128BigEndian(addr, ip);
        FixPseudoHeaderChecksum(f, l, oldSum, Checksum.Sum(addr));
    }

    /// <summary>Fixes the TCP/UDP/ICMPv6 checksum after covered bytes whose sum was <paramref name="oldSum"/> now sum to
    /// <paramref name="newSum"/> (the bytes must sit at an even distance from the covered start).</summary>
    private static void FixPseudoHeaderChecksum(Span<byte> f, in PacketLayers l, ushort oldSum, ushort newSum)
    {
        int l4 = l.L4;
        if (l4 == PacketLayers.Absent || oldSum == newSum) return;
        bool udp = (l.Flags & LayerFlags.Udp) != 0;
        int c;
        if ((l.Flags & LayerFlags.Tcp) != 0) c = l4 + TcpCsum;
        else if (udp) c = l4 + UdpCsum;
        else if ((l.Flags & LayerFlags.Icmpv6) != 0) c = l4 + IcmpCsum;
        else return;
        if ((uint)f.Length < (uint)(c + 2)) return;
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(f[c..]);
        if (udp && old == 0) return;
        ushort n = UpdateSums(old, oldSum, newSum);
        BinaryPrimitives.WriteUInt16BigEndian(f[c..], udp ? UdpNonZero(n) : n);
    }

    /// <summary>RFC 1624 eqn. 3 over a multi-word field given the sums of its old and new words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort UpdateSums(ushort oldCsum, ushort oldSum, ushort newSum)
    {
        uint s = (uint)(ushort)~oldCsum + (ushort)~oldSum + newSum;
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (ushort)~s;
    }

    // ---- ICMP / ICMPv6, ND

    /// <summary>Sets the ICMP or ICMPv6 type (<paramref name="code"/> false) or code, checksum fixed.</summary>
    public static void SetIcmpField(Span<byte> f, in PacketLayers l, bool code, byte value)
    {
        int l4 = l.L4;
        if (l4 == PacketLayers.Absent || (l.Flags & (LayerFlags.Icmp | LayerFlags.Icmpv6)) == 0) return;
        if ((uint)f.Length < (uint)(l4 + 4)) return;
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(f[l4..]);
        ushort newWord = code ? (ushort)((oldWord & 0xFF00) | value) : (ushort)((oldWord & 0xFF) | (value << 8));
        if (oldWord == newWord) return;
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(f[(l4 + IcmpCsum)..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[(l4 + IcmpCsum)..], Checksum.Update16(c, oldWord, newWord));
        BinaryPrimitives.WriteUInt16BigEndian(f[l4..], newWord);
    }

    /// <summary>Sets the target of a neighbour solicitation or advertisement, ICMPv6 checksum fixed.</summary>
    public static void SetNdTarget(Span<byte> f, in PacketLayers l, UInt128 target)
    {
        int l4 = l.L4;
        if (!IsNd(f, l)) return;
        Span<byte> t = f.Slice(l4 + 8, 16);
        ushort oldSum = Checksum.Sum(t);
        BinaryPrimitives.WriteUInt128BigEndian(t, target);
        FixPseudoHeaderChecksum(f, l, oldSum, Checksum.Sum(t));
    }

    /// <summary>Sets the address in the ND source (<paramref name="optionType"/> 1) or target (2) link-layer option of a
    /// solicitation or advertisement, ICMPv6 checksum fixed; no-op when the message has no such option.</summary>
    public static void SetNdLinkLayer(Span<byte> f, in PacketLayers l, int optionType, ulong mac)
    {
        if (!IsNd(f, l)) return;
        int end = Ipv6PayloadEnd(f, l);
        int o = l.L4 + 24;
        while (o + 8 <= end)
        {
            int len = f[o + 1] * 8;
            if (len == 0) return;   // malformed: a zero-length option
            if (f[o] == optionType && len == 8)
            {
                Span<byte> a = f.Slice(o + 2, 6);
                ushort oldSum = Checksum.Sum(a);
                BinaryPrimitives.WriteUInt16BigEndian(a, (ushort)(mac >> 32));
                BinaryPrimitives.WriteUInt32BigEndian(a[2..], (uint)mac);
                FixPseudoHeaderChecksum(f, l, oldSum, Checksum.Sum(a));
                return;
            }
            o += len;
        }
    }

    private static bool IsNd(ReadOnlySpan<byte> f, in PacketLayers l)
    {
        int l4 = l.L4;
        if (l4 == PacketLayers.Absent || (l.Flags & LayerFlags.Icmpv6) == 0 || (uint)f.Length < (uint)(l4 + 24)) return false;
        return f[l4] is 135 or 136;
    }

    private static int Ipv6PayloadEnd(ReadOnlySpan<byte> f, in PacketLayers l)
    {
        int end = l.L3 + Ip6Header + BinaryPrimitives.ReadUInt16BigEndian(f[(l.L3 + 4)..]);
        return Math.Min(end, f.Length);
    }

    // ---- ARP

    /// <summary>Writes <paramref name="size"/> (2, 4 or 6) low bytes of <paramref name="value"/> at <paramref name="field"/>
    /// of an Ethernet/IPv4 ARP header.</summary>
    public static void SetArpField(Span<byte> f, in PacketLayers l, int field, int size, ulong value)
    {
        int l3 = l.L3;
        if ((l.Flags & LayerFlags.Arp) == 0 || (uint)f.Length < (uint)(l3 + 28)) return;
        Span<byte> d = f.Slice(l3 + field, size);
        for (int i = size - 1; i >= 0; i--, value >>= 8) d[i] = (byte)value;
    }

    public const int ArpOp = 6, ArpSha = 8, ArpSpa = 14, ArpTha = 18, ArpTpa = 24;

    // ---- SCTP

    /// <summary>
    /// Sets an SCTP port and updates the CRC32c by the change alone (what the CRC of the packet changes by, from the two
    /// bytes and their distance to the packet's end), so a packet whose checksum was wrong stays wrong by as much, and
    /// one that was right stays right, without reading the payload. A first fragment gets its port and keeps the CRC it
    /// came with: the CRC covers the whole datagram, and how it changes depends on the datagram's length, which a first
    /// fragment does not tell, so no value written could be right. A later fragment holds no ports (no L4 layer).
    /// </summary>
    private static void SetSctpPort(Span<byte> f, in PacketLayers l, int field, ushort port)
    {
        int l4 = l.L4;
        int end = IpPayloadEnd(f, l);
        if ((uint)end < (uint)(l4 + 12)) return;
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(f[(l4 + field)..]);
        if (old == port) return;
        BinaryPrimitives.WriteUInt16BigEndian(f[(l4 + field)..], port);
        if ((l.Flags & LayerFlags.Fragment) != 0) return;
        Span<byte> crc = f.Slice(l4 + SctpCsum, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(crc, BinaryPrimitives.ReadUInt32LittleEndian(crc) ^ SctpCrcDelta((ushort)(old ^ port), end - (l4 + field + 2)));
    }

    /// <summary>
    /// What a CRC32c changes by when two bytes (<paramref name="delta"/>, big-endian, the XOR of old and new) change with
    /// <paramref name="after"/> bytes after them: the CRC is linear, so it is the raw CRC of the delta followed by that
    /// many zero bytes (the init and final XORs cancel), the zeros applied as one multiplication by x^(8 after) mod P.
    /// </summary>
    internal static uint SctpCrcDelta(ushort delta, int after)
    {
        uint c = BitOperations.Crc32C(BitOperations.Crc32C(0u, (byte)(delta >> 8)), (byte)delta);
        return MultiplyModP(XPow8n(after), c);
    }

    // GF(2) polynomials mod the CRC32c polynomial, bit-reflected (x^0 in the top bit), as zlib's crc32_combine does it.
    private const uint CrcPoly = 0x82F63B78;

    private static uint MultiplyModP(uint a, uint b)
    {
        uint product = 0;
        for (uint m = 1u << 31; m != 0; m >>= 1)
        {
            if ((a & m) != 0) product ^= b;
            b = (b & 1) != 0 ? (b >> 1) ^ CrcPoly : b >> 1;
        }
        return product;
    }

    /// <summary>x^(2^k) mod P for k = 0..31 (x^1 first).</summary>
    private static readonly uint[] s_x2k = MakeX2k();

    private static uint[] MakeX2k()
    {
        var t = new uint[32];
        t[0] = 1u << 30;
        for (int k = 1; k < 32; k++) t[k] = MultiplyModP(t[k - 1], t[k - 1]);
        return t;
    }

    /// <summary>x^(8 n) mod P.</summary>
    private static uint XPow8n(int n)
    {
        uint p = 1u << 31;
        for (int k = 3; n != 0; n >>= 1, k++)
        {
            if ((n & 1) != 0) p = MultiplyModP(s_x2k[k & 31], p);
        }
        return p;
    }

    private static int IpPayloadEnd(ReadOnlySpan<byte> f, in PacketLayers l)
    {
        int l3 = l.L3;
        if ((l.Flags & LayerFlags.Ipv4) != 0 && (uint)f.Length >= (uint)(l3 + 4))
            return Math.Min(l3 + BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 2)..]), f.Length);
        if ((l.Flags & LayerFlags.Ipv6) != 0 && (uint)f.Length >= (uint)(l3 + Ip6Header)) return Ipv6PayloadEnd(f, l);
        return 0;
    }
}
