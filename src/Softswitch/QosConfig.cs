using System.Globalization;
using System.Text;
using Softswitch.Datapath;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Qos;

namespace Softswitch;

/// <summary>
/// The switch's egress shaping as the user gives it (<c>--queues</c>, config key <c>queues</c>, <c>ctl queue/add</c>,
/// <c>queue/del</c>, <c>qos/set</c>, <c>queue/show</c>): per port, a ceiling and queues with min and max rates, applied
/// to the datapath as one <see cref="PortShaper"/> per port.
/// </summary>
/// <remarks>
/// Syntax of <c>--queues</c>: entries separated by <c>;</c>, each <c>PORT max-rate=RATE</c> (the port's ceiling) or
/// <c>PORT:QUEUE [min-rate=RATE][,max-rate=RATE]</c> (a queue), PORT an interface name or a port number, QUEUE 0 to
/// the number of queues per port minus one, RATE bits per second with an optional k, M or G (e.g.
/// <c>eth1 max-rate=100M; eth1:0 max-rate=30M; eth1:1 min-rate=10M,max-rate=70M</c>). Thread safety: changes are
/// serialised by a lock; each replaces the port's shaper whole.
/// </remarks>
public sealed class QosConfig(SwitchDatapath dp)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ushort, (long MaxRate, SortedDictionary<uint, (long Min, long Max)> Queues)> _ports = new();

    /// <summary>Applies every entry of a <c>--queues</c> spec; the error names the entry that is wrong.</summary>
    public bool TryApply(string spec, out string error)
    {
        foreach (var raw in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int space = raw.IndexOfAny([' ', '\t']);
            string target = space < 0 ? raw : raw[..space];
            string settings = space < 0 ? "" : raw[(space + 1)..].Trim();
            int colon = target.LastIndexOf(':');
            bool ok = colon < 0
                ? TrySetPort(target, settings, out error)
                : TryAddQueue(target[..colon], target[(colon + 1)..], settings, out error);
            if (!ok)
            {
                error = $"'{raw}': {error}";
                return false;
            }
        }
        error = "";
        return true;
    }

    /// <summary><c>qos/set PORT max-rate=RATE</c>: the port's ceiling (0 removes it).</summary>
    public bool TrySetPort(string port, string settings, out string error)
    {
        if (!TryPort(port, out ushort no, out error)) return false;
        if (!TryRates(settings, out long min, out long max, out error)) return false;
        if (min != 0)
        {
            error = "a port has a max-rate only (min-rate is a queue's)";
            return false;
        }
        lock (_lock)
        {
            var (_, queues) = _ports.TryGetValue(no, out var e) ? e : (0, new SortedDictionary<uint, (long, long)>());
            _ports[no] = (max, queues);
            Apply(no);
        }
        return true;
    }

    /// <summary><c>queue/add PORT QUEUE min-rate=..,max-rate=..</c>: adds or replaces a queue.</summary>
    public bool TryAddQueue(string port, string queue, string settings, out string error)
    {
        if (!TryPort(port, out ushort no, out error)) return false;
        if (!uint.TryParse(queue, NumberStyles.None, CultureInfo.InvariantCulture, out uint q) || q >= (uint)Math.Min(PortShaper.MaxQueues, dp.Options.QueuesPerPort))
        {
            error = $"queue '{queue}' is not 0 to {Math.Min(PortShaper.MaxQueues, dp.Options.QueuesPerPort) - 1}";
            return false;
        }
        if (!TryRates(settings, out long min, out long max, out error)) return false;
        if (max != 0 && min > max)
        {
            error = "min-rate is above max-rate";
            return false;
        }
        lock (_lock)
        {
            var (portMax, queues) = _ports.TryGetValue(no, out var e) ? e : (0, new SortedDictionary<uint, (long, long)>());
            queues[q] = (min, max);
            _ports[no] = (portMax, queues);
            Apply(no);
        }
        return true;
    }

    /// <summary><c>queue/del PORT QUEUE</c>; false when there is no such queue.</summary>
    public bool TryDeleteQueue(string port, string queue, out string error)
    {
        if (!TryPort(port, out ushort no, out error)) return false;
        lock (_lock)
        {
            if (!uint.TryParse(queue, NumberStyles.None, CultureInfo.InvariantCulture, out uint q) || !_ports.TryGetValue(no, out var e) || !e.Queues.Remove(q))
            {
                error = $"port {port} has no queue '{queue}'";
                return false;
            }
            Apply(no);
        }
        return true;
    }

    /// <summary>Every shaped port and queue with its rates, what is waiting and what it counted.</summary>
    public string Show()
    {
        var sb = new StringBuilder();
        foreach (var slot in dp.Ports.WithLocal)
        {
            if (dp.PortQos.ShaperOf(slot) is not { } shaper) continue;
            sb.Append($"port {slot.No} ({slot.Port.Info.Name}): max-rate={Rate(shaper.MaxRate)}\n");
            foreach (var q in shaper.Queues)
            {
                if (q is null) continue;
                var c = q.Id < (uint)slot.Queues.Length ? slot.Queues[q.Id] : null;
                sb.Append($"  queue {q.Id}{(q.Implicit ? " (default)" : "")}: min-rate={Rate(q.MinRate)} max-rate={Rate(q.MaxRate)} backlog={q.Backlog} " +
                          $"tx_packets={q.Sent} tx_bytes={q.SentByteCount} dropped={q.Dropped}" +
                          (c is null ? "" : $" tx_errors={Volatile.Read(ref c.TxErrors)}") + "\n");
            }
        }
        return sb.Length == 0 ? "no port is shaped\n" : sb.ToString();
    }

    /// <summary>The rates of a port's queues as QUEUE_GET_CONFIG reports them, by queue id: (min, max) bit/s, 0 for none.</summary>
    public static IReadOnlyDictionary<uint, (long Min, long Max)> Rates(SwitchDatapath dp, PortSlot slot)
    {
        var d = new Dictionary<uint, (long, long)>();
        if (dp.PortQos.ShaperOf(slot) is { } s)
        {
            foreach (var q in s.Queues)
                if (q is { Implicit: false }) d[q.Id] = (q.MinRate, q.MaxRate);
        }
        return d;
    }

    private void Apply(ushort no)
    {
        var (max, queues) = _ports[no];
        var shaped = queues.Select(kv => new ShapedQueue(kv.Key, kv.Value.Min, kv.Value.Max, PortShaper.DefaultDepth)).ToList();
        dp.SetShaping(no, max == 0 && shaped.Count == 0 ? null : new PortShaper(max, shaped, dp.Clock.NowNanos));
    }

    private bool TryPort(string port, out ushort no, out string error)
    {
        error = "";
        foreach (var slot in dp.Ports.WithLocal)
        {
            if (slot.Port.Info.Name == port || slot.No.ToString(CultureInfo.InvariantCulture) == port)
            {
                no = slot.No;
                return true;
            }
        }
        no = 0;
        error = $"no port '{port}' (ports: {string.Join(", ", dp.Ports.WithLocal.Select(s => $"{s.No} ({s.Port.Info.Name})"))})";
        return false;
    }

    /// <summary>Parses <c>min-rate=RATE,max-rate=RATE</c> (either may be left out: 0).</summary>
    internal static bool TryRates(string settings, out long min, out long max, out string error)
    {
        min = max = 0;
        error = "";
        foreach (var kv in settings.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = kv.IndexOf('=');
            string key = eq < 0 ? kv : kv[..eq], value = eq < 0 ? "" : kv[(eq + 1)..];
            if (key is not ("min-rate" or "max-rate"))
            {
                error = $"unknown setting '{key}' (min-rate=RATE, max-rate=RATE)";
                return false;
            }
            if (!TryRate(value, out long r))
            {
                error = $"{key} '{value}' is not a rate (bits per second, e.g. 1500000, 64k, 30M, 1G)";
                return false;
            }
            if (key == "min-rate") min = r;
            else max = r;
        }
        return true;
    }

    internal static bool TryRate(string s, out long bps)
    {
        bps = 0;
        if (s.Length == 0) return false;
        double mult = char.ToLowerInvariant(s[^1]) switch { 'k' => 1e3, 'm' => 1e6, 'g' => 1e9, _ => 1 };
        string num = mult == 1 ? s : s[..^1];
        if (!double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || double.IsNaN(v) || v * mult > 1e12) return false;
        bps = (long)Math.Round(v * mult);
        return true;
    }

    internal static string Rate(long bps) => bps == 0 ? "none" : bps % 1_000_000 == 0 ? $"{bps / 1_000_000}M" : bps % 1000 == 0 ? $"{bps / 1000}k" : bps.ToString(CultureInfo.InvariantCulture);
}
