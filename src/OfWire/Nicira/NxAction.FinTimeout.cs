using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>NXAST_FIN_TIMEOUT and NXAST_MULTIPATH (ovs lib/ofp-actions.c, struct nx_action_fin_timeout, nx_action_multipath).</summary>
public readonly partial record struct NxAction
{
    // As Open vSwitch decodes them: neither pad is read; a multipath's fields other than NX_HASH_FIELDS_* 0-6, an
    // algorithm other than NX_MP_ALG_* 0-3, or fewer dst bits than max_link + 1 links need is BAD_ARGUMENT. Whether dst
    // names a field the switch writes, within its width, is not the codec's to say.

    /// <summary>The largest NX_HASH_FIELDS_* value (symmetric_l3) and NX_MP_ALG_* value (iter_hash) Open vSwitch takes.</summary>
    public const ushort MaxHashFields = 6, MaxMultipathAlgorithm = 3;

    /// <summary>fin_timeout(idle_timeout=<paramref name="idle"/>,hard_timeout=<paramref name="hard"/>) (0: that timeout untouched).</summary>
    public static NxAction FinTimeout(ushort idle, ushort hard) => new(NxActionSubtype.FinTimeout, InPort: idle, MaxLen: hard);

    /// <summary>A fin_timeout's idle timeout, seconds (0: untouched).</summary>
    public ushort FinIdleTimeout => InPort;
    /// <summary>A fin_timeout's hard timeout, seconds (0: untouched).</summary>
    public ushort FinHardTimeout => MaxLen;

    /// <summary>
    /// multipath(fields,basis,algorithm,max_link+1,arg,dst[ofs..ofs+bits-1]): <paramref name="fields"/> an NX_HASH_FIELDS_*
    /// value, <paramref name="algorithm"/> an NX_MP_ALG_* one, <paramref name="dst"/> a 32-bit NXM or OXM header.
    /// </summary>
    public static NxAction Multipath(ushort fields, ushort basis, ushort algorithm, ushort maxLink, uint arg, uint dst, ushort ofs, ushort bits)
        => new(NxActionSubtype.Multipath, Arg: arg, InPort: fields, MaxLen: basis, SrcOfs: algorithm, SrcHeader: maxLink,
               FieldHeader: dst, DstOfs: ofs, Bits: bits);

    /// <summary>A multipath's NX_HASH_FIELDS_* value.</summary>
    public ushort MultipathFields => InPort;
    /// <summary>A multipath's hash basis.</summary>
    public ushort MultipathBasis => MaxLen;
    /// <summary>A multipath's NX_MP_ALG_* value.</summary>
    public ushort MultipathAlgorithm => SrcOfs;
    /// <summary>A multipath's number of links less one.</summary>
    public ushort MultipathMaxLink => (ushort)SrcHeader;

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |          subtype: 19          |        fin_idle_timeout       |   8
    // +-------------------------------+-------------------------------+
    // |        fin_hard_timeout       |              pad              |  12
    // +-------------------------------+-------------------------------+
    private static bool TryFinTimeout(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        error = default;
        nx = FinTimeout(BinaryPrimitives.ReadUInt16BigEndian(b[2..]), BinaryPrimitives.ReadUInt16BigEndian(b[4..]));
        return true;
    }

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |          subtype: 10          |             fields            |   8
    // +-------------------------------+-------------------------------+
    // |             basis             |              pad0             |  12
    // +-------------------------------+-------------------------------+
    // |           algorithm           |            max_link           |  16
    // +-------------------------------+-------------------------------+
    // |                              arg                              |  20
    // +-------------------------------+-------------------------------+
    // |              pad1             |           ofs_nbits           |  24
    // +-------------------------------+-------------------------------+
    // |                dst: a 32-bit NXM or OXM header                |  28
    // +---------------------------------------------------------------+
    private static bool TryMultipath(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        ushort fields = BinaryPrimitives.ReadUInt16BigEndian(b[2..]), basis = BinaryPrimitives.ReadUInt16BigEndian(b[4..]);
        ushort algorithm = BinaryPrimitives.ReadUInt16BigEndian(b[8..]), maxLink = BinaryPrimitives.ReadUInt16BigEndian(b[10..]);
        uint arg = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        int ofsBits = BinaryPrimitives.ReadUInt16BigEndian(b[18..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(b[20..]);
        int bits = (ofsBits & 63) + 1;
        int minBits = maxLink == 0 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)maxLink); // log2_ceil(max_link + 1)
        if (fields > MaxHashFields || algorithm > MaxMultipathAlgorithm || bits < minBits || !PlainHeader(dst))
            return Fail(NxActionError.BadArgument, out error);
        error = default;
        nx = Multipath(fields, basis, algorithm, maxLink, arg, dst, (ushort)(ofsBits >> 6), (ushort)bits);
        return true;
    }

    private void WriteFinTimeoutOrMultipath(Span<byte> dest)
    {
        if (Subtype == NxActionSubtype.FinTimeout)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dest[2..], FinIdleTimeout);
            BinaryPrimitives.WriteUInt16BigEndian(dest[4..], FinHardTimeout);
            return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], MultipathFields);
        BinaryPrimitives.WriteUInt16BigEndian(dest[4..], MultipathBasis);
        BinaryPrimitives.WriteUInt16BigEndian(dest[8..], MultipathAlgorithm);
        BinaryPrimitives.WriteUInt16BigEndian(dest[10..], MultipathMaxLink);
        BinaryPrimitives.WriteUInt32BigEndian(dest[12..], (uint)Arg);
        BinaryPrimitives.WriteUInt16BigEndian(dest[18..], (ushort)((DstOfs << 6) | ((Bits - 1) & 63)));
        BinaryPrimitives.WriteUInt32BigEndian(dest[20..], FieldHeader);
    }
}
