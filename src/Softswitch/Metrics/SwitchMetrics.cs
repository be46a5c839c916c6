using System.Diagnostics.Metrics;
using System.Globalization;
using System.Reflection;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent;
using Softswitch.Ports.AfXdp;

namespace Softswitch.Metrics;

/// <summary>
/// The switch's counters as System.Diagnostics.Metrics instruments on one <see cref="Meter"/> named
/// <see cref="MeterName"/>: ports, flow tables, every counter of the <see cref="Coverage"/> registry (drops by reason among
/// them), kernel and hardware offloads, controller and listener connections. Any MeterListener sees them (the
/// <c>--metrics</c> endpoint, <c>dotnet-counters</c>, an OpenTelemetry pipeline of an embedding host).
/// </summary>
/// <remarks>
/// <para><b>Reading, not counting</b>: every instrument is observable (ObservableCounter for totals, ObservableGauge
/// for levels). Its callback runs when a listener collects (a scrape) and reads the same snapshots `ctl dp/show` and
/// `ctl coverage/show` read: port counter snapshots, table stats, the counter registry's sums, the agent's and
/// listeners' interlocked counters, <see cref="OffloadManager.Stats"/>. Nothing is added to the forwarding path, and
/// between collections the instruments cost nothing.</para>
/// <para><b>Names</b> are the Prometheus names without their type suffix, in the shape of the OVS exporters
/// (<c>softswitch_interface_rx_packets</c> with labels <c>port</c> and <c>name</c>); an exporter appends <c>_total</c>
/// to counters. Totals the switch keeps as signed longs with −1 for "not maintained" are left out while −1.</para>
/// <para><b>Thread safety</b>: callbacks may run on any thread, one collection at a time per listener; they only read
/// (racily, monotonically, as dp/show). The instruments live until <see cref="Dispose"/>, which disposes the meter.</para>
/// </remarks>
internal sealed class SwitchMetrics : IDisposable
{
    public const string MeterName = "Softswitch";

    private readonly Meter _meter;
    private readonly SwitchDatapath _dp;
    private readonly OfSwitchAgent _agent;
    private readonly OffloadManager? _offload;

    public Meter Meter => _meter;

