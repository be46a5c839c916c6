using System.Buffers.Binary;
using System.Numerics;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// Open vSwitch's multipath: a hash of some of a packet's fields picks one of n links (ovs lib/multipath.c over
/// lib/flow.c flow_hash_fields), with Open vSwitch's hash functions (lib/jhash.c; lib/hash.h's portable hash_add and
/// hash_finish, the ones a build without SSE 4.2 uses, as Debian's does), so the same packet picks the same link as on
/// Open vSwitch.
/// </summary>
/// <remarks>
/// <para>Field sets (NX_HASH_FIELDS_*): <see cref="EthSrc"/> (jhash of eth_src), <see cref="SymmetricL4"/> (jhash of
/// Open vSwitch's struct of the Ethernet addresses, VLAN id, eth_type, IP addresses, protocol and TCP/SCTP ports, each
/// pair XORed), <see cref="SymmetricL3L4"/> and <see cref="SymmetricL3L4Udp"/> (hash_add of the XORed IP addresses,
/// the protocol and, unless a fragment, the TCP/SCTP (and UDP) ports; a packet that is not IP hashes as symmetric_l2),
/// <see cref="NwSrc"/>, <see cref="NwDst"/> (jhash of the address; the basis for a packet that is not IP),
/// <see cref="SymmetricL3"/> (jhash of the XORed addresses and eth_type). Algorithms (NX_MP_ALG_*): modulo_n,
/// hash_threshold, hrw (highest random weight; iter_hash past 64 links), iter_hash (arg: the modulus, rounded up to a
/// power of two when it does not fit).</para>
/// <para>Open vSwitch's structs are built byte for byte (network order, zero padding) in a stack buffer and read as
/// little-endian words, as jhash_bytes reads them on x86. Stateless; allocates nothing.</para>
/// </remarks>
public static class Multipath
{
    /// <summary>NX_HASH_FIELDS_* values.</summary>
    public const int EthSrc = 0, SymmetricL4 = 1, SymmetricL3L4 = 2, SymmetricL3L4Udp = 3, NwSrc = 4, NwDst = 5, SymmetricL3 = 6;
    /// <summary>NX_MP_ALG_* values.</summary>
    public const int ModuloN = 0, HashThreshold = 1, Hrw = 2, IterHash = 3;

    private const ushort Ipv4 = 0x0800, Ipv6 = 0x86DD;

    /// <summary>The link (below <paramref name="links"/>) a packet of key <paramref name="k"/> takes.</summary>
    public static ushort Link(in FlowKey k, int fields, ushort basis, int algorithm, int links, uint arg)
        => Pick(HashFields(k, fields, basis), algorithm, links, arg);

