using System.Diagnostics;
using Softswitch.Ports.Tests.Infra;

namespace Softswitch.E2E.Tests;

/// <summary>Large replies reach ovs-ofctl whole: a flow-stats dump is streamed with back-pressure.</summary>
public sealed class LargeReplyTests
{
    /// <summary>1,000,000 exact flows: `ovs-ofctl dump-flows` receives every one (Open vSwitch does, in about 7 s).</summary>
    [E2EFact]
    public void DumpFlowsOfAMillionExactFlowsReturnsAll()
    {
        const int n = 1_000_000;
        string file = Path.Combine(Path.GetTempPath(), $"ssw-1m-{Environment.ProcessId}.flows");
        try
        {
            using (var w = new StreamWriter(file))
                for (int i = 0; i < n; i++)
                    w.WriteLine($"in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_vlan=5,dl_vlan_pcp=0,dl_type=0x0800,nw_tos=0,nw_proto=17,nw_src=10.1.0.1,nw_dst=10.{(i >> 16) + 2}.{(i >> 8) & 255}.{i & 255},tp_src=1,tp_dst=2,actions=output:2");
            using var sw = new SwitchProcess("mem:2", "--local-port", "none", "--unixctl", "none");
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
            Assert.DoesNotContain("not reading", sw.Output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
