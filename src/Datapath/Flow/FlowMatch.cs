using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
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
/// One match in datapath form: a mask over the whole <see cref="FlowKey"/> (any bits of any word except the map of
/// extension words) and a <see cref="Value"/> already ANDed with it.
/// </summary>
/// <remarks>
/// <para>Design: built once per flow-mod, then only compared. OpenFlow 1.0 callers build it from wildcards
/// (<see cref="FromOpenFlow"/>: nw_src/nw_dst wildcard counts n become prefix masks, n &gt;= 32 fully wildcarded; nw_tos
/// keeps the DSCP bits; the vlan mask is 0x1FFF, OFPVID_PRESENT and the VID; the tunnel id is wildcarded unless
/// <see cref="Wildcards.TunIdExt"/> is clear); OpenFlow 1.3 callers give any mask (<see cref="FlowMatch(in FlowKey, in FlowKey)"/>).
/// Two matches are the same rule identity (ADD replace, strict ops) when mask and value are equal.</para>
/// <para>Memory: a table holds millions of these inside its entries, so the struct keeps inline only what an exact
/// flow needs: the six base words of the value (first, so a lookup's compare reads the entry's lines it prefetched),
/// the shared mask (one interned <see cref="FlowMask"/> per distinct mask, holding the mask's words, its map of
/// extension words and its OpenFlow 1.0 reading), and a reference to the whole value only when the value has a
/// non-zero extension word (null otherwise: the extension of the value is then zero). 64 bytes instead of 256.</para>
/// <para>Immutable value type; its objects are immutable and shared across threads.</para>
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
public readonly struct FlowMatch : IEquatable<FlowMatch>
{
    // The base words first (the runtime would put them after the references): an entry places its match right after
    // its hot fields, so a lookup's key compare reads the line those share.
    /// <summary>The value's base words (W0-W5), what a lookup compares first.</summary>
    [FieldOffset(0)] internal readonly BaseWords ValueBase;
    [FieldOffset(48)] private readonly FlowMask? _mask;
    /// <summary>The whole value when some extension word of it is non-zero, else null.</summary>
    [FieldOffset(56)] private readonly FlowKeyBox? _extValue;

    /// <summary>A match of the packets whose key ANDed with <paramref name="mask"/> equals <paramref name="value"/> ANDed with it.</summary>
    public FlowMatch(in FlowKey mask, in FlowKey value)
    {
        _mask = FlowMask.Intern(mask);
        var v = value.And(_mask.Bits);
        ValueBase = new BaseWords(v);
        _extValue = (v.W6 | v.W7 | v.W8 | v.W9 | v.W10 | v.W11 | v.W12 | v.W13 | v.W14 | v.W15) != 0 ? new FlowKeyBox(v) : null;
    }

    private FlowMask MaskInfo => _mask ?? FlowMask.Empty;

    /// <summary>The mask (interned: shared by every match with these bits).</summary>
    public ref readonly FlowKey Mask => ref MaskInfo.Bits;

    /// <summary>The interned mask object (identity is a fast equality test; tables key subtables by its bits).</summary>
    public FlowMask Shape => MaskInfo;

    /// <summary>The value, ANDed with the mask (assembled: prefer <see cref="ValueEquals"/> and <see cref="ValueWord"/> on hot paths).</summary>
    public FlowKey Value => _extValue is not null ? _extValue.Key : ValueBase.ToKey();

    /// <summary>Word <paramref name="i"/> (0-15) of the value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ValueWord(int i)
        => i < FlowKey.BaseWords ? ValueBase[i] : _extValue is null ? 0 : _extValue.Key.AllWords[i];

    /// <summary>
    /// The OpenFlow 1.0 reading of the mask: a field's bit is set when its mask is zero; nw_src/nw_dst counts are 32
    /// minus the prefix length (0 when the mask is not a prefix). Exact for matches built by <see cref="FromOpenFlow"/>;
    /// see <see cref="IsOpenFlow10"/> for the others.
    /// </summary>
    public Wildcards Wildcards => MaskInfo.Wildcards;

    /// <summary>True when the mask is one OpenFlow 1.0 wildcards can say (<see cref="Wildcards"/> describes it wholly).</summary>
    public bool IsOpenFlow10 => MaskInfo.IsOpenFlow10;

    /// <summary>True when the mask covers some extension word (metadata, IPv6, ND, ARP hardware addresses, MPLS, PBB).</summary>
    public bool UsesExtension => MaskInfo.ExtWords != 0;

    /// <summary>
    /// True when no bit of the OF1.0 12-tuple is wildcarded and the tunnel id is (OF1.0 wildcards == 0): the
    /// exact table's kind of rule. Exact rules rank above every wildcard rule and are looked up with the
    /// packet key's tunnel id word cleared.
    /// </summary>
    public bool IsExact => MaskInfo.IsExactNoTun;

    public static readonly FlowKey ExactMaskNoTun = BuildMask(Wildcards.TunIdExt);
    public static readonly FlowMatch All = FromOpenFlow(Wildcards.All | Wildcards.TunIdExt, default);

    public bool Matches(in FlowKey key) => ValueMatches(key, Mask);

    public int NwSrcPrefixBits => 32 - Math.Min(32, (int)(((uint)Wildcards & (uint)Wildcards.NwSrcMask) >> (int)Wildcards.NwSrcShift));
    public int NwDstPrefixBits => 32 - Math.Min(32, (int)(((uint)Wildcards & (uint)Wildcards.NwDstMask) >> (int)Wildcards.NwDstShift));

    /// <summary>
    /// True when <c>(key &amp; mask) == Value</c>, reading the extension only for the words the mask uses;
    /// <paramref name="mask"/> is this match's <see cref="Mask"/> (passed so a caller holding it saves the load).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ValueMatches(in FlowKey key, in FlowKey mask)
    {
        ref readonly BaseWords v = ref ValueBase;
        if ((((key.W0 & mask.W0) ^ v.W0) | ((key.W1 & mask.W1) ^ v.W1) | ((key.W2 & mask.W2) ^ v.W2)
           | ((key.W3 & mask.W3) ^ v.W3) | ((key.W4 & mask.W4) ^ v.W4) | ((key.W5 & mask.W5) ^ v.W5)) != 0)
        {
            return false;
        }
        return MaskInfo.ExtWords == 0 || ExtensionMatches(key, mask, MaskInfo.ExtWords);
    }

    /// <summary>The extension half of <see cref="ValueMatches"/>: words in <paramref name="extWords"/> (bit i: word 6 + i).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal bool ExtensionMatches(in FlowKey key, in FlowKey mask, ushort extWords)
    {
        var k = key.AllWords;
        var m = mask.AllWords;
        if (_extValue is null)
        {
            for (uint b = extWords; b != 0; b &= b - 1)
            {
                int i = FlowKey.BaseWords + BitOperations.TrailingZeroCount(b);
                if ((k[i] & m[i]) != 0) return false;
            }
            return true;
        }
        var v = _extValue.Key.AllWords;
        for (uint b = extWords; b != 0; b &= b - 1)
        {
            int i = FlowKey.BaseWords + BitOperations.TrailingZeroCount(b);
            if ((k[i] & m[i]) != v[i]) return false;
        }
        return true;
    }

    /// <summary>True when the value equals <paramref name="value"/> (an already-masked key) over all sixteen words.</summary>
    public bool ValueEquals(in FlowKey value)
    {
        if (!ValueBase.Equals(value)) return false;
        bool extZero = (value.W6 | value.W7 | value.W8 | value.W9 | value.W10 | value.W11 | value.W12 | value.W13 | value.W14 | value.W15) == 0;
        return _extValue is null ? extZero : !extZero && _extValue.Key.Equals(value);
    }

    /// <summary>
    /// Builds a match from OF1.0 wildcards and a key holding the field values. Without
    /// <see cref="Wildcards.TunIdExt"/> the tunnel id is matched exactly (pass the bit to leave it out,
    /// which is what plain OF1.0 controllers mean).
    /// </summary>
    public static FlowMatch FromOpenFlow(Wildcards wildcards, in FlowKey fields)
        => new(BuildMask(Normalize(wildcards)), fields);

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

    /// <summary>The mask OpenFlow 1.0 wildcards <paramref name="w"/> (normalised) stand for.</summary>
    internal static FlowKey BuildMask(Wildcards w)
    {
        var b = new FlowKeyBuilder();
        var bytes = b.Bytes;
        if ((w & Wildcards.InPort) == 0) bytes.Slice(FlowKey.InPortOffset, 2).Fill(0xFF);
        if ((w & Wildcards.DlVlan) == 0) b.VlanVid(FlowMask.VlanBits);
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
        ref readonly FlowKey om = ref other.Mask;
        return om.And(Mask).Equals(om) && other.ValueMatches(Value, om);
    }

    /// <summary>True when some packet can match both (OFPFF_CHECK_OVERLAP).</summary>
    public bool Overlaps(in FlowMatch other)
    {
        var common = Mask.And(other.Mask);
        return Value.And(common).Equals(other.Value.And(common));
    }

    public bool Equals(FlowMatch other)
        => (ReferenceEquals(MaskInfo, other.MaskInfo) || Mask.Equals(other.Mask))
        && ValueBase.Equals(other.ValueBase)
        && (_extValue is null ? other._extValue is null : other._extValue is not null && _extValue.Key.Equals(other._extValue.Key));

    public override bool Equals(object? obj) => obj is FlowMatch m && Equals(m);
    public override int GetHashCode() => HashCode.Combine(Mask.Hash(), Value.Hash());
    public static bool operator ==(in FlowMatch a, in FlowMatch b) => a.Equals(b);
    public static bool operator !=(in FlowMatch a, in FlowMatch b) => !a.Equals(b);

    public override string ToString() => $"match(wc=0x{(uint)Wildcards:x}, {Value})";

    /// <summary>The six base words of a key, contiguous (a lookup compares them as the key's first 48 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly struct BaseWords
    {
        public readonly ulong W0, W1, W2, W3, W4, W5;

        public BaseWords(in FlowKey k)
        {
            W0 = k.W0; W1 = k.W1; W2 = k.W2; W3 = k.W3; W4 = k.W4; W5 = k.W5;
        }

        public ulong this[int i] => MemoryMarshal.CreateReadOnlySpan(in W0, FlowKey.BaseWords)[i];

        public FlowKey ToKey() => new(W0, W1, W2, W3, W4, W5);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Equals(in FlowKey k)
            => ((W0 ^ k.W0) | (W1 ^ k.W1) | (W2 ^ k.W2) | (W3 ^ k.W3) | (W4 ^ k.W4) | (W5 ^ k.W5)) == 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Equals(in BaseWords k)
            => ((W0 ^ k.W0) | (W1 ^ k.W1) | (W2 ^ k.W2) | (W3 ^ k.W3) | (W4 ^ k.W4) | (W5 ^ k.W5)) == 0;
    }

    private sealed class FlowKeyBox(in FlowKey key)
    {
        public readonly FlowKey Key = key;
    }
}

