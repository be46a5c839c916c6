using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Sflow;

/// <summary>
/// sFlow version 5 export (as Open vSwitch's <c>ovs-vsctl create sflow</c>): flow samples of 1 in N received packets
/// (the forwarding threads' <see cref="PacketSampler"/> rings) and, every polling interval, a counter sample of each
/// port, in UDP datagrams to its collectors (`run --sflow` has one; an sFlow row of `vswitchd` one per target, each
/// datagram sent to each).
/// </summary>
/// <remarks>
/// <para>One exporter thread drains every forwarder's ring ten times a second, encodes samples into a datagram and
/// sends it when the next sample would not fit or a second has passed since its first sample (so a quiet switch
/// still reports within a second). The switch is one data source for flow samples, as Open vSwitch's bridge
/// (source id class 2, index 1000); its ports are the data sources of counter samples (class 0, index the OpenFlow
/// port number). The sample pool is the packets the samplers have seen, the sample's own thread's count when it was
/// taken plus the others' now; drops are samples lost to a full ring.</para>
/// <para>Counted in the registry (<c>ctl coverage/show</c>): <c>sflow-flow-samples</c>, <c>sflow-sample-drops</c>,
/// <c>sflow-datagrams</c>, <c>sflow-send-errors</c>.</para>
/// <para>The agent address is the one given, else the source address the routing table picks for the first collector
/// (a connected UDP socket's local address), as Open vSwitch chooses it when no agent device is given. Thread safety: everything but
/// <see cref="Dispose"/> runs on the exporter thread; counters read the datapath racily.</para>
/// </remarks>
internal sealed class SflowExporter : IDisposable
{
    /// <summary>sFlow's registered collector port, used when the collector is given without one.</summary>
    public const int DefaultPort = 6343;
    private const uint FlowSourceId = (2u << 24) | 1000;
    private static readonly TimeSpan s_drainPeriod = TimeSpan.FromMilliseconds(100);
    private static readonly Counter s_flowSamples = Coverage.Define("sflow-flow-samples", "flow samples sent to the sFlow collector");
    private static readonly Counter s_sampleDrops = Coverage.Define("sflow-sample-drops", "packets chosen for an sFlow sample and lost: their forwarding thread's sample ring was full");
    private static readonly Counter s_datagrams = Coverage.Define("sflow-datagrams", "sFlow datagrams sent to the collector");
    private static readonly Counter s_sendErrors = Coverage.Define("sflow-send-errors", "sFlow datagrams not sent (the collector's host refused them, or no route)");

    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly Socket[] _sockets;
    private readonly SflowDatagram _datagram;
    private readonly int _rate, _headerBytes;
    private readonly long _pollTicks;
    private readonly ManualResetEvent _stop = new(false);
    private readonly Thread _thread;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly byte[] _header = new byte[PacketSampler.HeaderSize];
    private readonly Dictionary<ushort, uint> _counterSequence = new();
    private uint _datagramSequence, _flowSequence;
    private long _firstSampleTicks = -1, _nextPollTicks;
    private long _sendErrors, _flowSamplesSent, _datagramsSent;

    /// <summary>The first collector (every datagram goes to each of <see cref="Collectors"/>).</summary>
    public IPEndPoint Collector => Collectors[0];
    public IReadOnlyList<IPEndPoint> Collectors { get; }
    public IPAddress Agent { get; }
    /// <summary>Datagrams sent and lost to send errors (no collector listening, no route).</summary>
    public long DatagramsSent => Volatile.Read(ref _datagramsSent);
    public long SendErrors => Volatile.Read(ref _sendErrors);

