using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>NXAST_CONJUNCTION (ovs lib/ofp-actions.c, struct nx_action_conjunction).</summary>
public readonly partial record struct NxAction
{
    // clause is 0-based (ovs-ofctl's text shows clause + 1); 2 <= n_clauses <= 64; clause < n_clauses.

    /// <summary>NXBAC_BAD_CONJUNCTION in OpenFlow 1.0 and 1.1: OFPET_BAD_ACTION, code 526 (ovs NX1.0-1.1(2,526)).</summary>
    public const ushort BadConjunctionCode10 = 526;
    /// <summary>NXBAC_BAD_CONJUNCTION from OpenFlow 1.2: an experimenter error, exp_code 15 (ovs NX1.2+(15)).</summary>
    public const ushort BadConjunctionExpCode = 15;

    /// <summary>Clause <paramref name="clause"/> (0-based) of <paramref name="clauses"/> of conjunctive match <paramref name="id"/>.</summary>
    public static NxAction Conjunction(uint id, byte clause, byte clauses)
        => new(NxActionSubtype.Conjunction, Arg: id, Table: clause, Bits: clauses);

    /// <summary>A conjunction's id.</summary>
    public uint ConjId => (uint)Arg;
    /// <summary>A conjunction's clause, 0-based.</summary>
    public byte ConjClause => Table;
    /// <summary>A conjunction's number of clauses.</summary>
    public byte ConjClauses => (byte)Bits;

    /// <summary>Whether <paramref name="clause"/> of <paramref name="clauses"/> is a conjunction Open vSwitch takes (decode_NXAST_RAW_CONJUNCTION).</summary>
    public static bool IsValidConjunction(int clause, int clauses) => clauses is >= 2 and <= 64 && clause >= 0 && clause < clauses;

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+---------------+---------------+
    // |          subtype: 34          |     clause    |   n_clauses   |   8
    // +-------------------------------+---------------+---------------+
    // |                               id                              |  12
    // +---------------------------------------------------------------+
    private static bool TryConjunction(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        byte clause = b[2], clauses = b[3];
        if (!IsValidConjunction(clause, clauses)) return Fail(NxActionError.BadConjunction, out error);
        error = default;
        nx = Conjunction(BinaryPrimitives.ReadUInt32BigEndian(b[4..]), clause, clauses);
        return true;
    }

    private void WriteConjunction(Span<byte> dest)
    {
        dest[2] = ConjClause;
        dest[3] = ConjClauses;
        BinaryPrimitives.WriteUInt32BigEndian(dest[4..], ConjId);
    }
}
