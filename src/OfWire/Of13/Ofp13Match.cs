using System.Buffers.Binary;

namespace Softswitch.OfWire.Of13;

/// <summary>
/// One OXM TLV: field number (OFPXMT_OFB_* for class OPENFLOW_BASIC; Open vSwitch's registers past them, see
/// <see cref="Ofp13Match.NxReg0"/>), value and mask in host order (the field's bytes, big-endian, in the low bits),
/// <see cref="HasMask"/> as the TLV's hasmask bit. Without a mask, <see cref="Mask"/> is the field's all-ones.
/// </summary>
public readonly record struct Ofp13Oxm(byte Field, bool HasMask, UInt128 Value, UInt128 Mask)
{
    /// <summary>An exact field (no mask).</summary>
    public static Ofp13Oxm Exact(byte field, UInt128 value) => new(field, false, value, Ofp13Match.AllOnes(field));
}

/// <summary>
/// ofp_match of type OFPMT_OXM (OpenFlow 1.3.5 section 7.2.3) and the OXM TLVs in it and in set-field actions.
/// </summary>
/// <remarks>
/// <para>Decoding checks what the wire alone can tell, with OFPET_BAD_MATCH's codes: the match type (BAD_TYPE), lengths
/// (BAD_LEN: a TLV whose length is not its field's, a match longer than its message), the class and field (BAD_FIELD:
/// OPENFLOW_BASIC's 40 fields, and Open vSwitch's registers: NXM_NX_REG0-15 of class NXM_1 (0x0001) fields 0-15,
/// NXM_NX_XXREG0-3 of the same class fields 111-114, OXM_OF_PKT_REG0-7 of class 0x8001, numbered here
/// <see cref="NxReg0"/>.., <see cref="NxXxReg0"/>.., <see cref="PktReg0"/>..; conj_id, ip_frag, ip_ttl, tcp_flags,
/// pkt_mark, dp_hash and the IPv4 tunnel endpoints of class NXM_1, <see cref="NxConjId"/>, <see cref="NxIpFrag"/>, <see cref="NxIpTtl"/>,
/// <see cref="NxTcpFlags"/>, <see cref="NxPktMark"/>, <see cref="NxDpHash"/>, <see cref="NxTunSrc"/>, <see cref="NxTunDst"/>; OpenFlow 1.5's TCP_FLAGS and
/// ACTSET_OUTPUT, and ONF's experimenter forms of them, whose TLVs carry the experimenter id after the header:
/// <see cref="OnfTcpFlags"/>, <see cref="OnfActsetOutput"/>), a mask where table 12 allows none (BAD_MASK), value bits outside the mask
/// (BAD_WILDCARDS, as section 7.2.3.5 asks). Duplicates and prerequisites are the agent's (they need the whole match).
/// The order of the TLVs is kept, so a decoded match re-encodes to its bytes.</para>
/// <para>Stateless; the lists are the caller's.</para>
/// </remarks>
public static class Ofp13Match
{
    /// <summary>The number of OPENFLOW_BASIC fields (in_port .. ipv6_exthdr).</summary>
    public const int FieldCount = 40;

    // Bytes of each field's value, by field number (OpenFlow 1.3.5 table 12).
    private static ReadOnlySpan<byte> Lengths =>
    [
        4, 4, 8, 6, 6, 2, 2, 1, 1, 1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 1,
        1, 2, 4, 4, 6, 6, 16, 16, 4, 1, 1, 16, 6, 6, 4, 1, 1, 3, 8, 2,
    ];

    // Fields that may carry a mask: metadata, eth_dst/src, vlan_vid, ipv4 src/dst, arp spa/tpa/sha/tha, ipv6 src/dst/flabel,
    // pbb_isid, tunnel_id, ipv6_exthdr.
    private const ulong MaskableFields = (1UL << 2) | (1UL << 3) | (1UL << 4) | (1UL << 6) | (1UL << 11) | (1UL << 12) | (1UL << 22)
        | (1UL << 23) | (1UL << 24) | (1UL << 25) | (1UL << 26) | (1UL << 27) | (1UL << 28) | (1UL << 37) | (1UL << 38) | (1UL << 39);

