using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>Where a learn spec's value comes from (NX_LEARN_SRC_*).</summary>
public enum NxLearnSrc : byte
{
    /// <summary>Bits of a field of the packet or the registers when the action runs.</summary>
    Field,
    /// <summary>A constant carried in the spec.</summary>
    Immediate,
}

/// <summary>What a learn spec makes of its value in the learned flow (NX_LEARN_DST_*).</summary>
public enum NxLearnDst : byte
{
    /// <summary>A match on bits of a field.</summary>
    Match,
    /// <summary>A load of the value into bits of a field (NXAST_REG_LOAD in the learned flow's actions).</summary>
    Load,
    /// <summary>An output to the port the value names.</summary>
    Output,
}

/// <summary>
/// One flow_mod_spec of a learn action: <see cref="Bits"/> bits from <see cref="SrcHeader"/>'s field at
/// <see cref="SrcOfs"/> (or the constant <see cref="Value"/>, right-aligned) into <see cref="DstHeader"/>'s field at
/// <see cref="DstOfs"/> (none for an output). Headers are 32-bit NXM or OXM headers, hasmask clear.
/// </summary>
public readonly record struct NxLearnSpec(NxLearnSrc Src, NxLearnDst Dst, ushort Bits, uint SrcHeader = 0, ushort SrcOfs = 0,
                                          UInt128 Value = default, uint DstHeader = 0, ushort DstOfs = 0);

