using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// One match in datapath form: a mask over the whole <see cref="FlowKey"/> (any bits of any word except the map of
/// extension words) and a <see cref="Value"/> already ANDed with it.
/// </summary>
/// <remarks>
/// <para>Design: built once per flow-mod from any mask (<see cref="FlowMatch(in FlowKey, in FlowKey)"/>), then only
/// compared. Two matches are the same rule identity (ADD replace, strict ops) when mask and value are equal.</para>
/// <para>Memory: a table holds millions of these inside its entries, so the struct keeps inline only what an exact
/// flow needs: the six base words of the value (first, so a lookup's compare reads the entry's lines it prefetched),
/// the shared mask (one interned <see cref="FlowMask"/> per distinct mask, holding the mask's words, its map of
/// extension words and whether it is the exact table's), and a reference to the whole value only when the value has a
/// non-zero extension word or the mask matches registers (null otherwise: the extension of the value is then zero).
/// 64 bytes instead of 256.</para>
/// <para>Registers (<see cref="Registers"/>, no packet carries them) are matched beside the key: the mask's register
/// bits live in the interned <see cref="FlowMask"/> (<see cref="RegisterMask"/>), the value's in the boxed whole value
/// (<see cref="RegisterValue"/>). A lookup with no register file (<see cref="Matches(in FlowKey)"/>) sees them all 0,
/// as at the start of every pipeline run. A match on registers is never the exact table's.</para>
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
    /// <summary>The whole value (and the register value) when some extension word of it is non-zero or the mask matches registers, else null.</summary>
    [FieldOffset(56)] private readonly FlowKeyBox? _extValue;

    /// <summary>A match of the packets whose key ANDed with <paramref name="mask"/> equals <paramref name="value"/> ANDed with it.</summary>
    public FlowMatch(in FlowKey mask, in FlowKey value) : this(mask, value, default, default) { }

    /// <summary>
    /// A match of the packets whose key ANDed with <paramref name="mask"/> equals <paramref name="value"/> ANDed with it,
    /// and whose registers ANDed with <paramref name="registerMask"/> equal <paramref name="registerValue"/> ANDed with it.
    /// </summary>
    public FlowMatch(in FlowKey mask, in FlowKey value, in Registers registerMask, in Registers registerValue)
        : this(mask, value, registerMask, registerValue, false, 0) { }

    /// <summary>
    /// As <see cref="FlowMatch(in FlowKey, in FlowKey, in Registers, in Registers)"/>, and when <paramref name="matchConjId"/>
    /// only within a conjunctive match's lookup for id <paramref name="conjId"/> (Open vSwitch's conj_id; every other
    /// lookup's conj_id is 0).
    /// </summary>
    public FlowMatch(in FlowKey mask, in FlowKey value, in Registers registerMask, in Registers registerValue, bool matchConjId, uint conjId)
    {
        _mask = FlowMask.Intern(mask, registerMask, matchConjId);
        var v = value.And(_mask.Bits);
        ValueBase = new BaseWords(v);
        bool regs = _mask.UsesRegisters;
        _extValue = regs || matchConjId || (v.W6 | v.W7 | v.W8 | v.W9 | v.W10 | v.W11 | v.W12 | v.W13 | v.W14 | v.W15) != 0
            ? new FlowKeyBox(v, regs ? registerValue.And(_mask.RegisterBits) : default, matchConjId ? conjId : 0)
            : null;
    }

    private FlowMask MaskInfo => _mask ?? FlowMask.Empty;

    /// <summary>The mask (interned: shared by every match with these bits).</summary>
    public ref readonly FlowKey Mask => ref MaskInfo.Bits;

    /// <summary>The interned mask object (identity is a fast equality test; tables key subtables by its bits).</summary>
    public FlowMask Shape => MaskInfo;

    /// <summary>The mask's key and register bits together (what tables key subtables and shadow classes by).</summary>
    public FlowMaskBits MaskBits => new(MaskInfo.Bits, MaskInfo.RegisterBits, MaskInfo.MatchesConjId);

    /// <summary>The match tests conj_id (a conjunctive match's flow: it matches only within that match's lookup).</summary>
    public bool UsesConjId => MaskInfo.MatchesConjId;

    /// <summary>The conj_id the match tests (0 when it tests none).</summary>
    public uint ConjIdValue => _extValue?.ConjId ?? 0;

    /// <summary>Whether a lookup with conj_id <paramref name="conjId"/> (0 outside a conjunctive match's) passes the match's conj_id test.</summary>
    public bool ConjIdMatches(uint conjId) => !MaskInfo.MatchesConjId || _extValue!.ConjId == conjId;

    /// <summary>The register bits the match tests (all 0: none).</summary>
    public ref readonly Registers RegisterMask => ref MaskInfo.RegisterBits;

    /// <summary>The register value, ANDed with <see cref="RegisterMask"/>.</summary>
    public Registers RegisterValue => _extValue is null ? default : _extValue.Regs;

    /// <summary>True when the match tests some register bit.</summary>
    public bool UsesRegisters => MaskInfo.UsesRegisters;

    /// <summary>True when <paramref name="regs"/> ANDed with the register mask equals the register value (always, for a match on no register).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool RegistersMatch(in Registers regs) => !MaskInfo.UsesRegisters || regs.MatchesMasked(MaskInfo.RegisterBits, _extValue!.Regs);

    /// <summary>True when the register value equals <paramref name="value"/> (already masked).</summary>
    public bool RegisterValueEquals(in Registers value) => _extValue is null ? value.IsZero : _extValue.Regs.Equals(value);

    /// <summary>The value, ANDed with the mask (assembled: prefer <see cref="ValueEquals"/> and <see cref="ValueWord"/> on hot paths).</summary>
    public FlowKey Value => _extValue is not null ? _extValue.Key : ValueBase.ToKey();

    /// <summary>Word <paramref name="i"/> (0-15) of the value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ValueWord(int i)
        => i < FlowKey.BaseWords ? ValueBase[i] : _extValue is null ? 0 : _extValue.Key.AllWords[i];

    /// <summary>True when the mask covers some extension word (metadata, IPv6, ND, ARP hardware addresses, MPLS, PBB).</summary>
    public bool UsesExtension => MaskInfo.ExtWords != 0;

    /// <summary>
    /// True when the mask is <see cref="ExactMaskNoTun"/> (every bit of the base twelve-tuple, not the tunnel id): the
    /// exact table's kind of rule. Exact rules rank above every wildcard rule and are looked up with the
    /// packet key's tunnel id word cleared.
    /// </summary>
    public bool IsExact => MaskInfo.IsExactNoTun;

    /// <summary>
    /// The exact table's mask: in_port, the Ethernet addresses and type, the VLAN id (0x1FFF) and PCP, IPv4's DSCP
    /// (0xFC), protocol and addresses, and the transport ports, whole; the tunnel id and the extension not at all.
    /// </summary>
    public static ref readonly FlowKey ExactMaskNoTun => ref FlowMask.ExactNoTunBits;

    /// <summary>The match of every packet (the empty mask).</summary>
    public static readonly FlowMatch All = new(default, default);

    /// <summary>True when <paramref name="key"/> matches, with every register 0 (a lookup outside a pipeline run).</summary>
    public bool Matches(in FlowKey key) => ValueMatches(key, Mask) && (!UsesRegisters || RegisterValue.IsZero) && ConjIdMatches(0);

    /// <summary>True when <paramref name="key"/> with the register file <paramref name="regs"/> matches.</summary>
    public bool Matches(in FlowKey key, in Registers regs) => ValueMatches(key, Mask) && RegistersMatch(regs) && ConjIdMatches(0);

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
        return _extValue is null ? extZero : _extValue.Key.Equals(value);
    }

    /// <summary>An exact match on every field of <paramref name="key"/> except the tunnel id when <paramref name="withTunId"/> is false.</summary>
    public static FlowMatch Exact(in FlowKey key, bool withTunId = false)
        => new(withTunId ? FlowMask.ExactBits : FlowMask.ExactNoTunBits, key);

    /// <summary>
    /// True when every packet this match accepts is also accepted by <paramref name="other"/>
    /// (a non-strict modify or delete: "this rule is at least as specific as the request").
    /// </summary>
    public bool IsSubsetOf(in FlowMatch other)
    {
        // other's mask must be a subset of our mask, and our value must agree with other's on other's bits.
        ref readonly FlowKey om = ref other.Mask;
        return om.And(Mask).Equals(om) && other.ValueMatches(Value, om)
            && RegisterMask.Covers(other.RegisterMask) && RegisterValue.MatchesMasked(other.RegisterMask, other.RegisterValue)
            && (!other.UsesConjId || (UsesConjId && ConjIdValue == other.ConjIdValue));
    }

    /// <summary>True when some packet can match both (OFPFF_CHECK_OVERLAP).</summary>
    public bool Overlaps(in FlowMatch other)
    {
        var common = Mask.And(other.Mask);
        var regs = RegisterMask.And(other.RegisterMask);
        return Value.And(common).Equals(other.Value.And(common)) && RegisterValue.And(regs).Equals(other.RegisterValue.And(regs))
            && (!UsesConjId || !other.UsesConjId || ConjIdValue == other.ConjIdValue);
    }

    public bool Equals(FlowMatch other)
        => (ReferenceEquals(MaskInfo, other.MaskInfo) || (Mask.Equals(other.Mask) && MaskInfo.MatchesConjId == other.MaskInfo.MatchesConjId))
        && ValueBase.Equals(other.ValueBase)
        && (_extValue is null ? other._extValue is null : other._extValue is not null && _extValue.Key.Equals(other._extValue.Key)
            && _extValue.Regs.Equals(other._extValue.Regs) && _extValue.ConjId == other._extValue.ConjId);

    public override bool Equals(object? obj) => obj is FlowMatch m && Equals(m);
    public override int GetHashCode() => HashCode.Combine(Mask.Hash(), Value.Hash(), RegisterValue.GetHashCode(), ConjIdValue);
    public static bool operator ==(in FlowMatch a, in FlowMatch b) => a.Equals(b);
    public static bool operator !=(in FlowMatch a, in FlowMatch b) => !a.Equals(b);

    public override string ToString()
        => (UsesRegisters ? $"match({MaskInfo}, {Value}, {RegisterValue}" : $"match({MaskInfo}, {Value}") + (UsesConjId ? $", conj_id={ConjIdValue})" : ")");

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

    private sealed class FlowKeyBox(in FlowKey key, in Registers regs, uint conjId)
    {
        public readonly FlowKey Key = key;
        public readonly Registers Regs = regs;
        public readonly uint ConjId = conjId;
    }
}

