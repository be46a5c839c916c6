using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;

namespace Softswitch.Datapath.Tests.Offload;

/// <summary>The text an operator reads: flows in ovs-ofctl syntax, placements with their reasons, the summaries.</summary>
public class OffloadReportTests
{
    private static FlowMatch Match(Wildcards exactFields, in FlowKey key, int nwSrcBits = 0, int nwDstBits = 0)
    {
        uint w = (uint)(Wildcards.All & ~exactFields & ~(Wildcards.NwSrcMask | Wildcards.NwDstMask)) | (uint)Wildcards.TunIdExt;
        w |= (uint)(32 - nwSrcBits) << (int)Wildcards.NwSrcShift;
        w |= (uint)(32 - nwDstBits) << (int)Wildcards.NwDstShift;
        return FlowMatch.FromOpenFlow((Wildcards)w, key);
    }

    private static FlowEntry Entry(in FlowMatch m, ushort prio, params FlowAction[] actions)
        => new(m, prio, new FlowActions(actions), 0, 0, 0, FlowModFlags.None, 0);

    [Fact]
    public void Match_UsesOvsOfctlNamesAndShorthands()
    {
        var k = new FlowKeyBuilder().InPort(3).DlType(0x0800).NwProto(6).NwSrc(0x0A000001).NwDst(0xC0A80100).TpDst(80).Key;
        Assert.Equal("tcp,in_port=3,nw_src=10.0.0.1,nw_dst=192.168.1.0/24,tp_dst=80",
            FlowFormat.Match(Match(Wildcards.InPort | Wildcards.DlType | Wildcards.NwProto | Wildcards.TpDst, k, 32, 24)));
        Assert.Equal("ip,nw_proto=47", FlowFormat.Match(Match(Wildcards.DlType | Wildcards.NwProto, new FlowKeyBuilder().DlType(0x0800).NwProto(47).Key)));
        Assert.Equal("arp", FlowFormat.Match(Match(Wildcards.DlType, new FlowKeyBuilder().DlType(0x0806).Key)));
        Assert.Equal("dl_type=0x88cc", FlowFormat.Match(Match(Wildcards.DlType, new FlowKeyBuilder().DlType(0x88CC).Key)));
        Assert.Equal("", FlowFormat.Match(FlowMatch.All));
        Assert.Equal("dl_vlan=0xffff,dl_dst=02:00:00:00:00:09",
            FlowFormat.Match(Match(Wildcards.DlVlan | Wildcards.DlDst, new FlowKeyBuilder().DlVlan(0xFFFF).DlDst(MacAddress.Parse("02:00:00:00:00:09")).Key)));
        var tun = FlowMatch.FromOpenFlow(Wildcards.All, new FlowKeyBuilder().TunId(0x64).Key);
        Assert.Equal("tun_id=0x64", FlowFormat.Match(tun));
    }

    [Fact]
    public void Flow_PrintsPriorityMatchAndActions()
    {
        var e = Entry(Match(Wildcards.DlType, new FlowKeyBuilder().DlType(0x0806).Key), 50, FlowAction.Output(OfPort.Controller, 65535));
        Assert.Equal("priority=50,arp actions=output:controller:65535", FlowFormat.Flow(e));
        var all = Entry(FlowMatch.All, 1, FlowAction.SetVlanVid(7), FlowAction.SetTpDst(8080), FlowAction.SetTunnel(5), FlowAction.Output(2));
        Assert.Equal("priority=1 actions=mod_vlan_vid:7,mod_tp_dst:8080,set_tunnel:0x5,output:2", FlowFormat.Flow(all));
        Assert.Equal("priority=1 actions=drop", FlowFormat.Flow(Entry(FlowMatch.All, 1)));
    }

    [Fact]
    public void ReasonNames_AreKebabCase_AndDistinct()
    {
        Assert.Equal("overlaps-software-rule", OffloadReport.ReasonName(OffloadReason.OverlapsSoftwareRule));
        Assert.Equal("unsupported-action", OffloadReport.ReasonName(OffloadReason.UnsupportedAction));
        var names = Enum.GetValues<OffloadReason>().Select(OffloadReport.ReasonName).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.Matches("^[a-z]+(-[a-z]+)*$", n));
    }

    [Fact]
    public void Summary_CountsFlowsReasonsAndWrites()
    {
        var st = new OffloadStats(HardwareFlows: 3, SoftwareFlows: 4, HardwareRows: 6, FlowModEvents: 8, FlowModRegisterWrites: 100,
            MaintenanceRegisterWrites: 7, Polls: 2, Installs: 3, Evictions: 1, Promotions: 0, HardwarePackets: 10, HardwareBytes: 640,
            SoftwareReasons: new Dictionary<OffloadReason, int> { [OffloadReason.UnsupportedAction] = 1, [OffloadReason.OverlapsSoftwareRule] = 3 });
        string s = OffloadReport.Summary(st, "netfpga");
        Assert.Contains("flows: 7 (3 in hardware using 6 rows, 4 in software)", s);
        Assert.True(s.IndexOf("overlaps-software-rule: 3", StringComparison.Ordinal) < s.IndexOf("unsupported-action: 1", StringComparison.Ordinal), "most common reason first");
        Assert.Contains("register writes: 100 for 8 flow-table changes (12.5 per change), 7 by maintenance (2 polls)", s);
        Assert.Contains("hardware counted: 10 packets, 640 bytes", s);
        Assert.Equal("3 flows in hardware (6 rows), 4 in software (overlaps-software-rule=3, unsupported-action=1), 12.5 register writes per flow-mod",
            OffloadReport.OneLine(st));
    }

    [Fact]
    public void DumpFlows_ExactFirst_ThenByPriority_WithPlacement()
    {
        var exactKey = new FlowKeyBuilder().InPort(1).DlType(0x0800).NwProto(17).DlVlan(0xFFFF).Key;
        var exact = Entry(FlowMatch.Exact(exactKey), 0xFFFF, FlowAction.Output(2));
        var low = Entry(Match(Wildcards.DlType, new FlowKeyBuilder().DlType(0x0800).Key), 10, FlowAction.Output(3));
        var high = Entry(Match(Wildcards.DlType, new FlowKeyBuilder().DlType(0x0806).Key), 90, FlowAction.Output(OfPort.Controller, 128));
        var text = OffloadReport.DumpFlows([
            new FlowPlacement(low, true, OffloadReason.None, null, 2, 60),
            new FlowPlacement(high, false, OffloadReason.UnsupportedAction, "output:controller:128", 0, 0),
            new FlowPlacement(exact, true, OffloadReason.None, null, 1, 20),
        ]);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.EndsWith("actions=output:2 placement=hw table=exact rows=1 last_register_writes=20", lines[0]);
        Assert.EndsWith("priority=90,arp actions=output:controller:128 placement=sw table=wildcard reason=unsupported-action (output:controller:128) last_register_writes=0", lines[1]);
        Assert.EndsWith("priority=10,ip actions=output:3 placement=hw table=wildcard rows=2 last_register_writes=60", lines[2]);
        Assert.All(lines, l => Assert.StartsWith("n_packets=0, n_bytes=0, priority=", l));
    }
}
