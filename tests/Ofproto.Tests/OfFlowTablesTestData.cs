using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>Seeded generators of keys, matches and flow-mods over small value domains, so rules and packets meet.</summary>
internal sealed class OfFlowTablesTestData
{
    private static readonly ushort[] s_inPorts = [1, 2, 3, 4];
    private static readonly ushort[] s_vlans = [0xFFFF, 10, 20];
    private static readonly ushort[] s_dlTypes = [0x0800, 0x0800, 0x0806, 0x86DD];
    private static readonly byte[] s_protos = [6, 17, 1];
    private static readonly ulong[] s_macs = [0x00_11_22_33_44_01, 0x00_11_22_33_44_02, 0x02_00_00_00_00_03, 0xFF_FF_FF_FF_FF_FF];
    private static readonly ushort[] s_tpPorts = [80, 443, 53, 1234];
    private static readonly ushort[] s_priorities = [1, 5, 5, 100, 100, 0x8000, 0x8000, 0xFFFF];
    private static readonly int[] s_prefixWild = [0, 0, 8, 16, 24, 32, 32];

    public readonly Random Rng;
    public readonly OfWildcards[] MaskPool;
    public readonly FlowActions[] ActionPool;

    public OfFlowTablesTestData(int seed, int masks = 16)
    {
        Rng = new Random(seed);
        MaskPool = new OfWildcards[masks];
        for (int i = 0; i < masks; i++) MaskPool[i] = RandomWildcards();
        ActionPool =
        [
            FlowActions.Drop,
            new FlowActions([FlowAction.Output(1)]),
            new FlowActions([FlowAction.Output(2)]),
            new FlowActions([FlowAction.SetVlanVid(7), FlowAction.Output(3)]),
            new FlowActions([FlowAction.Output(1), FlowAction.Output(2)]),
            new FlowActions([FlowAction.Enqueue(3, 1)]),
            new FlowActions([FlowAction.Output(PortNumber.Controller, 128)]),
        ];
    }

    private T Pick<T>(T[] a) => a[Rng.Next(a.Length)];

    public FlowKey RandomKey()
    {
        uint nwSrc = 0x0A00_0000u | ((uint)Rng.Next(4) << 8) | (uint)Rng.Next(4);
        uint nwDst = 0x0A01_0000u | ((uint)Rng.Next(3) << 16) | (uint)Rng.Next(4);
        return new FlowKeyBuilder()
            .InPort(Pick(s_inPorts)).DlVlan(Pick(s_vlans)).DlVlanPcp((byte)Rng.Next(2))
            .DlSrc(new MacAddress(Pick(s_macs))).DlDst(new MacAddress(Pick(s_macs))).DlType(Pick(s_dlTypes))
            .NwTos((byte)(Rng.Next(3) * 4)).NwProto(Pick(s_protos)).NwSrc(nwSrc).NwDst(nwDst)
            .TpSrc(Pick(s_tpPorts)).TpDst(Pick(s_tpPorts)).TunId(Rng.Next(3) == 0 ? 0UL : (ulong)Rng.Next(1, 3))
            .Key;
    }

    /// <summary>A key that matches <paramref name="m"/>: its matched bits from the rule, the rest random.</summary>
    public FlowKey KeyMatching(in FlowMatch m)
        => KeyMatching(m, RandomKey());

    /// <summary>The key with <paramref name="m"/>'s matched bits and <paramref name="background"/>'s others.</summary>
    public static FlowKey KeyMatching(in FlowMatch m, in FlowKey background) => TestKit.MatchKeys.KeyMatching(m, background);

    public OfWildcards RandomWildcards()
    {
        OfWildcards w = OfWildcards.None;
        OfWildcards[] singles = [OfWildcards.InPort, OfWildcards.DlVlan, OfWildcards.DlSrc, OfWildcards.DlDst, OfWildcards.DlType,
                               OfWildcards.NwProto, OfWildcards.TpSrc, OfWildcards.TpDst, OfWildcards.DlVlanPcp, OfWildcards.NwTos];
        foreach (var s in singles)
            if (Rng.Next(100) < 60) w |= s;
        w |= (OfWildcards)((uint)Pick(s_prefixWild) << (int)OfWildcards.NwSrcShift);
        w |= (OfWildcards)((uint)Pick(s_prefixWild) << (int)OfWildcards.NwDstShift);
        if (Rng.Next(10) != 0) w |= OfWildcards.TunIdExt;
        // Keep at least one wildcard so this is a wildcard rule (exact rules are made on purpose elsewhere).
        if (w == OfWildcards.TunIdExt || w == OfWildcards.None) w |= OfWildcards.TpDst;
        return w;
    }

    public FlowMatch RandomWildcardMatch() => FlowMatch.FromOpenFlow(Pick(MaskPool), RandomKey());

