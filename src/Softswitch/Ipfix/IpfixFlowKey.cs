using System.Buffers.Binary;
using System.Text;

namespace Softswitch.Ipfix;

/// <summary>A port as an IPFIX record names it: the kernel's ifindex of its interface (0: none, as Open vSwitch) and
/// its name (UTF-8, at most 64 bytes, as Open vSwitch's MAX_IF_NAME_LEN).</summary>
internal sealed class IpfixPort
{
    public const int MaxNameSize = 64;

    public IpfixPort(uint ifIndex, string name)
    {
        IfIndex = ifIndex;
        var bytes = Encoding.UTF8.GetBytes(name);
        Name = bytes.Length > MaxNameSize ? bytes[..MaxNameSize] : bytes;
    }

    public uint IfIndex { get; }
    public byte[] Name { get; }

    /// <summary>What a record says of a port it does not know: all zeros, as Open vSwitch writes it.</summary>
    public static readonly IpfixPort Unknown = new(0, "");
}

/// <summary>What the flow key of a sample says besides its bytes: the template, and what the counts need.</summary>
/// <param name="KeyLength">Bytes of the key (the template id's two included).</param>
/// <param name="EthHeaderLength">14, or 18 with a VLAN tag (Open vSwitch's ethernetHeaderLength).</param>
/// <param name="TcpFlags">The TCP header's flags byte (0 unless TCP).</param>
/// <param name="Bfd">A BFD control or echo packet (UDP to port 3784 or 3785): Open vSwitch does not sample those.</param>
internal readonly record struct IpfixKeyInfo(IpfixTemplate Template, int KeyLength, int EthHeaderLength, byte TcpFlags, bool Broadcast, bool Multicast, bool Bfd);

/// <summary>
/// The flow key of a sampled frame (its first bytes, as the datapath's sampler keeps them), as Open vSwitch's
/// ipfix_cache_entry_init writes it into a record: the template id (two bytes, so keys of two templates never
/// compare equal), then the key fields of that template (see <see cref="IpfixTemplate"/>) in wire form. The cache
/// compares keys as bytes and a record copies them as they are.
/// </summary>
/// <remarks>
/// Parsing follows Open vSwitch's flow extraction where the record shows it: up to two VLAN tags (the first one's VLAN
/// id and priority are reported, ethernetType is the type after the tags); a length instead of a type (802.3) reads as
/// 0x05FF; IPv6 extension headers (hop-by-hop, routing, destination options, AH, fragment) are skipped; a fragment
/// other than the first, or a header cut short (the sample holds 128 bytes), reports ports 0. An IPv4 or IPv6 header
/// cut short reports its IP fields as 0 under the IP template.
/// </remarks>
internal static class IpfixFlowKey
{
    /// <summary>The longest key: template id, the common part, two interfaces with the longest names, a VLAN, IPv6, ports.</summary>
    public const int MaxSize = 2 + 20 + 2 * (4 + 4 + 1 + IpfixPort.MaxNameSize + 1) + 5 + 6 + 36 + 4;

