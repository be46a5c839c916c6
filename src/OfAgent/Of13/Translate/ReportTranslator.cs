using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>
/// The switch's reports and descriptions in OpenFlow 1.3's terms: a port, a FLOW_REMOVED, a flow-statistics entry
/// (the 1.3 side of <see cref="Of10.Translate.ReportTranslator"/>).
/// </summary>
/// <remarks>Stateless; the entry a flow is written into is the caller's (reused per dump).</remarks>
internal static class ReportTranslator
{
    /// <summary>A port as OpenFlow 1.3 describes it: OFPPS_BLOCKED while a spanning tree keeps it from forwarding
    /// (listening, learning, blocking), else OFPPS_LIVE while its link is up.</summary>
    public static Ofp13Port Port(OfPortDesc p)
    {
        const uint LinkDown = 1, Blocked = 2, Live = 4;
        bool blocked = (p.State & (OfPortState.StpListen | OfPortState.StpLearn | OfPortState.StpBlock)) != 0;
        uint state = (p.State & OfPortState.LinkDown) != 0 ? LinkDown : blocked ? Blocked : Live;
        return new Ofp13Port(p.PortNo, p.HwAddr, p.Name, PortConfigMap.ToWire(p.Config), state, PortFeaturesMap.ToWire(p.Current),
                             PortFeaturesMap.ToWire(p.Advertised), PortFeaturesMap.ToWire(p.Supported), PortFeaturesMap.ToWire(p.Peer),
                             p.CurrentSpeedKbps, p.MaxSpeedKbps);
    }

    /// <summary>A FLOW_REMOVED of <paramref name="version"/> for <paramref name="r"/>, whole.</summary>
    public static byte[] FlowRemoved(byte version, in OfFlowRemoved r)
    {
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[MatchTranslator.MaxEntries];
        int n = MatchTranslator.ToOxm(r.Match, match, version);
        long d = Math.Max(0, r.DurationNanos);
        if (Ofp15.Serves(version))
        {
            // 1.5: the counters as OXS statistics (duration, packets, bytes: Open vSwitch's ofputil_encode_flow_removed).
            var stats = new Ofp15Stats { DurationValue = ((uint)(d / 1_000_000_000), (uint)(d % 1_000_000_000)), Packets = r.PacketCount, Bytes = r.ByteCount };
            return Ofp15FlowRemoved.Encode(version, 0, r.TableId, WireMap.ToWire(r.Reason, version), r.Priority, r.IdleTimeout, r.HardTimeout,
                r.Cookie, match[..n], stats);
        }
        return Ofp13Messages.FlowRemoved(version, 0, r.Cookie, r.Priority, WireMap.ToWire(r.Reason, version), r.TableId, (uint)(d / 1_000_000_000),
            (uint)(d % 1_000_000_000), r.IdleTimeout, r.HardTimeout, r.PacketCount, r.ByteCount, match[..n]);
    }

    /// <summary>
    /// Writes flow <paramref name="f"/> into <paramref name="entry"/>; <paramref name="oxm"/> is scratch of
    /// <see cref="MatchTranslator.FieldCount"/> entries. The importance is written for <paramref name="version"/> 1.4 and
    /// later (1.3's entry has a pad there).
    /// </summary>
    public static void FlowStats(in OfFlowStats f, Ofp13FlowStats entry, Ofp13Oxm[] oxm, byte version = Ofp13.Version)
    {
        entry.Importance = version >= Ofp13.Version14 ? f.Importance : (ushort)0;
        Ofp13Entries.Duration(Math.Max(0, f.DurationNanos), out entry.DurationSec, out entry.DurationNsec);
        entry.TableId = f.TableId;
        entry.Priority = f.Priority;
        entry.IdleTimeout = f.IdleTimeout;
        entry.HardTimeout = f.HardTimeout;
        // Every flag the flow keeps, RESET_COUNTS among them (Open vSwitch's ofputil_encode_flow_mod_flags); emergency has no bit.
        entry.Flags = FlowModFlagsMap.ToWire(f.Flags);
        entry.Cookie = f.Cookie;
        entry.PacketCount = f.PacketCount;
        entry.ByteCount = f.ByteCount;
        entry.Match.Clear();
        entry.Match.AddRange(oxm.AsSpan(0, MatchTranslator.ToOxm(f.Match, oxm, version)));
        entry.Instructions.Clear();
        AddInstructions(entry.Instructions, f, meterAction: false);
    }

    /// <summary>
    /// A table's description in OpenFlow 1.4's layout (OFPMP_TABLE_DESC, TABLE_STATUS), as Open vSwitch's
    /// ofputil_append_table_desc_reply: the config bits, the eviction flags always, the vacancy property with vacancy
    /// events on.
    /// </summary>
    public static Ofp14TableDesc TableDesc(in OfTableDesc t)
    {
        uint config = (t.Eviction ? Ofp14TableMod.ConfigEviction : 0) | (t.VacancyEvents ? Ofp14TableMod.ConfigVacancyEvents : 0);
        return new Ofp14TableDesc(t.TableId, config, EvictionFlagsMap.ToWire(t.EvictionFlags),
                                  t.VacancyEvents ? (t.VacancyDown, t.VacancyUp, t.Vacancy) : null);
    }

