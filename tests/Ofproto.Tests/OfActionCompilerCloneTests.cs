using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// A clone compiles to its marker and its actions, flat (the marker counts them), nested clones too, and reads back as
/// the clone it was; its actions are checked as the list's (a bad port refused); a conjunction in it is refused.
/// </summary>
public sealed class OfActionCompilerCloneTests
{
    [Fact]
    public void AClone_CompilesFlat_AndReadsBack()
    {
        var ports = new PortTable([], null);
        OfAction[] list =
        [
            OfAction.CloneOf([OfAction.SetEthDst(0x0200_0000_0003), OfAction.CloneOf([OfAction.PopVlan(), OfAction.Output(OfPort.Flood)]), OfAction.Output(OfPort.InPort)]),
            OfAction.Output(OfPort.Flood),
        ];
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(list, ports, ActionContext.FlowMod, 1, out var compiled));
        Assert.Equal(
            [ActionKind.Clone, ActionKind.SetDlDst, ActionKind.Clone, ActionKind.StripVlan, ActionKind.Output, ActionKind.Output, ActionKind.Output],
            compiled.Items.Select(a => a.Kind).ToArray());
        Assert.Equal(5u, compiled.Items[0].QueueId);
        Assert.Equal(2u, compiled.Items[2].QueueId);
        Assert.True(compiled.NeedsWalk);
        var back = new OfAction[compiled.Count];
        int n = OfActionCompiler.ToOfActions(compiled, back);
        Assert.Equal(list, back[..n]);
    }

    [Fact]
    public void TheClonesActions_AreCheckedAsTheLists()
    {
        var ports = new PortTable([], null);
        Assert.Equal(OfError.BadOutPort, OfActionCompiler.TryCompile([OfAction.CloneOf([OfAction.Output(77)])], ports, ActionContext.FlowMod, 1, out _));
        Assert.Equal(OfError.BadConjunction, OfActionCompiler.TryCompile([OfAction.CloneOf([OfAction.Conjunction(1, 0, 2)])], ports, ActionContext.FlowMod, 1, out _));
        // In a packet-out an exit in the clone ends the clone and the list.
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile([OfAction.CloneOf([OfAction.Output(OfPort.InPort), OfAction.Exit(), OfAction.Output(OfPort.Flood)]), OfAction.Output(OfPort.Flood)],
                                                               ports, ActionContext.PacketOut, 1, out var po));
        Assert.Equal([FlowAction.CloneOf(1), FlowAction.Output(PortNumber.InPort)], po.Items);
    }
}
