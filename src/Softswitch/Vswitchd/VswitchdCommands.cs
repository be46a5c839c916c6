using System.Globalization;
using System.Text;
using Softswitch.Control;
using Softswitch.Datapath.Ports;
using Softswitch.Logging;

namespace Softswitch.Vswitchd;

/// <summary>
/// The control socket's commands under Open vSwitch's unixctl names, for `ovs-appctl` with its defaults: the daemon's
/// own (exit, vlog/*, coverage/show, memory/show, dpif/show, ofproto/list) and the per-bridge ones that name their
/// bridge first (ofproto/trace BRIDGE, fdb/show BRIDGE, fdb/flush [BRIDGE], mdb/show BRIDGE, mdb/flush [BRIDGE], stp/show [BRIDGE],
/// rstp/show [BRIDGE], bond/show [PORT], lacp/show [PORT], bond/list,
/// bridge/dump-flows BRIDGE, offload/show
/// BRIDGE, offload/dump-flows BRIDGE [hw|sw]), served by the same code as `softswitch ctl`, and dpctl/dump-flows
/// (<see cref="DpctlDumpFlows"/>: every bridge's flows in Open vSwitch's datapath syntax, type=offloaded among them),
/// and dpif-netdev/pmd-rxq-show and pmd-rxq-rebalance over the forwarding threads every bridge shares (<see cref="PmdCommands"/>).
/// </summary>
internal static class VswitchdCommands
{
    public static void Register(ControlCommands commands, VswitchdService service, Vlog vlog, Action exit)
    {
        commands.Register("version", "", "the program's version", 0, 0, _ => ControlReply.Success($"softswitch vswitchd {HostCommands.Version} (.NET {Environment.Version})\n"));
        commands.Register("exit", "", "delete every bridge (interfaces released, sockets removed) and stop", 0, 1, _ =>
        {
            exit();
            return ControlReply.Success("");
        });
        commands.Register("list-commands", "", "this list", 0, 0, _ => commands.Execute(new ControlRequest("help", [])));
        commands.Register("vlog/set", "SPEC", "log levels: LEVEL or MODULE:LEVEL[,...] (off emer err warn info dbg)", 1, 8, args =>
            vlog.TrySet(string.Join(',', args), out var error) ? ControlReply.Success("") : ControlReply.Error(error));
        commands.Register("vlog/list", "", "modules and their log levels", 0, 0, _ => ControlReply.Success(vlog.Describe()));
        commands.Register("vlog/reopen", "", "reopen the log file (after logrotate)", 0, 0, _ =>
            vlog.Reopen(out var error) ? ControlReply.Success("") : ControlReply.Error(error));
        commands.Register("coverage/show", "", "every registered counter of each bridge", 0, 0, _ => EachBridge(service, b => DaemonCommands.CoverageShow(b.Dp)));
        commands.Register("memory/show", "", "flows, ports, learned addresses of each bridge; the managed heap", 0, 0,
            _ => EachBridge(service, b => HostCommands.MemoryShow(b.Dp, b.Flows, []).Text));
        commands.Register("memory/allocators", "[--reset] [--format json]",
            "who allocates in the daemon: bytes and collections per second since the sampler started (or --reset), top types and threads", 0, 3,
            HostCommands.MemoryAllocators);
        commands.Register("ofproto/list", "", "the bridges", 0, 0, _ => ControlReply.Success(string.Concat(service.Bridges.Select(b => b.Name + "\n"))));
        commands.Register("dp/show", "[BRIDGE]", "the packet arena, then each bridge's datapath (of the one named): ports with counters (an AF_XDP port's umem), tables, non-zero counters", 0, 1,
            args => DpShow(service, args.Length > 0 ? args[0] : null));
        commands.Register("dpif/show", "", "each bridge's ports: name, OpenFlow port number, type", 0, 0, _ => DpifShow(service));
        commands.Register("ofproto/trace", "BRIDGE " + OfprotoTrace.Usage, "which flow a packet hits, by which stage, and what its actions do (read-only)", 2, ControlProtocol.MaxArgs,
            args => OnBridge(service, "ofproto/trace", args[0], b => OfprotoTrace.Run(b.Dp, b.Flows, args, w => w == b.Name)));
        commands.Register("fdb/show", "BRIDGE", "the MAC addresses the bridge learned", 1, 3, args => OnBridge(service, "fdb/show", args[0], b => HostCommands.FdbShow(b.Dp, args[1..])));
        commands.Register("fdb/flush", "[BRIDGE]", "forget the learned MAC addresses (of every bridge without one)", 0, 1, args =>
        {
            if (args.Length == 1) return OnBridge(service, "fdb/flush", args[0], b => Flush(b));
            lock (service.BridgesLock)
            {
                foreach (var b in service.Bridges) b.Dp.MacTable.Clear();
            }
            return ControlReply.Success("table successfully flushed\n");
        });
        commands.Register("stp/show", "[BRIDGE]", "the spanning tree of the bridge (of every bridge running one without)", 0, 1, args => StpShow(service, args));
        commands.Register("rstp/show", "[BRIDGE]", "the rapid spanning tree of the bridge (of every bridge running one without)", 0, 1, args => RstpShow(service, args));
        commands.Register("bond/show", "[PORT]", "a bond's members, which are enabled and active (every bond's without)", 0, 1,
            args => ProtocolShow(service, args, (b, name) => b.BondShow(name), "no such bond"));
        commands.Register("lacp/show", "[PORT]", "a bond's LACP: actor and partner of each member (every LACP bond's without)", 0, 1,
            args => ProtocolShow(service, args, (b, name) => b.LacpShow(name), "no such lacp object"));
        commands.Register("bond/list", "", "the bonds: name, mode, recirculation id, members", 0, 0, _ =>
        {
            lock (service.BridgesLock) return ControlReply.Success("bond\ttype\trecircID\tmembers\n" + string.Concat(service.Bridges.Select(b => b.BondList())));
        });
        commands.Register("mdb/show", "BRIDGE", "the multicast groups the bridge's snooping learned, and its router ports", 1, 1, args => McastShow(service, args[0]));
        commands.Register("mdb/flush", "[BRIDGE]", "forget the multicast groups and router ports snooping learned (of every bridge snooping without one)", 0, 1,
            args => McastFlush(service, args));
        commands.Register("stp/tcn", "[BRIDGE]", "force a topology change in the spanning tree of the bridge (of every bridge running one without)", 0, 1, args => StpTcn(service, args));
        commands.Register("bridge/dump-flows", "BRIDGE", "every flow of the bridge in ovs-ofctl syntax with counters", 1, 3,
            args => OnBridge(service, "bridge/dump-flows", args[0], b => HostCommands.DumpFlows(b.Dp, b.Flows, args[1..])));
        commands.Register("offload/show", "BRIDGE", "with hw-offload=true: the bridge's flows in the XDP program and in software, reasons, map writes, occupancy", 1, 1,
            args => OnBridge(service, "offload/show", args[0], b => b.Offload is { } o ? DaemonCommands.OffloadShow(o, () => b.DescribeOffload() ?? "") : OffloadOff(b)));
        commands.Register("offload/dump-flows", "BRIDGE [hw|sw]", "with hw-offload=true: every flow of the bridge with its placement (XDP map slot, or why software)", 1, 2,
            args => OnBridge(service, "offload/dump-flows", args[0], b => b.Offload is { } o
                ? DaemonCommands.OffloadDumpFlows(o, args.Length > 1 ? args[1] : null, b.Dp.Clock.NowNanos) : OffloadOff(b)));
        PmdCommands.Register(commands, () => service.Threads?.Balancer);
        commands.Register("dpctl/dump-flows", DpctlDumpFlows.Usage, "the flows of every bridge (or DP) in Open vSwitch's datapath syntax; type=offloaded: those in the XDP program", 0, 6,
            args => DpctlDumpFlows.Run(service, args));
    }