    /// <summary>
    /// Writes flow <paramref name="f"/> into OpenFlow 1.5's flow statistics entry <paramref name="entry"/> (its counters
    /// as OXS statistics: duration, packets, bytes; the meter as the first apply action). <paramref name="oxm"/> is scratch.
    /// </summary>
    public static void FlowDesc(in OfFlowStats f, Ofp15FlowDesc entry, Ofp13Oxm[] oxm)
    {
        Ofp13Entries.Duration(Math.Max(0, f.DurationNanos), out uint sec, out uint nsec);
        entry.TableId = f.TableId;
        entry.Priority = f.Priority;
        entry.IdleTimeout = f.IdleTimeout;
        entry.HardTimeout = f.HardTimeout;
        entry.Flags = FlowModFlagsMap.ToWire(f.Flags);
        entry.Importance = f.Importance;
        entry.Cookie = f.Cookie;
        entry.Stats = new Ofp15Stats { DurationValue = (sec, nsec), Packets = f.PacketCount, Bytes = f.ByteCount };
        entry.Match.Clear();
        entry.Match.AddRange(oxm.AsSpan(0, MatchTranslator.ToOxm(f.Match, oxm, Ofp15.Version)));
        entry.Instructions.Clear();
        AddInstructions(entry.Instructions, f, meterAction: true);
    }

    /// <summary>
    /// A flow's instructions in the order the pipeline runs them (1.3.5 section 5.9): meter, apply, clear, write, metadata,
    /// goto. With <paramref name="meterAction"/> (OpenFlow 1.5) the meter is the apply-actions' first action (OFPAT_METER)
    /// and a move is OFPAT_COPY_FIELD, a register load OFPAT_SET_FIELD, as Open vSwitch writes them from 1.5 on.
    /// </summary>
    private static void AddInstructions(List<Ofp13Instruction> into, in OfFlowStats f, bool meterAction)
    {
        bool ipv6 = IsIpv6(f.Match);
        var ins = f.Instructions;
        if (ins is { Meter: not 0 } && meterAction)
        {
            var apply = new List<Ofp13Action>(f.Actions.Length + 1) { new(Ofp13ActionType.Meter, ins.Meter) };
            ActionTranslator.ToWire(f.Actions, ipv6, apply, of15: true);
            ActionTranslator.As15(apply);
            into.Add(new(Ofp13InstructionType.ApplyActions, Actions: apply));
        }
        else
        {
            if (ins is { Meter: not 0 }) into.Add(new(Ofp13InstructionType.Meter, MeterId: ins.Meter));
            if (!f.Actions.IsEmpty) into.Add(Actions(Ofp13InstructionType.ApplyActions, f.Actions, ipv6, meterAction));
        }
        if (ins is null) return;
        if (ins.ClearActions) into.Add(new(Ofp13InstructionType.ClearActions));
        if (ins.WriteActions is { } write) into.Add(Actions(Ofp13InstructionType.WriteActions, write, ipv6, meterAction));
        if (ins.MetadataMask != 0) into.Add(new(Ofp13InstructionType.WriteMetadata, Metadata: ins.MetadataValue, MetadataMask: ins.MetadataMask));
        if (ins.GotoTable is { } g) into.Add(new(Ofp13InstructionType.GotoTable, TableId: g));
    }

    private static bool IsIpv6(in OfMatch m) => m.Mask.EthType == ushort.MaxValue && m.Value.EthType == 0x86dd;

    [ThreadStatic] private static List<Ofp13Action>? s_sizeScratch;

    /// <summary>
    /// The bytes of the ofp_flow_stats entry a flow of <paramref name="match"/> and <paramref name="ins"/> reads back as
    /// (the instructions <see cref="AddInstructions"/> writes: 8 bytes each, write-metadata 24, action lists besides).
    /// Allocates nothing once the calling thread's scratch has grown.
    /// </summary>
    public static int FlowStatsSize(in OfMatch match, in OfInstructions ins)
    {
        Span<Ofp13Oxm> oxm = stackalloc Ofp13Oxm[MatchTranslator.MaxEntries];
        int size = Ofp13FlowStats.FixedSize + Ofp13Match.EncodedSize(oxm[..MatchTranslator.ToOxm(match, oxm)]);
        bool ipv6 = IsIpv6(match);
        const int instruction = 8;
        if (ins.Meter != 0) size += instruction;
        if (!ins.ApplyActions.IsEmpty) size += instruction + ActionsSize(ins.ApplyActions.Span, ipv6);
        if (ins.ClearActions) size += instruction;
        if (ins.WriteActions is { } write) size += instruction + ActionsSize(write.Span, ipv6);
        if (ins.MetadataMask != 0) size += 24;
        if (ins.GotoTable is not null) size += instruction;
        return size;
    }

    /// <summary>The bytes of the GROUP_DESC entry (ofp_group_desc) a group of <paramref name="buckets"/> reads back as.</summary>
    public static int GroupDescSize(ReadOnlySpan<OfBucket> buckets)
    {
        int size = Ofp13GroupDesc.FixedSize;
        foreach (var b in buckets) size += Ofp13Bucket.FixedSize + ActionsSize(b.Actions.Span, false);
        return size;
    }

    private static int ActionsSize(ReadOnlySpan<OfAction> actions, bool ipv6)
    {
        var wire = s_sizeScratch ??= new List<Ofp13Action>(16);
        wire.Clear();
        ActionTranslator.ToWire(actions, ipv6, wire);
        return Ofp13Actions.EncodedSize(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(wire));
    }

    private static Ofp13Instruction Actions(Ofp13InstructionType type, ReadOnlySpan<OfAction> of, bool ipv6, bool of15 = false)
    {
        var actions = new List<Ofp13Action>(of.Length);
        ActionTranslator.ToWire(of, ipv6, actions, of15);
        if (of15) ActionTranslator.As15(actions);
        return new(type, Actions: actions);
    }
}
