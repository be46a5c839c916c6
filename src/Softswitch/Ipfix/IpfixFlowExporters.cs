using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ipfix;

/// <summary>One Flow_Sample_Collector_Set of a bridge as its flow exporter takes it: its id, its IPFIX row's targets and
/// settings (the sampling rate and the row's observation ids unused: the sample action gives them).</summary>
internal sealed record IpfixCollectorSet(uint Id, IReadOnlyList<IPEndPoint> Targets, IpfixSettings Settings);

/// <summary>
/// Per-flow IPFIX of one datapath (Open vSwitch's flow exporters, ofproto-dpif-ipfix.c): the samples that sample actions
/// queued on each forwarding thread (<see cref="FlowSampler"/>, the control path's too) drained by one exporter thread,
/// each handed to the exporter of its collector set id (a Flow_Sample_Collector_Set row whose IPFIX row has targets),
/// whose messages go over UDP to that row's targets.
/// </summary>
/// <remarks>
/// <para>A sample stands for 65535 / its probability packets and makes one record (dpif_ipfix_flow_sample): its
/// observation point id is the action's, and so is its observation domain id, the domain of the message that carries
/// it. An exporter keeps one <see cref="IpfixExportProcess"/> per observation domain it has seen (each with its
/// templates, sequence numbers and cache; Open vSwitch keeps one cache per exporter and tracks template times per
/// domain). The record is egress (naming the port it left by) when the action says egress, or gives a sampling port
/// other than the packet's in_port; ingress otherwise. A sample whose collector set has no exporter is dropped and
/// counted (<c>ipfix-flow-sample-no-set</c>), as Open vSwitch drops it.</para>
/// <para><see cref="Configure"/> (the bridge's thread) publishes a new set of exporters; the exporter thread takes it at
/// its next turn, forcing out every flow of an exporter that left (or changed) and closing its sockets, as it does for
/// all of them when disposed. Counted in the registry: <c>ipfix-flow-sample-records</c>, <c>ipfix-flow-sample-no-set</c>,
/// <c>ipfix-flow-sample-send-errors</c>.</para>
/// </remarks>
internal sealed class IpfixFlowExporters : IDisposable
{
    private static readonly TimeSpan s_drainPeriod = TimeSpan.FromMilliseconds(100);
    private static readonly Counter s_records = Coverage.Define("ipfix-flow-sample-records", "IPFIX flow records of sample actions sent to their collector sets");
    private static readonly Counter s_noSet = Coverage.Define("ipfix-flow-sample-no-set", "sample action samples dropped: no Flow_Sample_Collector_Set with IPFIX targets has their collector_set_id");
    private static readonly Counter s_sendErrors = Coverage.Define("ipfix-flow-sample-send-errors", "IPFIX messages of sample actions not sent (the collector's host refused them, or no route)");

    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly ManualResetEvent _stop = new(false);
    private readonly Thread _thread;
    private readonly byte[] _header = new byte[PacketSampler.HeaderSize];
    private volatile Dictionary<uint, Exporter> _next = [];
    private Dictionary<uint, Exporter> _current = [];
    /// <summary>Exporters a configuration dropped (the exporter thread closes them, whether or not it ever served them).</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<Exporter> _retired = new();
    private volatile IReadOnlyDictionary<ushort, IpfixPort> _ports = new Dictionary<ushort, IpfixPort>();
    private long _records, _noSet, _sendErrors, _taken;

    private IpfixFlowExporters(SwitchDatapath dp, ILogger log)
    {
        _dp = dp;
        _log = log;
        _thread = new Thread(Run) { IsBackground = true, Name = "ipfix-flow" };
    }

    public long RecordsSent => Volatile.Read(ref _records);
    public long NoSetDrops => Volatile.Read(ref _noSet);
    /// <summary>Samples handed to an exporter (its cache).</summary>
    public long SamplesTaken => Volatile.Read(ref _taken);
    public long SendErrors => Volatile.Read(ref _sendErrors);

    /// <summary>The collector set ids served now (as last configured).</summary>
    public IReadOnlyCollection<uint> SetIds => _next.Keys;

    /// <summary>Starts draining the datapath's flow samples (with no collector set yet: each is counted a drop).</summary>
    public static IpfixFlowExporters Start(SwitchDatapath dp, ILogger log)
    {
        var e = new IpfixFlowExporters(dp, log);
        dp.Counters.AddSource(s_records, () => e.RecordsSent, e);
        dp.Counters.AddSource(s_noSet, () => e.NoSetDrops, e);
        dp.Counters.AddSource(s_sendErrors, () => e.SendErrors, e);
        e._thread.Start();
        return e;
    }

    /// <summary>The bridge's ports by OpenFlow number, as records name them (a number not in it: ifindex 0, no name).</summary>
    public void SetPorts(IReadOnlyDictionary<ushort, IpfixPort> ports) => _ports = ports;

    /// <summary>
    /// Serves <paramref name="sets"/> (unique ids): an exporter whose set is unchanged goes on; one new or changed opens
    /// its sockets now (a set none of whose targets can be reached is left out, said in the log). The exporter thread
    /// retires the others at its next turn.
    /// </summary>
    public void Configure(IReadOnlyList<IpfixCollectorSet> sets)
    {
        var current = _next;
        var next = new Dictionary<uint, Exporter>();
        foreach (var set in sets)
        {
            if (current.TryGetValue(set.Id, out var same) && same.Set.Settings == set.Settings && same.Set.Targets.SequenceEqual(set.Targets))
            {
                next[set.Id] = same;
                continue;
            }
            try
            {
                next[set.Id] = new Exporter(this, set);
            }
            catch (SocketException e)
            {
                _log.LogWarning("IPFIX collector set {Id}: not served: {Error}", set.Id, e.Message);
            }
        }
        _next = next;
        foreach (var (id, old) in current)
        {
            if (!next.TryGetValue(id, out var kept) || !ReferenceEquals(kept, old)) _retired.Enqueue(old);
        }
    }