    /// <summary>The field numbers of Open vSwitch's registers (not OPENFLOW_BASIC's): reg0-15, xreg0-7 (OXM_OF_PKT_REG), xxreg0-3.</summary>
    public const byte NxReg0 = 64, PktReg0 = 80, NxXxReg0 = 88, LastRegister = 91;
    /// <summary>The field number of Open vSwitch's conj_id (NXM_NX_CONJ_ID: class NXM_1, field 37, 4 bytes, no mask).</summary>
    public const byte NxConjId = 92;
    /// <summary>NXM_NX_CONJ_ID's field number in class NXM_1.</summary>
    public const byte NxmConjIdField = 37;
    /// <summary>The field number of Open vSwitch's ip_frag (NXM_NX_IP_FRAG: class NXM_1, field 26, 1 byte, maskable; no OXM of its own).</summary>
    public const byte NxIpFrag = 93;
    /// <summary>NXM_NX_IP_FRAG's field number in class NXM_1.</summary>
    public const byte NxmIpFragField = 26;
    /// <summary>OXM classes of the registers: NXM_1 (Nicira's NXM_NX_*) and OFPXMC_PKT_REGS.</summary>
    public const ushort ClassNxm1 = 0x0001, ClassPktRegs = 0x8001;
    /// <summary>OFPXMC_EXPERIMENTER, whose TLVs carry a 32-bit experimenter id after the header (counted in the length).</summary>
    public const ushort ClassExperimenter = 0xffff;
    /// <summary>The ONF's experimenter id (ONF_EXPERIMENTER_ID), under which OpenFlow 1.3 has 1.5's TCP_FLAGS and ACTSET_OUTPUT.</summary>
    public const uint OnfExperimenter = 0x4f4e4600;

    /// <summary>OpenFlow 1.5's OXM_OF_TCP_FLAGS (OPENFLOW_BASIC field 42, 2 bytes, maskable) and OXM_OF_ACTSET_OUTPUT (43, 4 bytes, no mask).</summary>
    public const byte OfbTcpFlags = 42, OfbActsetOutput = 43;
    /// <summary>Open vSwitch's pkt_mark (NXM_NX_PKT_MARK: class NXM_1, field 33, 4 bytes, maskable).</summary>
    public const byte NxPktMark = 94;
    /// <summary>tun_src and tun_dst (NXM_NX_TUN_IPV4_SRC/DST: class NXM_1, fields 31 and 32, 4 bytes, maskable).</summary>
    public const byte NxTunSrc = 95, NxTunDst = 96;
    /// <summary>nw_ttl (NXM_NX_IP_TTL: class NXM_1, field 29, 1 byte, no mask).</summary>
    public const byte NxIpTtl = 97;
    /// <summary>tcp_flags as NXM_NX_TCP_FLAGS (class NXM_1, field 34, 2 bytes, maskable): what Open vSwitch writes in an nx_match.</summary>
    public const byte NxTcpFlags = 98;
    /// <summary>tcp_flags and actset_output as OpenFlow 1.3's ONF experimenter fields (ONFOXM_ET_TCP_FLAGS 42, ONFOXM_ET_ACTSET_OUTPUT 43).</summary>
    public const byte OnfTcpFlags = 99, OnfActsetOutput = 100;
    /// <summary>Open vSwitch's dp_hash (NXM_NX_DP_HASH: class NXM_1, field 35, 4 bytes, maskable; no OXM of its own, so class NXM_1 in OXM too).</summary>
    public const byte NxDpHash = 101;
    /// <summary>NXM_NX_DP_HASH's field number in class NXM_1.</summary>
    public const byte NxmDpHashField = 35;
    /// <summary>The NXM_1 field numbers of <see cref="NxPktMark"/>, <see cref="NxTunSrc"/>, <see cref="NxTunDst"/>, <see cref="NxIpTtl"/>, <see cref="NxTcpFlags"/>.</summary>
    public const byte NxmPktMarkField = 33, NxmTunSrcField = 31, NxmTunDstField = 32, NxmIpTtlField = 29, NxmTcpFlagsField = 34;

    /// <summary>
    /// Open vSwitch's vlan_tci (NXM_OF_VLAN_TCI: class NXM_0, field 4, 2 bytes, maskable) and nw_tos (NXM_OF_IP_TOS: class
    /// NXM_0, field 5, 1 byte, the DSCP in its upper 6 bits), which it writes in OFPAT_SET_FIELD under their NXM headers.
    /// </summary>
    public const byte NxVlanTci = 102, NxIpTos = 103;
    /// <summary>The NXM_0 field numbers of <see cref="NxVlanTci"/> and <see cref="NxIpTos"/>.</summary>
    public const byte NxmVlanTciField = 4, NxmIpTosField = 5;
    /// <summary>OXM class NXM_0 (0x0000): Open vSwitch's NXM_OF_* fields.</summary>
    public const ushort ClassNxm0 = 0x0000;