    private SflowExporter(SwitchDatapath dp, IReadOnlyList<IPEndPoint> collectors, int pollingSeconds, ILogger log, int headerBytes, IPAddress? agent)
    {
        if (collectors.Count == 0) throw new ArgumentException("no collector", nameof(collectors));
        _dp = dp;
        _log = log;
        Collectors = [.. collectors];
        _rate = dp.SamplingRateOf(SampleChannel.Sflow);
        _headerBytes = Math.Clamp(headerBytes, 1, PacketSampler.HeaderSize);
        _pollTicks = pollingSeconds * Stopwatch.Frequency;
        _nextPollTicks = Stopwatch.Frequency; // the first counters a second after the start
        _sockets = new Socket[collectors.Count];
        try
        {
            for (int i = 0; i < collectors.Count; i++)
            {
                _sockets[i] = new Socket(collectors[i].AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                _sockets[i].Connect(collectors[i]);
            }
            Agent = agent ?? ((IPEndPoint)_sockets[0].LocalEndPoint!).Address;
        }
        catch
        {
            foreach (var socket in _sockets) socket?.Dispose();
            throw;
        }
        _datagram = new SflowDatagram(Agent);
        _thread = new Thread(Run) { IsBackground = true, Name = "sflow" };
    }

    /// <summary>
    /// Starts exporting from <paramref name="dp"/> (whose <see cref="DatapathOptions.SamplingRate"/> the samplers
    /// use) to <paramref name="collector"/>; <paramref name="pollingSeconds"/> 0 sends no counter samples. Throws
    /// <see cref="SocketException"/> when the collector cannot be reached (no route).
    /// </summary>
    public static SflowExporter Start(SwitchDatapath dp, IPEndPoint collector, int pollingSeconds, ILogger log)
        => Start(dp, [collector], pollingSeconds, log);

    /// <summary>
    /// As <see cref="Start(SwitchDatapath, IPEndPoint, int, ILogger)"/>, to every collector of <paramref name="collectors"/>
    /// (each datagram to each), with the first <paramref name="headerBytes"/> bytes of each sampled frame (at most
    /// <see cref="PacketSampler.HeaderSize"/>) and <paramref name="agent"/> as the agent address (null: the source
    /// address of the route to the first collector). The rate is the datapath's <see cref="SwitchDatapath.SamplingRate"/>
    /// when it starts.
    /// </summary>
    public static SflowExporter Start(SwitchDatapath dp, IReadOnlyList<IPEndPoint> collectors, int pollingSeconds, ILogger log,
        int headerBytes = PacketSampler.HeaderSize, IPAddress? agent = null)
    {
        var e = new SflowExporter(dp, collectors, pollingSeconds, log, headerBytes, agent);
        dp.Counters.AddSource(s_flowSamples, () => Volatile.Read(ref e._flowSamplesSent), e);
        dp.Counters.AddSource(s_datagrams, () => e.DatagramsSent, e);
        dp.Counters.AddSource(s_sendErrors, () => e.SendErrors, e);
        dp.Counters.AddSource(s_sampleDrops, () =>
        {
            long n = 0;
            foreach (var f in dp.Forwarders) n += f.Sampler.DropCountOf(SampleChannel.Sflow);
            return n;
        }, e);
        e._thread.Start();
        return e;
    }

    /// <summary>
    /// Reads <c>HOST:PORT</c>, <c>HOST</c> (port <paramref name="defaultPort"/>, sFlow's 6343 unless given),
    /// <c>[IPv6]:PORT</c> or a bare IPv6 address; a name is resolved now. False with a one-line reason (naming the
    /// setting as <paramref name="what"/>) on a bad form or an unknown name.
    /// </summary>
    public static bool TryParseCollector(string text, out IPEndPoint? endpoint, out string error, int defaultPort = DefaultPort, string what = "--sflow")
    {
        endpoint = null;
        error = "";
        string host = text.Trim();
        int port = defaultPort;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < host.Length && (host[close + 1] != ':' || !TryPort(host[(close + 2)..], out port))))
                return Fail(text, defaultPort, what, out error);
            host = host[1..close];
        }
        else if (host.Count(c => c == ':') == 1)
        {
            int colon = host.IndexOf(':', StringComparison.Ordinal);
            if (!TryPort(host[(colon + 1)..], out port)) return Fail(text, defaultPort, what, out error);
            host = host[..colon];
        }
        if (host.Length == 0) return Fail(text, defaultPort, what, out error);
        if (!IPAddress.TryParse(host, out var address))
        {
            try
            {
                address = Dns.GetHostAddresses(host).OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).FirstOrDefault();
            }
            catch (SocketException e)
            {
                error = $"{what} '{text}': cannot resolve '{host}': {e.Message}";
                return false;
            }
            if (address is null)
            {
                error = $"{what} '{text}': '{host}' has no address";
                return false;
            }
        }
        endpoint = new IPEndPoint(address, port);
        return true;

        static bool TryPort(string s, out int p)
            => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out p) && p is >= 1 and <= IPEndPoint.MaxPort;

        static bool Fail(string text, int defaultPort, string what, out string error)
        {
            error = $"{what} '{text}': want COLLECTOR[:PORT], e.g. 192.0.2.1:{defaultPort} or [2001:db8::1]:{defaultPort} (port {defaultPort} when left out)";
            return false;
        }
    }

    private void Run()
    {
        try
        {
            while (!_stop.WaitOne(s_drainPeriod)) Tick();
            Tick(); // what the rings still hold when the switch stops
            Flush();
        }
        catch (ObjectDisposedException) { }
    }

    /// <summary>One round: drain the rings, send a datagram that is due, poll the ports' counters when it is time.</summary>
    private void Tick()
    {
        Drain();
        long now = _uptime.ElapsedTicks;
        if (_firstSampleTicks >= 0 && now - _firstSampleTicks >= Stopwatch.Frequency) Flush();
        if (_pollTicks > 0 && now >= _nextPollTicks)
        {
            PollCounters();
            Flush();
            _nextPollTicks = now + _pollTicks;
        }
    }

    private void Drain()
    {
        var forwarders = _dp.Forwarders;
        for (int f = 0; f < forwarders.Count; f++)
        {
            var sampler = forwarders[f].Sampler;
            while (sampler.TryRead(SampleChannel.Sflow, _header, out var s))
            {
                long pool = s.Pool, drops = 0;
                for (int o = 0; o < forwarders.Count; o++)
                {
                    if (o != f) pool += forwarders[o].Sampler.SeenPackets;
                    drops += forwarders[o].Sampler.DropCountOf(SampleChannel.Sflow);
                }
                int headerLength = Math.Min(s.HeaderLength, _headerBytes);
                Reserve(SflowDatagram.FlowSampleSize(headerLength));
                _datagram.AddFlowSample(++_flowSequence, FlowSourceId, (uint)_rate, (uint)pool, (uint)drops,
                    SflowDatagram.IfIndex(s.InPort), SflowDatagram.OutputWord(s), s.FrameLength, _header.AsSpan(0, headerLength));
                Volatile.Write(ref _flowSamplesSent, _flowSamplesSent + 1);
            }
        }
    }

    private void PollCounters()
    {
        foreach (var slot in _dp.Ports.WithLocal)
        {
            var c = slot.Port.Counters.Snapshot();
            var (speed, direction) = SflowDatagram.SpeedOf(slot.Port.Info.Current);
            uint status = ((slot.Config & PortConfig.PortDown) == 0 ? 1u : 0u) | (slot.LinkUp ? 2u : 0u);
            var counters = new SflowInterfaceCounters(SflowDatagram.IfIndex(slot.No), speed, direction, status,
                (ulong)c.RxBytes, (uint)c.RxPackets, Counter32(c.RxDropped), Counter32(c.RxErrors),
                (ulong)c.TxBytes, (uint)c.TxPackets, Counter32(c.TxDropped), Counter32(c.TxErrors));
            Reserve(SflowDatagram.CounterSampleSize);
            _counterSequence.TryGetValue(slot.No, out uint seq);
            _counterSequence[slot.No] = ++seq;
            _datagram.AddCounterSample(seq, counters);
        }
    }

    /// <summary>A 32-bit counter word: the low bits, or all ones for a counter the port does not keep (-1).</summary>
    private static uint Counter32(long v) => v < 0 ? uint.MaxValue : (uint)v;

    /// <summary>Makes room for a sample of <paramref name="size"/> bytes: sends the datagram when it would not fit, starts one when none is open.</summary>
    private void Reserve(int size)
    {
        if (_firstSampleTicks >= 0 && !_datagram.Fits(size)) Flush();
        if (_firstSampleTicks < 0)
        {
            _datagram.Begin(++_datagramSequence, (uint)_uptime.ElapsedMilliseconds);
            _firstSampleTicks = _uptime.ElapsedTicks;
        }
    }

    private void Flush()
    {
        if (_firstSampleTicks < 0) return;
        _firstSampleTicks = -1;
        var datagram = _datagram.Finish();
        for (int i = 0; i < _sockets.Length; i++)
        {
            try
            {
                _sockets[i].Send(datagram);
                Volatile.Write(ref _datagramsSent, _datagramsSent + 1);
            }
            catch (SocketException e)
            {
                // A connected UDP socket reports an earlier datagram's ICMP error on a later send: no collector listening.
                Volatile.Write(ref _sendErrors, _sendErrors + 1);
                if (_sendErrors == 1)
                    _log.LogWarning("sFlow collector {Collector}: {Error} (datagrams are dropped until it answers)", Collectors[i], e.Message);
            }
        }
    }

    public void Dispose()
    {
        try { _stop.Set(); }
        catch (ObjectDisposedException) { return; }
        _thread.Join(TimeSpan.FromSeconds(5));
        _dp.Counters.RemoveSources(this);
        foreach (var socket in _sockets) socket.Dispose();
    }
}