    private void Run()
    {
        try
        {
            while (!_stop.WaitOne(s_drainPeriod)) Tick(forced: false);
            Tick(forced: true);
        }
        catch (ObjectDisposedException) { }
    }

    private void Tick(bool forced)
    {
        _current = _next;
        while (_retired.TryDequeue(out var old)) old.Close(); // what its caches hold leaves now
        var ports = _ports;
        var forwarders = _dp.Forwarders;
        for (int f = 0; f < forwarders.Count; f++) Drain(forwarders[f].FlowSampler, ports);
        if (_dp.ControlIfMade is { } control) Drain(control.FlowSampler, ports);
        foreach (var e in _current.Values)
        {
            if (forced) e.Close();
            else if (!e.Closed) e.Run(forced: false);
        }
        long records = _closedRecords;
        foreach (var e in _current.Values)
            if (!e.Closed) records += e.RecordsSent;
        Volatile.Write(ref _records, records);
    }

    private long _closedRecords;

    private void Drain(FlowSampler sampler, IReadOnlyDictionary<ushort, IpfixPort> ports)
    {
        while (sampler.TryRead(_header, out var s))
        {
            if (!_current.TryGetValue(s.CollectorSetId, out var e) || e.Closed) // a closed one: retired as this turn began
            {
                Volatile.Write(ref _noSet, _noSet + 1);
                continue;
            }
            var ingress = ports.GetValueOrDefault(s.InPort) ?? IpfixPort.Unknown;
            // dpif_ipfix's flow direction: the action's, else egress when its sampling port is another port than in_port.
            ushort outPort = s.SamplingPort == NoPort ? PortNumber.None : s.SamplingPort == LocalPort ? PortNumber.Local : s.SamplingPort;
            bool toOther = outPort != PortNumber.None && outPort != s.InPort;
            bool egress = s.Direction == 2 || (s.Direction == 0 && toOther);
            IpfixPort? egressPort = egress ? (toOther ? ports.GetValueOrDefault(outPort) ?? IpfixPort.Unknown : IpfixPort.Unknown) : null;
            e.Sample(s, _header.AsSpan(0, s.HeaderLength), ingress, egressPort);
            Volatile.Write(ref _taken, _taken + 1);
        }
    }

    /// <summary>OFPP_NONE and OFPP_LOCAL as a sample's 16-bit sampling port.</summary>
    private const ushort NoPort = 0xffff, LocalPort = 0xfffe;

    public void Dispose()
    {
        try { _stop.Set(); }
        catch (ObjectDisposedException) { return; }
        _thread.Join(TimeSpan.FromSeconds(5));
        _dp.Counters.RemoveSources(this);
    }

    /// <summary>One collector set's exporter: its sockets and a process per observation domain. The exporter thread's.</summary>
    private sealed class Exporter : IIpfixSink
    {
        private readonly IpfixFlowExporters _owner;
        private readonly Socket[] _sockets;
        private readonly Dictionary<uint, IpfixExportProcess> _domains = [];
        private bool _warned, _closed;

        public bool Closed => _closed;

        public IpfixCollectorSet Set { get; }

        public Exporter(IpfixFlowExporters owner, IpfixCollectorSet set)
        {
            if (set.Targets.Count == 0) throw new ArgumentException("no collector", nameof(set));
            _owner = owner;
            Set = set;
            _sockets = new Socket[set.Targets.Count];
            try
            {
                for (int i = 0; i < _sockets.Length; i++)
                {
                    _sockets[i] = new Socket(set.Targets[i].AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                    _sockets[i].Connect(set.Targets[i]);
                }
            }
            catch
            {
                foreach (var socket in _sockets) socket?.Dispose();
                throw;
            }
        }

        public long RecordsSent
        {
            get
            {
                long n = 0;
                foreach (var p in _domains.Values) n += p.RecordsSent;
                return n;
            }
        }

        public void Sample(in FlowSample s, ReadOnlySpan<byte> header, IpfixPort ingress, IpfixPort? egress)
        {
            if (!_domains.TryGetValue(s.ObsDomainId, out var process))
            {
                process = new IpfixExportProcess(Set.Settings with { ObsDomainId = s.ObsDomainId }, this,
                                                 () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000, _sockets.Length);
                _domains.Add(s.ObsDomainId, process);
            }
            process.SampleFlow(header, s.FrameLength, 65535u / s.Probability, s.ObsPointId, ingress, egress);
        }

        public void Run(bool forced)
        {
            foreach (var p in _domains.Values) p.Run(forced);
        }

        /// <summary>Forces every flow out and closes the sockets (once).</summary>
        public void Close()
        {
            if (_closed) return;
            Run(forced: true);
            _owner._closedRecords += RecordsSent;
            _closed = true;
            foreach (var socket in _sockets) socket.Dispose();
        }

        int IIpfixSink.Send(ReadOnlySpan<byte> message)
        {
            if (_closed) return _sockets.Length;
            int errors = 0;
            for (int i = 0; i < _sockets.Length; i++)
            {
                try
                {
                    _sockets[i].Send(message);
                }
                catch (SocketException e)
                {
                    errors++;
                    Volatile.Write(ref _owner._sendErrors, _owner._sendErrors + 1);
                    if (!_warned)
                    {
                        _warned = true;
                        _owner._log.LogWarning("IPFIX collector set {Id}, collector {Collector}: {Error} (messages are dropped until it answers)",
                                               Set.Id, Set.Targets[i], e.Message);
                    }
                }
            }
            return errors;
        }
    }
}
