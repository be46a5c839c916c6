using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Tests.Offload;

/// <summary>
/// Offload observability below the CLI: the logs (a Debug line per decision, rate-limited Information summaries,
/// Warnings), the driver's row locations and occupancy, and the IN_PORT rule.
/// </summary>
public sealed class NetFpgaObservabilityTests
{
    /// <summary>A datapath behind the emulated board, whose four memory ports are the board's wires.</summary>
    private sealed class Rig : DatapathRig
    {
        public readonly OfFlowTables Flows;
        public readonly NetFpgaOffload Offload;
        public readonly ListLogger Log;

        public Rig(LogLevel level) : base(4, addPorts: false, capture: false)
        {
            Log = new ListLogger(level);
            Flows = new OfFlowTables(Dp);
            Offload = OffloadSetup.AttachNetFpga(Dp, Ports, NetFpgaMode.Emulated, Log, TimeSpan.FromSeconds(10));
        }

        /// <summary>The host's logger of the placement, as the composition plugged it in.</summary>
        public OffloadLogger Logger => Assert.IsType<OffloadLogger>(Offload.Manager.Log);

        public FlowEntry Add(FlowMatch m, ushort prio, params FlowAction[] actions)
        {
            Assert.Equal(FlowModStatus.Ok, Flows.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions))));
            Offload.Manager.WaitForPlacement();
            var list = new List<FlowEntry>();
            Flows.Collect(m, PortNumber.None, strict: true, list);
            return list.Single(e => e.Priority == (m.IsExact ? 0xFFFF : prio));
        }

        public void Delete(FlowMatch m, ushort prio)
        {
            Flows.Apply(new FlowMod(FlowModCommand.DeleteStrict, m, prio, FlowActions.Drop));
            Offload.Manager.WaitForPlacement();
        }

        public FlowPlacement Where(FlowEntry e)
        {
            Assert.True(Offload.Manager.TryGetPlacement(e, out var p));
            return p;
        }

        public override void Dispose()
        {
            Offload.Dispose();
            base.Dispose();
        }
    }

    private static FlowMatch ExactUdp(ushort inPort, ushort sport)
        => MatchOf(Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2", sport, 80), inPort, OfWildcards.None);

    [Fact]
    public void DebugLog_OneLinePerDecision_WithRowOrReason_AndWrites()
    {
        using var r = new Rig(LogLevel.Debug);
        var exact = r.Add(ExactUdp(1, 1000), 100, FlowAction.Output(2));
        Assert.True(r.Offload.Driver.TryGetRows(exact, out int row, out _, out _));
        var ctl = r.Add(Match(dlType: 0x0806), 60, FlowAction.Output(PortNumber.Controller, 65535));
        var wild = r.Add(Match(inPort: 1, dlType: 0x0800, nwDst: "10.0.1.0/24"), 50, FlowAction.Output(3));
        // A higher software rule over the offloaded wildcard evicts it.
        r.Add(Match(inPort: 1, dlType: 0x0800, nwDst: "10.0.1.7"), 90, FlowAction.Output(PortNumber.Controller, 128));
        r.Delete(ExactUdp(1, 1000), 0);

        var debug = r.Log.At(LogLevel.Debug);
        Assert.Contains("offload added: priority=65535,udp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02," +
                        $"nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,tp_src=1000,tp_dst=80 actions=output:2 -> hw(exact,row={row}), 20 register writes", debug);
        Assert.Contains("offload added: priority=60,arp actions=CONTROLLER:65535 -> sw(reason=unsupported-action,detail=\"CONTROLLER:65535\"), 0 register writes", debug);
        Assert.Contains("offload added: priority=50,ip,in_port=1,nw_dst=10.0.1.0/24 actions=output:3 -> hw(wildcard,row=0), 30 register writes", debug);
        Assert.Contains("offload evicted: priority=50,ip,in_port=1,nw_dst=10.0.1.0/24 actions=output:3 -> " +
                        "sw(reason=evicted,detail=\"priority=90,ip,in_port=1,nw_dst=10.0.1.7\"), 28 register writes", debug);
        // The flow-mod that caused the eviction is charged for it (1 counter read + a 27-write row clear).
        Assert.Contains("offload added: priority=90,ip,in_port=1,nw_dst=10.0.1.7 actions=CONTROLLER:128 -> " +
                        "sw(reason=unsupported-action,detail=\"CONTROLLER:128\"), 28 register writes", debug);
        Assert.Contains(debug, l => l.StartsWith("offload removed: priority=65535,udp,in_port=1,") && l.EndsWith("(was in hardware), 1 register writes"));
        Assert.Equal(OffloadReason.Evicted, r.Where(wild).Reason);
        Assert.Equal(OffloadReason.UnsupportedAction, r.Where(ctl).Reason);
        // Five flow-mods, six decisions (the eviction is one more), no line per anything else.
        Assert.Equal(6, debug.Count(l => l.StartsWith("offload ")));
    }

    private sealed class CountingLog(bool enabled) : IOffloadLog
    {
        public int Decisions;
        public bool DecisionsEnabled => enabled;
        public void OnDecision(in OffloadDecision decision) => Decisions++;
        public void OnTargetError(FlowEntry? entry, Exception error) { }
        public void OnStarted(string description) { }
        public void OnMaintenance(string? problem) { }
    }

    [Fact]
    public void OffloadOption_NamesTheNetFpgaModes()
    {
        Assert.True(OffloadSetup.TryParseNetFpgaMode("netfpga", out var m) && m == NetFpgaMode.Hardware);
        Assert.True(OffloadSetup.TryParseNetFpgaMode("netfpga-emulated", out m) && m == NetFpgaMode.Emulated);
        Assert.False(OffloadSetup.TryParseNetFpgaMode("nf2", out _));
        Assert.False(OffloadSetup.TryParseNetFpgaMode(null, out _));
    }

    [Fact]
    public void DecisionsAreNotBuilt_WhenNobodyWantsThem()
    {
        var table = new OfFlowTables(new ManualClock());
        var driver = new NetFpgaDriver(new EmulatedNetFpga(new ManualClock()));
        driver.Initialize();
        var manager = new OffloadManager(table.Main, driver);
        var off = new CountingLog(enabled: false);
        manager.Log = off;
        manager.Attach();
        table.Apply(new FlowMod(FlowModCommand.Add, ExactUdp(1, 5), 1, new FlowActions([FlowAction.Output(2)])), null);
        manager.WaitForPlacement();
        Assert.Equal(0, off.Decisions);
        var on = new CountingLog(enabled: true);
        manager.Log = on;
        table.Apply(new FlowMod(FlowModCommand.Add, ExactUdp(1, 6), 1, new FlowActions([FlowAction.Output(2)])), null);
        manager.WaitForPlacement();
        Assert.Equal(1, on.Decisions);
    }

    [Fact]
    public void InformationLog_StartLine_ThenSummariesOnChangeAtMostOncePerInterval()
    {
        using var r = new Rig(LogLevel.Information);
        var info = () => r.Log.At(LogLevel.Information);
        Assert.Single(info());
        Assert.StartsWith("offload started: emulated NetFPGA-1G (register-level model), 4 port(s) (OpenFlow ports 1..4), exact table 32768 rows, wildcard table 24 rows for flows + 8 reserved; " +
                          "0 flows in hardware (0 rows), 0 in software", info()[0]);
        Assert.Empty(r.Log.At(LogLevel.Debug));

        // Churn: 400 flow-mods over 10 s of maintenance steps (every 100 ms): summaries, not a line per flow-mod.
        for (int i = 0; i < 200; i++)
        {
            var m = ExactUdp(1, (ushort)(2000 + i));
            r.Add(m, 1, FlowAction.Output(2));
            if (i % 2 == 0) r.Delete(m, 0);
            r.Clock.Advance(TimeSpan.FromMilliseconds(50));
            r.Offload.Maintenance();
        }
        Assert.Equal(2, info().Count);   // the start line, then one summary when 10 s had passed
        Assert.StartsWith("offload: 100 flows in hardware (100 rows), 0 in software; 4100 register writes for 300 flow-mods (13.7 per flow-mod), ", info()[1]);
        Assert.EndsWith("; exact 100/32768, wildcard 0/24", info()[1]);

        // Nothing changes: nothing more, however long it runs.
        for (int i = 0; i < 300; i++)
        {
            r.Clock.Advance(TimeSpan.FromMilliseconds(100));
            r.Offload.Maintenance();
        }
        Assert.Equal(2, info().Count);

        // One change: one summary, within a second (a quiet manager is looked at once a second).
        r.Add(Match(dlType: 0x0806), 60, FlowAction.Output(PortNumber.Controller, 65535));
        for (int i = 0; i < 10; i++)
        {
            r.Clock.Advance(TimeSpan.FromMilliseconds(100));
            r.Offload.Maintenance();
        }
        Assert.Equal(3, info().Count);
        Assert.StartsWith("offload: 100 flows in hardware (100 rows), 1 in software (unsupported-action=1); ", info()[2]);
    }

    [Fact]
    public void Warnings_AreRateLimited_AndCountWhatWasHeldBack()
    {
        using var r = new Rig(LogLevel.Information);
        for (int i = 0; i < 50; i++) r.Logger.Warn("offload: the board is gone");
        Assert.Equal(["offload: the board is gone"], r.Log.At(LogLevel.Warning));
        r.Clock.Advance(TimeSpan.FromSeconds(11));
        r.Logger.Warn("offload: the board is gone");
        Assert.Equal("offload: the board is gone (49 similar warnings suppressed)", r.Log.At(LogLevel.Warning)[1]);
    }

    [Fact]
    public void InPortOutput_StaysInSoftware_AndAModifyToItTakesAFlowOut()
    {
        using var r = new Rig(LogLevel.Warning);
        var back = r.Add(ExactUdp(2, 10), 1, FlowAction.Output(PortNumber.InPort));
        var p = r.Where(back);
        Assert.False(p.InHardware);
        Assert.Equal(NetFpgaReasons.OutputToInPort, p.Reason);
        var wildBack = r.Add(Match(dlType: 0x0800, nwDst: "10.9.0.0/16"), 5, FlowAction.Output(PortNumber.InPort));
        Assert.Equal(NetFpgaReasons.OutputToInPort, r.Where(wildBack).Reason);
        Assert.Equal(24, r.Offload.Driver.WildcardRowsFree);

        var m = ExactUdp(1, 11);
        var e = r.Add(m, 1, FlowAction.Output(2));
        Assert.True(r.Where(e).InHardware);
        Assert.Equal(FlowModStatus.Ok, r.Flows.Apply(new FlowMod(FlowModCommand.ModifyStrict, m, 1, new FlowActions([FlowAction.Output(PortNumber.InPort)]))));
        r.Offload.Manager.WaitForPlacement();
        Assert.False(r.Where(e).InHardware);
        Assert.Equal(NetFpgaReasons.OutputToInPort, r.Where(e).Reason);
        Assert.Equal(0, r.Offload.Driver.ExactRowsUsed);
        // An explicit output to the in_port (which OpenFlow drops) is fine: its forward bit is never set.
        var own = r.Add(ExactUdp(3, 12), 1, FlowAction.Output(3), FlowAction.Output(4));
        Assert.True(r.Where(own).InHardware);
    }

    [Fact]
    public void Driver_LocationAndOccupancy_FollowItsRows()
    {
        using var r = new Rig(LogLevel.Warning);
        var d = r.Offload.Driver;
        Assert.Equal([new OffloadTableUsage("exact", 0, 32768), new OffloadTableUsage("wildcard", 0, 24)], d.Occupancy);
        var exact = r.Add(ExactUdp(1, 20), 1, FlowAction.Output(2));
        Assert.True(d.TryGetRows(exact, out int row, out _, out _));
        Assert.Equal($"exact,row={row}", d.Location(exact));
        var flood = r.Add(Match(dlType: 0x0800, nwDst: "10.1.0.0/16"), 5, FlowAction.Output(PortNumber.Flood));
        Assert.Equal("wildcard,rows=0+1+2+3", d.Location(flood));
        var one = r.Add(Match(inPort: 2, dlType: 0x0806), 5, FlowAction.Output(1));
        Assert.Equal("wildcard,row=4", d.Location(one));
        Assert.Equal([new OffloadTableUsage("exact", 1, 32768), new OffloadTableUsage("wildcard", 5, 24)], d.Occupancy);
        var sw = r.Add(Match(dlType: 0x88CC), 5, FlowAction.Output(PortNumber.Controller, 128));
        Assert.Null(d.Location(sw));
        r.Delete(Match(dlType: 0x0800, nwDst: "10.1.0.0/16"), 5);
        Assert.Null(d.Location(flood));
        Assert.Equal([new OffloadTableUsage("exact", 1, 32768), new OffloadTableUsage("wildcard", 1, 24)], d.Occupancy);
    }
}
