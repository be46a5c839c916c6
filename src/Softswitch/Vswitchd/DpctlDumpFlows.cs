using System.Globalization;
using System.Text;
using Softswitch.Control;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Ofproto;

namespace Softswitch.Vswitchd;

/// <summary>
/// <c>ovs-appctl dpctl/dump-flows [-m] [--names|--no-names] [DP] [type=TYPE[,TYPE...]] [filter=FLOW]</c>, with Open
/// vSwitch's arguments and line format (<see cref="DatapathFlowFormat"/>): one line per flow,
/// <c>KEY, packets:N, bytes:N, used:S, actions:ACTIONS</c>, with <c>-m</c> also <c>offloaded:yes</c> and
/// <c>dp:xdp</c> (in the XDP program) or <c>dp:ovs</c> (in software) before the actions, and port names for numbers.
/// </summary>
/// <remarks>
/// The flows are each bridge's OpenFlow flows as the datapath holds them (this switch has no megaflow cache of its own
/// under them): with <c>other_config:hw-offload=true</c> each with its placement (the XDP program, or software), else
/// every flow in software. <c>type=</c> takes Open vSwitch's names: <c>offloaded</c> (in the XDP program),
/// <c>ovs</c> and <c>non-offloaded</c> (in software), <c>all</c> (the default), and <c>tc</c>, <c>dpdk</c>,
/// <c>partially-offloaded</c> (layers this switch has not: no flow). <c>DP</c>: a bridge's name or
/// <c>userspace@BRIDGE</c> (as dpif/show names it), or Open vSwitch's one user-space datapath (<c>netdev@ovs-netdev</c>,
/// <c>ovs-netdev</c>) for every bridge, as without one. Every bridge has its own datapath here, so a dump of more
/// than one bridge heads each bridge's flows with <c>flow-dump from bridge NAME:</c>, as Open vSwitch heads each
/// forwarding thread's. <c>filter=</c> keeps the flows that agree with an ovs-ofctl flow on the fields both match.
/// </remarks>
internal static class DpctlDumpFlows
{
    public const string Usage = "[-m] [--names|--no-names] [DP] [type=offloaded|non-offloaded|ovs|all[,...]] [filter=FLOW]";

    public static ControlReply Run(VswitchdService service, string[] args)
    {
        bool more = false, hw = false, sw = false, typed = false;
        bool? names = null;
        string? dp = null;
        FlowMatch? filter = null;
        foreach (var arg in args)
        {
            if (arg is "-m" or "--more")
            {
                more = true;
            }
            else if (arg is "--names" or "--no-names")
            {
                names = arg == "--names";
            }
            else if (arg.StartsWith("type=", StringComparison.Ordinal))
            {
                typed = true;
                foreach (var type in arg[5..].Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    switch (type)
                    {
                        case "offloaded": hw = true; break;
                        case "ovs" or "non-offloaded": sw = true; break;
                        case "all": hw = sw = true; break;
                        case "tc" or "dpdk" or "partially-offloaded": break;
                        default: return ControlReply.Error($"Failed to parse type ({type})");
                    }
                }
            }
            else if (arg.StartsWith("filter=", StringComparison.Ordinal))
            {
                if (!OfctlFlowParser.TryParse(arg[7..], FlowModCommand.Delete, out var mod, out var error))
                    return ControlReply.Error($"Failed to parse filter ({error})");
                filter = mod.Match;
            }
            else if (arg.StartsWith("pmd=", StringComparison.Ordinal))
            {
                return ControlReply.Error($"'{arg}': this switch has no per-thread flow tables (a bridge's flows are its datapath's); usage: dpctl/dump-flows {Usage}");
            }
            else if (arg.StartsWith('-') || dp is not null)
            {
                return ControlReply.Error($"'{arg}' is not an argument of dpctl/dump-flows; usage: dpctl/dump-flows {Usage}");
            }
            else
            {
                dp = arg;
            }
        }
        if (!typed) hw = sw = true;
        bool showNames = names ?? more;   // Open vSwitch: names by default with -m
        lock (service.BridgesLock)
        {
            var bridges = service.Bridges.ToList();
            if (dp is not null and not ("netdev@ovs-netdev" or "ovs-netdev"))
            {
                string name = dp.StartsWith("userspace@", StringComparison.Ordinal) ? dp["userspace@".Length..] : dp;
                bridges = bridges.Where(b => b.Name == name).ToList();
                if (bridges.Count == 0) return ControlReply.Error($"opening datapath {dp} (No such device): no bridge named {name} (ovs-appctl ofproto/list)");
            }
            var sb = new StringBuilder();
            foreach (var b in bridges)
            {
                if (bridges.Count > 1) sb.Append("flow-dump from bridge ").Append(b.Name).Append(":\n");
                Append(sb, b, hw, sw, more, showNames, filter);
            }
            return ControlReply.Success(sb.ToString());
        }
    }

    private static void Append(StringBuilder sb, Bridge b, bool hw, bool sw, bool more, bool names, FlowMatch? filter)
    {
        var byNumber = new Dictionary<string, string>(StringComparer.Ordinal);
        if (names)
        {
            foreach (var (name, no, _) in b.OpenPorts) byNumber[FlowFormat.Port(no)] = name;
        }
        string Port(ushort dpPort)
        {
            string n = FlowFormat.Port(dpPort);
            if (byNumber.TryGetValue(n, out var name)) return name;
            return dpPort == PortNumber.Local ? PortNumber.Local.ToString(CultureInfo.InvariantCulture) : n;
        }
        long now = b.Dp.Clock.NowNanos;
        // The flows are read until the reply is made: a hold keeps them from being recycled meanwhile.
        using var hold = b.Flows.Reclamation.Enter();
        var flows = new List<(FlowEntry Entry, bool InXdp)>();
        if (b.Offload is { } offload)
        {
            offload.WaitForPlacement(DaemonCommands.SettleTimeout);
            var placements = offload.Placements();
            Softswitch.Offload.OffloadReport.SortForDump(placements);
            foreach (var p in placements) flows.Add((p.Entry, p.InHardware));
        }
        else
        {
            var entries = new List<FlowEntry>();
            b.Flows.Collect(FlowMatch.All, PortNumber.None, strict: false, entries);
            entries.Sort(static (x, y) => y.Priority.CompareTo(x.Priority));
            foreach (var e in entries) flows.Add((e, false));
        }
        foreach (var (e, inXdp) in flows)
        {
            if (inXdp ? !hw : !sw) continue;
            if (filter is { } f && !Agrees(f, e.Match)) continue;
            sb.Append(DatapathFlowFormat.Key(e.Match, Port)).Append(", ").Append(DatapathFlowFormat.Stats(e, now));
            if (more) sb.Append(inXdp ? ", offloaded:yes, dp:xdp" : ", dp:ovs");
            sb.Append(", actions:").Append(DatapathFlowFormat.Actions(e, Port)).Append('\n');
        }
    }

    /// <summary>Whether a flow agrees with the filter on every field both match (Open vSwitch's dpctl filter).</summary>
    internal static bool Agrees(in FlowMatch filter, in FlowMatch flow)
    {
        var fv = filter.Value;
        var gv = flow.Value;
        var fm = filter.Mask.AllWords;
        var gm = flow.Mask.AllWords;
        var a = fv.AllWords;
        var c = gv.AllWords;
        for (int i = 0; i < a.Length; i++)
        {
            if (((a[i] ^ c[i]) & fm[i] & gm[i]) != 0) return false;
        }
        return true;
    }
}
