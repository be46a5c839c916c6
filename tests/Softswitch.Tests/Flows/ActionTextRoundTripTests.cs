using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Flows;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Flows;

/// <summary>
/// What <c>ctl dump-flows</c> prints of an action list reads back through the flow parser to the same actions: every
/// action kind a controller can write and the dump prints (loads into registers, into part of a field and of whole
/// packet fields, which print as the loads they came as, moves, output:SRC, every set_field, the TTL, VLAN, MPLS and
/// PBB actions, resubmit, conjunction, multipath, exit). Not here: learn and note (printed, not read back yet), and the
/// datapath's own kinds no controller writes (meter, recirc, the packet-in metadata).
/// </summary>
public sealed class ActionTextRoundTripTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("02:00:00:00:00:09");
    private static readonly UInt128 V6 = new(0x20010DB8_00000000, 1);

    public static TheoryData<string, FlowAction[]> Lists() => new()
    {
        { "openflow10", [FlowAction.Output(2), FlowAction.Enqueue(2, 3), FlowAction.SetVlanVid(5), FlowAction.SetVlanPcp(3), FlowAction.StripVlan(),
                         FlowAction.SetDlSrc(Mac), FlowAction.SetDlDst(Mac), FlowAction.SetNwSrc(0x0A000001), FlowAction.SetNwDst(0x0A000002),
                         FlowAction.SetNwTos(0x20), FlowAction.SetTpSrc(80), FlowAction.SetTpDst(81), FlowAction.SetTunnel(5)] },
        { "set-fields", [FlowAction.SetIpEcn(1), FlowAction.SetIpv6Src(V6), FlowAction.SetIpv6Dst(V6), FlowAction.SetIpv6Flabel(0x12345),
                         FlowAction.SetIcmpType(3), FlowAction.SetIcmpCode(1), FlowAction.SetIcmpType(135, icmpv6: true),
                         FlowAction.SetIcmpCode(0, icmpv6: true), FlowAction.SetArpOp(2), FlowAction.SetArpSpa(0x0A000001),
                         FlowAction.SetArpTpa(0x0A000002), FlowAction.SetArpSha(Mac), FlowAction.SetArpTha(Mac), FlowAction.SetNdTarget(V6),
                         FlowAction.SetNdSll(Mac), FlowAction.SetNdTll(Mac), FlowAction.SetMplsLabel(17), FlowAction.SetMplsTc(5),
                         FlowAction.SetMplsBos(1), FlowAction.SetPbbIsid(0x123456), FlowAction.SetEthType(0x0800), FlowAction.SetIpProto(17),
                         FlowAction.SetNwTtl(64).WrittenAs(OfAction.LoadFormNxSetField), FlowAction.SetNwTos(0x20).WrittenAs(OfAction.LoadFormNxSetField)] },
        { "openflow11+", [FlowAction.PushVlan(0x8100), FlowAction.PushMpls(0x8847), FlowAction.PopMpls(0x0800), FlowAction.PushPbb(),
                          FlowAction.PopPbb(), FlowAction.SetMplsTtl(9), FlowAction.DecMplsTtl(), FlowAction.SetNwTtl(7), FlowAction.DecNwTtl(),
                          FlowAction.DecNwTtl([1, 2]), FlowAction.CopyTtlOut(), FlowAction.CopyTtlIn(), FlowAction.SetQueue(3), FlowAction.Group(5)] },
        { "nicira", [FlowAction.Resubmit(2), FlowAction.Resubmit(0xff, 3), FlowAction.Resubmit(4, 1), FlowAction.Conjunction(7, 1, 3),
                     FlowAction.Multipath(new FieldRef(PipelineField.Reg0, 0, 16), 1, 50, 2, 3, 7), FlowAction.Exit()] },
        { "registers", [FlowAction.FieldLoad(new FieldRef(PipelineField.Reg0, 0, 16), 0x1234, OfAction.LoadFormRegLoad),
                        FlowAction.FieldLoad(new FieldRef(PipelineField.XXReg0 + 1, 0, 128), UInt128.MaxValue - 5, OfAction.LoadFormRegLoad),
                        FlowAction.FieldMove(new FieldRef(PipelineField.Reg0, 0, 32), new FieldRef(PipelineField.Reg0 + 1, 0, 32)),
                        FlowAction.FieldMove(new FieldRef(PipelineField.EthSrc, 0, 48), new FieldRef(PipelineField.EthDst, 0, 48)),
                        FlowAction.OutputField(new FieldRef(PipelineField.Reg0 + 2, 0, 16)),
                        FlowAction.OutputField(new FieldRef(PipelineField.Reg0 + 3, 0, 32), 100)] },
        { "loads", [FlowAction.SetNwDst(0x0A000009).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetDlDst(Mac).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetTpSrc(53, 17).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetTpDst(8080, 6).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetTpDst(9, 132).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetTunnel(5).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetNwTos(0x20).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetNwTos(0x28).WrittenAs(OfAction.LoadFormRegLoad | OfAction.LoadFormOxmName),
                    FlowAction.SetNwTtl(64).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetIpEcn(1).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetIpv6Src(V6).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetNdTarget(V6).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetIpv6Flabel(5).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetIcmpType(3).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetIcmpCode(1, icmpv6: true).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetArpOp(2).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetArpSha(Mac).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetNdSll(Mac).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetVlanPcp(3).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetMplsLabel(5).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetMplsTc(2).WrittenAs(OfAction.LoadFormRegLoad), FlowAction.SetMplsBos(1).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.SetPbbIsid(7).WrittenAs(OfAction.LoadFormRegLoad),
                    FlowAction.FieldLoad(new FieldRef(PipelineField.VlanTci, 0, 16), 0x1005, OfAction.LoadFormRegLoad),
                    FlowAction.FieldLoad(new FieldRef(PipelineField.VlanVid, 0, 12), 6, OfAction.LoadFormRegLoad),
                    FlowAction.FieldLoad(new FieldRef(PipelineField.Ipv4Dst, 0, 8), 9, OfAction.LoadFormRegLoad),
                    FlowAction.FieldLoad(new FieldRef(PipelineField.Ipv6Src, 0, 64), 1, OfAction.LoadFormRegLoad),
                    FlowAction.Output(2)] },
    };

    [Theory]
    [MemberData(nameof(Lists))]
    public void TheDumpedList_ReadsBackToTheSameActions(string what, FlowAction[] items)
    {
        string text = FlowFormat.Actions(new FlowActions(items));
        Assert.True(OfctlFlowParser.TryParseActions(text, out var back, out var error), $"{what}: {text}: {error}");
        Assert.Equal(text, FlowFormat.Actions(back));
        Assert.Equal(items, back.Items);
    }

    [Theory]
    [InlineData("load:0x10000->NXM_NX_REG0[0..15]", "does not fit")]
    [InlineData("load:0x1->NXM_NX_REG0[5..40]", "bad range")]
    [InlineData("load:0x1->NXM_NX_BOGUS[]", "unknown field")]
    [InlineData("load:0x1->NXM_OF_IN_PORT[]", "not writable")]
    [InlineData("load:0x1->NXM_NX_ND_TARGET[0..63],output:1", "[64..127]")]
    [InlineData("move:NXM_NX_REG0[0..7]->NXM_NX_REG1[0..15]", "widths differ")]
    [InlineData("set_field:300->nw_ttl", "out of range")]
    [InlineData("set_field:1->bogus_field", "unknown field")]
    [InlineData("conjunction(1,3/2)", "conjunction")]
    [InlineData("resubmit(,)", "resubmit")]
    [InlineData("multipath(eth_src,50,modulo_n,300,0,NXM_NX_REG0[0..7])", "multipath")]
    public void BadFieldActions_AreRefusedWithTheReason(string text, string expected)
    {
        Assert.False(OfctlFlowParser.TryParseActions(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
