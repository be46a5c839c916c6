using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>The OpenFlow 1.1+ actions through <see cref="OfActionCompiler"/>: range checks and the way back.</summary>
public class OfActionCompilerOfp13Tests
{
    private static readonly PortTable NoPorts = new([], null);

    private static OfError Compile(OfAction a, out FlowActions result)
        => OfActionCompiler.TryCompile([a], NoPorts, ActionContext.FlowMod, 8, out result);

    public static TheoryData<OfAction> Refused => new()
    {
        OfAction.PushVlan(0x0800), OfAction.PushMpls(0x0800), OfAction.PushPbb(0x8100), OfAction.PopMpls(0x0005),
        OfAction.SetMplsLabel(0x100000), OfAction.SetMplsTc(8), OfAction.SetMplsBos(2), OfAction.SetIpEcn(4),
        OfAction.SetIpv6Flabel(0x100000), OfAction.SetPbbIsid(0x1000000), OfAction.SetArpSha(1UL << 48),
        new(OfActionType.SetEthType, Value: 0x10000), new(OfActionType.SetIpProto, Value: 0x100),
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void ValuesNoPacketCanTakeAreBadArguments(OfAction a) => Assert.Equal(OfError.BadArgument, Compile(a, out _));

    [Fact]
    public void SetQueueBeyondThePortsQueuesIsBadQueue() => Assert.Equal(OfError.BadQueue, Compile(OfAction.SetQueue(8), out _));

    public static TheoryData<OfAction> Accepted => new()
    {
        OfAction.SetIpEcn(3), OfAction.SetIpv6Src(UInt128.MaxValue - 5), OfAction.SetIpv6Dst(1), OfAction.SetIpv6Flabel(0xFFFFF),
        OfAction.SetIcmpType(135), OfAction.SetIcmpCode(1), OfAction.SetArpOp(2), OfAction.SetArpSpa(0x0A000001), OfAction.SetArpTpa(2),
        OfAction.SetArpSha(0x0200_0000_0001), OfAction.SetArpTha(3), OfAction.SetNdTarget(UInt128.One << 100), OfAction.SetNdSll(4),
        OfAction.SetNdTll(5), OfAction.SetMplsLabel(0xFFFFF), OfAction.SetMplsTc(7), OfAction.SetMplsBos(1), OfAction.SetPbbIsid(0xFFFFFF),
        OfAction.PushVlan(0x8100), OfAction.PushVlan(0x88A8), OfAction.PushMpls(0x8847), OfAction.PushMpls(0x8848), OfAction.PopMpls(0x0800),
        OfAction.PushPbb(), OfAction.PopPbb(), OfAction.SetMplsTtl(9), OfAction.DecMplsTtl(), OfAction.SetNwTtl(1), OfAction.DecNwTtl(),
        OfAction.CopyTtlOut(), OfAction.CopyTtlIn(), OfAction.SetQueue(7), OfAction.Group(42), OfAction.SetEthType(0x86DD),
        OfAction.SetIpProto(17),
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void CompilesAndComesBackTheSame(OfAction a)
    {
        Assert.Equal(OfError.None, Compile(a, out var result));
        var item = Assert.Single(result.Items);
        Assert.Equal(a, OfActionCompiler.ToOfAction(item));
    }

    public static TheoryData<OfAction> FieldSets => new()
    {
        OfAction.SetEthDst(0x0200_0000_0009), OfAction.SetNwDst(0x0A000001), OfAction.SetTpDst(8080, 6), OfAction.SetTpSrc(53, 17),
        OfAction.SetTunnel(5), OfAction.SetNwTtl(64), OfAction.SetNwTos(0x20), OfAction.SetIpv6Src(UInt128.MaxValue - 5), OfAction.SetIpEcn(1),
    };

    /// <summary>
    /// A field set written as a load keeps that form through the datapath's list and back (what flow statistics read),
    /// and the form is all that differs from the set-field: the same kind and value, the same rewrite.
    /// </summary>
    [Theory]
    [MemberData(nameof(FieldSets))]
    public void AFieldSetWrittenAsALoad_KeepsItsFormBothWays_AndDoesWhatTheSetFieldDoes(OfAction set)
    {
        foreach (byte form in new[] { OfAction.LoadFormRegLoad, OfAction.LoadFormRegLoad2 })
        {
            var loaded = set.WrittenAs(form);
            Assert.Equal(form, loaded.SetFieldForm);
            Assert.NotEqual(set, loaded);
            Assert.Equal(OfError.None, Compile(loaded, out var result));
            var item = Assert.Single(result.Items);
            Assert.Equal(form, item.SetFieldForm);
            Assert.Equal(loaded, OfActionCompiler.ToOfAction(item));
            Assert.Equal(OfError.None, Compile(set, out var plain));
            var p = Assert.Single(plain.Items);
            Assert.Equal(0, p.SetFieldForm);
            Assert.Equal((p.Kind, p.Port, p.MaxLen, p.Value, p.Value2), (item.Kind, item.Port, item.MaxLen, item.Value, item.Value2));
            Assert.Equal(p, item.WrittenAs(0));
        }
        // Only field sets take a form.
        Assert.Equal(OfAction.SetQueue(7), OfAction.SetQueue(7).WrittenAs(OfAction.LoadFormRegLoad));
        Assert.Equal(0, OfAction.Enqueue(1, 0x300).SetFieldForm);
    }

    [Fact]
    public void OnlyPacketRewritesMakeEarlierOutputsCopy()
    {
        var list = new FlowActions([FlowAction.Output(1), FlowAction.SetQueue(1), FlowAction.Group(1), FlowAction.Output(2), FlowAction.DecNwTtl()]);
        Assert.True(list.ModifiedAfter[0]);
        Assert.True(list.ModifiedAfter[3]);
        Assert.False(list.ModifiedAfter[4]);
        var noRewrite = new FlowActions([FlowAction.Output(1), FlowAction.SetQueue(1), FlowAction.Group(1), FlowAction.Output(2)]);
        Assert.False(noRewrite.ModifiedAfter[0]);
        Assert.Equal(PortNumber.Controller, FlowAction.Output(PortNumber.Controller).Port);
    }
}
