using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Ipfix;

/// <summary>
/// IPFIX bridge sampling of one datapath (an IPFIX row of <c>softswitch vswitchd</c>): the forwarding threads' IPFIX
/// sample rings (<see cref="SampleChannel.Ipfix"/>, 1 in <see cref="IpfixSettings.Sampling"/> packets) drained by one
/// exporter thread into an <see cref="IpfixExportProcess"/>, whose messages go over UDP to each target.
/// </summary>
/// <remarks>
/// <para>The thread drains the rings and runs the cache's expiry ten times a second (Open vSwitch's dpif_ipfix_run
/// runs at each turn of its main loop), and once more, forcing every flow out, when the exporter stops (a change of
/// the row, or the bridge going). A sample's ingress port and, for output sampling, its egress port (only when its flow
/// sends it to one port: a packet flooded, switched by NORMAL or sent to several ports has its ingress record only)
/// are named from <see cref="SetPorts"/>'s map, made by the bridge when its ports change.</para>
/// <para>Counted in the registry (<c>ctl coverage/show</c>): <c>ipfix-flow-records</c>, <c>ipfix-sample-drops</c>,
/// <c>ipfix-messages</c>, <c>ipfix-send-errors</c>. Thread safety: everything but <see cref="SetPorts"/> and
/// <see cref="Dispose"/> runs on the exporter thread; <see cref="SetPorts"/> publishes a whole new map.</para>
/// </remarks>
internal sealed class IpfixExporter : IDisposable, IIpfixSink
{
    /// <summary>IPFIX's registered collector port (RFC 7011, 10.3.4), used when a target is given without one.</summary>
    public const int DefaultPort = 4739;
    private static readonly TimeSpan s_drainPeriod = TimeSpan.FromMilliseconds(100);
    private static readonly Counter s_records = Coverage.Define("ipfix-flow-records", "IPFIX flow records sent to the collectors");
    private static readonly Counter s_sampleDrops = Coverage.Define("ipfix-sample-drops", "packets chosen for an IPFIX sample and lost: their forwarding thread's sample ring was full");
    private static readonly Counter s_messages = Coverage.Define("ipfix-messages", "IPFIX messages sent (one per collector)");
    private static readonly Counter s_sendErrors = Coverage.Define("ipfix-send-errors", "IPFIX messages not sent (the collector's host refused them, or no route)");

    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly Socket[] _sockets;
    private readonly IpfixExportProcess _process;
    private readonly ManualResetEvent _stop = new(false);
    private readonly Thread _thread;
    private readonly byte[] _header = new byte[PacketSampler.HeaderSize];
    private volatile IReadOnlyDictionary<ushort, IpfixPort> _ports = new Dictionary<ushort, IpfixPort>();
    private long _records, _messages, _sendErrors;
    private bool _warned;

    public IReadOnlyList<IPEndPoint> Collectors { get; }
    public IpfixSettings Settings => _process.Settings;
    public long RecordsSent => Volatile.Read(ref _records);
    public long MessagesSent => Volatile.Read(ref _messages);
    public long SendErrors => Volatile.Read(ref _sendErrors);

    private IpfixExporter(SwitchDatapath dp, IReadOnlyList<IPEndPoint> collectors, IpfixSettings settings, ILogger log)
    {
        if (collectors.Count == 0) throw new ArgumentException("no collector", nameof(collectors));
        _dp = dp;
        _log = log;
        Collectors = [.. collectors];
        _sockets = new Socket[collectors.Count];
        try
        {
            for (int i = 0; i < collectors.Count; i++)
            {
                _sockets[i] = new Socket(collectors[i].AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                _sockets[i].Connect(collectors[i]);
            }
        }
        catch
        {
            foreach (var socket in _sockets) socket?.Dispose();
            throw;
        }
        _process = new IpfixExportProcess(settings, this, () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000, collectors.Count);
        _thread = new Thread(Run) { IsBackground = true, Name = "ipfix" };
    }

    /// <summary>
    /// Starts exporting the datapath's IPFIX samples (the caller sets <see cref="SampleChannel.Ipfix"/>'s rate to
    /// <see cref="IpfixSettings.Sampling"/>) to every collector. Throws <see cref="SocketException"/> when a
    /// collector cannot be reached (no route).
    /// </summary>
    public static IpfixExporter Start(SwitchDatapath dp, IReadOnlyList<IPEndPoint> collectors, IpfixSettings settings, ILogger log)
    {
        var e = new IpfixExporter(dp, collectors, settings, log);
        dp.Counters.AddSource(s_records, () => e.RecordsSent, e);
        dp.Counters.AddSource(s_messages, () => e.MessagesSent, e);
        dp.Counters.AddSource(s_sendErrors, () => e.SendErrors, e);
        dp.Counters.AddSource(s_sampleDrops, () =>
        {
            long n = 0;
            foreach (var f in dp.Forwarders) n += f.Sampler.DropCountOf(SampleChannel.Ipfix);
            return n;
        }, e);
        e._thread.Start();
        return e;
    }

    /// <summary>The bridge's ports by OpenFlow number, as records name them (a number not in it: ifindex 0, no name).</summary>
    public void SetPorts(IReadOnlyDictionary<ushort, IpfixPort> ports) => _ports = ports;

    private void Run()
    {
        try
        {
            while (!_stop.WaitOne(s_drainPeriod)) Tick(forced: false);
            Tick(forced: true); // what the rings and the cache still hold when the exporter stops
        }
        catch (ObjectDisposedException) { }
    }

    private void Tick(bool forced)
    {
        var ports = _ports;
        var forwarders = _dp.Forwarders;
        for (int f = 0; f < forwarders.Count; f++)
        {
            var sampler = forwarders[f].Sampler;
            while (sampler.TryRead(SampleChannel.Ipfix, _header, out var s))
            {
                var ingress = ports.GetValueOrDefault(s.InPort) ?? IpfixPort.Unknown;
                IpfixPort? egress = null;
                if (s.OutputCount == 1 && (PortNumber.IsNumbered(s.OutPort) || s.OutPort == PortNumber.Local))
                    egress = ports.GetValueOrDefault(s.OutPort) ?? IpfixPort.Unknown;
                _process.Sample(s, _header.AsSpan(0, s.HeaderLength), ingress, egress);
            }
        }
        _process.Run(forced);
        Volatile.Write(ref _records, _process.RecordsSent);
    }

    /// <summary>Sends a message to each collector; the answer is how many sends failed.</summary>
    int IIpfixSink.Send(ReadOnlySpan<byte> message)
    {
        int errors = 0;
        for (int i = 0; i < _sockets.Length; i++)
        {
            try
            {
                _sockets[i].Send(message);
                Volatile.Write(ref _messages, _messages + 1);
            }
            catch (SocketException e)
            {
                // A connected UDP socket reports an earlier datagram's ICMP error on a later send: no collector listening.
                errors++;
                Volatile.Write(ref _sendErrors, _sendErrors + 1);
                if (!_warned)
                {
                    _warned = true;
                    _log.LogWarning("IPFIX collector {Collector}: {Error} (messages are dropped until it answers)", Collectors[i], e.Message);
                }
            }
        }
        return errors;
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
