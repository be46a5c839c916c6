using System.Globalization;
using System.Net;
using Prometheus;
using Softswitch.Datapath;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Offload;
using Softswitch.OfAgent;

namespace Softswitch.Metrics;

/// <summary>
/// `--metrics HOST:PORT`: the switch's counters as prometheus-net metrics, served (HttpListener) at <c>http://HOST:PORT/metrics</c> in the
/// Prometheus text format, or OpenMetrics when the scraper asks for it (<c>Accept: application/openmetrics-text</c>).
/// </summary>
/// <remarks>
/// Names follow the OVS exporters' shape with our prefix: <c>softswitch_interface_rx_packets_total{port,name}</c>,
/// <c>softswitch_flows{table}</c>, <c>softswitch_datapath_drops_total{reason}</c>, <c>softswitch_controller_connected</c>,
/// ... The values are read when a scrape comes (a before-collect callback on the HTTP server's thread) from the same
/// snapshots `ctl dp/show` reads: port counter snapshots, table stats, drop counters; nothing is added to the
/// forwarding path. Counters are set to the switch's own totals (IncTo), so a value never goes backwards. A removed
/// port's series disappear at the next scrape. Disposing stops the server.
/// </remarks>
internal sealed class MetricsEndpoint : IDisposable
{
    private readonly HttpListener _listener;
    private readonly CollectorRegistry _registry;
    private readonly Task _loop;

    public string Host { get; }
    public int Port { get; }
    public string Url => $"http://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}/metrics";

