using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.PcapFile;

namespace Softswitch.Control;

/// <summary>
/// What <c>pcap/start</c> and <c>trace/watch</c> have running: the captures by port, the one watch, the
/// <see cref="PacketTap"/> that hands them the forwarders' bursts, and the thread that writes the captures out.
/// </summary>
/// <remarks>
/// <para><b>Publication</b>: every change (a capture started or stopped, a watch begun or ended) builds a new immutable
/// <see cref="Dispatch"/> and sets it as <see cref="SwitchDatapath.Tap"/>, or null when nothing is left, so a switch
/// nobody watches pays one null test per burst at each hook. A forwarder may still hold the previous dispatch for the
/// rest of a burst: a capture closed meanwhile ignores what it is handed.</para>
/// <para><b>The writer</b> (thread <c>pcap-writer</c>, started with the first capture or watch, ended by
/// <see cref="Dispose"/>) drains every capture's ring to its file every <see cref="DrainIntervalMs"/> ms, or at once
/// when a ring is half full (the forwarders wake it through one flag, so at most one wake-up per drain), and ends a
/// watch whose client stopped polling for <see cref="WatchIdleTimeout"/>.</para>
/// <para><b>Thread safety</b>: the commands may run on several control threads: <c>_gate</c> guards the maps and the
/// publication, <c>_io</c> serialises a capture's draining with its closing. Lock order: <c>_gate</c> → <c>_io</c>.</para>
/// </remarks>
internal sealed class LiveTaps : IDisposable
{
    public const int DrainIntervalMs = 50;
    public static readonly TimeSpan WatchIdleTimeout = TimeSpan.FromSeconds(10);

    private readonly SwitchDatapath _dp;
    private readonly ILogger? _logger;
    private readonly Lock _gate = new();
    private readonly Lock _io = new();
    private readonly Dictionary<ushort, PortCapture> _captures = new();
    private TraceWatch? _watch;
    private int _nextWatchId = 1;
    private readonly AutoResetEvent _wake = new(false);
    private int _wakePending;
    private Thread? _writer;
    private volatile bool _stopping;
    private volatile PortCapture[] _draining = [];

    /// <summary>The capture buffer size for new captures (each port has two of these).</summary>
    public int BufferSize { get; init; } = PortCapture.DefaultBufferSize;

    public LiveTaps(SwitchDatapath dp, ILogger? logger = null)
    {
        _dp = dp;
        _logger = logger;
    }

    public SwitchDatapath Datapath => _dp;

    /// <summary>The captures running now, by port number.</summary>
    public List<PortCapture> Captures()
    {
        lock (_gate) return _captures.Values.OrderBy(c => c.PortNo).ToList();
    }

    /// <summary>Starts capturing <paramref name="slot"/> into <paramref name="path"/>; throws on I/O errors.</summary>
    public PortCapture Start(PortSlot slot, string path)
    {
        lock (_gate)
        {
            if (_captures.TryGetValue(slot.No, out var running))
                throw new InvalidOperationException($"port {slot.No} ({slot.Port.Info.Name}) is already captured to {running.Path} (pcap/stop {slot.No} first)");
            var capture = new PortCapture(path, slot.No, slot.Port.Info.Name, BufferSize);
            _captures[slot.No] = capture;
            Publish();
            _logger?.LogInformation("port {Port} ({Name}): capturing to {Path}", slot.No, slot.Port.Info.Name, path);
            return capture;
        }
    }

    /// <summary>Stops and closes the capture of port <paramref name="no"/>; null when there is none.</summary>
    public PortCapture? Stop(ushort no)
    {
        PortCapture capture;
        lock (_gate)
        {
            if (!_captures.Remove(no, out var c)) return null;
            capture = c;
            Publish();
            lock (_io) capture.Close();
        }
        _logger?.LogInformation("port {Port} ({Name}): capture to {Path} stopped, {Packets} packets, {Dropped} dropped", capture.PortNo, capture.PortName, capture.Path, capture.Packets, capture.Dropped);
        return capture;
    }

