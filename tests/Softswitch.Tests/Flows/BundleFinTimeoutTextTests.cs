using Softswitch.Datapath.Actions;
using Softswitch.Flows;

namespace Softswitch.Tests.Flows;

/// <summary>
/// bundle(...), bundle_load(...) and fin_timeout(...) in ovs-ofctl's syntax both ways: read as Open vSwitch's
/// bundle_parse and parse_FIN_TIMEOUT read them (with their error words, bundle.at's and ofp-actions.at's) and printed
/// back as bundle_format and format_FIN_TIMEOUT print them.
/// </summary>
public sealed class BundleFinTimeoutTextTests
{
    [Theory]
    [InlineData("bundle(eth_src,0,hrw,ofport,members:4,8)", "bundle(eth_src,0,hrw,ofport,members:4,8)")]
    [InlineData("bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:4,8)", "bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:4,8)")]
    [InlineData("bundle(symmetric_l4,60,active_backup,ofport,slaves:1,LOCAL,IN_PORT)", "bundle(symmetric_l4,60,active_backup,ofport,members:1,LOCAL,IN_PORT)")]
    [InlineData("bundle_load(symmetric_l3l4+udp,7,hrw,ofport,reg3[0..15],members:[1,2,3])", "bundle_load(symmetric_l3l4+udp,7,hrw,ofport,NXM_NX_REG3[0..15],members:1,2,3)")]
    [InlineData("bundle(nw_src,1,hrw,ofport,members:)", "bundle(nw_src,1,hrw,ofport,members:)")]
    [InlineData("fin_timeout(idle_timeout=10,hard_timeout=20)", "fin_timeout(idle_timeout=10,hard_timeout=20)")]
    [InlineData("fin_timeout(hard_timeout=5)", "fin_timeout(hard_timeout=5)")]
    [InlineData("fin_timeout()", "fin_timeout()")]
    public void ReadsAndPrintsAsOpenVswitch(string text, string printed)
    {
        Assert.True(OfctlFlowParser.TryParseActions(text + ",output:9", out var actions, out var error), error);
        Assert.Equal(printed + ",output:9", FlowFormat.Actions(actions));
    }

    [Fact]
    public void ManyMembers_ReadBackInOrder()
    {
        string members = string.Join(',', Enumerable.Range(1, 40));
        Assert.True(OfctlFlowParser.TryParseActions($"bundle(symmetric_l4,0,hrw,ofport,members:[{members}])", out var actions, out var error), error);
        Assert.Equal($"bundle(symmetric_l4,0,hrw,ofport,members:{members})", FlowFormat.Actions(actions));
        var a = Assert.Single(actions.Items);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (ushort)i), BundleMembers.Get(a.BundleMembersId).ToArray());
    }

    [Theory]
    [InlineData("bundle(symmetric_l4,60,hrw,ofport,ports:1,2,3,4,5)", "symmetric_l4,60,hrw,ofport,ports:1,2,3,4,5: missing member delimiter, expected `members', got `ports'")]
    [InlineData("bundle(symmetric_l4,60,hrw,ofport,members:xyzzy,2,3,4,5)", "xyzzy: bad port number")]
    [InlineData("bundle(asymmetric_l4,60,hrw,ofport,members:1,2,3,4,5)", "asymmetric_l4,60,hrw,ofport,members:1,2,3,4,5: unknown fields `asymmetric_l4'")]
    [InlineData("bundle(symmetric_l4,60,hrt,ofport,members:1,2,3,4,5)", "symmetric_l4,60,hrt,ofport,members:1,2,3,4,5: unknown algorithm `hrt'")]
    [InlineData("bundle(symmetric_l4,60,hrw,odpport,members:1,2,3,4,5)", "symmetric_l4,60,hrw,odpport,members:1,2,3,4,5: unknown member_type `odpport'")]
    [InlineData("bundle()", ": not enough arguments to bundle action")]
    [InlineData("fin_timeout(foo=bar)", "invalid key 'foo' in 'fin_timeout' argument")]
    public void BadText_GetsOpenVswitchsWords(string text, string expected)
    {
        Assert.False(OfctlFlowParser.TryParseActions(text, out _, out var error));
        Assert.Equal(expected, error);
    }
}