/// <summary>
/// The body of Nicira's NXAST_LEARN and NXAST_LEARN2 (Open vSwitch lib/ofp-actions.c, lib/learn.c): the flow-mod a
/// learn action makes, its parameters and its flow_mod_specs. Immutable; equal by value (specs included).
/// </summary>
/// <remarks>
/// <para>Immediate values and field widths past 128 bits are refused (BAD_ARGUMENT): every field the switch names is at
/// most 128 bits (Open vSwitch allows up to 1,023-bit specs for its wider fields).</para>
/// <para>LEARN2's limit is kept; its result_dst (NX_LEARN_F_WRITE_RESULT) is read and kept (<see cref="ResultHeader"/>,
/// <see cref="ResultOfs"/>), the layer above decides whether it serves it.</para>
/// </remarks>
public sealed record NxLearn(ushort IdleTimeout, ushort HardTimeout, ushort Priority, ulong Cookie, ushort Flags, byte Table,
                             ushort FinIdleTimeout, ushort FinHardTimeout, NxLearnSpec[] Specs, bool Learn2 = false, uint Limit = 0,
                             uint ResultHeader = 0, ushort ResultOfs = 0)
{
    /// <summary>NX_LEARN_F_SEND_FLOW_REM: the learned flow has OFPFF_SEND_FLOW_REM.</summary>
    public const ushort SendFlowRem = 1;
    /// <summary>NX_LEARN_F_DELETE_LEARNED: the learned flows go when the flow holding the learn goes.</summary>
    public const ushort DeleteLearned = 2;
    /// <summary>NX_LEARN_F_WRITE_RESULT: LEARN2 writes whether it learned into result_dst.</summary>
    public const ushort WriteResult = 4;

    public bool Equals(NxLearn? o)
        => o is not null && IdleTimeout == o.IdleTimeout && HardTimeout == o.HardTimeout && Priority == o.Priority && Cookie == o.Cookie
           && Flags == o.Flags && Table == o.Table && FinIdleTimeout == o.FinIdleTimeout && FinHardTimeout == o.FinHardTimeout
           && Learn2 == o.Learn2 && Limit == o.Limit && ResultHeader == o.ResultHeader && ResultOfs == o.ResultOfs
           && Specs.AsSpan().SequenceEqual(o.Specs);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Cookie);
        h.Add(Table);
        h.Add(Priority);
        h.Add(Flags);
        foreach (var s in Specs) h.Add(s);
        return h.ToHashCode();
    }

    // LEARN (16): then the specs; LEARN2 (45): limit(4) result_dst_ofs(2) pad(2), result_dst's header (4) when
    // WRITE_RESULT, then the specs. Each spec: header(2) = src_type(bit 13) | dst_type(bits 11-12) | n_bits(bits 0-9);
    // a field source: header(4) ofs(2); an immediate: 2*ceil(n_bits/16) bytes; a match or load destination: header(4)
    // ofs(2); an output none. A zero spec header (or the end) ends the list; what follows must be zero.
    internal const int FixedBody = 2 + 22, FixedBody2 = FixedBody + 8;

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |        subtype: 16 / 45       |          idle_timeout         |   8
    // +-------------------------------+-------------------------------+
    // |          hard_timeout         |            priority           |  12
    // +-------------------------------+-------------------------------+
    // |                           cookie (8)                          |  16
    // +-------------------------------+---------------+---------------+
    // |             flags             |    table_id   |      pad      |  24
    // +-------------------------------+---------------+---------------+
    // |        fin_idle_timeout       |        fin_hard_timeout       |  28
    // +-------------------------------+-------------------------------+
    // |                         LEARN2: limit                         |  32
    // +-------------------------------+-------------------------------+
    // |     LEARN2: result_dst_ofs    |          LEARN2: pad          |  36
    // +-------------------------------+-------------------------------+
    // |          specs (LEARN2: result_dst header (4) first)          | 32/40
    // +---------------------------------------------------------------+
    /// <summary>Reads a LEARN or LEARN2 body (<paramref name="b"/>, subtype first, padding included).</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> b, bool two, out NxLearn? learn, out NxActionError error)
    {
        learn = null;
        int fixedLen = two ? FixedBody2 : FixedBody;
        if (b.Length < fixedLen) return Fail(NxActionError.BadLen, out error);
        if (b[19] != 0) return Fail(NxActionError.BadArgument, out error); // pad must be zero
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(b[16..]);
        if ((flags & ~(SendFlowRem | DeleteLearned | (two ? WriteResult : 0))) != 0) return Fail(NxActionError.BadArgument, out error);
        uint limit = 0, resultHeader = 0;
        ushort resultOfs = 0;
        int at = fixedLen;
        if (two)
        {
            limit = BinaryPrimitives.ReadUInt32BigEndian(b[24..]);
            resultOfs = BinaryPrimitives.ReadUInt16BigEndian(b[28..]);
            if ((b[30] | b[31]) != 0) return Fail(NxActionError.BadArgument, out error);
            if ((flags & WriteResult) != 0)
            {
                if (b.Length < at + 4) return Fail(NxActionError.BadLen, out error);
                resultHeader = BinaryPrimitives.ReadUInt32BigEndian(b[at..]);
                if (!PlainHeader(resultHeader)) return Fail(NxActionError.BadArgument, out error);
                at += 4;
            }
        }
        var specs = new List<NxLearnSpec>();
        while (at + 2 <= b.Length)
        {
            ushort h = BinaryPrimitives.ReadUInt16BigEndian(b[at..]);
            if (h == 0) break;
            at += 2;
            int bits = h & 0x3ff;
            var src = (h & (1 << 13)) != 0 ? NxLearnSrc.Immediate : NxLearnSrc.Field;
            int dstType = (h >> 11) & 3;
            if ((h & 0xc000) != 0 || dstType == 3 || bits == 0) return Fail(NxActionError.BadArgument, out error);
            var dst = (NxLearnDst)dstType;
            uint srcHeader = 0, dstHeader = 0;
            ushort srcOfs = 0, dstOfs = 0;
            UInt128 value = 0;
            if (src == NxLearnSrc.Field)
            {
                if (at + 6 > b.Length) return Fail(NxActionError.BadLen, out error);
                srcHeader = BinaryPrimitives.ReadUInt32BigEndian(b[at..]);
                srcOfs = BinaryPrimitives.ReadUInt16BigEndian(b[(at + 4)..]);
                at += 6;
                if (!PlainHeader(srcHeader)) return Fail(NxActionError.BadArgument, out error);
            }
            else
            {
                int n = 2 * ((bits + 15) / 16);
                if (at + n > b.Length) return Fail(NxActionError.BadLen, out error);
                if (bits > 128) return Fail(NxActionError.BadArgument, out error);
                foreach (byte x in b.Slice(at, n)) value = (value << 8) | x;
                at += n;
                if (bits < 128 && (value >> bits) != 0) return Fail(NxActionError.BadArgument, out error);
            }
            if (dst != NxLearnDst.Output)
            {
                if (at + 6 > b.Length) return Fail(NxActionError.BadLen, out error);
                dstHeader = BinaryPrimitives.ReadUInt32BigEndian(b[at..]);
                dstOfs = BinaryPrimitives.ReadUInt16BigEndian(b[(at + 4)..]);
                at += 6;
                if (!PlainHeader(dstHeader)) return Fail(NxActionError.BadArgument, out error);
            }
            specs.Add(new NxLearnSpec(src, dst, (ushort)bits, srcHeader, srcOfs, value, dstHeader, dstOfs));
        }
        if (at < b.Length && b[at..].ContainsAnyExcept((byte)0)) return Fail(NxActionError.BadArgument, out error);
        error = NxActionError.None;
        learn = new NxLearn(BinaryPrimitives.ReadUInt16BigEndian(b[2..]), BinaryPrimitives.ReadUInt16BigEndian(b[4..]),
                            BinaryPrimitives.ReadUInt16BigEndian(b[6..]), BinaryPrimitives.ReadUInt64BigEndian(b[8..]),
                            flags, b[18], BinaryPrimitives.ReadUInt16BigEndian(b[20..]), BinaryPrimitives.ReadUInt16BigEndian(b[22..]),
                            [.. specs], two, limit, resultHeader, resultOfs);
        return true;
    }

    /// <summary>The body's size: the whole action (8-byte header and this) a multiple of 8.</summary>
    internal int BodySize
    {
        get
        {
            int n = Learn2 ? FixedBody2 : FixedBody;
            if (Learn2 && (Flags & WriteResult) != 0) n += 4;
            foreach (var s in Specs)
            {
                n += 2;
                n += s.Src == NxLearnSrc.Field ? 6 : 2 * ((s.Bits + 15) / 16);
                if (s.Dst != NxLearnDst.Output) n += 6;
            }
            return ((8 + n + 7) & ~7) - 8;
        }
    }

    /// <summary>Writes the body (subtype first) into <paramref name="dest"/> (<see cref="BodySize"/> bytes, cleared by the caller).</summary>
    internal void Write(Span<byte> dest)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, (ushort)(Learn2 ? NxActionSubtype.Learn2 : NxActionSubtype.Learn));
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], IdleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(dest[4..], HardTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(dest[6..], Priority);
        BinaryPrimitives.WriteUInt64BigEndian(dest[8..], Cookie);
        BinaryPrimitives.WriteUInt16BigEndian(dest[16..], Flags);
        dest[18] = Table;
        BinaryPrimitives.WriteUInt16BigEndian(dest[20..], FinIdleTimeout);
        BinaryPrimitives.WriteUInt16BigEndian(dest[22..], FinHardTimeout);
        int at = FixedBody;
        if (Learn2)
        {
            BinaryPrimitives.WriteUInt32BigEndian(dest[24..], Limit);
            BinaryPrimitives.WriteUInt16BigEndian(dest[28..], ResultOfs);
            at = FixedBody2;
            if ((Flags & WriteResult) != 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(dest[at..], ResultHeader);
                at += 4;
            }
        }
        foreach (var s in Specs)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dest[at..], (ushort)(s.Bits | (int)s.Dst << 11 | (s.Src == NxLearnSrc.Immediate ? 1 << 13 : 0)));
            at += 2;
            if (s.Src == NxLearnSrc.Field)
            {
                BinaryPrimitives.WriteUInt32BigEndian(dest[at..], s.SrcHeader);
                BinaryPrimitives.WriteUInt16BigEndian(dest[(at + 4)..], s.SrcOfs);
                at += 6;
            }
            else
            {
                int n = 2 * ((s.Bits + 15) / 16);
                var v = s.Value;
                for (int i = n - 1; i >= 0; i--, v >>= 8) dest[at + i] = (byte)v;
                at += n;
            }
            if (s.Dst != NxLearnDst.Output)
            {
                BinaryPrimitives.WriteUInt32BigEndian(dest[at..], s.DstHeader);
                BinaryPrimitives.WriteUInt16BigEndian(dest[(at + 4)..], s.DstOfs);
                at += 6;
            }
        }
    }

    private static bool PlainHeader(uint header) => (header & 0x100) == 0 && header >> 16 != 0xffff && (header & 0xff) != 0;

    private static bool Fail(NxActionError code, out NxActionError error)
    {
        error = code;
        return false;
    }
}

