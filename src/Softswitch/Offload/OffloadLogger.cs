using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Flows;

namespace Softswitch.Offload;

/// <summary>
/// The logs of an <see cref="OffloadManager"/>: a Debug line per placement decision, an Information summary when
/// offload starts and whenever the placement changed (at most once per <see cref="SummaryInterval"/>), and rate-limited
/// Warnings for target errors. Never per packet.
/// </summary>
/// <remarks>
/// <para>Decisions (Debug, only built when Debug is on):
/// <c>offload added: priority=100,ip,in_port=1,nw_dst=10.0.0.2 actions=output:2 -> hw(exact,row=4242), 20 register writes</c>.
/// Under churn this is one line per flow-mod, which is what Debug is for; Information stays at one summary per
/// interval: <c>offload: 3 flows in hardware (3 rows), 2 in software (unsupported-action=2); ...</c>
/// (<see cref="OffloadReport.SummaryLine"/>).</para>
/// <para>The host composes it: an offload target's assembly takes it as the manager's <see cref="IOffloadLog"/>
/// (<c>NetFpgaOffloadOptions.Log</c>), so the datapath and the drivers never format or log a flow themselves.</para>
/// <para>Threading: <see cref="OnDecision"/> and <see cref="OnTargetError"/> run under the manager's lock;
/// <see cref="OnMaintenance"/> and <see cref="MaybeLogSummary"/> on the maintenance thread. The summary and warning
/// state take a private lock.</para>
/// </remarks>
public sealed class OffloadLogger : IOffloadLog
{
    private readonly ILogger _logger;
    private readonly OffloadManager _manager;
    private readonly Func<long> _nowNanos;
    private readonly Lock _lock = new();
    private long _lastSummaryAt = long.MinValue, _lastCheckAt = long.MinValue;
    private (int Hw, int Sw, long FlowMods, long Evictions, long Promotions, long Errors, int Rows) _lastLogged;
    private bool _loggedOnce;
    private long _lastWarningAt = long.MinValue;
    private int _suppressedWarnings;

    /// <summary>Shortest time between two Information summaries (default 10 s).</summary>
    public TimeSpan SummaryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Shortest time between two target-error Warnings (the ones between are counted and reported with the next).</summary>
    public TimeSpan WarningInterval { get; init; } = TimeSpan.FromSeconds(10);

    public OffloadLogger(ILogger logger, OffloadManager manager, Func<long> nowNanos)
    {
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _manager = manager ?? throw new ArgumentNullException(nameof(manager));
        _nowNanos = nowNanos ?? throw new ArgumentNullException(nameof(nowNanos));
    }

    public bool DecisionsEnabled => _logger.IsEnabled(LogLevel.Debug);

    public void OnDecision(in OffloadDecision d)
    {
        if (!_logger.IsEnabled(LogLevel.Debug)) return;
        var p = d.Placement;
        string rule = FlowFormat.Rule(p.Entry.Priority, p.Entry.Match);
        string actions = FlowFormat.Actions(p.Entry.Actions);
        string ev = EventName(d.Event);
        if (d.Event == PlacementEvent.Removed)
        {
            _logger.LogDebug("offload {Event}: {Rule} actions={Actions} (was in {Was}), {Writes} register writes",
                ev, rule, actions, d.WasInHardware ? "hardware" : "software", p.LastRegisterWrites);
            return;
        }
        _logger.LogDebug("offload {Event}: {Rule} actions={Actions} -> {Placement}, {Writes} register writes",
            ev, rule, actions, OffloadReport.Placement(p, d.Location), p.LastRegisterWrites);
    }

    public void OnTargetError(FlowEntry? entry, Exception error)
        => Warn(entry is null ? $"offload: {_manager.Target.Name} failed: {error.Message}"
                              : $"offload: {_manager.Target.Name} failed for {FlowFormat.Rule(entry.Priority, entry.Match)}: {error.Message} (the flow stays in software)");

    /// <summary>A Warning, at most one per <see cref="WarningInterval"/>; the ones in between are counted into the next.</summary>
    public void Warn(string message)
    {
        if (!_logger.IsEnabled(LogLevel.Warning)) return;
        long now = _nowNanos();
        int suppressed;
        lock (_lock)
        {
            if (_lastWarningAt != long.MinValue && now - _lastWarningAt < WarningInterval.Ticks * 100)
            {
                _suppressedWarnings++;
                return;
            }
            _lastWarningAt = now;
            suppressed = _suppressedWarnings;
            _suppressedWarnings = 0;
        }
        if (suppressed > 0) _logger.LogWarning("{Message} ({Suppressed} similar warnings suppressed)", message, suppressed);
        else _logger.LogWarning("{Message}", message);
    }

    /// <summary>The Information line when offload starts: what the target is and where the flows already in the table went.</summary>
    public void OnStarted(string description)
    {
        var s = _manager.Stats;
        var occupancy = _manager.Target.Occupancy;
        _logger.LogInformation("offload started: {Description}; {Summary}", description, OffloadReport.SummaryLine(s, occupancy));
        lock (_lock)
        {
            _lastLogged = Signature(s);
            _loggedOnce = true;
            _lastSummaryAt = _nowNanos();
        }
    }

    /// <summary>After a maintenance step: a Warning for what failed in it (rate-limited), then the summary if it is due.</summary>
    public void OnMaintenance(string? problem)
    {
        if (problem is not null) Warn(problem);
        MaybeLogSummary();
    }

    /// <summary>
    /// Logs the summary when the placement changed since the last one and <see cref="SummaryInterval"/> has passed
    /// (call it after each maintenance poll). Returns whether it logged.
    /// </summary>
    public bool MaybeLogSummary()
    {
        if (!_logger.IsEnabled(LogLevel.Information)) return false;
        long now = _nowNanos();
        lock (_lock)
        {
            if (_lastSummaryAt != long.MinValue && now - _lastSummaryAt < SummaryInterval.Ticks * 100) return false;
            // Past the interval with nothing new, look again at most once a second (a snapshot copies the reasons).
            if (_lastCheckAt != long.MinValue && now - _lastCheckAt < 1_000_000_000) return false;
            _lastCheckAt = now;
        }
        var s = _manager.Stats;
        var sig = Signature(s);
        lock (_lock)
        {
            if (_loggedOnce && sig == _lastLogged) return false;
            _lastLogged = sig;
            _loggedOnce = true;
            _lastSummaryAt = now;
        }
        _logger.LogInformation("offload: {Summary}", OffloadReport.SummaryLine(s, _manager.Target.Occupancy));
        return true;
    }

    private static (int, int, long, long, long, long, int) Signature(in OffloadStats s)
        => (s.HardwareFlows, s.SoftwareFlows, s.FlowModEvents, s.Evictions, s.Promotions, s.TargetErrors, s.HardwareRows);

    private static string EventName(PlacementEvent e) => e switch
    {
        PlacementEvent.Added => "added",
        PlacementEvent.Modified => "modified",
        PlacementEvent.Removed => "removed",
        PlacementEvent.Evicted => "evicted",
        PlacementEvent.Retried => "retried",
        PlacementEvent.Replaced => "replaced",
        _ => e.ToString(),
    };
}
