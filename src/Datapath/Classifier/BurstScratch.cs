namespace Softswitch.Datapath.Classifier;

/// <summary>
/// A thread's scratch for the classifier's burst lookups (at most 64 keys a burst): the exact-match cache's candidate
/// slots, the exact stage's per-key hashes and slots, and the tuple space's per-key hashes and best priorities.
/// </summary>
/// <remarks>
/// Arrays rather than <c>stackalloc</c>: the runtime compiles a method that has loops and a <c>stackalloc</c> fully
/// optimised at its first call, so without the profile that tiered PGO gathers (perf's map names such code
/// <c>[Optimized]</c>, not <c>[OptimizedTier1]</c>). A lookup uses its thread's instance and finishes with it before
/// returning, and the cache, the exact table and the tuple space use separate arrays, so the stages of one burst never
/// share one.
/// </remarks>
internal sealed class BurstScratch
{
    [ThreadStatic] private static BurstScratch? s_scratch;

    public readonly long[] CacheSlots = new long[64];
    public readonly uint[] ExactHashes = new uint[64];
    public readonly int[] ExactSlots = new int[64];
    public readonly uint[] TupleHashes = new uint[64];
    public readonly int[] TupleBest = new int[64];

    /// <summary>The calling thread's scratch (made at its first burst).</summary>
    public static BurstScratch ForThread => s_scratch ??= new BurstScratch();
}
