using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;

namespace Softswitch.Datapath.Tests.Offload;

/// <summary>
/// The manager orders rules as the classifier does (priority first, the exact rule at equal priority), not as one
/// layer above happens to set priorities; the target's declared lookup model decides what may share the hardware; and
/// only the first table's flows are offered.
/// </summary>
public sealed class OffloadLookupOrderTests
{
    private static readonly ushort[] Ports = [1, 2, 3, 4];

    // A target's own reason, unknown to the manager: what it says when its model cannot order a flow.
    private static readonly OffloadReason s_exactFirstOrder = OffloadReason.Define("test-exact-answered-first",
        "the test target answers exact rows before its wildcard rows");

    private static FlowKey UdpFrom(ushort inPort) => new FlowKeyBuilder().InPort(inPort).DlVlan(0xFFFF).DlType(0x0800).NwProto(17)
        .NwSrc(0x0A000001).NwDst(0x0B010101).TpSrc(1000).TpDst(80).Key;

    /// <summary>in_port=PORT, everything else wildcarded.</summary>
    private static FlowMatch ByInPort(ushort port)
        => FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(port).Key);

    private static FlowEntry Insert(FlowTable t, in FlowMatch m, ushort prio, params FlowAction[] actions)
    {
        var e = new FlowEntry(m, prio, new FlowActions(actions), 0, 0, 0);
        using (var w = t.Write()) w.Insert(e);
        return e;
    }

    private static FlowPlacement Where(OffloadManager m, FlowEntry e)
    {
        Assert.True(m.TryGetPlacement(e, out var p));
        return p;
    }

    [Fact]
    public void PriorityModel_AnExactRuleBelowAWildcardRule_WaitsForIt_ThenSharesTheHardwareInTheClassifiersOrder()
    {
        var table = new FlowTable(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.Priority);
        using var manager = new OffloadManager(table, target);
        manager.Attach(startWorker: false);
        var key = UdpFrom(1);
        // The wildcard rule outranks the exact one (priority 10 over 5) and is in software (CONTROLLER).
        var wide = Insert(table, ByInPort(1), 10, FlowAction.Output(PortNumber.Controller, 128));
        var exact = Insert(table, FlowMatch.Exact(key), 5, FlowAction.Output(3));
        manager.ProcessPending();
        Assert.Same(wide, table.Lookup(key));
        // In hardware, the exact rule would answer packets the software gives to the wildcard rule.
        Assert.False(Where(manager, exact).InHardware);
        Assert.Equal(OffloadReason.OverlapsSoftwareRule, Where(manager, exact).Reason);
        Assert.Same(wide, Where(manager, exact).Detail.Rule);
        Assert.Null(target.Lookup(key));

        // The wildcard rule becomes offloadable: both go to hardware, where the priorities order them as the classifier does.
        using (var w = table.Write()) w.SetActions(wide, new FlowActions([FlowAction.Output(2)]));
        manager.ProcessPending();
        manager.Poll();
        Assert.True(Where(manager, wide).InHardware);
        Assert.True(Where(manager, exact).InHardware, Where(manager, exact).Reason.Name);
        Assert.Same(table.Lookup(key), target.Lookup(key));
        Assert.Same(wide, target.Lookup(key));
    }

    [Fact]
    public void ExactFirstModel_AnExactRuleBelowAWildcardRule_IsRefusedWithTheTargetsReason_WhicheverArrivesFirst()
    {
        var key = UdpFrom(1);
        // The wildcard rule first: the exact one is refused.
        var table = new FlowTable(new ManualClock());
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst) { OrderRefusal = s_exactFirstOrder };
        using var manager = new OffloadManager(table, target);
        manager.Attach(startWorker: false);
        var wide = Insert(table, ByInPort(1), 10, FlowAction.Output(2));
        var exact = Insert(table, FlowMatch.Exact(key), 5, FlowAction.Output(3));
        manager.ProcessPending();
        Assert.True(Where(manager, wide).InHardware);
        Assert.False(Where(manager, exact).InHardware);
        Assert.Same(s_exactFirstOrder, Where(manager, exact).Reason);
        Assert.Same(wide, Where(manager, exact).Detail.Rule);
        Assert.Same(wide, target.Lookup(key));
        Assert.Equal(1, manager.Stats.SoftwareReasons[s_exactFirstOrder]);

        // The exact rule first: it goes to hardware, then leaves when the wildcard rule that outranks it arrives.
        var table2 = new FlowTable(new ManualClock());
        var target2 = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst) { OrderRefusal = s_exactFirstOrder };
        using var m2 = new OffloadManager(table2, target2);
        m2.Attach(startWorker: false);
        var exact2 = Insert(table2, FlowMatch.Exact(key), 5, FlowAction.Output(3));
        m2.ProcessPending();
        Assert.True(Where(m2, exact2).InHardware);
        var wide2 = Insert(table2, ByInPort(1), 10, FlowAction.Output(2));
        m2.ProcessPending();
        Assert.True(Where(m2, wide2).InHardware);
        Assert.False(Where(m2, exact2).InHardware);
        Assert.Same(wide2, target2.Lookup(key));
        m2.Poll(); // the retry meets the target's limit
        Assert.Same(s_exactFirstOrder, Where(m2, exact2).Reason);

        // At equal priority the exact rule wins in the classifier and in an exact-first target alike: both offloaded.
        var table3 = new FlowTable(new ManualClock());
        var target3 = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst) { OrderRefusal = s_exactFirstOrder };
        using var m3 = new OffloadManager(table3, target3);
        m3.Attach(startWorker: false);
        var wide3 = Insert(table3, ByInPort(1), 10, FlowAction.Output(2));
        var exact3 = Insert(table3, FlowMatch.Exact(key), 10, FlowAction.Output(3));
        m3.ProcessPending();
        Assert.True(Where(m3, wide3).InHardware && Where(m3, exact3).InHardware);
        Assert.Same(table3.Lookup(key), target3.Lookup(key));
        Assert.Same(exact3, target3.Lookup(key));
    }

    /// <summary>
    /// An exact rule leaves the IPv6 addresses (like the flow label and the tunnel id) unmatched: a wildcard rule on an
    /// address above it overlaps it although the exact rule's value (addresses zero) is not one of its packets.
    /// </summary>
    [Fact]
    public void ExactFirstModel_AnExactIpv6RuleBelowARuleOnItsAddress_StaysOut_WhereverThatRuleLives()
    {
        UInt128 src = UInt128.Parse("42540766411282592856903984951653826561");   // 2001:db8::1
        var key = new FlowKeyBuilder().InPort(1).DlVlan(0xFFFF).DlType(0x86DD).NwProto(17).Ipv6Src(src).TpSrc(1000).TpDst(80).Key;
        var byAddress = new FlowMatch(new FlowKeyBuilder().DlType(0xFFFF).Ipv6Src(UInt128.MaxValue).Key, key);
        foreach (bool inHardware in new[] { false, true })
        {
            var table = new FlowTable(new ManualClock());
            var target = new DummyOffloadTarget(Ports, OffloadLookupModel.ExactFirst) { OrderRefusal = s_exactFirstOrder };
            using var manager = new OffloadManager(table, target);
            manager.Attach(startWorker: false);
            var wide = Insert(table, byAddress, 10, inHardware ? FlowAction.Output(2) : FlowAction.Output(PortNumber.Controller, 128));
            var exact = Insert(table, FlowMatch.Exact(key), 5, FlowAction.Output(3));
            manager.ProcessPending();
            Assert.Same(wide, table.Lookup(key));
            Assert.Equal(inHardware, Where(manager, wide).InHardware);
            Assert.False(Where(manager, exact).InHardware);
            Assert.Same(s_exactFirstOrder, Where(manager, exact).Reason);
            Assert.Same(inHardware ? wide : null, target.Lookup(key));
        }
    }

    [Fact]
    public void FlowsOfAnotherTable_StayInSoftware_WithTheirReason()
    {
        using var dp = new SwitchDatapath();
        foreach (var p in Ports) dp.AddPort(new MemoryPort($"of{p}", new MacAddress(0x0200_0000_0000UL + p)), p);
        var flows = new OfFlowTables(dp);
        var target = new DummyOffloadTarget(Ports, OffloadLookupModel.Priority);
        using var manager = new OffloadManager(dp, target);
        manager.Attach(startWorker: false);
        var key = UdpFrom(1);
        // One flow in table 0, one in the emergency table (another pipeline table), both offloadable by the target.
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, ByInPort(1), 10, new FlowActions([FlowAction.Output(2)])), null));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, ByInPort(2), 10, new FlowActions([FlowAction.Output(3)]),
            Flags: FlowModFlags.Emergency), null));
        // A table added after the manager attached is found at the next poll.
        var added = dp.Pipeline.AddTable();
        var late = Insert(added, ByInPort(3), 10, FlowAction.Output(4));
        manager.ProcessPending();
        manager.Poll();

        var main = dp.Pipeline.Table(0).Lookup(key)!;
        var emergency = flows.EmergencyTable.Lookup(UdpFrom(2))!;
        Assert.True(Where(manager, main).InHardware);
        Assert.False(Where(manager, emergency).InHardware);
        Assert.Same(OffloadReason.OtherTable, Where(manager, emergency).Reason);
        Assert.Same(OffloadReason.OtherTable, Where(manager, late).Reason);
        Assert.Equal(2, manager.Stats.SoftwareReasons[OffloadReason.OtherTable]);
        Assert.Equal(2, dp.Counters.Read(OffloadReason.OtherTable.Counter));
        Assert.Equal(1, target.Count);
        Assert.Null(target.Lookup(UdpFrom(2)));

        // Removed from its table, it leaves the manager's books.
        using (var w = added.Write()) w.Remove(late);
        manager.ProcessPending();
        Assert.False(manager.TryGetPlacement(late, out _));
        Assert.Equal(1, dp.Counters.Read(OffloadReason.OtherTable.Counter));
    }
}