/// <summary>
/// One distinct mask, shared by every <see cref="FlowMatch"/> that uses it: its bits, the map of extension words it
/// covers (what a classifier hashes and compares beyond the base), and its OpenFlow 1.0 reading.
/// </summary>
/// <remarks>
/// Interned (<see cref="Intern"/>): equal masks are usually one object, so tables compare masks by reference first.
/// The intern table keeps at most <see cref="MaxInterned"/> masks (a controller sending endless distinct masks gets
/// fresh objects past that: equality still compares bits). Immutable; thread-safe.
/// </remarks>
public sealed class FlowMask
{
    /// <summary>The vlan field's meaningful bits: OFPVID_PRESENT and the 12-bit VID.</summary>
    public const ushort VlanBits = 0x1FFF;
    internal const int MaxInterned = 1 << 16;

    private static readonly Dictionary<FlowKey, FlowMask> s_interned = new();
    private static readonly Lock s_lock = new();
    /// <summary>The mask interned last: a batch of flow-mods usually repeats one mask, which then costs a compare, not the lock.</summary>
    private static FlowMask? s_last;

    /// <summary>The mask of no bits (a match of every packet).</summary>
    public static readonly FlowMask Empty = Intern(default);

    /// <summary>The mask (the extension map bytes always zero).</summary>
    public readonly FlowKey Bits;
    /// <summary>Extension words the mask covers (bit i: word 6 + i).</summary>
    public readonly ushort ExtWords;
    public readonly Wildcards Wildcards;
    public readonly bool IsOpenFlow10;
    /// <summary>Equal to <see cref="FlowMatch.ExactMaskNoTun"/> (the exact table's kind of rule).</summary>
    public readonly bool IsExactNoTun;

