using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire;

/// <summary>Why one entry of an nx_match cannot be read (Open vSwitch's nx_pull_match_entry, in its order of checks).</summary>
public enum NxmError : byte
{
    None,
    /// <summary>An entry longer than what is left of the match (OFPBMC_BAD_LEN).</summary>
    BadLen,
    /// <summary>A header this switch does not know, or a known one with another length (OFPBMC_BAD_FIELD).</summary>
    BadField,
    /// <summary>1-bits of the value where the mask has 0-bits (OFPBMC_BAD_WILDCARDS).</summary>
    BadWildcards,
    /// <summary>A mask other than all-ones on a field that takes none (OFPBMC_BAD_MASK).</summary>
    BadMask,
    /// <summary>A value the field cannot take (OFPBMC_BAD_VALUE): a TOS with ECN bits, a flow label past 20 bits, ...</summary>
    BadValue,
    /// <summary>A field whose prerequisites the entries before it do not meet (OFPBMC_BAD_PREREQ).</summary>
    BadPrereq,
    /// <summary>A field, or bits of one, matched twice (OFPBMC_DUP_FIELD).</summary>
    DupField,
    /// <summary>The match is invalid where it is (NXBRC_NXM_INVALID: a cookie match in a flow addition).</summary>
    Invalid,
}

/// <summary>
/// Open vSwitch's nx_match (NXM, include/openflow/nicira-ext.h): the match of NXT_FLOW_MOD, NXST_FLOW and
/// NXT_FLOW_REMOVED, a sequence of TLVs with no padding of its own. Each TLV is read into the OXM codec's form
/// (<see cref="Ofp13Oxm"/>, the field numbers of <see cref="Ofp13Match"/>), so one set of field numbers, lengths and
/// masks serves both formats; the TLVs of OXM classes (0x8000, 0x8001, and class 1's registers, conj_id) are
/// that codec's own.
/// </summary>
/// <remarks>
/// <para>The NXM headers (class 0, NXM_OF_*: OpenFlow 1.0's fields; class 1, NXM_NX_*: Nicira's) name the same fields
/// as OXM but for three forms of their own: NXM_OF_IN_PORT is OpenFlow 1.0's 16-bit port (read as the 32-bit OXM port,
/// Open vSwitch's ofputil_port_to_ofp11), NXM_OF_IP_TOS is the DSCP in place (tos &amp; 0xfc; OXM's IP_DSCP is shifted),
/// and NXM_OF_VLAN_TCI is the whole 802.1Q TCI with its CFI bit as "tagged" (the pseudo field <see cref="VlanTci"/>).
/// NXM_NX_COOKIE is the flow cookie filter of a modify, delete or statistics request (the pseudo field
/// <see cref="Cookie"/>), not a header field.</para>
/// <para>Reading checks each entry as nx_pull_match_entry does, in its order: its length (BAD_LEN), its header
/// (BAD_FIELD: unknown, or a known field of another length), value bits outside the mask (BAD_WILDCARDS), a mask on a
/// field that takes none unless all-ones (BAD_MASK), the value (BAD_VALUE). Prerequisites, which the entries before it
/// decide, and duplicates are the agent's. Writing names each field by its NXM header where it has one and by its OXM
/// header otherwise (metadata, SCTP ports, MPLS), as Open vSwitch's nx_put_match does. Stateless.</para>
/// </remarks>
public static class NxMatch
{
    /// <summary>Pseudo field number of NXM_OF_VLAN_TCI (2 bytes, maskable): the TCI, CFI set on a tagged packet.</summary>
    public const byte VlanTci = 0xf0;
    /// <summary>Pseudo field number of NXM_NX_COOKIE (8 bytes, maskable): the cookie filter of a request.</summary>
    public const byte Cookie = 0xf1;

    /// <summary>NXM classes: NXM_0 (OpenFlow 1.0's fields), NXM_1 (Nicira's).</summary>
    public const ushort Class0 = 0x0000, Class1 = 0x0001;