    /// <summary>Open vSwitch's flow_hash_fields.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public static uint HashFields(in FlowKey k, int fields, ushort basis)
    {
        ushort type = k.DlType;
        bool ip4 = type == Ipv4, ip6 = type == Ipv6;
        switch (fields)
        {
            case EthSrc:
            {
                Span<byte> mac = stackalloc byte[6];
                k.DlSrc.Write(mac);
                return JhashBytes(mac, basis);
            }
            case SymmetricL4:
                return SymmetricL4Hash(k, basis);
            case SymmetricL3L4 or SymmetricL3L4Udp:
                return SymmetricL3L4Hash(k, basis, fields == SymmetricL3L4Udp);
            case NwSrc or NwDst:
            {
                Span<byte> a = stackalloc byte[16];
                if (ip4)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(a, fields == NwSrc ? k.NwSrc : k.NwDst);
                    return JhashBytes(a[..4], basis);
                }
                if (!ip6) return basis;
                BinaryPrimitives.WriteUInt128BigEndian(a, fields == NwSrc ? k.Ipv6Src : k.Ipv6Dst);
                return JhashBytes(a, basis);
            }
            default: // SymmetricL3
            {
                // struct { union { be32; in6_addr }; be16 eth_type; } : 20 bytes with padding.
                Span<byte> s = stackalloc byte[20];
                s.Clear();
                BinaryPrimitives.WriteUInt16BigEndian(s[16..], type);
                if (ip4) BinaryPrimitives.WriteUInt32BigEndian(s, k.NwSrc ^ k.NwDst);
                else if (ip6) BinaryPrimitives.WriteUInt128BigEndian(s, k.Ipv6Src ^ k.Ipv6Dst);
                return JhashBytes(s, basis);
            }
        }
    }

    [System.Runtime.CompilerServices.SkipLocalsInit]
    private static uint SymmetricL4Hash(in FlowKey k, uint basis)
    {
        // struct { union { be32; in6_addr } (0); be16 eth_type (16); be16 vlan_tci (18); be16 tp_port (20);
        //          eth_addr (22); u8 ip_proto (28); } : 32 bytes with padding.
        Span<byte> s = stackalloc byte[32];
        s.Clear();
        ushort type = k.DlType;
        BinaryPrimitives.WriteUInt16BigEndian(s[16..], type);
        BinaryPrimitives.WriteUInt16BigEndian(s[18..], (ushort)(k.VlanVid & 0x0FFF));
        Span<byte> src = stackalloc byte[6], dst = stackalloc byte[6];
        k.DlSrc.Write(src);
        k.DlDst.Write(dst);
        for (int i = 0; i < 6; i++) s[22 + i] = (byte)(src[i] ^ dst[i]);
        if (type is Ipv4 or Ipv6)
        {
            if (type == Ipv4) BinaryPrimitives.WriteUInt32BigEndian(s, k.NwSrc ^ k.NwDst);
            else BinaryPrimitives.WriteUInt128BigEndian(s, k.Ipv6Src ^ k.Ipv6Dst);
            byte proto = k.NwProto;
            s[28] = proto;
            if (proto is 6 or 132) BinaryPrimitives.WriteUInt16BigEndian(s[20..], (ushort)(k.TpSrc ^ k.TpDst));
        }
        return JhashBytes(s, basis);
    }

    private static uint SymmetricL3L4Hash(in FlowKey k, uint basis, bool udp)
    {
        uint hash = basis;
        ushort type = k.DlType;
        if (type == Ipv4)
        {
            // The XORed big-endian addresses as the word in memory (hash_add's argument on a little-endian host).
            hash = HashAdd(hash, BinaryPrimitives.ReverseEndianness(k.NwSrc ^ k.NwDst));
        }
        else if (type == Ipv6)
        {
            UInt128 x = k.Ipv6Src ^ k.Ipv6Dst;
            hash = HashAdd64(hash, BinaryPrimitives.ReverseEndianness((ulong)(x >> 64)));
            hash = HashAdd64(hash, BinaryPrimitives.ReverseEndianness((ulong)x));
        }
        else
        {
            return SymmetricL2Hash(k, basis);
        }
        byte proto = k.NwProto;
        hash = HashAdd(hash, proto);
        if (k.NwFrag == 0 && (proto is 6 or 132 || (udp && proto == 17)))
            hash = HashAdd(hash, BinaryPrimitives.ReverseEndianness((ushort)(k.TpSrc ^ k.TpDst)));
        return HashFinish(hash, basis);
    }

    [System.Runtime.CompilerServices.SkipLocalsInit]
    private static uint SymmetricL2Hash(in FlowKey k, uint basis)
    {
        // words: { be16 eth_type; be16 vlan_tci }, eth_addr[0..3], { eth_addr[4..5]; be16 pad }.
        Span<byte> s = stackalloc byte[12];
        s.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(s, k.DlType);
        BinaryPrimitives.WriteUInt16BigEndian(s[2..], (ushort)(k.VlanVid & 0x0FFF));
        Span<byte> src = stackalloc byte[6], dst = stackalloc byte[6];
        k.DlSrc.Write(src);
        k.DlDst.Write(dst);
        for (int i = 0; i < 6; i++) s[4 + i] = (byte)(src[i] ^ dst[i]);
        uint hash = basis;
        for (int i = 0; i < 12; i += 4) hash = HashAdd(hash, BinaryPrimitives.ReadUInt32LittleEndian(s[i..]));
        return HashFinish(hash, basis);
    }

    /// <summary>Open vSwitch's multipath_algorithm: the link of <paramref name="hash"/> among <paramref name="links"/>.</summary>
    public static ushort Pick(uint hash, int algorithm, int links, uint arg)
    {
        switch (algorithm)
        {
            case ModuloN:
                return (ushort)(hash % (uint)links);
            case HashThreshold:
                return links == 1 ? (ushort)0 : (ushort)(hash / (uint.MaxValue / (uint)links + 1));
            case Hrw:
            {
                if (links > 64) return IterHashPick(hash, links, 0);
                ushort best = 0;
                uint bestWeight = Hash2Words(hash, 0);
                for (uint link = 1; link < (uint)links; link++)
                {
                    uint w = Hash2Words(hash, link);
                    if (w > bestWeight)
                    {
                        best = (ushort)link;
                        bestWeight = w;
                    }
                }
                return best;
            }
            default:
                return IterHashPick(hash, links, arg);
        }
    }

    private static ushort IterHashPick(uint hash, int links, uint modulo)
    {
        if (modulo < (uint)links || modulo / 2 > (uint)links) modulo = BitOperations.RoundUpToPowerOf2((uint)links);
        uint i = 0, link;
        do
        {
            link = Hash2Words(hash, i++) % modulo;
        }
        while (link >= (uint)links);
        return (ushort)link;
    }

    // lib/hash.h without SSE 4.2: murmur3's mixing.
    private static uint HashAdd(uint hash, uint data)
    {
        if (data != 0)
        {
            data *= 0xcc9e2d51;
            data = BitOperations.RotateLeft(data, 15);
            data *= 0x1b873593;
            hash ^= data;
        }
        hash = BitOperations.RotateLeft(hash, 13);
        return hash * 5 + 0xe6546b64;
    }

    private static uint HashAdd64(uint hash, ulong data) => HashAdd(HashAdd(hash, (uint)data), (uint)(data >> 32));

    private static uint HashFinish(uint hash, uint final)
    {
        hash ^= final;
        hash ^= hash >> 16;
        hash *= 0x85ebca6b;
        hash ^= hash >> 13;
        hash *= 0xc2b2ae35;
        hash ^= hash >> 16;
        return hash;
    }

    internal static uint Hash2Words(uint x, uint y) => HashFinish(HashAdd(HashAdd(x, 0), y), 8);

    // lib/jhash.c: Bob Jenkins' lookup3 over bytes read as little-endian words.
    internal static uint JhashBytes(ReadOnlySpan<byte> p, uint basis)
    {
        uint a, b, c;
        a = b = c = 0xdeadbeef + (uint)p.Length + basis;
        while (p.Length >= 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(p);
            b += BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(p[8..]);
            Mix(ref a, ref b, ref c);
            p = p[12..];
        }
        if (!p.IsEmpty)
        {
            Span<byte> tail = stackalloc byte[12];
            tail.Clear();
            p.CopyTo(tail);
            a += BinaryPrimitives.ReadUInt32LittleEndian(tail);
            b += BinaryPrimitives.ReadUInt32LittleEndian(tail[4..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(tail[8..]);
            Final(ref a, ref b, ref c);
        }
        return c;
    }

    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
    }

    private static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
    }
}
