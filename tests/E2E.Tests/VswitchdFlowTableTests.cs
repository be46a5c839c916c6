using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// A Bridge's flow_tables through the stock tools: the Flow_Table row ovs-vsctl creates names table 0 (as ovs-ofctl
/// dump-tables shows it) and limits it, an add beyond the limit evicts the flow soonest to expire, and the row changed
/// to refuse makes the same add TABLE_FULL.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
public sealed class VswitchdFlowTableTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    [E2EFact]
    public void FlowTableRow_NamesTheTable_AndAnAddBeyondItsLimitEvicts_OrIsRefused()
    {
        string br = $"oft{s_id}";
        using var db = OvsdbServer.Start("ssw-vsdft-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        try
        {
            db.Vsctl("add-br", br, "--", "set", "Bridge", br, "fail_mode=secure");
            db.Vsctl("--", "--id=@ft", "create", "Flow_Table", "flow_limit=2", "overflow_policy=evict", "name=t0", "--", "set", "Bridge", br, "flow_tables:0=@ft");
            Sh.Result AddFlow(int hard, int mac)
                => db.Tool("ovs-ofctl", "add-flow", br, $"hard_timeout={hard},priority=10,dl_dst=02:00:00:00:00:{mac:x2},actions=drop");
            foreach (var (hard, mac) in new[] { (300, 1), (100, 2), (200, 3) })
            {
                var add = AddFlow(hard, mac);
                Assert.True(add.Ok, add.Stderr + VswitchdBridgesTests.Log(db));
            }
            var flows = db.Tool("ovs-ofctl", "dump-flows", br);
            Assert.True(flows.Ok, flows.Stderr);
            // The flow soonest to expire (hard_timeout=100) was evicted for the third.
            Assert.Contains("hard_timeout=300", flows.Stdout);
            Assert.Contains("hard_timeout=200", flows.Stdout);
            Assert.DoesNotContain("hard_timeout=100", flows.Stdout);

            var tables = db.Tool("ovs-ofctl", "dump-tables", br);
            Assert.True(tables.Ok, tables.Stderr);
            Assert.Contains("table 0 (\"t0\"):", tables.Stdout);
            Assert.Contains("max_entries=2", tables.Stdout);

            // ovs-vsctl returns once the daemon has applied the change (cur_cfg): the full table refuses now.
            db.Vsctl("set", "Flow_Table", "t0", "overflow_policy=refuse");
            var refused = AddFlow(50, 4);
            Assert.False(refused.Ok, "an add beyond flow_limit with overflow_policy=refuse succeeded\n" + db.Tool("ovs-ofctl", "dump-flows", br).Stdout);
            Assert.Contains("OFPFMFC_TABLE_FULL", refused.Stderr);
            db.Vsctl("del-br", br);
        }
        finally
        {
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }
}