    /// <summary>OpenFlow 1.0's OFPP_MAX: 16-bit ports from it on are the reserved ports.</summary>
    private const uint Of10PortMax = 0xff00, Of11PortOffset = 0xffff0000;

    // NXM_0 fields 0..17 as OXM field numbers (in_port, eth_dst, eth_src, eth_type, vlan_tci, ip_tos, ip_proto,
    // ip_src, ip_dst, tcp_src, tcp_dst, udp_src, udp_dst, icmp_type, icmp_code, arp_op, arp_spa, arp_tpa).
    private static ReadOnlySpan<byte> Nxm0 => [0, 3, 4, 5, VlanTci, 8, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23];

    // NXM_1 fields 16..30 (0..15 are the registers): tun_id, arp_sha, arp_tha, ipv6_src, ipv6_dst, icmpv6_type,
    // icmpv6_code, nd_target, nd_sll, nd_tll, ip_frag, ipv6_label, ip_ecn, ip_ttl, cookie. (31-35, tun_src, tun_dst,
    // pkt_mark, tcp_flags and dp_hash, are the OXM codec's: Open vSwitch writes them under class 1 in OXM too.)
    private static ReadOnlySpan<byte> Nxm1 => [38, 24, 25, 26, 27, 29, 30, 31, 32, 33, Ofp13Match.NxIpFrag, 28, 9, Ofp13Match.NxIpTtl, Cookie];

    /// <summary>The value's length in bytes of <paramref name="field"/> in an nx_match (in_port: 2; ip_dscp: NXM_OF_IP_TOS's 1).</summary>
    public static int FieldLength(byte field) => field switch
    {
        0 => 2,
        VlanTci => 2,
        Cookie => 8,
        _ => Ofp13Match.FieldLength(field),
    };

    /// <summary>Whether Open vSwitch takes any mask on <paramref name="field"/> (MFM_FULLY); the others take none but all-ones.</summary>
    public static bool Maskable(byte field) => field switch
    {
        VlanTci or Cookie => true,
        // NXM's transport ports took masks before OXM's did (Open vSwitch 1.6).
        13 or 14 or 15 or 16 or 17 or 18 => true,
        _ => Ofp13Match.Maskable(field),
    };

    /// <summary>The field number of the NXM or OXM TLV of <paramref name="cls"/> and <paramref name="wireField"/>; 0xff for one not known here.</summary>
    public static byte FieldOf(ushort cls, byte wireField)
    {
        if (cls == Class0) return wireField < Nxm0.Length ? Nxm0[wireField] : (byte)0xff;
        if (cls == Class1 && wireField is >= 16 and <= 30) return Nxm1[wireField - 16];
        return Ofp13Match.FieldOf(cls, wireField);
    }

