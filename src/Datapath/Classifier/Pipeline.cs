namespace Softswitch.Datapath.Classifier;

/// <summary>
/// The datapath's classifiers: the tables its maintenance expires, the one forwarders look packets up in, and the
/// forwarders' lookup counters.
/// </summary>
/// <remarks>
/// <para>Table 0 is created with the pipeline and is where packets are classified. A policy layer may add tables
/// (<see cref="AddTable"/>) and have lookups of table 0 served by one of them for a while (<see cref="Redirect"/>,
/// e.g. a standby rule set); the maintenance expires every table's rules whether or not lookups use it. Only one
/// table is consulted per packet today. Further stages (a goto from one table to the next, with a metadata word in
/// the key to carry state between them) would add entries to the lookup array and an action that continues there;
/// nothing below the pipeline changes for that.</para>
/// <para>Thread safety: <see cref="LookupTable"/> is one volatile reference, read once per burst by forwarders. A
/// forwarder that sees it change clears its own exact-match cache (results of another table); besides, cache
/// versions never repeat across tables (see <see cref="FlowTable.CacheVersion"/>). Table registration and
/// redirection are serialised by a lock; the statistics registry by another.</para>
/// <para>Reclamation: every table of the pipeline shares one <see cref="QuiescentDomain"/>
/// (<see cref="Reclamation"/>), in which each forwarding thread registers as a reader and announces its quiescent
/// points (see <see cref="FlowTable.RecycleEntries"/>).</para>
/// </remarks>
public sealed class Pipeline
{
    private readonly Lock _lock = new();
    private readonly Flow.IClock _clock;
    private readonly QuiescentDomain _reclamation = new();
    private volatile FlowTable[] _tables;
    private volatile FlowTable _lookup;

    private readonly Lock _statsLock = new();
    private FlowTableThreadStats[] _threadStats = [];
    private long _retiredExactLookups, _retiredExactMatched, _retiredWildcardLookups, _retiredWildcardMatched;

    public Pipeline(Flow.IClock clock)
    {
        _clock = clock;
        var main = new FlowTable(clock, _reclamation);
        _tables = [main];
        _lookup = main;
    }

    /// <summary>The reclamation domain shared by every table of the pipeline and its forwarding threads.</summary>
    public QuiescentDomain Reclamation => _reclamation;

    /// <summary>Table <paramref name="id"/> (0: the one packets are classified in, unless redirected).</summary>
    public FlowTable Table(int id) => _tables[id];

    public int TableCount => _tables.Length;

    /// <summary>Every table, for maintenance (expiry).</summary>
    public IReadOnlyList<FlowTable> Tables => _tables;

    /// <summary>Reader: the table forwarders classify packets in now.</summary>
    public FlowTable LookupTable => _lookup;

    /// <summary>Whether lookups of table 0 are served by another table (<see cref="Redirect"/>).</summary>
    public bool IsRedirected => !ReferenceEquals(_lookup, _tables[0]);

    /// <summary>Adds a table (expired by the datapath's maintenance like table 0); returns it.</summary>
    public FlowTable AddTable()
    {
        lock (_lock)
        {
            var t = new FlowTable(_clock, _reclamation);
            _tables = [.. _tables, t];
            return t;
        }
    }

    /// <summary>Serves lookups of table 0 from <paramref name="table"/> (one of this pipeline's), or from table 0 itself when null.</summary>
    public void Redirect(FlowTable? table)
    {
        lock (_lock)
        {
            if (table is not null && Array.IndexOf(_tables, table) < 0) ThrowHelper.Argument(nameof(table));
            _lookup = table ?? _tables[0];
        }
    }

    /// <summary>A forwarding thread's counters, summed into <see cref="GetLookupTotals"/> while registered.</summary>
    public FlowTableThreadStats CreateThreadStats()
    {
        var s = new FlowTableThreadStats();
        lock (_statsLock) _threadStats = [.. _threadStats, s];
        return s;
    }

    /// <summary>Retires a thread's counters: their totals are kept, the object is no longer read.</summary>
    public void ReleaseThreadStats(FlowTableThreadStats stats)
    {
        lock (_statsLock)
        {
            int i = Array.IndexOf(_threadStats, stats);
            if (i < 0) return;
            _retiredExactLookups += stats.ExactLookupCount;
            _retiredExactMatched += stats.ExactMatchedCount;
            _retiredWildcardLookups += stats.WildcardLookupCount;
            _retiredWildcardMatched += stats.WildcardMatchedCount;
            _threadStats = Array.FindAll(_threadStats, x => !ReferenceEquals(x, stats));
        }
    }

    /// <summary>Lookup counters over every forwarding thread, past and present.</summary>
    public LookupTotals GetLookupTotals()
    {
        lock (_statsLock)
        {
            long el = _retiredExactLookups, em = _retiredExactMatched, wl = _retiredWildcardLookups, wm = _retiredWildcardMatched;
            foreach (var s in _threadStats)
            {
                el += s.ExactLookupCount;
                em += s.ExactMatchedCount;
                wl += s.WildcardLookupCount;
                wm += s.WildcardMatchedCount;
            }
            return new LookupTotals(el, em, wl, wm);
        }
    }
}
