using System.Diagnostics;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Xunit.Abstractions;

namespace Softswitch.Datapath.Tests.Offload;

/// <summary>
/// The offload manager against the dummy target (no device code): asynchronous placement, the software as the truth
/// until a placement is confirmed, counting once, and the three lookup models.
/// </summary>
public sealed class OffloadManagerTests(ITestOutputHelper output)
{
    private static readonly ushort[] Ports = [1, 2, 3, 4];

    private static FlowKey Key(ushort inPort, ushort dlType, uint nwSrc, uint nwDst, byte proto, ushort tpSrc, ushort tpDst)
    {
        var b = new FlowKeyBuilder();
        b.InPort(inPort);
        b.DlVlan(0xFFFF);
        b.DlType(dlType);
        b.NwProto(proto);
        b.NwSrc(nwSrc);
        b.NwDst(nwDst);
        b.TpSrc(tpSrc);
        b.TpDst(tpDst);
        return b.Key;
    }

    private static FlowKey Udp(ushort inPort, uint nwDst, ushort tpDst = 80) => Key(inPort, 0x0800, 0x0A000001, nwDst, 17, 1000, tpDst);

    /// <summary>ip, nw_dst=DST/PREFIX (everything else wildcarded).</summary>
    private static FlowMatch IpDst(uint dst, int prefix)
    {
        var w = (OfWildcards.All | OfWildcards.TunIdExt) & ~(OfWildcards.DlType | OfWildcards.NwDstMask) | (OfWildcards)((uint)(32 - prefix) << (int)OfWildcards.NwDstShift);
        var b = new FlowKeyBuilder();
        b.DlType(0x0800);
        b.NwDst(prefix == 0 ? 0 : dst & (uint.MaxValue << (32 - prefix)));
        return FlowMatch.FromOpenFlow(w, b.Key);
    }

