using Softswitch.Datapath.Actions;
using Softswitch.Flows;

namespace Softswitch.Tests.Flows;

/// <summary>clone(...) in ovs-ofctl's syntax both ways: read as its marker and its actions, printed back the same, nested too.</summary>
public sealed class CloneTextTests
{
    [Theory]
    [InlineData("clone(mod_dl_dst:00:00:00:00:00:03,output:2),output:3")]
    [InlineData("clone(strip_vlan,clone(mod_vlan_vid:5,output:1),output:2),clone(),output:3")]
    public void ACloneReadsAndPrintsBackTheSame(string text)
    {
        Assert.True(OfctlFlowParser.TryParseActions(text, out var actions, out var error), error);
        Assert.Equal(ActionKind.Clone, actions.Items[0].Kind);
        Assert.Equal(text, FlowFormat.Actions(actions));
    }

    [Fact]
    public void ACloneCountsItsActions()
    {
        Assert.True(OfctlFlowParser.TryParseActions("clone(strip_vlan,output:1),output:2", out var actions, out var error), error);
        Assert.Equal([FlowAction.CloneOf(2), FlowAction.StripVlan(), FlowAction.Output(1), FlowAction.Output(2)], actions.Items);
        Assert.False(OfctlFlowParser.TryParseActions("clone(bogus),output:2", out _, out error));
        Assert.Contains("bogus", error, StringComparison.Ordinal);
    }
}
