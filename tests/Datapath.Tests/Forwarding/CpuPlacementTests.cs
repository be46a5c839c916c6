using Softswitch.Datapath.Forwarding;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

public sealed class CpuPlacementTests
{
    [Theory]
    [InlineData("1", new[] { 1 })]
    [InlineData("2-3", new[] { 2, 3 })]
    [InlineData("1,3,5-7", new[] { 1, 3, 5, 6, 7 })]
    [InlineData(" 0 , 2-2 ,0", new[] { 0, 2 })]
    [InlineData("1023", new[] { 1023 })]
    public void ACpuList_IsWhatTasksetMeans(string text, int[] expected)
    {
        Assert.True(CpuPlacement.TryParseList(text, out var cpus, out var error), error);
        Assert.Equal(expected, cpus);
    }

    [Theory]
    [InlineData("", "want CPU numbers and ranges")]
    [InlineData("a", "want CPU numbers and ranges")]
    [InlineData("1,", "want CPU numbers and ranges")]
    [InlineData("-1", "want CPU numbers and ranges")]
    [InlineData("3-1", "the range 3-1 runs backwards")]
    [InlineData("1024", "CPU 1024 is beyond 1023")]
    [InlineData("0x3", "want CPU numbers and ranges")]
    public void ABadList_SaysWhy(string text, string why)
    {
        Assert.False(CpuPlacement.TryParseList(text, out _, out var error));
        Assert.Contains(why, error);
    }

    [Fact]
    public void Format_JoinsRanges()
    {
        Assert.Equal("0,2-4,7", CpuPlacement.Format([4, 2, 3, 0, 7, 3]));
        Assert.Equal("", CpuPlacement.Format([]));
    }

    [CpuPlacementFact]
    public void AThreadPinned_RunsOnItsCpuAlone_AndOthersKeepTheirs()
    {
        var before = CpuPlacement.Allowed();
        int cpu = before[^1];
        string error = "";
        int[] seen = [];
        var t = new Thread(() =>
        {
            if (CpuPlacement.PinCurrentThread(cpu, out error)) seen = CpuPlacement.Allowed();
        });
        t.Start();
        t.Join();
        Assert.True(error.Length == 0, error);
        Assert.Equal([cpu], seen);
        Assert.Equal(before, CpuPlacement.Allowed());
    }
}
