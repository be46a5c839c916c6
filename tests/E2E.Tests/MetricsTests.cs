using System.Net;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `--metrics` on the daemon with real traffic: pings between two namespaces through AF_PACKET ports, then a real HTTP
/// client scrapes OpenMetrics and every port's packet and byte counters equal `softswitch ctl dp/show`'s.
/// </summary>
public sealed partial class MetricsTests
{
    [GeneratedRegex(@"(?m)^  (\d+) (\S+): link \w+, config .*?, rx (\d+) packets (\d+) bytes (\d+) dropped, tx (\d+) packets (\d+) bytes (\d+) dropped$")]
    private static partial Regex PortLine();

    [E2EFact]
    public async Task Scrape_AfterPings_CountersEqualDpShow()
    {
        using var hosts = new Hosts(2, subnet: "10.78.0");
        int metricsPort = SwitchProcess.FreePort();
        string ctl = Path.Combine(Path.GetTempPath(), $"ops-metrics-{Guid.NewGuid():N}.ctl");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "standalone", "--metrics", $"127.0.0.1:{metricsPort}", "--unixctl", ctl);
        Assert.True(hosts.Ping(0, 1, count: 5, timeout: 3), "h1 cannot ping h2 through the switch");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        // Traffic may still trickle (IPv6 neighbour discovery): compare a scrape taken between two equal dp/shows.
        for (int attempt = 0; ; attempt++)
        {
            string before = SwitchProcess.Ctl("-t", ctl, "dp/show").Stdout;
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{metricsPort}/metrics");
            request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var m = OpenMetricsText.Parse(await response.Content.ReadAsStringAsync());
            string after = SwitchProcess.Ctl("-t", ctl, "dp/show").Stdout;
            var ports = PortLine().Matches(before);
            Assert.Equal(2, ports.Count);
            if (before != after && attempt < 20)
            {
                Thread.Sleep(250);
                continue;
            }
            if (before != after) Console.WriteLine("dp/show kept moving; comparing with the later one as a bound");
            var later = PortLine().Matches(after);
            for (int i = 0; i < ports.Count; i++)
            {
                var g = ports[i].Groups;
                string labels = $"{{name=\"{g[2].Value}\",port=\"{g[1].Value}\"}}";
                (string Metric, int Group)[] checks = [("rx_packets", 3), ("rx_bytes", 4), ("tx_packets", 6), ("tx_bytes", 7)];
                foreach (var (metric, group) in checks)
                {
                    double scraped = m[$"softswitch_interface_{metric}_total{labels}"];
                    Assert.InRange(scraped, long.Parse(g[group].Value), long.Parse(later[i].Groups[group].Value));
                }
                Assert.True(long.Parse(g[3].Value) >= 5, $"port {g[1].Value} saw fewer than the 5 pings: {before}");
                Assert.Equal(1, m[$"softswitch_interface_link_up{labels}"]);
            }
            Assert.True(m["softswitch_mac_entries"] >= 2);
            Assert.True(m["softswitch_thread_packets_total{thread=\"0\"}"] >= 10);
            return;
        }
    }
}