    /// <summary>stp/show as Open vSwitch answers it: one bridge's, or every bridge's that runs spanning tree; "no such
    /// stp object" for a bridge that does not.</summary>
    private static ControlReply StpShow(VswitchdService service, string[] args)
    {
        lock (service.BridgesLock)
        {
            if (args.Length == 1)
            {
                var bridge = service.Bridges.FirstOrDefault(b => b.Name == args[0]);
                return bridge?.StpShow() is { } text ? ControlReply.Success(text) : ControlReply.Error("no such stp object");
            }
            return ControlReply.Success(string.Concat(service.Bridges.Select(b => b.StpShow()).OfType<string>()));
        }
    }

    /// <summary>rstp/show as Open vSwitch answers it: one bridge's, or every bridge's that runs RSTP; "No such RSTP
    /// object" for a bridge that does not.</summary>
    private static ControlReply RstpShow(VswitchdService service, string[] args)
    {
        lock (service.BridgesLock)
        {
            if (args.Length == 1)
            {
                var bridge = service.Bridges.FirstOrDefault(b => b.Name == args[0]);
                return bridge?.RstpShow() is { } text ? ControlReply.Success(text) : ControlReply.Error("No such RSTP object");
            }
            return ControlReply.Success(string.Concat(service.Bridges.Select(b => b.RstpShow()).OfType<string>()));
        }
    }

    /// <summary>bond/show and lacp/show as Open vSwitch answers them: the bond named (a Port of any bridge) or every one;
    /// <paramref name="missing"/> when no bridge has the one named.</summary>
    private static ControlReply ProtocolShow(VswitchdService service, string[] args, Func<Bridge, string?, string?> show, string missing)
    {
        lock (service.BridgesLock)
        {
            if (args.Length == 1)
            {
                foreach (var b in service.Bridges)
                    if (show(b, args[0]) is { } text) return ControlReply.Success(text);
                return ControlReply.Error(missing);
            }
            return ControlReply.Success(string.Concat(service.Bridges.Select(b => show(b, null)).OfType<string>()));
        }
    }