    /// <summary>The class and wire field of <paramref name="field"/>'s NXM header, or of its OXM header where it has no NXM one.</summary>
    public static (ushort Class, byte Field) WireOf(byte field)
    {
        int i = Nxm0.IndexOf(field);
        if (i >= 0) return (Class0, (byte)i);
        i = Nxm1.IndexOf(field);
        if (i >= 0) return (Class1, (byte)(16 + i));
        return Ofp13Match.WireOf(field);
    }

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-------------------------------+-------------+-+---------------+
    // |      nxm_vendor (class)       |  nxm_field  |M|   nxm_length  |   0
    // +-------------------------------+-------------+-+---------------+
    // |   value (length, or length / 2 with M), then the mask when M  |   4
    // +---------------------------------------------------------------+
    // class 0xffff (an experimenter OXM): experimenter (4) at 4, in nxm_length; value and mask at 8.
    /// <summary>
    /// Reads the entry at the start of <paramref name="s"/> (the rest of an nx_match): its size in <paramref name="size"/>,
    /// the entry in the OXM form (in_port as a 32-bit port, IP_TOS as IP_DSCP; <see cref="VlanTci"/> and
    /// <see cref="Cookie"/> as they are); false with why not in <paramref name="error"/>.
    /// </summary>
    public static bool TryReadEntry(ReadOnlySpan<byte> s, out Ofp13Oxm entry, out int size, out NxmError error)
    {
        entry = default;
        size = 0;
        if (s.Length < 4) return Fail(NxmError.BadLen, out error);
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(s);
        bool hasMask = (s[2] & 1) != 0;
        int len = s[3];
        // An experimenter OXM (class 0xffff) has an 8-byte header: ONF's tcp_flags and actset_output are matched here
        // (Open vSwitch writes actset_output, which has no NXM header, so in an nx_match).
        int header = cls == Ofp13Match.ClassExperimenter ? 8 : 4;
        if (len < header - 4 || s.Length < header) return Fail(NxmError.BadLen, out error);
        size = 4 + len;
        if (size > s.Length) return Fail(NxmError.BadLen, out error);
        byte f = cls != Ofp13Match.ClassExperimenter ? FieldOf(cls, (byte)(s[2] >> 1))
            : BinaryPrimitives.ReadUInt32BigEndian(s[4..]) == Ofp13Match.OnfExperimenter ? Ofp13Match.OnfFieldOf((byte)(s[2] >> 1)) : (byte)0xff;
        len -= header - 4;
        bool nxm = cls is Class0 or Class1;
        int flen = f == 0xff ? 0 : nxm ? FieldLength(f) : Ofp13Match.FieldLength(f);
        int width = hasMask ? len / 2 : len;
        var payload = s.Slice(header, len);
        if (hasMask && !Consistent(payload[..width], payload.Slice(width, width))) return Fail(NxmError.BadWildcards, out error);
        if (f == 0xff || flen != width || (hasMask && (len & 1) != 0)) return Fail(NxmError.BadField, out error);
        var value = Read(payload[..flen]);
        var full = flen >= 16 ? UInt128.MaxValue : (UInt128.One << (8 * flen)) - 1;
        var mask = hasMask ? Read(payload.Slice(flen, flen)) : full;
        if (hasMask && mask != full && !Maskable(f)) return Fail(NxmError.BadMask, out error);
        if (!ValueValid(f, cls, value)) return Fail(NxmError.BadValue, out error);
        // A mask of all ones is no mask (Open vSwitch keeps the value only).
        if (mask == full) hasMask = false;
        if (f == 0 && cls == Class0)
        {
            // OpenFlow 1.0's port as OpenFlow 1.1's (the reserved ports move to the top of 32 bits).
            value = value < Of10PortMax ? value : value + Of11PortOffset;
        }
        else if (f == 8 && cls == Class0)
        {
            value >>= 2;
        }
        if (!hasMask && f is not (VlanTci or Cookie)) mask = Ofp13Match.AllOnes(f);
        entry = new Ofp13Oxm(f, hasMask, value, mask);
        error = NxmError.None;
        return true;
    }

    private static bool Fail(NxmError why, out NxmError error)
    {
        error = why;
        return false;
    }

    /// <summary>Whether Open vSwitch's mf_is_value_valid takes <paramref name="value"/> for <paramref name="field"/> (read under <paramref name="cls"/>).</summary>
    private static bool ValueValid(byte field, ushort cls, UInt128 value) => field switch
    {
        0 when cls != Class0 => value < Of10PortMax || value >= 0xffffff00,   // an OXM port OpenFlow 1.0 can number
        5 => true,
        6 => value <= 0x1fff,                          // OXM vlan_vid: no PCP bits
        7 => value <= 7,
        8 when cls == Class0 => (value & 3) == 0,      // NXM_OF_IP_TOS: the DSCP bits only
        8 => value <= 63,
        9 => value <= 3,
        21 => value <= 0xff,                           // arp_op: Open vSwitch keeps its low byte
        28 => value <= 0xf_ffff,
        34 => value <= 0xf_ffff,
        35 => value <= 7,
        36 => value <= 1,
        39 => value <= 0x1ff,                          // ipv6_exthdr: 9 flags
        Ofp13Match.NxIpFrag => value <= 3,             // FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER
        Ofp13Match.OfbTcpFlags or Ofp13Match.NxTcpFlags or Ofp13Match.OnfTcpFlags => value <= 0xfff, // TCP_FLAGS: 12 bits
        Ofp13Match.OfbActsetOutput or Ofp13Match.OnfActsetOutput => value <= 0xffff || value >= 0xffffff00, // a port 1.0 can number
        _ => true,
    };

