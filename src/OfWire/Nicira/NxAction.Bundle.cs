using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>NXAST_BUNDLE and NXAST_BUNDLE_LOAD (ovs lib/ofp-actions.c, struct nx_action_bundle; lib/bundle.c).</summary>
public readonly partial record struct NxAction
{
    // As Open vSwitch's decode_bundle and bundle_check: fields past symmetric_l3, more than BundleMaxMembers members, an
    // algorithm other than hrw (1) or active_backup (0), a member_type other than NXM_OF_IN_PORT, non-zero zero bytes, a
    // BUNDLE's non-zero ofs_nbits or dst, or a BUNDLE_LOAD's destination of fewer than 16 bits is BAD_ARGUMENT; fewer
    // bytes than the members take BAD_LEN; a member past OFPP_MAX that is not a reserved port Open vSwitch takes, or the
    // controller, BAD_OUT_PORT. Bytes past the members' padding are refused (BAD_LEN) and the padding must be zero
    // (BAD_ARGUMENT), so a decode re-encodes to its bytes. Whether dst names a field the switch writes, within its
    // width, is not the codec's to say.

    /// <summary>Open vSwitch's BUNDLE_MAX_MEMBERS.</summary>
    public const int BundleMaxMembers = 2048;
    /// <summary>NX_BD_ALG_ACTIVE_BACKUP and NX_BD_ALG_HRW.</summary>
    public const ushort BundleActiveBackup = 0, BundleHrw = 1;
    /// <summary>NXM_OF_IN_PORT's header, the one member_type Open vSwitch takes.</summary>
    public const uint BundleMemberType = 0x00000002;

    // Members, the member list, is declared beside Learn (NxLearn.cs): a partial struct keeps its fields in one part.

    /// <summary>
    /// bundle(fields,basis,algorithm,ofport,members:...) or, with a destination <paramref name="dst"/> (a 32-bit NXM or
    /// OXM header; 0: none), bundle_load(...,dst[ofs..ofs+bits-1],members:...).
    /// </summary>
    public static NxAction Bundle(ushort fields, ushort basis, ushort algorithm, ushort[] members, uint dst = 0, ushort ofs = 0, ushort bits = 0)
        => new(dst == 0 ? NxActionSubtype.Bundle : NxActionSubtype.BundleLoad, Arg: basis, InPort: algorithm, MaxLen: fields,
               FieldHeader: dst, DstOfs: dst == 0 ? (ushort)0 : ofs, Bits: dst == 0 ? (ushort)0 : bits) { Members = members };

    /// <summary>A bundle's NX_HASH_FIELDS_* value.</summary>
    public ushort BundleFields => MaxLen;
    /// <summary>A bundle's hash basis.</summary>
    public ushort BundleBasis => (ushort)Arg;
    /// <summary>A bundle's NX_BD_ALG_* value.</summary>
    public ushort BundleAlgorithm => InPort;

    private int BundleBodySize => 24 + ((2 * (Members?.Length ?? 0) + 7) & ~7);

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |        subtype: 12 / 13       |           algorithm           |   8
    // +-------------------------------+-------------------------------+
    // |             fields            |             basis             |  12
    // +-------------------------------+-------------------------------+
    // |                  member_type: NXM_OF_IN_PORT                  |  16
    // +-------------------------------+-------------------------------+
    // |           n_members           |           ofs_nbits           |  20
    // +-------------------------------+-------------------------------+
    // |             dst: BUNDLE_LOAD's header, BUNDLE's 0             |  24
    // +---------------------------------------------------------------+
    // |                              zero                             |  28
    // +---------------------------------------------------------------+
    // |        members: n_members x 2 bytes, zero padding to 8        |  32
    // +---------------------------------------------------------------+
    private static bool TryBundle(ReadOnlySpan<byte> b, NxActionSubtype subtype, out NxAction nx, out NxActionError error)
    {
        nx = default;
        if (b.Length < 24) return Fail(NxActionError.BadLen, out error);
        bool load = subtype == NxActionSubtype.BundleLoad;
        ushort algorithm = BinaryPrimitives.ReadUInt16BigEndian(b[2..]), fields = BinaryPrimitives.ReadUInt16BigEndian(b[4..]);
        ushort basis = BinaryPrimitives.ReadUInt16BigEndian(b[6..]);
        uint memberType = BinaryPrimitives.ReadUInt32BigEndian(b[8..]);
        int n = BinaryPrimitives.ReadUInt16BigEndian(b[12..]);
        int ofsBits = BinaryPrimitives.ReadUInt16BigEndian(b[14..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(b[16..]);
        ReadOnlySpan<byte> members = b[24..];
        // Open vSwitch's order: a short member list (BAD_LEN) wins over the argument errors found before it.
        if (members.Length < 2 * n) return Fail(NxActionError.BadLen, out error);
        if (members.Length > ((2 * n + 7) & ~7)) return Fail(NxActionError.BadLen, out error);
        if (fields > MaxHashFields || n > BundleMaxMembers || algorithm > BundleHrw || memberType != BundleMemberType
            || b[20..24].ContainsAnyExcept((byte)0) || members[(2 * n)..].ContainsAnyExcept((byte)0))
        {
            return Fail(NxActionError.BadArgument, out error);
        }
        if (load ? !PlainHeader(dst) || (ofsBits & 63) + 1 < 16 : ofsBits != 0 || dst != 0) return Fail(NxActionError.BadArgument, out error);
        var ports = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            ushort p = BinaryPrimitives.ReadUInt16BigEndian(members[(2 * i)..]);
            // bundle_check's ofpact_check_output_port (max_ports OFPP_MAX) and its refusal of the controller.
            if (p >= 0xff00 && p is not (0xfff8 or 0xfff9 or 0xfffa or 0xfffb or 0xfffc or 0xfffe or 0xffff))
                return Fail(NxActionError.BadOutPort, out error);
            ports[i] = p;
        }
        error = default;
        nx = Bundle(fields, basis, algorithm, ports, load ? dst : 0, (ushort)(ofsBits >> 6), (ushort)((ofsBits & 63) + 1));
        return true;
    }

    private void WriteBundle(Span<byte> dest)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], BundleAlgorithm);
        BinaryPrimitives.WriteUInt16BigEndian(dest[4..], BundleFields);
        BinaryPrimitives.WriteUInt16BigEndian(dest[6..], BundleBasis);
        BinaryPrimitives.WriteUInt32BigEndian(dest[8..], BundleMemberType);
        var members = Members ?? [];
        BinaryPrimitives.WriteUInt16BigEndian(dest[12..], (ushort)members.Length);
        if (Subtype == NxActionSubtype.BundleLoad)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dest[14..], (ushort)((DstOfs << 6) | ((Bits - 1) & 63)));
            BinaryPrimitives.WriteUInt32BigEndian(dest[16..], FieldHeader);
        }
        for (int i = 0; i < members.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(dest[(24 + 2 * i)..], members[i]);
    }
}
