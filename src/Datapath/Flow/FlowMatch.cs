using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// The fields a <see cref="FlowMatch"/> leaves out: one bit a field, plus for nw_src and nw_dst a 6-bit count of
/// ignored low-order address bits (0 = the whole address is matched, 32 or more = none of it). The datapath's own
/// layout: the OpenFlow codecs map their wildcard words to it explicitly (no value is shared with a wire format).
/// </summary>
[Flags]
public enum Wildcards : uint
{
    None = 0,
    InPort = 0x0001,
    DlSrc = 0x0002,
    DlDst = 0x0004,
    DlVlan = 0x0008,
    DlVlanPcp = 0x0010,
    DlType = 0x0020,
    NwTos = 0x0040,
    NwProto = 0x0080,
    TpSrc = 0x0100,
    TpDst = 0x0200,
    /// <summary>The tunnel id (not part of the OpenFlow 1.0 match; plain OpenFlow 1.0 rules leave it out).</summary>
    TunIdExt = 0x0400,
    NwSrcShift = 16,
    NwSrcBits = 6,
    NwSrcMask = 0x3F << 16,
    NwSrcAll = 32 << 16,
    NwDstShift = 24,
    NwDstBits = 6,
    NwDstMask = 0x3Fu << 24,
    NwDstAll = 32u << 24,
    /// <summary>Every field of the OpenFlow 1.0 twelve-tuple left out (the tunnel id is not among them).</summary>
    All = 0x03FF | NwSrcAll | NwDstAll,
}

