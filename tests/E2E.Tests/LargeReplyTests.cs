using System.Diagnostics;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>Large replies reach ovs-ofctl whole: a flow-stats dump is streamed with back-pressure.</summary>
public sealed class LargeReplyTests
{
    /// <summary>1,000,000 exact flows: `ovs-ofctl dump-flows` receives every one (Open vSwitch does, in about 7 s).</summary>
    [E2EFact]
    public void AMillionExactFlows_DumpReturnsAll_MassDeleteKeepsTheControllerConnected()
    {
        const int n = 1_000_000;
        string file = Path.Combine(Path.GetTempPath(), $"ssw-1m-{Environment.ProcessId}.flows");
        try
        {
            using (var w = new StreamWriter(file))
            {
                for (int i = 0; i < n; i++)
                    w.WriteLine($"in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_vlan=5,dl_vlan_pcp=0,dl_type=0x0800,nw_tos=0,nw_proto=17,nw_src=10.1.0.1,nw_dst=10.{(i >> 16) + 2}.{(i >> 8) & 255}.{i & 255},tp_src=1,tp_dst=2,send_flow_rem,actions=output:2");
            }
            // A controller that reads everything it is sent (and answers echoes) while the tool works on the
            // service connection: the add takes long enough that a controller that did not answer would be dropped.
            using var ctl = new OfTestController();
            string sock = Path.Combine(Path.GetTempPath(), $"ssw-1m-{Environment.ProcessId}.ctl");
            using var sw = new SwitchProcess("mem:2", "--local-port", "none", "--unixctl", sock, "--controller", ctl.Target);
            ctl.Accept(missSendLen: 0);
            ctl.StartReading();
            var t = Stopwatch.StartNew();
            var add = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "add-flows", sw.Endpoint, file], 900_000);
            Assert.True(add.Ok, add.Stderr);
            Console.WriteLine($"add-flows of {n:N0}: {t.Elapsed.TotalSeconds:F1} s");
            t.Restart();
            var dump = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "dump-flows", sw.Endpoint], 900_000);
            Assert.True(dump.Ok, dump.Stderr);
            int lines = 0;
            foreach (var l in dump.Stdout.AsSpan().EnumerateLines())
                if (l.Contains("actions=output:2", StringComparison.Ordinal)) lines++;
            Console.WriteLine($"dump-flows of {n:N0}: {t.Elapsed.TotalSeconds:F1} s, {lines:N0} flows");
            Assert.Equal(n, lines);

            // del-flows of a million SEND_FLOW_REM flows: a burst of a million FLOW_REMOVED (88 MB) to the controller.
            // Every one arrives (flow expirations are accounted as replies, never dropped), and the connection stays.
            t.Restart();
            var del = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "del-flows", sw.Endpoint], 900_000);
            Assert.True(del.Ok, $"{del.Stderr}\nswitch exited: {sw.HasExited}\n{Tail(sw.Output)}");
            long received = 0;
            while (received < n && t.ElapsedMilliseconds < 600_000)
            {
                Thread.Sleep(250);
                received = ctl.Count(OfpType.FlowRemoved);
            }
            ctl.StopReading();
            ctl.Barrier(30_000);                                      // still connected, and answering
            var coverage = SwitchProcess.Ctl("--target", sock, "coverage/show");
            Assert.True(coverage.Ok, coverage.Stderr);
            long dropped = SwitchProcess.CoverageCounter(coverage.Stdout, "ofconn-async-dropped");
            Console.WriteLine($"del-flows of {n:N0}: {t.Elapsed.TotalSeconds:F1} s, {received:N0} FLOW_REMOVED received, {dropped:N0} dropped");
            Assert.Equal(n, received);
            Assert.Equal(0, dropped);
            Assert.DoesNotContain("actions=", sw.Ofctl("dump-flows"));
            Assert.DoesNotContain("hard limit", sw.Output);
            Assert.DoesNotContain("closing", sw.Output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Tail(string s) => s.Length > 4000 ? s[^4000..] : s;
}
