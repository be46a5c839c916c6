using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto.Tests;

/// <summary>Idle and hard timeouts through <see cref="FlowTable.Expire"/> with a <see cref="ManualClock"/>.</summary>
public class OfFlowTablesTimeoutTests
{
    private const long Second = 1_000_000_000L;
    private static readonly FlowActions s_out = new([FlowAction.Output(1)]);

    private static FlowKey Key(int i)
        => new FlowKeyBuilder().InPort((ushort)(1 + (i & 3))).DlVlan(0xFFFF).DlType(0x0800).NwProto(17)
            .NwSrc(0x0A000000u + (uint)i).NwDst(0x0B000000u + (uint)(i >> 3)).TpSrc((ushort)i).TpDst(53).Key;

    private static FlowMod Exact(int i, ushort idle, ushort hard)
        => new(FlowModCommand.Add, FlowMatch.Exact(Key(i)), 0, s_out, (ulong)i, idle, hard);

    private static FlowMod Wild(int i, ushort idle, ushort hard)
        => new(FlowModCommand.Add, FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwSrcMask) | OfWildcards.TunIdExt, Key(i)),
               (ushort)(10 + i), s_out, (ulong)i, idle, hard);

    [Fact]
    public void Idle_ExpiresOnlyWhenUnused_AndIsReArmedByUse()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        table.Apply(Exact(1, idle: 10, hard: 0), null);
        table.Apply(Wild(2, idle: 10, hard: 0), null);
        var exact = table.Lookup(Key(1), 0)!;
        var wild = table.Lookup(Key(2), 0)!;
        long t0 = clock.NowNanos;
        var removed = new List<FlowRemoved>();

        clock.AdvanceNanos(9 * Second);
        Assert.Equal(0, table.Expire(removed));
        exact.Hit(1, 64, clock.NowNanos); // used at t0+9 s: new deadline t0+19 s
        clock.AdvanceNanos(Second);       // t0+10 s: the unused wildcard flow goes
        Assert.Equal(1, table.Expire(removed));
        Assert.Same(wild, removed[0].Entry);
        Assert.Equal(FlowRemovedReason.IdleTimeout, removed[0].Reason);
        Assert.Equal(10 * Second, removed[0].DurationNanos);
        Assert.True(wild.IsRemoved);
        Assert.Null(table.Lookup(Key(2), 0));

        clock.AdvanceNanos(9 * Second - 1); // t0+19 s - 1 ns
        Assert.Equal(0, table.Expire(removed));
        clock.AdvanceNanos(1);
        Assert.Equal(1, table.Expire(removed));
        Assert.Same(exact, removed[1].Entry);
        Assert.Equal(FlowRemovedReason.IdleTimeout, removed[1].Reason);
        Assert.Equal((1L, 64L), (removed[1].Packets, removed[1].Bytes));
        Assert.Equal(clock.NowNanos - t0, removed[1].DurationNanos);
        Assert.Equal((0, 0), (table.ActiveExact, table.ActiveWildcard));
    }

    [Fact]
    public void Hard_ExpiresEvenWhenUsed()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        table.Apply(Exact(1, idle: 0, hard: 5), null);
        var e = table.Lookup(Key(1), 0)!;
        var removed = new List<FlowRemoved>();
        for (int s = 1; s < 5; s++)
        {
            clock.AdvanceNanos(Second);
            e.Hit(1, 100, clock.NowNanos);
            Assert.Equal(0, table.Expire(removed));
        }
        clock.AdvanceNanos(Second);
        Assert.Equal(1, table.Expire(removed));
        Assert.Equal(FlowRemovedReason.HardTimeout, removed[0].Reason);
        Assert.Equal(4L, removed[0].Packets);
    }

    [Fact]
    public void Both_WhicheverComesFirst_HardWinsWhenBothAreDue()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        table.Apply(Exact(1, idle: 5, hard: 8), null);  // kept busy: hard at 8 s
        table.Apply(Exact(2, idle: 5, hard: 20), null); // idle: idle at 5 s
        table.Apply(Exact(3, idle: 5, hard: 5), null);  // both at 5 s: hard
        var busy = table.Lookup(Key(1), 0)!;
        var removed = new List<FlowRemoved>();
        for (int s = 1; s <= 8; s++)
        {
            clock.AdvanceNanos(Second);
            if (s < 8) busy.Hit(1, 1, clock.NowNanos);
            table.Expire(removed);
        }
        var reasons = removed.ToDictionary(r => (int)r.Entry.Cookie, r => (r.Reason, r.DurationNanos / Second));
        Assert.Equal((FlowRemovedReason.HardTimeout, 8L), reasons[1]);
        Assert.Equal((FlowRemovedReason.IdleTimeout, 5L), reasons[2]);
        Assert.Equal((FlowRemovedReason.HardTimeout, 5L), reasons[3]);
    }

    /// <summary>
    /// A controller's modify restarts the hard timeout (Open vSwitch's modify makes a new rule: its modified time now,
    /// its creation time the old rule's), so the flow outlives its first deadline; its duration still counts from its
    /// creation. Under 1.0's rules (in one table, and in every table) and 1.3's, applied alone or in an atomic batch.
    /// </summary>
    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, false)]
    [InlineData(true, false, true)]
    [InlineData(false, false, true)]
    public void AModify_RestartsTheHardTimeout_NotTheDuration(bool of13, bool everyTable, bool atomic)
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var rules = of13 ? MatchRules.OpenFlow13 : MatchRules.AsGiven;
        Assert.Equal(FlowModStatus.Ok, table.Apply(Exact(1, idle: 0, hard: 10) with { Rules = rules }));
        var created = table.Lookup(Key(1), 0)!;
        long t0 = clock.NowNanos;
        clock.AdvanceNanos(6 * Second);
        var modify = new FlowMod(FlowModCommand.ModifyStrict, FlowMatch.Exact(Key(1)), 0, new FlowActions([FlowAction.Output(2)]),
                                 Rules: rules, TableId: everyTable ? FlowModRequest.AllTables : (byte)0);
        ApplyAloneOrAtomically(table, modify, atomic);
        var e = table.Lookup(Key(1), 0)!;
        Assert.Equal(FlowAction.Output(2), e.Actions.Items[0]);
        Assert.Equal(created.CreatedNanos, e.CreatedNanos);
        var removed = new List<FlowRemoved>();
        clock.AdvanceNanos(5 * Second); // 11 s from its creation, 5 s from the modify
        Assert.Equal(0, table.Expire(removed));
        Assert.Same(e, table.Lookup(Key(1), 0));
        clock.AdvanceNanos(5 * Second - 1);
        Assert.Equal(0, table.Expire(removed));
        clock.AdvanceNanos(1); // 10 s from the modify
        Assert.Equal(1, table.Expire(removed));
        Assert.Equal(FlowRemovedReason.HardTimeout, removed[0].Reason);
        Assert.Equal(clock.NowNanos - t0, removed[0].DurationNanos);
        Assert.Equal(16 * Second, removed[0].DurationNanos);
    }

    /// <summary>
    /// A 1.3 modify with RESET_COUNTS restarts the idle timer with the counts (Open vSwitch's new rule takes the old
    /// one's stats, its last use included, only when it forwards the counts); without it the idle timer goes on. Applied
    /// alone and in an atomic batch.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void AModifyWithResetCounts_RestartsTheIdleTimer(bool reset, bool atomic)
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        Assert.Equal(FlowModStatus.Ok, table.Apply(Exact(1, idle: 10, hard: 0) with { Rules = MatchRules.OpenFlow13 }));
        long t0 = clock.NowNanos;
        clock.AdvanceNanos(2 * Second);
        table.Lookup(Key(1), 0)!.Hit(3, 192, clock.NowNanos); // used at t0+2 s: idle deadline t0+12 s
        clock.AdvanceNanos(4 * Second);
        var modify = new FlowMod(FlowModCommand.Modify, FlowMatch.Exact(Key(1)), 0, new FlowActions([FlowAction.Output(2)]),
                                 Flags: reset ? FlowModFlags.ResetCounts : FlowModFlags.None, Rules: MatchRules.OpenFlow13);
        ApplyAloneOrAtomically(table, modify, atomic);
        var e = table.Lookup(Key(1), 0)!;
        Assert.Equal(FlowAction.Output(2), e.Actions.Items[0]);
        Assert.Equal(reset ? (0L, 0L) : (3L, 192L), (e.Packets, e.Bytes));
        Assert.Equal(t0 + (reset ? 6 : 2) * Second, e.LastUsedNanos);
        var removed = new List<FlowRemoved>();
        clock.AdvanceNanos(6 * Second - 1); // t0+12 s - 1 ns
        Assert.Equal(0, table.Expire(removed));
        clock.AdvanceNanos(1);              // t0+12 s: 10 s from the last packet
        Assert.Equal(reset ? 0 : 1, table.Expire(removed));
        if (reset)
        {
            clock.AdvanceNanos(4 * Second - 1); // t0+16 s - 1 ns
            Assert.Equal(0, table.Expire(removed));
            clock.AdvanceNanos(1);              // 10 s from the modify
            Assert.Equal(1, table.Expire(removed));
        }
        Assert.Equal(FlowRemovedReason.IdleTimeout, removed[0].Reason);
        Assert.Equal(clock.NowNanos - t0, removed[0].DurationNanos);
    }

    /// <summary>Applies <paramref name="mod"/> alone, or as the one flow-mod of an atomic batch that commits.</summary>
    private static void ApplyAloneOrAtomically(OfFlowTables table, FlowMod mod, bool atomic)
    {
        if (!atomic)
        {
            Assert.Equal(FlowModStatus.Ok, table.Apply(mod));
            return;
        }
        var batch = table.BeginBatch(atomic: true);
        Assert.Equal(FlowModStatus.Ok, batch.Apply(mod, null, out _));
        batch.Commit();
    }

    [Fact]
    public void DeletedOrReplacedFlows_NeverExpireLater()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        table.Apply(Exact(1, idle: 2, hard: 0), null);
        table.Apply(new FlowMod(FlowModCommand.DeleteStrict, FlowMatch.Exact(Key(1)), 0, FlowActions.Drop), null);
        table.Apply(Exact(2, idle: 2, hard: 0), null);
        clock.AdvanceNanos(Second);
        var old = table.Lookup(Key(2), 0)!;
        table.Apply(Exact(2, idle: 2, hard: 0), null); // replaced at t0+1 s: new entry, new timer
        var removed = new List<FlowRemoved>();
        clock.AdvanceNanos(Second);
        Assert.Equal(0, table.Expire(removed));
        clock.AdvanceNanos(Second);
        Assert.Equal(1, table.Expire(removed));
        Assert.NotSame(old, removed[0].Entry);
        Assert.Equal(2 * Second, removed[0].DurationNanos);
        Assert.Equal(0, table.Main.TimerTracked);
    }

    [Fact]
    public void ClockJumpPastTheWheelSpan_ExpiresEverythingDue()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        table.Apply(Exact(1, idle: 3, hard: 0), null);
        table.Apply(Exact(2, idle: 0, hard: 1000), null); // beyond one revolution of the wheel
        table.Apply(Exact(3, idle: 600, hard: 0), null);
        var removed = new List<FlowRemoved>();
        clock.AdvanceNanos(500 * Second);
        Assert.Equal(1, table.Expire(removed));
        clock.AdvanceNanos(100 * Second); // t0+600 s
        Assert.Equal(1, table.Expire(removed));
        Assert.Equal(3, (int)removed[1].Entry.Cookie);
        clock.AdvanceNanos(399 * Second);
        Assert.Equal(0, table.Expire(removed));
        clock.AdvanceNanos(Second);
        Assert.Equal(1, table.Expire(removed));
        Assert.Equal(FlowRemovedReason.HardTimeout, removed[2].Reason);
    }

    [Fact]
    public void FrequentExpireCalls_DoNotRewalkFlowsThatAreNotDue()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        const int n = 10_000;
        var mods = Enumerable.Range(0, n).Select(i => Exact(i, idle: (ushort)(5 + i % 3), hard: 0)).ToArray();
        table.ApplyBatch(mods, new FlowModStatus[n], null);
        var removed = new List<FlowRemoved>();
        for (int ms = 1; ms <= 9000; ms++)
        {
            clock.AdvanceNanos(1_000_000);
            table.Expire(removed);
            if (ms == 4999) Assert.Empty(removed);
        }
        Assert.Equal(n, removed.Count);
        Assert.True(table.Main.TimerVisits <= 2L * n, $"{table.Main.TimerVisits} visits for {n} flows over 9000 Expire calls");
    }

    [Fact]
    public void HundredThousandFlows_ExpirePromptly_WithConstantWorkPerFlow()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        const int n = 100_000;
        var mods = new FlowMod[n];
        var rng = new Random(7);
        for (int i = 0; i < n; i++)
        {
            ushort idle = (ushort)rng.Next(1, 61);
            ushort hard = rng.Next(4) == 0 ? (ushort)rng.Next(1, 200) : (ushort)0;
            mods[i] = i % 10 == 0 ? Wild(i, idle, hard) : Exact(i, idle, hard);
        }
        var statuses = new FlowModStatus[n];
        table.ApplyBatch(mods, statuses, null);
        Assert.All(statuses, s => Assert.Equal(FlowModStatus.Ok, s));
        int installed = table.ActiveExact + table.ActiveWildcard;
        long t0 = clock.NowNanos;

        // Keep a tenth of the exact flows busy for the first 30 s.
        var busy = new List<FlowEntry>();
        for (int i = 1; i < n; i += 10) busy.Add(table.Lookup(Key(i), 0)!);

        var removed = new List<FlowRemoved>();
        long prev = clock.NowNanos;
        const long step = Second / 4;
        for (long t = step; t <= 250 * Second; t += step)
        {
            clock.AdvanceNanos(step);
            if (t <= 30 * Second && t % Second == 0)
                foreach (var e in busy) e.Touch(clock.NowNanos);
            int before = removed.Count;
            table.Expire(removed);
            long now = clock.NowNanos;
            for (int r = before; r < removed.Count; r++)
            {
                var e = removed[r].Entry;
                long hard = e.HardTimeout == 0 ? long.MaxValue : e.CreatedNanos + e.HardTimeout * Second;
                long idle = e.IdleTimeout == 0 ? long.MaxValue : e.LastUsedNanos + e.IdleTimeout * Second;
                long deadline = Math.Min(hard, idle);
                Assert.True(deadline <= now && deadline > prev, $"flow {e.Cookie} expired at {(now - t0) / (double)Second}s, deadline {(deadline - t0) / (double)Second}s");
                Assert.Equal(hard <= now ? FlowRemovedReason.HardTimeout : FlowRemovedReason.IdleTimeout, removed[r].Reason);
            }
            prev = now;
        }
        Assert.Equal(installed, removed.Count);
        Assert.Equal((0, 0), (table.ActiveExact, table.ActiveWildcard));
        // Each flow is examined when its bucket comes due, plus once per idle period it was used, plus once per
        // wheel revolution for deadlines beyond the span (none here): bounded by a small constant per flow.
        Assert.True(table.Main.TimerVisits < 3L * installed, $"{table.Main.TimerVisits} visits for {installed} flows");
    }
}
