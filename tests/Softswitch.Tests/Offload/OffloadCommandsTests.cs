using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Tests.Offload;

/// <summary>
/// offload/show, offload/dump-flows and dp/show against a real datapath with the emulated NetFPGA board: the counts,
/// reasons, rows and register writes they print are the manager's and the driver's.
/// </summary>
public sealed class OffloadCommandsTests : IDisposable
{
    private readonly ManualClock _clock = new();
    private readonly SwitchDatapath _dp;
    private readonly OfFlowTables _flows;
    private readonly NetFpgaOffload _offload;
    private readonly ControlCommands _commands = new();

    public OffloadCommandsTests()
    {
        _dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, _clock);
        _flows = new OfFlowTables(_dp);
        var wires = Enumerable.Range(1, 4).Select(i => (IPort)new MemoryPort($"p{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i))).ToList();
        _offload = NetFpgaOffload.Attach(_dp, wires, NetFpgaMode.Emulated);
        var agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x42 }), new AgentOptions());
        DaemonCommands.Register(_commands, _dp, agent, _offload.Manager);
    }

    public void Dispose()
    {
        _offload.Dispose();
        _dp.Dispose();
    }

    private ControlReply Run(string line) => _commands.Execute(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    private static FlowKey Udp(ushort inPort, string ipDst, ushort tpDst)
    {
        // FlowKeyBuilder's methods return a copy: one call per statement.
        var b = new FlowKeyBuilder();
        b.InPort(inPort);
        b.DlVlan(0xFFFF);
        b.DlType(0x0800);
        b.DlSrc(MacAddress.Parse("02:00:00:00:00:01"));
        b.DlDst(MacAddress.Parse("02:00:00:00:00:02"));
        b.NwProto(17);
        b.NwSrc(Ipv4.Parse("10.0.0.1"));
        b.NwDst(Ipv4.Parse(ipDst));
        b.TpSrc(1000);
        b.TpDst(tpDst);
        return b.Key;
    }

    private void Add(FlowMatch m, ushort prio, params FlowAction[] actions)
    {
        Assert.Equal(FlowModStatus.Ok, _flows.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions))));
        _offload.Manager.WaitForPlacement();
    }

    /// <summary>Two exact flows (hardware), one wildcard flow (hardware), one to the controller and one IN_PORT (software).</summary>
    private void AddMix()
    {
        Add(FlowMatch.Exact(Udp(1, "10.0.0.2", 2000)), 100, FlowAction.Output(2));
        Add(FlowMatch.Exact(Udp(2, "10.0.0.3", 2001)), 100, FlowAction.Output(3));
        var b = new FlowKeyBuilder();
        b.InPort(1);
        b.DlType(0x0800);
        b.NwDst(Ipv4.Parse("10.0.1.0"));
        var w = (OfWildcards.All | OfWildcards.TunIdExt) & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask) | (OfWildcards)(8u << (int)OfWildcards.NwDstShift);
        Add(FlowMatch.FromOpenFlow(w, b.Key), 50, FlowAction.Output(3));
        var arp = new FlowKeyBuilder();
        arp.DlType(0x0806);
        Add(FlowMatch.FromOpenFlow((OfWildcards.All | OfWildcards.TunIdExt) & ~OfWildcards.DlType, arp.Key), 60, FlowAction.Output(PortNumber.Controller, 65535));
        var back = new FlowKeyBuilder();
        back.InPort(2);
        back.DlType(0x0800);
        back.NwDst(Ipv4.Parse("10.0.9.9"));
        Add(FlowMatch.FromOpenFlow((OfWildcards.All | OfWildcards.TunIdExt) & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask), back.Key), 70, FlowAction.Output(PortNumber.InPort));
    }

    [Fact]
    public void OffloadShow_CountsReasonsWritesAndOccupancy()
    {
        AddMix();
        var r = Run("offload/show");
        Assert.True(r.Ok, r.Text);
        // The time from flow-mod to placement is measured: its line has a fixed form, its figures vary.
        var latency = System.Text.RegularExpressions.Regex.Match(r.Text, "\nplacement latency: mean [0-9]+ us, max [0-9]+ us over 5 changes\n");
        Assert.True(latency.Success, r.Text);
        var text = r.Text.Remove(latency.Index + 1, latency.Length - 1);
        // Exact rows cost 20 writes each, a wildcard row 30: 70 writes over 5 flow-mods.
        Assert.Equal(
            "offload target: netfpga\n" +
            "flows: 5\n" +
            "hardware flows: 3 (3 rows)\n" +
            "software flows: 2\n" +
            "  output-to-in-port: 1 (an IN_PORT output: the board's contract does not say what it does)\n" +
            "  unsupported-action: 1 (an action the target cannot do)\n" +
            "table exact: 2/32768 rows used\n" +
            "table wildcard: 1/24 rows used\n" +
            "register writes: 70\n" +
            "  flow-mods: 5\n" +
            "  writes for flow-mods: 70\n" +
            "  writes per flow-mod: 14.0\n" +
            "  writes for maintenance: 0\n" +
            "hardware packets: 0\n" +
            "hardware bytes: 0\n" +
            "installs: 3\n" +
            "evictions: 0\n" +
            "promotions: 0\n" +
            "polls: 0\n" +
            "target errors: 0\n", text);
    }

    [Fact]
    public void DumpFlows_OneLinePerFlow_WithPlacement()
    {
        AddMix();
        _clock.Advance(TimeSpan.FromSeconds(1.5));
        var r = Run("offload/dump-flows");
        Assert.True(r.Ok, r.Text);
        var lines = r.Text.TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length);
        var rowOf = (FlowKey k) =>
        {
            var e = _flows.Lookup(k, k.Hash())!;
            Assert.True(_offload.Driver.TryGetRows(e, out int row, out _, out _));
            return row;
        };
        Assert.Equal($" cookie=0x0, duration=1.5s, n_packets=0, n_bytes=0, placement=hw(exact,row={rowOf(Udp(1, "10.0.0.2", 2000))}), " +
                     "priority=65535,udp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02," +
                     "nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,tp_src=1000,tp_dst=2000 actions=output:2", lines[0]);
        Assert.Contains($"placement=hw(exact,row={rowOf(Udp(2, "10.0.0.3", 2001))})", lines[1]);
        Assert.Equal(" cookie=0x0, duration=1.5s, n_packets=0, n_bytes=0, placement=hw(wildcard,row=0), priority=50,ip,in_port=1,nw_dst=10.0.1.0/24 actions=output:3", lines[2]);
        Assert.Equal(" cookie=0x0, duration=1.5s, n_packets=0, n_bytes=0, placement=sw(reason=output-to-in-port,detail=\"IN_PORT (the board may not send a frame back out its in_port)\"), " +
                     "priority=70,ip,in_port=2,nw_dst=10.0.9.9 actions=IN_PORT", lines[3]);
        Assert.Equal(" cookie=0x0, duration=1.5s, n_packets=0, n_bytes=0, placement=sw(reason=unsupported-action,detail=\"CONTROLLER:65535\"), priority=60,arp actions=CONTROLLER:65535", lines[4]);

        var hw = Run("offload/dump-flows hw");
        Assert.Equal(3, hw.Text.TrimEnd('\n').Split('\n').Length);
        Assert.DoesNotContain("placement=sw", hw.Text);
        var sw = Run("offload/dump-flows sw");
        Assert.Equal(2, sw.Text.TrimEnd('\n').Split('\n').Length);
        Assert.DoesNotContain("placement=hw", sw.Text);
        var bad = Run("offload/dump-flows all");
        Assert.False(bad.Ok);
        Assert.Contains("not hw or sw", bad.Text);
    }

    [Fact]
    public void Counters_FromHardware_ShowInDumpAndShow()
    {
        AddMix();
        var key = Udp(1, "10.0.0.2", 2000);
        var e = _flows.Lookup(key, key.Hash())!;
        Assert.True(_offload.Driver.TryGetRows(e, out int row, out _, out _));
        // The board counted 7 packets, 700 bytes on that row (what its lookup would have written).
        _offload.Emulator!.Write(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactCountersOffset), 7);
        _offload.Emulator!.Write(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactCountersOffset + 4), 700);
        _offload.Maintenance();
        Assert.Contains("n_packets=7, n_bytes=700, placement=hw(exact,row=", Run("offload/dump-flows hw").Text.Split('\n')[0]);
        var show = Run("offload/show").Text;
        Assert.Contains("hardware packets: 7\n", show);
        Assert.Contains("hardware bytes: 700\n", show);
        Assert.Contains("polls: 1\n", show);
    }

    [Fact]
    public void StatsView_TitleShowsHardwareAndSoftwareCounts()
    {
        Assert.Equal("", RunCommand.OffloadTitle(null));
        Assert.Equal(" (hw 0, sw 0)", RunCommand.OffloadTitle(_offload.Manager));
        AddMix();
        Assert.Equal(" (hw 3, sw 2: output-to-in-port=1, unsupported-action=1)", RunCommand.OffloadTitle(_offload.Manager));
    }

    [Fact]
    public void WithoutOffload_OffloadCommandsSayWhy()
    {
        var c = new ControlCommands();
        DaemonCommands.Register(c, _dp, new OfSwitchAgent(new OfSwitch(_dp), new AgentOptions()), offload: null);
        foreach (var cmd in new[] { "offload/show", "offload/dump-flows" })
        {
            var r = c.Execute(System.Text.Encoding.UTF8.GetBytes(cmd + "\n"));
            Assert.False(r.Ok);
            Assert.Equal(DaemonCommands.OffloadOff, r.Text);
        }
        Assert.DoesNotContain("offload (", c.Execute("dp/show\n"u8).Text);
    }

    [Fact]
    public void DpShow_ListsPortsTablesAndOffloadCounts()
    {
        AddMix();
        var r = Run("dp/show");
        Assert.True(r.Ok, r.Text);
        Assert.StartsWith("datapath 0000000000000042: 4 port(s), 1 forwarding thread(s), fail mode secure\n", r.Text);
        // One OpenFlow table (the one every controller is told of); the classifier stages are its detail.
        Assert.Contains("table 0 (classifier): 5 flows", r.Text);
        Assert.Contains("  stage hash: 2 flows", r.Text);
        Assert.Contains("  stage tuple-space: 3 flows", r.Text);
        Assert.DoesNotContain("table 1", r.Text);
        Assert.Contains("  1 p1: link up", r.Text);
        Assert.Contains("  4 p4: link up", r.Text);
        Assert.Contains("offload (netfpga): 3 flows in hardware, 2 in software\n", r.Text);
    }

    [Fact]
    public void CoverageShow_ListsEveryCounter_DpShowTheNonZeroOnes()
    {
        _dp.PacketOut(new byte[10], 1, new FlowActions([FlowAction.Output(PortNumber.Normal)])); // a runt into NORMAL: dropped and counted
        var cov = Run("coverage/show");
        Assert.True(cov.Ok, cov.Text);
        var lines = cov.Text.TrimEnd('\n').Split('\n');
        Assert.Equal(Softswitch.Datapath.Counters.Coverage.All.Count, lines.Length);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^drop-normal-runt +1  NORMAL got a frame shorter than an Ethernet header$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^drop-miss-secure +0  \S"));
        Assert.Contains(lines, l => l.StartsWith("offload-sw-unsupported-action ", StringComparison.Ordinal));
        var dp = Run("dp/show");
        Assert.Contains("\ncounters: ", dp.Text);
        var counters = dp.Text.Split('\n').Single(l => l.StartsWith("counters: ", StringComparison.Ordinal));
        Assert.Contains("drop-normal-runt=1", counters);
        Assert.DoesNotContain("drop-miss-secure", counters);
    }
}