/// <summary>
/// One distinct mask, shared by every <see cref="FlowMatch"/> that uses it: its bits, the map of extension words it
/// covers (what a classifier hashes and compares beyond the base), and whether it is the exact table's.
/// </summary>
/// <remarks>
/// Interned (<see cref="Intern(in FlowKey, in Registers)"/>): equal masks are usually one object, so tables compare masks by reference first.
/// The intern table keeps at most <see cref="MaxInterned"/> masks (a controller sending endless distinct masks gets
/// fresh objects past that: equality still compares bits). Immutable; thread-safe.
/// </remarks>
public sealed class FlowMask
{
    /// <summary>The vlan field's meaningful bits: OFPVID_PRESENT and the 12-bit VID.</summary>
    public const ushort VlanBits = 0x1FFF;
    internal const int MaxInterned = 1 << 16;

    private static readonly Dictionary<FlowMaskBits, FlowMask> s_interned = new();
    private static readonly Lock s_lock = new();
    /// <summary>The mask interned last: a batch of flow-mods usually repeats one mask, which then costs a compare, not the lock.</summary>
    private static FlowMask? s_last;

    /// <summary>The bits of <see cref="FlowMatch.ExactMaskNoTun"/>.</summary>
    internal static readonly FlowKey ExactNoTunBits = new FlowKeyBuilder()
        .InPort(0xFFFF).VlanVid(VlanBits).DlType(0xFFFF).DlVlanPcp(0xFF).NwTos(0xFC)
        .DlSrc(MacAddress.Broadcast).DlDst(MacAddress.Broadcast).NwProto(0xFF).NwSrc(~0u).NwDst(~0u)
        .TpSrc(0xFFFF).TpDst(0xFFFF).Key;

