using System.Buffers.Binary;

namespace Softswitch.OfWire.Of10;

/// <summary>
/// A Nicira vendor action (vendor 0x00002320) read into its subtype's fields: the Open vSwitch extensions an OpenFlow 1.0
/// peer uses for what 1.0 has no action of its own (ovs lib/ofp-actions.c). One decoder for the bytes this switch writes
/// (<see cref="OfpAction.Nicira"/>, <see cref="OfpAction.NxRegLoad2"/>, <see cref="OfpAction.NxResubmitTable"/>, the
/// set-tunnels) and for those ovs-ofctl sends for the same actions (NXAST_REG_LOAD for a set_field).
/// </summary>
/// <remarks>
/// <para>Fields are in host order. <see cref="Arg"/>: the integer argument (tunnel id, queue, group, ethertype, MPLS TTL,
/// label or TC). Resubmit: <see cref="InPort"/> and <see cref="Table"/>. REG_LOAD and REG_LOAD2 are one shape, a load of
/// <see cref="Value"/> under <see cref="Mask"/> into the field of <see cref="FieldHeader"/> (its 32-bit NXM or OXM header,
/// hasmask clear, the length byte the value's bytes): REG_LOAD's mask is its ofs/n_bits range, an unmasked REG_LOAD2's the
/// all-ones of the value's bytes. Whether the switch can set that field is not the codec's to say.</para>
/// <para>Immutable; stateless decoder.</para>
/// </remarks>
public readonly record struct NxAction(NxActionSubtype Subtype, ulong Arg = 0, ushort InPort = 0, byte Table = 0,
                                       uint FieldHeader = 0, UInt128 Value = default, UInt128 Mask = default)
{
    /// <summary>The largest field value a load may carry (an IPv6 address).</summary>
    public const int MaxFieldSize = 16;

    // Every Nicira action starts with nx_action_header; the body (after the vendor id) then holds, by subtype:
    // +--------+--------+----------------+
    // | 0xffff |  len   | vendor 0x2320  |
    // +--------+--------+----------------+---------------------------------+
    // | subtype (2) | per subtype                                          |
    // +-------------+------------------------------------------------------+
    //   SET_TUNNEL(2), SET_QUEUE(4), SET_MPLS_LABEL(30), GROUP(40)  len 16: pad(2) arg32
    //   SET_TUNNEL64(9)                                             len 24: pad(6) arg64
    //   PUSH_MPLS(23), POP_MPLS(24)                                 len 16: ethertype(2) pad(4)
    //   SET_MPLS_TTL(25), SET_MPLS_TC(31)                           len 16: arg8 pad(5)
    //   DEC_TTL(18), DEC_MPLS_TTL(26)                               len 16: pad(6)
    //   RESUBMIT_TABLE(14)                                          len 16: in_port(2) table(1) pad(3), pad zero
    //   REG_LOAD(7)                                                 len 24: ofs_nbits(2) dst(4) value(8)
    //   REG_LOAD2(33)                                       len 16+8n: OXM/NXM TLV, zero padding to 8
    /// <summary>
    /// Reads <paramref name="action"/> as a Nicira action. Errors (OFPET_BAD_ACTION): BAD_VENDOR (not Nicira's),
    /// BAD_VENDOR_TYPE (a subtype not listed above), BAD_LEN (a length not its subtype's, a TLV past the action),
    /// BAD_ARGUMENT (resubmit padding not zero; a load outside its field, of an experimenter or masked header, of a value
    /// wider than <see cref="MaxFieldSize"/> bytes or with bits outside its range or mask, or with non-zero padding).
    /// </summary>
    public static bool TryDecode(in OfpAction action, out NxAction nx, out OfpError error)
    {
        nx = default;
        if (action.Type != OfpActionType.Vendor || action.Vendor != OfpConstants.NiciraVendorId)
            return Fail(OfpBadActionCode.BadVendor, out error);
        ReadOnlySpan<byte> b = action.VendorBody.Span;
        if (b.Length < 8) return Fail(OfpBadActionCode.BadLen, out error); // nx_action_header is 16 bytes
        var subtype = (NxActionSubtype)BinaryPrimitives.ReadUInt16BigEndian(b);
        int expected = subtype switch
        {
            NxActionSubtype.SetTunnel or NxActionSubtype.SetQueue or NxActionSubtype.ResubmitTable or NxActionSubtype.DecTtl
                or NxActionSubtype.PushMpls or NxActionSubtype.PopMpls or NxActionSubtype.SetMplsTtl or NxActionSubtype.DecMplsTtl
                or NxActionSubtype.SetMplsLabel or NxActionSubtype.SetMplsTc or NxActionSubtype.Group => 8,
            NxActionSubtype.SetTunnel64 or NxActionSubtype.RegLoad => 16,
            NxActionSubtype.RegLoad2 => b.Length,
            _ => -1,
        };
        if (expected < 0) return Fail(OfpBadActionCode.BadVendorType, out error);
        if (b.Length != expected) return Fail(OfpBadActionCode.BadLen, out error);
        error = default;
        switch (subtype)
        {
            case NxActionSubtype.SetTunnel or NxActionSubtype.SetQueue or NxActionSubtype.SetMplsLabel or NxActionSubtype.Group:
                nx = new(subtype, Arg: BinaryPrimitives.ReadUInt32BigEndian(b[4..]));
                return true;
            case NxActionSubtype.SetTunnel64:
                nx = new(subtype, Arg: BinaryPrimitives.ReadUInt64BigEndian(b[8..]));
                return true;
            case NxActionSubtype.PushMpls or NxActionSubtype.PopMpls:
                nx = new(subtype, Arg: BinaryPrimitives.ReadUInt16BigEndian(b[2..]));
                return true;
            case NxActionSubtype.SetMplsTtl or NxActionSubtype.SetMplsTc:
                nx = new(subtype, Arg: b[2]);
                return true;
            case NxActionSubtype.DecTtl or NxActionSubtype.DecMplsTtl:
                nx = new(subtype);
                return true;
            case NxActionSubtype.ResubmitTable:
                if ((b[5] | b[6] | b[7]) != 0) return Fail(OfpBadActionCode.BadArgument, out error); // as Open vSwitch
                nx = new(subtype, InPort: BinaryPrimitives.ReadUInt16BigEndian(b[2..]), Table: b[4]);
                return true;
            case NxActionSubtype.RegLoad:
                return TryRegLoad(b, out nx, out error);
            default:
                return TryRegLoad2(b, out nx, out error);
        }
    }

    // ofs_nbits: the offset in the field (upper 10 bits) and n_bits - 1 (lower 6); dst: a 32-bit NXM/OXM header.
    private static bool TryRegLoad(ReadOnlySpan<byte> b, out NxAction nx, out OfpError error)
    {
        nx = default;
        int ofsBits = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        int ofs = ofsBits >> 6, bits = (ofsBits & 63) + 1;
        uint header = BinaryPrimitives.ReadUInt32BigEndian(b[4..]);
        ulong value = BinaryPrimitives.ReadUInt64BigEndian(b[8..]);
        int size = (int)(header & 0xff);
        bool masked = (header & 0x100) != 0, experimenter = header >> 16 == 0xffff;
        if (masked || experimenter || size is 0 or > MaxFieldSize || ofs + bits > size * 8 || (bits < 64 && value >> bits != 0))
            return Fail(OfpBadActionCode.BadArgument, out error);
        error = default;
        nx = new(NxActionSubtype.RegLoad, FieldHeader: header, Value: (UInt128)value << ofs,
                 Mask: ((UInt128.One << bits) - 1) << ofs);
        return true;
    }

    // The TLV starts right after the subtype (in place of ext_action_header's pad), as Open vSwitch writes it.
    private static bool TryRegLoad2(ReadOnlySpan<byte> b, out NxAction nx, out OfpError error)
    {
        nx = default;
        ReadOnlySpan<byte> tlv = b[2..];
        uint header = BinaryPrimitives.ReadUInt32BigEndian(tlv);
        int length = (int)(header & 0xff);
        bool masked = (header & 0x100) != 0;
        if (4 + length > tlv.Length) return Fail(OfpBadActionCode.BadLen, out error);
        int size = masked ? length / 2 : length;
        if (header >> 16 == 0xffff || (masked && (length & 1) != 0) || size is 0 or > MaxFieldSize
            || tlv[(4 + length)..].ContainsAnyExcept((byte)0))
        {
            return Fail(OfpBadActionCode.BadArgument, out error);
        }
        UInt128 value = ReadValue(tlv.Slice(4, size));
        UInt128 mask = masked ? ReadValue(tlv.Slice(4 + size, size)) : AllOnes(size * 8);
        if ((value & ~mask) != 0) return Fail(OfpBadActionCode.BadArgument, out error);
        error = default;
        nx = new(NxActionSubtype.RegLoad2, FieldHeader: (header & 0xfffffe00u) | (uint)size, Value: value, Mask: mask);
        return true;
    }

    /// <summary>The low <paramref name="bits"/> bits set.</summary>
    public static UInt128 AllOnes(int bits) => bits >= 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;

    private static UInt128 ReadValue(ReadOnlySpan<byte> bytes)
    {
        UInt128 v = 0;
        foreach (byte x in bytes) v = (v << 8) | x;
        return v;
    }

    private static bool Fail(OfpBadActionCode code, out OfpError error)
    {
        error = OfpError.BadAction(code);
        return false;
    }
}
