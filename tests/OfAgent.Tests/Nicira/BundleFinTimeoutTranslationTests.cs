using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Nicira;

/// <summary>
/// bundle(...), bundle_load(...) and fin_timeout(...) (NXAST_BUNDLE, NXAST_BUNDLE_LOAD, NXAST_FIN_TIMEOUT) in OpenFlow
/// 1.0 and 1.3: Open vSwitch's bytes (tests/ofp-actions.at) read as the model's actions and written back byte for byte;
/// refused as Open vSwitch refuses them: an unknown destination BAD_FIELD, a destination it cannot write
/// BAD_SET_ARGUMENT, in write-actions BAD_TYPE; in a packet-out or a group bucket taken as Open vSwitch takes them
/// (a bundle_load there into a packet field only: a register, metadata or tunnel id destination BAD_ARGUMENT).
/// </summary>
public sealed class BundleFinTimeoutTranslationTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // ofp-actions.at (1.0 and 1.1+ alike).
    private const string BundleVector = "ffff 0028 00002320 000c 0001 0000 0000 00000002 0002 0000 00000000 00000000 0004 0008 00000000";
    private const string BundleLoadVector = "ffff 0028 00002320 000d 0001 0000 0000 00000002 0002 001f 00010004 00000000 0004 0008 00000000";
    private const string FinTimeoutVector = "ffff 0010 00002320 0013 000a 0014 0000";

    public static TheoryData<string, OfAction> Vectors => new()
    {
        { BundleVector, OfAction.Bundle(0, 0, 1, [4, 8]) },
        { BundleLoadVector, OfAction.Bundle(0, 0, 1, [4, 8], new OfSubfield(OfField.Reg0, 0, 32)) },
        { FinTimeoutVector, OfAction.FinTimeout(10, 20) },
    };

    private static bool Decode10(string hex, out OfAction[] actions, out OfpError error)
    {
        actions = [];
        if (!OfpActions.TryDecode(Hex(hex), out List<OfpAction> list, out error)) return false;
        if (!Of10Actions.TryDecode(list, out var r, out error)) return false;
        actions = r.ToArray();
        return true;
    }

    private static bool Decode13(string hex, bool flowApply, out OfAction[] actions, out Ofp13Error error)
    {
        actions = [];
        var list = new List<Ofp13Action>();
        return Ofp13Actions.TryDecode(Hex(hex), list, out error) && Of13Actions.TryToOf(list.ToArray(), flowApply, out actions, out error);
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void BothVersions_ReadTheVector_AndWriteItBackByteForByte(string vector, OfAction expected)
    {
        Assert.True(Decode10(vector, out var a10, out var e10), e10.ToString());
        Assert.Equal(expected, Assert.Single(a10));
        var back10 = Of10Actions.ToOfp([expected]);
        var bytes = new byte[OfpActions.GetEncodedSize(back10)];
        OfpActions.Encode(back10, bytes);
        Assert.Equal(Convert.ToHexString(Hex(vector)), Convert.ToHexString(bytes));

        Assert.True(Decode13(vector, true, out var a13, out var e13), e13.ToString());
        Assert.Equal(expected, Assert.Single(a13));
        var back13 = new List<Ofp13Action>();
        Of13Actions.ToWire([expected], false, back13);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, back13.ToArray());
        Assert.Equal(Convert.ToHexString(Hex(vector)), Convert.ToHexString(w.ToArray()));
        Assert.True(Of13Actions.NotInActionSet([expected]));
        // Outside a flow's apply-actions (a packet-out, a bucket): taken too (the compiler checks a bundle_load's destination).
        Assert.True(Decode13(vector, false, out a13, out e13), e13.ToString());
        Assert.Equal(expected, Assert.Single(a13));
    }

    [Fact]
    public void BundleLoadDestinations_AreCheckedAsOpenVswitchChecksThem()
    {
        // An NXM header the switch does not know (class 1 field 120): BAD_FIELD (1.0: Open vSwitch's BAD_REQUEST 258).
        const string unknown = "ffff 0028 00002320 000d 0001 0000 0000 00000002 0002 001f 0001f004 00000000 0004 0008 00000000";
        Assert.False(Decode13(unknown, true, out _, out var e13));
        Assert.Equal(Ofp13Error.BadMatch(Ofp13Codes.MatchBadField), e13);
        Assert.False(Decode10(unknown, out _, out var e10));
        Assert.Equal(Of10Actions.BadField10, e10);
        // Into in_port (NXM_OF_IN_PORT[], 16 bits), which an action does not write: BAD_SET_ARGUMENT.
        Assert.False(Decode13("ffff 0028 00002320 000d 0001 0000 0000 00000002 0002 000f 00000002 00000000 0004 0008 00000000", true, out _, out e13));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), e13);
    }

    [Fact]
    public void TheCompiler_TakesThemInAFlowAPacketOutAndABucket_ABundleLoadOutsideAFlowIntoAPacketFieldOnly()
    {
        var ports = new Datapath.Ports.PortTable([], null);
        foreach (var a in new[] { OfAction.Bundle(6, 9, 0, [1, 0xfffe, 0xffff]), OfAction.Bundle(1, 2, 1, [3], new OfSubfield(OfField.EthDst, 8, 16)),
                                  OfAction.FinTimeout(0, 7) })
        {
            foreach (var context in new[] { ActionContext.FlowMod, ActionContext.PacketOut, ActionContext.GroupBucket })
            {
                Assert.Equal(OfError.None, OfActionCompiler.TryCompile([a], ports, context, 1, out var list));
                Assert.Equal(a, OfActionCompiler.ToOfAction(Assert.Single(list.Items)));
            }
        }
        foreach (var dst in new[] { new OfSubfield(OfField.Reg0 + 5, 8, 16), new OfSubfield(OfField.Metadata, 0, 16), new OfSubfield(OfField.TunId, 0, 16) })
        {
            var load = OfAction.Bundle(1, 2, 1, [3], dst);
            Assert.Equal(OfError.None, OfActionCompiler.TryCompile([load], ports, ActionContext.FlowMod, 1, out _));
            Assert.Equal(OfError.BadArgument, OfActionCompiler.TryCompile([load], ports, ActionContext.PacketOut, 1, out _));
            Assert.Equal(OfError.BadArgument, OfActionCompiler.TryCompile([load], ports, ActionContext.GroupBucket, 1, out _));
        }
        Assert.Equal(OfError.BadOutPort, OfActionCompiler.TryCompile([OfAction.Bundle(0, 0, 0, [0xfffd])], ports, ActionContext.FlowMod, 1, out _));
        Assert.Equal(OfError.BadArgument, OfActionCompiler.TryCompile([OfAction.Bundle(0, 0, 1, [1], new OfSubfield(OfField.Reg0 + 5, 8, 8))], ports,
                                                                      ActionContext.FlowMod, 1, out _));
    }
}