    /// <summary>Whether <paramref name="field"/> is tcp_flags in one of its three forms.</summary>
    public static bool IsTcpFlags(byte field) => field is OfbTcpFlags or NxTcpFlags or OnfTcpFlags;

    /// <summary>Whether <paramref name="field"/> is actset_output in one of its two forms.</summary>
    public static bool IsActsetOutput(byte field) => field is OfbActsetOutput or OnfActsetOutput;

    /// <summary>Whether <paramref name="field"/> is written under the ONF experimenter class (an 8-byte header).</summary>
    public static bool IsExperimenter(byte field) => field is OnfTcpFlags or OnfActsetOutput;

    /// <summary>Whether <paramref name="field"/> is one of Open vSwitch's registers.</summary>
    public static bool IsRegister(byte field) => field is >= NxReg0 and <= LastRegister;

    /// <summary>Bytes of a field's value; 0 for a field number 1.3 does not define.</summary>
    public static int FieldLength(byte field) => field < FieldCount ? Lengths[field] : field switch
    {
        OfbTcpFlags or NxTcpFlags or OnfTcpFlags => 2,
        OfbActsetOutput or OnfActsetOutput or NxPktMark or NxDpHash or NxTunSrc or NxTunDst => 4,
        NxIpTtl or NxIpTos => 1,
        NxVlanTci => 2,
        >= NxReg0 and < PktReg0 => 4,
        >= PktReg0 and < NxXxReg0 => 8,
        >= NxXxReg0 and <= LastRegister => 16,
        NxConjId => 4,
        NxIpFrag => 1,
        _ => 0,
    };

    /// <summary>Whether OpenFlow 1.3.5 table 12 allows a mask on the field (every register and ip_frag take one).</summary>
    public static bool Maskable(byte field) => field < FieldCount
        ? (MaskableFields & (1UL << field)) != 0
        : IsRegister(field) || field is NxIpFrag or NxPktMark or NxDpHash or NxTunSrc or NxTunDst or NxVlanTci || IsTcpFlags(field);

    /// <summary>The field number of a TLV of class <paramref name="cls"/> and field <paramref name="oxmField"/>; 0xff for one not known here.</summary>
    public static byte FieldOf(ushort cls, byte oxmField) => cls switch
    {
        Ofp13.OxmClassBasic when oxmField < FieldCount => oxmField,
        ClassNxm1 when oxmField < 16 => (byte)(NxReg0 + oxmField),
        ClassNxm1 when oxmField is >= 111 and <= 114 => (byte)(NxXxReg0 + oxmField - 111),
        ClassNxm1 when oxmField == NxmConjIdField => NxConjId,
        ClassNxm1 when oxmField == NxmIpFragField => NxIpFrag,
        ClassNxm1 when oxmField == NxmPktMarkField => NxPktMark,
        ClassNxm1 when oxmField == NxmDpHashField => NxDpHash,
        ClassNxm1 when oxmField == NxmTunSrcField => NxTunSrc,
        ClassNxm1 when oxmField == NxmTunDstField => NxTunDst,
        ClassNxm1 when oxmField == NxmIpTtlField => NxIpTtl,
        ClassNxm1 when oxmField == NxmTcpFlagsField => NxTcpFlags,
        Ofp13.OxmClassBasic when oxmField is OfbTcpFlags or OfbActsetOutput => oxmField,
        ClassPktRegs when oxmField < 8 => (byte)(PktReg0 + oxmField),
        ClassNxm0 when oxmField == NxmVlanTciField => NxVlanTci,
        ClassNxm0 when oxmField == NxmIpTosField => NxIpTos,
        _ => 0xff,
    };

    /// <summary>The field number of an ONF experimenter TLV's field <paramref name="oxmField"/>; 0xff for one not known here.</summary>
    public static byte OnfFieldOf(byte oxmField) => oxmField switch
    {
        OfbTcpFlags => OnfTcpFlags,
        OfbActsetOutput => OnfActsetOutput,
        _ => 0xff,
    };

