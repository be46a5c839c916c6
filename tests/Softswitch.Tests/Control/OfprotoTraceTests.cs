using System.Text.Json;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Logging;
using Softswitch.OfAgent;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Control;

/// <summary>ofproto/trace over the control commands against a real datapath and agent: stages, rules, misses, rewrites, errors.</summary>
public sealed class OfprotoTraceTests : IDisposable
{
    private readonly ManualClock _clock = new();
    private readonly SwitchDatapath _dp;
    private readonly MemoryPort[] _ports;
    private readonly ControlCommands _commands = new();
    private readonly OfSwitchAgent _agent;

    private static readonly MacAddress s_a = MacAddress.Parse("00:00:00:00:00:0a"), s_b = MacAddress.Parse("00:00:00:00:00:0b");
    private static readonly byte[] s_udp = FrameBuilder.Udp(s_a, s_b, 0x0A000001, 0x0A000002, 1000, 2000);

    public OfprotoTraceTests()
    {
        _dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, _clock);
        _ports = Enumerable.Range(1, 3).Select(i => new MemoryPort($"p{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i)) { CaptureSent = true }).ToArray();
        foreach (var p in _ports) _dp.AddPort(p);
        _agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x42 }), new AgentOptions());
        HostCommands.Register(_commands, new HostCommands.Context(_dp, _agent, new Vlog(console: new StringWriter()), () => { }) { IsThisSwitch = w => w is "s1" or "0x42" });
    }

    public void Dispose() => _dp.Dispose();

    private ControlReply Run(string line) => _commands.Execute(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    private void AddFlow(string text)
    {
        Assert.True(OfctlFlowParser.TryParse(text, FlowModCommand.Add, out var mod, out var error), error);
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(mod));
    }

    private static string Line(string text, string prefix)
        => text.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..];

    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    [Fact]
    public void ExactRule_FoundByTheHashStage_FromAHexFrame()
    {
        PacketParser.Parse(s_udp, 1, out var key, out _);
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.Exact(key), 10,
            new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.Output(3)]), 0xabc, 0, 0)));
        AddFlow("priority=100,in_port=1 actions=output:2");

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Equal(FlowFormat.Key(key), Line(r.Text, "Flow: "));
        Assert.StartsWith("udp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.1,nw_dst=10.0.0.2,", Line(r.Text, "Flow: "));
        Assert.StartsWith("hash stage", Line(r.Text, "Stage: "));
        // As dump-flows prints it: table 0 and the priority the controller asked for (10), not the normalised 65535.
        Assert.Matches(@"^cookie=0xabc, table=0, priority=10,udp,in_port=1,.*nw_dst=10\.0\.0\.2.* actions=output:3$", Line(r.Text, "Rule: "));
        Assert.Equal("output:3", Line(r.Text, "Actions: "));
        Assert.Equal("3", Line(r.Text, "Output: "));
        Assert.Equal(Hex(s_udp), Line(r.Text, "Final packet: "));
    }

    /// <summary>A learn step is shown as Open vSwitch's trace shows it: the learn, then the flow it would add.</summary>
    /// <summary>ip_frag: a flow written with it, a flow to trace naming it, and a first fragment's frame, each traced to the flow its fragment bits pick.</summary>
    [Fact]
    public void IpFrag_TracesToTheFlowItsFragmentBitsPick()
    {
        AddFlow("priority=20,ip,ip_frag=first actions=output:3");
        AddFlow("priority=10,ip,ip_frag=no actions=output:2");
        var r = Run("ofproto/trace in_port=1,ip,ip_frag=first");
        Assert.True(r.Ok, r.Text);
        Assert.Equal("3", Line(r.Text, "Output: "));
        Assert.Equal("2", Line(Run("ofproto/trace in_port=1,ip,ip_frag=no").Text, "Output: "));

        byte[] first = (byte[])s_udp.Clone();
        first[14 + 6] = 0x20;   // MF set, offset 0
        r = Run($"ofproto/trace 1 {Hex(first)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains(",nw_frag=first,", Line(r.Text, "Flow: "), StringComparison.Ordinal);
        Assert.Contains("nw_frag=first", Line(r.Text, "Rule: "), StringComparison.Ordinal);
        Assert.Equal("3", Line(r.Text, "Output: "));
    }

    /// <summary>nw_ttl, tcp_flags and tun_src (not in the key): named in a flow to trace, or read from a traced frame.</summary>
    [Fact]
    public void PacketWords_AreTracedFromTheFlowAndFromTheFrame()
    {
        FlowMod(new OfMatch().EthType(0x0800).NwTtl(5), 30, 3);
        FlowMod(new OfMatch().EthType(0x0800).NwProto(6).TcpFlags(0x002, 0x012), 20, 3);
        FlowMod(new OfMatch().TunSrc(0x0a000000, 0xff000000), 10, 3);
        FlowMod(new OfMatch(), 1, 2);
        Assert.Equal("3", Line(Run("ofproto/trace in_port=1,ip,nw_ttl=5").Text, "Output: "));
        Assert.Equal("2", Line(Run("ofproto/trace in_port=1,ip,nw_ttl=6").Text, "Output: "));
        Assert.Equal("3", Line(Run("ofproto/trace in_port=1,tcp,tcp_flags=syn").Text, "Output: "));
        Assert.Equal("2", Line(Run("ofproto/trace in_port=1,tcp,tcp_flags=syn|ack").Text, "Output: "));
        Assert.Equal("3", Line(Run("ofproto/trace in_port=1,tun_src=10.1.2.3").Text, "Output: "));
        Assert.False(Run("ofproto/trace in_port=1,tcp,tcp_flags=bogus").Ok);
        byte[] f = (byte[])s_udp.Clone();
        f[14 + 8] = 5;
        Assert.Equal("3", Line(Run($"ofproto/trace 1 {Hex(f)}").Text, "Output: "));
        f[14 + 8] = 64;
        Assert.Equal("2", Line(Run($"ofproto/trace 1 {Hex(f)}").Text, "Output: "));
    }

    private void FlowMod(OfMatch match, ushort priority, uint port)
        => Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, match, priority,
            OfInstructions.Apply(new[] { OfAction.Output(port) }), Rules: MatchRules.OpenFlow13)));

    [Fact]
    public void ALearn_IsTracedWithTheFlowItWouldAdd()
    {
        var learn = new OfLearn(10, 0, 0, 0x8000, 0, false, false, 0, 0,
        [
            new OfLearnSpec(OfLearnDst.Match, false, new OfSubfield(OfField.EthSrc, 0, 48), 0, new OfSubfield(OfField.EthDst, 0, 48), 48),
            new OfLearnSpec(OfLearnDst.Load, false, new OfSubfield(OfField.InPort, 0, 16), 0, new OfSubfield(OfField.Reg0, 0, 16), 16),
        ]);
        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 100,
            OfInstructions.Apply(new[] { OfAction.Learn(learn), OfAction.Output(2) }), Rules: MatchRules.OpenFlow13)));
        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Equal("learn(table=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15])", Line(r.Text, "Learn: "));
        Assert.Contains("    -> table=10 dl_dst=00:00:00:00:00:0a,priority=32768 actions=load:0x1->NXM_NX_REG0[0..15]\n", r.Text);
        Assert.Equal("2", Line(r.Text, "Output: "));
    }

    /// <summary>dec_ttl(ids) is traced as ovs-ofctl writes it; the packet goes on with its TTL decremented.</summary>
    [Fact]
    public void ADecTtlWithControllerIds_IsTracedAsOvsOfctlWritesIt()
    {
        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 100,
            OfInstructions.Apply(new[] { OfAction.DecNwTtl([7, 0, 9]), OfAction.Output(2) }), Rules: MatchRules.OpenFlow13)));
        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Equal("dec_ttl(7,0,9),output:2", Line(r.Text, "Actions: "));
        Assert.Equal("2", Line(r.Text, "Output: "));
    }

    [Fact]
    public void Groups_AreTracedBucketByBucket_WithoutCounting_AndDumpGroupsShowsThem()
    {
        var bucket = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(2) });
        var rewrite = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.SetTpDst(7), OfAction.Output(3) });
        Assert.Equal(OfError.None, _agent.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 5, [bucket, rewrite])));
        Assert.Equal(OfError.None, _agent.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.FastFailover, 6,
            [bucket with { WatchPort = 2 }, rewrite with { WatchPort = 3 }])));
        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 100,
            OfInstructions.Apply(new[] { OfAction.Group(5) }), Rules: MatchRules.OpenFlow13)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Equal("group:5", Line(r.Text, "Actions: "));
        Assert.Equal("2, 3", Line(r.Text, "Output: "));
        // Which buckets the packet took, by index.
        Assert.Contains("Bucket: group:5 bucket 0 (all; actions output:2)\nBucket: group:5 bucket 1 (all; actions mod_tp_dst:7,output:3)\n", r.Text);
        _dp.Groups.TryGet(5, out var g);
        Assert.Equal(0, g.Packets); // a trace changes no counter

        var dump = Run("dump-groups").Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("group_id=5,type=all,packet_count=0,byte_count=0,bucket=actions=output:2,live=yes,packet_count=0,byte_count=0,"
                     + "bucket=actions=mod_tp_dst:7,output:3,live=yes,packet_count=0,byte_count=0", dump[0]);
        Assert.StartsWith("group_id=6,type=ff,packet_count=0,byte_count=0,bucket=watch_port:2,actions=output:2,live=yes", dump[1]);
        using var json = JsonDocument.Parse(Run("dump-groups --format json").Text);
        Assert.Equal(2, json.RootElement.GetArrayLength());
        Assert.Equal(3, json.RootElement[1].GetProperty("buckets")[1].GetProperty("watch_port").GetInt32());
    }

    [Fact]
    public void DumpGroups_ShowsTheSelectionMethodASelectGroupPicksBy()
    {
        var bucket = new OfBucket(1, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(2) });
        var dpHash = new OfSelectionMethod(OfSelectionMethod.DpHash, 0, OfMatch.Any, []);
        Assert.Equal(OfError.None, _agent.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.Select, 7, [bucket], Selection: dpHash)));
        Assert.Equal(OfError.None, _agent.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.Select, 8, [bucket])));
        var dump = Run("dump-groups").Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("group_id=7,type=select,selection_method=dp_hash,packet_count=0,byte_count=0,bucket=weight:1,", dump[0]);
        Assert.StartsWith("group_id=8,type=select,packet_count=0,", dump[1]);
        using var json = JsonDocument.Parse(Run("dump-groups --format json").Text);
        Assert.Equal("dp_hash", json.RootElement[0].GetProperty("selection_method").GetString());
        Assert.False(json.RootElement[1].TryGetProperty("selection_method", out _));
    }

    [Fact]
    public void ATracedFlow_StartsFromTheDpHashItHolds_WhichTheTablesAfterADpHashGroupMatch()
    {
        // Open vSwitch's trace of the pass after a dp_hash group's recirculation: the flow holds the hash, the group
        // keeps it (it hashes only while dp_hash is 0) and the table after it matches it.
        var bucket = new OfBucket(1, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(2) });
        var dpHash = new OfSelectionMethod(OfSelectionMethod.DpHash, 0, OfMatch.Any, []);
        Assert.Equal(OfError.None, _agent.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.Select, 7, [bucket], Selection: dpHash)));
        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 10,
            new OfInstructions(new[] { OfAction.Group(7) }, GotoTable: 1), Rules: MatchRules.OpenFlow13)));
        Assert.True(OfctlFlowParser.TryParse("priority=20,dp_hash=0x5,actions=output:3", FlowModCommand.Add, out var onHash, out var error), error);
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(onHash with { Rules = MatchRules.OpenFlow13, TableId = 1 }));
        var r = Run("ofproto/trace in_port=1,dp_hash=5");
        Assert.True(r.Ok, r.Text);
        Assert.StartsWith("dp_hash=0x5,in_port=1", Line(r.Text, "Flow: "));
        Assert.Equal("2, 3", Line(r.Text, "Output: "));
        Assert.Equal("dp_hash=0x5", Line(r.Text, "Final registers: "));
        Assert.Equal("2, 3", Line(Run("ofproto/trace in_port=1,dp_hash=0x5").Text, "Output: "));
        using (var json = JsonDocument.Parse(Run("ofproto/trace in_port=1,dp_hash=5 --format json").Text))
            Assert.StartsWith("dp_hash=0x5,in_port=1", json.RootElement.GetProperty("flow").GetString());
        // Without it the group hashes the flow: its own hash, not 5, and the Flow line shows none.
        r = Run("ofproto/trace in_port=1");
        Assert.Equal("2", Line(r.Text, "Output: "));
        Assert.DoesNotContain("dp_hash", Line(r.Text, "Flow: "), StringComparison.Ordinal);
        Assert.StartsWith("dp_hash=0x", Line(r.Text, "Final registers: "));
        Assert.False(Run("ofproto/trace in_port=1,dp_hash=0x5/0xf").Ok);
        Assert.False(Run("ofproto/trace in_port=1,dp_hash=x").Ok);
        Assert.False(Run("ofproto/trace in_port=1,dp_hash=0x100000000").Ok);
    }

    [Fact]
    public void Meters_AreTracedWithTheBandAPacketWouldMeet_WithoutTakingTokens_AndDumpMetersShowsThem()
    {
        // 1 packet/s with a burst of 1: the first packet passes, the next meets the drop band.
        Assert.Equal(OfError.None, _agent.Switch.MeterMod(new MeterModRequest(MeterModCommand.Add, OfMeterFlags.Pktps | OfMeterFlags.Burst, 3,
            [new OfMeterBand(OfMeterBandType.Drop, 1, 1)])));
        Assert.Equal(OfError.None, _agent.Switch.FlowMod(new FlowModRequest(FlowModCommand.Add, new OfMatch().InPort(1), 100,
            new OfInstructions(new[] { OfAction.Output(2) }, Meter: 3), Rules: MatchRules.OpenFlow13)));

        for (int i = 0; i < 2; i++)
        {
            var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
            Assert.True(r.Ok, r.Text);
            Assert.Equal("meter:3,output:2", Line(r.Text, "Actions: "));
            Assert.Equal($"meter:3 pktps bands 0: type=drop rate=1 burst_size=1; a {s_udp.Length}-byte packet now: within every band, passes", Line(r.Text, "Meter: "));
            Assert.Equal("2", Line(r.Text, "Output: ")); // twice: a trace takes no token
        }
        _ports[0].Inject(s_udp);
        _dp.PollUntilIdle();
        var dropped = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.EndsWith("band 0 applies (dropped)", Line(dropped.Text, "Meter: "));
        Assert.Equal("drop", Line(dropped.Text, "Output: "));

        var dump = Run("dump-meters").Text.Trim();
        Assert.Equal($"meter=3 pktps burst packet_in_count=1,byte_in_count={s_udp.Length},bands=type=drop rate=1 burst_size=1 tokens=0,packet_count=0,byte_count=0", dump);
        using var json = JsonDocument.Parse(Run("dump-meters --format json").Text);
        Assert.Equal("pktps", json.RootElement[0].GetProperty("unit").GetString());
        Assert.Equal(0, json.RootElement[0].GetProperty("bands")[0].GetProperty("tokens").GetInt64());
    }

    [Fact]
    public void RuleWithoutOutput_SaysWhyItDrops()
    {
        AddFlow("priority=100,in_port=1 actions=drop");
        AddFlow("priority=100,in_port=2 actions=mod_nw_tos:4");
        Assert.Equal("drop (the rule's actions output nothing)", Line(Run("ofproto/trace in_port=1").Text, "Output: "));
        Assert.Equal("drop (the rule's actions output nothing)", Line(Run("ofproto/trace in_port=2,ip").Text, "Output: "));
    }

    [Fact]
    public void TraceAndDumpFlows_PrintTheSameRule()
    {
        AddFlow("cookie=0x5,idle_timeout=30,priority=100,in_port=1,ip actions=output:2");
        Assert.Equal("cookie=0x5, table=0, idle_timeout=30, priority=100,ip,in_port=1 actions=output:2",
                     Line(Run("ofproto/trace in_port=1,ip").Text, "Rule: "));
        Assert.Matches(@"^ cookie=0x5, duration=[0-9.]+s, table=0, n_packets=0, n_bytes=0, idle_timeout=30, idle_age=\d+, priority=100,ip,in_port=1 actions=output:2$",
                       Run("dump-flows").Text.Split('\n')[0]);
    }

    [Fact]
    public void FloodAndAllListTheLocalPort_ButNotTheInputPort()
    {
        _dp.AddPort(new MemoryPort("ss-42", new MacAddress(0x0200_0000_00FEUL)), PortNumber.Local);
        AddFlow("priority=300,in_port=2 actions=FLOOD");
        AddFlow("priority=300,in_port=LOCAL actions=ALL");
        Assert.Equal("FLOOD [1 3 LOCAL]", Line(Run("ofproto/trace in_port=2").Text, "Output: "));
        Assert.Equal("ALL [1 2 3]", Line(Run("ofproto/trace in_port=LOCAL").Text, "Output: "));
    }

    [Fact]
    public void WildcardRules_HighestPriorityWins_TupleSpaceWithMask()
    {
        AddFlow("priority=100,in_port=1 actions=output:2");
        AddFlow("priority=200,in_port=1,ip,nw_dst=10.0.0.2 actions=output:3");
        AddFlow("priority=300,in_port=2 actions=FLOOD");

        var hit = Run("ofproto/trace in_port=1,ip,nw_src=10.0.0.1,nw_dst=10.0.0.2");
        Assert.True(hit.Ok, hit.Text);
        // The subtable's mask over the flow, in ovs-ofctl's syntax.
        Assert.Matches(@"^tuple space subtable ip,in_port=1,nw_dst=10\.0\.0\.2 \(\d subtable\(s\) probed\)$", Line(hit.Text, "Stage: "));
        Assert.Equal("cookie=0x0, table=0, priority=200,ip,in_port=1,nw_dst=10.0.0.2 actions=output:3", Line(hit.Text, "Rule: "));
        Assert.Contains("vlan_tci=0x0000", Line(hit.Text, "Flow: "));
        Assert.Equal("3", Line(hit.Text, "Output: "));
        Assert.DoesNotContain("Final packet", hit.Text);

        var lower = Run("ofproto/trace in_port=1,ip,nw_dst=10.0.0.9");
        Assert.Equal("cookie=0x0, table=0, priority=100,in_port=1 actions=output:2", Line(lower.Text, "Rule: "));
        // Different rules come from different subtables: the masks differ.
        Assert.Matches(@"^tuple space subtable in_port=1 \(", Line(lower.Text, "Stage: "));

        var flood = Run("ofproto/trace in_port=2");
        Assert.Equal("FLOOD [1 3]", Line(flood.Text, "Output: "));

        using var json = JsonDocument.Parse(Run("ofproto/trace in_port=1,ip,nw_dst=10.0.0.2 --format json").Text);
        Assert.Equal("tuple-space", json.RootElement.GetProperty("stage").GetString());
        Assert.Equal(200, json.RootElement.GetProperty("rule").GetProperty("priority").GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("rule").GetProperty("table").GetInt32());
        Assert.Equal("output:3", json.RootElement.GetProperty("rule").GetProperty("actions").GetString());
        Assert.Equal("3", json.RootElement.GetProperty("output")[0].GetString());
    }

    [Fact]
    public void SwitchName_First_AsOvsAppctlUsersTypeIt()
    {
        AddFlow("priority=200,in_port=1,ip,nw_dst=10.0.0.2 actions=output:3");
        string expected = Run("ofproto/trace in_port=1,ip,nw_dst=10.0.0.2").Text;
        Assert.Equal(expected, Run("ofproto/trace s1 in_port=1,ip,nw_dst=10.0.0.2").Text);
        Assert.Equal(expected, Run("ofproto/trace 0x42 in_port=1,ip,nw_dst=10.0.0.2").Text);
        Assert.Equal("3", Line(Run("ofproto/trace s1 ip in_port=1 nw_dst=10.0.0.2").Text, "Output: "));
        Assert.Equal("3", Line(Run("ofproto/trace ip in_port=1 nw_dst=10.0.0.2").Text, "Output: "));   // a flow in words, no name
        Assert.Equal("3", Line(Run($"ofproto/trace s1 1 {Hex(s_udp)}").Text, "Output: "));

        var other = Run("ofproto/trace br0 in_port=1,ip");
        Assert.False(other.Ok);
        Assert.StartsWith("ofproto/trace: 'br0' is not this switch", other.Text);
    }

    [Theory]
    [InlineData(MissBehavior.Controller, "packet-in to the controller (reason no_match)", "CONTROLLER")]
    [InlineData(MissBehavior.Drop, "drop (no controller, fail mode secure)", "drop")]
    [InlineData(MissBehavior.Normal, "NORMAL (no controller, fail mode standalone: MAC learning switch)", "NORMAL (MAC learning)")]
    public void NoMatch_ReportsTheMissBehaviour(MissBehavior miss, string expected, string output)
    {
        AddFlow("priority=100,in_port=2 actions=output:1");
        _dp.MissBehavior = miss;
        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Equal("no match", Line(r.Text, "Rule: "));
        Assert.StartsWith("none", Line(r.Text, "Stage: "));
        Assert.Equal(expected, Line(r.Text, "Miss: "));
        Assert.Equal(output, Line(r.Text, "Output: "));
    }

    [Fact]
    public void Rewrite_ShowsTheChangedPacket_AndChangesNothingInTheSwitch()
    {
        AddFlow("priority=100,in_port=1,ip actions=mod_nw_dst:10.0.0.99,output:2");
        _dp.MissBehavior = MissBehavior.Normal;
        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Equal("mod_nw_dst:10.0.0.99,output:2", Line(r.Text, "Actions: "));
        Assert.Contains("nw_dst=10.0.0.99", Line(r.Text, "Final flow: "));
        Assert.Contains("nw_dst=10.0.0.2", Line(r.Text, "Flow: "));
        // The rewritten frame, checksums included, is the frame built with the new address.
        Assert.Equal(Hex(FrameBuilder.Udp(s_a, s_b, 0x0A000001, 0x0A000063, 1000, 2000)), Line(r.Text, "Final packet: "));
        Assert.Equal("2", Line(r.Text, "Output: "));

        // Read-only: no counts, no frames sent, nothing learned, the flows unchanged.
        _dp.PollUntilIdle();
        Assert.All(_ports, p => Assert.Empty(p.TakeSent()));
        Assert.Equal(0, _dp.MacTable.Count);
        var dump = Run("dump-flows").Text;
        Assert.Contains("n_packets=0, n_bytes=0", dump);
        Assert.Equal(0, _dp.Counters.Read(DatapathCounters.EmcHit) + _dp.Counters.Read(DatapathCounters.EmcMiss));
        Assert.Equal(0, _agent.Switch.Flows.Pipeline.GetLookupTotals().ExactLookups);
    }

    [Fact]
    public void AJumboFrame_IsTracedWhole()
    {
        // As trace/watch hands a sampled 9000-byte frame to the report.
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0, FrameSize = 9000 + 14 + 8 }, _clock);
        foreach (var i in new[] { 1, 2 }) dp.AddPort(new MemoryPort($"j{i}", new MacAddress(0x0200_0000_0010UL + (ulong)i)));
        var sw = new OfSwitch(dp, new OfSwitchOptions { DatapathId = 0x43 });
        Assert.True(OfctlFlowParser.TryParse("priority=100,in_port=1,ip actions=mod_nw_dst:10.0.0.99,output:2", FlowModCommand.Add, out var mod, out var error), error);
        Assert.Equal(FlowModStatus.Ok, sw.Flows.Apply(mod));
        var jumbo = FrameBuilder.Udp(s_a, s_b, 0x0A000001, 0x0A000002, 1000, 2000, 9000);
        PacketParser.Parse(jumbo, 1, out var key, out _);
        var r = OfprotoTrace.Report(dp, sw.Flows, key, jumbo, null, []);
        Assert.True(r.Ok, r.Text);
        Assert.Equal(Hex(FrameBuilder.Udp(s_a, s_b, 0x0A000001, 0x0A000063, 1000, 2000, 9000)), Line(r.Text, "Final packet: "));
        Assert.Equal("2", Line(r.Text, "Output: "));
    }

    [Theory]
    [InlineData("ofproto/trace in_port=1,nw_dst=10.0.0.300", "ofproto/trace: bad flow")]
    [InlineData("ofproto/trace in_port=1,bogus=3", "ofproto/trace: bad flow")]
    [InlineData("ofproto/trace ip,nw_dst=10.0.0.2", "ofproto/trace: the flow needs in_port=N")]
    [InlineData("ofproto/trace in_port=9", "ofproto/trace: no port 9")]
    [InlineData("ofproto/trace 9 00112233445566778899aabbccdd", "ofproto/trace: no port 9")]
    [InlineData("ofproto/trace 1 0011zz", "is not a frame in hexadecimal")]
    [InlineData("ofproto/trace 1 001", "is not a frame in hexadecimal")]
    [InlineData("ofproto/trace 1 0011223344", "a frame of 5 bytes")]
    [InlineData("ofproto/trace 1", "a frame in hexadecimal must follow the port")]
    [InlineData("ofproto/trace in_port=1 actions=output:2", "has no actions=")]
    [InlineData("ofproto/trace in_port=1 --format yaml", "takes only --format text|json")]
    public void BadInput_OneClearErrorLine(string line, string expected)
    {
        var r = Run(line);
        Assert.False(r.Ok, r.Text);
        Assert.Contains(expected, r.Text);
        Assert.Single(r.Text.TrimEnd('\n').Split('\n'));
    }
    [Fact]
    public void SeveralTables_EveryTableVisited_TheActionSet_AndTheOutput()
    {
        var flows = _agent.Switch.Flows;
        var none = Datapath.Actions.FlowActions.Drop;
        var toTwo = new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.Output(2)]);
        var rewrite = new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.SetDlDst(s_a)]);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1, rewrite, Rules: MatchRules.OpenFlow13,
            Instructions: new FlowInstructions(writeActions: toTwo, gotoTable: 3))));
        var dstA = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlDst, new FlowKeyBuilder().DlDst(s_a).Key);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, dstA, 5, none, Rules: MatchRules.OpenFlow13, TableId: 3)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("\ntable 0: ", r.Text);
        Assert.Contains("goto_table:3", r.Text);
        Assert.Contains("write_actions(output:2)", r.Text);
        Assert.Contains("\ntable 3: ", r.Text);                     // table 3 found the rewritten dl_dst
        Assert.Equal("output:2", Line(r.Text, "Action set: "));
        Assert.Equal("mod_dl_dst:00:00:00:00:00:0a,output:2", Line(r.Text, "Actions: "));
        Assert.Equal("2", Line(r.Text, "Output: "));

        // Without table 3's rule the run ends there, in a drop (an OpenFlow 1.3 table with no flow for it).
        flows.Apply(new FlowMod(FlowModCommand.Delete, FlowMatch.All, 0, none, Rules: MatchRules.OpenFlow13, TableId: 3));
        r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.Contains("table 3: no match (drop)", r.Text);
        Assert.Equal("drop", Line(r.Text, "Output: "));
    }

    [Fact]
    public void Resubmits_AreTracedIndentedByDepth_AndALoopSaysWhyItDrops()
    {
        var flows = _agent.Switch.Flows;
        Datapath.Actions.FlowActions List(params Datapath.Actions.FlowAction[] a) => new(a);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1,
            List(Datapath.Actions.FlowAction.Resubmit(1), Datapath.Actions.FlowAction.Output(3)), Rules: MatchRules.OpenFlow13)));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1,
            List(Datapath.Actions.FlowAction.SetDlDst(s_a), Datapath.Actions.FlowAction.Resubmit(2)), Rules: MatchRules.OpenFlow13, TableId: 1)));
        var dstA = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlDst, new FlowKeyBuilder().DlDst(s_a).Key);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, dstA, 5, List(Datapath.Actions.FlowAction.Output(2)), Rules: MatchRules.OpenFlow13, TableId: 2)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("\ntable 0: ", r.Text);
        Assert.Contains("actions: resubmit(,1),output:3", r.Text);
        Assert.Contains("\n    resubmit to table 1: ", r.Text);
        Assert.Contains("\n        resubmit to table 2: ", r.Text); // table 2 found the dl_dst table 1 set
        Assert.Equal("mod_dl_dst:00:00:00:00:00:0a,output:2,output:3", Line(r.Text, "Actions: "));
        Assert.Equal("2, 3", Line(r.Text, "Output: "));

        // Table 2 resubmits to itself: the trace ends in the drop the forwarder counts.
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, dstA, 9, List(Datapath.Actions.FlowAction.Resubmit(0xff)), Rules: MatchRules.OpenFlow13, TableId: 2)));
        r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.StartsWith("drop (past 64 nested resubmits", Line(r.Text, "Miss: "));
        Assert.Equal("drop", Line(r.Text, "Output: "));
    }

    [Fact]
    public void AGroupBucketsResubmit_IsTracedOneDeeperThanTheGroup_ItsBucketsComposed()
    {
        var flows = _agent.Switch.Flows;
        var keep = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(3) });
        var resubmit = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Resubmit(2, OfPort.InPort) });
        Assert.Equal(OfError.None, _agent.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 7, [keep, resubmit])));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1,
            new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.Group(7)]), Rules: MatchRules.OpenFlow13)));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 5,
            new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.Output(2)]), Rules: MatchRules.OpenFlow13, TableId: 2)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("\ntable 0: ", r.Text);
        Assert.Contains("\n        resubmit to table 2: ", r.Text); // the bucket is one level, its resubmit the next
        Assert.Equal("group:7(bucket(output:3),bucket(output:2))", Line(r.Text, "Actions: "));
        Assert.Equal("3, 2", Line(r.Text, "Output: "));
    }

    [Fact]
    public void AResubmitInTheActionSet_IsTracedAsItRuns_ItsLookupIndented()
    {
        var flows = _agent.Switch.Flows;
        var none = Datapath.Actions.FlowActions.Drop;
        var set = new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.SetDlDst(s_a), Datapath.Actions.FlowAction.Resubmit(2)]);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1, none, Rules: MatchRules.OpenFlow13,
            Instructions: new FlowInstructions(writeActions: set, gotoTable: 1))));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1,
            new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.Output(3)]), Rules: MatchRules.OpenFlow13, TableId: 1)));
        var dstA = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlDst, new FlowKeyBuilder().DlDst(s_a).Key);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, dstA, 5,
            new Datapath.Actions.FlowActions([Datapath.Actions.FlowAction.Output(2)]), Rules: MatchRules.OpenFlow13, TableId: 2)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("write_actions(mod_dl_dst:00:00:00:00:00:0a,resubmit(,2))", r.Text);
        Assert.Contains("\ntable 1: ", r.Text);
        Assert.Contains("\n    resubmit to table 2: ", r.Text); // the set's lookup found the dl_dst it set
        Assert.Equal("mod_dl_dst:00:00:00:00:00:0a,resubmit(,2)", Line(r.Text, "Action set: "));
        Assert.Equal("output:3,mod_dl_dst:00:00:00:00:00:0a,output:2", Line(r.Text, "Actions: "));
        Assert.Equal("3, 2", Line(r.Text, "Output: "));
    }

    [Fact]
    public void AConjunctiveMatch_ShowsTheClausesThatFormedIt()
    {
        var flows = _agent.Switch.Flows;
        Datapath.Actions.FlowActions List(params Datapath.Actions.FlowAction[] a) => new(a);
        var src = new FlowMatch(new FlowKeyBuilder().DlType(0xFFFF).NwSrc(~0u).Key, new FlowKeyBuilder().DlType(0x0800).NwSrc(0x0A000001).Key);
        var dport = new FlowMatch(new FlowKeyBuilder().DlType(0xFFFF).NwProto(0xFF).TpDst(0xFFFF).Key,
                                  new FlowKeyBuilder().DlType(0x0800).NwProto(17).TpDst(2000).Key);
        var conjId = new FlowMatch(default, default, default, default, true, 7);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, src, 100, List(Datapath.Actions.FlowAction.Conjunction(7, 0, 2)), Rules: MatchRules.OpenFlow13)));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, dport, 100, List(Datapath.Actions.FlowAction.Conjunction(7, 1, 2)), Rules: MatchRules.OpenFlow13)));
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, conjId, 100, List(Datapath.Actions.FlowAction.Output(2)), Rules: MatchRules.OpenFlow13)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("\ntable 0: ", r.Text);
        Assert.Contains("priority=100,conj_id=7", r.Text);
        Assert.Contains("\n    conj. priority=100,ip,nw_src=10.0.0.1 actions: conjunction(7,1/2)", r.Text);
        Assert.Contains("\n    conj. priority=100,udp,tp_dst=2000 actions: conjunction(7,2/2)", r.Text);
        Assert.Equal("output:2", Line(r.Text, "Actions: "));
        Assert.Equal("2", Line(r.Text, "Output: "));
    }

    [Fact]
    public void Registers_AreShownInTheRulesTheyMatch_AndLeadTheFinalFlow()
    {
        var flows = _agent.Switch.Flows;
        Datapath.Actions.FlowActions List(params Datapath.Actions.FlowAction[] a) => new(a);
        var reg0 = new FieldRef(PipelineField.Reg0, 0, 16);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, FlowMatch.All, 1,
            List(Datapath.Actions.FlowAction.FieldLoad(reg0, 2), Datapath.Actions.FlowAction.Resubmit(1)), Rules: MatchRules.OpenFlow13)));
        var regMask = new Registers();
        var regValue = new Registers();
        regMask.SetReg(0, uint.MaxValue);
        regValue.SetReg(0, 2);
        var onReg0 = new FlowMatch(default, default, regMask, regValue);
        Assert.Equal(FlowModStatus.Ok, flows.Apply(new FlowMod(FlowModCommand.Add, onReg0, 5,
            List(Datapath.Actions.FlowAction.OutputField(reg0)), Rules: MatchRules.OpenFlow13, TableId: 1)));

        var r = Run($"ofproto/trace 1 {Hex(s_udp)}");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("actions: load:0x2->NXM_NX_REG0[0..15],resubmit(,1)", r.Text);
        Assert.Contains("reg0=0x2", r.Text); // table 1's rule
        Assert.Contains("actions: output:NXM_NX_REG0[0..15]", r.Text);
        Assert.Equal("output:2", Line(r.Text, "Actions: "));
        Assert.StartsWith("reg0=0x2,", Line(r.Text, "Final flow: "));
        Assert.Equal("2", Line(r.Text, "Output: "));
    }
}
