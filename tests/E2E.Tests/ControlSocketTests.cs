using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Softswitch.Ports.Tests.Infra;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch ctl` against the real daemon's control socket: offload placements (how many flows are in hardware,
/// why the others are not) as an operator sees them, and a control socket that answers bad clients with errors
/// and keeps serving.
/// </summary>
public sealed class ControlSocketTests
{
    private static string SocketPath() => Path.Combine(Path.GetTempPath(), $"ssw-ctl-{Environment.ProcessId:x}-{Random.Shared.Next():x}.ctl");

    private static string Ok(Sh.Result r)
    {
        Assert.True(r.ExitCode == 0, $"softswitch ctl exited {r.ExitCode}: {r.Stderr}{r.Stdout}");
        return r.Stdout;
    }

    [E2EFact]
    public void Offload_PlacementsAndReasons_AreVisibleThroughCtlAndLogs()
    {
        string path = SocketPath();
        using var sw = new SwitchProcess("mem:4", "--offload", "netfpga-emulated", "--unixctl", path, "--log-level", "Debug");
        // An exact flow (all twelve fields), a wildcard route, a flow the board cannot run (CONTROLLER), and a route
        // inside the first one at a lower priority: wildcard rows have no priority, so it must stay in software.
        sw.Ofctl("add-flow", "in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_vlan=0xffff,dl_type=0x0800,nw_tos=0,nw_proto=17,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1,tp_dst=2,actions=output:2");
        sw.Ofctl("add-flow", "priority=100,ip,nw_dst=10.1.0.0/16,actions=output:3");
        sw.Ofctl("add-flow", "priority=50,arp,actions=CONTROLLER:65535");
        sw.Ofctl("add-flow", "priority=40,ip,nw_dst=10.1.2.0/24,actions=output:4");

        string show = Ok(SwitchProcess.Ctl("--target", path, "offload/show"));
        Assert.Contains("offload target: netfpga", show);
        // 3 rows: the exact flow's, and two for the /16 route, whose output:3 depends on the in_port (software drops
        // what came in on port 3), so the board gets the in_ports 1, 2 and 4 as value/mask rows and port 3 stays in software.
        Assert.Contains("flows: 4 (2 in hardware using 3 rows, 2 in software)", show);
        Assert.Contains("  unsupported-action: 1", show);
        Assert.Contains("  overlaps-offloaded-rule: 1", show);
        Assert.Contains("exact table: 1 of 32768 rows used", show);
        Assert.Matches(@"register writes: [1-9]\d* for 4 flow-table changes", show);

        string dump = Ok(SwitchProcess.Ctl("--target", path, "offload/dump-flows"));
        var lines = dump.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Contains("placement=hw table=exact rows=1", lines[0]);   // exact flows first, as they are looked up
        Assert.Contains(lines, l => l.Contains("priority=100,ip,nw_dst=10.1.0.0/16 actions=output:3 placement=hw table=wildcard"));
        Assert.Contains(lines, l => l.Contains("priority=50,arp actions=output:controller:65535 placement=sw table=wildcard reason=unsupported-action"));
        Assert.Contains(lines, l => l.Contains("priority=40,ip,nw_dst=10.1.2.0/24 actions=output:4 placement=sw table=wildcard reason=overlaps-offloaded-rule (priority=100,ip,nw_dst=10.1.0.0/16)"));

        // Once the /16 route is gone, the next maintenance poll promotes the /24 route into the freed rows.
        sw.Ofctl("--strict", "del-flows", "priority=100,ip,nw_dst=10.1.0.0/16");
        var t = Stopwatch.StartNew();
        while (!dump.Contains("nw_dst=10.1.2.0/24 actions=output:4 placement=hw") && t.ElapsedMilliseconds < 5000)
        {
            Thread.Sleep(100);
            dump = Ok(SwitchProcess.Ctl("--target", path, "offload/dump-flows"));
        }
        Assert.Contains("nw_dst=10.1.2.0/24 actions=output:4 placement=hw table=wildcard", dump);
        show = Ok(SwitchProcess.Ctl("--target", path, "offload/show"));
        Assert.Contains("flows: 3 (2 in hardware", show);
        Assert.Contains("1 promotions", show);

        // The log: one Debug line per placement decision, with the reason.
        Assert.Contains("priority=50,arp actions=output:controller:65535 placement=sw table=wildcard reason=unsupported-action", sw.Output);
        Assert.Contains("removed priority=100,ip,nw_dst=10.1.0.0/16", sw.Output);
        Assert.Contains("flows in hardware", sw.Output);
    }

    [E2EFact]
    public void ControlSocket_AnswersBadClientsWithErrors_AndKeepsServing()
    {
        string path = SocketPath();
        var sw = new SwitchProcess("mem:2", "--unixctl", path);
        try
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

            var off = SwitchProcess.Ctl("--target", path, "offload/show");
            Assert.Equal(1, off.ExitCode);
            Assert.Contains("offload is off", off.Stderr);
            var unknown = SwitchProcess.Ctl("--target", path, "no/such-command");
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("unknown command 'no/such-command'", unknown.Stderr);
            var extra = SwitchProcess.Ctl("--target", path, "dp/show", "surplus");
            Assert.Equal(1, extra.ExitCode);
            Assert.Contains("takes no arguments", extra.Stderr);

            Assert.StartsWith("error: request longer than 4096 bytes", Raw(path, new string('x', 5000)));
            Assert.StartsWith("error: request is not UTF-8", Raw(path, [0xFF, 0xFE, (byte)'\n']));
            Assert.StartsWith("error: empty request", Raw(path, "\n"));
            var silent = Stopwatch.StartNew();
            Assert.StartsWith("error: no complete request", Raw(path, []));   // connects and says nothing
            Assert.InRange(silent.Elapsed.TotalSeconds, 1, 10);

            string help = Ok(SwitchProcess.Ctl("--target", path, "help"));
            Assert.Contains("dp/show", help);
            Assert.Contains("offload/dump-flows", help);
            sw.Ofctl("add-flow", "priority=10,in_port=1,actions=output:2");
            string dp = Ok(SwitchProcess.Ctl("--target", path, "dp/show"));
            Assert.Contains("flows: 0 exact, 1 wildcard", dp);
            Assert.Contains("1 mem1: link up", dp);
            Assert.False(sw.HasExited);

            var missing = SwitchProcess.Ctl("--target", path + ".missing", "help");
            Assert.Equal(2, missing.ExitCode);
            Assert.Contains("cannot reach", missing.Stderr);
        }
        finally
        {
            sw.Dispose();
        }
        Assert.False(File.Exists(path), "the control socket is removed on exit");
    }

    private static string Raw(string path, string request) => Raw(path, Encoding.UTF8.GetBytes(request));

    /// <summary>Sends raw bytes (no newline added) and reads the whole answer.</summary>
    private static string Raw(string path, byte[] request)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.ReceiveTimeout = 10_000;
        s.Connect(new UnixDomainSocketEndPoint(path));
        if (request.Length > 0) s.Send(request);
        var ms = new MemoryStream();
        var buf = new byte[4096];
        try
        {
            int n;
            while ((n = s.Receive(buf)) > 0) ms.Write(buf, 0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // The server may close while a long request is still being sent; its answer was read before.
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
