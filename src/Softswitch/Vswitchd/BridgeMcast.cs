using System.Text;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;
using Softswitch.Snooping;

namespace Softswitch.Vswitchd;

/// <summary>
/// A bridge's IGMP and MLD snooping (mcast_snooping_enable=true) between its protocol room (<see cref="McastSnooping"/>)
/// and the datapath, as Open vSwitch's ofproto-dpif runs lib/mcast-snooping.c: NORMAL hands the reports and queries it
/// receives here (<see cref="IMcastSnoopingSink"/>), a round learns from them, ages the table, and publishes what
/// NORMAL reads (<see cref="SwitchDatapath.SetMcastSnooping"/>) when it changed.
/// </summary>
/// <remarks>
/// <para>Threads: a timer runs a round every <see cref="TickMs"/> ms; the configuration thread calls
/// <see cref="Configure"/>; forwarding threads call <see cref="Received"/>; appctl readers (mdb/show, mdb/flush) take
/// the lock briefly. One lock (<c>_lock</c>) serialises the protocol; received frames wait in a bounded ring under its
/// own short lock (<see cref="ReceivedFrames"/>'s, never held with the other), so a forwarding thread never waits on
/// the protocol. Nothing is allocated per frame received; a table is built (and allocated) only when it changed.</para>
/// </remarks>
internal sealed class BridgeMcast : IMcastSnoopingSink, IDisposable
{
    public const int TickMs = 100;
    /// <summary>Frames the ring holds, and the bytes kept of each (a report longer than that is cut, and counted
    /// malformed): a standard frame with two tags.</summary>
    private const int RxSlots = 128, FrameSize = 1526;

    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly string _bridge;
    private readonly Lock _lock = new();
    private readonly McastSnooping _snooping = new();
    private readonly ReceivedFrames _received = new(RxSlots, FrameSize);
    private readonly byte[] _scratch = new byte[FrameSize];
    private readonly Timer _timer;
    private long _malformed;
    private bool _disposed;

    public BridgeMcast(string bridge, SwitchDatapath dp, ILogger log)
    {
        _bridge = bridge;
        _dp = dp;
        _log = log;
        dp.Counters.AddSource(DatapathCounters.McastSnoopingMalformed, () => Interlocked.Read(ref _malformed), this);
        dp.Counters.AddSource(DatapathCounters.McastSnoopingOverflow, () => _received.Overflow, this);
        dp.McastSink = this;
        dp.SetMcastSnooping(_snooping.Build());
        _timer = new Timer(static s => ((BridgeMcast)s!).Run(), this, TickMs, TickMs);
    }

    private static long Now() => Environment.TickCount64;

    /// <summary>
    /// Applies the settings: aging time, table size, whether unregistered multicast floods, the ports (NORMAL's numbers)
    /// that take all multicast and all reports; forgets what it learned on ports not in <paramref name="live"/>.
    /// </summary>
    public void Configure(McastSnoopingConfig config, IEnumerable<ushort> flood, IEnumerable<ushort> floodReports, IReadOnlySet<ushort> live)
    {
        lock (_lock)
        {
            if (_disposed) return;
            _snooping.Configure(config.IdleTimeS, config.MaxEntries, config.FloodUnregistered);
            _snooping.SetFloodPorts(flood, floodReports);
            _snooping.KeepPorts(live);
            Publish();
        }
    }

    /// <summary>Takes a report or query NORMAL received (a forwarding thread): copied into the ring, or counted when it is full.</summary>
    public void Received(ushort port, ushort vlan, ReadOnlySpan<byte> frame) => _received.Add(port, frame, vlan);

    private void Run()
    {
        lock (_lock)
        {
            if (_disposed) return;
            try
            {
                RunLocked();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _log.LogError(e, "bridge {Bridge}: multicast snooping round failed", _bridge);
            }
        }
    }

    /// <summary>One round (under <c>_lock</c>): received frames learned from, the table aged, published if it changed.</summary>
    private void RunLocked()
    {
        long now = Now();
        while (_received.TryTake(_scratch, out ushort port, out int size, out ushort vlan))
        {
            var error = _snooping.Receive(_scratch.AsSpan(0, size), port, vlan, now);
            if (error == McastFrameError.None) continue;
            Interlocked.Increment(ref _malformed);
            _log.LogDebug("bridge {Bridge}: multicast snooping: a frame on port {Port} in VLAN {Vlan} not read: {Error}", _bridge, port, vlan, error);
        }
        _snooping.Run(now);
        Publish();
    }

    private void Publish()
    {
        if (_snooping.Changed) _dp.SetMcastSnooping(_snooping.Build());
    }

    /// <summary>The table as <c>ovs-appctl mdb/show</c> prints it (after learning from the frames waiting).</summary>
    public string Show()
    {
        lock (_lock)
        {
            if (!_disposed) RunLocked();
            var s = new StringBuilder();
            _snooping.Show(s, Now(), static no => no == PortNumber.Local ? "LOCAL" : no.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return s.ToString();
        }
    }

    /// <summary>Forgets every group and router (<c>ovs-appctl mdb/flush</c>).</summary>
    public void Flush()
    {
        lock (_lock)
        {
            _snooping.Flush();
            if (!_disposed) Publish();
        }
    }

    /// <summary>Stops snooping: NORMAL floods multicast again, reports are no longer handed over.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            if (ReferenceEquals(_dp.McastSink, this)) _dp.McastSink = null;
            _dp.SetMcastSnooping(null);
            _dp.Counters.RemoveSources(this);
        }
    }
}