    private static FlowEntry Add(OfFlowTables t, in FlowMatch m, ushort prio, params FlowAction[] actions)
    {
        Assert.Equal(FlowModStatus.Ok, t.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions)), null));
        var list = new List<FlowEntry>();
        t.Collect(m, PortNumber.None, strict: true, list);
        return list.Single();
    }

    private static void Delete(OfFlowTables t, in FlowMatch m, ushort prio)
        => Assert.Equal(FlowModStatus.Ok, t.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, prio, FlowActions.Drop), null));

    private static FlowPlacement Where(OffloadManager m, FlowEntry e)
    {
        Assert.True(m.TryGetPlacement(e, out var p));
        return p;
    }

    [Fact]
    public void FlowMod_DoesNotWaitForTheTarget_SoftwareForwardsUntilPlaced()
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst);
        using var device = new ManualResetEventSlim(false);
        target.BeforeWrite = _ => device.Wait(TimeSpan.FromSeconds(30)); // a device that does not answer
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach();

        var key = Udp(1, 0x0B000001);
        var sw = Stopwatch.StartNew();
        var e = Add(table, FlowMatch.Exact(key), 0, FlowAction.Output(2));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"the flow-mod took {sw.Elapsed} with the device stalled");
        // Applied in software at once, not in hardware yet: the target misses, software answers.
        Assert.Same(e, table.Lookup(key, 0));
        Assert.Null(target.Lookup(key));
        Assert.False(manager.WaitForPlacement(TimeSpan.FromMilliseconds(50)));

        device.Set();
        Assert.True(manager.WaitForPlacement(TimeSpan.FromSeconds(30)));
        Assert.True(Where(manager, e).InHardware);
        Assert.Same(e, target.Lookup(key));
        var st = manager.Stats;
        Assert.Equal(0, st.PendingEvents);
        Assert.Equal(1, st.PlacedEvents);
        Assert.True(st.PlacementLatencyMaxMicros >= 50_000, $"placement latency {st.PlacementLatencyMaxMicros} us does not include the stall");
    }

    [Fact]
    public void ABurstLongerThanTheWorkersChunk_IsPlacedWhole_InOrder()
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst, capacity: 1024);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach();
        var entries = new List<FlowEntry>();
        for (int i = 0; i < 700; i++) entries.Add(Add(table, FlowMatch.Exact(Udp((ushort)(1 + i % 4), 0x0C000000u + (uint)i)), 0, FlowAction.Output(2)));
        // Every other one deleted again, behind its add in the queue.
        for (int i = 0; i < 700; i += 2) Delete(table, entries[i].Match, 0);
        Assert.True(manager.WaitForPlacement(TimeSpan.FromSeconds(60)));
        var st = manager.Stats;
        Assert.Equal(1050, st.PlacedEvents);
        Assert.Equal(0, st.PendingEvents);
        Assert.Equal(350, target.Count);
        for (int i = 0; i < 700; i++) Assert.Equal(i % 2 == 1, target.Holds(entries[i]));
    }

    [Fact]
    public void AddThenDeleteBeforePlacement_CostsTheTargetNothing()
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var m = FlowMatch.Exact(Udp(1, 0x0B000002));
        Add(table, m, 0, FlowAction.Output(2));
        Delete(table, m, 0);
        Assert.Equal(2, manager.Stats.PendingEvents);
        Assert.Equal(2, manager.ProcessPending());
        Assert.Equal(0, target.RegisterWrites);
        Assert.Equal(0, target.Count);
        var st = manager.Stats;
        Assert.Equal(0, st.HardwareFlows + st.SoftwareFlows);
        Assert.Equal(0, st.PendingEvents);
    }

    [Fact]
    public void Counts_OnceEach_SoftwareBeforePlacement_HardwareAfter()
    {
        var clock = new ManualClock();
        var table = new OfFlowTables(clock);
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var key = Udp(1, 0x0B000003);
        var e = Add(table, FlowMatch.Exact(key), 0, FlowAction.Output(2));

        // Before placement the target misses: the forwarding thread counts what it forwards.
        Assert.Null(target.Forward(key, 100));
        e.Hit(2, 200, clock.NowNanos);
        manager.ProcessPending();
        // After: the target forwards and counts; the poll adds exactly that, once.
        for (int i = 0; i < 3; i++) Assert.NotNull(target.Forward(key, 100));
        manager.Poll();
        manager.Poll();
        Assert.Equal(5, e.Packets);
        Assert.Equal(500, e.Bytes);
        Assert.Equal(3, manager.Stats.HardwarePackets);
        // The last packets before a removal are read once, when the rows are cleared.
        Assert.NotNull(target.Forward(key, 100));
        Delete(table, e.Match, 0);
        manager.ProcessPending();
        manager.Poll();
        Assert.Equal(6, e.Packets);
        Assert.Equal(0, target.Count);
    }

    [Fact]
    public void ModifiedActions_ReachTheTarget_WhenPlaced()
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var key = Udp(2, 0x0B000004);
        var e = Add(table, FlowMatch.Exact(key), 0, FlowAction.Output(3));
        manager.ProcessPending();
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, e.Match, 0, new FlowActions([FlowAction.Output(4)])), null);
        Assert.Equal(3, target.Forward(key, 60)!.Value.Actions.Items[0].Port); // still the old actions in hardware
        manager.ProcessPending();
        Assert.Equal(4, target.Forward(key, 60)!.Value.Actions.Items[0].Port);
        // Actions the target cannot do take the flow back to software.
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, e.Match, 0, new FlowActions([FlowAction.Output(PortNumber.Controller, 128)])), null);
        manager.ProcessPending();
        Assert.Null(target.Lookup(key));
        Assert.Equal(OffloadReason.UnsupportedAction, Where(manager, e).Reason);
    }

    [Theory]
    [InlineData(1u, -1)]
    [InlineData(0u, 1)]
    public void AFlowWithInstructions_StaysInSoftware_WhateverTheTarget(uint meter, int gotoTable)
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var key = Udp(1, 0x0B000009);
        var m = FlowMatch.Exact(key);
        var ins = new FlowInstructions(gotoTable: gotoTable, meter: meter);
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, m, 5, new FlowActions([FlowAction.Output(2)]),
                                                               Rules: MatchRules.OpenFlow13, Instructions: ins), null));
        var list = new List<FlowEntry>();
        table.Collect(m, PortNumber.None, strict: true, list);
        var e = list.Single();
        manager.ProcessPending();
        // The target would output to port 2 and skip the meter or the next table.
        Assert.Null(target.Lookup(key));
        var p = Where(manager, e);
        Assert.False(p.InHardware);
        Assert.Equal(OffloadReason.Instructions, p.Reason);
        // Modified to apply-actions alone, it is placed.
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, m, 5, new FlowActions([FlowAction.Output(3)]),
                                                               Rules: MatchRules.OpenFlow13), null));
        table.Collect(m, PortNumber.None, strict: true, list);
        manager.ProcessPending();
        Assert.Equal(3, target.Forward(key, 60)!.Value.Actions.Items[0].Port);
    }

    [Fact]
    public void LookupModels_DecideWhichOverlapsMayShareTheHardware()
    {
        foreach (var model in Enum.GetValues<OffloadLookupModel>())
        {
            var table = new OfFlowTables(new ManualClock());
            var target = new DummyOffloadTarget(Ports, model);
            using var manager = new OffloadManager(table.Main, target);
            manager.Attach(startWorker: false);
            var wide = Add(table, IpDst(0x0B000000, 8), 10, FlowAction.Output(2));
            var narrow = Add(table, IpDst(0x0B010000, 16), 20, FlowAction.Output(3));
            var exact = Add(table, FlowMatch.Exact(Udp(1, 0x0B010101)), 0, FlowAction.Output(4));
            manager.ProcessPending();
            bool w = Where(manager, wide).InHardware, n = Where(manager, narrow).InHardware, x = Where(manager, exact).InHardware;
            switch (model)
            {
                case OffloadLookupModel.ExactFirst:
                    // Wildcard rows have no priority: only one of the two overlapping wildcard rules; exact rows always.
                    Assert.False(w);
                    Assert.Equal(OffloadReason.Evicted, Where(manager, wide).Reason);
                    Assert.True(n);
                    Assert.True(x);
                    break;
                case OffloadLookupModel.RowOrder:
                    // No order at all: no two overlapping rules in hardware; the exact rule, highest, wins the place.
                    Assert.True(x);
                    Assert.False(w);
                    Assert.False(n);
                    break;
                case OffloadLookupModel.Priority:
                    // Priorities differ everywhere: all three may be there.
                    Assert.True(w && n && x, $"{w} {n} {x}");
                    break;
            }
            // Whatever the model, the hardware answers as the software would.
            foreach (var k in new[] { Udp(1, 0x0B010101), Udp(1, 0x0B010102), Udp(1, 0x0B020202), Udp(3, 0x0C000001) })
                if (target.Lookup(k) is { } hw) Assert.Same(table.Lookup(k, 0), hw);
        }
    }

    [Fact]
    public void PriorityModel_EqualPrioritiesTie_AndAnEvictionCascades()
    {
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.Priority);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach(startWorker: false);
        var low = Add(table, IpDst(0x0B000000, 8), 10, FlowAction.Output(2));
        var mid = Add(table, IpDst(0x0B010000, 16), 20, FlowAction.Output(3));
        manager.ProcessPending();
        Assert.True(Where(manager, low).InHardware && Where(manager, mid).InHardware);
        // mid goes back to software (an action the target cannot do): low, which mid outranks, must leave too.
        table.Apply(new FlowMod(FlowModCommand.ModifyStrict, mid.Match, 20, new FlowActions([FlowAction.Output(PortNumber.Controller, 0)])), null);
        manager.ProcessPending();
        Assert.False(Where(manager, mid).InHardware);
        Assert.Equal(OffloadReason.Evicted, Where(manager, low).Reason);
        Assert.Null(target.Lookup(Udp(1, 0x0B010101)));
        // A tie with a hardware rule: both end in software.
        var table2 = new OfFlowTables(new ManualClock());
        var target2 = new DummyOffloadTarget(Ports, OffloadLookupModel.Priority);
        using var m2 = new OffloadManager(table2.Main, target2);
        m2.Attach(startWorker: false);
        var a = Add(table2, IpDst(0x0B000000, 8), 10, FlowAction.Output(2));
        var b = Add(table2, IpDst(0x0B010000, 16), 10, FlowAction.Output(3));
        m2.ProcessPending();
        Assert.Equal(OffloadReason.Evicted, Where(m2, a).Reason);
        Assert.Equal(OffloadReason.OverlapsSoftwareRule, Where(m2, b).Reason);
    }

    /// <summary>
    /// Seeded random flow-mods (adds, modifies, deletes; exact and wildcard; few priorities, so ties happen) into a
    /// table with each lookup model's dummy target behind it, placed by the worker thread: after every burst, every
    /// packet the hardware answers is answered with the flow the software picks.
    /// </summary>
    [Theory]
    [InlineData(OffloadLookupModel.ExactFirst)]
    [InlineData(OffloadLookupModel.RowOrder)]
    [InlineData(OffloadLookupModel.Priority)]
    public void Differential_HardwareAlwaysPicksTheSoftwaresRule(OffloadLookupModel model)
    {
        int seed = Environment.GetEnvironmentVariable("SOFTSWITCH_OFFLOAD_SEED") is { } s ? int.Parse(s) : 20261122;
        output.WriteLine($"seed {seed} (rerun with SOFTSWITCH_OFFLOAD_SEED={seed})");
        var rng = new Random(seed + (int)model);
        var table = new OfFlowTables(new ManualClock());
        var target = new DummyOffloadTarget(Ports, model, capacity: 24, seed: seed);
        using var manager = new OffloadManager(table.Main, target);
        manager.Attach();
        uint[] nets = [0x0B000000, 0x0B010000, 0x0B010100, 0x0C000000];
        ushort[] tps = [80, 443];
        FlowKey RandomKey() => Key((ushort)rng.Next(1, 5), rng.Next(4) == 0 ? (ushort)0x0806 : (ushort)0x0800, 0x0A000001,
            nets[rng.Next(nets.Length)] | (uint)rng.Next(0, 3), rng.Next(2) == 0 ? (byte)6 : (byte)17, 1000, tps[rng.Next(tps.Length)]);
        FlowMatch RandomMatch()
        {
            var k = RandomKey();
            if (rng.Next(3) == 0) return FlowMatch.Exact(k);
            var w = OfWildcards.All | OfWildcards.TunIdExt;
            if (rng.Next(2) == 0) w &= ~OfWildcards.InPort;
            if (rng.Next(2) == 0) w &= ~OfWildcards.DlType;
            if (rng.Next(3) == 0) w &= ~OfWildcards.TpDst;
            int prefix = rng.Next(4) switch { 0 => 0, 1 => 8, 2 => 16, _ => 24 };
            w = (w & ~OfWildcards.NwDstMask) | (OfWildcards)((uint)(32 - prefix) << (int)OfWildcards.NwDstShift);
            var b = new FlowKeyBuilder(k);
            b.NwDst(prefix == 0 ? 0 : k.NwDst & (uint.MaxValue << (32 - prefix)));
            return FlowMatch.FromOpenFlow(w, b.Key);
        }
        FlowActions RandomActions() => rng.Next(6) switch
        {
            0 => new FlowActions([FlowAction.Output(PortNumber.Controller, 128)]),
            1 => FlowActions.Drop,
            _ => new FlowActions([FlowAction.Output((ushort)rng.Next(1, 5))]),
        };
        ushort[] prios = [10, 20, 20, 30];
        var mods = new List<FlowMatch>();
        int everInHardware = 0, checkedPackets = 0, hardwareAnswers = 0;
        for (int round = 0; round < 60; round++)
        {
            int n = rng.Next(1, 12);
            for (int i = 0; i < n; i++)
            {
                int op = rng.Next(10);
                if (op < 6 || mods.Count == 0)
                {
                    var m = RandomMatch();
                    table.Apply(new FlowMod(FlowModCommand.Add, m, prios[rng.Next(prios.Length)], RandomActions()), null);
                    mods.Add(m);
                }
                else if (op < 8)
                {
                    table.Apply(new FlowMod(FlowModCommand.Modify, mods[rng.Next(mods.Count)], 0, RandomActions()), null);
                }
                else
                {
                    int j = rng.Next(mods.Count);
                    table.Apply(new FlowMod(FlowModCommand.Delete, mods[j], 0, FlowActions.Drop), null);
                    mods.RemoveAt(j);
                }
            }
            Assert.True(manager.WaitForPlacement(TimeSpan.FromSeconds(30)));
            if (round % 5 == 4) manager.Poll(); // retries after removals
            everInHardware = Math.Max(everInHardware, target.Count);
            for (int p = 0; p < 120; p++)
            {
                var key = RandomKey();
                checkedPackets++;
                if (target.Lookup(key) is not { } hw) continue;
                hardwareAnswers++;
                var sw = table.Lookup(key, 0);
                if (!ReferenceEquals(sw, hw))
                    Assert.Fail($"seed {seed} round {round}: hardware answers {hw} where software answers {sw?.ToString() ?? "miss"} for {key}");
            }
        }
        output.WriteLine($"{model}: up to {everInHardware} flows in hardware, {hardwareAnswers} of {checkedPackets} packets answered by it");
        Assert.True(everInHardware > 3, "the test never put flows in hardware");
        Assert.True(hardwareAnswers > 100, "the hardware answered too few packets to compare");
    }
}
