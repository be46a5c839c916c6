using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// OpenFlow 1.0's flow-mod flags as the model's: its own bits, and RESET_COUNTS on every ADD (a 1.0 add always starts
/// its counters afresh), as Open vSwitch's ofputil_decode_flow_mod_flags sets it for 1.0 and 1.1; no other command gets it.
/// </summary>
public sealed class FlowModFlagsTests
{
    [Theory]
    [InlineData(FlowModCommand.Add, FlowModFlags.SendFlowRemoved | FlowModFlags.CheckOverlap | FlowModFlags.ResetCounts)]
    [InlineData(FlowModCommand.Modify, FlowModFlags.SendFlowRemoved | FlowModFlags.CheckOverlap)]
    [InlineData(FlowModCommand.ModifyStrict, FlowModFlags.SendFlowRemoved | FlowModFlags.CheckOverlap)]
    [InlineData(FlowModCommand.Delete, FlowModFlags.SendFlowRemoved | FlowModFlags.CheckOverlap)]
    [InlineData(FlowModCommand.DeleteStrict, FlowModFlags.SendFlowRemoved | FlowModFlags.CheckOverlap)]
    public void AnAddCarriesResetCounts_NoOtherCommandDoes(FlowModCommand command, FlowModFlags expected)
    {
        Assert.Equal(expected, FlowModTranslator.FlagsOf(OfpFlowModFlags.SendFlowRem | OfpFlowModFlags.CheckOverlap, command));
        var fm = new OfpFlowModFields(OfpMatch.All, 0, default, 0, 0, 1, OfpConstants.NoBuffer, (ushort)OfpPort.None, OfpFlowModFlags.None);
        Assert.Equal(command == FlowModCommand.Add ? FlowModFlags.ResetCounts : FlowModFlags.None,
                     FlowModTranslator.ToRequest(fm, command, ReadOnlyMemory<OfAction>.Empty).Flags);
    }
}
