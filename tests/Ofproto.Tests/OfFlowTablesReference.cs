using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// The naive classifier the real one is tested against: a list of entries scanned linearly, with the same
/// OpenFlow 1.0 rules written as plainly as possible (ovs tests/test-classifier.c "tcls").
/// </summary>
internal sealed class OfFlowTablesReference
{
    public readonly List<FlowEntry> Normal = new();
    public readonly List<FlowEntry> Emergency = new();
    public readonly FlowTableOptions Options;
    private readonly IClock _clock;

    public bool UseEmergencyTable;

    public OfFlowTablesReference(IClock clock, FlowTableOptions? options = null)
    {
        _clock = clock;
        Options = options ?? new FlowTableOptions();
    }

    public FlowEntry? Lookup(in FlowKey key)
    {
        var list = UseEmergencyTable ? Emergency : Normal;
        foreach (var e in list)
            if (e.Match.IsExact && e.Match.Matches(key)) return e;

        FlowEntry? best = null;
        foreach (var e in list)
        {
            if (e.Match.IsExact || !e.Match.Matches(key)) continue;
            if (best is null || e.Priority > best.Priority
                || (e.Priority == best.Priority && CompareRank(list, e.Match.Mask, best.Match.Mask) < 0))
            {
                best = e;
            }
        }
        return best;
    }

    /// <summary>The documented tie rule: subtable max priority desc, mask popcount desc, mask words asc.</summary>
    private static int CompareRank(List<FlowEntry> list, in FlowKey a, in FlowKey b)
    {
        int maxA = -1, maxB = -1;
        foreach (var e in list)
        {
            if (e.Match.IsExact) continue;
            if (e.Match.Mask.Equals(a)) maxA = Math.Max(maxA, e.Priority);
            if (e.Match.Mask.Equals(b)) maxB = Math.Max(maxB, e.Priority);
        }
        if (maxA != maxB) return maxB.CompareTo(maxA);
        int pa = PopCount(a), pb = PopCount(b);
        if (pa != pb) return pb.CompareTo(pa);
        ulong[] wa = [a.W0, a.W1, a.W2, a.W3, a.W4, a.W5], wb = [b.W0, b.W1, b.W2, b.W3, b.W4, b.W5];
        for (int i = 0; i < 6; i++)
            if (wa[i] != wb[i]) return wa[i].CompareTo(wb[i]);
        return 0;
    }

    private static int PopCount(in FlowKey k)
        => System.Numerics.BitOperations.PopCount(k.W0) + System.Numerics.BitOperations.PopCount(k.W1)
         + System.Numerics.BitOperations.PopCount(k.W2) + System.Numerics.BitOperations.PopCount(k.W3)
         + System.Numerics.BitOperations.PopCount(k.W4) + System.Numerics.BitOperations.PopCount(k.W5);

    public FlowModStatus Apply(in FlowMod mod, List<FlowRemoved>? removed)
    {
        long now = _clock.NowNanos;
        bool emergency = (mod.Flags & FlowModFlags.Emergency) != 0;
        var list = emergency ? Emergency : Normal;
        var match = mod.Match;
        ushort priority = match.IsExact ? (ushort)0xFFFF : mod.Priority;
        switch (mod.Command)
        {
            case FlowModCommand.Add:
                return Add(mod, now);
            case FlowModCommand.Modify:
            case FlowModCommand.ModifyStrict:
            {
                bool strict = mod.Command == FlowModCommand.ModifyStrict;
                var targets = list.Where(e => strict ? e.Match == match && e.Priority == priority : e.Match.IsSubsetOf(match)).ToList();
                if (targets.Count == 0) return Add(mod, now);
                foreach (var e in targets)
                {
                    e.SetActions(mod.Actions);
                    if (Options.ModifyUpdatesCookie) e.SetTag(mod.Cookie);
                }
                return FlowModStatus.Ok;
            }
            case FlowModCommand.Delete:
            case FlowModCommand.DeleteStrict:
            {
                bool strict = mod.Command == FlowModCommand.DeleteStrict;
                ushort outPort = mod.OutPort;
                var targets = list.Where(e => (strict ? e.Match == match && e.Priority == priority : e.Match.IsSubsetOf(match))
                                              && (outPort == PortNumber.None || e.Actions.OutputsTo(outPort))).ToList();
                foreach (var e in targets)
                {
                    list.Remove(e);
                    e.MarkRemoved();
                    removed?.Add(new FlowRemoved(e, FlowRemovedReason.Delete, now - e.CreatedNanos, e.Packets, e.Bytes));
                }
                return FlowModStatus.Ok;
            }
            default:
                return FlowModStatus.BadCommand;
        }
    }

    private FlowModStatus Add(in FlowMod mod, long now)
    {
        bool emergency = (mod.Flags & FlowModFlags.Emergency) != 0;
        if (emergency && (mod.IdleTimeout != 0 || mod.HardTimeout != 0)) return FlowModStatus.BadEmergencyTimeout;
        var list = emergency ? Emergency : Normal;
        var match = mod.Match;
        ushort priority = match.IsExact ? (ushort)0xFFFF : mod.Priority;
        if ((mod.Flags & FlowModFlags.CheckOverlap) != 0 && list.Any(e => e.Priority == priority && e.Match.Overlaps(match)))
            return FlowModStatus.Overlap;
        int idx = list.FindIndex(e => e.Match == match && e.Priority == priority);
        if (idx < 0)
        {
            bool full = list.Count >= (emergency ? Options.MaxEmergencyFlows : Options.MaxFlows);
            if (full) return FlowModStatus.TableFull;
        }
        var entry = OfFlowRule.NewEntry(match, priority, mod.Actions, mod.Cookie, mod.IdleTimeout, mod.HardTimeout, mod.Flags, now);
        if (idx >= 0)
        {
            list[idx].MarkRemoved();
            list[idx] = entry;
        }
        else
        {
            list.Add(entry);
        }
        return FlowModStatus.Ok;
    }
}