/// <summary>
/// One OpenFlow 1.0 match (ofp_match semantics) in datapath form: a <see cref="Value"/> already ANDed
/// with its <see cref="Mask"/>, both in <see cref="FlowKey"/> layout.
/// </summary>
/// <remarks>
/// Design: built once per flow-mod from the OF1.0 fields and wildcards (<see cref="FromOpenFlow"/>), then
/// only compared. Two matches are the same rule-identity (for ADD replace / strict ops) when Mask and Value
/// are equal. nw_src/nw_dst wildcard counts n become prefix masks (n &gt;= 32: fully wildcarded). nw_tos keeps
/// only the DSCP bits. The tunnel id is wildcarded unless <see cref="Wildcards.TunIdExt"/> is clear.
/// Immutable value type.
/// </remarks>
[StructLayout(LayoutKind.Auto)]
public readonly struct FlowMatch : IEquatable<FlowMatch>
{
    // Value first: lookups compare it, and it then shares cache lines with the flow entry's hot fields.
    public readonly FlowKey Value;
    public readonly FlowKey Mask;
    /// <summary>The OF1.0 wildcards this match was built from (normalised: nw counts clamped to 32).</summary>
    public readonly Wildcards Wildcards;

    public FlowMatch(in FlowKey mask, in FlowKey value, Wildcards wildcards)
    {
        // A mask never covers the key's map of extension words (a function of the words it already covers).
        var m = new FlowKeyBuilder(mask);
        m.Bytes.Slice(FlowKey.ExtMapOffset, 2).Clear();
        Mask = m.Key;
        Value = value.And(mask);
        Wildcards = wildcards;
    }

    /// <summary>
    /// True when no bit of the OF1.0 12-tuple is wildcarded and the tunnel id is (OF1.0 wildcards == 0): the
    /// exact table's kind of rule. Exact rules rank above every wildcard rule and are looked up with the
    /// packet key's tunnel id word cleared.
    /// </summary>
    public bool IsExact => Mask.Equals(ExactMaskNoTun);

    public static readonly FlowKey ExactMaskNoTun = BuildMask(Wildcards.TunIdExt);
    public static readonly FlowMatch All = FromOpenFlow(Wildcards.All | Wildcards.TunIdExt, default);

    public bool Matches(in FlowKey key) => key.MatchesMasked(Mask, Value);

    public int NwSrcPrefixBits => 32 - Math.Min(32, (int)(((uint)Wildcards & (uint)Wildcards.NwSrcMask) >> (int)Wildcards.NwSrcShift));
    public int NwDstPrefixBits => 32 - Math.Min(32, (int)(((uint)Wildcards & (uint)Wildcards.NwDstMask) >> (int)Wildcards.NwDstShift));

    /// <summary>
    /// Builds a match from OF1.0 wildcards and a key holding the field values. Without
    /// <see cref="Wildcards.TunIdExt"/> the tunnel id is matched exactly (pass the bit to leave it out,
    /// which is what plain OF1.0 controllers mean).
    /// </summary>
    public static FlowMatch FromOpenFlow(Wildcards wildcards, in FlowKey fields)
    {
        wildcards = Normalize(wildcards);
        var mask = BuildMask(wildcards);
        return new FlowMatch(mask, fields, wildcards);
    }

    /// <summary>An exact match on every field of <paramref name="key"/> except the tunnel id when <paramref name="withTunId"/> is false.</summary>
    public static FlowMatch Exact(in FlowKey key, bool withTunId = false)
        => FromOpenFlow(withTunId ? Wildcards.None : Wildcards.TunIdExt, key);

    private static Wildcards Normalize(Wildcards w)
    {
        uint v = (uint)w;
        uint src = (v & (uint)Wildcards.NwSrcMask) >> (int)Wildcards.NwSrcShift;
        uint dst = (v & (uint)Wildcards.NwDstMask) >> (int)Wildcards.NwDstShift;
        if (src > 32) src = 32;
        if (dst > 32) dst = 32;
        v &= ~((uint)Wildcards.NwSrcMask | (uint)Wildcards.NwDstMask);
        v |= (src << (int)Wildcards.NwSrcShift) | (dst << (int)Wildcards.NwDstShift);
        v &= (uint)(Wildcards.All | Wildcards.TunIdExt | Wildcards.NwSrcMask | Wildcards.NwDstMask);
        return (Wildcards)v;
    }

    private static FlowKey BuildMask(Wildcards w)
    {
        var b = new FlowKeyBuilder();
        var bytes = b.Bytes;
        if ((w & Wildcards.InPort) == 0) bytes.Slice(FlowKey.InPortOffset, 2).Fill(0xFF);
        if ((w & Wildcards.DlVlan) == 0) bytes.Slice(FlowKey.DlVlanOffset, 2).Fill(0xFF);
        if ((w & Wildcards.DlType) == 0) bytes.Slice(FlowKey.DlTypeOffset, 2).Fill(0xFF);
        if ((w & Wildcards.DlVlanPcp) == 0) bytes.Slice(FlowKey.DlVlanPcpOffset, 1).Fill(0xFF);
        if ((w & Wildcards.NwTos) == 0) bytes[FlowKey.NwTosOffset] = 0xFC;
        if ((w & Wildcards.DlSrc) == 0) bytes.Slice(FlowKey.DlSrcOffset, 6).Fill(0xFF);
        if ((w & Wildcards.DlDst) == 0) bytes.Slice(FlowKey.DlDstOffset, 6).Fill(0xFF);
        if ((w & Wildcards.NwProto) == 0) bytes.Slice(FlowKey.NwProtoOffset, 1).Fill(0xFF);
        int srcN = (int)(((uint)w & (uint)Wildcards.NwSrcMask) >> (int)Wildcards.NwSrcShift);
        int dstN = (int)(((uint)w & (uint)Wildcards.NwDstMask) >> (int)Wildcards.NwDstShift);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[FlowKey.NwSrcOffset..], srcN >= 32 ? 0u : ~0u << srcN);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[FlowKey.NwDstOffset..], dstN >= 32 ? 0u : ~0u << dstN);
        if ((w & Wildcards.TpSrc) == 0) bytes.Slice(FlowKey.TpSrcOffset, 2).Fill(0xFF);
        if ((w & Wildcards.TpDst) == 0) bytes.Slice(FlowKey.TpDstOffset, 2).Fill(0xFF);
        if ((w & Wildcards.TunIdExt) == 0) bytes.Slice(FlowKey.TunIdOffset, 8).Fill(0xFF);
        return b.Key;
    }

    /// <summary>
    /// True when every packet this match accepts is also accepted by <paramref name="other"/>
    /// (OF1.0 non-strict modify/delete: "this rule is at least as specific as the request").
    /// </summary>
    public bool IsSubsetOf(in FlowMatch other)
    {
        // other's mask must be a subset of our mask, and our value must agree with other's on other's bits.
        return other.Mask.And(Mask).Equals(other.Mask) && Value.MatchesMasked(other.Mask, other.Value);
    }

    /// <summary>True when some packet can match both (OFPFF_CHECK_OVERLAP).</summary>
    public bool Overlaps(in FlowMatch other)
    {
        var common = Mask.And(other.Mask);
        return Value.And(common).Equals(other.Value.And(common));
    }

    public bool Equals(FlowMatch other) => Mask.Equals(other.Mask) && Value.Equals(other.Value);
    public override bool Equals(object? obj) => obj is FlowMatch m && Equals(m);
    public override int GetHashCode() => HashCode.Combine(Mask.Hash(), Value.Hash());
    public static bool operator ==(in FlowMatch a, in FlowMatch b) => a.Equals(b);
    public static bool operator !=(in FlowMatch a, in FlowMatch b) => !a.Equals(b);

    public override string ToString() => $"match(wc=0x{(uint)Wildcards:x}, {Value})";
}
