using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Ports;

namespace Softswitch;

/// <summary>
/// Logs each port's link going down or coming up (checked once a second on a thread of its own, no datapath locks),
/// and each port added or removed as it happens: the datapath tells those (<see cref="IDatapathEvents.OnPortStatus"/>)
/// in the order they were made, so a quick port/del then port/add logs "removed" before "added". A check that sees a
/// change before its event logs it and the event finds it done (a port is logged once, by whichever comes first); a
/// check logs removals before additions. A check allocates nothing unless a port changed (no LINQ, a reused list of
/// removed ports): it runs for the switch's whole life. Thread safety: checks and events are serialised by one lock.
/// </summary>
internal sealed class LinkWatcher : IDisposable, IDatapathEvents
{
    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly Dictionary<PortSlot, bool> _last = new();
    private readonly List<PortSlot> _gone = new();
    private readonly PeriodicThread? _timer;
    private readonly Lock _lock = new();

    public LinkWatcher(SwitchDatapath dp, ILogger log, TimeSpan? period = null)
    {
        _dp = dp;
        _log = log;
        foreach (var p in dp.Ports.List) _last[p] = p.Port.LinkUp;
        dp.Subscribe(this);
        // An infinite period: no thread of its own, the owner calls Check (one thread for many switches).
        if (period != Timeout.InfiniteTimeSpan) _timer = new PeriodicThread("link-watch", period ?? TimeSpan.FromSeconds(1), Check);
    }

    void IDatapathEvents.OnPortStatus(PortStatusReason reason, PortSlot port)
    {
        lock (_lock)
        {
            if (reason == PortStatusReason.Add && !_last.ContainsKey(port))
            {
                bool up = port.Port.LinkUp;
                _log.LogInformation("port {No} ({Name}): added, link {State}", port.No, port.Port.Info.Name, up ? "up" : "down");
                _last[port] = up;
            }
            else if (reason == PortStatusReason.Delete && _last.Remove(port))
            {
                _log.LogInformation("port {No} ({Name}): removed", port.No, port.Port.Info.Name);
            }
        }
    }

    public void Check()
    {
        lock (_lock)
        {
            var list = _dp.Ports.List;
            foreach (var k in _last.Keys)
                if (Array.IndexOf(list, k) < 0) _gone.Add(k);
            foreach (var gone in _gone)
            {
                _log.LogInformation("port {No} ({Name}): removed", gone.No, gone.Port.Info.Name);
                _last.Remove(gone);
            }
            _gone.Clear();
            foreach (var p in list)
            {
                bool up = p.Port.LinkUp;
                if (!_last.TryGetValue(p, out bool was))
                {
                    _log.LogInformation("port {No} ({Name}): added, link {State}", p.No, p.Port.Info.Name, up ? "up" : "down");
                }
                else if (was != up)
                {
                    if (up) _log.LogInformation("port {No} ({Name}): link up", p.No, p.Port.Info.Name);
                    else _log.LogWarning("port {No} ({Name}): link down", p.No, p.Port.Info.Name);
                }
                _last[p] = up;
            }
        }
    }

    public void Dispose()
    {
        _dp.Unsubscribe(this);
        _timer?.Dispose();
    }
}
