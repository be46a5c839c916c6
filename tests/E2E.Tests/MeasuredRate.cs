namespace Softswitch.E2E.Tests;

/// <summary>
/// Rates measured between two counter readings that each take a while (a process reads them): the window runs from
/// the middle of one reading to the middle of the other, and is uncertain by half of each reading's span.
/// </summary>
internal static class MeasuredRate
{
    /// <summary>Asserts a rate measured over a window of relative uncertainty <paramref name="u"/> is in [lo, hi], widened by it.</summary>
    public static void Within(double rate, double lo, double hi, double u)
    {
        Assert.True(u < 0.1, $"the counters took too long to read (the window is uncertain by {u:P1})");
        Assert.InRange(rate, lo * (1 - u), hi * (1 + u));
    }
}
