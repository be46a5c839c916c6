namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Decides, per forwarding thread, whether bursts consult the exact-match cache: when the working set is much larger
/// than the cache, probing it costs more than it saves (every miss pays for the probe and an insertion attempt).
/// </summary>
/// <remarks>
/// <para>Sampling: the hit rate is measured over windows of <see cref="WindowPackets"/> packets that consulted the
/// cache. A window below <see cref="MinHitRate"/>, or below <see cref="MinHitRateExact"/> while nearly all its packets
/// were won by exact rules (whose table lookup costs about what a cache lookup does, so only a high hit rate pays for
/// the cache), or any window nearly all of whose packets were won by exact rules of a table whose hash stage answers
/// alone (<see cref="Classifier.FlowTable.ExactAnswersAlone"/>: its record is one probe of one prefetched line, and the action
/// list is read by the record's id, so a cache hit, which still reads and validates the rule's entry, saves nothing and
/// its probe is extra: docs/datapath.md, "When the cache is consulted"), starts a bypass: the next <c><see cref="BaseBypassPackets"/> &lt;&lt; backoff</c> packets are classified
/// without the cache, then a window is sampled again. Each low window that follows a bypass doubles the next bypass,
/// up to <c>2^<see cref="MaxBackoffShift"/></c> times the base (so a table the cache cannot serve is sampled for
/// about 0.1% of its packets, not 6%); a window at or above the threshold resets the backoff. So does a change of the
/// table that may change the working set: another lookup table, or its rule count moving by a quarter or more since
/// the backoff began (the remaining bypass is then cut to the base length).</para>
/// <para>Counts only packets, never time, so it is deterministic. <see cref="ConsultedPackets"/> and
/// <see cref="BypassedPackets"/> tell which share of the classified packets the cache's hit rate describes.</para>
/// <para>Thread safety: owned by one forwarding thread; the counts are read racily (monotonic longs) by statistics.</para>
/// </remarks>
public sealed class EmcGovernor
{
    public const int WindowPackets = 16_384;
    public const long BaseBypassPackets = 262_144;
    public const int MaxBackoffShift = 6;
    public const double MinHitRate = 0.5, MinHitRateExact = 0.8, ExactDominated = 0.9;

    private long _bypassLeft;
    private int _backoffShift;
    private long _window, _windowHits0, _windowLookups0, _windowWildcardWins;
    private object? _backoffTable;
    private long _backoffRules;
    private long _consulted, _bypassed, _bypasses;

    /// <summary>Whether the next burst consults the cache.</summary>
    public bool Active => _bypassLeft == 0;

    /// <summary>Packets that consulted the cache.</summary>
    public long ConsultedPackets => Volatile.Read(ref _consulted);

    /// <summary>Packets classified without the cache while it was bypassed.</summary>
    public long BypassedPackets => Volatile.Read(ref _bypassed);

    /// <summary>Bypasses started.</summary>
    public long Bypasses => Volatile.Read(ref _bypasses);

    /// <summary>The current backoff: the next bypass lasts <see cref="BaseBypassPackets"/> shifted left by this.</summary>
    public int BackoffShift => _backoffShift;

    /// <summary>Packets left in the current bypass (0: the cache is consulted).</summary>
    public long BypassRemaining => _bypassLeft;

    /// <summary>
    /// A burst of <paramref name="packets"/> consulted the cache. <paramref name="cacheHits"/> and
    /// <paramref name="cacheLookups"/> are the cache's running totals, <paramref name="wildcardWins"/> the packets
    /// won by wildcard rules since the last call, <paramref name="table"/> and <paramref name="tableRules"/> the lookup
    /// table and its rule count, <paramref name="exactAlone"/> whether the table's hash stage answers alone
    /// (<see cref="Classifier.FlowTable.ExactAnswersAlone"/>; false for a multi-stage pipeline, whose cached verdicts save its
    /// walk). Returns true when this burst closed a low window and a bypass began.
    /// </summary>
    public bool Consulted(int packets, long cacheHits, long cacheLookups, long wildcardWins, object table, long tableRules, bool exactAlone = false)
    {
        Volatile.Write(ref _consulted, _consulted + packets);
        _windowWildcardWins += wildcardWins;
        if ((_window += packets) < WindowPackets) return false;
        long dh = cacheHits - _windowHits0, dl = cacheLookups - _windowLookups0;
        long wild = _windowWildcardWins;
        StartWindow(cacheHits, cacheLookups);
        bool exactDominated = wild < dl * (1 - ExactDominated);
        double minRate = exactDominated ? MinHitRateExact : MinHitRate;
        if (dl <= 0 || (dh >= dl * minRate && !(exactDominated && exactAlone)))
        {
            _backoffShift = 0;
            _backoffTable = null;
            return false;
        }
        if (_backoffTable is null || !ReferenceEquals(_backoffTable, table))
        {
            _backoffShift = 0;
            _backoffTable = table;
            _backoffRules = tableRules;
        }
        _bypassLeft = BaseBypassPackets << _backoffShift;
        if (_backoffShift < MaxBackoffShift) _backoffShift++;
        Volatile.Write(ref _bypasses, _bypasses + 1);
        return true;
    }

    /// <summary>
    /// A burst of <paramref name="packets"/> was classified without the cache (<see cref="Active"/> was false);
    /// <paramref name="cacheHits"/> and <paramref name="cacheLookups"/> as in <see cref="Consulted"/>.
    /// </summary>
    public void Bypassed(int packets, long cacheHits, long cacheLookups, object table, long tableRules)
    {
        Volatile.Write(ref _bypassed, _bypassed + packets);
        if (!ReferenceEquals(table, _backoffTable) || Math.Abs(tableRules - _backoffRules) * 4 >= Math.Max(_backoffRules, 1))
        {
            // The table changed enough that the cache may serve it now: forget the backoff, sample soon.
            _backoffShift = 0;
            _backoffTable = null;
            if (_bypassLeft > BaseBypassPackets) _bypassLeft = BaseBypassPackets;
        }
        if ((_bypassLeft -= packets) > 0) return;
        _bypassLeft = 0;
        StartWindow(cacheHits, cacheLookups);
    }

    private void StartWindow(long cacheHits, long cacheLookups)
    {
        _windowHits0 = cacheHits;
        _windowLookups0 = cacheLookups;
        _window = 0;
        _windowWildcardWins = 0;
    }
}
