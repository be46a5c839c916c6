using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;

namespace Softswitch.Tests.Control;

/// <summary>dpif-netdev/pmd-rxq-show and pmd-rxq-rebalance as `softswitch ctl` and ovs-appctl call them: arguments as
/// Open vSwitch takes them ([-pmd CORE] [DP]), its replies, and a clear error for anything else.</summary>
public sealed class PmdCommandsTests
{
    private static SwitchDatapath TwoThreads()
    {
        var dp = new SwitchDatapath(new DatapathOptions { Threads = 2, PacketInRate = 0 });
        dp.AddPort(new MemoryPort("a", new MacAddress(0x0200_0000_0001UL)), 1);
        dp.AddPort(new MemoryPort("b", new MacAddress(0x0200_0000_0002UL)), 2);
        return dp;
    }

    [Fact]
    public void Show_ListsEachThreadsQueues_OrOneThreadsWithPmd()
    {
        using var dp = TwoThreads();
        var all = PmdCommands.Show(dp.Balancer, []);
        Assert.True(all.Ok, all.Text);
        Assert.Equal(dp.Balancer.Show(), all.Text);
        Assert.Contains("pmd thread numa_id 0 core_id 0:\n  isolated : false\n  port: a ", all.Text);
        Assert.Contains("pmd thread numa_id 0 core_id 1:\n  isolated : false\n  port: b ", all.Text);
        var one = PmdCommands.Show(dp.Balancer, ["-pmd", "1", "ovs-netdev"]);
        Assert.True(one.Ok, one.Text);
        Assert.StartsWith("pmd thread numa_id 0 core_id 1:", one.Text);
        Assert.DoesNotContain("core_id 0", one.Text);
        Assert.True(PmdCommands.Show(dp.Balancer, ["netdev@ovs-netdev"]).Ok);
    }

    [Theory]
    [InlineData("-pmd")]
    [InlineData("-pmd", "x")]
    [InlineData("br0")]
    public void Show_RefusesWhatOpenVswitchRefuses(params string[] args)
    {
        using var dp = TwoThreads();
        var reply = PmdCommands.Show(dp.Balancer, args);
        Assert.False(reply.Ok);
        Assert.NotEmpty(reply.Text);
    }

    [Fact]
    public void Rebalance_AnswersAsOpenVswitch_AndCountsTheRebalance()
    {
        using var dp = TwoThreads();
        var reply = PmdCommands.Rebalance(dp.Balancer, []);
        Assert.True(reply.Ok);
        Assert.Equal("pmd rxq rebalance requested.\n", reply.Text);
        Assert.Equal(1, dp.Balancer.Rebalances);
        Assert.Equal(PmdCommands.NoDatapath, PmdCommands.Rebalance(dp.Balancer, ["nope"]).Text);
        Assert.Equal(PmdCommands.NoDatapath, PmdCommands.Rebalance(null, []).Text);
    }
}
