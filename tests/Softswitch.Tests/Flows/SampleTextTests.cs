using Softswitch.Flows;

namespace Softswitch.Tests.Flows;

/// <summary>
/// sample(...) in ovs-ofctl's syntax both ways: read as Open vSwitch's parse_SAMPLE reads it (with its error words) and
/// printed back as format_SAMPLE prints it.
/// </summary>
public sealed class SampleTextTests
{
    [Theory]
    [InlineData("sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3)", "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3)")]
    [InlineData("sample(probability=12)", "sample(probability=12,collector_set_id=0,obs_domain_id=0,obs_point_id=0)")]
    [InlineData("sample(obs_point_id=4294967295,probability=1,sampling_port=LOCAL,ingress)", "sample(probability=1,collector_set_id=0,obs_domain_id=0,obs_point_id=4294967295,sampling_port=LOCAL,ingress)")]
    [InlineData("sample(probability=100,collector_set_id=7,obs_domain_id=8,obs_point_id=9,sampling_port=2,egress)", "sample(probability=100,collector_set_id=7,obs_domain_id=8,obs_point_id=9,sampling_port=2,egress)")]
    public void ReadsAndPrintsAsOpenVswitch(string text, string printed)
    {
        Assert.True(OfctlFlowParser.TryParseActions(text + ",output:9", out var actions, out var error), error);
        Assert.Equal(printed + ",output:9", FlowFormat.Actions(actions));
    }

    [Theory]
    [InlineData("sample(probability=0,collector_set_id=1)", "invalid probability value \"0\"")]
    [InlineData("sample(collector_set_id=1)", "non-zero \"probability\" must be specified on sample")]
    [InlineData("sample(probability=70000)", "invalid probability \"70000\"")]
    [InlineData("sample(probability=1,collector_set_id=x)", "invalid numeric format x")]
    [InlineData("sample(probability=1,sampling_port=zz)", "zz: unknown port")]
    [InlineData("sample(probability=1,color=red)", "invalid key \"color\" in \"sample\" argument")]
    public void BadText_GetsOpenVswitchsWords(string text, string expected)
    {
        Assert.False(OfctlFlowParser.TryParseActions(text, out _, out var error));
        Assert.Equal(expected, error);
    }
}
