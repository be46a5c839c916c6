using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace Softswitch.Metrics;

/// <summary>
/// Who allocates in the process: the runtime's allocation samples (<c>GCAllocationTick</c>, one event per about
/// 100 KB allocated, naming the type of the object that crossed the threshold and the thread that allocated it),
/// summed per type and per thread since the sampler started, so a steady state's allocators can be found in a running
/// daemon (<c>softswitch ctl memory/allocators</c>). The sampled bytes are an estimate of each one's share (a type
/// that allocates often is sampled often); the process's exact total is <see cref="GC.GetTotalAllocatedBytes"/>.
/// </summary>
/// <remarks>
/// <para><b>Source</b>: an in-process <see cref="EventListener"/> on the <c>Microsoft-Windows-DotNETRuntime</c>
/// provider's GC keyword at Verbose level (where the allocation tick is raised), started on first use and left
/// running (its cost is one event per 100 KB allocated). Thread names come from <c>/proc/self/task/TID/comm</c> when
/// shown (a thread that has ended shows its id only).</para>
/// <para><b>Thread safety</b>: events arrive on the runtime's dispatch thread; the tallies are kept under one lock,
/// taken briefly by that thread and by readers. One sampler per process (<see cref="Start"/> is idempotent).</para>
/// </remarks>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private const int AllocationTick = 10;

    private static AllocationSampler? s_instance;
    private static readonly Lock s_startLock = new();

    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _byType = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, long> _byThread = new();
    private long _samples, _sampledBytes;
    private long _startTicks = Environment.TickCount64;
    private long _startAllocated = GC.GetTotalAllocatedBytes();
    private int _startCollections = GC.CollectionCount(0);

    private AllocationSampler() { }

    /// <summary>The process's sampler, started on first use.</summary>
    public static AllocationSampler Start()
    {
        if (s_instance is { } s) return s;
        lock (s_startLock) return s_instance ??= new AllocationSampler();
    }

    /// <summary>Forgets the tallies and starts counting again from now.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _byType.Clear();
            _byThread.Clear();
            _samples = _sampledBytes = 0;
            _startTicks = Environment.TickCount64;
            _startAllocated = GC.GetTotalAllocatedBytes();
            _startCollections = GC.CollectionCount(0);
        }
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventId != AllocationTick || e.Payload is null || e.PayloadNames is null) return;
        long amount = 0;
        string type = "?";
        for (int i = 0; i < e.PayloadNames.Count; i++)
        {
            switch (e.PayloadNames[i])
            {
                case "AllocationAmount64": amount = Convert.ToInt64(e.Payload[i], CultureInfo.InvariantCulture); break;
                case "AllocationAmount" when amount == 0: amount = Convert.ToInt64(e.Payload[i], CultureInfo.InvariantCulture); break;
                case "TypeName": type = e.Payload[i] as string ?? "?"; break;
            }
        }
        lock (_lock)
        {
            _samples++;
            _sampledBytes += amount;
            _byType[type] = _byType.GetValueOrDefault(type) + amount;
            _byThread[(ulong)e.OSThreadId] = _byThread.GetValueOrDefault((ulong)e.OSThreadId) + amount;
        }
    }

    /// <summary>What was allocated since the start (or reset): totals, then the top types and threads.</summary>
    public Report Snapshot(int top = 20)
    {
        lock (_lock)
        {
            double seconds = Math.Max(0.001, (Environment.TickCount64 - _startTicks) / 1000.0);
            long allocated = GC.GetTotalAllocatedBytes() - _startAllocated;
            var types = _byType.OrderByDescending(kv => kv.Value).Take(top).Select(kv => new Row(kv.Key, kv.Value)).ToList();
            var threads = _byThread.OrderByDescending(kv => kv.Value).Take(top)
                .Select(kv => new Row($"{ThreadName(kv.Key)} ({kv.Key.ToString(CultureInfo.InvariantCulture)})", kv.Value)).ToList();
            return new Report(seconds, allocated, GC.CollectionCount(0) - _startCollections, _samples, _sampledBytes, types, threads);
        }
    }

    private static string ThreadName(ulong tid)
    {
        try
        {
            return File.ReadAllText($"/proc/self/task/{tid.ToString(CultureInfo.InvariantCulture)}/comm").TrimEnd('\n');
        }
        catch (IOException)
        {
            return "ended";
        }
        catch (UnauthorizedAccessException)
        {
            return "?";
        }
    }

    /// <summary>One allocator and the bytes sampled for it.</summary>
    public readonly record struct Row(string Name, long SampledBytes);

    /// <summary>A view of the tallies (see <see cref="Snapshot"/>).</summary>
    public sealed record Report(double Seconds, long AllocatedBytes, int Collections, long Samples, long SampledBytes,
                                List<Row> Types, List<Row> Threads)
    {
        public double BytesPerSecond => AllocatedBytes / Seconds;
        public double CollectionsPerMinute => Collections * 60 / Seconds;

        /// <summary>Each row's share of the sampled bytes, scaled to the process's allocation rate.</summary>
        public double RowBytesPerSecond(Row r) => SampledBytes == 0 ? 0 : (double)r.SampledBytes / SampledBytes * BytesPerSecond;

        public string ToText()
        {
            var ic = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append(ic, $"over {Seconds:F1} s: {AllocatedBytes:N0} bytes allocated ({BytesPerSecond:N0} B/s), {Collections} gen0+ collections ({CollectionsPerMinute:F1}/min), {Samples} samples\n");
            sb.Append("bytes/s (est.)  type\n");
            foreach (var r in Types) sb.Append(ic, $"{RowBytesPerSecond(r),14:N0}  {r.Name}\n");
            sb.Append("bytes/s (est.)  thread\n");
            foreach (var r in Threads) sb.Append(ic, $"{RowBytesPerSecond(r),14:N0}  {r.Name}\n");
            return sb.ToString();
        }
    }
}
