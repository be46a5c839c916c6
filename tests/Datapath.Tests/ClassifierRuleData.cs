using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tests;

/// <summary>Rules and keys over small value domains (so rules and packets meet), with a few masks per rule set.</summary>
internal sealed class ClassifierRuleData
{
    private static readonly ushort[] s_priorities = [0, 1, 7, 7, 100, 100, 0xFFFE, 0xFFFF, 0xFFFF];
    private static readonly int[] s_prefixWild = [0, 0, 8, 16, 24, 32];
    private readonly Random _rng;
    private readonly Wildcards[] _masks;
    private ulong _tags;

    public ClassifierRuleData(Random rng)
    {
        _rng = rng;
        _masks = new Wildcards[2 + rng.Next(7)];
        for (int i = 0; i < _masks.Length; i++) _masks[i] = RandomWildcards();
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
            _ => FlowMatch.FromOpenFlow(_masks[_rng.Next(_masks.Length)], key),
        };
        return NewRule(match, Priority());
    }

    public FlowEntry NewRule(in FlowMatch match, ushort priority)
        => new(match, priority, FlowActions.Drop, 0, 0, 0, tag: ++_tags);

    public FlowKey RandomKey()
    {
        uint nwSrc = 0x0A00_0000u | (uint)_rng.Next(4);
        uint nwDst = 0x0A01_0000u | ((uint)_rng.Next(3) << 16) | (uint)_rng.Next(3);
        return new FlowKeyBuilder()
            .InPort((ushort)_rng.Next(1, 4)).DlVlan(_rng.Next(3) == 0 ? (ushort)10 : (ushort)0xFFFF)
            .DlSrc(new MacAddress(0x00_11_22_33_44_00UL + (ulong)_rng.Next(3))).DlDst(new MacAddress(0x00_11_22_33_44_00UL + (ulong)_rng.Next(3)))
            .DlType(_rng.Next(4) == 0 ? (ushort)0x0806 : (ushort)0x0800).NwProto(_rng.Next(2) == 0 ? (byte)6 : (byte)17)
            .NwSrc(nwSrc).NwDst(nwDst).TpSrc((ushort)(80 + _rng.Next(2))).TpDst((ushort)(53 + _rng.Next(2)))
            .TunId((ulong)_rng.Next(2))
            .Key;
    }

    /// <summary>A key that <paramref name="m"/> matches: its matched bits from the rule, the rest random.</summary>
    public FlowKey KeyMatching(in FlowMatch m) => TestKit.MatchKeys.KeyMatching(m, RandomKey());

    private Wildcards RandomWildcards()
    {
        var w = Wildcards.TunIdExt;
        Wildcards[] singles = [Wildcards.InPort, Wildcards.DlVlan, Wildcards.DlSrc, Wildcards.DlDst, Wildcards.DlType,
                               Wildcards.NwProto, Wildcards.TpSrc, Wildcards.TpDst, Wildcards.DlVlanPcp, Wildcards.NwTos];
        foreach (var s in singles)
            if (_rng.Next(100) < 65) w |= s;
        w |= (Wildcards)((uint)s_prefixWild[_rng.Next(s_prefixWild.Length)] << (int)Wildcards.NwSrcShift);
        w |= (Wildcards)((uint)s_prefixWild[_rng.Next(s_prefixWild.Length)] << (int)Wildcards.NwDstShift);
        if (_rng.Next(8) == 0) w &= ~Wildcards.TunIdExt;
        if (w == Wildcards.TunIdExt) w |= Wildcards.TpDst; // never the all-ones mask: those are made on purpose above
        return w;
    }
}