    private static bool Consistent(ReadOnlySpan<byte> value, ReadOnlySpan<byte> mask)
    {
        for (int i = 0; i < value.Length; i++)
            if ((value[i] & ~mask[i]) != 0) return false;
        return true;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |     entry (4 + nxm_length: the diagram above TryReadEntry)    |   0
    // +---------------------------------------------------------------+
    // |   entries back to back to match_len, no padding of their own  | 4+l
    // +---------------------------------------------------------------+
    /// <summary>Reads each entry of <paramref name="match"/> (exactly match_len bytes) into <paramref name="into"/> (appended); false with the first entry's error.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> match, List<Ofp13Oxm> into, out NxmError error)
    {
        while (!match.IsEmpty)
        {
            if (!TryReadEntry(match, out var entry, out int n, out error)) return false;
            into.Add(entry);
            match = match[n..];
        }
        error = NxmError.None;
        return true;
    }

    /// <summary>The size of <paramref name="entry"/> on the wire.</summary>
    public static int EntrySize(in Ofp13Oxm entry) => Ofp13Match.HeaderSize(entry.Field) + WireLength(entry.Field) * (entry.HasMask ? 2 : 1);

    /// <summary>The size of an nx_match of <paramref name="entries"/>, without padding (its match_len).</summary>
    public static int Size(ReadOnlySpan<Ofp13Oxm> entries)
    {
        int n = 0;
        foreach (var e in entries) n += EntrySize(e);
        return n;
    }

    /// <summary>Writes <paramref name="entries"/> (the OXM form, as <see cref="TryReadEntry"/> gives them) as an nx_match; returns match_len.</summary>
    public static int Write(Span<byte> dest, ReadOnlySpan<Ofp13Oxm> entries)
    {
        int pos = 0;
        foreach (var e in entries) pos += WriteEntry(dest[pos..], e);
        return pos;
    }

    private static int WireLength(byte field) => field == 8 ? 1 : FieldLength(field);

    /// <summary>Writes one entry under its NXM header (its OXM header where it has none); returns its size.</summary>
    public static int WriteEntry(Span<byte> dest, in Ofp13Oxm e)
    {
        var (cls, wireField) = WireOf(e.Field);
        int len = WireLength(e.Field);
        var value = e.Value;
        var mask = e.Mask;
        if (e.Field == 0)
        {
            // in_port: OpenFlow 1.1's port as OpenFlow 1.0's.
            value = value >= Of11PortOffset ? value - Of11PortOffset : value & 0xffff;
            mask = 0xffff;
        }
        else if (e.Field == 8)
        {
            value <<= 2;
            mask = 0xfc;
        }
        int h = Ofp13Match.HeaderSize(e.Field);
        BinaryPrimitives.WriteUInt16BigEndian(dest, cls);
        dest[2] = (byte)((wireField << 1) | (e.HasMask ? 1 : 0));
        dest[3] = (byte)(h - 4 + (e.HasMask ? 2 * len : len));
        if (h == 8) BinaryPrimitives.WriteUInt32BigEndian(dest[4..], Ofp13Match.OnfExperimenter);
        Write(dest.Slice(h, len), value & mask);
        if (e.HasMask) Write(dest.Slice(h + len, len), mask);
        return h + (e.HasMask ? 2 * len : len);
    }

    private static void Write(Span<byte> dest, UInt128 v)
    {
        for (int i = dest.Length - 1; i >= 0; i--)
        {
            dest[i] = (byte)v;
            v >>= 8;
        }
    }

    private static UInt128 Read(ReadOnlySpan<byte> s)
    {
        UInt128 v = 0;
        foreach (byte b in s) v = (v << 8) | b;
        return v;
    }
}
