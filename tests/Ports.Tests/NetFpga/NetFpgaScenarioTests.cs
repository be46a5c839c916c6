using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Xunit.Abstractions;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.NetFpga;

/// <summary>
/// How much of a typical seed scenario the board takes: the TWAREN cross-domain VM migration of seeds/000 on the
/// access switch AcS2 (a 4-port NetFPGA), scaled to 16 migrated VMs (the paper's table 4: 3K+1 proactive flows plus
/// reactive ones), with the reactive exact microflows a NOX-style controller installs for their connections.
/// </summary>
public sealed class NetFpgaScenarioTests(ITestOutputHelper output)
{
    private const string Cr1 = "00:15:fa:fe:34:41", Cr2 = "00:15:fa:fe:34:42", VmT = "08:00:27:9b:b3:12";

    internal static List<FlowMod> TwarenAcs2(int vms = 16, int microflows = 48)
    {
        var mods = new List<FlowMod>();
        for (int i = 0; i < vms; i++)
        {
            string vmIp = $"192.168.1.{101 + i}", vmMac = $"00:15:17:8f:ca:{0x37 + i:x2}", remote = $"10.27.82.{101 + i}";
            // flow1: return traffic for the migrated VM, redirected to it (port 3) with its MAC.
            mods.Add(new FlowMod(FlowModCommand.Add, Match(dlType: 0x0800, nwSrc: "10.27.82.0/24", dlDst: Cr2, nwDst: vmIp), 32768,
                new FlowActions([FlowAction.SetDlDst(Mac(vmMac)), FlowAction.Output(3)])));
            // flow2: the VM's traffic to the remote domain goes to the controller first.
            mods.Add(new FlowMod(FlowModCommand.Add, Match(dlType: 0x0800, nwSrc: vmIp, dlSrc: vmMac, dlDst: Cr1, nwDst: "10.27.82.0/24"), 30000,
                new FlowActions([FlowAction.Output(PortNumber.Controller, 0xFFFF)])));
            // flow4: the on-demand shortcut for one destination (outranks flow2).
            mods.Add(new FlowMod(FlowModCommand.Add, Match(dlType: 0x0800, nwSrc: vmIp, dlSrc: vmMac, dlDst: Cr1, nwDst: remote), 32768,
                new FlowActions([FlowAction.SetDlDst(Mac(VmT)), FlowAction.Output(2)])));
        }
        // flow3: ARP for the gateways, broadcast out of the port towards them.
        mods.Add(new FlowMod(FlowModCommand.Add, Match(dlType: 0x0806, dlDst: "ff:ff:ff:ff:ff:ff", nwDst: "192.168.1.254"), 32768,
            new FlowActions([FlowAction.Output(1)])));
        mods.Add(new FlowMod(FlowModCommand.Add, Match(dlType: 0x0806, dlDst: "ff:ff:ff:ff:ff:ff", nwDst: "10.27.82.254"), 32768,
            new FlowActions([FlowAction.Output(2)])));
        // Topology discovery to the controller.
        mods.Add(new FlowMod(FlowModCommand.Add, Match(dlType: 0x88CC), 65000, new FlowActions([FlowAction.Output(PortNumber.Controller, 0xFFFF)])));
        // Reactive exact microflows between local hosts (port 1, 4) and the VMs (port 3).
        var rng = new Random(1);
        for (int i = 0; i < microflows; i++)
        {
            ushort inPort = (ushort)(i % 2 == 0 ? 1 : 4);
            var frame = FrameBuilder.Tcp(Mac($"00:00:00:00:01:{i % 8:x2}"), Mac(Cr2), Ip($"10.0.{i % 4}.{1 + i}"), Ip($"192.168.1.{101 + i % vms}"),
                (ushort)rng.Next(1024, 65535), 443, 64);
            mods.Add(new FlowMod(FlowModCommand.Add, MatchOf(frame, inPort, OfWildcards.None), 0,
                new FlowActions([FlowAction.Output(3)]), IdleTimeout: 60));
        }
        return mods;
    }

    [Fact]
    public void TwarenAccessSwitch_HowManyFlowsTheBoardHolds()
    {
        using var rig = new SwitchRig(offload: true);
        var mods = TwarenAcs2();
        long writes0 = rig.Offload!.Driver.RegisterWrites;
        foreach (var m in mods) Assert.Equal(FlowModStatus.Ok, rig.Apply(m));
        long writes = rig.Offload.Driver.RegisterWrites - writes0;
        var st = rig.Offload.Manager.Stats;
        var placements = rig.Offload.Manager.Placements();
        int exactHw = placements.Count(p => p.InHardware && p.Entry.Match.IsExact);
        int wildHw = placements.Count(p => p.InHardware && !p.Entry.Match.IsExact);
        output.WriteLine($"TWAREN AcS2 scenario: {mods.Count} flows, {st.HardwareFlows} in hardware ({exactHw} exact, {wildHw} wildcard " +
                         $"in {st.HardwareRows - exactHw} of 24 rows), {st.SoftwareFlows} in software: " +
                         string.Join(", ", st.SoftwareReasons.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Value} {kv.Key}")));
        output.WriteLine($"register writes: {writes} for {mods.Count} flow-mods ({(double)writes / mods.Count:F1} per flow-mod)");

        Assert.Equal(mods.Count, st.HardwareFlows + st.SoftwareFlows);
        Assert.Equal(48, exactHw);
        Assert.Equal(24, st.HardwareRows - exactHw);
        Assert.Equal(17, st.SoftwareReasons[OffloadReason.UnsupportedAction]);   // flow2 x16 and LLDP to the controller
        Assert.All(placements.Where(p => p.Entry.Actions.HasController), p => Assert.False(p.InHardware));

        // Traffic: one packet for each microflow and for each VM's flow4 destination.
        for (int i = 0; i < 16; i++)
            rig.Inject(1, FrameBuilder.Udp(Mac($"00:15:17:8f:ca:{0x37 + i:x2}"), Mac(Cr1), Ip($"192.168.1.{101 + i}"), Ip($"10.27.82.{101 + i}"), 1000, 2000));
        rig.Run();
        var b = rig.Board;
        output.WriteLine($"traffic: {b.ExactRowHits + b.FlowRowHits} of 16 answered by the board, {b.FramesToCpu} sent to software");
    }
}
