using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Tests.Offload;

/// <summary>The text of offload observability (offload/show, offload/dump-flows, the log summary): golden strings.</summary>
public sealed class OffloadReportTests
{
    private static FlowEntry Entry(FlowMatch m, ushort prio, FlowActions a, ulong cookie = 0, ushort idle = 0, ushort hard = 0, long created = 1_000_000_000)
        => OfFlowRule.NewEntry(m, prio, a, cookie, idle, hard, FlowModFlags.None, created);

    private static FlowMatch IpTo(string cidr, ushort? inPort = null)
    {
        var b = new FlowKeyBuilder();
        var parts = cidr.Split('/');
        b.NwDst(Ipv4.Parse(parts[0]));
        b.DlType(0x0800);
        var w = (OfWildcards.All | OfWildcards.TunIdExt) & ~(OfWildcards.DlType | OfWildcards.NwDstMask);
        w |= (OfWildcards)((uint)(32 - (parts.Length > 1 ? int.Parse(parts[1]) : 32)) << (int)OfWildcards.NwDstShift);
        if (inPort is { } p)
        {
            b.InPort(p);
            w &= ~OfWildcards.InPort;
        }
        return FlowMatch.FromOpenFlow(w, b.Key);
    }

    [Fact]
    public void Placement_HardwareWithLocation_SoftwareWithReasonAndEscapedDetail()
    {
        var e = Entry(IpTo("10.0.0.0/8"), 10, new FlowActions([FlowAction.Output(2)]));
        Assert.Equal("hw(exact,row=17)", OffloadReport.Placement(new FlowPlacement(e, true, OffloadReason.None, null, 1, 20), "exact,row=17"));
        Assert.Equal("hw(rows=4)", OffloadReport.Placement(new FlowPlacement(e, true, OffloadReason.None, null, 4, 120), null));
        Assert.Equal("sw(reason=evicted)", OffloadReport.Placement(new FlowPlacement(e, false, OffloadReason.Evicted, null, 0, 0), null));
        Assert.Equal("sw(reason=target-error,detail=\"bus said \\\"no\\\" at C:\\\\nf2 twice\")",
            OffloadReport.Placement(new FlowPlacement(e, false, OffloadReason.TargetError, "bus said \"no\" at C:\\nf2\n twice", 0, 0), null));
    }

    [Fact]
    public void Detail_PrintsTheRefusedActionAndTheRuleInTheWay_AsOvsOfctlDoes()
    {
        var e = Entry(IpTo("10.0.0.0/8"), 10, new FlowActions([FlowAction.Output(2)]));
        var blocker = Entry(IpTo("10.1.0.0/16", inPort: 3), 100, new FlowActions([FlowAction.Output(PortNumber.Local)]));
        Assert.Equal("sw(reason=unsupported-action,detail=\"CONTROLLER:128\")", OffloadReport.Placement(
            new FlowPlacement(e, false, OffloadReason.UnsupportedAction, new OffloadDetail(null, FlowAction.Output(PortNumber.Controller, 128)), 0, 0), null));
        Assert.Equal("IN_PORT (the board may not send a frame back out its in_port)",
            OffloadReport.Detail(new OffloadDetail("(the board may not send a frame back out its in_port)", FlowAction.Output(PortNumber.InPort))));
        Assert.Equal("mod_nw_tos:4 after an output", OffloadReport.Detail(new OffloadDetail("after an output", FlowAction.SetNwTos(4))));
        Assert.Equal("LOCAL", OffloadReport.Detail(new OffloadDetail(null, FlowAction.Output(PortNumber.Local))));
        Assert.Equal("priority=100,ip,in_port=3,nw_dst=10.1.0.0/16", OffloadReport.Detail(new OffloadDetail(null, Rule: blocker)));
        Assert.Equal("needs 4 rows", OffloadReport.Detail("needs 4 rows"));
        Assert.Null(OffloadReport.Detail(default));
    }

    [Fact]
    public void FlowLine_IsOvsOfctlStyle()
    {
        var e = Entry(IpTo("10.0.1.0/24", inPort: 1), 50, new FlowActions([FlowAction.SetNwTos(0x20), FlowAction.Output(3)]),
                      cookie: 0xAB, idle: 10, hard: 60, created: 1_000_000_000);
        e.AddCounts(3, 180);
        var p = new FlowPlacement(e, true, OffloadReason.None, null, 1, 30);
        Assert.Equal(" cookie=0xab, duration=2.25s, n_packets=3, n_bytes=180, idle_timeout=10, hard_timeout=60, placement=hw(wildcard,row=5), " +
                     "priority=50,ip,in_port=1,nw_dst=10.0.1.0/24 actions=mod_nw_tos:32,output:3",
                     OffloadReport.FlowLine(p, "wildcard,row=5", nowNanos: 3_250_000_000, cookie: OfFlowRule.CookieOf(e)));
    }

