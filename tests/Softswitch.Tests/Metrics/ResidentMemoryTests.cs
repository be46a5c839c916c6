using Softswitch.Metrics;

namespace Softswitch.Tests.Metrics;

/// <summary>memory/show's rss-bytes: /proc/self/statm read without building a Process object.</summary>
public sealed class ResidentMemoryTests
{
    [Fact]
    public void Statm_ResidentPages_AreTheSecondField()
    {
        Assert.True(ResidentMemory.TryParseStatmResident("123456 7890 321 1 0 4567 0\n"u8, out long pages));
        Assert.Equal(7890, pages);
        Assert.False(ResidentMemory.TryParseStatmResident("123456"u8, out _));
        Assert.False(ResidentMemory.TryParseStatmResident("123456 x"u8, out _));
        Assert.False(ResidentMemory.TryParseStatmResident(""u8, out _));
    }

    [Fact]
    public void Bytes_IsTheProcessRss_ReadWithoutAProcessObject()
    {
        long rss = ResidentMemory.Bytes(), runtime = Environment.WorkingSet;
        Assert.True(rss > 0);
        // Both are the kernel's RSS of this process, read a moment apart.
        Assert.InRange(rss, runtime / 2, runtime * 2);
        ResidentMemory.Bytes();
        long before = GC.GetAllocatedBytesForCurrentThread();
        ResidentMemory.Bytes();
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024, "a file handle at most");
    }
}