/// <summary>The learn actions of the Nicira codec (<see cref="NxLearn"/>).</summary>
public readonly partial record struct NxAction
{
    /// <summary>NXAST_LEARN's or NXAST_LEARN2's body; null for every other subtype.</summary>
    public NxLearn? Learn { get; init; }

    /// <summary>NXAST_DEC_TTL_CNT_IDS's controller ids, in order as given (NxAction.DecTtl.cs); null for every other subtype.</summary>
    public ushort[]? ControllerIds { get; init; }

    /// <summary>NXAST_CLONE's nested actions, their wire bytes as they came (NxAction.Clone.cs); null for every other subtype.</summary>
    public byte[]? Nested { get; init; }

    /// <summary>NXAST_BUNDLE's or NXAST_BUNDLE_LOAD's members, 16-bit OpenFlow port numbers (NxAction.Bundle.cs); null for every other subtype.</summary>
    public ushort[]? Members { get; init; }

    /// <summary>A learn action (NXAST_LEARN2 when <see cref="NxLearn.Learn2"/>, else NXAST_LEARN).</summary>
    public static NxAction OfLearn(NxLearn learn) => new(learn.Learn2 ? NxActionSubtype.Learn2 : NxActionSubtype.Learn) { Learn = learn };

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | nx_action_learn / learn2: the diagram above NxLearn.TryDecode |   0
    // +---------------------------------------------------------------+
    private static bool TryDecodeLearn(ReadOnlySpan<byte> b, NxActionSubtype subtype, out NxAction nx, out NxActionError error)
    {
        nx = default;
        if (!NxLearn.TryDecode(b, subtype == NxActionSubtype.Learn2, out var learn, out error)) return false;
        nx = OfLearn(learn!);
        return true;
    }
}
