using System.Diagnostics;

namespace Softswitch.TestKit;

/// <summary>Polling for a condition another thread makes true, with a deadline (never a timing assertion).</summary>
public static class Wait
{
    /// <summary>
    /// True once <paramref name="condition"/> holds, false if it still does not after <paramref name="ms"/> milliseconds;
    /// asked every <paramref name="everyMs"/> milliseconds (a condition that runs a tool, ovs-vsctl or ip, is asked
    /// less often than one that reads a field).
    /// </summary>
    public static bool Until(Func<bool> condition, int ms = 5000, int everyMs = 5)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > ms) return false;
            Thread.Sleep(everyMs);
        }
        return true;
    }

    /// <summary>As <see cref="Until"/>, without blocking a thread.</summary>
    public static async Task<bool> UntilAsync(Func<bool> condition, int ms = 5000)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > ms) return false;
            await Task.Delay(10);
        }
        return true;
    }
}
