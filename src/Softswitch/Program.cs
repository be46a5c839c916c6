using System.CommandLine;
using Softswitch;

var seconds = new Option<double>("--seconds") { Description = "length of the throughput run", DefaultValueFactory = _ => 3 };
var demo = new Command("demo", "run the switch on in-memory ports with simulated hosts, then a short throughput run") { seconds };
demo.SetAction(pr => Demo.Run(pr.GetValue(seconds)));

var ports = new Option<string?>("--ports") { Description = "ports: mem:N, afpacket:IF, IF, afxdp:IF, pcap:IF, tap:NAME (comma-separated; numbered from 1)" };
var controller = new Option<string[]>("--controller") { Description = "an OpenFlow controller: tcp:HOST:PORT (connect to it) or ptcp:PORT[:IP] (it connects to us); controllers decide the fail mode (repeatable)", AllowMultipleArgumentsPerToken = false };
var listen = new Option<string[]>("--listen") { Description = "listen for service connections (ovs-ofctl and other tools): ptcp:PORT[:IP] (repeatable; binds 127.0.0.1 by default)" };
var tunnel = new Option<string[]>("--tunnel") { Description = "a tunnel port: NAME:vxlan|gre|ipip,local=IP,remote=IP[,vni=N|key=N][,port=N][,underlay=N][,remote_mac=MAC] (repeatable)" };
var offloadOpt = new Option<string?>("--offload") { Description = "flow offload: none (default), netfpga (a NetFPGA-1G board) or netfpga-emulated" };
var dpid = new Option<string?>("--dpid") { Description = "datapath id in hex (default: the first port's MAC)" };
var failMode = new Option<string?>("--fail-mode") { Description = "without a controller: secure (drop misses) or standalone (learning switch)" };
var config = new Option<string?>("--config") { Description = "a JSON file with the same settings (the command line wins)" };
var threads = new Option<int?>("--threads") { Description = "forwarding threads (default 1)" };
var pcapDir = new Option<string?>("--pcap-dir") { Description = "write what each port sends and receives as pcap files in this directory" };
var stats = new Option<bool>("--stats") { Description = "show a live statistics view instead of logs" };
var logLevel = new Option<string?>("--log-level") { Description = "Trace, Debug, Information (default), Warning, Error" };
var unixctl = new Option<string?>("--unixctl") { Description = "control socket for `softswitch ctl` (default RUNDIR/DPID.ctl: $SOFTSWITCH_RUNDIR, /run/softswitch as root, else a per-user temp directory), or none" };
var localPort = new Option<string?>("--local-port") { Description = "the LOCAL port: a tap device NAME (created administratively down; default ss-DPID), or none" };
var run = new Command("run", "run the switch") { ports, controller, listen, tunnel, offloadOpt, dpid, failMode, config, threads, pcapDir, stats, logLevel, unixctl, localPort };
run.SetAction(pr =>
{
    var s = new RunSettings();
    if (pr.GetValue(config) is { } path)
    {
        s = RunCommand.LoadConfig(path, out var error);
        if (s is null)
        {
            Console.Error.WriteLine($"softswitch: {error}");
            return 2;
        }
    }
    if (pr.GetValue(ports) is { } p) s.Ports = p;
    if (pr.GetValue(controller) is { Length: > 0 } c) s.Controllers = [.. c];
    if (pr.GetValue(listen) is { Length: > 0 } l) s.Listen = [.. l];
    if (pr.GetValue(tunnel) is { Length: > 0 } tn) s.Tunnels = [.. tn];
    if (pr.GetValue(offloadOpt) is { } o) s.Offload = o;
    if (pr.GetValue(dpid) is { } d) s.Dpid = d;
    if (pr.GetValue(failMode) is { } f) s.FailMode = f;
    if (pr.GetValue(threads) is { } t) s.Threads = t;
    if (pr.GetValue(pcapDir) is { } pd) s.PcapDir = pd;
    if (pr.GetValue(stats)) s.Stats = true;
    if (pr.GetValue(logLevel) is { } ll) s.LogLevel = ll;
    if (pr.GetValue(unixctl) is { } u) s.Unixctl = u;
    if (pr.GetValue(localPort) is { } lp) s.LocalPort = lp;
    return RunCommand.Run(s);
});

var target = new Option<string?>("--target", "-t") { Description = "the daemon: its control socket path, its datapath id, or a name in the run directory (default: the only socket there)" };
var ctlTimeout = new Option<double>("--timeout") { Description = "seconds to wait for the reply", DefaultValueFactory = _ => 30 };
var ctlWords = new Argument<string[]>("command") { Description = "the command and its arguments (default: help, which lists them)", Arity = ArgumentArity.ZeroOrMore };
var ctl = new Command("ctl", "send a command to a running switch's control socket (offload/show, offload/dump-flows, dp/show, help)") { target, ctlTimeout, ctlWords };
ctl.SetAction(pr => CtlCommand.Run(pr.GetValue(target), pr.GetValue(ctlTimeout), pr.GetValue(ctlWords) ?? [], Console.Out, Console.Error));

var root = new RootCommand("Softswitch: a user-space OpenFlow 1.0 switch") { run, demo, ctl };
return root.Parse(args).Invoke();
