using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// IPFIX from the database under `softswitch vswitchd`, beside sFlow on the same bridge: an IPFIX row (targets,
/// sampling, observation domain and point, a one-second cache) and an sFlow row at another rate; a UDP collector for
/// each in the test; a flow sends what p1 receives to p2, so each sample has an ingress and an egress record. The
/// IPFIX records (decoded by the test's own decoder, and by tshark without a malformed record)
/// count the sampled packets within 10% of the frames the port received divided by the IPFIX rate, and the sFlow
/// samples theirs at the sFlow rate. Removing the row stops the export and says so.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
public sealed class VswitchdIpfixTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
    private const int IpfixSampling = 40, SflowSampling = 50, Frames = 20_000;

    [E2EFact]
    [RequiresTool("tshark")]
    public void AnIpfixRow_BesideAnSflowRow_BothSampleAtTheirRates()
    {
        using var db = OvsdbServer.Start("ssw-vsdipf-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        using var h1 = Netns.Create();
        using var h2 = Netns.Create();
        using var ipfix = new SflowTests.Collector();
        using var sflow = new SflowTests.Collector();
        string br = $"ipf{s_id}";
        try
        {
            db.Vsctl("add-br", br, "--", "set-fail-mode", br, "standalone", "--", "add-port", br, h1.HostIf, "--", "add-port", br, h2.HostIf);
            string p1 = db.Vsctl("get", "Interface", h1.HostIf, "ofport").Trim();
            string p2 = db.Vsctl("get", "Interface", h2.HostIf, "ofport").Trim();
            // What p1 receives goes to p2 alone: its samples have an egress record too (output sampling).
            var flow = db.Tool("ovs-ofctl", "add-flow", br, $"in_port={p1},actions=output:{p2}");
            Assert.True(flow.Ok, flow.Stderr);
            db.Vsctl("--", "--id=@i", "create", "IPFIX", $"targets=\"127.0.0.1:{ipfix.Port}\"", $"sampling={IpfixSampling}", "obs_domain_id=123",
                "obs_point_id=456", "cache_active_timeout=1", "cache_max_flows=64", "--", "set", "Bridge", br, "ipfix=@i",
                "--", "--id=@s", "create", "sFlow", $"targets=\"127.0.0.1:{sflow.Port}\"", $"sampling={SflowSampling}", "--", "set", "Bridge", br, "sflow=@s");
            long before = Received(db, br, p1);
            using (var p = h1.StartFlood(h1.NsIf, Frames, 150, 60, pps: 5000))
                Assert.True(p.WaitForExit(90_000), "the flood did not end");
            // The cache holds a flow up to a second, the exporter runs ten times a second; the counters settle meanwhile.
            Thread.Sleep(2500);
            long seen = Received(db, br, p1) - before;
            Assert.True(seen >= Frames / 2, $"the bridge received {seen} of {Frames} frames\n" + VswitchdBridgesTests.Log(db));

            var d = IpfixDecoder.Decode(ipfix.Datagrams());
            Assert.Empty(d.Errors);
            var records = d.Records.Where(r => r.Domain == 123).ToList();
            ulong ifindex = ulong.Parse(db.Vsctl("get", "Interface", h1.HostIf, "ifindex").Trim(), CultureInfo.InvariantCulture);
            var ingress = records.Where(r => r.U(61) == 0 && r.U(10) == ifindex && r.U(256) == 0x88B5).ToList();
            ulong packets = (ulong)ingress.Sum(r => (long)r.U(2));
            double expected = (double)seen / IpfixSampling;
            ulong ifindex2 = ulong.Parse(db.Vsctl("get", "Interface", h2.HostIf, "ifindex").Trim(), CultureInfo.InvariantCulture);
            var egress = records.Where(r => r.U(61) == 1 && r.U(10) == ifindex && r.U(14) == ifindex2 && r.U(256) == 0x88B5).ToList();
            ulong egressPackets = (ulong)egress.Sum(r => (long)r.U(2));
            Console.WriteLine($"vswitchd ipfix: {seen} frames received, {records.Count} records, {packets / IpfixSampling} samples (expected {expected:F0}), "
                + $"{egressPackets / IpfixSampling} with an egress record");
            Assert.InRange(packets / (double)IpfixSampling, expected * 0.9, expected * 1.1);
            Assert.Equal(packets, egressPackets);
            Assert.All(records, r =>
            {
                Assert.Equal(456ul, r.U(138));
                Assert.Equal(0ul, r.U(2) % IpfixSampling);
            });
            Assert.Equal(h1.HostIf, System.Text.Encoding.UTF8.GetString(ingress[0].All(82).First()));
            uint sent = 0;
            foreach (var m in d.Messages.Where(m => m.Domain == 123))
            {
                Assert.Equal(sent, m.Sequence);
                sent += (uint)m.DataRecords;
            }

            var s = SflowTests.Decode(sflow.Datagrams());
            double sflowExpected = (double)seen / SflowSampling;
            Console.WriteLine($"vswitchd sflow beside ipfix: {s.Flows.Count} flow samples (expected {sflowExpected:F0})");
            Assert.InRange(s.Flows.Count, sflowExpected * 0.9, sflowExpected * 1.1);

            string pcap = Path.Combine(Path.GetTempPath(), $"ssw-vsdipf-{Guid.NewGuid():N}.pcap");
            try
            {
                SflowTests.WritePcap(pcap, ipfix.Datagrams(), ipfix.Port);
                var bad = Sh.Run("tshark", ["-r", pcap, "-d", $"udp.port=={ipfix.Port},cflow", "-Y", "_ws.malformed || _ws.expert.severity >= error"], 60_000);
                Assert.True(bad.Ok, bad.Stderr);
                Assert.Equal("", bad.Stdout.Trim());
                // tshark reads the same packet counts (packetDeltaCount) as the test's decoder.
                var counts = Sh.Run("tshark", ["-r", pcap, "-d", $"udp.port=={ipfix.Port},cflow", "-Y", "cflow.od_id == 123", "-T", "fields", "-e", "cflow.packets"], 60_000);
                Assert.True(counts.Ok, counts.Stderr);
                ulong all = 0;
                foreach (string v in counts.Stdout.Split(['\n', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    all += ulong.Parse(v, CultureInfo.InvariantCulture);
                Assert.Equal((ulong)records.Sum(r => (long)r.U(2)), all);
            }
            finally
            {
                File.Delete(pcap);
            }

            // Without the row nothing more is exported.
            db.Vsctl("clear", "bridge", br, "ipfix");
            Thread.Sleep(1500);
            int count = ipfix.Datagrams().Count;
            using (var p = h1.StartFlood(h1.NsIf, 2000, 150, 60, pps: 5000))
                Assert.True(p.WaitForExit(90_000), "the flood did not end");
            Thread.Sleep(1500);
            Assert.Equal(count, ipfix.Datagrams().Count);
            Assert.Contains($"bridge {br}: IPFIX stopped", VswitchdBridgesTests.Log(db));
            db.Vsctl("del-br", br);
        }
        finally
        {
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }

    private static long Received(OvsdbServer db, string br, string port)
    {
        var r = db.Tool("ovs-ofctl", "dump-ports", br, port);
        Assert.True(r.Ok, r.Stderr);
        var m = Regex.Match(r.Stdout, @"rx pkts=(\d+)");
        Assert.True(m.Success, r.Stdout);
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