    public SwitchMetrics(SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload)
    {
        _dp = dp;
        _agent = agent;
        _offload = offload;
        _meter = new Meter(MeterName, typeof(SwitchMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

        // Ports (OpenFlow port statistics).
        PortCounter("softswitch_interface_rx_packets", "{packet}", "packets received on the port", c => c.RxPackets);
        PortCounter("softswitch_interface_tx_packets", "{packet}", "packets sent on the port", c => c.TxPackets);
        PortCounter("softswitch_interface_rx_bytes", "By", "bytes received on the port", c => c.RxBytes);
        PortCounter("softswitch_interface_tx_bytes", "By", "bytes sent on the port", c => c.TxBytes);
        PortCounter("softswitch_interface_rx_dropped", "{packet}", "received packets the port dropped", c => c.RxDropped);
        PortCounter("softswitch_interface_tx_dropped", "{packet}", "packets the port could not send", c => c.TxDropped);
        PortCounter("softswitch_interface_rx_errors", "{packet}", "receive errors (ports that count them)", c => c.RxErrors);
        PortCounter("softswitch_interface_tx_errors", "{packet}", "transmit errors (ports that count them)", c => c.TxErrors);
        _meter.CreateObservableGauge("softswitch_interface_link_up", () => PerPort(p => p.Port.LinkUp ? 1L : 0L), null, "1 when the port's link is up");

        // Kernel offloads taken in software on receive.
        KernelOffloadCounter("softswitch_interface_rx_checksum_completed", "{packet}", "partial checksums completed in software", p => Volatile.Read(ref p.RxChecksumCompleted));
        KernelOffloadCounter("softswitch_interface_rx_gso_whole", "{frame}", "GSO super-frames received whole (segmented later only if the output needs it)", p => Volatile.Read(ref p.RxGsoWhole));
        KernelOffloadCounter("softswitch_interface_rx_gso_frames", "{frame}", "GSO super-frames cut into segments", p => Volatile.Read(ref p.RxGsoFrames));
        KernelOffloadCounter("softswitch_interface_rx_gso_segments", "{packet}", "segments made from GSO super-frames", p => Volatile.Read(ref p.RxGsoSegments));
        KernelOffloadCounter("softswitch_interface_rx_gso_refused", "{frame}", "GSO super-frames refused (unsupported or malformed)", p => Volatile.Read(ref p.RxGsoRefused));
        KernelOffloadCounter("softswitch_interface_rx_oversize", "{frame}", "frames larger than a packet buffer (dropped)", p => Volatile.Read(ref p.RxOversize));
        // AF_XDP ports: the kernel's socket counters (XDP_STATISTICS), summed over the port's sockets.
        XdpCounter("softswitch_interface_xdp_rx_dropped", "frames the kernel dropped for an AF_XDP socket (no UMEM frame, or too big)", st => st.RxDropped);
        XdpCounter("softswitch_interface_xdp_rx_ring_full", "frames dropped because an AF_XDP RX ring was full (the forwarding thread fell behind)", st => st.RxRingFull);
        XdpCounter("softswitch_interface_xdp_rx_fill_ring_empty", "times the kernel found an AF_XDP fill ring empty", st => st.FillRingEmptyDescs);
        XdpCounter("softswitch_interface_xdp_tx_ring_empty", "times the kernel found an AF_XDP TX ring empty when asked to send", st => st.TxRingEmptyDescs);
        XdpCounter("softswitch_interface_xdp_rx_invalid", "invalid descriptors on AF_XDP receive", st => st.RxInvalidDescs);
        XdpCounter("softswitch_interface_xdp_tx_invalid", "invalid descriptors on AF_XDP transmit", st => st.TxInvalidDescs);

        // Flow tables.
        _meter.CreateObservableGauge("softswitch_flows", () => PerTable(st => st.ActiveCount), "{flow}", "flows in each table");
        _meter.CreateObservableCounter("softswitch_table_lookups", () => PerTable(st => st.LookupCount), "{packet}", "lookups in each table");
        _meter.CreateObservableCounter("softswitch_table_matches", () => PerTable(st => st.MatchedCount), "{packet}", "lookups that matched in each table");

        // Groups.
        _meter.CreateObservableGauge("softswitch_groups", () => (long)_dp.Groups.Count, "{group}", "groups in the group table");
        _meter.CreateObservableCounter("softswitch_group_packets", () => PerGroup(g => g.Packets), "{packet}", "packets each group ran");
        _meter.CreateObservableCounter("softswitch_group_bytes", () => PerGroup(g => g.Bytes), "By", "bytes each group ran");
        _meter.CreateObservableCounter("softswitch_group_bucket_packets", () => PerBucket(b => b.Packets), "{packet}", "packets each bucket of each group ran");
        _meter.CreateObservableCounter("softswitch_group_bucket_bytes", () => PerBucket(b => b.Bytes), "By", "bytes each bucket of each group ran");
        // Meters.
        _meter.CreateObservableGauge("softswitch_meters", () => (long)_dp.Meters.Count, "{meter}", "meters in the meter table");
        _meter.CreateObservableCounter("softswitch_meter_packets", () => PerMeter(m => m.Packets), "{packet}", "packets that entered each meter");
        _meter.CreateObservableCounter("softswitch_meter_bytes", () => PerMeter(m => m.Bytes), "By", "bytes that entered each meter");
        _meter.CreateObservableCounter("softswitch_meter_band_packets", () => PerBand(b => b.Packets), "{packet}", "packets each band of each meter applied to (dropped or remarked)");
        _meter.CreateObservableCounter("softswitch_meter_band_bytes", () => PerBand(b => b.Bytes), "By", "bytes each band of each meter applied to");
        // Egress queues: those a shaping configures, and any other a packet went through (ENQUEUE, set_queue).
        _meter.CreateObservableCounter("softswitch_queue_tx_packets", () => PerQueue(c => Volatile.Read(ref c.TxPackets)), "{packet}", "packets each egress queue sent");
        _meter.CreateObservableCounter("softswitch_queue_tx_bytes", () => PerQueue(c => Volatile.Read(ref c.TxBytes)), "By", "bytes each egress queue sent");
        _meter.CreateObservableCounter("softswitch_queue_tx_errors", () => PerQueue(c => Volatile.Read(ref c.TxErrors)), "{packet}", "packets each egress queue dropped (full, or its port down)");
        _meter.CreateObservableGauge("softswitch_queue_backlog", QueueBacklogs, "{packet}", "packets waiting in each queue of a shaped port");
        _meter.CreateObservableGauge("softswitch_emergency_flows", () => (long)_agent.Switch.Flows.Emergency, "{flow}", "emergency flows (used while no controller is connected)");
        _meter.CreateObservableGauge("softswitch_mac_entries", () => (long)_dp.MacTable.Count, "{entry}", "learned MAC addresses (NORMAL, fail-standalone)");

        // The counter registry: every counter, and the drop family again by reason.
        _meter.CreateObservableCounter("softswitch_coverage", Coverage_, "{event}", "every counter of the switch's counter registry (ctl coverage/show)");
        _meter.CreateObservableCounter("softswitch_datapath_drops", Drops, "{packet}", "packets the datapath dropped, by reason (the drop- counters)");
        _meter.CreateObservableCounter("softswitch_thread_packets", Threads, "{packet}", "packets each forwarding thread processed");
        _meter.CreateObservableGauge("softswitch_thread_stall_max_microseconds", () => PerThread(f => f.MaxBusyGapMicros), "us", "longest gap between two poll rounds of each forwarding thread while it had packets");
        _meter.CreateObservableCounter("softswitch_thread_stalls_over_1ms", () => PerThread(f => f.BusyGapsOver1ms), "{stall}", "gaps over 1 ms between two poll rounds of each forwarding thread while it had packets");

        // Runtime suspensions (garbage collections stop the forwarding threads too).
        var pauses = GcPauseMonitor.Start();
        _meter.CreateObservableCounter("softswitch_gc_pauses", () => pauses.GcPauses, "{pause}", "garbage collection pauses measured");
        _meter.CreateObservableGauge("softswitch_gc_pause_max_microseconds", () => pauses.MaxMicros, "us", "longest garbage collection pause (suspension to restart)");
        _meter.CreateObservableGauge("softswitch_gc_pause_p99_microseconds", () => pauses.Quantile(0.99), "us", "99th percentile of the garbage collection pauses (histogram bucket bound)");
        _meter.CreateObservableCounter("softswitch_gc_pause_microseconds", () => pauses.TotalMicros, "us", "sum of the garbage collection pauses");
        _meter.CreateObservableCounter("softswitch_gc_pause_bucket", PauseBuckets, "{pause}", "garbage collection pauses up to each bound (le, in us; cumulative)");
        _meter.CreateObservableCounter("softswitch_gc_pause_phase_microseconds", PausePhases, "us", "sum of the garbage collection pauses by phase (suspend, mark-stack, ..., plan, restart)");

        // Controller and listener connections.
        _meter.CreateObservableGauge("softswitch_controller_connected", () => _agent.ControllerConnected ? 1L : 0L, null, "1 while a controller is connected");
        _meter.CreateObservableCounter("softswitch_packet_ins_sent", () => _agent.PacketInsSent, "{message}", "packet-ins sent to controllers");
        _meter.CreateObservableCounter("softswitch_packet_ins_dropped", () => _agent.PacketInsDropped, "{message}", "packet-ins dropped (rate limit, full queues)");
        _meter.CreateObservableCounter("softswitch_flow_mods_applied", () => _agent.FlowModsApplied, "{message}", "flow-mods applied");
        _meter.CreateObservableCounter("softswitch_openflow_errors_sent", () => _agent.ErrorsSent, "{message}", "OpenFlow errors sent to peers");
        _meter.CreateObservableCounter("softswitch_async_messages_dropped", () => _agent.AsyncMessagesDropped, "{message}", "FLOW_REMOVED and PORT_STATUS messages lost to a connection that closed, refused or still queued (never dropped for a peer that is behind)");
        _meter.CreateObservableGauge("softswitch_listener_connections", () => PerListener(l => l.Live), "{connection}", "connections of each listener alive now");
        ListenerCounter("softswitch_listener_accepted", "connections each listener accepted", l => Interlocked.Read(ref l.Accepted));
        ListenerCounter("softswitch_listener_established", "connections each listener established (OpenFlow hello done)", l => Interlocked.Read(ref l.Established));
        ListenerCounter("softswitch_listener_opening_failed", "connections refused in their opening (deadline, TLS, closed)", l => Interlocked.Read(ref l.OpeningFailed));
        ListenerCounter("softswitch_listener_evicted", "opening connections dropped to make room", l => Interlocked.Read(ref l.Evicted));
        ListenerCounter("softswitch_listener_evicted_idle", "established connections closed, longest idle first, to make room", l => Interlocked.Read(ref l.EvictedIdle));
        ListenerCounter("softswitch_listener_refused_full", "connections refused at the listener's cap (every established one busy)", l => Interlocked.Read(ref l.RefusedFull));

        // Hardware offload (with --offload).
        if (_offload is not null)
        {
            _meter.CreateObservableGauge("softswitch_offload_flows", OffloadFlows, "{flow}", "flows in the offload target (hw) and in software (sw)");
            OffloadStat("softswitch_offload_installs", "{flow}", "flows installed in the offload target", s => s.Installs);
            OffloadStat("softswitch_offload_evictions", "{flow}", "flows evicted from the offload target", s => s.Evictions);
            OffloadStat("softswitch_offload_register_writes", "{write}", "register writes for flow-mods and maintenance", s => s.FlowModRegisterWrites + s.MaintenanceRegisterWrites);
            OffloadStat("softswitch_offload_packets", "{packet}", "packets forwarded by the offload target", s => s.HardwarePackets);
            OffloadStat("softswitch_offload_bytes", "By", "bytes forwarded by the offload target", s => s.HardwareBytes);
            OffloadStat("softswitch_offload_target_errors", "{error}", "errors the offload target reported", s => s.TargetErrors);
        }
    }

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    private List<Measurement<long>> PerPort(Func<PortSlot, long> read)
    {
        var ports = _dp.Ports.List;
        var list = new List<Measurement<long>>(ports.Length);
        foreach (var p in ports)
        {
            long v = read(p);
            if (v >= 0) list.Add(new(v, Tag("port", p.No.ToString(CultureInfo.InvariantCulture)), Tag("name", p.Port.Info.Name)));
        }
        return list;
    }

    private void PortCounter(string name, string unit, string description, Func<PortCountersSnapshot, long> read)
        => _meter.CreateObservableCounter(name, () => PerPort(p => read(p.Port.Counters.Snapshot())), unit, description);

    private void XdpCounter(string name, string description, Func<XdpSocketStatistics, ulong> read)
        => _meter.CreateObservableCounter(name, () => PerPort(p => p.Port is AfXdpPort x ? (long)read(x.KernelStatistics) : -1), "{event}", description);

    private void KernelOffloadCounter(string name, string unit, string description, Func<PortCounters, long> read)
        => _meter.CreateObservableCounter(name, () => PerPort(p => read(p.Port.Counters)), unit, description);

    private List<Measurement<long>> PerTable(Func<Softswitch.Ofproto.FlowTableStats, long> read)
    {
        var flows = _agent.Switch.Flows;
        var list = new List<Measurement<long>>(flows.TableCount);
        foreach (var table in flows.Tables)
        {
            var st = flows.GetTableStats(table.Id);
            list.Add(new(read(st), Tag("table", st.Name)));
        }
        return list;
    }

    private List<Measurement<long>> PerGroup(Func<Softswitch.Datapath.Groups.Group, long> read)
    {
        var list = new List<Measurement<long>>();
        foreach (var g in _dp.Groups.All) list.Add(new(read(g), Tag("group", g.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        return list;
    }

    private List<Measurement<long>> PerBucket(Func<Softswitch.Datapath.Groups.GroupBucket, long> read)
    {
        var list = new List<Measurement<long>>();
        foreach (var g in _dp.Groups.All)
        {
            string id = g.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            for (int i = 0; i < g.Buckets.Length; i++)
                list.Add(new(read(g.Buckets[i]), Tag("group", id), Tag("bucket", i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        }
        return list;
    }

    private List<Measurement<long>> PerQueue(Func<Softswitch.Datapath.Ports.QueueCounters, long> read)
    {
        var list = new List<Measurement<long>>();
        foreach (var slot in _dp.Ports.WithLocal)
        {
            var shaper = _dp.PortQos.ShaperOf(slot);
            for (int q = 0; q < slot.Queues.Length; q++)
            {
                var c = slot.Queues[q];
                bool shaped = shaper is not null && q < Softswitch.Datapath.Qos.PortShaper.MaxQueues && shaper.Queues[q] is not null;
                if (!shaped && Volatile.Read(ref c.TxPackets) == 0 && Volatile.Read(ref c.TxErrors) == 0) continue;
                list.Add(new(read(c), Tag("port", slot.Port.Info.Name), Tag("queue", q.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            }
        }
        return list;
    }

    private List<Measurement<long>> QueueBacklogs()
    {
        var list = new List<Measurement<long>>();
        foreach (var slot in _dp.Ports.WithLocal)
        {
            if (_dp.PortQos.ShaperOf(slot) is not { } shaper) continue;
            foreach (var q in shaper.Queues)
            {
                if (q is not null) list.Add(new(q.Backlog, Tag("port", slot.Port.Info.Name), Tag("queue", q.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            }
        }
        return list;
    }

    private static string MeterId(uint id) => id == Softswitch.Ofproto.MeterModRequest.Controller ? "controller" : id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private List<Measurement<long>> PerMeter(Func<Softswitch.Datapath.Meters.Meter, long> read)
    {
        var list = new List<Measurement<long>>();
        foreach (var m in _dp.Meters.All) list.Add(new(read(m), Tag("meter", MeterId(m.Id))));
        return list;
    }

    private List<Measurement<long>> PerBand(Func<Softswitch.Datapath.Meters.MeterBand, long> read)
    {
        var list = new List<Measurement<long>>();
        foreach (var m in _dp.Meters.All)
        {
            string id = MeterId(m.Id);
            for (int i = 0; i < m.Bands.Length; i++)
                list.Add(new(read(m.Bands[i]), Tag("meter", id), Tag("band", i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        }
        return list;
    }

    private List<Measurement<long>> PerListener(Func<Softswitch.OfAgent.Session.OfListener, long> read)
    {
        var list = new List<Measurement<long>>();
        foreach (var l in _agent.Listeners) list.Add(new(read(l), Tag("endpoint", l.Endpoint.ToString())));
        return list;
    }

    private void ListenerCounter(string name, string description, Func<Softswitch.OfAgent.Session.OfListener, long> read)
        => _meter.CreateObservableCounter(name, () => PerListener(read), "{connection}", description);

    private List<Measurement<long>> Coverage_()
    {
        var all = _dp.Counters.Snapshot();
        var list = new List<Measurement<long>>(all.Count);
        foreach (var (info, value) in all) list.Add(new(value, Tag("counter", info.Name)));
        return list;
    }

    private List<Measurement<long>> Drops()
    {
        var list = new List<Measurement<long>>((int)DropReason.Count);
        for (var r = (DropReason)0; r < DropReason.Count; r++)
        {
            string name = DatapathCounters.Drop(r).Info.Name;
            list.Add(new(_dp.DropCount(r), Tag("reason", name.StartsWith("drop-", StringComparison.Ordinal) ? name[5..] : name)));
        }
        return list;
    }

    private List<Measurement<long>> PerThread(Func<Forwarder, long> read)
    {
        var list = new List<Measurement<long>>(_dp.Forwarders.Count);
        for (int t = 0; t < _dp.Forwarders.Count; t++) list.Add(new(read(_dp.Forwarders[t]), Tag("thread", t.ToString(CultureInfo.InvariantCulture))));
        return list;
    }

    private static List<Measurement<long>> PauseBuckets()
    {
        var h = GcPauseMonitor.Start().Histogram();
        var list = new List<Measurement<long>>(h.Length);
        long cumulative = 0;
        for (int i = 0; i < h.Length; i++)
        {
            // Cumulative, as a Prometheus histogram's le buckets are: pauses up to this bound.
            cumulative += h[i];
            string le = i < GcPauseMonitor.BucketUpperMicros.Length ? GcPauseMonitor.BucketUpperMicros[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
            list.Add(new(cumulative, Tag("le", le)));
        }
        return list;
    }

    private static Measurement<long>[] PausePhases()
    {
        var m = GcPauseMonitor.Start();
        var list = new Measurement<long>[GcPauseMonitor.PhaseNames.Length];
        for (int i = 0; i < list.Length; i++) list[i] = new(m.PhaseMicros((GcPauseMonitor.Phase)i), Tag("phase", GcPauseMonitor.PhaseNames[i]));
        return list;
    }

    private List<Measurement<long>> Threads()
    {
        var list = new List<Measurement<long>>(_dp.Forwarders.Count);
        for (int t = 0; t < _dp.Forwarders.Count; t++) list.Add(new(_dp.Forwarders[t].Packets, Tag("thread", t.ToString(CultureInfo.InvariantCulture))));
        return list;
    }

    private Measurement<long>[] OffloadFlows()
    {
        var s = _offload!.Stats;
        return [new(s.HardwareFlows, Tag("placement", "hw")), new(s.SoftwareFlows, Tag("placement", "sw"))];
    }

    private void OffloadStat(string name, string unit, string description, Func<OffloadStats, long> read)
        => _meter.CreateObservableCounter(name, () => read(_offload!.Stats), unit, description);

    public void Dispose() => _meter.Dispose();
}
