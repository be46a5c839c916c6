using System.Text;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Ipfix;

/// <summary>Where an exporting process's messages go: each to every collector; the answer is how many could not be sent.</summary>
internal interface IIpfixSink
{
    int Send(ReadOnlySpan<byte> message);
}

/// <summary>A bridge's IPFIX settings as the exporter takes them (the IPFIX row, with Open vSwitch's defaults applied).</summary>
/// <param name="Sampling">1 in how many packets is sampled; each sample stands for this many packets.</param>
/// <param name="VirtualObsId">other_config:virtual_obs_id (UTF-8, at most 254 bytes), or null: not sent.</param>
internal sealed record IpfixSettings(uint Sampling, uint ObsDomainId = 0, uint ObsPointId = 0, uint CacheActiveTimeout = 0, uint CacheMaxFlows = 0,
    bool InputSampling = true, bool OutputSampling = true, string? VirtualObsId = null)
{
    /// <summary>Open vSwitch's template and statistics interval (OFPROTO_IPFIX_DEFAULT_TEMPLATE_INTERVAL, seconds).</summary>
    public const uint TemplateInterval = 600;
    /// <summary>The longest virtual_obs_id Open vSwitch sends (IPFIX_VIRTUAL_OBS_MAX_LEN).</summary>
    public const int MaxVirtualObsIdSize = 254;
}

/// <summary>
/// One bridge's IPFIX exporting process (RFC 7011), as Open vSwitch's bridge exporter: samples go into the flow cache
/// (<see cref="IpfixCache"/>), and flows that are due leave it as data records, packed into messages of at most
/// <see cref="IpfixMessage.MaxSize"/> bytes (one data set per run of records of one template) that <see cref="Run"/>
/// sends (Open vSwitch sends each record in a message of its own as it leaves the cache; packing them until the
/// exporter's next run, a tenth of a second later, sends the same records in fewer datagrams).
/// </summary>
/// <remarks>
/// <para><b>Templates</b>: every template of <see cref="IpfixTemplate.All"/> (and the options template of the
/// exporting process's reliability statistics, in observation domain 0 as Open vSwitch sends it) before the first data
/// record, and again before a record once <see cref="IpfixSettings.TemplateInterval"/> seconds have passed, as
/// Open vSwitch resends them over UDP. The statistics record (exportingProcessId, notSentPacketTotalCount) follows the
/// templates at the same interval.</para>
/// <para><b>Sequence numbers</b>: each message's is the data records this process sent before it in its observation
/// domain (RFC 7011, 3.1: template records do not count); the statistics record counts in domain 0.</para>
/// <para><b>Time</b>: the export time is the wall clock's second rounded up; a record's flowStart and flowEnd deltas are
/// microseconds before it, as Open vSwitch computes them. The clock is given (tests drive it).</para>
/// <para>Not thread-safe: one exporter thread calls everything.</para>
/// </remarks>
internal sealed class IpfixExportProcess
{
    private static int s_processes;

    private readonly IpfixSettings _settings;
    private readonly IIpfixSink _sink;
    private readonly Func<long> _nowUs;
    private readonly int _collectors;
    private readonly IpfixCache _cache;
    private readonly IpfixMessage _msg = new();
    private readonly byte[] _key = new byte[IpfixFlowKey.MaxSize];
    private readonly byte[]? _virtualObsId;
    private readonly uint _processId = (uint)Interlocked.Increment(ref s_processes);
    private bool _open;
    private uint _openExportTime;
    private long _lastTemplates = long.MinValue, _lastStats = long.MinValue;
    private uint _sequence, _statsSequence;

    public IpfixExportProcess(IpfixSettings settings, IIpfixSink sink, Func<long> nowUs, int collectors = 1)
    {
        _settings = settings;
        _sink = sink;
        _nowUs = nowUs;
        _collectors = collectors;
        _cache = new IpfixCache(settings.CacheActiveTimeout, settings.CacheMaxFlows);
        if (settings.VirtualObsId is { } v)
        {
            var bytes = Encoding.UTF8.GetBytes(v);
            if (bytes.Length > IpfixSettings.MaxVirtualObsIdSize) throw new ArgumentException($"virtual_obs_id is longer than {IpfixSettings.MaxVirtualObsIdSize} bytes", nameof(settings));
            _virtualObsId = bytes;
        }
    }

