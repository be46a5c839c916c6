namespace Softswitch.TestKit;

/// <summary>
/// Measures bytes allocated on the current thread by a hot-path loop in steady state. The runtime itself may
/// allocate on the measuring thread while the test's own loop is being tiered up (on-stack replacement), so a
/// round is repeated a few times and the smallest figure is the steady-state one; a hot path that really
/// allocates allocates in every round.
/// </summary>
public static class AllocationMeter
{
    public static long SteadyState(Action round, int rounds = 4)
    {
        long min = long.MaxValue;
        for (int r = 0; r < rounds && min != 0; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            round();
            min = Math.Min(min, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return min;
    }
}