    /// <summary>The exact table's mask with the tunnel id matched too.</summary>
    internal static readonly FlowKey ExactBits = new FlowKeyBuilder(ExactNoTunBits).TunId(ulong.MaxValue).Key;

    /// <summary>The mask of no bits (a match of every packet).</summary>
    public static readonly FlowMask Empty = Intern(default);

    /// <summary>The mask (the extension map bytes always zero).</summary>
    public readonly FlowKey Bits;
    /// <summary>The register bits the mask tests (<see cref="Registers"/>; all 0 for a match on no register).</summary>
    public readonly Registers RegisterBits;
    /// <summary>Some register bit is tested.</summary>
    public readonly bool UsesRegisters;
    /// <summary>Register words the mask covers (bit i: word i of <see cref="Registers"/>).</summary>
    public readonly ushort RegisterWords;
    /// <summary>Extension words the mask covers (bit i: word 6 + i).</summary>
    public readonly ushort ExtWords;
    /// <summary>conj_id is tested (<see cref="FlowMatch.UsesConjId"/>): such a match is never the exact table's either.</summary>
    public readonly bool MatchesConjId;
    /// <summary>Equal to <see cref="FlowMatch.ExactMaskNoTun"/> (the exact table's kind of rule).</summary>
    public readonly bool IsExactNoTun;
    /// <summary>
    /// No bit outside <see cref="FlowMatch.ExactMaskNoTun"/>: a match of this mask overlaps an exact rule exactly when
    /// it matches the exact rule's value (other masks may also test fields the exact rule leaves open).
    /// </summary>
    public readonly bool WithinExactNoTun;

