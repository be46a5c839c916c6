using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch;

/// <summary>
/// Re-opens ports whose network interface disappears and comes back (a deleted and re-created veth, a NIC driver
/// reload), as Open vSwitch re-adds a bridge port: the vanished port is removed (PORT_STATUS DELETE) and the new
/// interface of the same name is opened as the same OpenFlow port number (PORT_STATUS ADD), each with a log line.
/// </summary>
/// <remarks>
/// Design: one thread of its own (<see cref="PeriodicThread"/>) asks the kernel for the ifindex of every interface-backed
/// port's interface once a second (<see cref="NetInterface.CurrentIndex"/>: one ioctl each, no allocation); an
/// interface that is missing, or has a new ifindex, is a port to remove; a missing port whose interface exists is
/// opened again from its spec. The datapath disposes a removed port (and the receivers it split its receiving into)
/// once every forwarding thread has passed a quiescent point, so re-opening leaves no socket or ring behind. Flows keep
/// naming the port number; while it is
/// gone, their output to it is dropped and counted (no-such-port). Tap ports are not watched (the switch creates
/// them). Thread safety: that thread alone touches its state; the datapath's port calls are thread-safe.
/// </remarks>
internal sealed class PortReopener : IDisposable
{
    private sealed class Watched(PortSpecEntry spec, ushort no)
    {
        public readonly PortSpecEntry Spec = spec;
        public readonly ushort No = no;
        public readonly byte[] IfrName = NetInterface.IfrName(spec.Name);
        public int IfIndex;   // 0 while the port is closed
    }

    private readonly SwitchDatapath _dp;
    private readonly PortFactoryOptions _options;
    private readonly ILogger _log;
    private readonly List<Watched> _watched = new();
    private readonly PeriodicThread _timer;
    private int _busy;

    public PortReopener(SwitchDatapath dp, IEnumerable<OpenedPort> opened, PortFactoryOptions options, ILogger log, TimeSpan period)
    {
        _dp = dp;
        _options = options;
        _log = log;
        foreach (var o in opened)
        {
            if (o.Spec.Kind is PortKind.AfPacket or PortKind.AfXdp or PortKind.Pcap)
            {
                var w = new Watched(o.Spec, o.PortNo);
                w.IfIndex = Math.Max(0, NetInterface.CurrentIndex(w.IfrName));
                _watched.Add(w);
            }
        }

        _timer = new PeriodicThread("port-reopen", period, Check);
    }

    /// <summary>One check of every watched port (the timer's tick).</summary>
    public void Check()
    {
        if (Interlocked.Exchange(ref _busy, 1) == 1) return;
        try
        {
            foreach (var w in _watched)
            {
                int now = NetInterface.CurrentIndex(w.IfrName);
                if (now < 0) continue;   // the kernel could not be asked this time: nothing is known to have changed
                if (w.IfIndex != 0 && now != w.IfIndex && _dp.Ports.Get(w.No) is not null)
                {
                    _dp.RemovePort(w.No);
                    w.IfIndex = 0;
                    _log.LogWarning("port {No} ({Name}): the interface {What}; the port is removed until it is back",
                        w.No, w.Spec.Name, now == 0 ? "disappeared" : "was re-created");
                }
                if (w.IfIndex == 0 && now != 0 && _dp.Ports.Get(w.No) is null)
                {
                    try
                    {
                        var opened = PortSpec.Open([w.Spec], _options);
                        _dp.AddPort(opened[0].Port, w.No);
                        w.IfIndex = now;
                        _log.LogInformation("port {No} ({Name}): the interface is back; port re-opened", w.No, w.Spec.Name);
                    }
                    catch (PortOpenException e)
                    {
                        _log.LogDebug("port {No} ({Name}): not re-opened yet: {Error}", w.No, w.Spec.Name, e.Message);
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    public void Dispose() => _timer.Dispose();
}
