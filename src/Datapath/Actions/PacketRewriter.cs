using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// The header-changing actions as byte rewrites of one frame (set-field, VLAN, MPLS and PBB tags, TTLs), keeping
/// every checksum valid.
/// </summary>
/// <remarks>
/// Each method takes the frame and the <see cref="PacketLayers"/> the parser produced for it and patches bytes in
/// place; checksums are updated by the change, never recomputed; the <see cref="Flow.FlowKey"/> is not touched. A
/// rewrite whose layer is absent does nothing, and each method checks the frame is long enough for the bytes it
/// touches, so a stale layers value cannot make it throw. Pushes and pops take the <see cref="PacketPool"/> buffer and
/// move the layer offsets behind the change. Stateless, thread-safe per frame, never allocates.
/// Design and OpenFlow 1.0 semantics: docs/datapath.md, "Actions".
/// </remarks>
public static partial class PacketRewriter
{
    public const int VlanTagSize = 4;
    private const int MacPairSize = 12;
    private const int EthHeaderSize = 14;
    private const ushort TpidVlan = 0x8100;

    // IPv4 header field offsets.
    private const int IpTos = 1, IpCsum = 10, IpSrc = 12, IpDst = 16, IpMinHeader = 20;
    // L4 checksum offsets.
    private const int TcpCsum = 16, UdpCsum = 6;

    /// <summary>Sets the Ethernet source address (MAC in <see cref="Flow.MacAddress"/> layout: low 48 bits, first byte most significant).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetDlSrc(Span<byte> frame, ulong mac) => WriteMac(frame, 6, mac);

    /// <summary>Sets the Ethernet destination address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetDlDst(Span<byte> frame, ulong mac) => WriteMac(frame, 0, mac);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteMac(Span<byte> frame, int offset, ulong mac)
    {
        if ((uint)frame.Length < (uint)MacPairSize) return;
        ref byte f = ref MemoryMarshal.GetReference(frame);
        BigEndian.Write16(ref f, offset, (ushort)(mac >> 32));
        BigEndian.Write32(ref f, offset + 2, (uint)mac);
    }

    /// <summary>Sets the IPv4 source address (host-order value) and fixes the IPv4 and TCP/UDP checksums.</summary>
    public static void SetNwSrc(Span<byte> frame, in PacketLayers layers, uint ip) => SetNwAddr(frame, layers, IpSrc, ip);

    /// <summary>Sets the IPv4 destination address (host-order value) and fixes the IPv4 and TCP/UDP checksums.</summary>
    public static void SetNwDst(Span<byte> frame, in PacketLayers layers, uint ip) => SetNwAddr(frame, layers, IpDst, ip);

    private static void SetNwAddr(Span<byte> frame, in PacketLayers layers, int field, uint newAddr)
    {
        if ((layers.Flags & LayerFlags.Ipv4) == 0) return;
        int l3 = layers.L3;
        if ((uint)frame.Length < (uint)(l3 + IpMinHeader)) return;
        // Each access below is inside a range checked against frame.Length just before it.
        ref byte f = ref MemoryMarshal.GetReference(frame);
        uint oldAddr = BigEndian.Read32(ref f, l3 + field);
        if (oldAddr == newAddr) return;

        int l4 = layers.L4;
        if (l4 != PacketLayers.Absent)
        {
            if ((layers.Flags & LayerFlags.Tcp) != 0)
            {
                int c = l4 + TcpCsum;
                if ((uint)frame.Length >= (uint)(c + 2))
                    BigEndian.Write16(ref f, c, Checksum.Update32(BigEndian.Read16(ref f, c), oldAddr, newAddr));
            }
            else if ((layers.Flags & LayerFlags.Udp) != 0)
            {
                int c = l4 + UdpCsum;
                if ((uint)frame.Length >= (uint)(c + 2))
                {
                    ushort old = BigEndian.Read16(ref f, c);
                    if (old != 0) BigEndian.Write16(ref f, c, UdpNonZero(Checksum.Update32(old, oldAddr, newAddr)));
                }
            }
        }
        BigEndian.Write16(ref f, l3 + IpCsum, Checksum.Update32(BigEndian.Read16(ref f, l3 + IpCsum), oldAddr, newAddr));
        BigEndian.Write32(ref f, l3 + field, newAddr);
    }

    /// <summary>Sets the DSCP bits of the IPv4 TOS byte to those of <paramref name="tos"/> (its low two bits are
    /// ignored), keeps the ECN bits, and fixes the header checksum.</summary>
    public static void SetNwTos(Span<byte> frame, in PacketLayers layers, byte tos)
    {
        if ((layers.Flags & LayerFlags.Ipv6) != 0)
        {
            SetIpv6Dscp(frame, layers, tos);
            return;
        }
        if ((layers.Flags & LayerFlags.Ipv4) == 0) return;
        int l3 = layers.L3;
        if ((uint)frame.Length < (uint)(l3 + IpMinHeader)) return;
        ref byte ip = ref Unsafe.Add(ref MemoryMarshal.GetReference(frame), l3);
        byte oldTos = Unsafe.Add(ref ip, IpTos);
        byte newTos = (byte)((tos & 0xFC) | (oldTos & 0x03));
        if (oldTos == newTos) return;
        // TOS is the low byte of the 16-bit word at offset 0 (version/IHL is the high byte).
        ushort hi = (ushort)(ip << 8);
        BigEndian.Write16(ref ip, IpCsum, Checksum.Update16(BigEndian.Read16(ref ip, IpCsum), (ushort)(hi | oldTos), (ushort)(hi | newTos)));
        Unsafe.Add(ref ip, IpTos) = newTos;
    }