    public IpfixSettings Settings => _settings;
    /// <summary>Flows waiting in the cache.</summary>
    public int CachedFlows => _cache.Count;
    /// <summary>Data records sent (each once, whatever the collectors).</summary>
    public long RecordsSent { get; private set; }
    /// <summary>Messages sent, counted per collector, and those a collector's send failed for.</summary>
    public long MessagesSent { get; private set; }
    public long SendErrors { get; private set; }
    /// <summary>Samples of a frame too short for an Ethernet header (no record).</summary>
    public long Unparsed { get; private set; }

    /// <summary>
    /// A sample of the datapath (the first bytes of its frame in <paramref name="header"/>): an ingress record (input
    /// sampling) and, when <paramref name="egress"/> is known (the flow sends it to that one port), an egress record
    /// (output sampling). BFD packets are not sampled, as in Open vSwitch.
    /// </summary>
    public void Sample(in PacketSample sample, ReadOnlySpan<byte> header, IpfixPort ingress, IpfixPort? egress)
    {
        long now = _nowUs();
        bool dropped = sample.OutputCount == 0;
        if (_settings.InputSampling) Add(header, sample.FrameLength, ingress, null, dropped, now, _settings.Sampling, _settings.ObsPointId, skipBfd: true);
        if (_settings.OutputSampling && egress is not null) Add(header, sample.FrameLength, ingress, egress, false, now, _settings.Sampling, _settings.ObsPointId, skipBfd: true);
    }

    /// <summary>
    /// A sample action's sample (Open vSwitch's dpif_ipfix_flow_sample): one record, standing for
    /// <paramref name="packets"/> packets (65535 / the action's probability), of observation point
    /// <paramref name="obsPointId"/>, egress when <paramref name="egress"/> is given, else ingress. BFD packets are
    /// sampled too, as Open vSwitch's flow sampling does.
    /// </summary>
    public void SampleFlow(ReadOnlySpan<byte> header, int frameLength, ulong packets, uint obsPointId, IpfixPort ingress, IpfixPort? egress)
        => Add(header, frameLength, ingress, egress, false, _nowUs(), packets, obsPointId, skipBfd: false);

    private void Add(ReadOnlySpan<byte> header, int frameLength, IpfixPort ingress, IpfixPort? egress, bool dropped, long now, ulong packets, uint obsPointId,
                     bool skipBfd)
    {
        if (!IpfixFlowKey.TryWrite(header, obsPointId, ingress, egress, _key, out var info))
        {
            Unparsed++;
            return;
        }
        if (skipBfd && info.Bfd) return;
        // Over its most flows the cache lets the oldest go at once (their records wait in the open message for Run).
        if (_cache.Add(_key.AsSpan(0, info.KeyLength), info, frameLength, packets, dropped, now)) Expire(now, forced: false);
    }

    /// <summary>Exports the flows that are due (<paramref name="forced"/>: every flow, the exporter stopping) and sends
    /// the records written since the last run.</summary>
    public void Run(bool forced = false)
    {
        Expire(_nowUs(), forced);
        FlushData();
    }

    private void Expire(long now, bool forced)
    {
        uint exportTime = (uint)((now + 999_999) / 1_000_000);
        while (_cache.TryExpire(now, forced, out var flow, out var reason))
        {
            if (_lastTemplates == long.MinValue || _lastTemplates + IpfixSettings.TemplateInterval <= exportTime)
            {
                FlushData();
                SendTemplates(exportTime);
                _lastTemplates = exportTime;
            }
            if (_lastStats == long.MinValue || _lastStats + IpfixSettings.TemplateInterval <= exportTime)
            {
                FlushData();
                SendStats(exportTime);
                _lastStats = exportTime;
            }
            WriteRecord(flow, reason, exportTime);
            _cache.Release(flow);
        }
    }

    /// <summary>Bytes <paramref name="flow"/>'s data record takes.</summary>
    private int RecordSize(IpfixFlow flow)
    {
        int n = flow.KeyLength - 2 + (_virtualObsId is null ? 0 : 1 + _virtualObsId.Length) + 113;
        if (flow.Template.IsIp) n += 80;
        if (flow.Template.L4 == IpfixL4.Tcp) n += 48;
        return n;
    }