    /// <summary>The class and wire field number of <paramref name="field"/> (the inverse of <see cref="FieldOf"/>).</summary>
    public static (ushort Class, byte Field) WireOf(byte field) => field switch
    {
        < FieldCount => (Ofp13.OxmClassBasic, field),
        >= NxReg0 and < PktReg0 => (ClassNxm1, (byte)(field - NxReg0)),
        >= PktReg0 and < NxXxReg0 => (ClassPktRegs, (byte)(field - PktReg0)),
        NxConjId => (ClassNxm1, NxmConjIdField),
        NxIpFrag => (ClassNxm1, NxmIpFragField),
        NxPktMark => (ClassNxm1, NxmPktMarkField),
        NxDpHash => (ClassNxm1, NxmDpHashField),
        NxTunSrc => (ClassNxm1, NxmTunSrcField),
        NxTunDst => (ClassNxm1, NxmTunDstField),
        NxIpTtl => (ClassNxm1, NxmIpTtlField),
        NxTcpFlags => (ClassNxm1, NxmTcpFlagsField),
        NxVlanTci => (ClassNxm0, NxmVlanTciField),
        NxIpTos => (ClassNxm0, NxmIpTosField),
        OfbTcpFlags or OfbActsetOutput => (Ofp13.OxmClassBasic, field),
        OnfTcpFlags => (ClassExperimenter, OfbTcpFlags),
        OnfActsetOutput => (ClassExperimenter, OfbActsetOutput),
        _ => (ClassNxm1, (byte)(field - NxXxReg0 + 111)),
    };

    /// <summary>The all-ones mask of a field (its value's width; VLAN_VID: 13 bits, with OFPVID_PRESENT).</summary>
    public static UInt128 AllOnes(byte field)
    {
        int bits = field switch
        {
            6 => 13,          // vlan_vid: 12-bit id and OFPVID_PRESENT
            7 or 35 => 3,     // vlan_pcp, mpls_tc
            8 => 6,           // ip_dscp
            9 => 2,           // ip_ecn
            36 => 1,          // mpls_bos
            28 or 34 => 20,   // ipv6_flabel, mpls_label
            39 => 9,          // ipv6_exthdr
            _ => FieldLength(field) * 8,
        };
        return bits >= 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;
    }

    /// <summary>The size of one TLV on the wire.</summary>
    public static int TlvSize(in Ofp13Oxm f) => HeaderSize(f.Field) + FieldLength(f.Field) * (f.HasMask ? 2 : 1);

    /// <summary>The header's bytes: 4, or 8 for an experimenter field (its experimenter id).</summary>
    public static int HeaderSize(byte field) => IsExperimenter(field) ? 8 : 4;

    /// <summary>The size of an ofp_match holding <paramref name="fields"/>, padding included.</summary>
    public static int EncodedSize(ReadOnlySpan<Ofp13Oxm> fields)
    {
        int n = 4;
        foreach (var f in fields) n += TlvSize(f);
        return (n + 7) & ~7;
    }

    /// <summary>Writes an ofp_match (type OXM, its length without padding, the TLVs, zero padding to 8 bytes).</summary>
    public static void Encode(Ofp13Writer w, ReadOnlySpan<Ofp13Oxm> fields)
    {
        int start = w.Position;
        w.U16(Ofp13.MatchTypeOxm);
        w.U16(0);
        foreach (var f in fields) WriteTlv(w, f);
        w.PatchU16(start + 2, (ushort)(w.Position - start));
        w.Pad8(start);
    }

