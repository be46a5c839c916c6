using System.Globalization;
using System.Net;
using System.Reflection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Softswitch.Datapath;
using Softswitch.Datapath.Offload;
using Softswitch.OfAgent;

namespace Softswitch.Metrics;

/// <summary>
/// `--metrics HOST:PORT`: the instruments of <see cref="SwitchMetrics"/> served at <c>http://HOST:PORT/metrics</c> by
/// OpenTelemetry's Prometheus exporter (its own HttpListener): OpenMetrics 1.0 when the scraper asks for it
/// (<c>Accept: application/openmetrics-text</c>, as Prometheus does), else the Prometheus text format.
/// </summary>
/// <remarks>
/// <para>The exporter reads the meter at each scrape (no response cache, so a scrape right after `ctl dp/show` agrees
/// with it), appends <c>_total</c> to counters, and adds <c>target_info</c> naming the service (<c>softswitch</c>,
/// its version, the dpid). Only the switch's own meter is exported. A port removed at run time leaves the exposition at
/// the next scrape (an observable instrument's series not reported by its callback are not exported).</para>
/// <para>Why not prometheus-net's MeterAdapter: it publishes every .NET counter as a Prometheus gauge (so no
/// <c>_total</c>, no counter type for rate()), prefixes each name with the meter's name, and creates its series through
/// its <c>MetricFactory</c> option, which defaults to the default registry even when <c>Registry</c> names another; its
/// observable instruments are only read by the registry it hooked, so a custom registry served nothing.</para>
/// <para><b>Thread safety</b>: the exporter serves scrapes on its own threads, one collection at a time; Dispose stops
/// the listener, then the meter.</para>
/// </remarks>
internal sealed class MetricsEndpoint : IDisposable
{
    private readonly MeterProvider _provider;
    private readonly SwitchMetrics _metrics;

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
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > IPEndPoint.MaxPort)
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

    private MetricsEndpoint(string host, int port, MeterProvider provider, SwitchMetrics metrics)
    {
        Host = host;
        Port = port;
        _provider = provider;
        _metrics = metrics;
    }

    /// <summary>
    /// Starts serving; throws <see cref="UserErrorException"/> naming the address when it cannot be bound (in use, not
    /// one of this machine's, not permitted). Any other failure is a bug and propagates as it is.
    /// </summary>
    public static MetricsEndpoint Start(string host, int port, SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload)
    {
        var metrics = new SwitchMetrics(dp, agent, offload);
        string prefix = $"http://{(host.Contains(':') ? $"[{host}]" : host)}:{port}/metrics/";
        string? version = typeof(MetricsEndpoint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        try
        {
            var provider = Sdk.CreateMeterProviderBuilder()
                .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("softswitch", serviceVersion: version,
                    serviceInstanceId: agent.Switch.DatapathId.ToString("x16", CultureInfo.InvariantCulture)))
                .AddMeter(SwitchMetrics.MeterName)
                .AddPrometheusHttpListener(o =>
                {
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                    o.ScopeInfoEnabled = false;
                    // Our own prefix: the exporter's Host/Port spell neither '*' (every address) nor a bracketed IPv6 host the same way.
                    o.ConfigureHttpListener = (_, listener) =>
                    {
                        listener.Prefixes.Clear();
                        listener.Prefixes.Add(prefix);
                    };
                })
                .Build();
            return new MetricsEndpoint(host, port, provider, metrics);
        }
        catch (Exception e) when (ListenerError(e) is { } listen)
        {
            // The exporter wraps the HttpListener's failure to start in an InvalidOperationException; only that cause
            // is the user's (the address), anything else stays a bug.
            metrics.Dispose();
            throw new UserErrorException($"cannot listen on {prefix}: {listen.Message}", e);
        }
        catch
        {
            metrics.Dispose();
            throw;
        }
    }

    private static HttpListenerException? ListenerError(Exception e)
        => e as HttpListenerException ?? (e is InvalidOperationException ? e.InnerException as HttpListenerException : null);

    public void Dispose()
    {
        _provider.Dispose();
        _metrics.Dispose();
    }
}