    private FlowMask(in FlowKey bits)
    {
        Bits = bits;
        var words = bits.AllWords;
        for (int i = FlowKey.BaseWords; i < FlowKey.Words; i++)
            if (words[i] != 0) ExtWords |= (ushort)(1 << (i - FlowKey.BaseWords));
        Wildcards = ReadWildcards(bits);
        IsOpenFlow10 = FlowMatch.BuildMask(Wildcards).Equals(bits);
        IsExactNoTun = IsOpenFlow10 && Wildcards == Wildcards.TunIdExt;
    }

    /// <summary>The shared object for <paramref name="mask"/> (its extension map bytes cleared).</summary>
    public static FlowMask Intern(in FlowKey mask)
    {
        var b = new FlowKeyBuilder(mask);
        b.Bytes.Slice(FlowKey.ExtMapOffset, 2).Clear();
        var bits = b.Key;
        var last = Volatile.Read(ref s_last);
        if (last is not null && last.Bits.Equals(bits)) return last;
        lock (s_lock)
        {
            if (!s_interned.TryGetValue(bits, out var m))
            {
                m = new FlowMask(bits);
                if (s_interned.Count < MaxInterned) s_interned.Add(bits, m);
            }
            Volatile.Write(ref s_last, m);
            return m;
        }
    }

