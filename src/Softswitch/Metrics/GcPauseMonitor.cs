using System.Diagnostics.Tracing;

namespace Softswitch.Metrics;

/// <summary>
/// Every runtime suspension of the process, measured one by one from the runtime's own events: a garbage collection
/// (or another runtime reason, such as code patching by tiered compilation) stops every managed thread, the forwarding
/// threads among them, from <c>GCSuspendEEBegin</c> to <c>GCRestartEEEnd</c>. Each pause goes into a histogram
/// (<see cref="BucketUpperMicros"/>), a maximum and a total, split into the time spent bringing threads to a safe
/// point (suspension: on a starved machine, threads that wait for a CPU to reach one) and the rest (the collection
/// itself and the restart). The collection itself is split further into the collector's phases (<see cref="Phase"/>),
/// summed over every pause and kept for the longest one, with the bytes each kind of root kept alive
/// (<see cref="RootKind"/>): what a pause is made of.
/// </summary>
/// <remarks>
/// <para><b>Sources</b>: an in-process <see cref="EventListener"/> on the <c>Microsoft-Windows-DotNETRuntime</c>
/// provider's GC keyword at Informational level (events arrive on the runtime's dispatch thread, in order, a little
/// after the fact). A pause's phases come from the timestamps of the events the collector raises as it goes:
/// <c>GCStart</c>, one <c>GCMarkWithType</c> at the end of marking from each kind of root (stacks, the finalization
/// queue, handles, older generations through the card table, then the rest), <c>GCEnd</c> after planning, sweeping or
/// compacting, then the restart; each phase is the time from the previous event to its own. Where the runtime raises
/// no events (a NativeAOT build without EventSource support), a sampling
/// thread reads <c>GC.GetGCMemoryInfo(GCKind.Any)</c> every 50 ms and records each collection it sees by index
/// (collections between two samples are missed, phases are not known; <see cref="Source"/> says which source is in use).</para>
/// <para><b>Thread safety</b>: one writer (the dispatch or sampling thread) updates the counters with interlocked
/// operations; readers (ctl, metrics) read them without locks, each value on its own (a snapshot may mix two pauses).
/// The state of the pause in progress is the writer's alone. One monitor per process (<see cref="Start"/> is idempotent).</para>
/// </remarks>
internal sealed class GcPauseMonitor : EventListener
{
    /// <summary>Upper bounds of the histogram buckets in microseconds; the last bucket has no upper bound.</summary>
    public static readonly long[] BucketUpperMicros = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000];

    private static GcPauseMonitor? s_instance;
    private static readonly Lock s_startLock = new();

    /// <summary>The parts of a collection's pause, in the order the collector goes through them.</summary>
    public enum Phase
    {
        /// <summary>Bringing every managed thread to a safe point.</summary>
        Suspend,
        /// <summary>From the end of the suspension: the collection's start, then marking from the threads' stacks.</summary>
        MarkStack,
        /// <summary>Marking from the finalization queue.</summary>
        MarkFinalize,
        /// <summary>Marking from strong and pinned handles.</summary>
        MarkHandles,
        /// <summary>Marking from older generations: the objects on cards dirtied by stores of young references.</summary>
        MarkOlder,
        /// <summary>The rest of marking: dependent handles, objects found ready for finalization (and, during a
        /// background collection, its roots).</summary>
        MarkOther,
        /// <summary>After marking: clearing weak references, planning, then sweeping or compacting (relocating
        /// survivors), to the end of the collection.</summary>
        Plan,
        /// <summary>From the end of the collection to every thread running again.</summary>
        Restart,
    }

    /// <summary>Names of <see cref="Phase"/> values as counters show them.</summary>
    public static readonly string[] PhaseNames = ["suspend", "mark-stack", "mark-finalize", "mark-handles", "mark-older", "mark-other", "plan", "restart"];

    /// <summary>What kept the bytes a collection marked (promoted) alive.</summary>
    public enum RootKind
    {
        Stack,
        Finalize,
        Handles,
        /// <summary>References from older generations (card marking).</summary>
        Older,
        Other,
    }

    /// <summary>Names of <see cref="RootKind"/> values as counters show them.</summary>
    public static readonly string[] RootKindNames = ["stack", "finalize", "handles", "older", "other"];

    // GC keyword of the runtime provider; the event ids of its collection and suspension events.
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private const int GcStart = 1, GcEnd = 2, SuspendBegin = 9, SuspendEnd = 8, RestartEnd = 3, MarkWithType = 202;
    // SUSPEND_FOR_GC and SUSPEND_FOR_GC_PREP: the suspension reasons that belong to a collection.
    private const long ReasonGc = 1, ReasonGcPrep = 6;

    private readonly long[] _buckets = new long[BucketUpperMicros.Length + 1];
    private long _pauses, _gcPauses, _totalMicros, _maxMicros, _maxSuspendMicros, _suspendTotalMicros, _otherMaxMicros;
    private long _events;
    private readonly long[] _phaseSum = new long[PhaseNames.Length], _phaseOfMax = new long[PhaseNames.Length], _phaseOfLast = new long[PhaseNames.Length];
    private readonly long[] _markedOfLast = new long[RootKindNames.Length];
    private long _lastMicros, _lastGen;
    private readonly long[] _marked = new long[RootKindNames.Length];
    private readonly long[] _pausesByGen = new long[3];
    // The pause in progress (the writer's alone): its start, the previous event's time, its phases so far (ticks),
    // the bytes marked per root kind, the generation its collection condemned (-1: no GCStart in this pause).
    private DateTime _suspendBegin, _suspendEnd, _last;
    private readonly long[] _curPhase = new long[PhaseNames.Length], _curMarked = new long[RootKindNames.Length];
    private int _curGen;
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

    /// <summary>Sum over collections' pauses of the time spent in <paramref name="p"/>, in microseconds.</summary>
    public long PhaseMicros(Phase p) => Interlocked.Read(ref _phaseSum[(int)p]);

    /// <summary>The time the longest pause (<see cref="MaxMicros"/>) spent in <paramref name="p"/>, in microseconds.</summary>
    public long PhaseOfMaxMicros(Phase p) => Interlocked.Read(ref _phaseOfMax[(int)p]);

    /// <summary>The time the most recent collection pause spent in <paramref name="p"/>, in microseconds.</summary>
    public long PhaseOfLastMicros(Phase p) => Interlocked.Read(ref _phaseOfLast[(int)p]);

    /// <summary>The most recent collection pause, in microseconds (suspension to restart).</summary>
    public long LastMicros => Interlocked.Read(ref _lastMicros);

    /// <summary>The generation the most recent collection pause's collection condemned.</summary>
    public long LastGeneration => Interlocked.Read(ref _lastGen);

    /// <summary>Bytes the most recent collection pause marked through roots of kind <paramref name="k"/>.</summary>
    public long MarkedOfLastBytes(RootKind k) => Interlocked.Read(ref _markedOfLast[(int)k]);

    /// <summary>Bytes marked (kept alive) over every collection through roots of kind <paramref name="k"/>.</summary>
    public long MarkedBytes(RootKind k) => Interlocked.Read(ref _marked[(int)k]);

    /// <summary>Collection pauses whose collection condemned generation <paramref name="gen"/> (0, 1 or 2; the pause
    /// of a background collection that raised no GCStart in it counts as 2).</summary>
    public long GcPausesOfGen(int gen) => Interlocked.Read(ref _pausesByGen[Math.Clamp(gen, 0, 2)]);

    /// <summary>Collections per histogram bucket (index i counts pauses up to <see cref="BucketUpperMicros"/>[i]).</summary>
    public long[] Histogram()
    {
        var h = new long[BucketCount];
        Histogram(h);
        return h;
    }

    /// <summary>The histogram's buckets, <see cref="BucketCount"/> of them, into <paramref name="into"/> (no array: memory/show polls it).</summary>
    public void Histogram(Span<long> into)
    {
        for (int i = 0; i < _buckets.Length; i++) into[i] = Interlocked.Read(ref _buckets[i]);
    }

    /// <summary>Buckets of <see cref="Histogram()"/>.</summary>
    public int BucketCount => _buckets.Length;

    /// <summary>The pause in microseconds below which a fraction <paramref name="q"/> of the collections fell (the upper
    /// bound of that bucket; the maximum for the last bucket); 0 without collections.</summary>
    public long Quantile(double q)
    {
        // The buckets read once into the stack (memory/show asks for two quantiles every few seconds).
        Span<long> h = stackalloc long[_buckets.Length];
        Histogram(h);
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
                _suspendBegin = _last = e.TimeStamp;
                _suspendEnd = default;
                _inPause = true;
                _suspendIsGc = PayloadNumber(e, 0) is ReasonGc or ReasonGcPrep;
                Array.Clear(_curPhase);
                Array.Clear(_curMarked);
                _curGen = -1;
                break;
            case SuspendEnd:
                if (!_inPause) break;
                _suspendEnd = e.TimeStamp;
                Advance(Phase.Suspend, e.TimeStamp);
                break;
            case GcStart:
                // Count, Depth (the condemned generation), Reason, Type. The time since the suspension ended goes to
                // the stack marking that follows.
                if (_inPause) _curGen = (int)Math.Clamp(PayloadNumber(e, 1), 0, 2);
                break;
            case MarkWithType:
                // HeapNum, ClrInstanceID, Type (the root kind), Bytes (marked through it). A background collection's
                // concurrent marking raises these outside any pause: not part of a pause.
                if (!_inPause) break;
                var kind = PayloadNumber(e, 2) switch { 0 => RootKind.Stack, 1 => RootKind.Finalize, 2 => RootKind.Handles, 3 => RootKind.Older, _ => RootKind.Other };
                _curMarked[(int)kind] += Math.Max(0, PayloadNumber(e, 3));
                Advance(kind switch
                {
                    RootKind.Stack => Phase.MarkStack,
                    RootKind.Finalize => Phase.MarkFinalize,
                    RootKind.Handles => Phase.MarkHandles,
                    RootKind.Older => Phase.MarkOlder,
                    _ => Phase.MarkOther,
                }, e.TimeStamp);
                break;
            case GcEnd:
                if (_inPause) Advance(Phase.Plan, e.TimeStamp);
                break;
            case RestartEnd:
                if (!_inPause) break;
                _inPause = false;
                Advance(Phase.Restart, e.TimeStamp);
                long total = Micros(e.TimeStamp - _suspendBegin);
                long suspend = _suspendEnd == default ? total : Micros(_suspendEnd - _suspendBegin);
                Record(total, suspend, _suspendIsGc);
                break;
        }
    }

    /// <summary>The time since the previous event of this pause belongs to phase <paramref name="p"/>.</summary>
    private void Advance(Phase p, DateTime now)
    {
        if (now > _last) _curPhase[(int)p] += (now - _last).Ticks;
        _last = now;
    }

    /// <summary>Payload field <paramref name="i"/> as a number; -1 when absent or not a number.</summary>
    private static long PayloadNumber(EventWrittenEventArgs e, int i)
    {
        if (e.Payload is not { } p || i >= p.Count) return -1;
        return p[i] switch
        {
            uint u => u,
            int n => n,
            ushort s => s,
            ulong ul => ul > long.MaxValue ? long.MaxValue : (long)ul,
            long l => l,
            _ => -1,
        };
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
        // Phases are known from events only (the sampling fallback records totals). They are in before the pause is
        // counted, so a reader that sees the count sees its phases.
        if (!_sampling)
        {
            Interlocked.Increment(ref _pausesByGen[_curGen < 0 ? 2 : _curGen]);
            for (int i = 0; i < _curPhase.Length; i++) Interlocked.Add(ref _phaseSum[i], _curPhase[i] / TimeSpan.TicksPerMicrosecond);
            for (int i = 0; i < _curMarked.Length; i++) Interlocked.Add(ref _marked[i], _curMarked[i]);
            if (micros > Interlocked.Read(ref _maxMicros))
                for (int i = 0; i < _curPhase.Length; i++) Interlocked.Exchange(ref _phaseOfMax[i], _curPhase[i] / TimeSpan.TicksPerMicrosecond);
            for (int i = 0; i < _curPhase.Length; i++) Interlocked.Exchange(ref _phaseOfLast[i], _curPhase[i] / TimeSpan.TicksPerMicrosecond);
            for (int i = 0; i < _curMarked.Length; i++) Interlocked.Exchange(ref _markedOfLast[i], _curMarked[i]);
            Interlocked.Exchange(ref _lastGen, _curGen < 0 ? 2 : _curGen);
            Interlocked.Exchange(ref _lastMicros, micros);
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
        var since = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Thread.Sleep(50);
            if (!_sampling)
            {
                // Two collections and no event for 5 s: the runtime raises none here. (On a loaded machine the runtime's
                // dispatch thread can deliver the first event well after a few collections: not a reason to give up.)
                if (GC.CollectionCount(0) - gcs0 < 2 || since.Elapsed < TimeSpan.FromSeconds(5) || Interlocked.Read(ref _events) > 0)
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
