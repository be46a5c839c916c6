namespace Softswitch.OfWire;

/// <summary>NXAST_CLONE (ovs lib/ofp-actions.c, decode_NXAST_RAW_CLONE: an ext_action_header and the nested actions).</summary>
public readonly partial record struct NxAction
{
    // As Open vSwitch: the pad is not read; the nested list is the version's to decode (an OpenFlow 1.0 list of vendor
    // and 1.0 actions, or a 1.1+ list), so the codec keeps its bytes (Nested) and each version's translation reads them,
    // answering a bad nested action with the error that action would get at the top level.

    /// <summary>clone(...) whose nested actions are <paramref name="actions"/>, an encoded action list (a multiple of 8 bytes).</summary>
    public static NxAction CloneOf(byte[] actions) => new(NxActionSubtype.Clone) { Nested = actions };

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |          subtype: 42          |              pad              |   8
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                   nested actions (len - 16)                   |  16
    // +---------------------------------------------------------------+
    private static bool TryClone(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        if (b.Length < 8 || (b.Length & 7) != 0) return Fail(NxActionError.BadLen, out error);
        error = default;
        nx = CloneOf(b[8..].ToArray());
        return true;
    }
}
