using System.Net.Sockets;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The real daemon with the emulated NetFPGA board, flows from ovs-ofctl, and `softswitch ctl` asking it where they
/// went: offload/show, offload/dump-flows, the Debug log, the control socket's file. Needs ovs-ofctl, not root.
/// </summary>
[RequiresTool("ovs-ofctl")]
public sealed class OffloadCtlTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-e2e-ctl-");

    public void Dispose() => _dir.Delete(recursive: true);

    private const string Exact1 = "in_port=1,dl_vlan=0xffff,dl_vlan_pcp=0,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_type=0x0800," +
                                  "nw_tos=0,nw_proto=17,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1000,tp_dst=2000";
    private const string Exact2 = "in_port=2,dl_vlan=0xffff,dl_vlan_pcp=0,dl_src=02:00:00:00:00:02,dl_dst=02:00:00:00:00:01,dl_type=0x0800," +
                                  "nw_tos=0,nw_proto=6,nw_src=10.0.0.2,nw_dst=10.0.0.1,tp_src=80,tp_dst=4000";

    [ToolFact]
    public void OffloadShowAndDumpFlows_ReportHardwareSoftwareReasonsAndWrites()
    {
        string socket = Path.Combine(_dir.FullName, "sw.ctl");
        using var sw = new SwitchProcess(SwitchProcess.FreePort(15_000, 20_000), "mem:4",
            "--offload", "netfpga-emulated", "--unixctl", socket, "--log-level", "Debug");

        sw.Ofctl("add-flow", Exact1 + ",actions=output:2");                          // exact: hardware
        sw.Ofctl("add-flow", Exact2 + ",actions=output:1");                          // exact: hardware
        sw.Ofctl("add-flow", "priority=50,ip,in_port=1,nw_dst=10.0.1.0/24,actions=output:3");   // wildcard: one hardware row
        sw.Ofctl("add-flow", "priority=60,arp,actions=CONTROLLER:65535");            // to the controller: software
        sw.Ofctl("add-flow", "priority=70,ip,in_port=2,nw_dst=10.0.9.9,actions=in_port");         // IN_PORT: software

        var show = SwitchProcess.Ctl("--target", socket, "offload/show");
        Assert.True(show.Ok, show.Stderr + show.Stdout);
        var lines = show.Stdout.Split('\n');
        Assert.Contains("offload target: netfpga", lines);
        Assert.Contains("flows: 5", lines);
        Assert.Contains("hardware flows: 3 (3 rows)", lines);
        Assert.Contains("software flows: 2", lines);
        Assert.Contains(lines, l => l.StartsWith("  unsupported-action: 1 (", StringComparison.Ordinal));   // the count, then the reason's description
        Assert.Contains(lines, l => l.StartsWith("  output-to-in-port: 1 (", StringComparison.Ordinal));   // the count, then the reason's description
        Assert.Contains("table exact: 2/32768 rows used", lines);
        Assert.Contains("table wildcard: 1/24 rows used", lines);
        // 20 writes per exact row, 30 for the wildcard row, none for the software flows.
        Assert.Contains("  flow-mods: 5", lines);
        Assert.Contains("  writes for flow-mods: 70", lines);
        Assert.Contains("  writes per flow-mod: 14.0", lines);

        var dump = SwitchProcess.Ctl("--target", socket, "offload/dump-flows");
        Assert.True(dump.Ok, dump.Stderr + dump.Stdout);
        var flows = dump.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(5, flows.Length);
        Assert.Equal(2, flows.Count(f => f.Contains(", placement=hw(exact,row=") && f.Contains("priority=65535,")));
        Assert.Contains(flows, f => f.Contains(", placement=hw(exact,row=") && f.EndsWith("udp,in_port=1,dl_vlan=0,dl_vlan_pcp=0,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02," +
                                                                                      "nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,tp_src=1000,tp_dst=2000 actions=output:2"));
        Assert.Contains(flows, f => f.EndsWith(", placement=hw(wildcard,row=0), priority=50,ip,in_port=1,nw_dst=10.0.1.0/24 actions=output:3"));
        Assert.Contains(flows, f => f.EndsWith(", placement=sw(reason=unsupported-action,detail=\"CONTROLLER:65535\"), priority=60,arp actions=CONTROLLER:65535"));
        Assert.Contains(flows, f => f.Contains(", placement=sw(reason=output-to-in-port,") && f.EndsWith("priority=70,ip,in_port=2,nw_dst=10.0.9.9 actions=IN_PORT"));
        Assert.All(flows, f => Assert.StartsWith(" cookie=0x0, duration=", f));

        var sw2 = SwitchProcess.Ctl("--target", socket, "offload/dump-flows", "sw");
        Assert.Equal(2, sw2.Stdout.TrimEnd('\n').Split('\n').Length);

        // The logs say the same, one Debug line per decision.
        Assert.Contains("offload started: emulated NetFPGA-1G (register-level model), 4 port(s)", sw.Output);
        Assert.Equal(2, CountOf(sw.Output, "offload added: priority=65535,"));
        Assert.Contains("offload added: priority=50,ip,in_port=1,nw_dst=10.0.1.0/24 actions=output:3 -> hw(wildcard,row=0), 30 register writes", sw.Output);
        Assert.Contains("offload added: priority=60,arp actions=CONTROLLER:65535 -> sw(reason=unsupported-action", sw.Output);
    }

    [ToolFact]
    public void OverlapStaysInSoftware_ThenIsPromotedWhenTheOverlapGoes()
    {
        string socket = Path.Combine(_dir.FullName, "sw.ctl");
        using var sw = new SwitchProcess(SwitchProcess.FreePort(15_000, 20_000), "mem:4",
            "--offload", "netfpga-emulated", "--unixctl", socket, "--log-level", "Debug");
        // An exact flow, a /16 route (its output:3 depends on the in_port: software drops what came in on port 3, so
        // the board gets in_ports 1, 2 and 4 as two value/mask rows), a flow for the controller, and a /24 route inside
        // the /16 at a lower priority: wildcard rows have no priority, so it must stay in software.
        sw.Ofctl("add-flow", Exact1 + ",actions=output:2");
        sw.Ofctl("add-flow", "priority=100,ip,nw_dst=10.1.0.0/16,actions=output:3");
        sw.Ofctl("add-flow", "priority=50,arp,actions=CONTROLLER:65535");
        sw.Ofctl("add-flow", "priority=40,ip,nw_dst=10.1.2.0/24,actions=output:4");

        var show = Ok(SwitchProcess.Ctl("--target", socket, "offload/show")).Split('\n');
        Assert.Contains("hardware flows: 2 (3 rows)", show);
        Assert.Contains(show, l => l.StartsWith("  overlaps-offloaded-rule: 1 (", StringComparison.Ordinal));   // the count, then the reason's description
        Assert.Contains(show, l => l.StartsWith("  unsupported-action: 1 (", StringComparison.Ordinal));   // the count, then the reason's description
        Assert.Contains("table wildcard: 2/24 rows used", show);
        Assert.Contains("board: emulated NetFPGA-1G (register-level model), 4 port(s)", show);
        var dump = Ok(SwitchProcess.Ctl("--target", socket, "offload/dump-flows")).TrimEnd('\n').Split('\n');
        Assert.Equal(4, dump.Length);
        Assert.Contains(", placement=hw(exact,row=", dump[0]);   // exact flows first, as they are looked up
        Assert.EndsWith(", placement=hw(wildcard,rows=0+1), priority=100,ip,nw_dst=10.1.0.0/16 actions=output:3", dump[1]);
        Assert.EndsWith(", placement=sw(reason=overlaps-offloaded-rule,detail=\"priority=100,ip,nw_dst=10.1.0.0/16\"), priority=40,ip,nw_dst=10.1.2.0/24 actions=output:4", dump[3]);

        // Once the /16 is gone, the next maintenance poll offers the /24 again, and it goes to the freed rows.
        sw.Ofctl("--strict", "del-flows", "priority=100,ip,nw_dst=10.1.0.0/16");
        string text = "";
        var t = System.Diagnostics.Stopwatch.StartNew();
        while (t.ElapsedMilliseconds < 5000)
        {
            text = Ok(SwitchProcess.Ctl("--target", socket, "offload/dump-flows", "hw"));
            if (text.Contains("priority=40,ip,nw_dst=10.1.2.0/24")) break;
            Thread.Sleep(100);
        }
        Assert.Contains(", placement=hw(wildcard,rows=0+1), priority=40,ip,nw_dst=10.1.2.0/24 actions=output:4", text);
        var after = Ok(SwitchProcess.Ctl("--target", socket, "offload/show")).Split('\n');
        Assert.Contains("flows: 3", after);
        Assert.Contains("hardware flows: 2 (3 rows)", after);
        Assert.Contains("promotions: 1", after);
        Assert.Contains("evictions: 0", after);

        Assert.Contains("offload removed: priority=100,ip,nw_dst=10.1.0.0/16 actions=output:3 (was in hardware)", sw.Output);
        Assert.Contains("offload retried: priority=40,ip,nw_dst=10.1.2.0/24 actions=output:4 -> hw(wildcard,rows=0+1)", sw.Output);
    }

    private static string Ok(Sh.Result r)
    {
        Assert.True(r.ExitCode == 0, $"softswitch ctl exited {r.ExitCode}: {r.Stderr}{r.Stdout}");
        return r.Stdout;
    }

    [ToolFact]
    public void ControlSocket_OwnerOnly_SurvivesBadRequests_RemovedOnExit()
    {
        string socket = Path.Combine(_dir.FullName, "sw.ctl");
        var sw = new SwitchProcess(SwitchProcess.FreePort(15_000, 20_000), "mem:2", "--unixctl", socket);
        try
        {
            Assert.Equal("600 socket", Sh.Check("stat", "-c", "%a %F", socket).Trim());

            // Garbage, an oversized line, a client that connects and leaves: each gets an answer or nothing, never a crash.
            foreach (var junk in new[] { new byte[] { 0xFF, 0x00, 0x0A }, new byte[64 * 1024], "offload/show\n"u8.ToArray()[..5] })
            {
                using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
                s.Connect(new UnixDomainSocketEndPoint(socket));
                s.Send(junk);
                s.Shutdown(SocketShutdown.Send);
                var buf = new byte[4096];
                int n = s.Receive(buf);
                Assert.StartsWith("ERROR\n", System.Text.Encoding.UTF8.GetString(buf, 0, n));
            }
            var unknown = SwitchProcess.Ctl("--target", socket, "offload/nope");
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("unknown command 'offload/nope'", unknown.Stderr);
            var off = SwitchProcess.Ctl("--target", socket, "offload/show");
            Assert.Equal(1, off.ExitCode);
            Assert.Contains("offload is not enabled", off.Stderr);

            var extra = SwitchProcess.Ctl("--target", socket, "dp/show", "surplus");
            Assert.Equal(1, extra.ExitCode);
            Assert.Contains("'dp/show' takes 0 argument(s), not 1", extra.Stderr);
            var silent = System.Diagnostics.Stopwatch.StartNew();
            using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 20_000 })
            {
                s.Connect(new UnixDomainSocketEndPoint(socket));   // connects and says nothing
                var buf = new byte[4096];
                int n = s.Receive(buf);
                Assert.Equal("ERROR\nno request line within 5 s\n", System.Text.Encoding.UTF8.GetString(buf, 0, n));
            }
            Assert.InRange(silent.Elapsed.TotalSeconds, 4, 15);

            var help = SwitchProcess.Ctl("--target", socket);   // no command: help
            Assert.True(help.Ok, help.Stderr);
            Assert.Contains("  offload/dump-flows [hw|sw]", help.Stdout);
            var dp = SwitchProcess.Ctl("--target", socket, "dp/show");
            Assert.True(dp.Ok, dp.Stderr);
            Assert.Contains("  2 mem2: link up", dp.Stdout);
            Assert.False(sw.HasExited);
        }
        finally
        {
            sw.Dispose();
        }
        Assert.False(Sh.Run("test", "-e", socket).Ok, "the daemon left its control socket behind");
        Assert.Equal(2, SwitchProcess.Ctl("--target", socket, "help").ExitCode);
    }

    private static int CountOf(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
