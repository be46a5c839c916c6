using System.Diagnostics.Tracing;

namespace Softswitch.Metrics;

/// <summary>
/// Every runtime suspension of the process, measured one by one from the runtime's own events: a garbage collection
/// (or another runtime reason, such as code patching by tiered compilation) stops every managed thread, the forwarding
/// threads among them, from <c>GCSuspendEEBegin</c> to <c>GCRestartEEEnd</c>. Each pause goes into a histogram
/// (<see cref="BucketUpperMicros"/>), a maximum and a total, split into the time spent bringing threads to a safe
/// point (suspension: on a starved machine, threads that wait for a CPU to reach one) and the rest (the collection
/// itself and the restart).
/// </summary>
/// <remarks>
/// <para><b>Sources</b>: an in-process <see cref="EventListener"/> on the <c>Microsoft-Windows-DotNETRuntime</c>
/// provider's GC keyword at Informational level (events arrive on the runtime's dispatch thread, in order, a little
/// after the fact). Where the runtime raises no events (a NativeAOT build without EventSource support), a sampling
/// thread reads <c>GC.GetGCMemoryInfo(GCKind.Any)</c> every 50 ms and records each collection it sees by index
/// (collections between two samples are missed; <see cref="Source"/> says which source is in use).</para>
/// <para><b>Thread safety</b>: one writer (the dispatch or sampling thread) updates the counters with interlocked
/// operations; readers (ctl, metrics) read them without locks, each value on its own (a snapshot may mix two pauses).
/// One monitor per process (<see cref="Start"/> is idempotent).</para>
/// </remarks>
internal sealed class GcPauseMonitor : EventListener
{
    /// <summary>Upper bounds of the histogram buckets in microseconds; the last bucket has no upper bound.</summary>
    public static readonly long[] BucketUpperMicros = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000];

    private static GcPauseMonitor? s_instance;
    private static readonly Lock s_startLock = new();

    // GC keyword of the runtime provider; the event ids of its suspension events.
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private const int SuspendBegin = 9, SuspendEnd = 8, RestartEnd = 3;
    // SUSPEND_FOR_GC and SUSPEND_FOR_GC_PREP: the suspension reasons that belong to a collection.
    private const uint ReasonGc = 1, ReasonGcPrep = 6;

    private readonly long[] _buckets = new long[BucketUpperMicros.Length + 1];
    private long _pauses, _gcPauses, _totalMicros, _maxMicros, _maxSuspendMicros, _suspendTotalMicros, _otherMaxMicros;
    private long _events;
    private DateTime _suspendBegin, _suspendEnd;
    private bool _suspendIsGc, _inPause;
    private volatile bool _sampling;

    private GcPauseMonitor() { }

    /// <summary>The process's monitor, started on first use.</summary>
    public static GcPauseMonitor Start()
    {
        if (s_instance is { } m) return m;
        lock (s_startLock)
        {
            if (s_instance is null)
            {
                s_instance = new GcPauseMonitor();
                var t = new Thread(s_instance.SampleLoop) { IsBackground = true, Name = "gc-pause-sampler" };
                t.Start();
            }
            return s_instance;
        }
    }

    /// <summary>"events" (every pause, from runtime events) or "sampled" (collections seen by polling).</summary>
    public string Source => _sampling ? "sampled" : "events";
    /// <summary>Suspensions of the runtime measured (collections and other reasons).</summary>
    public long Pauses => Interlocked.Read(ref _pauses);
    /// <summary>Of <see cref="Pauses"/>, those made for a collection (the histogram counts only these).</summary>
    public long GcPauses => Interlocked.Read(ref _gcPauses);
    public long TotalMicros => Interlocked.Read(ref _totalMicros);
    /// <summary>Longest pause of a collection, suspension included.</summary>
    public long MaxMicros => Interlocked.Read(ref _maxMicros);
    /// <summary>Longest time a collection waited for every thread to reach a safe point.</summary>
    public long MaxSuspendMicros => Interlocked.Read(ref _maxSuspendMicros);
    /// <summary>Sum over collections of the time spent waiting for threads to reach a safe point.</summary>
    public long SuspendTotalMicros => Interlocked.Read(ref _suspendTotalMicros);
    /// <summary>Longest suspension for another reason than a collection.</summary>
    public long OtherMaxMicros => Interlocked.Read(ref _otherMaxMicros);

    /// <summary>Collections per histogram bucket (index i counts pauses up to <see cref="BucketUpperMicros"/>[i]).</summary>
    public long[] Histogram()
    {
        var h = new long[_buckets.Length];
        for (int i = 0; i < h.Length; i++) h[i] = Interlocked.Read(ref _buckets[i]);
        return h;
    }

    /// <summary>The pause in microseconds below which a fraction <paramref name="q"/> of the collections fell (the upper
    /// bound of that bucket; the maximum for the last bucket); 0 without collections.</summary>
    public long Quantile(double q)
    {
        var h = Histogram();
        long n = 0;
        foreach (var c in h) n += c;
        if (n == 0) return 0;
        long need = (long)Math.Ceiling(q * n), seen = 0;
        for (int i = 0; i < h.Length; i++)
        {
            seen += h[i];
            if (seen >= need) return i < BucketUpperMicros.Length ? Math.Min(BucketUpperMicros[i], MaxMicros) : MaxMicros;
        }
        return MaxMicros;
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Informational, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        switch (e.EventId)
        {
            case SuspendBegin:
                Interlocked.Increment(ref _events);
                _suspendBegin = e.TimeStamp;
                _suspendEnd = default;
                _inPause = true;
                _suspendIsGc = e.Payload is { Count: > 0 } p && p[0] is uint reason && (reason == ReasonGc || reason == ReasonGcPrep);
                break;
            case SuspendEnd:
                if (_inPause) _suspendEnd = e.TimeStamp;
                break;
            case RestartEnd:
                if (!_inPause) break;
                _inPause = false;
                long total = Micros(e.TimeStamp - _suspendBegin);
                long suspend = _suspendEnd == default ? total : Micros(_suspendEnd - _suspendBegin);
                Record(total, suspend, _suspendIsGc);
                break;
        }
    }

    private static long Micros(TimeSpan t) => Math.Max(0, (long)t.TotalMicroseconds);

    private void Record(long micros, long suspendMicros, bool gc)
    {
        Interlocked.Increment(ref _pauses);
        if (!gc)
        {
            Max(ref _otherMaxMicros, micros);
            return;
        }
        Interlocked.Increment(ref _gcPauses);
        Interlocked.Add(ref _totalMicros, micros);
        Interlocked.Add(ref _suspendTotalMicros, suspendMicros);
        Max(ref _maxMicros, micros);
        Max(ref _maxSuspendMicros, suspendMicros);
        int b = 0;
        while (b < BucketUpperMicros.Length && micros > BucketUpperMicros[b]) b++;
        Interlocked.Increment(ref _buckets[b]);
    }

    private static void Max(ref long slot, long value)
    {
        long cur;
        while (value > (cur = Interlocked.Read(ref slot)) && Interlocked.CompareExchange(ref slot, value, cur) != cur) { }
    }

    /// <summary>Falls back to sampling when no runtime event arrives although collections happen.</summary>
    private void SampleLoop()
    {
        long lastIndex = GC.GetGCMemoryInfo(GCKind.Any).Index;
        int gcs0 = GC.CollectionCount(0);
        while (true)
        {
            Thread.Sleep(50);
            if (!_sampling)
            {
                // Two collections and no event: the runtime raises none here.
                if (GC.CollectionCount(0) - gcs0 < 2 || Interlocked.Read(ref _events) > 0)
                {
                    if (Interlocked.Read(ref _events) > 0) return;
                    continue;
                }
                _sampling = true;
            }
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            if (info.Index == lastIndex) continue;
            lastIndex = info.Index;
            long total = 0;
            foreach (var p in info.PauseDurations) total += Micros(p);
            Record(total, 0, gc: true);
        }
    }
}
