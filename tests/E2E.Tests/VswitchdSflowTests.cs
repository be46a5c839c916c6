using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// sFlow from the database under `softswitch vswitchd`, with sFlow-RT's Mininet recipe's ovs-vsctl line (an sFlow row
/// with agent, targets, sampling, polling and header, set on the bridge): a UDP collector in the test decodes the
/// datagrams, and the flow samples come at the configured rate (within 10% of the frames the port received divided
/// by the sampling rate), with the configured header bytes and the agent's address; tshark decodes them without a
/// malformed record. Removing the row stops the export.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
public sealed class VswitchdSflowTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
    private const int Sampling = 50, Frames = 20_000;

    [E2EFact]
    [RequiresTool("tshark")]
    public void AnSflowRow_SamplesAtItsRate_ToItsTarget()
    {
        using var db = OvsdbServer.Start("ssw-vsdsf-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        using var h1 = Netns.Create();
        using var h2 = Netns.Create();
        using var collector = new SflowTests.Collector();
        string br = $"sfl{s_id}";
        try
        {
            db.Vsctl("add-br", br, "--", "set-fail-mode", br, "standalone", "--", "add-port", br, h1.HostIf, "--", "add-port", br, h2.HostIf);
            string p1 = db.Vsctl("get", "Interface", h1.HostIf, "ofport").Trim();
            // sFlow-RT's recipe (agent, target, sampling, polling, header), with this test's collector and rate.
            db.Vsctl("--", "--id=@sflow", "create", "sflow", "agent=lo", $"target=\"127.0.0.1:{collector.Port}\"", $"sampling={Sampling}",
                "polling=1", "header=64", "--", "set", "bridge", br, "sflow=@sflow");
            long before = Received(db, br, p1);
            // The flood helper's frame (broadcast, type 0x88b5, zeros), paced at 5,000 frames a second.
            var frame = Convert.FromHexString("ffffffffffff02000000000188b5" + new string('0', 2 * 136));
            Flood(h1, Frames);
            // The exporter sends what it holds within a second; the counters settle meanwhile.
            Thread.Sleep(2500);
            long seen = Received(db, br, p1) - before;
            Assert.True(seen >= Frames / 2, $"the bridge received {seen} of {Frames} frames\n" + VswitchdBridgesTests.Log(db));
            var d = SflowTests.Decode(collector.Datagrams());
            double expected = (double)seen / Sampling;
            Console.WriteLine($"vswitchd sflow: {seen} frames received, {d.Flows.Count} flow samples (expected {expected:F0}), {d.Counters.Count} counter samples");
            Assert.InRange(d.Flows.Count, expected * 0.9, expected * 1.1);
            Assert.All(d.Flows, f =>
            {
                Assert.Equal((uint)Sampling, f.Rate);
                Assert.Equal(uint.Parse(p1, CultureInfo.InvariantCulture), f.Input);
                Assert.Equal(64, f.Header.Length);
                Assert.Equal(Convert.ToHexString(frame.AsSpan(0, 64)), Convert.ToHexString(f.Header));
            });
            Assert.Equal(IPAddress.Loopback, d.Agent);
            Assert.Contains(d.Counters, c => c.IfIndex == uint.Parse(p1, CultureInfo.InvariantCulture) && c.InPackets >= seen);

            string pcap = Path.Combine(Path.GetTempPath(), $"ssw-vsdsf-{Guid.NewGuid():N}.pcap");
            try
            {
                SflowTests.WritePcap(pcap, collector.Datagrams(), collector.Port);
                var bad = Sh.Run("tshark", ["-r", pcap, "-d", $"udp.port=={collector.Port},sflow", "-Y", "_ws.malformed || _ws.expert.severity >= error"], 60_000);
                Assert.True(bad.Ok, bad.Stderr);
                Assert.Equal("", bad.Stdout.Trim());
            }
            finally
            {
                File.Delete(pcap);
            }

            // Without the row nothing more is exported.
            db.Vsctl("clear", "bridge", br, "sflow");
            Thread.Sleep(1500);
            int count = collector.Datagrams().Count;
            Flood(h1, 2000);
            Thread.Sleep(2500);
            Assert.Equal(count, collector.Datagrams().Count);
            Assert.Contains($"bridge {br}: sFlow stopped", VswitchdBridgesTests.Log(db));
            db.Vsctl("del-br", br);
        }
        finally
        {
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }

    private static void Flood(Netns ns, int count)
    {
        using var p = ns.StartFlood(ns.NsIf, count, 150, 60, pps: 5000);
        Assert.True(p.WaitForExit(90_000), "the flood did not end");
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