    /// <summary>Sets the TCP/UDP/SCTP source port and fixes the L4 checksum; no-op for other protocols.</summary>
    public static void SetTpSrc(Span<byte> frame, in PacketLayers layers, ushort port) => SetTpPort(frame, layers, 0, port);

    /// <summary>Sets the TCP/UDP destination port and fixes the L4 checksum; no-op for other protocols.</summary>
    public static void SetTpDst(Span<byte> frame, in PacketLayers layers, ushort port) => SetTpPort(frame, layers, 2, port);

    private static void SetTpPort(Span<byte> frame, in PacketLayers layers, int field, ushort newPort)
    {
        int l4 = layers.L4;
        if (l4 == PacketLayers.Absent) return;
        int csum;
        if ((layers.Flags & (LayerFlags.Tcp | LayerFlags.Udp)) == 0)
        {
            if ((layers.Flags & LayerFlags.Sctp) != 0) SetSctpPort(frame, layers, field, newPort);
            return;
        }
        csum = (layers.Flags & LayerFlags.Tcp) != 0 ? TcpCsum : UdpCsum;
        if ((uint)frame.Length < (uint)(l4 + csum + 2)) return;
        ref byte h = ref Unsafe.Add(ref MemoryMarshal.GetReference(frame), l4);
        ushort oldPort = BigEndian.Read16(ref h, field);
        if (oldPort == newPort) return;
        ushort oldCsum = BigEndian.Read16(ref h, csum);
        if (csum == TcpCsum)
            BigEndian.Write16(ref h, csum, Checksum.Update16(oldCsum, oldPort, newPort));
        else if (oldCsum != 0)
            BigEndian.Write16(ref h, csum, UdpNonZero(Checksum.Update16(oldCsum, oldPort, newPort)));
        BigEndian.Write16(ref h, field, newPort);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort UdpNonZero(ushort csum) => csum == 0 ? (ushort)0xFFFF : csum;

    /// <summary>
    /// Sets the VLAN id of a tagged frame (keeping PCP and CFI), or pushes a tag with this id and PCP 0 onto an
    /// untagged one. Returns false, leaving the frame unchanged, when a push finds no headroom or a frame shorter
    /// than an Ethernet header.
    /// </summary>
    public static bool PushOrSetVlanVid(PacketPool pool, int p, ref PacketLayers layers, ushort vid)
    {
        vid &= 0x0FFF;
        if (layers.Vlan == PacketLayers.Absent) return PushTag(pool, p, ref layers, vid);
        Span<byte> f = pool.Frame(p);
        int t = layers.Vlan + 2;
        if ((uint)f.Length < (uint)(t + 2)) return false;
        ushort tci = BinaryPrimitives.ReadUInt16BigEndian(f[t..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[t..], (ushort)((tci & 0xF000) | vid));
        return true;
    }

    /// <summary>
    /// Sets the VLAN priority of a tagged frame (keeping the id and CFI), or pushes a tag with this priority and
    /// id 0 onto an untagged one. Returns false as <see cref="PushOrSetVlanVid"/> does.
    /// </summary>
    public static bool PushOrSetVlanPcp(PacketPool pool, int p, ref PacketLayers layers, byte pcp)
    {
        ushort bits = (ushort)((pcp & 0x7) << 13);
        if (layers.Vlan == PacketLayers.Absent) return PushTag(pool, p, ref layers, bits);
        Span<byte> f = pool.Frame(p);
        int t = layers.Vlan + 2;
        if ((uint)f.Length < (uint)(t + 2)) return false;
        ushort tci = BinaryPrimitives.ReadUInt16BigEndian(f[t..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[t..], (ushort)((tci & 0x1FFF) | bits));
        return true;
    }

    private static bool PushTag(PacketPool pool, int p, ref PacketLayers layers, ushort tci)
        => InsertTag(pool, p, ref layers, TpidVlan, tci);

    /// <summary>Removes the outer VLAN tag; no-op on an untagged frame. A tag under it becomes the outer one (the
    /// parser stops at a second tag's TPID: the ethertype is then the one after the new outer tag).</summary>
    public static void StripVlan(PacketPool pool, int p, ref PacketLayers layers)
    {
        int vlan = layers.Vlan;
        if (vlan == PacketLayers.Absent) return;
        Span<byte> f = pool.Frame(p);
        if ((uint)f.Length < (uint)(vlan + VlanTagSize + 2)) return;
        Remove(pool, p, ref layers, vlan, VlanTagSize);
        layers.Vlan = PacketLayers.Absent;
        layers.Flags &= ~LayerFlags.ServiceTag;
        f = pool.Frame(p);
        if (layers.EthType > vlan)
        {
            ushort tpid = BinaryPrimitives.ReadUInt16BigEndian(f[vlan..]);
            if (tpid is TpidVlan or TpidServiceTag)
            {
                layers.Vlan = (ushort)vlan;
                if (tpid == TpidServiceTag) layers.Flags |= LayerFlags.ServiceTag;
            }
        }
        else if (layers.EthType == vlan && (uint)f.Length >= (uint)(vlan + VlanTagSize + 2))
        {
            ushort tpid = BinaryPrimitives.ReadUInt16BigEndian(f[vlan..]);
            if (tpid is TpidVlan or TpidServiceTag)
            {
                layers.Vlan = (ushort)vlan;
                layers.EthType = (ushort)(vlan + VlanTagSize);
                if (tpid == TpidServiceTag) layers.Flags |= LayerFlags.ServiceTag;
            }
        }
    }
}
