using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests;

/// <summary>Rules and keys over small value domains (so rules and packets meet), with a few masks per rule set.</summary>
internal sealed class ClassifierRuleData
{
    private static readonly ushort[] s_priorities = [0, 1, 7, 7, 100, 100, 0xFFFE, 0xFFFF, 0xFFFF];
    private static readonly int[] s_prefixWild = [0, 0, 8, 16, 24, 32];
    private readonly Random _rng;
    private readonly OfWildcards[] _masks;
    private readonly FlowKey[] _extMasks;
    private readonly bool _extension;
    private ulong _tags;

    /// <param name="rng">The source of every choice.</param>
    /// <param name="extension">
    /// Keys also carry extension fields (metadata, IPv6 addresses, MPLS, ARP hardware addresses, PBB) from small
    /// domains, and about half the pooled masks cover some of them with arbitrary bit masks.
    /// </param>
    public ClassifierRuleData(Random rng, bool extension = false)
    {
        _rng = rng;
        _extension = extension;
        _masks = new OfWildcards[2 + rng.Next(7)];
        for (int i = 0; i < _masks.Length; i++) _masks[i] = RandomWildcards();
        _extMasks = new FlowKey[_masks.Length];
        for (int i = 0; i < _masks.Length; i++)
            _extMasks[i] = extension && rng.Next(2) == 0 ? WithExtension(FlowMatch.FromOpenFlow(_masks[i], default).Mask) : FlowMatch.FromOpenFlow(_masks[i], default).Mask;
    }

    public ushort Priority() => _rng.Next(5) == 0 ? (ushort)_rng.Next(65536) : s_priorities[_rng.Next(s_priorities.Length)];

    /// <summary>A new rule: an all-ones mask (three in ten), the all-ones mask with the tunnel id, match-all, or a pooled mask.</summary>
    public FlowEntry NewRule()
    {
        int c = _rng.Next(100);
        var key = RandomKey();
        var match = c switch
        {
            < 30 => FlowMatch.Exact(key),
            < 33 => FlowMatch.Exact(key, withTunId: true),
            < 36 => FlowMatch.All,
            _ => new FlowMatch(_extMasks[_rng.Next(_masks.Length)], key),
        };
        return NewRule(match, Priority());
    }

    public FlowEntry NewRule(in FlowMatch match, ushort priority)
        => new(match, priority, FlowActions.Drop, 0, 0, 0, tag: ++_tags);

    public FlowKey RandomKey()
    {
        uint nwSrc = 0x0A00_0000u | (uint)_rng.Next(4);
        uint nwDst = 0x0A01_0000u | ((uint)_rng.Next(3) << 16) | (uint)_rng.Next(3);
        var key = new FlowKeyBuilder()
            .InPort((ushort)_rng.Next(1, 4)).DlVlan(_rng.Next(3) == 0 ? (ushort)10 : (ushort)0xFFFF)
            .DlSrc(new MacAddress(0x00_11_22_33_44_00UL + (ulong)_rng.Next(3))).DlDst(new MacAddress(0x00_11_22_33_44_00UL + (ulong)_rng.Next(3)))
            .DlType(_rng.Next(4) == 0 ? (ushort)0x0806 : (ushort)0x0800).NwProto(_rng.Next(2) == 0 ? (byte)6 : (byte)17)
            .NwSrc(nwSrc).NwDst(nwDst).TpSrc((ushort)(80 + _rng.Next(2))).TpDst((ushort)(53 + _rng.Next(2)))
            .TunId((ulong)_rng.Next(2))
            .Key;
        if (!_extension || _rng.Next(4) == 0) return key;
        var b = new FlowKeyBuilder(key);
        if (_rng.Next(2) == 0) b.Metadata((ulong)_rng.Next(3) << (_rng.Next(2) * 40));
        if (_rng.Next(2) == 0) b.Ipv6Src(((UInt128)0x2001_0db8 << 96) | (uint)_rng.Next(3));
        if (_rng.Next(3) == 0) b.Ipv6Dst((UInt128)_rng.Next(2) << 100);
        if (_rng.Next(3) == 0) b.MplsLabel((uint)_rng.Next(3)).MplsTc((byte)_rng.Next(2)).MplsBos((byte)_rng.Next(2));
        if (_rng.Next(3) == 0) b.ArpSha(new MacAddress(0x02_00_00_00_00_00UL | (uint)_rng.Next(2)));
        if (_rng.Next(4) == 0) b.PbbIsid((uint)_rng.Next(2));
        return b.Key;
    }

    /// <summary><paramref name="mask"/> with a random choice of extension fields covered, wholly or by random bits.</summary>
    private FlowKey WithExtension(in FlowKey mask)
    {
        var b = new FlowKeyBuilder(mask);
        ulong Bits(ulong all) => _rng.Next(2) == 0 ? all : all & (ulong)_rng.NextInt64();
        do
        {
            if (_rng.Next(2) == 0) b.Metadata(Bits(ulong.MaxValue));
            if (_rng.Next(2) == 0) b.Ipv6Src(((UInt128)Bits(ulong.MaxValue) << 64) | Bits(ulong.MaxValue));
            if (_rng.Next(3) == 0) b.Ipv6Dst((UInt128)Bits(ulong.MaxValue) << 64);
            if (_rng.Next(3) == 0) b.MplsLabel((uint)Bits(0xF_FFFF)).MplsTc((byte)Bits(7)).MplsBos((byte)Bits(1));
            if (_rng.Next(3) == 0) b.ArpSha(new MacAddress(Bits(0xFFFF_FFFF_FFFF)));
            if (_rng.Next(4) == 0) b.PbbIsid((uint)Bits(0xFF_FFFF));
        }
        while (b.Key.ExtMap == 0);
        return b.Key;
    }

    /// <summary>A key that <paramref name="m"/> matches: its matched bits from the rule, the rest random.</summary>
    public FlowKey KeyMatching(in FlowMatch m) => TestKit.MatchKeys.KeyMatching(m, RandomKey());

    private OfWildcards RandomWildcards()
    {
        var w = OfWildcards.TunIdExt;
        OfWildcards[] singles = [OfWildcards.InPort, OfWildcards.DlVlan, OfWildcards.DlSrc, OfWildcards.DlDst, OfWildcards.DlType,
                               OfWildcards.NwProto, OfWildcards.TpSrc, OfWildcards.TpDst, OfWildcards.DlVlanPcp, OfWildcards.NwTos];
        foreach (var s in singles)
            if (_rng.Next(100) < 65) w |= s;
        w |= (OfWildcards)((uint)s_prefixWild[_rng.Next(s_prefixWild.Length)] << (int)OfWildcards.NwSrcShift);
        w |= (OfWildcards)((uint)s_prefixWild[_rng.Next(s_prefixWild.Length)] << (int)OfWildcards.NwDstShift);
        if (_rng.Next(8) == 0) w &= ~OfWildcards.TunIdExt;
        if (w == OfWildcards.TunIdExt) w |= OfWildcards.TpDst; // never the all-ones mask: those are made on purpose above
        return w;
    }
}