    /// <summary>Writes an ofp_match into <paramref name="dest"/>; returns the bytes written, padding included.</summary>
    public static int Encode(Span<byte> dest, ReadOnlySpan<Ofp13Oxm> fields)
    {
        int pos = 4;
        foreach (var f in fields) pos += WriteTlv(dest[pos..], f);
        BinaryPrimitives.WriteUInt16BigEndian(dest, Ofp13.MatchTypeOxm);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)pos);
        int padded = (pos + 7) & ~7;
        dest[pos..padded].Clear();
        return padded;
    }

    /// <summary>Writes one TLV.</summary>
    public static void WriteTlv(Ofp13Writer w, in Ofp13Oxm f)
    {
        Span<byte> tmp = stackalloc byte[36];
        int n = WriteTlv(tmp, f);
        w.Bytes(tmp[..n]);
    }

    /// <summary>Writes one TLV into <paramref name="dest"/>; returns its size.</summary>
    public static int WriteTlv(Span<byte> dest, in Ofp13Oxm f)
    {
        int len = FieldLength(f.Field);
        int h = HeaderSize(f.Field);
        var (cls, wireField) = WireOf(f.Field);
        BinaryPrimitives.WriteUInt16BigEndian(dest, cls);
        dest[2] = (byte)((wireField << 1) | (f.HasMask ? 1 : 0));
        dest[3] = (byte)(h - 4 + (f.HasMask ? 2 * len : len));
        if (h == 8) BinaryPrimitives.WriteUInt32BigEndian(dest[4..], OnfExperimenter);
        WriteValue(dest.Slice(h, len), f.Value);
        if (f.HasMask) WriteValue(dest.Slice(h + len, len), f.Mask);
        return h + (f.HasMask ? 2 * len : len);
    }

    private static void WriteValue(Span<byte> dest, UInt128 v)
    {
        for (int i = dest.Length - 1; i >= 0; i--)
        {
            dest[i] = (byte)v;
            v >>= 8;
        }
    }

    private static UInt128 ReadValue(ReadOnlySpan<byte> s)
    {
        UInt128 v = 0;
        foreach (byte b in s) v = (v << 8) | b;
        return v;
    }

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-------------------------------+-------------+-+---------------+
    // |           oxm_class           |  oxm_field  |M|   oxm_length  |   0
    // +-------------------------------+-------------+-+---------------+
    // |   value (the field's size), then the mask (as long) when M    |   4
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads one TLV at the start of <paramref name="s"/>: its size in <paramref name="size"/>, or the error.
    /// <paramref name="anyMask"/>: a set-field's entry, which may mask any field (Open vSwitch's nx_pull_entry checks no
    /// field's maskability there; a match's entry is BAD_MASK on a field table 12 gives none).
    /// </summary>
    public static bool TryReadTlv(ReadOnlySpan<byte> s, out Ofp13Oxm field, out int size, out Ofp13Error error, bool anyMask = false)
    {
        field = default;
        size = 0;
        error = default;
        if (s.Length < 4)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
            return false;
        }
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(s);
        byte f = FieldOf(cls, (byte)(s[2] >> 1));
        bool hasMask = (s[2] & 1) != 0;
        int len = s[3];
        size = 4 + len;
        if (size > s.Length)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
            return false;
        }
        int h = 4;
        if (cls == ClassExperimenter)
        {
            // An experimenter field: its id follows the header, counted in the length (ONF's are the only ones known).
            if (len < 4)
            {
                error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
                return false;
            }
            f = BinaryPrimitives.ReadUInt32BigEndian(s[4..]) == OnfExperimenter ? OnfFieldOf((byte)(s[2] >> 1)) : (byte)0xff;
            h = 8;
            len -= 4;
        }
        if (f == 0xff)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadField);
            return false;
        }
        int flen = FieldLength(f);
        if (len != (hasMask ? 2 * flen : flen))
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
            return false;
        }
        if (hasMask && !anyMask && !Maskable(f))
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadMask);
            return false;
        }
        var value = ReadValue(s.Slice(h, flen));
        var mask = hasMask ? ReadValue(s.Slice(h + flen, flen)) : AllOnes(f);
        if (hasMask && (value & ~mask) != 0)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadWildcards);
            return false;
        }
        field = new Ofp13Oxm(f, hasMask, value, mask);
        return true;
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |         type (1: OXM)         |       length (4 + OXMs)       |   0
    // +---------------------------------------------------------------+
    // |                    oxm_fields (length - 4)                    |   4
    // +---------------------------------------------------------------+
    // |                     pad to a multiple of 8                    | len
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads the ofp_match at the start of <paramref name="s"/> into <paramref name="into"/> (appended); <paramref name="size"/>
    /// is its length with padding (what follows it starts there).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> s, List<Ofp13Oxm> into, out int size, out Ofp13Error error)
    {
        size = 0;
        error = default;
        if (s.Length < 4)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
            return false;
        }
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(s);
        int len = BinaryPrimitives.ReadUInt16BigEndian(s[2..]);
        if (type != Ofp13.MatchTypeOxm)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadType);
            return false;
        }
        size = (len + 7) & ~7;
        if (len < 4 || size > s.Length)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
            return false;
        }
        var tlvs = s[4..len];
        while (!tlvs.IsEmpty)
        {
            if (!TryReadTlv(tlvs, out var f, out int n, out error)) return false;
            into.Add(f);
            tlvs = tlvs[n..];
        }
        return true;
    }
}
