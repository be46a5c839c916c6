using Softswitch.Bench.Pps;

namespace Softswitch.Bench.Tests;

/// <summary>bench pps --pipeline mpls: table 0 pops the label, table 1 forwards by the inner ipv4_dst; every packet forwarded, none missed.</summary>
public sealed class PpsPipelineTests
{
    [Fact]
    public void TheMplsTerminationRowForwardsEveryPacketByItsInnerAddress()
    {
        var o = PpsOptions.Parse(["--flows", "200", "--seconds", "1", "--pipeline", "mpls"]);
        var r = PpsHarness.Measure(o, new StringWriter());
        Assert.True(r.Packets > 0);
        Assert.Equal(0, r.Misses);
        Assert.Equal(r.Packets, r.Forwarded);
    }
}