    private static Wildcards ReadWildcards(in FlowKey m)
    {
        var w = Wildcards.None;
        if (m.InPort == 0) w |= Wildcards.InPort;
        if (m.VlanVid == 0) w |= Wildcards.DlVlan;
        if (m.DlType == 0) w |= Wildcards.DlType;
        if (m.DlVlanPcp == 0) w |= Wildcards.DlVlanPcp;
        if (m.NwTos == 0) w |= Wildcards.NwTos;
        if (m.DlSrc.Value == 0) w |= Wildcards.DlSrc;
        if (m.DlDst.Value == 0) w |= Wildcards.DlDst;
        if (m.NwProto == 0) w |= Wildcards.NwProto;
        if (m.TpSrc == 0) w |= Wildcards.TpSrc;
        if (m.TpDst == 0) w |= Wildcards.TpDst;
        if (m.TunId == 0) w |= Wildcards.TunIdExt;
        w |= (Wildcards)((uint)WildCount(m.NwSrc) << (int)Wildcards.NwSrcShift);
        w |= (Wildcards)((uint)WildCount(m.NwDst) << (int)Wildcards.NwDstShift);
        return w;
    }

    /// <summary>32 minus the prefix length of an address mask; 0 (matched) when the mask is not a prefix.</summary>
    private static int WildCount(uint mask)
    {
        int ones = BitOperations.LeadingZeroCount(~mask);
        uint prefix = ones == 0 ? 0u : ones >= 32 ? uint.MaxValue : ~0u << (32 - ones);
        return prefix == mask ? 32 - ones : 0;
    }

    public override string ToString() => $"mask(wc=0x{(uint)Wildcards:x}, ext=0x{ExtWords:x})";
}
