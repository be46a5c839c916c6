using System.Runtime.InteropServices;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;
using Of10Reports = Softswitch.OfAgent.Of10.Translate.ReportTranslator;

namespace Softswitch.OfAgent.Tests.Common;

/// <summary>
/// The sizes the switch refuses an over-long flow or group by are those of the entries it writes: for flows of every
/// instruction, a match that reads back in another shape than it came (ICMPv6, a VLAN), and actions whose length differs
/// between versions, each size equals the bytes of the entry the flow or group statistics then write.
/// </summary>
public sealed class ReadBackSizeTests
{
    private static Ofp13Instruction Apply(params Ofp13Action[] a) => new(Ofp13InstructionType.ApplyActions, Actions: [.. a]);

    public static TheoryData<string> Flows => new()
    {
        "output", "icmpv6", "vlan", "every-instruction", "tunnel64", "enqueue",
    };

    /// <summary>The flow-mod of each row, decoded and translated as the 1.3 handler does.</summary>
    private static FlowModRequest Request(string row)
    {
        var fm = new Ofp13FlowMod { Priority = 9, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        switch (row)
        {
            case "output":
                fm.Instructions.Add(Apply(Ofp13Action.Output(2)));
                break;
            case "icmpv6":
                fm.Match.AddRange([Ofp13Oxm.Exact(EthType, 0x86dd), Ofp13Oxm.Exact(IpProto, 58), Ofp13Oxm.Exact(Icmpv6Type, 135)]);
                fm.Instructions.Add(Apply(Ofp13Action.SetField(Ofp13Oxm.Exact(Ipv6NdTarget, 0x22)), Ofp13Action.SetField(Ofp13Oxm.Exact(Icmpv6Code, 1))));
                break;
            case "vlan":
                fm.Match.AddRange([Ofp13Oxm.Exact(VlanVid, 0x1000 | 10), Ofp13Oxm.Exact(VlanPcp, 3)]);
                fm.Instructions.Add(Apply(new Ofp13Action(Ofp13ActionType.PushVlan, 0x8100), Ofp13Action.SetField(Ofp13Oxm.Exact(VlanVid, 0x1000 | 20))));
                break;
            case "every-instruction":
                fm.Match.AddRange([Ofp13Oxm.Exact(EthType, 0x0800), Ofp13Oxm.Exact(IpProto, 17), Ofp13Oxm.Exact(UdpDst, 53)]);
                fm.Instructions.Add(Apply(Ofp13Action.SetField(Ofp13Oxm.Exact(UdpSrc, 5353)), new Ofp13Action(Ofp13ActionType.DecNwTtl)));
                fm.Instructions.Add(new(Ofp13InstructionType.ClearActions));
                fm.Instructions.Add(new(Ofp13InstructionType.WriteActions, Actions: [new Ofp13Action(Ofp13ActionType.SetQueue, 0), Ofp13Action.Output(3)]));
                fm.Instructions.Add(new(Ofp13InstructionType.WriteMetadata, Metadata: 5, MetadataMask: 0xff));
                fm.Instructions.Add(new(Ofp13InstructionType.GotoTable, TableId: 4));
                break;
            case "tunnel64":
                fm.Instructions.Add(Apply(Ofp13Action.SetField(Ofp13Oxm.Exact(TunnelId, 0x1_0000_0001)), Ofp13Action.Output(2)));
                break;
            case "enqueue":
                // OpenFlow 1.0's enqueue (16 bytes) reads back in 1.3 as set_queue and output (24).
                return new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 9, OfInstructions.Apply(new[] { OfAction.Enqueue(1, 0), OfAction.SetNwTos(8) }));
        }
        var decoded = new Ofp13FlowMod();
        Assert.True(decoded.TryDecode(fm.Encode(), out var error), error.ToString());
        Assert.Equal(OxmProblem.None, TryToOf(CollectionsMarshal.AsSpan(decoded.Match), out var match, out _));
        Assert.True(FlowModTranslator.TryInstructions(decoded, out var ins, out error), error.ToString());
        return FlowModTranslator.ToRequest(decoded, FlowModCommand.Add, match, ins);
    }

    [Theory]
    [MemberData(nameof(Flows))]
    public async Task AFlowsSizes_AreTheBytesOfItsStatisticsEntries(string row)
    {
        await using var rig = new AgentRig();
        var request = Request(row);
        Assert.Equal(OfError.None, rig.Switch.FlowMod(request));
        // What a 1.3 and a 1.0 flow dump write for it (OfFlowStats lives only inside the visit).
        int flows = 0, of13Bytes = 0, of10Bytes = 0;
        Assert.Equal(OfError.None, rig.Switch.VisitFlows(new FlowStatsRequest(OfMatch.Any, Rules: MatchRules.OpenFlow13), (in OfFlowStats f) =>
        {
            flows++;
            var entry = new Ofp13FlowStats();
            ReportTranslator.FlowStats(f, entry, new Ofp13Oxm[FieldCount]);
            var w = new Ofp13Writer();
            entry.Write(w);
            of13Bytes = w.Length;
            var writer = new OfpFlowStatsReplyWriter();
            writer.Begin(1);
            var scratch = new OfpAction[4];
            Of10Reports.AddFlowStats(1, f, writer, ref scratch, (_, _) => false);
            writer.Finish(more: false, out int count);
            of10Bytes = count - OfpStatsReply.HeaderSize;
            return true;
        }));
        Assert.Equal(1, flows);
        Assert.Equal(of13Bytes, ReportTranslator.FlowStatsSize(request.Match, request.Instructions));
        Assert.Equal(of10Bytes, Of10Reports.FlowStatsSize(request.Instructions));
    }

    [Fact]
    public async Task AGroupsSize_IsTheBytesOfItsDescription()
    {
        await using var rig = new AgentRig();
        OfBucket[] buckets =
        [
            new(1, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.SetTpDst(53, 17), OfAction.Output(2) }),
            new(1, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Enqueue(1, 0), OfAction.SetIpv6Src(0x20) }),
        ];
        Assert.Equal(OfError.None, rig.Switch.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.Select, 1, buckets)));
        var g = Assert.Single(rig.Switch.GroupDescriptions());
        var wire = new List<Ofp13Bucket>();
        foreach (var b in g.Buckets)
        {
            var actions = new List<Ofp13Action>();
            ActionTranslator.ToWire(b.Actions.Span, false, actions);
            wire.Add(new Ofp13Bucket(b.Weight, b.WatchPort, b.WatchGroup, actions));
        }
        var w = new Ofp13Writer();
        new Ofp13GroupDesc(1, 1, wire).Write(w);
        Assert.Equal(w.Length, ReportTranslator.GroupDescSize(buckets));
    }
}