    /// <summary>mdb/show as Open vSwitch answers it: the table, "no such bridge", or "multicast snooping is disabled".</summary>
    private static ControlReply McastShow(VswitchdService service, string name)
    {
        lock (service.BridgesLock)
        {
            if (service.Bridges.FirstOrDefault(b => b.Name == name) is not { } bridge) return ControlReply.Error("no such bridge");
            return bridge.McastShow() is { } text ? ControlReply.Success(text) : ControlReply.Error("multicast snooping is disabled");
        }
    }

    /// <summary>mdb/flush as Open vSwitch answers it: one bridge's table ("no such bridge", "multicast snooping is
    /// disabled"), or every snooping bridge's.</summary>
    private static ControlReply McastFlush(VswitchdService service, string[] args)
    {
        lock (service.BridgesLock)
        {
            if (args.Length == 1)
            {
                if (service.Bridges.FirstOrDefault(b => b.Name == args[0]) is not { } bridge) return ControlReply.Error("no such bridge");
                if (!bridge.McastFlush()) return ControlReply.Error("multicast snooping is disabled");
            }
            else
            {
                foreach (var b in service.Bridges) b.McastFlush();
            }
            return ControlReply.Success("table successfully flushed\n");
        }
    }

    /// <summary>As Open vSwitch's stp/tcn: "OK", or "no such stp object" for a bridge that is not one or runs no spanning tree.</summary>
    private static ControlReply StpTcn(VswitchdService service, string[] args)
    {
        lock (service.BridgesLock)
        {
            if (args.Length == 1)
            {
                var bridge = service.Bridges.FirstOrDefault(b => b.Name == args[0]);
                return bridge?.StpTopologyChange() == true ? ControlReply.Success("OK\n") : ControlReply.Error("no such stp object");
            }
            foreach (var b in service.Bridges) b.StpTopologyChange();
            return ControlReply.Success("OK\n");
        }
    }

    private static ControlReply OffloadOff(Bridge b)
        => ControlReply.Error($"offload is not enabled on bridge {b.Name} (ovs-vsctl set Open_vSwitch . other_config:hw-offload=true, and type=afxdp interfaces)");

    private static ControlReply Flush(Bridge b)
    {
        b.Dp.MacTable.Clear();
        return ControlReply.Success("table successfully flushed\n");
    }

    private static ControlReply OnBridge(VswitchdService service, string command, string name, Func<Bridge, ControlReply> action)
    {
        lock (service.BridgesLock)
        {
            var bridge = service.Bridges.FirstOrDefault(b => b.Name == name);
            return bridge is null ? ControlReply.Error($"{command}: no bridge named {name}") : action(bridge);
        }
    }

    private static ControlReply EachBridge(VswitchdService service, Func<Bridge, string> text)
    {
        lock (service.BridgesLock)
        {
            var bridges = service.Bridges;
            if (bridges.Count == 0) return ControlReply.Success("no bridges\n");
            var sb = new StringBuilder();
            foreach (var b in bridges) sb.Append("bridge ").Append(b.Name).Append(":\n").Append(text(b));
            return ControlReply.Success(sb.ToString());
        }
    }

    /// <summary>dp/show: the daemon's packet arena, then `softswitch run`'s dp/show of each bridge (or of <paramref name="name"/>).</summary>
    private static ControlReply DpShow(VswitchdService service, string? name)
    {
        lock (service.BridgesLock)
        {
            var bridges = service.Bridges;
            if (name is not null && bridges.All(b => b.Name != name)) return ControlReply.Error($"dp/show: no bridge named {name}");
            var sb = new StringBuilder(service.Arena.Describe());
            foreach (var b in bridges)
                if (name is null || b.Name == name) sb.Append("bridge ").Append(b.Name).Append(":\n").Append(DaemonCommands.DpShow(b.Dp, b.Agent, b.Offload));
            return ControlReply.Success(sb.ToString());
        }
    }

    private static ControlReply DpifShow(VswitchdService service)
    {
        lock (service.BridgesLock)
        {
            var sb = new StringBuilder();
            foreach (var b in service.Bridges)
            {
                sb.Append("userspace@").Append(b.Name).Append(":\n  ").Append(b.Name).Append(":\n");
                foreach (var (name, no, type) in b.OpenPorts)
                {
                    string number = no == PortNumber.Local ? "65534" : no.ToString(CultureInfo.InvariantCulture);
                    sb.Append("    ").Append(name).Append(' ').Append(number).Append(": (").Append(type.Length == 0 ? "system" : type).Append(")\n");
                }
            }
            return ControlReply.Success(sb.ToString());
        }
    }
}