    /// <summary>Parses <c>HOST:PORT</c> (<c>127.0.0.1:9477</c>, <c>[::1]:9477</c>, <c>localhost:9477</c>).</summary>
    public static bool TryParse(string text, out string host, out int port, out string error)
    {
        host = "";
        port = 0;
        error = "";
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            error = $"--metrics '{text}': want HOST:PORT, e.g. 127.0.0.1:9477";
            return false;
        }
        host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (host != "localhost" && host != "*" && !IPAddress.TryParse(host, out _))
        {
            error = $"--metrics '{text}': '{host}' is not an IP address (or localhost)";
            return false;
        }
        return true;
    }

    private MetricsEndpoint(string host, int port, CollectorRegistry registry)
    {
        Host = host;
        Port = port;
        _registry = registry;
        _listener = new HttpListener();
        _listener.Prefixes.Add($"http://{(host.Contains(':') ? $"[{host}]" : host)}:{port}/metrics/");
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    /// <summary>One scrape at a time: OpenMetrics when the Accept header asks for it, else the Prometheus text format.</summary>
    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                bool openMetrics = ctx.Request.Headers["Accept"]?.Contains("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true;
                ctx.Response.ContentType = openMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8";
                var body = new MemoryStream();
                await _registry.CollectAndExportAsTextAsync(body, openMetrics ? ExpositionFormat.OpenMetricsText : ExpositionFormat.PrometheusText).ConfigureAwait(false);
                ctx.Response.ContentLength64 = body.Length;
                await ctx.Response.OutputStream.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length)).ConfigureAwait(false);
                ctx.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The scraper went away.
            }
        }
    }

    /// <summary>Starts serving; throws <see cref="HttpListenerException"/> when the address cannot be bound.</summary>
    public static MetricsEndpoint Start(string host, int port, SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        string[] portLabels = ["port", "name"];
        Counter PortCounter(string name, string help) => f.CreateCounter("softswitch_interface_" + name, help, portLabels);
        var rxPackets = PortCounter("rx_packets_total", "packets received on the port");
        var txPackets = PortCounter("tx_packets_total", "packets sent on the port");
        var rxBytes = PortCounter("rx_bytes_total", "bytes received on the port");
        var txBytes = PortCounter("tx_bytes_total", "bytes sent on the port");
        var rxDropped = PortCounter("rx_dropped_total", "received packets the port dropped");
        var txDropped = PortCounter("tx_dropped_total", "packets the port could not send");
        var linkUp = f.CreateGauge("softswitch_interface_link_up", "1 when the port's link is up", portLabels);
        var flows = f.CreateGauge("softswitch_flows", "flows in each table", "table");
        var lookups = f.CreateCounter("softswitch_table_lookups_total", "lookups in each table", "table");
        var matches = f.CreateCounter("softswitch_table_matches_total", "lookups that matched in each table", "table");
        var drops = f.CreateCounter("softswitch_datapath_drops_total", "packets the datapath dropped, by reason", "reason");
        var macs = f.CreateGauge("softswitch_mac_entries", "learned MAC addresses (NORMAL, fail-standalone)");
        var connected = f.CreateGauge("softswitch_controller_connected", "1 while a controller is connected");
        var packetInsSent = f.CreateCounter("softswitch_packet_ins_sent_total", "packet-ins sent to controllers");
        var packetInsDropped = f.CreateCounter("softswitch_packet_ins_dropped_total", "packet-ins dropped (rate limit, full queues)");
        var flowMods = f.CreateCounter("softswitch_flow_mods_applied_total", "flow-mods applied");
        var offloadFlows = offload is null ? null : f.CreateGauge("softswitch_offload_flows", "flows in the offload target (hw) and in software (sw)", "placement");
        var known = new HashSet<(string, string)>();
        var gate = new Lock();

        registry.AddBeforeCollectCallback(() =>
        {
            lock (gate)
            {
                var seen = new HashSet<(string, string)>();
                foreach (var p in dp.Ports.List)
                {
                    string no = p.No.ToString(CultureInfo.InvariantCulture), name = p.Port.Info.Name;
                    seen.Add((no, name));
                    var c = p.Port.Counters.Snapshot();
                    static void Set(Counter counter, long v, string no, string name) { if (v >= 0) counter.WithLabels(no, name).IncTo(v); }
                    Set(rxPackets, c.RxPackets, no, name);
                    Set(txPackets, c.TxPackets, no, name);
                    Set(rxBytes, c.RxBytes, no, name);
                    Set(txBytes, c.TxBytes, no, name);
                    Set(rxDropped, c.RxDropped, no, name);
                    Set(txDropped, c.TxDropped, no, name);
                    linkUp.WithLabels(no, name).Set(p.Port.LinkUp ? 1 : 0);
                }
                foreach (var gone in known.Except(seen))
                {
                    foreach (var m in new Collector<Counter.Child>[] { rxPackets, txPackets, rxBytes, txBytes, rxDropped, txDropped }) m.RemoveLabelled(gone.Item1, gone.Item2);
                    linkUp.RemoveLabelled(gone.Item1, gone.Item2);
                }
                known.Clear();
                known.UnionWith(seen);
                for (int t = 0; t < dp.Flows.TableCount; t++)
                {
                    var st = dp.Flows.GetTableStats(t);
                    flows.WithLabels(st.Name).Set(st.ActiveCount);
                    lookups.WithLabels(st.Name).IncTo(st.LookupCount);
                    matches.WithLabels(st.Name).IncTo(st.MatchedCount);
                }
                for (var r = (DropReason)0; r < DropReason.Count; r++) drops.WithLabels(r.ToString()).IncTo(dp.DropCount(r));
                macs.Set(dp.MacTable.Count);
                connected.Set(agent.ControllerConnected ? 1 : 0);
                packetInsSent.IncTo(Interlocked.Read(ref agent.PacketInsSent));
                packetInsDropped.IncTo(Interlocked.Read(ref agent.PacketInsDropped));
                flowMods.IncTo(Interlocked.Read(ref agent.FlowModsApplied));
                if (offloadFlows is not null)
                {
                    var os = offload!.Stats;
                    offloadFlows.WithLabels("hw").Set(os.HardwareFlows);
                    offloadFlows.WithLabels("sw").Set(os.SoftwareFlows);
                }
            }
        });
        return new MetricsEndpoint(host, port, registry);
    }

    public void Dispose()
    {
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { }
    }
}
