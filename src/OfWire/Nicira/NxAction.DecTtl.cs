using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>NXAST_DEC_TTL_CNT_IDS (ovs lib/ofp-actions.c, struct nx_action_cnt_ids).</summary>
public readonly partial record struct NxAction
{
    // As Open vSwitch's decode_NXAST_RAW_DEC_TTL_CNT_IDS: zeros not zero is NXBRC_MUST_BE_ZERO, fewer bytes than the ids
    // need is BAD_LEN; bytes past the ids are not read (re-encoded, the action is 16 + the ids rounded up to 8).

    // ControllerIds, NXAST_DEC_TTL_CNT_IDS's ids, is declared beside Learn (NxLearn.cs): a partial struct keeps its
    // fields in one declaration.

    /// <summary>A dec_ttl whose invalid-TTL packet-ins go to controller ids <paramref name="ids"/> (NXAST_DEC_TTL_CNT_IDS).</summary>
    public static NxAction DecTtlIds(ushort[] ids) => new(NxActionSubtype.DecTtlCntIds) { ControllerIds = ids };

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |          subtype: 21          |         n_controllers         |   8
    // +-------------------------------+-------------------------------+
    // |                              zero                             |  12
    // +---------------------------------------------------------------+
    // |      cnt_ids: n_controllers x 2 bytes, zero padding to 8      |  16
    // +---------------------------------------------------------------+
    private static bool TryDecTtlCntIds(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        int n = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        if (b[4..8].ContainsAnyExcept((byte)0)) return Fail(NxActionError.MustBeZero, out error);
        if (b.Length - 8 < 2 * n) return Fail(NxActionError.BadLen, out error);
        var ids = new ushort[n];
        for (int i = 0; i < n; i++) ids[i] = BinaryPrimitives.ReadUInt16BigEndian(b[(8 + 2 * i)..]);
        error = default;
        nx = DecTtlIds(ids);
        return true;
    }

    private void WriteDecTtlCntIds(Span<byte> dest)
    {
        var ids = ControllerIds ?? [];
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)ids.Length);
        for (int i = 0; i < ids.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(dest[(8 + 2 * i)..], ids[i]);
    }
}
