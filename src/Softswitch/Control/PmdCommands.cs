using System.Globalization;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Control;

/// <summary>
/// Open vSwitch's dpif-netdev unixctl commands for the receive queues of the forwarding threads, served by
/// `softswitch run` and `softswitch vswitchd` alike: <c>dpif-netdev/pmd-rxq-show [-pmd CORE] [DP]</c> (each thread's
/// queues and their share of its last minute, <see cref="RxqBalancer.Show"/>) and <c>dpif-netdev/pmd-rxq-rebalance
/// [DP]</c> (the queues placed again by other_config:pmd-rxq-assign). The one datapath is named as Open vSwitch names
/// its userspace one: ovs-netdev (or netdev@ovs-netdev).
/// </summary>
internal static class PmdCommands
{
    public const string NoDatapath = "please specify an existing datapath";

    /// <param name="balancer">The threads' balancer, or null while there are no threads yet (vswitchd before its first
    /// configuration).</param>
    public static void Register(ControlCommands commands, Func<RxqBalancer?> balancer)
    {
        commands.Register("dpif-netdev/pmd-rxq-show", "[-pmd CORE] [DP]", "each forwarding thread's receive queues and their share of its busy time over the last minute", 0, 3,
            args => Show(balancer(), args));
        commands.Register("dpif-netdev/pmd-rxq-rebalance", "[DP]", "place the receive queues on the forwarding threads again (other_config:pmd-rxq-assign)", 0, 1,
            args => Rebalance(balancer(), args));
    }

    private static bool IsDatapath(string name) => name is "ovs-netdev" or "netdev@ovs-netdev";

    public static ControlReply Show(RxqBalancer? balancer, string[] args)
    {
        int? core = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] != "-pmd")
            {
                if (!IsDatapath(args[i])) return ControlReply.Error(NoDatapath);
                continue;
            }
            if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int c))
                return ControlReply.Error("Invalid pmd thread core id: -pmd takes a core id (a non-negative integer)");
            core = c;
            i++;
        }
        if (balancer is null) return ControlReply.Error(NoDatapath);
        return ControlReply.Success(balancer.Show(core));
    }

    public static ControlReply Rebalance(RxqBalancer? balancer, string[] args)
    {
        if (balancer is null || (args.Length == 1 && !IsDatapath(args[0]))) return ControlReply.Error(NoDatapath);
        balancer.Rebalance();
        return ControlReply.Success("pmd rxq rebalance requested.\n");
    }
}