    private FlowMask(in FlowKey bits, in Registers regs, bool conjId)
    {
        Bits = bits;
        MatchesConjId = conjId;
        RegisterBits = regs;
        RegisterWords = regs.NonZeroWords;
        UsesRegisters = RegisterWords != 0;
        var words = bits.AllWords;
        for (int i = FlowKey.BaseWords; i < FlowKey.Words; i++)
            if (words[i] != 0) ExtWords |= (ushort)(1 << (i - FlowKey.BaseWords));
        // A register match is never the exact table's (it holds packet fields only).
        IsExactNoTun = !UsesRegisters && !conjId && bits.Equals(ExactNoTunBits);
        WithinExactNoTun = !UsesRegisters && !conjId && bits.And(ExactNoTunBits).Equals(bits);
    }

    /// <summary>The shared object for <paramref name="mask"/> (its extension map bytes cleared).</summary>
    public static FlowMask Intern(in FlowKey mask) => Intern(mask, default);

    /// <summary>The shared object for <paramref name="mask"/> (its extension map bytes cleared) with register bits <paramref name="registers"/>.</summary>
    public static FlowMask Intern(in FlowKey mask, in Registers registers) => Intern(mask, registers, false);

    /// <summary>As <see cref="Intern(in FlowKey, in Registers)"/>, testing conj_id when <paramref name="conjId"/>.</summary>
    public static FlowMask Intern(in FlowKey mask, in Registers registers, bool conjId)
    {
        var b = new FlowKeyBuilder(mask);
        b.Bytes.Slice(FlowKey.ExtMapOffset, 2).Clear();
        var bits = b.Key;
        var last = Volatile.Read(ref s_last);
        if (last is not null && last.Bits.Equals(bits) && last.RegisterBits.Equals(registers) && last.MatchesConjId == conjId) return last;
        var key = new FlowMaskBits(bits, registers, conjId);
        lock (s_lock)
        {
            if (!s_interned.TryGetValue(key, out var m))
            {
                m = new FlowMask(bits, registers, conjId);
                if (s_interned.Count < MaxInterned) s_interned.Add(key, m);
            }
            Volatile.Write(ref s_last, m);
            return m;
        }
    }

    public override string ToString()
        => (UsesRegisters ? $"mask({Bits}, ext=0x{ExtWords:x}, regs={RegisterBits}" : $"mask({Bits}, ext=0x{ExtWords:x}") + (MatchesConjId ? ", conj_id)" : ")");
}

/// <summary>A mask's key bits, register bits and conj_id test (<see cref="FlowMask"/>): what tables key subtables and classes by.</summary>
public readonly record struct FlowMaskBits(FlowKey Key, Registers Registers, bool ConjId = false);