    /// <summary>
    /// Writes the key of a frame whose first bytes are <paramref name="header"/> into <paramref name="key"/> (at least
    /// <see cref="MaxSize"/> bytes); <paramref name="egress"/> null: an ingress record. False when the frame is
    /// shorter than an Ethernet header.
    /// </summary>
    public static bool TryWrite(ReadOnlySpan<byte> header, uint obsPointId, IpfixPort ingress, IpfixPort? egress, Span<byte> key, out IpfixKeyInfo info)
    {
        info = default;
        if (header.Length < 14) return false;
        int off = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(header[off..]);
        bool vlan = false;
        ushort tci = 0;
        for (int tags = 0; tags < 2 && type is (0x8100 or 0x88A8) && header.Length >= off + 6; tags++)
        {
            if (!vlan) tci = BinaryPrimitives.ReadUInt16BigEndian(header[(off + 2)..]);
            vlan = true;
            off += 4;
            type = BinaryPrimitives.ReadUInt16BigEndian(header[off..]);
        }
        off += 2;
        if (type < 0x600) type = 0x05FF;
        int ethHeader = vlan ? 18 : 14;

        var l3 = type switch { 0x0800 => IpfixL3.Ipv4, 0x86DD => IpfixL3.Ipv6, _ => IpfixL3.Unknown };
        byte tos = 0, ttl = 0, proto = 0;
        uint label = 0;
        int addrAt = -1, l4At = -1;
        if (l3 == IpfixL3.Ipv4 && header.Length >= off + 20 && header[off] >> 4 == 4 && (header[off] & 0xF) >= 5)
        {
            tos = header[off + 1];
            ttl = header[off + 8];
            proto = header[off + 9];
            addrAt = off + 12;
            bool later = (BinaryPrimitives.ReadUInt16BigEndian(header[(off + 6)..]) & 0x1FFF) != 0;
            if (!later) l4At = off + (header[off] & 0xF) * 4;
        }
        else if (l3 == IpfixL3.Ipv6 && header.Length >= off + 40 && header[off] >> 4 == 6)
        {
            uint first = BinaryPrimitives.ReadUInt32BigEndian(header[off..]);
            tos = (byte)(first >> 20);
            label = first & 0xFFFFF;
            proto = header[off + 6];
            ttl = header[off + 7];
            addrAt = off + 8;
            int p = off + 40;
            bool later = false;
            while (proto is (0 or 43 or 60 or 51 or 44) && header.Length >= p + 8)
            {
                byte next = header[p];
                if (proto == 44)
                {
                    later |= (BinaryPrimitives.ReadUInt16BigEndian(header[(p + 2)..]) & 0xFFF8) != 0;
                    p += 8;
                }
                else
                {
                    p += proto == 51 ? (header[p + 1] + 2) * 4 : (header[p + 1] + 1) * 8;
                }
                proto = next;
            }
            if (!later && proto is not (0 or 43 or 60 or 51 or 44)) l4At = p;
        }
        var l4 = IpfixL4.Unknown;
        if (l3 != IpfixL3.Unknown)
        {
            l4 = proto switch
            {
                6 => IpfixL4.Tcp,
                17 => IpfixL4.Udp,
                132 => IpfixL4.Sctp,
                1 when l3 == IpfixL3.Ipv4 => IpfixL4.Icmp,
                58 when l3 == IpfixL3.Ipv6 => IpfixL4.Icmp,
                _ => IpfixL4.Unknown,
            };
        }
        var template = new IpfixTemplate(vlan, l3, l4, egress is not null);

        var w = new Writer(key);
        w.U16(template.Id);
        w.U32(obsPointId);
        w.U8(egress is null ? (byte)0 : (byte)1);
        w.Bytes(header.Slice(6, 6));
        w.Bytes(header[..6]);
        w.U16(type);
        w.U8((byte)ethHeader);
        w.Port(ingress);
        if (egress is not null) w.Port(egress);
        if (vlan)
        {
            w.U16((ushort)(tci & 0xFFF));
            w.U16((ushort)(tci & 0xFFF));
            w.U8((byte)(tci >> 13));
        }
        byte tcpFlags = 0;
        bool bfd = false;
        if (l3 != IpfixL3.Unknown)
        {
            w.U8(l3 == IpfixL3.Ipv4 ? (byte)4 : (byte)6);
            w.U8(ttl);
            w.U8(proto);
            w.U8((byte)(tos >> 2));
            w.U8((byte)(tos >> 5));
            w.U8(tos);
            int addrSize = l3 == IpfixL3.Ipv4 ? 4 : 16;
            if (addrAt >= 0) w.Bytes(header.Slice(addrAt, 2 * addrSize));
            else w.Zeros(2 * addrSize);
            if (l3 == IpfixL3.Ipv6) w.U32(label);
            if (template.HasPorts)
            {
                bool have = l4At >= 0 && header.Length >= l4At + 4;
                ushort src = have ? BinaryPrimitives.ReadUInt16BigEndian(header[l4At..]) : (ushort)0;
                ushort dst = have ? BinaryPrimitives.ReadUInt16BigEndian(header[(l4At + 2)..]) : (ushort)0;
                w.U16(src);
                w.U16(dst);
                bfd = l4 == IpfixL4.Udp && dst is (3784 or 3785);
                if (l4 == IpfixL4.Tcp && l4At >= 0 && header.Length >= l4At + 14) tcpFlags = header[l4At + 13];
            }
            else if (l4 == IpfixL4.Icmp)
            {
                bool have = l4At >= 0 && header.Length >= l4At + 2;
                w.U8(have ? header[l4At] : (byte)0);
                w.U8(have ? header[l4At + 1] : (byte)0);
            }
        }
        bool broadcast = header[..6].IndexOfAnyExcept((byte)0xFF) < 0;
        info = new IpfixKeyInfo(template, w.Length, ethHeader, tcpFlags, broadcast, !broadcast && (header[0] & 1) != 0, bfd);
        return true;
    }

    /// <summary>Writes wire-form numbers into a span.</summary>
    private ref struct Writer(Span<byte> buf)
    {
        private readonly Span<byte> _buf = buf;
        public int Length;

        public void U8(byte v) => _buf[Length++] = v;

        public void U16(ushort v)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_buf[Length..], v);
            Length += 2;
        }

        public void U32(uint v)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_buf[Length..], v);
            Length += 4;
        }

        public void Bytes(ReadOnlySpan<byte> v)
        {
            v.CopyTo(_buf[Length..]);
            Length += v.Length;
        }

        public void Zeros(int n)
        {
            _buf.Slice(Length, n).Clear();
            Length += n;
        }

        /// <summary>An interface: ifindex, type (0: Open vSwitch reads it from DPDK devices only), name, description (empty).</summary>
        public void Port(IpfixPort p)
        {
            U32(p.IfIndex);
            U32(0);
            U8((byte)p.Name.Length);
            Bytes(p.Name);
            U8(0);
        }
    }
}