    public FlowMatch RandomExactMatch() => FlowMatch.Exact(RandomKey());

    /// <summary>A match that is mostly a wildcard rule, sometimes exact, sometimes very broad (for modify/delete).</summary>
    public FlowMatch RandomMatch()
    {
        int r = Rng.Next(100);
        if (r < 15) return RandomExactMatch();
        if (r < 22) return FlowMatch.FromOpenFlow(RandomBroadWildcards(), RandomKey());
        return RandomWildcardMatch();
    }

    /// <summary>Few fields matched: non-strict requests that cover many rules.</summary>
    public OfWildcards RandomBroadWildcards()
    {
        var w = OfWildcards.All | OfWildcards.TunIdExt;
        if (Rng.Next(2) == 0) w &= ~OfWildcards.InPort;
        if (Rng.Next(3) == 0) w &= ~OfWildcards.DlType;
        if (Rng.Next(4) == 0) w = (w & ~OfWildcards.NwDstMask) | (OfWildcards)(16u << (int)OfWildcards.NwDstShift);
        return w;
    }

    public ushort RandomPriority() => Rng.Next(5) == 0 ? (ushort)Rng.Next(65536) : Pick(s_priorities);

    public FlowActions RandomActions() => Pick(ActionPool);

    public FlowMod AddMod(in FlowMatch m, ushort priority, FlowModFlags flags = FlowModFlags.None, ushort idle = 0, ushort hard = 0)
        => new(FlowModCommand.Add, m, priority, RandomActions(), (ulong)Rng.Next(1000), idle, hard, flags);

    /// <summary>A random flow-mod of any command (including bad ones), as a controller might send.</summary>
    public FlowMod RandomMod(IReadOnlyList<FlowEntry> existing)
    {
        int c = Rng.Next(100);
        FlowModCommand cmd = c switch
        {
            < 40 => FlowModCommand.Add,
            < 50 => FlowModCommand.Modify,
            < 60 => FlowModCommand.ModifyStrict,
            < 78 => FlowModCommand.Delete,
            < 98 => FlowModCommand.DeleteStrict,
            _ => (FlowModCommand)(5 + Rng.Next(3)),
        };
        FlowMatch match;
        ushort priority;
        if (existing.Count > 0 && cmd != FlowModCommand.Add && Rng.Next(3) != 0)
        {
            // Aim at an existing rule (strict ops need identity to do anything).
            var e = existing[Rng.Next(existing.Count)];
            match = e.Match;
            priority = Rng.Next(4) == 0 ? RandomPriority() : e.Priority;
        }
        else
        {
            match = RandomMatch();
            priority = RandomPriority();
        }
        var flags = FlowModFlags.None;
        if (Rng.Next(5) == 0) flags |= FlowModFlags.CheckOverlap;
        if (Rng.Next(4) == 0) flags |= FlowModFlags.SendFlowRemoved;
        if (Rng.Next(15) == 0) flags |= FlowModFlags.Emergency;
        ushort idle = 0, hard = 0;
        if (Rng.Next(6) == 0) idle = (ushort)Rng.Next(1, 30);
        if (Rng.Next(8) == 0) hard = (ushort)Rng.Next(1, 30);
        ushort outPort = Rng.Next(3) == 0 ? (ushort)Rng.Next(1, 4) : PortNumber.None;
        return new FlowMod(cmd, match, priority, RandomActions(), (ulong)Rng.Next(1000), idle, hard, flags, outPort);
    }

    public static string Describe(FlowEntry? e)
        => e is null ? "(miss)" : $"prio={e.Priority} {e.Match} cookie={e.Cookie} actions={e.Actions}";

    /// <summary>Same rule as the reference's (entries are different objects in the two classifiers).</summary>
    public static bool Same(FlowEntry? a, FlowEntry? b)
        => a is null ? b is null
         : b is not null && a.Match == b.Match && a.Priority == b.Priority && ReferenceEquals(a.Actions, b.Actions)
           && a.Cookie == b.Cookie && a.IdleTimeout == b.IdleTimeout && a.HardTimeout == b.HardTimeout;

    public static string Identity(FlowEntry e)
        => $"{e.Match.Mask.W0:x}.{e.Match.Mask.W1:x}.{e.Match.Mask.W2:x}.{e.Match.Mask.W3:x}.{e.Match.Mask.W4:x}.{e.Match.Mask.W5:x}/"
         + $"{e.Match.Value.W0:x}.{e.Match.Value.W1:x}.{e.Match.Value.W2:x}.{e.Match.Value.W3:x}.{e.Match.Value.W4:x}.{e.Match.Value.W5:x}@{e.Priority}";

    public static string Content(FlowEntry e) => $"{Identity(e)} c={e.Cookie} a={e.Actions} i={e.IdleTimeout} h={e.HardTimeout}";
}