    private void WriteRecord(IpfixFlow flow, IpfixEndReason reason, uint exportTime)
    {
        ushort id = flow.Template.Id;
        int size = RecordSize(flow);
        // A record's deltas are from its message's export time: a message holds records of one export time only.
        if (_open && (_openExportTime != exportTime || !_msg.Fits(size + (_msg.OpenSet == id ? 0 : IpfixMessage.SetHeaderSize)))) FlushData();
        if (!_open)
        {
            _msg.Begin(exportTime, _sequence, _settings.ObsDomainId);
            _open = true;
            _openExportTime = exportTime;
        }
        if (_msg.OpenSet != id) _msg.BeginSet(id);
        _msg.Bytes(flow.Key.AsSpan(2, flow.KeyLength - 2));
        if (_virtualObsId is not null) _msg.Variable(_virtualObsId);
        long exportUs = exportTime * 1_000_000L;
        var t = flow.Totals;
        _msg.U32((uint)(exportUs - flow.StartUs));
        _msg.U32((uint)(exportUs - flow.EndUs));
        _msg.U64(flow.DroppedPacketDelta);
        _msg.U64(t.DroppedPackets);
        _msg.U64(flow.PacketDelta);
        _msg.U64(t.Packets);
        _msg.U64(t.InUnicast);
        _msg.U64(t.InMulticast);
        _msg.U64(t.InBroadcast);
        _msg.U64(t.OutUnicast);
        _msg.U64(t.OutBroadcast);
        _msg.U64(flow.PostMcastPacketDelta);
        _msg.U64(t.PostMcastPackets);
        _msg.U64(flow.Layer2OctetDelta);
        _msg.U64(t.Layer2Octets);
        _msg.U8((byte)reason);
        if (flow.Template.IsIp)
        {
            _msg.U64(flow.DroppedOctetDelta);
            _msg.U64(t.DroppedOctets);
            _msg.U64(flow.OctetDelta);
            _msg.U64(t.Octets);
            _msg.U64(flow.OctetDeltaSumOfSquares);
            _msg.U64(t.OctetSumOfSquares);
            _msg.U64(flow.MinIpLength);
            _msg.U64(flow.MaxIpLength);
            _msg.U64(flow.PostMcastOctetDelta);
            _msg.U64(t.PostMcastOctets);
        }
        if (flow.Template.L4 == IpfixL4.Tcp)
        {
            _msg.U64(t.TcpAck);
            _msg.U64(t.TcpFin);
            _msg.U64(t.TcpPsh);
            _msg.U64(t.TcpRst);
            _msg.U64(t.TcpSyn);
            _msg.U64(t.TcpUrg);
        }
        _msg.CountRecord();
    }

    /// <summary>Sends the open data message, if any.</summary>
    private void FlushData()
    {
        if (!_open) return;
        _open = false;
        int records = _msg.Records;
        Send(_msg.Finish());
        _sequence += (uint)records;
        if (_settings.ObsDomainId == 0) _statsSequence = _sequence;
        RecordsSent += records;
    }

    /// <summary>Every template, as many messages as they take, then the options template (domain 0).</summary>
    private void SendTemplates(uint exportTime)
    {
        bool vobs = _virtualObsId is not null;
        _msg.Begin(exportTime, _sequence, _settings.ObsDomainId);
        _msg.BeginSet(IpfixMessage.TemplateSetId);
        foreach (var template in IpfixTemplate.All())
        {
            var fields = template.Fields(vobs);
            if (!_msg.Fits(IpfixTemplate.RecordSize(fields)))
            {
                Send(_msg.Finish());
                _msg.Begin(exportTime, _sequence, _settings.ObsDomainId);
                _msg.BeginSet(IpfixMessage.TemplateSetId);
            }
            IpfixTemplate.Write(_msg, template.Id, fields);
        }
        Send(_msg.Finish());
        _msg.Begin(exportTime, _statsSequence, 0);
        _msg.BeginSet(IpfixMessage.OptionsTemplateSetId);
        IpfixTemplate.WriteExporterStats(_msg);
        Send(_msg.Finish());
    }

    /// <summary>The exporting process's reliability statistics record (domain 0): its id and the messages not sent.</summary>
    private void SendStats(uint exportTime)
    {
        _msg.Begin(exportTime, _statsSequence, 0);
        _msg.BeginSet(IpfixTemplate.ExporterStatsId);
        _msg.U32(_processId);
        _msg.U64((ulong)SendErrors);
        Send(_msg.Finish());
        _statsSequence++;
        if (_settings.ObsDomainId == 0) _sequence = _statsSequence;
    }

    private void Send(ReadOnlySpan<byte> message)
    {
        int errors = _sink.Send(message);
        SendErrors += errors;
        MessagesSent += _collectors - errors;
    }
}