    private static OffloadStats Stats(Dictionary<OffloadReason, int> reasons, long errors = 0, int pending = 0)
        => new(HardwareFlows: 3, SoftwareFlows: 4, HardwareRows: 6, FlowModEvents: 8, FlowModRegisterWrites: 130, MaintenanceRegisterWrites: 44,
               Polls: 12, Installs: 5, Evictions: 2, Promotions: 1, HardwarePackets: 1000, HardwareBytes: 64000, reasons, errors,
               PendingEvents: pending, PlacedEvents: 9, PlacementLatencyMeanMicros: 120.4, PlacementLatencyMaxMicros: 2500.6);

    private static readonly OffloadTableUsage[] s_tables = [new("exact", 2, 32768), new("wildcard", 4, 24)];

    [Fact]
    public void SummaryLine_MostFrequentReasonFirst_TiesByName()
    {
        var s = Stats(new() { [OffloadReason.UnsupportedAction] = 1, [OffloadReason.Evicted] = 2, [NetFpgaReasons.ExactCollision] = 1 });
        Assert.Equal("3 flows in hardware (6 rows), 4 in software (evicted=2, exact-collision=1, unsupported-action=1); " +
                     "130 register writes for 8 flow-mods (16.3 per flow-mod), 44 for maintenance; exact 2/32768, wildcard 4/24",
                     OffloadReport.SummaryLine(s, s_tables));
        var quiet = Stats(new(), errors: 3);
        Assert.Equal("3 flows in hardware (6 rows), 4 in software; 130 register writes for 8 flow-mods (16.3 per flow-mod), 44 for maintenance; 3 target errors",
                     OffloadReport.SummaryLine(quiet, []));
    }

    [Fact]
    public void Show_OneValuePerLine()
    {
        var s = Stats(new() { [NetFpgaReasons.OutputToInPort] = 1, [OffloadReason.UnsupportedAction] = 3 }, pending: 2);
        Assert.Equal(
            "offload target: netfpga\n" +
            "flows: 7\n" +
            "hardware flows: 3 (6 rows)\n" +
            "software flows: 4\n" +
            "  unsupported-action: 3 (an action the target cannot do)\n" +
            "  output-to-in-port: 1 (an IN_PORT output: the board's contract does not say what it does)\n" +
            "pending flow-mods: 2\n" +
            "table exact: 2/32768 rows used\n" +
            "table wildcard: 4/24 rows used\n" +
            "register writes: 174\n" +
            "  flow-mods: 8\n" +
            "  writes for flow-mods: 130\n" +
            "  writes per flow-mod: 16.3\n" +
            "  writes for maintenance: 44\n" +
            "hardware packets: 1000\n" +
            "hardware bytes: 64000\n" +
            "installs: 5\n" +
            "evictions: 2\n" +
            "promotions: 1\n" +
            "placement latency: mean 120 us, max 2501 us over 9 changes\n" +
            "polls: 12\n" +
            "target errors: 0\n", OffloadReport.Show("netfpga", s, s_tables));
    }

    [Fact]
    public void SortForDump_HardwareFirst_ExactFirst_ThenPriority()
    {
        var exact = FlowMatch.Exact(default);
        var a = new FlowPlacement(Entry(IpTo("10.0.0.1"), 5, FlowActions.Drop), false, OffloadReason.UnsupportedAction, null, 0, 0);
        var b = new FlowPlacement(Entry(IpTo("10.0.0.2"), 9, FlowActions.Drop), true, OffloadReason.None, null, 1, 30);
        var c = new FlowPlacement(Entry(exact, 0xFFFF, FlowActions.Drop), true, OffloadReason.None, null, 1, 20);
        var d = new FlowPlacement(Entry(IpTo("10.0.0.3"), 7, FlowActions.Drop), false, OffloadReason.Evicted, null, 0, 0);
        var list = new List<FlowPlacement> { a, b, c, d };
        OffloadReport.SortForDump(list);
        Assert.Equal([c, b, d, a], list);
    }
}