    /// <summary>Begins a watch; fails while another one's client still polls.</summary>
    public bool TryBeginWatch(string filter, in FlowMatch match, int rate, long limit, out TraceWatch watch, out string error)
    {
        lock (_gate)
        {
            if (_watch is { } other && !IsIdle(other))
            {
                watch = null!;
                error = $"watch {other.Id} ({other.Filter}) is running; one watch at a time (trace/watch-stop {other.Id} ends it)";
                return false;
            }
            watch = new TraceWatch(_nextWatchId++, filter, match, rate, limit);
            _watch = watch;
            Publish();
            error = "";
            return true;
        }
    }

    /// <summary>The running watch with this id, or null.</summary>
    public TraceWatch? Watch(int id)
    {
        lock (_gate) return _watch is { } w && w.Id == id ? w : null;
    }

    /// <summary>Ends the watch with this id; false when it is not the running one.</summary>
    public bool EndWatch(int id)
    {
        lock (_gate)
        {
            if (_watch is not { } w || w.Id != id) return false;
            _watch = null;
            Publish();
            return true;
        }
    }

    private static bool IsIdle(TraceWatch w) => Environment.TickCount64 - w.LastPolled > (long)WatchIdleTimeout.TotalMilliseconds;

    /// <summary>Sets the datapath's tap to what runs now (under <c>_gate</c>).</summary>
    private void Publish()
    {
        var captures = _captures.Values.ToArray();
        _draining = captures;
        if (captures.Length == 0 && _watch is null)
        {
            _dp.Tap = null;
            return;
        }
        _dp.Tap = new Dispatch(this, [.. _captures.Keys], [.. _captures.Values], _watch);
        if (_writer is null && !_stopping)
        {
            _writer = new Thread(WriterLoop) { IsBackground = true, Name = "pcap-writer" };
            _writer.Start();
        }
    }

    /// <summary>A ring is half full: wake the writer (once until it runs).</summary>
    private void WakeWriter()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0) _wake.Set();
    }

    private void WriterLoop()
    {
        while (!_stopping)
        {
            _wake.WaitOne(DrainIntervalMs);
            Volatile.Write(ref _wakePending, 0);
            foreach (var c in _draining)
            {
                try
                {
                    lock (_io) c.Drain();
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    _logger?.LogWarning("port {Port} ({Name}): writing {Path} failed: {Message}", c.PortNo, c.PortName, c.Path, e.Message);
                }
            }
            TraceWatch? idle = null;
            lock (_gate)
            {
                if (_watch is { } w && IsIdle(w)) idle = w;
            }
            if (idle is not null) EndWatch(idle.Id);
        }
    }

    /// <summary>Stops every capture (closing the files) and the watch, removes the tap, ends the writer.</summary>
    public void Dispose()
    {
        List<ushort> ports;
        lock (_gate) ports = [.. _captures.Keys];
        foreach (ushort no in ports) Stop(no);
        lock (_gate)
        {
            _watch = null;
            _stopping = true;
            _dp.Tap = null;
        }
        _wake.Set();
        _writer?.Join(2000);
        _wake.Dispose();
    }

    /// <summary>
    /// The tap: hands bursts to the capture of their port and parsed bursts to the watch. Immutable. Captures are found
    /// by port number (a scan of the few running), so a port re-opened under its number (a new slot) stays captured.
    /// </summary>
    private sealed class Dispatch(LiveTaps owner, ushort[] ports, PortCapture[] captures, TraceWatch? watch) : PacketTap
    {
        public override void Received(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts) => Capture(f, slot, pkts, PcapNg.Inbound);

        public override void Sent(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts) => Capture(f, slot, pkts, PcapNg.Outbound);

        public override void Parsed(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts, ReadOnlySpan<FlowKey> keys) => watch?.Offer(f.Pool, pkts, keys);

        private void Capture(Forwarder f, PortSlot slot, ReadOnlySpan<int> pkts, uint direction)
        {
            int i = Array.IndexOf(ports, slot.No);
            if (i < 0) return;
            var capture = captures[i];
            capture.Append(f.Pool, pkts, direction);
            if (capture.WantsDrain) owner.WakeWriter();
        }
    }
}
