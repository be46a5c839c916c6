using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.NetFpga;

public sealed class NetFpgaPlacementTests
{
    private sealed class Bare
    {
        public readonly OfFlowTables Table = new(new ManualClock());
        public readonly EmulatedNetFpga Board = new(new ManualClock());
        public readonly NetFpgaDriver Driver;
        public readonly OffloadManager Manager;

        public Bare()
        {
            Driver = new NetFpgaDriver(Board);
            Driver.Initialize();
            Manager = new OffloadManager(Table.Main, Driver);
            Manager.Attach();
        }

        public FlowEntry Add(FlowMatch m, ushort prio, params FlowAction[] actions)
        {
            Assert.Equal(FlowModStatus.Ok, Table.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions)), null));
            Manager.WaitForPlacement();
            var list = new List<FlowEntry>();
            Table.Collect(m, PortNumber.None, strict: true, list);
            return list.Single(e => e.Priority == (m.IsExact ? 0xFFFF : prio));
        }

        public FlowPlacement Where(FlowEntry e)
        {
            Assert.True(Manager.TryGetPlacement(e, out var p));
            return p;
        }
    }

    private static FlowMatch ExactUdp(ushort inPort, ushort sport, ushort dport = 80)
        => MatchOf(Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2", sport, dport), inPort, OfWildcards.None);

    private static int FirstRow(FlowMatch m)
    {
        var key = new uint[8];
        NetFpgaEncoding.EncodeKey(m, NetFpgaEncoding.SrcPortOf(m.Value.InPort), 0, key);
        return NetFpgaEncoding.ExactRows(key).First;
    }

    /// <summary>Records the placement of every decision the manager reports.</summary>
    private sealed class RecordingLog : IOffloadLog
    {
        public readonly List<FlowPlacement> Seen = new();
        public bool DecisionsEnabled => true;
        public void OnDecision(in OffloadDecision decision) => Seen.Add(decision.Placement);
        public void OnTargetError(FlowEntry? entry, Exception error) { }
        public void OnStarted(string description) { }
        public void OnMaintenance(string? problem) { }
    }

    /// <summary>Every placement decision is announced (what the daemon logs at Debug), including evictions and removals.</summary>
    [Fact]
    public void Decisions_ReportInstallsRefusalsEvictionsAndRemovals()
    {
        var b = new Bare();
        var log = new RecordingLog();
        b.Manager.Log = log;
        var seen = log.Seen;
        var exact = b.Add(ExactUdp(1, 7), 0, FlowAction.Output(2));
        var toController = b.Add(FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlType | OfWildcards.TunIdExt, new FlowKeyBuilder().DlType(0x0806).Key),
                                 50, FlowAction.Output(PortNumber.Controller, 128));
        var route = b.Add(FlowMatch.FromOpenFlow((OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask)) | (OfWildcards)(16 << (int)OfWildcards.NwDstShift) | OfWildcards.TunIdExt,
                                                 new FlowKeyBuilder().DlType(0x0800).NwDst(0x0A010000).Key), 10, FlowAction.Output(3));
        Assert.Contains(seen, p => p.Entry == exact && p.InHardware && p.Rows == 1);
        Assert.Contains(seen, p => p.Entry == toController && !p.InHardware && p.Reason == OffloadReason.UnsupportedAction);
        Assert.Contains(seen, p => p.Entry == route && p.InHardware);

        // A higher-priority software rule overlapping the offloaded route evicts it.
        seen.Clear();
        var blocker = b.Add(FlowMatch.FromOpenFlow((OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask)) | (OfWildcards)(0 << (int)OfWildcards.NwDstShift) | OfWildcards.TunIdExt,
                                                   new FlowKeyBuilder().DlType(0x0800).NwDst(0x0A010203).Key), 20, FlowAction.Output(PortNumber.Controller, 128));
        Assert.Contains(seen, p => p.Entry == route && !p.InHardware && p.Reason == OffloadReason.Evicted);
        Assert.Contains(seen, p => p.Entry == blocker && p.Reason == OffloadReason.UnsupportedAction);

        seen.Clear();
        b.Table.Apply(new FlowMod(FlowModCommand.DeleteStrict, exact.Match, 0, FlowActions.Drop), null);
        b.Manager.WaitForPlacement();
        Assert.Contains(seen, p => p.Entry == exact && p.Entry.IsRemoved && !p.InHardware);
    }

    [Fact]
    public void ExactDoubleCollision_GoesToSoftwareWithReason()
    {
        var b = new Bare();
        var target = ExactUdp(1, 7);
        var key = new uint[8];
        NetFpgaEncoding.EncodeKey(target, NetFpgaEncoding.SrcPortOf(1), 0, key);
        var (r1, r2) = NetFpgaEncoding.ExactRows(key);
        // Two other flows whose first position is the target's first and second position.
        FlowMatch? a = null, c = null;
        for (ushort s = 1000; (a is null || c is null) && s < 60000; s++)
        {
            for (ushort d = 1; d < 3 && (a is null || c is null); d++)
            {
                var m = ExactUdp(1, s, d);
                int row = FirstRow(m);
                if (a is null && row == r1) a = m;
                else if (c is null && row == r2 && r2 != r1) c = m;
            }
        }
        Assert.NotNull(a);
        Assert.NotNull(c);
        var ea = b.Add(a!.Value, 0, FlowAction.Output(2));
        var ec = b.Add(c!.Value, 0, FlowAction.Output(2));
        Assert.True(b.Where(ea).InHardware);
        Assert.True(b.Where(ec).InHardware);
        var et = b.Add(target, 0, FlowAction.Output(3));
        var p = b.Where(et);
        Assert.False(p.InHardware);
        Assert.Equal(NetFpgaReasons.ExactCollision, p.Reason);
        Assert.Contains($"{r1}", p.Detail.Note);

        // Once a position frees, the next poll retries it.
        b.Table.Apply(new FlowMod(FlowModCommand.DeleteStrict, a.Value, 0, FlowActions.Drop), null);
        b.Manager.WaitForPlacement();
        b.Manager.Poll();
        Assert.True(b.Where(et).InHardware);
        Assert.Equal(1, b.Manager.Stats.Promotions);
    }

    [Fact]
    public void WildcardRowsExhausted_GoesToSoftware_FloodNeedsFourRows()
    {
        var b = new Bare();
        var flows = new List<FlowEntry>();
        for (int i = 0; i < 22; i++)
            flows.Add(b.Add(Match(inPort: 1, dlType: 0x0800, nwDst: $"10.1.0.{i}"), 100, FlowAction.Output(2)));
        Assert.All(flows, f => Assert.True(b.Where(f).InHardware));
        Assert.Equal(2, b.Driver.WildcardRowsFree);

        // FLOOD with in_port wildcarded: 4 rows, only 2 free.
        var flood = b.Add(Match(dlType: 0x0806), 100, FlowAction.Output(PortNumber.Flood));
        Assert.Equal(NetFpgaReasons.WildcardRowsFull, b.Where(flood).Reason);
        flows.Add(b.Add(Match(inPort: 2, dlType: 0x0800, nwDst: "10.2.0.1"), 100, FlowAction.Output(1)));
        flows.Add(b.Add(Match(inPort: 2, dlType: 0x0800, nwDst: "10.2.0.2"), 100, FlowAction.Output(1)));
        Assert.Equal(0, b.Driver.WildcardRowsFree);
        var extra = b.Add(Match(inPort: 3, dlType: 0x0800, nwDst: "10.3.0.1"), 100, FlowAction.Output(1));
        var p = b.Where(extra);
        Assert.False(p.InHardware);
        Assert.Equal(NetFpgaReasons.WildcardRowsFull, p.Reason);
        Assert.Equal(24, b.Manager.Stats.HardwareRows);
        Assert.Equal(2, b.Manager.Stats.SoftwareReasons[NetFpgaReasons.WildcardRowsFull]);
    }

    [Fact]
    public void FloodWithWildcardInPort_ExpandsToFourRows_EachExcludingItsPort()
    {
        var b = new Bare();
        var e = b.Add(Match(dlType: 0x0806), 100, FlowAction.Output(PortNumber.Flood));
        var p = b.Where(e);
        Assert.True(p.InHardware);
        Assert.Equal(4, p.Rows);
        Assert.True(b.Driver.TryGetRows(e, out _, out var rows, out var plan));
        Assert.Equal(4, rows.Length);
        var seen = new HashSet<uint>();
        foreach (int r in rows)
        {
            var (cmp, mask, act) = b.Board.WildcardRow(r);
            uint src = cmp[6] >> 24;
            Assert.Equal(0u, mask[6] >> 24);                        // src_port compared
            uint macs = 0x55, own = 1u << (int)src;                 // MAC bits 0, 2, 4, 6
            Assert.Equal(macs & ~own, act[0] & 0xFFFF);
            seen.Add(src);
        }
        Assert.Equal(new HashSet<uint> { 0, 2, 4, 6 }, seen);

        // ALL behaves the same; IN_PORT-dependent outputs too (one row per forward bitmask group).
        var all = b.Add(Match(dlType: 0x88cc), 100, FlowAction.Output(PortNumber.All));
        Assert.Equal(4, b.Where(all).Rows);
    }

    [Fact]
    public void OverlapRule_EvictsOutrankedRows_RefusesOutranked_HonoursSoftwareRules()
    {
        var b = new Bare();
        var w100 = b.Add(Match(dlType: 0x0800, nwDst: "10.0.0.0/8"), 100, FlowAction.Output(2));
        Assert.True(b.Where(w100).InHardware);

        // A higher-priority overlapping rule arrives: the lower one may no longer answer in hardware.
        var w200 = b.Add(Match(dlType: 0x0800, nwDst: "10.1.0.0/16"), 200, FlowAction.Output(3));
        Assert.Equal(OffloadReason.Evicted, b.Where(w100).Reason);
        Assert.True(b.Where(w200).InHardware);

        // A lower-priority rule overlapping an offloaded one stays in software.
        var w50 = b.Add(Match(dlType: 0x0800, nwSrc: "192.168.0.0/16"), 50, FlowAction.Output(4));
        Assert.Equal(OffloadReason.OverlapsOffloadedRule, b.Where(w50).Reason);

        // Equal priority counts as overlap (software breaks ties by subtable order, hardware by row order): the
        // offloaded one is evicted and the newcomer is refused by it.
        var tie = b.Add(Match(dlType: 0x0800, nwDst: "10.1.2.0/24"), 200, FlowAction.Output(4));
        Assert.Equal(OffloadReason.Evicted, b.Where(w200).Reason);
        Assert.Equal(OffloadReason.OverlapsSoftwareRule, b.Where(tie).Reason);

        // A higher rule that cannot be offloaded (controller) still evicts what it outranks.
        var h = b.Add(Match(dlType: 0x0800, nwDst: "172.16.0.0/12"), 150, FlowAction.Output(1));
        Assert.True(b.Where(h).InHardware);
        var ctl = b.Add(Match(dlType: 0x0800, nwDst: "172.16.1.1"), 300, FlowAction.Output(PortNumber.Controller, 128));
        Assert.Equal(OffloadReason.UnsupportedAction, b.Where(ctl).Reason);
        Assert.Equal(OffloadReason.Evicted, b.Where(h).Reason);

        // A rule that overlaps a higher software rule is refused up front.
        var under = b.Add(Match(dlType: 0x0800, nwDst: "172.16.1.1"), 10, FlowAction.Output(1));
        Assert.Equal(OffloadReason.OverlapsSoftwareRule, b.Where(under).Reason);

        // Disjoint rules coexist in hardware.
        var other = b.Add(Match(dlType: 0x0806), 5, FlowAction.Output(1));
        Assert.True(b.Where(other).InHardware);
        Assert.True(b.Manager.Stats.Evictions >= 3);
    }

    [Fact]
    public void ExactFlowLeftInSoftware_EvictsWildcardRowsMatchingItsKey()
    {
        var b = new Bare();
        var w = b.Add(Match(dlType: 0x0800), 100, FlowAction.Output(2));
        Assert.True(b.Where(w).InHardware);
        var ex = b.Add(ExactUdp(1, 1234), 0, FlowAction.Output(PortNumber.Controller, 64));
        Assert.Equal(OffloadReason.UnsupportedAction, b.Where(ex).Reason);
        Assert.Equal(OffloadReason.Evicted, b.Where(w).Reason);
        // An exact flow the hardware holds needs no eviction: exact rows are looked up first.
        var b2 = new Bare();
        var w2 = b2.Add(Match(dlType: 0x0800), 100, FlowAction.Output(2));
        var ex2 = b2.Add(ExactUdp(1, 1234), 0, FlowAction.Output(3));
        Assert.True(b2.Where(ex2).InHardware);
        Assert.True(b2.Where(w2).InHardware);
    }

    [Fact]
    public void UnsupportedActionsAndMatches_StayInSoftwareWithReasons()
    {
        var b = new Bare();
        (FlowAction[] Actions, OffloadReason Reason)[] cases =
        [
            ([FlowAction.Output(PortNumber.Local)], OffloadReason.UnsupportedAction),
            ([FlowAction.Output(PortNumber.Normal)], OffloadReason.UnsupportedAction),
            ([FlowAction.Enqueue(2, 1)], OffloadReason.UnsupportedAction),
            ([FlowAction.SetTunnel(5), FlowAction.Output(2)], OffloadReason.UnsupportedAction),
            ([FlowAction.Output(7)], OffloadReason.UnsupportedOutputPort),
            ([FlowAction.Output(2), FlowAction.SetDlDst(Mac("02:00:00:00:00:09")), FlowAction.Output(3)], NetFpgaReasons.UnsupportedActionOrder),
            ([FlowAction.SetNwTos(8), FlowAction.SetNwTos(16), FlowAction.Output(2)], NetFpgaReasons.UnsupportedActionOrder),
            ([FlowAction.StripVlan(), FlowAction.SetVlanVid(5), FlowAction.Output(2)], NetFpgaReasons.UnsupportedActionOrder),
            ([FlowAction.Output(2), FlowAction.Output(PortNumber.Flood)], NetFpgaReasons.UnsupportedActionOrder),
        ];
        int i = 0;
        foreach (var (actions, reason) in cases)
        {
            var e = b.Add(Match(inPort: 1, dlType: 0x0800, nwDst: $"10.9.0.{i++}"), 100, actions);
            var p = b.Where(e);
            Assert.False(p.InHardware, string.Join(",", actions));
            Assert.Equal(reason, p.Reason);
        }
        var pcpOnly = b.Add(Match(inPort: 1, pcp: 3), 100, FlowAction.Output(2));
        Assert.Equal(OffloadReason.UnsupportedMatch, b.Where(pcpOnly).Reason);
        var notBoard = b.Add(Match(inPort: 9, dlType: 0x0800), 100, FlowAction.Output(2));
        Assert.Equal(OffloadReason.InPortNotOffloadable, b.Where(notBoard).Reason);
    }

    [Fact]
    public void DeleteFreesRows_ExactClearsValidBit()
    {
        var b = new Bare();
        var w = b.Add(Match(dlType: 0x0806), 100, FlowAction.Output(PortNumber.Flood));
        var ex = b.Add(ExactUdp(2, 99), 0, FlowAction.Output(1));
        Assert.Equal(20, b.Driver.WildcardRowsFree);
        Assert.Equal(1, b.Driver.ExactRowsUsed);
        int row = FirstRow(ex.Match);
        Assert.NotEqual(0u, b.Board.ExactRowWords(row)[7] & 0x80000000);
        Assert.True(b.Driver.TryGetRows(w, out _, out var rows, out _));

        long before = b.Driver.RegisterWrites;
        b.Table.Apply(new FlowMod(FlowModCommand.Delete, FlowMatch.All, 0, FlowActions.Drop), null);
        b.Manager.WaitForPlacement();
        Assert.Equal(24, b.Driver.WildcardRowsFree);
        Assert.Equal(0, b.Driver.ExactRowsUsed);
        Assert.Equal(0u, b.Board.ExactRowWords(row)[7] & 0x80000000);
        foreach (int r in rows)
        {
            var (cmp, mask, act) = b.Board.WildcardRow(r);
            Assert.All(cmp.Concat(mask).Concat(act), x => Assert.Equal(0u, x));
        }
        // 4 wildcard rows x (8 + 8 + 10 + WRITE_ADDR) + READ_ADDR per row + 1 exact valid-bit write.
        Assert.Equal(4 * 27 + 4 + 1, b.Driver.RegisterWrites - before);
        Assert.Equal(0, b.Manager.Stats.HardwareFlows);
    }

    [Fact]
    public void ModifyKeepsCounters_AndRewritesActionsInPlace()
    {
        using var hw = new SwitchRig(offload: true);
        var frame = Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2", 1, 2);
        var exact = MatchOf(frame, 1, OfWildcards.None);
        var wild = Match(inPort: 1, dlType: 0x0806);
        hw.Add(exact, 0, FlowAction.Output(2));
        hw.Add(wild, 100, FlowAction.Output(3));
        var arp = FlowBuilderArp();
        for (int i = 0; i < 3; i++) { hw.Inject(1, frame); hw.Inject(1, arp); }
        hw.Run();
        Assert.Equal(3, hw.Sent(2).Count);
        Assert.Equal(3, hw.Sent(3).Count);
        Assert.Equal(6, hw.Board.FlowRowHits + hw.Board.ExactRowHits);
        hw.PollCounters();
        var flows = hw.Flows();
        var fe = flows.Single(f => f.Match.IsExact);
        var fw = flows.Single(f => !f.Match.IsExact);
        Assert.Equal(3, fe.Packets);
        Assert.Equal(3, fw.Packets);
        long writes = hw.Offload!.Driver.RegisterWrites;
        int rowsBefore = hw.Offload.Manager.Stats.HardwareRows;

        // MODIFY: new actions, same rows, counters kept.
        hw.Apply(new FlowMod(FlowModCommand.ModifyStrict, exact, 0, new FlowActions([FlowAction.SetTpDst(9), FlowAction.Output(4)])));
        hw.Apply(new FlowMod(FlowModCommand.ModifyStrict, wild, 100, new FlowActions([FlowAction.Output(4)])));
        Assert.Equal(10 + 27, hw.Offload.Driver.RegisterWrites - writes); // 10 exact action words; one wildcard row restaged
        Assert.Equal(rowsBefore, hw.Offload.Manager.Stats.HardwareRows);
        for (int i = 0; i < 2; i++) { hw.Inject(1, frame); hw.Inject(1, arp); }
        hw.Run();
        var out4 = hw.Sent(4);
        Assert.Equal(4, out4.Count);
        Assert.Equal(2, out4.Count(f => f[12] == 0x08 && f[14 + 20 + 3] == 9)); // UDP dport rewritten to 9
        Assert.Empty(hw.Sent(2));
        hw.PollCounters();
        Assert.Equal(5, fe.Packets);
        Assert.Equal(5, fw.Packets);
        Assert.Empty(hw.Upcalls());
    }

    [Fact]
    public void IdleTimeoutSeesHardwareTraffic_ThroughMaintenancePoll()
    {
        using var hw = new SwitchRig(offload: true);
        var frame = Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2", 1, 2);
        hw.Apply(new FlowMod(FlowModCommand.Add, MatchOf(frame, 1, OfWildcards.None), 0, new FlowActions([FlowAction.Output(2)]),
            IdleTimeout: 5, Flags: FlowModFlags.SendFlowRemoved));
        for (int s = 0; s < 8; s++)
        {
            hw.Inject(1, frame);
            hw.Run();
            hw.Clock.Advance(TimeSpan.FromSeconds(3));
            hw.RunMaintenance();        // reads the hardware counter first: the flow is used, it stays
            Assert.Single(hw.Flows());
        }
        hw.Clock.Advance(TimeSpan.FromSeconds(6));
        hw.RunMaintenance();
        Assert.Empty(hw.Flows());
        var removed = Assert.Single(hw.Removed);
        Assert.Equal(FlowRemovedReason.IdleTimeout, removed.Reason);
        Assert.Equal(8, removed.Packets);
        Assert.Equal(0, hw.Offload!.Driver.ExactRowsUsed);
    }

    [Fact]
    public void PortConfigChange_TakesAffectedFlowsBackToSoftware()
    {
        using var hw = new SwitchRig(offload: true);
        hw.Add(Match(inPort: 1, dlType: 0x0800), 100, FlowAction.Output(2));
        hw.Add(Match(inPort: 3, dlType: 0x0800), 100, FlowAction.Output(4));
        var m = hw.Offload!.Manager;
        Assert.Equal(2, m.Stats.HardwareFlows);
        hw.Dp.SetPortConfig(2, PortConfig.NoFwd, PortConfig.NoFwd);
        hw.RunMaintenance();
        Assert.Equal(1, m.Stats.HardwareFlows);
        Assert.Equal(1, m.Stats.SoftwareReasons[OffloadReason.DatapathState]);
        hw.Dp.SetPortConfig(2, PortConfig.None, PortConfig.NoFwd);
        hw.RunMaintenance();
        Assert.Equal(2, m.Stats.HardwareFlows);
        hw.Tables.UseEmergencyTable = true;
        hw.RunMaintenance();
        Assert.Equal(0, m.Stats.HardwareFlows);
    }

    [Fact]
    public void PortStats_ComeFromTheBoardsMacCounters()
    {
        using var hw = new SwitchRig(offload: true);
        hw.Add(Match(inPort: 1), 100, FlowAction.Output(2));
        var frame = Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2", 1, 2);
        for (int i = 0; i < 5; i++) hw.Inject(1, frame);
        hw.Run();
        hw.RunMaintenance();
        var p1 = hw.Offload!.Ports[0].Counters.Snapshot();
        var p2 = hw.Offload.Ports[1].Counters.Snapshot();
        Assert.Equal(5, p1.RxPackets);
        Assert.Equal(5 * frame.Length, p1.RxBytes);
        Assert.Equal(5, p2.TxPackets);
        Assert.Equal(-1, p2.TxDropped);          // not counted by the board
        Assert.Equal(-1, p2.Collisions);
        Assert.Equal(0, hw.Dp.Forwarders[0].Packets); // software never saw them
        var lookup = hw.Offload.Driver.ReadLookupStats();
        Assert.Equal(5u, lookup.WildcardHits);
    }

    private static byte[] FlowBuilderArp()
        => Softswitch.Datapath.Packets.FrameBuilder.Arp(1, Mac("00:00:00:00:00:01"), Ip("10.0.0.1"), default, Ip("10.0.0.2"));
}

